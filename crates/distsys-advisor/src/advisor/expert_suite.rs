//! The expert-answer suite: contexts a real user asks about, with the answer an expert gives
//! written out (protocol, numbers, warnings) and the source of each expectation. A change
//! of the advisor that contradicts one of them fails here, naming the case.

#![cfg(test)]

use super::advise;
use crate::advice::Advice;
use crate::context::{Consistency, DistributedContext, ProblemType};

/// One case: a context and what the answer must say.
struct Case {
    name: &'static str,
    context: DistributedContext,
    protocol: &'static str,
    /// `(group_size, failure_tolerance, quorum_size)`.
    group: (u32, u32, u32),
    warnings: &'static [&'static str],
    /// Extra checks on the answer.
    check: fn(&Advice) -> Result<(), String>,
}

fn ctx(problem: ProblemType, nodes: u32, consistency: Consistency) -> DistributedContext {
    let mut c = DistributedContext::new(problem, nodes);
    c.consistency_requirement = consistency;
    c
}

fn with(
    mut c: DistributedContext,
    edit: impl FnOnce(&mut DistributedContext),
) -> DistributedContext {
    edit(&mut c);
    c
}

fn regions(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn ok(_: &Advice) -> Result<(), String> {
    Ok(())
}

fn expect(cond: bool, what: &str) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(what.to_string())
    }
}

fn scenario<'a>(advice: &'a Advice, name: &str) -> Option<&'a crate::advice::FailureScenario> {
    advice.failure_scenarios.iter().find(|s| s.scenario == name)
}

