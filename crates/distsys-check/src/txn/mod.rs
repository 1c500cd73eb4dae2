//! The transactional isolation checker (Elle's method): read a history of transactions
//! (list-append or rw-register), infer ww/wr/rw dependencies from the values read, add
//! process and real-time orders, find dependency cycles and the anomalies visible in reads,
//! and judge a consistency model by the anomaly classes it forbids.
//!
//! - [`history`]: transactions, micro-operations, interned keys and values.
//! - [`format`]: Jepsen EDN, elle-cli JSON and JSON Lines readers.
//! - [`infer`]: what both models' inference shares; [`append`] and [`register`]: each model's.
//! - [`order`]: process and real-time edges.
//! - [`graph`]: the dependency graph, SCCs, BFS; [`cycle`] and [`nonadjacent`]: cycle search.
//! - [`anomaly`]: anomaly classes and the consistency models' table.
//! - [`report`]: the text explanation.
//! - [`generate`]: histories with planted anomalies; [`oracle`]: brute force for tiny ones.

pub mod anomaly;
pub mod append;
pub mod cycle;
mod fast_jsonl;
pub mod format;
pub mod generate;
pub mod graph;
pub mod history;
pub mod infer;
mod lex;
pub mod nonadjacent;
pub mod oracle;
pub mod order;
pub mod register;
pub mod report;

pub use anomaly::{Anomaly, AnomalyKind, Consistency, CycleClass, Variant};
pub use format::{parse_txn_history, TxnFormat};
pub use history::{Mop, ReadValue, Status, Txn, TxnHistory, TxnModel};

use crate::history::HistoryError;
use graph::Graph;

/// Default search budget: nodes visited by the cycle searches (about a second or two).
pub const DEFAULT_BUDGET: u64 = 200_000_000;

/// What to check.
#[derive(Debug, Clone, Copy)]
pub struct TxnOptions {
    /// The data model (`None`: inferred from the micro-operations).
    pub model: Option<TxnModel>,
    /// The consistency model to judge.
    pub consistency: Consistency,
    /// Step budget of the cycle searches.
    pub budget: u64,
}

impl Default for TxnOptions {
    fn default() -> Self {
        TxnOptions {
            model: None,
            consistency: Consistency::Serializable,
            budget: DEFAULT_BUDGET,
        }
    }
}

/// The verdict for the asked consistency model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnVerdict {
    /// No anomaly the model forbids.
    Valid,
    /// Some anomaly the model forbids.
    Invalid,
    /// None found, but a search the model needs ran out of budget.
    Unknown,
}

/// The checker's findings.
#[derive(Debug, Clone)]
pub struct TxnResult {
    /// The data model used.
    pub model: TxnModel,
    /// The consistency model judged.
    pub consistency: Consistency,
    /// The verdict.
    pub verdict: TxnVerdict,
    /// Every anomaly found (forbidden by the model or not).
    pub anomalies: Vec<Anomaly>,
    /// Cycle classes (and variants) whose search ran out of budget.
    pub undecided: Vec<(CycleClass, Variant)>,
    /// The dependency graph (for explanations and statistics).
    pub graph: Graph,
}

impl TxnResult {
    /// The distinct anomaly classes found, sorted.
    pub fn classes(&self) -> Vec<AnomalyKind> {
        let mut kinds: Vec<_> = self.anomalies.iter().map(|a| a.kind).collect();
        kinds.sort_unstable();
        kinds.dedup();
        kinds
    }

    /// The verdict for another consistency model, from the same findings (the variants that
    /// model needs must have been searched: check with the strongest model to judge all).
    pub fn verdict_for(&self, model: Consistency) -> TxnVerdict {
        verdict(model, &self.anomalies, &self.undecided)
    }
}

fn verdict(
    model: Consistency,
    anomalies: &[Anomaly],
    undecided: &[(CycleClass, Variant)],
) -> TxnVerdict {
    if anomalies.iter().any(|a| model.forbids(a.kind)) {
        TxnVerdict::Invalid
    } else if undecided
        .iter()
        .any(|&(c, v)| model.forbids(AnomalyKind::Cycle(c, v)))
    {
        TxnVerdict::Unknown
    } else {
        TxnVerdict::Valid
    }
}

