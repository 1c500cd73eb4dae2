//! `problem_type: consensus`: Raft, Multi-Paxos over a WAN, PBFT with byzantine faults.
//!
//! Decision rule:
//! - byzantine -> PBFT (n >= 3f+1, quorum floor((n+f)/2)+1).
//! - crash faults, three or more regions and latency >= 20 ms -> Multi-Paxos: slots commit out
//!   of order (no head-of-line blocking behind one slow cross-region round) and the leader can
//!   move to the region nearest the clients with one phase 1 over the open slots.
//! - otherwise -> Raft with pre-vote, check-quorum and ReadIndex reads.

use super::environment::Environment;
use super::figures::WritePath;
use super::scenarios::{self, Family};
use super::{rationale, Answer};
use crate::advice::Protocol;
use crate::context::Consistency;

/// Latency from which a multi-region deployment prefers Multi-Paxos, in milliseconds.
pub const WAN_LATENCY_MS: f64 = 20.0;
/// PBFT checkpoint interval `K` (requests between checkpoints), as in Castro & Liskov.
pub const PBFT_CHECKPOINT_INTERVAL: u64 = 128;

/// The answer for a consensus problem.
pub fn answer(env: &Environment) -> Answer {
    if env.byzantine() {
        return pbft(env);
    }
    if env.regions().len() >= 3 && env.timing.latency_ms >= WAN_LATENCY_MS {
        multi_paxos(env)
    } else {
        raft(env)
    }
}

fn raft(env: &Environment) -> Answer {
    leader_log(env, Family::Raft)
}

/// Raft's answer, with the failure scenarios written in `family`'s words.
fn leader_log(env: &Environment, family: Family) -> Answer {
    let mut configuration = env.base_configuration();
    configuration.pre_vote = Some(true);
    configuration.check_quorum = Some(true);
    configuration.read_path = Some(read_path(env.consistency()).to_string());
    let mut failure_scenarios = vec![
        scenarios::leader_crash(env, family),
        scenarios::minority_partition(env, family),
        scenarios::quorum_loss(env),
        scenarios::slow_replica(env, family),
        scenarios::clock_skew_timers(env, family),
    ];
    failure_scenarios.extend(scenarios::region_loss(env, env.group.quorum));
    Answer {
        write_path: WritePath::quorum_leader(env, 1, family.fencing()),
        protocol: Protocol {
            name: "Raft".into(),
            description: "Leader-based replicated log: a leader elected by a majority appends client \
                          commands and commits them once a majority stores them; followers apply \
                          committed entries in log order."
                .into(),
            correctness_guarantee: format!(
                "Linearizable reads and writes with up to {} of {} nodes crashed or partitioned \
                 away (crash-stop/recovery faults, asynchronous network, no byzantine nodes): at most \
                 one leader per term, committed entries never lost or reordered.",
                env.group.f, env.group.size
            ),
        },
        configuration,
        failure_scenarios,
        rationale: voter_rationale(env),
        warnings: Vec::new(),
    }
}

/// Why Raft, and for clusters larger than one voting group should be, the voters-plus-learners
/// design.
fn voter_rationale(env: &Environment) -> Vec<crate::advice::Rationale> {
    let mut out = vec![rationale(
        "network_assumptions.byzantine=false",
        "crash-fault consensus: Raft (pre-vote and check-quorum on, so a partitioned node \
         cannot disrupt the group and an isolated leader steps down)",
    )];
    let learners = env.learners();
    if learners > 0 {
        let g = &env.group;
        out.push(rationale(
            &format!("cluster_config.nodes={}", env.nodes),
            &format!(
                "{} voters + {learners} learners, not one {}-voter group: a commit waits for {} \
                 voters (not {}) and the leader sends {} messages per round to voters; learners \
                 receive the log, serve ReadIndex reads (one round trip to the leader) and can be \
                 promoted by a joint-consensus membership change when a voter is lost; the voters \
                 tolerate {} crashes, any number of learners may fail",
                g.size,
                env.nodes,
                g.quorum,
                crate::quorum::crash_quorum(env.nodes),
                g.size - 1,
                g.f
            ),
        ));
    }
    if let Some(availability) = env.quorum_availability() {
        out.push(rationale(
            &format!(
                "network_assumptions.partition_probability={}",
                env.partition_probability
            ),
            &format!(
                "a quorum of {} of {} voters is reachable with probability {availability:.4} (each \
                 node independently unreachable with p = {})",
                env.group.quorum, env.group.size, env.partition_probability
            ),
        ));
    }
    out
}

