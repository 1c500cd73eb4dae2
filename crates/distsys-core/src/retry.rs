//! Client retry policy: exponential backoff with jitter and idempotency keys. One policy for
//! the simulator's clients and the real node's clients.

/// Exponential backoff with jitter. Defaults are the seed's: 10 attempts, 50 ms initial,
/// 10 000 ms cap, multiplier 2.0, jitter 0.25.
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
    /// Relative jitter: the delay is scaled by a factor in `[1 - jitter, 1 + jitter]`.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 10,
            initial_ms: 50,
            max_ms: 10_000,
            multiplier: 2.0,
            jitter: 0.25,
        }
    }
}

impl RetryPolicy {
    /// Delay before attempt `attempt + 1` (attempt counts from 1), given a uniform random
    /// number in `[0, 1)` from the caller's RNG. `None` once the attempts are used up.
    pub fn backoff_ms(&self, attempt: u32, unit_random: f64) -> Option<u64> {
        if attempt >= self.max_attempts {
            return None;
        }
        let exponent = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
        let base =
            (self.initial_ms as f64 * self.multiplier.powi(exponent)).min(self.max_ms as f64);
        let factor = 1.0 - self.jitter + 2.0 * self.jitter * unit_random.clamp(0.0, 1.0);
        Some((base * factor).round().max(0.0) as u64)
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
        assert_eq!(p.backoff_ms(9, 0.5), Some(10_000));
        assert_eq!(p.backoff_ms(10, 0.5), None);
        assert_eq!(p.backoff_ms(1, 0.0), Some(38));
        assert_eq!(p.backoff_ms(1, 1.0), Some(63));
        assert_eq!(idempotency_key("r-17", "write"), "r-17:write");
    }
}
