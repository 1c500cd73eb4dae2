//! Read/write (and optionally compare-and-set) register. Values are interned to integers so the
//! state is one `u32` (0 = nil/absent), which keeps the memo table small and fast. Values compare
//! by strict JSON equality: `1`, `1.0` and `"1"` are three different values.

use super::Model;
use crate::history::{OpKind, Operation, ReadValue};
use crate::search::Interval;
use rustc_hash::FxHashMap;
use serde_json::Value;

/// A register; `allow_cas` makes it a cas-register.
#[derive(Debug, Clone, Copy)]
pub struct RegisterModel {
    /// Whether `cas` operations are allowed.
    pub allow_cas: bool,
}

/// [`RegisterOp::Read`]'s `source` when several operations (or none but the initial state
/// and others) may produce the value: no pruning.
pub const SOURCE_ANY: u32 = u32::MAX;
/// `source` of a nil that only the initial state holds (nothing writes or deletes).
pub const SOURCE_INITIAL: u32 = u32::MAX - 1;

/// A register operation with interned values (0 = nil).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegisterOp {
    /// A completed read that returned this value; `source`: the index of the only operation
    /// that writes the value, [`SOURCE_INITIAL`] or [`SOURCE_ANY`] (set by `simplify`).
    Read(u32, u32),
    /// A write (`known`: completed ok).
    Write(u32),
    /// A delete: the register becomes nil.
    Delete,
    /// Compare-and-set; `known`: completed ok (so the comparison held).
    Cas {
        expected: u32,
        new: u32,
        known: bool,
    },
}

#[derive(Default)]
struct Interner(FxHashMap<String, u32>);

impl Interner {
    fn id(&mut self, value: &Value) -> u32 {
        if value.is_null() {
            return 0;
        }
        let next = u32::try_from(self.0.len() + 1).unwrap_or(u32::MAX);
        // The JSON text tells strings from numbers (`"1"` vs `1`), unlike the bare text.
        *self.0.entry(value.to_string()).or_insert(next)
    }
}

impl Model for RegisterModel {
    type State = u32;
    type Op = RegisterOp;

    fn prepare(&self, ops: &[Operation]) -> Result<Vec<RegisterOp>, (usize, String)> {
        let mut interner = Interner::default();
        ops.iter()
            .map(|op| {
                Ok(match op.kind {
                    OpKind::Read => RegisterOp::Read(
                        interner.id(&op.output.as_ref().map_or(Value::Null, ReadValue::to_json)),
                        SOURCE_ANY,
                    ),
                    OpKind::Write => RegisterOp::Write(interner.id(&op.input)),
                    OpKind::Delete => RegisterOp::Delete,
                    OpKind::Cas if self.allow_cas => match op.input.as_array().map(Vec::as_slice) {
                        Some([expected, new]) => RegisterOp::Cas {
                            expected: interner.id(expected),
                            new: interner.id(new),
                            known: op.is_complete(),
                        },
                        _ => {
                            return Err((
                                op.line,
                                format!("cas value must be [expected, new], got {}", op.input),
                            ))
                        }
                    },
                    other => {
                        let name = if self.allow_cas {
                            "cas-register"
                        } else {
                            "register"
                        };
                        return Err((
                            op.line,
                            format!("the {name} model has no {} operation", other.name()),
                        ));
                    }
                })
            })
            .collect()
    }

    fn init(&self) -> u32 {
        0
    }

    fn step(&self, state: &u32, op: &RegisterOp) -> Option<u32> {
        match *op {
            RegisterOp::Read(v, _) => (v == *state).then_some(*state),
            RegisterOp::Write(v) => Some(v),
            RegisterOp::Delete => Some(0),
            RegisterOp::Cas {
                expected,
                new,
                known,
            } => {
                if expected == *state {
                    Some(new)
                } else if known {
                    None
                } else {
                    // Unknown outcome: the cas may have failed its comparison here.
                    Some(*state)
                }
            }
        }
    }

