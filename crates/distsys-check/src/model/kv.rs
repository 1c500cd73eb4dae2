//! One key of a key-value store: get, put, append (string concatenation), cas, delete.
//! Partitioning by key (P-compositionality) makes the whole store linearizable iff every key is.
//! An absent key and the empty string are the same value (Jepsen's kv tests read a missing key
//! as `""`; the JSON Lines format reads it as `null`).

use super::{canonical, Model};
use crate::history::{OpKind, Operation};
use std::sync::Arc;

/// The key-value model (per key).
#[derive(Debug, Clone, Copy, Default)]
pub struct KvModel;

/// A key-value operation on one key.
#[derive(Debug, Clone)]
pub enum KvOp {
    /// A completed get that returned this value (`None` = absent).
    Get(Option<Arc<str>>),
    /// Put a value (`None`: the empty string or null, same as absent).
    Put(Option<Arc<str>>),
    /// Append to the value (absent counts as empty).
    Append(Option<Arc<str>>),
    /// Remove the key.
    Delete,
    /// Compare-and-set; `known`: completed ok.
    Cas {
        expected: Option<Arc<str>>,
        new: Option<Arc<str>>,
        known: bool,
    },
}

fn value(v: &serde_json::Value) -> Option<Arc<str>> {
    let text = canonical(v);
    (!v.is_null() && !text.is_empty()).then(|| Arc::from(text))
}

impl Model for KvModel {
    type State = Option<Arc<str>>;
    type Op = KvOp;

    fn prepare(&self, ops: &[Operation]) -> Result<Vec<KvOp>, (usize, String)> {
        ops.iter()
            .map(|op| {
                Ok(match op.kind {
                    OpKind::Read => KvOp::Get(op.output.as_ref().and_then(value)),
                    OpKind::Write => KvOp::Put(value(&op.input)),
                    OpKind::Append => KvOp::Append(value(&op.input)),
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
            KvOp::Get(v) => (v == state).then(|| state.clone()),
            KvOp::Put(v) => Some(v.clone()),
            KvOp::Append(v) => Some(match (state, v) {
                (Some(s), Some(v)) => Some(Arc::from(format!("{s}{v}"))),
                (s, None) => s.clone(),
                (None, v) => v.clone(),
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
}
