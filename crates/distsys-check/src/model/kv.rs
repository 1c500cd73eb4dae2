//! One key of a key-value store: get, put, append (string concatenation), cas, delete.
//! Partitioning by key (P-compositionality) makes the whole store linearizable iff every key is.
//! An absent key and the empty string are the same value (Jepsen's kv tests read a missing key
//! as `""`; the JSON Lines format reads it as `null`). Other values compare by strict JSON
//! equality (`1` is not `"1"`); an append concatenates the text of the value (a string's
//! characters, any other value's JSON text) and always leaves a string.

use super::register::retain_marked;
use super::Model;
use crate::history::{OpKind, Operation, ReadValue, SharedText};
use crate::search::Interval;
use serde_json::Value;

/// The key-value model (per key).
#[derive(Debug, Clone, Copy, Default)]
pub struct KvModel;

/// A present value: a non-empty string, or any other JSON value held as its JSON text
/// (`json`). The text is a [`SharedText`], so the reads of an append-only key share one text
/// (compared in constant time when they do) instead of holding a copy each.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KvValue {
    /// Whether the value is not a string (`text` is then its JSON text).
    pub json: bool,
    /// The string's characters or the value's JSON text.
    pub text: SharedText,
}

impl KvValue {
    fn string(text: SharedText) -> Self {
        KvValue { json: false, text }
    }

    fn is_string(&self) -> bool {
        !self.json
    }
}

/// A key-value operation on one key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KvOp {
    /// A completed get that returned this value (`None` = absent); `growing`: the key has no
    /// put, delete or cas, so its value only ever grows by appends.
    Get(Option<KvValue>, bool),
    /// Put a value (`None`: the empty string or null, same as absent).
    Put(Option<KvValue>),
    /// Append to the value (absent counts as empty). The second field is no part of the
    /// meaning: the longest string a get of the key returned, so that a state that grows along
    /// it is held as its prefix instead of a new copy (see [`Model::step`]). The third,
    /// `unseen`: a completed append whose text no observer that can follow it contains, so every
    /// state it leaves behaves alike until the next put, delete or cas resets the value (see
    /// [`KvModel::simplify`]); the search then holds them as one poisoned state.
    Append(Option<KvValue>, Option<SharedText>, bool),
    /// Remove the key.
    Delete,
    /// Compare-and-set; `known`: completed ok.
    Cas {
        /// The value the cas expects.
        expected: Option<KvValue>,
        /// The value it sets.
        new: Option<KvValue>,
        /// Whether it completed ok (else its outcome is unknown).
        known: bool,
    },
}

fn value(v: &Value) -> Option<KvValue> {
    match v {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(KvValue::string(SharedText::new(s.as_str()))),
        other => Some(KvValue {
            json: true,
            text: SharedText::new(other.to_string()),
        }),
    }
}

/// A read's result as a value: a shared text stays shared.
fn read_value(v: &ReadValue) -> Option<KvValue> {
    match v {
        ReadValue::Json(v) => value(v),
        ReadValue::Text(t) if t.is_empty() => None,
        ReadValue::Text(t) => Some(KvValue::string(t.clone())),
    }
}

/// The text an append concatenates: a string's characters, another value's JSON text.
fn text(v: &KvValue) -> &str {
    v.text.as_str()
}

impl Model for KvModel {
    type State = Option<KvValue>;
    type Op = KvOp;

    fn prepare(&self, ops: &[Operation]) -> Result<Vec<KvOp>, (usize, String)> {
        let growing = ops
            .iter()
            .all(|op| matches!(op.kind, OpKind::Read | OpKind::Append));
        let mut longest: Option<SharedText> = None;
        for op in ops.iter().filter(|op| op.kind == OpKind::Read) {
            if let Some(v) = op.output.as_ref().and_then(read_value) {
                if v.is_string() && longest.as_ref().is_none_or(|l| v.text.len() > l.len()) {
                    longest = Some(v.text);
                }
            }
        }
        ops.iter()
            .map(|op| {
                Ok(match op.kind {
                    OpKind::Read => KvOp::Get(op.output.as_ref().and_then(read_value), growing),
                    OpKind::Write => KvOp::Put(value(&op.input)),
                    OpKind::Append => KvOp::Append(value(&op.input), longest.clone(), false),
                    OpKind::Delete => KvOp::Delete,
                    OpKind::Cas => match op.input.as_array().map(Vec::as_slice) {
                        Some([expected, new]) => KvOp::Cas {
                            expected: value(expected),
                            new: value(new),
                            known: op.is_complete(),
                        },
                        _ => {
                            return Err((
                                op.line,
                                format!("cas value must be [expected, new], got {}", op.input),
                            ))
                        }
                    },
                    OpKind::Add => {
                        return Err((
                            op.line,
                            "the kv model has no add operation (use --model set)".into(),
                        ))
                    }
                })
            })
            .collect()
    }

