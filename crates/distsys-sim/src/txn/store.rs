//! One group's replicated state machine: an MVCC store with write intents, the timestamp
//! cache, the prepare votes, and the transaction records anchored here. Pure and
//! deterministic: every replica applying the same log reaches the same state.
//!
//! Concurrency control is timestamp ordering with no-wait: a prepare is refused (the
//! transaction aborts and its client retries later) when it meets another transaction's intent
//! on a key it touches, or when it would write below a committed version or a read already
//! served at a later timestamp. Reads at `ts` see the committed versions below `ts`, so the
//! committed transactions are serializable in timestamp order.

use super::types::{Command, Key, Op, ReadResult, RecordState, Reply, Ts, TxnId, TxnMeta, Value};
use super::TxnMutant;
use distsys_check::txn::TxnModel;
use std::collections::{BTreeMap, BTreeSet};

/// A prepared transaction's intents on this group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    /// Its timestamp (the versions' timestamp once committed).
    pub ts: Ts,
    /// Its writes here.
    pub writes: Vec<Op>,
    /// Where its record is.
    pub meta: TxnMeta,
}

/// What applying one command did, beyond the reply (for the run's per-step invariants).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effects {
    /// A transaction whose writes this command installed.
    pub installed: Option<TxnId>,
    /// A record decision this command made (the transaction, committed?).
    pub decided: Option<(TxnId, bool)>,
}

/// The group state machine.
#[derive(Debug, Clone)]
pub struct GroupStore {
    model: TxnModel,
    mutant: Option<TxnMutant>,
    /// Committed versions per key, by timestamp.
    versions: BTreeMap<Key, Vec<(Ts, Value)>>,
    /// The latest timestamp each key was read at.
    read_ts: BTreeMap<Key, Ts>,
    /// Intents by transaction, and the transactions holding an intent on each key.
    intents: BTreeMap<TxnId, Intent>,
    locks: BTreeMap<Key, BTreeSet<TxnId>>,
    /// Each transaction's prepare answer (a refusal also stands for "never prepare").
    votes: BTreeMap<TxnId, Option<Vec<ReadResult>>>,
    /// Transaction records anchored here.
    records: BTreeMap<TxnId, RecordState>,
}

impl GroupStore {
    /// An empty store for the data model, with a seeded bug or none.
    pub fn new(model: TxnModel, mutant: Option<TxnMutant>) -> GroupStore {
        GroupStore {
            model,
            mutant,
            versions: BTreeMap::new(),
            read_ts: BTreeMap::new(),
            intents: BTreeMap::new(),
            locks: BTreeMap::new(),
            votes: BTreeMap::new(),
            records: BTreeMap::new(),
        }
    }

    /// Committed versions per key, by timestamp.
    pub fn versions(&self) -> &BTreeMap<Key, Vec<(Ts, Value)>> {
        &self.versions
    }

    /// Intents still unresolved, by transaction.
    pub fn intents(&self) -> &BTreeMap<TxnId, Intent> {
        &self.intents
    }

    /// The record of a transaction anchored here.
    pub fn record(&self, txn: TxnId) -> Option<RecordState> {
        self.records.get(&txn).copied()
    }

    /// Applies one command from the log.
    pub fn apply(&mut self, command: &Command) -> (Reply, Effects) {
        let mut effects = Effects::default();
        let reply = match command {
            Command::Prepare { txn, ts, ops, meta } => {
                Reply::Vote(self.prepare(*txn, *ts, ops, meta))
            }
            Command::Stage { txn } => {
                let state = *self.records.entry(*txn).or_insert(RecordState::Staging);
                Reply::Record(state)
            }
            Command::Decide { txn, commit } => {
                let decided = if *commit {
                    RecordState::Committed
                } else {
                    RecordState::Aborted
                };
                let state = self.records.entry(*txn).or_insert(RecordState::Staging);
                if *state == RecordState::Staging {
                    *state = decided;
                    effects.decided = Some((*txn, *commit));
                }
                Reply::Record(*state)
            }
            Command::Recover { txn } => {
                let state = *self.records.entry(*txn).or_insert_with(|| {
                    effects.decided = Some((*txn, false));
                    RecordState::Aborted
                });
                Reply::Record(state)
            }
            Command::Probe { txn } => {
                let vote = self.votes.entry(*txn).or_insert(None);
                Reply::Prepared(vote.is_some())
            }
            Command::Resolve {
                txn,
                commit,
                writes,
            } => {
                effects.installed = self.resolve(*txn, *commit, writes);
                Reply::Resolved
            }
        };
        (reply, effects)
    }

