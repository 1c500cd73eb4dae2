//! `known-bugs.md` as deterministic scenarios: one test per bug real systems shipped (numbered
//! as in that file), each setting the situation up step by step. Where a seeded-bug variant
//! reproduces the bug, the same scenario runs against it and must see the bug happen, so each
//! test is shown able to fail. Bugs 15-18 (locks, checkers) are tested where those parts live.

use distsys_consensus::kv::Op;
use distsys_consensus::raft::Config;
use distsys_consensus::replica::{ClientOp, ClientReply, ClientRequest, Replica};
use distsys_consensus::testkit::Cluster;
use distsys_consensus::{Message, Mutant, NodeId, Persisted, Role};
use std::collections::BTreeSet;

fn other_than(c: &Cluster, not: &[NodeId]) -> NodeId {
    c.ids()
        .into_iter()
        .find(|id| !not.contains(id))
        .expect("another node")
}

fn read_served(c: &Cluster, node: NodeId, read: u64) -> Option<u64> {
    c.reads
        .iter()
        .find(|r| r.0 == node && r.1 == read)
        .map(|r| r.2)
}

#[test]
fn kb01_stale_read_from_an_isolated_leader() {
    for (mutant, bug_expected) in [(None, false), (Some(Mutant::LeaderReadWithoutQuorum), true)] {
        let mut c = Cluster::with(3, |cfg| cfg.mutant = mutant);
        c.run_for(600);
        let old = c.leader();
        c.isolate(old);
        c.run_for(1000);
        let new = c
            .leaders()
            .into_iter()
            .find(|l| *l != old)
            .expect("the majority elected a leader");
        c.node(new).propose(b"fresh".to_vec()).expect("leader");
        c.run_for(50);
        let _ = c.node(old).read_index(1);
        c.run_for(100);
        assert_eq!(
            read_served(&c, old, 1).is_some(),
            bug_expected,
            "mutant {mutant:?}: the cut-off old leader served a read"
        );
    }
}

#[test]
fn kb02_no_noop_after_election_serves_a_stale_commit_index() {
    for (mutant, bug_expected) in [(None, false), (Some(Mutant::NoNoopOnElection), true)] {
        let mut c = Cluster::with(3, |cfg| cfg.mutant = mutant);
        c.run_for(600);
        let old = c.leader();
        c.write(b"warm-up");
        // `x` reaches every log, but only the old leader learns that it committed.
        let x = c.node(old).log().last_index() + 1;
        c.drop_rule = Some(Box::new(move |from, _, m| {
            from == old && matches!(m, Message::AppendEntries { commit, .. } if *commit >= x)
        }));
        c.node(old).propose(b"x".to_vec()).expect("leader");
        c.settle();
        assert!(
            c.node(old).commit_index() >= x,
            "x committed on the old leader"
        );
        c.crash(old);
        c.drop_rule = None;
        c.run_for(1000);
        let new = c.leader();
        c.node(new).read_index(1).expect("leader");
        c.settle();
        let index = read_served(&c, new, 1).expect("the read is confirmed");
        assert_eq!(
            index < x,
            bug_expected,
            "mutant {mutant:?}: read index {index}, x at {x}"
        );
    }
}

#[test]
fn kb03_read_index_is_confirmed_only_by_its_own_round_and_term() {
    let mut c = Cluster::new(3);
    c.run_for(600);
    let leader = c.leader();
    c.settle();
    // A heartbeat round goes out and the followers answer it...
    c.now += 60_000;
    let now = c.now;
    c.node(leader).tick(now);
    c.drain(leader);
    let round = c.inflight.len();
    assert_eq!(round, 2, "one heartbeat per follower");
    for _ in 0..round {
        c.deliver_one();
    }
    // ...then a read starts, and only then do the old round's answers arrive.
    c.node(leader).read_index(1).expect("leader");
    c.drain(leader);
    for _ in 0..round {
        c.deliver_one();
    }
    assert_eq!(
        read_served(&c, leader, 1),
        None,
        "answers to an earlier round confirmed a later read"
    );
    c.settle();
    assert!(
        read_served(&c, leader, 1).is_some(),
        "its own round confirms it"
    );

    // A read pending when leadership is lost fails, and answers from that term never confirm it.
    c.isolate(leader);
    c.node(leader)
        .read_index(2)
        .expect("still believes it leads");
    c.run_for(1000);
    assert_ne!(c.node(leader).role(), Role::Leader);
    assert!(c.failed_reads.contains(&(leader, 2)));
    c.heal();
    c.run_for(1000);
    assert_eq!(read_served(&c, leader, 2), None);
}

