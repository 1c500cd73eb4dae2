//! The linearizability search for one partition: Wing & Gong's algorithm with Lowe's
//! just-in-time linearization and a memo table of (linearized set, model state), as in
//! Porcupine and Knossos.
//!
//! Call and return entries sit in one time-ordered doubly linked list. The search walks it from
//! the head: at a call entry it tries to linearize that operation now (the model accepts it and
//! the (set, state) pair is new), removing ("lifting") its call and return from the list; at a
//! return entry, the operation that returns there was not linearized before its return, so the
//! search backtracks. The history is linearizable when the list empties. Operations with unknown
//! outcome return at infinity, so they may be linearized at any point after their call.
//!
//! Cancellation is cooperative and checked inside the loop (known-bugs #16), so a timeout holds
//! whatever the model does.

use crate::model::Model;
use hashbrown::HashTable;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// How often (in loop iterations) the search looks at its cancellation signals.
const CANCEL_CHECK_INTERVAL: u64 = 1024;

/// A cancellation signal: a shared flag, an optional deadline and a memory budget.
#[derive(Debug, Clone, Copy)]
pub struct Cancel<'a> {
    /// Set by another thread to stop the search.
    pub flag: &'a AtomicBool,
    /// Stop at this instant.
    pub deadline: Option<Instant>,
    /// Stop when the memo table of one search would exceed this many bytes (estimated).
    pub memo_bytes_max: usize,
}

/// Default memory budget of one search's memo table: 1 GiB (two run at once on two cores).
pub const DEFAULT_MEMO_BYTES_MAX: usize = 1 << 30;

impl Cancel<'_> {
    /// Whether the flag is set or the deadline has passed.
    pub fn fired(&self) -> bool {
        self.flag.load(Ordering::Relaxed) || self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

/// The result of searching one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchOutcome {
    /// A linearization exists.
    Linearizable,
    /// No order of the operations is consistent with both real time and the model.
    NotLinearizable,
    /// Cancelled (timeout or flag) before an answer.
    Cancelled,
    /// Stopped because the memo table reached its memory budget.
    OutOfMemory,
}

/// The times an operation occupies: `ret = None` means it never returned (infinity).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    /// Invocation time.
    pub call: u64,
    /// Return time, `None` for infinity.
    pub ret: Option<u64>,
}

const NIL: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Entry {
    op: u32,
    is_call: bool,
    prev: u32,
    next: u32,
}

struct EntryList {
    entries: Vec<Entry>,
    /// Index of the sentinel head entry.
    head: u32,
    /// For each op, the index of its call entry and of its return entry.
    call_of: Vec<u32>,
    ret_of: Vec<u32>,
}

impl EntryList {
    fn new(intervals: &[Interval]) -> EntryList {
        let n = intervals.len();
        // (time, kind, op): at equal times calls sort before returns, so operations that touch
        // are treated as concurrent (the permissive reading).
        let mut order: Vec<(u64, u8, u32)> = Vec::with_capacity(2 * n);
        for (i, iv) in intervals.iter().enumerate() {
            let op = u32::try_from(i).unwrap_or(NIL);
            order.push((iv.call, 0, op));
            order.push((iv.ret.unwrap_or(u64::MAX), 1, op));
        }
        order.sort_unstable();
        let head = u32::try_from(order.len()).unwrap_or(NIL);
        let mut entries = Vec::with_capacity(order.len() + 1);
        let mut call_of = vec![NIL; n];
        let mut ret_of = vec![NIL; n];
        for (index, &(_, kind, op)) in order.iter().enumerate() {
            let index = index as u32;
            if kind == 0 {
                call_of[op as usize] = index;
            } else {
                ret_of[op as usize] = index;
            }
            entries.push(Entry {
                op,
                is_call: kind == 0,
                prev: if index == 0 { head } else { index - 1 },
                next: if index + 1 == head { NIL } else { index + 1 },
            });
        }
        entries.push(Entry {
            op: NIL,
            is_call: false,
            prev: NIL,
            next: if head == 0 { NIL } else { 0 },
        });
        EntryList {
            entries,
            head,
            call_of,
            ret_of,
        }
    }

    fn unlink(&mut self, i: u32) {
        let Entry { prev, next, .. } = self.entries[i as usize];
        self.entries[prev as usize].next = next;
        if next != NIL {
            self.entries[next as usize].prev = prev;
        }
    }

    fn relink(&mut self, i: u32) {
        let Entry { prev, next, .. } = self.entries[i as usize];
        self.entries[prev as usize].next = i;
        if next != NIL {
            self.entries[next as usize].prev = i;
        }
    }

    /// Removes an operation's call and return entries.
    fn lift(&mut self, op: u32) {
        self.unlink(self.call_of[op as usize]);
        self.unlink(self.ret_of[op as usize]);
    }