    fn prepare(
        &mut self,
        txn: TxnId,
        ts: Ts,
        ops: &[Op],
        meta: &TxnMeta,
    ) -> Option<Vec<ReadResult>> {
        if let Some(vote) = self.votes.get(&txn) {
            return vote.clone();
        }
        if ops.iter().any(|op| self.conflicts(txn, ts, *op, ops)) {
            self.votes.insert(txn, None);
            return None;
        }
        let mut results = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            if let Op::Read(key) = op {
                results.push(self.read(txn, ts, *key, &ops[..i]));
                let seen = self.read_ts.entry(*key).or_insert(ts);
                *seen = (*seen).max(ts);
            }
        }
        let writes: Vec<Op> = ops.iter().copied().filter(|op| op.writes()).collect();
        if !writes.is_empty() {
            for op in &writes {
                self.locks.entry(op.key()).or_default().insert(txn);
            }
            self.intents.insert(
                txn,
                Intent {
                    ts,
                    writes,
                    meta: meta.clone(),
                },
            );
        }
        self.votes.insert(txn, Some(results.clone()));
        Some(results)
    }

    /// Whether `op` of transaction `txn` at `ts` conflicts (no-wait: refuse at once).
    fn conflicts(&self, txn: TxnId, ts: Ts, op: Op, ops: &[Op]) -> bool {
        let key = op.key();
        let writes_key = ops.iter().any(|o| o.writes() && o.key() == key);
        if writes_key && self.mutant == Some(TxnMutant::SkipWwConflictCheck) {
            return false;
        }
        let intent = self
            .locks
            .get(&key)
            .is_some_and(|holders| holders.iter().any(|&t| t != txn));
        // The mutant lets reads pass other transactions' intents.
        let reads_through = self.mutant == Some(TxnMutant::ReadUncommittedIntents) && !op.writes();
        if intent && !reads_through {
            return true;
        }
        if op.writes() {
            let newer_version = self
                .versions
                .get(&key)
                .and_then(|v| v.last())
                .is_some_and(|(vts, _)| *vts >= ts);
            let later_read = self.read_ts.get(&key).is_some_and(|rts| *rts >= ts);
            return newer_version || later_read;
        }
        false
    }

    /// The value of `key` at `ts`, after the transaction's own earlier operations.
    fn read(&self, txn: TxnId, ts: Ts, key: Key, earlier: &[Op]) -> ReadResult {
        let mut visible: Vec<(Ts, Value)> = self
            .versions
            .get(&key)
            .map(|v| v.iter().copied().filter(|(vts, _)| *vts < ts).collect())
            .unwrap_or_default();
        if self.mutant == Some(TxnMutant::ReadUncommittedIntents) {
            for holder in self.locks.get(&key).into_iter().flatten() {
                if let Some(intent) = self.intents.get(holder).filter(|_| *holder != txn) {
                    for w in intent.writes.iter().filter(|w| w.key() == key) {
                        visible.extend(written_value(*w).map(|v| (intent.ts, v)));
                    }
                }
            }
            visible.sort_unstable();
        }
        let own = earlier
            .iter()
            .filter(|op| op.key() == key)
            .filter_map(|op| written_value(*op));
        let values: Vec<Value> = visible.into_iter().map(|(_, v)| v).chain(own).collect();
        match self.model {
            TxnModel::ListAppend => ReadResult::List(values),
            TxnModel::RwRegister => ReadResult::Register(values.last().copied()),
        }
    }

    /// Installs (commit) or drops (abort) the transaction's intents; returns the transaction
    /// when writes were installed.
    fn resolve(&mut self, txn: TxnId, commit: bool, writes: &[Op]) -> Option<TxnId> {
        let intent = self.intents.remove(&txn);
        if let Some(intent) = &intent {
            for op in &intent.writes {
                if let Some(holders) = self.locks.get_mut(&op.key()) {
                    holders.remove(&txn);
                    if holders.is_empty() {
                        self.locks.remove(&op.key());
                    }
                }
            }
        }
        if !commit {
            // Refuse a prepare that arrives after the abort.
            self.votes.entry(txn).or_insert(None);
            return None;
        }
        let (ts, writes) = match (&intent, self.mutant) {
            (Some(intent), _) => (intent.ts, intent.writes.clone()),
            // Mutant: a repeated commit applies the command's writes again.
            (None, Some(TxnMutant::NonIdempotentCommitRetry)) => {
                let ts = self.max_version_ts(writes);
                (ts, writes.to_vec())
            }
            (None, _) => return None,
        };
        for op in &writes {
            if let Some(value) = written_value(*op) {
                let versions = self.versions.entry(op.key()).or_default();
                let at = versions.partition_point(|(vts, _)| *vts <= ts);
                debug_assert!(
                    self.mutant.is_some() || at == versions.len(),
                    "timestamp ordering installs every version after the committed ones"
                );
                versions.insert(at, (ts, value));
            }
        }
        Some(txn)
    }

    /// The newest committed version's timestamp among the keys written (where a repeated
    /// commit lands).
    fn max_version_ts(&self, writes: &[Op]) -> Ts {
        writes
            .iter()
            .filter_map(|op| self.versions.get(&op.key()).and_then(|v| v.last()))
            .map(|(ts, _)| *ts)
            .max()
            .unwrap_or(Ts {
                wall_ms: 0,
                logical: 0,
                txn: 0,
            })
    }
}

/// The value an operation writes, if it writes.
pub fn written_value(op: Op) -> Option<Value> {
    match op {
        Op::Append(_, v) | Op::Write(_, v) => Some(v),
        Op::Read(_) => None,
    }
}
