//! Random histories that are linearizable by construction, for property tests and benchmarks.
//!
//! A sequential execution is run on a key-value store; each operation gets a linearization
//! point `L`, then an invocation time before `L` and a completion time after it (so operations
//! overlap at random) while each process still runs one operation at a time. Every written value
//! is distinct, so a stale read is always distinguishable.

use crate::history::{Completion, Event, History, HistoryBuilder, OpKind};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rustc_hash::FxHashMap;
use serde_json::{json, Value};

/// Which operations the generator uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpMix {
    /// read, write.
    Register,
    /// read, write, cas.
    CasRegister,
    /// read, write, cas, append, delete.
    Kv,
}

/// Shape of a generated history.
#[derive(Debug, Clone, Copy)]
pub struct GenConfig {
    /// Operations to generate.
    pub operations: usize,
    /// Concurrent client slots.
    pub processes: usize,
    /// Distinct keys (1: a single register, written without a key).
    pub keys: usize,
    /// Probability that an operation's outcome is unknown (`info`).
    pub info_probability: f64,
    /// Operation mix.
    pub mix: OpMix,
    /// RNG seed.
    pub seed: u64,
}

/// Generates a linearizable history's events, in time order, numbered from line 1.
pub fn generate(config: &GenConfig) -> Vec<Event> {
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let processes = config.processes.max(1);
    let mut process_ids: Vec<u64> = (0..processes as u64).collect();
    let mut next_process = processes as u64;
    let mut free_at: Vec<u64> = vec![0; processes];
    let mut state: FxHashMap<Option<String>, Option<String>> = FxHashMap::default();
    let mut counter = 0u64;
    let mut events: Vec<(u64, u8, Event)> = Vec::with_capacity(2 * config.operations);
    let mut linearization = 0u64;
    for _ in 0..config.operations {
        linearization += 10;
        let slot = free_slot(&free_at, &mut linearization, &mut rng);
        let call = rng.random_range(
            (free_at[slot] + 1).max(linearization.saturating_sub(50))..=linearization,
        );
        let ret = linearization + rng.random_range(0..50u64);
        let key = (config.keys > 1).then(|| format!("k{}", rng.random_range(0..config.keys)));
        let current = state.get(&key).cloned().flatten();
        let kinds = kinds_of(config.mix);
        let kind = kinds[rng.random_range(0..kinds.len())];
        counter += 1;
        let fresh = format!("v{counter}");
        let unknown = kind != OpKind::Read && rng.random_bool(config.info_probability);
        let takes_effect = !unknown || rng.random_bool(0.5);
        let (input, output, completion, next) = effect(kind, current, fresh, counter, &mut rng);
        if takes_effect {
            state.insert(key.clone(), next);
        }
        let completion = if unknown {
            Completion::Info
        } else {
            completion
        };
        let process = process_ids[slot];
        let event = |completion: Option<Completion>, value: Value, time: u64| Event {
            line: 0,
            process,
            completion,
            kind,
            key: key.clone(),
            value,
            time,
        };
        events.push((call, 0, event(None, input.clone(), call)));
        let completion_value = if kind == OpKind::Read { output } else { input };
        events.push((ret, 1, event(Some(completion), completion_value, ret)));
        free_at[slot] = ret;
        if unknown {
            // Jepsen retires a process whose operation is indeterminate.
            process_ids[slot] = next_process;
            next_process += 1;
        }
    }
    numbered(events)
}

/// A client slot free before the linearization point, drawn at random; the point moves on by
/// 10 until one is.
fn free_slot(free_at: &[u64], linearization: &mut u64, rng: &mut ChaCha8Rng) -> usize {
    loop {
        let free: Vec<usize> = (0..free_at.len())
            .filter(|&p| free_at[p] < *linearization)
            .collect();
        if free.is_empty() {
            *linearization += 10;
            continue;
        }
        return free[rng.random_range(0..free.len())];
    }
}

/// The operation kinds a mix draws from.
fn kinds_of(mix: OpMix) -> &'static [OpKind] {
    match mix {
        OpMix::Register => &[OpKind::Read, OpKind::Write],
        OpMix::CasRegister => &[OpKind::Read, OpKind::Write, OpKind::Cas],
        OpMix::Kv => &[
            OpKind::Read,
            OpKind::Write,
            OpKind::Cas,
            OpKind::Append,
            OpKind::Delete,
        ],
    }
}

