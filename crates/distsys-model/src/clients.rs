//! Client operations along a path, and their linearizability (with `--max-reads` > 0).
//!
//! Clients write distinct commands (a proposal at a node) and read (a read started at a node
//! through the core's `read_index`, answered with the state the node has applied when the core
//! confirms it: its applied prefix, named by its last index). A write completes when the node
//! that took it applies it at the index it was given (with another command there, it was lost
//! and never completes); a read completes when answered.
//!
//! The check, made at every answer: a read's prefix reaches every index a client saw complete
//! before the read began (a write's index, or the last client command of a prefix an earlier
//! read returned: a no-op changes no state, so a read that ends on one shows nothing more than
//! one that ends before it). For a
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
use distsys_check::history::{Completion, OpKind, Recording};
use distsys_check::{check, CheckOptions, ModelKind, Verdict};
use distsys_consensus::{Entry, Index, NodeId, ReadId};
use serde_json::Value;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

/// The clients' operations along one path as the general linearizability checker reads them
/// (recorded on replays, not during search: it is no part of a state's identity). Each
/// operation is its own process; times are event positions. The object is one key whose value
/// is the concatenation of the commands applied (the key-value model's `append`): a write
/// appends its command, a read returns the concatenation up to the index it was answered
/// with. A write that never completes (lost, or its node crashed) and a read without an answer
/// stay open: the checker takes them as of unknown outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientLog {
    /// (process, completed, read, value): an invocation or completion, in order.
    events: Vec<(u64, bool, bool, Option<String>)>,
    /// Writes in progress: (node, index, process).
    writes: Vec<(NodeId, Index, u64)>,
    /// Reads in progress: (node, id, process).
    reads: Vec<(NodeId, ReadId, u64)>,
    /// What each node applied, by index.
    applied: BTreeMap<NodeId, BTreeMap<Index, Vec<u8>>>,
}

impl ClientLog {
    /// Read `id` at `node` answered with the node's state up to `applied`: completed with the
    /// concatenation of what the node applied there (left open if the node's record has a
    /// gap, as after a snapshot).
    fn answered(&mut self, node: NodeId, id: ReadId, applied: Index) {
        let Some(k) = self
            .reads
            .iter()
            .position(|&(n, r, _)| (n, r) == (node, id))
        else {
            return;
        };
        let (_, _, process) = self.reads.remove(k);
        let record = self.applied.get(&node);
        let prefix: Option<Vec<u8>> = (1..=applied)
            .map(|i| record.and_then(|r| r.get(&i)).cloned())
            .collect::<Option<Vec<Vec<u8>>>>()
            .map(|parts| parts.concat());
        if let Some(prefix) = prefix {
            let text = String::from_utf8_lossy(&prefix).into_owned();
            self.events.push((process, true, true, Some(text)));
        }
    }

    fn invoke(&mut self, read: bool, value: Option<String>) -> u64 {
        let process = self.events.len() as u64;
        self.events.push((process, false, read, value));
        process
    }

    /// Operations invoked so far.
    pub fn operations(&self) -> usize {
        self.events.iter().filter(|e| !e.1).count()
    }

    /// Reads answered so far.
    pub fn reads_answered(&self) -> usize {
        self.events.iter().filter(|e| e.1 && e.2).count()
    }

    /// The history in the checker's form.
    pub fn recording(&self) -> Recording {
        let mut recording = Recording::new();
        for (time, (process, done, read, value)) in self.events.iter().enumerate() {
            let text = value.clone().unwrap_or_default();
            let (kind, value) = match read {
                // The empty log reads as absent (the model's null).
                true if text.is_empty() => (OpKind::Read, Value::Null),
                true => (OpKind::Read, Value::String(text)),
                false => (OpKind::Append, Value::String(text)),
            };
            let completion = done.then_some(Completion::Ok);
            recording.record(*process, completion, kind, "log", value, time as u64);
        }
        recording
    }

