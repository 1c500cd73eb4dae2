//! Many seeds, run in parallel on every core, summarised.

use crate::sim::{FailureKind, RunReport, SimConfig, Simulation, Violation};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// A run that broke a property: what a campaign keeps of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedRun {
    /// The seed (replays the run).
    pub seed: u64,
    /// The property broken and the evidence.
    pub violation: Option<Violation>,
    /// The last trace lines before the violation.
    pub tail: Vec<String>,
    /// The byzantine replicas of the run and what each did.
    pub byzantine: BTreeMap<u64, Vec<String>>,
}

impl FailedRun {
    fn of(run: RunReport) -> FailedRun {
        FailedRun {
            seed: run.seed,
            violation: run.violation,
            tail: run.tail,
            byzantine: run
                .byzantine
                .into_iter()
                .map(|(id, b)| (id, b.into_iter().map(str::to_string).collect()))
                .collect(),
        }
    }
}

/// The summary of a campaign. Serializable (`simulate --report-json`), and the summaries of
/// disjoint seed ranges merge ([`CampaignReport::merge`]) into exactly the summary of their
/// union run at once.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CampaignReport {
    /// Runs done.
    pub runs: u64,
    /// Failing runs, in seed order.
    pub failures: Vec<FailedRun>,
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
    pub rejected: BTreeMap<String, u64>,
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

    /// Adds the summary of a disjoint seed range: sums, worst cases and samples combine so
    /// that merging the shards of a campaign in any order gives the unsharded summary.
    pub fn merge(&mut self, other: CampaignReport) {
        self.runs += other.runs;
        self.failures.extend(other.failures);
        self.failures.sort_by_key(|f| f.seed);
        self.elections_won += other.elections_won;
        self.commits += other.commits;
        self.ops.0 += other.ops.0;
        self.ops.1 += other.ops.1;
        self.ops.2 += other.ops.2;
        self.write_latencies_us.extend(other.write_latencies_us);
        self.write_latencies_us.sort_unstable();
        self.worst_leader_after_heal_us = self
            .worst_leader_after_heal_us
            .max(other.worst_leader_after_heal_us);
        self.worst_clients_done_after_heal_us = self
            .worst_clients_done_after_heal_us
            .max(other.worst_clients_done_after_heal_us);
        self.events += other.events;
        self.election_results.0 += other.election_results.0;
        self.election_results.1 += other.election_results.1;
        self.election_results.2 += other.election_results.2;
        for (kind, mut samples) in other.latency_by_operation_us {
            let mine = self.latency_by_operation_us.entry(kind).or_default();
            mine.append(&mut samples);
            mine.sort_unstable();
        }
        for (follower, lag) in other.replication_lag_seconds {
            let worst = self.replication_lag_seconds.entry(follower).or_insert(0.0);
            *worst = worst.max(lag);
        }
        self.partitions.0 += other.partitions.0;
        self.partitions.1 += other.partitions.1;
        for (reason, count) in other.rejected {
            *self.rejected.entry(reason).or_default() += count;
        }
        self.worst_first_ok_after_heal_us = self
            .worst_first_ok_after_heal_us
            .max(other.worst_first_ok_after_heal_us);
    }

    /// How fast the worst run recovered after the heal, as a phrase: the first completed client
    /// operation for protocols whose every replica answers, else the first leader.
    pub fn recovery_phrase(&self, every_replica_answers: bool) -> String {
        if every_replica_answers {
            format!(
                "a client operation completed within {:.0} ms",
                self.worst_first_ok_after_heal_us as f64 / 1000.0
            )
        } else {
            format!(
                "a leader within {:.0} ms",
                self.worst_leader_after_heal_us as f64 / 1000.0
            )
        }
    }

    /// Failing runs by kind, every kind listed (0 when none).
    pub fn failures_by_kind(&self) -> Vec<(FailureKind, u64)> {
        FailureKind::ALL
            .iter()
            .map(|kind| {
                let count = self
                    .failures
                    .iter()
                    .filter(|r| r.violation.as_ref().is_some_and(|v| v.kind() == *kind))
                    .count() as u64;
                (*kind, count)
            })
            .collect()
    }

    /// Failing runs of a kind.
    pub fn failures_of(&self, kind: FailureKind) -> u64 {
        self.failures_by_kind()
            .into_iter()
            .find(|(k, _)| *k == kind)
            .map_or(0, |(_, n)| n)
    }

    /// `safety 0, linearizability 0, liveness 1, runaway 0, assertion 0`.
    pub fn failures_summary(&self) -> String {
        self.failures_by_kind()
            .iter()
            .map(|(kind, n)| format!("{} {n}", kind.name()))
            .collect::<Vec<_>>()
            .join(", ")
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
            *summary.rejected.entry(reason.to_string()).or_default() += count;
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
            summary.failures.push(FailedRun::of(r));
        }
    }
    summary.write_latencies_us.sort_unstable();
    for samples in summary.latency_by_operation_us.values_mut() {
        samples.sort_unstable();
    }
    summary
}

/// The seeds of shard `index` (0-based) of `shards` over `seeds` seeds from `first_seed`: a
/// contiguous block, the blocks of all shards covering the range exactly once. Returns
/// `(first seed, number of seeds)`.
pub fn shard_range(first_seed: u64, seeds: u64, index: u64, shards: u64) -> (u64, u64) {
    debug_assert!(shards >= 1 && index < shards);
    let start = |i: u64| (u128::from(seeds) * u128::from(i) / u128::from(shards)) as u64;
    let (from, to) = (start(index), start(index + 1));
    (first_seed + from, to - from)
}

/// Runs seeds from `first_seed` in batches of `batch` (each batch in parallel) until one breaks a
/// property, trying at most `budget` seeds: the first failing run, or `None` when all passed.
/// This is how a seeded bug is shown to be caught within a fixed seed budget.
pub fn first_failure(
    base: &SimConfig,
    first_seed: u64,
    budget: u64,
    batch: u64,
) -> Option<FailedRun> {
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
