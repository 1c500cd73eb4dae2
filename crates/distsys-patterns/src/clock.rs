//! Clocks for ordering and conflict detection: hybrid logical clocks (Kulkarni et al. 2014),
//! version vectors, and a sibling store with dotted version vectors (Preguiça et al.), as
//! Riak keeps concurrent writes for the client to merge.

use crate::crdt::{Dot, ReplicaId};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// A hybrid logical clock reading: physical milliseconds and a logical counter. Ordered
/// lexicographically; always at least the physical clock, and strictly larger than every
/// timestamp the node has sent or received before.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HlcTimestamp {
    /// Physical part, in milliseconds.
    pub wall_ms: u64,
    /// Logical part, breaking ties within one millisecond.
    pub logical: u32,
}

/// A node's hybrid logical clock.
///
/// - The logical part never wraps: past `u32::MAX` the clock moves to the next millisecond.
/// - With [`Hlc::with_max_offset`], a remote stamp more than that far ahead of the local
///   physical clock is refused ([`ClockSkew`]) instead of adopted: one node with a clock in the
///   future cannot drag every clock with it (CockroachDB refuses at 500 ms). [`Hlc::default`]
///   has no bound.
/// - A restarted node must not reissue stamps: persist [`Hlc::high_water`] (at least every
///   stamp, or a lease ahead of it) and start from [`Hlc::restore`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hlc {
    last: HlcTimestamp,
    max_offset_ms: Option<u64>,
}

/// A remote timestamp too far ahead of the local physical clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockSkew {
    /// The remote stamp's physical part, in ms.
    pub remote_ms: u64,
    /// The local physical clock, in ms.
    pub local_ms: u64,
    /// The largest offset accepted, in ms.
    pub max_offset_ms: u64,
}

impl std::fmt::Display for ClockSkew {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "remote clock {} ms is {} ms ahead of the local clock {} ms (at most {} ms accepted): \
             check the remote node's time source",
            self.remote_ms,
            self.remote_ms - self.local_ms,
            self.local_ms,
            self.max_offset_ms
        )
    }
}

impl std::error::Error for ClockSkew {}

/// The offset CockroachDB refuses by default, in ms.
pub const DEFAULT_MAX_OFFSET_MS: u64 = 500;

impl HlcTimestamp {
    /// The smallest timestamp strictly after this one (the logical part carries into the
    /// physical one instead of wrapping).
    pub fn successor(self) -> HlcTimestamp {
        match self.logical.checked_add(1) {
            Some(logical) => HlcTimestamp {
                wall_ms: self.wall_ms,
                logical,
            },
            None => HlcTimestamp {
                wall_ms: self.wall_ms.saturating_add(1),
                logical: 0,
            },
        }
    }
}

impl Hlc {
    /// A clock that refuses remote stamps more than `max_offset_ms` ahead of its physical
    /// clock.
    pub fn with_max_offset(max_offset_ms: u64) -> Hlc {
        Hlc {
            last: HlcTimestamp::default(),
            max_offset_ms: Some(max_offset_ms),
        }
    }

    /// A clock restarted from `persisted` (the last [`Hlc::high_water`] written to disk): its
    /// next stamp is strictly after it.
    pub fn restore(persisted: HlcTimestamp, max_offset_ms: Option<u64>) -> Hlc {
        Hlc {
            last: persisted,
            max_offset_ms,
        }
    }

    /// The largest stamp issued or received: what to persist.
    pub fn high_water(&self) -> HlcTimestamp {
        self.last
    }

    /// A timestamp for a local event or a send, given the physical clock now.
    pub fn now(&mut self, physical_ms: u64) -> HlcTimestamp {
        self.last = if physical_ms > self.last.wall_ms {
            HlcTimestamp {
                wall_ms: physical_ms,
                logical: 0,
            }
        } else {
            self.last.successor()
        };
        self.last
    }

    /// A timestamp for receiving `remote`, given the physical clock now; refused when the
    /// clock has a bound and `remote` is further ahead of `physical_ms` than it.
    pub fn update(
        &mut self,
        remote: HlcTimestamp,
        physical_ms: u64,
    ) -> Result<HlcTimestamp, ClockSkew> {
        if let Some(max_offset_ms) = self.max_offset_ms {
            if remote.wall_ms > physical_ms.saturating_add(max_offset_ms) {
                return Err(ClockSkew {
                    remote_ms: remote.wall_ms,
                    local_ms: physical_ms,
                    max_offset_ms,
                });
            }
        }
        let wall = physical_ms.max(self.last.wall_ms).max(remote.wall_ms);
        let base = if wall == self.last.wall_ms && wall == remote.wall_ms {
            Some(self.last.max(remote))
        } else if wall == self.last.wall_ms {
            Some(self.last)
        } else if wall == remote.wall_ms {
            Some(remote)
        } else {
            None
        };
        self.last = match base {
            Some(stamp) => stamp.successor(),
            None => HlcTimestamp {
                wall_ms: wall,
                logical: 0,
            },
        };
        Ok(self.last)
    }
}

