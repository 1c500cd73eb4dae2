//! Raft's in-memory log: entries after a snapshot point, with the snapshot kept for followers
//! that fall behind it. Guarantees `snapshot.last_index + 1 == first entry index` (known-bugs #12).
//! After a compaction of its own, the log also keeps a tail of the entries the snapshot covers
//! ([`RaftLog::compact`]), so a follower only a little behind catches up with entries rather
//! than the whole snapshot (etcd keeps 5,000 for the same reason). That tail lives in memory
//! only: it is a copy of committed entries, never persisted, gone after a restart or an
//! installed snapshot.

use crate::membership::Membership;
use crate::types::{Entry, Index, Snapshot, Term};
use distsys_types::snapshot;

/// The log of one node.
#[derive(Debug, Clone, Default)]
pub struct RaftLog {
    snapshot: Option<Snapshot>,
    /// Entries the snapshot covers, kept for followers: contiguous, ending at the snapshot's
    /// last index (or empty).
    covered: Vec<Entry>,
    entries: Vec<Entry>,
}

impl RaftLog {
    /// A log made of a snapshot and the entries after it.
    pub fn new(snapshot: Option<Snapshot>, entries: Vec<Entry>) -> RaftLog {
        let log = RaftLog {
            snapshot,
            covered: Vec::new(),
            entries,
        };
        debug_assert!(log
            .entries
            .first()
            .is_none_or(|e| e.index == log.offset() + 1));
        log
    }

    /// Index of the last entry the snapshot covers (0 without a snapshot).
    pub fn offset(&self) -> Index {
        self.snapshot.as_ref().map_or(0, |s| s.last_index)
    }

