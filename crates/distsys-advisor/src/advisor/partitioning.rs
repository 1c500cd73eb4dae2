//! `problem_type: partitioning`: where each key lives.
//!
//! Decision rule:
//! - two or more regions -> directory partitioning: a replicated directory maps key ranges to
//!   partitions so each partition can be pinned to the region of its users (data residency,
//!   latency); clients cache the directory and follow redirects.
//! - linearizable or sequential -> range partitioning, each range a consensus group of `2f+1`
//!   replicas (CockroachDB/TiKV): ordered keys allow range scans, and splits by size and load keep
//!   ranges small enough to move.
//! - causal or eventual -> consistent hashing with bounded loads (Mirrokni et al.): `v` virtual
//!   nodes per node smooth the ring, the load cap `(1 + epsilon)` bounds hot nodes, and adding a
//!   node moves about `1/n` of the keys.
//!
//! Every answer quotes a measurement of the chosen scheme at the context's size, run when the
//! advice is computed (`distsys_patterns::partitioning::evidence`): bounded-load hashing places 20 000
//! keys on the partition groups and on one more; range and directory partitioning run a short
//! Zipf 0.99 workload through load splits and rebalancing.

use super::environment::Environment;
use super::figures::{Fencing, WritePath};
use super::scenarios::{self, scenario};
use super::{rationale, Answer};
use crate::advice::{FailureScenario, Protocol};
use distsys_patterns::partitioning::evidence;

/// Virtual nodes per physical node (the seed's default).
pub const VIRTUAL_NODES: u32 = 100;
/// Load cap of bounded-load consistent hashing: at most `1 + epsilon` times the mean.
pub const LOAD_EPSILON: f64 = 0.25;
/// Split a range above this size (64 MiB), in bytes.
pub const RANGE_SPLIT_BYTES: u64 = 64 * 1024 * 1024;
/// Split a range above this load, in queries per second.
pub const RANGE_SPLIT_QPS: u64 = 2500;

/// The answer for a partitioning problem.
pub fn answer(env: &Environment) -> Answer {
    let mut answer = if env.regions().len() >= 2 {
        directory(env)
    } else if env.consistency().needs_total_order() {
        range(env)
    } else {
        hashing(env)
    };
    answer.configuration.replica_count = Some(env.group.size);
    answer.rationale.push(rationale(
        &format!(
            "cluster_config.nodes={}, failure_tolerance={}",
            env.nodes, env.f
        ),
        &format!(
            "each partition is replicated on {} node(s) ({} = {}f+1), so the cluster holds about \
             {} partition replica groups' worth of nodes",
            env.group.size,
            env.group.size,
            if env.byzantine() { 3 } else { 2 },
            (env.nodes / env.group.size.max(1)).max(1)
        ),
    ));
    answer
}

/// A node joins or leaves; `moved` says what moves, and the share quoted is the least any
/// scheme must move to rebalance (1/n of the data).
fn rebalance_scenario(env: &Environment, moved: &str) -> FailureScenario {
    scenario(
        "node added or removed",
        format!(
            "{moved}; with {} nodes at least 1/n = {:.1}% of the data moves per change.",
            env.nodes,
            100.0 / f64::from(env.nodes.max(1))
        ),
        "Data moves in the background with bounded concurrency; reads and writes keep going to \
         the old owner until the new one has caught up."
            .into(),
    )
}

fn hot_key_scenario(split: &str) -> FailureScenario {
    scenario(
        "hot partition (skewed keys)",
        "A few hot keys concentrate load on the nodes that own them.".into(),
        split.into(),
    )
}

