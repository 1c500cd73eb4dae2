//! `problem_type: transaction`: atomic updates across partitions.
//!
//! Decision rule:
//! - linearizable or sequential (or byzantine) -> two-phase commit over consensus groups: every
//!   participant and the coordinator's decision record are replicated (Raft, or PBFT when
//!   byzantine), so a crashed coordinator is replaced by its group instead of blocking everyone
//!   (Spanner, CockroachDB). Strict serializability with per-key locks or timestamps.
//! - causal or eventual -> sagas: a sequence of local transactions with compensating actions,
//!   idempotent under retry; no cross-partition locks, so no blocking under partition.

use super::environment::Environment;
use super::figures::{Fencing, WritePath};
use super::scenarios::{self, scenario};
use super::{rationale, Answer};
use crate::advice::Protocol;

/// The answer for a transaction problem.
pub fn answer(env: &Environment) -> Answer {
    if env.consistency().needs_total_order() || env.byzantine() {
        two_phase_commit(env)
    } else {
        sagas(env)
    }
}

fn two_phase_commit(env: &Environment) -> Answer {
    let group_protocol = if env.byzantine() { "PBFT" } else { "Raft" };
    let g = env.group;
    let mut configuration = env.base_configuration();
    configuration.replica_count = Some(g.size);
    configuration.read_path = Some("read_index".into());
    if !env.byzantine() {
        configuration.pre_vote = Some(true);
        configuration.check_quorum = Some(true);
    }
    let t = env.timing;
    let mut failure_scenarios = vec![
        scenario(
            "coordinator crash",
            format!(
                "The decision record lives in a {group_protocol} group, so a coordinator crash \
                 looks like a leader crash: the group elects a new leader within {}-{} ms and it \
                 finishes the commit or abort; participants keep their locks meanwhile.",
                t.election_timeout_min_ms, t.election_timeout_max_ms
            ),
            "The new coordinator leader reads the transaction record and resends the decision; \
             participants apply it idempotently."
                .into(),
        ),
        scenario(
            "participant unreachable during prepare",
            format!(
                "The coordinator waits up to the request timeout ({} ms) for a prepare vote, then \
                 aborts; no participant commits without a commit decision.",
                t.request_timeout_ms
            ),
            "Clients retry the whole transaction with backoff; the abort released its locks."
                .into(),
        ),
        if env.byzantine() {
            scenarios::minority_partition_bft(env)
        } else {
            scenarios::minority_partition(env, scenarios::Family::Raft)
        },
        scenarios::quorum_loss(env),
    ];
    failure_scenarios.extend(scenarios::region_loss(env, env.group.quorum));
    Answer {
        write_path: if env.byzantine() {
            WritePath::Byzantine
        } else {
            WritePath::quorum_leader(env, 2, Fencing::Term)
        },
        protocol: Protocol {
            name: format!("Two-phase commit over {group_protocol} groups"),
            description: format!(
                "The coordinator asks every participant partition to prepare (lock and log the \
                 writes durably in its {group_protocol} group), records the decision in its own \
                 group, then tells participants to commit or abort."
            ),
            correctness_guarantee: format!(
                "Atomic, strictly serializable transactions; non-blocking as long as each group \
                 keeps a quorum ({} of {}), because no decision lives on a single node.",
                g.quorum, g.size
            ),
        },
        configuration,
        failure_scenarios,
        rationale: vec![rationale(
            &format!("consistency_requirement={}", env.consistency().as_str()),
            &format!(
                "atomic multi-partition commit with a total order: 2PC, made non-blocking by \
                 replicating coordinator and participants with {group_protocol}"
            ),
        )],
        warnings: Vec::new(),
    }
}

fn sagas(env: &Environment) -> Answer {
    let mut configuration = env.base_configuration();
    configuration.replica_count = Some(env.group.size);
    configuration.election_timeout_max_ms = None;
    Answer {
        write_path: WritePath::quorum_leader(env, 1, Fencing::Epoch),
        protocol: Protocol {
            name: "Sagas with compensating actions".into(),
            description: "A transaction is a sequence of local transactions, each with a \
                          compensating action; a failed step runs the compensations of the steps \
                          before it in reverse order. Every step carries an idempotency key."
                .into(),
            correctness_guarantee: "Eventual atomicity: either every step takes effect or every \
                                    completed step is compensated; intermediate states are \
                                    visible (no isolation between sagas)."
                .into(),
        },
        configuration,
        failure_scenarios: vec![
            scenario(
                "step fails",
                "A later step is refused (business rule, conflict).".into(),
                "The orchestrator runs the compensations of the completed steps in reverse order."
                    .into(),
            ),
            scenario(
                "orchestrator crash",
                "The saga's progress log survives in durable storage; nothing is lost, the saga \
                 pauses."
                    .into(),
                "A new orchestrator resumes from the log; steps and compensations are idempotent \
                 (keyed by saga id and step), so replaying them is safe."
                    .into(),
            ),
            scenario(
                "retried step applied twice",
                format!(
                    "A timeout (after {} ms) makes the orchestrator resend a step that did succeed.",
                    env.timing.request_timeout_ms
                ),
                "The participant's dedup table returns the first result for the same idempotency key."
                    .into(),
            ),
            scenarios::divergent_partition("pending sagas resume"),
        ],
        rationale: vec![rationale(
            &format!("consistency_requirement={}", env.consistency().as_str()),
            "no total order needed: sagas avoid distributed locks and stay available under \
             partition, at the cost of visible intermediate states",
        )],
        warnings: Vec::new(),
    }
}
