//! `problem_type: transaction`: atomic updates across partitions.
//!
//! Decision rule:
//! - linearizable or sequential, crash faults -> parallel commits over Raft groups, the design
//!   `distsys simulate --model txn` implements and `advise --evidence` measures: MVCC at
//!   hybrid-logical-clock timestamps, write intents, the transaction record replicated in a
//!   group, commit in one consensus round (CockroachDB's parallel commits), no-wait conflicts
//!   with retries. Linearizable asks for strict serializability: a commit wait of twice the
//!   clock offset bound (Spanner's commit wait); sequential gets serializable in each client's
//!   order without it.
//! - byzantine -> two-phase commit over PBFT groups with strict two-phase locking (not
//!   simulated).
//! - causal or eventual -> sagas: a sequence of local transactions with compensating actions,
//!   idempotent under retry; no cross-partition locks, so no blocking under partition.

use super::environment::Environment;
use super::figures::{Fencing, WritePath};
use super::scenarios::{self, scenario};
use super::{rationale, Answer};
use crate::advice::{FailureScenario, Protocol};
use crate::context::Consistency;

/// The answer for a transaction problem.
pub fn answer(env: &Environment) -> Answer {
    if env.byzantine() {
        two_phase_commit(env)
    } else if env.consistency().needs_total_order() {
        parallel_commits(env)
    } else {
        sagas(env)
    }
}

/// Whether the answer must be strictly serializable (real-time order), not only serializable.
fn strict(env: &Environment) -> bool {
    env.consistency() == Consistency::Linearizable
}

/// The commit wait (ms) that makes timestamp order contain real-time order: twice the clock
/// offset bound (the acknowledging clock may run that far ahead of true time, the next
/// transaction's that far behind).
pub fn commit_wait_ms(env: &Environment) -> u64 {
    (2.0 * env.context.network_assumptions.max_clock_offset_ms()).ceil() as u64
}

fn parallel_commits(env: &Environment) -> Answer {
    let g = env.group;
    let offset = env.context.network_assumptions.max_clock_offset_ms();
    let mut configuration = env.base_configuration();
    configuration.replica_count = Some(g.size);
    configuration.read_path = Some("read_index".into());
    configuration.pre_vote = Some(true);
    configuration.check_quorum = Some(true);
    configuration.clock = Some("hlc".into());
    let (isolation, guarantee) = if strict(env) {
        let wait = commit_wait_ms(env);
        configuration.commit_wait_ms = Some(wait);
        // A client waits out the commit wait too: its timeout must outlast it.
        configuration.request_timeout_ms = configuration.request_timeout_ms.saturating_add(wait);
        (
            "strict_serializable",
            format!(
                "Atomic and strictly serializable transactions: committed transactions serialize \
                 in timestamp order, and a commit is acknowledged only after a commit wait of \
                 {wait} ms (twice the {offset} ms clock offset bound), so one that starts after \
                 another's acknowledgement takes a larger timestamp. Holds only while every \
                 clock stays within {offset} ms of true time. Non-blocking as long as each group \
                 keeps a quorum ({} of {}).",
                g.quorum, g.size
            ),
        )
    } else {
        (
            "serializable",
            format!(
                "Atomic, serializable transactions in each client's own order (strong session \
                 serializable: a client carries its last commit's timestamp into its next \
                 transaction); no commit wait, so transactions of different clients may \
                 serialize against real-time order by up to the clock offset ({offset} ms). \
                 Non-blocking as long as each group keeps a quorum ({} of {}).",
                g.quorum, g.size
            ),
        )
    };
    configuration.isolation = Some(isolation.into());
    let request_timeout = configuration.request_timeout_ms;
    let failure_scenarios = transaction_scenarios(env, offset, request_timeout);
    let rationale = vec![
        rationale(
            &format!("consistency_requirement={}", env.consistency().as_str()),
            &format!(
                "atomic multi-partition commit, {isolation}: parallel commits over Raft groups \
                 (one consensus round to commit instead of classic 2PC's two; measured by \
                 `distsys simulate --model txn` and `bench txn-protocols`)"
            ),
        ),
        rationale(
            &format!("network_assumptions.max_clock_offset_ms={offset}"),
            &format!(
                "timestamp source: hybrid logical clocks on every coordinator, not a timestamp oracle: no extra \
                 round and no single hot group on every transaction's path; assumes clocks \
                 within {offset} ms of true time (network_assumptions.max_clock_offset_ms), \
                 and remote stamps further ahead are refused"
            ),
        ),
        rationale(
            "problem_type=transaction",
            &format!(
                "deadlock policy: no-wait: a prepare that meets another transaction's intent is refused at once \
                 and the client retries the whole transaction with jittered exponential backoff \
                 (at most 6 attempts), so nothing ever waits for a lock and no deadlock can \
                 form; intents of a crashed coordinator are resolved by any group leader after \
                 the request timeout ({request_timeout} ms)"
            ),
        ),
    ];
    Answer {
        write_path: WritePath::quorum_leader(env, 1, Fencing::Term),
        protocol: Protocol {
            name: "Parallel commits over Raft groups (MVCC, hybrid-logical-clock timestamps)"
                .into(),
            description: "Each transaction takes one timestamp from its coordinator's hybrid \
                          logical clock. The coordinator sends every participant group its \
                          writes as intents (a prepare through the group's Raft log) and, in the \
                          same round, writes a STAGING transaction record in the group of its \
                          first key; once all are durable the transaction is committed and the \
                          client answered, and the intents are resolved in the background. A \
                          conflicting prepare is refused (no-wait) and the transaction retried."
                .into(),
            correctness_guarantee: guarantee,
        },
        configuration,
        failure_scenarios,
        rationale,
        warnings: Vec::new(),
    }
}