fn multi_paxos(env: &Environment) -> Answer {
    let mut answer = leader_log(env, Family::MultiPaxos);
    answer.configuration.pre_vote = None;
    answer.configuration.check_quorum = None;
    answer.protocol = Protocol {
        name: "Multi-Paxos".into(),
        description: "A distinguished leader runs phase 1 (prepare/promise) once over all open \
                      slots, then phase 2 (accept/accepted) per slot, skipping phase 1 while its \
                      ballot holds; a new leader fills holes with no-ops."
            .into(),
        correctness_guarantee: format!(
            "At most one value chosen per slot and a chosen value never changes, with up to {} of \
             {} acceptors crashed or partitioned away; linearizable when reads go through the log \
             or a leader read barrier.",
            env.group.f, env.group.size
        ),
    };
    answer.rationale = vec![rationale(
        &format!(
            "cluster_config.regions has {} regions, latency_ms={}",
            env.regions().len(),
            env.timing.latency_ms
        ),
        &format!(
            "Multi-Paxos over Raft: with >= 3 regions and >= {WAN_LATENCY_MS} ms latency, slots \
             commit independently (no head-of-line blocking behind one slow cross-region round) \
             and leadership can follow the clients' region with one phase 1"
        ),
    )];
    answer
}

fn pbft(env: &Environment) -> Answer {
    let mut configuration = env.base_configuration();
    configuration.election_timeout_max_ms = None;
    configuration.checkpoint_interval = Some(PBFT_CHECKPOINT_INTERVAL);
    configuration.watermark_window = Some(2 * PBFT_CHECKPOINT_INTERVAL);
    configuration.read_path = Some("quorum".into());
    let g = &env.group;
    let mut failure_scenarios = vec![
        scenarios::byzantine_equivocation(env),
        scenarios::byzantine_forgery(env),
        scenarios::minority_partition_bft(env),
        scenarios::quorum_loss(env),
        scenarios::slow_replica_bft(env),
    ];
    failure_scenarios.extend(scenarios::region_loss(env, env.group.quorum));
    Answer {
        write_path: WritePath::Byzantine,
        protocol: Protocol {
            name: "PBFT".into(),
            description: "Practical Byzantine Fault Tolerance: the primary assigns sequence numbers \
                          (pre-prepare); replicas exchange prepare and commit messages; a view change \
                          replaces a faulty or slow primary."
                .into(),
            correctness_guarantee: format!(
                "Linearizable execution with up to f={} of n={} replicas byzantine (arbitrary, \
                 colluding) under partial synchrony; requires n >= 3f+1, quorums of {} intersect in \
                 at least {} replicas (f+1, so one honest); a client accepts a result on f+1={} \
                 matching replies.",
                g.f,
                g.size,
                g.quorum,
                crate::quorum::quorum_overlap(g.size, g.quorum),
                g.f + 1
            ),
        },
        configuration,
        failure_scenarios,
        rationale: vec![
            rationale(
                "network_assumptions.byzantine=true",
                &format!(
                    "byzantine consensus: PBFT, quorum = floor((n+f)/2)+1 = {} (2f+1 when n = 3f+1)",
                    g.quorum
                ),
            ),
            rationale(
                "PBFT checkpoints",
                &format!(
                    "checkpoint every K={PBFT_CHECKPOINT_INTERVAL} requests, watermark window 2K={} \
                     (Castro & Liskov): bounds the message log while keeping the pipeline full",
                    2 * PBFT_CHECKPOINT_INTERVAL
                ),
            ),
        ],
        warnings: Vec::new(),
    }
}

/// How reads are served for a consistency level on a leader-based log.
pub fn read_path(consistency: Consistency) -> &'static str {
    match consistency {
        Consistency::Linearizable => "read_index",
        Consistency::Sequential => "session",
        Consistency::Causal | Consistency::Eventual => "any_replica",
    }
}
