//! `distsys check-history` end to end: verdicts, exit codes, explanations, reports, bad input.

mod common;

use common::{run_in_process, run_in_process_bytes, workspace_root};

fn conformance(path: &str) -> String {
    workspace_root()
        .join("testdata/conformance")
        .join(path)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn etcd_000_is_a_violation_and_002_is_linearizable() {
    let (code, out, _) = run_in_process(
        &["check-history", &conformance("jepsen-etcd/etcd_000.log")],
        "",
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("NOT linearizable") && out.contains("process") && out.contains("line"),
        "{out}"
    );
    assert!(out.contains("model cas-register"), "{out}");
    let (code, out, _) = run_in_process(
        &["check-history", &conformance("jepsen-etcd/etcd_002.log")],
        "",
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("linearizable"), "{out}");
}

#[test]
fn every_conformance_verdict_through_the_cli() {
    for folder in ["jepsen-etcd", "kv"] {
        let expected = std::fs::read_to_string(conformance(&format!("{folder}/expected.txt")))
            .expect("expected.txt");
        for line in expected.lines().filter(|l| !l.trim().is_empty()) {
            let (file, verdict) = line.split_once(' ').expect("FILE VERDICT");
            let (code, out, err) = run_in_process(
                &["check-history", &conformance(&format!("{folder}/{file}"))],
                "",
            );
            let want = if verdict.trim() == "linearizable" {
                0
            } else {
                1
            };
            assert_eq!(code, want, "{file}: {out}{err}");
        }
    }
}

#[test]
fn json_output_and_html_report() {
    let dir = std::env::temp_dir().join(format!("distsys-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let report = dir.join("r.html");
    let report_path = report.to_string_lossy().into_owned();
    let (code, out, err) = run_in_process(
        &[
            "check-history",
            &conformance("kv/c10-bad.txt"),
            "--output",
            "json",
            "--report",
            &report_path,
        ],
        "",
    );
    assert_eq!(code, 1, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("json verdict");
    assert_eq!(json["verdict"], "violation");
    assert_eq!(json["model"], "kv");
    let core = json["operations"].as_array().expect("core operations");
    assert!(!core.is_empty());
    let html = std::fs::read_to_string(&report).expect("report written");
    assert!(
        html.starts_with("<!DOCTYPE html>")
            && html.contains("<svg")
            && html.contains("NOT linearizable")
    );
    assert!(
        html.contains("class=\"core\""),
        "offending operations highlighted"
    );
    for external in ["src=\"http", "href=\"http", "<script src", "@import"] {
        assert!(!html.contains(external), "self-contained: found {external}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_histories_exit_2_naming_the_line() {
    let cases = [
        ("{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":1,\"time\":1}\n{\"process\":0,\"type\":\"ok\",\"f\":\"wr", "line 2"),
        ("{\"process\":0,\"type\":\"invoke\",\"f\":\"jump\",\"value\":1,\"time\":1}", "unknown operation"),
        ("{\"process\":0,\"type\":\"ok\",\"f\":\"write\",\"value\":1,\"time\":1}", "never invoked"),
        (
            "{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":1,\"time\":1}\n{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":2,\"time\":2}",
            "still in flight",
        ),
        ("{\"process\":0,\"type\":\"invoke\",\"f\":\"cas\",\"value\":1,\"time\":1}\n{\"process\":0,\"type\":\"ok\",\"f\":\"cas\",\"value\":1,\"time\":2}", "[expected, new]"),
        ("", "empty"),
    ];
    for (history, needle) in cases {
        let (code, _, err) = run_in_process(&["check-history", "-"], history);
        assert_eq!(code, 2, "{history}: {err}");
        assert!(
            err.contains(needle),
            "{history}: stderr lacks {needle:?}: {err}"
        );
    }
    assert_eq!(
        run_in_process(&["check-history", "-", "--model", "graph"], "").0,
        2
    );
    assert_eq!(
        run_in_process(&["check-history", "-", "--format", "xml"], "").0,
        2
    );
    assert_eq!(run_in_process(&["check-history", "/no/such/file"], "").0, 2);
    let (code, _, err) = run_in_process(
        &[
            "check-history",
            &conformance("jepsen-etcd/etcd_000.log"),
            "--model",
            "register",
        ],
        "",
    );
    assert_eq!(code, 2, "the register model has no cas: {err}");
}

#[test]
fn timeout_gives_unknown_exit_3() {
    // 40 overlapping writes of 20 values (each twice, so no unique-value algorithm applies),
    // then a read of a value nobody wrote: proving the violation by search needs every order
    // of the writes, far more than 50 ms.
    let mut lines: Vec<String> = (0..40)
        .map(|i| {
            format!(
                "{{\"process\":{i},\"type\":\"invoke\",\"f\":\"write\",\"value\":{},\"time\":{i}}}",
                i % 20
            )
        })
        .collect();
    lines.extend((0..40).map(|i| {
        format!(
            "{{\"process\":{i},\"type\":\"ok\",\"f\":\"write\",\"value\":{},\"time\":{}}}",
            i % 20,
            100 + i
        )
    }));
    lines.push(
        "{\"process\":99,\"type\":\"invoke\",\"f\":\"read\",\"value\":null,\"time\":200}".into(),
    );
    lines.push(
        "{\"process\":99,\"type\":\"ok\",\"f\":\"read\",\"value\":12345,\"time\":201}".into(),
    );
    let start = std::time::Instant::now();
    let (code, out, _) = run_in_process(
        &["check-history", "-", "--timeout", "0.05"],
        &lines.join("\n"),
    );
    assert_eq!(code, 3, "{out}");
    assert!(out.starts_with("unknown"), "{out}");
    assert!(
        start.elapsed() < std::time::Duration::from_secs(10),
        "the timeout is honoured"
    );
    assert_eq!(
        run_in_process(&["check-history", "-", "--timeout", "-1"], "x").0,
        2
    );
}

#[test]
fn many_files_one_verdict_line_each_exit_code_the_worst() {
    let ok = conformance("jepsen-etcd/etcd_002.log");
    let bad = conformance("jepsen-etcd/etcd_000.log");
    let (code, out, _) = run_in_process(&["check-history", &ok, &ok], "");
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.matches(": linearizable").count(), 2, "{out}");
    let (code, out, _) = run_in_process(&["check-history", &ok, &bad, "--no-explain"], "");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("{ok}: linearizable")), "{out}");
    assert!(out.contains(&format!("{bad}: NOT linearizable")), "{out}");
    assert!(out.contains("not shrunk"), "{out}");
    // A file that cannot be read is the worst outcome: exit 2, the others still checked.
    let (code, out, err) = run_in_process(&["check-history", &bad, "/no/such/file", &ok], "");
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.contains(&format!("{ok}: linearizable")), "{out}");
    let (code, out, _) = run_in_process(&["check-history", &ok, &bad, "--output", "json"], "");
    assert_eq!(code, 1);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(lines[0]["file"], ok.as_str());
    assert_eq!(lines[1]["verdict"], "violation");
    assert!(lines[1]["algorithm"].is_string(), "{out}");
}

#[test]
fn deep_nesting_exits_2_not_a_stack_overflow() {
    let deep = "[".repeat(100_000);
    for history in [
        format!("{{:process 0, :type :invoke, :f :write, :value {deep}}}"),
        format!("INFO  jepsen.util - 0\t:invoke\t:write\t{deep}"),
        format!(
            "{{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":{deep},\"time\":1}}"
        ),
    ] {
        let (code, _, err) = run_in_process(&["check-history", "-"], &history);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("line 1"), "{err}");
    }
}

#[test]
fn space_separated_etcd_log_is_decided_like_its_tab_separated_twin() {
    for (file, want) in [("etcd_000.log", 1), ("etcd_002.log", 0)] {
        let text = std::fs::read_to_string(conformance(&format!("jepsen-etcd/{file}")))
            .expect("conformance file");
        let spaced = text.replace('\t', "   ").replace('\n', "\r\n");
        let (code, out, err) = run_in_process(&["check-history", "-"], &spaced);
        assert_eq!(code, want, "{file}: {out}{err}");
    }
}

#[test]
fn generated_families_get_their_verdict_by_construction() {
    let dir = std::env::temp_dir().join(format!("distsys-gen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (family, violation, clients) in [
        ("register", "none", 1),
        ("register", "stale-read", 10),
        ("cas-register", "none", 10),
        ("cas-register", "lost-write", 5),
        ("kv-append", "none", 10),
        ("kv-append", "duplicated-append", 10),
        ("kv-append", "lost-write", 3),
    ] {
        let path = dir.join(format!("{family}-{violation}.txt"));
        let path = path.to_string_lossy().into_owned();
        let clients = clients.to_string();
        let (code, _, err) = run_in_process(
            &[
                "generate-history",
                "--family",
                family,
                "--ops",
                "400",
                "--clients",
                &clients,
                "--violation",
                violation,
                "--info",
                "0.05",
                "--out",
                &path,
            ],
            "",
        );
        assert_eq!(code, 0, "{err}");
        let linearizable = err.contains("expected verdict: linearizable");
        assert_eq!(linearizable, violation == "none", "{err}");
        let (code, out, _) = run_in_process(&["check-history", &path], "");
        assert_eq!(
            code,
            if linearizable { 0 } else { 1 },
            "{family} {violation}: {out}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
    let (code, _, err) = run_in_process(&["generate-history", "--family", "graph"], "");
    assert_eq!(code, 2, "{err}");
}

#[test]
fn explain_budget_and_no_explain() {
    let bad = conformance("jepsen-etcd/etcd_000.log");
    let (code, out, _) = run_in_process(&["check-history", &bad, "--explain-budget", "30"], "");
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("NOT linearizable"), "{out}");
    assert!(
        !out.contains("not shrunk") && !out.contains("not minimal"),
        "{out}"
    );
    let (code, out, _) = run_in_process(
        &["check-history", &bad, "--no-explain", "--output", "json"],
        "",
    );
    assert_eq!(code, 1);
    let json: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(json["explained"], false, "{out}");
    assert_eq!(json["minimal"], false, "{out}");
    for bad_budget in ["0", "-1", "nan"] {
        let (code, _, err) =
            run_in_process(&["check-history", &bad, "--explain-budget", bad_budget], "");
        assert_eq!(code, 2, "{bad_budget}: {err}");
    }
}

/// An integer beyond 64 bits is refused (exit 2, naming it) in every format of both
/// checkers: read as a float it equalled its neighbour, so a read of 2^64 + 1 after a write
/// of 2^64 passed as linearizable (found by a helper session).
#[test]
fn integers_beyond_64_bits_are_refused_not_rounded() {
    let big = "18446744073709551616";
    let histories = [
        ("check-history", format!("{{:process 0 :type :invoke :f :put :key \"a\" :value {big}}}\n")),
        ("check-history", format!("{{:process 0 :type :invoke :f :put :key \"a\" :value {big}N}}\n")),
        ("check-history", format!("{{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":{big},\"time\":1}}\n")),
        ("check-history", format!("INFO  jepsen.util - 0\t:invoke\t:write\t{big}\n")),
        ("check-txn", format!("{{:type :invoke, :f :txn, :value [[:append :x {big}]], :process 0}}\n")),
        ("check-txn", format!("{{\"type\":\"invoke\",\"value\":[[\"append\",\"x\",{big}]],\"process\":0}}\n")),
        ("check-txn", format!("[{{\"type\":\"invoke\",\"value\":[[\"append\",\"x\",{big}]],\"process\":0}}]\n")),
    ];
    for (command, text) in histories {
        let (code, out, err) = run_in_process(&[command, "-"], &text);
        assert_eq!(code, 2, "{command} {text}: {out}{err}");
        assert!(
            err.contains(&format!("integer {big}")) && err.contains("64 bits"),
            "{err}"
        );
    }
    // The largest 64-bit integers are read exactly.
    let text = "{:process 0 :type :invoke :f :put :key \"a\" :value 18446744073709551615}\n{:process 0 :type :ok :f :put :key \"a\" :value 18446744073709551615}\n";
    let (code, out, err) = run_in_process(&["check-history", "-"], text);
    assert_eq!(code, 0, "{out}{err}");
}

/// A UTF-8 byte order mark before the first line is not part of it (it made the format
/// undetectable).
#[test]
fn a_byte_order_mark_is_skipped() {
    for (command, text) in [
        ("check-history", "\u{feff}{:process 0 :type :invoke :f :put :key \"a\" :value 1}\n{:process 0 :type :ok :f :put :key \"a\" :value 1}\n"),
        ("check-txn", "\u{feff}{:type :invoke, :f :txn, :value [[:append :x 1]], :process 0}\n{:type :ok, :f :txn, :value [[:append :x 1]], :process 0}\n"),
    ] {
        let (code, out, err) = run_in_process(&[command, "-"], text);
        assert_eq!(code, 0, "{command}: {out}{err}");
    }
}

/// Bytes that are not UTF-8 are an error naming their line in both checkers.
#[test]
fn bytes_that_are_not_utf8_name_their_line() {
    for (command, text) in [
        (
            "check-history",
            &b"{:process 0 :type :invoke :f :put :key \"a\" :value 1}\n{:process 0 \xff}\n"[..],
        ),
        (
            "check-txn",
            b"{:type :invoke, :f :txn, :value [[:append :x 1]], :process 0}\n{:type :ok, \xff}\n",
        ),
    ] {
        let (code, out, err) = run_in_process_bytes(&[command, "-"], text);
        assert_eq!(code, 2, "{command}: {out}{err}");
        assert!(
            err.contains("line 2") && err.contains("not UTF-8"),
            "{command}: {err}"
        );
    }
}

/// A search that outgrows its memory budget is `unknown` (exit 3) naming the budget, which
/// `--max-memory-mb` sets; 0 is refused.
#[test]
fn the_memory_budget_of_a_search_is_a_flag() {
    let file = workspace_root().join("testdata/hard/register-50-clients.log");
    let file = file.to_string_lossy();
    let (code, out, err) = run_in_process(
        &[
            "check-history",
            &file,
            "--max-memory-mb",
            "1",
            "--no-explain",
        ],
        "",
    );
    assert_eq!(code, 3, "{out}{err}");
    assert!(
        out.contains("memory limit of 1 MiB") && out.contains("--max-memory-mb"),
        "{out}"
    );
    let (code, _, err) = run_in_process(&["check-history", &file, "--max-memory-mb", "0"], "");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--max-memory-mb must be at least 1"), "{err}");
}

/// A history whose only operations are reads of unknown outcome (never completed, or `info`)
/// is a history: linearizable, nothing constrained; not "no operation of the format" (it was
/// exit 2 until a helper session tried it).
#[test]
fn a_history_of_only_unknown_reads_is_linearizable() {
    for text in [
        "{:process 0 :type :invoke :f :get :key \"a\" :value nil}\n",
        "{:process 0 :type :invoke :f :get :key \"a\" :value nil}\n{:process 0 :type :info :f :get :key \"a\" :value nil}\n",
        "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":null,\"time\":1}\n",
    ] {
        let (code, out, err) = run_in_process(&["check-history", "-"], text);
        assert_eq!(code, 0, "{text}: {out}{err}");
        assert!(out.contains("linearizable"), "{out}");
    }
}

#[test]
fn a_declared_format_that_matches_no_line_is_exit_2_naming_it_and_the_first_line() {
    let dir = std::env::temp_dir().join(format!("distsys-noformat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let jsonl = dir.join("h.jsonl");
    std::fs::write(
        &jsonl,
        "{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":1,\"time\":1}\n{\"process\":0,\"type\":\"ok\",\"f\":\"write\",\"value\":1,\"time\":2}\n",
    )
    .expect("write");
    let jsonl = jsonl.to_string_lossy().into_owned();
    // Read as what it is, it is a history...
    let (code, out, err) = run_in_process(&["check-history", &jsonl], "");
    assert_eq!(code, 0, "{out}{err}");
    // ...declared as a Jepsen etcd log, no line is one: not "linearizable: 0 operations".
    for format in ["jepsen-etcd", "jepsen-kv"] {
        let (code, out, err) = run_in_process(&["check-history", "--format", format, &jsonl], "");
        assert_eq!(code, 2, "{format}: {out}{err}");
        let named = err.contains(&format!("no operation of the {format} format"))
            && err.contains("first line")
            && err.contains("process");
        // The kv reader refuses the first line outright, which names it as well.
        assert!(named || err.contains("line 1:"), "{err}");
    }
}

#[test]
fn a_jsonl_syntax_error_names_one_line_and_a_column() {
    let (code, _, err) = run_in_process(
        &["check-history", "-"],
        "{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":1,\"time\":1}\n{\"process\":0,\"type\":\"ok\",\"f\":\"wri",
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("line 2"), "{err}");
    assert!(
        !err.contains("line 1"),
        "two line numbers in one message: {err}"
    );
    assert!(err.contains("column"), "{err}");
}
