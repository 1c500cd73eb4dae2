//! A consensus campaign's summary: printed, written as a JSON report (`--report-json`), and
//! merged from the reports of shards (`distsys merge-reports`) into exactly what one unsharded
//! run prints.

use crate::{EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_OK};
use distsys_sim::{CampaignReport, SimConfig};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::time::Duration;

/// The format tag of a report file.
pub const REPORT_FORMAT: &str = "distsys-campaign/1";

/// What a campaign ran, as its summary states it (and as shards must agree on).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Protocol name.
    pub protocol: String,
    /// Cluster size.
    pub nodes: usize,
    /// Virtual duration of each run.
    pub duration_ms: u64,
    /// Faults, as `--faults` takes them.
    pub faults: String,
    /// Concurrent clients.
    pub clients: usize,
    /// The seeded bug, if any.
    pub mutant: Option<String>,
    /// Byzantine replicas per run, if the protocol tolerates them: (count, f, behaviours).
    pub byzantine: Option<(usize, usize, Vec<String>)>,
    /// Every flag but `--seed` that replays a run of this campaign.
    pub replay_flags: String,
    /// The campaign's first seed and number of seeds (all shards together).
    pub first_seed: u64,
    /// Seeds in the whole campaign.
    pub seeds: u64,
}

impl Header {
    /// The header of a campaign of `seeds` seeds from `config.seed`.
    pub fn of(config: &SimConfig, seeds: u64) -> Header {
        let byzantine = config.protocol.byzantine().then(|| {
            (
                config.byzantine,
                config.protocol.fault_model.max_faults(config.nodes),
                config
                    .byzantine_behaviours
                    .iter()
                    .map(|b| b.name().to_string())
                    .collect::<Vec<String>>(),
            )
        });
        let flags = distsys_harness::replay::replay_flags(config);
        Header {
            protocol: config.protocol.name().to_string(),
            nodes: config.nodes,
            duration_ms: config.duration_ms,
            faults: config.faults.describe(),
            clients: config.clients,
            mutant: config.mutant_name().map(str::to_string),
            byzantine,
            replay_flags: flags,
            first_seed: config.seed,
            seeds,
        }
    }
}

/// A report file: the header, which seeds this file covers, and their summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportFile {
    /// Always [`REPORT_FORMAT`].
    pub format: String,
    /// The campaign.
    pub header: Header,
    /// The seeds this report covers: first seed and count.
    pub covers: (u64, u64),
    /// Their summary.
    pub report: CampaignReport,
}

/// Prints the summary of a campaign (or of merged shards); `elapsed` is the wall time when
/// one process ran it. Returns the exit code: 1 when a run failed.
pub fn print(
    header: &Header,
    summary: &CampaignReport,
    elapsed: Option<Duration>,
    stdout: &mut dyn Write,
) -> i32 {
    let _ = writeln!(
        stdout,
        "simulate {}: {} node(s), {} run(s) of {} ms virtual, faults {}, {} client(s){}",
        header.protocol,
        header.nodes,
        summary.runs,
        header.duration_ms,
        header.faults,
        header.clients,
        header
            .mutant
            .as_ref()
            .map(|m| format!(", mutant {m}"))
            .unwrap_or_default()
    );
    if let Some((count, f, behaviours)) = &header.byzantine {
        let _ = writeln!(
            stdout,
            "byzantine:         {count} replica(s) per run (f = {f}), behaviours {}",
            behaviours.join(",")
        );
        let rejected: Vec<String> = summary
            .rejected
            .iter()
            .map(|(reason, count)| format!("{count} {reason}"))
            .collect();
        let _ = writeln!(
            stdout,
            "rejected messages: {}",
            if rejected.is_empty() {
                "none".to_string()
            } else {
                rejected.join(", ")
            }
        );
    }
    print_figures(header, summary, elapsed, stdout);
    print_first_failure(header, summary, stdout)
}