/// What one operation of `kind` does to a key holding `current`: its input, its output, its
/// completion and the key's next value (`fresh`: the value it writes; a cas expects the
/// current value 60% of the time, else some value `v0..=v{counter}`).
fn effect(
    kind: OpKind,
    current: Option<String>,
    fresh: String,
    counter: u64,
    rng: &mut ChaCha8Rng,
) -> (Value, Value, Completion, Option<String>) {
    match kind {
        OpKind::Read => (Value::Null, json!(current), Completion::Ok, current),
        OpKind::Write => (json!(fresh), Value::Null, Completion::Ok, Some(fresh)),
        OpKind::Append => (
            json!(format!(" {fresh}")),
            Value::Null,
            Completion::Ok,
            Some(format!("{} {fresh}", current.unwrap_or_default())),
        ),
        OpKind::Delete => (Value::Null, Value::Null, Completion::Ok, None),
        OpKind::Cas | OpKind::Add => {
            let expected = if rng.random_bool(0.6) {
                current.clone()
            } else {
                Some(format!("v{}", rng.random_range(0..=counter)))
            };
            let holds = expected == current;
            let completion = if holds {
                Completion::Ok
            } else {
                Completion::Fail
            };
            (
                json!([expected, fresh]),
                Value::Null,
                completion,
                if holds { Some(fresh) } else { current },
            )
        }
    }
}

/// Events sorted by time (invocations before completions at one instant), numbered from line 1.
fn numbered(mut events: Vec<(u64, u8, Event)>) -> Vec<Event> {
    events.sort_by_key(|(time, order, _)| (*time, *order));
    events
        .into_iter()
        .enumerate()
        .map(|(i, (_, _, mut event))| {
            event.line = i + 1;
            event
        })
        .collect()
}

/// Builds the history of a list of events (which must be well-formed).
pub fn history_of(events: &[Event]) -> History {
    let mut builder = HistoryBuilder::new();
    for event in events {
        // Generated events are well-formed by construction; a failure here is a generator bug.
        builder
            .push(event.clone())
            .expect("generated events are well-formed");
    }
    builder.finish()
}

