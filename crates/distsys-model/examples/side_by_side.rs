//! Bench: distsys-model's checker and stateright's on the same Raft model and bounds; prints
//! distinct states, depth, time and states/s for both.
//! `cargo run --example side_by_side -p distsys-model -- NODES MAX_TERM MAX_LOG MAX_IN_FLIGHT [off|on] [PROPOSALS] [both|ours|stateright]`
//! (the last argument runs one checker alone, for a profile of it).

#[path = "../tests/common/stateright_adapter.rs"]
mod adapter;

use distsys_model::cluster::{Bounds, Symmetry};
use distsys_model::explore::{check, Limits, Verdict};
use distsys_model::raft::RaftModel;
use stateright::{Checker, Model};
use std::time::Instant;

/// The distsys binary's allocator (both checkers share it, as they share the process).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn arg(args: &[String], i: usize, default: u64) -> u64 {
    args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bounds = Bounds {
        nodes: arg(&args, 1, 3) as usize,
        max_term: arg(&args, 2, 2),
        max_log: arg(&args, 3, 2),
        max_crashes: 0,
        max_in_flight: arg(&args, 4, 2) as usize,
        max_proposals: arg(&args, 6, 0) as u32,
        max_duplicates: 0,
        max_reads: 0,
        pre_vote: false,
        byzantine: 0,
        byzantine_first: 1,
        byzantine_behaviours: vec!["equivocate".into()],
    };
    let symmetry = if args.get(5).is_some_and(|a| a == "off") {
        Symmetry::Off
    } else {
        Symmetry::Sorted
    };
    let model = match RaftModel::new(bounds.clone(), None, symmetry) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    println!("{bounds:?}, symmetry {symmetry:?}");
    // The machine's memory, not the command's 2 GiB default: a search cut by the budget would
    // count fewer states than stateright's, which has none.
    let limits = Limits {
        memory_budget_bytes: 20 << 30,
        ..Limits::default()
    };
    let which = args.get(7).map_or("both", String::as_str);
    if which != "stateright" {
        run_ours(&model, &limits);
    }
    if which != "ours" {
        run_stateright(model);
    }
}

fn run_ours(model: &RaftModel, limits: &Limits) {
    let ours = check(model, limits, &mut |_| {});
    let secs = ours.elapsed.as_secs_f64();
    let verdict = match ours.verdict {
        Verdict::Ok => "complete, 0 violations",
        Verdict::Violation { .. } => "violation",
        Verdict::BudgetExhausted => "INCOMPLETE: memory budget exhausted",
    };
    println!(
        "distsys-model: {} states, {} transitions, depth {}, {secs:.2} s, {:.0} states/s ({verdict})",
        ours.distinct_states,
        ours.transitions,
        ours.depth,
        ours.distinct_states as f64 / secs
    );
}

fn run_stateright(model: RaftModel) {
    let start = Instant::now();
    let theirs = adapter::Stateright(model)
        .checker()
        .threads(2)
        .spawn_bfs()
        .join();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "stateright:    {} states, depth {}, {secs:.2} s, {:.0} states/s",
        theirs.unique_state_count(),
        theirs.max_depth(),
        theirs.unique_state_count() as f64 / secs
    );
}
