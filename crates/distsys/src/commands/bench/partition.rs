//! `distsys bench partition`: every placement scheme at 10, 100 and 1000 nodes over 1M keys,
//! with the `hashring` crate's ring as a peer, then the range-partitioning Zipf experiment.

use crate::EXIT_OK;
use distsys_patterns::partitioning::range::ZipfExperiment;
use distsys_patterns::partitioning::{
    BoundedLoad, Jump, Maglev, Member, NodeId, Placement, Rendezvous, Ring,
};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::io::Write;
use std::time::Instant;

/// Virtual nodes per node for both rings (the seed's default).
const VNODES: u32 = 100;
/// Load cap of the bounded-load scheme.
const EPSILON: f64 = 0.25;

/// The `hashring` crate (SipHash, a sorted vector of points) with the same virtual nodes.
struct HashringPeer {
    ring: hashring::HashRing<(NodeId, u32)>,
}

impl HashringPeer {
    fn new(members: &[Member]) -> HashringPeer {
        let mut ring = hashring::HashRing::new();
        for m in members {
            for v in 0..VNODES {
                ring.add((m.id, v));
            }
        }
        HashringPeer { ring }
    }
}

impl Placement for HashringPeer {
    fn name(&self) -> String {
        format!("hashring crate ({VNODES} vnodes)")
    }
    fn locate(&self, key: &[u8]) -> NodeId {
        self.ring.get(&key).map_or(0, |(id, _)| *id)
    }
    fn replicas(&self, key: &[u8], count: usize) -> Vec<NodeId> {
        vec![self.locate(key)]
            .into_iter()
            .chain(std::iter::repeat_n(0, count.saturating_sub(1)))
            .collect()
    }
    fn memory_bytes(&self) -> usize {
        // One (hash, node) point per virtual node.
        self.ring.len() * std::mem::size_of::<(u64, (NodeId, u32))>()
    }
}

/// How a scheme is built for a node list, and whether it can lose a node from the middle.
struct Scheme {
    label: &'static str,
    build: fn(&[Member]) -> Box<dyn Placement>,
    /// Jump hashing can only drop its last bucket.
    removes_last_only: bool,
}

fn schemes() -> Vec<Scheme> {
    vec![
        Scheme {
            label: "ring",
            build: |m| Box::new(Ring::new(m, VNODES)),
            removes_last_only: false,
        },
        Scheme {
            label: "ring-1000v",
            build: |m| Box::new(Ring::new(m, 1000)),
            removes_last_only: false,
        },
        Scheme {
            label: "bounded-load",
            build: |m| Box::new(BoundedLoad::new(m, VNODES, EPSILON)),
            removes_last_only: false,
        },
        Scheme {
            label: "rendezvous",
            build: |m| Box::new(Rendezvous::new(m)),
            removes_last_only: false,
        },
        Scheme {
            label: "jump",
            build: |m| Box::new(Jump::new(m.iter().map(|x| x.id).collect())),
            removes_last_only: true,
        },
        Scheme {
            label: "maglev",
            // Sized for the largest cluster of the run, so adding a node keeps the table size.
            build: |m| {
                Box::new(Maglev::with_table_size(
                    m,
                    Maglev::table_size_for(m.len().max(1001)),
                ))
            },
            removes_last_only: false,
        },
        Scheme {
            label: "hashring (peer)",
            build: |m| Box::new(HashringPeer::new(m)),
            removes_last_only: false,
        },
    ]
}

/// Where every key goes: bounded-load assigns keys one by one (its placement depends on the
/// load so far); the others just look up.
fn place_all(label: &str, members: &[Member], keys: &[Vec<u8>]) -> (Vec<NodeId>, usize) {
    if label == "bounded-load" {
        let mut b = BoundedLoad::new(members, VNODES, EPSILON);
        let owners = keys.iter().map(|k| b.assign(k)).collect();
        return (owners, b.memory_bytes());
    }
    let scheme = schemes()
        .into_iter()
        .find(|s| s.label == label)
        .expect("known scheme");
    let built = (scheme.build)(members);
    (
        keys.iter().map(|k| built.locate(k)).collect(),
        built.memory_bytes(),
    )
}

