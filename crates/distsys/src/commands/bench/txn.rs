//! `distsys bench txn`: wall time of the transactional checker on generated list-append
//! histories and on Elle's huge-scc history. Figures are printed, never asserted.

use distsys_check::txn::generate::{clean, to_jsonl, GenConfig};
use distsys_check::txn::{
    check_txn, parse_txn_history, Consistency, TxnFormat, TxnHistory, TxnOptions,
};
use std::io::Write;
use std::time::Instant;

fn time_check(history: &TxnHistory, consistency: Consistency) -> Result<(f64, String), String> {
    let options = TxnOptions {
        consistency,
        ..TxnOptions::default()
    };
    let start = Instant::now();
    let result = check_txn(history, &options).map_err(|e| e.message)?;
    let secs = start.elapsed().as_secs_f64();
    Ok((
        secs,
        format!(
            "{:?}, {} edges, {} anomalies",
            result.verdict,
            result.graph.edges.len(),
            result.anomalies.len()
        ),
    ))
}

/// adya on the same text: parse + check time and its verdict (`--features adya` only).
#[cfg(feature = "adya")]
fn adya_time(text: &str, consistency: Consistency) -> String {
    let start = Instant::now();
    let history = match adya::History::parse(text) {
        Ok(h) => h,
        Err(e) => return format!("adya: cannot parse: {e}"),
    };
    let opts = adya::Opts {
        models: vec![consistency.name().to_string()],
        ..adya::Opts::default()
    };
    let parsed = start.elapsed().as_secs_f64();
    let report = adya::check(&history, adya::Workload::ListAppend, &opts);
    format!(
        "adya parse+check {:.3} s (parse {parsed:.3} s) ({:?})",
        start.elapsed().as_secs_f64(),
        report.valid
    )
}

#[cfg(not(feature = "adya"))]
fn adya_time(_: &str, _: Consistency) -> String {
    String::new()
}

fn row(
    stdout: &mut dyn Write,
    name: &str,
    parse_s: f64,
    history: &TxnHistory,
    text: &str,
) -> Result<(), String> {
    for consistency in [Consistency::Serializable, Consistency::StrictSerializable] {
        let (secs, what) = time_check(history, consistency)?;
        let _ = writeln!(
            stdout,
            "{name:<22} {:>8} txns  parse {parse_s:>6.3} s  check {:<20} {secs:>6.3} s  ({what})  {}",
            history.txns.len(),
            consistency.name(),
            adya_time(text, consistency)
        );
    }
    Ok(())
}

/// Runs the benchmark; exit 2 if the huge-scc history cannot be read.
pub fn run(dir: &str, max_txns: usize, stdout: &mut dyn Write, stderr: &mut dyn Write) -> i32 {
    let mut size = 10_000;
    while size <= max_txns {
        let text = to_jsonl(&clean(&GenConfig::bench(size)));
        let start = Instant::now();
        let history = match parse_txn_history(&text, Some(TxnFormat::Jsonl)) {
            Ok(h) => h,
            Err(e) => return super::super::fail(stderr, &e.message),
        };
        let parse_s = start.elapsed().as_secs_f64();
        if let Err(e) = row(stdout, "generated list-append", parse_s, &history, &text) {
            return super::super::fail(stderr, &e);
        }
        size *= 10;
    }
    let path = format!("{dir}/elle/elle-huge-scc.edn");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => return super::super::fail(stderr, &format!("{path}: {e}")),
    };
    let start = Instant::now();
    let history = match parse_txn_history(&text, None) {
        Ok(h) => h,
        Err(e) => {
            return super::super::fail(stderr, &format!("{path}: line {}: {}", e.line, e.message))
        }
    };
    let parse_s = start.elapsed().as_secs_f64();
    if let Err(e) = row(stdout, "elle-huge-scc.edn", parse_s, &history, &text) {
        return super::super::fail(stderr, &e);
    }
    let _ = writeln!(
        stdout,
        "peak RSS {} MiB",
        super::peak_rss_mib().map_or("?".into(), |m| m.to_string())
    );
    0
}
