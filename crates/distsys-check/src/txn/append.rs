//! List-append inference. Every read of a key must be a prefix of the longest read (else
//! incompatible order): the longest read is the key's known version order. Appends of
//! committed transactions no read saw come after all of it (a list only grows), in unknown
//! order among themselves. From that order: ww between consecutive appends, wr from the
//! writer of a read's last element, rw from a reader to the writer of the next element (or,
//! for a read of the whole known order, to every unseen append). Each of these edges is a
//! path of the true dependency graph with the same number of rw edges, so the cycle classes
//! found are those of the true graph.

use super::anomaly::{Anomaly, AnomalyKind};
use super::graph::{Edge, Rel, NONE};
use super::history::{Atom, Mop, ReadValue, Status, TxnHistory};
use super::infer::{
    committed, reads_by_key, tname, writers, writes_after, written_after, Inference, WriteRef,
    Writers,
};
use crate::history::HistoryError;
use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};
use std::sync::atomic::{AtomicBool, Ordering};

fn list(history: &TxnHistory, txn: u32, mop: u32) -> &[Atom] {
    match &history.txns[txn as usize].mops[mop as usize] {
        Mop::Read { value, .. } => as_list(value).unwrap_or(&[]),
        _ => &[],
    }
}

/// A completed list read: `nil` is the empty list.
fn as_list(value: &ReadValue) -> Option<&[Atom]> {
    match value {
        ReadValue::List(l) => Some(l),
        ReadValue::Nil => Some(&[]),
        _ => None,
    }
}

/// What is known of one key after reading every read of it.
struct KeyOrder {
    key: Atom,
    /// The longest read (txn, mop): the version order, when all reads are compatible.
    longest: Option<(u32, u32)>,
    /// Reads (txn, mop, external).
    reads: Vec<(u32, u32, bool)>,
}

/// Infers list-append dependencies and the anomalies visible in reads. Keys are inferred
/// in parallel, and their findings gathered in key order, so the output is the same on any
/// number of threads.
pub fn infer(history: &TxnHistory) -> Result<Inference, HistoryError> {
    let (writes, internal) = rayon::join(|| writers(history), || internal(history));
    let writes = writes?;
    let mut out = Inference {
        edges: Vec::new(),
        anomalies: internal,
    };
    let observed: Vec<AtomicBool> = (0..history.txns.len())
        .map(|_| AtomicBool::new(false))
        .collect();
    let mut keys: Vec<KeyOrder> = reads_by_key(history)
        .into_iter()
        .map(|(key, reads)| KeyOrder {
            key,
            longest: None,
            reads,
        })
        .collect();
    keys.sort_unstable_by_key(|k| k.key);
    let found: Vec<Inference> = keys
        .par_iter_mut()
        .map(|key| {
            let mut out = Inference::default();
            check_reads(history, &writes, key, &observed, &mut out);
            out
        })
        .collect();
    out.anomalies
        .extend(found.into_iter().flat_map(|f| f.anomalies));
    let observed: Vec<bool> = observed.into_iter().map(AtomicBool::into_inner).collect();
    let committed = committed(history, &observed);
    let mut appends: FxHashMap<Atom, Vec<(Atom, u32)>> = FxHashMap::default();
    for (&(key, value), w) in &writes {
        if committed[w.txn as usize] {
            appends.entry(key).or_default().push((value, w.txn));
        }
    }
    let ordered: Vec<(&KeyOrder, Vec<(Atom, u32)>)> = keys
        .iter()
        .filter(|key| key.longest.is_some())
        .map(|key| (key, appends.remove(&key.key).unwrap_or_default()))
        .collect();
    let found: Vec<Inference> = ordered
        .into_par_iter()
        .map(|(key, mut unseen)| {
            let mut out = Inference::default();
            if let Some(longest) = key.longest {
                let order = list(history, longest.0, longest.1);
                let in_order: FxHashSet<Atom> = order.iter().copied().collect();
                unseen.retain(|(v, _)| !in_order.contains(v));
                unseen.sort_unstable();
                edges(history, &writes, key, order, &unseen, &mut out);
            }
            out
        })
        .collect();
    out.edges
        .reserve(found.iter().map(|f| f.edges.len()).sum::<usize>());
    for f in found {
        out.edges.extend(f.edges);
        out.anomalies.extend(f.anomalies);
    }
    Ok(out)
}

