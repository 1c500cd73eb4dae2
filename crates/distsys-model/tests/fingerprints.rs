//! The checker fingerprints a state's successors together, reusing the hashes of the nodes and
//! messages each shares with its parent (`Model::successor_fingerprints`). That is a cache, so
//! it is checked against the plain `Model::fingerprint` of every successor of every state
//! reached, for every protocol and every symmetry mode, on walks that crash, restart, drop and
//! duplicate (where nodes go down and messages are copied, the cases a stale memo would get
//! wrong).

mod common;

use common::check::bounds;
use distsys_model::cluster::{Bounds, ClusterModel, Symmetry};
use distsys_model::explore::{Model, Next};
use distsys_model::paxos::PaxosProtocol;
use distsys_model::pbft::PbftProtocol;
use distsys_model::protocol::Protocol;
use distsys_model::raft::RaftProtocol;
use std::collections::{HashSet, VecDeque};

/// Breadth first over up to `limit` states of `P`'s model; at each, the batch fingerprints
/// must equal the one-by-one fingerprints. Returns how many successors were compared.
fn batch_equals_plain<P: Protocol>(bounds: &Bounds, symmetry: Symmetry, limit: usize) -> usize {
    let model = ClusterModel::<P>::new(bounds.clone(), None, symmetry).expect("valid bounds");
    let init = model.init();
    let mut seen = HashSet::from([model.fingerprint(&init)]);
    let mut queue = VecDeque::from([init]);
    let (mut compared, mut actions, mut successors, mut batch) =
        (0, Vec::new(), Vec::new(), Vec::new());
    while let Some(state) = queue.pop_front() {
        actions.clear();
        successors.clear();
        batch.clear();
        model.actions(&state, &mut actions);
        model.successors(&state, &actions, &mut successors);
        model.successor_fingerprints(&state, &successors, &mut batch);
        assert_eq!(batch.len(), successors.len());
        for (successor, &fp) in successors.drain(..).zip(&batch) {
            let Next::State(next, _) = successor else {
                continue;
            };
            assert_eq!(fp, model.fingerprint(&next), "{}", model.summary(&next));
            compared += 1;
            if seen.len() < limit && seen.insert(fp) {
                queue.push_back(next);
            }
        }
    }
    compared
}

#[test]
fn batch_fingerprints_equal_plain_ones_for_every_protocol_and_symmetry() {
    let mut raft = bounds(3, 2, 1, 2);
    raft.max_crashes = 1;
    raft.max_duplicates = 1;
    raft.max_proposals = 1;
    for symmetry in [Symmetry::Off, Symmetry::Sorted, Symmetry::Exhaustive] {
        let compared = batch_equals_plain::<RaftProtocol>(&raft, symmetry, 3_000);
        assert!(compared > 5_000, "{symmetry:?}: {compared}");
    }
    let mut paxos = bounds(3, 2, 1, 2);
    paxos.max_crashes = 1;
    paxos.max_duplicates = 1;
    paxos.max_proposals = 1;
    assert!(batch_equals_plain::<PaxosProtocol>(&paxos, Symmetry::Off, 3_000) > 5_000);
    let mut pbft = bounds(4, 0, 1, 3);
    pbft.max_proposals = 1;
    pbft.max_duplicates = 1;
    pbft.byzantine = 1;
    assert!(batch_equals_plain::<PbftProtocol>(&pbft, Symmetry::Off, 2_000) > 3_000);
}
