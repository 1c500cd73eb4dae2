//! Which faults a run injects, and the network model they act on.

use distsys_types::QuorumSystem;
use rand::{Rng, RngExt};
use std::collections::BTreeSet;
use std::str::FromStr;

/// A class of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// Messages dropped at random.
    Drop,
    /// Messages delivered twice.
    Duplicate,
    /// Messages delayed by a random extra amount, so they arrive out of order.
    Reorder,
    /// Network partitions: full split, minority isolation, one-way, bridge; then heal.
    Partition,
    /// Node crashes (volatile state lost, persisted state kept) and restarts, sometimes right
    /// after the node answered a vote (a rare path made common), sometimes in the middle of a
    /// write: only a prefix of what it was persisting reaches the disk (a torn, unsynced tail)
    /// and nothing that write would have acknowledged is sent.
    Crash,
    /// Process pauses (SIGSTOP/SIGCONT): the node stops, its clock does not.
    Pause,
    /// Clock offset and drift per node.
    Clock,
    /// Membership changes while the other faults run: voters removed, nodes added back as
    /// learners, learners promoted (joint consensus).
    Membership,
}

impl Fault {
    /// Every fault class.
    pub const ALL: [Fault; 8] = [
        Fault::Drop,
        Fault::Duplicate,
        Fault::Reorder,
        Fault::Partition,
        Fault::Crash,
        Fault::Pause,
        Fault::Clock,
        Fault::Membership,
    ];

    /// The name used by `--faults`.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Drop => "drop",
            Fault::Duplicate => "duplicate",
            Fault::Reorder => "reorder",
            Fault::Partition => "partition",
            Fault::Crash => "crash",
            Fault::Pause => "pause",
            Fault::Clock => "clock",
            Fault::Membership => "membership",
        }
    }
}

/// What the message faults do to each message while they are on: one definition for the
/// simulator's network and the chaos runner's link proxies, so `--faults drop,duplicate,reorder`
/// means the same thing in both.
pub mod message_rates {
    /// Probability that a message is dropped ([`super::Fault::Drop`]).
    pub const DROP: f64 = 0.02;
    /// Probability that a message is delivered twice ([`super::Fault::Duplicate`]).
    pub const DUPLICATE: f64 = 0.01;
    /// Probability that a message is held back ([`super::Fault::Reorder`]), so later ones
    /// overtake it.
    pub const REORDER: f64 = 0.05;
    /// A held-back message waits a uniform extra delay below this many link latencies.
    pub const REORDER_MAX_LATENCIES: u64 = 10;
}

/// A set of fault classes, parsed from `all`, `none` or a comma-separated list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FaultSet(pub BTreeSet<Fault>);

impl FaultSet {
    /// Every fault.
    pub fn all() -> FaultSet {
        FaultSet(Fault::ALL.into_iter().collect())
    }

    /// Whether the set has `fault`.
    pub fn has(&self, fault: Fault) -> bool {
        self.0.contains(&fault)
    }

    /// The names, comma-separated.
    pub fn describe(&self) -> String {
        if self.0.is_empty() {
            return "none".into();
        }
        self.0
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl FromStr for FaultSet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "all" => Ok(FaultSet::all()),
            "none" | "" => Ok(FaultSet::default()),
            list => list
                .split(',')
                .map(|name| {
                    Fault::ALL
                        .into_iter()
                        .find(|f| f.name() == name.trim())
                        .ok_or_else(|| format!("unknown fault {name:?} (all, none, or any of drop,duplicate,reorder,partition,crash,pause,clock,membership)"))
                })
                .collect::<Result<BTreeSet<_>, _>>()
                .map(FaultSet),
        }
    }
}

/// Directed links that currently drop everything.
#[derive(Debug, Clone, Default)]
pub struct Partition {
    blocked: BTreeSet<(u64, u64)>,
}

impl Partition {
    /// Whether messages from `from` to `to` are dropped.
    pub fn blocks(&self, from: u64, to: u64) -> bool {
        self.blocked.contains(&(from, to))
    }

    /// Whether any link is cut.
    pub fn is_active(&self) -> bool {
        !self.blocked.is_empty()
    }

    /// Cuts every link between the two sides, both ways.
    pub fn split(&mut self, a: &[u64], b: &[u64]) {
        for &x in a {
            for &y in b {
                self.blocked.insert((x, y));
                self.blocked.insert((y, x));
            }
        }
    }