    /// Rewrites of operations with unknown outcome, each proven to keep the verdict (and
    /// tested against the brute-force oracle, `tests/oracle.rs`):
    ///
    /// - an unknown cas from a value to itself is dropped: whether or not it takes effect, the
    ///   state stays what it was, and an unknown outcome constrains nothing else;
    /// - **drop**: an unknown write or cas of value `v` that no read returns and no cas expects
    ///   (`v` may be nil), among those returning at or after its invocation (or never). In a linearization that applies it, the state is `v` from there to
    ///   the next overwrite, so nothing in between reads it or succeeds a cas on it: only
    ///   unknown cas that fail (the same as never happening, so they can move to the end) and
    ///   then a write or delete, whose result does not depend on the state. Removing it leaves
    ///   a linearization; conversely it can always be linearized last.
    /// - **pin**: an unknown write or cas of a non-nil `v` that no other operation writes, which
    ///   a completed read returned or a completed cas expected. Only it can produce the state
    ///   `v`, so it takes effect before that observer's linearization point, hence before the
    ///   observer returns: it may be given the earliest such return time (and a cas is then
    ///   known to have succeeded). Every operation invoked after that time follows it anyway.
    fn simplify(&self, ops: &mut Vec<RegisterOp>, intervals: &mut Vec<Interval>) {
        debug_assert_eq!(ops.len(), intervals.len());
        #[derive(Clone, Copy, Default)]
        struct Seen {
            unknown_observer: bool,
            first_observer_ret: Option<u64>,
            last_observer_ret: Option<u64>,
            writers: u32,
        }
        let values = ops
            .iter()
            .map(|op| match *op {
                RegisterOp::Read(v, _) | RegisterOp::Write(v) => v,
                RegisterOp::Cas { expected, new, .. } => expected.max(new),
                RegisterOp::Delete => 0,
            })
            .max()
            .unwrap_or(0) as usize;
        let mut seen = vec![Seen::default(); values + 1];
        for (op, interval) in ops.iter().zip(intervals.iter()) {
            let mut observe = |v: u32| {
                let s = &mut seen[v as usize];
                match interval.ret {
                    Some(ret) => {
                        s.first_observer_ret =
                            Some(s.first_observer_ret.map_or(ret, |r| r.min(ret)));
                        s.last_observer_ret = Some(s.last_observer_ret.map_or(ret, |r| r.max(ret)));
                    }
                    None => s.unknown_observer = true,
                }
            };
            match *op {
                RegisterOp::Read(v, _) => observe(v),
                RegisterOp::Write(v) => seen[v as usize].writers += 1,
                RegisterOp::Cas { expected, new, .. } => {
                    // An unknown cas's expectation counts as an observation for the drop rule;
                    // the pin rule only uses completed observers (the `ret` above).
                    observe(expected);
                    seen[new as usize].writers += 1;
                }
                RegisterOp::Delete => {}
            }
        }
        let mut keep = vec![true; ops.len()];
        for (index, (op, interval)) in ops.iter_mut().zip(intervals.iter_mut()).enumerate() {
            if interval.ret.is_some() {
                continue;
            }
            let v = match *op {
                RegisterOp::Write(v) => v,
                // An unknown cas from a value to itself never changes the state.
                RegisterOp::Cas { expected, new, .. } if expected == new => {
                    keep[index] = false;
                    continue;
                }
                RegisterOp::Cas { new, .. } => new,
                RegisterOp::Read(..) | RegisterOp::Delete => continue,
            };
            let s = seen[v as usize];
            // An observer that returned before the invocation cannot have seen its effect.
            let observed =
                s.unknown_observer || s.last_observer_ret.is_some_and(|r| r >= interval.call);
            if !observed {
                keep[index] = false;
            } else if v != 0 && s.writers == 1 {
                if let Some(ret) = s.first_observer_ret.filter(|&r| r >= interval.call) {
                    interval.ret = Some(ret);
                    if let RegisterOp::Cas { known, .. } = op {
                        *known = true;
                    }
                }
            }
        }
        retain_marked(ops, intervals, &keep);
        // Each read's source, for `may_follow`: the only operation left that writes its value.
        let mut source = vec![SOURCE_INITIAL; values + 1];
        for (index, op) in ops.iter().enumerate() {
            let written = match *op {
                RegisterOp::Write(v) | RegisterOp::Cas { new: v, .. } => v,
                RegisterOp::Delete => 0,
                RegisterOp::Read(..) => continue,
            };
            let s = &mut source[written as usize];
            *s = if *s == SOURCE_INITIAL && written != 0 {
                index as u32
            } else {
                SOURCE_ANY
            };
        }
        for op in ops.iter_mut() {
            if let RegisterOp::Read(v, s) = op {
                *s = match source[*v as usize] {
                    // A non-nil value nobody writes: no source at all, the read is impossible
                    // anywhere; the search finds that by itself.
                    SOURCE_INITIAL if *v != 0 => SOURCE_ANY,
                    other => other,
                };
            }
        }
    }

    fn prunes(&self, ops: &[RegisterOp]) -> bool {
        ops.iter()
            .any(|op| matches!(op, RegisterOp::Read(_, source) if *source != SOURCE_ANY))
    }

    /// Registers (with or without cas) whose written values are unique (and no nil written),
    /// every outcome known after `simplify`: [`crate::zones`].
    fn decide_fast(
        &self,
        ops: &[RegisterOp],
        intervals: &[Interval],
    ) -> Option<(bool, &'static str)> {
        let zone_ops: Vec<crate::zones::ZoneOp> = ops
            .iter()
            .map(|op| match *op {
                RegisterOp::Read(v, _) => Some(crate::zones::ZoneOp::Read(v)),
                RegisterOp::Write(v) => Some(crate::zones::ZoneOp::Write(v)),
                RegisterOp::Cas { expected, new, .. } => {
                    Some(crate::zones::ZoneOp::Cas(expected, new))
                }
                RegisterOp::Delete => None,
            })
            .collect::<Option<_>>()?;
        crate::zones::decide(&zone_ops, intervals).map(|linearizable| (linearizable, ZONES))
    }

    /// A read of a value that only one operation writes cannot be satisfied any more once
    /// that operation is linearized and the register holds something else (and a nil that only
    /// the initial state holds, once the register holds anything else): values are written
    /// once.
    fn may_follow(&self, state: &u32, op: &RegisterOp, linearized: &dyn Fn(u32) -> bool) -> bool {
        match *op {
            RegisterOp::Read(v, source) if v != *state => match source {
                SOURCE_ANY => true,
                SOURCE_INITIAL => false,
                writer => !linearized(writer),
            },
            _ => true,
        }
    }
}

/// The name of the zone algorithm in [`crate::CheckResult::algorithm`].
pub const ZONES: &str = "unique-value-zones";

/// Keeps the operations (and their intervals) marked `true`.
pub(crate) fn retain_marked<T>(ops: &mut Vec<T>, intervals: &mut Vec<Interval>, keep: &[bool]) {
    let mut index = 0;
    ops.retain(|_| {
        index += 1;
        keep[index - 1]
    });
    let mut index = 0;
    intervals.retain(|_| {
        index += 1;
        keep[index - 1]
    });
}
