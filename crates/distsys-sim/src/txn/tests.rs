//! The sans-IO parts on their own: the group store's conflict rules and idempotence, and the
//! coordinator's rounds per protocol.

use super::coordinator::{Coordinator, Outcome};
use super::store::GroupStore;
use super::types::{Command, CommitProtocol, Op, ReadResult, RecordState, Reply, Ts, TxnMeta};
use super::TxnMutant;
use distsys_check::txn::TxnModel;
use std::collections::BTreeMap;

fn ts(wall_ms: u64, txn: u64) -> Ts {
    Ts {
        wall_ms,
        logical: 0,
        txn,
    }
}

fn meta() -> TxnMeta {
    TxnMeta {
        anchor: 0,
        participants: vec![0],
        protocol: CommitProtocol::Parallel,
    }
}

fn prepare(txn: u64, wall: u64, ops: Vec<Op>) -> Command {
    Command::Prepare {
        txn,
        ts: ts(wall, txn),
        ops,
        meta: meta(),
    }
}

fn resolve(txn: u64, commit: bool, writes: Vec<Op>) -> Command {
    Command::Resolve {
        txn,
        commit,
        writes,
    }
}

#[test]
fn an_intent_refuses_other_writers_and_readers_until_resolved() {
    let mut s = GroupStore::new(TxnModel::ListAppend, None);
    let (vote, _) = s.apply(&prepare(1, 10, vec![Op::Append(5, 100)]));
    assert_eq!(vote, Reply::Vote(Some(vec![])));
    assert_eq!(
        s.apply(&prepare(2, 20, vec![Op::Append(5, 101)])).0,
        Reply::Vote(None)
    );
    assert_eq!(
        s.apply(&prepare(3, 30, vec![Op::Read(5)])).0,
        Reply::Vote(None)
    );
    let (_, effects) = s.apply(&resolve(1, true, vec![]));
    assert_eq!(effects.installed, Some(1));
    let read = s.apply(&prepare(4, 40, vec![Op::Read(5)])).0;
    assert_eq!(read, Reply::Vote(Some(vec![ReadResult::List(vec![100])])));
    // Below a committed version, and below a served read: refused.
    assert_eq!(
        s.apply(&prepare(5, 5, vec![Op::Append(5, 102)])).0,
        Reply::Vote(None)
    );
    assert_eq!(
        s.apply(&prepare(6, 35, vec![Op::Append(5, 103)])).0,
        Reply::Vote(None)
    );
}

#[test]
fn a_read_sees_the_snapshot_then_the_transactions_own_earlier_writes() {
    let mut s = GroupStore::new(TxnModel::RwRegister, None);
    let ops = vec![Op::Read(1), Op::Write(1, 7), Op::Read(1)];
    let vote = s.apply(&prepare(1, 10, ops)).0;
    let expected = vec![ReadResult::Register(None), ReadResult::Register(Some(7))];
    assert_eq!(vote, Reply::Vote(Some(expected)));
}

#[test]
fn commands_are_idempotent() {
    let mut s = GroupStore::new(TxnModel::ListAppend, None);
    let p = prepare(1, 10, vec![Op::Append(5, 100)]);
    let first = s.apply(&p).0;
    assert_eq!(s.apply(&p).0, first);
    let r = resolve(1, true, vec![Op::Append(5, 100)]);
    s.apply(&r);
    assert_eq!(s.apply(&r).1.installed, None);
    assert_eq!(s.versions()[&5].len(), 1);
    assert!(s.intents().is_empty());
}

#[test]
fn the_non_idempotent_mutant_installs_a_repeated_commit_twice() {
    let mut s = GroupStore::new(
        TxnModel::ListAppend,
        Some(TxnMutant::NonIdempotentCommitRetry),
    );
    s.apply(&prepare(1, 10, vec![Op::Append(5, 100)]));
    let r = resolve(1, true, vec![Op::Append(5, 100)]);
    s.apply(&r);
    s.apply(&r);
    assert_eq!(s.versions()[&5].len(), 2);
}

#[test]
fn a_probe_before_the_prepare_refuses_it_for_good() {
    let mut s = GroupStore::new(TxnModel::ListAppend, None);
    assert_eq!(
        s.apply(&Command::Probe { txn: 1 }).0,
        Reply::Prepared(false)
    );
    assert_eq!(
        s.apply(&prepare(1, 10, vec![Op::Append(5, 1)])).0,
        Reply::Vote(None)
    );
    assert!(s.intents().is_empty());
}

#[test]
fn recovering_a_missing_record_aborts_it_and_the_first_decision_wins() {
    let mut s = GroupStore::new(TxnModel::ListAppend, None);
    let aborted = Reply::Record(RecordState::Aborted);
    assert_eq!(s.apply(&Command::Recover { txn: 1 }).0, aborted);
    assert_eq!(s.apply(&Command::Stage { txn: 1 }).0, aborted);
    let commit = Command::Decide {
        txn: 1,
        commit: true,
    };
    assert_eq!(s.apply(&commit).0, aborted);
    s.apply(&Command::Stage { txn: 2 });
    assert_eq!(
        s.apply(&Command::Recover { txn: 2 }).0,
        Reply::Record(RecordState::Staging)
    );
    assert_eq!(
        s.apply(&Command::Decide {
            txn: 2,
            commit: true
        })
        .0,
        Reply::Record(RecordState::Committed)
    );
    assert_eq!(s.record(2), Some(RecordState::Committed));
}

/// Drives a coordinator against one store (group 0) until quiet; returns the answer's rounds
/// and whether it committed.
fn commit_one(protocol: CommitProtocol) -> (u32, bool) {
    let mut c = Coordinator::new(protocol, None);
    let mut store = GroupStore::new(TxnModel::ListAppend, None);
    let ops = BTreeMap::from([(0, vec![Op::Append(1, 10)])]);
    c.begin(1, ts(5, 1), ops);
    let mut answer = None;
    for _ in 0..10 {
        // One round: every request in flight is applied and answered together.
        for request in c.take_requests() {
            let reply = store.apply(&request.command).0;
            c.reply(request.id, reply);
        }
        if let Some(a) = c.take_answers().pop() {
            answer = Some(a);
        }
    }
    assert!(!c.handles(1), "the transaction is resolved");
    assert!(store.intents().is_empty());
    let a = answer.expect("an answer");
    (a.rounds, matches!(a.outcome, Outcome::Committed(_)))
}

#[test]
fn parallel_commits_answer_after_one_round_and_2pc_after_two() {
    assert_eq!(commit_one(CommitProtocol::Parallel), (1, true));
    assert_eq!(commit_one(CommitProtocol::TwoPhase), (2, true));
}
