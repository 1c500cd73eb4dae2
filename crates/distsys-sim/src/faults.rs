//! Which faults a run injects, and the network model they act on.

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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_fault_lists() {
        assert_eq!("all".parse::<FaultSet>().unwrap(), FaultSet::all());
        assert!("none".parse::<FaultSet>().unwrap().0.is_empty());
        let set: FaultSet = "crash, partition".parse().unwrap();
        assert!(set.has(Fault::Crash) && set.has(Fault::Partition) && !set.has(Fault::Drop));
        assert!("crash,meteor".parse::<FaultSet>().is_err());
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