/// Renders events in the project's JSON Lines history format.
pub fn to_jsonl(events: &[Event]) -> String {
    let mut out = String::new();
    for e in events {
        let kind = match e.completion {
            None => "invoke",
            Some(Completion::Ok) => "ok",
            Some(Completion::Fail) => "fail",
            Some(Completion::Info) => "info",
        };
        let mut line = json!({"process": e.process, "type": kind, "f": e.kind.name(), "value": e.value, "time": e.time});
        if let Some(key) = &e.key {
            line["key"] = json!(key);
        }
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out
}

/// A tiny random history (1 to `ops_max` operations, at most 12) for differential tests against
/// the brute-force [`crate::oracle`], built to hit what breaks rewrites of unknown outcomes:
/// values drawn from a small pool rich in nulls, empty strings, repeated values and strings
/// that look like numbers (`1`, `1.0`, `"1"`); kv appends whose concatenations rebuild a put's
/// value; deletes; about a third of the mutations with unknown outcome. Half the histories
/// record what a sequential run at random linearization points returned (mostly
/// linearizable), the rest get random read results and cas expectations (mostly not).
pub fn small_history(model: crate::ModelKind, seed: u64, ops_max: usize) -> History {
    small_history_with(model, seed, ops_max, false)
}

/// [`small_history`] of a read/write register whose writes write unique integers (reads
/// return nil, a written value or one nobody writes): the histories the unique-value
/// algorithm ([`crate::zones`]) decides.
pub fn small_unique_register_history(seed: u64, ops_max: usize) -> History {
    small_history_with(crate::ModelKind::Register, seed, ops_max, true)
}

/// A tiny key-value history of gets and appends of unique values (`"<i>"`), gets returning
/// what a sequential run returned or random concatenations (repeats included): the keys the
/// append-chain decision ([`crate::zones`] through the kv model) takes.
pub fn small_kv_append_history(seed: u64, ops_max: usize) -> History {
    small_history_with(crate::ModelKind::Kv, seed, ops_max, true)
}

/// A tiny key-value history of gets, puts (`"[<i>]"`, now and then `"<j>!"`, which starts like
/// an append's value, so a read's split is not unique) and appends (`"<i>"`), every written
/// value unique; gets return what a sequential run returned or a random put value followed by
/// random append values: the keys the put-and-append chain decision ([`crate::zones`] through
/// the kv model) takes.
pub fn small_kv_put_append_history(seed: u64, ops_max: usize) -> History {
    small_history_drawn(crate::ModelKind::Kv, seed, ops_max, true, true)
}

/// [`small_unique_register_history`] with cas too (each cas sets a unique integer).
pub fn small_unique_cas_register_history(seed: u64, ops_max: usize) -> History {
    small_history_with(crate::ModelKind::CasRegister, seed, ops_max, true)
}

fn small_history_with(model: crate::ModelKind, seed: u64, ops_max: usize, unique: bool) -> History {
    small_history_drawn(model, seed, ops_max, unique, false)
}

/// A small history of `model`; `unique`: written values unique; `puts`: a unique kv key with
/// puts of strings besides its appends.
fn small_history_drawn(
    model: crate::ModelKind,
    seed: u64,
    ops_max: usize,
    unique: bool,
    puts: bool,
) -> History {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let kinds: &[OpKind] = if puts {
        &[OpKind::Read, OpKind::Write, OpKind::Append, OpKind::Append]
    } else {
        small_kinds(model, unique)
    };
    let faithful = rng.random_bool(0.5);
    let keys = if rng.random_bool(0.2) { 2 } else { 1 };
    let n = rng.random_range(1..=ops_max.clamp(1, crate::oracle::ORACLE_OPS_MAX));
    let pool: Vec<Value> = if unique {
        (0..=n as i64 + 1)
            .map(|v| if v == 0 { Value::Null } else { json!(v) })
            .collect()
    } else {
        small_pool(model)
    };
    let plan = SmallPlan {
        model,
        unique,
        puts,
        keys,
        n,
        pool: &pool,
    };
    // (operation, linearization point, takes effect)
    let mut planned: Vec<(crate::Operation, u64, bool)> = (0..n)
        .map(|i| plan.operation(i, kinds[rng.random_range(0..kinds.len())], &mut rng))
        .collect();
    if faithful {
        plan.replay_in_order(&mut planned, &mut rng);
        if puts && rng.random_bool(0.5) {
            perturb_one_read(&mut planned, &mut rng);
        }
    }
    History {
        operations: planned.into_iter().map(|(op, _, _)| op).collect(),
        failed: 0,
        unknown_reads: 0,
    }
}

/// Drops one value from a read's result or swaps two neighbours (the values of a
/// [`small_kv_put_append_history`] end with `>`, `]` or `!`): a read that is almost right,
/// which a checker must judge by the whole history.
fn perturb_one_read(planned: &mut [(crate::Operation, u64, bool)], rng: &mut ChaCha8Rng) {
    let reads: Vec<usize> = (0..planned.len())
        .filter(|&i| planned[i].0.kind == OpKind::Read)
        .collect();
    if reads.is_empty() {
        return;
    }
    let op = &mut planned[reads[rng.random_range(0..reads.len())]].0;
    let Some(text) = op
        .output
        .as_ref()
        .and_then(|o| o.as_str())
        .map(str::to_owned)
    else {
        return;
    };
    let mut values: Vec<&str> = text
        .split_inclusive(['>', ']', '!'])
        .filter(|v| !v.is_empty())
        .collect();
    if values.is_empty() {
        return;
    }
    let at = rng.random_range(0..values.len());
    if at + 1 < values.len() && rng.random_bool(0.5) {
        values.swap(at, at + 1);
    } else {
        values.remove(at);
    }
    op.output = Some(json!(values.concat()).into());
}

/// The values a small history of `model` draws from: nulls, empty and look-alike values
/// (`1`, `"1"`, `1.0`) that a checker comparing text instead of JSON would confuse.
fn small_pool(model: crate::ModelKind) -> Vec<Value> {
    use crate::ModelKind;
    match model {
        ModelKind::Kv => vec![
            Value::Null,
            json!(""),
            json!("a"),
            json!("b"),
            json!("ab"),
            json!("ba"),
            json!("1"),
            json!(1),
        ],
        ModelKind::Set => vec![json!(1), json!("1"), json!(2), json!("a"), Value::Null],
        _ => vec![
            Value::Null,
            json!(1),
            json!("1"),
            json!(1.0),
            json!(2),
            json!(0),
            json!("0"),
            json!(""),
        ],
    }
}

/// The operation kinds a small history of `model` draws from (no delete with unique values).
fn small_kinds(model: crate::ModelKind, unique: bool) -> &'static [OpKind] {
    use crate::ModelKind;
    match model {
        ModelKind::Register if unique => &[OpKind::Read, OpKind::Write],
        ModelKind::Register => &[OpKind::Read, OpKind::Write, OpKind::Delete],
        ModelKind::CasRegister if unique => &[OpKind::Read, OpKind::Write, OpKind::Cas],
        ModelKind::CasRegister => &[OpKind::Read, OpKind::Write, OpKind::Cas, OpKind::Delete],
        ModelKind::Kv if unique => &[OpKind::Read, OpKind::Append, OpKind::Append],
        ModelKind::Kv => &[
            OpKind::Read,
            OpKind::Write,
            OpKind::Append,
            OpKind::Append,
            OpKind::Cas,
            OpKind::Delete,
        ],
        ModelKind::Set => &[OpKind::Read, OpKind::Add, OpKind::Add],
    }
}

