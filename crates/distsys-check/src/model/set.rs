//! A grow-only set per key: `add(v)` and `read` returning every element (a JSON array).

use super::register::retain_marked;
use super::Model;
use crate::history::{OpKind, Operation};
use crate::search::Interval;
use rustc_hash::FxHashMap;

/// The set model.
#[derive(Debug, Clone, Copy, Default)]
pub struct SetModel;

/// A set operation with interned elements.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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
            // Strict JSON equality: `1` and `"1"` are different elements.
            *ids.entry(v.to_string()).or_insert(next)
        };
        ops.iter()
            .map(|op| match op.kind {
                OpKind::Add => Ok(SetOp::Add(id(&op.input))),
                OpKind::Read => {
                    let output = op
                        .output
                        .as_ref()
                        .map_or(serde_json::Value::Null, crate::history::ReadValue::to_json);
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

    /// The register's rewrites for a grow-only set: an unknown add of an element that no read
    /// returning at or after its invocation contains is dropped (once added an element stays,
    /// so every later read would contain it); an unknown add of an element no other add adds,
    /// which a completed read contains, is pinned to the first such read's return.
    fn simplify(&self, ops: &mut Vec<SetOp>, intervals: &mut Vec<Interval>) {
        debug_assert_eq!(ops.len(), intervals.len());
        let elements = ops
            .iter()
            .map(|op| match op {
                SetOp::Add(e) => *e,
                SetOp::Read(items) => items.last().copied().unwrap_or(0),
            })
            .max()
            .unwrap_or(0) as usize;
        // Per element: adders, first and last return of a read containing it.
        let mut seen: Vec<(u32, Option<u64>, Option<u64>)> = vec![(0, None, None); elements + 1];
        for (op, interval) in ops.iter().zip(intervals.iter()) {
            match op {
                SetOp::Add(e) => seen[*e as usize].0 += 1,
                SetOp::Read(items) => {
                    let Some(ret) = interval.ret else { continue };
                    for e in items {
                        let s = &mut seen[*e as usize];
                        s.1 = Some(s.1.map_or(ret, |r| r.min(ret)));
                        s.2 = Some(s.2.map_or(ret, |r| r.max(ret)));
                    }
                }
            }
        }
        let mut keep = vec![true; ops.len()];
        for (index, (op, interval)) in ops.iter().zip(intervals.iter_mut()).enumerate() {
            let (SetOp::Add(e), None) = (op, interval.ret) else {
                continue;
            };
            let (adders, first, last) = seen[*e as usize];
            if last.is_none_or(|r| r < interval.call) {
                keep[index] = false;
            } else if adders == 1 {
                if let Some(ret) = first.filter(|&r| r >= interval.call) {
                    interval.ret = Some(ret);
                }
            }
        }
        retain_marked(ops, intervals, &keep);
    }
}
