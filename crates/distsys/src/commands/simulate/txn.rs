//! `--model txn` of `distsys simulate`: transactions over Raft groups, 2PC and parallel
//! commits, every history checked (serializable) with the run's invariants.

use super::parse_duration_ms;
use crate::cli::SimulateArgs;
use crate::commands::fail;
use crate::{EXIT_CHECK_FAILED, EXIT_OK};
use distsys_check::txn::TxnVerdict;
use distsys_sim::stats::percentile;
use distsys_sim::txn::{run_campaign, CommitProtocol, RunResult, TxnMutant, TxnSimConfig, CLAIMED};
use std::io::Write;

/// Most groups a run takes (each adds a Raft replica per node).
const MAX_GROUPS: usize = 16;
/// Most nodes a run takes (`--nodes`; 3 when not given).
const MAX_NODES: usize = 9;

/// The run's setup from the flags, and the protocols to run.
fn setup(args: &SimulateArgs) -> Result<(TxnSimConfig, Vec<CommitProtocol>, u64), String> {
    if !(1..=MAX_GROUPS).contains(&args.groups) {
        return Err(format!(
            "--groups must be 1..={MAX_GROUPS}, got {}",
            args.groups
        ));
    }
    let faults = match args.faults.as_str() {
        "all" => true,
        "none" => false,
        other => {
            return Err(format!(
                "--model txn takes --faults all or none (crashes, partitions, loss, duplication \
                 and clock skew together), got {other:?}"
            ))
        }
    };
    let latency = args.latency_ms;
    if !(latency.fract() == 0.0 && (1.0..=500.0).contains(&latency)) {
        return Err(format!(
            "--latency-ms must be a whole number of ms in 1..=500 for --model txn, got {latency}"
        ));
    }
    let clients = super::checked_clients(args)?;
    let protocols = match args.commit.as_str() {
        "both" => vec![CommitProtocol::TwoPhase, CommitProtocol::Parallel],
        other => vec![other.parse::<CommitProtocol>()?],
    };
    let seeds = args.seeds.unwrap_or(1);
    if !(1..=super::MAX_SEEDS).contains(&seeds) {
        return Err(format!(
            "--seeds must be 1..={}, got {seeds}",
            super::MAX_SEEDS
        ));
    }
    let mut config = TxnSimConfig::new(args.seed, args.groups);
    config.faults = faults;
    config.latency_ms = latency as u64;
    config.clients = clients;
    config.mutant = args.mutant.as_deref().map(str::parse).transpose()?;
    if args.duration != super::default_args().duration {
        config.duration_ms = parse_duration_ms(&args.duration)?;
    }
    if args.nodes != super::default_args().nodes {
        if !(1..=MAX_NODES).contains(&args.nodes) {
            return Err(format!(
                "--nodes must be 1..={MAX_NODES} for --model txn (every node hosts a replica of \
                 every group), got {}",
                args.nodes
            ));
        }
        config.nodes = args.nodes;
    }
    if !faults && args.max_skew_ms != super::default_args().max_skew_ms {
        return Err(
            "--max-skew-ms: clocks are skewed only with --faults all (with --faults none they \
             agree), so it would change nothing"
                .into(),
        );
    }
    config.max_skew_ms = args.max_skew_ms;
    config.commit_wait_ms = args.commit_wait_ms;
    Ok((config, protocols, seeds))
}

/// `--model txn --list-mutants`.
pub(super) fn list_mutants(stdout: &mut dyn Write) {
    for mutant in TxnMutant::ALL {
        let _ = writeln!(stdout, "{:<28} {}", mutant.name(), mutant.description());
    }
}

/// `--model txn`.
pub(super) fn run(args: &SimulateArgs, stdout: &mut dyn Write, stderr: &mut dyn Write) -> i32 {
    let (config, protocols, seeds) = match setup(args) {
        Ok(s) => s,
        Err(e) => return fail(stderr, &e),
    };
    let _ = writeln!(
        stdout,
        "simulate txn: {} Raft groups, one replica of each on every one of {} nodes; {} keys, \
         {} clients, {} ms one-way latency, faults {}, {} seed(s) from {} (list-append on even \
         seeds, rw-register on odd); mutant {}; commit wait {} ms",
        config.groups,
        config.nodes,
        config.keys_per_group as usize * config.groups,
        config.clients,
        config.latency_ms,
        if config.faults {
            format!("all (clocks up to {} ms off)", config.max_skew_ms)
        } else {
            "none".to_string()
        },
        seeds,
        config.seed,
        config.mutant.map_or("none", TxnMutant::name),
        config.commit_wait_ms,
    );
    if let Some(path) = &args.history {
        if let Err(e) = write_history(path, &config, protocols[0]) {
            return fail(stderr, &e);
        }
    }
    let mut failed = false;
    for protocol in protocols {
        let mut c = config.clone();
        c.protocol = protocol;
        let results = run_campaign(&c, seeds);
        failed |= print_protocol(protocol, &results, stdout);
    }
    if failed {
        EXIT_CHECK_FAILED
    } else {
        EXIT_OK
    }
}

