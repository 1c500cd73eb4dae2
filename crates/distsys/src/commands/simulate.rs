//! `distsys simulate`.

use super::fail;
use crate::cli::SimulateArgs;
use crate::{EXIT_CHECK_FAILED, EXIT_OK};
use distsys_consensus::Mutant;
use distsys_sim::{run_campaign, FaultSet, SimConfig, Simulation};
use std::io::Write;
use std::time::Instant;

fn parse_duration_ms(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (number, factor) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1000)
    } else {
        (t, 1)
    };
    number
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|v| *v > 0)
        .map(|v| v * factor)
        .ok_or_else(|| {
            format!(
                "--duration must be a positive number of ms (or with an s suffix), got {text:?}"
            )
        })
}

fn parse_range(text: &str) -> Result<(u64, u64), String> {
    let parts: Vec<&str> = text.split('-').collect();
    match parts.as_slice() {
        [a, b] => match (a.trim().parse::<u64>(), b.trim().parse::<u64>()) {
            (Ok(a), Ok(b)) if a > 0 && a < b => Ok((a, b)),
            _ => Err(format!(
                "--election-timeout-ms must be MIN-MAX with 0 < MIN < MAX, got {text:?}"
            )),
        },
        _ => Err(format!(
            "--election-timeout-ms must be MIN-MAX, got {text:?}"
        )),
    }
}

fn config(args: &SimulateArgs) -> Result<SimConfig, String> {
    if args.protocol != "raft" {
        return Err(format!(
            "--protocol {}: only raft is implemented so far (multipaxos and pbft are planned)",
            args.protocol
        ));
    }
    if !(1..=51).contains(&args.nodes) {
        return Err(format!(
            "--nodes must be between 1 and 51, got {}",
            args.nodes
        ));
    }
    if !(1..=100).contains(&args.clients) {
        return Err(format!(
            "--clients must be between 1 and 100, got {}",
            args.clients
        ));
    }
    if !(args.latency_ms.is_finite() && args.latency_ms > 0.0) {
        return Err(format!(
            "--latency-ms must be positive, got {}",
            args.latency_ms
        ));
    }
    let election = parse_range(&args.election_timeout_ms)?;
    if args.heartbeat_ms == 0 || args.heartbeat_ms >= election.0 {
        return Err(format!(
            "--heartbeat-ms must be positive and below the election timeout minimum ({})",
            election.0
        ));
    }
    let mut config = SimConfig::new(args.seed);
    config.nodes = args.nodes;
    config.clients = args.clients;
    config.duration_ms = parse_duration_ms(&args.duration)?;
    config.latency_ms = args.latency_ms;
    config.election_timeout_ms = election;
    config.heartbeat_ms = args.heartbeat_ms;
    config.faults = args.faults.parse::<FaultSet>()?;
    config.lease_read = args.lease;
    config.mutant = args
        .mutant
        .as_deref()
        .map(str::parse::<Mutant>)
        .transpose()?;
    Ok(config)
}

