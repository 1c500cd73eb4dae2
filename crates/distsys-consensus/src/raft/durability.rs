//! What of a node's log is known to be on its disk, for pipelined persistence
//! ([`super::Config::async_persist`], etcd-raft's asynchronous storage writes): the writes the
//! driver has issued and not yet reported durable, each with the last log index it covers and
//! whether it carries a new term or vote.

use crate::types::Index;
use std::collections::VecDeque;

/// The node's writes in flight and its durable log prefix.
#[derive(Debug, Clone, Default)]
pub(super) struct Durability {
    /// The last write id handed out.
    last_write: u64,
    /// Writes issued, not yet durable, oldest first: (id, the last log index it covers,
    /// whether it carries a term or vote).
    pending: VecDeque<(u64, Index, bool)>,
    /// Every log index at or below this is on disk as it is in memory.
    durable: Index,
}

impl Durability {
    /// A node whose log up to `last` came from its disk.
    pub(super) fn starting_at(last: Index) -> Durability {
        Durability {
            durable: last,
            ..Durability::default()
        }
    }

    /// A write is issued that leaves the disk's log as the memory's is now, up to `last`:
    /// its id (1, 2, ...).
    pub(super) fn issue(&mut self, last: Index, hard_state: bool) -> u64 {
        self.last_write += 1;
        self.pending.push_back((self.last_write, last, hard_state));
        self.last_write
    }

    /// The log was cut at `index` (a truncation, or a snapshot replacing it): nothing at or
    /// above it is on disk as it now is in memory until a later write says so.
    pub(super) fn cut(&mut self, index: Index) {
        let keep = index.saturating_sub(1);
        self.durable = self.durable.min(keep);
        for write in &mut self.pending {
            write.1 = write.1.min(keep);
        }
    }

    /// The driver reports write `id` (and so every earlier one: writes complete in order)
    /// durable.
    pub(super) fn persisted(&mut self, id: u64) {
        while let Some(&(write, last, _)) = self.pending.front() {
            if write > id {
                break;
            }
            self.durable = self.durable.max(last);
            self.pending.pop_front();
        }
    }

    /// The durable log prefix.
    pub(super) fn durable(&self) -> Index {
        self.durable
    }

    /// Whether a write carrying a term or vote is not durable yet (nothing may leave that
    /// speaks for the new term before it is).
    pub(super) fn hard_state_pending(&self) -> bool {
        self.pending.iter().any(|w| w.2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_become_durable_in_order_and_a_cut_takes_back_what_it_replaced() {
        let mut d = Durability::starting_at(2);
        let a = d.issue(5, true);
        let b = d.issue(7, false);
        assert!(d.hard_state_pending());
        assert_eq!(d.durable(), 2);
        d.persisted(a);
        assert_eq!(d.durable(), 5);
        assert!(!d.hard_state_pending());
        // A follower's log is cut at 4 while write b (up to 7) is in flight: b now only
        // vouches for 3.
        d.cut(4);
        assert_eq!(d.durable(), 3);
        let c = d.issue(6, false);
        d.persisted(b);
        assert_eq!(d.durable(), 3);
        d.persisted(c);
        assert_eq!(d.durable(), 6);
    }
}