fn moved(a: &[NodeId], b: &[NodeId]) -> usize {
    a.iter().zip(b).filter(|(x, y)| x != y).count()
}

pub fn run(key_count: usize, sizes: &[usize], stdout: &mut dyn Write) -> i32 {
    let keys: Vec<Vec<u8>> = (0..key_count)
        .map(|i| format!("user:{i:012}").into_bytes())
        .collect();
    let _ = writeln!(
        stdout,
        "placement schemes, {key_count} keys; moved = keys that change node, ideal = keys/n (add: keys/(n+1))"
    );
    let _ = writeln!(
        stdout,
        "{:>5} {:<17} {:>10} {:>9} {:>16} {:>16} {:>10}",
        "nodes", "scheme", "lookup ns", "max/mean", "moved on add", "moved on remove", "memory"
    );
    for &n in sizes {
        let members: Vec<Member> = (1..=n as NodeId).map(Member::new).collect();
        let mut grown = members.clone();
        grown.push(Member::new(n as NodeId + 1));
        for scheme in schemes() {
            let built = (scheme.build)(&members);
            let start = Instant::now();
            let mut sink = 0u64;
            for k in &keys {
                sink = sink.wrapping_add(built.locate(k));
            }
            black_box(sink);
            let lookup_ns = start.elapsed().as_nanos() as f64 / key_count as f64;
            let (owners, memory) = place_all(scheme.label, &members, &keys);
            let mut load: BTreeMap<NodeId, u64> = members.iter().map(|m| (m.id, 0)).collect();
            for o in &owners {
                *load.entry(*o).or_default() += 1;
            }
            let mean = key_count as f64 / n as f64;
            let max = load.values().copied().max().unwrap_or(0) as f64;
            let (after_add, _) = place_all(scheme.label, &grown, &keys);
            let removed: Vec<Member> = if scheme.removes_last_only {
                members[..n - 1].to_vec()
            } else {
                members
                    .iter()
                    .filter(|m| m.id != (n / 2) as NodeId + 1)
                    .cloned()
                    .collect()
            };
            let on_remove = if removed.is_empty() {
                "-".to_string()
            } else {
                let (after_remove, _) = place_all(scheme.label, &removed, &keys);
                let ideal = key_count as f64 / n as f64;
                format!("{:.2}x ideal", moved(&owners, &after_remove) as f64 / ideal)
            };
            let ideal_add = key_count as f64 / (n + 1) as f64;
            let _ = writeln!(
                stdout,
                "{:>5} {:<17} {:>10.0} {:>9.3} {:>16} {:>16} {:>9.1}K",
                n,
                scheme.label,
                lookup_ns,
                max / mean,
                format!(
                    "{:.2}x ideal",
                    moved(&owners, &after_add) as f64 / ideal_add
                ),
                on_remove,
                memory as f64 / 1024.0
            );
        }
    }
    let experiment = ZipfExperiment::new(1);
    let start = Instant::now();
    let out = experiment.run();
    let _ = writeln!(
        stdout,
        "range partitioning, Zipf {} over {} keys on {} nodes, {} queries/window, {} windows (split above {} qps at the load median, merge below {} qps, {} moves/step):",
        experiment.exponent,
        experiment.keys,
        experiment.nodes,
        experiment.queries_per_window,
        experiment.windows,
        experiment.config.split_qps,
        experiment.config.merge_qps,
        experiment.config.max_moves_per_step
    );
    let _ = writeln!(
        stdout,
        "  max/mean node load {:.3}; {} ranges after {} load splits, {} size splits, {} merges, {} moves; hottest key {:.1}% of queries; {:.1} s",
        out.max_over_mean,
        out.ranges,
        out.activity.load_splits,
        out.activity.size_splits,
        out.activity.merges,
        out.activity.moves,
        out.hottest_key_share * 100.0,
        start.elapsed().as_secs_f64()
    );
    EXIT_OK
}
