//! The Raft model checker on the real core: it finds every seeded bug a small configuration can
//! show, with a shortest path, and reports nothing on the correct core at the same bounds; its
//! symmetry reduction is canonical; its result does not depend on the thread count.

mod common;

use common::check::{assert_clean, bounds, caught as caught_in, search, violation};
use distsys_consensus::Mutant;
use distsys_model::cluster::{Action, Bounds, Symmetry};
use distsys_model::explore::{check, Limits, Outcome, Verdict};
use distsys_model::raft::{applicable, RaftModel, RaftProtocol};
use distsys_model::replay::{replay, ReplayOutcome};

fn run(bounds: &Bounds, mutant: Option<Mutant>, symmetry: Symmetry) -> Outcome<Action> {
    run_with(bounds, mutant, symmetry, 2)
}

fn run_with(
    bounds: &Bounds,
    mutant: Option<Mutant>,
    symmetry: Symmetry,
    threads: usize,
) -> Outcome<Action> {
    run_limited(bounds, mutant, symmetry, threads, None)
}

fn run_limited(
    bounds: &Bounds,
    mutant: Option<Mutant>,
    symmetry: Symmetry,
    threads: usize,
    max_depth: Option<usize>,
) -> Outcome<Action> {
    search::<RaftProtocol>(bounds, mutant, symmetry, threads, max_depth)
}

fn caught(mutant: Mutant, bounds: &Bounds, property: &str) {
    caught_in::<RaftProtocol>(mutant, bounds, Symmetry::Sorted, property, false);
}

fn caught_within(mutant: Mutant, bounds: &Bounds, property: &str, depth_only: bool) {
    caught_in::<RaftProtocol>(mutant, bounds, Symmetry::Sorted, property, depth_only);
}

#[test]
fn vote_twice_gives_two_leaders_in_one_term() {
    caught(Mutant::VoteTwice, &bounds(3, 1, 1, 2), "election_safety");
}

#[test]
fn a_vote_replied_before_it_is_durable_is_forgotten_by_a_crash() {
    let mut b = bounds(3, 1, 1, 2);
    b.max_crashes = 1;
    caught(Mutant::ReplyBeforePersistVote, &b, "election_safety");
    // Without a crash the bug cannot show: the vote is on disk by the next step.
    let no_crash = run(
        &bounds(3, 1, 1, 2),
        Some(Mutant::ReplyBeforePersistVote),
        Symmetry::Sorted,
    );
    assert!(matches!(no_crash.verdict, Verdict::Ok));
}

#[test]
fn skipping_the_prev_log_check_breaks_log_matching() {
    let mut b = bounds(3, 2, 2, 2);
    b.max_proposals = 1;
    caught(Mutant::SkipPrevLogCheck, &b, "log_matching");
}

#[test]
fn applying_before_commit_breaks_state_machine_safety() {
    // The leader must propose while its first acknowledgement is in flight: 3 messages. The
    // correct core's full space at these bounds is millions of states, so it is checked here up
    // to the counterexample's length (the command checks deeper).
    let mut b = bounds(3, 2, 2, 3);
    b.max_proposals = 1;
    caught_within(Mutant::ApplyBeforeCommit, &b, "state_machine_safety", true);
}

#[test]
fn committing_an_old_term_entry_loses_it_figure_8() {
    // Scenario-only for random campaigns; the exhaustive search reaches it at 3 nodes. The
    // correct core is checked here up to the counterexample's length (its full space at these
    // bounds takes minutes on a loaded box: the command's job).
    let mut b = bounds(3, 4, 1, 2);
    b.max_proposals = 2;
    caught_within(Mutant::CommitOldTerm, &b, "leader_completeness", true);
}

/// Raft bounds with one proposal and one client read.
fn with_a_read(max_term: u64) -> Bounds {
    let mut b = bounds(3, max_term, 2, 2);
    b.max_proposals = 1;
    b.max_reads = 1;
    b
}

#[test]
fn a_follower_answering_reads_from_its_own_state_is_a_stale_read() {
    // One term: a write completes at the leader, the follower that has not heard of its
    // commit answers a read without it.
    caught(
        Mutant::FollowerStaleRead,
        &with_a_read(1),
        "linearizability",
    );
}

