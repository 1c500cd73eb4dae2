//! `distsys sweep`: every protocol at every cluster size and fault count, a campaign per cell
//! (see `distsys_sim::sweep`), and one fault beyond tolerance per size, which must be caught.

use crate::cli::SweepArgs;
use crate::commands::fail;
use crate::commands::simulate::summary::parse_shard;
use crate::{EXIT_CHECK_FAILED, EXIT_OK};
use distsys_sim::registry::{self, Registry};
use distsys_sim::sweep::{beyond_tolerance, within_tolerance, Cell};
use distsys_sim::{first_failure, run_campaign, Protocol};
use std::io::Write;
use std::time::Instant;

fn protocols(list: &str) -> Result<Vec<Protocol>, String> {
    if list.trim() == "all" {
        return Ok(registry::all());
    }
    list.split(',')
        .map(|name| {
            registry::lookup(name).ok_or_else(|| {
                let names: Vec<&str> = Registry::builtin().iter().map(|p| p.name).collect();
                format!(
                    "--protocols: unknown protocol {name:?} (all, or a list of {})",
                    names.join(", ")
                )
            })
        })
        .collect()
}

/// Runs the sweep; exit 1 when a cell within tolerance failed or a cell beyond it was never
/// caught.
pub fn run(args: &SweepArgs, stdout: &mut dyn Write, stderr: &mut dyn Write) -> i32 {
    let protocols = match protocols(&args.protocols) {
        Ok(p) => p,
        Err(e) => return fail(stderr, &e),
    };
    let max_seeds = super::simulate::MAX_SEEDS;
    if !(1..=51).contains(&args.max_nodes) || args.seeds == 0 || args.seeds > max_seeds {
        return fail(
            stderr,
            &format!(
                "--max-nodes must be 1..=51 and --seeds 1..={max_seeds}, got {} and {}",
                args.max_nodes, args.seeds
            ),
        );
    }
    // Cell k starts at seed + 1,000,000 k: the last cell's range must fit in 64 bits.
    if args
        .seed
        .checked_add(1_000_000 * 200)
        .and_then(|s| s.checked_add(args.seeds))
        .is_none()
    {
        return fail(
            stderr,
            &format!(
                "--seed {} is too large for the sweep's seed ranges",
                args.seed
            ),
        );
    }
    let duration_ms = match super::simulate::parse_duration_ms(&args.duration) {
        Ok(d) => d,
        Err(e) => return fail(stderr, &e),
    };
    let shard = match args.shard.as_deref().map(parse_shard).transpose() {
        Ok(s) => s,
        Err(e) => return fail(stderr, &e),
    };
    let mut cells: Vec<Cell> = within_tolerance(&protocols, args.max_nodes);
    if !args.no_beyond {
        cells.extend(beyond_tolerance(&protocols, args.max_nodes));
    }
    let cells: Vec<(usize, Cell)> = cells
        .into_iter()
        .enumerate()
        .filter(|(i, _)| shard.is_none_or(|(index, shards)| *i as u64 % shards == index))
        .collect();
    let bar = indicatif::ProgressBar::new(cells.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} cells, {elapsed} elapsed, {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let _ = writeln!(
        stdout,
        "sweep: {} cell(s), {} seed(s) of {duration_ms} ms each from seed {}, every fault",
        cells.len(),
        args.seeds,
        args.seed
    );
    let _ = writeln!(
        stdout,
        "{:<42} {:>6}  {:<64} {:>8}",
        "cell", "runs", "outcome", "wall"
    );
    let mut bad = 0;
    for (i, cell) in &cells {
        bar.set_message(cell.label());
        let started = Instant::now();
        let first = args.seed + 1_000_000 * *i as u64;
        let (runs, outcome, ok) = run_cell(cell, duration_ms, first, args.seeds);
        bad += u32::from(!ok);
        bar.suspend(|| {
            let _ = writeln!(
                stdout,
                "{:<42} {:>6}  {:<64} {:>7.1}s",
                cell.label(),
                runs,
                outcome,
                started.elapsed().as_secs_f64()
            );
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    let _ = writeln!(stdout, "cells failing: {bad}");
    if bad > 0 {
        EXIT_CHECK_FAILED
    } else {
        EXIT_OK
    }
}

/// One cell's campaign: runs, the outcome text and whether the cell holds (within tolerance:
/// no failure; beyond it: a violation or stall caught).
fn run_cell(cell: &Cell, duration_ms: u64, first: u64, seeds: u64) -> (u64, String, bool) {
    match cell.tolerance {
        distsys_sim::sweep::Tolerance::Within => {
            let summary = run_campaign(&cell.config(duration_ms), first, seeds, &|_, _| {});
            let ok = summary.failures.is_empty();
            let outcome = match summary.failures.first() {
                None => "0 failures".to_string(),
                Some(f) => format!(
                    "FAILED ({}); first seed {}",
                    summary.failures_summary(),
                    f.seed
                ),
            };
            (summary.runs, outcome, ok)
        }
        distsys_sim::sweep::Tolerance::Beyond => {
            match first_failure(&cell.config(duration_ms), first, seeds, 8) {
                Some(f) => {
                    let kind = f.violation.as_ref().map_or("?", |v| v.kind().name());
                    (
                        f.seed - first + 1,
                        format!("caught: {kind} at seed {}", f.seed),
                        true,
                    )
                }
                None => (
                    seeds,
                    "NOT CAUGHT: no violation or stall".to_string(),
                    false,
                ),
            }
        }
    }
}
