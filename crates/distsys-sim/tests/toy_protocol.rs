//! A protocol the simulator has never seen, written only through the public traits of
//! distsys-consensus ([`Core`]) and distsys-sim ([`Simulated`], [`Descriptor`], [`Registry`]):
//! a fixed-primary log. Node 1 is the primary for ever; it appends each command to its durable
//! log, replicates it to the backups and commits it once a majority holds it. Reads are served
//! by the primary once it has applied its whole log (its disk holds every write it ever
//! acknowledged, so that is linearizable even right after a restart).
//!
//! The simulator runs it with every fault and its checks (the toy's own safety predicates, the
//! state machine agreement, linearizability of the clients' history, liveness after the heal)
//! pass; a deliberately broken variant, whose backups answer reads from their own (lagging)
//! state, is rejected. `docs/protocols.md` walks through this file.

use distsys_consensus::raft::NotLeader;
use distsys_consensus::safety::{SafetyMonitor, SafetyViolation};
use distsys_consensus::{Core, Entry, Index, NodeId, ReadId, Ready, Role, Term, TimeUs};
use distsys_sim::{
    first_failure, run_campaign, BuildParams, Descriptor, FailureKind, FaultModel, FaultSet,
    NoAdversary, Protocol, Registry, SeededBug, SimConfig, Simulated, Simulation,
};
use std::collections::BTreeMap;
use std::ops::RangeInclusive;

// ----- step 1: the protocol, as a sans-IO `Core` -----

/// The primary of every cluster.
const PRIMARY: NodeId = 1;
/// Most entries one message carries.
const BATCH: usize = 64;

/// What the replicas tell each other.
#[derive(Debug, Clone)]
enum ToyMessage {
    /// Primary -> backup: the entries after `prev` (which the backup must already hold), and
    /// the primary's commit index.
    Append {
        prev: Index,
        entries: Vec<Entry>,
        commit: Index,
    },
    /// Backup -> primary: the backup's durable log ends at `last`.
    Ack { last: Index },
}

/// A durable change: entries appended at the end of the log.
#[derive(Debug, Clone)]
struct Append(Vec<Entry>);

/// Everything on a node's disk: its log.
#[derive(Debug, Clone, Default)]
struct Disk {
    log: Vec<Entry>,
}

/// The seeded bug of the toy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ToyBug {
    /// Backups answer reads from their own state machine, which lags the primary's.
    BackupReads,
}

/// One replica of the fixed-primary log.
struct Toy {
    id: NodeId,
    nodes: Vec<NodeId>,
    bug: Option<ToyBug>,
    heartbeat_us: u64,
    next_heartbeat: TimeUs,
    /// The log (a copy of the disk's, plus what this Ready will persist).
    log: Vec<Entry>,
    commit: Index,
    /// Highest index handed out in `Ready::committed`.
    delivered: Index,
    /// Primary: how far each backup's durable log is known to reach.
    matched: BTreeMap<NodeId, Index>,
    out: Ready<ToyMessage, Append>,
}

impl Toy {
    fn new(id: NodeId, nodes: Vec<NodeId>, params: &BuildParams, disk: &Disk) -> Toy {
        let bug = params.mutant.map(|_| ToyBug::BackupReads);
        let matched = nodes
            .iter()
            .filter(|n| **n != PRIMARY)
            .map(|n| (*n, 0))
            .collect();
        let mut out = Ready::default();
        let role = if id == PRIMARY {
            Role::Leader
        } else {
            Role::Follower
        };
        out.roles.push((role, 1));
        Toy {
            id,
            nodes,
            bug,
            heartbeat_us: params.heartbeat_us,
            next_heartbeat: 0,
            log: disk.log.clone(),
            commit: 0,
            delivered: 0,
            matched,
            out,
        }
    }

    fn last(&self) -> Index {
        self.log.len() as Index
    }

    fn chain_at(&self, index: Index) -> u64 {
        match index {
            0 => 0,
            i => self.log[i as usize - 1].chain,
        }
    }

    /// Primary: sends each backup what it lacks (or an empty heartbeat).
    fn replicate(&mut self) {
        for (&backup, &matched) in &self.matched {
            let from = matched.min(self.last());
            let entries: Vec<Entry> = self.log[from as usize..]
                .iter()
                .take(BATCH)
                .cloned()
                .collect();
            let message = ToyMessage::Append {
                prev: from,
                entries,
                commit: self.commit,
            };
            self.out.messages.push((backup, message));
        }
    }

