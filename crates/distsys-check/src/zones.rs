//! A polynomial decision for registers (read, write, compare-and-set) whose written values are
//! unique: the cluster (zone) characterisation of Gibbons & Korach (1997) and Golab, Li & Shah
//! (2011), extended to cas, decided by a topological sort in O(n log n).
//!
//! With unique values every read and every cas names the one operation that wrote the value it
//! saw, so a linearization is a sequence of *clusters*: the writer of a value, the reads of it,
//! then the next writer. A cas that succeeded from `e` to `n` is the last operation of `e`'s
//! cluster and the writer of `n`'s, so the clusters linked by cas form *chains*, each starting
//! at a plain write (or at the initial nil, a virtual write at the beginning of time), and a
//! chain's clusters are consecutive in any linearization. Within a chain the operations fall
//! into *blocks* in a fixed order (writer, reads, cas, reads, cas, ...; a block of reads in any
//! order). For a set of operations write `f` for its earliest return and `s` for its latest
//! invocation; block (or chain) `P` can precede `Q` exactly when nothing in `Q` precedes
//! something in `P` in real time: `s(P) <= f(Q)` (operations touching at an instant are
//! concurrent, as in the search). So the history is linearizable iff
//! - every read and cas sees a value some chain reaches, no value has two successful cas out of
//!   it (the first changes the value, which never comes back);
//! - inside every chain, each block's `f` is at least every earlier block's `s`;
//! - the chains can be ordered so that `s(U) <= f(V)` whenever `U` comes before `V`: the
//!   relation "`V` must precede `U` when `f(V) < s(U)`" is acyclic. A source of the remaining
//!   chains, if any exists, is the one with the smallest `s` or the one with the smallest `f`,
//!   so each step of the topological sort is two ordered-set looks.
//!
//! Every decision is tested against the brute-force oracle (`tests/oracle.rs`).

use crate::search::Interval;
use std::collections::BTreeSet;

/// One operation as the zone algorithm sees it (values interned, 0 = nil, held initially).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneOp {
    /// A write of a value no other operation writes.
    Write(u32),
    /// A completed read.
    Read(u32),
    /// A completed (so successful) cas from the first value to the second.
    Cas(u32, u32),
}

/// Earliest return and latest invocation of a set of operations (times shifted by one, so 0 is
/// the virtual initial write).
#[derive(Debug, Clone, Copy)]
struct Span {
    f: u64,
    s: u64,
}

impl Span {
    const EMPTY: Span = Span { f: u64::MAX, s: 0 };
    fn add(&mut self, call: u64, ret: u64) {
        self.f = self.f.min(ret);
        self.s = self.s.max(call);
    }
}

/// No operation: the sentinel of the per-value tables below.
const NONE: u32 = u32::MAX;

/// How [`decide`] ends early: `Err(None)` the history does not qualify, `Err(Some(false))` a
/// violation found before the chains are ordered.
type Phase<T> = Result<T, Option<bool>>;

/// Decides linearizability for a register with unique written values; `None` if the
/// operations do not qualify (a value written twice, a nil written, an unknown read), so the
/// caller falls back to the general search. Writes and cas of unknown outcome (`ret: None`)
/// are taken as the rewrites of [`crate::model::Model::simplify`] take them: one whose value
/// nothing left observes is dropped (it may never happen), repeatedly; one that is observed
/// took effect (it alone produces its value) before its first observer returned, and gets that
/// return.
pub fn decide(ops: &[ZoneOp], intervals: &[Interval]) -> Option<bool> {
    debug_assert_eq!(ops.len(), intervals.len());
    match decide_in_phases(ops, intervals) {
        Ok(linearizable) => Some(linearizable),
        Err(early) => early,
    }
}

