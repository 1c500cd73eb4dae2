//! A brute-force serializability oracle for tiny histories: is there a serial order of the
//! committed transactions (every `ok` one, and any subset of the indeterminate ones) in which
//! every read of every `ok` transaction returns exactly what it returned? Aborted
//! transactions never take effect. Exponential: meant for a handful of transactions, to test
//! the graph checker's inference against.

use super::history::{Atom, Mop, ReadValue, Status, TxnHistory, TxnModel};
use rustc_hash::FxHashMap;

/// Most transactions (ok + info) the oracle accepts.
pub const TXNS_MAX: usize = 9;

#[derive(Clone, Default)]
struct State {
    lists: FxHashMap<Atom, Vec<Atom>>,
    regs: FxHashMap<Atom, Atom>,
}

impl State {
    /// Runs a transaction; for an `ok` one, false if a read disagrees.
    fn run(&mut self, model: TxnModel, mops: &[Mop], check: bool) -> bool {
        for m in mops {
            match m {
                Mop::Append { key, value } => self.lists.entry(*key).or_default().push(*value),
                Mop::Write { key, value } => {
                    self.regs.insert(*key, *value);
                }
                Mop::Read { key, value } if check => {
                    let fine = match (model, value) {
                        (TxnModel::ListAppend, ReadValue::List(l)) => {
                            self.lists.get(key).map_or(l.is_empty(), |s| s == l)
                        }
                        (TxnModel::ListAppend, ReadValue::Nil) => {
                            self.lists.get(key).is_none_or(Vec::is_empty)
                        }
                        (TxnModel::RwRegister, ReadValue::Nil) => !self.regs.contains_key(key),
                        (TxnModel::RwRegister, ReadValue::Value(v)) => {
                            self.regs.get(key) == Some(v)
                        }
                        (_, ReadValue::Unknown) => true,
                        _ => false,
                    };
                    if !fine {
                        return false;
                    }
                }
                Mop::Read { .. } => {}
            }
        }
        true
    }
}

/// Whether some serial order explains every read; `None` if the history has more than
/// [`TXNS_MAX`] ok and info transactions.
pub fn serializable(history: &TxnHistory, model: TxnModel) -> Option<bool> {
    some_serial_order(history, model, false)
}

/// Like [`serializable`], with the serial order also respecting real time: a transaction
/// comes after every `ok` one that completed before it was invoked.
pub fn strict_serializable(history: &TxnHistory, model: TxnModel) -> Option<bool> {
    some_serial_order(history, model, true)
}

/// Whether some serial order of the transactions that did not fail (respecting real time if
/// `strict`) explains every read; `None` past [`TXNS_MAX`] of them.
fn some_serial_order(history: &TxnHistory, model: TxnModel, strict: bool) -> Option<bool> {
    let live: Vec<usize> = (0..history.txns.len())
        .filter(|&t| history.txns[t].status != Status::Fail)
        .collect();
    if live.len() > TXNS_MAX {
        return None;
    }
    let mut used = vec![false; history.txns.len()];
    Some(search(
        history,
        model,
        &live,
        &mut used,
        &State::default(),
        strict,
    ))
}

/// Whether `t` may come next: every unused `ok` transaction that completed before `t` was
/// invoked must already be placed.
fn realtime_ready(history: &TxnHistory, live: &[usize], used: &[bool], t: usize) -> bool {
    let invoked = history.txns[t].invoked_at;
    live.iter().all(|&u| {
        let before = history.txns[u].status == Status::Ok
            && history.txns[u].completed_at.is_some_and(|c| c < invoked);
        used[u] || !before
    })
}

/// Depth-first over serial orders: extend by any unused transaction whose reads hold in the
/// current state; succeed once every ok transaction ran (indeterminate ones may be left out).
fn search(
    history: &TxnHistory,
    model: TxnModel,
    live: &[usize],
    used: &mut [bool],
    state: &State,
    realtime: bool,
) -> bool {
    let all_ok = live
        .iter()
        .all(|&t| used[t] || history.txns[t].status != Status::Ok);
    if all_ok {
        return true;
    }
    for &t in live {
        if used[t] || (realtime && !realtime_ready(history, live, used, t)) {
            continue;
        }
        let txn = &history.txns[t];
        let mut next = state.clone();
        if !next.run(model, &txn.mops, txn.status == Status::Ok) {
            continue;
        }
        used[t] = true;
        let found = search(history, model, live, used, &next, realtime);
        used[t] = false;
        if found {
            return true;
        }
    }
    false
}
