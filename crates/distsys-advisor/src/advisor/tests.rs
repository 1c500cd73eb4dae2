use super::*;
use crate::context::{ClusterConfig, Consistency, NetworkAssumptions};
use crate::quorum::{max_byzantine_faults, max_crash_faults, quorum_overlap};
use crate::schema::output_validator;
use proptest::prelude::*;

fn context(problem: ProblemType, nodes: u32) -> DistributedContext {
    DistributedContext::new(problem, nodes)
}

fn codes(advice: &Advice) -> Vec<&str> {
    advice.warnings.iter().map(|w| w.code.as_str()).collect()
}

#[test]
fn seed_consensus_quorums() {
    for (nodes, quorum) in [(3, 2), (5, 3), (7, 4)] {
        let mut ctx = context(ProblemType::Consensus, nodes);
        ctx.consistency_requirement = Consistency::Linearizable;
        let advice = advise(&ctx);
        assert_eq!(advice.protocol.name, "Raft");
        assert_eq!(advice.configuration.quorum_size, quorum, "n={nodes}");
        assert_eq!(advice.configuration.heartbeat_ms, 50);
        assert_eq!(advice.configuration.timeout_ms, 150);
        assert_eq!(advice.configuration.election_timeout_max_ms, Some(300));
    }
}

#[test]
fn byzantine_consensus_is_pbft_with_2f_plus_1() {
    let mut ctx = context(ProblemType::Consensus, 7);
    ctx.network_assumptions.byzantine = true;
    ctx.cluster_config.failure_tolerance = Some(2);
    let advice = advise(&ctx);
    assert_eq!(advice.protocol.name, "PBFT");
    assert_eq!(advice.configuration.quorum_size, 5);
    assert!(advice
        .failure_scenarios
        .iter()
        .any(|s| s.scenario == "byzantine equivocation"));
}

#[test]
fn wan_multi_region_consensus_prefers_multi_paxos_with_scaled_timers() {
    let mut ctx = context(ProblemType::Consensus, 5);
    ctx.consistency_requirement = Consistency::Linearizable;
    ctx.cluster_config.regions = vec!["eu".into(), "us".into(), "ap".into()];
    ctx.network_assumptions.latency_ms = Some(80.0);
    let advice = advise(&ctx);
    assert_eq!(advice.protocol.name, "Multi-Paxos");
    assert_eq!(advice.configuration.timeout_ms, 1600);
    assert!(codes(&advice).contains(&"latency_exceeds_default_timeouts"));
    assert!(advice
        .failure_scenarios
        .iter()
        .any(|s| s.scenario == "region loss" && s.behavior.contains("still form a quorum")));
}

#[test]
fn replication_mode_follows_consistency() {
    let expected = [
        (Consistency::Linearizable, "sync"),
        (Consistency::Sequential, "semi_sync"),
        (Consistency::Causal, "async"),
        (Consistency::Eventual, "leaderless"),
    ];
    for (consistency, mode) in expected {
        let mut ctx = context(ProblemType::Replication, 5);
        ctx.consistency_requirement = consistency;
        let advice = advise(&ctx);
        assert_eq!(
            advice.configuration.replication_mode.as_deref(),
            Some(mode),
            "{consistency:?}"
        );
    }
}

#[test]
fn leaderless_quorums_are_durable_and_available() {
    let mut ctx = context(ProblemType::Replication, 5);
    ctx.cluster_config.failure_tolerance = Some(2);
    let c = advise(&ctx).configuration;
    let (n, w, r) = (
        c.replica_count.unwrap(),
        c.write_quorum.unwrap(),
        c.read_quorum.unwrap(),
    );
    assert_eq!((n, w, r), (5, 3, 1));
    assert!(w > 2, "an acknowledged write survives f crashes");
    assert!(n - 2 >= w && n - 2 >= r, "available with f down");
}

