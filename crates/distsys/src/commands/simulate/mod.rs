//! `distsys simulate`.

use super::fail;

mod causal;
mod leaderless;
mod replication;
mod retry_storm;
pub mod summary;
mod txn;

use crate::cli::SimulateArgs;
use crate::EXIT_OK;
use distsys_consensus::pbft::byzantine::Behaviour;
use distsys_sim::registry::{self, Registry};
use distsys_sim::{run_campaign, FaultSet, Protocol, SimConfig, Simulation};
use std::io::Write;
use std::time::Instant;

/// Longest virtual run accepted (1 hour).
const MAX_DURATION_MS: u64 = 3_600_000;
/// Most seeds one process runs (a campaign keeps every run's latencies in memory); larger
/// campaigns run as shards (`--shard I/N`) and merge.
pub const MAX_SEEDS: u64 = 100_000;

/// `--seeds K` with `--seed S`: 1..=MAX_SEEDS seeds whose range fits in 64 bits.
fn check_seeds(first: u64, seeds: Option<u64>) -> Result<u64, String> {
    let seeds = seeds.unwrap_or(1);
    if seeds == 0 || seeds > MAX_SEEDS {
        return Err(format!(
            "--seeds must be 1..={MAX_SEEDS} (split larger campaigns with --shard I/N and merge-reports), got {seeds}"
        ));
    }
    if first.checked_add(seeds).is_none() {
        return Err(format!(
            "--seed {first} with --seeds {seeds}: the seed range passes 2^64-1"
        ));
    }
    Ok(seeds)
}

pub(crate) fn parse_duration_ms(text: &str) -> Result<u64, String> {
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
        .and_then(|v| v.checked_mul(factor))
        .filter(|ms| *ms <= MAX_DURATION_MS)
        .ok_or_else(|| {
            format!(
                "--duration must be a positive number of ms (or with an s suffix) of at most {MAX_DURATION_MS} ms (1 hour virtual), got {text:?}"
            )
        })
}

fn parse_range(text: &str) -> Result<(u64, u64), String> {
    let parts: Vec<&str> = text.split('-').collect();
    match parts.as_slice() {
        [a, b] => match (a.trim().parse::<u64>(), b.trim().parse::<u64>()) {
            (Ok(a), Ok(b)) if a > 0 && a < b && b <= 3_600_000 => Ok((a, b)),
            _ => Err(format!(
                "--election-timeout-ms must be MIN-MAX with 0 < MIN < MAX <= 3600000 (an hour), got {text:?}"
            )),
        },
        _ => Err(format!(
            "--election-timeout-ms must be MIN-MAX, got {text:?}"
        )),
    }
}

/// `--write-delay-ms`: `0`, one value or MIN-MAX, in milliseconds (fractions allowed), at most
/// 10 s; as microseconds.
fn parse_write_delay(text: &str) -> Result<(u64, u64), String> {
    let bad = || {
        format!("--write-delay-ms must be a value or MIN-MAX in milliseconds, 0 to 10000, MIN <= MAX, got {text:?}")
    };
    let ms = |part: &str| -> Result<u64, String> {
        match part.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && (0.0..=10_000.0).contains(&v) => Ok((v * 1000.0) as u64),
            _ => Err(bad()),
        }
    };
    let (lo, hi) = match text.split_once('-') {
        Some((a, b)) => (ms(a)?, ms(b)?),
        None => (ms(text)?, ms(text)?),
    };
    if lo > hi {
        return Err(bad());
    }
    Ok((lo, hi))
}

