//! What an expert names beside the protocol: the safety mechanisms the design relies on
//! (fencing, clock bounds, concurrency control, lease margin) and how to run it (what to
//! monitor, with thresholds and the metric names the node exports; runbooks for membership
//! change and rolling upgrade). Everything follows from the answer's write path and
//! configuration, so it cannot contradict them.

use super::environment::Environment;
use super::figures::{Fencing, WritePath};
use crate::advice::{Configuration, Figures, Mechanism, Monitor, Operations, Runbook};
use crate::context::ProblemType;
use distsys_types::metrics::{
    CONSENSUS_LATENCY, LEADER_ELECTIONS, PARTITION_EVENTS, REPLICATION_LAG,
};

fn mechanism(name: &str, why: String) -> Mechanism {
    Mechanism {
        name: name.to_string(),
        why,
    }
}

/// Fencing tokens for every leader (term, ballot, epoch, view), and the lease margin for
/// leaders that may serve lease reads.
fn leader_mechanisms(env: &Environment, path: WritePath) -> Vec<Mechanism> {
    let mut out = Vec::new();
    let t = &env.timing;
    if matches!(path, WritePath::Leader { .. } | WritePath::Byzantine) {
        let token = match path {
            WritePath::Leader { fencing, .. } => fencing.word(),
            _ => "view number",
        };
        out.push(mechanism(
            "fencing tokens",
            format!(
                "every write the leader issues to storage or to other services carries its \
                 {token}, and the receiver refuses any {token} lower than the highest it has seen: a \
                 deposed leader (paused by GC, cut off) cannot overwrite what its successor wrote"
            ),
        ));
        // Leases are a leader's: PBFT has none (its reads go through a quorum).
        if let WritePath::Leader { fencing, .. } = path {
            let (timeout, quorum_read) = match fencing {
                Fencing::Term => (
                    "election timeout",
                    "ReadIndex reads (one quorum round confirming the leadership)",
                ),
                Fencing::Ballot => (
                    "leader-failure timeout",
                    "a quorum round confirming the ballot before each read",
                ),
                Fencing::Epoch => (
                    "failure-detection timeout",
                    "a quorum round confirming the epoch before each read",
                ),
            };
            out.push(mechanism(
                "lease margin",
                format!(
                    "lease reads (optional) are safe only while the lease is shorter than the \
                     lowest {timeout} ({} ms) minus the largest clock drift over that interval: \
                     at most {} ms at a 10% drift bound; without bounded drift use {quorum_read}",
                    t.election_timeout_min_ms,
                    t.election_timeout_min_ms * 9 / 10
                ),
            ));
        }
    }
    out
}

/// The safety mechanisms the design relies on.
pub fn safety_mechanisms(
    env: &Environment,
    configuration: &Configuration,
    path: WritePath,
) -> Vec<Mechanism> {
    let mut out = leader_mechanisms(env, path);
    match env.context.problem_type {
        ProblemType::Transaction if configuration.isolation.is_some() => {
            out.extend(timestamp_ordering(env, configuration));
        }
        ProblemType::Transaction if path == WritePath::Byzantine => {
            out.push(mechanism(
                "strict two-phase locking",
                "participants hold write and read locks from prepare until the decision is \
                 applied, so committed transactions are serializable in real-time order without \
                 any clock assumption (timestamp designs instead need a bounded clock offset and \
                 a commit wait of that offset, as Spanner's TrueTime)"
                    .into(),
            ));
        }
        ProblemType::Transaction => {
            out.push(mechanism(
                "semantic locks or compensations",
                "sagas give no isolation: other transactions can read a saga's intermediate \
                 state; mark records as pending (semantic locks) where that matters"
                    .into(),
            ));
        }
        _ => {}
    }
    if configuration.clock.as_deref() == Some("hlc") && configuration.isolation.is_none() {
        out.push(mechanism(
            "bounded clock offset for LWW",
            "last-writer-wins on hybrid logical clocks lets the replica whose clock runs ahead \
             win concurrent writes by up to the skew: reject remote stamps more than a maximum \
             offset ahead (CockroachDB uses 500 ms) and persist the clock so a restart never \
             reissues a stamp"
                .into(),
        ));
    }
    if let WritePath::Leaderless { n, w, r } = path {
        out.push(mechanism(
            "strict quorums for overlap",
            format!(
                "R + W > N ({r} + {w} vs {n}) guarantees overlap only with strict quorums: writes \
                 a sloppy quorum stores on stand-in nodes (hinted handoff) are outside it, so \
                 read-your-writes needs the strict mode"
            ),
        ));
    }
    if path == WritePath::Byzantine {
        out.push(mechanism(
            "authenticated messages and f+1 replies",
            format!(
                "every message carries a per-pair HMAC (replay windows per sender); a client \
                 accepts a result only on f+1 = {} matching replies, so no f replicas can fool it",
                env.group.f + 1
            ),
        ));
    }
    out
}