pub fn run(args: &SimulateArgs, stdout: &mut dyn Write, stderr: &mut dyn Write) -> i32 {
    if args.list_mutants {
        for m in Mutant::ALL {
            let _ = writeln!(stdout, "{:<28} {}", m.name(), m.description());
        }
        return EXIT_OK;
    }
    let config = match config(args) {
        Ok(c) => c,
        Err(e) => return fail(stderr, &e),
    };
    let start = Instant::now();
    if args.trace.is_some() || args.history.is_some() {
        let mut traced = config.clone();
        traced.trace = true;
        let report = Simulation::new(traced).run();
        if let Some(path) = &args.trace {
            let mut text = report.trace.join("\n");
            text.push('\n');
            if let Err(e) = std::fs::write(path, text) {
                return fail(stderr, &format!("cannot write trace {path}: {e}"));
            }
        }
        if let Some(path) = &args.history {
            let text = Simulation::history_jsonl(&report.history);
            if let Err(e) = std::fs::write(path, text) {
                return fail(stderr, &format!("cannot write history {path}: {e}"));
            }
        }
    }
    let seeds = args.seeds.unwrap_or(1).max(1);
    let bar = indicatif::ProgressBar::new(seeds);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} seeds, {elapsed} elapsed, ~{eta} left",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    if seeds < 2 {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let summary = run_campaign(&config, config.seed, seeds, &|done, _| {
        bar.set_position(done)
    });
    bar.finish_and_clear();
    let elapsed = start.elapsed();
    if let Some(path) = &args.metrics {
        if let Err(e) = std::fs::write(path, distsys_sim::metrics::render(&summary)) {
            return fail(stderr, &format!("cannot write metrics {path}: {e}"));
        }
    }
    let _ = writeln!(
        stdout,
        "simulate raft: {} node(s), {} run(s) of {} ms virtual, faults {}, {} client(s){}",
        config.nodes,
        summary.runs,
        config.duration_ms,
        config.faults.describe(),
        config.clients,
        config
            .mutant
            .map(|m| format!(", mutant {}", m.name()))
            .unwrap_or_default()
    );
    let _ = writeln!(
        stdout,
        "violations:        {} run(s)",
        summary.failures.len()
    );
    let (won, timeout, split) = summary.election_results;
    let _ = writeln!(
        stdout,
        "elections:         {won} won, {timeout} timed out, {split} split votes"
    );
    let _ = writeln!(stdout, "entries committed: {}", summary.commits);
    let (total, ok, unknown) = summary.ops;
    let availability = if total == 0 {
        0.0
    } else {
        100.0 * ok as f64 / total as f64
    };
    let _ = writeln!(stdout, "client operations: {total} attempted, {ok} completed, {unknown} indeterminate ({availability:.1}% completed)");
    let _ = writeln!(
        stdout,
        "write latency:     p50 {:.1} ms, p99 {:.1} ms (virtual)",
        summary.latency_ms(50.0),
        summary.latency_ms(99.0)
    );
    let _ = writeln!(
        stdout,
        "after faults heal: a leader within {:.0} ms, operations pending at the heal done within {:.0} ms (worst run)",
        summary.worst_leader_after_heal_us as f64 / 1000.0,
        summary.worst_clients_done_after_heal_us as f64 / 1000.0
    );
    let _ = writeln!(
        stdout,
        "events:            {} in {:.1} s wall ({:.0} events/s)",
        summary.events,
        elapsed.as_secs_f64(),
        summary.events as f64 / elapsed.as_secs_f64().max(1e-9)
    );
    if let Some(first) = summary.failures.first() {
        let v = first.violation.as_ref().expect("failures have a violation");
        let seeds_failed: Vec<String> = summary
            .failures
            .iter()
            .take(20)
            .map(|r| r.seed.to_string())
            .collect();
        let _ = writeln!(
            stdout,
            "\nVIOLATION in seed {}: {} at {:.3} ms virtual",
            first.seed,
            v.property,
            v.time_us as f64 / 1000.0
        );
        let _ = writeln!(stdout, "{}", v.detail.trim_end());
        let _ = writeln!(
            stdout,
            "failing seeds: {}{}",
            seeds_failed.join(", "),
            if summary.failures.len() > 20 {
                ", ..."
            } else {
                ""
            }
        );
        let _ = writeln!(stdout, "last events before it:");
        for line in &first.tail {
            let _ = writeln!(stdout, "  {line}");
        }
        let _ = writeln!(
            stdout,
            "replay: distsys simulate --seed {} --nodes {} --faults {}{} --trace trace.jsonl",
            first.seed,
            config.nodes,
            config.faults.describe(),
            config
                .mutant
                .map(|m| format!(" --mutant {}", m.name()))
                .unwrap_or_default()
        );
        return EXIT_CHECK_FAILED;
    }
    EXIT_OK
}
