//! The cluster model, generic over the protocol: `n` real cores, their disks, and the network
//! as a multiset of messages in flight.
//!
//! Actions (each atomic; after every input the node's `Ready` is drained: persist to its disk,
//! then its messages join the network, then its committed entries are applied):
//! - deliver any message in flight to its (running) target, drop it, or duplicate it (bounded);
//! - fire a running node's timer: tick it to exactly [`Protocol::next_timer_us`]. Time is
//!   abstract: any timer may fire at any moment, which covers every timing the clocks could
//!   produce;
//! - crash a running node (its volatile state is lost, its disk kept: the persist contract) and
//!   restart a crashed one from its disk;
//! - a client proposal at a leader (commands are distinct values `a`, `b`, ...).
//!
//! Properties, checked on every transition with a fresh [`SafetyMonitor`] that observes the
//! state before, every entry applied during the step, and the state after: state machine
//! safety on the applied entries for every protocol, plus the protocol's own predicates
//! ([`Protocol::observe`]), exactly as the simulator checks them. A ghost record of every entry
//! ever applied (index -> chain), kept in the state, lets state machine safety compare against
//! nodes that have since crashed.

use crate::clients::Clients;
use crate::explore::{Model, Next};
use crate::protocol::{Fp, Protocol};
use distsys_consensus::safety::SafetyMonitor;
use distsys_consensus::{Core, Entry, Index, NodeId, Role};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// The bounds of a model: states past any of them are not explored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bounds {
    /// Nodes (1..=7; symmetry reduction enumerates n! relabellings).
    pub nodes: usize,
    /// Highest term (Raft), ballot round (Multi-Paxos) or view (PBFT) any node may reach.
    pub max_term: u64,
    /// Longest log (highest slot) any node may hold (the leaders' no-ops count).
    pub max_log: u64,
    /// Crashes over the whole run.
    pub max_crashes: u32,
    /// Messages in flight at once.
    pub max_in_flight: usize,
    /// Client proposals over the whole run.
    pub max_proposals: u32,
    /// Duplicated messages over the whole run.
    pub max_duplicates: u32,
    /// Run the cores with pre-vote (Raft only).
    pub pre_vote: bool,
    /// Byzantine replicas (PBFT only): nodes `byzantine_first..byzantine_first + byzantine`
    /// run the honest core, and what they send goes through the protocol's adversary
    /// ([`Protocol::corrupt`]). Their own state is not checked: the properties are those of
    /// the honest replicas.
    #[serde(default)]
    pub byzantine: usize,
    /// The first byzantine node (1 unless set: view 0's primary in PBFT).
    #[serde(default = "first_node")]
    pub byzantine_first: NodeId,
    /// What the byzantine replicas do: names of the adversary's behaviours, all at once
    /// (PBFT: `distsys_consensus::pbft::byzantine::Adversary::story`); `equivocate` unless set.
    #[serde(default = "equivocate")]
    pub byzantine_behaviours: Vec<String>,
    /// Client reads over the whole run (0: no reads, and client operations are not tracked).
    /// With reads, writes and reads are checked for linearizability along every path
    /// ([`crate::clients`]).
    #[serde(default)]
    pub max_reads: u32,
}

impl Bounds {
    /// Checks the bounds are usable; the error names the bad one.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=7).contains(&self.nodes) {
            return Err(format!("--nodes must be 1..=7, got {}", self.nodes));
        }
        if self.max_in_flight == 0 {
            return Err("--max-in-flight must be at least 1".into());
        }
        if self.byzantine >= self.nodes {
            return Err(format!(
                "--byzantine must leave an honest replica: {} of {} nodes",
                self.byzantine, self.nodes
            ));
        }
        let last = self.byzantine_first as usize + self.byzantine.max(1) - 1;
        if self.byzantine_first == 0 || last > self.nodes {
            return Err(format!(
                "--byzantine-first: nodes {}..={last} are not all among nodes 1..={}",
                self.byzantine_first, self.nodes
            ));
        }
        Ok(())
    }

    /// Whether node `id` is byzantine.
    pub fn is_byzantine(&self, id: NodeId) -> bool {
        (self.byzantine_first..self.byzantine_first + self.byzantine as NodeId).contains(&id)
    }

    /// The byzantine nodes, in order.
    pub fn byzantine_nodes(&self) -> impl Iterator<Item = NodeId> {
        self.byzantine_first..self.byzantine_first + self.byzantine as NodeId
    }
}

