//! `distsys simulate` end to end.

mod common;

use common::run_in_process;

#[test]
fn same_seed_same_trace_file() {
    let dir = std::env::temp_dir().join(format!("distsys-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (a, b) = (dir.join("a.jsonl"), dir.join("b.jsonl"));
    for path in [&a, &b] {
        let p = path.to_string_lossy().into_owned();
        let (code, out, err) = run_in_process(
            &[
                "simulate",
                "--seed",
                "11",
                "--duration",
                "3s",
                "--trace",
                &p,
            ],
            "",
        );
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("violations:        0"), "{out}");
    }
    let (ta, tb) = (
        std::fs::read(&a).expect("trace a"),
        std::fs::read(&b).expect("trace b"),
    );
    assert!(!ta.is_empty());
    assert_eq!(ta, tb, "byte-identical traces");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn mutants_are_listed_and_a_broken_variant_exits_1() {
    let (code, out, _) = run_in_process(&["simulate", "--list-mutants"], "");
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), distsys_consensus::Mutant::ALL.len());
    let (code, out, _) = run_in_process(
        &[
            "simulate",
            "--mutant",
            "follower-stale-read",
            "--seed",
            "1",
            "--seeds",
            "4",
        ],
        "",
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("VIOLATION in seed")
            && out.contains("replay: distsys simulate --protocol raft --nodes 5")
            && out.contains("--mutant follower-stale-read --seed "),
        "{out}"
    );
}

#[test]
fn bad_simulate_flags_exit_2() {
    for args in [
        vec!["simulate", "--protocol", "zab"],
        vec!["simulate", "--nodes", "0"],
        vec!["simulate", "--faults", "meteor"],
        vec!["simulate", "--mutant", "nope"],
        vec!["simulate", "--duration", "soon"],
        vec!["simulate", "--election-timeout-ms", "300-150"],
        vec!["simulate", "--heartbeat-ms", "500"],
    ] {
        let (code, _, err) = run_in_process(&args, "");
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.starts_with("error:"), "{args:?}: {err}");
    }
    // Counts and ranges are checked, and the error names the flag.
    for (args, flag) in [
        (vec!["simulate", "--seeds", "0"], "--seeds"),
        (vec!["simulate", "--seeds", "100000000"], "--seeds"),
        (
            vec![
                "simulate",
                "--seed",
                "18446744073709551610",
                "--seeds",
                "10",
            ],
            "--seeds",
        ),
        (
            vec!["simulate", "--seeds", "18446744073709551615"],
            "--seeds",
        ),
        (vec!["simulate", "--nodes", "-3"], "--nodes"),
        (
            vec!["simulate", "--duration", "99999999999999s"],
            "--duration",
        ),
        (vec!["sweep", "--seeds", "0"], "--seeds"),
        (vec!["simulate", "--shard", "2/2"], "--shard"),
        (
            vec!["simulate", "--write-delay-ms", "5-1"],
            "--write-delay-ms",
        ),
        (
            vec!["simulate", "--write-delay-ms", "fast"],
            "--write-delay-ms",
        ),
        (
            vec!["simulate", "--write-delay-ms", "20000"],
            "--write-delay-ms",
        ),
        (vec!["simulate", "--no-pipelining"], "--no-pipelining"),
        // The bug of pipelined writes needs them, and only Raft runs them.
        (
            vec!["simulate", "--mutant", "count-self-before-durable"],
            "--write-delay-ms",
        ),
        (
            vec![
                "simulate",
                "--mutant",
                "count-self-before-durable",
                "--write-delay-ms",
                "1-5",
                "--no-pipelining",
            ],
            "--write-delay-ms",
        ),
        (
            vec![
                "simulate",
                "--protocol",
                "multipaxos",
                "--write-delay-ms",
                "1",
            ],
            "--write-delay-ms",
        ),
    ] {
        let (code, out, err) = run_in_process(&args, "");
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains(flag), "{args:?}: {err}");
    }
}

#[test]
fn multipaxos_runs_in_the_same_simulator_and_lists_its_own_mutants() {
    let (code, out, err) = run_in_process(
        &[
            "simulate",
            "--protocol",
            "multipaxos",
            "--seed",
            "5",
            "--duration",
            "3s",
        ],
        "",
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("simulate multipaxos:"), "{out}");
    assert!(out.contains("violations:        0"), "{out}");
    let (code, out, _) = run_in_process(
        &["simulate", "--protocol", "multipaxos", "--list-mutants"],
        "",
    );
    assert_eq!(code, 0);
    assert_eq!(
        out.lines().count(),
        distsys_consensus::paxos::PaxosMutant::ALL.len()
    );
    let (code, out, err) = run_in_process(
        &[
            "simulate",
            "--protocol",
            "multipaxos",
            "--seed",
            "7",
            "--mutant",
            "ignore-found-values",
            "--seeds",
            "20",
        ],
        "",
    );
    assert_eq!(code, 1, "{out}{err}");
    let (code, _, err) = run_in_process(&["simulate", "--protocol", "zab"], "");
    assert_eq!(code, 2);
    assert!(err.contains("raft, multipaxos or pbft"), "{err}");
}