    /// Primary: the highest index a majority (the primary included) holds.
    fn advance_commit(&mut self) {
        let mut held: Vec<Index> = self.matched.values().copied().collect();
        held.push(self.last());
        held.sort_unstable_by(|a, b| b.cmp(a));
        let majority = self.nodes.len() / 2 + 1;
        let commit = held[majority - 1];
        self.set_commit(commit);
    }

    fn set_commit(&mut self, commit: Index) {
        let commit = commit.min(self.last());
        if commit > self.commit {
            self.commit = commit;
        }
        debug_assert!(self.commit <= self.last(), "commit within the log");
    }

    /// Backup: appends the entries it lacks and acknowledges its durable end.
    fn on_append(&mut self, prev: Index, entries: Vec<Entry>, commit: Index) {
        if prev <= self.last() {
            let mut fresh = Vec::new();
            for entry in entries {
                if entry.index == self.last() + 1 {
                    self.log.push(entry.clone());
                    fresh.push(entry);
                } else {
                    // The backup's log is a prefix of the primary's: what it holds matches.
                    debug_assert!(
                        entry.index > self.last() || self.chain_at(entry.index) == entry.chain
                    );
                }
            }
            if !fresh.is_empty() {
                self.out.persist.push(Append(fresh));
            }
            self.set_commit(commit);
        }
        let last = self.last();
        self.out.messages.push((PRIMARY, ToyMessage::Ack { last }));
    }
}

impl Core for Toy {
    type Message = ToyMessage;
    type PersistOp = Append;
    type Persisted = Disk;

    fn apply_persist(disk: &mut Disk, op: &Append) {
        for entry in &op.0 {
            if entry.index == disk.log.len() as Index + 1 {
                disk.log.push(entry.clone());
            }
        }
    }
    fn snapshot_data(_disk: &Disk) -> Option<&[u8]> {
        None
    }
    fn tick(&mut self, now: TimeUs) {
        if self.id == PRIMARY && now >= self.next_heartbeat {
            self.next_heartbeat = now + self.heartbeat_us;
            self.advance_commit();
            self.replicate();
        }
    }
    fn step(&mut self, from: NodeId, message: ToyMessage) {
        match message {
            ToyMessage::Append {
                prev,
                entries,
                commit,
            } if self.id != PRIMARY => self.on_append(prev, entries, commit),
            ToyMessage::Ack { last } if self.id == PRIMARY => {
                if let Some(matched) = self.matched.get_mut(&from) {
                    *matched = (*matched).max(last);
                }
                self.advance_commit();
            }
            _ => {}
        }
    }
    fn propose(&mut self, data: Vec<u8>) -> Result<Index, NotLeader> {
        if self.id != PRIMARY {
            return Err(NotLeader {
                leader: Some(PRIMARY),
            });
        }
        let index = self.last() + 1;
        let entry = Entry::new(self.chain_at(index - 1), index, 1, data, None);
        self.log.push(entry.clone());
        self.out.persist.push(Append(vec![entry]));
        self.advance_commit();
        self.replicate();
        Ok(index)
    }
    fn read_index(&mut self, id: ReadId) -> Result<(), NotLeader> {
        match (self.id == PRIMARY, self.bug) {
            // Everything this primary ever acknowledged is in its log: serve once applied.
            (true, _) => self.out.reads.push((id, self.last())),
            // The seeded bug: a backup serves what it has applied, however stale.
            (false, Some(ToyBug::BackupReads)) => self.out.reads.push((id, 0)),
            (false, None) => {
                return Err(NotLeader {
                    leader: Some(PRIMARY),
                })
            }
        }
        Ok(())
    }
    fn ready(&mut self) -> Ready<ToyMessage, Append> {
        let committed = self.log[self.delivered as usize..self.commit as usize].to_vec();
        self.delivered = self.commit;
        let mut ready = std::mem::take(&mut self.out);
        ready.committed = committed;
        ready
    }
    fn role(&self) -> Role {
        if self.id == PRIMARY {
            Role::Leader
        } else {
            Role::Follower
        }
    }
    fn term(&self) -> Term {
        1
    }
    fn leader(&self) -> Option<NodeId> {
        Some(PRIMARY)
    }
    fn commit_index(&self) -> Index {
        self.commit
    }
}

// ----- step 2: what the simulator needs on top: `Simulated` -----

impl Simulated for Toy {
    type Adversary = NoAdversary;

