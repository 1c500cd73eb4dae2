//! `distsys chaos`: the Jepsen-style test of real node processes
//! (`distsys_harness::chaos`), its steps printed as they happen, then the tally and the
//! verdict.

use super::fail;
use crate::cli::ChaosArgs;
use crate::{EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_OK, EXIT_UNKNOWN};
use distsys_check::Verdict;
use distsys_harness::chaos::{
    self, ChaosConfig, ChaosError, ChaosOutcome, ChaosReport, ELECTION_MAX_MS, KEYS,
};
use distsys_harness::cluster::NodeProgram;
use distsys_sim::FaultSet;
use std::io::Write;

fn parse_seconds(text: &str) -> Option<u64> {
    let t = text.trim();
    t.strip_suffix('s')
        .unwrap_or(t)
        .parse()
        .ok()
        .filter(|s| *s > 0)
}

/// `distsys chaos`.
pub fn run(args: &ChaosArgs, stdout: &mut dyn Write, stderr: &mut dyn Write) -> i32 {
    let Some(seconds) = parse_seconds(&args.duration) else {
        return fail(
            stderr,
            &format!(
                "--duration must be a positive number of seconds, got {:?}",
                args.duration
            ),
        );
    };
    let faults = match args.faults.as_str() {
        // `all` here means every class real processes get.
        "all" => FaultSet(chaos::SUPPORTED_FAULTS.into_iter().collect()),
        list => match list.parse::<FaultSet>() {
            Ok(set) => set,
            Err(e) => return fail(stderr, &format!("--faults: {e}")),
        },
    };
    let episodes = match chaos::faults::Episode::parse_list(&args.episodes) {
        Ok(episodes) => episodes,
        Err(e) => return fail(stderr, &format!("--episodes: {e}")),
    };
    let program = match NodeProgram::current() {
        Ok(p) => p,
        Err(e) => return fail(stderr, &format!("cannot start a node: {e}")),
    };
    let config = ChaosConfig {
        program,
        nodes: args.nodes,
        clients: args.clients,
        seconds,
        seed: args.seed,
        base_port: args.base_port,
        unsafe_stale_reads: args.unsafe_stale_reads,
        protocol: args.protocol,
        mutant: args.mutant.clone(),
        keep: args.keep,
        faults,
        episodes,
        byzantine: args.byzantine,
        byzantine_behaviour: args.byzantine_behaviour.clone(),
    };
    let mut say = |at: std::time::Duration, step: &chaos::Step| {
        let _ = writeln!(stdout, "t={:>6.2}s {step}", at.as_secs_f64());
    };
    let finished = match chaos::run(&config, &mut say) {
        Ok(finished) => finished,
        Err(ChaosError::Size) => {
            return fail(stderr, &"--nodes must be 3..=9 and --clients 1..=64")
        }
        Err(e) => return fail(stderr, &e),
    };
    let code = match &finished.outcome {
        ChaosOutcome::NotUp => EXIT_BAD_INPUT,
        ChaosOutcome::Checked(report) => print_report(report, args.history.as_deref(), stdout),
    };
    if let Some(dir) = &finished.kept_dir {
        let _ = writeln!(stdout, "cluster directory kept: {}", dir.display());
    }
    code
}

/// Writes the history if asked, prints the tally and the verdict; returns the exit code.
fn print_report(report: &ChaosReport, history: Option<&str>, stdout: &mut dyn Write) -> i32 {
    if let Some(path) = history {
        let _ = std::fs::write(path, distsys_check::generate::to_jsonl(&report.history));
    }
    let worst = report
        .failovers
        .iter()
        .max()
        .map_or("-".to_string(), |d| format!("{} ms", d.as_millis()));
    let _ = writeln!(
        stdout,
        "\noperations: {} ok, {} failed, {} unknown; final reads {}/{KEYS}\nleader failovers after kill -9: {} (worst {worst}; 2 election timeouts = {} ms)",
        report.ok,
        report.failed,
        report.unknown,
        report.final_reads,
        report.failovers.len(),
        2 * ELECTION_MAX_MS
    );
    let verdict = match &report.verdict {
        Ok(verdict) => verdict,
        Err(failure) => {
            let _ = writeln!(stdout, "{failure}");
            return EXIT_CHECK_FAILED;
        }
    };
    if !report.divergence.is_empty() {
        let _ = writeln!(
            stdout,
            "replicas diverged (agreement violation): {} finding(s) in the nodes' logs",
            report.divergence.len()
        );
        for finding in &report.divergence {
            let _ = writeln!(stdout, "  {finding}");
        }
    }
    let agreed = report.divergence.is_empty();
    match verdict {
        Verdict::Linearizable if !agreed => {
            let _ = writeln!(
                stdout,
                "verdict: linearizable history, but replicas diverged (agreement violation)"
            );
            EXIT_CHECK_FAILED
        }
        Verdict::Linearizable if report.lively() => {
            let _ = writeln!(
                stdout,
                "verdict: linearizable, no acknowledged write lost (0 violations)"
            );
            EXIT_OK
        }
        Verdict::Linearizable => {
            let _ = writeln!(
                stdout,
                "verdict: linearizable, but the cluster did not recover (liveness violation)"
            );
            EXIT_CHECK_FAILED
        }
        Verdict::Violation(v) => {
            let _ = writeln!(
                stdout,
                "verdict: NOT linearizable\n{}",
                distsys_check::report::violation_text(v)
            );
            EXIT_CHECK_FAILED
        }
        Verdict::Unknown(reason) => {
            let _ = writeln!(stdout, "verdict: unknown ({reason:?})");
            EXIT_UNKNOWN
        }
    }
}
