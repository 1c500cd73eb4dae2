//! Range partitioning: ordered, contiguous key ranges that split by size and by load, merge
//! when cold, and move between nodes toward equal load (as CockroachDB and TiKV do).

use super::{up_to, NodeId};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

/// When ranges split, merge and move.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeConfig {
    /// Split a range holding more than this many bytes, at its size-median key.
    pub split_bytes: u64,
    /// Split a range serving more than this many queries per second, at its load-median key.
    pub split_qps: f64,
    /// Merge two adjacent ranges on the same node when both serve fewer queries per second than
    /// this and together hold under half of `split_bytes`.
    pub merge_qps: f64,
    /// Moves the rebalancer may make per step.
    pub max_moves_per_step: usize,
}

impl Default for RangeConfig {
    /// 64 MiB and 2500 queries/s to split (the advisor's defaults), merge under 10% of that
    /// load, 4 moves per step.
    fn default() -> RangeConfig {
        RangeConfig {
            split_bytes: 64 << 20,
            split_qps: 2500.0,
            merge_qps: 250.0,
            max_moves_per_step: 4,
        }
    }
}

#[derive(Debug, Clone, Default)]
struct KeyStats {
    bytes: u64,
    hits: u64,
}

/// One range `[start, end)` (`end` `None`: to the end of the key space).
#[derive(Debug, Clone)]
pub struct Range {
    /// First key of the range.
    pub start: Vec<u8>,
    /// First key after the range.
    pub end: Option<Vec<u8>>,
    /// The node serving it.
    pub node: NodeId,
    /// Bytes stored.
    pub bytes: u64,
    /// Queries per second over the last window.
    pub qps: f64,
    keys: BTreeMap<Vec<u8>, KeyStats>,
    window_hits: u64,
}

/// What the range map did since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RangeActivity {
    /// Splits by size.
    pub size_splits: u64,
    /// Splits by load.
    pub load_splits: u64,
    /// Merges of cold neighbours.
    pub merges: u64,
    /// Ranges moved to another node.
    pub moves: u64,
}

/// The ranges of a key space and the nodes serving them. Invariant: the ranges cover the whole
/// key space without overlap (each one starts where the previous ends).
#[derive(Debug, Clone)]
pub struct RangeMap {
    ranges: BTreeMap<Vec<u8>, Range>,
    nodes: BTreeSet<NodeId>,
    config: RangeConfig,
    activity: RangeActivity,
}

impl RangeMap {
    /// One range covering every key, on the first of `nodes` (splits and the rebalancer
    /// spread it).
    pub fn new(nodes: &[NodeId], config: RangeConfig) -> RangeMap {
        let first = nodes.first().copied().unwrap_or(0);
        let whole = Range {
            start: Vec::new(),
            end: None,
            node: first,
            bytes: 0,
            qps: 0.0,
            keys: BTreeMap::new(),
            window_hits: 0,
        };
        RangeMap {
            ranges: BTreeMap::from([(Vec::new(), whole)]),
            nodes: nodes.iter().copied().collect(),
            config,
            activity: RangeActivity::default(),
        }
    }

    /// The range holding `key`.
    pub fn locate(&self, key: &[u8]) -> &Range {
        self.ranges
            .range::<[u8], _>(up_to(key))
            .next_back()
            .map(|(_, r)| r)
            .expect("ranges cover the key space")
    }

    fn locate_mut(&mut self, key: &[u8]) -> &mut Range {
        self.ranges
            .range_mut::<[u8], _>(up_to(key))
            .next_back()
            .map(|(_, r)| r)
            .expect("ranges cover the key space")
    }

    /// Records that `key` now holds `bytes` bytes.
    pub fn write(&mut self, key: &[u8], bytes: u64) {
        let range = self.locate_mut(key);
        let stats = range.keys.entry(key.to_vec()).or_default();
        range.bytes = range.bytes - stats.bytes + bytes;
        stats.bytes = bytes;
    }

    /// Records one query on `key` in the current window.
    pub fn access(&mut self, key: &[u8]) {
        let range = self.locate_mut(key);
        range.keys.entry(key.to_vec()).or_default().hits += 1;
        range.window_hits += 1;
    }

    /// Closes a window of `seconds`: sets each range's load, splits what is too big or too hot,
    /// merges cold neighbours, and runs one rebalancing step.
    pub fn end_window(&mut self, seconds: f64) {
        for range in self.ranges.values_mut() {
            range.qps = range.window_hits as f64 / seconds.max(1e-9);
        }
        self.split_all();
        self.merge_cold();
        self.rebalance_step();
        for range in self.ranges.values_mut() {
            range.window_hits = 0;
            for stats in range.keys.values_mut() {
                stats.hits = 0;
            }
        }
        debug_assert!(self.covers_key_space());
    }

