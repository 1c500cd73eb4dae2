//! `problem_type: replication`: synchronous, semi-synchronous, asynchronous or leaderless.
//!
//! Decision rule (by consistency, strongest first):
//! - byzantine -> BFT state machine replication (PBFT).
//! - linearizable -> `sync`: writes replicated through a consensus log (Raft) and acknowledged
//!   by a majority; failover is an election, reads use ReadIndex. RPO 0.
//! - sequential -> `semi_sync`: the primary waits for `k = max(1, f)` backups, so any `f` crashes
//!   leave a copy of every acknowledged write; a consensus-elected failover picks the most
//!   up-to-date backup; followers serve reads at or after the client's session position. RPO 0.
//! - causal -> `async` primary-backup with session tokens: backups apply the primary's log in
//!   order (which respects causality), reads never go behind the client's own writes. RPO > 0.
//! - eventual -> `leaderless` (Dynamo): `N = 2f+1` replicas, `W = f+1` (an acknowledged write
//!   survives `f` crashes and writes stay available with `f` down), `R = 1` (`R + W <= N`: reads
//!   may be stale until read repair or anti-entropy), hinted handoff, Merkle-tree anti-entropy.

use super::environment::Environment;
use super::figures::{Fencing, WritePath};
use super::scenarios::{self, scenario};
use super::{consensus, rationale, Answer};
use crate::advice::{FailureScenario, Protocol, Warning};
use crate::context::Consistency;

/// The answer for a replication problem.
pub fn answer(env: &Environment) -> Answer {
    if env.byzantine() {
        let mut answer = consensus::answer(env);
        answer.protocol.name = "BFT state machine replication (PBFT)".into();
        answer.rationale.insert(
            0,
            rationale(
                "problem_type=replication, byzantine=true",
                "replicas may lie, so copies are kept consistent by running every write through PBFT",
            ),
        );
        return answer;
    }
    match env.consistency() {
        Consistency::Linearizable => sync(env),
        Consistency::Sequential => semi_sync(env),
        Consistency::Causal => asynchronous(env),
        Consistency::Eventual => leaderless(env),
    }
}

fn sync(env: &Environment) -> Answer {
    let mut answer = consensus::answer(env);
    let g = env.group;
    answer.protocol.name = format!("Synchronous quorum replication ({})", answer.protocol.name);
    answer.configuration.replication_mode = Some("sync".into());
    answer.configuration.replica_count = Some(g.size);
    answer.configuration.sync_replicas = Some(g.quorum - 1);
    answer.rationale.insert(
        0,
        rationale(
            "consistency_requirement=linearizable",
            &format!(
                "synchronous replication to a majority through a consensus log: a write is \
                 acknowledged when {} of {} replicas hold it durably, so failover (an election) \
                 never loses it and needs no operator; waiting for all {} would stop writes at the \
                 first replica failure",
                g.quorum, g.size, g.size
            ),
        ),
    );
    answer
}

fn semi_sync(env: &Environment) -> Answer {
    let g = env.group;
    let k = g.f.max(1).min(g.size - 1);
    let mut configuration = env.base_configuration();
    configuration.replication_mode = Some("semi_sync".into());
    configuration.replica_count = Some(g.size);
    configuration.sync_replicas = Some(k);
    configuration.read_path = Some("session".into());
    let mut failure_scenarios = vec![
        scenario(
            "primary crash",
            format!(
                "Every acknowledged write is on the primary and at least {k} backup(s); with at most \
                 {} crash(es) one copy survives. Writes stall for one failure-detection timeout \
                 ({} ms).",
                g.f, env.timing.election_timeout_min_ms
            ),
            format!(
                "A consensus-elected coordinator promotes the backup with the longest log among at \
                 least {} of the {} backups (n - k: one of them holds every acknowledged write; a \
                 bare majority vote can miss it when k + 1 + majority <= n, as `distsys simulate \
                 --model replication --mode semisync --far-latency-ms 20 --backups 4` shows); the \
                 others truncate anything beyond it and resync. Clients retry with their \
                 idempotency keys.",
                g.size - k,
                g.size - 1
            ),
        ),
        scenario(
            "slow backup",
            format!(
                "The primary waits only for the fastest {k} of {} backups; a slow one lags without \
                 slowing writes until fewer than {k} backups are responsive.",
                g.size - 1
            ),
            "If fewer than k backups answer within the request timeout, writes fail (never \
             acknowledged without k copies); the lagging backup catches up from the primary's log."
                .into(),
        ),
        scenarios::minority_partition(env, scenarios::Family::PrimaryBackup),
    ];
    failure_scenarios.extend(scenarios::region_loss(env, env.group.quorum));
    Answer {
        write_path: WritePath::Leader {
            acks: k,
            rounds: 1,
            fencing: Fencing::Epoch,
        },
        protocol: Protocol {
            name: "Semi-synchronous primary-backup".into(),
            description: format!(
                "One primary orders writes and acknowledges each once {k} backup(s) have it; the \
                 remaining backups replicate asynchronously."
            ),
            correctness_guarantee: format!(
                "Sequential consistency (one order of writes, each client's operations in program \
                 order via session positions); no acknowledged write lost with up to {} crash(es), \
                 provided failover is decided by consensus (no two primaries).",
                g.f
            ),
        },
        configuration,
        failure_scenarios,
        rationale: vec![rationale(
            "consistency_requirement=sequential",
            &format!(
                "semi-synchronous replication with k = max(1, f) = {k}: cheaper than a majority \
                 round when f is small, and still loses no acknowledged write to f crashes"
            ),
        )],
        warnings: Vec::new(),
    }
}

