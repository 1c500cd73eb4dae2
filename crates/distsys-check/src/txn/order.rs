//! Process and real-time orders, as edges. Only a committed (`ok`) transaction precedes
//! anything: an indeterminate one may take effect at any later time. Aborted transactions
//! are not in the graph.
//!
//! Real time is kept to its transitive reduction (as Elle does): when a transaction is
//! invoked it follows every transaction in the "frontier" (completed and not yet followed
//! by a completed successor); when it completes it replaces its predecessors there. Every
//! pair `a` completed before `b` invoked stays connected by a path.

use super::graph::{Edge, Rel, NONE};
use super::history::{Status, TxnHistory};
use rustc_hash::FxHashMap;

fn order_edge(from: u32, to: u32, rel: Rel) -> Edge {
    Edge {
        from,
        to,
        rel,
        key: NONE,
        a: NONE,
        b: NONE,
    }
}

/// Each transaction follows the last committed one of its process.
pub fn process_edges(history: &TxnHistory) -> Vec<Edge> {
    let mut last_ok: FxHashMap<u64, u32> = FxHashMap::default();
    let mut edges = Vec::new();
    for (t, txn) in history.txns.iter().enumerate() {
        let (Some(p), false) = (txn.process, txn.status == Status::Fail) else {
            continue;
        };
        if let Some(&prev) = last_ok.get(&p) {
            edges.push(order_edge(prev, t as u32, Rel::Process));
        }
        if txn.status == Status::Ok {
            last_ok.insert(p, t as u32);
        }
    }
    edges
}

/// The transitive reduction of real-time precedence.
pub fn realtime_edges(history: &TxnHistory) -> Vec<Edge> {
    // (position, is_completion, txn): at one position every invocation comes before every
    // completion, so equal times give no precedence (a completion at 4 does not precede an
    // invocation at 4; precedence is strict, as in the oracle).
    let mut events: Vec<(u64, bool, u32)> = Vec::new();
    for (t, txn) in history.txns.iter().enumerate() {
        if txn.status == Status::Fail {
            continue;
        }
        events.push((txn.invoked_at, false, t as u32));
        if let (Status::Ok, Some(done)) = (txn.status, txn.completed_at) {
            events.push((done, true, t as u32));
        }
    }
    events.sort_unstable();
    let mut edges = Vec::new();
    let mut frontier: Vec<u32> = Vec::new();
    let mut alive = vec![false; history.txns.len()];
    // txn -> range of its incoming edges in `edges`
    let mut preds: FxHashMap<u32, (usize, usize)> = FxHashMap::default();
    for (_, completion, t) in events {
        if completion {
            if let Some((lo, hi)) = preds.remove(&t) {
                for e in &edges[lo..hi] {
                    let e: &Edge = e;
                    alive[e.from as usize] = false;
                }
            }
            frontier.retain(|&f| alive[f as usize]);
            frontier.push(t);
            alive[t as usize] = true;
        } else {
            let lo = edges.len();
            edges.extend(frontier.iter().map(|&f| order_edge(f, t, Rel::Realtime)));
            preds.insert(t, (lo, edges.len()));
        }
    }
    edges
}
