//! What both models share when inferring dependencies: the index of who wrote each value,
//! which reads are external (a transaction's first read of a key before it writes the key),
//! which transactions committed, and the inference's output.

use super::anomaly::{Anomaly, AnomalyKind};
use super::graph::Edge;
use super::history::{Atom, Mop, Status, TxnHistory};
use crate::history::HistoryError;
use rustc_hash::FxHashMap;

/// The output of a model's inference: dependency edges and the anomalies visible without
/// cycles (aborted, intermediate and garbage reads, internal inconsistencies...).
#[derive(Debug, Clone, Default)]
pub struct Inference {
    /// ww, wr and rw edges.
    pub edges: Vec<Edge>,
    /// Anomalies found while inferring.
    pub anomalies: Vec<Anomaly>,
}

impl Inference {
    /// Records an anomaly that needs no cycle.
    pub fn found(&mut self, kind: AnomalyKind, txns: Vec<u32>, detail: String) {
        self.anomalies.push(Anomaly {
            kind,
            txns,
            cycle: Vec::new(),
            detail,
        });
    }
}

/// Who wrote a value of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteRef {
    /// The writing transaction.
    pub txn: u32,
    /// Whether this was the transaction's last write to the key (else its version is
    /// intermediate: reading it is G1b).
    pub last: bool,
}

/// (key, value) -> writer, over every transaction (aborted and indeterminate ones too).
pub type Writers = FxHashMap<(Atom, Atom), WriteRef>;

/// Indexes every write. Two writes of the same value to the same key make the history
/// ambiguous (the checker relies on unique values): a bad-input error naming both lines.
pub fn writers(history: &TxnHistory) -> Result<Writers, HistoryError> {
    let count = history
        .txns
        .iter()
        .flat_map(|t| &t.mops)
        .filter(|m| m.written().is_some())
        .count();
    let mut map = Writers::with_capacity_and_hasher(count, Default::default());
    for (t, txn) in history.txns.iter().enumerate() {
        for (i, mop) in txn.mops.iter().enumerate() {
            let Some(value) = mop.written() else { continue };
            let key = mop.key();
            let last = !txn.mops[i + 1..]
                .iter()
                .any(|m| m.written().is_some() && m.key() == key);
            let new = WriteRef {
                txn: t as u32,
                last,
            };
            if let Some(old) = map.insert((key, value), new) {
                if old.txn != new.txn || txn.status != Status::Fail {
                    return Err(HistoryError::new(
                        txn.line,
                        format!(
                            "value {} is written to key {} twice (also by the transaction of line {}): values must be unique per key",
                            history.atoms.show(value),
                            history.atoms.show(key),
                            history.txns[old.txn as usize].line
                        ),
                    ));
                }
            }
        }
    }
    Ok(map)
}

/// A committed transaction's read of a key before any write of its own to that key, the
/// first one (later ones are checked for internal consistency instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExternalRead {
    /// The reader.
    pub txn: u32,
    /// The micro-operation's index.
    pub mop: u32,
    /// Whether the reader writes the key afterwards.
    pub writes_after: bool,
}

/// Every read of a committed transaction, grouped by key, each flagged external or not.
pub fn reads_by_key(history: &TxnHistory) -> FxHashMap<Atom, Vec<(u32, u32, bool)>> {
    let mut by_key: FxHashMap<Atom, Vec<(u32, u32, bool)>> = FxHashMap::default();
    for (t, txn) in history.txns.iter().enumerate() {
        if txn.status != Status::Ok {
            continue;
        }
        for (i, mop) in txn.mops.iter().enumerate() {
            if let Mop::Read { key, .. } = mop {
                let earlier = txn.mops[..i].iter().any(|m| m.key() == *key);
                by_key
                    .entry(*key)
                    .or_default()
                    .push((t as u32, i as u32, !earlier));
            }
        }
    }
    by_key
}

/// Whether transaction `txn` writes `key` after micro-operation `mop`.
pub fn writes_after(history: &TxnHistory, txn: u32, mop: u32, key: Atom) -> bool {
    written_after(&history.txns[txn as usize].mops, mop as usize, key)
        .next()
        .is_some()
}

/// The values `mops` append or write to `key` after micro-operation `i`, in order (a read at
/// `i` that is the key's first operation must show none of them: that is a future read).
pub fn written_after(mops: &[Mop], i: usize, key: Atom) -> impl Iterator<Item = Atom> + '_ {
    mops[i + 1..]
        .iter()
        .filter(move |m| m.key() == key)
        .filter_map(Mop::written)
}

/// Which transactions committed: `ok` ones, and indeterminate ones whose writes someone
/// observed (`observed[t]`).
pub fn committed(history: &TxnHistory, observed: &[bool]) -> Vec<bool> {
    history
        .txns
        .iter()
        .zip(observed)
        .map(|(t, &seen)| t.status == Status::Ok || (t.status == Status::Info && seen))
        .collect()
}

/// Names a transaction in explanations: `T<id>` (its position in the history).
pub fn tname(txn: u32) -> String {
    format!("T{txn}")
}
