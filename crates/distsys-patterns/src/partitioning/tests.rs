use super::directory::{serve, CachingClient, Command, Directory, DirectoryState};
use super::range::{RangeConfig, RangeMap, ZipfExperiment};
use super::*;
use proptest::prelude::*;

fn members(n: u64) -> Vec<Member> {
    (1..=n).map(Member::new).collect()
}

fn keys(count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| format!("key-{i}").into_bytes())
        .collect()
}

/// Every scheme over the same nodes, boxed behind the trait.
fn schemes(m: &[Member]) -> Vec<Box<dyn Placement>> {
    vec![
        Box::new(Ring::new(m, 100)),
        Box::new(BoundedLoad::new(m, 100, 0.25)),
        Box::new(Rendezvous::new(m)),
        Box::new(Jump::new(m.iter().map(|x| x.id).collect())),
        Box::new(Maglev::new(m)),
    ]
}

#[test]
fn seed_ring_adding_a_third_node_to_two_moves_about_a_third_of_the_keys() {
    let mut ring = Ring::new(&members(2), 100);
    let keys = keys(30_000);
    let before: Vec<NodeId> = keys.iter().map(|k| ring.locate(k)).collect();
    ring.add(&Member::new(3));
    let mut moved = 0;
    for (k, old) in keys.iter().zip(&before) {
        let new = ring.locate(k);
        if new != *old {
            moved += 1;
            assert_eq!(new, 3, "a key moved between old nodes");
        }
    }
    let fraction = moved as f64 / keys.len() as f64;
    assert!((0.25..=0.42).contains(&fraction), "moved {fraction:.3}");
}

#[test]
fn hashes_and_placements_are_pinned_across_versions() {
    // Golden values: a change here moves every user's data; it must be deliberate.
    assert_eq!(key_hash(b"distsys"), 0x31cc_d833_13e6_a39b);
    let m = members(5);
    let placed: Vec<NodeId> = schemes(&m).iter().map(|s| s.locate(b"user42")).collect();
    assert_eq!(placed, vec![1, 1, 4, 2, 2]);
    // A fingerprint of 10 000 placements per scheme on 7 nodes.
    let m = members(7);
    let fingerprints: Vec<u64> = schemes(&m)
        .iter()
        .map(|s| keys(10_000).iter().fold(0, |h, k| mix(h, s.locate(k))))
        .collect();
    assert_eq!(
        fingerprints,
        vec![
            1_131_160_431_269_488_881,
            1_131_160_431_269_488_881,
            15_718_518_107_530_460_810,
            10_365_854_711_510_680_737,
            10_142_382_143_838_592_336
        ]
    );
}

#[test]
fn replicas_use_distinct_zones_while_there_are_zones() {
    let zoned: Vec<Member> = (1..=9)
        .map(|id| Member {
            id,
            weight: 1,
            zone: Some(format!("zone-{}", id % 3)),
        })
        .collect();
    let zone_of = |id: NodeId| id % 3;
    for scheme in [
        Box::new(Ring::new(&zoned, 100)) as Box<dyn Placement>,
        Box::new(Rendezvous::new(&zoned)),
        Box::new(Maglev::new(&zoned)),
    ] {
        for key in keys(200) {
            let r = scheme.replicas(&key, 3);
            assert_eq!(r.len(), 3, "{}", scheme.name());
            let zones: BTreeSet<u64> = r.iter().map(|n| zone_of(*n)).collect();
            assert_eq!(zones.len(), 3, "{}: {r:?}", scheme.name());
            assert_eq!(r[0], scheme.locate(&key), "the owner comes first");
        }
        // More replicas than zones: distinct nodes still.
        let r = scheme.replicas(b"k", 5);
        assert_eq!(r.iter().collect::<BTreeSet<_>>().len(), 5);
    }
}

#[test]
fn weights_shift_load_in_proportion() {
    let mut m = members(4);
    m[0].weight = 3;
    for scheme in [
        Box::new(Ring::new(&m, 100)) as Box<dyn Placement>,
        Box::new(Rendezvous::new(&m)),
        Box::new(Maglev::new(&m)),
    ] {
        let heavy = keys(30_000)
            .iter()
            .filter(|k| scheme.locate(k) == 1)
            .count() as f64
            / 30_000.0;
        // Weight 3 of 6: half the keys, give or take.
        assert!(
            (0.42..=0.58).contains(&heavy),
            "{}: {heavy:.3}",
            scheme.name()
        );
    }
}

#[test]
fn bounded_load_never_exceeds_its_cap() {
    for epsilon in [0.1, 0.25, 0.5] {
        let mut b = BoundedLoad::new(&members(17), 100, epsilon);
        for key in keys(50_000) {
            b.assign(&key);
        }
        let mean = 50_000.0 / 17.0;
        let max = *b.loads().values().max().expect("nodes") as f64;
        assert!(
            max <= ((1.0 + epsilon) * mean).ceil() + 1.0,
            "eps {epsilon}: max {max} mean {mean:.0}"
        );
    }
}

#[test]
fn a_zipf_workload_is_evened_out_by_load_splits_and_moves() {
    let mut experiment = ZipfExperiment::new(7);
    experiment.keys = 20_000;
    experiment.queries_per_window = 50_000;
    experiment.windows = 25;
    experiment.config.split_qps = 700.0;
    experiment.config.merge_qps = 50.0;
    let out = experiment.run();
    assert!(out.activity.load_splits > 10, "{out:?}");
    assert!(out.activity.moves > 5, "{out:?}");
    assert!(out.max_over_mean <= 1.3, "{out:?}");
    // Without splitting nothing can move off the first node: the cluster stays lopsided.
    experiment.config.split_qps = f64::INFINITY;
    let stuck = experiment.run();
    assert!(stuck.max_over_mean > 5.0, "{stuck:?}");
}

