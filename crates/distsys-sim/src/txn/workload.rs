//! The clients' transactions and the history they leave: list-append or rw-register
//! transactions over one to four groups, each attempt recorded for the isolation checker.

use super::coordinator::Outcome;
use super::types::{GroupId, Key, Op, ReadResult, Value};
use distsys_check::txn::{Mop, ReadValue, Status, Txn, TxnHistory, TxnModel};
use distsys_patterns::partitioning::{key_hash, Jump, Zipf};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// The key space split over the groups by jump consistent hashing.
#[derive(Debug, Clone)]
pub struct KeySpace {
    /// Keys per group (groups with no key are left out of transactions).
    by_group: BTreeMap<GroupId, Vec<Key>>,
    /// The group of each key.
    group_of: BTreeMap<Key, GroupId>,
}

impl KeySpace {
    /// `keys` keys over `groups` groups.
    pub fn new(keys: u32, groups: usize) -> KeySpace {
        let mut by_group: BTreeMap<GroupId, Vec<Key>> = BTreeMap::new();
        let mut group_of = BTreeMap::new();
        for key in 0..keys {
            let group = Jump::bucket(key_hash(format!("key-{key}").as_bytes()), groups);
            by_group.entry(group).or_default().push(key);
            group_of.insert(key, group);
        }
        KeySpace { by_group, group_of }
    }

    /// The group holding `key`.
    pub fn group(&self, key: Key) -> GroupId {
        self.group_of.get(&key).copied().unwrap_or(0)
    }

    /// A transaction's shape: keys and whether each operation writes, over 1..=4 groups.
    pub fn shape(&self, rng: &mut ChaCha8Rng) -> Vec<(Key, bool)> {
        let groups: Vec<&Vec<Key>> = self.by_group.values().collect();
        let count = rng.random_range(1..=groups.len().min(4));
        let mut chosen: Vec<usize> = (0..groups.len()).collect();
        for i in 0..count {
            let j = rng.random_range(i..chosen.len());
            chosen.swap(i, j);
        }
        let mut shape = Vec::new();
        for &g in &chosen[..count] {
            for _ in 0..rng.random_range(1..=2) {
                let keys = groups[g];
                let key = keys[rng.random_range(0..keys.len())];
                shape.push((key, rng.random_bool(0.5)));
            }
        }
        shape
    }
}

impl KeySpace {
    /// A skewed transaction: 2 to 4 operations on keys drawn by Zipf rank over every key.
    pub fn skewed_shape(&self, zipf: &Zipf, rng: &mut ChaCha8Rng) -> Vec<(Key, bool)> {
        (0..rng.random_range(2..=4))
            .map(|_| {
                let key = zipf.rank(rng.random::<f64>()) as Key;
                (key, rng.random_bool(0.5))
            })
            .collect()
    }
}

/// Builds one attempt's operations per group, drawing fresh unique values.
pub fn attempt_ops(
    shape: &[(Key, bool)],
    model: TxnModel,
    space: &KeySpace,
    next_value: &mut Value,
) -> BTreeMap<GroupId, Vec<Op>> {
    let mut ops: BTreeMap<GroupId, Vec<Op>> = BTreeMap::new();
    for &(key, write) in shape {
        let op = if write {
            *next_value += 1;
            match model {
                TxnModel::ListAppend => Op::Append(key, *next_value),
                TxnModel::RwRegister => Op::Write(key, *next_value),
            }
        } else {
            Op::Read(key)
        };
        ops.entry(space.group(key)).or_default().push(op);
    }
    ops
}

/// The history being recorded, in the checker's own types.
#[derive(Debug, Default)]
pub struct Recorder {
    history: TxnHistory,
    events: u64,
    /// Each attempt's operations by group (in history order).
    ops: Vec<BTreeMap<GroupId, Vec<Op>>>,
}

impl Recorder {
    /// Records an invocation by `process`; returns its position.
    pub fn invoke(&mut self, process: u64, ops: &BTreeMap<GroupId, Vec<Op>>) -> usize {
        let mops = ops
            .values()
            .flatten()
            .map(|op| self.mop(*op, None))
            .collect();
        self.history.txns.push(Txn {
            process: Some(process),
            status: Status::Info,
            mops,
            invoked_at: self.events,
            completed_at: None,
            line: self.history.txns.len() + 1,
            index: None,
        });
        self.events += 1;
        self.ops.push(ops.clone());
        self.history.txns.len() - 1
    }

    /// Records a completion (`None`: indeterminate, the coordinator was lost).
    pub fn complete(&mut self, at: usize, outcome: Option<&Outcome>) {
        let status = match outcome {
            Some(Outcome::Committed(_)) => Status::Ok,
            Some(Outcome::Aborted) => Status::Fail,
            None => Status::Info,
        };
        let mops = match outcome {
            Some(Outcome::Committed(reads)) => self.completed_mops(at, reads),
            _ => self.history.txns[at].mops.clone(),
        };
        let txn = &mut self.history.txns[at];
        txn.status = status;
        txn.mops = mops;
        if outcome.is_some() {
            txn.completed_at = Some(self.events);
            self.events += 1;
        }
    }

    /// The attempt's operations by group.
    pub fn ops(&self, at: usize) -> &BTreeMap<GroupId, Vec<Op>> {
        &self.ops[at]
    }

    /// The attempts' statuses, in history order.
    pub fn statuses(&self) -> impl Iterator<Item = Status> + '_ {
        self.history.txns.iter().map(|t| t.status)
    }

    /// The finished history.
    pub fn into_history(self) -> TxnHistory {
        self.history
    }

    /// The micro-operations with the reads filled in; a group that returned no reads (only a
    /// seeded bug commits without one) has its reads left out.
    fn completed_mops(
        &mut self,
        at: usize,
        reads: &BTreeMap<GroupId, Vec<ReadResult>>,
    ) -> Vec<Mop> {
        let ops = self.ops[at].clone();
        let mut mops = Vec::new();
        for (group, group_ops) in &ops {
            let mut results = reads.get(group).map(|r| r.iter());
            for op in group_ops {
                match (op, results.as_mut()) {
                    (Op::Read(_), Some(results)) => {
                        let result = results.next().cloned();
                        mops.push(self.mop(*op, result));
                    }
                    (Op::Read(_), None) => {}
                    _ => mops.push(self.mop(*op, None)),
                }
            }
        }
        mops
    }

    fn mop(&mut self, op: Op, result: Option<ReadResult>) -> Mop {
        let mut atom = |n: u64| self.history.atoms.intern(&serde_json::Value::from(n));
        match op {
            Op::Append(k, v) => Mop::Append {
                key: atom(u64::from(k)),
                value: atom(v),
            },
            Op::Write(k, v) => Mop::Write {
                key: atom(u64::from(k)),
                value: atom(v),
            },
            Op::Read(k) => {
                let key = atom(u64::from(k));
                let value = match result {
                    None => ReadValue::Unknown,
                    Some(ReadResult::Register(None)) => ReadValue::Nil,
                    Some(ReadResult::Register(Some(v))) => ReadValue::Value(atom(v)),
                    Some(ReadResult::List(list)) => {
                        ReadValue::List(list.into_iter().map(&mut atom).collect())
                    }
                };
                Mop::Read { key, value }
            }
        }
    }
}
