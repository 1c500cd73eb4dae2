//! `distsys bench check`: the checker side by side with Porcupine (see
//! `distsys_harness::bench::check`, which builds Porcupine, generates the histories and
//! measures both checkers), and `--oracle-cases`, the differential run against the
//! brute-force oracle. This parses, calls and prints the table and the per-family summary.

use crate::{EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_OK};
use distsys_harness::bench::check::{oracle_differential, rows, Porcupine, Row, REPEATS};
use std::io::Write;
use std::path::Path;

/// How much `bench check` runs and prints.
pub struct Sizes {
    /// Largest generated history, in operations.
    pub max_ops: usize,
    /// Print only the per-family summary.
    pub summary: bool,
}

pub fn run(
    dir: &str,
    sizes: Sizes,
    porcupine_source: &str,
    oracle_cases: u64,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
    if oracle_cases > 0 {
        return run_oracle(oracle_cases, stdout);
    }
    let Sizes { max_ops, summary } = sizes;
    let porcupine = match Porcupine::build(Path::new(porcupine_source)) {
        Ok(p) => Some(p),
        Err(why) => {
            if let Some(why) = why {
                let _ = writeln!(stderr, "{why}");
            }
            let _ = writeln!(
                stderr,
                "warning: Porcupine not built from {porcupine_source}: its columns stay empty"
            );
            None
        }
    };
    match rows(dir, max_ops, porcupine.as_ref()) {
        Ok(rows) => print_rows(&rows, summary, stdout),
        Err(e) => {
            let _ = writeln!(stderr, "error: {e}");
            EXIT_BAD_INPUT
        }
    }
}

fn print_rows(rows: &[Row], summary: bool, stdout: &mut dyn Write) -> i32 {
    let _ = writeln!(
        stdout,
        "linearizability checkers on the same files (distsys: median of {REPEATS} verdict-only runs, then once with the explanation; Porcupine: CheckEventsTimeout, verdict only)"
    );
    let columns = format!(
        "{:<26} {:>7} {:>12} {:>12} {:>12} {:>10} {:>11} {:>12} {:>8} {:>9} {:>9}",
        "history",
        "ops",
        "expected",
        "distsys",
        "porcupine",
        "ours ms",
        "explain ms",
        "porcupine ms",
        "ratio",
        "ours MiB",
        "porc MiB"
    );
    if !summary {
        let _ = writeln!(stdout, "{columns}");
    }
    let wrong = rows.iter().filter(|r| r.ours != r.expected).count();
    for r in rows.iter().filter(|_| !summary) {
        let ratio = r.theirs_ms.map(|t| t / r.ours_ms.max(1e-3));
        let _ = writeln!(
            stdout,
            "{:<26} {:>7} {:>12} {:>12} {:>12} {:>10.3} {:>11.3} {:>12} {:>8} {:>9} {:>9}",
            r.name,
            r.ops,
            r.expected,
            r.ours,
            r.theirs,
            r.ours_ms,
            r.ours_explained_ms,
            r.theirs_ms.map_or("-".into(), |t| format!("{t:.3}")),
            ratio.map_or("-".into(), |x| format!("{x:.1}x")),
            r.ours_rss_mib.map_or("-".into(), |m| format!("{m:.0}")),
            r.theirs_rss_mib.map_or("-".into(), |m| format!("{m:.0}")),
        );
    }
    let _ = writeln!(stdout, "---\nper family: histories, distsys total ms (slowest), Porcupine total ms, total ratio (lowest single ratio), verdict disagreements with Porcupine");
    let mut groups: Vec<&str> = Vec::new();
    for r in rows {
        if !groups.contains(&r.group.as_str()) {
            groups.push(&r.group);
        }
    }
    for group in groups {
        let members: Vec<&Row> = rows.iter().filter(|r| r.group == group).collect();
        let ours: f64 = members.iter().map(|r| r.ours_ms).sum();
        let slowest = members.iter().map(|r| r.ours_ms).fold(0.0, f64::max);
        let theirs: f64 = members.iter().filter_map(|r| r.theirs_ms).sum();
        let lowest = members
            .iter()
            .filter_map(|r| r.theirs_ms.map(|t| t / r.ours_ms.max(1e-3)))
            .fold(f64::INFINITY, f64::min);
        let disagree = members
            .iter()
            .filter(|r| r.theirs != "-" && r.theirs != "unknown" && r.theirs != r.ours)
            .count();
        let _ = writeln!(
            stdout,
            "{group:<28} {:>3}  distsys {ours:>10.1} ms ({slowest:.1})  porcupine {theirs:>10.1} ms  {:>7.1}x ({})  disagreements {disagree}",
            members.len(),
            theirs / ours.max(1e-3),
            if lowest.is_finite() { format!("{lowest:.1}x") } else { "-".into() },
        );
    }
    let _ = writeln!(
        stdout,
        "verdicts that differ from the expected (by construction or expected.txt): {wrong}"
    );
    if wrong == 0 {
        EXIT_OK
    } else {
        EXIT_CHECK_FAILED
    }
}

/// Prints the differential run against the brute-force oracle, a line per generator as it
/// finishes; exit 1 on any disagreement.
fn run_oracle(cases: u64, stdout: &mut dyn Write) -> i32 {
    let total = oracle_differential(cases, &mut |r| {
        let _ = writeln!(
            stdout,
            "{:<20} {} histories ({} violations, {} unknown-outcome ops; {:?}): {} disagreements with the brute-force oracle ({:.1} s)",
            r.name, r.cases, r.violations, r.unknown_ops, r.algorithms, r.disagreements, r.seconds
        );
    });
    if total == 0 {
        EXIT_OK
    } else {
        EXIT_CHECK_FAILED
    }
}