#[test]
fn kb04_lease_reads_are_refused_without_check_quorum() {
    let lease = |check_quorum: bool| {
        move |cfg: &mut Config| {
            cfg.lease_read = true;
            cfg.check_quorum = check_quorum;
        }
    };
    // With check-quorum the lease answers at once, without a round trip.
    let mut c = Cluster::with(3, lease(true));
    c.run_for(600);
    let leader = c.leader();
    c.node(leader).read_index(1).expect("leader");
    c.drain(leader);
    assert!(read_served(&c, leader, 1).is_some(), "lease read is local");

    // Without check-quorum the lease is not trusted: every read takes a round...
    let mut c = Cluster::with(3, lease(false));
    c.run_for(600);
    let leader = c.leader();
    c.node(leader).read_index(1).expect("leader");
    c.drain(leader);
    assert_eq!(
        read_served(&c, leader, 1),
        None,
        "no lease without check-quorum"
    );
    // ...so a leader cut off (which, without check-quorum, never steps down) serves nothing.
    c.isolate(leader);
    c.run_for(1000);
    assert_eq!(c.node(leader).role(), Role::Leader);
    c.node(leader).read_index(2).expect("still leader");
    c.run_for(200);
    assert_eq!(read_served(&c, leader, 2), None);
}

#[test]
fn kb05_a_paused_leader_wakes_with_an_expired_lease() {
    let mut c = Cluster::with(3, |cfg| cfg.lease_read = true);
    c.run_for(600);
    let old = c.leader();
    c.run_for_except(1000, &[old]);
    let new = c
        .leaders()
        .into_iter()
        .find(|l| *l != old)
        .expect("the others elected a leader while it slept");
    c.node(new)
        .propose(b"while paused".to_vec())
        .expect("leader");
    c.run_for_except(50, &[old]);
    // It wakes: the driver tells it the time first, then the read arrives, before any message.
    let now = c.now;
    c.node(old).tick(now);
    let _ = c.node(old).read_index(1);
    c.drain(old);
    assert_eq!(read_served(&c, old, 1), None, "served from a stale lease");
    c.settle();
    assert_eq!(read_served(&c, old, 1), None);
}

#[test]
fn kb06_membership_change_during_a_partition_loses_no_update() {
    let mut c = Cluster::new(5);
    c.run_for(600);
    let old = c.leader();
    let buddy = other_than(&c, &[old]);
    c.split(&[old, buddy]);
    // The minority leader tries to change the membership and to write: neither can commit.
    let _ = c
        .node(old)
        .propose_membership([old, buddy].into_iter().collect(), BTreeSet::new());
    let _ = c.node(old).propose(b"minority".to_vec());
    c.run_for(1000);
    let new = c
        .leaders()
        .into_iter()
        .find(|l| *l != old)
        .expect("majority leader");
    // The majority removes the two cut-off nodes and keeps writing.
    let remaining: BTreeSet<NodeId> = c
        .ids()
        .into_iter()
        .filter(|id| *id != old && *id != buddy)
        .collect();
    c.node(new)
        .propose(b"before change".to_vec())
        .expect("leader");
    c.run_for(50);
    c.node(new)
        .propose_membership(remaining.clone(), BTreeSet::new())
        .expect("change");
    c.run_for(300);
    let new = c.leader();
    c.node(new)
        .propose(b"after change".to_vec())
        .expect("leader");
    c.run_for(100);
    c.heal();
    c.run_for(1000);
    let expected: Vec<Vec<u8>> = vec![b"before change".to_vec(), b"after change".to_vec()];
    for id in remaining {
        let commands = c.commands(id);
        let ours: Vec<Vec<u8>> = commands
            .into_iter()
            .filter(|d| d.as_slice() != b"warm-up")
            .collect();
        assert_eq!(
            ours, expected,
            "node {id} applied exactly the committed writes"
        );
    }
}

#[test]
fn kb07_a_removed_leader_steps_down_and_stays_quiet() {
    let mut c = Cluster::new(3);
    c.run_for(600);
    let old = c.leader();
    let rest: BTreeSet<NodeId> = c.ids().into_iter().filter(|id| *id != old).collect();
    c.node(old)
        .propose_membership(rest.clone(), BTreeSet::new())
        .expect("change");
    c.run_for(600);
    assert_ne!(
        c.node(old).role(),
        Role::Leader,
        "removed leader stepped down"
    );
    let new = c.leader();
    assert!(rest.contains(&new));
    let term = c.node(new).term();
    let sent_before = c.sent.len();
    c.run_for(3000);
    assert_eq!(
        c.leader(),
        new,
        "the removed node did not disrupt the group"
    );
    assert_eq!(c.node(new).term(), term);
    let heartbeats_from_old = c.sent[sent_before..]
        .iter()
        .filter(|(from, _, m)| *from == old && matches!(m, Message::AppendEntries { .. }))
        .count();
    assert_eq!(heartbeats_from_old, 0);
    c.node(new).propose(b"two voters".to_vec()).expect("leader");
    c.run_for(100);
    assert!(rest
        .iter()
        .all(|id| c.commands(*id).contains(&b"two voters".to_vec())));
}

