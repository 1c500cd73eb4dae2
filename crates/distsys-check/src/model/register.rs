//! Read/write (and optionally compare-and-set) register. Values are interned to integers so the
//! state is one `u32` (0 = nil/absent), which keeps the memo table small and fast.

use super::{canonical, Model};
use crate::history::{OpKind, Operation};
use rustc_hash::FxHashMap;
use serde_json::Value;

/// A register; `allow_cas` makes it a cas-register.
#[derive(Debug, Clone, Copy)]
pub struct RegisterModel {
    /// Whether `cas` operations are allowed.
    pub allow_cas: bool,
}

/// A register operation with interned values (0 = nil).
#[derive(Debug, Clone, Copy)]
pub enum RegisterOp {
    /// A completed read that returned this value.
    Read(u32),
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
        *self.0.entry(canonical(value)).or_insert(next)
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
                    OpKind::Read => {
                        RegisterOp::Read(interner.id(op.output.as_ref().unwrap_or(&Value::Null)))
                    }
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
            RegisterOp::Read(v) => (v == *state).then_some(*state),
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
}
