//! Client retry policy: exponential backoff with jitter and idempotency keys. One policy for
//! the simulator's clients and the real node's clients.
//!
//! Also here: the typed error classes that decide whether to retry, the server-side
//! idempotency table that answers a duplicate with the first result, and a retry budget that
//! keeps retries from multiplying load during an outage (as tower and Finagle do).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Exponential backoff with jitter. Defaults are the seed's: 10 attempts, 50 ms initial,
/// 10 000 ms cap, multiplier 2.0, jitter 0.25. No delay exceeds `max_ms`, for any jitter
/// draw: near the cap, proportional jitter spreads below it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Delay before the second attempt, in milliseconds.
    pub initial_ms: u64,
    /// Largest delay, in milliseconds.
    pub max_ms: u64,
    /// Growth factor per attempt.
    pub multiplier: f64,
    /// Relative jitter: the delay is scaled by a factor in `[1 - jitter, 1 + jitter]`
    /// ([`JitterMode::Proportional`] only).
    pub jitter: f64,
    /// How the delay is randomised.
    pub mode: JitterMode,
}

/// How a backoff delay is randomised (AWS Architecture Blog, "Exponential backoff and
/// jitter", 2015), `base = min(max, initial x multiplier^(attempt-1))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JitterMode {
    /// `base x [1 - jitter, 1 + jitter]` (the seed's default, jitter 0.25).
    Proportional,
    /// Uniform in `[0, base]`: spreads retries most, sometimes retries at once.
    Full,
    /// `base / 2 + [0, base / 2]`: never less than half the backoff.
    Equal,
    /// Uniform in `[initial, 3 x previous delay]`, capped: no synchronised waves.
    Decorrelated,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 10,
            initial_ms: 50,
            max_ms: 10_000,
            multiplier: 2.0,
            jitter: 0.25,
            mode: JitterMode::Proportional,
        }
    }
}

impl RetryPolicy {
    /// Delay before attempt `attempt + 1` (attempt counts from 1), given a uniform random
    /// number in `[0, 1)` from the caller's RNG. `None` once the attempts are used up. For
    /// [`JitterMode::Decorrelated`] the previous delay is taken as the un-jittered backoff; use
    /// [`RetryPolicy::next_delay_ms`] to chain real previous delays.
    pub fn backoff_ms(&self, attempt: u32, unit_random: f64) -> Option<u64> {
        let previous = self.base_ms(attempt.saturating_sub(1).max(1));
        self.next_delay_ms(attempt, previous as u64, unit_random)
    }

    /// Like [`RetryPolicy::backoff_ms`], given the delay actually waited before this attempt.
    pub fn next_delay_ms(&self, attempt: u32, previous_ms: u64, unit_random: f64) -> Option<u64> {
        if attempt >= self.max_attempts {
            return None;
        }
        let u = unit_random.clamp(0.0, 1.0);
        let base = self.base_ms(attempt);
        let delay = match self.mode {
            // Jitter within the cap: near the cap the jitter spreads below it, never above.
            JitterMode::Proportional => {
                let jitter = self.jitter.clamp(0.0, 1.0);
                let centre = base.min(self.max_ms as f64 / (1.0 + jitter));
                centre * (1.0 - jitter + 2.0 * jitter * u)
            }
            JitterMode::Full => base * u,
            JitterMode::Equal => base / 2.0 + base / 2.0 * u,
            JitterMode::Decorrelated => {
                let low = self.initial_ms as f64;
                let high = (3.0 * previous_ms as f64).max(low);
                (low + (high - low) * u).min(self.max_ms as f64)
            }
        };
        let delay = delay.round().clamp(0.0, self.max_ms as f64) as u64;
        debug_assert!(delay <= self.max_ms, "the cap holds after jitter");
        Some(delay)
    }