    fn init(&self) -> Self::State {
        None
    }

    fn step(&self, state: &Self::State, op: &KvOp) -> Option<Self::State> {
        match op {
            KvOp::Get(v, _) => (v == state).then(|| state.clone()),
            KvOp::Put(v) => Some(v.clone()),
            KvOp::Append(_, _, true) => Some(Some(poisoned())),
            KvOp::Append(_, _, false) if state.as_ref().is_some_and(is_poisoned) => {
                Some(state.clone())
            }
            KvOp::Append(v, along, false) => Some(match (state, v) {
                (None, None) => None,
                (Some(s), None) if s.is_string() => Some(s.clone()),
                (Some(s), None) => Some(KvValue::string(s.text.clone())),
                (None, Some(v)) => Some(KvValue::string(v.text.clone())),
                (Some(s), Some(v)) => Some(KvValue::string(
                    along
                        .as_ref()
                        .and_then(|along| along.extension(&s.text, text(v)))
                        .unwrap_or_else(|| SharedText::new(format!("{}{}", text(s), text(v)))),
                )),
            }),
            KvOp::Delete => Some(None),
            KvOp::Cas {
                expected,
                new,
                known,
            } => {
                if expected == state {
                    Some(new.clone())
                } else if *known {
                    None
                } else {
                    Some(state.clone())
                }
            }
        }
    }

    fn prunes(&self, ops: &[KvOp]) -> bool {
        ops.iter()
            .any(|op| matches!(op, KvOp::Get(..) | KvOp::Cas { known: true, .. }))
    }

    fn may_reset(&self, op: &KvOp) -> bool {
        matches!(op, KvOp::Put(_) | KvOp::Delete | KvOp::Cas { .. })
    }

    /// With appends (and gets) only before it, a get can return, and a completed cas expect,
    /// only a value appends can build from the current one (see [`by_appends`]).
    fn may_follow_first(&self, state: &Self::State, op: &KvOp) -> bool {
        observed(op).is_none_or(|wanted| by_appends(state, wanted))
    }

    /// After a put, a delete or a cas that succeeds (a failing one changes nothing), the
    /// value is the one it sets.
    fn may_follow_first_after(&self, reset: &KvOp, op: &KvOp) -> bool {
        let set = match reset {
            KvOp::Put(v) | KvOp::Cas { new: v, .. } => v,
            KvOp::Delete => &None,
            _ => return true,
        };
        observed(op).is_none_or(|wanted| by_appends(set, wanted))
    }

