//! `distsys diagnose` end to end: simulate with --trace/--history, then diagnose.

mod common;

use common::run_in_process;

fn temp(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("distsys-diagnose-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name).to_string_lossy().into_owned()
}

#[test]
fn healthy_run_exits_0_flapping_run_exits_1_with_a_recommendation() {
    let (log, hist) = (temp("healthy.jsonl"), temp("healthy.hist"));
    let (code, out, err) = run_in_process(
        &[
            "simulate",
            "--seed",
            "21",
            "--faults",
            "none",
            "--duration",
            "3s",
            "--trace",
            &log,
            "--history",
            &hist,
        ],
        "",
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run_in_process(&["diagnose", "--logs", &log, "--history", &hist], "");
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("no findings"), "{out}");

    let flap = temp("flap.jsonl");
    let (code, out, err) = run_in_process(
        &[
            "simulate",
            "--seed",
            "21",
            "--faults",
            "none",
            "--duration",
            "5s",
            "--latency-ms",
            "40",
            "--election-timeout-ms",
            "50-100",
            "--heartbeat-ms",
            "20",
            "--trace",
            &flap,
        ],
        "",
    );
    assert!(code == 0 || code == 1, "{out}{err}");
    let (code, out, err) = run_in_process(&["diagnose", "--logs", &flap, "--format", "json"], "");
    assert_eq!(code, 1, "{out}{err}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("JSON output");
    let finding = &json["findings"][0];
    assert_eq!(finding["kind"], "leader_flapping");
    assert!(finding["fix"]
        .as_str()
        .is_some_and(|f| f.contains("election timeout to")));
}

#[test]
fn no_inputs_or_unreadable_files_exit_2() {
    let (code, _, err) = run_in_process(&["diagnose"], "");
    assert_eq!(code, 2);
    assert!(err.contains("nothing to diagnose"), "{err}");
    let (code, _, err) = run_in_process(&["diagnose", "--logs", "/nonexistent/x.jsonl"], "");
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/x.jsonl"), "{err}");
    // Malformed log lines among good ones are skipped and listed, not fatal...
    let bad = temp("bad.jsonl");
    let good = r#"{"timestamp":"2026-01-01T00:00:00Z","event":"became_leader","node":1,"term":2}"#;
    std::fs::write(&bad, format!("garbage\n{{\"event\":1}}\n{good}\n")).expect("write");
    let (code, out, _) = run_in_process(&["diagnose", "--logs", &bad], "");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("bad.jsonl:1") && out.contains("bad.jsonl:2"),
        "{out}"
    );
    // ...but a file of malformed lines only is not read as "no findings".
    let only_bad = temp("only-bad.jsonl");
    std::fs::write(&only_bad, "garbage\n{\"event\":1}\n").expect("write");
    let (code, out, err) = run_in_process(&["diagnose", "--logs", &only_bad], "");
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("only-bad.jsonl:1") && err.contains("not JSON"),
        "{err}"
    );
}

#[test]
fn inputs_with_no_record_are_exit_2_naming_the_format_expected() {
    let yaml = temp("context.yaml");
    std::fs::write(
        &yaml,
        "problem_type: consensus\ncluster_config:\n  nodes: 5\n",
    )
    .expect("write");
    let empty = temp("empty.log");
    std::fs::write(&empty, "\n\n").expect("write");
    let cases: [(&[&str], &str); 4] = [
        (&["--logs", &yaml], "no line is a log record"),
        (&["--logs", &empty], "no log record"),
        (&["--metrics", &yaml], "line 1 is neither a sample"),
        (&["--history", &empty], "history"),
    ];
    for (flags, expected) in cases {
        let mut args = vec!["diagnose"];
        args.extend_from_slice(flags);
        let (code, out, err) = run_in_process(&args, "");
        assert_eq!(code, 2, "{flags:?}: {out}{err}");
        assert!(err.contains(expected), "{flags:?}: {err}");
        assert!(out.is_empty(), "{flags:?} printed a report: {out}");
    }
}
