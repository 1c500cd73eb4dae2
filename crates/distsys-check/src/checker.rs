//! Checking a whole history: partition by key, search every partition in parallel, and explain
//! a violation with the smallest part of the history that still cannot be linearized.

use crate::history::{History, HistoryError, OpKind, Operation};
use crate::model::{KvModel, Model, ModelKind, RegisterModel, SetModel};
use crate::search::{search, Cancel, Interval, SearchOutcome, DEFAULT_MEMO_BYTES_MAX};
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How a check is run.
#[derive(Debug, Clone, Copy)]
pub struct CheckOptions {
    /// The sequential specification.
    pub model: ModelKind,
    /// Give up (verdict `Unknown`) after this long.
    pub timeout: Option<Duration>,
    /// Time allowed for shrinking a violation to its smallest explanation, after the verdict
    /// (`None`: [`default_explain_budget`] of the verdict's time).
    pub explain_budget: Option<Duration>,
    /// Memory budget of one key's search, in bytes (verdict `Unknown` beyond it; `None`:
    /// [`memo_budget_bytes`] of the key's size).
    pub memo_bytes_max: Option<usize>,
    /// Whether to shrink a violation to its core (else the core is the whole key's history).
    pub explain: bool,
    /// Whether a polynomial algorithm may decide the keys that qualify (registers with unique
    /// written values, see [`crate::zones`]); `false`: always the search.
    pub fast_paths: bool,
}

impl CheckOptions {
    /// Options for a model: no timeout, explanation within the default budget, memory budget
    /// scaled to the input.
    pub fn new(model: ModelKind) -> Self {
        CheckOptions {
            model,
            timeout: None,
            explain_budget: None,
            memo_bytes_max: None,
            explain: true,
            fast_paths: true,
        }
    }
}

/// Shrinking's default budget: 10 times the verdict's time, at least 100 ms, at most 10 s.
pub fn default_explain_budget(verdict_time: Duration) -> Duration {
    (verdict_time * 10).clamp(Duration::from_millis(100), Duration::from_secs(10))
}