/// The shape of one small history being drawn.
struct SmallPlan<'a> {
    model: crate::ModelKind,
    unique: bool,
    /// Unique kv puts of strings (with the appends).
    puts: bool,
    keys: usize,
    n: usize,
    pool: &'a [Value],
}

impl SmallPlan<'_> {
    fn pick(&self, rng: &mut ChaCha8Rng) -> Value {
        self.pool[rng.random_range(0..self.pool.len())].clone()
    }

    /// Operation `i` of `kind` with random times, key, input and (for a read) output, its
    /// linearization point and whether it takes effect.
    fn operation(
        &self,
        i: usize,
        kind: OpKind,
        rng: &mut ChaCha8Rng,
    ) -> (crate::Operation, u64, bool) {
        use crate::ModelKind;
        let (unique, n) = (self.unique, self.n);
        let call = rng.random_range(0..24u64);
        let ret = call + rng.random_range(0..10u64);
        let unknown = kind != OpKind::Read && rng.random_bool(0.35);
        let input = match kind {
            OpKind::Read | OpKind::Delete => Value::Null,
            OpKind::Cas if unique => json!([self.pick(rng), i + 1]),
            OpKind::Cas => json!([self.pick(rng), self.pick(rng)]),
            OpKind::Append if unique => json!(format!("<{}>", i + 1)),
            OpKind::Write if self.puts && rng.random_bool(0.1) => {
                json!(format!("<{}>!", rng.random_range(1..=n)))
            }
            OpKind::Write if self.puts => json!(format!("[{}]", i + 1)),
            _ if unique => json!(i + 1),
            _ => self.pick(rng),
        };
        let key = (self.keys > 1).then(|| ["x", "y"][rng.random_range(0..2)].to_string());
        let output = (kind == OpKind::Read).then(|| {
            if self.model == ModelKind::Kv && unique {
                let parts = rng.random_range(0..4);
                let put = if self.puts && rng.random_bool(0.5) {
                    format!("[{}]", rng.random_range(1..=n))
                } else {
                    String::new()
                };
                let text: String = std::iter::once(put)
                    .chain((0..parts).map(|_| format!("<{}>", rng.random_range(1..=n))))
                    .collect();
                json!(text)
            } else if self.model == ModelKind::Set {
                let size = rng.random_range(0..3);
                Value::Array((0..size).map(|_| self.pick(rng)).collect())
            } else {
                self.pick(rng)
            }
            .into()
        });
        let op = crate::Operation {
            process: i as u64,
            kind,
            key,
            input,
            output,
            call,
            ret: (!unknown).then_some(ret),
            line: i + 1,
        };
        let point = rng.random_range(call..=ret);
        (op, point, !unknown || rng.random_bool(0.5))
    }

    /// Makes the history linearizable: replays the operations in the order of their points,
    /// giving each read what the state holds then (and most cas the current value).
    fn replay_in_order(&self, planned: &mut [(crate::Operation, u64, bool)], rng: &mut ChaCha8Rng) {
        use crate::ModelKind;
        let model = self.model;
        planned.sort_by_key(|(_, point, _)| *point);
        let mut state: FxHashMap<Option<String>, Value> = FxHashMap::default();
        let mut sets: FxHashMap<Option<String>, Vec<Value>> = FxHashMap::default();
        let text = |v: &Value| match v {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        for (op, _, effect) in planned.iter_mut() {
            let current = state.get(&op.key).cloned().unwrap_or(Value::Null);
            match op.kind {
                OpKind::Read if model == ModelKind::Set => {
                    op.output =
                        Some(Value::Array(sets.get(&op.key).cloned().unwrap_or_default()).into());
                }
                OpKind::Read => op.output = Some(current.into()),
                OpKind::Cas => {
                    if rng.random_bool(0.6) {
                        let new = if self.unique {
                            op.input.get(1).cloned().unwrap_or(Value::Null)
                        } else {
                            self.pick(rng)
                        };
                        op.input = json!([current, new]);
                    }
                    let holds = op.input.get(0).is_some_and(|e| {
                        e == &current
                            || (model == ModelKind::Kv
                                && text(e).is_empty()
                                && text(&current).is_empty())
                    });
                    if *effect && holds {
                        let new = op.input.get(1).cloned().unwrap_or(Value::Null);
                        state.insert(op.key.clone(), new);
                    }
                }
                _ if !*effect => {}
                OpKind::Write => {
                    state.insert(op.key.clone(), op.input.clone());
                }
                OpKind::Delete => {
                    state.insert(op.key.clone(), Value::Null);
                }
                OpKind::Append => {
                    let next = text(&current) + &text(&op.input);
                    state.insert(op.key.clone(), Value::String(next));
                }
                OpKind::Add => {
                    let set = sets.entry(op.key.clone()).or_default();
                    if !set.contains(&op.input) {
                        set.push(op.input.clone());
                    }
                }
            }
        }
        planned.sort_by_key(|(op, _, _)| op.line);
    }
}