    /// The un-jittered backoff before attempt `attempt + 1`.
    fn base_ms(&self, attempt: u32) -> f64 {
        let exponent = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
        (self.initial_ms as f64 * self.multiplier.powi(exponent)).min(self.max_ms as f64)
    }
}

/// What went wrong with a request, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// No leader known right now (an election is running).
    LeaderNotFound,
    /// Not enough replicas reachable for a quorum.
    QuorumUnreachable,
    /// No answer in time (the request may or may not have taken effect).
    Timeout,
    /// A partition is healing; the cluster is catching up.
    NetworkPartitionHealing,
    /// The request carried a stale term or epoch (fenced off).
    InvalidTerm,
    /// The idempotency key was already used for a different request.
    DuplicateRequest,
    /// The request can never succeed (bad input, permission).
    PermanentFailure,
}

impl ErrorClass {
    /// The seed's `retry_on` classes: transient conditions that a later attempt may not meet.
    pub const RETRY_ON: [ErrorClass; 4] = [
        ErrorClass::LeaderNotFound,
        ErrorClass::QuorumUnreachable,
        ErrorClass::Timeout,
        ErrorClass::NetworkPartitionHealing,
    ];

    /// Whether to retry (with the same idempotency key); the seed's `abort_on` classes
    /// (invalid term, duplicate request, permanent failure) are not retried.
    pub fn retryable(self) -> bool {
        ErrorClass::RETRY_ON.contains(&self)
    }
}

/// What the idempotency table says about an incoming request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dedup<R> {
    /// First time within the window: execute it, then [`IdempotencyTable::record`] the result.
    Execute,
    /// Seen before with the same parameters: answer this first result, do not execute again.
    Duplicate(R),
    /// The key was used for different parameters: reject (`DUPLICATE_REQUEST`).
    Conflict,
}

/// Server-side deduplication: remembers each idempotency key's parameters (a digest) and first
/// result for a window (the seed's 300 s).
///
/// Keys expire by time on every call ([`IdempotencyTable::check`] and
/// [`IdempotencyTable::record`]); times may arrive out of order (a key recorded at an earlier
/// time than the last call expires at its own first use plus the window).
#[derive(Debug, Clone)]
pub struct IdempotencyTable<R> {
    window_ms: u64,
    entries: BTreeMap<String, (u64, R, u64)>,
    expiry: BTreeSet<(u64, String)>,
}

impl<R: Clone> IdempotencyTable<R> {
    /// A table that forgets keys `window_ms` after their first use.
    pub fn new(window_ms: u64) -> IdempotencyTable<R> {
        IdempotencyTable {
            window_ms,
            entries: BTreeMap::new(),
            expiry: BTreeSet::new(),
        }
    }

    /// Looks a request up at time `now_ms`.
    pub fn check(&mut self, key: &str, params_digest: u64, now_ms: u64) -> Dedup<R> {
        self.expire(now_ms);
        match self.entries.get(key) {
            None => Dedup::Execute,
            Some((digest, result, _)) if *digest == params_digest => {
                Dedup::Duplicate(result.clone())
            }
            Some(_) => Dedup::Conflict,
        }
    }

    /// Remembers the first result of a key.
    pub fn record(&mut self, key: &str, params_digest: u64, result: R, now_ms: u64) {
        self.expire(now_ms);
        if !self.entries.contains_key(key) {
            self.entries
                .insert(key.to_string(), (params_digest, result, now_ms));
            self.expiry
                .insert((now_ms.saturating_add(self.window_ms), key.to_string()));
        }
    }

    /// Keys remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn expire(&mut self, now_ms: u64) {
        while self.expiry.first().is_some_and(|(at, _)| *at <= now_ms) {
            if let Some((_, key)) = self.expiry.pop_first() {
                self.entries.remove(&key);
            }
        }
        debug_assert_eq!(self.expiry.len(), self.entries.len(), "one expiry per key");
    }
}

