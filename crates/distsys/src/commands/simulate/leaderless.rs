//! `--model leaderless` of `distsys simulate`.

use crate::cli::SimulateArgs;
use crate::commands::fail;
use crate::{EXIT_CHECK_FAILED, EXIT_OK};
use distsys_sim::leaderless::{run_leaderless_campaign, LeaderlessConfig};
use distsys_sim::{Fault, FaultSet};
use std::io::Write;

/// The leaderless run's setup from the flags: nodes, faults, duration, clients, sloppy.
fn setup(args: &SimulateArgs, n: usize, r: usize, w: usize) -> Result<LeaderlessConfig, String> {
    let mut config = LeaderlessConfig::new(args.seed, n, r, w);
    if !(1..=15).contains(&args.nodes) {
        return Err(format!(
            "--nodes must be 1..=15 for --model leaderless, got {}",
            args.nodes
        ));
    }
    if args.nodes < n {
        return Err(format!(
            "--quorum N={n} needs at least N nodes, got --nodes {}",
            args.nodes
        ));
    }
    config.nodes = args.nodes;
    config.sloppy = args.sloppy;
    // The simulator's fault vocabulary; `all` is every fault this model has.
    let faults: FaultSet = args.faults.parse()?;
    let honoured = [Fault::Crash, Fault::Drop, Fault::Partition];
    if args.faults != "all" {
        if let Some(other) = faults.0.iter().find(|f| !honoured.contains(f)) {
            return Err(format!(
                "--model leaderless takes --faults all, none, or a list of crash, drop, \
                 partition; got {:?}",
                other.name()
            ));
        }
    }
    (config.crashes, config.loss, config.partitions) = (
        faults.has(Fault::Crash),
        faults.has(Fault::Drop),
        faults.has(Fault::Partition),
    );
    let defaults = super::default_args();
    if args.duration != defaults.duration {
        config.duration_ms = super::parse_duration_ms(&args.duration)?;
    }
    if args.clients != defaults.clients {
        config.clients = super::checked_clients(args)?;
    }
    Ok(config)
}

/// `--model leaderless`: N/R/W quorum replication under crashes, message loss and partitions.
pub(super) fn run(args: &SimulateArgs, stdout: &mut dyn Write, stderr: &mut dyn Write) -> i32 {
    let parts: Vec<Option<usize>> = args
        .quorum
        .split(',')
        .map(|p| p.trim().parse().ok())
        .collect();
    let (n, r, w) = match parts.as_slice() {
        [Some(n), Some(r), Some(w)]
            if (1..=15).contains(n) && (1..=*n).contains(r) && (1..=*n).contains(w) =>
        {
            (*n, *r, *w)
        }
        _ => {
            return fail(
                stderr,
                &format!(
                    "--quorum must be N,R,W with 1 <= R,W <= N <= 15 (and N <= --nodes), got {:?}",
                    args.quorum
                ),
            )
        }
    };
    let config = match setup(args, n, r, w) {
        Ok(c) => c,
        Err(e) => return fail(stderr, &e),
    };
    let seeds = args.seeds.unwrap_or(1).max(1);
    let report = run_leaderless_campaign(&config, seeds);
    let faults: Vec<&str> = [
        (config.crashes, "crashes"),
        (config.loss, "2% message loss"),
        (config.partitions, "partitions"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    let _ = writeln!(
        stdout,
        "simulate leaderless: N={n} R={r} W={w} (R+W {} N), {} quorums, on {} nodes, {} keys, {} \
         clients, {} ms, {} run(s); faults: {}",
        if r + w > n { ">" } else { "<=" },
        if config.sloppy { "sloppy" } else { "strict" },
        config.nodes,
        config.keys,
        config.clients,
        config.duration_ms,
        seeds,
        if faults.is_empty() {
            "none".to_string()
        } else {
            faults.join(", ")
        }
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
        "monotonic reads:     {} violation(s) (a client read an older version of a key than it \
         had read before; allowed: read repair is asynchronous, so reported, not failed)",
        report.monotonic_read_violations
    );
    if config.sloppy || report.stale_sloppy > 0 {
        let _ = writeln!(
            stdout,
            "sloppy quorums:      {} writes counted hinted replicas on fallback nodes toward W; {} \
             of the stale reads missed such a write or were answered by nodes outside the \
             key's owners: sloppy quorums are not drawn from the key's N owners, so R + W > N \
             does not make a read quorum meet a write quorum (across a partition each side \
             forms its own)",
            report.sloppy_writes, report.stale_sloppy
        );
    }
    let _ = writeln!(stdout, "partitions:          {} started", report.partitions);
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
    // Strict R+W>N promises fresh reads (a sloppy quorum does not: its stale reads are the
    // expected result, reported); divergence after repair is a bug in any configuration.
    if (r + w > n && !config.sloppy && report.stale_reads > 0) || report.diverged_runs > 0 {
        return EXIT_CHECK_FAILED;
    }
    EXIT_OK
}
