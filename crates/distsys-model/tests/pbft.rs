//! The PBFT model on the real core: authenticated messages, byzantine replicas through the
//! simulator's adversary, state machine safety (agreement) over the honest replicas.
//!
//! What exhaustive search reaches for PBFT is small: its all-to-all phases make the
//! interleavings of one request's 3(n-1) + (n-1)^2 + n(n-1) messages explode (4 nodes, one
//! request: 58,664 states at 4 messages in flight, past 2.5 M at 5, where a commit first needs
//! about 7). So these tests check the correct core exhaustively at small bounds; the
//! `fixed-quorum` bug at 5 replicas with an equivocating primary is found by search as
//! `prepared_agreement` (7 steps with room for 22 messages in flight), and shown on a directed
//! path (every message delivered in the order sent). Both paths are kept as replay files in
//! testdata/model-check/. The bugs only a byzantine peer shows: `skip-digest-check` and
//! `accept-unauthenticated` found by search with the adversary behaviour that shows each;
//! `view-change-without-prepared` and `new-view-without-proofs` on directed paths (over 100
//! steps).

mod common;

use common::check::{assert_clean, bounds, caught, search};
use distsys_consensus::pbft::PbftMutant;
use distsys_consensus::pbft::{Body, Envelope};
use distsys_model::cluster::{Action, Bounds, ClusterModel, Symmetry};
use distsys_model::explore::{Model, Next, Verdict};
use distsys_model::pbft::{PbftModel, PbftProtocol, PbftState};
use distsys_model::replay::{replay_file, Core, ReplayFile, ReplayOutcome};

/// `nodes` replicas, views up to `max_view`, one request, `byzantine` byzantine replicas.
fn pbft_bounds(nodes: usize, max_view: u64, in_flight: usize, byzantine: usize) -> Bounds {
    let mut b = bounds(nodes, max_view, 1, in_flight);
    b.max_proposals = 1;
    b.byzantine = byzantine;
    b
}

#[test]
fn the_correct_core_breaks_nothing_at_small_bounds_with_or_without_an_equivocating_primary() {
    for byzantine in [0, 1] {
        let b = pbft_bounds(4, 0, 4, byzantine);
        let outcome = search::<PbftProtocol>(&b, None, Symmetry::Off, 2, None);
        assert_clean(&outcome, false, &format!("byzantine {byzantine}"));
        assert!(
            outcome.distinct_states > 10_000,
            "{}",
            outcome.distinct_states
        );
    }
}

#[test]
fn symmetry_is_refused_and_byzantine_replicas_are_pbft_only() {
    let b = pbft_bounds(4, 0, 4, 0);
    let err = ClusterModel::<PbftProtocol>::new(b.clone(), None, Symmetry::Sorted).unwrap_err();
    assert!(err.contains("symmetry"), "{err}");
    let mut raft = bounds(3, 1, 1, 2);
    raft.byzantine = 1;
    let err = ClusterModel::<distsys_model::raft::RaftProtocol>::new(raft, None, Symmetry::Off)
        .unwrap_err();
    assert!(err.contains("--byzantine"), "{err}");
    let mut small = b;
    small.nodes = 3;
    let err = ClusterModel::<PbftProtocol>::new(small, None, Symmetry::Off).unwrap_err();
    assert!(err.contains("at least 4"), "{err}");
}

/// The client proposal at node 1 (view 0's primary), then the first message in flight
/// delivered, again and again, until the network is empty or a step breaks a property.
/// Returns the path and the property broken, if any, and how many honest replicas executed.
fn deliver_in_order(model: &PbftModel) -> (Vec<Action>, Option<String>, usize) {
    let played = play(
        model,
        &[
            Step::Do(Action::Propose { node: 1 }),
            Step::DeliverAll(none),
        ],
    );
    if played.broken.is_some() {
        return (played.path, played.broken, 0);
    }
    let executed = played
        .state
        .nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| !model.bounds.is_byzantine(*i as u64 + 1))
        .filter(|(_, c)| c.as_ref().is_some_and(|c| c.executed() == 1))
        .count();
    (played.path, None, executed)
}