fn print_figures(
    header: &Header,
    summary: &CampaignReport,
    elapsed: Option<Duration>,
    stdout: &mut dyn Write,
) {
    let _ = writeln!(
        stdout,
        "violations:        {} run(s) ({})",
        summary.failures.len(),
        summary.failures_summary()
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
    let recovered = summary.recovery_phrase(header.byzantine.is_some());
    let _ = writeln!(
        stdout,
        "after faults heal: {recovered}, operations pending at the heal done within {:.0} ms (worst run)",
        summary.worst_clients_done_after_heal_us as f64 / 1000.0
    );
    match elapsed {
        Some(elapsed) => {
            let _ = writeln!(
                stdout,
                "events:            {} in {:.1} s wall ({:.0} events/s)",
                summary.events,
                elapsed.as_secs_f64(),
                summary.events as f64 / elapsed.as_secs_f64().max(1e-9)
            );
        }
        None => {
            let _ = writeln!(stdout, "events:            {}", summary.events);
        }
    }
}

fn print_first_failure(header: &Header, summary: &CampaignReport, stdout: &mut dyn Write) -> i32 {
    let Some(first) = summary.failures.first() else {
        return EXIT_OK;
    };
    let seeds_failed: Vec<String> = summary
        .failures
        .iter()
        .take(20)
        .map(|r| r.seed.to_string())
        .collect();
    if let Some(v) = &first.violation {
        let _ = writeln!(
            stdout,
            "\nVIOLATION in seed {}: {} ({}) at {:.3} ms virtual",
            first.seed,
            v.property,
            v.kind().name(),
            v.time_us as f64 / 1000.0
        );
        let _ = writeln!(stdout, "{}", v.detail.trim_end());
    }
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
    if !first.byzantine.is_empty() {
        let _ = writeln!(
            stdout,
            "byzantine replicas in that run: {:?}",
            first.byzantine
        );
    }
    let _ = writeln!(
        stdout,
        "replay: distsys simulate {} --seed {} --trace trace.jsonl",
        header.replay_flags, first.seed
    );
    EXIT_CHECK_FAILED
}

/// `--shard I/N`: shard I (0-based) of N.
pub fn parse_shard(text: &str) -> Result<(u64, u64), String> {
    let bad = || {
        format!(
            "--shard must be I/N with 0 <= I < N (0-based, as JOB_COMPLETION_INDEX), got {text:?}"
        )
    };
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let (i, n) = (
        i.trim().parse::<u64>().map_err(|_| bad())?,
        n.trim().parse::<u64>().map_err(|_| bad())?,
    );
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// `distsys merge-reports FILE...`: checks the files are shards of one campaign that cover its
/// seeds exactly once, merges them and prints the campaign's summary.
pub fn merge_reports(files: &[String], stdout: &mut dyn Write, stderr: &mut dyn Write) -> i32 {
    match merge_files(files) {
        Ok((header, summary)) => print(&header, &summary, None, stdout),
        Err(e) => {
            let _ = writeln!(stderr, "error: {e}");
            EXIT_BAD_INPUT
        }
    }
}

/// Reads and merges report files: the campaign's header and merged summary.
pub fn merge_files(files: &[String]) -> Result<(Header, CampaignReport), String> {
    if files.is_empty() {
        return Err("merge-reports needs at least one report file (simulate --report-json)".into());
    }
    let mut reports = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        let file: ReportFile = serde_json::from_str(&text)
            .map_err(|e| format!("{path}: not a campaign report ({REPORT_FORMAT}): {e}"))?;
        if file.format != REPORT_FORMAT {
            return Err(format!(
                "{path}: format {:?}, expected {REPORT_FORMAT:?}",
                file.format
            ));
        }
        reports.push((path, file));
    }
    let header = reports[0].1.header.clone();
    reports.sort_by_key(|(_, f)| f.covers.0);
    let mut next = header.first_seed;
    let mut merged = CampaignReport::default();
    for (path, file) in reports {
        if file.header != header {
            return Err(format!(
                "{path}: a shard of another campaign (its header differs from {})",
                files[0]
            ));
        }
        if file.covers.0 != next {
            return Err(format!(
                "{path}: covers seeds from {} but the next expected seed is {next} (a shard missing or given twice)",
                file.covers.0
            ));
        }
        next += file.covers.1;
        merged.merge(file.report);
    }
    if next != header.first_seed + header.seeds {
        return Err(format!(
            "the shards cover seeds {}..{next}, the campaign {}..{} (a shard is missing)",
            header.first_seed,
            header.first_seed,
            header.first_seed + header.seeds
        ));
    }
    Ok((header, merged))
}
