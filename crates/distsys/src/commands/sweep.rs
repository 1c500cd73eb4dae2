//! `distsys sweep`: every protocol at every cluster size and fault count, a campaign per cell,
//! and one fault beyond tolerance per size, which must be caught. The cells, their seeds and
//! the verdicts are `distsys_sim::sweep`'s; this parses the flags and prints a line per cell.

use crate::cli::SweepArgs;
use crate::commands::fail;
use crate::commands::simulate::summary::parse_shard;
use crate::{EXIT_CHECK_FAILED, EXIT_OK};
use distsys_sim::registry::{self, Registry};
use distsys_sim::sweep::{plan, run_cell, seeds_fit, CellOutcome};
use distsys_sim::Protocol;
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
    if !seeds_fit(args.seed, args.seeds) {
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
    let cells = plan(&protocols, args.max_nodes, args.no_beyond, shard, args.seed);
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
    for planned in &cells {
        let cell = &planned.cell;
        bar.set_message(cell.label());
        let started = Instant::now();
        let CellOutcome { runs, outcome, ok } =
            run_cell(cell, duration_ms, planned.first_seed, args.seeds);
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