/// A family of generated histories for benchmarks and the test suite (`distsys
/// generate-history`): its object and operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// One read/write register, unique written integers (Jepsen etcd log style).
    Register,
    /// One read/write/cas register, unique written integers; a cas whose comparison fails
    /// completes `fail`.
    CasRegister,
    /// Keys of strings with get and append (`"x P N y"`, unique), Jepsen kv style.
    KvAppend,
    /// Keys of strings with get, put (20% of operations) and append, every written text
    /// unique (`"x P N y"`): Porcupine's kv test data family.
    KvPutAppend,
}

impl Family {
    /// Whether the family is a key-value store (Jepsen kv maps, several keys).
    pub fn is_kv(self) -> bool {
        matches!(self, Family::KvAppend | Family::KvPutAppend)
    }
}

impl std::str::FromStr for Family {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "register" => Ok(Family::Register),
            "cas-register" => Ok(Family::CasRegister),
            "kv-append" | "kv" => Ok(Family::KvAppend),
            "kv-put-append" => Ok(Family::KvPutAppend),
            _ => Err(format!(
                "unknown family {s:?} (register, cas-register, kv-append, kv-put-append)"
            )),
        }
    }
}

impl Family {
    /// The family's name.
    pub fn name(self) -> &'static str {
        match self {
            Family::Register => "register",
            Family::CasRegister => "cas-register",
            Family::KvAppend => "kv-append",
            Family::KvPutAppend => "kv-put-append",
        }
    }

    /// The model that checks it.
    pub fn model(self) -> crate::ModelKind {
        match self {
            Family::Register => crate::ModelKind::Register,
            Family::CasRegister => crate::ModelKind::CasRegister,
            Family::KvAppend | Family::KvPutAppend => crate::ModelKind::Kv,
        }
    }
}

