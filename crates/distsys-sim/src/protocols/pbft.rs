//! PBFT in the simulator: byzantine replicas driven by PBFT's adversary, clients that accept
//! an answer f+1 replicas agree on, agreement on every decided sequence number, and prepared
//! agreement (no two honest replicas prepared for different requests at one sequence number
//! in one view) on every preparation.

use crate::protocol::{BuildParams, ByzantineAdversary, Simulated};
use crate::registry::{Descriptor, FaultModel, SeededBug};
use crate::sim::Simulation;
use distsys_consensus::pbft::byzantine::{Adversary, Behaviour};
use distsys_consensus::pbft::{digest_key, Envelope, Keys, Pbft, PbftConfig, PbftMutant};
use distsys_consensus::safety::{SafetyMonitor, SafetyViolation};
use distsys_consensus::NodeId;
use distsys_types::QuorumSystem;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};

/// PBFT's entry in the registry.
pub static DESCRIPTOR: Descriptor = Descriptor {
    name: "pbft",
    title: "PBFT",
    aliases: &[],
    advice_markers: &["PBFT"],
    bugs,
    lease_read: false,
    pipelined_writes: false,
    max_entries_per_msg: false,
    fault_model: FaultModel::Byzantine,
    min_nodes: 4,
    bench_sizes: &[4, 7, 10],
    safety: &[
        "prepared_agreement",
        "agreement",
        "state_machine_safety",
        "linearizability",
    ],
    start: Simulation::of::<Pbft>,
};

fn bugs() -> Vec<SeededBug> {
    SeededBug::all(&PbftMutant::ALL, PbftMutant::name, PbftMutant::description)
}

impl ByzantineAdversary<Envelope> for Adversary {
    const EXISTS: bool = true;
    fn new(
        secret: &[u8; 32],
        nodes: &[NodeId],
        behaviours: BTreeMap<NodeId, BTreeSet<Behaviour>>,
    ) -> Option<Adversary> {
        Some(Adversary::new(secret, nodes, behaviours))
    }
    fn controls(&self, node: NodeId) -> bool {
        Adversary::controls(self, node)
    }
    fn silent(&self, node: NodeId) -> bool {
        Adversary::silent(self, node)
    }
    fn lies(&self, node: NodeId) -> bool {
        Adversary::lies(self, node)
    }
    fn outgoing(
        &mut self,
        rng: &mut ChaCha8Rng,
        _to: NodeId,
        message: Envelope,
    ) -> Vec<(NodeId, Envelope, u64)> {
        Adversary::outgoing(self, rng, message)
            .into_iter()
            .map(|(envelope, delay)| (envelope.to, envelope, delay))
            .collect()
    }
}

impl Simulated for Pbft {
    type Adversary = Adversary;

    fn build(
        id: NodeId,
        nodes: Vec<NodeId>,
        params: &BuildParams,
        persisted: &Self::Persisted,
        _seed: u64,
        now: u64,
    ) -> Pbft {
        Pbft::new(pbft_config(id, nodes, params), persisted, now)
    }
    /// Every replica talks to every other: O(n^2) messages per request, 6 n^2 per virtual ms
    /// (healthy runs under every fault measure 0.3-0.6 n^2).
    fn events_per_ms_bound(nodes: usize) -> u64 {
        6 * (nodes.max(1) as u64).pow(2)
    }
    /// A request to every replica, their replies, the pre-prepares, the all-to-all prepares
    /// and commits: about 2n^2 + 2n + 4 events; four times that.
    fn events_per_operation_bound(nodes: usize) -> u64 {
        let n = nodes.max(1) as u64;
        4 * (2 * n * n + 2 * n + 4)
    }
    fn recovery_bound_us(nodes: usize, params: &BuildParams) -> u64 {
        let ids: Vec<NodeId> = (1..=nodes as NodeId).collect();
        pbft_config(1, ids, params).recovery_bound_us()
    }
    /// f+1 matching answers: at least one of them is from a correct replica.
    fn matching_replies(nodes: usize) -> usize {
        QuorumSystem::byzantine_max(nodes).vouch()
    }
    fn observe_safety(&self, monitor: &mut SafetyMonitor) -> Result<(), SafetyViolation> {
        for (seq, view, digest) in self.recently_prepared() {
            monitor.on_prepared(self.id(), *view, *seq, digest_key(digest))?;
        }
        for (seq, digest) in self.recently_decided() {
            monitor.on_decided(self.id(), *seq, digest_key(digest))?;
        }
        Ok(())
    }
    fn rejections(&self) -> Vec<(&'static str, u64)> {
        let r = Pbft::rejections(self);
        vec![
            ("forged", r.forged),
            ("replayed", r.replayed),
            ("bad_digest", r.bad_digest),
            ("equivocation", r.equivocation),
            ("bad_new_view", r.bad_new_view),
        ]
    }
}

/// A PBFT replica's configuration from the run's parameters: the request timer plays the
/// election timeout's part, retransmission the heartbeat's.
fn pbft_config(id: NodeId, nodes: Vec<NodeId>, params: &BuildParams) -> PbftConfig {
    let keys = Keys::derive(&params.secret, id, &nodes);
    let mut config = PbftConfig::new(id, nodes, keys);
    config.request_timeout_us = params.election_timeout_us.1;
    config.retransmit_us = params.heartbeat_us;
    config.mutant = params
        .mutant
        .and_then(|name| PbftMutant::ALL.into_iter().find(|m| m.name() == name));
    debug_assert_eq!(config.mutant.map(PbftMutant::name), params.mutant);
    config
}
