//! `distsys check-txn` end to end: verdicts and exit codes on Elle's histories, explanations,
//! consistency models, formats and bad input.

mod common;

use common::{run_in_process, workspace_root};

fn elle(name: &str) -> String {
    workspace_root()
        .join("testdata/conformance/elle")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn paper_example_is_not_serializable_and_the_cycle_is_explained() {
    let (code, out, err) = run_in_process(&["check-txn", &elle("elle-paper-example.edn")], "");
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("serializable NOT valid"), "{out}");
    assert!(
        out.contains("G-single (1 found, forbidden by serializable)"),
        "{out}"
    );
    assert!(
        out.contains("(rw)") && out.contains("(wr)") && out.contains("(ww)"),
        "{out}"
    );
    assert!(out.contains("without 8, which T1 appended (rw)"), "{out}");
    assert!(
        out.contains("ruled out: snapshot-isolation, serializable"),
        "{out}"
    );
    let (code, out, _) = run_in_process(
        &[
            "check-txn",
            &elle("elle-paper-example.edn"),
            "--consistency",
            "read-committed",
        ],
        "",
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("read-committed valid"), "{out}");
}

#[test]
fn several_files_exit_with_the_worst_verdict() {
    let si = elle("elle-si-without-g-single.edn");
    let (code, out, _) = run_in_process(
        &["check-txn", &si, "--consistency", "snapshot-isolation"],
        "",
    );
    assert_eq!(code, 0, "{out}");
    let paper = elle("elle-cli-elle-paper-example.json");
    let (code, out, _) = run_in_process(
        &[
            "check-txn",
            &si,
            &paper,
            "--consistency",
            "snapshot-isolation",
            "--format",
            "auto",
        ],
        "",
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.matches("snapshot-isolation").count() >= 2, "{out}");
}

#[test]
fn strict_serializable_adds_real_time() {
    let huge = elle("elle-huge-scc.edn");
    let (code, out, _) = run_in_process(&["check-txn", &huge, "--explain", "0"], "");
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = run_in_process(
        &[
            "check-txn",
            &huge,
            "--consistency",
            "strict-serializable",
            "--explain",
            "1",
        ],
        "",
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("-realtime"), "{out}");
    assert!(out.contains("(realtime)"), "{out}");
}

#[test]
fn a_tiny_budget_gives_unknown() {
    // Under snapshot isolation the G-single and G-nonadjacent searches of huge-scc's real-time
    // component need more than 10 visited nodes: undecided, exit 3.
    let (code, out, _) = run_in_process(
        &[
            "check-txn",
            &elle("elle-huge-scc.edn"),
            "--consistency",
            "strong-snapshot-isolation",
            "--budget",
            "10",
        ],
        "",
    );
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("undecided"), "{out}");
}

#[test]
fn jsonl_from_stdin_and_bad_input() {
    let history = concat!(
        r#"{"process":0,"type":"invoke","f":"txn","value":[["append","x",1]]}"#,
        "\n",
        r#"{"process":0,"type":"ok","f":"txn","value":[["append","x",1]]}"#,
        "\n",
        r#"{"process":1,"type":"invoke","f":"txn","value":[["r","x",null]]}"#,
        "\n",
        r#"{"process":1,"type":"ok","f":"txn","value":[["r","x",[1]]]}"#,
        "\n",
    );
    let (code, out, err) = run_in_process(&["check-txn", "-", "--format", "jsonl"], history);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("list-append, 2 txns"), "{out}");
    let aborted = history.replace(
        r#""type":"ok","f":"txn","value":[["append"#,
        r#""type":"fail","f":"txn","value":[["append"#,
    );
    let (code, out, _) = run_in_process(&["check-txn", "-"], &aborted);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("G1a"), "{out}");
    let (code, _, err) = run_in_process(
        &["check-txn", "-"],
        "{:type :ok, :value [[:r 1 [1]]], :process 0}\n",
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("line 1") && err.contains("no open invocation"),
        "{err}"
    );
    let (code, _, err) = run_in_process(&["check-txn", "-", "--consistency", "acid"], history);
    assert_eq!(code, 2);
    assert!(err.contains("unknown consistency model"), "{err}");
    let (code, _, err) = run_in_process(&["check-txn", "-", "--model", "rw-register"], history);
    assert_eq!(code, 2);
    assert!(err.contains("an append in a rw-register history"), "{err}");
    let (code, _, err) = run_in_process(&["check-txn", "/nonexistent/h.edn"], "");
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/h.edn"), "{err}");
}

#[test]
fn html_report_shows_the_cycle() {
    let dir = std::env::temp_dir().join(format!("distsys-txn-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let page = dir.join("r.html");
    let page_arg = page.to_string_lossy().into_owned();
    let (code, out, err) = run_in_process(
        &[
            "check-txn",
            &elle("elle-paper-example.edn"),
            "--report",
            &page_arg,
        ],
        "",
    );
    assert_eq!(code, 1, "{out}{err}");
    let html = std::fs::read_to_string(&page).expect("report written");
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(
        html.contains("G-single (1 found, forbidden by serializable)"),
        "{html}"
    );
    assert!(
        html.contains("class=\"rw\"") && html.contains("(wr)"),
        "{html}"
    );
    let two = elle("elle-si-without-g-single.edn");
    let (code, _, err) = run_in_process(&["check-txn", &two, &two, "--report", &page_arg], "");
    assert_eq!(code, 2);
    assert!(err.contains("one history"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