fn first_node() -> NodeId {
    1
}

fn equivocate() -> Vec<String> {
    vec!["equivocate".into()]
}

/// How states are identified up to a relabelling of the node ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Symmetry {
    /// No reduction: states differing only by node ids are distinct.
    Off,
    /// Canonical form: the least hash over the relabellings that sort the nodes by a label-free
    /// signature (the default; n! relabellings only when every node looks alike).
    Sorted,
    /// The least hash over all n! relabellings (the reference the sorted form is tested
    /// against).
    Exhaustive,
}

/// One step of a model. Messages are named by their position in the state's network and, for
/// readability and for checking replays, by their endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "action")]
pub enum Action {
    /// Deliver the message at `index` (from `from` to `to`).
    Deliver {
        /// Position in the network.
        index: usize,
        /// Sender.
        from: NodeId,
        /// Receiver.
        to: NodeId,
    },
    /// Lose the message at `index`.
    Drop {
        /// Position in the network.
        index: usize,
        /// Sender.
        from: NodeId,
        /// Receiver.
        to: NodeId,
    },
    /// Add a second copy of the message at `index`.
    Duplicate {
        /// Position in the network.
        index: usize,
        /// Sender.
        from: NodeId,
        /// Receiver.
        to: NodeId,
    },
    /// Fire the node's timer (election or leader-failure timeout, or a leader's heartbeat).
    Timer {
        /// The node.
        node: NodeId,
    },
    /// Crash the node: volatile state lost, disk kept.
    Crash {
        /// The node.
        node: NodeId,
    },
    /// Restart a crashed node from its disk.
    Restart {
        /// The node.
        node: NodeId,
    },
    /// A client proposes the next command at the node (a leader).
    Propose {
        /// The node.
        node: NodeId,
    },
    /// A client starts a read at the node (through the core's `read_index`).
    Read {
        /// The node.
        node: NodeId,
    },
}

/// A state of the model. Node `i + 1` is at position `i`. Cores, disks and messages are
/// shared between a state and its successors and copied on write: a step copies the one node
/// it changes, not the cluster.
#[derive(Debug)]
pub struct ClusterState<P: Protocol> {
    /// Running cores (`None`: crashed).
    pub nodes: Vec<Option<Arc<P::Core>>>,
    /// Every node's disk, kept across crashes.
    pub disks: Vec<Arc<P::Disk>>,
    /// Messages in flight: (from, to, message). A multiset: its order is not part of the state.
    pub network: Vec<(NodeId, NodeId, Arc<P::Message>)>,
    /// Ghost: index -> (chain, first node) of every entry any node ever applied.
    pub applied: BTreeMap<Index, (u64, NodeId)>,
    /// Crashes so far.
    pub crashes: u32,
    /// Proposals so far.
    pub proposals: u32,
    /// Duplications so far.
    pub duplicates: u32,
    /// Client operations in progress and seen complete (empty without reads).
    pub clients: Clients,
}

impl<P: Protocol> Clone for ClusterState<P> {
    fn clone(&self) -> Self {
        ClusterState {
            nodes: self.nodes.clone(),
            disks: self.disks.clone(),
            network: self.network.clone(),
            applied: self.applied.clone(),
            crashes: self.crashes,
            proposals: self.proposals,
            duplicates: self.duplicates,
            clients: self.clients.clone(),
        }
    }
}

impl<P: Protocol> ClusterState<P> {
    /// The running cores.
    pub fn live(&self) -> Vec<&P::Core> {
        self.nodes.iter().flatten().map(|c| &**c).collect()
    }

    /// Whether node `i` of `other` is this state's node `i`: the same core (or both down) and
    /// the same disk, shared.
    fn same_node(&self, other: &ClusterState<P>, i: usize) -> bool {
        let core = match (&self.nodes[i], &other.nodes[i]) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        core && Arc::ptr_eq(&self.disks[i], &other.disks[i])
    }