#[test]
fn every_honest_replica_executes_a_request_when_every_message_is_delivered() {
    for (nodes, byzantine) in [(4, 0), (4, 1), (5, 0), (7, 2)] {
        let model = PbftModel::new(pbft_bounds(nodes, 0, 1000, byzantine), None, Symmetry::Off)
            .expect("model");
        let (path, broken, executed) = deliver_in_order(&model);
        assert_eq!(broken, None, "{nodes} nodes, {byzantine} byzantine");
        if byzantine == 0 {
            assert_eq!(executed, nodes, "{nodes} nodes: {} steps", path.len());
        }
    }
}

#[test]
fn quorums_of_2f_plus_1_at_five_replicas_let_an_equivocating_primary_break_prepared_agreement() {
    let b = pbft_bounds(5, 0, 1000, 1);
    let buggy =
        PbftModel::new(b.clone(), Some(PbftMutant::FixedQuorum), Symmetry::Off).expect("model");
    let (path, broken, _) = deliver_in_order(&buggy);
    let property = broken.expect("the equivocation prepares two requests at sequence 1");
    assert!(property.starts_with("prepared_agreement"), "{property}");
    eprintln!(
        "pbft fixed-quorum at 5 replicas: {property} at step {}",
        path.len()
    );
    // The correct core on the same schedule: no quorum of 4 forms for either request.
    let correct = PbftModel::new(b.clone(), None, Symmetry::Off).expect("model");
    let (_, clean, _) = deliver_in_order(&correct);
    assert_eq!(clean, None);
    // At 4 replicas (3f+1) 2f+1 is the right quorum: the same schedule is clean with the bug.
    let four = PbftModel::new(
        pbft_bounds(4, 0, 1000, 1),
        Some(PbftMutant::FixedQuorum),
        Symmetry::Off,
    )
    .expect("model");
    assert_eq!(deliver_in_order(&four).1, None);
    // The stored counterexample is this path.
    let stored_at = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/model-check/pbft-fixed-quorum-n5.json"
    );
    let json = ReplayFile::of(&buggy, &property, &path).to_json();
    if std::env::var_os("DISTSYS_WRITE_PBFT_REPLAY").is_some() {
        std::fs::write(stored_at, json.clone() + "\n").expect("testdata is writable");
    }
    let stored = std::fs::read_to_string(stored_at).expect("the replay file is in testdata");
    let file = ReplayFile::parse(&stored).expect("parses");
    let written = ReplayFile::parse(&json).expect("parses");
    assert_eq!(
        file, written,
        "regenerate with: DISTSYS_WRITE_PBFT_REPLAY=1"
    );
    assert!(matches!(
        replay_file(&file, Core::AsFound, &mut |_, _, _| {}),
        Ok(ReplayOutcome::Violation { .. })
    ));
}

/// Breadth-first search finds the quorum bug at 5 replicas with an equivocating primary, as
/// `prepared_agreement` (two honest replicas prepared for different requests at sequence 1 in
/// view 0): the primary's four pre-prepares and two prepares, 7 steps. 22 messages in flight
/// let every backup's four prepares wait while two are delivered; the correct core is clean on
/// every path of that length, and so is the bug at 4 replicas, where 2f+1 is a quorum.
#[test]
fn breadth_first_search_finds_the_fixed_quorum_bug_at_five_replicas() {
    let b = pbft_bounds(5, 0, 22, 1);
    let (states, steps) = caught::<PbftProtocol>(
        PbftMutant::FixedQuorum,
        &b,
        Symmetry::Off,
        "prepared_agreement",
        true,
    );
    assert_eq!(steps, 7);
    assert!(states < 100_000, "{states}");
    let four = search::<PbftProtocol>(
        &pbft_bounds(4, 0, 22, 1),
        Some(PbftMutant::FixedQuorum),
        Symmetry::Off,
        2,
        Some(9),
    );
    assert!(matches!(four.verdict, Verdict::Ok), "{:?}", four.verdict);
}

/// Which messages a delivering step loses: `(from, to, message)`.
type Lose = fn(u64, u64, &Envelope) -> bool;

