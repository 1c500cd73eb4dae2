//! The Raft model: `n` real [`Raft`] cores, their disks, and the network as a multiset of
//! messages in flight.
//!
//! Actions (each atomic; after every input the node's `Ready` is drained: persist to its disk,
//! then its messages join the network, then its committed entries are applied):
//! - deliver any message in flight to its (running) target, drop it, or duplicate it (bounded);
//! - fire a running node's timer: tick it to exactly [`Raft::next_timer_us`] (the election
//!   timeout of a follower or candidate, the heartbeat of a leader). Time is abstract: any timer
//!   may fire at any moment, which covers every timing the clocks could produce;
//! - crash a running node (its volatile state is lost, its disk kept: the persist contract) and
//!   restart a crashed one from its disk;
//! - a client proposal at a leader (commands are distinct values `a`, `b`, ...).
//!
//! The cores run with `check_quorum` and `lease_read` off: both compare clock values, which the
//! model abstracts away (see `distsys_consensus::raft` fingerprint docs). No reads are issued,
//! so the seeded bugs that only show in reads are out of the model's reach
//! ([`applicable`]).
//!
//! Properties, checked on every transition with a fresh [`SafetyMonitor`] that observes the
//! state before, every entry applied during the step, and the state after: election safety,
//! leader append-only, log matching, leader completeness and state machine safety, exactly as
//! the simulator checks them. A ghost record of every entry ever applied (index -> chain), kept
//! in the state, lets state machine safety compare against nodes that have since crashed.

use crate::explore::{Model, Next};
use distsys_consensus::raft::{fingerprint_message, fingerprint_persisted, Config, Raft};
use distsys_consensus::safety::SafetyMonitor;
use distsys_consensus::{Entry, Index, Message, Mutant, NodeId, Persisted, Role};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use xxhash_rust::xxh3::Xxh3;

/// The bounds of a Raft model: states past any of them are not explored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bounds {
    /// Nodes (1..=7; symmetry reduction enumerates n! relabellings).
    pub nodes: usize,
    /// Highest term any node may reach.
    pub max_term: u64,
    /// Longest log any node may hold (the leaders' no-ops count).
    pub max_log: u64,
    /// Crashes over the whole run.
    pub max_crashes: u32,
    /// Messages in flight at once.
    pub max_in_flight: usize,
    /// Client proposals over the whole run.
    pub max_proposals: u32,
    /// Duplicated messages over the whole run.
    pub max_duplicates: u32,
    /// Run the cores with pre-vote (the shipped default).
    pub pre_vote: bool,
}

impl Bounds {
    /// Checks the bounds are usable; the error names the bad one.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=7).contains(&self.nodes) {
            return Err(format!("--nodes must be 1..=7, got {}", self.nodes));
        }
        if self.max_term == 0 {
            return Err("--max-term must be at least 1".into());
        }
        if self.max_in_flight == 0 {
            return Err("--max-in-flight must be at least 1".into());
        }
        Ok(())
    }
}

/// Whether the model can show `mutant`: the seeded bugs that only break reads (linearizability
/// of client reads) need a read workload, which the model does not issue.
pub fn applicable(mutant: Mutant) -> Result<(), String> {
    match mutant {
        Mutant::FollowerStaleRead | Mutant::LeaderReadWithoutQuorum | Mutant::NoNoopOnElection => {
            Err(format!(
                "mutant {} only shows in client reads, which the Raft model does not issue",
                mutant.name()
            ))
        }
        _ => Ok(()),
    }
}

/// The seeded bug named `name`: the campaign mutants (`Mutant::ALL`) and the scenario-only ones
/// (`Mutant::SCENARIO_ONLY`), which an exhaustive search may reach where random campaigns do not.
pub fn mutant_by_name(name: &str) -> Result<Mutant, String> {
    Mutant::ALL
        .into_iter()
        .chain(Mutant::SCENARIO_ONLY)
        .find(|m| m.name() == name)
        .ok_or_else(|| {
            let names: Vec<&str> = Mutant::ALL
                .into_iter()
                .chain(Mutant::SCENARIO_ONLY)
                .map(Mutant::name)
                .collect();
            format!("unknown mutant {name:?} (one of {})", names.join(", "))
        })
}