/// Orders a key's reads: finds the longest, reports reads that are not its prefix,
/// duplicates, garbage and aborted reads, and marks the writers observed.
fn check_reads(
    history: &TxnHistory,
    writes: &Writers,
    key: &mut KeyOrder,
    observed: &[AtomicBool],
    out: &mut Inference,
) {
    let show = |a| history.atoms.show(a).to_string();
    let k = key.key;
    let Some(&(lt, lm, _)) = key
        .reads
        .iter()
        .max_by_key(|(t, m, _)| (list(history, *t, *m).len(), std::cmp::Reverse((*t, *m))))
    else {
        return;
    };
    let longest = list(history, lt, lm);
    let mut compatible = true;
    for &(t, m, _) in &key.reads {
        let read = list(history, t, m);
        if !longest.starts_with(read) && compatible {
            compatible = false;
            out.found(
                AnomalyKind::IncompatibleOrder,
                vec![t, lt],
                format!(
                    "{} read key {} = {}, {} read {}: neither is a prefix of the other",
                    tname(t),
                    show(k),
                    shown_list(history, read),
                    tname(lt),
                    shown_list(history, longest)
                ),
            );
        }
    }
    let mut seen = FxHashSet::default();
    // Position of the first garbage / aborted element of the longest read.
    let mut bad: Vec<(usize, AnomalyKind, Option<u32>)> = Vec::new();
    for (pos, &e) in longest.iter().enumerate() {
        if !seen.insert(e) {
            out.found(
                AnomalyKind::DuplicateElements,
                vec![lt],
                format!(
                    "{} read key {} = {}: {} appears twice",
                    tname(lt),
                    show(k),
                    shown_list(history, longest),
                    show(e)
                ),
            );
            compatible = false;
        }
        match writes.get(&(k, e)) {
            None => bad.push((pos, AnomalyKind::GarbageRead, None)),
            Some(w) if history.txns[w.txn as usize].status == Status::Fail => {
                bad.push((pos, AnomalyKind::G1a, Some(w.txn)))
            }
            Some(w) => observed[w.txn as usize].store(true, Ordering::Relaxed),
        }
    }
    if !compatible {
        // Reads disagree: check every element of every read, infer no order for the key.
        for &(t, m, _) in &key.reads {
            for &e in list(history, t, m) {
                match writes.get(&(k, e)) {
                    Some(w) if history.txns[w.txn as usize].status != Status::Fail => {
                        observed[w.txn as usize].store(true, Ordering::Relaxed)
                    }
                    _ => {}
                }
            }
        }
    }
    report_bad(history, key, longest, bad, out);
    if compatible {
        key.longest = Some((lt, lm));
    }
}

/// Reports every read holding a garbage or aborted element of the longest read: `bad` holds
/// (position, class, aborted writer) of the first such element of each class.
fn report_bad(
    history: &TxnHistory,
    key: &KeyOrder,
    longest: &[Atom],
    mut bad: Vec<(usize, AnomalyKind, Option<u32>)>,
    out: &mut Inference,
) {
    let show = |a| history.atoms.show(a).to_string();
    let k = key.key;
    bad.sort_by_key(|b| b.1);
    bad.dedup_by_key(|b| b.1);
    for (pos, kind, writer) in bad {
        for &(t, m, _) in &key.reads {
            let read = list(history, t, m);
            if read.len() > pos && read[pos] == longest[pos] {
                let e = show(longest[pos]);
                let why = match writer {
                    Some(w) => format!("{e}, appended by the aborted {}", tname(w)),
                    None => format!("{e}, which no transaction appended"),
                };
                let mut txns = vec![t];
                txns.extend(writer);
                out.found(
                    kind,
                    txns,
                    format!(
                        "{} read key {} = {} holding {why}",
                        tname(t),
                        show(k),
                        shown_list(history, read)
                    ),
                );
            }
        }
    }
}

/// The ww, wr and rw edges of one key with a known order, and its G1b and lost updates.
fn edges(
    history: &TxnHistory,
    writes: &Writers,
    key: &KeyOrder,
    order: &[Atom],
    unseen: &[(Atom, u32)],
    out: &mut Inference,
) {
    let k = key.key;
    let writer = |e: Atom| {
        writes
            .get(&(k, e))
            .filter(|w| history.txns[w.txn as usize].status != Status::Fail)
    };
    let edge = |from: u32, to: u32, rel, a, b| Edge {
        from,
        to,
        rel,
        key: k,
        a,
        b,
    };
    // Each element's writer, looked up once.
    let writer_at: Vec<Option<&WriteRef>> = order.iter().map(|&e| writer(e)).collect();
    for (i, pair) in writer_at.windows(2).enumerate() {
        if let [Some(x), Some(y)] = pair {
            out.edges
                .push(edge(x.txn, y.txn, Rel::Ww, order[i], order[i + 1]));
        }
    }
    if let Some(last) = order
        .last()
        .and_then(|&e| writer_at.last().copied().flatten().map(|w| (e, w.txn)))
    {
        for &(v, t) in unseen {
            out.edges.push(edge(last.1, t, Rel::Ww, last.0, v));
        }
    }
    let mut versions_read: FxHashMap<usize, u32> = FxHashMap::default();
    for &(t, m, external) in &key.reads {
        if !external {
            continue;
        }
        let len = list(history, t, m).len();
        let prev = len.checked_sub(1).map(|i| order[i]);
        if let Some(e) = prev {
            if let Some(w) = writer_at[len - 1] {
                out.edges.push(edge(w.txn, t, Rel::Wr, e, NONE));
                if !w.last && w.txn != t {
                    out.found(
                        AnomalyKind::G1b,
                        vec![t, w.txn],
                        format!(
                            "{} read key {} ending with {}, an intermediate append of {} (it appended to the key again)",
                            tname(t),
                            history.atoms.show(k),
                            history.atoms.show(e),
                            tname(w.txn)
                        ),
                    );
                }
            }
        }
        let a = prev.unwrap_or(NONE);
        match order.get(len) {
            Some(&next) => {
                if let Some(w) = writer_at[len] {
                    out.edges.push(edge(t, w.txn, Rel::Rw, a, next));
                }
            }
            None => {
                for &(v, w) in unseen {
                    out.edges.push(edge(t, w, Rel::Rw, a, v));
                }
            }
        }
        if writes_after(history, t, m, k) {
            lost_update(history, k, len, t, &mut versions_read, out);
        }
    }
}

