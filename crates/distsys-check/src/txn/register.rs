//! Read-write register inference, as far as it is sound with unique written values:
//! - wr: a read of value v depends on v's writer;
//! - the initial state (`nil`) precedes every version: a reader of `nil` anti-depends (rw) on
//!   every committed writer of the key;
//! - write follows read: a transaction that read v and then wrote the key installed its
//!   version after v (ww from v's writer, rw from v's other readers). Were it not so, v's
//!   writer and this transaction would already form a G1c cycle, so no verdict changes.
//!
//! Other version orders (two blind writes) stay unknown, so some non-serializable histories
//! pass: the checker is sound (every anomaly it reports is real) but not complete here.

use super::anomaly::AnomalyKind;
use super::graph::{Edge, Rel, NONE};
use super::history::{Atom, Mop, ReadValue, Status, TxnHistory};
use super::infer::{
    committed, reads_by_key, tname, writers, writes_after, written_after, Inference, Writers,
};
use crate::history::HistoryError;
use rustc_hash::FxHashMap;

/// A register version: `None` is the initial state.
type Version = Option<Atom>;

/// A key's external reads: (reader, micro-operation, version read).
type KeyReads = (Atom, Vec<(u32, u32, Version)>);

/// Infers rw-register dependencies and the anomalies visible in reads.
pub fn infer(history: &TxnHistory) -> Result<Inference, HistoryError> {
    let writes = writers(history)?;
    let mut out = Inference::default();
    internal(history, &mut out);
    let mut by_key: Vec<_> = reads_by_key(history).into_iter().collect();
    by_key.sort_unstable_by_key(|(k, _)| *k);
    let mut observed = vec![false; history.txns.len()];
    // key -> external reads (txn, mop, version)
    let mut external: Vec<KeyReads> = Vec::new();
    for (key, reads) in by_key {
        let mut ext = Vec::new();
        for (t, m, is_external) in reads {
            let version = match &history.txns[t as usize].mops[m as usize] {
                Mop::Read {
                    value: ReadValue::Value(v),
                    ..
                } => Some(*v),
                _ => None,
            };
            if let Some(v) = version {
                check_read(
                    history,
                    &writes,
                    key,
                    t,
                    v,
                    is_external,
                    &mut observed,
                    &mut out,
                );
            }
            if is_external {
                ext.push((t, m, version));
            }
        }
        external.push((key, ext));
    }
    let committed = committed(history, &observed);
    let mut final_writes: FxHashMap<Atom, Vec<(Atom, u32)>> = FxHashMap::default();
    for (&(key, value), w) in &writes {
        if w.last && committed[w.txn as usize] {
            final_writes.entry(key).or_default().push((value, w.txn));
        }
    }
    for (key, reads) in &external {
        let mut finals = final_writes.remove(key).unwrap_or_default();
        finals.sort_unstable();
        edges(history, &writes, *key, reads, &finals, &mut out);
    }
    Ok(out)
}

/// A read of a written value: garbage if nobody wrote it, G1a if its writer aborted, G1b if
/// it was not its writer's last write of the key.
#[allow(clippy::too_many_arguments)]
fn check_read(
    history: &TxnHistory,
    writes: &Writers,
    key: Atom,
    txn: u32,
    value: Atom,
    external: bool,
    observed: &mut [bool],
    out: &mut Inference,
) {
    let (k, v) = (history.atoms.show(key), history.atoms.show(value));
    match writes.get(&(key, value)) {
        None => out.found(
            AnomalyKind::GarbageRead,
            vec![txn],
            format!(
                "{} read key {k} = {v}, which no transaction wrote",
                tname(txn)
            ),
        ),
        Some(w) if history.txns[w.txn as usize].status == Status::Fail => out.found(
            AnomalyKind::G1a,
            vec![txn, w.txn],
            format!(
                "{} read key {k} = {v}, written by the aborted {}",
                tname(txn),
                tname(w.txn)
            ),
        ),
        Some(w) => {
            observed[w.txn as usize] = true;
            if external && !w.last && w.txn != txn {
                out.found(
                    AnomalyKind::G1b,
                    vec![txn, w.txn],
                    format!(
                        "{} read key {k} = {v}, an intermediate write of {} (it wrote the key again)",
                        tname(txn),
                        tname(w.txn)
                    ),
                );
            }
        }
    }
}

