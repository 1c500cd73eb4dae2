//! `diagnose` against simulator scenarios that produce each finding, and against healthy runs
//! that must produce none.

use distsys_check::diagnose::{diagnose, Diagnosis, Inputs, Status};
use distsys_consensus::Mutant;
use distsys_sim::{FaultSet, SimConfig, Simulation};

fn traced(mut config: SimConfig) -> (String, String, Option<String>) {
    config.trace = true;
    let report = Simulation::new(config).run();
    let violation = report.violation.map(|v| v.property);
    let mut log = report.trace.join("\n");
    log.push('\n');
    (log, Simulation::history_jsonl(&report.history), violation)
}

fn diagnose_log(log: &str) -> Diagnosis {
    diagnose(&Inputs {
        logs: vec![("run.jsonl".into(), log.to_string())],
        ..Inputs::default()
    })
    .expect("logs are never fatal")
}

fn kinds(d: &Diagnosis) -> Vec<&str> {
    d.findings.iter().map(|f| f.kind.as_str()).collect()
}

/// The first seed from `start` whose run breaks a property, with its log and history.
fn failing_run(mutant: Mutant, start: u64) -> (String, String, String) {
    for seed in start..start + 200 {
        let mut config = SimConfig::new(seed);
        config.mutant = Some(config.protocol.bug(mutant.name()).expect("listed"));
        let (log, history, violation) = traced(config);
        if let Some(v) = violation {
            return (log, history, v);
        }
    }
    panic!("{} was not caught", mutant.name());
}

#[test]
fn healthy_runs_have_no_findings() {
    for seed in [11, 12, 13] {
        let mut config = SimConfig::new(seed);
        config.faults = FaultSet::default();
        let (log, history, _) = traced(config.clone());
        let d = diagnose(&Inputs {
            logs: vec![("run.jsonl".into(), log)],
            history: Some(("run.hist".into(), history)),
            ..Inputs::default()
        })
        .expect("valid inputs");
        assert_eq!(kinds(&d), Vec::<&str>::new(), "seed {seed}");
        assert!(d.checklist.iter().all(|c| c.status != Status::Problem));
        // With every fault: the faults explain the elections, nothing is reported either.
        config.faults = FaultSet::all();
        let (log, _, violation) = traced(config);
        assert_eq!(violation, None);
        assert_eq!(
            kinds(&diagnose_log(&log)),
            Vec::<&str>::new(),
            "seed {seed} all faults"
        );
    }
}

#[test]
fn timeouts_close_to_the_latency_are_reported_as_flapping_with_a_computed_timeout() {
    let mut config = SimConfig::new(5);
    config.faults = FaultSet::default();
    config.latency_ms = 40.0;
    config.election_timeout_ms = (50, 100);
    config.heartbeat_ms = 20;
    let (log, _, _) = traced(config);
    let d = diagnose_log(&log);
    let flapping = d
        .findings
        .iter()
        .find(|f| f.kind == "leader_flapping")
        .expect("flapping reported");
    assert!(
        flapping.nodes.len() >= 3 && flapping.terms.len() >= 5,
        "{flapping:?}"
    );
    // The recommendation comes from the observed round trip (80 ms here): at least 10 of them.
    let recommended: u64 = flapping
        .fix
        .split("election timeout to ")
        .nth(1)
        .and_then(|rest| rest.split('-').next())
        .and_then(|n| n.parse().ok())
        .expect("a recommended timeout");
    assert!((700..=1000).contains(&recommended), "{}", flapping.fix);
}

#[test]
fn a_second_leader_in_a_term_is_reported_as_split_brain_with_both_nodes() {
    let (log, _, violation) = failing_run(Mutant::VoteTwice, 70_000);
    assert_eq!(violation, "election_safety");
    let d = diagnose_log(&log);
    let finding = d
        .findings
        .iter()
        .find(|f| f.kind == "split_brain")
        .expect("split brain reported");
    assert_eq!(finding.nodes.len(), 2);
    assert_eq!(finding.terms.len(), 1);
    // The nodes and term are the ones the simulator's monitor caught.
    let caught = log
        .lines()
        .find(|l| l.contains("\"violation\""))
        .expect("violation line");
    for node in &finding.nodes {
        assert!(caught.contains(&node.to_string()), "{caught}");
    }
    assert!(
        caught.contains(&format!("term {}", finding.terms[0])),
        "{caught}"
    );
}

#[test]
fn replicas_applying_different_entries_are_reported_as_divergence() {
    let (log, _, _) = failing_run(Mutant::ApplyBeforeCommit, 70_000);
    let d = diagnose_log(&log);
    assert!(kinds(&d).contains(&"data_divergence"), "{:?}", kinds(&d));
    let check = d
        .checklist
        .iter()
        .find(|c| c.item == "log divergence")
        .expect("item");
    assert_eq!(check.status, Status::Problem);
}

