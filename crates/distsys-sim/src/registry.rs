//! The protocols the simulator knows, each described once by a [`Descriptor`]: its names, its
//! seeded bugs, which parameters apply, its fault model, its safety properties and how it
//! starts a simulation. The simulator, the CLI (`--protocol`, `--mutant`, `--list-mutants`,
//! `bench protocols`, `sweep`), evidence and replay iterate this registry; nothing else names a
//! protocol. Adding a protocol is one module of [`crate::protocols`] (its [`Simulated`] impl and
//! its `DESCRIPTOR`) and one line in [`BUILTIN`]; a protocol outside this crate builds its own
//! [`Registry`] with [`Registry::with`] (see `docs/protocols.md`).
//!
//! [`Simulated`]: crate::protocol::Simulated

use crate::protocols;
use crate::sim::{SimConfig, Simulation};
use distsys_types::QuorumSystem;

/// A seeded bug: a deliberately broken variant of a protocol that the checks must catch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeededBug {
    /// The name `--mutant` takes.
    pub name: &'static str,
    /// What it breaks (one line, as `--list-mutants` prints it).
    pub description: &'static str,
    /// Whether only pipelined disk writes show it (`SimConfig::write_delay_us` above zero;
    /// the simulator refuses it without them).
    pub needs_pipelined_writes: bool,
}

impl SeededBug {
    /// The seeded bugs of a protocol's mutant enum, in its order: one definition of the
    /// mapping every protocol module uses.
    pub fn all<M: Copy>(
        mutants: &[M],
        name: fn(M) -> &'static str,
        description: fn(M) -> &'static str,
    ) -> Vec<SeededBug> {
        mutants
            .iter()
            .map(|m| SeededBug {
                name: name(*m),
                description: description(*m),
                needs_pipelined_writes: false,
            })
            .collect()
    }
}

/// Which faults a protocol tolerates, which decides the sizes it runs at and how many faulty
/// replicas a cluster of `n` survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultModel {
    /// Crashes, pauses, partitions: any minority (`f = (n-1)/2`).
    Crash,
    /// Byzantine replicas too (`n = 3f+1`): the protocol has an adversary, `--byzantine`
    /// applies, and clients wait for matching answers from several replicas.
    Byzantine,
}

impl FaultModel {
    /// The faulty replicas a cluster of `nodes` tolerates under this model.
    pub fn max_faults(self, nodes: usize) -> usize {
        match self {
            FaultModel::Crash => QuorumSystem::max_crash_faults(nodes),
            FaultModel::Byzantine => QuorumSystem::max_byzantine_faults(nodes),
        }
    }
}

/// Everything the simulator and its callers know about one protocol. One `static` per
/// protocol; [`Protocol`] is a handle to it.
#[derive(Debug)]
pub struct Descriptor {
    /// The name `--protocol` takes and every report prints (lower case, no spaces).
    pub name: &'static str,
    /// The protocol's usual written name (`Raft`, `Multi-Paxos`, `PBFT`), for messages.
    pub title: &'static str,
    /// Other names `--protocol` accepts.
    pub aliases: &'static [&'static str],
    /// What an advisor answer's protocol name contains when it advises this protocol (the
    /// first registered protocol whose marker matches wins; the default protocol otherwise).
    pub advice_markers: &'static [&'static str],
    /// The seeded bugs `--mutant` plants and `--list-mutants` prints, in that order.
    pub bugs: fn() -> Vec<SeededBug>,
    /// Whether leader lease reads (`--lease`) apply.
    pub lease_read: bool,
    /// Whether it runs with pipelined disk writes (`--write-delay-ms`): its core sends what
    /// may leave before its write is durable, and its safety observer reads what each Ready
    /// carried out, not the core's latest step.
    pub pipelined_writes: bool,
    /// Whether the number of entries per replication message applies (the simulator varies
    /// it under reordering faults).
    pub max_entries_per_msg: bool,
    /// Which faults it tolerates.
    pub fault_model: FaultModel,
    /// The smallest cluster it runs on (1 for crash-fault protocols; 4 = 3f+1 with f = 1 for
    /// byzantine ones).
    pub min_nodes: usize,
    /// The cluster sizes `bench protocols` measures.
    pub bench_sizes: &'static [usize],
    /// The safety properties the simulator checks for it, as the violations name them (the
    /// protocol's own predicates from `Simulated::observe_safety`, then the state machine
    /// safety and linearizability every protocol gets).
    pub safety: &'static [&'static str],
    /// A simulation of this protocol with `config` (whose `protocol` is this one), ready to run:
    /// `Simulation::of::<TheCore>`.
    pub start: fn(SimConfig) -> Simulation,
}

/// The protocols built in, in the order listings print them; the first is the default.
pub static BUILTIN: [&Descriptor; 3] = [
    &protocols::raft::DESCRIPTOR,
    &protocols::multipaxos::DESCRIPTOR,
    &protocols::pbft::DESCRIPTOR,
];

