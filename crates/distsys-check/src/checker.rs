//! Checking a whole history: partition by key, search every partition in parallel, and explain
//! a violation with the smallest part of the history that still cannot be linearized.

use crate::history::{History, HistoryError, OpKind, Operation};
use crate::model::{KvModel, Model, ModelKind, RegisterModel, SetModel};
use crate::search::{search, Cancel, Interval, SearchOutcome, DEFAULT_MEMO_BYTES_MAX};
use rayon::prelude::*;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// How a check is run.
#[derive(Debug, Clone, Copy)]
pub struct CheckOptions {
    /// The sequential specification.
    pub model: ModelKind,
    /// Give up (verdict `Unknown`) after this long.
    pub timeout: Option<Duration>,
    /// Time allowed for shrinking a violation to its smallest explanation.
    pub explain_budget: Duration,
    /// Memory budget of one key's search, in bytes (verdict `Unknown` beyond it).
    pub memo_bytes_max: usize,
    /// Whether to shrink a violation to its core (else the core is the whole key's history).
    pub explain: bool,
}

impl CheckOptions {
    /// Options for a model, no timeout, 10 s to explain a violation.
    pub fn new(model: ModelKind) -> Self {
        CheckOptions {
            model,
            timeout: None,
            explain_budget: Duration::from_secs(10),
            memo_bytes_max: DEFAULT_MEMO_BYTES_MAX,
            explain: true,
        }
    }
}

/// A violation, explained.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// The key whose operations cannot be linearized (`None`: the single register).
    pub key: Option<String>,
    /// Every operation on that key.
    pub partition: Vec<Operation>,
    /// A smallest found set of operations that still cannot be linearized: a prefix of the key's
    /// history in time order (operations unfinished at the cut count as unknown) with every read
    /// removed that is not needed for the violation. Both reductions keep a violation a
    /// violation, so this set proves the whole history is not linearizable.
    pub core: Vec<Operation>,
    /// The time at which the shortest non-linearizable prefix ends: before it, the key's
    /// history is linearizable.
    pub linearizable_until: u64,
    /// Whether the shrinking finished within its budget (else `core` is larger than needed).
    pub minimal: bool,
    /// Index in `core` of the operation whose invocation or completion ends the shortest
    /// non-linearizable prefix: the point where no valid order is left.
    pub culprit: Option<usize>,
}

/// The verdict of a check.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Every partition has a linearization.
    Linearizable,
    /// Some partition has none.
    Violation(Box<Violation>),
    /// The search was stopped before an answer.
    Unknown(UnknownReason),
}

/// Why a check gave no verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownReason {
    /// The `--timeout` passed.
    Timeout,
    /// A key's search reached its memory budget.
    MemoryLimit,
}

/// A verdict with the figures of the check.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult {
    /// The verdict.
    pub verdict: Verdict,
    /// Operations checked.
    pub operations: usize,
    /// Partitions (keys) checked.
    pub partitions: usize,
    /// Wall time of the search (without explanation).
    pub search_time: Duration,
}

/// Checks a history against a model. Errors are operations the model cannot interpret.
pub fn check(history: &History, options: &CheckOptions) -> Result<CheckResult, HistoryError> {
    match options.model {
        ModelKind::Register => check_with(&RegisterModel { allow_cas: false }, history, options),
        ModelKind::CasRegister => check_with(&RegisterModel { allow_cas: true }, history, options),
        ModelKind::Kv => check_with(&KvModel, history, options),
        ModelKind::Set => check_with(&SetModel, history, options),
    }
}

fn intervals(ops: &[Operation]) -> Vec<Interval> {
    ops.iter()
        .map(|op| Interval {
            call: op.call,
            ret: op.ret,
        })
        .collect()
}

fn check_ops<M: Model>(
    model: &M,
    ops: &[Operation],
    cancel: Cancel<'_>,
) -> Result<SearchOutcome, HistoryError> {
    // A read with unknown outcome constrains nothing (the parsers already drop them).
    let known: Vec<Operation>;
    let ops = if ops
        .iter()
        .any(|op| op.kind == OpKind::Read && op.ret.is_none())
    {
        known = ops
            .iter()
            .filter(|op| op.kind != OpKind::Read || op.ret.is_some())
            .cloned()
            .collect();
        &known[..]
    } else {
        ops
    };
    let mut prepared = model
        .prepare(ops)
        .map_err(|(line, message)| HistoryError::new(line, message))?;
    let mut intervals = intervals(ops);
    model.simplify(&mut prepared, &mut intervals);
    Ok(search(model, &prepared, &intervals, cancel))
}

