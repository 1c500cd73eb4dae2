//! The snapshot-agreement rule of a hash-chained log, written once for every place that keeps
//! such a log (Raft's in-memory log, the simulator's persisted state, the node's disk).
//!
//! Every entry of the log carries a chain hash of itself and every entry before it, so two logs
//! that agree on the chain at one index agree on the whole prefix up to it. Installing a
//! snapshot that ends at `index` with chain `chain` therefore keeps the entries after `index`
//! exactly when the log knows the same chain at `index` (it holds the snapshot's last entry, or
//! its current snapshot ends there with the same chain); otherwise the log holds a different
//! history and every entry goes.

/// A position in a hash-chained log: an index and the chain hash of the prefix ending there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainPoint {
    /// The index (1-based; 0 is "before the first entry").
    pub index: u64,
    /// The chain hash of the prefix ending at `index` (0 at index 0).
    pub chain: u64,
}

/// The chain hash a log knows at `index`: 0 at index 0 (the empty prefix), the current
/// snapshot's chain when the snapshot ends at `index`, else the chain of the entry the log
/// holds there (`entry_chain`, asked only in that case). `None` when the log does not know.
pub fn known_chain(
    index: u64,
    snapshot: Option<ChainPoint>,
    entry_chain: impl FnOnce(u64) -> Option<u64>,
) -> Option<u64> {
    if index == 0 {
        return Some(0);
    }
    match snapshot {
        Some(point) if point.index == index => Some(point.chain),
        _ => entry_chain(index),
    }
}

/// What installing a snapshot leaves of a log's entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retained {
    /// The log agrees with the snapshot: the entries after this index stay.
    After(u64),
    /// The log disagrees (or does not know): every entry goes.
    Nothing,
}

impl Retained {
    /// Whether the entry at `index` stays.
    pub fn keeps(self, index: u64) -> bool {
        match self {
            Retained::After(last) => index > last,
            Retained::Nothing => false,
        }
    }
}

/// The snapshot-agreement rule: installing a snapshot ending at `new` into a log whose current
/// snapshot ends at `current` and which holds entries whose chains `entry_chain` gives keeps the
/// entries after `new.index` exactly when the log knows `new.chain` at `new.index` (see
/// [`known_chain`]), and nothing otherwise.
///
/// Guarantee: what is kept extends the snapshot's prefix, so a log never holds entries on top
/// of a snapshot they do not follow.
pub fn install(
    new: ChainPoint,
    current: Option<ChainPoint>,
    entry_chain: impl FnOnce(u64) -> Option<u64>,
) -> Retained {
    if known_chain(new.index, current, entry_chain) == Some(new.chain) {
        Retained::After(new.index)
    } else {
        Retained::Nothing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(index: u64, chain: u64) -> ChainPoint {
        ChainPoint { index, chain }
    }

    #[test]
    fn the_entry_held_at_the_snapshot_point_decides() {
        let entries = |i: u64| (i <= 5).then_some(i * 100);
        assert_eq!(install(point(3, 300), None, entries), Retained::After(3));
        assert_eq!(install(point(3, 301), None, entries), Retained::Nothing);
        // Beyond the log: nothing known, nothing kept.
        assert_eq!(install(point(9, 900), None, entries), Retained::Nothing);
    }

    #[test]
    fn the_current_snapshot_counts_when_it_ends_at_the_same_point() {
        let no_entries = |_: u64| None;
        let current = Some(point(4, 44));
        assert_eq!(
            install(point(4, 44), current, no_entries),
            Retained::After(4)
        );
        assert_eq!(
            install(point(4, 45), current, no_entries),
            Retained::Nothing
        );
        // The current snapshot ends elsewhere: only an entry could tell.
        assert_eq!(
            install(point(5, 44), current, no_entries),
            Retained::Nothing
        );
        // And the snapshot wins over an entry claimed at its own point.
        assert_eq!(
            known_chain(4, current, |_| Some(7)),
            Some(44),
            "the snapshot's chain is what the log knows at its last index"
        );
    }

    #[test]
    fn index_zero_is_the_empty_prefix() {
        assert_eq!(known_chain(0, None, |_| Some(5)), Some(0));
        assert_eq!(install(point(0, 0), None, |_| None), Retained::After(0));
    }

    #[test]
    fn retained_keeps_only_what_follows() {
        assert!(!Retained::After(3).keeps(3));
        assert!(Retained::After(3).keeps(4));
        assert!(!Retained::Nothing.keeps(4));
    }
}
