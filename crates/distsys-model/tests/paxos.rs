//! The Multi-Paxos model checker on the real core: every seeded bug is found, at the smallest
//! bounds that show it, with the property named and a replay file that reproduces it; the correct core breaks nothing at every size up to four nodes,
//! through a leader change.

mod common;

use common::check::{assert_clean, bounds, caught, search};
use distsys_consensus::paxos::PaxosMutant;
use distsys_model::cluster::{Action, Bounds, Symmetry};
use distsys_model::explore::{Model, Next, Verdict};
use distsys_model::paxos::{PaxosModel, PaxosProtocol};

/// `bounds` with `proposals` client proposals.
fn with_proposals(mut b: Bounds, proposals: u32) -> Bounds {
    b.max_proposals = proposals;
    b
}

fn caught_paxos(
    mutant: PaxosMutant,
    b: &Bounds,
    property: &str,
    depth_only: bool,
) -> (usize, usize) {
    caught::<PaxosProtocol>(mutant, b, Symmetry::Off, property, depth_only)
}

#[test]
fn a_leader_that_ignores_found_values_overwrites_a_chosen_one() {
    // Two nodes suffice: the new leader's own acceptor holds the chosen value it drops, and
    // accepting its no-op over it leaves the value the old leader knows chosen with one vote.
    let b = with_proposals(bounds(2, 2, 1, 2), 1);
    caught_paxos(
        PaxosMutant::IgnoreFoundValues,
        &b,
        "chosen_by_majority",
        false,
    );
    // One node without a crash never runs a second phase 1: no found value to ignore.
    let lone = search::<PaxosProtocol>(
        &with_proposals(bounds(1, 2, 1, 1), 1),
        Some(PaxosMutant::IgnoreFoundValues),
        Symmetry::Off,
        2,
        None,
    );
    assert!(matches!(lone.verdict, Verdict::Ok), "{:?}", lone.verdict);
}

#[test]
fn learning_a_value_of_another_ballot_breaks_state_machine_safety() {
    // Three nodes and two proposals: a value accepted under ballot 1 by one acceptor only, a
    // different value chosen under ballot 2 by the other two, a heartbeat of ballot 2.
    let b = with_proposals(bounds(3, 2, 1, 2), 2);
    caught_paxos(
        PaxosMutant::LearnAnyBallot,
        &b,
        "state_machine_safety",
        true,
    );
    // At two nodes every choice needs both acceptors: nothing to mislearn.
    let two = search::<PaxosProtocol>(
        &with_proposals(bounds(2, 2, 1, 2), 2),
        Some(PaxosMutant::LearnAnyBallot),
        Symmetry::Off,
        2,
        None,
    );
    assert!(matches!(two.verdict, Verdict::Ok), "{:?}", two.verdict);
}

#[test]
fn accepting_below_the_promise_takes_a_vote_away_from_a_chosen_value() {
    let b = with_proposals(bounds(3, 2, 1, 2), 2);
    caught_paxos(
        PaxosMutant::AcceptLowerBallot,
        &b,
        "chosen_by_majority",
        true,
    );
}

#[test]
fn a_duplicate_accepted_counted_twice_chooses_without_a_majority_from_four_nodes() {
    // Four nodes, one ballot: the leader and node 2 accept, node 2's reply is duplicated, and
    // three messages pass for a majority of three acceptors.
    let mut b = with_proposals(bounds(4, 1, 1, 3), 1);
    b.max_duplicates = 1;
    let (_, steps) = caught_paxos(
        PaxosMutant::CountDuplicateAccepts,
        &b,
        "chosen_by_majority",
        true,
    );
    assert_eq!(steps, 15);
    // At three nodes the leader and one acceptor already are a majority: the duplicate
    // counts for nothing, and the whole space holds no violation.
    b.nodes = 3;
    let three = search::<PaxosProtocol>(
        &b,
        Some(PaxosMutant::CountDuplicateAccepts),
        Symmetry::Off,
        2,
        None,
    );
    assert_clean(&three, false, "");
}

#[test]
fn symmetry_is_refused_where_ballots_order_node_ids() {
    let e = PaxosModel::new(bounds(3, 2, 1, 2), None, Symmetry::Sorted).expect_err("refused");
    assert!(e.contains("--no-symmetry"), "{e}");
}

#[test]
fn every_size_up_to_three_is_checked_through_a_leader_change() {
    // n = 1: a second ballot only after a crash and restart.
    let mut one = with_proposals(bounds(1, 2, 1, 1), 1);
    one.max_crashes = 1;
    let cases = [
        one,
        with_proposals(bounds(2, 2, 1, 2), 1),
        with_proposals(bounds(3, 2, 1, 2), 1),
    ];
    for b in cases {
        let outcome = search::<PaxosProtocol>(&b, None, Symmetry::Off, 2, None);
        assert_clean(&outcome, false, &format!("{b:?}"));
        assert!(outcome.sometimes > 0, "{b:?}: no leader change reached");
        eprintln!(
            "multipaxos {} nodes: {} states, depth {}, {} with a leader change, {:?}",
            b.nodes, outcome.distinct_states, outcome.depth, outcome.sometimes, outcome.elapsed
        );
    }
}

/// Four nodes: the first leader change is 19 steps deep (a takeover needs three promises and
/// the network holds one broadcast), past what a test can search exhaustively in seconds. The
/// test searches every path up to 12 steps, and shows the bounds hold a leader change by
/// walking one, checked at every step as the search checks it.
#[test]
fn four_nodes_are_checked_and_their_bounds_hold_a_leader_change() {
    let b = with_proposals(bounds(4, 2, 1, 3), 1);
    let outcome = search::<PaxosProtocol>(&b, None, Symmetry::Off, 2, Some(12));
    assert_clean(&outcome, true, "");
    let deliver = |index, from, to| Action::Deliver { index, from, to };
    let drop = |index, from, to| Action::Drop { index, from, to };
    let path = [
        Action::Timer { node: 1 },
        drop(2, 1, 4),
        deliver(0, 1, 2),
        deliver(1, 2, 1),
        deliver(0, 1, 3),
        deliver(0, 3, 1), // node 1 leads ballot (1,1) and broadcasts a heartbeat
        drop(0, 1, 2),
        drop(0, 1, 3),
        drop(0, 1, 4),
        Action::Propose { node: 1 }, // accepted by node 1 alone
        drop(0, 1, 2),
        drop(0, 1, 3),
        drop(0, 1, 4),
        Action::Timer { node: 2 },
        drop(0, 2, 1),
        deliver(0, 2, 3),
        deliver(1, 3, 2),
        deliver(0, 2, 4),
        deliver(0, 4, 2), // node 2 leads ballot (2,2)
    ];
    let model = PaxosModel::new(b, None, Symmetry::Off).expect("model");
    let mut state = model.init();
    for (k, action) in path.iter().enumerate() {
        assert!(
            !model.sometimes(&state),
            "a leader change before step {}",
            k + 1
        );
        state = match model.next(&state, action) {
            Next::State(next, None) => next,
            other => panic!("step {} ({action:?}): {other:?}", k + 1),
        };
    }
    assert!(model.sometimes(&state), "{}", model.summary(&state));
    eprintln!(
        "multipaxos 4 nodes: {} states up to depth 12 in {:?}; a leader change at depth {}",
        outcome.distinct_states,
        outcome.elapsed,
        path.len()
    );
}
