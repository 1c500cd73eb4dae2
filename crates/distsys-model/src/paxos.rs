//! Multi-Paxos in the cluster model ([`crate::cluster`]): `n` real [`MultiPaxos`] replicas.
//!
//! `--max-term` bounds the ballot round, `--max-log` the highest slot. The simulator checks
//! Multi-Paxos for `chosen_by_majority` (a value taken as chosen is held by a majority of the
//! acceptors' votes) and state machine safety on what every replica applies (and
//! linearizability of client operations, which needs a client workload the model does not
//! run): the model checks the same two on every state, the votes read from every node's disk
//! (crashed ones included), state machine safety against a ghost record of every slot ever
//! applied.
//!
//! No symmetry reduction: ballots break ties by node id, so relabelling the nodes changes which
//! of two same-round ballots wins; states that differ by a relabelling are not equivalent.

use crate::cluster::{role_letter, Bounds, ClusterModel, ClusterState};
use crate::protocol::{find_mutant, Fp, Protocol, Relabel};
use distsys_consensus::paxos::{
    fingerprint_paxos_message, fingerprint_paxos_persisted, observe_cluster, Ballot, MultiPaxos,
    PaxosConfig, PaxosMessage, PaxosMutant, PaxosPersisted,
};
use distsys_consensus::safety::{SafetyMonitor, SafetyViolation};
use distsys_consensus::{NodeId, Role, TimeUs};

/// The Multi-Paxos model.
pub type PaxosModel = ClusterModel<PaxosProtocol>;
/// A state of the Multi-Paxos model.
pub type PaxosState = ClusterState<PaxosProtocol>;

/// Multi-Paxos as a [`Protocol`] of the cluster model.
#[derive(Debug, Clone, Copy)]
pub struct PaxosProtocol;

fn ballot(b: Ballot) -> String {
    format!("({},{})", b.round, b.node)
}

fn value(v: &[u8]) -> String {
    if v.is_empty() {
        "noop".into()
    } else {
        String::from_utf8_lossy(v).into_owned()
    }
}

impl Protocol for PaxosProtocol {
    type Core = MultiPaxos;
    type Message = PaxosMessage;
    type Disk = PaxosPersisted;
    type Mutant = PaxosMutant;

    const NAME: &'static str = "multipaxos";
    const SYMMETRIC: bool = false;

    fn mutant_by_name(name: &str) -> Result<PaxosMutant, String> {
        find_mutant(&PaxosMutant::ALL, PaxosMutant::name, name)
    }
    fn mutant_name(mutant: PaxosMutant) -> &'static str {
        mutant.name()
    }
    fn build(
        bounds: &Bounds,
        mutant: Option<PaxosMutant>,
        id: NodeId,
        disk: &PaxosPersisted,
        seed: u64,
    ) -> MultiPaxos {
        let nodes: Vec<NodeId> = (1..=bounds.nodes as NodeId).collect();
        let mut config = PaxosConfig::new(id, nodes);
        config.mutant = mutant;
        MultiPaxos::new(config, disk, seed, 0)
    }
    fn next_timer_us(core: &MultiPaxos) -> TimeUs {
        core.next_timer_us()
    }
    fn log_len(core: &MultiPaxos) -> u64 {
        core.last_slot()
    }
    fn fingerprint_core(core: &MultiPaxos, relabel: Relabel<'_>, h: &mut Fp) {
        core.fingerprint(relabel, h);
    }
    fn fingerprint_disk(disk: &PaxosPersisted, relabel: Relabel<'_>, h: &mut Fp) {
        fingerprint_paxos_persisted(disk, relabel, h);
    }
    fn fingerprint_message(message: &PaxosMessage, relabel: Relabel<'_>, h: &mut Fp) {
        fingerprint_paxos_message(message, relabel, h);
    }
    fn observe(
        monitor: &mut SafetyMonitor,
        _bounds: &Bounds,
        state: &PaxosState,
    ) -> Result<(), SafetyViolation> {
        let disks: Vec<(NodeId, &PaxosPersisted)> = state
            .disks
            .iter()
            .enumerate()
            .map(|(i, disk)| (i as NodeId + 1, &**disk))
            .collect();
        observe_cluster(monitor, &state.live(), &disks)
    }
    /// A leader while some acceptor holds a value accepted under a lower ballot: only a leader
    /// proposes, so that lower ballot had a leader before. A lone replica's every phase 1
    /// succeeds at once, so there a leader above round 1 is one too.
    fn leader_change(live: &[&MultiPaxos], disks: &[&PaxosPersisted]) -> bool {
        live.iter().filter(|p| p.role() == Role::Leader).any(|p| {
            (disks.len() == 1 && p.ballot().round > 1)
                || disks
                    .iter()
                    .flat_map(|d| d.accepted.values())
                    .any(|(b, _)| *b < p.ballot())
        })
    }
    fn describe_message(message: &PaxosMessage) -> String {
        match message {
            PaxosMessage::Prepare { ballot: b, from } => {
                format!("Prepare(ballot {}, from slot {from})", ballot(*b))
            }
            PaxosMessage::Promise {
                ballot: b,
                ok,
                promised,
                accepted,
                ..
            } => {
                let list: Vec<String> = accepted
                    .iter()
                    .map(|(s, ab, v)| format!("{s}:{}@{}", value(v), ballot(*ab)))
                    .collect();
                format!(
                    "Promise(ballot {}, ok {ok}, promised {}, accepted [{}])",
                    ballot(*b),
                    ballot(*promised),
                    list.join(",")
                )
            }
            PaxosMessage::Accept {
                ballot: b,
                slot,
                value: v,
                chosen,
            } => format!(
                "Accept(ballot {}, slot {slot}, value {}, chosen {chosen})",
                ballot(*b),
                value(v)
            ),
            PaxosMessage::Accepted {
                ballot: b,
                slot,
                ok,
                ..
            } => format!("Accepted(ballot {}, slot {slot}, ok {ok})", ballot(*b)),
            PaxosMessage::Heartbeat { ballot: b, chosen } => {
                format!("Heartbeat(ballot {}, chosen {chosen})", ballot(*b))
            }
            PaxosMessage::Learn { from } => format!("Learn(from slot {from})"),
            PaxosMessage::Chosen { values } => {
                let list: Vec<String> = values
                    .iter()
                    .map(|(s, v)| format!("{s}:{}", value(v)))
                    .collect();
                format!("Chosen([{}])", list.join(","))
            }
            PaxosMessage::Snapshot { snapshot } => {
                format!("Snapshot(up to {})", snapshot.index)
            }
        }
    }
    /// Role, ballot, accepted values, chosen prefix.
    fn describe_core(p: &MultiPaxos) -> String {
        format!(
            "{} b{} {} chosen {}",
            role_letter(p.role()),
            ballot(p.ballot()),
            Self::describe_disk(p.acceptor_state()),
            p.chosen_upto()
        )
    }
    fn describe_disk(disk: &PaxosPersisted) -> String {
        let accepted: Vec<String> = disk
            .accepted
            .iter()
            .map(|(s, (b, v))| format!("{s}:{}@{}", value(v), ballot(*b)))
            .collect();
        format!(
            "promised {} acc[{}]",
            ballot(disk.promised),
            accepted.join(",")
        )
    }
    fn approx_bytes(p: &MultiPaxos) -> usize {
        std::mem::size_of::<MultiPaxos>() + 256 + 128 * p.last_slot() as usize
    }
}