    /// Cuts the links from `from` to `to` only (asymmetric partition).
    pub fn one_way(&mut self, from: u64, to: u64) {
        self.blocked.insert((from, to));
    }

    /// Restores every link.
    pub fn heal(&mut self) {
        self.blocked.clear();
    }

    /// Cuts every link between `victim` and the other nodes of `ids`, both ways; returns the
    /// description ("isolate 2").
    pub fn isolate(&mut self, victim: u64, ids: &[u64]) -> String {
        let rest: Vec<u64> = ids.iter().copied().filter(|i| *i != victim).collect();
        self.split(&[victim], &rest);
        format!("isolate {victim}")
    }

    /// The cut links, as (from, to).
    pub fn blocked(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.blocked.iter().copied()
    }

    /// Cuts one partition of the nodes `ids`, of a shape drawn at random (one quarter each):
    /// a full split into two random sides; one node isolated; one node's outgoing links cut
    /// (one-way); or two halves that cannot talk with one node (the bridge) seeing both.
    /// The isolated, one-way and bridge node is [`target`]ed (the leader half the time).
    /// Returns a description ("split [1, 3] | [2]", "isolate 2", "one-way from 2",
    /// "bridge 2 between [1] and [3]"). The simulator and the chaos runner both draw their
    /// partitions here, so a partition means the same thing in both.
    pub fn cut_random<R: Rng>(&mut self, rng: &mut R, ids: &[u64], leader: Option<u64>) -> String {
        let mut ids = ids.to_vec();
        match rng.random_range(0..4) {
            0 => {
                shuffle(rng, &mut ids);
                let cut = rng.random_range(1..ids.len().max(2));
                let (a, b) = ids.split_at(cut.min(ids.len()));
                self.split(a, b);
                format!("split {a:?} | {b:?}")
            }
            1 => {
                let victim = target(rng, &ids, leader);
                self.isolate(victim, &ids)
            }
            2 => {
                let victim = target(rng, &ids, leader);
                for &other in ids.iter().filter(|i| **i != victim) {
                    self.one_way(victim, other);
                }
                format!("one-way from {victim}")
            }
            _ => {
                let bridge = target(rng, &ids, leader);
                let rest: Vec<u64> = ids.iter().copied().filter(|i| *i != bridge).collect();
                let (a, b) = rest.split_at(rest.len() / 2);
                self.split(a, b);
                format!("bridge {bridge} between {a:?} and {b:?}")
            }
        }
    }

    /// Jepsen's majorities ring: the nodes `ids` in a random ring order, each seeing only the
    /// nodes within `d` places of it (d = ceil((m - 1) / 2) for a majority m), so every node
    /// sees a majority and no two neighbours see the same one. Two leaders can then each hold
    /// a quorum at once, their quorums overlapping only in nodes that must refuse the older
    /// ballot or term: the partition that shows an acceptor or voter which does not. At 3
    /// nodes a ring would cut nothing, so it is a line: the two ends cannot talk, the middle
    /// node sees both. Returns a description ("ring [3, 1, 5, 2, 4], each node seeing 1 on
    /// each side", "line [2, 3, 1]").
    pub fn majorities_ring<R: Rng>(&mut self, rng: &mut R, ids: &[u64]) -> String {
        let mut ring = ids.to_vec();
        shuffle(rng, &mut ring);
        let n = ring.len();
        if n == 3 {
            self.split(&ring[..1], &ring[2..]);
            return format!("line {ring:?}");
        }
        let reach = QuorumSystem::crash(n).quorum() / 2;
        for (i, &x) in ring.iter().enumerate() {
            for (j, &y) in ring.iter().enumerate() {
                let apart = i.abs_diff(j).min(n - i.abs_diff(j));
                if apart > reach {
                    self.blocked.insert((x, y));
                }
            }
        }
        format!("ring {ring:?}, each node seeing {reach} on each side")
    }

    /// Cuts `leader` off, with companions drawn at random from `ids`, from a majority of
    /// them: the leader's side is the largest that leaves the other side a majority (the
    /// leader alone at 3 or 4 nodes, with one other at 5 or 6). Returns the companions and a
    /// description ("split [2, 4] | [1, 3, 5]").
    pub fn leader_in_minority<R: Rng>(
        &mut self,
        rng: &mut R,
        ids: &[u64],
        leader: u64,
    ) -> (Vec<u64>, String) {
        let mut others: Vec<u64> = ids.iter().copied().filter(|i| *i != leader).collect();
        shuffle(rng, &mut others);
        // The leader's side holds as many nodes as a majority of them survives losing.
        let side_size = QuorumSystem::crash(ids.len()).faults();
        let (companions, majority) = others.split_at(side_size.saturating_sub(1).min(others.len()));
        let side: Vec<u64> = std::iter::once(leader)
            .chain(companions.iter().copied())
            .collect();
        self.split(&side, majority);
        (
            companions.to_vec(),
            format!("split {side:?} | {majority:?}"),
        )
    }
}

