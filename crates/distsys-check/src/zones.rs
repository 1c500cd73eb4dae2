//! A polynomial decision for read/write registers whose written values are unique: the
//! cluster (zone) characterisation of Gibbons & Korach (1997) and Golab, Li & Shah (2011),
//! decided by a topological sort in O(n log n).
//!
//! With unique values every read names the one write it read from, so a linearization is a
//! sequence of *clusters*: a write followed by the reads of its value, before the next write;
//! the initial nil is a virtual write at the beginning of time. Write `f(C)` for the earliest
//! return in cluster `C` and `s(C)` for its latest invocation. Cluster `X` can precede cluster
//! `Y` exactly when nothing in `Y` precedes something in `X` in real time, that is when
//! `s(X) <= f(Y)` (operations touching at an instant are concurrent, as in the search). Inside a
//! cluster the write must come first, so no read may return before its write is invoked. The
//! history is linearizable iff those per-cluster conditions hold and the relation "`Y` must
//! precede `X` when `f(Y) < s(X)`" is acyclic: a topological order of the clusters is then a
//! linearization (reads inside a cluster in real-time order), and any linearization orders the
//! clusters topologically. A source of the remaining clusters, if any exists, is either the one
//! with the smallest `s` or the one with the smallest `f`, so each step is two heap looks.
//!
//! Every decision is tested against the brute-force oracle (`tests/oracle.rs`).

use crate::search::Interval;
use std::collections::BTreeSet;

/// One operation as the zone algorithm sees it: a write of `value`, or a read of `value`
/// (0 = nil, only held initially).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneOp {
    /// A write of a value no other operation writes.
    Write(u32),
    /// A completed read.
    Read(u32),
}

/// Decides linearizability for completed operations of a register with unique written
/// values; `None` if the operations do not qualify (an unknown outcome, a value written twice
/// or a nil written), so the caller falls back to the general search.
pub fn decide(ops: &[ZoneOp], intervals: &[Interval]) -> Option<bool> {
    debug_assert_eq!(ops.len(), intervals.len());
    // Times shifted by one so that 0 is "before everything" for the initial nil.
    let values = ops
        .iter()
        .map(|op| match *op {
            ZoneOp::Write(v) | ZoneOp::Read(v) => v,
        })
        .max()
        .unwrap_or(0) as usize;
    // Per value: (write call, write ret) of its one write, earliest return, latest call.
    let mut write: Vec<Option<(u64, u64)>> = vec![None; values + 1];
    let mut f = vec![u64::MAX; values + 1];
    let mut s = vec![0u64; values + 1];
    write[0] = Some((0, 0));
    f[0] = 0;
    for (op, iv) in ops.iter().zip(intervals) {
        let call = iv.call.checked_add(1)?;
        let ret = iv.ret?.checked_add(1)?;
        let v = match *op {
            ZoneOp::Write(0) => return None,
            ZoneOp::Write(v) => {
                if write[v as usize].replace((call, ret)).is_some() {
                    return None;
                }
                v
            }
            ZoneOp::Read(v) => v,
        } as usize;
        f[v] = f[v].min(ret);
        s[v] = s[v].max(call);
    }
    // Reads of a value nobody wrote, or returning before their write was invoked.
    for (op, iv) in ops.iter().zip(intervals) {
        if let ZoneOp::Read(v) = *op {
            match write[v as usize] {
                None => return Some(false),
                Some((call, _)) if iv.ret.map_or(u64::MAX, |r| r + 1) < call => return Some(false),
                Some(_) => {}
            }
        }
    }
    // Topological sort of the clusters under "Y before X when f(Y) < s(X)".
    let mut by_s: BTreeSet<(u64, usize)> = BTreeSet::new();
    let mut by_f: BTreeSet<(u64, usize)> = BTreeSet::new();
    for v in (0..=values).filter(|&v| write[v].is_some()) {
        by_s.insert((s[v], v));
        by_f.insert((f[v], v));
    }
    let is_source = |v: usize, by_f: &BTreeSet<(u64, usize)>| {
        let min_f_others = by_f
            .iter()
            .find(|&&(_, other)| other != v)
            .map_or(u64::MAX, |&(t, _)| t);
        s[v] <= min_f_others
    };
    while let Some(&(_, a)) = by_s.first() {
        let pick = if is_source(a, &by_f) {
            a
        } else {
            match by_f.first() {
                Some(&(_, m)) if is_source(m, &by_f) => m,
                _ => return Some(false),
            }
        };
        by_s.remove(&(s[pick], pick));
        by_f.remove(&(f[pick], pick));
    }
    Some(true)
}