/// How two version vectors (or the writes they stamp) relate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Causality {
    /// Same history.
    Equal,
    /// The left one happened before the right one.
    Before,
    /// The left one happened after the right one.
    After,
    /// Neither saw the other: a conflict.
    Concurrent,
}

/// Events seen per replica.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionVector(pub BTreeMap<ReplicaId, u64>);

impl VersionVector {
    /// Counts one more event at `replica`; returns its dot.
    pub fn tick(&mut self, replica: ReplicaId) -> Dot {
        let c = self.0.entry(replica).or_default();
        *c += 1;
        Dot {
            replica,
            counter: *c,
        }
    }

    /// Whether this vector has seen `dot`.
    pub fn covers(&self, dot: &Dot) -> bool {
        self.0.get(&dot.replica).is_some_and(|c| *c >= dot.counter)
    }

    /// Pointwise maximum.
    pub fn join(&mut self, other: &VersionVector) {
        for (r, c) in &other.0 {
            let mine = self.0.entry(*r).or_default();
            *mine = (*mine).max(*c);
        }
    }

    /// How `self` relates to `other`.
    pub fn compare(&self, other: &VersionVector) -> Causality {
        let mut less = false;
        let mut greater = false;
        for r in self.0.keys().chain(other.0.keys()) {
            let (a, b) = (
                self.0.get(r).copied().unwrap_or(0),
                other.0.get(r).copied().unwrap_or(0),
            );
            match a.cmp(&b) {
                Ordering::Less => less = true,
                Ordering::Greater => greater = true,
                Ordering::Equal => {}
            }
        }
        match (less, greater) {
            (false, false) => Causality::Equal,
            (true, false) => Causality::Before,
            (false, true) => Causality::After,
            (true, true) => Causality::Concurrent,
        }
    }
}

/// A key's value on a server with dotted version vectors: every write carries the context
/// (version vector) the client read; the server drops the siblings that context covers and
/// keeps the rest next to the new value, each with its own dot. Concurrent writes are never
/// lost: a read returns every sibling and a context, and the client writes back its merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiblingStore<T> {
    siblings: BTreeMap<Dot, T>,
    seen: VersionVector,
}

impl<T> Default for SiblingStore<T> {
    fn default() -> Self {
        SiblingStore {
            siblings: BTreeMap::new(),
            seen: VersionVector::default(),
        }
    }
}

impl<T: Clone + Ord> SiblingStore<T> {
    /// A write coordinated by `replica` with the `context` the client read.
    pub fn put(&mut self, replica: ReplicaId, context: &VersionVector, value: T) {
        self.siblings.retain(|dot, _| !context.covers(dot));
        let dot = self.seen.tick(replica);
        self.siblings.insert(dot, value);
    }

    /// The siblings (sorted, distinct) and the context to write back with.
    pub fn get(&self) -> (Vec<T>, VersionVector) {
        let mut values: Vec<T> = self.siblings.values().cloned().collect();
        values.sort();
        values.dedup();
        (values, self.seen.clone())
    }