/// One step of a directed path: an action, or every message in flight delivered (in the order
/// sent, with what they cause) except those `Lose` picks.
#[derive(Debug, Clone)]
enum Step {
    Do(Action),
    DeliverAll(Lose),
    /// As `DeliverAll`, stopping at the first leader change.
    DeliverUntilLeaderChange,
}

/// Loses nothing.
fn none(_: u64, _: u64, _: &Envelope) -> bool {
    false
}

/// What [`play`] ends with: the actions taken, the last state, the most messages in flight at
/// once, and the property the last step broke, if one did.
struct Played {
    path: Vec<Action>,
    state: PbftState,
    widest: usize,
    broken: Option<String>,
}

/// Plays `script` on `model` from its initial state, every step checked as the search checks
/// it, up to the first step that breaks a property.
fn play(model: &PbftModel, script: &[Step]) -> Played {
    let mut played = Played {
        path: Vec::new(),
        state: model.init(),
        widest: 0,
        broken: None,
    };
    let take = |played: &mut Played, action: Action| {
        let (next, broken) = match model.next(&played.state, &action) {
            Next::State(next, broken) => (next, broken),
            other => panic!(
                "step {} ({action:?}): {other:?} from {}",
                played.path.len() + 1,
                model.summary(&played.state)
            ),
        };
        played.state = next;
        played.path.push(action);
        played.widest = played.widest.max(played.state.network.len());
        played.broken = broken;
        played.broken.is_none()
    };
    for step in script {
        let lose: Lose = match step {
            Step::Do(action) => {
                if !take(&mut played, action.clone()) {
                    return played;
                }
                continue;
            }
            Step::DeliverAll(lose) => *lose,
            Step::DeliverUntilLeaderChange => none,
        };
        while let Some((from, to, message)) = played.state.network.first().cloned() {
            if matches!(step, Step::DeliverUntilLeaderChange) && model.sometimes(&played.state) {
                break;
            }
            let action = if lose(from, to, &message) {
                Action::Drop { index: 0, from, to }
            } else {
                Action::Deliver { index: 0, from, to }
            };
            if !take(&mut played, action) {
                return played;
            }
        }
    }
    played
}

/// The script to a view change: the primary's pre-prepares lost, its request timer (it relays
/// the request and asks for view 1), everything delivered (except what `lose` picks), every
/// backup's timer, everything delivered until the view changes.
fn to_a_view_change(nodes: u64, lose: Lose) -> Vec<Step> {
    let mut script = vec![
        Step::Do(Action::Propose { node: 1 }),
        Step::DeliverAll(lose),
        Step::Do(Action::Timer { node: 1 }),
        Step::DeliverAll(none),
    ];
    script.extend((2..=nodes).map(|node| Step::Do(Action::Timer { node })));
    script.push(Step::DeliverUntilLeaderChange);
    script
}

/// The sizes PBFT allows up to 5 (4 and 5 replicas, f = 1), at the smallest bounds that
/// include a view change with the request re-proposed in it (view 1, two sequence numbers,
/// one request): every path up to 6 steps is searched (a view change is 51 steps deep at 4
/// replicas and 99 at 5, past what a test searches exhaustively), and one path to a view
/// change is walked, checked at every step as the search checks it: the primary's
/// pre-prepares are lost, its request timer fires (it relays the request and asks for view
/// 1), every message is delivered, every backup's timer fires, every message is delivered
/// until node 2 leads view 1.
#[test]
fn four_and_five_replicas_are_checked_and_their_bounds_hold_a_view_change() {
    for nodes in [4u64, 5] {
        let script = to_a_view_change(nodes, |_, _, _| true);
        // The path's widest network is the in-flight bound.
        let mut b = pbft_bounds(nodes as usize, 1, 1000, 0);
        b.max_log = 2;
        let wide = PbftModel::new(b.clone(), None, Symmetry::Off).expect("model");
        b.max_in_flight = play(&wide, &script).widest;
        let model = PbftModel::new(b.clone(), None, Symmetry::Off).expect("model");
        let Played {
            path,
            state,
            widest,
            broken,
        } = play(&model, &script);
        assert_eq!(broken, None);
        assert!(model.sometimes(&state), "{}", model.summary(&state));
        let outcome = search::<PbftProtocol>(&b, None, Symmetry::Off, 2, Some(6));
        assert_clean(&outcome, true, &format!("{nodes} replicas"));
        eprintln!(
            "pbft {nodes} replicas: {} states up to depth 6 in {:?}; a view change at depth {} ({widest} in flight)",
            outcome.distinct_states,
            outcome.elapsed,
            path.len()
        );
    }
}

