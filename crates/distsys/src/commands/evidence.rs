//! `advise --evidence`: runs the simulations behind the answer at the context's size and
//! latency and quotes what they measured, as extra rationale entries.

use distsys_core::advice::{Advice, Rationale};
use distsys_core::replication::ReplicationMode;
use distsys_core::{DistributedContext, ProblemType};
use distsys_sim::causal::{run_causal, CausalConfig};
use distsys_sim::leaderless::{run_leaderless_campaign, LeaderlessConfig};
use distsys_sim::replication::{run_replication_campaign, ReplicationConfig};
use distsys_sim::{run_campaign, FaultSet, Protocol, SimConfig};

/// Seeds per measurement: enough for a stable figure, few enough to answer in a second.
const SEEDS: u64 = 20;

fn measured(what: &str, figures: String) -> Rationale {
    Rationale {
        input: format!("measured in simulation: {what}"),
        choice: figures,
    }
}

/// The measured rationale entries for `advice`.
pub fn gather(context: &DistributedContext, advice: &Advice) -> Vec<Rationale> {
    let latency_ms = context
        .network_assumptions
        .latency_ms
        .unwrap_or(1.0)
        .max(0.1);
    match context.problem_type {
        ProblemType::Consensus => vec![consensus(advice, latency_ms)],
        ProblemType::Replication => replication(advice, latency_ms),
        ProblemType::ConflictResolution => vec![conflicts()],
        ProblemType::Partitioning | ProblemType::Transaction => Vec::new(),
    }
}

/// Runs the advised protocol (Raft, Multi-Paxos or PBFT with f byzantine replicas doing
/// everything the adversary can) with the advised timers under every fault.
fn consensus(advice: &Advice, latency_ms: f64) -> Rationale {
    let c = &advice.configuration;
    let name = advice.protocol.name.as_str();
    let protocol = if name.contains("PBFT") {
        Protocol::Pbft
    } else if name.contains("Paxos") {
        Protocol::MultiPaxos
    } else {
        Protocol::Raft
    };
    let mut config = SimConfig::new(1);
    config.protocol = protocol;
    config.nodes = (c.group_size as usize).clamp(1, 51);
    if protocol == Protocol::Pbft {
        if config.nodes < 4 {
            return measured(name, "not simulated: PBFT needs at least 4 replicas".into());
        }
        config.byzantine = (config.nodes - 1) / 3;
    }
    config.duration_ms = 5_000;
    config.latency_ms = latency_ms;
    config.heartbeat_ms = c.heartbeat_ms;
    config.election_timeout_ms = (
        c.timeout_ms,
        c.election_timeout_max_ms.unwrap_or(2 * c.timeout_ms),
    );
    config.faults = FaultSet::all();
    let report = run_campaign(&config, 1, SEEDS, &|_, _| {});
    let byzantine = if protocol == Protocol::Pbft {
        format!(", {} byzantine replica(s) per run", config.byzantine)
    } else {
        String::new()
    };
    let recovery = if protocol == Protocol::Pbft {
        format!(
            "a client operation completed within {:.0} ms of the last fault healing",
            report.worst_first_ok_after_heal_us as f64 / 1000.0
        )
    } else {
        format!(
            "a leader within {:.0} ms of the last fault healing",
            report.worst_leader_after_heal_us as f64 / 1000.0
        )
    };
    measured(
        &format!(
            "{SEEDS} {} runs of 5 s, {} nodes, {latency_ms} ms latency, every fault{byzantine}, these timers",
            protocol.name(),
            config.nodes
        ),
        format!(
            "{} safety or linearizability violation(s); {} leader/view changes; commit latency p50 {:.1} ms, p99 {:.1} ms; {recovery} (worst run)",
            report.failures.len(),
            report.elections_won,
            report.latency_ms(50.0),
            report.latency_ms(99.0),
        ),
    )
}

fn replication(advice: &Advice, latency_ms: f64) -> Vec<Rationale> {
    let c = &advice.configuration;
    if c.replication_mode.as_deref() == Some("leaderless") {
        let n = c.replica_count.unwrap_or(3).clamp(1, 5) as usize;
        let r = c.read_quorum.unwrap_or(2).clamp(1, n as u32) as usize;
        let w = c.write_quorum.unwrap_or(2).clamp(1, n as u32) as usize;
        let report = run_leaderless_campaign(&LeaderlessConfig::new(1, n, r, w), SEEDS);
        return vec![measured(
            &format!("{SEEDS} leaderless runs, N={n} R={r} W={w}, crashes and 2% message loss"),
            format!(
                "{} stale read(s) in {} reads; {} of {} runs converged after read repair ({}), hinted handoff ({}) and anti-entropy ({} keys)",
                report.stale_reads,
                report.reads,
                report.runs - report.diverged_runs,
                report.runs,
                report.read_repairs,
                report.hints_delivered,
                report.anti_entropy_keys
            ),
        )];
    }
    [
        ("sync", ReplicationMode::Sync),
        ("semi_sync (k=1)", ReplicationMode::SemiSync { k: 1 }),
        ("async", ReplicationMode::Async),
    ]
    .into_iter()
    .map(|(name, mode)| {
        let mut base = ReplicationConfig::new(1, mode);
        base.latency_ms = latency_ms;
        base.backups = (c.replica_count.unwrap_or(3).saturating_sub(1) as usize).clamp(1, 16);
        let r = run_replication_campaign(&base, SEEDS);
        let rto = r.rto_ms.last().copied().unwrap_or(0.0);
        measured(
            &format!(
                "{SEEDS} primary-backup runs in {name} mode, {} backup(s), {latency_ms} ms latency, a primary crash and a backup cut off each",
                base.backups
            ),
            format!(
                "write latency p50 {:.1} ms, p99 {:.1} ms; {} acknowledged write(s) lost on failover ({:.2} per failover); {:.1}% of writes not acknowledged; lag up to {} writes; recovery within {rto:.0} ms",
                r.latency_ms(0.5).unwrap_or(0.0),
                r.latency_ms(0.99).unwrap_or(0.0),
                r.lost_acknowledged,
                r.lost_acknowledged as f64 / SEEDS as f64,
                100.0 * r.timed_out as f64 / r.writes.max(1) as f64,
                r.max_lag
            ),
        )
    })
    .collect()
}

fn conflicts() -> Rationale {
    let (mut conflicts, mut wall, mut hlc, mut violations) = (0, 0, 0, 0);
    for seed in 1..=SEEDS {
        let r = run_causal(&CausalConfig::new(seed));
        conflicts += r.conflicts_resolved;
        wall += r.lost_with_wall_clocks;
        hlc += r.lost_with_hlc;
        violations += u64::from(r.violation.is_some());
    }
    measured(
        &format!("{SEEDS} runs of causal broadcast, 4 replicas, clocks up to 50 ms apart"),
        format!(
            "{violations} causality violation(s); {conflicts} concurrent write pairs resolved; last-writer-wins lost {wall} update(s) to their own causes on wall clocks and {hlc} on hybrid logical clocks"
        ),
    )
}
