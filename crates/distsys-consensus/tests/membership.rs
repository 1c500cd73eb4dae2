//! Membership change by joint consensus, step by step (driver: `distsys_consensus::testkit`).

use distsys_consensus::raft::MembershipError;
use distsys_consensus::testkit::Cluster;
use distsys_consensus::{Membership, NodeId, Role};
use std::collections::BTreeSet;

fn set(ids: &[NodeId]) -> BTreeSet<NodeId> {
    ids.iter().copied().collect()
}

/// Runs until every member of `expected` shows it as its membership, committed on the leader.
/// (Nodes removed by the change stop receiving the log and may never hear of it; they cannot
/// disturb the cluster since no voter counts them.)
fn converge(c: &mut Cluster, expected: &Membership) {
    for _ in 0..40 {
        c.run_for(50);
        let leaders = c.leaders();
        let everyone = expected
            .members()
            .iter()
            .all(|id| c.nodes.get(id).is_some_and(|n| n.membership() == expected));
        let committed = leaders.len() == 1 && {
            let l = &c.nodes[&leaders[0]];
            l.commit_index() >= l.membership_index()
        };
        if everyone && committed {
            return;
        }
    }
    let seen: Vec<_> = c
        .nodes
        .values()
        .map(|n| (n.id(), n.membership().clone()))
        .collect();
    panic!("membership did not converge to {expected:?}: {seen:?}");
}

#[test]
fn a_node_joins_as_learner_then_becomes_a_voter_and_the_quorum_grows() {
    let mut c = Cluster::new(3);
    c.run_for(600);
    c.write(b"before");
    c.add_joiner(4);
    let leader = c.leader();
    c.node(leader)
        .propose_membership(set(&[1, 2, 3]), set(&[4]))
        .expect("learner change");
    c.run_for(1000);
    // A learner gets the whole log but never campaigns or counts.
    assert!(c.commands(4).contains(&b"before".to_vec()));
    assert_eq!(c.node(4).role(), Role::Follower);
    assert!(!c.node(4).membership().is_voter(4));

    let leader = c.leader();
    c.node(leader)
        .propose_membership(set(&[1, 2, 3, 4]), BTreeSet::new())
        .expect("promotion");
    assert!(c.node(leader).membership().is_joint(), "joint first");
    converge(&mut c, &Membership::new([1, 2, 3, 4]));
    assert!(c.nodes.values().all(|n| !n.membership().is_joint()));

    // Four voters: two cut off means no quorum (3 of 4) for the leader's side of two.
    let leader = c.leader();
    let buddy = (1..=4).find(|id| *id != leader).expect("another node");
    c.split(&[leader, buddy]);
    let before = c.node(leader).commit_index();
    let _ = c.node(leader).propose(b"needs three".to_vec());
    c.run_for(100);
    assert_eq!(
        c.node(leader).commit_index(),
        before,
        "two of four voters cannot commit"
    );
}

#[test]
fn swapping_two_voters_at_once_needs_both_majorities_while_joint() {
    let mut c = Cluster::new(5);
    c.run_for(600);
    // Make node 1 the leader so the sets are easy to name.
    let leader = c.leader();
    if leader != 1 {
        assert!(c.node(leader).transfer_leadership(1));
        c.run_for(600);
    }
    assert_eq!(c.leader(), 1);
    // {1,2,3,4,5} -> {1,2,3}; cut 4 and 5 off first: the joint membership still commits (3 of
    // the old five and 2 of the new three), and the final one too.
    c.split(&[4, 5]);
    c.node(1)
        .propose_membership(set(&[1, 2, 3]), BTreeSet::new())
        .expect("change");
    c.run_for(500);
    assert_eq!(c.node(1).membership(), &Membership::new([1, 2, 3]));
    assert!(c.node(1).commit_index() >= c.node(1).membership_index());
    c.write(b"three voters");
    assert!(c.commands(2).contains(&b"three voters".to_vec()));

    // Now {1,2,3} -> {1,4,5} with 2 and 3 cut off: the new majority (1,4,5) is there, but the
    // old one (two of 1,2,3) is not, so the joint entry must not commit.
    c.heal();
    c.run_for(300);
    c.split(&[2, 3]);
    let leader = c.leader();
    assert_eq!(leader, 1);
    let index = c
        .node(1)
        .propose_membership(set(&[1, 4, 5]), BTreeSet::new())
        .expect("change");
    c.run_for(400);
    assert!(
        c.nodes
            .get(&1)
            .is_none_or(|n| n.commit_index() < index || n.role() != Role::Leader),
        "joint membership committed without a majority of the outgoing voters"
    );
    // Meanwhile 2 and 3 were a majority of the old voters and could move on; after healing the
    // uncommitted change may be gone. Propose it again from whoever leads and let it finish.
    c.heal();
    c.run_for(1000);
    let leader = c.leader();
    if c.nodes[&leader].membership() != &Membership::new([1, 4, 5]) {
        c.node(leader)
            .propose_membership(set(&[1, 4, 5]), BTreeSet::new())
            .expect("change");
    }
    converge(&mut c, &Membership::new([1, 4, 5]));
    c.write(b"new voters");
    for id in [1, 4, 5] {
        assert!(
            c.commands(id).contains(&b"new voters".to_vec()),
            "node {id}"
        );
    }
}