    /// Every node's disk.
    pub fn disks(&self) -> Vec<&P::Disk> {
        self.disks.iter().map(|d| &**d).collect()
    }
}

/// Hashes of one state's nodes and messages under each relabelling, filled on demand, for
/// fingerprinting the states that share them (its successors). Shared means the same `Arc`:
/// the parent is borrowed for the memo's life, so its pointers cannot be reused meanwhile.
struct HashMemo<'a, P: Protocol> {
    parent: Option<&'a ClusterState<P>>,
    /// `nodes[i][slot]`: node i's hash (core and disk) under relabelling `slot` (the last slot:
    /// every id mapped to 0).
    nodes: Vec<Vec<Option<u64>>>,
    /// `messages[j][slot]`: the parent's j-th message in flight under relabelling `slot`.
    messages: Vec<Vec<Option<u64>>>,
}

impl<'a, P: Protocol> HashMemo<'a, P> {
    /// A memo that shares nothing.
    fn none() -> Self {
        HashMemo {
            parent: None,
            nodes: Vec::new(),
            messages: Vec::new(),
        }
    }

    /// An empty memo of `parent`'s hashes under `perms` relabellings and the label-free one.
    fn of(parent: &'a ClusterState<P>, perms: usize) -> Self {
        let slots = perms + 1;
        HashMemo {
            parent: Some(parent),
            nodes: vec![vec![None; slots]; parent.nodes.len()],
            messages: vec![vec![None; slots]; parent.network.len()],
        }
    }
}

/// The model of protocol `P` checked by [`crate::explore::check`].
#[derive(Debug, Clone)]
pub struct ClusterModel<P: Protocol> {
    /// The bounds.
    pub bounds: Bounds,
    /// The seeded bug every core runs, if any.
    pub mutant: Option<P::Mutant>,
    /// How states are canonicalised over relabellings of the node ids.
    pub symmetry: Symmetry,
    /// The relabellings: `perms[k][i]` is node `i`'s new position (identity only without
    /// symmetry).
    perms: Vec<Vec<usize>>,
    /// Whether states record their clients' operations as a history for the general
    /// linearizability checker ([`ClusterModel::recording_clients`]).
    record_clients: bool,
}

impl<P: Protocol> ClusterModel<P> {
    /// The same model with its states recording their clients' operations as a history for
    /// the general linearizability checker ([`crate::clients::ClientLog`]): for replaying a
    /// path, not for search (the record is no part of a state's identity).
    pub fn recording_clients(mut self) -> Self {
        self.record_clients = true;
        self
    }

    /// A safety monitor that has seen `state`: the ghost record of every entry ever applied,
    /// then the live cores.
    fn monitor_of(&self, state: &ClusterState<P>) -> SafetyMonitor {
        let mut monitor = SafetyMonitor::new();
        for (&index, &(chain, node)) in &state.applied {
            let seeded = monitor.on_apply(node, &ghost_entry(index, chain));
            debug_assert!(seeded.is_ok(), "one ghost entry per index");
        }
        let before = P::observe(&mut monitor, &self.bounds, state);
        debug_assert!(before.is_ok(), "a stored state broke no property");
        monitor
    }

    /// [`Model::next`] with `monitor` having seen `state` ([`Self::monitor_of`]).
    fn next_observed(
        &self,
        state: &ClusterState<P>,
        action: &Action,
        mut monitor: SafetyMonitor,
    ) -> Next<ClusterState<P>> {
        let mut t = state.clone();
        let Some(mut violation) = self.apply(&mut t, action, &mut monitor) else {
            return Next::Disabled;
        };
        if !self.within_bounds(&t) {
            return Next::OutOfBounds;
        }
        if violation.is_none() {
            violation = P::observe(&mut monitor, &self.bounds, &t)
                .err()
                .map(|v| v.to_string());
        }
        Next::State(t, violation)
    }