/// [`check`] for one model type.
pub fn check_with<M: Model>(
    model: &M,
    history: &History,
    options: &CheckOptions,
) -> Result<CheckResult, HistoryError> {
    let start = Instant::now();
    let deadline = options.timeout.map(|t| start + t);
    let flag = AtomicBool::new(false);
    let cancel = Cancel {
        flag: &flag,
        deadline,
        memo_bytes_max: options.memo_bytes_max,
    };
    let partitions = history.partitions();
    // Largest partitions first, so the parallel tail is short.
    let mut order: Vec<usize> = (0..partitions.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(partitions[i].1.len()));
    let mut outcomes: Vec<(usize, SearchOutcome)> = order
        .par_iter()
        .map(|&i| check_ops(model, &partitions[i].1, cancel).map(|o| (i, o)))
        .collect::<Result<_, _>>()?;
    outcomes.sort_by_key(|&(i, _)| i);
    let search_time = start.elapsed();
    let first_violation = outcomes
        .iter()
        .find(|(_, o)| *o == SearchOutcome::NotLinearizable);
    let verdict = if let Some(&(i, _)) = first_violation {
        let (key, ops) = &partitions[i];
        Verdict::Violation(Box::new(if options.explain {
            explain(model, key.clone(), ops, options)
        } else {
            Violation {
                key: key.clone(),
                partition: ops.clone(),
                core: ops.clone(),
                linearizable_until: 0,
                minimal: false,
                culprit: None,
            }
        }))
    } else if outcomes
        .iter()
        .any(|(_, o)| *o == SearchOutcome::OutOfMemory)
    {
        Verdict::Unknown(UnknownReason::MemoryLimit)
    } else if outcomes.iter().any(|(_, o)| *o == SearchOutcome::Cancelled) {
        Verdict::Unknown(UnknownReason::Timeout)
    } else {
        Verdict::Linearizable
    };
    Ok(CheckResult {
        verdict,
        operations: history.operations.len(),
        partitions: partitions.len(),
        search_time,
    })
}

/// The operations of `ops` as seen by an observer who stops watching at `cut`: operations
/// invoked after it are gone, operations returning after it have an unknown outcome (and reads
/// with an unknown outcome say nothing, so they are dropped).
fn prefix(ops: &[Operation], cut: u64) -> Vec<Operation> {
    ops.iter()
        .filter(|op| op.call <= cut)
        .filter_map(|op| match op.ret {
            Some(ret) if ret > cut => (op.kind != OpKind::Read).then(|| Operation {
                ret: None,
                output: None,
                ..op.clone()
            }),
            _ => Some(op.clone()),
        })
        .collect()
}

/// Shrinks a non-linearizable partition to a small core that is still not linearizable.
///
/// 1. Binary search for the shortest prefix (in time) that is not linearizable: if a prefix is
///    linearizable, so is every shorter one, so the property is monotone.
/// 2. Drop reads one at a time while the rest stays non-linearizable: removing a read from a
///    linearizable history leaves it linearizable (the same order works), so each kept removal
///    preserves the proof.
fn explain<M: Model>(
    model: &M,
    key: Option<String>,
    ops: &[Operation],
    options: &CheckOptions,
) -> Violation {
    let flag = AtomicBool::new(false);
    let cancel = Cancel {
        flag: &flag,
        deadline: Some(Instant::now() + options.explain_budget),
        memo_bytes_max: options.memo_bytes_max,
    };
    let violates = |candidate: &[Operation]| {
        matches!(
            check_ops(model, candidate, cancel),
            Ok(SearchOutcome::NotLinearizable)
        )
    };
    let mut times: Vec<u64> = ops
        .iter()
        .flat_map(|op| [Some(op.call), op.ret])
        .flatten()
        .collect();
    times.sort_unstable();
    times.dedup();
    let mut minimal = true;
    // Invariant: the prefix at times[hi] violates (the whole history does).
    let (mut lo, mut hi) = (0usize, times.len().saturating_sub(1));
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if violates(&prefix(ops, times[mid])) {
            hi = mid;
        } else if cancel.fired() {
            minimal = false;
            break;
        } else {
            lo = mid + 1;
        }
    }
    let mut core = match times.get(hi) {
        Some(&cut) => prefix(ops, cut),
        None => ops.to_vec(),
    };
    let linearizable_until = if hi == 0 { 0 } else { times[hi - 1] };
    let mut index = core.len();
    while index > 0 && minimal {
        index -= 1;
        if core[index].kind != OpKind::Read {
            continue;
        }
        let mut candidate = core.clone();
        candidate.remove(index);
        if violates(&candidate) {
            core = candidate;
        } else if cancel.fired() {
            minimal = false;
        }
    }
    let cut = times.get(hi).copied();
    let culprit = cut.and_then(|cut| {
        let owner = |op: &Operation| {
            ops.iter()
                .find(|o| o.line == op.line && o.process == op.process)
        };
        core.iter()
            .position(|op| owner(op).is_some_and(|o| o.ret == Some(cut)))
            .or_else(|| core.iter().position(|op| op.call == cut))
    });
    Violation {
        key,
        partition: ops.to_vec(),
        core,
        linearizable_until,
        minimal,
        culprit,
    }
}