/// The default memory budget of one key's search: 4 KiB per operation of the key, at least
/// 64 MiB and at most [`DEFAULT_MEMO_BYTES_MAX`].
pub fn memo_budget_bytes(key_operations: usize) -> usize {
    key_operations
        .saturating_mul(4096)
        .clamp(64 << 20, DEFAULT_MEMO_BYTES_MAX)
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
    /// Whether shrinking was run at all (`false`: verdict only, `core` is the partition).
    pub explained: bool,
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnknownReason {
    /// The `--timeout` passed.
    Timeout,
    /// A key's search reached its memory budget.
    MemoryLimit {
        /// The key (`None`: the single register).
        key: Option<String>,
        /// The budget it reached, in bytes.
        bytes_max: usize,
    },
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
    /// Wall time to the verdict (without explanation).
    pub search_time: Duration,
    /// Wall time of shrinking a violation (zero otherwise).
    pub explain_time: Duration,
    /// The search algorithm used (see [`crate::search`]).
    pub algorithm: &'static str,
    /// Keys whose search was stopped (or never started) because another key had already been
    /// proven not linearizable.
    pub cancelled_keys: usize,
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

/// Checks one partition: simplify, then the model's polynomial decision if the operations
/// qualify (and `fast`), else the search. Returns the outcome and the algorithm used.
fn check_ops<M: Model>(
    model: &M,
    ops: &[Operation],
    cancel: Cancel<'_>,
    fast: bool,
) -> Result<(SearchOutcome, &'static str), HistoryError> {
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
    let decided = |(linearizable, algorithm): (bool, &'static str)| {
        let outcome = if linearizable {
            SearchOutcome::Linearizable
        } else {
            SearchOutcome::NotLinearizable
        };
        (outcome, algorithm)
    };
    // The polynomial decisions take unknown outcomes as they are (each states how), so they
    // run first: the rewrites' substring scans can cost more than the decision itself. Again
    // after the rewrites, which can make a key qualify (an unknown duplicate dropped).
    if fast {
        if let Some(fast) = model.decide_fast(&prepared, &intervals) {
            return Ok(decided(fast));
        }
    }
    model.simplify(&mut prepared, &mut intervals);
    if fast {
        if let Some(fast) = model.decide_fast(&prepared, &intervals) {
            return Ok(decided(fast));
        }
    }
    Ok((search(model, &prepared, &intervals, cancel), ALGORITHM))
}

/// [`check`] for one model type: [`decide_with`], then [`explain_with`] if asked and needed.
pub fn check_with<M: Model>(
    model: &M,
    history: &History,
    options: &CheckOptions,
) -> Result<CheckResult, HistoryError> {
    let mut result = decide_with(model, history, options)?;
    if options.explain {
        if let Verdict::Violation(v) = &result.verdict {
            let start = Instant::now();
            let budget = options
                .explain_budget
                .unwrap_or_else(|| default_explain_budget(result.search_time));
            let explained = explain_with(model, v, budget, options.memo_bytes_max);
            result.explain_time = start.elapsed();
            result.verdict = Verdict::Violation(Box::new(explained));
        }
    }
    Ok(result)
}

/// The verdict only (a violation's core is its whole key): every key is searched in parallel,
/// largest first, and as soon as one key is proven not linearizable every other key's search
/// is cancelled.
pub fn decide(history: &History, options: &CheckOptions) -> Result<CheckResult, HistoryError> {
    match options.model {
        ModelKind::Register => decide_with(&RegisterModel { allow_cas: false }, history, options),
        ModelKind::CasRegister => decide_with(&RegisterModel { allow_cas: true }, history, options),
        ModelKind::Kv => decide_with(&KvModel, history, options),
        ModelKind::Set => decide_with(&SetModel, history, options),
    }
}

/// Shrinks a violation found by [`decide`] within `budget` (see [`Violation::core`]).
pub fn explain(violation: &Violation, model: ModelKind, budget: Duration) -> Violation {
    match model {
        ModelKind::Register => {
            explain_with(&RegisterModel { allow_cas: false }, violation, budget, None)
        }
        ModelKind::CasRegister => {
            explain_with(&RegisterModel { allow_cas: true }, violation, budget, None)
        }
        ModelKind::Kv => explain_with(&KvModel, violation, budget, None),
        ModelKind::Set => explain_with(&SetModel, violation, budget, None),
    }
}

/// The history's operations by key; one key (a register, most Jepsen etcd logs) keeps its
/// operations as they are, not a copy.
fn partitions_of(history: &History) -> Vec<(Option<String>, std::borrow::Cow<'_, [Operation]>)> {
    match history.operations.first() {
        Some(first) if history.operations.iter().all(|op| op.key == first.key) => {
            vec![(first.key.clone(), (&history.operations[..]).into())]
        }
        _ => history
            .partitions()
            .into_iter()
            .map(|(key, ops)| (key, ops.into()))
            .collect(),
    }
}

/// The verdict from every key's outcome (`(key index, outcome, memo budget)`, in key order)
/// and, after a violation, how many keys it cancelled: the first violated key wins, then a
/// key out of memory, then a timeout.
fn verdict_of(
    outcomes: &[(usize, SearchOutcome, usize)],
    partitions: &[(Option<String>, std::borrow::Cow<'_, [Operation]>)],
) -> (Verdict, usize) {
    let violated = outcomes
        .iter()
        .any(|(_, o, _)| *o == SearchOutcome::NotLinearizable);
    let cancelled_keys = if violated {
        outcomes
            .iter()
            .filter(|(_, o, _)| *o == SearchOutcome::Cancelled)
            .count()
    } else {
        0
    };
    let first_violation = outcomes
        .iter()
        .find(|(_, o, _)| *o == SearchOutcome::NotLinearizable);
    let verdict = if let Some(&(i, _, _)) = first_violation {
        let (key, ops) = &partitions[i];
        Verdict::Violation(Box::new(Violation {
            key: key.clone(),
            partition: ops.to_vec(),
            core: ops.to_vec(),
            linearizable_until: 0,
            minimal: false,
            explained: false,
            culprit: None,
        }))
    } else if let Some(&(i, _, bytes_max)) = outcomes
        .iter()
        .find(|(_, o, _)| *o == SearchOutcome::OutOfMemory)
    {
        Verdict::Unknown(UnknownReason::MemoryLimit {
            key: partitions[i].0.clone(),
            bytes_max,
        })
    } else if outcomes
        .iter()
        .any(|(_, o, _)| *o == SearchOutcome::Cancelled)
    {
        Verdict::Unknown(UnknownReason::Timeout)
    } else {
        Verdict::Linearizable
    };
    (verdict, cancelled_keys)
}

/// [`decide`] for one model type.
pub fn decide_with<M: Model>(
    model: &M,
    history: &History,
    options: &CheckOptions,
) -> Result<CheckResult, HistoryError> {
    let start = Instant::now();
    let deadline = options.timeout.map(|t| start + t);
    // Set by the first key proven not linearizable: every other key's search stops.
    let found = AtomicBool::new(false);
    let algorithms: std::sync::Mutex<std::collections::BTreeSet<&'static str>> = Default::default();
    let partitions = partitions_of(history);
    // Largest partitions first, so the parallel tail is short.
    let mut order: Vec<usize> = (0..partitions.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(partitions[i].1.len()));
    // One key's check with a deadline; `None` when that deadline (not the user's timeout, not
    // another key's violation) cut it short, so it must run again with more time.
    let run = |i: usize, key_deadline: Option<Instant>| {
        if found.load(Ordering::Relaxed) {
            return Ok(Some((i, SearchOutcome::Cancelled, 0)));
        }
        let ops = &partitions[i].1;
        let bytes_max = options
            .memo_bytes_max
            .unwrap_or_else(|| memo_budget_bytes(ops.len()));
        let cancel = Cancel {
            flag: &found,
            deadline: key_deadline,
            memo_bytes_max: bytes_max,
        };
        let (outcome, algorithm) = check_ops(model, ops, cancel, options.fast_paths)?;
        if outcome == SearchOutcome::NotLinearizable {
            found.store(true, Ordering::Relaxed);
        }
        let cut_short = outcome == SearchOutcome::Cancelled
            && !found.load(Ordering::Relaxed)
            && key_deadline != deadline
            && deadline.is_none_or(|d| Instant::now() < d);
        if cut_short {
            return Ok(None);
        }
        algorithms.lock().map(|mut a| a.insert(algorithm)).ok();
        Ok(Some((i, outcome, bytes_max)))
    };
    // First the small keys on this thread, smallest first, each within `INLINE_KEY_BUDGET`
    // (at most `INLINE_TOTAL_BUDGET` in all): most
    // keys of most histories are decided in microseconds, less than handing them to the thread
    // pool costs (a wake-up of tens of microseconds). Then the keys that needed longer, in
    // parallel, largest first, with the whole timeout. A violation found on the way cancels
    // the rest, so a hopeless key never holds back another's violation for longer than its
    // inline budget. A history of one key runs on this thread with the whole timeout.
    let mut outcomes: Vec<(usize, SearchOutcome, usize)> = Vec::with_capacity(order.len());
    let mut pending: Vec<usize> = Vec::new();
    if partitions.len() == 1 {
        outcomes.extend(run(order[0], deadline)?);
    } else {
        let inline_until = Instant::now() + INLINE_TOTAL_BUDGET;
        for &i in order.iter().rev() {
            let now = Instant::now();
            if partitions[i].1.len() > INLINE_KEY_OPS_MAX || now >= inline_until {
                pending.push(i);
                continue;
            }
            let inline = now + INLINE_KEY_BUDGET;
            let key_deadline = Some(deadline.map_or(inline, |d| d.min(inline)));
            match run(i, key_deadline)? {
                Some(outcome) => outcomes.push(outcome),
                None => pending.push(i),
            }
        }
        pending.reverse();
    }
    let rest: Vec<Option<(usize, SearchOutcome, usize)>> = pending
        .par_iter()
        .map(|&i| run(i, deadline))
        .collect::<Result<_, HistoryError>>()?;
    // With the whole timeout `run` never asks for another try.
    outcomes.extend(rest.into_iter().flatten());
    outcomes.sort_by_key(|&(i, _, _)| i);
    let search_time = start.elapsed();
    let (verdict, cancelled_keys) = verdict_of(&outcomes, &partitions);
    Ok(CheckResult {
        verdict,
        operations: history.operations.len(),
        partitions: partitions.len(),
        search_time,
        explain_time: Duration::ZERO,
        cancelled_keys,
        algorithm: match algorithms
            .into_inner()
            .map(|a| a.into_iter().collect::<Vec<_>>())
        {
            Ok(names) if names.len() == 1 => names[0],
            Ok(names) if names.len() > 1 => MIXED,
            _ => ALGORITHM,
        },
    })
}

/// How long [`decide`] checks one key of a several-key history on the calling thread before
/// leaving it to the thread pool.
const INLINE_KEY_BUDGET: Duration = Duration::from_micros(200);
/// Keys larger than this go to the thread pool at once (their decision may not be cut short).
const INLINE_KEY_OPS_MAX: usize = 512;
/// Once [`decide`] has spent this long on the calling thread, the keys left go to the pool.
const INLINE_TOTAL_BUDGET: Duration = Duration::from_millis(2);

/// The name of the search reported in [`CheckResult::algorithm`].
pub const ALGORITHM: &str = "wgl-jit-memo";
/// [`CheckResult::algorithm`] when some keys were decided by the search and others by a
/// polynomial algorithm.
pub const MIXED: &str = "unique-value-zones+wgl-jit-memo";

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

/// Removes reads from a violating core in chunks, halving the chunk down to single reads (so
/// at the end every read left is needed): few checks when most reads are not needed. Returns
/// the core and whether it is minimal (false when `fired` cut the shrinking short).
fn shrink_reads(
    mut core: Vec<Operation>,
    violates: &dyn Fn(&[Operation]) -> bool,
    fired: &dyn Fn() -> bool,
) -> (Vec<Operation>, bool) {
    let reads = |core: &[Operation]| -> Vec<usize> {
        (0..core.len())
            .filter(|&i| core[i].kind == OpKind::Read)
            .collect()
    };
    let mut chunk = reads(&core).len().next_power_of_two().max(2) / 2;
    loop {
        let mut start = 0;
        loop {
            let positions = reads(&core);
            if start >= positions.len() {
                break;
            }
            if fired() {
                return (core, false);
            }
            let drop: Vec<usize> = positions[start..(start + chunk).min(positions.len())].to_vec();
            let candidate: Vec<Operation> = core
                .iter()
                .enumerate()
                .filter(|(i, _)| drop.binary_search(i).is_err())
                .map(|(_, op)| op.clone())
                .collect();
            if violates(&candidate) {
                core = candidate;
            } else if fired() {
                return (core, false);
            } else {
                start += chunk;
            }
        }
        if chunk == 1 {
            return (core, true);
        }
        chunk /= 2;
    }
}

/// Shrinks a violation's partition to a small core that is still not linearizable, within
/// `budget` (else `minimal` is false and the core is the smallest found so far).
///
/// 1. Binary search for the shortest prefix (in time) that is not linearizable: if a prefix is
///    linearizable, so is every shorter one, so the property is monotone.
/// 2. Drop reads one at a time while the rest stays non-linearizable: removing a read from a
///    linearizable history leaves it linearizable (the same order works), so each kept removal
///    preserves the proof.
pub fn explain_with<M: Model>(
    model: &M,
    violation: &Violation,
    budget: Duration,
    memo_bytes_max: Option<usize>,
) -> Violation {
    let key = violation.key.clone();
    let ops = &violation.partition[..];
    let flag = AtomicBool::new(false);
    let cancel = Cancel {
        flag: &flag,
        deadline: Some(Instant::now() + budget),
        memo_bytes_max: memo_bytes_max.unwrap_or_else(|| memo_budget_bytes(ops.len())),
    };
    let violates = |candidate: &[Operation]| {
        matches!(
            check_ops(model, candidate, cancel, true),
            Ok((SearchOutcome::NotLinearizable, _))
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
    // Invariant: the prefix at times[hi] violates (the whole history does); every prefix
    // before times[lo] is linearizable.
    let (mut lo, mut hi) = (0usize, times.len().saturating_sub(1));
    while lo < hi {
        if cancel.fired() {
            minimal = false;
            break;
        }
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
    let linearizable_until = if lo == 0 { 0 } else { times[lo - 1] };
    if minimal {
        (core, minimal) = shrink_reads(core, &violates, &|| cancel.fired());
    }
    let cut = times.get(hi).copied();
    let culprit = cut.and_then(|cut| {
        // The original return of each operation of the core (the prefix forgot some).
        let returns: rustc_hash::FxHashMap<(usize, u64), Option<u64>> =
            ops.iter().map(|o| ((o.line, o.process), o.ret)).collect();
        core.iter()
            .position(|op| returns.get(&(op.line, op.process)) == Some(&Some(cut)))
            .or_else(|| core.iter().position(|op| op.call == cut))
    });
    Violation {
        key,
        partition: ops.to_vec(),
        core,
        linearizable_until,
        minimal,
        explained: true,
        culprit,
    }
}
