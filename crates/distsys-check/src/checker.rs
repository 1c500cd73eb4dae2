//! Checking a whole history: partition by key, search every partition in parallel, and explain
//! a violation with the smallest part of the history that still cannot be linearized.

use crate::history::{History, HistoryError, OpKind, Operation};
use crate::model::canonical;
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
    let ops = resolve_unknowns(ops);
    let prepared = model
        .prepare(&ops)
        .map_err(|(line, message)| HistoryError::new(line, message))?;
    Ok(search(model, &prepared, &intervals(&ops), cancel))
}

/// Resolves operations of unknown outcome before the search (known-bugs #17). For an
/// indeterminate write, append, cas or add whose value (the new value for a cas) no other
/// operation writes:
///
/// - if no read result and no cas expected value contains that value, the operation is dropped:
///   it returns at infinity, so it may always be linearized last, where nothing observes it, and
///   in any linearization that places it earlier nothing can follow it before the next overwrite
///   (that would observe its value), so removing it leaves a valid linearization;
/// - if it is a write or cas and a completed read returned exactly its value (or a cas expected
///   exactly that value), it must have taken effect before the first such observer returned, so
///   it gets that return time instead of infinity (and, for a cas, is known to have succeeded).
///
/// Both keep exactly the same set of valid linearizations, and both turn an exponential search
/// over pending operations into a bounded window.
fn resolve_unknowns(ops: &[Operation]) -> Vec<Operation> {
    let effect = |op: &Operation| -> Option<String> {
        match op.kind {
            OpKind::Write | OpKind::Append | OpKind::Add => Some(canonical(&op.input)),
            OpKind::Cas => op
                .input
                .as_array()
                .and_then(|pair| pair.get(1))
                .map(canonical),
            OpKind::Read | OpKind::Delete => None,
        }
    };
    let observation = |op: &Operation| -> Option<String> {
        match op.kind {
            OpKind::Read => op.output.as_ref().map(canonical),
            OpKind::Cas => op
                .input
                .as_array()
                .and_then(|pair| pair.first())
                .map(canonical),
            _ => None,
        }
    };
    let effects: Vec<Option<String>> = ops.iter().map(effect).collect();
    const SCAN_BUDGET_BYTES: usize = 64 << 20;
    let mut budget = SCAN_BUDGET_BYTES;
    let observations: Vec<(Option<u64>, String)> = ops
        .iter()
        .filter_map(|op| observation(op).map(|seen| (op.ret, seen)))
        .collect();
    let scan_cost = effects.iter().flatten().map(String::len).sum::<usize>()
        + observations
            .iter()
            .map(|(_, seen)| seen.len())
            .sum::<usize>();
    ops.iter()
        .zip(&effects)
        .filter_map(|(op, token)| {
            let Some(token) = token
                .as_deref()
                .filter(|t| !op.is_complete() && !t.is_empty())
            else {
                return Some(op.clone());
            };
            // Substring scans cost the total length of values per unknown operation; past a
            // budget, operations are kept as they are (always sound), so this pre-pass can
            // never dominate the check.
            if scan_cost > budget {
                return Some(op.clone());
            }
            budget -= scan_cost;
            let writers = effects
                .iter()
                .flatten()
                .filter(|other| other.contains(token))
                .count();
            if writers > 1 {
                return Some(op.clone());
            }
            // Substring matching over-approximates "observed": safe for dropping (a false match
            // only keeps the operation), so the return-time rule uses exact observations only,
            // and only for writes and cas, whose value a read returns whole.
            let observed = observations.iter().any(|(_, seen)| seen.contains(token));
            let exact = matches!(op.kind, OpKind::Write | OpKind::Cas);
            let first_observer_return = observations
                .iter()
                .filter(|(ret, seen)| exact && ret.is_some() && seen == token)
                .filter_map(|(ret, _)| *ret)
                .min();
            match (observed, first_observer_return) {
                (false, _) => None,
                (true, Some(ret)) if ret >= op.call => Some(Operation {
                    ret: Some(ret),
                    ..op.clone()
                }),
                _ => Some(op.clone()),
            }
        })
        .collect()
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
