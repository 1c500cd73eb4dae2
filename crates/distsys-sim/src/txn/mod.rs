//! Transactions over many Raft groups, simulated (`distsys simulate --model txn`): the key
//! space split over `groups` groups by jump consistent hashing, every group a set of replicas
//! of the real Raft core (`distsys_consensus::raft`) placed one per simulated node, so a node
//! crash or partition hits every group at once. On top, a sans-IO transaction layer: MVCC at
//! hybrid-logical-clock timestamps, write intents and transaction records replicated through
//! the groups' logs, atomic commit by classic 2PC or by parallel commits, recovery of a
//! crashed coordinator's transactions by any node, no-wait conflicts with retries.
//!
//! - [`types`]: timestamps, operations, commands and replies;
//! - [`store`]: one group's state machine (MVCC, intents, votes, records);
//! - [`coordinator`]: the commit and recovery protocols;
//! - [`driver`]: nodes, network, faults, clients; [`workload`]: transactions and history;
//! - [`invariants`]: the per-step and end-of-run checks beside the isolation checker.
//!
//! Every history goes through the isolation checker (`distsys_check::txn`), judged strong
//! session serializable (the claim, [`CLAIMED`]; see `docs/transactions.md`).

pub mod coordinator;
pub mod driver;
pub mod invariants;
pub mod store;
pub mod types;
pub mod workload;

pub use types::CommitProtocol;

use distsys_check::txn::{check_txn, Consistency, TxnHistory, TxnModel, TxnOptions, TxnVerdict};
use rayon::prelude::*;

/// A seeded bug in the transaction layer, each caught by the checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TxnMutant {
    /// Writes skip the conflict checks (intents, newer versions, later reads): lost updates.
    SkipWwConflictCheck,
    /// Reads see other transactions' intents as if committed: G1a.
    ReadUncommittedIntents,
    /// The coordinator commits even when a participant refused: atomicity.
    CommitWithoutAllPrepared,
    /// The decision lives in the coordinator only (no record): lost when it crashes.
    CoordinatorOnlyDecision,
    /// A repeated commit installs the writes again: duplicate appends.
    NonIdempotentCommitRetry,
}

impl TxnMutant {
    /// Every mutant.
    pub const ALL: [TxnMutant; 5] = [
        TxnMutant::SkipWwConflictCheck,
        TxnMutant::ReadUncommittedIntents,
        TxnMutant::CommitWithoutAllPrepared,
        TxnMutant::CoordinatorOnlyDecision,
        TxnMutant::NonIdempotentCommitRetry,
    ];

    /// The name the CLI spells.
    pub fn name(self) -> &'static str {
        match self {
            TxnMutant::SkipWwConflictCheck => "skip-ww-conflict-check",
            TxnMutant::ReadUncommittedIntents => "read-uncommitted-intents",
            TxnMutant::CommitWithoutAllPrepared => "commit-without-all-prepared",
            TxnMutant::CoordinatorOnlyDecision => "coordinator-only-decision",
            TxnMutant::NonIdempotentCommitRetry => "non-idempotent-commit-retry",
        }
    }
}

impl TxnMutant {
    /// What the bug does and what catches it.
    pub fn description(self) -> &'static str {
        match self {
            TxnMutant::SkipWwConflictCheck => {
                "writes skip the conflict checks: lost updates (G2, G-single, lost-update)"
            }
            TxnMutant::ReadUncommittedIntents => {
                "reads see uncommitted intents: aborted reads (G1a)"
            }
            TxnMutant::CommitWithoutAllPrepared => {
                "commits although a participant refused: partial commits (atomicity)"
            }
            TxnMutant::CoordinatorOnlyDecision => {
                "the decision is kept by the coordinator only: lost on its crash (atomicity, lost-commit)"
            }
            TxnMutant::NonIdempotentCommitRetry => {
                "a repeated commit installs the writes again (duplicate-elements, duplicate-install)"
            }
        }
    }
}

impl std::str::FromStr for TxnMutant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        TxnMutant::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = TxnMutant::ALL.iter().map(|m| m.name()).collect();
                format!("unknown txn mutant {s:?} ({})", names.join(", "))
            })
    }
}