    fn build(
        id: NodeId,
        nodes: Vec<NodeId>,
        params: &BuildParams,
        disk: &Disk,
        _seed: u64,
        _now: u64,
    ) -> Toy {
        Toy::new(id, nodes, params, disk)
    }
    fn appended(op: &Append) -> RangeInclusive<Index> {
        match (op.0.first(), op.0.last()) {
            (Some(first), Some(last)) => first.index..=last.index,
            _ => RangeInclusive::new(1, 0),
        }
    }
    fn follower_progress(&self) -> Vec<(NodeId, Index)> {
        self.matched.iter().map(|(n, i)| (*n, *i)).collect()
    }
    fn last_index(&self) -> Index {
        self.last()
    }
    /// The toy's safety predicates: `commit_within_log` here, and `agreement` (no two nodes
    /// commit different entries at one index) through the monitor's memory of the others.
    fn observe_safety(&self, monitor: &mut SafetyMonitor) -> Result<(), SafetyViolation> {
        if self.commit > self.last() {
            return Err(SafetyViolation {
                property: "commit_within_log",
                detail: format!(
                    "node {} committed {} with {} entries",
                    self.id,
                    self.commit,
                    self.last()
                ),
            });
        }
        for entry in &self.log[..self.commit as usize] {
            monitor.on_decided(self.id, entry.index, entry.chain)?;
        }
        Ok(())
    }
}

// ----- step 3: the descriptor, and a registry that holds it -----

fn toy_bugs() -> Vec<SeededBug> {
    vec![SeededBug {
        needs_pipelined_writes: false,
        name: "backup-reads",
        description: "backups answer reads from their own lagging state",
    }]
}

/// The toy's entry in a registry: names, seeded bugs, parameters, fault model, checks, and
/// how to start a simulation of it.
static TOY: Descriptor = Descriptor {
    name: "toy",
    title: "Toy primary-backup",
    aliases: &["primary-backup"],
    advice_markers: &[],
    bugs: toy_bugs,
    lease_read: false,
    pipelined_writes: false,
    max_entries_per_msg: false,
    fault_model: FaultModel::Crash,
    min_nodes: 1,
    bench_sizes: &[3, 5],
    safety: &[
        "commit_within_log",
        "agreement",
        "state_machine_safety",
        "linearizability",
    ],
    start: Simulation::of::<Toy>,
};

/// The built-in protocols plus the toy: what a user's own tool would parse names with.
fn registry() -> Registry {
    Registry::builtin().with(&TOY)
}

/// A toy campaign template: every fault, 3 s runs.
fn config(mutant: Option<&str>) -> SimConfig {
    let protocol: Protocol = registry().lookup("toy").expect("registered");
    let mut config = SimConfig::new(1);
    config.protocol = protocol;
    config.faults = FaultSet::all();
    config.duration_ms = 3_000;
    config.mutant = mutant.map(|name| protocol.bug(name).expect("a toy bug"));
    config
}

// ----- step 4: run it -----

#[test]
fn the_registry_knows_the_toy_by_name_alias_and_bugs() {
    let registry = registry();
    let toy = registry.lookup(" primary-backup ").expect("alias");
    assert_eq!(toy.name(), "toy");
    assert_eq!(registry.names_phrase(), "raft, multipaxos, pbft or toy");
    assert!(toy.bug("backup-reads").is_ok());
    let unknown = toy.bug("nope").expect_err("no such bug");
    assert!(unknown.contains("--protocol toy"), "{unknown}");
    // The built-in registry is untouched.
    assert!(distsys_sim::registry::lookup("toy").is_none());
}

#[test]
fn the_toy_passes_every_check_under_every_fault() {
    let report = run_campaign(&config(None), 1, 16, &|_, _| {});
    assert_eq!(report.runs, 16);
    assert!(
        report.failures.is_empty(),
        "{:?}",
        report.failures.first().map(|f| (&f.violation, &f.tail))
    );
    assert!(report.ops.1 > 100, "clients were served: {:?}", report.ops);
    assert!(
        report.commits > 100,
        "entries committed: {}",
        report.commits
    );
}

#[test]
fn the_broken_toy_is_rejected_as_not_linearizable() {
    let failed = first_failure(&config(Some("backup-reads")), 1, 16, 2)
        .expect("stale backup reads are caught within 16 seeds");
    let violation = failed.violation.expect("a violation");
    assert_eq!(
        violation.kind(),
        FailureKind::Linearizability,
        "{violation:?}"
    );
}