#[test]
fn a_deposed_leader_answering_reads_without_a_quorum_is_a_stale_read() {
    // Two terms: a new leader commits a write the old one, cut off, has not seen.
    caught_within(
        Mutant::LeaderReadWithoutQuorum,
        &with_a_read(2),
        "linearizability",
        true,
    );
    let one_term = run(
        &with_a_read(1),
        Some(Mutant::LeaderReadWithoutQuorum),
        Symmetry::Sorted,
    );
    assert!(
        matches!(one_term.verdict, Verdict::Ok),
        "{:?}",
        one_term.verdict
    );
}

#[test]
fn a_new_leader_reading_before_it_commits_in_its_term_is_a_stale_read() {
    // Without the no-op, a new leader's commit index lags what the old leader committed.
    caught_within(
        Mutant::NoNoopOnElection,
        &with_a_read(2),
        "linearizability",
        true,
    );
}

#[test]
fn the_correct_core_answers_every_read_with_every_completed_write() {
    // The whole space with one write and one read, through a leader change.
    let outcome = run(&with_a_read(2), None, Symmetry::Sorted);
    assert_clean(&outcome, false, "");
    assert!(outcome.sometimes > 0, "no leader change within the bounds");
    assert!(
        outcome.distinct_states > 100_000,
        "{}",
        outcome.distinct_states
    );
    // The clients' state is canonicalised with the nodes: the sorted relabellings count what
    // all of them count.
    let sorted = run(&with_a_read(1), None, Symmetry::Sorted);
    let every = run(&with_a_read(1), None, Symmetry::Exhaustive);
    assert_eq!(sorted.distinct_states, every.distinct_states);
    let off = run(&with_a_read(1), None, Symmetry::Off);
    assert!(off.distinct_states > 3 * sorted.distinct_states);
}

#[test]
fn read_only_mutants_need_client_reads() {
    let mut reads = bounds(3, 1, 1, 2);
    reads.max_reads = 1;
    for m in Mutant::ALL {
        let refused = RaftModel::new(bounds(3, 1, 1, 2), Some(m), Symmetry::Sorted).is_err();
        assert_eq!(
            refused,
            applicable(m, &bounds(3, 1, 1, 2)).is_err(),
            "{m:?}"
        );
        let with_reads = RaftModel::new(reads.clone(), Some(m), Symmetry::Sorted);
        assert_eq!(
            with_reads.is_ok(),
            !m.needs_pipelined_persistence(),
            "{m:?}"
        );
    }
    let e = applicable(Mutant::FollowerStaleRead, &bounds(3, 1, 1, 2)).expect_err("refused");
    assert!(e.contains("--max-reads"), "{e}");
    assert!(applicable(Mutant::VoteTwice, &bounds(3, 1, 1, 2)).is_ok());
}

#[test]
fn the_counterexample_is_shortest_and_independent_of_threads() {
    let b = bounds(3, 1, 1, 2);
    let one = run_with(&b, Some(Mutant::VoteTwice), Symmetry::Sorted, 1);
    let two = run_with(&b, Some(Mutant::VoteTwice), Symmetry::Sorted, 2);
    assert_eq!(violation(&one).1, violation(&two).1);
    // Breadth first: no violation exists at any smaller depth. A depth bound is emulated by
    // replaying every prefix: none of them breaks a property.
    let (_, path) = violation(&one);
    let model = RaftModel::new(b, Some(Mutant::VoteTwice), Symmetry::Sorted).expect("model");
    for k in 0..path.len() {
        assert_eq!(
            replay(&model, &path[..k], &mut |_, _, _| {}),
            ReplayOutcome::NoViolation
        );
    }
    // Without symmetry the shortest path has the same length.
    let plain = run_with(
        &bounds(3, 1, 1, 2),
        Some(Mutant::VoteTwice),
        Symmetry::Off,
        2,
    );
    assert_eq!(violation(&plain).1.len(), path.len());
}