    /// A key with gets and appends only, whose longest get splits into the appends' values in
    /// exactly one way: its states are the prefixes of that get's value, so each append is a
    /// cas from one prefix to the next and [`crate::zones`] decides it (see [`append_chain`]).
    /// With puts too, every value unique: one such chain per put (see [`put_append_chains`]).
    ///
    /// A key with no appends whose put and cas values are unique (and never absent) is a
    /// register with unique values, decided by [`crate::zones`] too.
    fn decide_fast(&self, ops: &[KvOp], intervals: &[Interval]) -> Option<(bool, &'static str)> {
        let decided = if ops.iter().any(|op| matches!(op, KvOp::Append(..))) {
            if ops.iter().any(|op| matches!(op, KvOp::Put(_))) {
                put_append_chains(ops, intervals)
            } else {
                append_chain(ops, intervals)
            }
        } else {
            use crate::zones::ZoneOp;
            let mut ids: rustc_hash::FxHashMap<KvValue, u32> = Default::default();
            let mut id = |v: &Option<KvValue>| -> u32 {
                v.as_ref().map_or(0, |v| {
                    let next = ids.len() as u32 + 1;
                    *ids.entry(v.clone()).or_insert(next)
                })
            };
            let zone_ops = ops
                .iter()
                .map(|op| match op {
                    KvOp::Get(v, _) => Some(ZoneOp::Read(id(v))),
                    KvOp::Put(v @ Some(_)) => Some(ZoneOp::Write(id(v))),
                    KvOp::Cas {
                        expected,
                        new: new @ Some(_),
                        ..
                    } => Some(ZoneOp::Cas(id(expected), id(new))),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()?;
            crate::zones::decide(&zone_ops, intervals)
        };
        decided.map(|linearizable| (linearizable, super::register::ZONES))
    }

    /// On a key with appends only, nothing can reset the value: a get can still be satisfied
    /// only by appends (see [`by_appends`]).
    fn may_follow(&self, state: &Self::State, op: &KvOp, _: &dyn Fn(u32) -> bool) -> bool {
        match op {
            KvOp::Get(wanted, true) => by_appends(state, wanted),
            _ => true,
        }
    }

    /// The register's two rewrites (see [`super::RegisterModel`]), adapted to appends:
    ///
    /// - **drop** an unknown put, append or cas whose (non-empty) text occurs in no read's
    ///   result and no cas's expected value with a chance to see it (returning at or after its
    ///   invocation). From where it takes effect to the next put or delete, the value contains
    ///   that text (appends only extend it), so nothing there reads it or succeeds a cas on it;
    ///   removing it leaves the later state unchanged after that put or delete.
    /// - **pin** an unknown put or cas of a present value no other operation writes, on a key
    ///   with no appends (else appends could build the same value), to the return of its first
    ///   completed observer.
    ///
    /// The substring scans are bounded (`SCAN_BUDGET_BYTES`); past the bound operations are
    /// kept as they are, which is always exact.
    fn simplify(&self, ops: &mut Vec<KvOp>, intervals: &mut Vec<Interval>) {
        const SCAN_BUDGET_BYTES: usize = 64 << 20;
        debug_assert_eq!(ops.len(), intervals.len());
        let has_appends = ops.iter().any(|op| matches!(op, KvOp::Append(..)));
        // Every observation: the value a completed get returned or a cas expected, and the
        // observer's return (`None`: an unknown cas).
        let observations: Vec<(&KvValue, Option<u64>)> = ops
            .iter()
            .zip(intervals.iter())
            .filter_map(|(op, iv)| match op {
                KvOp::Get(Some(v), _) => Some((v, iv.ret)),
                KvOp::Cas {
                    expected: Some(v), ..
                } => Some((v, iv.ret)),
                _ => None,
            })
            .collect();
        let exact = Exact::table(&observations, ops);
        let mut budget = SCAN_BUDGET_BYTES;
        let mut keep = vec![true; ops.len()];
        let mut pins: Vec<(usize, u64)> = Vec::new();
        for (index, (op, interval)) in ops.iter().zip(intervals.iter()).enumerate() {
            if interval.ret.is_some() {
                continue;
            }
            let v = match op {
                KvOp::Put(Some(v)) | KvOp::Append(Some(v), _, _) => v,
                KvOp::Cas { new: Some(v), .. } => v,
                _ => continue,
            };
            let needle = text(v);
            if needle.is_empty() {
                continue;
            }
            // An observer returning before the invocation cannot see this operation's effect.
            let observed = if has_appends {
                match observed_after(&observations, interval.call, needle, &mut budget) {
                    Some(observed) => observed,
                    None => continue,
                }
            } else {
                // Without appends every state is exactly one put's or cas's value.
                exact.get(v).is_some_and(|e| {
                    e.unknown_observer || e.last_ret.is_some_and(|r| r >= interval.call)
                })
            };
            if !observed {
                keep[index] = false;
                continue;
            }
            if has_appends {
                continue;
            }
            if let Some(e) = exact.get(v).filter(|e| e.writers == 1) {
                if let Some(ret) = e.first_ret.filter(|&r| r >= interval.call) {
                    pins.push((index, ret));
                }
            }
        }
        let unseen = unseen_appends(ops, intervals, &observations, &mut budget);
        for (index, ret) in pins {
            intervals[index].ret = Some(ret);
            if let KvOp::Cas { known, .. } = &mut ops[index] {
                *known = true;
            }
        }
        for index in unseen {
            if let KvOp::Append(_, _, flag) = &mut ops[index] {
                *flag = true;
            }
        }
        retain_marked(ops, intervals, &keep);
    }
}

/// The value a completed get returned or a completed cas expects: what the state must be
/// when it takes effect.
fn observed(op: &KvOp) -> Option<&Option<KvValue>> {
    match op {
        KvOp::Get(wanted, _)
        | KvOp::Cas {
            expected: wanted,
            known: true,
            ..
        } => Some(wanted),
        _ => None,
    }
}

/// Whether appends alone (none at all included) can take the value from `state` to
/// `wanted`: they never empty a value, turn a value into a string holding its text followed
/// by theirs, and leave a poisoned state poisoned (which no get or cas ever matches).
fn by_appends(state: &Option<KvValue>, wanted: &Option<KvValue>) -> bool {
    match (state, wanted) {
        (Some(s), _) if is_poisoned(s) => false,
        (None, None) => true,
        (None, Some(w)) => w.is_string(),
        (Some(_), None) => false,
        (Some(s), Some(w)) => s == w || (w.is_string() && s.text.is_prefix_of(&w.text)),
    }
}

/// The value every state an unseen append leaves is held as: no real value is a JSON value
/// with an empty text (a non-string's JSON text is never empty, and the empty string is
/// absent), so no get returns it and no cas expects it.
fn poisoned() -> KvValue {
    KvValue {
        json: true,
        text: SharedText::new(""),
    }
}

fn is_poisoned(value: &KvValue) -> bool {
    value.json && value.text.is_empty()
}

/// The completed appends whose (non-empty) text occurs in no read's result and no cas's
/// expected value that returns at or after the append's invocation (an unknown cas counts as an
/// observer). Exact: an observer linearized after the append returns after its invocation,
/// and from the append's point to the next put, delete or cas that sets the value, the value
/// contains the text (appends only extend it), so every get and known cas there fails and an
/// unknown cas changes nothing, whatever the rest of the value: all those states are one.
/// Without this, appends no read ever saw (overwritten by a later put) multiply the states by
/// their orders. Scans share the caller's budget; past it appends stay unmarked (exact too).
fn unseen_appends(
    ops: &[KvOp],
    intervals: &[Interval],
    observations: &[(&KvValue, Option<u64>)],
    budget: &mut usize,
) -> Vec<usize> {
    let mut unseen = Vec::new();
    for (index, (op, interval)) in ops.iter().zip(intervals.iter()).enumerate() {
        let KvOp::Append(Some(v), _, false) = op else {
            continue;
        };
        if interval.ret.is_none() || text(v).is_empty() {
            continue;
        }
        if observed_after(observations, interval.call, text(v), budget) == Some(false) {
            unseen.push(index);
        }
    }
    unseen
}

/// Per exact value, for [`KvModel`]'s simplify: its writers, the first and last completed
/// observer's return, and whether an unknown cas expects it.
#[derive(Default)]
struct Exact {
    writers: usize,
    first_ret: Option<u64>,
    last_ret: Option<u64>,
    unknown_observer: bool,
}

impl Exact {
    /// The table of every observed or written value.
    fn table<'a>(
        observations: &[(&'a KvValue, Option<u64>)],
        ops: &'a [KvOp],
    ) -> rustc_hash::FxHashMap<&'a KvValue, Exact> {
        let mut exact: rustc_hash::FxHashMap<&KvValue, Exact> = Default::default();
        for (v, ret) in observations {
            let e = exact.entry(*v).or_default();
            match ret {
                Some(r) => {
                    e.first_ret = Some(e.first_ret.map_or(*r, |f| f.min(*r)));
                    e.last_ret = Some(e.last_ret.map_or(*r, |l| l.max(*r)));
                }
                None => e.unknown_observer = true,
            }
        }
        for op in ops {
            if let KvOp::Put(Some(w)) | KvOp::Cas { new: Some(w), .. } = op {
                exact.entry(w).or_default().writers += 1;
            }
        }
        exact
    }
}

/// Whether an observation that may come after `call` (an observer returning before the
/// invocation cannot see the effect) contains `needle`; `None` when scanning would pass the
/// `budget` of bytes left (which it then keeps). Observations sharing one text are prefixes
/// of its longest one among them, which contains whatever they contain: only that one is
/// scanned.
fn observed_after(
    observations: &[(&KvValue, Option<u64>)],
    call: u64,
    needle: &str,
    budget: &mut usize,
) -> Option<bool> {
    let mut longest: rustc_hash::FxHashMap<usize, &KvValue> = Default::default();
    for (o, _) in observations
        .iter()
        .filter(|(_, ret)| ret.is_none_or(|r| r >= call))
    {
        let slot = longest.entry(o.text.base()).or_insert(o);
        if o.text.len() > slot.text.len() {
            *slot = o;
        }
    }
    let cost: usize = longest.values().map(|o| o.text.len()).sum();
    if cost > *budget {
        return None;
    }
    *budget -= cost;
    Some(longest.values().any(|o| text(o).contains(needle)))
}

/// The split of `longest` into distinct appends: version i ends at `boundary[i]`,
/// `chain[i - 1]` wrote version i, `used` marks the appends in the chain. `Err(Some(false))`
/// when no order of distinct appends builds the value, `Err(None)` when two appends fit at
/// one position (the zone decision does not apply).
#[allow(clippy::type_complexity)]
fn split_into_appends(
    longest: &str,
    ops: usize,
    by_value: &rustc_hash::FxHashMap<&str, Vec<usize>>,
    lengths: &[usize],
) -> Result<(Vec<usize>, Vec<usize>, Vec<bool>), Option<bool>> {
    let mut boundary: Vec<usize> = vec![0];
    let mut chain: Vec<usize> = Vec::new();
    let mut used = vec![false; ops];
    let mut position = 0;
    while position < longest.len() {
        let mut candidates = lengths.iter().filter_map(|&len| {
            let piece = longest.get(position..position + len)?;
            let &index = by_value.get(piece)?.first()?;
            (!used[index]).then_some((index, len))
        });
        let Some((index, len)) = candidates.next() else {
            return Err(Some(false));
        };
        if candidates.next().is_some() {
            return Err(None);
        }
        used[index] = true;
        chain.push(index);
        position += len;
        boundary.push(position);
    }
    Ok((boundary, chain, used))
}

/// The zone decision for an append-only key with unique append values.
///
/// States only grow, so every state is a prefix of the longest value `L` any get returned, and
/// `L` is the concatenation, in linearization order, of the values of the appends applied
/// before it, each once. If `L` splits into unused append values in exactly one way (at each
/// position exactly one unused append's value fits), that split is the order of those appends:
/// the `i`-th is a cas from prefix `i - 1` to prefix `i`, each get reads the prefix it returned
/// (a get returning anything else is a violation), and an append of unknown outcome in `L` took
/// effect before the first get that saw it returned (it alone produces its text), so it gets
/// that return. A completed append outside `L` comes after every get (else some get would hold
/// it), hence after every operation of the chain: it is possible iff no operation of the chain
/// was invoked after it returned. Unknown appends outside `L` never matter (they may land last).
/// `None` when the key does not qualify (a put, a delete, a cas, an empty append, a split that
/// is not unique): the search decides it.
fn append_chain(ops: &[KvOp], intervals: &[Interval]) -> Option<bool> {
    use crate::zones::ZoneOp;
    let mut longest_value: Option<&SharedText> = None;
    for op in ops {
        match op {
            // Appends always leave a string: a get of another JSON value never matches.
            KvOp::Get(Some(v), true) if !v.is_string() => return Some(false),
            KvOp::Get(v, true) => {
                if let Some(v) = v {
                    if longest_value.is_none_or(|l| v.text.len() > l.len()) {
                        longest_value = Some(&v.text);
                    }
                }
            }
            KvOp::Append(Some(_), _, _) => {}
            _ => return None,
        }
    }
    let longest: &str = longest_value.map_or("", SharedText::as_str);
    // Appends by value; lengths of values, to find the candidates at a position.
    let mut by_value: rustc_hash::FxHashMap<&str, Vec<usize>> = Default::default();
    let mut lengths: Vec<usize> = Vec::new();
    for (index, op) in ops.iter().enumerate() {
        if let KvOp::Append(Some(v), _, _) = op {
            let t = text(v);
            by_value.entry(t).or_default().push(index);
            if !lengths.contains(&t.len()) {
                lengths.push(t.len());
            }
        }
    }
    if by_value.values().any(|appends| appends.len() > 1) {
        return None;
    }
    let (boundary, chain, used) = match split_into_appends(longest, ops.len(), &by_value, &lengths)
    {
        Ok(split) => split,
        Err(early) => return early,
    };
    let version_at: rustc_hash::FxHashMap<usize, u32> = boundary
        .iter()
        .enumerate()
        .map(|(version, &end)| (end, version as u32))
        .collect();
    let mut zone_ops: Vec<ZoneOp> = Vec::with_capacity(ops.len());
    let mut zone_intervals: Vec<Interval> = Vec::with_capacity(ops.len());
    // First return of a get of each version, then suffix minima: the first observer of the
    // append that wrote version i is the first get of a version >= i.
    let mut first_get = vec![u64::MAX; boundary.len()];
    for (op, iv) in ops.iter().zip(intervals) {
        if let KvOp::Get(v, _) = op {
            let (len, prefix) = match (v, longest_value) {
                (None, _) => (0, true),
                (Some(v), Some(l)) => (v.text.len(), v.text.is_prefix_of(l)),
                (Some(_), None) => (0, false),
            };
            let Some(&version) = version_at.get(&len).filter(|_| prefix) else {
                return Some(false);
            };
            let ret = iv.ret?;
            first_get[version as usize] = first_get[version as usize].min(ret);
            zone_ops.push(ZoneOp::Read(version));
            zone_intervals.push(*iv);
        }
    }
    for version in (0..first_get.len().saturating_sub(1)).rev() {
        first_get[version] = first_get[version].min(first_get[version + 1]);
    }
    let mut chain_call_max = zone_intervals.iter().map(|iv| iv.call).max().unwrap_or(0);
    for (i, &index) in chain.iter().enumerate() {
        let iv = intervals[index];
        let ret = iv.ret.unwrap_or(first_get[i + 1]);
        zone_ops.push(ZoneOp::Cas(i as u32, i as u32 + 1));
        zone_intervals.push(Interval {
            call: iv.call,
            ret: Some(ret),
        });
        chain_call_max = chain_call_max.max(iv.call);
    }
    for (index, (op, iv)) in ops.iter().zip(intervals).enumerate() {
        if let (KvOp::Append(..), false, Some(ret)) = (op, used[index], iv.ret) {
            if ret < chain_call_max {
                return Some(false);
            }
        }
    }
    crate::zones::decide(&zone_ops, &zone_intervals)
}

/// Most distinct value lengths [`put_append_chains`] splits reads by (each position of a read
/// tries each length once); past it the search decides the key.
const SPLIT_LENGTHS_MAX: usize = 32;

/// The zone decision for a key with puts, appends and gets whose put and append values are
/// unique non-empty strings (Porcupine's kv family, Jepsen's register-with-appends).
///
/// Between two puts the value only grows by appends, so the linearization is a sequence of
/// *epochs*: the initial empty value or a put, then appends. A get's value starts with the
/// value of its epoch's put (or with an append, in the initial epoch) and continues with that
/// epoch's appends in their order; when every read splits into the values in exactly one way,
/// each get names its epoch, the reads of one epoch are prefixes of its longest read (anything
/// else is a violation), and that read orders the epoch's observed appends, each of which was
/// applied once, to that epoch (one seen in two epochs, or twice, is a violation). So each
/// epoch is a chain for [`crate::zones`]: the put writes the epoch's first version, the `i`-th
/// observed append is a cas from version `i - 1` to `i`, a get reads the version it returned.
/// An append no get saw is a write of a fresh value nothing reads: from where it lands to the
/// next put no get and no observed append of that epoch can come (each would show it), which
/// is exactly what zones requires of a write nobody reads. An unknown put or append some get
/// saw took effect before the first get of its epoch at or after its version returned, and
/// gets that return; an unknown one nothing saw is dropped (it may never happen).
/// `None` when the key does not qualify (a delete, a cas, an empty or non-string value, a value
/// written twice, a split that is not unique): the search decides it.
fn put_append_chains(ops: &[KvOp], intervals: &[Interval]) -> Option<bool> {
    let values = WrittenValues::of(ops)?;
    let epochs = match Epochs::split(ops, &values) {
        Ok(epochs) => epochs,
        Err(early) => return early,
    };
    epochs.decide(ops, intervals)
}

/// The put and append values of a [`put_append_chains`] key, each the operation that writes
/// it, and their distinct lengths.
struct WrittenValues<'a> {
    token_of: rustc_hash::FxHashMap<&'a str, usize>,
    lengths: Vec<usize>,
}

impl<'a> WrittenValues<'a> {
    /// `None` unless the key has only gets, puts and appends, of unique non-empty strings in
    /// at most [`SPLIT_LENGTHS_MAX`] lengths.
    fn of(ops: &'a [KvOp]) -> Option<Self> {
        let mut values = WrittenValues {
            token_of: Default::default(),
            lengths: Vec::new(),
        };
        for (index, op) in ops.iter().enumerate() {
            match op {
                KvOp::Get(..) => {}
                KvOp::Put(Some(v)) | KvOp::Append(Some(v), _, _) if v.is_string() => {
                    let t = text(v);
                    if values.token_of.insert(t, index).is_some() {
                        return None;
                    }
                    if !values.lengths.contains(&t.len()) {
                        values.lengths.push(t.len());
                    }
                }
                _ => return None,
            }
        }
        (values.lengths.len() <= SPLIT_LENGTHS_MAX).then_some(values)
    }