/// The phases of [`decide`], each ending it early through [`Phase`]'s error.
fn decide_in_phases(ops: &[ZoneOp], intervals: &[Interval]) -> Phase<bool> {
    let values = ops
        .iter()
        .map(|op| match *op {
            ZoneOp::Write(v) | ZoneOp::Read(v) => v,
            ZoneOp::Cas(e, n) => e.max(n),
        })
        .max()
        .unwrap_or(0) as usize;
    let times = shifted_times(ops, intervals).ok_or(None)?;
    let writers = Writers::of(ops, values).ok_or(None)?;
    let alive = drop_unobserved_unknowns(ops, &times, &writers.writer, values);
    let (out_cas, reads) = cas_and_reads(ops, &times, &alive, values)?;
    let table = Tables {
        ops,
        times: &times,
        writers: &writers,
        out_cas: &out_cas,
        reads: &reads,
    };
    // Walk every chain from its start; check its blocks; collect its span.
    let mut reached = vec![false; values + 1];
    let mut chains: Vec<Span> = Vec::new();
    let mut members: Vec<usize> = Vec::new();
    for start in 0..=values {
        let starts = start == 0
            || (writers.plain[start]
                && writers.writer[start] != NONE
                && alive[writers.writer[start] as usize]);
        if starts {
            chains.push(table.chain_from(start, &mut reached, &mut members)?);
        }
    }
    // A read or a completed cas of a value no chain reaches (never written, or on a cycle of
    // cas) is impossible; an unknown cas out of such a value never succeeded, so it never
    // happened (and no read of its value can be explained: that read is impossible too).
    let seen_unreached = (0..=values).any(|v| {
        !reached[v]
            && (reads[v].f != u64::MAX
                || (out_cas[v] != NONE && times[out_cas[v] as usize].1.is_some()))
    });
    if seen_unreached {
        return Err(Some(false));
    }
    Ok(sources_all_the_way(&chains))
}

/// Invocation and return of every operation shifted by one, so 0 is the virtual initial write
/// (`None` return: unknown outcome); `None` when a read's outcome is unknown or a time
/// overflows.
fn shifted_times(ops: &[ZoneOp], intervals: &[Interval]) -> Option<Vec<(u64, Option<u64>)>> {
    let mut times = Vec::with_capacity(ops.len());
    for (op, iv) in ops.iter().zip(intervals) {
        let ret = match iv.ret {
            Some(r) => Some(r.checked_add(1)?),
            None if matches!(op, ZoneOp::Read(_)) => return None,
            None => None,
        };
        times.push((iv.call.checked_add(1)?, ret));
    }
    Some(times)
}

/// The one operation that writes each value, and whether it is a plain write.
struct Writers {
    /// Per value: the index of its writer, or [`NONE`].
    writer: Vec<u32>,
    /// Per value: written by a plain write (nil, value 0, by the virtual initial write).
    plain: Vec<bool>,
}

impl Writers {
    /// The writers, or `None` when a value is written twice or nil is written: only with
    /// unique values do the rules of this module hold.
    fn of(ops: &[ZoneOp], values: usize) -> Option<Writers> {
        let mut writer = vec![NONE; values + 1];
        let mut plain = vec![false; values + 1];
        plain[0] = true;
        for (index, op) in ops.iter().enumerate() {
            let written = match *op {
                ZoneOp::Read(_) => continue,
                ZoneOp::Write(v) => {
                    plain[v as usize] = true;
                    v
                }
                ZoneOp::Cas(_, n) => n,
            };
            if written == 0 || writer[written as usize] != NONE {
                return None;
            }
            writer[written as usize] = index as u32;
        }
        Some(Writers { writer, plain })
    }
}

/// Which operations stay: unknown writers nothing observes are dropped, until none is left to
/// drop (dropping an unknown cas removes its observation of the value it came from).
fn drop_unobserved_unknowns(
    ops: &[ZoneOp],
    times: &[(u64, Option<u64>)],
    writer: &[u32],
    values: usize,
) -> Vec<bool> {
    let mut alive = vec![true; ops.len()];
    let mut observers = vec![0u32; values + 1];
    for op in ops {
        match *op {
            ZoneOp::Read(v) => observers[v as usize] += 1,
            ZoneOp::Cas(e, _) => observers[e as usize] += 1,
            ZoneOp::Write(_) => {}
        }
    }
    let mut unobserved: Vec<u32> = (1..=values as u32)
        .filter(|&v| observers[v as usize] == 0)
        .collect();
    while let Some(v) = unobserved.pop() {
        let w = writer[v as usize];
        if w == NONE || times[w as usize].1.is_some() || !alive[w as usize] {
            continue;
        }
        alive[w as usize] = false;
        if let ZoneOp::Cas(e, _) = ops[w as usize] {
            observers[e as usize] -= 1;
            if observers[e as usize] == 0 && e != 0 {
                unobserved.push(e);
            }
        }
    }
    alive
}