    /// A model with these bounds (validated), seeded bug and symmetry setting. A protocol whose
    /// node ids are not interchangeable ([`Protocol::SYMMETRIC`]) refuses a reduction.
    pub fn new(
        bounds: Bounds,
        mutant: Option<P::Mutant>,
        symmetry: Symmetry,
    ) -> Result<Self, String> {
        bounds.validate()?;
        P::validate(&bounds)?;
        if bounds.max_term < P::FIRST_LEADER_TERM {
            return Err(format!(
                "--max-term must be at least {} ({}'s first leader is in term {0})",
                P::FIRST_LEADER_TERM,
                P::NAME
            ));
        }
        if bounds.max_reads > 0 && !P::READS {
            return Err(format!(
                "--max-reads: the {} model issues no client reads (Raft's does)",
                P::NAME
            ));
        }
        if bounds.pre_vote && !P::PRE_VOTE {
            return Err("--pre-vote is a Raft option".into());
        }
        if bounds.byzantine > 0 && !P::BYZANTINE {
            return Err(format!(
                "--byzantine: {} tolerates crashes only (byzantine replicas are PBFT's)",
                P::NAME
            ));
        }
        if let Some(m) = mutant {
            P::applicable(m, &bounds)?;
        }
        if symmetry != Symmetry::Off && !P::SYMMETRIC {
            return Err(format!(
                "{}: node ids are not interchangeable (they break ties), so symmetry reduction \
                 would be unsound: use --no-symmetry",
                P::NAME
            ));
        }
        let identity: Vec<usize> = (0..bounds.nodes).collect();
        let perms = match symmetry {
            Symmetry::Off => vec![identity],
            Symmetry::Sorted | Symmetry::Exhaustive => permutations(bounds.nodes),
        };
        Ok(ClusterModel {
            bounds,
            mutant,
            symmetry,
            perms,
            record_clients: false,
        })
    }

    /// Carries out node `id`'s Ready: persist, send, apply (checked).
    fn drain(
        &self,
        t: &mut ClusterState<P>,
        id: NodeId,
        monitor: &mut SafetyMonitor,
    ) -> Option<String> {
        let i = (id - 1) as usize;
        let core = Arc::make_mut(t.nodes[i].as_mut()?);
        let ready = core.ready();
        // What the node has applied once this Ready is carried out: every committed entry.
        let applied = core.commit_index();
        if !ready.persist.is_empty() {
            let disk = Arc::make_mut(&mut t.disks[i]);
            for op in &ready.persist {
                P::Core::apply_persist(disk, op);
            }
        }
        // The model persists each Ready before sending (its cores run without pipelined
        // persistence: `early` is empty).
        let mut messages = ready.early;
        messages.extend(ready.messages);
        let messages = if self.bounds.is_byzantine(id) {
            P::corrupt(&self.bounds, id, messages)
        } else {
            messages
        };
        t.network
            .extend(messages.into_iter().map(|(to, m)| (id, to, Arc::new(m))));
        if self.bounds.is_byzantine(id) {
            // What a byzantine replica applies is not checked (it may say anything).
            return None;
        }
        let mut broken = None;
        if let Some(snapshot) = &ready.install {
            broken = monitor.on_install(id, snapshot).err();
        }
        for entry in &ready.committed {
            if let Err(v) = monitor.on_apply(id, entry) {
                broken.get_or_insert(v);
            }
            t.applied.entry(entry.index).or_insert((entry.chain, id));
        }
        let mut broken = broken.map(|v| v.to_string());
        if self.bounds.max_reads > 0 {
            t.clients.applied(id, &ready.committed);
            for (read, _) in &ready.reads {
                if let Err(stale) = t.clients.answered(id, *read, applied) {
                    broken.get_or_insert(stale);
                }
            }
            for read in &ready.reads_failed {
                t.clients.failed(id, *read);
            }
        }
        broken
    }

