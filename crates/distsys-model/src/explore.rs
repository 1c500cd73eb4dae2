//! A breadth-first explicit-state checker over any [`Model`].
//!
//! Guarantees: every state reachable from the initial state within the model's bounds is
//! visited exactly once per canonical fingerprint (two states with the same fingerprint are
//! treated as one, as TLC and stateright do; with 64-bit fingerprints a collision is possible but
//! improbable at these sizes); every transition is checked; the search proceeds level by level,
//! so the first violation reported is at the smallest depth, and among the violations of that
//! depth the first in a fixed order (the frontier's order, then the model's action order), so
//! the result does not depend on the number of threads.

use rustc_hash::FxHashMap;
use std::fmt::Debug;
use std::time::{Duration, Instant};

/// What a transition leads to.
#[derive(Debug)]
pub enum Next<S> {
    /// The action is not enabled in this state.
    Disabled,
    /// The action leads outside the bounds: the successor is neither stored nor checked.
    OutOfBounds,
    /// A successor within bounds, with the safety property it breaks, if any.
    State(S, Option<String>),
}

/// A system to check: states, actions, and a canonical fingerprint.
pub trait Model: Sync {
    /// A state of the whole system.
    type State: Clone + Send + Sync;
    /// One atomic step.
    type Action: Clone + Debug + Send + Sync;

    /// The initial state.
    fn init(&self) -> Self::State;
    /// Every action that may be enabled in `state`, in a fixed order.
    fn actions(&self, state: &Self::State, out: &mut Vec<Self::Action>);
    /// Applies `action` to `state`.
    fn next(&self, state: &Self::State, action: &Self::Action) -> Next<Self::State>;
    /// The canonical fingerprint: equal for states the model treats as one (under symmetry, for
    /// every relabelling of one state).
    fn fingerprint(&self, state: &Self::State) -> u64;
    /// A rough size of a state in memory, for the memory budget.
    fn approx_bytes(&self, state: &Self::State) -> usize;
    /// A "sometimes" property: the search counts the stored states that satisfy it, so a test
    /// can show the bounds reach a situation (e.g. a leader change) rather than assume it.
    fn sometimes(&self, _state: &Self::State) -> bool {
        false
    }
    /// A one-line human description of an action taken in `state`.
    fn describe(&self, state: &Self::State, action: &Self::Action) -> String;
}

/// Limits of one search.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Worker threads expanding the frontier (at least 1).
    pub threads: usize,
    /// Stop with [`Verdict::BudgetExhausted`] once the estimated memory use passes this.
    pub memory_budget_bytes: usize,
    /// How often the progress callback is called.
    pub progress_every: Duration,
    /// Expand no state deeper than this (None: no limit). A search cut by it says so in
    /// [`Outcome::depth_limited`]: its "no violation" covers paths up to that length only.
    pub max_depth: Option<usize>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            threads: 2,
            memory_budget_bytes: 2 << 30,
            progress_every: Duration::from_secs(1),
            max_depth: None,
        }
    }
}

/// A progress report during a search.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Distinct states stored so far.
    pub states: usize,
    /// Distinct states per second since the start.
    pub states_per_s: f64,
    /// Depth of the level being expanded.
    pub depth: usize,
    /// States waiting in the next level.
    pub queue: usize,
}

/// How a search ended.
#[derive(Debug, Clone)]
pub enum Verdict<A> {
    /// Every reachable state within bounds was checked: no violation.
    Ok,
    /// A shortest path from the initial state to a violation.
    Violation {
        /// The broken property and its evidence.
        property: String,
        /// The actions, in order, from the initial state.
        path: Vec<A>,
    },
    /// The memory budget ran out before the search finished: nothing is known beyond the
    /// states visited.
    BudgetExhausted,
}

/// The result of a search.
#[derive(Debug, Clone)]
pub struct Outcome<A> {
    /// Distinct (canonical) states stored.
    pub distinct_states: usize,
    /// Transitions generated (successors computed, duplicates included).
    pub transitions: u64,
    /// Depth of the deepest level reached.
    pub depth: usize,
    /// Stored states satisfying [`Model::sometimes`].
    pub sometimes: usize,
    /// The search stopped at [`Limits::max_depth`] with states left to expand.
    pub depth_limited: bool,
    /// Wall time.
    pub elapsed: Duration,
    /// The verdict.
    pub verdict: Verdict<A>,
}

/// Where a stored state came from: its parent's fingerprint and the action (None for the
/// initial state).
type Parents<A> = FxHashMap<u64, Option<(u64, A)>>;

/// One successor computed by a worker.
struct Found<S, A> {
    parent: u64,
    action: A,
    fp: u64,
    state: S,
    violation: Option<String>,
    /// [`Model::sometimes`] of the state.
    sometimes: bool,
    /// [`Model::approx_bytes`] of the state.
    bytes: usize,
}

/// The successors worth keeping from a part of a level, and how many were computed in all.
type Expanded<S, A> = (Vec<Found<S, A>>, u64);

