//! `distsys model-check` end to end: exit codes (0 clean, 1 violation, 2 bad input, 3 budget),
//! the figures and numbered counterexample it prints, and replay files written by one run and
//! replayed by another (the stored one in testdata/ included).

use assert_cmd::Command;
use std::path::PathBuf;

fn distsys() -> Command {
    Command::cargo_bin("distsys").expect("binary built")
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = distsys()
        .arg("model-check")
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn figure(stdout: &str, label: &str) -> u64 {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(label))
        .and_then(|rest| rest.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {label:?} in {stdout}"))
}

const SMALL: [&str; 8] = [
    "--nodes",
    "3",
    "--max-term",
    "1",
    "--max-log",
    "1",
    "--max-in-flight",
    "2",
];

#[test]
fn the_correct_core_passes_and_symmetry_shrinks_the_count() {
    let (code, out, _) = run(&SMALL);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("violations: 0"), "{out}");
    let with = figure(&out, "distinct states:");
    let mut plain = SMALL.to_vec();
    plain.push("--no-symmetry");
    let (code, out, _) = run(&plain);
    assert_eq!(code, 0);
    let without = figure(&out, "distinct states:");
    assert!(with > 1 && without > 2 * with, "{with} vs {without}");
}

#[test]
fn a_mutant_is_found_written_and_replayed() {
    let path: PathBuf =
        std::env::temp_dir().join(format!("mc-vote-twice-{}.json", std::process::id()));
    let file = path.to_string_lossy().into_owned();
    let mut args = SMALL.to_vec();
    args.extend(["--mutant", "vote-twice", "--write-replay", &file]);
    let (code, out, _) = run(&args);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("violation: election_safety"), "{out}");
    let steps = out
        .lines()
        .find_map(|l| l.strip_prefix("counterexample ("))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse::<usize>().ok())
        .expect("counterexample header");
    assert!(
        out.contains(&format!("{steps:>3}. ")),
        "numbered steps: {out}"
    );
    let (code, out, _) = run(&["--replay", &file]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("violation at step {steps}: election_safety")),
        "{out}"
    );
    let (code, out, _) = run(&["--replay", &file, "--mutant", "none"]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("violation at"), "{out}");
    let _ = std::fs::remove_file(&path);
}

#[test]
fn the_stored_counterexample_still_breaks_the_mutant_and_not_the_core() {
    let stored = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/model-check/raft-reply-before-persist-vote.json"
    );
    let (code, out, _) = run(&["--replay", stored]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("election_safety"), "{out}");
    let (code, out, _) = run(&["--replay", stored, "--mutant", "none"]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("violation at"), "{out}");
}

#[test]
fn multipaxos_is_checked_and_its_seeded_bug_found_and_replayed() {
    let bounds = [
        "--protocol",
        "multipaxos",
        "--nodes",
        "2",
        "--max-term",
        "2",
        "--max-log",
        "1",
        "--max-proposals",
        "1",
        "--max-in-flight",
        "2",
    ];
    let (code, out, _) = run(&bounds);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("model-check multipaxos: 2 nodes"), "{out}");
    assert!(out.contains("symmetry off"), "{out}");
    assert!(figure(&out, "distinct states:") > 100, "{out}");
    let path: PathBuf =
        std::env::temp_dir().join(format!("mc-paxos-ifv-{}.json", std::process::id()));
    let file = path.to_string_lossy().into_owned();
    let mut args = bounds.to_vec();
    args.extend(["--mutant", "ignore-found-values", "--write-replay", &file]);
    let (code, out, _) = run(&args);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("violation: chosen_by_majority"), "{out}");
    let (code, out, _) = run(&["--replay", &file]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("chosen_by_majority"), "{out}");
    let (code, out, _) = run(&["--replay", &file, "--mutant", "none"]);
    assert_eq!(code, 0, "{out}");
    let _ = std::fs::remove_file(&path);
}

#[test]
fn bad_input_exits_2_naming_the_problem() {
    let cases: [(&[&str], &str); 9] = [
        (&["--protocol", "zab"], "unknown"),
        (&["--protocol", "pbft"], "at least 4 replicas"),
        (&["--byzantine", "1"], "byzantine replicas are PBFT's"),
        (
            &["--protocol", "multipaxos", "--mutant", "vote-twice"],
            "unknown mutant",
        ),
        (&["--protocol", "multipaxos", "--pre-vote"], "Raft option"),
        (&["--mutant", "follower-stale-read"], "--max-reads"),
        (
            &["--protocol", "multipaxos", "--max-reads", "1"],
            "issues no client reads",
        ),
        (&["--mutant", "no-such-bug"], "unknown mutant"),
        (&["--nodes", "0"], "--nodes"),
    ];
    for (args, expected) in cases {
        let (code, _, err) = run(args);
        assert_eq!(code, 2, "{args:?}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    let (code, _, err) = run(&["--replay", "/nonexistent/replay.json"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read"), "{err}");
}

#[test]
fn an_exhausted_memory_budget_exits_3() {
    let (code, out, _) = run(&[
        "--nodes",
        "3",
        "--max-term",
        "2",
        "--max-log",
        "2",
        "--max-in-flight",
        "2",
        "--memory-budget",
        "1",
    ]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("unknown"), "{out}");
}

/// A counterexample found with client reads carries the general linearizability checker's
/// verdict on the path's client operations (the per-state check's oracle): not linearizable.
#[test]
fn a_stale_read_counterexample_is_refused_by_the_general_checker_too() {
    let (code, out, err) = run(&[
        "--nodes",
        "3",
        "--max-term",
        "1",
        "--max-log",
        "2",
        "--max-proposals",
        "1",
        "--max-reads",
        "1",
        "--max-in-flight",
        "2",
        "--mutant",
        "follower-stale-read",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("client history along the path"))
        .unwrap_or_else(|| panic!("no verdict line in {out}"));
    assert!(
        line.contains("by the general linearizability checker: NOT linearizable"),
        "{line}"
    );
}
