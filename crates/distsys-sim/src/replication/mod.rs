//! Primary-backup replication simulated, failover included: a primary takes writes at a steady
//! rate and ships them to its backups; the mode decides when a write is acknowledged (sync:
//! every backup of the configuration has it durably; semi-sync: `k` have; async: the primary
//! alone).
//!
//! Failover has no oracle. Each backup runs a failure detector (the primary's heartbeats, every
//! `heartbeat_ms`; silence for `detect_ms` is a suspicion), and a suspecting backup stands for
//! election: a pre-vote round, then a vote in which a majority of all members must grant it
//! (each member votes once per epoch, only for a log at least as up to date as its own, and only
//! if it too has stopped hearing the primary). The winner's epoch fences the old primary:
//! members that voted refuse the older epoch's stream, and a primary that hears of a newer epoch
//! steps down. Logs converge by a log-matching check (an entry is accepted only after the entry
//! before it, with its epoch, matches).
//!
//! Faults ([`FailureScenario`]): a primary crash; the primary and the backup with the longest
//! log crashing together (the double failure that semi-sync with `k = 1` cannot survive without
//! loss); the primary cut off from every backup while it keeps serving its clients. Every run
//! also cuts backup 1 off from the primary for a while. Measured: write latency, replication lag,
//! acknowledged writes missing from the final primary's log (RPO), time from the fault to the
//! first write a newer primary acknowledged (RTO), and runs left without a primary. A crash loses
//! the crashed node's messages still in flight. Deterministic per seed.

mod election;
mod run;

use distsys_patterns::replication::ReplicationMode;
use rayon::prelude::*;

pub use run::run_replication;

/// The fault a run injects at [`ReplicationConfig::fault_at_ms`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureScenario {
    /// The primary crashes for good.
    PrimaryCrash,
    /// The primary and the backup holding the longest log crash together.
    PrimaryAndBackupCrash,
    /// The primary is cut off from every backup for [`ReplicationConfig::isolation_ms`]; it stays
    /// up and its clients keep writing to it until a new primary is elected.
    PrimaryIsolated,
}

impl FailureScenario {
    /// Every scenario, in the order reports list them.
    pub const ALL: [FailureScenario; 3] = [
        FailureScenario::PrimaryCrash,
        FailureScenario::PrimaryAndBackupCrash,
        FailureScenario::PrimaryIsolated,
    ];

    /// The name the CLI takes.
    pub fn name(self) -> &'static str {
        match self {
            FailureScenario::PrimaryCrash => "primary-crash",
            FailureScenario::PrimaryAndBackupCrash => "primary-and-backup-crash",
            FailureScenario::PrimaryIsolated => "primary-isolated",
        }
    }

    /// The scenario of a CLI name (None when there is none).
    pub fn parse(name: &str) -> Option<FailureScenario> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// Parameters of one primary-backup run.
#[derive(Debug, Clone)]
pub struct ReplicationConfig {
    /// Seed of every random choice.
    pub seed: u64,
    /// When a write is acknowledged.
    pub mode: ReplicationMode,
    /// Backups (the primary not counted): the group has `backups + 1` members.
    pub backups: usize,
    /// Virtual duration, in milliseconds.
    pub duration_ms: u64,
    /// Writes per second offered to the primary.
    pub writes_per_second: u64,
    /// One-way latency between members, in milliseconds (jittered 0.75-1.5x).
    pub latency_ms: f64,
    /// Two zones: members 0 and 1 (the first primary and backup 1) in one, the others in a
    /// second one this far away (one-way, milliseconds). None: one zone.
    pub far_latency_ms: Option<f64>,
    /// Writes per second a backup applies (below the write rate, lag grows).
    pub apply_per_second: u64,
    /// The fault injected.
    pub scenario: FailureScenario,
    /// When the fault happens (None: never), in milliseconds.
    pub fault_at_ms: Option<u64>,
    /// How long [`FailureScenario::PrimaryIsolated`] keeps the primary cut off, in milliseconds.
    pub isolation_ms: u64,
    /// Heartbeat interval of the primary (and the detector's check interval), in milliseconds.
    pub heartbeat_ms: u64,
    /// Silence after which a backup suspects the primary, in milliseconds (each backup adds a
    /// seeded jitter of up to half of it, drawn again each time it stands, so that candidates
    /// do not keep splitting the vote).
    pub detect_ms: u64,
    /// A window during which backup 1 is cut off from the primary, in milliseconds.
    pub partition_ms: Option<(u64, u64)>,
    /// How long a client waits for its acknowledgement, in milliseconds.
    pub timeout_ms: u64,
}