#[test]
fn the_divergence_detector_alone_finds_what_diagnose_finds_and_skips_empty_logs() {
    let (log, _, _) = failing_run(Mutant::ApplyBeforeCommit, 70_000);
    let whole: Vec<_> = diagnose_log(&log)
        .findings
        .into_iter()
        .filter(|f| f.kind == "data_divergence")
        .map(|f| f.summary)
        .collect();
    assert!(!whole.is_empty());
    // A node that never started leaves an empty log: not an error, not a divergence.
    let logs = vec![
        ("run.jsonl".into(), log),
        ("empty.log".into(), String::new()),
    ];
    let alone: Vec<_> = distsys_check::diagnose::divergence(&logs)
        .into_iter()
        .map(|f| f.summary)
        .collect();
    assert_eq!(alone, whole);
    // A healthy run's log, with every fault, has none.
    let mut healthy = SimConfig::new(11);
    healthy.faults = FaultSet::all();
    let (log, _, violation) = traced(healthy);
    assert_eq!(violation, None);
    assert!(distsys_check::diagnose::divergence(&[("ok.jsonl".into(), log)]).is_empty());
}

#[test]
fn follower_reads_are_reported_as_stale_reads_from_the_history() {
    let (log, history, _) = failing_run(Mutant::FollowerStaleRead, 70_000);
    let d = diagnose(&Inputs {
        logs: vec![("run.jsonl".into(), log)],
        history: Some(("run.hist".into(), history)),
        ..Inputs::default()
    })
    .expect("valid inputs");
    let stale = d
        .findings
        .iter()
        .find(|f| f.kind == "stale_read")
        .expect("stale read reported");
    assert!(
        stale.evidence[0].contains("read ->"),
        "{:?}",
        stale.evidence
    );
}

fn line(t_ms: u64, node: Option<u64>, term: Option<u64>, event: &str, context: &str) -> String {
    format!(
        r#"{{"level":"INFO","timestamp":"2026-01-01T00:00:{:02}.{:03}Z","skill":"distributed-systems","node_id":{},"term":{},"event":"{event}","context":{context}}}"#,
        t_ms / 1000,
        t_ms % 1000,
        node.map_or("null".into(), |n| n.to_string()),
        term.map_or("null".into(), |t| t.to_string()),
    )
}

#[test]
fn unhealed_partitions_growing_lag_and_malformed_lines() {
    let mut lines = vec![
        line(0, Some(1), Some(1), "leader_elected", r#"{"leader":1}"#),
        line(
            100,
            None,
            None,
            "partition_detected",
            r#"{"partition":"isolate 3"}"#,
        ),
        "this is not json".to_string(),
        r#"{"event":"leader_elected"}"#.to_string(),
    ];
    for (i, commit) in [100u64, 500, 1000, 3000, 6000].iter().enumerate() {
        lines.push(line(
            200 + 100 * i as u64,
            Some(1),
            Some(1),
            "log_replicated",
            &format!(r#"{{"commit_index":{commit},"follower_match":[[2,{commit}],[3,50]]}}"#),
        ));
    }
    let d = diagnose_log(&lines.join("\n"));
    let k = kinds(&d);
    assert!(k.contains(&"partition_not_healed"), "{k:?}");
    let lag = d
        .findings
        .iter()
        .find(|f| f.kind == "replication_lag_growing")
        .expect("lag reported");
    assert_eq!(lag.nodes, vec![3], "only the follower that falls behind");
    assert_eq!(d.skipped.len(), 2);
    assert_eq!(d.skipped[0].at, "run.jsonl:3");
    assert!(
        d.skipped[1].reason.contains("timestamp"),
        "{:?}",
        d.skipped[1]
    );
    // Healed: no partition finding.
    lines.push(line(900, None, None, "partition_healed", "{}"));
    assert!(!kinds(&diagnose_log(&lines.join("\n"))).contains(&"partition_not_healed"));
}

#[test]
fn metrics_and_histories_alone_are_enough_for_their_findings() {
    let metrics = "# TYPE leader_elections_total counter\n\
        leader_elections_total{result=\"success\"} 3\n\
        leader_elections_total{result=\"split_vote\"} 40\n\
        leader_elections_total{result=\"timeout\"} 9\n\
        # TYPE replication_lag_seconds gauge\n\
        replication_lag_seconds{follower_id=\"4\"} 12.5\n\
        replication_lag_seconds{follower_id=\"2\"} 0.01\n";
    let d = diagnose(&Inputs {
        logs: vec![(
            "one.jsonl".into(),
            line(0, Some(1), Some(1), "leader_elected", "{}"),
        )],
        metrics: Some(("m.prom".into(), metrics.into())),
        ..Inputs::default()
    })
    .expect("valid metrics");
    let k = kinds(&d);
    assert!(k.contains(&"leader_flapping"), "{k:?}");
    let lag: Vec<_> = d
        .findings
        .iter()
        .filter(|f| f.kind == "replication_lag_growing")
        .collect();
    assert_eq!(lag.len(), 1);
    assert_eq!(lag[0].nodes, vec![4]);

    let mut history = String::new();
    for p in 0..10 {
        history.push_str(&format!(
            "{{\"process\":{p},\"type\":\"invoke\",\"f\":\"write\",\"key\":\"k\",\"value\":\"v{p}\",\"time\":{}}}\n",
            p * 10
        ));
    }
    let d = diagnose(&Inputs {
        history: Some(("h.jsonl".into(), history)),
        ..Inputs::default()
    })
    .expect("valid history");
    assert_eq!(kinds(&d), vec!["stuck_operations"]);
    let bad = diagnose(&Inputs {
        history: Some(("bad.jsonl".into(), "{\"process\":1}\n".into())),
        ..Inputs::default()
    });
    assert!(
        bad.is_err_and(|e| e.starts_with("bad.jsonl")),
        "a bad history is an input error"
    );
}