    /// Applies the action's input to `t`; `None` when it is not enabled.
    fn apply(
        &self,
        t: &mut ClusterState<P>,
        action: &Action,
        monitor: &mut SafetyMonitor,
    ) -> Option<Option<String>> {
        match *action {
            Action::Deliver { index, from, to } => {
                let (f, d, message) = t.network.get(index)?.clone();
                let target = t.nodes.get_mut((to - 1) as usize)?.as_mut()?;
                if (f, d) != (from, to) {
                    return None;
                }
                t.network.remove(index);
                Arc::make_mut(target).step(from, Arc::unwrap_or_clone(message));
                Some(self.drain(t, to, monitor))
            }
            Action::Drop { index, from, to } => {
                let &(f, d, _) = t.network.get(index)?;
                if (f, d) != (from, to) {
                    return None;
                }
                t.network.remove(index);
                Some(None)
            }
            Action::Duplicate { index, from, to } => {
                let copy = t.network.get(index)?.clone();
                if (copy.0, copy.1) != (from, to) || t.duplicates >= self.bounds.max_duplicates {
                    return None;
                }
                t.duplicates += 1;
                t.network.push(copy);
                Some(None)
            }
            Action::Timer { node } => {
                let core = Arc::make_mut(t.nodes.get_mut((node - 1) as usize)?.as_mut()?);
                let at = P::next_timer_us(core);
                core.tick(at);
                Some(self.drain(t, node, monitor))
            }
            Action::Crash { node } => {
                let slot = t.nodes.get_mut((node - 1) as usize)?;
                if slot.is_none() || t.crashes >= self.bounds.max_crashes {
                    return None;
                }
                *slot = None;
                t.crashes += 1;
                // Its clients' connections die with it: what they had in progress never
                // completes (it may or may not have happened).
                t.clients.reads.retain(|(n, _, _)| *n != node);
                t.clients.writes.retain(|(n, _, _)| *n != node);
                Some(None)
            }
            Action::Restart { node } => {
                let i = (node - 1) as usize;
                if t.nodes.get(i)?.is_some() {
                    return None;
                }
                let seed = node * 7919 + u64::from(t.crashes);
                let core = P::build(&self.bounds, self.mutant, node, &t.disks[i], seed);
                t.nodes[i] = Some(Arc::new(core));
                Some(self.drain(t, node, monitor))
            }
            Action::Propose { node } => {
                if t.proposals >= self.bounds.max_proposals {
                    return None;
                }
                let core = t.nodes.get_mut((node - 1) as usize)?.as_mut()?;
                if core.role() != Role::Leader {
                    return None;
                }
                let core = Arc::make_mut(core);
                let command = vec![b'a' + (t.proposals % 26) as u8];
                let index = core.propose(command.clone()).ok()?;
                t.proposals += 1;
                if self.bounds.max_reads > 0 && index > 0 {
                    t.clients.write(node, index, command);
                }
                Some(self.drain(t, node, monitor))
            }
            Action::Read { node } => {
                if t.clients.reads_started >= self.bounds.max_reads {
                    return None;
                }
                let core = Arc::make_mut(t.nodes.get_mut((node - 1) as usize)?.as_mut()?);
                let id = t.clients.read(node);
                core.read_index(id).ok()?;
                Some(self.drain(t, node, monitor))
            }
        }
    }

    fn within_bounds(&self, t: &ClusterState<P>) -> bool {
        t.network.len() <= self.bounds.max_in_flight
            && t.nodes
                .iter()
                .flatten()
                .all(|c| P::term(c) <= self.bounds.max_term && P::log_len(c) <= self.bounds.max_log)
    }

    fn node_hash(
        &self,
        state: &ClusterState<P>,
        i: usize,
        relabel: &dyn Fn(NodeId) -> NodeId,
    ) -> u64 {
        let mut h = Fp::new();
        match &state.nodes[i] {
            Some(core) => {
                1u8.hash(&mut h);
                P::fingerprint_core(core, relabel, &mut h);
            }
            None => 0u8.hash(&mut h),
        }
        P::fingerprint_disk(&state.disks[i], relabel, &mut h);
        h.finish()
    }

    /// [`Self::node_hash`] under relabelling `slot` (a position in `perms`, or `perms.len()`
    /// for every id mapped to 0), from `memo` when node `i` of `state` is its parent's node
    /// `i` (same core and disk, shared).
    fn node_hash_memo(
        &self,
        state: &ClusterState<P>,
        i: usize,
        slot: usize,
        relabel: &dyn Fn(NodeId) -> NodeId,
        memo: &mut HashMemo<'_, P>,
    ) -> u64 {
        let Some(parent) = memo.parent.filter(|p| p.same_node(state, i)) else {
            return self.node_hash(state, i, relabel);
        };
        *memo.nodes[i][slot].get_or_insert_with(|| self.node_hash(parent, i, relabel))
    }