/// One run's parameters.
#[derive(Debug, Clone)]
pub struct TxnSimConfig {
    /// Seed.
    pub seed: u64,
    /// Raft groups (shards).
    pub groups: usize,
    /// Simulated nodes, each hosting one replica of every group.
    pub nodes: usize,
    /// Keys per group (few: contention is the point).
    pub keys_per_group: u32,
    /// Concurrent clients.
    pub clients: usize,
    /// Virtual duration in ms (faults and new transactions stop at 60%).
    pub duration_ms: u64,
    /// One-way network latency in ms.
    pub latency_ms: u64,
    /// Crashes, partitions, message loss and duplication, clock skew.
    pub faults: bool,
    /// The commit protocol.
    pub protocol: CommitProtocol,
    /// The data model.
    pub model: TxnModel,
    /// A seeded bug.
    pub mutant: Option<TxnMutant>,
    /// Keys drawn by Zipf rank with this exponent over every key (2 to 4 operations), instead
    /// of uniformly within 1 to 4 groups.
    pub zipf: Option<f64>,
    /// With faults, each node's clock is off true time by up to this many ms either way
    /// (drawn per node and run); without faults clocks agree.
    pub max_skew_ms: u64,
    /// A committed transaction is acknowledged only once its coordinator's clock reads past
    /// its timestamp plus this many ms (commit wait). At `2 x max_skew_ms` a transaction that
    /// starts after another's acknowledgement always takes a larger timestamp, so timestamp
    /// order contains real-time order and histories are strict serializable; 0 turns it off.
    pub commit_wait_ms: u64,
}

impl TxnSimConfig {
    /// The defaults: 3 nodes, 3 keys per group, 6 clients, 4 s, 1 ms latency, faults on,
    /// parallel commits; list-append on even seeds, rw-register on odd ones.
    pub fn new(seed: u64, groups: usize) -> TxnSimConfig {
        TxnSimConfig {
            seed,
            groups,
            nodes: 3,
            keys_per_group: 3,
            clients: 6,
            duration_ms: 4_000,
            latency_ms: 1,
            faults: true,
            protocol: CommitProtocol::Parallel,
            model: model_for_seed(seed),
            mutant: None,
            zipf: None,
            max_skew_ms: DEFAULT_MAX_SKEW_MS,
            commit_wait_ms: 0,
        }
    }

    /// The consistency model the run claims: strict serializable when a commit wait covers
    /// the clock skew ([`TxnSimConfig::strict_commit_wait_ms`]), else [`CLAIMED`] (strong
    /// session serializable).
    pub fn claimed(&self) -> Consistency {
        let skew = if self.faults { self.max_skew_ms } else { 0 };
        if self.commit_wait_ms > 0 && self.commit_wait_ms >= 2 * skew {
            Consistency::StrictSerializable
        } else {
            CLAIMED
        }
    }

    /// The commit wait that makes histories strict serializable under this run's clock skew:
    /// twice the largest offset (one for the acknowledging clock, one for the next starter's).
    pub fn strict_commit_wait_ms(&self) -> u64 {
        2 * self.max_skew_ms
    }

    /// Raft's minimum election timeout, in ms: 150, or 20 one-way latencies if longer.
    pub fn election_min_ms(&self) -> u64 {
        150.max(20 * self.latency_ms)
    }

    /// When clients start, in virtual ms: after two election timeouts, so groups have leaders.
    pub fn clients_start_ms(&self) -> u64 {
        2 * self.election_min_ms() + 100
    }

    /// When faults and new transactions stop, in virtual ms (60% of the run; the rest lets
    /// recovery settle before the end-of-run checks).
    pub fn quiet_ms(&self) -> u64 {
        self.duration_ms * 6 / 10
    }
}

/// The clock skew bound of runs with faults, in ms, unless set.
pub const DEFAULT_MAX_SKEW_MS: u64 = 40;

/// List-append on even seeds, rw-register on odd ones.
pub fn model_for_seed(seed: u64) -> TxnModel {
    if seed.is_multiple_of(2) {
        TxnModel::ListAppend
    } else {
        TxnModel::RwRegister
    }
}

/// What a run counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Logical transactions started (each with its retries).
    pub transactions: u64,
    /// Attempts (a retry is an attempt).
    pub attempts: u64,
    /// Attempts aborted.
    pub aborts: u64,
    /// Attempts retried after an abort.
    pub retries: u64,
    /// Transactions given up after the last retry.
    pub gave_up: u64,
    /// Attempts whose coordinator crashed (indeterminate).
    pub indeterminate: u64,
    /// Recoveries started for orphaned intents.
    pub recoveries: u64,
    /// Committed read-write attempts: (latency in virtual µs, consensus rounds).
    pub commits: Vec<(u64, u32)>,
    /// Transactions whose coordinator crashed mid-commit with intents left behind: virtual µs
    /// from the crash until the last of their intents was resolved by a recoverer (one entry
    /// per such transaction; those never resolved are counted in `unrecovered`).
    pub recovery_us: Vec<u64>,
    /// Transactions orphaned by a coordinator crash whose intents were still unresolved at
    /// the end of the run.
    pub unrecovered: u64,
    /// History statuses: ok, fail, info.
    pub history_ok: u64,
    /// Failed (aborted) attempts in the history.
    pub history_fail: u64,
    /// Indeterminate attempts in the history.
    pub history_info: u64,
}