fn config(args: &SimulateArgs) -> Result<SimConfig, String> {
    let protocol = registry::lookup(&args.protocol).ok_or_else(|| {
        format!(
            "--protocol must be {}, got {:?}",
            Registry::builtin().names_phrase(),
            args.protocol
        )
    })?;
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
    if !(args.latency_ms.is_finite() && args.latency_ms > 0.0 && args.latency_ms <= 600_000.0) {
        return Err(format!(
            "--latency-ms must be positive and at most 600000 (ten minutes, the context's bound), got {:?}",
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
    config.write_delay_us = parse_write_delay(&args.write_delay_ms)?;
    config.write_pipelining = !args.no_pipelining;
    if args.no_pipelining && config.write_delay_us.1 == 0 {
        return Err(
            "--no-pipelining needs --write-delay-ms (without a write delay nothing is pipelined)"
                .into(),
        );
    }
    config.protocol = protocol;
    config.mutant = args
        .mutant
        .as_deref()
        .map(|name| protocol.bug(name))
        .transpose()?;
    if let Some(bug) = config.mutant.filter(|b| b.needs_pipelined_writes) {
        if config.write_delay_us.1 == 0 || !config.write_pipelining {
            return Err(format!(
                "--mutant {}: only pipelined disk writes show this bug; add --write-delay-ms (e.g. 1-5)",
                bug.name
            ));
        }
    }
    if !protocol.lease_read && args.lease {
        return Err(format!("--lease is a {} option", titles(|p| p.lease_read)));
    }
    if !protocol.pipelined_writes && config.write_delay_us.1 > 0 {
        return Err(format!(
            "--write-delay-ms is a {} option ({}'s safety observer reads each step as it happens, not when its write completes)",
            titles(|p| p.pipelined_writes),
            protocol.title
        ));
    }
    byzantine(args, &mut config)?;
    Ok(config)
}

/// The titles of the built-in protocols `has` holds for, as a message names them (`Raft`,
/// `Raft or PBFT`).
fn titles(has: fn(&Protocol) -> bool) -> String {
    let titles: Vec<&str> = registry::all()
        .iter()
        .filter(|p| has(p))
        .map(|p| p.title)
        .collect();
    titles.join(" or ")
}

/// `--byzantine`, `--byzantine-behaviour`, `--beyond-tolerance`: protocols with a byzantine
/// fault model only (PBFT); at most f of the n = 3f+1 replicas unless the experiment asks for
/// more.
fn byzantine(args: &SimulateArgs, config: &mut SimConfig) -> Result<(), String> {
    let protocol = config.protocol;
    if !protocol.byzantine() {
        let behaviour_given = args.byzantine_behaviour != default_args().byzantine_behaviour;
        if args.byzantine.is_some() || args.beyond_tolerance || behaviour_given {
            let names: Vec<&str> = registry::all()
                .into_iter()
                .filter(|p| p.byzantine())
                .map(|p| p.name())
                .collect();
            let flag = if args.byzantine.is_some() {
                "--byzantine"
            } else if args.beyond_tolerance {
                "--beyond-tolerance"
            } else {
                "--byzantine-behaviour"
            };
            return Err(format!(
                "{flag}: {} tolerates crash faults only; byzantine replicas need --protocol {}",
                protocol.name(),
                names.join(" or --protocol ")
            ));
        }
        return Ok(());
    }
    if config.nodes < protocol.min_nodes {
        return Err(format!(
            "--nodes: {} needs n = 3f+1 >= {} replicas to tolerate one byzantine replica, got {}",
            protocol.name(),
            protocol.min_nodes,
            config.nodes
        ));
    }
    let f = protocol.fault_model.max_faults(config.nodes);
    let k = args.byzantine.unwrap_or(f);
    if k > config.nodes {
        return Err(format!(
            "--byzantine {k} is more than the {} replicas",
            config.nodes
        ));
    }
    if k > f && !args.beyond_tolerance {
        return Err(format!(
            "--byzantine {k}: {} replicas tolerate f = {f} (n >= 3f+1); pass --beyond-tolerance to run it anyway and expect violations",
            config.nodes
        ));
    }
    if k <= f && args.beyond_tolerance {
        return Err(format!(
            "--beyond-tolerance: --byzantine {k} is within what {} replicas tolerate (f = {f}); \
             give --byzantine {} or more to go beyond it",
            config.nodes,
            f + 1
        ));
    }
    if k == 0 && args.byzantine_behaviour != default_args().byzantine_behaviour {
        return Err(
            "--byzantine-behaviour: no replica is byzantine (--byzantine 0), so no behaviour \
             would run"
                .into(),
        );
    }
    config.byzantine = k;
    config.byzantine_behaviours = Behaviour::parse_list(&args.byzantine_behaviour)
        .map_err(|e| format!("--byzantine-behaviour: {e}"))?;
    Ok(())
}

/// `--list-mutants`: one seeded bug per line of the protocol `--protocol` names (the default
/// protocol's otherwise): its name (in a column at least 28 wide) and what it breaks.
fn list_mutants(protocol: &str, stdout: &mut dyn Write) {
    let bugs = (registry::lookup(protocol).unwrap_or_default().bugs)();
    let width = bugs
        .iter()
        .map(|b| b.name.len() + 2)
        .max()
        .unwrap_or(0)
        .max(28);
    for bug in bugs {
        let _ = writeln!(stdout, "{:<width$} {}", bug.name, bug.description);
    }
}

/// `--trace` and `--history`: the first run's trace and client history, written to their files.
fn write_first_run(args: &SimulateArgs, config: &SimConfig) -> Result<(), String> {
    if args.trace.is_none() && args.history.is_none() {
        return Ok(());
    }
    let mut traced = config.clone();
    traced.trace = true;
    let report = Simulation::new(traced).run();
    if let Some(path) = &args.trace {
        let mut text = report.trace.join("\n");
        text.push('\n');
        std::fs::write(path, text).map_err(|e| format!("cannot write trace {path}: {e}"))?;
    }
    if let Some(path) = &args.history {
        let text = Simulation::history_jsonl(&report.history);
        std::fs::write(path, text).map_err(|e| format!("cannot write history {path}: {e}"))?;
    }
    Ok(())
}

/// `--report-json`: the campaign's report, for `merge-reports`.
fn write_report(path: &str, file: &summary::ReportFile) -> Result<(), String> {
    serde_json::to_string(file)
        .map_err(|e| e.to_string())
        .and_then(|text| std::fs::write(path, text).map_err(|e| e.to_string()))
        .map_err(|e| format!("cannot write report {path}: {e}"))
}

/// The flags each `--model` honours (`--seed` always); every other run-shaping flag given a
/// non-default value is refused, so no flag is silently ignored.
fn honoured_flags(model: &str) -> &'static [&'static str] {
    match model {
        "replication" => &[
            "--mode",
            "--backups",
            "--scenario",
            "--far-latency-ms",
            "--duration",
            "--latency-ms",
            "--seeds",
        ],
        "leaderless" => &[
            "--quorum",
            "--seeds",
            "--sloppy",
            "--nodes",
            "--faults",
            "--duration",
            "--clients",
        ],
        "causal" => &["--mutant", "--seeds", "--trace"],
        "retry-storm" => &[],
        "txn" => &[
            "--groups",
            "--commit",
            "--seeds",
            "--faults",
            "--mutant",
            "--latency-ms",
            "--clients",
            "--duration",
            "--history",
            "--nodes",
            "--max-skew-ms",
            "--commit-wait-ms",
        ],
        _ => &[
            "--protocol",
            "--nodes",
            "--seeds",
            "--faults",
            "--duration",
            "--clients",
            "--latency-ms",
            "--election-timeout-ms",
            "--heartbeat-ms",
            "--lease",
            "--write-delay-ms",
            "--no-pipelining",
            "--mutant",
            "--byzantine",
            "--byzantine-behaviour",
            "--beyond-tolerance",
            "--trace",
            "--history",
            "--metrics",
            "--shard",
            "--report-json",
        ],
    }
}

/// `--clients` for the design models, which run at most 64.
fn checked_clients(args: &SimulateArgs) -> Result<usize, String> {
    if (1..=64).contains(&args.clients) {
        Ok(args.clients)
    } else {
        Err(format!("--clients must be 1..=64, got {}", args.clients))
    }
}

/// `simulate` with no flag: every default as clap defines it (one definition, in cli.rs).
fn default_args() -> SimulateArgs {
    use clap::{Args, FromArgMatches};
    let command = SimulateArgs::augment_args(clap::Command::new("simulate"));
    command
        .try_get_matches_from(["simulate"])
        .and_then(|matches| SimulateArgs::from_arg_matches(&matches))
        .expect("every simulate flag has a default")
}

/// The run-shaping flags given a value other than their default.
fn flags_given(args: &SimulateArgs) -> Vec<&'static str> {
    let d = default_args();
    let given = [
        ("--protocol", args.protocol != d.protocol),
        ("--nodes", args.nodes != d.nodes),
        ("--seeds", args.seeds != d.seeds),
        ("--faults", args.faults != d.faults),
        ("--duration", args.duration != d.duration),
        ("--clients", args.clients != d.clients),
        ("--latency-ms", args.latency_ms != d.latency_ms),
        (
            "--election-timeout-ms",
            args.election_timeout_ms != d.election_timeout_ms,
        ),
        ("--heartbeat-ms", args.heartbeat_ms != d.heartbeat_ms),
        ("--lease", args.lease != d.lease),
        ("--write-delay-ms", args.write_delay_ms != d.write_delay_ms),
        ("--no-pipelining", args.no_pipelining != d.no_pipelining),
        ("--mutant", args.mutant != d.mutant),
        ("--byzantine", args.byzantine != d.byzantine),
        (
            "--byzantine-behaviour",
            args.byzantine_behaviour != d.byzantine_behaviour,
        ),
        (
            "--beyond-tolerance",
            args.beyond_tolerance != d.beyond_tolerance,
        ),
        ("--trace", args.trace != d.trace),
        ("--history", args.history != d.history),
        ("--metrics", args.metrics != d.metrics),
        ("--shard", args.shard != d.shard),
        ("--report-json", args.report_json != d.report_json),
        ("--mode", args.mode != d.mode),
        ("--quorum", args.quorum != d.quorum),
        ("--backups", args.backups != d.backups),
        ("--scenario", args.scenario != d.scenario),
        ("--far-latency-ms", args.far_latency_ms != d.far_latency_ms),
        ("--groups", args.groups != d.groups),
        ("--commit", args.commit != d.commit),
        ("--sloppy", args.sloppy != d.sloppy),
        ("--max-skew-ms", args.max_skew_ms != d.max_skew_ms),
        ("--commit-wait-ms", args.commit_wait_ms != d.commit_wait_ms),
    ];
    given
        .into_iter()
        .filter_map(|(flag, set)| set.then_some(flag))
        .collect()
}

/// Exit 2 instead of a run that ignores a flag the user gave.
fn refuse_unhonoured_flags(args: &SimulateArgs) -> Result<(), String> {
    let honoured = honoured_flags(&args.model);
    let refused: Vec<&str> = flags_given(args)
        .into_iter()
        .filter(|flag| !honoured.contains(flag))
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    let takes = if honoured.is_empty() {
        "only --seed".to_string()
    } else {
        format!("--seed and {}", honoured.join(", "))
    };
    Err(format!(
        "--model {} does not honour {}: it takes {takes} (the rest of its setup is fixed, see \
         simulate --help)",
        args.model,
        refused.join(", ")
    ))
}

pub fn run(args: &SimulateArgs, stdout: &mut dyn Write, stderr: &mut dyn Write) -> i32 {
    if args.list_mutants {
        match args.model.as_str() {
            "txn" => txn::list_mutants(stdout),
            _ => list_mutants(&args.protocol, stdout),
        }
        return EXIT_OK;
    }
    if let Err(e) = refuse_unhonoured_flags(args) {
        return fail(stderr, &e);
    }
    match args.model.as_str() {
        "consensus" => {}
        "replication" => return replication::run(args, stdout, stderr),
        "retry-storm" => return retry_storm::run(args, stdout),
        "leaderless" => return leaderless::run(args, stdout, stderr),
        "causal" => return causal::run(args, stdout, stderr),
        "txn" => return txn::run(args, stdout, stderr),
        other => return fail(
            stderr,
            &format!(
                "--model must be consensus, replication, leaderless, causal, retry-storm or txn, got {other:?}"
            ),
        ),
    }
    let config = match config(args) {
        Ok(c) => c,
        Err(e) => return fail(stderr, &e),
    };
    let start = Instant::now();
    if let Err(e) = write_first_run(args, &config) {
        return fail(stderr, &e);
    }
    let seeds = match check_seeds(config.seed, args.seeds) {
        Ok(seeds) => seeds,
        Err(e) => return fail(stderr, &e),
    };
    let shard = match args.shard.as_deref().map(summary::parse_shard).transpose() {
        Ok(shard) => shard,
        Err(e) => return fail(stderr, &e),
    };
    let (first_seed, shard_seeds) = match shard {
        Some((index, shards)) => distsys_sim::shard_range(config.seed, seeds, index, shards),
        None => (config.seed, seeds),
    };
    let bar = indicatif::ProgressBar::new(shard_seeds);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} seeds, {elapsed} elapsed, ~{eta} left",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    if shard_seeds < 2 {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let summary = run_campaign(&config, first_seed, shard_seeds, &|done, _| {
        bar.set_position(done)
    });
    bar.finish_and_clear();
    let elapsed = start.elapsed();
    if let Some(path) = &args.metrics {
        if let Err(e) = std::fs::write(path, distsys_sim::metrics::render(&summary)) {
            return fail(stderr, &format!("cannot write metrics {path}: {e}"));
        }
    }
    let header = summary::Header::of(&config, seeds);
    if let Some(path) = &args.report_json {
        let file = summary::ReportFile {
            format: summary::REPORT_FORMAT.to_string(),
            header: header.clone(),
            covers: (first_seed, shard_seeds),
            report: summary.clone(),
        };
        if let Err(e) = write_report(path, &file) {
            return fail(stderr, &e);
        }
    }
    if let Some((index, shards)) = shard {
        let _ = writeln!(
            stdout,
            "shard {index}/{shards}: seeds {first_seed}..{} of {}..{}",
            first_seed + shard_seeds,
            config.seed,
            config.seed + seeds
        );
    }
    summary::print(&header, &summary, Some(elapsed), stdout)
}