impl ReplicationConfig {
    /// 2 backups, 10 s, 1000 writes/s, 1 ms latency, backups apply 1200/s, the primary crashes
    /// somewhere in 4-6 s (seeded), heartbeats every 50 ms, suspicion after 300 ms, backup 1 cut
    /// off during 1-2.5 s.
    pub fn new(seed: u64, mode: ReplicationMode) -> ReplicationConfig {
        let fault = 4_000 + seed.wrapping_mul(0x9e37_79b9) % 2_000;
        ReplicationConfig {
            seed,
            mode,
            backups: 2,
            duration_ms: 10_000,
            writes_per_second: 1_000,
            latency_ms: 1.0,
            far_latency_ms: None,
            apply_per_second: 1_200,
            scenario: FailureScenario::PrimaryCrash,
            fault_at_ms: Some(fault),
            isolation_ms: 2_000,
            heartbeat_ms: 50,
            detect_ms: 300,
            partition_ms: Some((1_000, 2_500)),
            timeout_ms: 1_000,
        }
    }

    /// Members of the group (primary and backups).
    pub fn members(&self) -> usize {
        self.backups + 1
    }
}

/// What one run (or a campaign of runs) measured.
#[derive(Debug, Clone, Default)]
pub struct ReplicationReport {
    /// Runs.
    pub runs: u64,
    /// Writes offered.
    pub writes: u64,
    /// Writes acknowledged to their client.
    pub acknowledged: u64,
    /// Acknowledged writes missing from the log of the primary serving at the end (RPO, in
    /// writes); runs without a primary at the end are counted in `without_primary` instead.
    pub lost_acknowledged: u64,
    /// Writes that timed out or were refused (not acknowledged).
    pub timed_out: u64,
    /// Latency of acknowledged writes, in microseconds (sorted).
    pub latencies_us: Vec<u64>,
    /// Largest number of writes a backup had received but not applied, or not received.
    pub max_lag: u64,
    /// Time from the fault to the first write acknowledged by a newer primary, per run that
    /// recovered, in ms.
    pub rto_ms: Vec<f64>,
    /// Elections won (failovers).
    pub failovers: u64,
    /// Runs with a fault after which no newer primary acknowledged a write.
    pub unrecovered: u64,
    /// Runs that ended with no live primary (no majority could elect one).
    pub without_primary: u64,
}

impl ReplicationReport {
    /// Latency percentile in milliseconds.
    pub fn latency_ms(&self, p: f64) -> Option<f64> {
        crate::stats::percentile(&self.latencies_us, p).map(|us| us as f64 / 1000.0)
    }

    fn add(&mut self, r: ReplicationReport) {
        self.runs += r.runs;
        self.writes += r.writes;
        self.acknowledged += r.acknowledged;
        self.lost_acknowledged += r.lost_acknowledged;
        self.timed_out += r.timed_out;
        self.latencies_us.extend(r.latencies_us);
        self.max_lag = self.max_lag.max(r.max_lag);
        self.rto_ms.extend(r.rto_ms);
        self.failovers += r.failovers;
        self.unrecovered += r.unrecovered;
        self.without_primary += r.without_primary;
    }
}

/// Runs `seeds` consecutive seeds from `base.seed` in parallel and adds their reports up. Each
/// seed keeps `base`'s parameters except the fault time, which is drawn per seed as
/// [`ReplicationConfig::new`] does (unless `base` has no fault).
pub fn run_replication_campaign(base: &ReplicationConfig, seeds: u64) -> ReplicationReport {
    let reports: Vec<ReplicationReport> = (base.seed..base.seed + seeds)
        .into_par_iter()
        .map(|seed| {
            let mut config = base.clone();
            config.seed = seed;
            if base.fault_at_ms.is_some() {
                config.fault_at_ms = ReplicationConfig::new(seed, base.mode).fault_at_ms;
            }
            run_replication(&config)
        })
        .collect();
    let mut total = ReplicationReport::default();
    for r in reports {
        total.add(r);
    }
    total.latencies_us.sort_unstable();
    total.rto_ms.sort_by(f64::total_cmp);
    total
}
