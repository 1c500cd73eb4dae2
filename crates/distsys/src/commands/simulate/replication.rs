//! `--model replication` of `distsys simulate`.

use super::parse_duration_ms;
use crate::cli::SimulateArgs;
use crate::commands::fail;
use crate::{EXIT_CHECK_FAILED, EXIT_OK};
use std::io::Write;
use std::time::Instant;

/// `--model replication`: primary-backup runs in one mode, summed over the seeds.
pub(super) fn run(args: &SimulateArgs, stdout: &mut dyn Write, stderr: &mut dyn Write) -> i32 {
    use distsys_patterns::replication::ReplicationMode;
    use distsys_sim::replication::{run_replication_campaign, ReplicationConfig};
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
    if args.backups == 0 || args.backups > 16 {
        return fail(stderr, &"--backups must be between 1 and 16");
    }
    let duration_ms = match parse_duration_ms(&args.duration) {
        Ok(d) if d >= 1_000 => d,
        Ok(_) => {
            return fail(
                stderr,
                &"--duration must be at least 1s for --model replication",
            )
        }
        Err(e) => return fail(stderr, &e),
    };
    let mut base = ReplicationConfig::new(args.seed, mode);
    base.backups = args.backups;
    base.duration_ms = duration_ms;
    base.latency_ms = args.latency_ms.max(0.01);
    let seeds = args.seeds.unwrap_or(1).max(1);
    let start = Instant::now();
    let r = run_replication_campaign(&base, seeds);
    let pct = |p: f64| {
        r.latency_ms(p)
            .map_or("-".to_string(), |v| format!("{v:.1} ms"))
    };
    let rto = |p: f64| {
        distsys_sim::stats::percentile(&r.rto_ms, p)
            .map_or("-".to_string(), |ms| format!("{ms:.0} ms"))
    };
    let _ = writeln!(
        stdout,
        "simulate replication: mode {}, 1 primary + {} backup(s), {} run(s) of {} ms, 1000 writes/s, primary crash in 4-6 s (detected after 300 ms), backup 1 cut off during 1-2.5 s",
        args.mode, args.backups, seeds, duration_ms
    );
    let _ = writeln!(
        stdout,
        "writes:              {} offered, {} acknowledged, {} not acknowledged (timeout or no primary)",
        r.writes, r.acknowledged, r.timed_out
    );
    let _ = writeln!(
        stdout,
        "lost acknowledged:   {} write(s) (RPO; {:.2} per failover)",
        r.lost_acknowledged,
        r.lost_acknowledged as f64 / seeds as f64
    );
    let _ = writeln!(
        stdout,
        "write latency:       p50 {}, p99 {}",
        pct(0.5),
        pct(0.99)
    );
    let _ = writeln!(
        stdout,
        "replication lag:     at most {} write(s) behind",
        r.max_lag
    );
    let _ = writeln!(
        stdout,
        "recovery (RTO):      median {}, worst {}",
        rto(0.5),
        rto(1.0)
    );
    let _ = writeln!(
        stdout,
        "wall time:           {:.1} s",
        start.elapsed().as_secs_f64()
    );
    // Sync and semi-sync promise that a correct failover loses nothing acknowledged.
    if mode != ReplicationMode::Async && r.lost_acknowledged > 0 {
        let _ = writeln!(
            stdout,
            "VIOLATION: {} lost acknowledged write(s) in a mode that promises none",
            r.lost_acknowledged
        );
        return EXIT_CHECK_FAILED;
    }
    EXIT_OK
}
