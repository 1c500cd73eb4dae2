//! The retry-storm experiment: many clients, a service with a fixed capacity, and an outage
//! (a leader failover): requests sent to the old leader wait, and all fail together when the
//! new leader is elected (as a deposed Raft leader answers its queued requests with
//! "not leader"). Clients that retry on the same schedule then come back in waves that overload
//! the service and fail together again; jitter spreads them out, and a retry budget caps how
//! much retrying can add at all. Deterministic per seed.

use crate::queue::EventQueue;
use distsys_patterns::retry::{JitterMode, RetryBudget, RetryPolicy};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How clients retry in one arm of the experiment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryArm {
    /// The backoff (the seed's policy, with or without jitter).
    pub policy: RetryPolicy,
    /// A per-client retry budget, if any.
    pub budget: Option<(f64, f64)>,
}

/// The experiment's setting.
#[derive(Debug, Clone)]
pub struct StormConfig {
    /// Seed.
    pub seed: u64,
    /// Clients.
    pub clients: usize,
    /// Requests per second per client (each a new operation).
    pub rate_per_client: f64,
    /// Attempts per second the service can serve.
    pub capacity_per_second: f64,
    /// The outage: from, to (milliseconds).
    pub outage_ms: (u64, u64),
    /// Run length in milliseconds.
    pub duration_ms: u64,
}

impl StormConfig {
    /// 1000 clients at 5 requests/s (5000/s offered) against a service for 7500 attempts/s, a
    /// 1 s outage from 2 s, 10 s in all.
    pub fn new(seed: u64) -> StormConfig {
        StormConfig {
            seed,
            clients: 1_000,
            rate_per_client: 5.0,
            capacity_per_second: 7_500.0,
            outage_ms: (2_000, 3_000),
            duration_ms: 10_000,
        }
    }
}

/// What one arm measured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StormOutcome {
    /// Operations started.
    pub operations: u64,
    /// Attempts sent (first tries and retries).
    pub attempts: u64,
    /// Operations that never succeeded (attempts used up or retry refused by the budget).
    pub failed: u64,
    /// Attempts per operation over the run.
    pub amplification: f64,
    /// Busiest 10 ms after the outage, in attempts, over the offered load of 10 ms.
    pub peak_over_offered: f64,
    /// Time from the end of the outage to the end of the last 10 ms with a rejected attempt.
    pub recovery_ms: u64,
}

/// Width of the load buckets: capacity is enforced per bucket, peaks are measured on them.
const BUCKET_MS: u64 = 10;

/// An attempt to send: (client, attempt number, previous delay ms).
type Attempt = (usize, u32, u64);

/// Runs one arm.
pub fn run_storm(config: &StormConfig, arm: &RetryArm) -> StormOutcome {
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut queue: EventQueue<Attempt> = EventQueue::new();
    let interval_us = (1e6 / config.rate_per_client) as u64;
    for c in 0..config.clients {
        let first = rng.random_range(0..interval_us);
        queue.push(first, (c, 0, 0));
    }
    let mut budgets: Vec<Option<RetryBudget>> = (0..config.clients)
        .map(|_| {
            arm.budget
                .map(|(ratio, min)| RetryBudget::new(ratio, min, 10_000))
        })
        .collect();
    let buckets = (config.duration_ms / BUCKET_MS + 1) as usize;
    let mut load = vec![0u64; buckets];
    let mut rejected = vec![0u64; buckets];
    let capacity_per_bucket = config.capacity_per_second * BUCKET_MS as f64 / 1000.0;
    let mut out = StormOutcome::default();
    let end_us = config.duration_ms * 1000;
    while let Some((at, (client, attempt, previous))) = queue.pop() {
        if at >= end_us {
            continue;
        }
        let now_ms = at / 1000;
        let bucket = (now_ms / BUCKET_MS) as usize;
        if attempt == 0 {
            // A new operation; the client's next one follows at its steady rate.
            out.operations += 1;
            if let Some(b) = budgets[client].as_mut() {
                b.request(now_ms);
            }
            queue.push(at + interval_us, (client, 0, 0));
        }
        out.attempts += 1;
        load[bucket] += 1;
        let down = (config.outage_ms.0..config.outage_ms.1).contains(&now_ms);
        let overloaded = load[bucket] as f64 > capacity_per_bucket;
        if !down && !overloaded {
            continue;
        }
        rejected[bucket] += 1;
        // A request caught by the failover learns of its failure when the new leader is in.
        let (at, now_ms) = if down {
            (config.outage_ms.1 * 1000, config.outage_ms.1)
        } else {
            (at, now_ms)
        };
        let tries = attempt + 1;
        let allowed = budgets[client].as_mut().is_none_or(|b| b.try_retry(now_ms));
        let delay = allowed
            .then(|| {
                arm.policy
                    .next_delay_ms(tries, previous, rng.random::<f64>())
            })
            .flatten();
        match delay {
            Some(d) => {
                queue.push(at + d.max(1) * 1000, (client, tries, d));
            }
            None => out.failed += 1,
        }
    }
    out.amplification = out.attempts as f64 / out.operations.max(1) as f64;
    let offered_per_bucket =
        config.clients as f64 * config.rate_per_client * BUCKET_MS as f64 / 1000.0;
    let after = (config.outage_ms.1 / BUCKET_MS) as usize;
    out.peak_over_offered =
        load[after..].iter().copied().max().unwrap_or(0) as f64 / offered_per_bucket;
    out.recovery_ms = (after..buckets)
        .rev()
        .find(|b| rejected[*b] > 0)
        .map_or(0, |b| (b + 1 - after) as u64 * BUCKET_MS);
    out
}

/// The arms the experiment compares: the seed's backoff (50 ms x2, 10 attempts) without
/// jitter, with the seed's jitter (+-25%), with full jitter, and with full jitter and a retry
/// budget (10% of requests + 0.1 retry/s per client, over 10 s).
pub fn arms() -> [(&'static str, RetryArm); 4] {
    let plain = RetryPolicy {
        jitter: 0.0,
        ..RetryPolicy::default()
    };
    let full = RetryPolicy {
        mode: JitterMode::Full,
        ..RetryPolicy::default()
    };
    [
        (
            "no jitter",
            RetryArm {
                policy: plain,
                budget: None,
            },
        ),
        (
            "jitter +-25%",
            RetryArm {
                policy: RetryPolicy::default(),
                budget: None,
            },
        ),
        (
            "full jitter",
            RetryArm {
                policy: full,
                budget: None,
            },
        ),
        (
            "full jitter + budget",
            RetryArm {
                policy: full,
                budget: Some((0.1, 0.1)),
            },
        ),
    ]
}
