//! The load generator: closed-loop clients, each on its own thread, running seeded reads and
//! writes over a key space for a fixed time, timing every successful operation; and the
//! preload that fills a key space first, in batches, so reads find what they read.

use distsys_sim::stats::percentile;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::{Duration, Instant};

/// The name of key `i` of a key space (`key0`, `key1`, ...).
pub fn key(i: u64) -> String {
    format!("key{i}")
}

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

/// What the clients run: the share of writes, the key space, the value size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Workload {
    /// Probability that an operation is a write (else a read).
    pub write_ratio: f64,
    /// Keys `key0..key{keys - 1}`, drawn uniformly.
    pub keys: u64,
    /// Bytes per written value.
    pub value_size: usize,
}

/// Runs `clients` clients for `seconds`, each drawing operations of `workload` (seeded by the
/// client's number) and running them through `op`, and adds up what they measured.
pub fn drive(clients: usize, seconds: u64, workload: Workload, op: RunOp<'_>) -> Measured {
    let end = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let results: Vec<(u64, u64, Vec<u64>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|c| scope.spawn(move || client(c, end, workload, op)))
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
fn client(c: usize, end: Instant, workload: Workload, op: RunOp<'_>) -> (u64, u64, Vec<u64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(c as u64 + 1);
    let value = "x".repeat(workload.value_size);
    let (mut ok, mut errors, mut lat) = (0u64, 0u64, Vec::new());
    let mut next = || {
        let write = rng.random_bool(workload.write_ratio);
        (
            write,
            key(rng.random_range(0..workload.keys.max(1))),
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

/// Keys written per batch when preloading (etcd's default limit of operations per
/// transaction is 128).
pub const BATCH: u64 = 100;

/// Writes keys `from..to` with `value_size`-byte values through `put`, which writes one
/// batch (keys `lo..hi`, at most [`BATCH`]) as client `c` and says whether it succeeded;
/// `clients` clients share the batches. A failed batch is retried (up to 5 times).
/// Returns the wall time, or the batch that kept failing.
pub fn preload(
    clients: usize,
    from: u64,
    to: u64,
    put: &(dyn Fn(usize, u64, u64) -> bool + Sync),
) -> Result<Duration, String> {
    let next = std::sync::atomic::AtomicU64::new(from);
    let start = Instant::now();
    let failed: Vec<Option<String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients.max(1))
            .map(|c| {
                let next = &next;
                scope.spawn(move || loop {
                    let lo = next.fetch_add(BATCH, std::sync::atomic::Ordering::Relaxed);
                    if lo >= to {
                        return None;
                    }
                    let hi = (lo + BATCH).min(to);
                    if !(0..5).any(|_| put(c, lo, hi)) {
                        return Some(format!("writing keys {lo}..{hi} failed 5 times"));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Some("a loader panicked".into()))
            })
            .collect()
    });
    match failed.into_iter().flatten().next() {
        Some(e) => Err(e),
        None => Ok(start.elapsed()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn preload_writes_every_key_once_in_batches_and_retries_failures() {
        let written = Mutex::new(Vec::new());
        let failures = Mutex::new(3);
        let put = |_c: usize, lo: u64, hi: u64| {
            let mut left = failures.lock().expect("lock");
            if *left > 0 && lo == 250 {
                *left -= 1;
                return false;
            }
            written.lock().expect("lock").push((lo, hi));
            true
        };
        preload(3, 50, 1234, &put).expect("loads");
        let mut batches = written.into_inner().expect("lock");
        batches.sort_unstable();
        assert!(batches.iter().all(|(lo, hi)| hi - lo <= BATCH && lo < hi));
        let keys: Vec<u64> = batches.iter().flat_map(|&(lo, hi)| lo..hi).collect();
        assert_eq!(keys, (50..1234).collect::<Vec<_>>());
        // A batch that always fails is reported, not skipped.
        let error = preload(2, 0, 500, &|_, lo, _| lo != 300).expect_err("fails");
        assert!(error.contains("300..400"), "{error}");
    }
}