/// A violation planted in a generated history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plant {
    /// None: the history is linearizable by construction.
    None,
    /// A read returns a value that was certainly overwritten before it began.
    StaleRead,
    /// An acknowledged write (register) or append (kv) is missing from a read that began after
    /// it completed (the read returns what was there before it).
    LostWrite,
    /// A read returns one append twice (kv-append only; a stale read elsewhere).
    DuplicatedAppend,
}

impl std::str::FromStr for Plant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(Plant::None),
            "stale-read" => Ok(Plant::StaleRead),
            "lost-write" => Ok(Plant::LostWrite),
            "duplicated-append" => Ok(Plant::DuplicatedAppend),
            _ => Err(format!(
                "unknown violation {s:?} (none, stale-read, lost-write, duplicated-append)"
            )),
        }
    }
}

/// Shape of a generated family history.
#[derive(Debug, Clone, Copy)]
pub struct FamilyConfig {
    /// The family.
    pub family: Family,
    /// Operations (before `fail`ed cas are dropped by the reader).
    pub operations: usize,
    /// Concurrent clients, each always busy with one operation.
    pub clients: usize,
    /// Keys (kv-append only; registers have one).
    pub keys: usize,
    /// Share of mutations with unknown outcome (`info`), 0 to 1.
    pub info_share: f64,
    /// The planted violation.
    pub plant: Plant,
    /// RNG seed.
    pub seed: u64,
}

struct Planned {
    process: u64,
    kind: OpKind,
    key: Option<String>,
    input: Value,
    output: Value,
    completion: Completion,
    call: u64,
    ret: u64,
    point: u64,
    effect: bool,
}

/// Generates a family history's events in time order (lines numbered from 1) and whether it
/// is linearizable, known by construction: without a plant, every operation has a
/// linearization point inside its interval (an unknown one: after its invocation, or none)
/// and read results are what a sequential run at those points returns; a plant changes one
/// read so that no order explains it (unique values make that provable). `false` is returned
/// only if the plant could be placed; with no place for it the history stays linearizable.
pub fn family(config: &FamilyConfig) -> (Vec<Event>, bool) {
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut ops = plan_family(config, &mut rng);
    run_at_points(config.family, &mut ops, &mut rng);
    let linearizable = !plant(config, &mut ops, &mut rng);
    let mut events: Vec<(u64, u8, Event)> = Vec::with_capacity(2 * ops.len());
    for op in ops {
        let event = |completion: Option<Completion>, value: Value, time: u64| Event {
            line: 0,
            process: op.process,
            completion,
            kind: op.kind,
            key: op.key.clone(),
            value,
            time,
        };
        events.push((op.call, 0, event(None, op.input.clone(), op.call)));
        let value = if op.kind == OpKind::Read {
            op.output.clone()
        } else {
            op.input.clone()
        };
        events.push((op.ret, 1, event(Some(op.completion), value, op.ret)));
    }
    (numbered(events), linearizable)
}

