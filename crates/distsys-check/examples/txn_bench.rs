//! The transactional checker's speed without the CLI's dependencies, so it builds quickly
//! in release: `cargo run --release -p distsys-check --example txn_bench -- 100000`.
//! Prints parse and check times of one generated list-append history (JSON Lines).

use distsys_check::txn::generate::{clean, to_jsonl, GenConfig};
use distsys_check::txn::{check_txn, parse_txn_history, Consistency, TxnFormat, TxnOptions};
use std::time::Instant;

fn main() {
    let txns: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let text = to_jsonl(&clean(&GenConfig::bench(txns)));
    let start = Instant::now();
    let history = match parse_txn_history(&text, Some(TxnFormat::Jsonl)) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("line {}: {}", e.line, e.message);
            std::process::exit(2);
        }
    };
    let parse_s = start.elapsed().as_secs_f64();
    for consistency in [Consistency::Serializable, Consistency::StrictSerializable] {
        let options = TxnOptions {
            consistency,
            ..TxnOptions::default()
        };
        let start = Instant::now();
        match check_txn(&history, &options) {
            Ok(r) => println!(
                "{txns} txns ({} MB of JSON Lines): parse {parse_s:.3} s, check {} {:.3} s ({:?}, {} edges)",
                text.len() >> 20,
                consistency.name(),
                start.elapsed().as_secs_f64(),
                r.verdict,
                r.graph.edges.len()
            ),
            Err(e) => {
                eprintln!("{}", e.message);
                std::process::exit(2);
            }
        }
    }
}
