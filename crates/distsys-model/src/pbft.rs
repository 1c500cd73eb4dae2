//! PBFT in the cluster model ([`crate::cluster`]): `n` real [`Pbft`] replicas with their
//! authenticated messages (HMAC and nonces, as on the wire), and optionally byzantine ones.
//!
//! Time: a timer action advances the replica's clock by
//! [`distsys_consensus::pbft::TIMER_LEAP_US`], past its view-change (or request) deadline; the
//! fingerprint keeps of each stored time only whether it is the replica's current clock, which
//! decides every comparison the replica makes under such steps (`distsys_consensus::pbft`
//! fingerprint docs). Retransmission is off (its interval is beyond any leap): a resent
//! message is what the duplicate action makes, and a lost one is recovered by a view change,
//! so the model explores fewer timings of resends than a real replica makes; every path it
//! reports is a real execution of the core. `--max-term` bounds the view a replica is in or
//! asks for.
//!
//! Byzantine replicas ([`Bounds::byzantine`], from [`Bounds::byzantine_first`]) run the honest
//! core and send what the simulator's adversary makes of their messages with the behaviours
//! of [`Bounds::byzantine_behaviours`], all at once, without the coin flips
//! ([`Adversary::story`], a function of the message alone, so a state stays a function of its
//! path): to the adversary's "misled" half of the honest replicas, `equivocate` tells the null
//! request instead of the real one and `wrong-digest` pre-prepares a request that does not
//! match its digest; `lie` makes up view changes' prepared requests and new views' decisions;
//! `forge` adds, in the other replicas' names, the prepares and commits agreeing with what a
//! pre-prepare or prepare tells its receiver. The simulator's adversary draws which messages
//! to alter; here every message is altered, so a model run explores one adversary strategy
//! per set of behaviours, not every subset of messages.
//!
//! Properties: prepared agreement over the honest replicas' disks (no two prepared for
//! different requests at one sequence number in one view) and state machine safety over what
//! they execute (agreement: one request per sequence number), against the ghost record of
//! every execution. Node ids are not
//! interchangeable (the primary of view v is node `v mod n + 1`): no symmetry reduction.
//! Checkpoints are not driven (the model's runs are far shorter than the 16-request interval).

use crate::cluster::{role_letter, Bounds, ClusterModel, ClusterState};
use crate::protocol::{find_mutant, Fp, Protocol, Relabel};
use distsys_consensus::pbft::byzantine::{Adversary, Behaviour};
use distsys_consensus::pbft::{
    digest_key, null_digest, Body, Envelope, Keys, Pbft, PbftConfig, PbftMutant, PbftPersisted,
};
use distsys_consensus::safety::{SafetyMonitor, SafetyViolation};
use distsys_consensus::{NodeId, TimeUs};
use std::collections::BTreeSet;
use std::hash::Hash;

/// The PBFT model.
pub type PbftModel = ClusterModel<PbftProtocol>;
/// A state of the PBFT model.
pub type PbftState = ClusterState<PbftProtocol>;

/// The cluster secret the replicas' pair keys come from.
const SECRET: [u8; 32] = [7; 32];

/// PBFT as a [`Protocol`] of the cluster model.
#[derive(Debug, Clone, Copy)]
pub struct PbftProtocol;

fn nodes(bounds: &Bounds) -> Vec<NodeId> {
    (1..=bounds.nodes as NodeId).collect()
}