/// One step of the Raft model. Messages are named by their position in the state's network
/// and, for readability and for checking replays, by their endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "action")]
pub enum RaftAction {
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
    /// Fire the node's timer (election timeout, or heartbeat on a leader).
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
}

/// A state of the Raft model. Node `i + 1` is at position `i`.
#[derive(Debug, Clone)]
pub struct RaftState {
    /// Running cores (`None`: crashed).
    pub nodes: Vec<Option<Raft>>,
    /// Every node's disk, kept across crashes.
    pub disks: Vec<Persisted>,
    /// Messages in flight: (from, to, message). A multiset: its order is not part of the state.
    pub network: Vec<(NodeId, NodeId, Message)>,
    /// Ghost: index -> (chain, first node) of every entry any node ever applied.
    pub applied: BTreeMap<Index, (u64, NodeId)>,
    /// Crashes so far.
    pub crashes: u32,
    /// Proposals so far.
    pub proposals: u32,
    /// Duplications so far.
    pub duplicates: u32,
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

/// The Raft model checked by [`crate::explore::check`].
#[derive(Debug, Clone)]
pub struct RaftModel {
    /// The bounds.
    pub bounds: Bounds,
    /// The seeded bug every core runs, if any.
    pub mutant: Option<Mutant>,
    /// How states are canonicalised over relabellings of the node ids.
    pub symmetry: Symmetry,
    /// The relabellings: `perms[k][i]` is node `i`'s new position (identity only without
    /// symmetry).
    perms: Vec<Vec<usize>>,
}

impl RaftModel {
    /// A model with these bounds (validated), seeded bug and symmetry setting.
    pub fn new(bounds: Bounds, mutant: Option<Mutant>, symmetry: Symmetry) -> Result<Self, String> {
        bounds.validate()?;
        if let Some(m) = mutant {
            applicable(m)?;
        }
        let identity: Vec<usize> = (0..bounds.nodes).collect();
        let perms = match symmetry {
            Symmetry::Off => vec![identity],
            Symmetry::Sorted | Symmetry::Exhaustive => permutations(bounds.nodes),
        };
        Ok(RaftModel {
            bounds,
            mutant,
            symmetry,
            perms,
        })
    }

    fn config(&self, id: NodeId) -> Config {
        let voters: Vec<NodeId> = (1..=self.bounds.nodes as NodeId).collect();
        let mut config = Config::new(id, voters);
        config.pre_vote = self.bounds.pre_vote;
        config.check_quorum = false;
        config.lease_read = false;
        config.mutant = self.mutant;
        config
    }

    /// Carries out node `id`'s Ready: persist, send, apply (checked).
    fn drain(&self, t: &mut RaftState, id: NodeId, monitor: &mut SafetyMonitor) -> Option<String> {
        let i = (id - 1) as usize;
        let raft = t.nodes[i].as_mut()?;
        let ready = raft.ready();
        for op in &ready.persist {
            t.disks[i].apply(op);
        }
        t.network
            .extend(ready.messages.into_iter().map(|(to, m)| (id, to, m)));
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
        broken.map(|v| v.to_string())
    }

