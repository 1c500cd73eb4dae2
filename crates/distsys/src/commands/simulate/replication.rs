//! `--model replication` of `distsys simulate`.

use super::parse_duration_ms;

/// Shortest run: the fault comes 4-6 s in, plus a second of recovery to measure.
const MIN_DURATION_MS: u64 = 7_000;
use crate::cli::SimulateArgs;
use crate::commands::fail;
use crate::{EXIT_CHECK_FAILED, EXIT_OK};
use distsys_patterns::replication::ReplicationMode;
use distsys_sim::replication::{
    run_replication_campaign, FailureScenario, ReplicationConfig, ReplicationReport,
};
use std::io::Write;
use std::time::Instant;

/// `--model replication`: primary-backup runs in one mode and one failure scenario, summed over
/// the seeds.
pub(super) fn run(args: &SimulateArgs, stdout: &mut dyn Write, stderr: &mut dyn Write) -> i32 {
    let mode = match args.mode.as_str() {
        "sync" => ReplicationMode::Sync,
        "semisync" | "semi-sync" => ReplicationMode::SemiSync { k: 1 },
        "async" => ReplicationMode::Async,
        other => {
            return fail(
                stderr,
                &format!("--mode must be sync, semisync or async, got {other:?}"),
            )
        }
    };
    let Some(scenario) = FailureScenario::parse(&args.scenario) else {
        let names: Vec<&str> = FailureScenario::ALL.iter().map(|s| s.name()).collect();
        return fail(
            stderr,
            &format!(
                "--scenario must be one of {}, got {:?}",
                names.join(", "),
                args.scenario
            ),
        );
    };
    if args.backups == 0 || args.backups > 16 {
        return fail(stderr, &"--backups must be between 1 and 16");
    }
    let duration_ms = match parse_duration_ms(&args.duration) {
        Ok(d) if d >= MIN_DURATION_MS => d,
        Ok(_) => {
            return fail(
                stderr,
                &format!(
                    "--duration must be at least {}s for --model replication: its fault comes \
                     4-6 s into the run, and a shorter run would end before it (the scenario and \
                     the seed would change nothing)",
                    MIN_DURATION_MS / 1_000
                ),
            )
        }
        Err(e) => return fail(stderr, &e),
    };
    let mut base = ReplicationConfig::new(args.seed, mode);
    base.backups = args.backups;
    base.duration_ms = duration_ms;
    base.latency_ms = args.latency_ms.max(0.01);
    base.scenario = scenario;
    base.far_latency_ms = match args.far_latency_ms {
        Some(ms) if !(0.01..=10_000.0).contains(&ms) => {
            return fail(stderr, &"--far-latency-ms must be between 0.01 and 10000")
        }
        other => other,
    };
    let seeds = args.seeds.unwrap_or(1).max(1);
    let start = Instant::now();
    let r = run_replication_campaign(&base, seeds);
    let _ = writeln!(
        stdout,
        "simulate replication: mode {}, 1 primary + {} backup(s){}, {} run(s) of {} ms, 1000 writes/s, fault {} in 4-6 s, heartbeats every {} ms, suspicion after {}-{} ms, failover by majority vote of the {} members, backup 1 cut off during 1-2.5 s",
        args.mode,
        args.backups,
        base.far_latency_ms.map_or(String::new(), |ms| format!(
            " (primary and backup 1 in one zone, the others {ms} ms away)"
        )),
        seeds,
        duration_ms,
        scenario.name(),
        base.heartbeat_ms,
        base.detect_ms,
        base.detect_ms * 3 / 2,
        base.members()
    );
    print_report(&r, seeds, stdout);
    let _ = writeln!(
        stdout,
        "wall time:           {:.1} s",
        start.elapsed().as_secs_f64()
    );
    // Sync and semi-sync promise that a failover loses nothing acknowledged, as long as a copy
    // survives: one crash in every scenario but the double failure.
    let promises_no_loss =
        mode != ReplicationMode::Async && scenario != FailureScenario::PrimaryAndBackupCrash;
    if promises_no_loss && r.lost_acknowledged > 0 {
        let _ = writeln!(
            stdout,
            "VIOLATION: {} lost acknowledged write(s) in a mode that promises none",
            r.lost_acknowledged
        );
        return EXIT_CHECK_FAILED;
    }
    EXIT_OK
}

fn print_report(r: &ReplicationReport, seeds: u64, stdout: &mut dyn Write) {
    let pct = |p: f64| {
        r.latency_ms(p)
            .map_or("-".to_string(), |v| format!("{v:.1} ms"))
    };
    let rto = |p: f64| {
        distsys_sim::stats::percentile(&r.rto_ms, p)
            .map_or("-".to_string(), |ms| format!("{ms:.0} ms"))
    };
    let lines = [
        format!(
            "writes:              {} offered, {} acknowledged, {} not acknowledged (timeout, refused or no primary)",
            r.writes, r.acknowledged, r.timed_out
        ),
        format!(
            "lost acknowledged:   {} write(s) (RPO; {:.2} per run)",
            r.lost_acknowledged,
            r.lost_acknowledged as f64 / seeds as f64
        ),
        format!("write latency:       p50 {}, p99 {}", pct(0.5), pct(0.99)),
        format!("replication lag:     at most {} write(s) behind", r.max_lag),
        format!(
            "failover:            {} election(s) won; {} run(s) never recovered, {} ended with no primary (no majority left)",
            r.failovers, r.unrecovered, r.without_primary
        ),
        format!(
            "recovery (RTO):      median {}, worst {} (fault to the first write a new primary acknowledged)",
            rto(0.5),
            rto(1.0)
        ),
    ];
    for line in lines {
        let _ = writeln!(stdout, "{line}");
    }
}