    /// The operation whose value starts `text` at byte `at`, if exactly one fits: `Ok(None)`
    /// if none does, `Err(())` if two do (the split is not unique). `appends_only`: only
    /// appends count (after the first value of a read, only appends can follow).
    fn at(
        &self,
        text: &str,
        at: usize,
        ops: &[KvOp],
        appends_only: bool,
    ) -> Result<Option<usize>, ()> {
        let mut found = None;
        for &len in &self.lengths {
            let piece = text.get(at..at + len);
            let Some(&index) = piece.and_then(|piece| self.token_of.get(piece)) else {
                continue;
            };
            if appends_only && !matches!(ops[index], KvOp::Append(..)) {
                continue;
            }
            if found.replace(index).is_some() {
                return Err(());
            }
        }
        Ok(found)
    }
}

/// The epochs of a [`put_append_chains`] key (`None`: the initial value, else the put's
/// index), each split from its longest read, and every get's epoch.
struct Epochs<'a> {
    by_epoch: rustc_hash::FxHashMap<Option<usize>, Epoch>,
    longest: rustc_hash::FxHashMap<Option<usize>, &'a SharedText>,
    /// (get index, its epoch).
    gets: Vec<(usize, Option<usize>)>,
    /// Whether each operation is an append in some epoch's chain.
    in_chain: Vec<bool>,
    /// Zone value ids handed out so far (0 is the initial value).
    ids: u32,
}

