//! Multi-Paxos in the simulator: the generic checks (state machine safety, linearizability,
//! liveness) and Paxos's own, `chosen_by_majority`: every value a replica takes as chosen is
//! held by a majority of the acceptors' votes when it does (checked on each replica's step
//! against the votes every acceptor persisted).

use crate::protocol::{BuildParams, NoAdversary, Simulated};
use crate::registry::{Descriptor, FaultModel, SeededBug};
use crate::sim::Simulation;
use distsys_consensus::paxos::{MultiPaxos, PaxosConfig, PaxosMutant};
use distsys_consensus::safety::{SafetyMonitor, SafetyViolation};
use distsys_consensus::NodeId;

/// Multi-Paxos's entry in the registry.
pub static DESCRIPTOR: Descriptor = Descriptor {
    name: "multipaxos",
    title: "Multi-Paxos",
    aliases: &["multi-paxos", "paxos"],
    advice_markers: &["Paxos"],
    bugs,
    lease_read: false,
    pipelined_writes: false,
    max_entries_per_msg: false,
    fault_model: FaultModel::Crash,
    min_nodes: 1,
    bench_sizes: &[3, 5, 7, 10],
    safety: &[
        "chosen_by_majority",
        "state_machine_safety",
        "linearizability",
    ],
    start: Simulation::of::<MultiPaxos>,
};

fn bugs() -> Vec<SeededBug> {
    SeededBug::all(
        &PaxosMutant::ALL,
        PaxosMutant::name,
        PaxosMutant::description,
    )
}

impl Simulated for MultiPaxos {
    type Adversary = NoAdversary;

    fn build(
        id: NodeId,
        nodes: Vec<NodeId>,
        params: &BuildParams,
        persisted: &Self::Persisted,
        seed: u64,
        now: u64,
    ) -> MultiPaxos {
        let mut config = PaxosConfig::new(id, nodes);
        config.election_timeout_us = params.election_timeout_us;
        config.heartbeat_us = params.heartbeat_us;
        config.mutant = params
            .mutant
            .and_then(|name| PaxosMutant::ALL.into_iter().find(|m| m.name() == name));
        debug_assert_eq!(config.mutant.map(PaxosMutant::name), params.mutant);
        MultiPaxos::new(config, persisted, seed, now)
    }
    fn observe_safety(&self, monitor: &mut SafetyMonitor) -> Result<(), SafetyViolation> {
        self.observe_last_step(monitor)
    }
}
