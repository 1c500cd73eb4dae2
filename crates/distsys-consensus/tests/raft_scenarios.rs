//! Raft scenarios driven step by step, as in the paper (driver: `distsys_consensus::testkit`).

use distsys_consensus::raft::{Config, Raft};
use distsys_consensus::testkit::Cluster;
use distsys_consensus::{Message, NodeId, Role};

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

/// Raft paper, figure 8, step by step on five nodes. Returns the violations seen (the cluster
/// records them instead of panicking) and, if step (c) was reached, whether S1 committed the
/// old-term entry there.
fn figure_8(mutant: Option<distsys_consensus::Mutant>) -> (Vec<String>, Option<bool>) {
    use distsys_consensus::Message;
    // As in the paper: no pre-vote or check-quorum, so a node can be elected by exactly the
    // voters the scenario lets it reach.
    let mut c = Cluster::with(5, |cfg| {
        cfg.mutant = mutant;
        cfg.pre_vote = false;
        cfg.check_quorum = false;
    });
    c.strict = false;
    let elect = |c: &mut Cluster, id: NodeId, voters: &[NodeId]| {
        // Only `id` and its voters can talk; it times out first.
        c.cut.clear();
        let all = c.ids();
        for a in &all {
            for b in &all {
                let inside = |x: &NodeId| *x == id || voters.contains(x);
                if a != b && !(inside(a) && inside(b)) {
                    c.cut.insert((*a, *b));
                }
            }
        }
        for _ in 0..400 {
            c.now += 5_000;
            let now = c.now;
            if let Some(node) = c.nodes.get_mut(&id) {
                node.tick(now);
            }
            c.settle();
            if c.nodes.get(&id).is_some_and(|n| n.role() == Role::Leader) {
                return true;
            }
        }
        false
    };
    // Term 1 (or so): S1 leads and commits a first entry everywhere.
    assert!(elect(&mut c, 1, &[2, 3, 4, 5]));
    c.cut.clear();
    c.node(1).propose(b"one".to_vec()).expect("leader");
    c.settle();
    // (a) S1 appends `a` and it reaches S2 only.
    c.drop_rule = Some(Box::new(|from, to, m| {
        from == 1
            && to != 2
            && matches!(m, Message::AppendEntries { entries, .. } if !entries.is_empty())
    }));
    let index = c.node(1).propose(b"a".to_vec()).expect("leader");
    c.settle();
    c.drop_rule = None;
    // (b) S1 crashes; S5 is elected by S3, S4 and appends `b` at the same index, alone.
    c.crash(1);
    assert!(elect(&mut c, 5, &[3, 4]));
    c.cut = c
        .ids()
        .iter()
        .flat_map(|a| c.ids().into_iter().map(move |b| (*a, b)))
        .collect();
    c.node(5).propose(b"b".to_vec()).expect("leader");
    c.settle();
    // (c) S5 crashes; S1 restarts, is elected by S2, S3 and replicates `a` to S3.
    c.crash(5);
    c.restart(1);
    // A correct Raft stops here: S5's no-op of its term reached S3 and S4 during its election,
    // so S1's log is no longer up to date for them.
    if !elect(&mut c, 1, &[2, 3]) {
        return (c.violations, None);
    }
    c.settle();
    let committed_old_term = c.node(1).commit_index() >= index;
    // (d) S1 crashes; S5 restarts and is elected by S2, S3, S4 (its last term is newer).
    c.crash(1);
    c.restart(5);
    elect(&mut c, 5, &[2, 3, 4]);
    c.settle();
    c.cut.clear();
    c.run_for(500);
    (c.violations, Some(committed_old_term))
}

#[test]
fn figure_8_an_old_term_entry_commits_only_through_one_of_the_current_term() {
    use distsys_consensus::Mutant;
    // The real Raft: the no-op stops the scenario before S1 can even be elected again.
    let (violations, committed) = figure_8(None);
    assert_eq!(committed, None);
    assert_eq!(violations, Vec::<String>::new());
    // Without the no-op, the commit rule alone must hold: S1 is elected in (c) but does not
    // commit the old entry by counting replicas, so (d) overwrites nothing committed.
    let (violations, committed) = figure_8(Some(Mutant::NoNoopOnElection));
    assert_eq!(
        committed,
        Some(false),
        "S1 committed an old-term entry by counting replicas"
    );
    assert_eq!(violations, Vec::<String>::new());
    // The seeded bug commits it, and S5 then overwrites a committed entry: caught.
    let (violations, committed) = figure_8(Some(Mutant::CommitOldTerm));
    assert_eq!(committed, Some(true));
    assert!(
        violations
            .iter()
            .any(|v| v.contains("leader_completeness") || v.contains("state_machine_safety")),
        "{violations:?}"
    );
}

/// Three nodes keeping `keep` entries behind their snapshots; one follower is cut off while
/// `lag` writes commit, then every other node compacts its whole applied log. Returns the
/// cluster (still cut), the leader and the lagging follower.
fn lagging_behind_a_compaction(keep: usize, lag: u32) -> (Cluster, NodeId, NodeId) {
    let mut c = Cluster::with(3, |cfg| cfg.catch_up_entries = keep);
    c.run_for(600);
    let leader = c.leader();
    let lagging = c
        .ids()
        .into_iter()
        .find(|id| *id != leader)
        .expect("a follower");
    c.isolate(lagging);
    for i in 0..lag {
        c.write(&i.to_be_bytes());
    }
    for id in c.ids().into_iter().filter(|id| *id != lagging) {
        let commit = c.node(id).commit_index();
        c.node(id).compact(commit, Vec::new());
        c.drain(id);
    }
    (c, leader, lagging)
}

