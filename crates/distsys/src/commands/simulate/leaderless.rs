//! `--model leaderless` of `distsys simulate`.

use crate::cli::SimulateArgs;
use crate::commands::fail;
use crate::{EXIT_CHECK_FAILED, EXIT_OK};
use std::io::Write;

/// `--model leaderless`: N/R/W quorum replication under crashes and message loss.
pub(super) fn run(args: &SimulateArgs, stdout: &mut dyn Write, stderr: &mut dyn Write) -> i32 {
    use distsys_sim::leaderless::{run_leaderless_campaign, LeaderlessConfig};
    let parts: Vec<Option<usize>> = args
        .quorum
        .split(',')
        .map(|p| p.trim().parse().ok())
        .collect();
    let (n, r, w) = match parts.as_slice() {
        [Some(n), Some(r), Some(w)]
            if (1..=5).contains(n) && (1..=*n).contains(r) && (1..=*n).contains(w) =>
        {
            (*n, *r, *w)
        }
        _ => {
            return fail(
                stderr,
                &format!(
                    "--quorum must be N,R,W with 1 <= R,W <= N <= 5, got {:?}",
                    args.quorum
                ),
            )
        }
    };
    let seeds = args.seeds.unwrap_or(1).max(1);
    let report = run_leaderless_campaign(&LeaderlessConfig::new(args.seed, n, r, w), seeds);
    let _ = writeln!(
        stdout,
        "simulate leaderless: N={n} R={r} W={w} (R+W {} N) on 5 nodes, 4 keys, 6 clients, {} run(s); crashes and 2% message loss",
        if r + w > n { ">" } else { "<=" },
        seeds
    );
    let _ = writeln!(
        stdout,
        "operations:          {} reads, {} writes completed, {} timed out",
        report.reads, report.writes, report.timed_out
    );
    let _ = writeln!(
        stdout,
        "stale reads:         {} (older than a write completed before the read began)",
        report.stale_reads
    );
    let _ = writeln!(
        stdout,
        "repair:              {} read repairs, {} hints handed off, {} keys re-sent by anti-entropy",
        report.read_repairs, report.hints_delivered, report.anti_entropy_keys
    );
    let _ = writeln!(
        stdout,
        "converged:           {} of {} run(s) with every replica equal at the end",
        report.runs - report.diverged_runs,
        report.runs
    );
    // R+W>N promises fresh reads; divergence after repair is a bug in any configuration.
    if (r + w > n && report.stale_reads > 0) || report.diverged_runs > 0 {
        return EXIT_CHECK_FAILED;
    }
    EXIT_OK
}