    /// Applies the action's input to `t`; false when it is not enabled.
    fn apply(
        &self,
        t: &mut RaftState,
        action: &RaftAction,
        monitor: &mut SafetyMonitor,
    ) -> Option<Option<String>> {
        match *action {
            RaftAction::Deliver { index, from, to } => {
                let (f, d, message) = t.network.get(index)?.clone();
                let target = t.nodes.get_mut((to - 1) as usize)?.as_mut()?;
                if (f, d) != (from, to) {
                    return None;
                }
                t.network.remove(index);
                target.step(from, message);
                Some(self.drain(t, to, monitor))
            }
            RaftAction::Drop { index, from, to } => {
                let &(f, d, _) = t.network.get(index)?;
                if (f, d) != (from, to) {
                    return None;
                }
                t.network.remove(index);
                Some(None)
            }
            RaftAction::Duplicate { index, from, to } => {
                let copy = t.network.get(index)?.clone();
                if (copy.0, copy.1) != (from, to) || t.duplicates >= self.bounds.max_duplicates {
                    return None;
                }
                t.duplicates += 1;
                t.network.push(copy);
                Some(None)
            }
            RaftAction::Timer { node } => {
                let raft = t.nodes.get_mut((node - 1) as usize)?.as_mut()?;
                raft.tick(raft.next_timer_us());
                Some(self.drain(t, node, monitor))
            }
            RaftAction::Crash { node } => {
                let slot = t.nodes.get_mut((node - 1) as usize)?;
                if slot.is_none() || t.crashes >= self.bounds.max_crashes {
                    return None;
                }
                *slot = None;
                t.crashes += 1;
                Some(None)
            }
            RaftAction::Restart { node } => {
                let i = (node - 1) as usize;
                if t.nodes.get(i)?.is_some() {
                    return None;
                }
                let seed = node * 7919 + u64::from(t.crashes);
                t.nodes[i] = Some(Raft::new(self.config(node), &t.disks[i], seed, 0));
                Some(self.drain(t, node, monitor))
            }
            RaftAction::Propose { node } => {
                if t.proposals >= self.bounds.max_proposals {
                    return None;
                }
                let raft = t.nodes.get_mut((node - 1) as usize)?.as_mut()?;
                let command = vec![b'a' + (t.proposals % 26) as u8];
                raft.propose(command).ok()?;
                t.proposals += 1;
                Some(self.drain(t, node, monitor))
            }
        }
    }

    fn within_bounds(&self, t: &RaftState) -> bool {
        t.network.len() <= self.bounds.max_in_flight
            && t.nodes.iter().flatten().all(|r| {
                r.term() <= self.bounds.max_term && r.log().last_index() <= self.bounds.max_log
            })
    }

    fn node_hash(&self, state: &RaftState, i: usize, relabel: &dyn Fn(NodeId) -> NodeId) -> u64 {
        let mut h = Xxh3::new();
        match &state.nodes[i] {
            Some(raft) => {
                1u8.hash(&mut h);
                raft.fingerprint(relabel, &mut h);
            }
            None => 0u8.hash(&mut h),
        }
        fingerprint_persisted(&state.disks[i], relabel, &mut h);
        h.finish()
    }

    fn fingerprint_under(&self, state: &RaftState, perm: &[usize]) -> u64 {
        let relabel = |id: NodeId| perm[(id - 1) as usize] as NodeId + 1;
        let mut nodes = vec![0u64; perm.len()];
        for (i, &to) in perm.iter().enumerate() {
            nodes[to] = self.node_hash(state, i, &relabel);
        }
        let mut network: Vec<u64> = state
            .network
            .iter()
            .map(|(from, to, m)| {
                let mut h = Xxh3::new();
                (relabel(*from), relabel(*to)).hash(&mut h);
                fingerprint_message(m, &relabel, &mut h);
                h.finish()
            })
            .collect();
        network.sort_unstable();
        let mut h = Xxh3::new();
        nodes.hash(&mut h);
        network.hash(&mut h);
        // The ghost's first-applier ids are witnesses for messages only: left out.
        for (index, (chain, _)) in &state.applied {
            (index, chain).hash(&mut h);
        }
        (state.crashes, state.proposals, state.duplicates).hash(&mut h);
        h.finish()
    }

    /// A one-line summary of every node: role, term, vote, log terms, commit index.
    pub fn summary(&self, state: &RaftState) -> String {
        let mut parts = Vec::new();
        for (i, node) in state.nodes.iter().enumerate() {
            let id = i + 1;
            parts.push(match node {
                None => format!("n{id} down (disk term {})", state.disks[i].hard_state.term),
                Some(r) => {
                    let log = r.log();
                    let terms: Vec<String> = (1..=log.last_index())
                        .map(|x| log.term(x).unwrap_or(0).to_string())
                        .collect();
                    let vote = r.hard_state().vote.map_or("-".into(), |v| v.to_string());
                    format!(
                        "n{id} {} t{} v{vote} log[{}] c{}",
                        role_letter(r.role()),
                        r.term(),
                        terms.join(","),
                        r.commit_index()
                    )
                }
            });
        }
        format!("{} | in flight {}", parts.join(" | "), state.network.len())
    }
}

fn role_letter(role: Role) -> &'static str {
    match role {
        Role::Follower => "F",
        Role::PreCandidate => "P",
        Role::Candidate => "C",
        Role::Leader => "L",
    }
}

