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
    /// Every successor of `state`: [`Model::next`] of each of `actions` in order, appended to
    /// `out`. The checker expands a state through this; a model overrides it to share the work
    /// every successor of one state needs (the default calls `next` per action).
    fn successors(
        &self,
        state: &Self::State,
        actions: &[Self::Action],
        out: &mut Vec<Next<Self::State>>,
    ) {
        out.extend(actions.iter().map(|action| self.next(state, action)));
    }
    /// The canonical fingerprint: equal for states the model treats as one (under symmetry, for
    /// every relabelling of one state).
    fn fingerprint(&self, state: &Self::State) -> u64;
    /// The fingerprints of `parent`'s `successors`, one per entry (anything for an entry that
    /// is not a state), appended to `out`: each equal to [`Model::fingerprint`] of the
    /// successor. The default computes each; a model overrides it to reuse the hashes of what
    /// a successor shares with its parent.
    fn successor_fingerprints(
        &self,
        _parent: &Self::State,
        successors: &[Next<Self::State>],
        out: &mut Vec<u64>,
    ) {
        out.extend(successors.iter().map(|successor| match successor {
            Next::State(state, _) => self.fingerprint(state),
            Next::Disabled | Next::OutOfBounds => 0,
        }));
    }
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
    /// Stop with [`Verdict::BudgetExhausted`] once the search holds more memory than this:
    /// the growth of the process's resident set since the search started (checked while a
    /// level is expanded, where the OS reports it: Linux's `/proc/self/status`), or the
    /// estimate of what is stored and queued (checked after each level) if that is larger.
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

/// Where a stored state came from: its parent's fingerprint and the position of the action in
/// the parent's [`Model::actions`] (24 bytes a state with the key, where the action itself
/// would double it; [`path_to`] replays the positions from the initial state to get the
/// actions back).
#[derive(Debug, Clone, Copy)]
struct Parent {
    fp: u64,
    action: u32,
}

/// The initial state's entry: it has no parent.
const ROOT: Parent = Parent {
    fp: 0,
    action: u32::MAX,
};

/// Shards of the fingerprint tables, chosen by a fingerprint's top bits: a level's new states
/// are recorded by all workers at once (one lock per shard), and moved into the stored set by
/// all workers at once (one shard each).
const SHARDS: usize = 64;

fn shard_of(fp: u64) -> usize {
    (fp >> (64 - SHARDS.trailing_zeros())) as usize
}

/// Every stored state's fingerprint and where it came from, sharded; read-only while a level is
/// expanded.
struct Stored {
    shards: Vec<FxHashMap<u64, Parent>>,
}

impl Stored {
    fn contains(&self, fp: u64) -> bool {
        self.shards[shard_of(fp)].contains_key(&fp)
    }
    fn get(&self, fp: u64) -> Option<&Parent> {
        self.shards[shard_of(fp)].get(&fp)
    }
    fn len(&self) -> usize {
        self.shards.iter().map(|s| s.len()).sum()
    }
    fn capacity(&self) -> usize {
        self.shards.iter().map(|s| s.capacity()).sum()
    }
}

/// A successor first found in the current level: the earliest (in frontier order, then action
/// order) transition reaching it, so which parent is kept does not depend on which worker got
/// there first.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    /// Rank of the transition in the level: (part, position in the part's successors).
    order: u64,
    parent: Parent,
}

/// The current level's new fingerprints, sharded, each under its own lock.
type Candidates = Vec<std::sync::Mutex<FxHashMap<u64, Candidate>>>;

/// One successor computed by a worker.
struct Found<S> {
    /// Rank of the transition in the level (see [`Candidate::order`]).
    order: u64,
    fp: u64,
    state: S,
    violation: Option<(String, Parent)>,
}

/// One part of a level: what a worker found in its share of the frontier. Parts are kept
/// from level to level, so after the widest level no buffer grows again: fresh memory costs a
/// page fault and the kernel's zeroing of the page, a large share of a search that allocates
/// each level anew.
struct Part<S> {
    /// Successors worth keeping, in the order computed.
    found: Vec<Found<S>>,
    /// Successors computed, duplicates included.
    generated: u64,
    /// Of the kept successors: how many satisfy [`Model::sometimes`], and their
    /// [`Model::approx_bytes`].
    sometimes: usize,
    bytes: usize,
}

impl<S> Default for Part<S> {
    fn default() -> Self {
        Part {
            found: Vec::new(),
            generated: 0,
            sometimes: 0,
            bytes: 0,
        }
    }
}

