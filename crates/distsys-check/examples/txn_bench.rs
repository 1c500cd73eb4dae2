//! The transactional checker's speed without the CLI's dependencies, so it builds quickly
//! in release, with the `adya` crate (a dev-dependency) on the same text in the same run:
//! `cargo run --release -p distsys-check --example txn_bench -- 100000 [runs]`.
//! Prints parse and check times of one generated list-append history (JSON Lines) per
//! run, and the ratio of adya's parse + check time to ours for each consistency model.
//! A third argument `ours` leaves adya out (for profiling ours alone). A first argument that
//! is a path checks that history file instead (e.g. Elle's huge-scc).

use distsys_check::txn::generate::{clean, to_jsonl, GenConfig};
use distsys_check::txn::{check_txn, parse_txn_history, Consistency, TxnFormat, TxnOptions};
use std::time::Instant;

/// The distsys binary's allocator (both checkers share it, as they share the process).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let arg = |i: usize, default: usize| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let (txns, runs) = (arg(1, 100_000), arg(2, 1));
    let with_adya = std::env::args().nth(3).as_deref() != Some("ours");
    // A first argument that is not a number names a history file to read instead.
    let file = std::env::args()
        .nth(1)
        .filter(|a| a.parse::<usize>().is_err());
    let text = match &file {
        Some(path) => std::fs::read_to_string(path).unwrap_or_else(|e| {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }),
        None => to_jsonl(&clean(&GenConfig::bench(txns))),
    };
    let format = if file.is_some() {
        None
    } else {
        Some(TxnFormat::Jsonl)
    };
    for _ in 0..runs {
        let start = Instant::now();
        let history = match parse_txn_history(&text, format) {
            Ok(h) => h,
            Err(e) => {
                eprintln!("line {}: {}", e.line, e.message);
                std::process::exit(2);
            }
        };
        let parse_s = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let theirs = if with_adya {
            adya::History::parse(&text)
        } else {
            Err(adya::Error::new("left out"))
        };
        let adya_parse_s = start.elapsed().as_secs_f64();
        for consistency in [Consistency::Serializable, Consistency::StrictSerializable] {
            let options = TxnOptions {
                consistency,
                ..TxnOptions::default()
            };
            let start = Instant::now();
            let ours = match check_txn(&history, &options) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("{}", e.message);
                    std::process::exit(2);
                }
            };
            let check_s = start.elapsed().as_secs_f64();
            let adya = theirs.as_ref().map(|h| {
                let opts = adya::Opts {
                    models: vec![consistency.name().to_string()],
                    ..adya::Opts::default()
                };
                let start = Instant::now();
                let report = adya::check(h, adya::Workload::ListAppend, &opts);
                (start.elapsed().as_secs_f64(), report.valid)
            });
            let adya = match adya {
                Ok((secs, valid)) => format!(
                    "adya parse {adya_parse_s:.3} + check {secs:.3} s ({:?}), {:.1}x",
                    valid,
                    (adya_parse_s + secs) / (parse_s + check_s)
                ),
                Err(e) => format!("adya cannot parse: {e}"),
            };
            println!(
                "{txns} txns ({} MB): {:<19} ours parse {parse_s:.3} + check {check_s:.3} s ({:?}, {} edges); {adya}",
                text.len() >> 20,
                consistency.name(),
                ours.verdict,
                ours.graph.edges.len()
            );
        }
    }
}