/// The family's operations with their times, inputs, linearization points and whether they
/// take effect (outputs and cas expectations are filled in by [`run_at_points`]).
fn plan_family(config: &FamilyConfig, rng: &mut ChaCha8Rng) -> Vec<Planned> {
    let clients = config.clients.max(1);
    let keys = if config.family.is_kv() {
        config.keys.max(1)
    } else {
        1
    };
    // Mean operation duration: `clients` ticks, so about `clients` operations overlap.
    let duration_max = 2 * clients as u64;
    let mut next_process = clients as u64;
    let mut free: std::collections::BinaryHeap<std::cmp::Reverse<(u64, u64)>> = (0..clients as u64)
        .map(|p| std::cmp::Reverse((0, p)))
        .collect();
    let mut per_process: FxHashMap<u64, u64> = FxHashMap::default();
    let mut ops: Vec<Planned> = Vec::with_capacity(config.operations);
    let mut counter = 0i64;
    while ops.len() < config.operations {
        let Some(std::cmp::Reverse((at, process))) = free.pop() else {
            break;
        };
        let call = at + rng.random_range(1..=2u64);
        let ret = call + rng.random_range(1..=duration_max);
        let kind = match (config.family, rng.random_range(0..10)) {
            (_, 0..=3) => OpKind::Read,
            (Family::CasRegister, 4..=6) => OpKind::Cas,
            (Family::KvPutAppend, 4..=5) => OpKind::Write,
            (Family::KvAppend | Family::KvPutAppend, _) => OpKind::Append,
            _ => OpKind::Write,
        };
        counter += 1;
        let n = per_process.entry(process).or_default();
        *n += 1;
        let input = match kind {
            OpKind::Read => Value::Null,
            OpKind::Append => json!(format!("x {process} {n} y")),
            OpKind::Write if config.family.is_kv() => json!(format!("x {process} {n} y")),
            // The expected value is filled in at the linearization point.
            OpKind::Cas => json!([Value::Null, counter]),
            _ => json!(counter),
        };
        let unknown = kind != OpKind::Read && rng.random_bool(config.info_share.clamp(0.0, 1.0));
        let point = if unknown {
            rng.random_range(call..=ret + duration_max)
        } else {
            rng.random_range(call..=ret)
        };
        ops.push(Planned {
            process,
            kind,
            key: config
                .family
                .is_kv()
                .then(|| rng.random_range(0..keys).to_string()),
            input,
            output: Value::Null,
            completion: if unknown {
                Completion::Info
            } else {
                Completion::Ok
            },
            call,
            ret,
            point,
            effect: !unknown || rng.random_bool(0.5),
        });
        // Jepsen retires a process whose operation is indeterminate.
        let next = if unknown {
            next_process += 1;
            next_process - 1
        } else {
            process
        };
        free.push(std::cmp::Reverse((ret, next)));
    }
    ops
}

/// The sequential run at the linearization points: gives every read what the state holds, every
/// cas an expected value (the current one half the time) and its completion.
fn run_at_points(family: Family, ops: &mut [Planned], rng: &mut ChaCha8Rng) {
    // The sequential run at the linearization points.
    let mut order: Vec<usize> = (0..ops.len()).collect();
    order.sort_by_key(|&i| (ops[i].point, i));
    let mut state: FxHashMap<Option<String>, Value> = FxHashMap::default();
    let mut written: Vec<i64> = Vec::new();
    for &i in &order {
        let op = &mut ops[i];
        let current = state.get(&op.key).cloned().unwrap_or(Value::Null);
        match op.kind {
            OpKind::Read => {
                op.output = match (&current, family) {
                    (Value::Null, f) if f.is_kv() => json!(""),
                    _ => current,
                }
            }
            OpKind::Cas => {
                // Never nil: Jepsen etcd cas values are integers.
                let expected = if !current.is_null() && (written.is_empty() || rng.random_bool(0.5))
                {
                    current.clone()
                } else if written.is_empty() {
                    json!(0)
                } else {
                    json!(written[rng.random_range(0..written.len())])
                };
                let holds = expected == current;
                op.input[0] = expected;
                if op.completion == Completion::Ok && !holds {
                    op.completion = Completion::Fail;
                }
                if op.effect && holds {
                    state.insert(op.key.clone(), op.input[1].clone());
                    written.extend(op.input[1].as_i64());
                }
            }
            _ if !op.effect => {}
            OpKind::Append => {
                let text = format!(
                    "{}{}",
                    current.as_str().unwrap_or(""),
                    op.input.as_str().unwrap_or("")
                );
                state.insert(op.key.clone(), json!(text));
            }
            _ => {
                state.insert(op.key.clone(), op.input.clone());
                written.extend(op.input.as_i64());
            }
        }
    }
}