/// A leader that compacted its log keeps the last `catch_up_entries` entries its snapshot
/// covers: a follower less far behind is sent those entries (no snapshot, its log as the
/// leader's), one further behind is sent the snapshot. Either way every log agrees.
#[test]
fn a_follower_a_little_behind_a_compaction_is_sent_entries_not_the_snapshot() {
    for (keep, lag, expect_snapshot) in [(64, 30, false), (64, 100, true), (0, 30, true)] {
        let (mut c, leader, lagging) = lagging_behind_a_compaction(keep, lag);
        let held = c.node(leader).log().covered();
        assert_eq!(held, keep.min(lag as usize + 1), "keep {keep}, lag {lag}");
        c.heal();
        c.run_for(600);
        c.write(b"after");
        c.run_for(200);
        let follower = c.node(lagging).log();
        assert_eq!(
            follower.offset() > 0,
            expect_snapshot,
            "keep {keep}, lag {lag}: snapshot installed"
        );
        let last = c.node(leader).log().last_index();
        let chain = c.node(leader).log().chain(last);
        for id in c.ids() {
            assert_eq!(c.node(id).log().last_index(), last, "node {id}");
            assert_eq!(c.node(id).log().chain(last), chain, "node {id}");
        }
    }
}

/// Snapshots sent to `to` so far.
fn snapshots_sent(c: &Cluster, to: NodeId) -> usize {
    c.sent
        .iter()
        .filter(|(_, t, m)| *t == to && matches!(m, Message::InstallSnapshot { .. }))
        .count()
}

/// A snapshot on its way is sent once: the heartbeats the follower rejects until it arrives
/// (they overtake it here, as a large snapshot is overtaken) do not make the leader send it
/// again, which would restart a long transfer on every heartbeat. A snapshot that is lost is
/// sent again once `snapshot_retry_us` has passed. Either way the follower catches up.
#[test]
fn a_pending_snapshot_is_not_resent_on_every_rejected_heartbeat_and_a_lost_one_is() {
    for lose_it in [false, true] {
        let (mut c, leader, lagging) = lagging_behind_a_compaction(0, 30);
        c.heal();
        // The follower's snapshots are lost for now (the first is delivered later, late).
        c.drop_rule = Some(Box::new(move |_, to, m| {
            to == lagging && matches!(m, Message::InstallSnapshot { .. })
        }));
        for _ in 0..200 {
            if snapshots_sent(&c, lagging) > 0 {
                break;
            }
            c.run_for(5);
        }
        let first = snapshots_sent(&c, lagging);
        assert_eq!(first, 1, "the leader sends the follower its snapshot");
        let held = c
            .sent
            .iter()
            .find(|(_, to, m)| *to == lagging && matches!(m, Message::InstallSnapshot { .. }))
            .cloned()
            .expect("sent");
        // 500 ms: ten heartbeats, each rejected by the follower, which lacks the prefix.
        c.run_for(500);
        assert_eq!(
            snapshots_sent(&c, lagging),
            first,
            "lose {lose_it}: the pending snapshot was sent again"
        );
        assert!(c.node(lagging).log().offset() == 0, "nothing installed yet");
        c.drop_rule = None;
        if !lose_it {
            c.inflight.push_back(held);
        }
        // Past the retry interval (1.2 s by default) a lost snapshot goes out again.
        c.run_for(1500);
        let resent = snapshots_sent(&c, lagging) - first;
        assert_eq!(resent, usize::from(lose_it), "lose {lose_it}");
        c.write(b"after");
        c.run_for(200);
        let last = c.node(leader).log().last_index();
        let chain = c.node(leader).log().chain(last);
        assert_eq!(c.node(lagging).log().chain(last), chain, "lose {lose_it}");
    }
}

/// A single node leading with pipelined persistence (`Config::async_persist`): the node, the
/// write of its election's Ready (its term, vote and no-op) and how many entries that Ready
/// committed.
fn pipelined_leader(mutant: Option<distsys_consensus::Mutant>) -> (Raft, u64, usize) {
    let mut config = Config::new(1, vec![1]);
    config.async_persist = true;
    config.mutant = mutant;
    let mut raft = Raft::new(config, &distsys_consensus::Persisted::default(), 1, 0);
    raft.tick(1_000_000);
    let ready = raft.ready();
    assert_eq!(raft.role(), Role::Leader);
    assert!(ready.write > 0 && !ready.persist.is_empty());
    (raft, ready.write, ready.committed.len())
}

/// With pipelined persistence a leader counts its own copy only once the driver reports its
/// write durable: a single node commits nothing before that, everything after. The seeded bug
/// commits at once (what the simulator's campaigns catch as lost data after a crash).
#[test]
fn a_pipelined_leader_counts_itself_only_once_its_write_is_durable() {
    let (mut raft, election, committed) = pipelined_leader(None);
    assert_eq!(committed, 0, "the no-op waits for its write");
    assert!(raft.ready().committed.is_empty());
    raft.persisted(election);
    assert_eq!(raft.ready().committed.len(), 1, "the no-op commits");
    raft.propose(b"x".to_vec()).expect("leader");
    let ready = raft.ready();
    assert!(ready.committed.is_empty());
    raft.persisted(ready.write);
    let committed = raft.ready().committed;
    assert_eq!(committed.len(), 1);
    assert_eq!(committed[0].data.as_ref(), b"x");

    let (mut buggy, _, committed) =
        pipelined_leader(Some(distsys_consensus::Mutant::CountSelfBeforeDurable));
    assert_eq!(
        committed, 1,
        "the bug commits the no-op before it is durable"
    );
    buggy.propose(b"x".to_vec()).expect("leader");
    let committed = buggy.ready().committed;
    assert_eq!(committed.len(), 1, "and x");
    assert_eq!(committed[0].data.as_ref(), b"x");
}