/// Plays `script` on the mutant and on the correct core at bounds `b`: the mutant breaks
/// `property` on the last step, the correct core breaks nothing and ends with the network
/// empty; the mutant's path is the replay file `testdata/model-check/{file}`. Returns the
/// path's length.
fn directed_find(
    b: &Bounds,
    mutant: PbftMutant,
    script: &[Step],
    property: &str,
    file: &str,
) -> usize {
    let buggy = PbftModel::new(b.clone(), Some(mutant), Symmetry::Off).expect("model");
    let played = play(&buggy, script);
    let broken = played.broken.expect("the mutant breaks a property");
    assert!(broken.starts_with(property), "{broken}");
    let correct = play(
        &PbftModel::new(b.clone(), None, Symmetry::Off).expect("model"),
        script,
    );
    assert_eq!(correct.broken, None);
    assert!(
        correct.state.network.is_empty(),
        "the correct core's run ends"
    );
    let stored_at = format!(
        "{}/../../testdata/model-check/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let json = ReplayFile::of(&buggy, &broken, &played.path).to_json();
    if std::env::var_os("DISTSYS_WRITE_PBFT_REPLAY").is_some() {
        std::fs::write(&stored_at, json.clone() + "\n").expect("testdata is writable");
    }
    let stored = std::fs::read_to_string(&stored_at).expect("the replay file is in testdata");
    assert_eq!(
        ReplayFile::parse(&stored).expect("parses"),
        ReplayFile::parse(&json).expect("parses"),
        "regenerate with: DISTSYS_WRITE_PBFT_REPLAY=1"
    );
    eprintln!(
        "pbft {}: {broken} at step {} (correct core: {} steps)",
        mutant.name(),
        played.path.len(),
        correct.path.len()
    );
    played.path.len()
}

/// `view-change-without-prepared` on a directed path at 4 replicas: the request commits at
/// node 2 alone (every other commit lost), the view changes, and the new primary, told of no
/// prepared request, fills sequence 1 with the null request, which the others execute where
/// node 2 executed the request (`state_machine_safety`). The correct core on the same script
/// keeps the request at sequence 1. Too deep for search (over 100 steps); kept as a replay
/// file, a regression test.
#[test]
fn a_view_change_that_leaves_out_prepared_requests_loses_a_committed_one() {
    let mut b = pbft_bounds(4, 1, 1000, 0);
    b.max_log = 2;
    let mut script = to_a_view_change(4, |_, to, m| {
        matches!(m.body, Body::Commit { .. }) && to != 2
    });
    script.push(Step::DeliverAll(none));
    directed_find(
        &b,
        PbftMutant::ViewChangeWithoutPrepared,
        &script,
        "state_machine_safety",
        "pbft-view-change-without-prepared.json",
    );
}

/// `new-view-without-proofs` on a directed path at 4 replicas with node 2, view 1's primary,
/// byzantine (`lie`): the request commits at node 3 alone in view 0, the view changes, and
/// node 2's new view says the null request at sequence 1; backups that take it on the
/// primary's word execute the null request where node 3 executed the request
/// (`state_machine_safety`, step 105). The correct core recomputes the decision from the view
/// changes, refuses the lie, moves to view 2 (node 3 leads) and every replica executes the
/// request at sequence 1 (views up to 2: the lie costs one more view change; logs up to 4:
/// the lying view change claims three made-up requests).
#[test]
fn a_new_view_taken_on_the_primarys_word_loses_a_committed_request() {
    let mut b = pbft_bounds(4, 2, 1000, 1);
    b.max_log = 4;
    b.byzantine_first = 2;
    b.byzantine_behaviours = vec!["lie".into()];
    let mut script = to_a_view_change(4, |_, to, m| {
        matches!(m.body, Body::Commit { .. }) && to != 3
    });
    script.push(Step::DeliverAll(none));
    directed_find(
        &b,
        PbftMutant::NewViewWithoutProofs,
        &script,
        "state_machine_safety",
        "pbft-new-view-without-proofs.json",
    );
}

/// `n` = 4 bounds with a byzantine primary doing `behaviours`, one request, view 0.
fn with_behaviours(in_flight: usize, behaviours: &[&str]) -> Bounds {
    let mut b = pbft_bounds(4, 0, in_flight, 1);
    b.byzantine_behaviours = behaviours.iter().map(|s| s.to_string()).collect();
    b
}

/// The bugs only a byzantine peer shows, found by breadth-first search at 4 replicas with a
/// byzantine primary (the adversary's behaviours without coin flips, `Adversary::story`):
/// - `skip-digest-check` with `wrong-digest`: the misled backup accepts a pre-prepare whose
///   request is not the one its digest names, prepares and commits the digest with the others,
///   and executes the other request (`state_machine_safety`, 11 steps);
/// - `accept-unauthenticated` with `equivocate,forge`: the misled backup takes the prepares
///   forged in the other backups' names for the null request and prepares it where another
///   prepared the real one (`prepared_agreement`, 7 steps).
///
/// The correct core is clean on every path as long at the same bounds, and each bug is clean
/// without the behaviour that shows it (the tests below check one each way).
#[test]
fn breadth_first_search_finds_the_bugs_a_byzantine_primary_shows() {
    let cases = [
        (
            PbftMutant::SkipDigestCheck,
            9,
            &["wrong-digest"][..],
            "state_machine_safety",
            11,
        ),
        (
            PbftMutant::AcceptUnauthenticated,
            16,
            &["equivocate", "forge"][..],
            "prepared_agreement",
            7,
        ),
    ];
    for (mutant, in_flight, behaviours, property, steps) in cases {
        let b = with_behaviours(in_flight, behaviours);
        let (_, found) = caught::<PbftProtocol>(mutant, &b, Symmetry::Off, property, true);
        assert_eq!(found, steps, "{}", mutant.name());
    }
}

/// Each of those bugs needs its behaviour: with an equivocating primary alone, neither breaks
/// anything on a path as long as the one that shows it.
#[test]
fn the_byzantine_only_bugs_are_clean_without_the_behaviour_that_shows_them() {
    for (mutant, in_flight, depth) in [
        (PbftMutant::SkipDigestCheck, 9, 11),
        (PbftMutant::AcceptUnauthenticated, 16, 7),
    ] {
        let b = with_behaviours(in_flight, &["equivocate"]);
        let outcome = search::<PbftProtocol>(&b, Some(mutant), Symmetry::Off, 2, Some(depth));
        assert_clean(&outcome, true, mutant.name());
    }
}

#[test]
fn the_model_refuses_behaviours_it_cannot_play_and_byzantine_nodes_outside_the_cluster() {
    let mut b = with_behaviours(4, &["replay"]);
    let err = PbftModel::new(b.clone(), None, Symmetry::Off).unwrap_err();
    assert!(
        err.contains("--byzantine-behaviour") && err.contains("replay"),
        "{err}"
    );
    b.byzantine_behaviours = vec!["bribe".into()];
    let err = PbftModel::new(b.clone(), None, Symmetry::Off).unwrap_err();
    assert!(err.contains("unknown behaviour \"bribe\""), "{err}");
    b.byzantine_behaviours = vec!["lie".into()];
    b.byzantine_first = 4;
    assert!(PbftModel::new(b.clone(), None, Symmetry::Off).is_ok());
    b.byzantine_first = 5;
    let err = PbftModel::new(b, None, Symmetry::Off).unwrap_err();
    assert!(err.contains("--byzantine-first"), "{err}");
}