fn cases() -> Vec<Case> {
    use Consistency::*;
    use ProblemType::*;
    vec![
        // Raft paper (Ongaro & Ousterhout, 5.2): 150-300 ms election timeouts on a LAN; 3
        // servers tolerate 1 failure.
        Case {
            name: "3-node LAN consensus",
            context: ctx(Consensus, 3, Linearizable),
            protocol: "Raft",
            group: (3, 1, 2),
            warnings: &[],
            check: |a| {
                expect(a.configuration.timeout_ms == 150, "150 ms election timeout")?;
                expect(
                    a.configuration.election_timeout_max_ms == Some(300),
                    "300 ms max",
                )?;
                expect(
                    a.configuration.read_path.as_deref() == Some("read_index"),
                    "ReadIndex",
                )
            },
        },
        // etcd FAQ: 5 members tolerate 2 failures, the recommended production size.
        Case {
            name: "5-node consensus",
            context: ctx(Consensus, 5, Linearizable),
            protocol: "Raft",
            group: (5, 2, 3),
            warnings: &[],
            check: |a| {
                expect(
                    a.figures.messages_per_write == 8,
                    "2(n-1) messages per write",
                )
            },
        },
        // One node: no fault tolerance at all.
        Case {
            name: "single node",
            context: ctx(Consensus, 1, Linearizable),
            protocol: "Raft",
            group: (1, 0, 1),
            warnings: &["single_node"],
            check: ok,
        },
        // Two nodes: quorum 2 of 2, no failover; the fix is a witness (etcd FAQ: "an even
        // number of members adds no tolerance").
        Case {
            name: "two nodes",
            context: ctx(Consensus, 2, Linearizable),
            protocol: "Raft",
            group: (2, 0, 2),
            warnings: &["two_nodes_need_a_witness"],
            check: |a| {
                let crash = scenario(a, "leader crash").ok_or("no leader crash scenario")?;
                expect(
                    crash.behavior.contains("No failover"),
                    "no election promised",
                )
            },
        },
        // etcd FAQ: 4 members tolerate 1 failure, like 3.
        Case {
            name: "even node count",
            context: ctx(Consensus, 4, Linearizable),
            protocol: "Raft",
            group: (4, 1, 3),
            warnings: &["even_node_count"],
            check: ok,
        },
        // f = 0 with 5 nodes: the quorum of 3 still survives 2 failures (majority math).
        Case {
            name: "f=0 with 5 nodes",
            context: with(ctx(Consensus, 5, Linearizable), |c| {
                c.cluster_config.failure_tolerance = Some(0)
            }),
            protocol: "Raft",
            group: (5, 0, 3),
            warnings: &["no_fault_tolerance"],
            check: |a| {
                let loss = scenario(a, "majority partition or too many failures")
                    .ok_or("no quorum-loss scenario")?;
                expect(
                    loss.behavior.contains("more than 2 of 5"),
                    "n - q = 2 unreachable",
                )
            },
        },
        // Two data centres: 2-2-1 with a tie-breaker in a third failure domain (CockroachDB
        // topology patterns; etcd's advice against two-site clusters).
        Case {
            name: "two regions",
            context: with(ctx(Consensus, 5, Linearizable), |c| {
                c.cluster_config.regions = regions(&["east", "west"])
            }),
            protocol: "Raft",
            group: (5, 2, 3),
            warnings: &["region_loss_loses_quorum"],
            check: |a| {
                let w = a
                    .warnings
                    .iter()
                    .find(|w| w.code == "region_loss_loses_quorum");
                expect(
                    w.is_some_and(|w| w.message.contains("2-2-1 layout")),
                    "2-2-1 layout",
                )
            },
        },
        // Three regions at 40 ms: one cross-region round (80 ms) per commit (Multi-Paxos /
        // Spanner-style WAN placement: the leader plus its local peer plus one remote).
        Case {
            name: "5 nodes, 3 regions, 40 ms",
            context: with(ctx(Consensus, 5, Linearizable), |c| {
                c.cluster_config.regions = regions(&["a", "b", "c"]);
                c.network_assumptions.latency_ms = Some(40.0);
            }),
            protocol: "Multi-Paxos",
            group: (5, 2, 3),
            warnings: &[],
            check: |a| {
                expect(a.figures.commit_latency_ms == 80.0, "80 ms commit")?;
                expect(
                    a.figures.cross_region_rounds_per_write == 1,
                    "one cross-region round",
                )
            },
        },
        // Intercontinental 200 ms: every quorum read costs a 400 ms round; leases read at 0.
        Case {
            name: "3 regions, 200 ms",
            context: with(ctx(Consensus, 3, Linearizable), |c| {
                c.cluster_config.regions = regions(&["eu", "us", "ap"]);
                c.network_assumptions.latency_ms = Some(200.0);
            }),
            protocol: "Multi-Paxos",
            group: (3, 1, 2),
            warnings: &["latency_exceeds_default_timeouts"],
            check: |a| {
                let reads = &a.figures.read_latency_ms;
                expect(
                    reads
                        .iter()
                        .any(|r| r.path == "read_index" && r.latency_ms == 400.0),
                    "400 ms read_index",
                )?;
                expect(
                    reads
                        .iter()
                        .any(|r| r.path == "lease" && r.latency_ms == 0.0),
                    "lease reads offered",
                )
            },
        },
        // Raft thesis 4.2.1 / etcd learners: a few voters and the rest learners.
        Case {
            name: "1000-node consensus",
            context: ctx(Consensus, 1000, Linearizable),
            protocol: "Raft",
            group: (7, 3, 4),
            warnings: &[],
            check: |a| expect(a.configuration.learners == Some(993), "993 learners"),
        },
        // Castro & Liskov: n = 3f+1 = 4, quorum 2f+1 = 3.
        Case {
            name: "byzantine 4",
            context: with(ctx(Consensus, 4, Linearizable), |c| {
                c.network_assumptions.byzantine = true
            }),
            protocol: "PBFT",
            group: (4, 1, 3),
            warnings: &[],
            check: ok,
        },
        // n > 3f+1: quorum floor((n+f)/2)+1 = 6 of 9 with f = 2 (not 2f+1 = 5, which would
        // not intersect in an honest replica).
        Case {
            name: "byzantine 9, f=2",
            context: with(ctx(Consensus, 9, Linearizable), |c| {
                c.network_assumptions.byzantine = true;
                c.cluster_config.failure_tolerance = Some(2);
            }),
            protocol: "PBFT",
            group: (9, 2, 6),
            warnings: &[],
            check: |a| {
                let eq = scenario(a, "byzantine equivocation").ok_or("no equivocation scenario")?;
                expect(
                    eq.behavior.contains("plus 5 matching prepares"),
                    "q - 1 = 5 prepares",
                )?;
                expect(
                    eq.behavior.contains("share at least 3"),
                    "2q - n = 3 overlap",
                )
            },
        },
        // Castro & Liskov: 7 replicas tolerate 2.
        Case {
            name: "byzantine 7",
            context: with(ctx(Consensus, 7, Linearizable), |c| {
                c.network_assumptions.byzantine = true
            }),
            protocol: "PBFT",
            group: (7, 2, 5),
            warnings: &[],
            check: |a| {
                expect(
                    a.safety_mechanisms
                        .iter()
                        .any(|m| m.why.contains("f+1 = 3")),
                    "f+1 replies",
                )
            },
        },
        // Linearizable replication = a consensus log (majority acknowledgement).
        Case {
            name: "linearizable replication",
            context: ctx(Replication, 3, Linearizable),
            protocol: "Synchronous quorum replication",
            group: (3, 1, 2),
            warnings: &[],
            check: |a| {
                expect(
                    a.configuration.sync_replicas == Some(1),
                    "1 synchronous backup",
                )
            },
        },
        // MySQL semi-sync: the primary waits for k backups.
        Case {
            name: "sequential replication",
            context: ctx(Replication, 3, Sequential),
            protocol: "Semi-synchronous primary-backup",
            group: (3, 1, 2),
            warnings: &[],
            check: |a| {
                expect(
                    a.safety_mechanisms.iter().any(|m| m.why.contains("epoch")),
                    "epoch fencing",
                )
            },
        },
        // Async replication loses the unshipped tail (RPO = lag).
        Case {
            name: "causal replication",
            context: ctx(Replication, 3, Causal),
            protocol: "Asynchronous primary-backup",
            group: (3, 1, 1),
            warnings: &["async_data_loss"],
            check: |a| expect(a.figures.commit_latency_ms == 0.0, "no backup round"),
        },
        // Dynamo: N = 2f+1, W = f+1; R + W > N only with R = N - W + 1.
        Case {
            name: "eventual replication",
            context: ctx(Replication, 5, Eventual),
            protocol: "Leaderless quorum replication",
            group: (5, 2, 3),
            warnings: &[],
            check: |a| {
                expect(a.configuration.write_quorum == Some(3), "W = 3")?;
                expect(a.configuration.read_quorum == Some(1), "R = 1")?;
                expect(
                    a.safety_mechanisms
                        .iter()
                        .any(|m| m.name == "strict quorums for overlap"),
                    "sloppy quorum caveat",
                )
            },
        },
        // Karger et al. / Mirrokni et al.: consistent hashing with bounded loads.
        Case {
            name: "hash partitioning",
            context: ctx(Partitioning, 40, Eventual),
            protocol: "Consistent hashing with bounded loads",
            group: (3, 1, 2),
            warnings: &[],
            check: ok,
        },
        // Spanner / CockroachDB: ranges over consensus groups for ordered keys.
        Case {
            name: "range partitioning",
            context: ctx(Partitioning, 9, Linearizable),
            protocol: "Range partitioning over Raft groups",
            group: (3, 1, 2),
            warnings: &[],
            check: ok,
        },
        // CockroachDB's parallel commits (Taft et al., SIGMOD 2020: commit in one consensus
        // round, STAGING record resolved by probing participants) over Raft groups; strictness
        // from Spanner's commit wait (Corbett et al., OSDI 2012), here twice the clock offset
        // bound because HLC stamps may run up to the bound ahead (default 40 ms -> 80 ms wait).
        Case {
            name: "strict transactions",
            context: ctx(Transaction, 9, Linearizable),
            protocol: "Parallel commits over Raft groups",
            group: (3, 1, 2),
            warnings: &[],
            check: |a| {
                expect(
                    a.safety_mechanisms.iter().any(|m| m.name == "commit wait"),
                    "commit wait",
                )?;
                expect(
                    a.configuration.commit_wait_ms == Some(80)
                        && a.configuration.isolation.as_deref() == Some("strict_serializable"),
                    "80 ms commit wait, strict serializable",
                )?;
                // The wait (80 ms) overlaps the one consensus round (a 2 ms round trip at the
                // default 1 ms one way), so it is the commit latency.
                expect(
                    (a.figures.commit_latency_ms - 80.0).abs() < 0.01,
                    "commit latency = max(one round, commit wait)",
                )
            },
        },
        // The same design without real-time order: no commit wait, serializable per session.
        Case {
            name: "sequential transactions",
            context: ctx(Transaction, 9, Sequential),
            protocol: "Parallel commits over Raft groups",
            group: (3, 1, 2),
            warnings: &[],
            check: |a| {
                expect(
                    a.configuration.commit_wait_ms.is_none()
                        && a.configuration.isolation.as_deref() == Some("serializable"),
                    "no commit wait, serializable",
                )
            },
        },
        // Garcia-Molina & Salem: sagas when atomic isolation is not needed.
        Case {
            name: "eventual transactions",
            context: ctx(Transaction, 9, Eventual),
            protocol: "Sagas",
            group: (3, 1, 2),
            warnings: &[],
            check: ok,
        },
        // Riak (Preguica et al., dotted version vectors): concurrent writes detected exactly,
        // a write accepted by one replica (quorum 1).
        Case {
            name: "causal conflicts",
            context: ctx(ConflictResolution, 3, Causal),
            protocol: "Dotted version vectors",
            group: (3, 1, 1),
            warnings: &[],
            check: ok,
        },
        // Shapiro et al.: CRDTs; LWW on HLC needs a bounded offset (CockroachDB 500 ms).
        Case {
            name: "eventual conflicts",
            context: ctx(ConflictResolution, 3, Eventual),
            protocol: "CRDTs",
            group: (3, 1, 1),
            warnings: &[],
            check: |a| {
                expect(
                    a.safety_mechanisms
                        .iter()
                        .any(|m| m.name == "bounded clock offset for LWW"),
                    "HLC bound",
                )
            },
        },
        // Binomial: P(at least 3 of 5 up) at p = 0.3 is 0.83692.
        Case {
            name: "partition probability 0.3",
            context: with(ctx(Consensus, 5, Linearizable), |c| {
                c.network_assumptions.partition_probability = Some(0.3)
            }),
            protocol: "Raft",
            group: (5, 2, 3),
            warnings: &["partition_probability_high"],
            check: |a| {
                expect(
                    a.figures.write_availability == Some(0.83692),
                    "availability 0.84",
                )
            },
        },
    ]
}

#[test]
fn the_advisor_gives_the_answer_an_expert_gives() {
    let cases = cases();
    assert!(cases.len() >= 20);
    let mut failures = Vec::new();
    for case in cases {
        let a = advise(&case.context);
        let c = &a.configuration;
        let codes: Vec<&str> = a.warnings.iter().map(|w| w.code.as_str()).collect();
        let mut problems = Vec::new();
        if !a.protocol.name.starts_with(case.protocol) {
            problems.push(format!(
                "protocol {:?}, expected {:?}",
                a.protocol.name, case.protocol
            ));
        }
        let group = (c.group_size, c.failure_tolerance, c.quorum_size);
        if group != case.group {
            problems.push(format!("(n, f, q) = {group:?}, expected {:?}", case.group));
        }
        for code in case.warnings {
            if !codes.contains(code) {
                problems.push(format!("no warning {code} (got {codes:?})"));
            }
        }
        if let Err(e) = (case.check)(&a) {
            problems.push(e);
        }
        if !problems.is_empty() {
            failures.push(format!("{}: {}", case.name, problems.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