/// What breaks a parallel-commits design, each with its recovery.
fn transaction_scenarios(
    env: &Environment,
    offset: f64,
    request_timeout: u64,
) -> Vec<FailureScenario> {
    let g = env.group;
    let mut out = vec![
        scenario(
            "coordinator crash mid-commit",
            format!(
                "Its transactions' intents stay on their keys; writers of those keys are refused \
                 and retry. Once an intent is older than the request timeout ({request_timeout} \
                 ms), the leader of its group takes the transaction over: a missing record \
                 becomes ABORTED; a STAGING record is resolved by probing every participant (a \
                 probe refuses a prepare that has not arrived, so the answer cannot change): all \
                 prepared means committed."
            ),
            "Nothing to do by hand: the recoverer installs or drops the intents; a client \
             whose coordinator crashed sees its attempt as indeterminate and retries as a new \
             transaction (its writes are applied at most once)."
                .into(),
        ),
        scenario(
            "participant group loses its quorum",
            format!(
                "With more than {} of {} replicas of one group unreachable, that group holds no \
                 quorum of {}: prepares to it time out, transactions touching its keys abort and \
                 retry until it recovers, intents already there stay (a recoverer cannot resolve \
                 them without the group either); transactions on other groups go on.",
                g.spare(),
                g.size,
                g.quorum
            ),
            "Restore the group's replicas; pending intents are then resolved by recovery, and \
             clients' retries succeed."
                .into(),
        ),
        scenario(
            "clock skew beyond the bound",
            format!(
                "A clock more than {offset} ms off can stamp a transaction that starts after \
                 another's acknowledgement with a smaller timestamp, which then serializes first: \
                 a stale read in real time (strict serializability lost; serializability and \
                 atomicity keep holding, since they rest on timestamp order alone). Remote \
                 stamps more than {offset} ms ahead are refused."
            ),
            "Alert on clock offset well below the bound (chrony/NTP tracking); a node whose \
             clock leaves the bound must stop coordinating until it is back."
                .into(),
        ),
        scenario(
            "contention storm on hot keys",
            "Transactions on the same keys refuse each other (no-wait): aborts and retries \
             grow with contention, and retries without jitter arrive in waves."
                .into(),
            "Retries back off exponentially with full jitter and give up after 6 attempts; \
             split hot keys, or batch their updates; the abort rate is the metric to watch."
                .into(),
        ),
        scenarios::minority_partition(env, scenarios::Family::Raft),
    ];
    out.extend(scenarios::region_loss(env, env.group.quorum));
    out
}

fn two_phase_commit(env: &Environment) -> Answer {
    let group_protocol = if env.byzantine() { "PBFT" } else { "Raft" };
    let g = env.group;
    let mut configuration = env.base_configuration();
    configuration.replica_count = Some(g.size);
    if env.byzantine() {
        // PBFT has no leader lease or ReadIndex: a read is answered by a quorum.
        configuration.read_path = Some("quorum".into());
    } else {
        configuration.read_path = Some("read_index".into());
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