impl<'a> Epochs<'a> {
    /// Names each get's epoch by its first value and splits each epoch's longest read;
    /// `Err(Some(false))` for a read no order explains, `Err(None)` for a split that is not
    /// unique.
    fn split(ops: &'a [KvOp], values: &WrittenValues<'_>) -> Result<Self, Option<bool>> {
        let mut epochs = Epochs {
            by_epoch: Default::default(),
            longest: Default::default(),
            gets: Vec::new(),
            in_chain: vec![false; ops.len()],
            ids: 0,
        };
        for (index, op) in ops.iter().enumerate() {
            let KvOp::Get(v, _) = op else {
                continue;
            };
            let epoch = match v {
                None => None,
                // Every value written is a string: no get can return another JSON value.
                Some(v) if !v.is_string() => return Err(Some(false)),
                Some(v) => {
                    let first = values
                        .at(v.text.as_str(), 0, ops, false)
                        .map_err(|()| None)?;
                    let first = first.ok_or(Some(false))?;
                    let epoch = matches!(ops[first], KvOp::Put(_)).then_some(first);
                    let held = epochs.longest.entry(epoch).or_insert(&v.text);
                    if v.text.len() > held.len() {
                        *held = &v.text;
                    }
                    epoch
                }
            };
            epochs.gets.push((index, epoch));
        }
        let mut keys: Vec<Option<usize>> = epochs.longest.keys().copied().collect();
        keys.sort_unstable();
        for epoch in keys {
            let read = epochs.longest[&epoch].as_str();
            let mut at = epoch.map_or(0, |put| ops[put].written_len());
            let first = epoch.map_or(0, |_| epochs.fresh());
            let mut versions = vec![(first, at)];
            let mut chain = Vec::new();
            while at < read.len() {
                let index = values.at(read, at, ops, true).map_err(|()| None)?;
                let index = index.ok_or(Some(false))?;
                if std::mem::replace(&mut epochs.in_chain[index], true) {
                    // Applied once, so seen in one epoch at one place.
                    return Err(Some(false));
                }
                at += ops[index].written_len();
                versions.push((epochs.fresh(), at));
                chain.push(index);
            }
            epochs.by_epoch.insert(epoch, Epoch { versions, chain });
        }
        Ok(epochs)
    }

