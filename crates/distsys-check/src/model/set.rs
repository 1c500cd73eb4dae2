//! A grow-only set per key: `add(v)` and `read` returning every element (a JSON array).

use super::{canonical, Model};
use crate::history::{OpKind, Operation};
use rustc_hash::FxHashMap;

/// The set model.
#[derive(Debug, Clone, Copy, Default)]
pub struct SetModel;

/// A set operation with interned elements.
#[derive(Debug, Clone)]
pub enum SetOp {
    /// Add one element.
    Add(u32),
    /// A completed read that returned exactly these elements (sorted).
    Read(Vec<u32>),
}

impl Model for SetModel {
    type State = Vec<u32>;
    type Op = SetOp;

    fn prepare(&self, ops: &[Operation]) -> Result<Vec<SetOp>, (usize, String)> {
        let mut ids: FxHashMap<String, u32> = FxHashMap::default();
        let mut id = |v: &serde_json::Value| {
            let next = u32::try_from(ids.len()).unwrap_or(u32::MAX);
            *ids.entry(canonical(v)).or_insert(next)
        };
        ops.iter()
            .map(|op| match op.kind {
                OpKind::Add => Ok(SetOp::Add(id(&op.input))),
                OpKind::Read => {
                    let output = op.output.clone().unwrap_or_default();
                    let items = match output {
                        serde_json::Value::Array(items) => items,
                        serde_json::Value::Null => Vec::new(),
                        other => {
                            return Err((
                                op.line,
                                format!("a set read returns an array, got {other}"),
                            ))
                        }
                    };
                    let mut elements: Vec<u32> = items.iter().map(&mut id).collect();
                    elements.sort_unstable();
                    elements.dedup();
                    Ok(SetOp::Read(elements))
                }
                other => Err((
                    op.line,
                    format!("the set model has no {} operation", other.name()),
                )),
            })
            .collect()
    }

    fn init(&self) -> Vec<u32> {
        Vec::new()
    }

    fn step(&self, state: &Vec<u32>, op: &SetOp) -> Option<Vec<u32>> {
        match op {
            SetOp::Add(v) => Some(match state.binary_search(v) {
                Ok(_) => state.clone(),
                Err(at) => {
                    let mut next = state.clone();
                    next.insert(at, *v);
                    next
                }
            }),
            SetOp::Read(elements) => (elements == state).then(|| state.clone()),
        }
    }
}