/// A level's states: `None` once expanded (each worker drops the states it expanded, so
/// freeing a level is parallel work too, and the vector itself is kept for the level after
/// next).
type Level<S> = Vec<Option<(u64, S)>>;

/// Parts of a level per worker thread: more parts than threads, so a worker that drew cheap
/// states takes another part.
const PARTS_PER_THREAD: usize = 4;

/// The state of one search.
struct Search<'m, M: Model> {
    model: &'m M,
    pool: rayon::ThreadPool,
    stored: Stored,
    candidates: Candidates,
    parts: Vec<Part<M::State>>,
    transitions: u64,
    sometimes: usize,
    budget: Budget,
}

/// The memory budget as the OS sees it: how much the process's resident set grew since the
/// search started. Allocators keep freed memory, so this is an upper bound of what the search
/// holds, which is what a budget protecting the machine should count.
struct Budget {
    limit: usize,
    start: Option<usize>,
    exceeded: std::sync::atomic::AtomicBool,
}

impl Budget {
    fn new(limit: usize) -> Self {
        Budget {
            limit,
            start: resident_bytes(),
            exceeded: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Measures now; true once the budget is exceeded (then for good).
    fn check(&self) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        if self.exceeded.load(Relaxed) {
            return true;
        }
        let grown = match (self.start, resident_bytes()) {
            (Some(start), Some(now)) => now.saturating_sub(start),
            _ => return false,
        };
        let exceeded = grown > self.limit;
        if exceeded {
            self.exceeded.store(true, Relaxed);
        }
        exceeded
    }

    fn exceeded(&self) -> bool {
        self.exceeded.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The process's resident set in bytes (Linux: `VmRSS` of `/proc/self/status`), or None where
/// the OS does not say.
fn resident_bytes() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib << 10)
}

/// Successors found between two measurements of the budget, per worker.
const BUDGET_EVERY: usize = 1024;

/// How a level ended.
enum LevelEnd<A> {
    /// The next level is in the frontier.
    Expanded,
    /// The level's first violation, with its path.
    Violation(String, Vec<A>),
    /// The memory budget ran out while the level was expanded.
    OutOfMemory,
}

/// Explores `model` breadth first from its initial state.
pub fn check<M: Model>(
    model: &M,
    limits: &Limits,
    progress: &mut dyn FnMut(Progress),
) -> Outcome<M::Action> {
    let start = Instant::now();
    let init = model.init();
    let init_fp = model.fingerprint(&init);
    let pool = worker_pool(limits.threads);
    let parts = (0..pool.current_num_threads() * PARTS_PER_THREAD)
        .map(|_| Part::default())
        .collect();
    let mut search = Search {
        model,
        pool,
        stored: Stored {
            shards: (0..SHARDS).map(|_| FxHashMap::default()).collect(),
        },
        candidates: (0..SHARDS).map(|_| Default::default()).collect(),
        parts,
        transitions: 0,
        sometimes: usize::from(model.sometimes(&init)),
        budget: Budget::new(limits.memory_budget_bytes),
    };
    search.stored.shards[shard_of(init_fp)].insert(init_fp, ROOT);
    let mut frontier: Level<M::State> = vec![Some((init_fp, init))];
    let mut depth = 0usize;
    let mut last_report = Instant::now();
    let entry_bytes = std::mem::size_of::<(u64, Parent)>() + 1;
    let mut depth_limited = false;
    let verdict = loop {
        if frontier.is_empty() {
            break Verdict::Ok;
        }
        if limits.max_depth.is_some_and(|max| depth >= max) {
            depth_limited = true;
            break Verdict::Ok;
        }
        match search.level(&mut frontier) {
            LevelEnd::Expanded => {}
            LevelEnd::Violation(property, path) => {
                depth += 1;
                break Verdict::Violation { property, path };
            }
            LevelEnd::OutOfMemory => break Verdict::BudgetExhausted,
        }
        if !frontier.is_empty() {
            depth += 1;
        }
        if last_report.elapsed() >= limits.progress_every {
            last_report = Instant::now();
            progress(report(search.stored.len(), start, depth, frontier.len()));
        }
        let queued: usize = search.parts.iter().map(|p| p.bytes).sum();
        if search.stored.capacity() * entry_bytes + queued > limits.memory_budget_bytes {
            break Verdict::BudgetExhausted;
        }
    };
    Outcome {
        distinct_states: search.stored.len(),
        transitions: search.transitions,
        depth,
        sometimes: search.sometimes,
        depth_limited,
        elapsed: start.elapsed(),
        verdict,
    }
}

impl<M: Model> Search<'_, M> {
    /// Expands `frontier` and replaces it with the next level; or returns the first violation
    /// of the level (in frontier order, then action order) with its path.
    fn level(&mut self, frontier: &mut Level<M::State>) -> LevelEnd<M::Action> {
        self.expand(frontier);
        frontier.clear();
        if self.budget.exceeded() {
            // A part cut short: what the level found is not all of it, so neither is its
            // first violation the first of the level. The counts stay those of the levels
            // completed (which level the budget stops depends on memory, so on timing).
            for part in &mut self.parts {
                part.found.clear();
            }
            return LevelEnd::OutOfMemory;
        }
        self.transitions += self.parts.iter().map(|p| p.generated).sum::<u64>();
        for part in &mut self.parts {
            let first = part.found.iter_mut().find_map(|f| f.violation.take());
            if let Some((property, parent)) = first {
                return LevelEnd::Violation(property, path_to(self.model, &self.stored, parent));
            }
        }
        self.keep_first_finds();
        for part in &mut self.parts {
            self.sometimes += part.sometimes;
            frontier.extend(part.found.drain(..).map(|f| Some((f.fp, f.state))));
        }
        LevelEnd::Expanded
    }

