//! Raft in the cluster model ([`crate::cluster`]): `n` real [`Raft`] cores.
//!
//! The cores run with `check_quorum` and `lease_read` off: both compare clock values, which the
//! model abstracts away (see `distsys_consensus::raft` fingerprint docs). No reads are issued,
//! so the seeded bugs that only show in reads are out of the model's reach ([`applicable`]).
//!
//! Properties: election safety, leader append-only, log matching, leader completeness and
//! state machine safety, with the simulator's own [`SafetyMonitor`] predicates.

use crate::cluster::{role_letter, Bounds, ClusterModel, ClusterState};
use crate::protocol::{find_mutant, Fp, Protocol, Relabel};
use distsys_consensus::raft::{
    fingerprint_message, fingerprint_persisted, message_round, Config, Raft,
};
use distsys_consensus::safety::{SafetyMonitor, SafetyViolation};
use distsys_consensus::{Entry, Message, Mutant, NodeId, Persisted, Role, TimeUs};

/// The Raft model.
pub type RaftModel = ClusterModel<RaftProtocol>;
/// A state of the Raft model.
pub type RaftState = ClusterState<RaftProtocol>;

/// Whether the model can show `mutant` within `bounds`: the seeded bugs that only break reads
/// (linearizability of client reads) need client reads (`--max-reads`).
pub fn applicable(mutant: Mutant, bounds: &Bounds) -> Result<(), String> {
    match mutant {
        Mutant::FollowerStaleRead | Mutant::LeaderReadWithoutQuorum | Mutant::NoNoopOnElection
            if bounds.max_reads == 0 =>
        {
            Err(format!(
                "mutant {} only shows in client reads: give --max-reads 1 or more",
                mutant.name()
            ))
        }
        Mutant::CountSelfBeforeDurable => Err(format!(
            "mutant {} needs pipelined writes, and the model persists each Ready before it sends: the simulator shows it (simulate --write-delay-ms)",
            mutant.name()
        )),
        _ => Ok(()),
    }
}

/// The seeded bug named `name`: the campaign mutants (`Mutant::ALL`) and the scenario-only ones
/// (`Mutant::SCENARIO_ONLY`), which an exhaustive search may reach where random campaigns do not.
pub fn mutant_by_name(name: &str) -> Result<Mutant, String> {
    let all: Vec<Mutant> = Mutant::ALL
        .into_iter()
        .chain(Mutant::SCENARIO_ONLY)
        .collect();
    find_mutant(&all, Mutant::name, name)
}

/// Raft as a [`Protocol`] of the cluster model.
#[derive(Debug, Clone, Copy)]
pub struct RaftProtocol;

impl Protocol for RaftProtocol {
    type Core = Raft;
    type Message = Message;
    type Disk = Persisted;
    type Mutant = Mutant;

    const NAME: &'static str = "raft";
    const SYMMETRIC: bool = true;
    const PRE_VOTE: bool = true;

    fn mutant_by_name(name: &str) -> Result<Mutant, String> {
        mutant_by_name(name)
    }
    fn mutant_name(mutant: Mutant) -> &'static str {
        mutant.name()
    }
    fn applicable(mutant: Mutant, bounds: &Bounds) -> Result<(), String> {
        applicable(mutant, bounds)
    }
    fn build(
        bounds: &Bounds,
        mutant: Option<Mutant>,
        id: NodeId,
        disk: &Persisted,
        seed: u64,
    ) -> Raft {
        let voters: Vec<NodeId> = (1..=bounds.nodes as NodeId).collect();
        let mut config = Config::new(id, voters);
        config.pre_vote = bounds.pre_vote;
        config.check_quorum = false;
        config.lease_read = false;
        config.mutant = mutant;
        Raft::new(config, disk, seed, 0)
    }
    fn next_timer_us(core: &Raft) -> TimeUs {
        core.next_timer_us()
    }
    fn log_len(core: &Raft) -> u64 {
        core.log().last_index()
    }
    fn fingerprint_core(core: &Raft, relabel: Relabel<'_>, h: &mut Fp) {
        core.fingerprint(relabel, h);
    }
    fn fingerprint_disk(disk: &Persisted, relabel: Relabel<'_>, h: &mut Fp) {
        fingerprint_persisted(disk, relabel, h);
    }
    fn fingerprint_message(message: &Message, relabel: Relabel<'_>, h: &mut Fp) {
        fingerprint_message(message, relabel, h);
    }
    const READS: bool = true;
    fn read_rounds(core: &Raft) -> Vec<u64> {
        core.read_rounds().collect()
    }
    fn fingerprint_reads(
        core: &Raft,
        rank: &dyn Fn(u64) -> usize,
        relabel: Relabel<'_>,
        h: &mut Fp,
    ) {
        core.fingerprint_reads(rank, relabel, h);
    }
    fn message_round(message: &Message) -> Option<u64> {
        message_round(message)
    }
    fn observe(
        monitor: &mut SafetyMonitor,
        _bounds: &Bounds,
        state: &RaftState,
    ) -> Result<(), SafetyViolation> {
        monitor.observe(state.live())
    }
    /// A leader whose log holds an entry of an earlier term (every leader appends a no-op of
    /// its term, so that term had a leader before).
    fn leader_change(live: &[&Raft], _disks: &[&Persisted]) -> bool {
        live.iter().any(|r| {
            let log = r.log();
            r.role() == Role::Leader
                && (1..=log.last_index()).any(|i| log.term(i).is_some_and(|t| t < r.term()))
        })
    }
    fn describe_message(message: &Message) -> String {
        describe_message(message)
    }
    /// Role, term, vote, log terms, commit index.
    fn describe_core(r: &Raft) -> String {
        let log = r.log();
        let terms: Vec<String> = (1..=log.last_index())
            .map(|x| log.term(x).unwrap_or(0).to_string())
            .collect();
        let vote = r.hard_state().vote.map_or("-".into(), |v| v.to_string());
        format!(
            "{} t{} v{vote} log[{}] c{}",
            role_letter(r.role()),
            r.term(),
            terms.join(","),
            r.commit_index()
        )
    }
    fn describe_disk(disk: &Persisted) -> String {
        format!("disk term {}", disk.hard_state.term)
    }
    fn approx_bytes(r: &Raft) -> usize {
        std::mem::size_of::<Raft>()
            + 512
            + 2 * r.log().last_index() as usize * std::mem::size_of::<Entry>()
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
