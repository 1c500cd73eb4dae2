//! Side by side with stateright: its breadth-first checker, run over the same Raft model
//! through its `Model` trait, counts the same distinct states as `distsys_model::explore` at
//! the same bounds, with symmetry and without, and finds the same seeded bug at the same depth.

mod common;

use common::stateright_adapter::Stateright;
use distsys_consensus::Mutant;
use distsys_model::cluster::{Bounds, Symmetry};
use distsys_model::explore::{check, Limits, Verdict};
use distsys_model::raft::RaftModel;
use stateright::{Checker, Model};

fn bounds(nodes: usize, max_term: u64, max_log: u64, max_in_flight: usize) -> Bounds {
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

#[test]
fn stateright_counts_the_same_distinct_states() {
    for (b, symmetry) in [
        (bounds(3, 2, 2, 2), Symmetry::Sorted),
        (bounds(3, 1, 1, 2), Symmetry::Off),
        (bounds(2, 2, 2, 2), Symmetry::Off),
    ] {
        let model = RaftModel::new(b.clone(), None, symmetry).expect("model");
        let ours = check(&model, &Limits::default(), &mut |_| {});
        assert!(matches!(ours.verdict, Verdict::Ok));
        let theirs = Stateright(model).checker().threads(2).spawn_bfs().join();
        theirs.assert_properties();
        assert_eq!(
            theirs.unique_state_count(),
            ours.distinct_states,
            "{b:?} {symmetry:?}"
        );
        eprintln!(
            "{b:?} {symmetry:?}: {} states both; stateright depth {}, ours {}",
            ours.distinct_states,
            theirs.max_depth(),
            ours.depth
        );
    }
}

#[test]
fn stateright_finds_the_seeded_bug_at_the_same_depth() {
    let b = bounds(3, 1, 1, 2);
    let model = RaftModel::new(b, Some(Mutant::VoteTwice), Symmetry::Sorted).expect("model");
    let ours = check(&model, &Limits::default(), &mut |_| {});
    let Verdict::Violation { path, .. } = &ours.verdict else {
        panic!("expected a violation: {:?}", ours.verdict);
    };
    let theirs = Stateright(model).checker().spawn_bfs().join();
    let found = theirs.discovery("safety").expect("stateright finds it");
    assert_eq!(found.into_actions().len(), path.len());
}