    /// Every range, in key order.
    pub fn ranges(&self) -> impl Iterator<Item = &Range> {
        self.ranges.values()
    }

    /// Load (queries/s over the last window) per node, every node listed.
    pub fn node_loads(&self) -> BTreeMap<NodeId, f64> {
        let mut loads: BTreeMap<NodeId, f64> = self.nodes.iter().map(|n| (*n, 0.0)).collect();
        for r in self.ranges.values() {
            *loads.entry(r.node).or_default() += r.qps;
        }
        loads
    }

    /// What happened so far.
    pub fn activity(&self) -> RangeActivity {
        self.activity
    }

    fn covers_key_space(&self) -> bool {
        let mut expected_start: Vec<u8> = Vec::new();
        let mut iter = self.ranges.iter().peekable();
        while let Some((start, range)) = iter.next() {
            if *start != expected_start || range.start != *start {
                return false;
            }
            match (&range.end, iter.peek()) {
                (Some(end), Some(_)) => expected_start = end.clone(),
                (None, None) => return true,
                _ => return false,
            }
        }
        false
    }

    /// Splits every range above a threshold, repeatedly, at the median of what made it too big.
    fn split_all(&mut self) {
        let mut work: Vec<Vec<u8>> = self.ranges.keys().cloned().collect();
        while let Some(start) = work.pop() {
            let Some(range) = self.ranges.get(&start) else {
                continue;
            };
            let by_size = range.bytes > self.config.split_bytes;
            let by_load = range.qps > self.config.split_qps;
            if !(by_size || by_load) || range.keys.len() < 2 {
                continue;
            }
            let weight = |s: &KeyStats| if by_size { s.bytes } else { s.hits };
            let total: u64 = range.keys.values().map(weight).sum();
            // The first key at which the running total reaches half: the median of the weight.
            let mut running = 0;
            let mut at = None;
            for (i, (key, stats)) in range.keys.iter().enumerate() {
                running += weight(stats);
                if running * 2 >= total {
                    // Split after this key (the right half starts at the next one); a median on
                    // the last key splits before it instead.
                    at = if i + 1 < range.keys.len() {
                        range
                            .keys
                            .range::<[u8], _>((Bound::Excluded(key.as_slice()), Bound::Unbounded))
                            .next()
                            .map(|(k, _)| k.clone())
                    } else {
                        Some(key.clone())
                    };
                    break;
                }
            }
            let Some(at) = at.filter(|k| *k != range.start) else {
                continue;
            };
            let mut left = self.ranges.remove(&start).expect("range exists");
            let right_keys = left.keys.split_off(&at);
            let share = |keys: &BTreeMap<Vec<u8>, KeyStats>| {
                let hits: u64 = keys.values().map(|s| s.hits).sum();
                (keys.values().map(|s| s.bytes).sum::<u64>(), hits)
            };
            let (left_bytes, left_hits) = share(&left.keys);
            let (right_bytes, right_hits) = share(&right_keys);
            let seconds = if left.window_hits > 0 {
                left.window_hits as f64 / left.qps.max(1e-9)
            } else {
                1.0
            };
            let right = Range {
                start: at.clone(),
                end: left.end.take(),
                node: left.node,
                bytes: right_bytes,
                qps: right_hits as f64 / seconds,
                keys: right_keys,
                window_hits: right_hits,
            };
            left.end = Some(at.clone());
            left.bytes = left_bytes;
            left.qps = left_hits as f64 / seconds;
            left.window_hits = left_hits;
            self.ranges.insert(start.clone(), left);
            self.ranges.insert(at.clone(), right);
            if by_size {
                self.activity.size_splits += 1;
            } else {
                self.activity.load_splits += 1;
            }
            work.push(start);
            work.push(at);
        }
    }

    /// Merges adjacent cold ranges on the same node.
    fn merge_cold(&mut self) {
        let starts: Vec<Vec<u8>> = self.ranges.keys().cloned().collect();
        let mut i = 0;
        while i + 1 < starts.len() {
            let (a, b) = (&starts[i], &starts[i + 1]);
            let mergeable = match (self.ranges.get(a), self.ranges.get(b)) {
                (Some(x), Some(y)) => {
                    x.node == y.node
                        && x.qps < self.config.merge_qps
                        && y.qps < self.config.merge_qps
                        && (x.bytes + y.bytes) * 2 < self.config.split_bytes
                }
                _ => false,
            };
            if mergeable {
                let right = self.ranges.remove(b).expect("range exists");
                let left = self.ranges.get_mut(a).expect("range exists");
                left.end = right.end;
                left.bytes += right.bytes;
                left.qps += right.qps;
                left.window_hits += right.window_hits;
                left.keys.extend(right.keys);
                self.activity.merges += 1;
                i += 2;
            } else {
                i += 1;
            }
        }
    }

