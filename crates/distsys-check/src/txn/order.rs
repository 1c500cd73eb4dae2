//! Process and real-time orders, as edges. Only a committed (`ok`) transaction precedes
//! anything: an indeterminate one may take effect at any later time. Aborted transactions
//! are not in the graph.
//!
//! The checker gives real time to the graph through time points ([`realtime_points`]):
//! one node per committed completion, chained in order, so the order costs three edges per
//! transaction whatever the concurrency. [`realtime_edges`] is the same order as edges
//! between transactions, kept to its transitive reduction (as Elle does): what explanations
//! show, and the reference the time points are tested against.

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

/// Real-time precedence through time points: nodes `first_point..first_point + points`, one
/// per committed completion in history order. A transaction's completion leads to its point,
/// each point to the next, and each point to the transactions invoked after that completion
/// and before the next one; so a path leads from `a` to `b` through points exactly when `a`
/// committed before `b` was invoked (precedence is strict: a completion and an invocation at
/// the same position are concurrent). Returns the number of points and the edges, all
/// [`Rel::Realtime`]. Aborted transactions are not in the graph; indeterminate ones follow
/// but precede nothing.
pub fn realtime_points(history: &TxnHistory, first_point: u32) -> (u32, Vec<Edge>) {
    let mut done: Vec<(u64, u32)> = history
        .txns
        .iter()
        .enumerate()
        .filter_map(|(t, txn)| match (txn.status, txn.completed_at) {
            (Status::Ok, Some(at)) => Some((at, t as u32)),
            _ => None,
        })
        .collect();
    done.sort_unstable();
    let points = done.len() as u32;
    let mut edges = Vec::with_capacity(3 * done.len());
    for (j, &(_, t)) in done.iter().enumerate() {
        let point = first_point + j as u32;
        edges.push(order_edge(t, point, Rel::Realtime));
        if j + 1 < done.len() {
            edges.push(order_edge(point, point + 1, Rel::Realtime));
        }
    }
    for (t, txn) in history.txns.iter().enumerate() {
        if txn.status == Status::Fail {
            continue;
        }
        let before = done.partition_point(|&(at, _)| at < txn.invoked_at) as u32;
        if before > 0 {
            edges.push(order_edge(
                first_point + before - 1,
                t as u32,
                Rel::Realtime,
            ));
        }
    }
    (points, edges)
}

/// A cycle of the graph with time points as a cycle between transactions: each run of
/// edges through points becomes one real-time edge from the transaction before the run to
/// the one after it (a cycle always holds a transaction: points only lead forward).
/// `txns` is the number of transaction nodes.
pub fn through_points(cycle: &[Edge], txns: u32) -> Vec<Edge> {
    let Some(start) = cycle.iter().position(|e| e.from < txns) else {
        return cycle.to_vec();
    };
    let mut out: Vec<Edge> = Vec::with_capacity(cycle.len());
    let mut run_from: Option<u32> = None;
    for e in cycle[start..].iter().chain(&cycle[..start]) {
        match (e.from < txns, e.to < txns) {
            (true, true) => out.push(*e),
            (true, false) => run_from = Some(e.from),
            (false, false) => {}
            (false, true) => {
                let from = run_from.take().unwrap_or(e.from);
                out.push(order_edge(from, e.to, Rel::Realtime));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn::generate::sloppy_timed;
    use crate::txn::graph::Graph;
    use crate::txn::history::TxnModel;
    use proptest::prelude::*;

    /// For each transaction, the transactions its real-time edges lead to (any path).
    fn reach(graph: &Graph) -> Vec<Vec<bool>> {
        (0..graph.txns as u32)
            .map(|from| {
                let mut seen = vec![false; graph.n];
                let mut stack = vec![from];
                while let Some(u) = stack.pop() {
                    for (_, e) in graph.out(u) {
                        if e.rel == Rel::Realtime && !seen[e.to as usize] {
                            seen[e.to as usize] = true;
                            stack.push(e.to);
                        }
                    }
                }
                seen.truncate(graph.txns);
                seen
            })
            .collect()
    }

    /// Real-time precedence by its definition, pair by pair.
    fn precedence(history: &TxnHistory) -> Vec<Vec<bool>> {
        let txns = &history.txns;
        txns.iter()
            .map(|a| {
                txns.iter()
                    .map(|b| match (a.status, a.completed_at) {
                        (Status::Ok, Some(done)) => b.status != Status::Fail && done < b.invoked_at,
                        _ => false,
                    })
                    .collect()
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]
        /// Time points and the transitive reduction both give exactly real-time precedence,
        /// on histories with ties (a completion and an invocation at one time), aborted and
        /// indeterminate transactions.
        #[test]
        fn time_points_give_exactly_real_time_precedence(seed in any::<u64>(), txns in 1usize..14) {
            let history = sloppy_timed(TxnModel::ListAppend, txns, 2, seed);
            let n = history.txns.len();
            let truth = precedence(&history);
            let (points, edges) = realtime_points(&history, n as u32);
            let with_points = Graph::with_points(n, points as usize, edges);
            prop_assert_eq!(&reach(&with_points), &truth);
            let reduced = Graph::new(n, realtime_edges(&history));
            prop_assert_eq!(&reach(&reduced), &truth);
        }
    }

    #[test]
    fn a_completion_and_an_invocation_at_one_time_are_concurrent() {
        let mut history = sloppy_timed(TxnModel::ListAppend, 2, 1, 3);
        for (t, txn) in history.txns.iter_mut().enumerate() {
            txn.status = Status::Ok;
            txn.invoked_at = [0, 4][t];
            txn.completed_at = Some([4, 6][t]);
        }
        let edges = |h: &TxnHistory| {
            let (points, edges) = realtime_points(h, 2);
            reach(&Graph::with_points(2, points as usize, edges))
        };
        assert!(!edges(&history)[0][1], "a tie is no precedence");
        history.txns[1].invoked_at = 5;
        assert!(edges(&history)[0][1]);
    }

    #[test]
    fn a_run_through_points_becomes_one_real_time_edge() {
        // 0 -> p2 -> p3 -> 1 (real time), 1 -> 0 (rw): a cycle of two transactions.
        let e = |from, to, rel| order_edge(from, to, rel);
        let cycle = [
            e(2, 3, Rel::Realtime),
            e(3, 1, Rel::Realtime),
            e(1, 0, Rel::Rw),
            e(0, 2, Rel::Realtime),
        ];
        let collapsed = through_points(&cycle, 2);
        assert_eq!(
            collapsed,
            vec![e(1, 0, Rel::Rw), e(0, 1, Rel::Realtime)],
            "rotated to start at a transaction, the run merged"
        );
    }
}
