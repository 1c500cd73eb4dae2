//! The load generator: closed-loop clients, each on its own thread, running seeded reads and
//! writes over a key space for a fixed time, timing every successful operation.

use distsys_sim::stats::percentile;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::{Duration, Instant};

/// Keys in the workload (`key0`..`key999`).
pub const KEYS: u64 = 1000;

/// The next operation of a client: (is a write, key, value).
pub type NextOp<'a> = &'a mut dyn FnMut() -> (bool, String, String);
/// Runs one operation for client `c` (drawing it from the [`NextOp`]); true if it succeeded.
pub type RunOp<'a> = &'a (dyn Fn(usize, NextOp<'_>) -> bool + Sync);

/// One measurement: operations done, errors, their latencies (µs, sorted) and the wall time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measured {
    /// Operations that succeeded.
    pub ops: u64,
    /// Operations that failed.
    pub errors: u64,
    /// Latencies of the successful ones, µs, ascending.
    pub latencies: Vec<u64>,
    /// Wall time of the measurement, s.
    pub seconds: f64,
}

impl Measured {
    /// Successful operations per second of wall time.
    pub fn ops_per_second(&self) -> f64 {
        self.ops as f64 / self.seconds
    }

    /// The latency at quantile `q` (0 to 1), ms; 0 when nothing succeeded.
    pub fn latency_ms(&self, q: f64) -> f64 {
        percentile(&self.latencies, q).map_or(0.0, |us| us as f64 / 1000.0)
    }
}

/// Runs `clients` clients for `seconds`, each drawing operations (a write with probability
/// `write_ratio`, a uniform key, a `value_size`-byte value; seeded by the client's number) and
/// running them through `op`, and adds up what they measured.
pub fn drive(
    clients: usize,
    seconds: u64,
    write_ratio: f64,
    value_size: usize,
    op: RunOp<'_>,
) -> Measured {
    let end = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let results: Vec<(u64, u64, Vec<u64>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|c| scope.spawn(move || client(c, end, write_ratio, value_size, op)))
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut m = Measured {
        seconds: start.elapsed().as_secs_f64(),
        ..Measured::default()
    };
    for (ok, errors, lat) in results {
        m.ops += ok;
        m.errors += errors;
        m.latencies.extend(lat);
    }
    m.latencies.sort_unstable();
    m
}

/// One client until `end`: (successes, errors, latencies).
fn client(
    c: usize,
    end: Instant,
    write_ratio: f64,
    value_size: usize,
    op: RunOp<'_>,
) -> (u64, u64, Vec<u64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(c as u64 + 1);
    let value = "x".repeat(value_size);
    let (mut ok, mut errors, mut lat) = (0u64, 0u64, Vec::new());
    let mut next = || {
        let write = rng.random_bool(write_ratio);
        (
            write,
            format!("key{}", rng.random_range(0..KEYS)),
            value.clone(),
        )
    };
    while Instant::now() < end {
        let t = Instant::now();
        if op(c, &mut next) {
            ok += 1;
            lat.push(t.elapsed().as_micros() as u64);
        } else {
            errors += 1;
        }
    }
    (ok, errors, lat)
}