#[test]
fn size_splits_cut_at_the_size_median_and_cold_ranges_merge() {
    let config = RangeConfig {
        split_bytes: 10_000,
        split_qps: f64::INFINITY,
        merge_qps: 1.0,
        max_moves_per_step: 0,
    };
    let mut map = RangeMap::new(&[1], config);
    for i in 0..100u32 {
        map.write(format!("k{i:03}").as_bytes(), 1_000);
    }
    map.end_window(1.0);
    assert!(map.activity().size_splits >= 9);
    assert!(map.ranges().all(|r| r.bytes <= 10_000));
    // Shrink everything: neighbours merge back while staying under half the split size.
    for i in 0..100u32 {
        map.write(format!("k{i:03}").as_bytes(), 10);
    }
    let before = map.ranges().count();
    map.end_window(1.0);
    assert!(map.activity().merges > 0);
    assert!(map.ranges().count() < before);
}

#[test]
fn a_stale_directory_cache_costs_one_redirect_never_a_wrong_node() {
    let mut dir = DirectoryState::new(1);
    for at in ["g", "n", "t"] {
        dir.apply(&Command::Split {
            at: at.as_bytes().to_vec(),
        })
        .expect("split");
    }
    let mut client = CachingClient::default();
    let probe = ["apple", "house", "pear", "zebra"];
    for key in probe {
        assert_eq!(
            client.request(key.as_bytes(), &dir, |n| serve(n, key.as_bytes(), &dir)),
            1
        );
    }
    assert_eq!(client.redirects, 0);
    // Partitions 2 and 4 move; the client's cache is now stale for "house" and "zebra".
    dir.apply(&Command::Move {
        partition: 2,
        to: 7,
    })
    .expect("move");
    dir.apply(&Command::Move {
        partition: 4,
        to: 8,
    })
    .expect("move");
    for key in probe {
        let owner = dir.lookup(key.as_bytes()).node;
        let served = client.request(key.as_bytes(), &dir, |n| serve(n, key.as_bytes(), &dir));
        assert_eq!(served, owner, "{key}");
    }
    assert_eq!(client.redirects, 2, "one redirect per stale entry");
    let again = client.request(b"house", &dir, |n| serve(n, b"house", &dir));
    assert_eq!((again, client.redirects), (7, 2), "the cache was refreshed");
    assert!(dir
        .apply(&Command::Move {
            partition: 99,
            to: 1
        })
        .is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn placement_is_deterministic(n in 1u64..40, seed in any::<u64>()) {
        let m = members(n);
        let (a, b) = (schemes(&m), schemes(&m));
        for i in 0..200u64 {
            let key = (seed ^ i).to_le_bytes();
            for (x, y) in a.iter().zip(&b) {
                prop_assert_eq!(x.locate(&key), y.locate(&key));
            }
        }
    }

    #[test]
    fn adding_a_node_moves_keys_only_to_it(n in 1u64..30) {
        let before = members(n);
        let after = members(n + 1);
        let pairs: Vec<(Box<dyn Placement>, Box<dyn Placement>)> = vec![
            (Box::new(Ring::new(&before, 100)), Box::new(Ring::new(&after, 100))),
            (Box::new(Rendezvous::new(&before)), Box::new(Rendezvous::new(&after))),
            (
                Box::new(Jump::new(before.iter().map(|m| m.id).collect())),
                Box::new(Jump::new(after.iter().map(|m| m.id).collect())),
            ),
        ];
        for (old, new) in &pairs {
            for key in keys(2_000) {
                let (o, w) = (old.locate(&key), new.locate(&key));
                prop_assert!(o == w || w == n + 1, "{}: {} -> {}", old.name(), o, w);
            }
        }
    }

    #[test]
    fn replica_sets_are_distinct_nodes(n in 1u64..20, count in 1usize..6) {
        let m = members(n);
        for scheme in schemes(&m) {
            for key in keys(50) {
                let r = scheme.replicas(&key, count);
                prop_assert_eq!(r.len(), count.min(n as usize));
                prop_assert_eq!(r.iter().collect::<BTreeSet<_>>().len(), r.len());
            }
        }
    }

    #[test]
    fn ranges_always_cover_the_key_space(ops in proptest::collection::vec((0u16..500, 0u64..5_000, any::<bool>()), 1..400)) {
        let config = RangeConfig { split_bytes: 20_000, split_qps: 40.0, merge_qps: 5.0, max_moves_per_step: 2 };
        let mut map = RangeMap::new(&[1, 2, 3], config);
        for (i, (key, bytes, window)) in ops.iter().enumerate() {
            let key = format!("k{key:04}");
            map.write(key.as_bytes(), *bytes);
            map.access(key.as_bytes());
            if *window || i % 50 == 0 {
                map.end_window(1.0);
            }
            prop_assert_eq!(map.locate(key.as_bytes()).start <= key.as_bytes().to_vec(), true);
        }
        let ranges: Vec<_> = map.ranges().collect();
        prop_assert!(ranges[0].start.is_empty());
        prop_assert!(ranges.last().map(|r| r.end.is_none()).unwrap_or(false));
        for w in ranges.windows(2) {
            prop_assert_eq!(w[0].end.as_ref(), Some(&w[1].start));
        }
    }
}
