//! `distsys model-check`: exhaustive bounded model checking of a protocol core. The search,
//! the model and the replay format are `distsys_model`'s; this parses the flags, prints the
//! figures and the counterexample as numbered steps, and writes or replays replay files.

use crate::cli::ModelCheckArgs;
use crate::commands::fail;
use crate::{EXIT_CHECK_FAILED, EXIT_OK, EXIT_UNKNOWN};
use distsys_model::cluster::{Action, Bounds, ClusterModel, Symmetry};
use distsys_model::explore::{check, Limits, Model, Outcome, Verdict};
use distsys_model::paxos::PaxosProtocol;
use distsys_model::pbft::PbftProtocol;
use distsys_model::protocol::Protocol;
use distsys_model::raft::RaftProtocol;
use distsys_model::replay::{replay_file, Core, ReplayFile, ReplayOutcome, PROTOCOLS};
use std::io::Write;

/// Runs the command; exit 0 when no violation is reachable within the bounds, 1 on a
/// violation (or a replay that reproduces one), 2 on bad input, 3 when the budget ran out.
pub fn run(args: &ModelCheckArgs, stdout: &mut dyn Write, stderr: &mut dyn Write) -> i32 {
    if let Some(path) = &args.replay {
        return run_replay(path, args.mutant.as_deref(), stdout, stderr);
    }
    match args.protocol.to_ascii_lowercase().as_str() {
        RaftProtocol::NAME => search::<RaftProtocol>(args, stdout, stderr),
        PaxosProtocol::NAME | "multi-paxos" | "paxos" => {
            search::<PaxosProtocol>(args, stdout, stderr)
        }
        PbftProtocol::NAME => search::<PbftProtocol>(args, stdout, stderr),
        other => fail(
            stderr,
            &format!("--protocol {other} is unknown ({})", PROTOCOLS.join(", ")),
        ),
    }
}

/// Searches the model of protocol `P` the flags describe.
fn search<P: Protocol>(
    args: &ModelCheckArgs,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
    let model = match build_model::<P>(args) {
        Ok(m) => m,
        Err(e) => return fail(stderr, &e),
    };
    let _ = writeln!(stdout, "{}", header(&model));
    let b = &model.bounds;
    if b.byzantine > 0 && b.max_in_flight < 2 * b.nodes {
        let _ = writeln!(
            stderr,
            "note: {} messages in flight hold little more than one broadcast: a byzantine replica's story needs the honest replies to it in flight too (the PBFT bugs were found at 9 to 22: docs/model-checking.md)",
            b.max_in_flight
        );
    }
    let limits = Limits {
        threads: args.threads,
        memory_budget_bytes: args.memory_budget.saturating_mul(1 << 20),
        max_depth: args.max_depth,
        ..Limits::default()
    };
    let outcome = check(&model, &limits, &mut |p| {
        let _ = writeln!(
            stderr,
            "progress: {} states, {:.0} states/s, depth {}, queue {}",
            p.states, p.states_per_s, p.depth, p.queue
        );
    });
    print_figures(&outcome, stdout);
    match &outcome.verdict {
        Verdict::Ok if outcome.depth_limited => {
            let _ = writeln!(
                stdout,
                "violations: 0 (paths up to {} steps only: --max-depth)",
                outcome.depth
            );
            EXIT_OK
        }
        Verdict::Ok => {
            let _ = writeln!(stdout, "violations: 0");
            EXIT_OK
        }
        Verdict::BudgetExhausted => {
            let _ = writeln!(
                stdout,
                "verdict: unknown (memory budget of {} MiB exhausted)",
                args.memory_budget
            );
            EXIT_UNKNOWN
        }
        Verdict::Violation { property, path } => {
            report_violation(&model, args, property, path, stdout, stderr)
        }
    }
}

/// Prints the violation and its path, and writes the replay file if asked; exit 1 (2 when the
/// file cannot be written).
fn report_violation<P: Protocol>(
    model: &ClusterModel<P>,
    args: &ModelCheckArgs,
    property: &str,
    path: &[Action],
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
    let _ = writeln!(stdout, "violations: 1");
    let _ = writeln!(stdout, "violation: {property}");
    print_path(model, path, stdout);
    if model.bounds.max_reads > 0 {
        print_client_verdict(model, path, stdout);
    }
    if let Some(out) = &args.write_replay {
        let file = ReplayFile::of(model, property, path);
        if let Err(e) = std::fs::write(out, file.to_json() + "\n") {
            return fail(stderr, &format!("cannot write {out}: {e}"));
        }
        let _ = writeln!(stdout, "replay written to {out}");
    }
    EXIT_CHECK_FAILED
}

