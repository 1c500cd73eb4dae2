//! `distsys simulate --model txn` end to end: clean runs exit 0, a seeded bug exits 1 with its
//! anomaly class, bad flags exit 2.

mod common;

use common::run_in_process;

#[test]
fn a_clean_campaign_exits_0_with_both_protocols_checked() {
    let (code, out, err) = run_in_process(
        &[
            "simulate", "--model", "txn", "--groups", "3", "--seeds", "4", "--faults", "all",
        ],
        "",
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("classic 2PC") && out.contains("parallel commits"),
        "{out}"
    );
    assert_eq!(
        out.matches(
            "strong-session-serializable in 4 of 4 runs; anomalies: none; invariant violations: 0"
        )
        .count(),
        2,
        "{out}"
    );
}

#[test]
fn a_seeded_bug_exits_1_naming_its_anomaly() {
    let (code, out, err) = run_in_process(
        &[
            "simulate",
            "--model",
            "txn",
            "--seeds",
            "4",
            "--commit",
            "parallel",
            "--mutant",
            "read-uncommitted-intents",
        ],
        "",
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("G1a") && out.contains("first failure:  seed"),
        "{out}"
    );
}

#[test]
fn the_history_file_goes_through_check_txn() {
    let path = std::env::temp_dir().join(format!("distsys-txn-{}.jsonl", std::process::id()));
    let p = path.to_string_lossy().into_owned();
    let (code, out, err) = run_in_process(
        &[
            "simulate",
            "--model",
            "txn",
            "--seed",
            "2",
            "--commit",
            "parallel",
            "--history",
            &p,
        ],
        "",
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run_in_process(
        &[
            "check-txn",
            &p,
            "--consistency",
            "strong-session-serializable",
        ],
        "",
    );
    assert_eq!(code, 0, "{out}{err}");
    std::fs::remove_file(&path).ok();
}

#[test]
fn the_mutants_are_listed() {
    let (code, out, _) = run_in_process(&["simulate", "--model", "txn", "--list-mutants"], "");
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), distsys_sim::txn::TxnMutant::ALL.len());
    assert!(out.contains("non-idempotent-commit-retry"), "{out}");
}

#[test]
fn bad_flags_exit_2() {
    for args in [
        &["--groups", "0"][..],
        &["--faults", "drop"],
        &["--commit", "3pc"],
        &["--mutant", "no-such-bug"],
        &["--latency-ms", "1.5"],
        &["--protocol", "pbft"],
    ] {
        let mut argv = vec!["simulate", "--model", "txn"];
        argv.extend_from_slice(args);
        let (code, out, err) = run_in_process(&argv, "");
        assert_eq!(code, 2, "{args:?}: {out}{err}");
    }
}