/// A run's raw outcome, before the isolation check.
#[derive(Debug)]
pub struct RunOutcome {
    /// The history of every attempt.
    pub history: TxnHistory,
    /// The counts.
    pub stats: RunStats,
    /// Invariant violations (empty when correct).
    pub violations: Vec<String>,
}

/// A checked run.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// The seed.
    pub seed: u64,
    /// The data model.
    pub model: TxnModel,
    /// The counts.
    pub stats: RunStats,
    /// Invariant violations.
    pub violations: Vec<String>,
    /// The model the run claims ([`TxnSimConfig::claimed`]).
    pub claimed: Consistency,
    /// Anomaly classes the checker found that the claimed model forbids.
    pub anomalies: Vec<String>,
    /// The verdict for the claimed model.
    pub verdict: TxnVerdict,
    /// The verdict for strict serializability (reported, not claimed).
    pub strict: TxnVerdict,
}

/// The commits of several runs: latencies (virtual microseconds) and consensus rounds, each
/// sorted, and the mean number of rounds.
#[derive(Debug, Clone, Default)]
pub struct CommitFigures {
    /// Commit latencies, sorted.
    pub latencies_us: Vec<u64>,
    /// Consensus rounds per commit, sorted.
    pub rounds: Vec<u32>,
    /// Mean consensus rounds per commit (0 without commits).
    pub mean_rounds: f64,
}

impl CommitFigures {
    /// The figures of every commit in `results`.
    pub fn of(results: &[RunResult]) -> CommitFigures {
        let mut latencies_us: Vec<u64> = Vec::new();
        let mut rounds: Vec<u32> = Vec::new();
        for r in results {
            latencies_us.extend(r.stats.commits.iter().map(|c| c.0));
            rounds.extend(r.stats.commits.iter().map(|c| c.1));
        }
        latencies_us.sort_unstable();
        rounds.sort_unstable();
        // A fold from +0.0: an empty f64 sum is -0.0, which prints as "-0.00".
        let mean_rounds =
            rounds.iter().fold(0.0, |sum, &r| sum + f64::from(r)) / rounds.len().max(1) as f64;
        CommitFigures {
            latencies_us,
            rounds,
            mean_rounds,
        }
    }
}

/// How long every orphaned transaction of `results` held its intents before a recoverer
/// resolved them (virtual µs), sorted.
pub fn recovery_times(results: &[RunResult]) -> Vec<u64> {
    let mut times: Vec<u64> = results
        .iter()
        .flat_map(|r| r.stats.recovery_us.iter().copied())
        .collect();
    times.sort_unstable();
    times
}

impl RunResult {
    /// Whether the run found anything wrong.
    pub fn failed(&self) -> bool {
        !self.violations.is_empty() || self.verdict != TxnVerdict::Valid
    }
}

/// The consistency model the layer claims: serializable, also over each client's own order.
pub const CLAIMED: Consistency = Consistency::StrongSessionSerializable;

/// Runs one seed and checks its history and invariants: the verdict for the claimed model
/// ([`TxnSimConfig::claimed`]), and for strict serializability (claimed only with a commit wait
/// that covers the clock skew: HLC timestamps on skewed clocks break real-time order).
pub fn run_checked(config: &TxnSimConfig) -> RunResult {
    let claimed = config.claimed();
    let outcome = driver::Run::new(config).run();
    let options = TxnOptions {
        model: Some(config.model),
        consistency: Consistency::StrictSerializable,
        budget: distsys_check::txn::DEFAULT_BUDGET / 10,
    };
    let (verdict, strict, anomalies) = match check_txn(&outcome.history, &options) {
        Ok(result) => {
            let forbidden = result
                .classes()
                .into_iter()
                .filter(|k| claimed.forbids(*k))
                .map(|k| k.name())
                .collect();
            (result.verdict_for(claimed), result.verdict, forbidden)
        }
        Err(e) => (
            TxnVerdict::Invalid,
            TxnVerdict::Invalid,
            vec![format!("bad history: {e}")],
        ),
    };
    RunResult {
        seed: config.seed,
        model: config.model,
        claimed,
        stats: outcome.stats,
        violations: outcome.violations,
        anomalies,
        verdict,
        strict,
    }
}

/// Runs `seeds` consecutive seeds from `config.seed` in parallel (each seed's model from
/// [`model_for_seed`]); results in seed order.
pub fn run_campaign(config: &TxnSimConfig, seeds: u64) -> Vec<RunResult> {
    (config.seed..config.seed + seeds)
        .into_par_iter()
        .map(|seed| {
            let mut c = config.clone();
            c.seed = seed;
            c.model = model_for_seed(seed);
            run_checked(&c)
        })
        .collect()
}

#[cfg(test)]
mod tests;