/// Explores `model` breadth first from its initial state.
pub fn check<M: Model>(
    model: &M,
    limits: &Limits,
    progress: &mut dyn FnMut(Progress),
) -> Outcome<M::Action> {
    let start = Instant::now();
    let init = model.init();
    let init_fp = model.fingerprint(&init);
    let mut parents: Parents<M::Action> = FxHashMap::default();
    parents.insert(init_fp, None);
    let mut frontier = vec![(init_fp, init)];
    let (mut depth, mut transitions) = (0usize, 0u64);
    let mut sometimes = usize::from(model.sometimes(&frontier[0].1));
    let mut last_report = Instant::now();
    let entry_bytes = std::mem::size_of::<(u64, Option<(u64, M::Action)>)>() + 8;
    let mut depth_limited = false;
    while !frontier.is_empty() {
        if limits.max_depth.is_some_and(|max| depth >= max) {
            depth_limited = true;
            break;
        }
        let (found, generated) = expand_level(model, frontier, &parents, limits.threads.max(1));
        transitions += generated;
        let mut next_frontier = Vec::new();
        let mut queued = 0usize;
        for found in found {
            let Found {
                parent,
                action,
                fp,
                state,
                ..
            } = found;
            if let Some(property) = found.violation {
                let mut path = path_to(&parents, parent);
                path.push(action);
                return Outcome {
                    distinct_states: parents.len(),
                    transitions,
                    depth: depth + 1,
                    sometimes,
                    depth_limited,
                    elapsed: start.elapsed(),
                    verdict: Verdict::Violation { property, path },
                };
            }
            if parents.contains_key(&fp) {
                continue;
            }
            parents.insert(fp, Some((parent, action)));
            sometimes += usize::from(found.sometimes);
            queued += found.bytes;
            next_frontier.push((fp, state));
        }
        frontier = next_frontier;
        if !frontier.is_empty() {
            depth += 1;
        }
        let used = parents.capacity() * entry_bytes + queued;
        if last_report.elapsed() >= limits.progress_every {
            last_report = Instant::now();
            progress(report(parents.len(), start, depth, frontier.len()));
        }
        if used > limits.memory_budget_bytes {
            return Outcome {
                distinct_states: parents.len(),
                transitions,
                depth,
                sometimes,
                depth_limited,
                elapsed: start.elapsed(),
                verdict: Verdict::BudgetExhausted,
            };
        }
    }
    Outcome {
        distinct_states: parents.len(),
        transitions,
        depth,
        sometimes,
        depth_limited,
        elapsed: start.elapsed(),
        verdict: Verdict::Ok,
    }
}

fn report(states: usize, start: Instant, depth: usize, queue: usize) -> Progress {
    Progress {
        states,
        states_per_s: states as f64 / start.elapsed().as_secs_f64().max(1e-9),
        depth,
        queue,
    }
}

/// Computes every successor of every frontier state, split into contiguous chunks over
/// `threads` workers; successors already stored in `seen` are left out unless their transition
/// breaks a property. The result keeps the frontier's order; the count is of every successor
/// computed. Each worker owns its chunk and drops it when done (freeing a level's states is
/// parallel work too).
fn expand_level<M: Model>(
    model: &M,
    frontier: Vec<(u64, M::State)>,
    seen: &Parents<M::Action>,
    threads: usize,
) -> Expanded<M::State, M::Action> {
    if threads == 1 || frontier.len() < 64 {
        return expand_chunk(model, frontier, seen);
    }
    let chunk = frontier.len().div_ceil(threads).max(1);
    let mut parts = Vec::with_capacity(threads);
    let mut rest = frontier;
    while rest.len() > chunk {
        let tail = rest.split_off(chunk);
        parts.push(rest);
        rest = tail;
    }
    parts.push(rest);
    std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| scope.spawn(move || expand_chunk(model, part, seen)))
            .collect();
        let mut all = Vec::new();
        let mut generated = 0;
        for handle in handles {
            match handle.join() {
                Ok((found, count)) => {
                    all.extend(found);
                    generated += count;
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        (all, generated)
    })
}

fn expand_chunk<M: Model>(
    model: &M,
    part: Vec<(u64, M::State)>,
    seen: &Parents<M::Action>,
) -> Expanded<M::State, M::Action> {
    let mut out = Vec::new();
    let mut local = rustc_hash::FxHashSet::default();
    let mut actions = Vec::new();
    let mut generated = 0;
    for (fp, state) in &part {
        actions.clear();
        model.actions(state, &mut actions);
        for action in &actions {
            if let Next::State(next, violation) = model.next(state, action) {
                generated += 1;
                let next_fp = model.fingerprint(&next);
                let known = seen.contains_key(&next_fp) || !local.insert(next_fp);
                if violation.is_some() || !known {
                    out.push(Found {
                        parent: *fp,
                        action: action.clone(),
                        fp: next_fp,
                        sometimes: model.sometimes(&next),
                        bytes: model.approx_bytes(&next),
                        state: next,
                        violation,
                    });
                }
            }
        }
    }
    drop(part);
    (out, generated)
}

/// The actions from the initial state to the state fingerprinted `fp`.
fn path_to<A: Clone>(parents: &Parents<A>, mut fp: u64) -> Vec<A> {
    let mut path = Vec::new();
    while let Some(Some((parent, action))) = parents.get(&fp) {
        path.push(action.clone());
        fp = *parent;
        debug_assert!(path.len() <= parents.len(), "parent chain has a cycle");
    }
    path.reverse();
    path
}
