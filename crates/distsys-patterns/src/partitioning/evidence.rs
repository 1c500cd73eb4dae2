//! Small measurements the advisor quotes: the chosen scheme run at the context's size.

use super::range::{RangeConfig, ZipfExperiment, ZipfOutcome};
use super::{BoundedLoad, Member, NodeId};

/// Keys placed per node by [`hashing`] (at least 20 000 and at most 100 000 in all): enough
/// keys per node that the load cap is not dominated by rounding.
pub const SAMPLE_KEYS_PER_NODE: usize = 100;

/// What bounded-load consistent hashing did at one cluster size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HashingEvidence {
    /// Nodes placed on.
    pub nodes: usize,
    /// Keys placed.
    pub keys: usize,
    /// Most keys on one node over the mean.
    pub max_over_mean: f64,
    /// Keys that changed node when one node was added, over the ideal `keys / (nodes + 1)`.
    pub moved_on_add_vs_ideal: f64,
}

fn assign_all(nodes: usize, vnodes: u32, epsilon: f64, keys: &[Vec<u8>]) -> Vec<NodeId> {
    let members: Vec<Member> = (1..=nodes as NodeId).map(Member::new).collect();
    let mut b = BoundedLoad::new(&members, vnodes, epsilon);
    keys.iter().map(|k| b.assign(k)).collect()
}

/// Places [`SAMPLE_KEYS_PER_NODE`] keys per node with bounded-load hashing on `nodes` nodes,
/// then on one more.
pub fn hashing(nodes: usize, vnodes: u32, epsilon: f64) -> HashingEvidence {
    let nodes = nodes.max(1);
    let sample = (nodes * SAMPLE_KEYS_PER_NODE).clamp(20_000, 100_000);
    let keys: Vec<Vec<u8>> = (0..sample)
        .map(|i| format!("key:{i}").into_bytes())
        .collect();
    let before = assign_all(nodes, vnodes, epsilon, &keys);
    let after = assign_all(nodes + 1, vnodes, epsilon, &keys);
    let mut load = vec![0u64; nodes + 1];
    for n in &before {
        load[*n as usize] += 1;
    }
    let max = load.iter().copied().max().unwrap_or(0) as f64;
    let mean = sample as f64 / nodes as f64;
    let moved = before.iter().zip(&after).filter(|(a, b)| a != b).count() as f64;
    let ideal = sample as f64 / (nodes + 1) as f64;
    HashingEvidence {
        nodes,
        keys: sample,
        max_over_mean: max / mean,
        moved_on_add_vs_ideal: moved / ideal,
    }
}

/// A small Zipf 0.99 run of range partitioning on `nodes` nodes (at most 64), with the load
/// split threshold scaled to the run: a range above an eighth of a node's fair share splits.
pub fn range(nodes: usize, seed: u64) -> (ZipfExperiment, ZipfOutcome) {
    let nodes = nodes.clamp(1, 64);
    let queries = 10_000;
    let experiment = ZipfExperiment {
        nodes,
        keys: 5_000,
        exponent: 0.99,
        queries_per_window: queries,
        windows: 20,
        seed,
        config: RangeConfig {
            split_bytes: 64 << 20,
            // Ranges above an eighth of a node's fair share split.
            split_qps: queries as f64 / (8 * nodes) as f64,
            merge_qps: queries as f64 / (80 * nodes) as f64,
            max_moves_per_step: (nodes / 2).max(4),
        },
    };
    let outcome = experiment.run();
    (experiment, outcome)
}

impl std::fmt::Display for HashingEvidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "measured on {} keys over {} node(s): max/mean load {:.3}, keys moved when a node is added {:.2}x the ideal 1/(n+1)",
            self.keys, self.nodes, self.max_over_mean, self.moved_on_add_vs_ideal
        )
    }
}

/// The sentence the advisor quotes for a range run.
pub fn describe_range(experiment: &ZipfExperiment, outcome: &ZipfOutcome) -> String {
    format!(
        "measured on a Zipf {} workload over {} keys and {} node(s): max/mean node load {:.3} after {} load splits and {} moves ({} windows; the hottest key alone took {:.1}% of queries)",
        experiment.exponent,
        experiment.keys,
        experiment.nodes,
        outcome.max_over_mean,
        outcome.activity.load_splits,
        outcome.activity.moves,
        experiment.windows,
        outcome.hottest_key_share * 100.0
    )
}
