//! `distsys bench txn`: wall time of the transactional checker on generated list-append
//! histories and on Elle's huge-scc history, with `adya` on the same text in the same run
//! (`--features adya`). Each history is measured `runs` times, ours and adya's turns
//! alternating so both see the same machine; medians are printed, never asserted.

use distsys_check::txn::generate::{clean, to_jsonl, GenConfig};
use distsys_check::txn::{check_txn, parse_txn_history, Consistency, TxnHistory, TxnOptions};
use std::io::Write;
use std::time::Instant;

/// The consistency models every history is checked under.
const MODELS: [Consistency; 2] = [Consistency::Serializable, Consistency::StrictSerializable];

/// One measurement of ours: parse, then check under each model.
struct Ours {
    parse: f64,
    check: [f64; 2],
    /// What the last check found, per model.
    found: [String; 2],
}

fn ours(text: &str) -> Result<Ours, String> {
    let start = Instant::now();
    let history =
        parse_txn_history(text, None).map_err(|e| format!("line {}: {}", e.line, e.message))?;
    let parse = start.elapsed().as_secs_f64();
    let mut check = [0.0; 2];
    let mut found = [String::new(), String::new()];
    for (i, consistency) in MODELS.into_iter().enumerate() {
        let (secs, what) = time_check(&history, consistency)?;
        check[i] = secs;
        found[i] = what;
    }
    Ok(Ours {
        parse,
        check,
        found,
    })
}

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
            "{}: {:?}, {} edges, {} anomalies",
            history.txns.len(),
            result.verdict,
            result.graph.edges.len(),
            result.anomalies.len()
        ),
    ))
}

/// adya on the same text under one model: parse + check seconds and its verdict, or why it
/// could not (`--features adya` only; `None` without it).
#[cfg(feature = "adya")]
fn adya(text: &str, consistency: Consistency) -> Option<Result<(f64, String), String>> {
    let start = Instant::now();
    let history = match adya::History::parse(text) {
        Ok(h) => h,
        Err(e) => return Some(Err(format!("adya: cannot parse: {e}"))),
    };
    let opts = adya::Opts {
        models: vec![consistency.name().to_string()],
        ..adya::Opts::default()
    };
    let report = adya::check(&history, adya::Workload::ListAppend, &opts);
    Some(Ok((
        start.elapsed().as_secs_f64(),
        format!("{:?}", report.valid),
    )))
}

#[cfg(not(feature = "adya"))]
fn adya(_: &str, _: Consistency) -> Option<Result<(f64, String), String>> {
    None
}

/// The median of some samples (the upper one of an even count).
fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Measures one history `runs` times and prints a row per model.
fn rows(stdout: &mut dyn Write, name: &str, text: &str, runs: usize) -> Result<(), String> {
    let mut samples = Vec::with_capacity(runs);
    let mut theirs: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut their_verdict = [String::new(), String::new()];
    for _ in 0..runs {
        samples.push(ours(text)?);
        for (i, consistency) in MODELS.into_iter().enumerate() {
            match adya(text, consistency) {
                Some(Ok((secs, verdict))) => {
                    theirs[i].push(secs);
                    their_verdict[i] = verdict;
                }
                Some(Err(e)) => their_verdict[i] = e,
                None => {}
            }
        }
    }
    let parse = median(samples.iter().map(|s| s.parse).collect());
    for (i, consistency) in MODELS.into_iter().enumerate() {
        let check = median(samples.iter().map(|s| s.check[i]).collect());
        let found = samples.last().map_or("", |s| s.found[i].as_str());
        let (txns, found) = found.split_once(": ").unwrap_or(("?", found));
        let adya = if theirs[i].is_empty() {
            their_verdict[i].clone()
        } else {
            let secs = median(std::mem::take(&mut theirs[i]));
            format!(
                "adya parse+check {secs:.3} s ({}), {:.1}x",
                their_verdict[i],
                secs / (parse + check)
            )
        };
        let _ = writeln!(
            stdout,
            "{name:<22} {txns:>8} txns  parse {parse:>6.3} s  check {:<20} {check:>6.3} s  ({found})  {adya}",
            consistency.name(),
        );
    }
    Ok(())
}

/// Runs the benchmark; exit 2 if the huge-scc history cannot be read.
pub fn run(
    dir: &str,
    max_txns: usize,
    runs: usize,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
    let _ = writeln!(
        stdout,
        "medians of {runs} runs; ours on {} threads, adya on one",
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    let mut size = 10_000;
    while size <= max_txns {
        let text = to_jsonl(&clean(&GenConfig::bench(size)));
        if let Err(e) = rows(stdout, "generated list-append", &text, runs) {
            return super::super::fail(stderr, &e);
        }
        size *= 10;
    }
    let path = format!("{dir}/elle/elle-huge-scc.edn");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => return super::super::fail(stderr, &format!("{path}: {e}")),
    };
    if let Err(e) = rows(stdout, "elle-huge-scc.edn", &text, runs) {
        return super::super::fail(stderr, &format!("{path}: {e}"));
    }
    let _ = writeln!(
        stdout,
        "peak RSS {} MiB",
        super::peak_rss_mib().map_or("?".into(), |m| m.to_string())
    );
    0
}
