//! Many seeds, run in parallel on every core, summarised.

use crate::sim::{RunReport, SimConfig, Simulation, Violation};
use rayon::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};

/// The summary of a campaign.
#[derive(Debug, Clone, Default)]
pub struct CampaignReport {
    /// Runs done.
    pub runs: u64,
    /// Failing runs, in seed order.
    pub failures: Vec<RunReport>,
    /// Elections won, all runs.
    pub elections_won: u64,
    /// Entries committed, all runs.
    pub commits: u64,
    /// Client operations: attempted, ok, unknown.
    pub ops: (u64, u64, u64),
    /// Successful write latencies (microseconds), all runs, sorted.
    pub write_latencies_us: Vec<u64>,
    /// Worst time from healing to a leader, microseconds.
    pub worst_leader_after_heal_us: u64,
    /// Worst time from healing to every client operation done, microseconds.
    pub worst_clients_done_after_heal_us: u64,
    /// Events processed.
    pub events: u64,
    /// Elections: won, timed out alone, split vote.
    pub election_results: (u64, u64, u64),
    /// Latencies of completed operations by type, microseconds.
    pub latency_by_operation_us: std::collections::BTreeMap<String, Vec<u64>>,
    /// Worst replication lag per follower, seconds.
    pub replication_lag_seconds: std::collections::BTreeMap<u64, f64>,
    /// Partitions injected and healed.
    pub partitions: (u64, u64),
    /// Messages honest replicas refused, by reason, over every run.
    pub rejected: std::collections::BTreeMap<&'static str, u64>,
    /// Worst time from the faults healing to the first client operation completing.
    pub worst_first_ok_after_heal_us: u64,
}

impl CampaignReport {
    /// One line per failing run: its seed, the property it broke and the evidence, and the
    /// byzantine replicas it had, if any (for assertion messages and logs).
    pub fn failure_lines(&self) -> Vec<String> {
        self.failures
            .iter()
            .map(|r| {
                let byzantine = if r.byzantine.is_empty() {
                    String::new()
                } else {
                    format!(" byzantine {:?}", r.byzantine)
                };
                format!("seed {}: {:?}{byzantine}", r.seed, r.violation)
            })
            .collect()
    }

    /// A percentile (0..=100) of write latency, in milliseconds.
    pub fn latency_ms(&self, percentile: f64) -> f64 {
        crate::stats::percentile(&self.write_latencies_us, percentile / 100.0)
            .map_or(0.0, |us| us as f64 / 1000.0)
    }
}

/// Runs `seeds` consecutive seeds from `first_seed` with `base` as the template;
/// `progress` is called after each run with (done, total).
pub fn run_campaign(
    base: &SimConfig,
    first_seed: u64,
    seeds: u64,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> CampaignReport {
    let done = AtomicU64::new(0);
    let mut reports: Vec<RunReport> = (first_seed..first_seed + seeds)
        .into_par_iter()
        .map(|seed| {
            let mut config = base.clone();
            config.seed = seed;
            config.trace = false;
            let report = run_one(config);
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, seeds);
            report
        })
        .collect();
    reports.sort_by_key(|r| r.seed);
    let mut summary = CampaignReport {
        runs: seeds,
        ..CampaignReport::default()
    };
    for r in reports {
        summary.elections_won += r.elections_won;
        summary.commits += r.commits;
        summary.ops.0 += r.ops_total;
        summary.ops.1 += r.ops_ok;
        summary.ops.2 += r.ops_unknown;
        summary.events += r.events;
        summary.worst_leader_after_heal_us = summary
            .worst_leader_after_heal_us
            .max(r.leader_after_heal_us.unwrap_or(0));
        summary.worst_clients_done_after_heal_us = summary
            .worst_clients_done_after_heal_us
            .max(r.clients_done_after_heal_us.unwrap_or(0));
        summary
            .write_latencies_us
            .extend(r.write_latencies_us.iter().copied());
        summary.election_results.0 += r.election_results.0;
        summary.election_results.1 += r.election_results.1;
        summary.election_results.2 += r.election_results.2;
        summary.worst_first_ok_after_heal_us = summary
            .worst_first_ok_after_heal_us
            .max(r.first_ok_after_heal_us.unwrap_or(0));
        for (reason, count) in &r.rejected {
            *summary.rejected.entry(reason).or_default() += count;
        }
        summary.partitions.0 += r.partitions.0;
        summary.partitions.1 += r.partitions.1;
        for (kind, samples) in &r.latency_by_operation_us {
            summary
                .latency_by_operation_us
                .entry(kind.clone())
                .or_default()
                .extend(samples.iter().copied());
        }
        for (follower, lag) in &r.replication_lag_seconds {
            let worst = summary
                .replication_lag_seconds
                .entry(*follower)
                .or_insert(0.0);
            *worst = worst.max(*lag);
        }
        if r.violation.is_some() {
            summary.failures.push(r);
        }
    }
    summary.write_latencies_us.sort_unstable();
    summary
}

/// Runs seeds from `first_seed` in batches of `batch` (each batch in parallel) until one breaks a
/// property, trying at most `budget` seeds: the first failing run, or `None` when all passed.
/// This is how a seeded bug is shown to be caught within a fixed seed budget.
pub fn first_failure(
    base: &SimConfig,
    first_seed: u64,
    budget: u64,
    batch: u64,
) -> Option<RunReport> {
    let batch = batch.max(1);
    let mut next = first_seed;
    while next < first_seed + budget {
        let size = batch.min(first_seed + budget - next);
        let summary = run_campaign(base, next, size, &|_, _| {});
        if let Some(failure) = summary.failures.into_iter().next() {
            return Some(failure);
        }
        next += size;
    }
    None
}

/// Runs one seed; a panic inside the protocol (a failed `debug_assert!` invariant, say) is a
/// detected bug like any other and is reported as an `assertion` violation of that seed.
pub fn run_one(config: SimConfig) -> RunReport {
    let seed = config.seed;
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Simulation::new(config).run()
    })) {
        Ok(report) => report,
        Err(payload) => {
            let detail = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic without a message".to_string());
            RunReport {
                seed,
                violation: Some(Violation {
                    property: "assertion".into(),
                    detail,
                    time_us: 0,
                }),
                ..RunReport::default()
            }
        }
    }
}