    /// Computes every successor of every frontier state, the frontier split into contiguous
    /// parts (part i holds what the i-th slice found, so reading the parts in order keeps the
    /// frontier's order), taken by the pool's workers as they become free. A successor
    /// already stored is left out unless its transition breaks a property; a new one is a
    /// candidate of the level (see [`Candidate`]). The pool's threads live for the whole
    /// search, so each keeps its allocator heap warm from level to level.
    fn expand(&mut self, frontier: &mut Level<M::State>) {
        use rayon::prelude::*;
        let parts = if frontier.len() < 64 || self.pool.current_num_threads() == 1 {
            1
        } else {
            self.parts.len()
        };
        let slice = frontier.len().div_ceil(parts).max(1);
        for part in &mut self.parts {
            part.generated = 0;
        }
        let (model, stored, candidates, budget) =
            (self.model, &self.stored, &self.candidates, &self.budget);
        self.pool.install(|| {
            frontier
                .par_chunks_mut(slice)
                .zip(self.parts.par_iter_mut())
                .enumerate()
                .for_each(|(i, (states, part))| {
                    expand_part(model, states, (stored, candidates, budget), i, part);
                });
        });
    }

    /// Leaves in each part only the successors that are their fingerprint's first find in the
    /// level, counts what they hold, and moves the level's candidates into the stored set:
    /// parts in parallel, then shards in parallel.
    fn keep_first_finds(&mut self) {
        use rayon::prelude::*;
        let model = self.model;
        // The tables are emptied, not replaced: they keep their capacity for the next level.
        let mut candidates: Vec<&mut FxHashMap<u64, Candidate>> = self
            .candidates
            .iter_mut()
            .map(|shard| match shard.get_mut() {
                Ok(map) => map,
                Err(poisoned) => poisoned.into_inner(),
            })
            .collect();
        let first: Vec<&FxHashMap<u64, Candidate>> = candidates.iter().map(|c| &**c).collect();
        self.pool.install(|| {
            self.parts.par_iter_mut().for_each(|part| {
                part.found.retain(|f| {
                    first[shard_of(f.fp)]
                        .get(&f.fp)
                        .is_some_and(|c| c.order == f.order)
                });
                part.sometimes = part
                    .found
                    .iter()
                    .filter(|f| model.sometimes(&f.state))
                    .count();
                part.bytes = part
                    .found
                    .iter()
                    .map(|f| model.approx_bytes(&f.state))
                    .sum();
            });
        });
        let stored = &mut self.stored.shards;
        self.pool.install(|| {
            stored
                .par_iter_mut()
                .zip(candidates.par_iter_mut())
                .for_each(|(shard, level)| {
                    shard.extend(level.drain().map(|(fp, c)| (fp, c.parent)));
                });
        });
    }
}