    /// Moves up to `max_moves_per_step` ranges, each from the most to the least loaded node,
    /// choosing the range that best evens the two out; stops when no move helps.
    fn rebalance_step(&mut self) {
        for _ in 0..self.config.max_moves_per_step {
            let loads = self.node_loads();
            let hottest = loads
                .iter()
                .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0)));
            let coldest = loads
                .iter()
                .min_by(|a, b| a.1.total_cmp(b.1).then(a.0.cmp(b.0)));
            let (Some((&hot, &hot_load)), Some((&cold, &cold_load))) = (hottest, coldest) else {
                return;
            };
            let gap = hot_load - cold_load;
            // Moving load q leaves max(hot - q, cold + q): best when q is near gap / 2, useful
            // whenever 0 < q < gap.
            let best = self
                .ranges
                .iter()
                .filter(|(_, r)| r.node == hot && r.qps > 0.0 && r.qps < gap)
                .min_by(|a, b| {
                    (a.1.qps - gap / 2.0)
                        .abs()
                        .total_cmp(&(b.1.qps - gap / 2.0).abs())
                })
                .map(|(k, _)| k.clone());
            let Some(start) = best else {
                return;
            };
            if let Some(r) = self.ranges.get_mut(&start) {
                r.node = cold;
                self.activity.moves += 1;
            }
        }
    }
}

/// A skewed workload run against a [`RangeMap`], for tests, benchmarks and the advisor.
#[derive(Debug, Clone)]
pub struct ZipfExperiment {
    /// Nodes serving ranges.
    pub nodes: usize,
    /// Distinct keys.
    pub keys: usize,
    /// Zipf exponent (0.99: the YCSB default).
    pub exponent: f64,
    /// Queries per one-second window.
    pub queries_per_window: usize,
    /// Windows to run.
    pub windows: usize,
    /// Seed of the key order and of the queries.
    pub seed: u64,
    /// The range policy under test.
    pub config: RangeConfig,
}

/// The outcome of a [`ZipfExperiment`].
#[derive(Debug, Clone)]
pub struct ZipfOutcome {
    /// Max over mean node load in the last window.
    pub max_over_mean: f64,
    /// Ranges at the end.
    pub ranges: usize,
    /// Splits, merges and moves it took.
    pub activity: RangeActivity,
    /// Share of all queries that went to the hottest key.
    pub hottest_key_share: f64,
}

impl ZipfExperiment {
    /// 10 nodes, 100k keys, Zipf 0.99, 200k queries per window, 30 windows, default policy.
    pub fn new(seed: u64) -> ZipfExperiment {
        ZipfExperiment {
            nodes: 10,
            keys: 100_000,
            exponent: 0.99,
            queries_per_window: 200_000,
            windows: 30,
            seed,
            config: RangeConfig::default(),
        }
    }

    /// Runs it: keys are written once (1 KiB each), then every window draws queries by Zipf
    /// rank; ranks are scattered over the key space by a seeded shuffle, as user ids are.
    pub fn run(&self) -> ZipfOutcome {
        use rand::seq::SliceRandom;
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(self.seed);
        let nodes: Vec<NodeId> = (1..=self.nodes as NodeId).collect();
        let mut map = RangeMap::new(&nodes, self.config.clone());
        let mut order: Vec<usize> = (0..self.keys).collect();
        order.shuffle(&mut rng);
        let key = |i: usize| format!("user{:010}", order[i]).into_bytes();
        let keys: Vec<Vec<u8>> = (0..self.keys).map(key).collect();
        for k in &keys {
            map.write(k, 1024);
        }
        let zipf = super::Zipf::new(self.keys, self.exponent);
        let mut hottest = 0usize;
        for _ in 0..self.windows {
            for _ in 0..self.queries_per_window {
                let rank = zipf.rank(rng.random::<f64>());
                hottest += usize::from(rank == 0);
                map.access(&keys[rank]);
            }
            map.end_window(1.0);
        }
        let loads = map.node_loads();
        let mean = loads.values().sum::<f64>() / loads.len().max(1) as f64;
        let max = loads.values().copied().fold(0.0, f64::max);
        ZipfOutcome {
            max_over_mean: if mean > 0.0 { max / mean } else { 1.0 },
            ranges: map.ranges.len(),
            activity: map.activity(),
            hottest_key_share: hottest as f64
                / (self.windows * self.queries_per_window).max(1) as f64,
        }
    }
}