fn hashing(env: &Environment) -> Answer {
    let mut configuration = env.base_configuration();
    configuration.virtual_nodes = Some(VIRTUAL_NODES);
    configuration.load_epsilon = Some(LOAD_EPSILON);
    configuration.election_timeout_max_ms = None;
    Answer {
        write_path: WritePath::quorum_leader(env, 1, Fencing::Epoch),
        protocol: Protocol {
            name: "Consistent hashing with bounded loads".into(),
            description: format!(
                "Keys and {VIRTUAL_NODES} virtual nodes per node are hashed onto a ring (xxh3, \
                 stable across runs and platforms); a key belongs to the first node clockwise whose \
                 load is below (1 + {LOAD_EPSILON}) x the mean; replicas are the next distinct nodes."
            ),
            correctness_guarantee: format!(
                "Deterministic placement; no node above {:.2}x the mean load; adding or removing a \
                 node moves the keys it gains or loses (1/n of them on a plain ring) plus the keys \
                 the load cap re-routes, a multiple of 1/n that `advise --evidence` measures at this \
                 size.",
                1.0 + LOAD_EPSILON
            ),
        },
        configuration,
        failure_scenarios: vec![
            rebalance_scenario(
                env,
                "Adding a node moves the keys it takes over and those the load cap re-routes \
                 (several times the plain ring's share: the measured multiple is in the rationale \
                 of `advise --evidence`)",
            ),
            hot_key_scenario(
                "The load cap pushes keys of an overloaded node to its successors; a single hot key \
                 needs caching or key splitting.",
            ),
            scenarios::replica_disk_loss(env.group.size, env.group.quorum),
            scenarios::divergent_partition("replicas of each key converge by anti-entropy"),
        ],
        rationale: vec![rationale(
            &format!("consistency_requirement={}", env.consistency().as_str()),
            &format!(
                "no total order needed, so hash partitioning: uniform load without a directory; \
                 {VIRTUAL_NODES} virtual nodes give a load spread of about 1/sqrt({VIRTUAL_NODES}) = 10% \
                 and the bounded-load cap (epsilon = {LOAD_EPSILON}) removes the remaining hot spots"
            ),
        ), measured_hashing(env)],
        warnings: Vec::new(),
    }
}

/// Partition groups the data is spread over (at least one).
fn partition_groups(env: &Environment) -> usize {
    (env.nodes / env.group.size.max(1)).max(1) as usize
}

/// Said where a measurement was not run (plain `advise`).
fn not_measured(env: &Environment) -> crate::advice::Rationale {
    rationale(
        &format!("cluster_config.nodes={}", env.nodes),
        "placement not measured in this answer: `advise --evidence` places and loads the scheme \
         at this size and quotes the figures",
    )
}

fn measured_hashing(env: &Environment) -> crate::advice::Rationale {
    if !env.measure {
        return not_measured(env);
    }
    // Every node is on the ring (replicas are the next distinct nodes clockwise).
    let nodes = env.nodes.max(1) as usize;
    let measured = evidence::hashing(nodes, VIRTUAL_NODES, LOAD_EPSILON);
    rationale(
        &format!("cluster_config.nodes={nodes}"),
        &format!("{measured}; the cap allows {:.2}", 1.0 + LOAD_EPSILON),
    )
}

/// The measured range run as a rationale, and a warning when one hot key alone outweighs a
/// group's fair share (no split can fix that: it needs caching or key splitting).
fn measured_range(env: &Environment) -> (crate::advice::Rationale, Option<crate::advice::Warning>) {
    let groups = partition_groups(env);
    if !env.measure {
        return (not_measured(env), hot_key_bound_warning(groups));
    }
    let (experiment, outcome) = evidence::range(groups, 1);
    let warning = (outcome.max_over_mean > HOT_KEY_LIMIT).then(|| {
        super::warning(
            "hot_key_exceeds_group_share",
            format!(
                "under a Zipf 0.99 workload over {} groups the hottest key alone takes {:.1}% of \
                 queries, more than one group's fair share ({:.1}%): splits cannot spread a single \
                 key, so the busiest group runs at {:.1}x the mean (and more with {groups} \
                 groups); cache hot keys or split them at the application level",
                experiment.nodes,
                outcome.hottest_key_share * 100.0,
                100.0 / experiment.nodes as f64,
                outcome.max_over_mean
            ),
        )
    });
    (
        rationale(
            &format!("{groups} partition group(s)"),
            &evidence::describe_range(&experiment, &outcome),
        ),
        warning,
    )
}

/// Keys and exponent of the Zipf workload the range measurement runs (and the analytic bound
/// assumes).
const ZIPF_KEYS: u32 = 5_000;
const ZIPF_EXPONENT: f64 = 0.99;

/// Without a measurement: the hottest key's share of a Zipf workload is `1 / H(K, s)` (the
/// generalised harmonic number), and the group holding it carries at least that, so its load
/// over the mean is at least `share x groups`; warn when that bound already passes the limit.
fn hot_key_bound_warning(groups: usize) -> Option<crate::advice::Warning> {
    let harmonic: f64 = (1..=ZIPF_KEYS)
        .map(|k| f64::from(k).powf(-ZIPF_EXPONENT))
        .sum();
    let share = 1.0 / harmonic;
    let bound = share * groups as f64;
    (bound > HOT_KEY_LIMIT).then(|| {
        super::warning(
            "hot_key_exceeds_group_share",
            format!(
                "under a Zipf {ZIPF_EXPONENT} workload over {ZIPF_KEYS} keys the hottest key alone \
                 takes {:.1}% of queries, more than one of {groups} groups' fair share ({:.1}%): \
                 splits cannot spread a single key, so the busiest group runs at {bound:.1}x the \
                 mean or more; cache hot keys or split them at the application level",
                share * 100.0,
                100.0 / groups as f64
            ),
        )
    })
}