#[test]
fn simulate_runs_pbft_with_byzantine_replicas_and_enforces_the_tolerance() {
    let (code, out, err) = run_in_process(
        &[
            "simulate",
            "--protocol",
            "pbft",
            "--nodes",
            "4",
            "--seed",
            "3",
            "--seeds",
            "4",
            "--duration",
            "4s",
        ],
        "",
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("simulate pbft:"), "{out}");
    // f byzantine replicas by default, doing everything the adversary can.
    assert!(
        out.contains("byzantine:         1 replica(s) per run (f = 1)"),
        "{out}"
    );
    assert!(out.contains("violations:        0"), "{out}");
    assert!(out.contains(" forged"), "{out}");
    // More than f needs the explicit experiment flag, and names the rule.
    let (code, _, err) = run_in_process(
        &[
            "simulate",
            "--protocol",
            "pbft",
            "--nodes",
            "4",
            "--byzantine",
            "2",
        ],
        "",
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("f = 1") && err.contains("--beyond-tolerance"),
        "{err}"
    );
    // Too few replicas for any byzantine fault, and byzantine faults on a crash-fault protocol.
    let (code, _, err) = run_in_process(&["simulate", "--protocol", "pbft", "--nodes", "3"], "");
    assert_eq!(code, 2);
    assert!(err.contains("3f+1"), "{err}");
    let (code, _, err) = run_in_process(&["simulate", "--byzantine", "1"], "");
    assert_eq!(code, 2);
    assert!(err.contains("--protocol pbft"), "{err}");
    let (code, _, err) = run_in_process(
        &[
            "simulate",
            "--protocol",
            "pbft",
            "--byzantine-behaviour",
            "silent,sneaky",
        ],
        "",
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("\"sneaky\"") && err.contains("equivocate"),
        "{err}"
    );
    // The mutants are listed, and one is caught (exit 1) with its replay line.
    let (code, out, _) = run_in_process(&["simulate", "--protocol", "pbft", "--list-mutants"], "");
    assert_eq!(code, 0);
    assert_eq!(
        out.lines().count(),
        distsys_consensus::pbft::PbftMutant::ALL.len()
    );
    let (code, out, err) = run_in_process(
        &[
            "simulate",
            "--protocol",
            "pbft",
            "--mutant",
            "view-change-without-prepared",
            "--seeds",
            "8",
        ],
        "",
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("--mutant view-change-without-prepared --byzantine 1"),
        "{out}"
    );
}