/// Plants the configured violation; returns whether it was placed.
fn plant(config: &FamilyConfig, ops: &mut [Planned], rng: &mut ChaCha8Rng) -> bool {
    let certain = |op: &Planned| op.completion == Completion::Ok;
    let overwrites = |op: &Planned| certain(op) && matches!(op.kind, OpKind::Write | OpKind::Cas);
    // Reads late in the history, so a violation is not found by a short prefix only.
    let reads: Vec<usize> = (ops.len() / 2..ops.len())
        .filter(|&i| ops[i].kind == OpKind::Read)
        .collect();
    if reads.is_empty() || config.plant == Plant::None {
        return false;
    }
    let start = rng.random_range(0..reads.len());
    for offset in 0..reads.len() {
        let r = reads[(start + offset) % reads.len()];
        let read_call = ops[r].call;
        match (config.family, config.plant) {
            (Family::KvAppend, Plant::DuplicatedAppend) => {
                // A read holding some append: show one of them twice.
                let Some(text) = ops[r].output.as_str().map(str::to_string) else {
                    continue;
                };
                let Some(end) = text.find(" y") else { continue };
                let element = &text[..end + 2];
                ops[r].output = json!(format!("{element}{text}"));
                return true;
            }
            (Family::KvAppend, _) => {
                // An acknowledged append that completed before the read began, missing from it.
                let Some(text) = ops[r].output.as_str().map(str::to_string) else {
                    continue;
                };
                let key = ops[r].key.clone();
                let lost = ops.iter().find(|a| {
                    a.kind == OpKind::Append
                        && certain(a)
                        && a.key == key
                        && a.ret < read_call
                        && a.input.as_str().is_some_and(|v| text.contains(v))
                });
                if let Some(v) = lost.and_then(|a| a.input.as_str().map(str::to_string)) {
                    ops[r].output = json!(text.replacen(&v, "", 1));
                    return true;
                }
            }
            _ => {
                // A completed write W, overwritten by a completed write or cas W2 with
                // W.ret < W2.call and W2.ret < read.call: reading W's value is impossible.
                let key = &ops[r].key;
                let overwritten = ops.iter().enumerate().filter(|(_, w)| {
                    w.kind == OpKind::Write && certain(w) && w.ret < read_call && &w.key == key
                });
                let mut found = None;
                for (wi, w) in overwritten {
                    let later = ops.iter().any(|w2| {
                        overwrites(w2)
                            && &w2.key == key
                            && w2.call > w.ret
                            && w2.ret < read_call
                            && (w2.kind == OpKind::Write || w2.effect)
                    });
                    if later && ops[r].output != w.input {
                        found = Some(wi);
                        if config.plant == Plant::LostWrite {
                            // The newest such write: the read returns the value just before a
                            // later acknowledged write, as if that write were lost.
                            continue;
                        }
                        break;
                    }
                }
                if let Some(wi) = found {
                    ops[r].output = ops[wi].input.clone();
                    return true;
                }
            }
        }
    }
    false
}

/// Renders events as a Jepsen etcd log (single register, integer values).
pub fn to_jepsen_etcd(events: &[Event]) -> String {
    let mut out = String::new();
    for e in events {
        let kind = completion_name(e.completion);
        let value = match (e.completion, e.kind) {
            (Some(Completion::Info), _) => ":timed-out".to_string(),
            (None, OpKind::Read) => "nil".to_string(),
            _ => edn(&e.value),
        };
        out.push_str(&format!(
            "INFO  jepsen.util - {}\t:{kind}\t:{}\t{value}\n",
            e.process,
            e.kind.name()
        ));
    }
    out
}

/// Renders events as Jepsen kv maps (`{:process 0, :type :invoke, :f :append, ...}`).
pub fn to_jepsen_kv(events: &[Event]) -> String {
    let mut out = String::new();
    for e in events {
        let f = match e.kind {
            OpKind::Read => "get",
            OpKind::Write => "put",
            other => other.name(),
        };
        let key = e.key.as_deref().unwrap_or("");
        out.push_str(&format!(
            "{{:process {}, :type :{}, :f :{f}, :key {}, :value {}}}\n",
            e.process,
            completion_name(e.completion),
            edn(&json!(key)),
            edn(&e.value)
        ));
    }
    out
}

fn completion_name(c: Option<Completion>) -> &'static str {
    match c {
        None => "invoke",
        Some(Completion::Ok) => "ok",
        Some(Completion::Fail) => "fail",
        Some(Completion::Info) => "info",
    }
}

/// A JSON value as EDN text (strings and numbers print the same; arrays as vectors).
fn edn(v: &Value) -> String {
    match v {
        Value::Null => "nil".to_string(),
        Value::Array(items) => format!("[{}]", items.iter().map(edn).collect::<Vec<_>>().join(" ")),
        other => other.to_string(),
    }
}