/// A retry budget: retries may add at most `ratio` of the requests of the last `window_ms`,
/// plus `min_per_second` so a quiet client can still retry. Past the budget a failure is
/// returned at once instead of retried, so an outage cannot multiply the load.
#[derive(Debug, Clone)]
pub struct RetryBudget {
    ratio: f64,
    min_per_second: f64,
    window_ms: u64,
    requests: VecDeque<u64>,
    retries: VecDeque<u64>,
}

impl RetryBudget {
    /// A budget of `ratio` retries per request plus `min_per_second`, over `window_ms`
    /// (tower's defaults: 0.2, 10 per second, 10 s).
    pub fn new(ratio: f64, min_per_second: f64, window_ms: u64) -> RetryBudget {
        RetryBudget {
            ratio,
            min_per_second,
            window_ms: window_ms.max(1),
            requests: VecDeque::new(),
            retries: VecDeque::new(),
        }
    }

    /// Counts a first attempt.
    pub fn request(&mut self, now_ms: u64) {
        self.requests.push_back(now_ms);
    }

    /// Asks to retry now; `true` (and counted) if the budget allows it.
    pub fn try_retry(&mut self, now_ms: u64) -> bool {
        let since = now_ms.saturating_sub(self.window_ms);
        while self.requests.front().is_some_and(|t| *t < since) {
            self.requests.pop_front();
        }
        while self.retries.front().is_some_and(|t| *t < since) {
            self.retries.pop_front();
        }
        let allowed = self.ratio * self.requests.len() as f64
            + self.min_per_second * self.window_ms as f64 / 1000.0;
        if (self.retries.len() as f64) < allowed {
            self.retries.push_back(now_ms);
            true
        } else {
            false
        }
    }
}

impl Default for RetryBudget {
    fn default() -> Self {
        RetryBudget::new(0.2, 10.0, 10_000)
    }
}