#[test]
fn kb08_followers_forget_a_dead_leader_so_pre_votes_succeed() {
    let mut c = Cluster::new(3);
    c.run_for(600);
    let leader = c.leader();
    let cut_off = other_than(&c, &[leader]);
    // A partial partition: the leader keeps a quorum through the third node, so the cut-off
    // follower's pre-votes are rightly refused...
    c.cut.insert((leader, cut_off));
    c.cut.insert((cut_off, leader));
    c.run_for(1000);
    assert_eq!(c.leader(), leader);
    // ...until the leader dies: the third node must forget it and let an election through.
    c.crash(leader);
    let mut waited = 0;
    while c.leaders().is_empty() {
        c.run_for(5);
        waited += 5;
        assert!(
            waited <= 1_000,
            "no leader {waited} ms after the leader died"
        );
    }
}

#[test]
fn kb09_leadership_goes_only_to_a_caught_up_voter() {
    let mut c = Cluster::new(3);
    c.run_for(600);
    c.add_joiner(4);
    let leader = c.leader();
    c.node(leader)
        .propose_membership([1, 2, 3].into_iter().collect(), [4].into_iter().collect())
        .expect("learner");
    c.run_for(300);
    assert!(!c.node(leader).transfer_leadership(4), "never to a learner");
    let behind = other_than(&c, &[leader, 4]);
    c.cut.insert((leader, behind));
    c.node(leader)
        .propose(b"not on behind".to_vec())
        .expect("leader");
    c.run_for(20);
    assert!(
        !c.node(leader).transfer_leadership(behind),
        "never to a lagging voter"
    );
    c.cut.clear();
    c.run_for(100);
    assert!(c.node(leader).transfer_leadership(behind));
    c.run_for(300);
    assert_eq!(c.leader(), behind);
}

#[test]
fn kb10_kill_all_and_restart_keeps_every_acknowledged_write() {
    let mut c = Cluster::new(3);
    c.run_for(600);
    let mut acknowledged = Vec::new();
    for i in 0..20u8 {
        let leader = c.leader();
        c.write(&[b'w', i]);
        if c.commands(leader).contains(&vec![b'w', i]) {
            acknowledged.push(vec![b'w', i]);
        }
    }
    assert_eq!(acknowledged.len(), 20);
    for id in c.ids() {
        c.crash(id);
    }
    for id in c.ids() {
        c.restart(id);
    }
    c.run_for(1000);
    c.write(b"after");
    for id in c.ids() {
        let commands = c.commands(id);
        assert_eq!(&commands[..20], &acknowledged[..], "node {id}");
    }
}

#[test]
fn kb11_a_restarted_replica_rebuilds_its_state_before_serving() {
    let config = || Config::new(1, vec![1]);
    let mut disk = Persisted::default();
    let mut replica = Replica::new(config(), &disk, 1, 0).expect("no snapshot");
    let mut now = 0;
    let mut replies = Vec::new();
    let pump =
        |replica: &mut Replica, disk: &mut Persisted, now: &mut u64, replies: &mut Vec<_>| {
            *now += 10_000;
            replica.tick(*now);
            let ready = replica.ready();
            for op in &ready.persist {
                disk.apply(op);
            }
            replies.extend(ready.replies);
        };
    for _ in 0..60 {
        pump(&mut replica, &mut disk, &mut now, &mut replies);
    }
    for seq in 1..=700u64 {
        let op = ClientOp::Write(Op::Put {
            key: "k".into(),
            value: format!("v{seq}").into(),
        });
        replica.request(0, ClientRequest { client: 1, seq, op }, &mut replies);
        pump(&mut replica, &mut disk, &mut now, &mut replies);
    }
    assert!(disk.snapshot.is_some(), "the log was compacted");
    // Kill and restart from disk; the first read after the restart must see the last write.
    let mut replica = Replica::new(config(), &disk, 2, now).expect("readable snapshot");
    replies.clear();
    for _ in 0..60 {
        pump(&mut replica, &mut disk, &mut now, &mut replies);
    }
    let read = ClientOp::Read { key: "k".into() };
    replica.request(
        0,
        ClientRequest {
            client: 2,
            seq: 1,
            op: read,
        },
        &mut replies,
    );
    for _ in 0..5 {
        pump(&mut replica, &mut disk, &mut now, &mut replies);
    }
    let answer = replies.iter().find(|r| r.1 == 2).map(|r| r.3.clone());
    assert_eq!(
        answer,
        Some(ClientReply::Ok {
            value: Some("v700".into())
        })
    );
}