fn short(digest: &[u8; 32]) -> String {
    if *digest == null_digest() {
        "null".into()
    } else {
        digest[..2].iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The behaviours the bounds name, or the error naming the unknown one.
fn behaviours(bounds: &Bounds) -> Result<BTreeSet<Behaviour>, String> {
    let list = Behaviour::parse_list(&bounds.byzantine_behaviours.join(","))
        .map_err(|e| format!("--byzantine-behaviour: {e}"))?;
    if let Some(b) = list
        .iter()
        .find(|b| matches!(b, Behaviour::Replay | Behaviour::Delay))
    {
        return Err(format!(
            "--byzantine-behaviour: {} is what the model's duplicate action and free delivery \
             order already do (list equivocate, wrong-digest, forge, lie or silent)",
            b.name()
        ));
    }
    Ok(list.into_iter().collect())
}

/// The adversary of the bounds' byzantine replicas (validated bounds).
fn adversary(bounds: &Bounds) -> Adversary {
    let behaviours = behaviours(bounds).unwrap_or_default();
    let controlled = bounds
        .byzantine_nodes()
        .map(|id| (id, behaviours.clone()))
        .collect();
    Adversary::new(&SECRET, &nodes(bounds), controlled)
}

impl Protocol for PbftProtocol {
    type Core = Pbft;
    type Message = Envelope;
    type Disk = PbftPersisted;
    type Mutant = PbftMutant;

    const NAME: &'static str = "pbft";
    const SYMMETRIC: bool = false;
    const BYZANTINE: bool = true;
    /// View 0's primary leads from the start.
    const FIRST_LEADER_TERM: u64 = 0;

    fn mutant_by_name(name: &str) -> Result<PbftMutant, String> {
        find_mutant(&PbftMutant::ALL, PbftMutant::name, name)
    }
    fn mutant_name(mutant: PbftMutant) -> &'static str {
        mutant.name()
    }
    fn validate(bounds: &Bounds) -> Result<(), String> {
        if bounds.nodes < 4 {
            return Err(format!(
                "--nodes: PBFT needs at least 4 replicas (3f+1), got {}",
                bounds.nodes
            ));
        }
        behaviours(bounds).map(|_| ())
    }
    /// Prepared agreement over the honest replicas, read from their disks (a replica persists
    /// its preparation before its commit leaves).
    fn observe(
        monitor: &mut SafetyMonitor,
        bounds: &Bounds,
        state: &PbftState,
    ) -> Result<(), SafetyViolation> {
        for (i, disk) in state.disks.iter().enumerate() {
            let id = i as NodeId + 1;
            if bounds.is_byzantine(id) {
                continue;
            }
            for (seq, record) in &disk.slots {
                if let Some(p) = &record.prepared {
                    monitor.on_prepared(id, p.view, *seq, digest_key(&p.digest))?;
                }
            }
        }
        Ok(())
    }
    /// What the adversary's behaviours (all of [`Bounds::byzantine_behaviours`]) make of
    /// each message, without coin flips ([`Adversary::story`]).
    fn corrupt(
        bounds: &Bounds,
        from: NodeId,
        messages: Vec<(NodeId, Envelope)>,
    ) -> Vec<(NodeId, Envelope)> {
        let adversary = adversary(bounds);
        messages
            .into_iter()
            .flat_map(|(_, envelope)| {
                debug_assert_eq!(envelope.from, from);
                adversary.story(envelope)
            })
            .map(|envelope| (envelope.to, envelope))
            .collect()
    }
    fn build(
        bounds: &Bounds,
        mutant: Option<PbftMutant>,
        id: NodeId,
        disk: &PbftPersisted,
        _seed: u64,
    ) -> Pbft {
        let nodes = nodes(bounds);
        let keys = Keys::derive(&SECRET, id, &nodes);
        let mut config = PbftConfig::new(id, nodes, keys);
        config.mutant = mutant;
        // No retransmissions: a timer is a view-change (or request) timeout alone. A resent
        // message is what the model's duplicate action makes, or, for a lost one, what the
        // view change recovers.
        config.retransmit_us = TimeUs::MAX / 4;
        Pbft::new(config, disk, 0)
    }
    fn next_timer_us(core: &Pbft) -> TimeUs {
        core.timer_leap_us()
    }
    /// The view it asks for while changing views, else its view.
    fn term(core: &Pbft) -> u64 {
        core.target_view().unwrap_or(core.view())
    }
    fn log_len(core: &Pbft) -> u64 {
        core.last_seq()
    }
    fn fingerprint_core(core: &Pbft, _relabel: Relabel<'_>, h: &mut Fp) {
        core.fingerprint(h);
    }
    fn fingerprint_disk(disk: &PbftPersisted, _relabel: Relabel<'_>, h: &mut Fp) {
        disk.hash(h);
    }
    /// The envelope whole but its MAC (a function of the rest and the keys).
    fn fingerprint_message(message: &Envelope, _relabel: Relabel<'_>, h: &mut Fp) {
        (message.from, message.to, message.epoch, message.counter).hash(h);
        message.body.hash(h);
    }
    /// A replica in a view above 0 that is not changing views: a view change completed.
    fn leader_change(live: &[&Pbft], _disks: &[&PbftPersisted]) -> bool {
        live.iter().any(|p| p.view() > 0 && !p.changing_view())
    }
    fn describe_message(message: &Envelope) -> String {
        let what = match &message.body {
            Body::Request { data } => format!("Request({})", String::from_utf8_lossy(data)),
            Body::PrePrepare {
                view, seq, digest, ..
            } => format!("PrePrepare(v{view}, #{seq}, {})", short(digest)),
            Body::Prepare { view, seq, digest } => {
                format!("Prepare(v{view}, #{seq}, {})", short(digest))
            }
            Body::Commit { view, seq, digest } => {
                format!("Commit(v{view}, #{seq}, {})", short(digest))
            }
            Body::Checkpoint { seq, digest } => format!("Checkpoint(#{seq}, {})", short(digest)),
            Body::ViewChange(vc) => format!(
                "ViewChange(v{}, stable #{}, {} prepared)",
                vc.view,
                vc.stable,
                vc.prepared.len()
            ),
            Body::ViewChangeAck { view, sender, .. } => {
                format!("ViewChangeAck(v{view}, of node {sender})")
            }
            Body::NewView(nv) => format!(
                "NewView(v{}, {} proofs, {} requests)",
                nv.view,
                nv.proofs.len(),
                nv.requests.len()
            ),
            Body::FetchState { seq } => format!("FetchState(#{seq})"),
            Body::State { seq, .. } => format!("State(#{seq})"),
            Body::Status { view, executed } => format!("Status(v{view}, executed #{executed})"),
        };
        format!("{what} nonce {}.{}", message.epoch, message.counter)
    }
    fn describe_core(p: &Pbft) -> String {
        format!(
            "{} v{} executed #{}",
            role_letter(distsys_consensus::Core::role(p)),
            p.view(),
            p.executed()
        )
    }
    fn describe_disk(disk: &PbftPersisted) -> String {
        format!("v{} {} slot(s)", disk.view, disk.slots.len())
    }
    fn approx_bytes(p: &Pbft) -> usize {
        std::mem::size_of::<Pbft>() + 256 + 512 * p.last_seq() as usize
    }
}