/// `--shard I/N` splits a campaign; `merge-reports` of the shards prints exactly what the
/// unsharded campaign prints (wall-time line aside), failures included; a missing or repeated
/// shard is refused.
#[test]
fn sharded_campaigns_merge_to_the_unsharded_summary() {
    let dir = std::env::temp_dir().join(format!("distsys-shards-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    // A seeded bug, so that the failures (seeds, evidence, replay line) must merge too.
    let base = [
        "simulate",
        "--mutant",
        "follower-stale-read",
        "--seeds",
        "10",
        "--seed",
        "4100",
        "--duration",
        "3s",
    ];
    let (code, whole, err) = run_in_process(&base, "");
    assert_eq!(code, 1, "{whole}{err}");
    let mut files = Vec::new();
    for index in [2, 0, 1] {
        let path = dir.join(format!("shard{index}.json"));
        let p = path.to_string_lossy().into_owned();
        let shard = format!("{index}/3");
        let mut args = base.to_vec();
        args.extend(["--shard", &shard, "--report-json", &p]);
        let (code, out, err) = run_in_process(&args, "");
        assert!(code == 0 || code == 1, "{out}{err}");
        files.push(p);
    }
    let mut merge = vec!["merge-reports"];
    merge.extend(files.iter().map(String::as_str));
    let (code, merged, err) = run_in_process(&merge, "");
    assert_eq!(code, 1, "{merged}{err}");
    let without_wall = |text: &str| {
        text.lines()
            .filter(|l| !l.starts_with("events:"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(without_wall(&whole), without_wall(&merged));
    let (code, _, err) = run_in_process(&["merge-reports", &files[0], &files[1]], "");
    assert_eq!(code, 2, "a missing shard is refused");
    assert!(err.contains("missing"), "{err}");
    let (code, _, _) = run_in_process(&["merge-reports", &files[1], &files[1], &files[2]], "");
    assert_eq!(code, 2, "a repeated shard is refused");
    std::fs::remove_dir_all(&dir).ok();
}

/// No model silently ignores a flag: a flag it cannot honour is refused (exit 2, naming the
/// flag and what the model takes), and changing a flag it takes changes the run.
#[test]
fn every_model_honours_a_flag_or_refuses_it() {
    for (model, ignored) in [
        ("leaderless", "--lease"),
        ("leaderless", "--latency-ms=20"),
        ("causal", "--faults=none"),
        ("causal", "--clients=50"),
        ("replication", "--nodes=9"),
        ("retry-storm", "--seeds=3"),
        ("consensus", "--quorum=3,1,1"),
    ] {
        let args = ["simulate", "--model", model, ignored];
        let (code, _, err) = run_in_process(&args, "");
        let flag = ignored.split('=').next().unwrap_or_default();
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains(&format!("does not honour {flag}")),
            "{args:?}: {err}"
        );
        assert!(
            err.contains("takes --seed") || err.contains("takes only --seed"),
            "{args:?}: {err}"
        );
    }
    // What a model takes changes its run.
    let run = |quorum: &str| {
        run_in_process(
            &["simulate", "--model", "leaderless", "--quorum", quorum],
            "",
        )
        .1
    };
    assert_ne!(run("3,2,2"), run("3,1,1"));
    // Every flag leaderless takes changes its run.
    let leaderless = |extra: &[&str]| {
        let mut args = vec!["simulate", "--model", "leaderless", "--seeds", "2"];
        args.extend_from_slice(extra);
        let (code, out, err) = run_in_process(&args, "");
        assert!(code == 0 || code == 1, "{args:?}: {err}");
        out
    };
    let base = leaderless(&[]);
    for extra in [
        &["--sloppy"][..],
        &["--nodes", "9"],
        &["--faults", "crash,drop"],
        &["--duration", "3s"],
        &["--clients", "20"],
    ] {
        assert_ne!(base, leaderless(extra), "{extra:?} changed nothing");
    }
}

/// Issue 23's acceptance: under partitions a sloppy quorum with R + W > N reports stale reads
/// and says why (each one attributed to the sloppy quorum), where the strict quorum under the
/// same faults reports none; at two sizes.
#[test]
fn a_sloppy_quorum_reads_stale_across_partitions_and_a_strict_one_does_not() {
    for (nodes, quorum) in [("5", "3,2,2"), ("9", "5,3,3")] {
        let run = |sloppy: bool| {
            let mut args = vec![
                "simulate",
                "--model",
                "leaderless",
                "--seeds",
                "40",
                "--seed",
                "777",
                "--nodes",
                nodes,
                "--quorum",
                quorum,
            ];
            if sloppy {
                args.push("--sloppy");
            }
            let (code, out, err) = run_in_process(&args, "");
            assert_eq!(code, 0, "{args:?}: {err}");
            out
        };
        let number = |out: &str, label: &str| -> u64 {
            let line = out
                .lines()
                .find(|l| l.starts_with(label))
                .unwrap_or_default();
            line[label.len()..]
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(u64::MAX)
        };
        let strict = run(false);
        assert_eq!(number(&strict, "stale reads:"), 0, "{strict}");
        assert!(number(&strict, "partitions:") > 0, "{strict}");
        let sloppy = run(true);
        let stale = number(&sloppy, "stale reads:");
        assert!(stale > 0 && stale < u64::MAX, "{sloppy}");
        let why = sloppy
            .lines()
            .find(|l| l.starts_with("sloppy quorums:"))
            .unwrap_or_default();
        assert!(
            why.contains(&format!("; {stale} of the stale reads")),
            "every stale read is explained: {sloppy}"
        );
    }
}

/// Flags a run would accept and then ignore are refused, naming the flag (found by a helper
/// session: each of these ran with output identical to the run without the flag).
#[test]
fn flags_that_would_change_nothing_are_refused() {
    for (args, flag) in [
        (
            &["simulate", "--byzantine-behaviour", "silent"][..],
            "--byzantine-behaviour",
        ),
        (&["simulate", "--byzantine", "0"][..], "--byzantine"),
        (
            &["simulate", "--protocol", "pbft", "--beyond-tolerance"][..],
            "--beyond-tolerance",
        ),
        (
            &[
                "simulate",
                "--protocol",
                "pbft",
                "--byzantine",
                "0",
                "--byzantine-behaviour",
                "lie",
            ][..],
            "--byzantine-behaviour",
        ),
        (
            &[
                "simulate",
                "--model",
                "txn",
                "--faults",
                "none",
                "--max-skew-ms",
                "300",
            ][..],
            "--max-skew-ms",
        ),
        (
            &["simulate", "--model", "replication", "--duration", "3s"][..],
            "--duration",
        ),
    ] {
        let (code, _, err) = run_in_process(args, "");
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(flag), "{args:?}: {err}");
    }
}
