//! Raft scenarios driven step by step, as in the paper (driver in `common`).

mod common;

use common::Cluster;
use distsys_consensus::raft::{Config, Raft};
use distsys_consensus::{NodeId, Role};

#[test]
fn single_node_elects_itself_and_commits() {
    let mut c = Cluster::new(1);
    c.run_for(400);
    assert_eq!(c.leaders(), vec![1]);
    c.node(1).propose(b"x".to_vec()).expect("leader");
    c.settle();
    assert!(c.commands(1).contains(&b"x".to_vec()));
}

#[test]
fn three_nodes_elect_one_leader_and_replicate() {
    let mut c = Cluster::new(3);
    c.run_for(600);
    let leaders = c.leaders();
    assert_eq!(leaders.len(), 1, "{leaders:?}");
    let leader = leaders[0];
    for i in 0..10u8 {
        c.node(leader).propose(vec![i + 1]).expect("leader accepts");
    }
    c.run_for(100);
    for id in c.ids() {
        let commands = c.commands(id);
        assert_eq!(
            commands.len(),
            10,
            "every node applied all commands in order"
        );
        assert_eq!(commands[0], vec![1u8]);
    }
}

#[test]
fn isolated_leader_steps_down_and_majority_moves_on() {
    let mut c = Cluster::new(5);
    c.run_for(600);
    let old = c.leaders()[0];
    let term = c.node(old).term();
    c.isolate(old);
    c.run_for(1000);
    // Check-quorum: the isolated leader gave up; the majority elected a new one.
    assert_ne!(c.node(old).role(), Role::Leader);
    let new = c.leaders();
    assert_eq!(new.len(), 1);
    assert!(c.node(new[0]).term() > term);
    // Pre-vote: the isolated node did not inflate its term while cut off.
    assert_eq!(c.node(old).term(), term);
    c.node(new[0])
        .propose(b"after".to_vec())
        .expect("new leader");
    c.cut.clear();
    c.run_for(500);
    assert_eq!(c.leaders(), new, "healing does not disrupt the new leader");
    assert!(
        c.commands(old).contains(&b"after".to_vec()),
        "the old leader caught up"
    );
}

#[test]
fn read_index_needs_a_quorum() {
    let mut c = Cluster::new(3);
    c.run_for(600);
    let leader = c.leaders()[0];
    c.node(leader).read_index(7).expect("leader");
    c.settle();
    assert_eq!(
        c.reads.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>(),
        vec![(leader, 7)],
        "a connected leader confirms its read"
    );
    // Cut the leader off: the read must not be confirmed.
    c.isolate(leader);
    c.node(leader)
        .read_index(8)
        .expect("still believes it leads");
    c.settle();
    assert_eq!(c.reads.len(), 1, "no quorum, no read");
}

#[test]
fn restart_keeps_term_vote_and_log() {
    let mut c = Cluster::new(3);
    c.run_for(600);
    let leader = c.leaders()[0];
    c.node(leader).propose(b"durable".to_vec()).expect("leader");
    c.run_for(50);
    let follower = (1..=3).find(|id| *id != leader).expect("a follower");
    let disk = c.disks[&follower].clone();
    let before = (c.node(follower).term(), c.node(follower).log().last_index());
    let voters: Vec<NodeId> = (1..=3).collect();
    let restarted = Raft::new(Config::new(follower, voters), &disk, 99, c.now);
    assert_eq!((restarted.term(), restarted.log().last_index()), before);
    assert_eq!(restarted.hard_state(), c.node(follower).hard_state());
}