#[test]
fn partitioning_chooses_by_regions_and_consistency() {
    let mut ctx = context(ProblemType::Partitioning, 100);
    let hashing = advise(&ctx);
    assert!(hashing.protocol.name.starts_with("Consistent hashing"));
    assert_eq!(hashing.configuration.virtual_nodes, Some(100));
    assert_eq!(hashing.configuration.replica_count, Some(3));
    ctx.consistency_requirement = Consistency::Linearizable;
    assert!(advise(&ctx).protocol.name.starts_with("Range partitioning"));
    ctx.cluster_config.regions = vec!["eu".into(), "us".into()];
    assert!(advise(&ctx).protocol.name.starts_with("Directory"));
}

#[test]
fn transaction_and_conflict_answers() {
    let mut ctx = context(ProblemType::Transaction, 9);
    ctx.consistency_requirement = Consistency::Linearizable;
    assert!(advise(&ctx)
        .protocol
        .name
        .starts_with("Parallel commits over Raft groups"));
    ctx.network_assumptions.byzantine = true;
    assert_eq!(
        advise(&ctx).protocol.name,
        "Two-phase commit over PBFT groups"
    );
    ctx.network_assumptions.byzantine = false;
    ctx.consistency_requirement = Consistency::Eventual;
    assert!(advise(&ctx).protocol.name.starts_with("Sagas"));
    let mut ctx = context(ProblemType::ConflictResolution, 3);
    ctx.consistency_requirement = Consistency::Causal;
    assert_eq!(
        advise(&ctx).configuration.clock.as_deref(),
        Some("version_vector")
    );
    ctx.consistency_requirement = Consistency::Eventual;
    let crdt = advise(&ctx);
    assert_eq!(crdt.configuration.clock.as_deref(), Some("hlc"));
    assert!(codes(&crdt).contains(&"lww_drops_concurrent_writes"));
}

#[test]
fn questionable_inputs_are_warned_about() {
    let mut ctx = context(ProblemType::Consensus, 4);
    ctx.consistency_requirement = Consistency::Linearizable;
    assert!(codes(&advise(&ctx)).contains(&"even_node_count"));
    let mut ctx = context(ProblemType::Consensus, 7);
    ctx.cluster_config.failure_tolerance = Some(0);
    ctx.network_assumptions.partition_probability = Some(0.5);
    let found = advise(&ctx);
    for code in [
        "no_fault_tolerance",
        "partition_probability_high",
        "consistency_weaker_than_consensus",
    ] {
        assert!(
            codes(&found).contains(&code),
            "{code} missing from {:?}",
            codes(&found)
        );
    }
    let mut ctx = context(ProblemType::Consensus, 5);
    ctx.consistency_requirement = Consistency::Linearizable;
    ctx.cluster_config.regions = vec!["a".into(), "b".into()];
    assert!(codes(&advise(&ctx)).contains(&"region_loss_loses_quorum"));
    let mut healthy = context(ProblemType::Consensus, 5);
    healthy.consistency_requirement = Consistency::Linearizable;
    assert!(
        advise(&healthy).warnings.is_empty(),
        "{:?}",
        advise(&healthy).warnings
    );
}

