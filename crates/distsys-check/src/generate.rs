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
        let slot = loop {
            let free: Vec<usize> = (0..processes)
                .filter(|&p| free_at[p] < linearization)
                .collect();
            if free.is_empty() {
                linearization += 10;
                continue;
            }
            break free[rng.random_range(0..free.len())];
        };
        let call = rng.random_range(
            (free_at[slot] + 1).max(linearization.saturating_sub(50))..=linearization,
        );
        let ret = linearization + rng.random_range(0..50u64);
        let key = (config.keys > 1).then(|| format!("k{}", rng.random_range(0..config.keys)));
        let current = state.get(&key).cloned().flatten();
        let kinds: &[OpKind] = match config.mix {
            OpMix::Register => &[OpKind::Read, OpKind::Write],
            OpMix::CasRegister => &[OpKind::Read, OpKind::Write, OpKind::Cas],
            OpMix::Kv => &[
                OpKind::Read,
                OpKind::Write,
                OpKind::Cas,
                OpKind::Append,
                OpKind::Delete,
            ],
        };
        let kind = kinds[rng.random_range(0..kinds.len())];
        counter += 1;
        let fresh = format!("v{counter}");
        let unknown = kind != OpKind::Read && rng.random_bool(config.info_probability);
        let takes_effect = !unknown || rng.random_bool(0.5);
        let (input, output, completion, next) = match kind {
            OpKind::Read => (Value::Null, json!(current), Completion::Ok, current.clone()),
            OpKind::Write => (
                json!(fresh),
                Value::Null,
                Completion::Ok,
                Some(fresh.clone()),
            ),
            OpKind::Append => (
                json!(format!(" {fresh}")),
                Value::Null,
                Completion::Ok,
                Some(format!("{} {fresh}", current.clone().unwrap_or_default())),
            ),
            OpKind::Delete => (Value::Null, Value::Null, Completion::Ok, None),
            OpKind::Cas | OpKind::Add => {
                let expected = if rng.random_bool(0.6) {
                    current.clone()
                } else {
                    Some(format!("v{}", rng.random_range(0..=counter)))
                };
                let holds = expected == current;
                (
                    json!([expected, fresh]),
                    Value::Null,
                    if holds {
                        Completion::Ok
                    } else {
                        Completion::Fail
                    },
                    if holds {
                        Some(fresh.clone())
                    } else {
                        current.clone()
                    },
                )
            }
        };
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
    use crate::ModelKind;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let pool: Vec<Value> = match model {
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
    };
    let kinds: &[OpKind] = match model {
        ModelKind::Register => &[OpKind::Read, OpKind::Write, OpKind::Delete],
        ModelKind::CasRegister => &[OpKind::Read, OpKind::Write, OpKind::Cas, OpKind::Delete],
        ModelKind::Kv => &[
            OpKind::Read,
            OpKind::Write,
            OpKind::Append,
            OpKind::Append,
            OpKind::Cas,
            OpKind::Delete,
        ],
        ModelKind::Set => &[OpKind::Read, OpKind::Add, OpKind::Add],
    };
    let faithful = rng.random_bool(0.5);
    let keys = if rng.random_bool(0.2) { 2 } else { 1 };
    let n = rng.random_range(1..=ops_max.clamp(1, crate::oracle::ORACLE_OPS_MAX));
    let pick = |rng: &mut ChaCha8Rng| pool[rng.random_range(0..pool.len())].clone();
    // (operation, linearization point, takes effect)
    let mut planned: Vec<(crate::Operation, u64, bool)> = (0..n)
        .map(|i| {
            let kind = kinds[rng.random_range(0..kinds.len())];
            let call = rng.random_range(0..24u64);
            let ret = call + rng.random_range(0..10u64);
            let unknown = kind != OpKind::Read && rng.random_bool(0.35);
            let input = match kind {
                OpKind::Read | OpKind::Delete => Value::Null,
                OpKind::Cas => json!([pick(&mut rng), pick(&mut rng)]),
                _ => pick(&mut rng),
            };
            let op = crate::Operation {
                process: i as u64,
                kind,
                key: (keys > 1).then(|| ["x", "y"][rng.random_range(0..2)].to_string()),
                input,
                output: (kind == OpKind::Read).then(|| {
                    if model == ModelKind::Set {
                        let size = rng.random_range(0..3);
                        Value::Array((0..size).map(|_| pick(&mut rng)).collect())
                    } else {
                        pick(&mut rng)
                    }
                }),
                call,
                ret: (!unknown).then_some(ret),
                line: i + 1,
            };
            let point = rng.random_range(call..=ret);
            (op, point, !unknown || rng.random_bool(0.5))
        })
        .collect();
    if faithful {
        planned.sort_by_key(|(_, point, _)| *point);
        let mut state: FxHashMap<Option<String>, Value> = FxHashMap::default();
        let mut sets: FxHashMap<Option<String>, Vec<Value>> = FxHashMap::default();
        for (op, _, effect) in planned.iter_mut() {
            let current = state.get(&op.key).cloned().unwrap_or(Value::Null);
            let text = |v: &Value| match v {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            match op.kind {
                OpKind::Read if model == ModelKind::Set => {
                    op.output = Some(Value::Array(sets.get(&op.key).cloned().unwrap_or_default()));
                }
                OpKind::Read => op.output = Some(current),
                OpKind::Cas => {
                    if rng.random_bool(0.6) {
                        op.input = json!([current, pick(&mut rng)]);
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
    History {
        operations: planned.into_iter().map(|(op, _, _)| op).collect(),
        failed: 0,
    }
}
