//! A brute-force linearizability oracle for tiny histories: it tries every order of the
//! operations that real time allows, with every operation of unknown outcome either taking
//! effect at some point after its invocation or never, against a sequential specification
//! written here from scratch on plain JSON values (it shares no code with [`crate::model`] or
//! [`crate::search`]). It is exponential, so it is limited to [`ORACLE_OPS_MAX`] operations;
//! its only job is to be obviously right, so the fast checker can be tested against it.

use crate::history::{OpKind, Operation};
use crate::model::ModelKind;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Most operations the oracle accepts (it explores up to `n!` orders).
pub const ORACLE_OPS_MAX: usize = 12;

/// Why the oracle gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OracleError {
    /// More than [`ORACLE_OPS_MAX`] operations.
    #[error("the oracle takes at most {ORACLE_OPS_MAX} operations, got {0}")]
    TooMany(usize),
    /// The model has no such operation (the checker rejects it too).
    #[error("the {0} model has no {1} operation")]
    Unsupported(&'static str, &'static str),
}

#[derive(Clone, Debug, PartialEq)]
enum State {
    Value(Value),
    Set(BTreeSet<String>),
}

/// Kv: null and "" are both the absent key.
fn absent(v: &Value) -> bool {
    v.is_null() || v.as_str() == Some("")
}

fn kv_equal(a: &Value, b: &Value) -> bool {
    (absent(a) && absent(b)) || a == b
}

/// What an append concatenates.
fn append_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn cas_pair(op: &Operation) -> Option<(&Value, &Value)> {
    match op.input.as_array().map(Vec::as_slice) {
        Some([expected, new]) => Some((expected, new)),
        _ => None,
    }
}

/// The state after `op` (which took effect), or `None` if its result is impossible there.
fn step(model: ModelKind, state: &State, op: &Operation) -> Option<State> {
    let output = op
        .output
        .as_ref()
        .map_or(Value::Null, crate::history::ReadValue::to_json);
    match (model, state) {
        (ModelKind::Set, State::Set(elements)) => match op.kind {
            OpKind::Add => {
                let mut next = elements.clone();
                next.insert(op.input.to_string());
                Some(State::Set(next))
            }
            OpKind::Read => {
                let seen: BTreeSet<String> = match &output {
                    Value::Array(items) => items.iter().map(Value::to_string).collect(),
                    _ => BTreeSet::new(),
                };
                (seen == *elements).then(|| state.clone())
            }
            _ => None,
        },
        (ModelKind::Kv, State::Value(current)) => match op.kind {
            OpKind::Read => kv_equal(&output, current).then(|| state.clone()),
            OpKind::Write => Some(State::Value(op.input.clone())),
            OpKind::Append => Some(State::Value(Value::String(
                append_text(current) + &append_text(&op.input),
            ))),
            OpKind::Delete => Some(State::Value(Value::Null)),
            OpKind::Cas => {
                let (expected, new) = cas_pair(op)?;
                kv_equal(expected, current).then(|| State::Value(new.clone()))
            }
            OpKind::Add => None,
        },
        (ModelKind::Register | ModelKind::CasRegister, State::Value(current)) => match op.kind {
            OpKind::Read => (output == *current).then(|| state.clone()),
            OpKind::Write => Some(State::Value(op.input.clone())),
            OpKind::Delete => Some(State::Value(Value::Null)),
            OpKind::Cas => {
                let (expected, new) = cas_pair(op)?;
                (expected == current).then(|| State::Value(new.clone()))
            }
            _ => None,
        },
        _ => None,
    }
}

/// Whether `ops` is linearizable under `model`: some order of the completed operations and of
/// any subset of the unknown ones, respecting real time (`a` before `b` when `a` returned
/// before `b` was invoked, strictly), is legal from the initial state (nil, or the empty set),
/// each key on its own. A cas that took effect must find its expected value (an unknown cas
/// whose comparison fails is the same as one that never took effect). Reads of unknown
/// outcome are ignored.
pub fn linearizable(model: ModelKind, ops: &[Operation]) -> Result<bool, OracleError> {
    let ops: Vec<&Operation> = ops
        .iter()
        .filter(|op| op.kind != OpKind::Read || op.ret.is_some())
        .collect();
    if ops.len() > ORACLE_OPS_MAX {
        return Err(OracleError::TooMany(ops.len()));
    }
    for op in &ops {
        let supported = match model {
            ModelKind::Register => matches!(op.kind, OpKind::Read | OpKind::Write | OpKind::Delete),
            ModelKind::CasRegister => !matches!(op.kind, OpKind::Append | OpKind::Add),
            ModelKind::Kv => op.kind != OpKind::Add,
            ModelKind::Set => matches!(op.kind, OpKind::Read | OpKind::Add),
        };
        if !supported {
            return Err(OracleError::Unsupported(model.name(), op.kind.name()));
        }
    }
    let initial = if model == ModelKind::Set {
        State::Set(BTreeSet::new())
    } else {
        State::Value(Value::Null)
    };
    let mut states: BTreeMap<Option<String>, State> = BTreeMap::new();
    Ok(explore(model, &ops, &initial, 0, &mut states))
}

fn explore(
    model: ModelKind,
    ops: &[&Operation],
    initial: &State,
    placed: u32,
    states: &mut BTreeMap<Option<String>, State>,
) -> bool {
    let is_placed = |i: usize| placed & (1 << i) != 0;
    if (0..ops.len()).all(|i| is_placed(i) || ops[i].ret.is_none()) {
        return true;
    }
    for (i, op) in ops.iter().enumerate() {
        if is_placed(i) {
            continue;
        }
        // Every completed operation that returned before this one's invocation goes first.
        let blocked = ops.iter().enumerate().any(|(j, other)| {
            !is_placed(j) && other.ret.is_some_and(|ret| ret < op.call) && j != i
        });
        if blocked {
            continue;
        }
        let current = states.get(&op.key).unwrap_or(initial).clone();
        let Some(next) = step(model, &current, op) else {
            continue;
        };
        states.insert(op.key.clone(), next);
        let found = explore(model, ops, initial, placed | (1 << i), states);
        states.insert(op.key.clone(), current);
        if found {
            return true;
        }
    }
    false
}
