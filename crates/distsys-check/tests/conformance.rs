//! Every history of the conformance set gets the verdict in its `expected.txt`.

use distsys_check::{check, parse_history, CheckOptions, HistoryFormat, ModelKind, Verdict};
use std::path::PathBuf;

fn data(dir: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/conformance")
        .join(dir)
}

fn expectations(dir: &str) -> Vec<(String, bool)> {
    let text = std::fs::read_to_string(data(dir).join("expected.txt")).expect("expected.txt");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut parts = l.split_whitespace();
            let file = parts.next().expect("file").to_string();
            let verdict = parts.next().expect("verdict");
            assert!(verdict == "linearizable" || verdict == "violation", "{l}");
            (file, verdict == "linearizable")
        })
        .collect()
}

fn run(dir: &str, expected_format: HistoryFormat, model: ModelKind) -> usize {
    let cases = expectations(dir);
    let mut violations = 0;
    for (file, linearizable) in &cases {
        let text = std::fs::read_to_string(data(dir).join(file)).expect("history");
        let (history, format) =
            parse_history(&text, None).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(format, expected_format, "{file}: format detected");
        let result = check(&history, &CheckOptions::new(model)).expect("model accepts the history");
        match (&result.verdict, linearizable) {
            (Verdict::Linearizable, true) => {}
            (Verdict::Violation(v), false) => {
                violations += 1;
                assert!(
                    !v.core.is_empty() && v.core.len() <= v.partition.len(),
                    "{file}"
                );
                // The explanation is itself a violation.
                let core = distsys_check::History {
                    operations: v.core.clone(),
                    failed: 0,
                    unknown_reads: 0,
                };
                let again = check(&core, &CheckOptions::new(model)).expect("core re-checks");
                assert!(
                    matches!(again.verdict, Verdict::Violation(_)),
                    "{file}: core must not be linearizable"
                );
            }
            (verdict, _) => panic!(
                "{file}: expected {} got {verdict:?}",
                if *linearizable {
                    "linearizable"
                } else {
                    "violation"
                }
            ),
        }
    }
    assert!(
        violations > 0 && violations < cases.len(),
        "the set has both verdicts"
    );
    cases.len()
}

#[test]
fn jepsen_etcd_histories_match_expected_verdicts() {
    assert_eq!(
        run(
            "jepsen-etcd",
            HistoryFormat::JepsenEtcd,
            ModelKind::CasRegister
        ),
        70
    );
}

#[test]
fn jepsen_kv_histories_match_expected_verdicts() {
    assert_eq!(run("kv", HistoryFormat::JepsenKv, ModelKind::Kv), 4);
}

#[test]
fn etcd_000_violation_is_explained_with_few_operations() {
    let text = std::fs::read_to_string(data("jepsen-etcd").join("etcd_000.log")).expect("history");
    let (history, _) = parse_history(&text, None).expect("parses");
    let result = check(&history, &CheckOptions::new(ModelKind::CasRegister)).expect("checks");
    let Verdict::Violation(v) = result.verdict else {
        panic!("etcd_000 is a violation")
    };
    assert!(v.minimal);
    assert!(
        v.core.len() < v.partition.len() / 2,
        "core of {} out of {}",
        v.core.len(),
        v.partition.len()
    );
    let text = distsys_check::report::violation_text(&v);
    assert!(text.contains("process") && text.contains("line"), "{text}");
}