fn lost_update(
    history: &TxnHistory,
    key: Atom,
    version: usize,
    txn: u32,
    versions_read: &mut FxHashMap<usize, u32>,
    out: &mut Inference,
) {
    match versions_read.get(&version) {
        Some(&first) if first != txn => out.found(
            AnomalyKind::LostUpdate,
            vec![first, txn],
            format!(
                "{} and {} both read key {} at the same version ({} elements) and both appended to it",
                tname(first),
                tname(txn),
                history.atoms.show(key),
                version
            ),
        ),
        Some(_) => {}
        None => {
            versions_read.insert(version, txn);
        }
    }
}

/// A transaction's reads of a key must agree with its own earlier micro-operations: after a
/// read R and appends A, the next read is R ++ A; with no earlier read, it ends with A.
/// Transactions are checked in parallel; the anomalies come out in transaction order.
fn internal(history: &TxnHistory) -> Vec<Anomaly> {
    history
        .txns
        .par_iter()
        .enumerate()
        .filter(|(_, txn)| txn.status == Status::Ok)
        .flat_map_iter(|(t, txn)| {
            (0..txn.mops.len()).filter_map(move |i| internal_read(history, t as u32, i))
        })
        .collect()
}

/// Micro-operation `i` of committed transaction `t`, if it is a list read its own earlier
/// micro-operations contradict: the anomaly.
fn internal_read(history: &TxnHistory, t: u32, i: usize) -> Option<Anomaly> {
    let txn = &history.txns[t as usize];
    let Mop::Read { key, value } = &txn.mops[i] else {
        return None;
    };
    let read = as_list(value)?;
    let mut earlier = txn.mops[..i].iter().rev().filter(|m| m.key() == *key);
    // The common case: the key's first micro-operation in the transaction. It must not show
    // an element the transaction appends only later.
    let Some(first) = earlier.next() else {
        return future_read(history, t, i, *key, read);
    };
    let mut appended = Vec::new();
    let mut before: Option<&[Atom]> = None;
    for m in std::iter::once(first).chain(earlier) {
        match m {
            Mop::Append { value, .. } => appended.push(*value),
            Mop::Read { value, .. } => {
                if let Some(l) = as_list(value) {
                    before = Some(l);
                    break;
                }
            }
            _ => {}
        }
    }
    appended.reverse();
    let fine = match before {
        Some(b) => {
            read.len() == b.len() + appended.len()
                && read.starts_with(b)
                && read.ends_with(&appended)
        }
        None => read.ends_with(&appended),
    };
    if fine {
        return None;
    }
    let expected = match before {
        Some(b) => shown_list(history, &[b, &appended].concat()),
        None => format!("a list ending with {}", shown_list(history, &appended)),
    };
    Some(Anomaly {
        kind: AnomalyKind::Internal,
        txns: vec![t],
        cycle: Vec::new(),
        detail: format!(
            "{} read key {} = {} but its own earlier operations imply {expected}",
            tname(t),
            history.atoms.show(*key),
            shown_list(history, read)
        ),
    })
}

/// Read `i` of transaction `t` (its first operation of `key`) as a future read, if it holds an
/// element the transaction appends after it (elements of a key are unique: only this
/// transaction's own later append writes it).
fn future_read(
    history: &TxnHistory,
    t: u32,
    i: usize,
    key: Atom,
    read: &[Atom],
) -> Option<Anomaly> {
    let txn = &history.txns[t as usize];
    let later = written_after(&txn.mops, i, key).find(|v| read.contains(v))?;
    Some(Anomaly {
        kind: AnomalyKind::FutureRead,
        txns: vec![t],
        cycle: Vec::new(),
        detail: format!(
            "{} read key {} = {}, with element {} it appends only afterwards",
            tname(t),
            history.atoms.show(key),
            shown_list(history, read),
            history.atoms.show(later)
        ),
    })
}

/// A list as `[1 2 3]`, eliding the middle of long ones.
pub fn shown_list(history: &TxnHistory, list: &[Atom]) -> String {
    let show = |s: &[Atom]| {
        s.iter()
            .map(|&a| history.atoms.show(a))
            .collect::<Vec<_>>()
            .join(" ")
    };
    if list.len() <= 12 {
        format!("[{}]", show(list))
    } else {
        format!(
            "[{} ... {}] ({} elements)",
            show(&list[..4]),
            show(&list[list.len() - 4..]),
            list.len()
        )
    }
}