/// A short description of a message.
pub fn describe_message(m: &Message) -> String {
    match m {
        Message::RequestVote {
            term,
            last_index,
            last_term,
            ..
        } => format!("{}(term {term}, last {last_index}@{last_term})", m.kind()),
        Message::RequestVoteResponse { term, granted, .. } => {
            format!("{}(term {term}, granted {granted})", m.kind())
        }
        Message::AppendEntries {
            term,
            prev_index,
            prev_term,
            entries,
            commit,
            ..
        } => {
            let list: Vec<String> = entries
                .iter()
                .map(|e| format!("{}@{}", e.index, e.term))
                .collect();
            format!(
                "AppendEntries(term {term}, prev {prev_index}@{prev_term}, entries [{}], commit {commit})",
                list.join(",")
            )
        }
        Message::AppendEntriesResponse {
            term,
            success,
            match_index,
            ..
        } => format!("AppendEntriesResponse(term {term}, success {success}, match {match_index})"),
        Message::InstallSnapshot { term, snapshot, .. } => format!(
            "InstallSnapshot(term {term}, up to {})",
            snapshot.last_index
        ),
        Message::TimeoutNow { term } => format!("TimeoutNow(term {term})"),
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

impl Model for RaftModel {
    type State = RaftState;
    type Action = RaftAction;

    fn init(&self) -> RaftState {
        let n = self.bounds.nodes;
        let disks = vec![Persisted::default(); n];
        let nodes = (1..=n as NodeId)
            .map(|id| Some(Raft::new(self.config(id), &disks[(id - 1) as usize], id, 0)))
            .collect();
        RaftState {
            nodes,
            disks,
            network: Vec::new(),
            applied: BTreeMap::new(),
            crashes: 0,
            proposals: 0,
            duplicates: 0,
        }
    }

    fn actions(&self, state: &RaftState, out: &mut Vec<RaftAction>) {
        for (index, (from, to, message)) in state.network.iter().enumerate() {
            let first = state.network[..index]
                .iter()
                .all(|(f, t, m)| (f, t) != (from, to) || m != message);
            if !first {
                continue; // an identical copy earlier in the multiset gives the same successors
            }
            let (from, to) = (*from, *to);
            if state.nodes[(to - 1) as usize].is_some() {
                out.push(RaftAction::Deliver { index, from, to });
            }
            out.push(RaftAction::Drop { index, from, to });
            if state.duplicates < self.bounds.max_duplicates {
                out.push(RaftAction::Duplicate { index, from, to });
            }
        }
        for (i, node) in state.nodes.iter().enumerate() {
            let id = i as NodeId + 1;
            match node {
                Some(raft) => {
                    out.push(RaftAction::Timer { node: id });
                    if raft.role() == Role::Leader && state.proposals < self.bounds.max_proposals {
                        out.push(RaftAction::Propose { node: id });
                    }
                    if state.crashes < self.bounds.max_crashes {
                        out.push(RaftAction::Crash { node: id });
                    }
                }
                None => out.push(RaftAction::Restart { node: id }),
            }
        }
    }

    fn next(&self, state: &RaftState, action: &RaftAction) -> Next<RaftState> {
        let mut monitor = SafetyMonitor::new();
        for (&index, &(chain, node)) in &state.applied {
            let seeded = monitor.on_apply(node, &ghost_entry(index, chain));
            debug_assert!(seeded.is_ok(), "one ghost entry per index");
        }
        let before = monitor.observe(state.nodes.iter().flatten());
        debug_assert!(before.is_ok(), "a stored state broke no property");
        let mut t = state.clone();
        let Some(mut violation) = self.apply(&mut t, action, &mut monitor) else {
            return Next::Disabled;
        };
        if !self.within_bounds(&t) {
            return Next::OutOfBounds;
        }
        if violation.is_none() {
            violation = monitor
                .observe(t.nodes.iter().flatten())
                .err()
                .map(|v| v.to_string());
        }
        Next::State(t, violation)
    }

    /// Without symmetry: the identity's hash. With it: the least hash over the relabellings
    /// that sort the nodes by a label-free signature (each node hashed with every id mapped to
    /// 0); ties are enumerated. A relabelled state has the same signatures and the same set of
    /// candidate relabellings up to that relabelling, so the least hash is canonical.
    fn fingerprint(&self, state: &RaftState) -> u64 {
        match self.symmetry {
            Symmetry::Off => return self.fingerprint_under(state, &self.perms[0]),
            Symmetry::Exhaustive => {
                return self
                    .perms
                    .iter()
                    .map(|perm| self.fingerprint_under(state, perm))
                    .min()
                    .unwrap_or(0)
            }
            Symmetry::Sorted => {}
        }
        let n = self.bounds.nodes;
        let signature: Vec<u64> = (0..n).map(|i| self.node_hash(state, i, &|_| 0)).collect();
        let ranges: Vec<(usize, usize)> = signature
            .iter()
            .map(|s| {
                let below = signature.iter().filter(|o| *o < s).count();
                let equal = signature.iter().filter(|o| *o == s).count();
                (below, below + equal)
            })
            .collect();
        self.perms
            .iter()
            .filter(|perm| {
                perm.iter()
                    .zip(&ranges)
                    .all(|(p, (lo, hi))| (*lo..*hi).contains(p))
            })
            .map(|perm| self.fingerprint_under(state, perm))
            .min()
            .unwrap_or(0)
    }

    fn approx_bytes(&self, state: &RaftState) -> usize {
        let entries: usize = state
            .nodes
            .iter()
            .flatten()
            .map(|r| r.log().last_index() as usize)
            .sum::<usize>()
            + state.disks.iter().map(|d| d.entries.len()).sum::<usize>();
        std::mem::size_of::<RaftState>()
            + state.nodes.len() * (std::mem::size_of::<Raft>() + 512)
            + entries * std::mem::size_of::<Entry>()
            + state.network.len() * (std::mem::size_of::<Message>() + 32)
    }

    /// A leader change: a leader whose log holds an entry of an earlier term (every leader
    /// appends a no-op of its term, so that term had a leader before).
    fn sometimes(&self, state: &RaftState) -> bool {
        state.nodes.iter().flatten().any(|r| {
            let log = r.log();
            r.role() == Role::Leader
                && (1..=log.last_index()).any(|i| log.term(i).is_some_and(|t| t < r.term()))
        })
    }

    fn describe(&self, state: &RaftState, action: &RaftAction) -> String {
        match action {
            RaftAction::Deliver { index, from, to }
            | RaftAction::Drop { index, from, to }
            | RaftAction::Duplicate { index, from, to } => {
                let verb = match action {
                    RaftAction::Deliver { .. } => "deliver",
                    RaftAction::Drop { .. } => "drop",
                    _ => "duplicate",
                };
                let what = state
                    .network
                    .get(*index)
                    .map_or("?".into(), |(_, _, m)| describe_message(m));
                format!("{verb} {from} -> {to}: {what}")
            }
            RaftAction::Timer { node } => {
                let leader = state.nodes[(node - 1) as usize]
                    .as_ref()
                    .is_some_and(|r| r.role() == Role::Leader);
                let timer = if leader {
                    "heartbeat"
                } else {
                    "election timeout"
                };
                format!("timer of node {node} fires ({timer})")
            }
            RaftAction::Crash { node } => format!("crash node {node}"),
            RaftAction::Restart { node } => format!("restart node {node} from its disk"),
            RaftAction::Propose { node } => format!(
                "client proposes {:?} at node {node}",
                char::from(b'a' + (state.proposals % 26) as u8)
            ),
        }
    }
}