/// The model the flags describe, or what is wrong with them. Protocols whose node ids are not
/// interchangeable run without symmetry reduction.
fn build_model<P: Protocol>(args: &ModelCheckArgs) -> Result<ClusterModel<P>, String> {
    if !(1..=64).contains(&args.threads) || args.memory_budget == 0 {
        return Err("--threads must be 1..=64 and --memory-budget at least 1".into());
    }
    let mutant = args
        .mutant
        .as_deref()
        .map(P::mutant_by_name)
        .transpose()
        .map_err(|e| format!("--mutant: {e}"))?;
    let bounds = Bounds {
        nodes: args.nodes,
        max_term: args.max_term,
        max_log: args.max_log,
        max_crashes: args.max_crashes,
        max_in_flight: args
            .max_in_flight
            .unwrap_or(args.nodes.saturating_sub(1).max(1)),
        max_proposals: args.max_proposals,
        max_duplicates: args.max_duplicates,
        pre_vote: args.pre_vote,
        byzantine: args.byzantine,
        byzantine_first: args.byzantine_first,
        byzantine_behaviours: args
            .byzantine_behaviour
            .split(',')
            .map(|name| name.trim().to_string())
            .collect(),
        max_reads: args.max_reads,
    };
    let symmetry = if args.no_symmetry || !P::SYMMETRIC {
        Symmetry::Off
    } else {
        Symmetry::Sorted
    };
    ClusterModel::new(bounds, mutant, symmetry)
}

fn header<P: Protocol>(model: &ClusterModel<P>) -> String {
    let b = &model.bounds;
    format!(
        "model-check {}: {} nodes{}, max term {}, max log {}, crashes {}, in flight {}, proposals {}, duplicates {}, pre-vote {}, symmetry {}, mutant {}",
        P::NAME,
        b.nodes,
        match b.byzantine {
            0 => String::new(),
            n => format!(
                " ({n} byzantine from node {}: {})",
                b.byzantine_first,
                b.byzantine_behaviours.join(",")
            ),
        },
        b.max_term,
        b.max_log,
        b.max_crashes,
        b.max_in_flight,
        b.max_proposals,
        b.max_duplicates,
        on_off(b.pre_vote),
        match model.symmetry {
            Symmetry::Off => "off",
            Symmetry::Sorted => "on",
            Symmetry::Exhaustive => "exhaustive",
        },
        model.mutant.map_or("none", P::mutant_name)
    )
}

fn on_off(flag: bool) -> &'static str {
    if flag {
        "on"
    } else {
        "off"
    }
}

fn print_figures(outcome: &Outcome<Action>, stdout: &mut dyn Write) {
    let secs = outcome.elapsed.as_secs_f64();
    let _ = writeln!(stdout, "distinct states: {}", outcome.distinct_states);
    let _ = writeln!(stdout, "transitions: {}", outcome.transitions);
    let _ = writeln!(stdout, "depth: {}", outcome.depth);
    let _ = writeln!(stdout, "states with a leader change: {}", outcome.sometimes);
    let _ = writeln!(
        stdout,
        "time: {secs:.3} s ({:.0} states/s)",
        outcome.distinct_states as f64 / secs.max(1e-9)
    );
}

/// Prints the path as numbered steps, each with the cluster's state after it.
fn print_path<P: Protocol>(model: &ClusterModel<P>, path: &[Action], stdout: &mut dyn Write) {
    let _ = writeln!(stdout, "counterexample ({} steps):", path.len());
    let mut state = model.init();
    for (k, action) in path.iter().enumerate() {
        let _ = writeln!(stdout, "{:>3}. {}", k + 1, model.describe(&state, action));
        if let distsys_model::explore::Next::State(next, _) = model.next(&state, action) {
            let _ = writeln!(stdout, "     -> {}", model.summary(&next));
            state = next;
        }
    }
}

/// The general linearizability checker's verdict on the path's client operations (the
/// per-state check the search makes is a reduction of it: docs/model-checking.md).
fn print_client_verdict<P: Protocol>(
    model: &ClusterModel<P>,
    path: &[Action],
    stdout: &mut dyn Write,
) {
    let verdict = distsys_model::replay::client_history(model, path).map(|log| {
        let verdict = match log.check() {
            Ok(()) => "linearizable".to_string(),
            Err(why) => why.trim_end().replace('\n', "\n  "),
        };
        (log.operations(), verdict)
    });
    let _ = match verdict {
        Ok((operations, verdict)) => writeln!(
            stdout,
            "client history along the path ({operations} operations), by the general linearizability checker: {verdict}"
        ),
        Err(e) => writeln!(stdout, "client history along the path: not replayable ({e})"),
    };
}

/// Replays a file; `mutant` overrides the file's seeded bug (`none`: the correct core).
fn run_replay(
    path: &str,
    mutant: Option<&str>,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return fail(stderr, &format!("cannot read {path}: {e}")),
    };
    let file = match ReplayFile::parse(&text) {
        Ok(f) => f,
        Err(e) => return fail(stderr, &format!("{path}: {e}")),
    };
    let core = match mutant {
        Some("none") => Core::Correct,
        Some(name) => Core::Mutant(name),
        None => Core::AsFound,
    };
    let _ = writeln!(stdout, "replay {path}: {} steps", file.steps.len());
    let outcome = replay_file(&file, core, &mut |k, what, after| {
        let _ = writeln!(stdout, "{k:>3}. {what}\n     -> {after}");
    });
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => return fail(stderr, &format!("{path}: {e}")),
    };
    match outcome {
        ReplayOutcome::Violation { step, property } => {
            let _ = writeln!(stdout, "violation at step {step}: {property}");
            EXIT_CHECK_FAILED
        }
        ReplayOutcome::Diverged { step } => {
            let _ = writeln!(stdout, "diverged: step {step} is not possible on this core");
            EXIT_OK
        }
        ReplayOutcome::NoViolation => {
            let _ = writeln!(stdout, "no violation");
            EXIT_OK
        }
    }
}