    fn message_hash(
        from: NodeId,
        to: NodeId,
        m: &P::Message,
        relabel: &dyn Fn(NodeId) -> NodeId,
    ) -> u64 {
        let mut h = Fp::new();
        (relabel(from), relabel(to)).hash(&mut h);
        P::fingerprint_message(m, relabel, &mut h);
        h.finish()
    }

    /// The state's hash under relabelling `slot`; `rounds` are the pending reads' rounds
    /// ([`Self::read_rounds`], the same under every relabelling).
    fn fingerprint_under(
        &self,
        state: &ClusterState<P>,
        slot: usize,
        rounds: &[u64],
        memo: &mut HashMemo<'_, P>,
    ) -> u64 {
        let perm = &self.perms[slot];
        let relabel = |id: NodeId| perm[(id - 1) as usize] as NodeId + 1;
        let mut nodes = vec![0u64; perm.len()];
        for (i, &to) in perm.iter().enumerate() {
            nodes[to] = self.node_hash_memo(state, i, slot, &relabel, memo);
        }
        let mut network: Vec<u64> = state
            .network
            .iter()
            .map(|(from, to, m)| {
                let shared = memo.parent.and_then(|p| {
                    p.network
                        .iter()
                        .position(|(f, t, pm)| (f, t) == (from, to) && Arc::ptr_eq(pm, m))
                });
                match shared {
                    Some(j) => *memo.messages[j][slot]
                        .get_or_insert_with(|| Self::message_hash(*from, *to, m, &relabel)),
                    None => Self::message_hash(*from, *to, m, &relabel),
                }
            })
            .collect();
        if !rounds.is_empty() {
            // Pending reads: every round number counts by its rank among theirs.
            let rank = |round: u64| rounds.partition_point(|r| *r <= round);
            for (hash, (_, _, m)) in network.iter_mut().zip(&state.network) {
                *hash ^= (P::message_round(m).map_or(usize::MAX, rank) as u64)
                    .wrapping_mul(0x9e37_79b9_7f4a_7c15);
            }
            for (i, &to) in perm.iter().enumerate() {
                if let Some(core) = &state.nodes[i] {
                    let mut h = Fp::new();
                    P::fingerprint_reads(core, &rank, &relabel, &mut h);
                    nodes[to] ^= h.finish().rotate_left(1);
                }
            }
        }
        network.sort_unstable();
        let mut h = Fp::new();
        nodes.hash(&mut h);
        network.hash(&mut h);
        // The ghost's first-applier ids are witnesses for messages only: left out.
        for (index, (chain, _)) in &state.applied {
            (index, chain).hash(&mut h);
        }
        (state.crashes, state.proposals, state.duplicates).hash(&mut h);
        if self.bounds.max_reads > 0 {
            state.clients.fingerprint(&relabel, &mut h);
        }
        h.finish()
    }

    /// The rounds every live replica's pending reads wait for, sorted (none without reads).
    fn read_rounds(&self, state: &ClusterState<P>) -> Vec<u64> {
        if self.bounds.max_reads == 0 {
            return Vec::new();
        }
        let mut rounds: Vec<u64> = state
            .nodes
            .iter()
            .flatten()
            .flat_map(|c| P::read_rounds(c))
            .collect();
        rounds.sort_unstable();
        rounds.dedup();
        rounds
    }