/// Expands the states of one slice of a level into `part` (the `index`-th of the level),
/// dropping each state once expanded; stops early once the memory budget is exceeded.
fn expand_part<M: Model>(
    model: &M,
    states: &mut [Option<(u64, M::State)>],
    (stored, candidates, budget): (&Stored, &Candidates, &Budget),
    index: usize,
    part: &mut Part<M::State>,
) {
    let (mut actions, mut successors, mut fingerprints) = (Vec::new(), Vec::new(), Vec::new());
    let mut measured_at = part.found.len();
    for slot in states {
        if part.found.len() >= measured_at + BUDGET_EVERY {
            measured_at = part.found.len();
            budget.check();
        }
        if budget.exceeded() {
            return;
        }
        let Some((fp, state)) = slot.take() else {
            continue;
        };
        actions.clear();
        fingerprints.clear();
        model.actions(&state, &mut actions);
        model.successors(&state, &actions, &mut successors);
        model.successor_fingerprints(&state, &successors, &mut fingerprints);
        for (position, (successor, &next_fp)) in successors.drain(..).zip(&fingerprints).enumerate()
        {
            let Next::State(next, violation) = successor else {
                continue;
            };
            let order = ((index as u64) << 40) | part.generated;
            part.generated += 1;
            let parent = Parent {
                fp,
                action: position as u32,
            };
            if let Some(property) = violation {
                part.found.push(Found {
                    order,
                    fp: next_fp,
                    state: next,
                    violation: Some((property, parent)),
                });
            } else if !stored.contains(next_fp) && first_find(candidates, next_fp, order, parent) {
                part.found.push(Found {
                    order,
                    fp: next_fp,
                    state: next,
                    violation: None,
                });
            }
        }
    }
}

/// Records the transition ranked `order` as reaching `fp` in this level, unless an earlier one
/// did; true if it is (so far) the earliest.
fn first_find(candidates: &Candidates, fp: u64, order: u64, parent: Parent) -> bool {
    let mut shard = match candidates[shard_of(fp)].lock() {
        Ok(shard) => shard,
        Err(poisoned) => poisoned.into_inner(),
    };
    match shard.entry(fp) {
        std::collections::hash_map::Entry::Vacant(slot) => {
            slot.insert(Candidate { order, parent });
            true
        }
        std::collections::hash_map::Entry::Occupied(mut slot) => {
            if order < slot.get().order {
                slot.insert(Candidate { order, parent });
                true
            } else {
                false
            }
        }
    }
}

/// The search's workers: `threads` of them for the whole search (a pool that cannot be built,
/// which only happens when the OS refuses threads, falls back to one worker).
fn worker_pool(threads: usize) -> rayon::ThreadPool {
    let build = |n: usize| rayon::ThreadPoolBuilder::new().num_threads(n).build();
    match build(threads.max(1)) {
        Ok(pool) => pool,
        Err(_) => build(1).expect("a one-thread pool"),
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

/// The actions from the initial state through the stored state `parent.fp` and then the
/// action at `parent.action` of it: the chain of parents gives each step's action position,
/// and replaying them from the initial state gives the actions (the model is deterministic,
/// and each stored state is the one its parent's action produced).
fn path_to<M: Model>(model: &M, stored: &Stored, parent: Parent) -> Vec<M::Action> {
    let mut positions = vec![parent.action];
    let mut fp = parent.fp;
    while let Some(parent) = stored.get(fp).filter(|p| p.action != ROOT.action) {
        positions.push(parent.action);
        fp = parent.fp;
        debug_assert!(
            positions.len() <= stored.len() + 1,
            "parent chain has a cycle"
        );
    }
    let mut state = model.init();
    let mut path = Vec::with_capacity(positions.len());
    for &position in positions.iter().rev() {
        let action = nth_action(model, &state, position);
        if let Next::State(next, _) = model.next(&state, &action) {
            state = next;
        }
        path.push(action);
    }
    path
}

/// The action at `position` of `state`'s [`Model::actions`].
fn nth_action<M: Model>(model: &M, state: &M::State, position: u32) -> M::Action {
    let mut actions = Vec::new();
    model.actions(state, &mut actions);
    actions.swap_remove(position as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The gauge sees memory the process touches (where the OS reports it).
    #[test]
    fn the_budget_counts_memory_the_process_touches() {
        if resident_bytes().is_none() {
            return;
        }
        let budget = Budget::new(16 << 20);
        assert!(!budget.exceeded());
        let touched = vec![1u8; 64 << 20];
        assert!(budget.check(), "64 MiB touched, budget 16 MiB");
        assert!(budget.exceeded());
        assert_eq!(
            touched.iter().map(|&b| usize::from(b)).sum::<usize>(),
            64 << 20
        );
    }
}