/// A protocol: a handle to its [`Descriptor`] (dereferences to it). Two handles are equal when
/// they name the same protocol.
#[derive(Clone, Copy)]
pub struct Protocol(&'static Descriptor);

impl Protocol {
    /// The protocol `descriptor` describes (registered or not).
    pub fn new(descriptor: &'static Descriptor) -> Protocol {
        Protocol(descriptor)
    }

    /// The name `--protocol` takes.
    pub fn name(self) -> &'static str {
        self.0.name
    }

    /// The built-in protocol `--protocol` names: its name or one of its aliases (surrounding
    /// blanks ignored).
    pub fn parse(name: &str) -> Option<Protocol> {
        lookup(name)
    }

    /// Its descriptor.
    pub fn descriptor(self) -> &'static Descriptor {
        self.0
    }

    /// Whether byzantine replicas are part of its fault model.
    pub fn byzantine(self) -> bool {
        self.0.fault_model == FaultModel::Byzantine
    }

    /// Its seeded bug called `name`, or why there is none: the error tells where the list is
    /// (`--list-mutants`, with `--protocol` unless this is the default protocol).
    pub fn bug(self, name: &str) -> Result<SeededBug, String> {
        (self.0.bugs)()
            .into_iter()
            .find(|b| b.name == name)
            .ok_or_else(|| {
                if self == Protocol::default() {
                    format!("unknown mutant {name:?}; --list-mutants shows them")
                } else {
                    format!(
                        "unknown {0} mutant {name:?}; --list-mutants --protocol {0} shows them",
                        self.0.name
                    )
                }
            })
    }
}

impl std::ops::Deref for Protocol {
    type Target = Descriptor;
    fn deref(&self) -> &Descriptor {
        self.0
    }
}

impl PartialEq for Protocol {
    fn eq(&self, other: &Protocol) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for Protocol {}

impl std::fmt::Debug for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.name)
    }
}

impl Default for Protocol {
    /// The first built-in protocol (Raft).
    fn default() -> Protocol {
        Protocol(BUILTIN[0])
    }
}

/// A set of protocols, in listing order: the built-in ones, plus any a user adds.
#[derive(Debug, Clone)]
pub struct Registry {
    protocols: Vec<Protocol>,
}

impl Registry {
    /// The built-in protocols ([`BUILTIN`]).
    pub fn builtin() -> Registry {
        Registry {
            protocols: BUILTIN.iter().map(|d| Protocol(d)).collect(),
        }
    }

    /// This registry plus `descriptor` (listed last). Its name and aliases must not be taken.
    pub fn with(mut self, descriptor: &'static Descriptor) -> Registry {
        debug_assert!(
            std::iter::once(descriptor.name)
                .chain(descriptor.aliases.iter().copied())
                .all(|n| self.lookup(n).is_none()),
            "protocol name {} registered twice",
            descriptor.name
        );
        self.protocols.push(Protocol(descriptor));
        self
    }

    /// The protocol called `name` (or by one of its aliases), in any case, surrounding blanks
    /// ignored (the node's configuration reads names the same way).
    pub fn lookup(&self, name: &str) -> Option<Protocol> {
        let name = name.trim();
        self.protocols.iter().copied().find(|p| {
            p.name.eq_ignore_ascii_case(name)
                || p.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
        })
    }

    /// Every protocol, in listing order.
    pub fn iter(&self) -> impl Iterator<Item = Protocol> + '_ {
        self.protocols.iter().copied()
    }

    /// The names, as an error message lists them: `raft, multipaxos or pbft`.
    pub fn names_phrase(&self) -> String {
        let names: Vec<&str> = self.iter().map(|p| p.name).collect();
        match names.split_last() {
            None => String::new(),
            Some((last, [])) => last.to_string(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        }
    }
}

/// The built-in protocol called `name` (or by an alias): what `--protocol` accepts. The
/// entry point for every caller that parses a protocol name.
pub fn lookup(name: &str) -> Option<Protocol> {
    Registry::builtin().lookup(name)
}

/// Every built-in protocol, in listing order.
pub fn all() -> Vec<Protocol> {
    Registry::builtin().protocols
}

/// The built-in protocol an advisor answer's protocol name names (see
/// [`Descriptor::advice_markers`]); the default protocol when none matches.
pub fn for_advice(protocol_name: &str) -> Protocol {
    all()
        .into_iter()
        .find(|p| p.advice_markers.iter().any(|m| protocol_name.contains(m)))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_aliases_and_order_are_what_the_cli_prints() {
        assert_eq!(
            Registry::builtin().names_phrase(),
            "raft, multipaxos or pbft"
        );
        for (name, expected) in [
            ("raft", "raft"),
            (" paxos ", "multipaxos"),
            ("multi-paxos", "multipaxos"),
            ("pbft", "pbft"),
        ] {
            assert_eq!(lookup(name).map(Protocol::name), Some(expected), "{name}");
        }
        assert!(lookup("zab").is_none());
        assert_eq!(Protocol::default().name(), "raft");
    }

    #[test]
    fn seeded_bugs_are_found_by_name_and_unknown_ones_say_where_the_list_is() {
        let raft = Protocol::default();
        assert_eq!(raft.bug("vote-twice").map(|b| b.name), Ok("vote-twice"));
        assert_eq!(
            raft.bug("nope"),
            Err("unknown mutant \"nope\"; --list-mutants shows them".to_string())
        );
        let pbft = lookup("pbft").expect("registered");
        assert!(pbft
            .bug("nope")
            .is_err_and(|e| e.contains("--list-mutants --protocol pbft")));
        // A Raft bug is not PBFT's.
        assert!(pbft.bug("vote-twice").is_err());
    }

    #[test]
    fn advice_names_map_to_their_protocol() {
        assert_eq!(for_advice("PBFT").name(), "pbft");
        assert_eq!(for_advice("Multi-Paxos").name(), "multipaxos");
        assert_eq!(for_advice("Raft").name(), "raft");
        assert_eq!(for_advice("something else").name(), "raft");
    }
}