fn edges(
    history: &TxnHistory,
    writes: &Writers,
    key: Atom,
    reads: &[(u32, u32, Version)],
    finals: &[(Atom, u32)],
    out: &mut Inference,
) {
    let edge = |from, to, rel, a, b| Edge {
        from,
        to,
        rel,
        key,
        a,
        b,
    };
    let writer = |v: Atom| {
        writes
            .get(&(key, v))
            .filter(|w| history.txns[w.txn as usize].status != Status::Fail)
    };
    let mut readers: FxHashMap<Version, Vec<u32>> = FxHashMap::default();
    for &(t, _, version) in reads {
        readers.entry(version).or_default().push(t);
        match version {
            Some(v) => {
                if let Some(w) = writer(v) {
                    out.edges.push(edge(w.txn, t, Rel::Wr, v, NONE));
                }
            }
            None => {
                for &(v, w) in finals {
                    out.edges.push(edge(t, w, Rel::Rw, NONE, v));
                }
            }
        }
    }
    let mut writers_of: FxHashMap<Version, u32> = FxHashMap::default();
    for &(t, m, version) in reads {
        if !writes_after(history, t, m, key) {
            continue;
        }
        let mine = last_write(history, t, key);
        if let (Some(v), Some(mine)) = (version, mine) {
            if let Some(w) = writer(v) {
                out.edges.push(edge(w.txn, t, Rel::Ww, v, mine));
            }
            for &r in readers.get(&version).into_iter().flatten() {
                out.edges.push(edge(r, t, Rel::Rw, v, mine));
            }
        }
        match writers_of.get(&version) {
            Some(&first) if first != t => out.found(
                AnomalyKind::LostUpdate,
                vec![first, t],
                format!(
                    "{} and {} both read key {} = {} and both wrote it",
                    tname(first),
                    tname(t),
                    history.atoms.show(key),
                    version.map_or("nil", |v| history.atoms.show(v))
                ),
            ),
            Some(_) => {}
            None => {
                writers_of.insert(version, t);
            }
        }
    }
}

fn last_write(history: &TxnHistory, txn: u32, key: Atom) -> Option<Atom> {
    history.txns[txn as usize]
        .mops
        .iter()
        .rev()
        .find(|m| m.key() == key && m.written().is_some())
        .and_then(Mop::written)
}

/// Read `i` of transaction `t` (its first operation of `key`): a future read if it returned
/// a value the transaction writes to the key only afterwards (a key's written values are
/// unique: no one else wrote it).
fn future_read(
    history: &TxnHistory,
    t: u32,
    i: usize,
    key: Atom,
    value: &ReadValue,
    out: &mut Inference,
) {
    let ReadValue::Value(v) = value else {
        return;
    };
    if written_after(&history.txns[t as usize].mops, i, key).any(|w| w == *v) {
        out.found(
            AnomalyKind::FutureRead,
            vec![t],
            format!(
                "{} read key {} = {}, a value it writes only afterwards",
                tname(t),
                history.atoms.show(key),
                history.atoms.show(*v)
            ),
        );
    }
}

/// A read must return the transaction's own last write of the key, or else repeat its own
/// last read of it.
fn internal(history: &TxnHistory, out: &mut Inference) {
    for (t, txn) in history.txns.iter().enumerate() {
        if txn.status != Status::Ok {
            continue;
        }
        for (i, mop) in txn.mops.iter().enumerate() {
            let Mop::Read { key, value } = mop else {
                continue;
            };
            let before = txn.mops[..i].iter().rev().find(|m| m.key() == *key);
            let expected = match before {
                Some(Mop::Write { value: w, .. }) => ReadValue::Value(*w),
                Some(Mop::Read { value: r, .. }) if *r != ReadValue::Unknown => r.clone(),
                Some(_) => continue,
                None => {
                    future_read(history, t as u32, i, *key, value, out);
                    continue;
                }
            };
            if *value != expected {
                let show = |r: &ReadValue| match r {
                    ReadValue::Value(v) => history.atoms.show(*v).to_string(),
                    _ => "nil".to_string(),
                };
                out.found(
                    AnomalyKind::Internal,
                    vec![t as u32],
                    format!(
                        "{} read key {} = {} but its own earlier operations imply {}",
                        tname(t as u32),
                        history.atoms.show(*key),
                        show(value),
                        show(&expected)
                    ),
                );
            }
        }
    }
}