fn asynchronous(env: &Environment) -> Answer {
    let g = env.group;
    let mut configuration = env.base_configuration();
    configuration.replication_mode = Some("async".into());
    configuration.replica_count = Some(g.size);
    configuration.sync_replicas = Some(0);
    configuration.quorum_size = 1;
    configuration.read_path = Some("session".into());
    let mut failure_scenarios = vec![
        primary_crash_async(),
        scenario(
            "replication lag",
            "When writes arrive faster than backups apply them the lag grows by the difference \
             every second (1000 writes/s applied at 800/s for 60 s is 12,000 writes behind)."
                .into(),
            "Alert on replication_lag_seconds; add apply parallelism or throttle writers.".into(),
        ),
        scenarios::divergent_partition("backups resume from the primary's log position"),
    ];
    failure_scenarios.extend(scenarios::region_loss(env, 1));
    Answer {
        write_path: WritePath::Leader {
            acks: 0,
            rounds: 1,
            fencing: Fencing::Epoch,
        },
        protocol: Protocol {
            name: "Asynchronous primary-backup with causal sessions".into(),
            description: "The primary acknowledges a write at once and streams its log to the \
                          backups, which apply it in order; clients carry the last log position \
                          they saw and a replica serves them only once it has applied that far."
                .into(),
            correctness_guarantee: "Causal consistency (read-your-writes, monotonic reads, \
                                    writes-follow-reads) while the primary lives; acknowledged \
                                    writes not yet shipped are lost if the primary dies (RPO = \
                                    replication lag)."
                .into(),
        },
        configuration,
        failure_scenarios,
        rationale: vec![rationale(
            "consistency_requirement=causal",
            "asynchronous replication: lowest write latency (no backup round trip); the primary's \
             log order already respects causality and session positions give each client its causal view",
        )],
        warnings: vec![Warning {
            code: "async_data_loss".into(),
            message: "asynchronous replication loses the acknowledged writes not yet shipped when \
                      the primary crashes; use semi_sync (consistency: sequential) if that is not acceptable"
                .into(),
        }],
    }
}

fn primary_crash_async() -> FailureScenario {
    scenario(
        "primary crash",
        "Writes acknowledged by the primary but not yet shipped are lost: the recovery point is \
         the replication lag at the moment of the crash."
            .into(),
        "Promote the most up-to-date backup (by log position); the old primary, when it returns, \
         discards its unshipped tail and rejoins as a backup."
            .into(),
    )
}

fn leaderless(env: &Environment) -> Answer {
    let g = env.group;
    let f = g.f.min(crate::quorum::max_crash_faults(g.size));
    let n = u32::try_from(crate::quorum::min_nodes_crash(u64::from(f)))
        .unwrap_or(u32::MAX)
        .min(g.size);
    let w = f + 1;
    let r = 1;
    let mut configuration = env.base_configuration();
    configuration.replication_mode = Some("leaderless".into());
    configuration.replica_count = Some(n);
    configuration.write_quorum = Some(w);
    configuration.read_quorum = Some(r);
    configuration.quorum_size = w;
    configuration.election_timeout_max_ms = None;
    configuration.read_path = Some("quorum".into());
    configuration.clock = Some("version_vector".into());
    let mut failure_scenarios = vec![
        scenario(
            "replica down",
            format!(
                "Writes need {w} of {n} replicas and reads {r}; with up to {f} replica(s) down both \
                 stay available (a sloppy quorum stores the write on a stand-in node with a hint)."
            ),
            "Hinted handoff delivers the stand-in's writes when the replica returns; Merkle-tree \
             anti-entropy repairs whatever the hints missed."
                .into(),
        ),
        stale_read(n, r, w),
        scenarios::divergent_partition(
            "concurrent versions are kept as siblings (version vectors) and merged by the client",
        ),
        scenarios::replica_disk_loss(n, w),
    ];
    if n == g.size {
        failure_scenarios.extend(scenarios::region_loss(env, w));
    }
    Answer {
        write_path: WritePath::Leaderless { n, w, r },
        protocol: Protocol {
            name: "Leaderless quorum replication (Dynamo-style)".into(),
            description: format!(
                "Any replica coordinates a write; it is acknowledged once W={w} of N={n} replicas \
                 store it, and a read asks R={r}; read repair, hinted handoff and Merkle-tree \
                 anti-entropy make replicas converge."
            ),
            correctness_guarantee: format!(
                "Eventual consistency: every acknowledged write survives {f} crash(es) and all \
                 replicas converge once writes stop; concurrent writes are kept as siblings, never \
                 silently dropped."
            ),
        },
        configuration,
        failure_scenarios,
        rationale: vec![rationale(
            "consistency_requirement=eventual",
            &format!(
                "leaderless quorums, N = 2f+1 = {n}, W = f+1 = {w} (durable against f crashes, \
                 available with f down), R = 1 for the lowest read latency; R + W > N would be \
                 needed for read-your-latest-write"
            ),
        )],
        warnings: Vec::new(),
    }
}

fn stale_read(n: u32, r: u32, w: u32) -> FailureScenario {
    if r + w <= n {
        scenario(
            "stale read",
            format!("R + W = {} <= N = {n}: a read may miss the latest acknowledged write.", r + w),
            "Read repair writes the newest version back to stale replicas; read with R = N - W + 1 \
             when a read must see the latest write."
                .into(),
        )
    } else {
        scenario(
            "stale read",
            format!(
                "R + W = {} > N = {n}: every read quorum overlaps every write quorum, so a read \
                 sees the latest acknowledged write (while no sloppy quorum is in use).",
                r + w
            ),
            "Read repair brings the replicas that answered with an older version up to date."
                .into(),
        )
    }
}