    fn fresh(&mut self) -> u32 {
        self.ids += 1;
        self.ids
    }

    /// The zone operations: each get reads a version of its epoch (a prefix of the epoch's
    /// longest read ending at a value's end, else a violation), each epoch is a chain, and
    /// puts no get saw and appends outside every chain write fresh values.
    fn decide(mut self, ops: &[KvOp], intervals: &[Interval]) -> Option<bool> {
        use crate::zones::ZoneOp;
        let mut zone_ops: Vec<ZoneOp> = Vec::with_capacity(ops.len());
        let mut zone_intervals: Vec<Interval> = Vec::with_capacity(ops.len());
        let mut first_get: rustc_hash::FxHashMap<u32, u64> = Default::default();
        for &(index, epoch) in &self.gets {
            let version = match &ops[index] {
                KvOp::Get(Some(v), _) => {
                    let versions = &self.by_epoch[&epoch].versions;
                    if !v.text.is_prefix_of(self.longest[&epoch]) {
                        return Some(false);
                    }
                    let len = v.text.len();
                    match versions.binary_search_by_key(&len, |&(_, end)| end) {
                        Ok(at) => versions[at].0,
                        Err(_) => return Some(false),
                    }
                }
                _ => 0,
            };
            let iv = intervals[index];
            let ret = iv.ret?;
            let first = first_get.entry(version).or_insert(ret);
            *first = (*first).min(ret);
            zone_ops.push(ZoneOp::Read(version));
            zone_intervals.push(iv);
        }
        let mut keys: Vec<Option<usize>> = self.by_epoch.keys().copied().collect();
        keys.sort_unstable();
        for epoch in keys {
            let Epoch { versions, chain } = &self.by_epoch[&epoch];
            // An unknown writer some get saw took effect before the first get of its version
            // or a later one of the epoch returned.
            let mut observed_by = vec![u64::MAX; versions.len()];
            for (at, (id, _)) in versions.iter().enumerate().rev() {
                let later = observed_by.get(at + 1).copied().unwrap_or(u64::MAX);
                observed_by[at] = first_get.get(id).copied().unwrap_or(u64::MAX).min(later);
            }
            let pinned = |index: usize, at: usize| {
                let iv = intervals[index];
                let seen = (observed_by[at] != u64::MAX).then_some(observed_by[at]);
                Interval {
                    call: iv.call,
                    ret: iv.ret.or(seen),
                }
            };
            if let Some(put) = epoch {
                zone_ops.push(ZoneOp::Write(versions[0].0));
                zone_intervals.push(pinned(put, 0));
            }
            for (i, &append) in chain.iter().enumerate() {
                zone_ops.push(ZoneOp::Cas(versions[i].0, versions[i + 1].0));
                zone_intervals.push(pinned(append, i + 1));
            }
        }
        // Unread puts and appends: writes of fresh values nothing reads (an unknown one may
        // never happen: zones drops it).
        for (index, op) in ops.iter().enumerate() {
            let unread = match op {
                KvOp::Put(_) => !self.by_epoch.contains_key(&Some(index)),
                KvOp::Append(..) => !self.in_chain[index],
                KvOp::Get(..) | KvOp::Delete | KvOp::Cas { .. } => false,
            };
            if unread {
                zone_ops.push(ZoneOp::Write(self.fresh()));
                zone_intervals.push(intervals[index]);
            }
        }
        crate::zones::decide(&zone_ops, &zone_intervals)
    }
}

/// One epoch of [`put_append_chains`]: the initial value or a put, then appends.
struct Epoch {
    /// Its versions in order: (zone value id, end of the version in the epoch's longest read).
    versions: Vec<(u32, usize)>,
    /// The appends that made versions 1.., by operation index.
    chain: Vec<usize>,
}

impl KvOp {
    /// The length of the text a put or append writes (0 for anything else).
    fn written_len(&self) -> usize {
        match self {
            KvOp::Put(Some(v)) | KvOp::Append(Some(v), _, _) => v.text.len(),
            _ => 0,
        }
    }
}