/// The concurrency control and clock assumption behind a timestamp-ordered transaction
/// design's isolation claim.
fn timestamp_ordering(env: &Environment, configuration: &Configuration) -> Vec<Mechanism> {
    let offset = env.context.network_assumptions.max_clock_offset_ms();
    let mut out = vec![
        mechanism(
            "timestamp ordering with write intents",
            "every transaction takes one hybrid-logical-clock timestamp; a prepare is refused \
             (no-wait) when another transaction's intent is on its keys, or a key it writes has \
             a committed version or a read at or after its timestamp (the timestamp cache): \
             committed transactions serialize in timestamp order, and nothing waits for a \
             lock, so no deadlock can form"
                .into(),
        ),
        mechanism(
            "bounded clock offset",
            format!(
                "every clock within {offset} ms of true time (chrony/NTP, alert well below it); \
                 a hybrid logical clock refuses remote stamps more than {offset} ms ahead and is \
                 persisted, so a restart never reissues a timestamp"
            ),
        ),
    ];
    match configuration.commit_wait_ms {
        Some(wait) => out.push(mechanism(
            "commit wait",
            format!(
                "a commit is acknowledged only once the coordinator's clock reads past its \
                 timestamp plus {wait} ms (twice the {offset} ms offset bound, as Spanner's \
                 commit wait): a transaction that starts after the acknowledgement, on any node, \
                 takes a larger timestamp, so timestamp order contains real-time order (strict \
                 serializability)"
            ),
        )),
        None => out.push(mechanism(
            "session order",
            "each client carries its last commit's timestamp into its next transaction, so a \
             client's transactions serialize in its own order even across coordinators; other \
             clients' transactions are not ordered by real time (no commit wait)"
                .into(),
        )),
    }
    out
}

fn monitor(metric: &str, threshold: String, why: &str) -> Monitor {
    Monitor {
        metric: metric.to_string(),
        threshold,
        why: why.to_string(),
    }
}

/// What to watch and how to change the cluster without losing its quorum.
pub fn operations(
    env: &Environment,
    configuration: &Configuration,
    figures: &Figures,
    path: WritePath,
) -> Operations {
    let t = &env.timing;
    // The consensus round alone: a transaction's commit latency may be its commit wait, so
    // take the round from its ReadIndex read (one quorum round from the leader).
    let round = match (path, configuration.commit_wait_ms) {
        (WritePath::Leader { .. }, Some(_)) => figures
            .read_latency_ms
            .first()
            .map_or(figures.commit_latency_ms, |r| r.latency_ms),
        _ => figures.commit_latency_ms,
    };
    let mut monitor_list = vec![
        monitor(
            CONSENSUS_LATENCY.name,
            format!(
                "p99 above {} ms (twice the computed consensus round plus the client hop, with \
                 a 10 ms floor for disk)",
                (2.0 * (round + figures.client_hop_ms)).max(10.0)
            ),
            "slow disks or a slow quorum member show up here first",
        ),
        monitor(
            REPLICATION_LAG.name,
            format!(
                "above {:.1} s on any replica",
                t.election_timeout_max_ms as f64 / 1000.0
            ),
            "a replica further behind than one election timeout cannot take over quickly",
        ),
        monitor(
            PARTITION_EVENTS.name,
            "any increase".into(),
            "a peer became unreachable: check the links before a second failure costs the quorum",
        ),
        monitor(
            "fsync duration (disk; not exported by the distsys node)",
            "p99 above 10 ms (etcd's tuning guide)".into(),
            "every commit waits for an fsync; slow disks cause missed heartbeats and elections",
        ),
    ];
    if matches!(path, WritePath::Leader { .. } | WritePath::Byzantine) {
        monitor_list.insert(
            0,
            monitor(
                LEADER_ELECTIONS.name,
                "more than 1 per hour in a healthy cluster".into(),
                "leader flapping: timeouts too tight for the disk or network, or a flaky node",
            ),
        );
    }
    if matches!(path, WritePath::Leaderless { .. }) {
        monitor_list.push(monitor(
            "hinted-handoff backlog (not exported by the distsys node)",
            "growing for longer than one anti-entropy cycle".into(),
            "hints pile up while a replica is down; past their retention, repair must fetch them",
        ));
    }
    if env.context.problem_type == ProblemType::Transaction {
        monitor_list.push(monitor(
            "transactions prepared and undecided (not exported by the distsys node)",
            format!("any older than {} ms", 2 * configuration.request_timeout_ms),
            "a stuck transaction holds its locks (or intents) and blocks every other writer of \
             its keys",
        ));
    }
    Operations {
        monitor: monitor_list,
        runbooks: runbooks(env),
    }
}

/// Membership change and rolling upgrade, with the quorum arithmetic of the group.
fn runbooks(env: &Environment) -> Vec<Runbook> {
    let g = &env.group;
    let spare = g.spare();
    vec![
        Runbook {
            name: "membership change".into(),
            steps: vec![
                "add the new node as a learner (non-voting) and wait until its replication lag \
                     is below one heartbeat"
                    .into(),
                "promote it with one membership change at a time (joint consensus for \
                     several), and check the new configuration is committed before the next"
                    .into(),
                format!(
                    "remove the old node last; never run with more than {spare} of {} voters \
                         down during the change (quorum {})",
                    g.size, g.quorum
                ),
            ],
        },
        Runbook {
            name: "rolling upgrade".into(),
            steps: vec![
                "upgrade one node at a time, followers first; transfer leadership away from \
                     the leader before upgrading it"
                    .into(),
                "after each node: wait for it to be healthy and caught up (replication lag \
                     below one heartbeat) before the next"
                    .into(),
                format!(
                    "at most {} node(s) down at once ({} of {} must stay up); keep the old \
                         version able to read the new one's messages and disk format until every \
                         node runs the new one",
                    spare.min(1),
                    g.quorum,
                    g.size
                ),
            ],
        },
    ]
}
