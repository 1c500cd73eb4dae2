//! Client operations along a path, and their linearizability (with `--max-reads` > 0).
//!
//! Clients write distinct commands (a proposal at a node) and read (a read started at a node
//! through the core's `read_index`, answered with the state the node has applied when the core
//! confirms it: its applied prefix, named by its last index). A write completes when the node
//! that took it applies it at the index it was given (with another command there, it was lost
//! and never completes); a read completes when answered.
//!
//! The check, made at every answer: a read's prefix reaches every index a client saw complete
//! before the read began (a write's index, or a prefix an earlier read returned). For a
//! replicated log whose applied prefixes agree (state machine safety, checked on every step)
//! this is linearizability: order the writes by index and put each read at its prefix's end;
//! a write completed before a read began is inside the read's prefix (checked); a read
//! completed before another began returned a prefix the other's contains (checked); an
//! operation begun after another completed lands after it, since an applied index is never
//! reused (state machine safety) and a new command goes after every applied one. The
//! simulator checks the same operations' histories with the general linearizability checker;
//! here the reduction keeps the check per state, so breadth-first search still reports the
//! shortest path to a stale read.

use crate::protocol::Relabel;
use distsys_consensus::{Entry, Index, NodeId, ReadId};
use std::hash::{Hash, Hasher};

/// The clients' operations in progress and what they have seen complete.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Clients {
    /// Reads started so far (also the next read's id).
    pub reads_started: u32,
    /// The highest index a client has seen complete.
    pub known: Index,
    /// Reads in progress: (node, id, the index their prefix must reach).
    pub reads: Vec<(NodeId, ReadId, Index)>,
    /// Writes in progress: (node that took it, its index, its command).
    pub writes: Vec<(NodeId, Index, Vec<u8>)>,
}

impl Clients {
    /// A write of `command` taken by `node` at `index`.
    pub fn write(&mut self, node: NodeId, index: Index, command: Vec<u8>) {
        self.writes.push((node, index, command));
    }

    /// A read started at `node`: its id. Its answer must reach every index seen so far.
    pub fn read(&mut self, node: NodeId) -> ReadId {
        let id = ReadId::from(self.reads_started);
        self.reads_started += 1;
        self.reads.push((node, id, self.known));
        id
    }

    /// `node` applied `entries`: the writes it took there complete (or were lost).
    pub fn applied(&mut self, node: NodeId, entries: &[Entry]) {
        for entry in entries {
            let (mut done, mut known) = (false, self.known);
            self.writes.retain(|(by, index, command)| {
                if *by != node || *index != entry.index {
                    return true;
                }
                if entry.data.as_ref() == command.as_slice() {
                    known = known.max(*index);
                }
                done = true;
                false
            });
            if done {
                self.known = known;
            }
        }
    }

    /// `node` answers read `id` with its prefix up to `applied`: an error if the prefix misses
    /// an index a client saw complete before the read began.
    pub fn answered(&mut self, node: NodeId, id: ReadId, applied: Index) -> Result<(), String> {
        let Some(k) = self
            .reads
            .iter()
            .position(|(n, r, _)| (*n, *r) == (node, id))
        else {
            return Ok(());
        };
        let (_, _, must) = self.reads.remove(k);
        self.known = self.known.max(applied);
        if applied < must {
            return Err(format!(
                "linearizability: node {node} answered read {id} with its state up to index {applied}, but index {must} had completed before the read began (a stale read)"
            ));
        }
        Ok(())
    }

    /// Read `id` at `node` failed (no answer: it may or may not have happened).
    pub fn failed(&mut self, node: NodeId, id: ReadId) {
        self.reads.retain(|(n, r, _)| (*n, *r) != (node, id));
    }

    /// Feeds the clients' state into `h`, node ids relabelled (order-insensitive).
    pub fn fingerprint(&self, relabel: Relabel<'_>, h: &mut impl Hasher) {
        (self.reads_started, self.known).hash(h);
        let mut reads: Vec<(NodeId, ReadId, Index)> = self
            .reads
            .iter()
            .map(|(n, r, m)| (relabel(*n), *r, *m))
            .collect();
        reads.sort_unstable();
        reads.hash(h);
        let mut writes: Vec<(NodeId, Index, &[u8])> = self
            .writes
            .iter()
            .map(|(n, i, c)| (relabel(*n), *i, c.as_slice()))
            .collect();
        writes.sort_unstable();
        writes.hash(h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: Index, data: &[u8]) -> Entry {
        Entry::new(0, index, 1, data.to_vec(), None)
    }

    #[test]
    fn a_read_must_see_every_write_and_read_completed_before_it_began() {
        let mut c = Clients::default();
        c.write(1, 2, b"a".to_vec());
        let early = c.read(2);
        c.applied(1, &[entry(1, b""), entry(2, b"a")]);
        assert_eq!(c.known, 2);
        // Began before the write completed: any prefix will do.
        assert!(c.answered(2, early, 0).is_ok());
        let late = c.read(3);
        let err = c.answered(3, late, 1).expect_err("stale");
        assert!(err.starts_with("linearizability"), "{err}");
        // A read that returned 5: later reads must reach 5.
        let r = c.read(1);
        assert!(c.answered(1, r, 5).is_ok());
        let after = c.read(2);
        assert!(c.answered(2, after, 4).is_err());
    }

    #[test]
    fn a_write_overwritten_at_its_index_never_completes() {
        let mut c = Clients::default();
        c.write(1, 2, b"a".to_vec());
        c.applied(1, &[entry(2, b"other")]);
        assert_eq!(c.known, 0);
        assert!(c.writes.is_empty());
    }
}