/// Above this max/mean group load the advisor warns about hot keys.
const HOT_KEY_LIMIT: f64 = 1.3;

fn range(env: &Environment) -> Answer {
    let measured = measured_range(env);
    let mut configuration = env.base_configuration();
    configuration.range_split_bytes = Some(RANGE_SPLIT_BYTES);
    configuration.range_split_qps = Some(RANGE_SPLIT_QPS);
    let byzantine = env.byzantine();
    if byzantine {
        configuration.read_path = Some("quorum".into());
    } else {
        configuration.pre_vote = Some(true);
        configuration.check_quorum = Some(true);
        configuration.read_path = Some("read_index".into());
    }
    let group_protocol = if byzantine { "PBFT" } else { "Raft" };
    let (leader, partition) = if byzantine {
        (
            scenarios::byzantine_equivocation(env),
            scenarios::minority_partition_bft(env),
        )
    } else {
        (
            scenarios::leader_crash(env, scenarios::Family::Raft),
            scenarios::minority_partition(env, scenarios::Family::Raft),
        )
    };
    let mut failure_scenarios = vec![
        rebalance_scenario(env, "The rebalancer moves whole ranges toward equal load, a bounded number per step"),
        hot_key_scenario(&format!(
            "A range above {RANGE_SPLIT_QPS} queries/s splits at its load-median key and the halves \
             move apart; a range above {} MiB splits by size; cold neighbours merge.",
            RANGE_SPLIT_BYTES / (1024 * 1024)
        )),
        leader,
        partition,
    ];
    failure_scenarios.extend(scenarios::region_loss(env, env.group.quorum));
    Answer {
        write_path: if byzantine {
            WritePath::Byzantine
        } else {
            WritePath::quorum_leader(env, 1, Fencing::Term)
        },
        protocol: Protocol {
            name: format!("Range partitioning over {group_protocol} groups"),
            description: format!(
                "The key space is cut into ordered ranges; each range is a {group_protocol} group \
                 that splits by size and load and moves between nodes by membership change."
            ),
            correctness_guarantee: format!(
                "Linearizable per key (each range is one consensus group) with up to {} of {} \
                 replicas of a range failed; range scans see ordered keys.",
                env.group.f, env.group.size
            ),
        },
        configuration,
        failure_scenarios,
        rationale: vec![rationale(
            &format!("consistency_requirement={}", env.consistency().as_str()),
            "a total order per key is needed, so each partition is a consensus group; ranges (not \
             hashes) so that splits follow load and range scans stay on few nodes",
        ), measured.0],
        warnings: measured.1.into_iter().collect(),
    }
}

fn directory(env: &Environment) -> Answer {
    let mut answer = range(env);
    answer.protocol = Protocol {
        name: "Directory partitioning with region pinning".into(),
        description: "A directory (a small Raft-replicated map from key range to partition and \
                      region) decides placement; each partition is pinned to the region of its \
                      users. Clients cache the directory and follow MOVED redirects when it is stale."
            .into(),
        correctness_guarantee: format!(
            "Every key has exactly one owning partition at a time (directory changes are \
             linearizable); partitions tolerate {} failure(s) each; a stale client cache costs one \
             redirect, never a wrong answer.",
            env.group.f
        ),
    };
    answer.failure_scenarios.insert(
        0,
        scenario(
            "stale directory cache",
            "A client sends a request to the partition's old owner after a move.".into(),
            "The old owner answers MOVED with the new owner; the client refreshes its cache and \
             retries once."
                .into(),
        ),
    );
    let measured = answer.rationale.pop();
    answer.rationale = vec![rationale(
        &format!("cluster_config.regions has {} regions", env.regions().len()),
        "directory partitioning: placement is an explicit decision per partition, so data can be \
         pinned to the region that uses it (latency, residency) instead of wherever a hash puts it",
    )];
    answer.rationale.extend(measured);
    answer
}
