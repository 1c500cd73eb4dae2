//! Timer derivation: heartbeat, election (failure-detection) timeout and client request timeout
//! from the network's latency.
//!
//! Formulas (documented in the README too), with `rtt_ms = 2 * latency_ms`:
//! - `heartbeat_ms = max(50, ceil(1.5 * rtt_ms))`: a leader proves liveness about once per
//!   round trip, never more often than every 50 ms (etcd recommends 0.5-1.5x the RTT).
//! - `election_timeout_min_ms = max(3 * heartbeat_ms, 10 * rtt_ms)`: a follower waits for
//!   at least three missed heartbeats and ten round trips, so one slow or lost message does not
//!   start an election (Raft: broadcastTime << electionTimeout).
//! - `election_timeout_max_ms = 2 * election_timeout_min_ms`: randomised in `[min, max)` so split
//!   votes are rare (Raft paper, section 9.3).
//! - `request_timeout_ms = election_timeout_max_ms + 4 * rtt_ms`: a client waits long enough for
//!   a failover (one election) plus a commit round before retrying.
//!
//! With a LAN latency of 1 ms this gives the classic 50 ms heartbeat and 150-300 ms randomised
//! election timeout; both grow linearly once the round trip dominates.
//!
//! When `latency_ms` is absent, 1 ms is assumed within one region and 50 ms across regions.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Default one-way latency inside one region, in milliseconds.
pub const DEFAULT_LATENCY_MS_LOCAL: f64 = 1.0;
/// Default one-way latency between regions, in milliseconds.
pub const DEFAULT_LATENCY_MS_CROSS_REGION: f64 = 50.0;
/// Floor of the heartbeat interval, in milliseconds.
pub const HEARTBEAT_MS_FLOOR: u64 = 50;
/// The classic randomised election timeout for LAN latencies (Raft paper), in milliseconds.
pub const CLASSIC_ELECTION_TIMEOUT_MS: (u64, u64) = (150, 300);

/// Timers derived from one latency figure. Guarantees:
/// `heartbeat_ms < election_timeout_min_ms < election_timeout_max_ms < request_timeout_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Timing {
    /// The one-way latency the timers were derived from, in milliseconds.
    pub latency_ms: f64,
    /// Round trip, `2 * latency_ms`, in milliseconds.
    pub rtt_ms: f64,
    /// Interval between leader heartbeats, in milliseconds.
    pub heartbeat_ms: u64,
    /// Lower bound of the randomised election timeout, in milliseconds.
    pub election_timeout_min_ms: u64,
    /// Upper bound (exclusive) of the randomised election timeout, in milliseconds.
    pub election_timeout_max_ms: u64,
    /// How long a client waits for an answer before retrying, in milliseconds.
    pub request_timeout_ms: u64,
}

impl Timing {
    /// Derives the timers from a one-way latency in milliseconds (values below 1 are taken as 1).
    pub fn from_latency_ms(latency_ms: f64) -> Timing {
        let latency_ms = if latency_ms.is_finite() {
            latency_ms.max(1.0)
        } else {
            1.0
        };
        let rtt_ms = 2.0 * latency_ms;
        let heartbeat_ms = HEARTBEAT_MS_FLOOR.max(ceil_ms(1.5 * rtt_ms));
        let election_timeout_min_ms = (3 * heartbeat_ms).max(ceil_ms(10.0 * rtt_ms));
        let election_timeout_max_ms = 2 * election_timeout_min_ms;
        let request_timeout_ms = election_timeout_max_ms + ceil_ms(4.0 * rtt_ms);
        let timing = Timing {
            latency_ms,
            rtt_ms,
            heartbeat_ms,
            election_timeout_min_ms,
            election_timeout_max_ms,
            request_timeout_ms,
        };
        debug_assert!(timing.heartbeat_ms < timing.election_timeout_min_ms);
        debug_assert!(timing.election_timeout_min_ms < timing.election_timeout_max_ms);
        debug_assert!(timing.election_timeout_max_ms < timing.request_timeout_ms);
        timing
    }

    /// Whether the classic 150-300 ms election timeout would be too short for this latency
    /// (shorter than ten round trips), i.e. would make leaders flap.
    pub fn classic_timeouts_too_short(&self) -> bool {
        10.0 * self.rtt_ms > CLASSIC_ELECTION_TIMEOUT_MS.0 as f64
    }
}

/// Rounds a non-negative millisecond figure up to a whole millisecond, saturating.
fn ceil_ms(ms: f64) -> u64 {
    // Inputs are bounded by validation; `as` saturates on overflow.
    ms.ceil() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lan_gives_the_classic_timers() {
        let t = Timing::from_latency_ms(1.0);
        assert_eq!(t.heartbeat_ms, 50);
        assert_eq!(
            (t.election_timeout_min_ms, t.election_timeout_max_ms),
            (150, 300)
        );
        assert!(!t.classic_timeouts_too_short());
    }

    #[test]
    fn wan_timers_scale_with_latency() {
        let t = Timing::from_latency_ms(50.0);
        assert_eq!(t.heartbeat_ms, 150);
        assert_eq!(t.election_timeout_min_ms, 1000);
        assert_eq!(t.election_timeout_max_ms, 2000);
        assert!(t.classic_timeouts_too_short());
        let slower = Timing::from_latency_ms(100.0);
        assert!(slower.election_timeout_min_ms > t.election_timeout_min_ms);
    }

    proptest::proptest! {
        #[test]
        fn timers_are_ordered(latency in 1.0f64..100_000.0) {
            let t = Timing::from_latency_ms(latency);
            proptest::prop_assert!(t.heartbeat_ms < t.election_timeout_min_ms);
            proptest::prop_assert!(t.election_timeout_min_ms < t.election_timeout_max_ms);
            proptest::prop_assert!(t.election_timeout_max_ms < t.request_timeout_ms);
            proptest::prop_assert!(t.election_timeout_min_ms as f64 >= 10.0 * t.rtt_ms);
        }
    }
}
