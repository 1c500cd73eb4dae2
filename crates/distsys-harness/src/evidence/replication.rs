//! Replication evidence: primary-backup runs in each mode, or leaderless N/R/W runs; and
//! causal broadcast for conflict resolution.

use super::{measured, SEEDS};
use distsys_advisor::advice::{Advice, Rationale};
use distsys_patterns::replication::ReplicationMode;
use distsys_sim::causal::{run_causal, CausalConfig};
use distsys_sim::leaderless::{run_leaderless_campaign, LeaderlessConfig};
use distsys_sim::replication::{run_replication_campaign, ReplicationConfig};

/// Replication runs for the advised mode (or every mode) at the context's latency.
pub fn replication(advice: &Advice, latency_ms: f64) -> Vec<Rationale> {
    let c = &advice.configuration;
    if c.replication_mode.as_deref() == Some("leaderless") {
        let n = c.replica_count.unwrap_or(3).clamp(1, 15) as usize;
        let r = c.read_quorum.unwrap_or(2).clamp(1, n as u32) as usize;
        let w = c.write_quorum.unwrap_or(2).clamp(1, n as u32) as usize;
        let mut config = LeaderlessConfig::new(1, n, r, w);
        config.nodes = config.nodes.max(n);
        let report = run_leaderless_campaign(&config, SEEDS);
        return vec![measured(
            &format!(
                "{SEEDS} leaderless runs, N={n} R={r} W={w} (strict quorums), {} nodes, crashes, \
                 partitions and 2% message loss",
                config.nodes
            ),
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

/// Causal broadcast runs: causality violations and last-writer-wins losses.
pub fn conflicts() -> Rationale {
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