/// Any context that passes validation.
fn valid_context() -> impl Strategy<Value = DistributedContext> {
    (
        prop::sample::select(ProblemType::ALL.to_vec()),
        prop::sample::select(Consistency::ALL.to_vec()),
        any::<bool>(),
        1u32..=1000,
        prop::option::of(0u32..=400),
        prop::collection::vec("[a-z]{1,6}", 0..6),
        prop::option::of(1.0f64..2000.0),
        prop::option::of(0.0f64..=1.0),
    )
        .prop_map(
            |(problem_type, consistency, byzantine, nodes, f, mut regions, latency_ms, p)| {
                regions.sort();
                regions.dedup();
                let max_f = if byzantine {
                    max_byzantine_faults(nodes)
                } else {
                    max_crash_faults(nodes)
                };
                DistributedContext {
                    problem_type,
                    cluster_config: ClusterConfig {
                        nodes,
                        failure_tolerance: f.map(|f| f.min(max_f)),
                        regions,
                    },
                    consistency_requirement: consistency,
                    network_assumptions: NetworkAssumptions {
                        latency_ms,
                        partition_probability: p,
                        byzantine,
                        intra_region_latency_ms: None,
                        max_clock_offset_ms: None,
                    },
                    workload: None,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_valid_context_gets_a_sound_answer(ctx in valid_context()) {
        let advice = advise(&ctx);
        let c = &advice.configuration;
        prop_assert!(c.timeout_ms > c.heartbeat_ms);
        prop_assert!(advice.failure_scenarios.len() >= 3);
        prop_assert!(c.quorum_size >= 1 && c.quorum_size <= c.group_size);
        prop_assert!(c.group_size <= ctx.cluster_config.nodes);
        let leaderless = matches!(c.replication_mode.as_deref(), Some("leaderless") | Some("async"));
        if !leaderless {
            // Decision quorums of one group always intersect...
            prop_assert!(2 * c.quorum_size > c.group_size, "{:?}", c);
            // ...in at least f+1 nodes (one honest) when faults are byzantine.
            if ctx.byzantine() {
                prop_assert!(quorum_overlap(c.group_size, c.quorum_size) > c.failure_tolerance);
            }
            // ...and survive f failures.
            prop_assert!(c.group_size - c.failure_tolerance >= c.quorum_size);
        } else if let (Some(n), Some(w)) = (c.replica_count, c.write_quorum) {
            prop_assert!(w <= n);
        }
        let json = serde_json::to_value(&advice).unwrap();
        let errors: Vec<String> = output_validator().iter_errors(&json).map(|e| e.to_string()).collect();
        prop_assert!(errors.is_empty(), "{:?}", errors);
    }

    #[test]
    fn advice_is_deterministic(ctx in valid_context()) {
        prop_assert_eq!(advise(&ctx), advise(&ctx));
    }
}

#[test]
fn partitioning_quotes_measurements_of_the_chosen_scheme() {
    use distsys_patterns::partitioning::evidence;
    let mut ctx = DistributedContext::new(ProblemType::Partitioning, 40);
    ctx.consistency_requirement = Consistency::Eventual;
    let advice = advise_measured(&ctx);
    let measured = evidence::hashing(40, 100, 0.25);
    let quoted = advice
        .rationale
        .iter()
        .find(|r| r.choice.starts_with("measured"))
        .expect("a measured rationale");
    assert!(quoted
        .choice
        .contains(&format!("{:.3}", measured.max_over_mean)));
    assert!(measured.max_over_mean <= 1.25 + 1e-9);

    // Range partitioning: 10 groups of 3 balance; 100 groups cannot spread the hottest key.
    ctx.consistency_requirement = Consistency::Linearizable;
    ctx.cluster_config.nodes = 30;
    let advice = advise_measured(&ctx);
    assert!(advice
        .rationale
        .iter()
        .any(|r| r.choice.contains("load splits")));
    let hot = |a: &Advice| {
        a.warnings
            .iter()
            .any(|w| w.code == "hot_key_exceeds_group_share")
    };
    assert!(!hot(&advice));
    assert!(
        !hot(&advise(&ctx)),
        "the instant answer's bound agrees at 10 groups"
    );
    ctx.cluster_config.nodes = 300;
    assert!(hot(&advise_measured(&ctx)));
    assert!(
        hot(&advise(&ctx)),
        "the instant answer's bound agrees at 100 groups"
    );
    // The instant answer runs no measurement and says where to get one.
    assert!(advise(&ctx)
        .rationale
        .iter()
        .any(|r| r.choice.contains("advise --evidence")));
}

/// Wherever the instant answer's analytic bound warns about a hot key, the measurement does
/// too (the bound is a lower bound of the measured max/mean).
#[test]
fn the_hot_key_bound_never_warns_where_the_measurement_does_not() {
    for nodes in [3u32, 12, 30, 39, 45, 60, 90, 150, 300] {
        let mut ctx = DistributedContext::new(ProblemType::Partitioning, nodes);
        ctx.consistency_requirement = Consistency::Linearizable;
        let hot = |a: &Advice| {
            a.warnings
                .iter()
                .any(|w| w.code == "hot_key_exceeds_group_share")
        };
        if hot(&advise(&ctx)) {
            assert!(hot(&advise_measured(&ctx)), "n={nodes}");
        }
    }
}

/// Crash-fault consensus over more nodes than one group should vote with is answered with a
/// voting group of at most 7 and the rest learners, at every size, never one big group.
#[test]
fn large_consensus_clusters_get_voters_and_learners() {
    for nodes in [8u32, 9, 13, 51, 100, 1000] {
        let mut ctx = context(ProblemType::Consensus, nodes);
        ctx.consistency_requirement = Consistency::Linearizable;
        let advice = advise(&ctx);
        let c = &advice.configuration;
        assert!(
            c.group_size <= MAX_RECOMMENDED_VOTERS && c.group_size % 2 == 1,
            "{c:?}"
        );
        assert_eq!(c.learners, Some(nodes - c.group_size), "n={nodes}");
        assert_eq!(c.quorum_size, c.group_size / 2 + 1);
        assert_eq!(c.failure_tolerance, (c.group_size - 1) / 2);
        assert!(!codes(&advice).contains(&"too_many_voters"), "n={nodes}");
        assert!(advice
            .rationale
            .iter()
            .any(|r| r.choice.contains("learners")));
    }
    // Asking for more tolerance than 7 voters give says so.
    let mut ctx = context(ProblemType::Consensus, 1000);
    ctx.cluster_config.failure_tolerance = Some(5);
    let advice = advise(&ctx);
    assert_eq!(advice.configuration.group_size, 7);
    assert!(codes(&advice).contains(&"failure_tolerance_capped"));
    // Byzantine groups keep every replica a voter (PBFT has no learners here) and are warned.
    let mut ctx = context(ProblemType::Consensus, 10);
    ctx.network_assumptions.byzantine = true;
    let advice = advise(&ctx);
    assert_eq!(advice.configuration.learners, None);
    assert!(codes(&advice).contains(&"too_many_voters"));
    // Up to 7 nodes nothing changes.
    let advice = advise(&context(ProblemType::Consensus, 7));
    assert_eq!(advice.configuration.group_size, 7);
    assert_eq!(advice.configuration.learners, None);
}

/// The availability figure is the binomial tail, checked against a brute-force count over
/// every subset of reachable nodes.
#[test]
fn quorum_availability_matches_brute_force() {
    use super::environment::quorum_availability;
    for nodes in 1u32..=12 {
        for quorum in 1..=nodes {
            for p in [0.0, 0.01, 0.1, 0.3, 0.5, 0.9, 1.0] {
                let mut brute = 0.0;
                for mask in 0u32..(1 << nodes) {
                    let up = mask.count_ones();
                    if up >= quorum {
                        brute += (1.0f64 - p).powi(up as i32) * p.powi((nodes - up) as i32);
                    }
                }
                let fast = quorum_availability(nodes, quorum, p);
                assert!(
                    (fast - brute).abs() < 1e-9,
                    "n={nodes} q={quorum} p={p}: {fast} vs {brute}"
                );
            }
        }
    }
    // p = 0.3 per node, majority of 5: about 0.84.
    let mut ctx = context(ProblemType::Consensus, 5);
    ctx.network_assumptions.partition_probability = Some(0.3);
    let a = advise(&ctx)
        .configuration
        .quorum_availability
        .expect("figure");
    assert!((a - 0.83692).abs() < 1e-4, "{a}");
    // 1000 nodes do not overflow.
    let a = quorum_availability(1000, 501, 0.3);
    assert!(a > 0.999_999 && a <= 1.0, "{a}");
}

/// Every `(\d+)` right after `prefix` in `text` (e.g. "quorum of " -> the quorum numbers).
fn numbers_after(text: &str, prefix: &str) -> Vec<u32> {
    text.match_indices(prefix)
        .filter_map(|(i, _)| {
            let rest = &text[i + prefix.len()..];
            let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            digits.parse().ok()
        })
        .collect()
}

/// Every "X of Y" pair in `text`.
fn x_of_y(text: &str) -> Vec<(u32, u32)> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let number =
        |w: &str| -> Option<u32> { w.trim_matches(|c: char| !c.is_ascii_digit()).parse().ok() };
    words
        .windows(3)
        .filter(|w| w[1] == "of")
        .filter_map(|w| Some((number(w[0])?, number(w[2])?)))
        .collect()
}

/// The numbers a scenario may state about its quorum system, checked against the answer's own
/// configuration: what the issue found contradicted (more than f unreachable, 2 of 2 votes after
/// a crash, 2f prepares at n > 3f+1, a quorum of 4 where W is 3).
fn scenario_numbers_agree(advice: &Advice) -> Result<(), String> {
    let c = &advice.configuration;
    let n = c.group_size;
    let q = c.quorum_size;
    let members = c.replica_count.unwrap_or(n);
    let mut quorums = vec![q];
    quorums.extend(c.write_quorum);
    quorums.extend(c.read_quorum);
    for s in &advice.failure_scenarios {
        let text = format!("{} {}", s.behavior, s.recovery);
        let fail = |what: &str| {
            Err(format!(
                "{what} in {:?}: {text}\nconfiguration {c:?}",
                s.scenario
            ))
        };
        for x in numbers_after(&text, "quorum of ") {
            if !quorums.contains(&x) {
                return fail(&format!("quorum of {x}, configured {quorums:?}"));
            }
        }
        for x in numbers_after(&text, "more than ") {
            if text.contains(&format!("more than {x} of {n} nodes unreachable")) && x != n - q {
                return fail(&format!("more than {x} unreachable, n - q = {}", n - q));
            }
        }
        for prefix in ["Up to ", "up to "] {
            for x in numbers_after(&text, prefix) {
                let isolated = text.contains(&format!("{prefix}{x} node(s) isolated"))
                    || text.contains(&format!("{prefix}{x} replica(s) cut off"))
                    || text.contains(&format!("{prefix}{x} slow"));
                if isolated && x != n - q {
                    return fail(&format!("{x} may be cut off, n - q = {}", n - q));
                }
            }
        }
        for x in numbers_after(&text, "plus ") {
            if text.contains(&format!("plus {x} matching prepares")) && x != q - 1 {
                return fail(&format!("{x} prepares, q - 1 = {}", q - 1));
            }
        }
        for x in numbers_after(&text, "share at least ") {
            if x != quorum_overlap(n, q) {
                return fail(&format!("overlap {x}, 2q - n = {}", quorum_overlap(n, q)));
            }
        }
        for x in numbers_after(&text, "proved by ") {
            if x != q {
                return fail(&format!("{x} checkpoint messages, q = {q}"));
            }
        }
        for (x, y) in x_of_y(&text) {
            let allowed_total = [n, members, n.saturating_sub(1), members.saturating_sub(1)];
            if !allowed_total.contains(&y) {
                return fail(&format!("{x} of {y}: {y} is not a group size"));
            }
            if x > y {
                return fail(&format!("{x} of {y}"));
            }
            if text.contains(&format!("needs {x} of {y} votes"))
                || text.contains(&format!("promises from {x} of {y}"))
            {
                if x != q || y != n {
                    return fail(&format!("{x} of {y} votes, quorum {q} of {n}"));
                }
                if n - q == 0 {
                    return fail("an election after a crash that no survivor set can win");
                }
            }
        }
    }
    Ok(())
}

/// Raft's own mechanisms, which no other protocol's answer may claim.
const RAFT_WORDS: [&str; 6] = [
    "pre-vote",
    "check-quorum",
    "ReadIndex",
    "InstallSnapshot",
    "AppendEntries",
    "current term",
];

fn no_foreign_mechanisms(advice: &Advice) -> Result<(), String> {
    let raft =
        advice.protocol.name.contains("Raft") || advice.protocol.description.contains("Raft");
    if raft {
        return Ok(());
    }
    for s in &advice.failure_scenarios {
        for word in RAFT_WORDS {
            if s.behavior.contains(word) || s.recovery.contains(word) {
                return Err(format!(
                    "{} answer says {word:?} in {:?}",
                    advice.protocol.name, s.scenario
                ));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn no_scenario_states_a_number_its_configuration_contradicts(ctx in valid_context()) {
        let advice = advise(&ctx);
        prop_assert!(scenario_numbers_agree(&advice).is_ok(), "{}", scenario_numbers_agree(&advice).unwrap_err());
        prop_assert!(no_foreign_mechanisms(&advice).is_ok(), "{}", no_foreign_mechanisms(&advice).unwrap_err());
    }
}

#[test]
fn the_scenario_checks_reject_the_contradictions_the_issue_found() {
    let mut ctx = context(ProblemType::Consensus, 5);
    ctx.cluster_config.failure_tolerance = Some(0);
    let mut advice = advise(&ctx);
    assert!(scenario_numbers_agree(&advice).is_ok());
    // The old text: "more than f of n" with f = 0 where 2 of 5 may fail.
    advice.failure_scenarios[0].behavior =
        "With more than 0 of 5 nodes unreachable no side holds a quorum of 3".into();
    assert!(scenario_numbers_agree(&advice).is_err());
    advice.failure_scenarios[0].behavior = "a quorum of 4".into();
    assert!(scenario_numbers_agree(&advice).is_err());
    // Two nodes: an election that needs 2 of 2 votes after one crashed.
    let two = advise(&context(ProblemType::Consensus, 2));
    assert!(scenario_numbers_agree(&two).is_ok());
    let mut broken = two.clone();
    broken.failure_scenarios[0].behavior = "a candidate needs 2 of 2 votes".into();
    assert!(scenario_numbers_agree(&broken).is_err());
    // Raft words in a PBFT answer.
    let mut byzantine = context(ProblemType::Consensus, 9);
    byzantine.network_assumptions.byzantine = true;
    let mut pbft = advise(&byzantine);
    assert!(no_foreign_mechanisms(&pbft).is_ok() && scenario_numbers_agree(&pbft).is_ok());
    pbft.failure_scenarios[0].recovery = "catch up with InstallSnapshot".into();
    assert!(no_foreign_mechanisms(&pbft).is_err());
    pbft.failure_scenarios[0].behavior = "pre-prepare plus 4 matching prepares".into();
    assert!(scenario_numbers_agree(&pbft).is_err());
}

#[test]
fn five_nodes_in_three_regions_at_40_ms_commit_in_one_80_ms_round() {
    // Source: the issue's expectation; a leader in a 2-2-1 placement waits for its local peer
    // and the nearest remote one: one cross-region round trip, 2 x 40 ms.
    let mut ctx = context(ProblemType::Consensus, 5);
    ctx.cluster_config.regions = vec!["a".into(), "b".into(), "c".into()];
    ctx.network_assumptions.latency_ms = Some(40.0);
    ctx.consistency_requirement = Consistency::Linearizable;
    let f = advise(&ctx).figures;
    assert_eq!(f.commit_latency_ms, 80.0);
    assert_eq!(f.client_hop_ms, 2.0);
    assert_eq!(f.cross_region_rounds_per_write, 1);
    assert_eq!(f.read_latency_ms[0].path, "read_index");
    assert_eq!(f.read_latency_ms[0].latency_ms, 80.0);
    assert_eq!(f.leader_region.as_deref(), Some("a"));
    assert_eq!(f.messages_per_write, 8);
    assert_eq!((f.nodes, f.regions), (5, 3));
}

#[test]
fn availability_of_a_majority_of_five_at_p_0_3_is_about_0_84() {
    // Binomial: P(at least 3 of 5 up) with each down w.p. 0.3 = 0.83692.
    let mut ctx = context(ProblemType::Consensus, 5);
    ctx.network_assumptions.partition_probability = Some(0.3);
    let f = advise(&ctx).figures;
    assert_eq!(f.write_availability, Some(0.83692));
}

#[test]
fn two_regions_get_a_2_2_1_layout_with_a_witness_and_two_nodes_get_a_witness() {
    // Source: the usual answer to two data centres (etcd FAQ and CockroachDB's topology
    // patterns): a tie-breaker voter in a third failure domain.
    let mut ctx = context(ProblemType::Consensus, 5);
    ctx.cluster_config.regions = vec!["east".into(), "west".into()];
    let advice = advise(&ctx);
    let w = advice
        .warnings
        .iter()
        .find(|w| w.code == "region_loss_loses_quorum")
        .expect("two regions lose the quorum with the largest");
    assert!(w.message.contains("2-2-1 layout"), "{}", w.message);
    assert!(
        w.message.contains("leaves 3 of 5, a quorum of 3"),
        "{}",
        w.message
    );
    let two = advise(&context(ProblemType::Consensus, 2));
    assert!(codes(&two).contains(&"two_nodes_need_a_witness"));
    assert!(
        !codes(&advise(&context(ProblemType::Consensus, 3))).contains(&"two_nodes_need_a_witness")
    );
}

#[test]
fn each_design_names_the_safety_mechanisms_it_relies_on() {
    let names = |advice: &Advice| -> Vec<String> {
        advice
            .safety_mechanisms
            .iter()
            .map(|m| m.name.clone())
            .collect()
    };
    let raft = advise(&context(ProblemType::Consensus, 3));
    assert!(names(&raft).contains(&"fencing tokens".to_string()));
    assert!(raft.safety_mechanisms[0].why.contains("term"));
    let mut txn = context(ProblemType::Transaction, 9);
    txn.consistency_requirement = Consistency::Linearizable;
    let txn = advise(&txn);
    for name in [
        "timestamp ordering with write intents",
        "bounded clock offset",
        "commit wait",
    ] {
        assert!(
            names(&txn).contains(&name.to_string()),
            "{name}: {:?}",
            names(&txn)
        );
    }
    let mut sequential = context(ProblemType::Transaction, 9);
    sequential.consistency_requirement = Consistency::Sequential;
    let sequential = advise(&sequential);
    assert!(names(&sequential).contains(&"session order".to_string()));
    assert!(!names(&sequential).contains(&"commit wait".to_string()));
    let mut bft = context(ProblemType::Consensus, 7);
    bft.network_assumptions.byzantine = true;
    let bft = advise(&bft);
    assert!(names(&bft).contains(&"authenticated messages and f+1 replies".to_string()));
    assert!(bft.safety_mechanisms[0].why.contains("view number"));
    let mut crdt = context(ProblemType::ConflictResolution, 3);
    crdt.consistency_requirement = Consistency::Eventual;
    let crdt = advise(&crdt);
    if crdt.configuration.clock.as_deref() == Some("hlc") {
        assert!(names(&crdt).contains(&"bounded clock offset for LWW".to_string()));
    }
    assert!(!names(&crdt).contains(&"fencing tokens".to_string()));
    // The fencing token is the number that orders each design's leaders.
    let mut paxos = context(ProblemType::Consensus, 5);
    paxos.cluster_config.regions = vec!["a".into(), "b".into(), "c".into()];
    paxos.network_assumptions.latency_ms = Some(40.0);
    let paxos = advise(&paxos);
    assert_eq!(paxos.protocol.name, "Multi-Paxos");
    assert!(paxos.safety_mechanisms[0]
        .why
        .contains("carries its ballot"));
    let mut hashing = context(ProblemType::Partitioning, 40);
    hashing.consistency_requirement = Consistency::Eventual;
    let hashing = advise(&hashing);
    assert!(hashing.safety_mechanisms[0]
        .why
        .contains("carries its epoch"));
    // The runbooks quote the quorum arithmetic of the answer.
    let five = advise(&context(ProblemType::Consensus, 5));
    let upgrade = &five.operations.runbooks[1];
    assert!(
        upgrade.steps[2].contains("3 of 5 must stay up"),
        "{:?}",
        upgrade.steps
    );
    assert_eq!(five.operations.monitor[0].metric, "leader_elections_total");
}

#[test]
fn workload_hints_name_their_traps() {
    use crate::context::Workload;
    let hinted = |problem, workload| {
        let mut c = context(problem, 9);
        c.workload = Some(workload);
        advise(&c)
    };
    assert!(
        codes(&hinted(ProblemType::Partitioning, Workload::TimeSeries))
            .contains(&"time_ordered_keys")
    );
    assert!(codes(&hinted(
        ProblemType::ConflictResolution,
        Workload::CollaborativeText
    ))
    .contains(&"needs_sequence_crdt"));
    assert!(codes(&hinted(ProblemType::Partitioning, Workload::HotKeys)).contains(&"hot_keys"));
    assert!(
        codes(&hinted(ProblemType::Replication, Workload::LockService))
            .contains(&"lock_service_needs_consensus")
    );
    assert!(
        !codes(&hinted(ProblemType::Consensus, Workload::LockService))
            .contains(&"lock_service_needs_consensus")
    );
    // 200 ms between regions: quorum reads cost 400 ms, leases and follower reads are offered.
    let mut wan = context(ProblemType::Consensus, 3);
    wan.consistency_requirement = Consistency::Linearizable;
    wan.cluster_config.regions = vec!["eu".into(), "us".into(), "ap".into()];
    wan.network_assumptions.latency_ms = Some(200.0);
    let advice = advise(&wan);
    let w = advice
        .warnings
        .iter()
        .find(|w| w.code == "wan_quorum_reads")
        .expect("WAN read warning");
    assert!(w.message.contains("about 400 ms"), "{}", w.message);
    // A slower intra-region network changes the local round.
    let mut slow = context(ProblemType::Consensus, 5);
    slow.consistency_requirement = Consistency::Linearizable;
    slow.cluster_config.regions = vec!["a".into(), "b".into(), "c".into()];
    slow.network_assumptions.latency_ms = Some(40.0);
    slow.network_assumptions.intra_region_latency_ms = Some(5.0);
    assert_eq!(advise(&slow).figures.client_hop_ms, 10.0);
}

/// Counterexamples a helper session found on contexts outside the suite, each now a test.
#[test]
fn byzantine_data_designs_get_byzantine_groups_by_default() {
    for problem in [ProblemType::Partitioning, ProblemType::Transaction] {
        let mut ctx = context(problem, 30);
        ctx.consistency_requirement = Consistency::Linearizable;
        ctx.network_assumptions.byzantine = true;
        let advice = advise(&ctx);
        let c = &advice.configuration;
        assert_eq!(
            (c.group_size, c.failure_tolerance, c.quorum_size),
            (4, 1, 3)
        );
        assert!(
            advice.protocol.name.contains("PBFT"),
            "{}",
            advice.protocol.name
        );
        let text = serde_json::to_string(&advice).unwrap_or_default();
        for raft_only in ["pre-vote", "ReadIndex", "check-quorum", "InstallSnapshot"] {
            assert!(
                !text.contains(raft_only),
                "{problem:?}: {raft_only} in {text}"
            );
        }
    }
}

#[test]
fn a_group_of_one_is_not_said_to_be_split() {
    let mut ctx = context(ProblemType::Transaction, 2);
    ctx.consistency_requirement = Consistency::Linearizable;
    let advice = advise(&ctx);
    assert_eq!(advice.configuration.group_size, 1);
    for s in &advice.failure_scenarios {
        assert!(!s.behavior.contains("sides smaller"), "{}", s.behavior);
    }
}

#[test]
fn region_advice_counts_the_regions_a_loss_needs() {
    let mut ctx = context(ProblemType::Consensus, 4);
    ctx.consistency_requirement = Consistency::Linearizable;
    ctx.cluster_config.regions = vec!["r0".into(), "r1".into(), "r2".into()];
    let advice = advise(&ctx);
    let warning = advice
        .warnings
        .iter()
        .find(|w| w.code == "region_loss_loses_quorum")
        .expect("2 of 4 in one region loses the quorum of 3");
    assert!(
        warning
            .message
            .contains("at least 4 regions with at most 1 in each"),
        "{}",
        warning.message
    );
}

#[test]
fn quorum_availability_is_that_of_the_configured_quorum() {
    for (problem, consistency) in [
        (ProblemType::ConflictResolution, Consistency::Causal),
        (ProblemType::Replication, Consistency::Eventual),
        (ProblemType::Consensus, Consistency::Linearizable),
    ] {
        let mut ctx = context(problem, 7);
        ctx.consistency_requirement = consistency;
        ctx.network_assumptions.partition_probability = Some(0.1);
        let advice = advise(&ctx);
        let c = &advice.configuration;
        let expected = super::environment::quorum_availability(c.group_size, c.quorum_size, 0.1);
        let got = c.quorum_availability.unwrap_or(-1.0);
        assert!(
            (got - expected).abs() < 1e-6,
            "{problem:?}: {got} vs {expected}"
        );
    }
}