/// Per value: the cas that leaves it (or [`NONE`]) and the span of its reads; a violation when
/// two cas that stay leave one value (the first replaced it for good).
fn cas_and_reads(
    ops: &[ZoneOp],
    times: &[(u64, Option<u64>)],
    alive: &[bool],
    values: usize,
) -> Phase<(Vec<u32>, Vec<Span>)> {
    let mut out_cas = vec![NONE; values + 1];
    let mut reads: Vec<Span> = vec![Span::EMPTY; values + 1];
    for (index, op) in ops.iter().enumerate() {
        let (call, ret) = times[index];
        match *op {
            ZoneOp::Read(v) => reads[v as usize].add(call, ret.ok_or(None)?),
            ZoneOp::Write(_) => {}
            ZoneOp::Cas(e, _) if alive[index] => {
                if out_cas[e as usize] != NONE {
                    return Err(Some(false));
                }
                out_cas[e as usize] = index as u32;
            }
            ZoneOp::Cas(..) => {}
        }
    }
    Ok((out_cas, reads))
}

/// The per-value tables a chain walk reads.
struct Tables<'a> {
    ops: &'a [ZoneOp],
    times: &'a [(u64, Option<u64>)],
    writers: &'a Writers,
    out_cas: &'a [u32],
    reads: &'a [Span],
}

impl Tables<'_> {
    /// Walks the chain starting at value `start` (marking its values reached), checks that
    /// its blocks (writer, reads, cas, reads, ...) can come in that order, and returns its span
    /// (`members`: a buffer reused across chains).
    fn chain_from(
        &self,
        start: usize,
        reached: &mut [bool],
        members: &mut Vec<usize>,
    ) -> Phase<Span> {
        members.clear();
        let mut v = start;
        loop {
            if reached[v] {
                return Err(Some(false));
            }
            reached[v] = true;
            members.push(v);
            let cas = self.out_cas[v];
            if cas == NONE {
                break;
            }
            match self.ops[cas as usize] {
                ZoneOp::Cas(_, n) => v = n as usize,
                _ => return Err(None),
            }
        }
        let writer_ret = self.writer_returns(members);
        let mut chain = Span::EMPTY;
        let mut earlier_s = 0u64;
        let mut block = |span: Span, chain: &mut Span| -> bool {
            if span.f < earlier_s {
                return false;
            }
            earlier_s = earlier_s.max(span.s);
            chain.f = chain.f.min(span.f);
            chain.s = chain.s.max(span.s);
            true
        };
        for (slot, &value) in members.iter().enumerate() {
            let writer_span = if value == 0 {
                Span { f: 0, s: 0 }
            } else {
                Span {
                    f: writer_ret[slot],
                    s: self.times[self.writers.writer[value] as usize].0,
                }
            };
            if !block(writer_span, &mut chain) {
                return Err(Some(false));
            }
            if self.reads[value].f != u64::MAX && !block(self.reads[value], &mut chain) {
                return Err(Some(false));
            }
        }
        Ok(chain)
    }

    /// Returns of the chain's writers, unknown ones pinned to their first observer, from the
    /// end of the chain back (a cas out of a value observes it).
    fn writer_returns(&self, members: &[usize]) -> Vec<u64> {
        let mut writer_ret = vec![0u64; members.len()];
        let mut next_writer_ret = u64::MAX;
        for (slot, &value) in members.iter().enumerate().rev() {
            let ret = if value == 0 {
                0
            } else {
                self.times[self.writers.writer[value] as usize]
                    .1
                    .unwrap_or_else(|| self.reads[value].f.min(next_writer_ret))
            };
            writer_ret[slot] = ret;
            next_writer_ret = ret;
        }
        writer_ret
    }
}

/// Whether the chains have a topological order under "`V` before `U` when `f(V) < s(U)`".
fn sources_all_the_way(chains: &[Span]) -> bool {
    let mut by_s: BTreeSet<(u64, usize)> =
        chains.iter().enumerate().map(|(i, c)| (c.s, i)).collect();
    let mut by_f: BTreeSet<(u64, usize)> =
        chains.iter().enumerate().map(|(i, c)| (c.f, i)).collect();
    let is_source = |v: usize, by_f: &BTreeSet<(u64, usize)>| {
        let min_f_others = by_f
            .iter()
            .find(|&&(_, other)| other != v)
            .map_or(u64::MAX, |&(t, _)| t);
        chains[v].s <= min_f_others
    };
    while let Some(&(_, a)) = by_s.first() {
        let pick = if is_source(a, &by_f) {
            a
        } else {
            match by_f.first() {
                Some(&(_, m)) if is_source(m, &by_f) => m,
                _ => return false,
            }
        };
        by_s.remove(&(chains[pick].s, pick));
        by_f.remove(&(chains[pick].f, pick));
    }
    true
}