/// `--history`: the first seed's history under the first protocol, as JSON Lines for
/// `distsys check-txn` (the run is deterministic, so it is the run the summary counts).
fn write_history(
    path: &str,
    config: &TxnSimConfig,
    protocol: CommitProtocol,
) -> Result<(), String> {
    let mut c = config.clone();
    c.protocol = protocol;
    c.model = distsys_sim::txn::model_for_seed(c.seed);
    let outcome = distsys_sim::txn::driver::Run::new(&c).run();
    let text = distsys_check::txn::generate::to_jsonl(&outcome.history);
    std::fs::write(path, text).map_err(|e| format!("cannot write history {path}: {e}"))
}

/// Prints one protocol's figures; returns whether some run failed.
fn print_protocol(protocol: CommitProtocol, results: &[RunResult], out: &mut dyn Write) -> bool {
    let sum = |f: &dyn Fn(&RunResult) -> u64| results.iter().map(f).sum::<u64>();
    let attempts = sum(&|r| r.stats.attempts);
    let transactions = sum(&|r| r.stats.transactions);
    let aborts = sum(&|r| r.stats.aborts);
    let retries = sum(&|r| r.stats.retries);
    let distsys_sim::txn::CommitFigures {
        latencies_us: latencies,
        rounds,
        mean_rounds,
    } = distsys_sim::txn::CommitFigures::of(results);
    let ms = |us: u64| us as f64 / 1_000.0;
    let pct = |n: u64, d: u64| 100.0 * n as f64 / d.max(1) as f64;
    let _ = writeln!(out, "{}:", describe(protocol));
    let _ = writeln!(
        out,
        "  transactions:   {transactions} started, {attempts} attempts; aborted {aborts} ({:.1}% of \
         attempts), retried {retries} ({:.2} per transaction), gave up {}, indeterminate {}, \
         recoveries {}",
        pct(aborts, attempts),
        retries as f64 / transactions.max(1) as f64,
        sum(&|r| r.stats.gave_up),
        sum(&|r| r.stats.indeterminate),
        sum(&|r| r.stats.recoveries),
    );
    let _ = writeln!(
        out,
        "  commit latency: p50 {:.1} ms, p99 {:.1} ms virtual; p50 {}, p99 {}, mean {:.2} \
         consensus rounds ({} committed read-write transactions)",
        ms(percentile(&latencies, 0.5).unwrap_or_default()),
        ms(percentile(&latencies, 0.99).unwrap_or_default()),
        percentile(&rounds, 0.5).unwrap_or_default(),
        percentile(&rounds, 0.99).unwrap_or_default(),
        mean_rounds,
        latencies.len(),
    );
    let failures: Vec<&RunResult> = results.iter().filter(|r| r.failed()).collect();
    let mut classes: Vec<String> = results
        .iter()
        .flat_map(|r| r.anomalies.iter().cloned())
        .collect();
    classes.sort();
    classes.dedup();
    let violations: usize = results.iter().map(|r| r.violations.len()).sum();
    let strict = results
        .iter()
        .filter(|r| r.strict == TxnVerdict::Valid)
        .count();
    let claimed = results.first().map_or(CLAIMED, |r| r.claimed);
    let _ = writeln!(
        out,
        "  checked:        {} in {} of {} runs; anomalies: {}; invariant violations: {}",
        claimed.name(),
        results.len() - results.iter().filter(|r| !r.anomalies.is_empty()).count(),
        results.len(),
        if classes.is_empty() {
            "none".to_string()
        } else {
            classes.join(", ")
        },
        violations,
    );
    if claimed != distsys_check::txn::Consistency::StrictSerializable {
        let _ = writeln!(
            out,
            "  not claimed:    strict-serializable in {strict} of {} runs (HLC timestamps on \
             skewed clocks can order a later transaction first; a commit wait of twice the \
             clock skew rules it out)",
            results.len()
        );
    }
    print_orphans(results, out);
    if let Some(first) = failures.first() {
        let _ = writeln!(
            out,
            "  first failure:  seed {} ({}): {}",
            first.seed,
            first.model.name(),
            first
                .anomalies
                .iter()
                .chain(first.violations.iter())
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    !failures.is_empty()
}

/// The transactions a recoverer took over, and how long their intents held their keys.
fn print_orphans(results: &[RunResult], out: &mut dyn Write) {
    let ms = |us: u64| us as f64 / 1_000.0;
    let unrecovered: u64 = results.iter().map(|r| r.stats.unrecovered).sum();
    let recovery = distsys_sim::txn::recovery_times(results);
    if !recovery.is_empty() || unrecovered > 0 {
        let _ = writeln!(
            out,
            "  orphaned:       {} transactions taken over by a recoverer; their intents held \
             p50 {:.0} ms, max {:.0} ms before resolved; {} unresolved at the end",
            recovery.len(),
            ms(percentile(&recovery, 0.5).unwrap_or_default()),
            ms(recovery.last().copied().unwrap_or_default()),
            unrecovered,
        );
    }
}

fn describe(protocol: CommitProtocol) -> &'static str {
    match protocol {
        CommitProtocol::TwoPhase => "classic 2PC (prepare round, then decision round)",
        CommitProtocol::Parallel => "parallel commits (STAGING record and intents in one round)",
    }
}