    /// Without symmetry: the identity's hash. With it: the least hash over the relabellings
    /// that sort the nodes by a label-free signature (each node hashed with every id mapped to
    /// 0); ties are enumerated. A relabelled state has the same signatures and the same set of
    /// candidate relabellings up to that relabelling, so the least hash is canonical. Hashes
    /// of nodes and messages `state` shares with `memo`'s parent come from the memo.
    fn fingerprint_memo(&self, state: &ClusterState<P>, memo: &mut HashMemo<'_, P>) -> u64 {
        let rounds = self.read_rounds(state);
        match self.symmetry {
            Symmetry::Off => return self.fingerprint_under(state, 0, &rounds, memo),
            Symmetry::Exhaustive => {
                return (0..self.perms.len())
                    .map(|slot| self.fingerprint_under(state, slot, &rounds, memo))
                    .min()
                    .unwrap_or(0)
            }
            Symmetry::Sorted => {}
        }
        let n = self.bounds.nodes;
        let free = self.perms.len();
        let signature: Vec<u64> = (0..n)
            .map(|i| self.node_hash_memo(state, i, free, &|_| 0, memo))
            .collect();
        let ranges: Vec<(usize, usize)> = signature
            .iter()
            .map(|s| {
                let below = signature.iter().filter(|o| *o < s).count();
                let equal = signature.iter().filter(|o| *o == s).count();
                (below, below + equal)
            })
            .collect();
        (0..self.perms.len())
            .filter(|&slot| {
                self.perms[slot]
                    .iter()
                    .zip(&ranges)
                    .all(|(p, (lo, hi))| (*lo..*hi).contains(p))
            })
            .map(|slot| self.fingerprint_under(state, slot, &rounds, memo))
            .min()
            .unwrap_or(0)
    }

    /// A one-line summary of every node.
    pub fn summary(&self, state: &ClusterState<P>) -> String {
        let parts: Vec<String> = state
            .nodes
            .iter()
            .enumerate()
            .map(|(i, node)| match node {
                None => format!("n{} down ({})", i + 1, P::describe_disk(&state.disks[i])),
                Some(core) => format!("n{} {}", i + 1, P::describe_core(core)),
            })
            .collect();
        format!("{} | in flight {}", parts.join(" | "), state.network.len())
    }
}

/// The letter of a role in summaries.
pub fn role_letter(role: Role) -> &'static str {
    match role {
        Role::Follower => "F",
        Role::PreCandidate => "P",
        Role::Candidate => "C",
        Role::Leader => "L",
    }
}

/// Every permutation of `0..n` in lexicographic order (identity first).
fn permutations(n: usize) -> Vec<Vec<usize>> {
    fn extend(prefix: &mut Vec<usize>, n: usize, out: &mut Vec<Vec<usize>>) {
        if prefix.len() == n {
            out.push(prefix.clone());
            return;
        }
        for x in 0..n {
            if !prefix.contains(&x) {
                prefix.push(x);
                extend(prefix, n, out);
                prefix.pop();
            }
        }
    }
    let mut out = Vec::new();
    extend(&mut Vec::with_capacity(n), n, &mut out);
    out
}

/// A ghost entry standing for one applied earlier: the monitor reads only its index and chain.
fn ghost_entry(index: Index, chain: u64) -> Entry {
    Entry {
        index,
        term: 0,
        data: Default::default(),
        membership: None,
        chain,
    }
}

impl<P: Protocol> Model for ClusterModel<P> {
    type State = ClusterState<P>;
    type Action = Action;

    fn init(&self) -> ClusterState<P> {
        let n = self.bounds.nodes;
        let disks: Vec<Arc<P::Disk>> = (0..n).map(|_| Arc::new(P::Disk::default())).collect();
        let nodes = (1..=n as NodeId)
            .map(|id| {
                let disk = &disks[(id - 1) as usize];
                Some(Arc::new(P::build(&self.bounds, self.mutant, id, disk, id)))
            })
            .collect();
        ClusterState {
            nodes,
            disks,
            network: Vec::new(),
            applied: BTreeMap::new(),
            crashes: 0,
            proposals: 0,
            duplicates: 0,
            clients: if self.record_clients {
                Clients::recording()
            } else {
                Clients::default()
            },
        }
    }

    fn actions(&self, state: &ClusterState<P>, out: &mut Vec<Action>) {
        for (index, (from, to, message)) in state.network.iter().enumerate() {
            let first = state.network[..index]
                .iter()
                .all(|(f, t, m)| (f, t) != (from, to) || m != message);
            if !first {
                continue; // an identical copy earlier in the multiset gives the same successors
            }
            let (from, to) = (*from, *to);
            if state.nodes[(to - 1) as usize].is_some() {
                out.push(Action::Deliver { index, from, to });
            }
            out.push(Action::Drop { index, from, to });
            if state.duplicates < self.bounds.max_duplicates {
                out.push(Action::Duplicate { index, from, to });
            }
        }
        for (i, node) in state.nodes.iter().enumerate() {
            let id = i as NodeId + 1;
            match node {
                Some(core) => {
                    out.push(Action::Timer { node: id });
                    if core.role() == Role::Leader && state.proposals < self.bounds.max_proposals {
                        out.push(Action::Propose { node: id });
                    }
                    if state.crashes < self.bounds.max_crashes {
                        out.push(Action::Crash { node: id });
                    }
                    if state.clients.reads_started < self.bounds.max_reads {
                        out.push(Action::Read { node: id });
                    }
                }
                None => out.push(Action::Restart { node: id }),
            }
        }
    }