    /// The general checker's verdict on the history: `Ok` when linearizable, else what it
    /// says (a violation's text, or why it gave no verdict).
    pub fn check(&self) -> Result<(), String> {
        let history = self
            .recording()
            .history()
            .map_err(|e| format!("malformed client history: {e}"))?;
        let result = check(&history, &CheckOptions::new(ModelKind::Kv))
            .map_err(|e| format!("malformed client history: {e}"))?;
        match result.verdict {
            Verdict::Linearizable => Ok(()),
            Verdict::Violation(v) => Err(distsys_check::report::violation_text(&v)),
            Verdict::Unknown(reason) => Err(format!("no verdict: {reason:?}")),
        }
    }
}

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
    /// The indexes at which a client command (not a no-op) was applied: what a read returns is
    /// the commands of its prefix, so a read answered at index `i` shows a client the last of
    /// them up to `i`, not `i` itself.
    pub commands: Vec<Index>,
    /// The operations as a history for the general checker, when recorded
    /// ([`Clients::recording`]).
    pub log: Option<Box<ClientLog>>,
}

impl Clients {
    /// No operation yet, recording them as a history for the general checker.
    pub fn recording() -> Clients {
        Clients {
            log: Some(Box::default()),
            ..Clients::default()
        }
    }

    /// A write of `command` taken by `node` at `index`.
    pub fn write(&mut self, node: NodeId, index: Index, command: Vec<u8>) {
        if let Some(log) = &mut self.log {
            let text = String::from_utf8_lossy(&command).into_owned();
            let process = log.invoke(false, Some(text));
            log.writes.push((node, index, process));
        }
        self.writes.push((node, index, command));
    }

    /// A read started at `node`: its id. Its answer must reach every index seen so far.
    pub fn read(&mut self, node: NodeId) -> ReadId {
        let id = ReadId::from(self.reads_started);
        self.reads_started += 1;
        self.reads.push((node, id, self.known));
        if let Some(log) = &mut self.log {
            let process = log.invoke(true, None);
            log.reads.push((node, id, process));
        }
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
            if !entry.data.is_empty() {
                if let Err(at) = self.commands.binary_search(&entry.index) {
                    self.commands.insert(at, entry.index);
                }
            }
            if let Some(log) = &mut self.log {
                log.applied
                    .entry(node)
                    .or_default()
                    .insert(entry.index, entry.data.to_vec());
                let events = &mut log.events;
                log.writes.retain(|&(by, index, process)| {
                    if (by, index) != (node, entry.index) {
                        return true;
                    }
                    let (_, _, _, command) = &events[process as usize];
                    if command.as_deref().map(str::as_bytes) == Some(entry.data.as_ref()) {
                        events.push((process, true, false, command.clone()));
                    }
                    false
                });
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
        // What the client saw: the last command of the prefix (no-ops change no state).
        let shown = self
            .commands
            .iter()
            .rev()
            .find(|&&i| i <= applied)
            .copied()
            .unwrap_or(0);
        self.known = self.known.max(shown);
        if let Some(log) = &mut self.log {
            log.answered(node, id, applied);
        }
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
        if let Some(log) = &mut self.log {
            log.reads.retain(|(n, r, _)| (*n, *r) != (node, id));
        }
    }

    /// Feeds the clients' state into `h`, node ids relabelled (order-insensitive).
    pub fn fingerprint(&self, relabel: Relabel<'_>, h: &mut impl Hasher) {
        (self.reads_started, self.known, &self.commands).hash(h);
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
        // A read that returned 5 (a command at 4, a no-op at 5): later reads must reach 4.
        c.applied(1, &[entry(3, b""), entry(4, b"b"), entry(5, b"")]);
        let r = c.read(1);
        assert!(c.answered(1, r, 5).is_ok());
        let after = c.read(2);
        assert!(c.answered(2, after, 4).is_ok());
        let again = c.read(2);
        assert!(c.answered(2, again, 3).is_err());
    }

    /// Regression (found by the general checker as oracle, tests/clients.rs): a read answered
    /// past a leader's no-op and a later one answered before it return the same state; the
    /// shortcut used to call the second stale.
    #[test]
    fn a_no_op_is_no_part_of_what_a_read_shows() {
        let mut c = Clients::recording();
        c.applied(1, &[entry(1, b"")]);
        let first = c.read(1);
        assert!(c.answered(1, first, 1).is_ok());
        let second = c.read(2);
        assert!(c.answered(2, second, 0).is_ok());
        assert_eq!(c.log.as_ref().map(|l| l.check()), Some(Ok(())));
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