/// Every micro-operation must belong to the model: list-append has appends and list reads,
/// rw-register writes and scalar reads.
fn check_model(history: &TxnHistory, model: TxnModel) -> Result<(), HistoryError> {
    for txn in &history.txns {
        for mop in &txn.mops {
            let wrong = match (model, mop) {
                (TxnModel::ListAppend, Mop::Write { .. }) => Some("a write [:w k v]"),
                (
                    TxnModel::ListAppend,
                    Mop::Read {
                        value: ReadValue::Value(_),
                        ..
                    },
                ) => Some("a read returning a scalar"),
                (TxnModel::RwRegister, Mop::Append { .. }) => Some("an append"),
                (
                    TxnModel::RwRegister,
                    Mop::Read {
                        value: ReadValue::List(_),
                        ..
                    },
                ) => Some("a read returning a list"),
                _ => None,
            };
            if let Some(what) = wrong {
                return Err(HistoryError::new(
                    txn.line,
                    format!("{what} in a {} history", model.name()),
                ));
            }
        }
    }
    Ok(())
}

/// The process and real-time edges the variants need, and the number of time points.
fn order_edges(history: &TxnHistory, variants: &[Variant]) -> (Vec<graph::Edge>, usize) {
    let mut edges = Vec::new();
    if variants.contains(&Variant::Process) {
        edges.extend(order::process_edges(history));
    }
    let mut points = 0;
    if variants.contains(&Variant::Realtime) {
        let (count, realtime) = order::realtime_points(history, history.txns.len() as u32);
        points = count as usize;
        edges.extend(realtime);
    }
    (edges, points)
}

/// Checks a history. Errors are bad input: values written twice, micro-operations of the
/// wrong model, or no way to tell the model.
pub fn check_txn(history: &TxnHistory, options: &TxnOptions) -> Result<TxnResult, HistoryError> {
    let model = match options.model.or_else(|| history.infer_model()) {
        Some(m) => m,
        None if history.txns.is_empty() => TxnModel::ListAppend,
        None => TxnModel::RwRegister,
    };
    check_model(history, model)?;
    // The data dependencies and the order edges need nothing of each other.
    let variants = options.consistency.variants();
    let txns = history.txns.len();
    let (inference, (order_edges, points)) = rayon::join(
        || match model {
            TxnModel::ListAppend => append::infer(history),
            TxnModel::RwRegister => register::infer(history),
        },
        || order_edges(history, variants),
    );
    let inference = inference?;
    let mut edges = inference.edges;
    edges.extend(order_edges);
    let graph = Graph::with_points(txns, points, edges);
    let mut anomalies = inference.anomalies;
    let mut undecided = Vec::new();
    let mut budget = options.budget;
    // Serializable models forbid every cycle with rw edges: the G2 search decides them, the
    // costlier nonadjacent search is for snapshot isolation only.
    let forbids = |c| {
        options
            .consistency
            .forbids(AnomalyKind::Cycle(c, Variant::Item))
    };
    let nonadjacent = forbids(CycleClass::GNonadjacent) && !forbids(CycleClass::G2Item);
    // The variants' relations are nested (item within process within real time): when the
    // last one's graph has no cycle, no variant has one, and one Tarjan pass decides them all.
    let widest = variants
        .last()
        .map_or(0, |&v| cycle::extra(v) | graph::DATA);
    let acyclic = !graph.sccs(widest).sizes.iter().any(|&s| s > 1);
    for &variant in variants.iter().filter(|_| !acyclic) {
        let search = cycle::CycleSearch::new(&graph, variant, budget);
        let found = search.run(nonadjacent);
        budget = found.budget_left;
        anomalies.extend(found.anomalies);
        undecided.extend(found.undecided.into_iter().map(|c| (c, variant)));
    }
    anomalies.sort_by_key(|a| a.kind);
    Ok(TxnResult {
        model,
        consistency: options.consistency,
        verdict: verdict(options.consistency, &anomalies, &undecided),
        anomalies,
        undecided,
        graph,
    })
}