    /// The snapshot, if any.
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_ref()
    }

    /// Index of the last entry (or the snapshot's last index).
    pub fn last_index(&self) -> Index {
        self.entries.last().map_or(self.offset(), |e| e.index)
    }

    /// Term of the last entry.
    pub fn last_term(&self) -> Term {
        self.term(self.last_index()).unwrap_or(0)
    }

    /// Term of the entry at `index`: `Some(0)` at 0, `None` when compacted away or absent.
    pub fn term(&self, index: Index) -> Option<Term> {
        if index == 0 {
            return Some(0);
        }
        let offset = self.offset();
        if index == offset {
            return self.snapshot.as_ref().map(|s| s.last_term);
        }
        self.entry(index).map(|e| e.term)
    }

    /// Chain hash of the prefix ending at `index` (0 at index 0), if known.
    pub fn chain(&self, index: Index) -> Option<u64> {
        snapshot::known_chain(index, self.snapshot.as_ref().map(Snapshot::point), |i| {
            self.entry(i).map(|e| e.chain)
        })
    }

    /// Entries the snapshot covers that the log still holds for followers (see
    /// [`RaftLog::compact`]).
    pub fn covered(&self) -> usize {
        self.covered.len()
    }

    /// The entry at `index`, if held (after the snapshot, or in the tail it covers).
    pub fn entry(&self, index: Index) -> Option<&Entry> {
        let offset = self.offset();
        if index <= offset {
            let first = self.covered.first()?.index;
            return self.covered.get(index.checked_sub(first)? as usize);
        }
        self.entries.get((index - offset - 1) as usize)
    }

    /// The held entries from `from` on, in order (none when `from` is not held).
    fn held_from(&self, from: Index) -> impl Iterator<Item = &Entry> {
        let offset = self.offset();
        let covered = match self.covered.first() {
            Some(first) if from >= first.index && from <= offset => {
                &self.covered[(from - first.index) as usize..]
            }
            _ => &[],
        };
        let entries = if from > offset || !covered.is_empty() {
            &self.entries[(from.saturating_sub(offset + 1) as usize).min(self.entries.len())..]
        } else {
            &[]
        };
        covered.iter().chain(entries)
    }

    /// Up to `max` entries starting at `from`.
    pub fn slice(&self, from: Index, max: usize) -> Vec<Entry> {
        self.held_from(from).take(max).cloned().collect()
    }

    /// Entries from `from`: at most `max` of them and, beyond the first, at most `max_bytes` in
    /// all (see [`Entry::size`]). Returns them with their total size.
    pub fn slice_bounded(&self, from: Index, max: usize, max_bytes: u64) -> (Vec<Entry>, u64) {
        let mut bytes = 0;
        let mut out = Vec::new();
        for entry in self.held_from(from).take(max) {
            let size = entry.size();
            if !out.is_empty() && bytes + size > max_bytes {
                break;
            }
            bytes += size;
            out.push(entry.clone());
        }
        (out, bytes)
    }

    /// Entries in `(after, upto]`.
    pub fn range(&self, after: Index, upto: Index) -> Vec<Entry> {
        if upto <= after {
            return Vec::new();
        }
        self.slice(after + 1, (upto - after) as usize)
    }

    /// Appends a new entry with the next index, computing its chain hash.
    pub fn append_new(
        &mut self,
        term: Term,
        data: impl Into<bytes::Bytes>,
        membership: Option<Membership>,
    ) -> Entry {
        let index = self.last_index() + 1;
        let previous = self.chain(index - 1).unwrap_or(0);
        let entry = Entry::new(previous, index, term, data, membership);
        self.entries.push(entry.clone());
        entry
    }

    /// Appends an entry received from a leader (must follow the last one). The chain hash is
    /// recomputed from this log's own prefix, never trusted from the sender, so it always
    /// describes what this node really holds. Returns the entry as stored.
    pub fn append(&mut self, mut entry: Entry) -> Entry {
        debug_assert_eq!(
            entry.index,
            self.last_index() + 1,
            "log appends are contiguous"
        );
        entry.rechain(self.chain(entry.index - 1).unwrap_or(0));
        self.entries.push(entry.clone());
        entry
    }

    /// Drops every entry at or after `index`.
    pub fn truncate(&mut self, index: Index) {
        let offset = self.offset();
        debug_assert!(index > offset, "never truncate into the snapshot");
        self.entries
            .truncate(index.saturating_sub(offset + 1) as usize);
    }

    /// Compacts the prefix up to `snapshot.last_index` (an entry this log holds, whose chain the
    /// snapshot carries: a snapshot of this node's own state) into the snapshot, keeping the
    /// last `keep` entries it covers for followers.
    pub fn compact(&mut self, snapshot: Snapshot, keep: usize) {
        let last = snapshot.last_index;
        debug_assert_eq!(
            self.chain(last),
            Some(snapshot.last_chain),
            "a compaction agrees with the log"
        );
        let compacted = self.entries.iter().take_while(|e| e.index <= last).count();
        self.covered.extend(self.entries.drain(..compacted));
        let surplus = self.covered.len().saturating_sub(keep);
        self.covered.drain(..surplus);
        self.snapshot = Some(snapshot);
        debug_assert!(self.covered.last().is_none_or(|e| e.index == last));
        debug_assert!(self.entries.first().is_none_or(|e| e.index == last + 1));
    }

    /// Replaces the prefix up to `snapshot.last_index` by the snapshot. Entries after it are kept
    /// only if the log knows the snapshot's last chain (see [`distsys_types::snapshot::install`]);
    /// otherwise the log is emptied. The tail a compaction kept goes too.
    pub fn install(&mut self, snapshot: Snapshot) {
        // The one snapshot-agreement rule (`distsys_types::snapshot`), as on disk.
        let retained = snapshot::install(
            snapshot.point(),
            self.snapshot.as_ref().map(Snapshot::point),
            |i| self.entry(i).map(|e| e.chain),
        );
        let last = snapshot.last_index;
        self.entries.retain(|e| retained.keeps(e.index));
        self.covered.clear();
        self.snapshot = Some(snapshot);
        debug_assert!(self.entries.first().is_none_or(|e| e.index == last + 1));
    }

    /// The membership in effect after the whole log: the last membership entry's, else the
    /// snapshot's. `None` when neither carries one (the bootstrap membership applies).
    pub fn membership(&self) -> Option<(Index, &Membership)> {
        self.entries
            .iter()
            .rev()
            .find_map(|e| e.membership.as_deref().map(|m| (e.index, m)))
            .or_else(|| {
                self.snapshot
                    .as_ref()
                    .map(|s| (s.last_index, &s.membership))
            })
    }

    /// The membership in effect at `index` (which must be held or be the snapshot point).
    pub fn membership_at(&self, index: Index) -> Option<&Membership> {
        self.entries
            .iter()
            .rev()
            .filter(|e| e.index <= index)
            .find_map(|e| e.membership.as_deref())
            .or_else(|| self.snapshot.as_ref().map(|s| &s.membership))
    }

    /// Index of the first entry of the term of the entry at `index` (fast backtracking hint).
    pub fn first_index_of_term_at(&self, index: Index) -> Index {
        let Some(term) = self.term(index) else {
            return self.offset() + 1;
        };
        let mut i = index;
        while i > self.offset() + 1 && self.term(i - 1) == Some(term) {
            i -= 1;
        }
        i
    }
}