#[test]
fn wide_levels_give_the_same_result_on_any_number_of_threads() {
    // Levels of thousands of states, split into parts the workers race for, and successors
    // reached from several parts in one level: which transition is kept as a state's parent
    // must not depend on which worker got there first.
    let mut b = bounds(3, 2, 2, 2);
    b.max_proposals = 1;
    let one = run_with(&b, Some(Mutant::SkipPrevLogCheck), Symmetry::Off, 1);
    for threads in [2, 3, 5] {
        let many = run_with(&b, Some(Mutant::SkipPrevLogCheck), Symmetry::Off, threads);
        assert_eq!(violation(&one), violation(&many), "{threads} threads");
        assert_eq!(
            (one.distinct_states, one.transitions, one.sometimes),
            (many.distinct_states, many.transitions, many.sometimes),
            "{threads} threads"
        );
    }
    assert!(one.distinct_states > 10_000, "{}", one.distinct_states);
    let clean =
        [1, 3].map(|threads| run_with(&bounds(3, 2, 2, 2), None, Symmetry::Sorted, threads));
    for o in &clean {
        assert!(matches!(o.verdict, Verdict::Ok), "{:?}", o.verdict);
    }
    assert_eq!(
        (
            clean[0].distinct_states,
            clean[0].transitions,
            clean[0].depth,
            clean[0].sometimes
        ),
        (
            clean[1].distinct_states,
            clean[1].transitions,
            clean[1].depth,
            clean[1].sometimes
        )
    );
}

#[test]
fn symmetry_is_canonical_and_reduces_about_n_factorial() {
    let b = bounds(3, 2, 2, 2);
    let sorted = run(&b, None, Symmetry::Sorted);
    let exhaustive = run(&b, None, Symmetry::Exhaustive);
    let off = run(&b, None, Symmetry::Off);
    for o in [&sorted, &exhaustive, &off] {
        assert!(matches!(o.verdict, Verdict::Ok));
        assert_eq!(o.depth, off.depth, "symmetry does not change the depth");
    }
    assert_eq!(sorted.distinct_states, exhaustive.distinct_states);
    let ratio = off.distinct_states as f64 / sorted.distinct_states as f64;
    eprintln!(
        "3 nodes: {} states without symmetry, {} with ({ratio:.2}x)",
        off.distinct_states, sorted.distinct_states
    );
    assert!((4.0..=6.0).contains(&ratio), "reduction {ratio:.2}x");
}

#[test]
fn every_size_up_to_four_is_checked_through_a_leader_change() {
    // n = 1: the only way to a second term is a crash and restart.
    let mut one = bounds(1, 2, 2, 1);
    one.max_crashes = 1;
    // n <= 3 exhaustively; n = 4 (671,795 states in full, about 100 s in this profile: the
    // command's job) up to 18 steps, which already holds leader changes.
    let cases = [
        (one, None),
        (bounds(2, 2, 2, 2), None),
        (bounds(3, 2, 2, 2), None),
        (bounds(4, 2, 2, 3), Some(18)),
    ];
    for (b, max_depth) in cases {
        let outcome = run_limited(&b, None, Symmetry::Sorted, 2, max_depth);
        assert!(
            matches!(outcome.verdict, Verdict::Ok),
            "{b:?}: {:?}",
            outcome.verdict
        );
        assert_eq!(outcome.depth_limited, max_depth.is_some());
        assert!(outcome.sometimes > 0, "{b:?}: no leader change reached");
        eprintln!(
            "{} nodes: {} states, depth {}, {} with a leader change, {:?}",
            b.nodes, outcome.distinct_states, outcome.depth, outcome.sometimes, outcome.elapsed
        );
    }
}

#[test]
fn the_memory_budget_stops_the_search_with_unknown() {
    let model = RaftModel::new(bounds(3, 2, 2, 2), None, Symmetry::Sorted).expect("model");
    let limits = Limits {
        memory_budget_bytes: 64 << 10,
        ..Limits::default()
    };
    let outcome = check(&model, &limits, &mut |_| {});
    assert!(matches!(outcome.verdict, Verdict::BudgetExhausted));
    let full = run(&bounds(3, 2, 2, 2), None, Symmetry::Sorted);
    assert!(outcome.distinct_states < full.distinct_states);
}

#[test]
fn bad_bounds_are_refused_with_the_flag_named() {
    let e = RaftModel::new(bounds(0, 1, 1, 1), None, Symmetry::Sorted).expect_err("0 nodes");
    assert!(e.contains("--nodes"), "{e}");
    let e = RaftModel::new(bounds(3, 0, 1, 1), None, Symmetry::Sorted).expect_err("term 0");
    assert!(e.contains("--max-term"), "{e}");
}