    fn next(&self, state: &ClusterState<P>, action: &Action) -> Next<ClusterState<P>> {
        self.next_observed(state, action, self.monitor_of(state))
    }

    /// Every successor needs the monitor's view of `state` (the ghost record and the state
    /// itself observed): it is built once here and copied for each action.
    fn successors(
        &self,
        state: &ClusterState<P>,
        actions: &[Action],
        out: &mut Vec<Next<ClusterState<P>>>,
    ) {
        let monitor = self.monitor_of(state);
        out.extend(
            actions
                .iter()
                .map(|action| self.next_observed(state, action, monitor.clone())),
        );
    }

    /// See [`ClusterModel::fingerprint_memo`].
    fn fingerprint(&self, state: &ClusterState<P>) -> u64 {
        self.fingerprint_memo(state, &mut HashMemo::none())
    }

    /// A successor shares all but one or two nodes and most messages with its parent: their
    /// hashes are computed once for all of the parent's successors.
    fn successor_fingerprints(
        &self,
        parent: &ClusterState<P>,
        successors: &[Next<ClusterState<P>>],
        out: &mut Vec<u64>,
    ) {
        let mut memo = HashMemo::of(parent, self.perms.len());
        out.extend(successors.iter().map(|successor| match successor {
            Next::State(state, _) => self.fingerprint_memo(state, &mut memo),
            Next::Disabled | Next::OutOfBounds => 0,
        }));
    }

    /// Cores, disks and messages are shared with the states around this one (copied on
    /// write), so each is counted in the share of the states holding it when asked.
    fn approx_bytes(&self, state: &ClusterState<P>) -> usize {
        let cores: usize = state
            .nodes
            .iter()
            .flatten()
            .map(|c| P::approx_bytes(c) / Arc::strong_count(c))
            .sum();
        let messages: usize = state
            .network
            .iter()
            .map(|(_, _, m)| (std::mem::size_of::<P::Message>() + 32) / Arc::strong_count(m))
            .sum();
        std::mem::size_of::<ClusterState<P>>()
            + cores
            + messages
            + state.nodes.len() * std::mem::size_of::<Option<Arc<P::Core>>>()
            + state.network.len() * std::mem::size_of::<(NodeId, NodeId, Arc<P::Message>)>()
    }

    fn sometimes(&self, state: &ClusterState<P>) -> bool {
        P::leader_change(&state.live(), &state.disks())
    }

    fn describe(&self, state: &ClusterState<P>, action: &Action) -> String {
        match action {
            Action::Deliver { index, from, to }
            | Action::Drop { index, from, to }
            | Action::Duplicate { index, from, to } => {
                let verb = match action {
                    Action::Deliver { .. } => "deliver",
                    Action::Drop { .. } => "drop",
                    _ => "duplicate",
                };
                let what = state
                    .network
                    .get(*index)
                    .map_or("?".into(), |(_, _, m)| P::describe_message(m));
                format!("{verb} {from} -> {to}: {what}")
            }
            Action::Timer { node } => {
                let leader = state.nodes[(node - 1) as usize]
                    .as_ref()
                    .is_some_and(|c| c.role() == Role::Leader);
                let timer = if leader { "heartbeat" } else { "timeout" };
                format!("timer of node {node} fires ({timer})")
            }
            Action::Crash { node } => format!("crash node {node}"),
            Action::Restart { node } => format!("restart node {node} from its disk"),
            Action::Read { node } => format!("client starts a read at node {node}"),
            Action::Propose { node } => format!(
                "client proposes {:?} at node {node}",
                char::from(b'a' + (state.proposals % 26) as u8)
            ),
        }
    }
}