/// The idempotency key of a request: `"{request_id}:{operation_type}"`.
pub fn idempotency_key(request_id: &str, operation_type: &str) -> String {
    format!("{request_id}:{operation_type}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_defaults_grow_and_cap() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff_ms(1, 0.5), Some(50));
        assert_eq!(p.backoff_ms(2, 0.5), Some(100));
        // At the cap the jitter spreads below it: [0.6, 1] x 10 s, never above.
        assert_eq!(p.backoff_ms(9, 0.5), Some(8_000));
        assert_eq!(p.backoff_ms(9, 1.0), Some(10_000));
        assert_eq!(p.backoff_ms(9, 0.0), Some(6_000));
        assert_eq!(p.backoff_ms(10, 0.5), None);
        assert_eq!(p.backoff_ms(1, 0.0), Some(38));
        assert_eq!(p.backoff_ms(1, 1.0), Some(63));
        assert_eq!(idempotency_key("r-17", "write"), "r-17:write");
    }

    #[test]
    fn jitter_modes_stay_in_their_ranges() {
        for (mode, low, high) in [
            (JitterMode::Full, 0, 400),
            (JitterMode::Equal, 200, 400),
            (JitterMode::Proportional, 300, 500),
        ] {
            let p = RetryPolicy {
                mode,
                ..RetryPolicy::default()
            };
            // Attempt 4: base 50 x 2^3 = 400 ms.
            let d: Vec<u64> = [0.0, 0.5, 0.999]
                .iter()
                .filter_map(|u| p.backoff_ms(4, *u))
                .collect();
            assert!(
                d.iter().all(|x| (low..=high).contains(x)),
                "{mode:?}: {d:?}"
            );
            assert!(d[0] < d[2], "{mode:?} is randomised");
        }
        let p = RetryPolicy {
            mode: JitterMode::Decorrelated,
            ..RetryPolicy::default()
        };
        assert_eq!(p.next_delay_ms(2, 1_000, 0.0), Some(50));
        assert_eq!(p.next_delay_ms(2, 1_000, 1.0), Some(3_000));
        assert_eq!(p.next_delay_ms(2, 9_000, 1.0), Some(10_000), "capped");
    }

    proptest::proptest! {
        /// No delay exceeds the cap, for any policy, attempt, jitter mode and draw.
        #[test]
        fn no_delay_exceeds_the_cap(
            initial in 0u64..20_000,
            max in 0u64..60_000,
            multiplier in 1.0f64..10.0,
            jitter in 0.0f64..=1.0,
            mode in proptest::sample::select(vec![
                JitterMode::Proportional, JitterMode::Full, JitterMode::Equal, JitterMode::Decorrelated,
            ]),
            attempt in 1u32..40,
            previous in 0u64..200_000,
            u in 0.0f64..=1.0,
        ) {
            let p = RetryPolicy { max_attempts: 50, initial_ms: initial, max_ms: max, multiplier, jitter, mode };
            let d = p.next_delay_ms(attempt, previous, u).expect("attempts left");
            proptest::prop_assert!(d <= max, "{d} > {max} for {p:?} attempt {attempt} u {u}");
        }
    }

    #[test]
    fn the_idempotency_table_expires_on_record_and_with_times_out_of_order() {
        let mut t: IdempotencyTable<u32> = IdempotencyTable::new(300_000);
        t.record("a", 1, 10, 1_000);
        // Only records, no check: old keys still go.
        t.record("b", 2, 20, 400_000);
        assert_eq!(t.len(), 1, "a expired at 301 s");
        // A time earlier than the last call: c expires at its own 5 s + 300 s.
        t.record("c", 3, 30, 5_000);
        assert_eq!(t.check("c", 3, 6_000), Dedup::Duplicate(30));
        assert_eq!(
            t.check("b", 2, 305_001),
            Dedup::Duplicate(20),
            "b lives until 700 s"
        );
        assert_eq!(
            t.check("c", 3, 305_001),
            Dedup::Execute,
            "c expired at 305 s"
        );
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn error_classes_split_into_retry_and_abort() {
        assert!(ErrorClass::LeaderNotFound.retryable());
        assert!(ErrorClass::Timeout.retryable());
        assert!(!ErrorClass::InvalidTerm.retryable());
        assert!(!ErrorClass::DuplicateRequest.retryable());
        assert!(!ErrorClass::PermanentFailure.retryable());
    }

    #[test]
    fn idempotency_table_answers_duplicates_and_rejects_reuse_for_300_s() {
        let mut t = IdempotencyTable::new(300_000);
        let key = idempotency_key("r-1", "write");
        assert_eq!(t.check(&key, 7, 0), Dedup::Execute);
        t.record(&key, 7, "ok:index 42", 0);
        assert_eq!(t.check(&key, 7, 1_000), Dedup::Duplicate("ok:index 42"));
        assert_eq!(
            t.check(&key, 8, 1_000),
            Dedup::Conflict,
            "same key, other parameters"
        );
        t.record(&key, 7, "second result ignored", 2_000);
        assert_eq!(t.check(&key, 7, 299_999), Dedup::Duplicate("ok:index 42"));
        assert_eq!(
            t.check(&key, 7, 300_000),
            Dedup::Execute,
            "forgotten after the window"
        );
        assert!(t.is_empty());
    }

    #[test]
    fn retry_budget_caps_retries_at_a_share_of_requests() {
        let mut b = RetryBudget::new(0.2, 0.0, 10_000);
        for t in 0..100 {
            b.request(t);
        }
        let granted = (0..100).filter(|t| b.try_retry(100 + t)).count();
        assert_eq!(granted, 20);
        // The window moves on: old requests no longer pay for retries.
        assert!(!b.try_retry(20_000));
        let mut quiet = RetryBudget::new(0.2, 1.0, 10_000);
        assert_eq!(
            (0..20).filter(|t| quiet.try_retry(*t)).count(),
            10,
            "the floor"
        );
    }
}