    /// Merges another replica's copy of the key (replication, anti-entropy).
    pub fn merge(&mut self, other: &SiblingStore<T>) {
        let seen = &self.seen;
        let other_seen = &other.seen;
        self.siblings
            .retain(|dot, _| other.siblings.contains_key(dot) || !other_seen.covers(dot));
        for (dot, v) in &other.siblings {
            if !seen.covers(dot) {
                self.siblings.insert(*dot, v.clone());
            }
        }
        self.seen.join(&other.seen);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_logical_part_carries_instead_of_wrapping() {
        let mut clock = Hlc::restore(
            HlcTimestamp {
                wall_ms: 5,
                logical: u32::MAX - 1,
            },
            None,
        );
        let a = clock.now(0);
        let b = clock.now(0);
        assert!(b > a, "{a:?} then {b:?}");
        assert_eq!(
            b,
            HlcTimestamp {
                wall_ms: 6,
                logical: 0
            }
        );
        // A remote stamp at the logical limit: the receive is still after it.
        let remote = HlcTimestamp {
            wall_ms: 9,
            logical: u32::MAX,
        };
        let received = clock.update(remote, 0).expect("unbounded");
        assert!(received > remote);
    }

    #[test]
    fn a_far_future_stamp_is_refused_with_a_clear_error() {
        let mut clock = Hlc::with_max_offset(DEFAULT_MAX_OFFSET_MS);
        let before = clock.now(1_000);
        let future = HlcTimestamp {
            wall_ms: 1_000 + 3_600_000,
            logical: 0,
        };
        let err = clock.update(future, 1_000).expect_err("an hour ahead");
        assert!(err.to_string().contains("3600000 ms ahead"), "{err}");
        assert_eq!(clock.high_water(), before, "a refused stamp is not adopted");
        let near = HlcTimestamp {
            wall_ms: 1_400,
            logical: 3,
        };
        assert!(clock.update(near, 1_000).is_ok(), "within the bound");
    }

    proptest! {
        /// A restarted clock (from its persisted high water) never reissues a stamp, whatever
        /// its physical clock does (it may even run backwards after the restart).
        #[test]
        fn restarts_never_reissue_a_stamp(
            steps in prop::collection::vec((0u64..2_000, any::<bool>(), 0u64..3_000, 0u32..4), 1..60),
            start_logical in prop::sample::select(vec![0u32, 7, u32::MAX - 2, u32::MAX]),
        ) {
            let mut clock = Hlc::restore(HlcTimestamp { wall_ms: 100, logical: start_logical }, None);
            let mut issued = vec![clock.high_water()];
            for (physical, restart, remote_ms, remote_logical) in steps {
                if restart {
                    clock = Hlc::restore(clock.high_water(), None);
                }
                let stamp = if remote_logical == 0 {
                    clock.now(physical)
                } else {
                    let remote = HlcTimestamp { wall_ms: remote_ms, logical: u32::MAX - remote_logical };
                    clock.update(remote, physical).expect("unbounded")
                };
                prop_assert!(stamp > *issued.last().expect("one"), "{stamp:?} after {issued:?}");
                issued.push(stamp);
            }
        }
    }

    #[test]
    fn hlc_never_goes_back_and_orders_causally() {
        let (mut a, mut b) = (Hlc::default(), Hlc::default());
        let sent = a.now(1_000);
        // b's wall clock is 300 ms behind: the receive is still stamped after the send.
        let received = b
            .update(sent, 700)
            .expect("an unbounded clock accepts every stamp");
        assert!(received > sent);
        let later = b.now(701);
        assert!(
            later > received,
            "local events after a receive stay after it"
        );
        assert_eq!(
            later.wall_ms, 1_000,
            "the physical part follows the fastest clock seen"
        );
        assert_eq!(
            a.now(1_000),
            HlcTimestamp {
                wall_ms: 1_000,
                logical: 1
            }
        );
    }

    #[test]
    fn version_vectors_detect_concurrency() {
        let mut a = VersionVector::default();
        a.tick(1);
        let mut b = a.clone();
        b.tick(2);
        assert_eq!(a.compare(&b), Causality::Before);
        assert_eq!(b.compare(&a), Causality::After);
        a.tick(1);
        assert_eq!(a.compare(&b), Causality::Concurrent);
        a.join(&b);
        assert_eq!(a.compare(&b), Causality::After);
        assert_eq!(a.compare(&a.clone()), Causality::Equal);
    }

    #[test]
    fn concurrent_writes_become_siblings_and_a_merge_replaces_them() {
        let mut server = SiblingStore::default();
        let (_, empty) = server.get();
        // Two clients write from the same (empty) context: both values are kept.
        server.put(1, &empty, "apple");
        server.put(1, &empty, "pear");
        let (values, context) = server.get();
        assert_eq!(values, vec!["apple", "pear"]);
        // The client merges and writes back with the context it read: one value remains.
        server.put(1, &context, "apple+pear");
        assert_eq!(server.get().0, vec!["apple+pear"]);
        // A replica that missed all this merges in without resurrecting the old siblings.
        let mut other = SiblingStore::default();
        other.put(2, &VersionVector::default(), "kiwi");
        other.merge(&server);
        server.merge(&other);
        assert_eq!(server.get().0, vec!["apple+pear", "kiwi"]);
        assert_eq!(other.get().0, server.get().0);
    }
}