#[test]
fn kb12_snapshot_and_log_never_leave_a_gap() {
    // No tail kept after a compaction: the lagging node must be caught up by the snapshot.
    let mut c = Cluster::with(3, |cfg| cfg.catch_up_entries = 0);
    c.run_for(600);
    let leader = c.leader();
    let lagging = other_than(&c, &[leader]);
    c.isolate(lagging);
    for i in 0..50u8 {
        c.write(&[i]);
    }
    for id in c.ids().into_iter().filter(|id| *id != lagging) {
        let commit = c.node(id).commit_index();
        c.node(id).compact(commit - 3, Vec::new());
        c.drain(id);
    }
    c.heal();
    c.run_for(600);
    c.write(b"after");
    let leader = c.leader();
    for id in c.ids() {
        let log = c.nodes[&id].log();
        let offset = log.offset();
        assert!(offset > 0, "node {id} holds a snapshot");
        assert!(
            log.last_index() == offset || log.entry(offset + 1).is_some(),
            "node {id}"
        );
        let disk = &c.disks[&id];
        let snapshot_last = disk.snapshot.as_ref().map_or(0, |s| s.last_index);
        if let Some(first) = disk.entries.first() {
            assert_eq!(first.index, snapshot_last + 1, "node {id} on disk");
        }
        let last = log.last_index();
        assert_eq!(
            log.chain(last),
            c.nodes[&leader].log().chain(last),
            "node {id}"
        );
    }
}

#[test]
fn kb13_no_acknowledgement_before_the_write_it_covers_is_durable() {
    let elections = |mutant: Option<Mutant>| {
        let mut c = Cluster::with(5, |cfg| cfg.mutant = mutant);
        c.strict = false;
        c.run_for(600);
        for i in 0..6u8 {
            let Some(leader) = c.leaders().first().copied() else {
                c.run_for(600);
                continue;
            };
            let _ = c.node(leader).propose(vec![i]);
            c.run_for(50);
            c.crash(leader);
            c.run_for(800);
            c.restart(leader);
            c.run_for(200);
        }
        c.violations
    };
    assert_eq!(elections(None), Vec::<String>::new());
    let broken = elections(Some(Mutant::ReplyBeforePersistVote));
    assert!(
        broken.iter().any(|v| v.contains("before it was durable")),
        "{broken:?}"
    );
}

#[test]
fn kb14_a_slow_follower_is_sent_a_bounded_number_of_bytes() {
    let (max_msgs, max_bytes, msg_bytes) = (64, 64 << 10, 16 << 10);
    let mut c = Cluster::with(3, |cfg| {
        cfg.max_inflight_msgs = max_msgs;
        cfg.max_inflight_bytes = max_bytes;
        cfg.max_msg_bytes = msg_bytes;
        cfg.max_entries_per_msg = 1_000;
    });
    c.run_for(600);
    let leader = c.leader();
    let slow = other_than(&c, &[leader]);
    // The slow follower receives everything but its answers never come back.
    c.cut.insert((slow, leader));
    let sent_before = c.sent.len();
    // 8 KB entries: the byte bound (64 KB), not the message count (64), must stop the sending.
    for _ in 0..500 {
        c.node(leader).propose(vec![7; 8_000]).expect("leader");
    }
    c.run_for(200);
    let (mut messages, mut bytes) = (0, 0u64);
    for (_, to, m) in &c.sent[sent_before..] {
        if let (true, Message::AppendEntries { entries, .. }) = (*to == slow, m) {
            if !entries.is_empty() {
                messages += 1;
                bytes += entries.iter().map(|e| e.size()).sum::<u64>();
                assert!(
                    entries.len() == 1
                        || entries.iter().map(|e| e.size()).sum::<u64>() <= msg_bytes
                );
            }
        }
    }
    assert!(messages <= max_msgs, "{messages} messages in flight");
    assert!(bytes <= max_bytes + msg_bytes, "{bytes} bytes in flight");
    // Once its answers get through it catches up completely.
    c.heal();
    c.run_for(2000);
    assert_eq!(
        c.nodes[&slow].log().last_index(),
        c.nodes[&leader].log().last_index()
    );
}