#[test]
fn one_change_at_a_time_and_only_by_a_settled_leader() {
    let mut c = Cluster::new(3);
    c.run_for(600);
    let leader = c.leader();
    let follower = (1..=3).find(|id| *id != leader).expect("follower");
    assert!(matches!(
        c.node(follower)
            .propose_membership(set(&[1, 2]), BTreeSet::new()),
        Err(MembershipError::NotLeader(_))
    ));
    assert_eq!(
        c.node(leader)
            .propose_membership(BTreeSet::new(), BTreeSet::new()),
        Err(MembershipError::NoVoters)
    );
    c.node(leader)
        .propose_membership(set(&[1, 2, 3]), set(&[9]))
        .expect("first change");
    assert_eq!(
        c.node(leader)
            .propose_membership(set(&[1, 2, 3]), BTreeSet::new()),
        Err(MembershipError::ChangeInProgress)
    );

    // A brand-new leader has not committed anything of its term yet.
    c.run_for(200);
    let old = c.leader();
    c.isolate(old);
    // Tick the others until one becomes a candidate and wins, then stop before its no-op
    // commits: deliver messages one at a time and catch the moment it becomes leader.
    let mut caught = false;
    for _ in 0..200 {
        c.now += 5_000;
        let now = c.now;
        for (id, n) in c.nodes.iter_mut() {
            if *id != old {
                n.tick(now);
            }
        }
        for id in c.ids() {
            c.drain(id);
        }
        while c.deliver_one() {
            let fresh = c
                .leaders()
                .into_iter()
                .find(|l| *l != old && c.nodes[l].commit_index() < c.nodes[l].log().last_index());
            if let Some(new) = fresh {
                assert_eq!(
                    c.node(new)
                        .propose_membership(set(&[1, 2, 3]), BTreeSet::new()),
                    Err(MembershipError::LeaderNotSettled)
                );
                caught = true;
                break;
            }
        }
        if caught {
            break;
        }
    }
    assert!(caught, "a new leader was elected");
}

#[test]
fn an_uncommitted_change_on_a_minority_leader_is_rolled_back() {
    let mut c = Cluster::new(5);
    c.run_for(600);
    let old = c.leader();
    let buddy = (1..=5).find(|id| *id != old).expect("another node");
    c.split(&[old, buddy]);
    // The minority leader appends a change (in effect on its side at once) that cannot commit.
    let others: Vec<NodeId> = (1..=5).filter(|id| *id != buddy).collect();
    c.node(old)
        .propose_membership(others.iter().copied().collect(), BTreeSet::new())
        .expect("change appended");
    assert!(c.node(old).membership().is_joint());
    c.run_for(1000);
    let majority_leader = c
        .leaders()
        .into_iter()
        .find(|l| *l != old)
        .expect("majority elected a leader");
    c.node(majority_leader)
        .propose(b"majority write".to_vec())
        .expect("leader");
    c.run_for(100);
    c.heal();
    c.run_for(1000);
    // The change was overwritten: everyone is back on the five founding voters, and the
    // majority's write survived everywhere.
    for id in 1..=5 {
        assert_eq!(
            c.node(id).membership(),
            &Membership::new(1..=5),
            "node {id}"
        );
        assert!(
            c.commands(id).contains(&b"majority write".to_vec()),
            "node {id}"
        );
    }
}

#[test]
fn membership_survives_compaction_restart_and_reaches_a_joiner_by_snapshot() {
    // No tail kept after a compaction: the log really ends at the snapshot.
    let mut c = Cluster::with(3, |cfg| cfg.catch_up_entries = 0);
    c.run_for(600);
    let leader = c.leader();
    c.node(leader)
        .propose_membership(set(&[1, 2, 3]), set(&[4]))
        .expect("change");
    c.run_for(200);
    for i in 0..20u8 {
        c.write(&[i + 1]);
    }
    // Every node compacts its whole applied log: the membership now lives in the snapshots.
    for id in 1..=3 {
        let commit = c.node(id).commit_index();
        c.node(id).compact(commit, Vec::new());
        c.drain(id);
        assert!(c.node(id).log().entry(commit).is_none());
        assert_eq!(
            c.disks[&id].snapshot.as_ref().map(|s| s.membership.clone()),
            Some(Membership::new([1, 2, 3]).change_to(set(&[1, 2, 3]), set(&[4])))
        );
    }
    for id in 1..=3 {
        c.crash(id);
        c.restart(id);
        assert!(c.node(id).membership().learners.contains(&4), "node {id}");
    }
    c.run_for(600);
    // Node 4 joins late: it can only learn the log (and who is in the cluster) by snapshot.
    c.add_joiner(4);
    c.run_for(600);
    let leader = c.leader();
    let (joiner, leader) = (&c.nodes[&4], &c.nodes[&leader]);
    assert_eq!(joiner.membership(), leader.membership());
    let last = joiner.log().last_index();
    assert!(last >= 20);
    assert_eq!(joiner.log().chain(last), leader.log().chain(last));
}