    /// Puts them back (in reverse order of removal, so the links are restored exactly).
    fn unlift(&mut self, op: u32) {
        self.relink(self.ret_of[op as usize]);
        self.relink(self.call_of[op as usize]);
    }

    fn first(&self) -> u32 {
        self.entries[self.head as usize].next
    }
}

/// Bitset of linearized operations with an incrementally maintained Zobrist hash, and the
/// bounds of its interesting part: the search linearizes roughly in time order, so the set is
/// a run of full words (`full`), then a few mixed words up to `top`, then zeros. The memo
/// stores only `full` and the mixed words, a few bytes instead of `n / 8` per entry.
struct Linearized {
    words: Vec<u64>,
    hash: u64,
    /// Leading words with every bit set.
    full: usize,
    /// One past the last nonzero word.
    top: usize,
}

fn zobrist(op: u32) -> u64 {
    // splitmix64 of the index: a fixed, well-mixed key per operation.
    let mut z = u64::from(op).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Linearized {
    fn new(n: usize) -> Self {
        Linearized {
            words: vec![0; n.div_ceil(64)],
            hash: 0,
            full: 0,
            top: 0,
        }
    }

    fn flip(&mut self, op: u32) {
        let w = (op / 64) as usize;
        self.words[w] ^= 1u64 << (op % 64);
        self.hash ^= zobrist(op);
        if self.words[w] & (1u64 << (op % 64)) != 0 {
            self.top = self.top.max(w + 1);
            while self.full < self.words.len() && self.words[self.full] == u64::MAX {
                self.full += 1;
            }
        } else {
            self.full = self.full.min(w);
            while self.top > 0 && self.words[self.top - 1] == 0 {
                self.top -= 1;
            }
        }
        debug_assert!(self.full <= self.top);
    }

    fn contains(&self, op: u32) -> bool {
        self.words[(op / 64) as usize] & (1u64 << (op % 64)) != 0
    }

    /// The mixed words: everything but the full prefix and the zero tail.
    fn mixed(&self) -> &[u64] {
        &self.words[self.full..self.top.max(self.full)]
    }
}

/// One memo entry: the set's hash (combined with the state's), its full-word prefix, where its
/// mixed words sit in the shared arena, and the state.
struct Seen<S> {
    hash: u64,
    full: u32,
    offset: u32,
    len: u32,
    state: S,
}

/// Memo of (linearized set, state) pairs already explored. No allocation per entry: the
/// mixed words of every set live in one arena.
struct Memo<S> {
    seen: HashTable<Seen<S>>,
    arena: Vec<u64>,
    bytes: usize,
    bytes_max: usize,
}

impl<S: Clone + PartialEq> Memo<S> {
    fn new(bytes_max: usize) -> Memo<S> {
        Memo {
            seen: HashTable::new(),
            arena: Vec::new(),
            bytes: 0,
            bytes_max,
        }
    }

    /// Records the pair (`full` and `mixed`: the linearized set; `hash`: of the set and the
    /// state): `Some(true)` if it is new, `Some(false)` if it was explored before, `None` when
    /// recording it would pass the memory budget.
    #[inline]
    fn insert(&mut self, hash: u64, full: u32, mixed: &[u64], state: &S) -> Option<bool> {
        let arena = &self.arena;
        let known = self
            .seen
            .find(hash, |e| {
                e.hash == hash
                    && e.full == full
                    && e.len as usize == mixed.len()
                    && e.state == *state
                    && arena[e.offset as usize..(e.offset + e.len) as usize] == *mixed
            })
            .is_some();
        if known {
            return Some(false);
        }
        self.bytes += std::mem::size_of::<Seen<S>>() + 16 + mixed.len() * 8;
        let offset = u32::try_from(self.arena.len()).ok()?;
        if self.bytes > self.bytes_max {
            return None;
        }
        self.arena.extend_from_slice(mixed);
        let len = mixed.len() as u32;
        self.seen.insert_unique(
            hash,
            Seen {
                hash,
                full,
                offset,
                len,
                state: state.clone(),
            },
            |e| e.hash,
        );
        Some(true)
    }
}

/// Searches for a linearization of `ops` (with their `intervals`) under `model`.
pub fn search<M: Model>(
    model: &M,
    ops: &[M::Op],
    intervals: &[Interval],
    cancel: Cancel<'_>,
) -> SearchOutcome {
    debug_assert_eq!(ops.len(), intervals.len());
    if ops.is_empty() {
        return SearchOutcome::Linearizable;
    }
    if u32::try_from(2 * ops.len() + 1).is_err() {
        return SearchOutcome::Cancelled;
    }
    let mut list = EntryList::new(intervals);
    let mut linearized = Linearized::new(ops.len());
    let mut memo: Memo<M::State> = Memo::new(cancel.memo_bytes_max);
    let state_hasher = rustc_hash::FxBuildHasher;
    let mut stack: Vec<(u32, M::State)> = Vec::new();
    let mut state = model.init();
    let mut entry = list.first();
    let mut iterations: u64 = 0;
    let prunes = model.prunes(ops);
    let mut resets: Vec<u32> = Vec::new();
    let twin_before = twins(ops, intervals);
    while list.first() != NIL {
        iterations += 1;
        if iterations.is_multiple_of(CANCEL_CHECK_INTERVAL) && cancel.fired() {
            return SearchOutcome::Cancelled;
        }
        debug_assert_ne!(
            entry, NIL,
            "a return entry always precedes the end of the list"
        );
        let Entry {
            op, is_call, next, ..
        } = list.entries[entry as usize];
        if is_call {
            // Identical unknown operations take effect in invocation order (see `twins`).
            let twin_waits = twin_before[op as usize].is_some_and(|t| !linearized.contains(t));
            let accepted = (!twin_waits)
                .then(|| model.step(&state, &ops[op as usize]))
                .flatten()
                .filter(|new_state| {
                    linearized.flip(op);
                    let ok = !prunes
                        || open_ops_may_follow(
                            model,
                            ops,
                            &list,
                            op,
                            new_state,
                            &linearized,
                            &mut resets,
                        );
                    linearized.flip(op);
                    ok
                });
            if let Some(new_state) = accepted {
                linearized.flip(op);
                let hash = linearized.hash ^ state_hasher.hash_one(&new_state);
                let Some(new) =
                    memo.insert(hash, linearized.full as u32, linearized.mixed(), &new_state)
                else {
                    return SearchOutcome::OutOfMemory;
                };
                if !new {
                    linearized.flip(op);
                    entry = next;
                } else {
                    stack.push((op, std::mem::replace(&mut state, new_state)));
                    list.lift(op);
                    entry = list.first();
                }
            } else {
                entry = next;
            }
        } else {
            // The operation returning here was not linearized before its return: backtrack.
            let Some((op, previous)) = stack.pop() else {
                return SearchOutcome::NotLinearizable;
            };
            state = previous;
            linearized.flip(op);
            list.unlift(op);
            entry = list.entries[list.call_of[op as usize] as usize].next;
        }
    }
    SearchOutcome::Linearizable
}

/// For each operation of unknown outcome, the previous one (in invocation order) identical to
/// it, if any. Identical unknown operations are interchangeable: in any linearization where a
/// later-invoked twin takes effect before an earlier one (or the earlier one never does), they
/// can trade places (the earlier one was invoked before the later one's point, the later one
/// before the earlier one's), which changes nothing. So the search only lets a twin take
/// effect after its predecessor has, cutting the subsets it would otherwise try.
fn twins<O: Eq + std::hash::Hash>(ops: &[O], intervals: &[Interval]) -> Vec<Option<u32>> {
    let mut unknown: Vec<usize> = (0..ops.len())
        .filter(|&i| intervals[i].ret.is_none())
        .collect();
    unknown.sort_by_key(|&i| (intervals[i].call, i));
    let mut last: rustc_hash::FxHashMap<&O, u32> = Default::default();
    let mut before = vec![None; ops.len()];
    for i in unknown {
        before[i] = last.insert(&ops[i], i as u32);
    }
    before
}

/// Whether every open operation (invoked, not linearized, before the first pending return:
/// the call entries at the head of the list) other than `op` can still take effect from
/// `state` ([`Model::may_follow`]), and whether the operation returning first can: only the
/// open operations can take effect before it (any other is invoked after its return), so it
/// starts from `state` or from what the last open operation that may reset the state
/// ([`Model::may_reset`]) leaves, followed by operations that do not reset it
/// ([`Model::may_follow_first`], [`Model::may_follow_first_after`]). If any says no, no
/// extension of linearizing `op` now succeeds, so the search need not try it. `resets` is a
/// reused buffer.
fn open_ops_may_follow<M: Model>(
    model: &M,
    ops: &[M::Op],
    list: &EntryList,
    op: u32,
    state: &M::State,
    linearized: &Linearized,
    resets: &mut Vec<u32>,
) -> bool {
    let is_linearized = |i: u32| {
        linearized
            .words
            .get((i / 64) as usize)
            .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
    };
    resets.clear();
    let mut entry = list.first();
    while entry != NIL {
        let e = list.entries[entry as usize];
        entry = e.next;
        if e.op == op {
            // `op` is linearized now: neither its call nor its return constrains the rest.
            continue;
        }
        let this = &ops[e.op as usize];
        if !e.is_call {
            return model.may_follow_first(state, this)
                || resets
                    .iter()
                    .any(|&r| model.may_follow_first_after(&ops[r as usize], this));
        }
        if !model.may_follow(state, this, &is_linearized) {
            return false;
        }
        if model.may_reset(this) {
            resets.push(e.op);
        }
    }
    true
}
