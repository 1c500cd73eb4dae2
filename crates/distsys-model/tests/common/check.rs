//! Search helpers shared by the protocol tests: one search, and the "mutant caught" check every
//! protocol's tests make (property, shortest path, replay file, correct core clean).

use distsys_model::cluster::{Action, Bounds, ClusterModel, Symmetry};
use distsys_model::explore::{check, Limits, Outcome, Verdict};
use distsys_model::protocol::Protocol;
use distsys_model::replay::{replay, replay_file, Core, ReplayFile, ReplayOutcome};
use std::time::Duration;

/// Bounds with no crash, proposal or duplicate.
pub fn bounds(nodes: usize, max_term: u64, max_log: u64, max_in_flight: usize) -> Bounds {
    Bounds {
        nodes,
        max_term,
        max_log,
        max_crashes: 0,
        max_in_flight,
        max_proposals: 0,
        max_duplicates: 0,
        max_reads: 0,
        pre_vote: false,
        byzantine: 0,
        byzantine_first: 1,
        byzantine_behaviours: vec!["equivocate".into()],
    }
}

/// One search of protocol `P`'s model.
pub fn search<P: Protocol>(
    bounds: &Bounds,
    mutant: Option<P::Mutant>,
    symmetry: Symmetry,
    threads: usize,
    max_depth: Option<usize>,
) -> Outcome<Action> {
    let model = ClusterModel::<P>::new(bounds.clone(), mutant, symmetry).expect("valid bounds");
    let limits = Limits {
        threads,
        progress_every: Duration::from_secs(3600),
        max_depth,
        // PBFT's states are large (about 10 KB each queued, at 9+ messages in flight).
        memory_budget_bytes: 6 << 30,
    };
    check(&model, &limits, &mut |_| {})
}

/// Asserts `outcome` found no violation and `depth_limited` says whether it stopped at its
/// depth limit; `what` names the search in the failure message.
pub fn assert_clean(outcome: &Outcome<Action>, depth_limited: bool, what: &str) {
    assert!(
        matches!(outcome.verdict, Verdict::Ok),
        "{what}: {:?}",
        outcome.verdict
    );
    assert_eq!(
        outcome.depth_limited, depth_limited,
        "{what}: depth limited"
    );
}

/// The property and path of a violation.
pub fn violation(outcome: &Outcome<Action>) -> (&str, &[Action]) {
    match &outcome.verdict {
        Verdict::Violation { property, path } => (property.as_str(), path.as_slice()),
        other => panic!("expected a violation, got {other:?}"),
    }
}

/// Finds `mutant` within `bounds` and checks the find: the property broken is `property`; the
/// path replays to it at its last step on the mutant (directly and through a replay file
/// written and parsed back) and not on the correct core; the correct core at the same bounds
/// breaks nothing (exhaustively, or with `depth_only` up to the counterexample's length).
/// Returns (states, path length) of the find.
pub fn caught<P: Protocol>(
    mutant: P::Mutant,
    bounds: &Bounds,
    symmetry: Symmetry,
    property: &str,
    depth_only: bool,
) -> (usize, usize) {
    let found = search::<P>(bounds, Some(mutant), symmetry, 2, None);
    let (broken, path) = violation(&found);
    assert!(
        broken.starts_with(property),
        "{}: broke {broken}",
        P::mutant_name(mutant)
    );
    let buggy = ClusterModel::<P>::new(bounds.clone(), Some(mutant), symmetry).expect("model");
    let replayed = replay(&buggy, path, &mut |_, _, _| {});
    assert!(
        matches!(&replayed, ReplayOutcome::Violation { step, .. } if *step == path.len()),
        "{replayed:?}"
    );
    let file = ReplayFile::parse(&ReplayFile::of(&buggy, broken, path).to_json())
        .expect("a written replay file parses");
    assert_eq!(file.property_name(), property);
    let again = replay_file(&file, Core::AsFound, &mut |_, _, _| {}).expect("replays");
    assert_eq!(again, replayed, "the replay file reproduces the violation");
    let correct = replay_file(&file, Core::Correct, &mut |_, _, _| {}).expect("replays");
    assert!(
        !matches!(correct, ReplayOutcome::Violation { .. }),
        "{correct:?}"
    );
    let max_depth = depth_only.then_some(path.len());
    let clean = search::<P>(bounds, None, symmetry, 2, max_depth);
    assert_clean(&clean, depth_only, "");
    eprintln!(
        "{} {}: {broken} after {} steps, {} states in {:?} (correct core: {} states in {:?})",
        P::NAME,
        P::mutant_name(mutant),
        path.len(),
        found.distinct_states,
        found.elapsed,
        clean.distinct_states,
        clean.elapsed
    );
    (found.distinct_states, path.len())
}