/// Puts `ids` in a random order (Fisher-Yates, the draws [`Partition::cut_random`] makes).
fn shuffle<R: Rng>(rng: &mut R, ids: &mut [u64]) {
    for i in (1..ids.len()).rev() {
        let j = rng.random_range(0..=i);
        ids.swap(i, j);
    }
}

/// The node a targeted fault hits: the leader half the time (when there is one), else any of
/// `ids` (which must not be empty).
pub fn target<R: Rng>(rng: &mut R, ids: &[u64], leader: Option<u64>) -> u64 {
    match leader {
        Some(leader) if rng.random_bool(0.5) => leader,
        _ => ids[rng.random_range(0..ids.len())],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn parse_fault_lists() {
        assert_eq!("all".parse::<FaultSet>().unwrap(), FaultSet::all());
        assert!("none".parse::<FaultSet>().unwrap().0.is_empty());
        let set: FaultSet = "crash, partition".parse().unwrap();
        assert!(set.has(Fault::Crash) && set.has(Fault::Partition) && !set.has(Fault::Drop));
        assert!("crash,meteor".parse::<FaultSet>().is_err());
    }

    /// Who each node of `ids` can reach under `p` (itself included).
    fn visible(p: &Partition, ids: &[u64]) -> Vec<BTreeSet<u64>> {
        ids.iter()
            .map(|&x| ids.iter().copied().filter(|&y| !p.blocks(x, y)).collect())
            .collect()
    }

    #[test]
    fn in_a_majorities_ring_every_node_sees_its_own_majority() {
        for n in 1..=9u64 {
            let ids: Vec<u64> = (1..=n).collect();
            for seed in 0..20 {
                let mut p = Partition::default();
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
                p.majorities_ring(&mut rng, &ids);
                let seen = visible(&p, &ids);
                for (x, s) in ids.iter().zip(&seen) {
                    assert!(s.len() as u64 > n / 2, "n={n}: node {x} sees {s:?}");
                    for &y in s {
                        assert!(!p.blocks(y, *x), "n={n}: cut one way only");
                    }
                }
                let distinct: BTreeSet<&BTreeSet<u64>> = seen.iter().collect();
                if n < 3 {
                    assert!(!p.is_active(), "n={n}: every node sees every other");
                } else if n == 3 {
                    assert_eq!(p.blocked().count(), 2, "n=3: one link cut, both ways");
                    assert_eq!(distinct.len(), 3, "{seen:?}");
                } else {
                    assert!(seen.iter().all(|s| s.len() < n as usize), "n={n}");
                    assert_eq!(distinct.len(), n as usize, "n={n}: {seen:?}");
                }
            }
        }
    }

    #[test]
    fn a_leader_in_minority_leaves_the_others_a_majority() {
        for n in 1..=9u64 {
            let ids: Vec<u64> = (1..=n).collect();
            for seed in 0..10 {
                let leader = 1 + seed % n;
                let mut p = Partition::default();
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
                let (companions, _) = p.leader_in_minority(&mut rng, &ids, leader);
                let seen = visible(&p, &ids);
                let side = &seen[leader as usize - 1];
                assert_eq!(side.len(), companions.len() + 1, "n={n}");
                assert!(companions.iter().all(|c| side.contains(c) && *c != leader));
                if n >= 3 {
                    assert!(side.len() as u64 <= (n - 1) / 2, "n={n}: {side:?}");
                    let rest = ids.iter().find(|i| !side.contains(i)).expect("others");
                    assert!(seen[*rest as usize - 1].len() as u64 > n / 2, "n={n}");
                    assert_eq!(side.len() as u64 + seen[*rest as usize - 1].len() as u64, n);
                }
            }
        }
    }

    #[test]
    fn partitions_cut_links() {
        let mut p = Partition::default();
        p.split(&[1, 2], &[3]);
        assert!(p.blocks(1, 3) && p.blocks(3, 2) && !p.blocks(1, 2));
        p.heal();
        p.one_way(1, 2);
        assert!(p.blocks(1, 2) && !p.blocks(2, 1));
    }
}
