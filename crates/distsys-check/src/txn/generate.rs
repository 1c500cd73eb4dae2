//! Generated transactional histories with a verdict known by construction:
//! - [`clean`]: clients run transactions that each take effect atomically at one instant
//!   between invocation and completion (some abort, some end indeterminate and may or may not
//!   take effect): strict serializable, so no anomaly of any class;
//! - [`planted`]: a clean history plus one small pattern, on keys of its own, that exhibits
//!   exactly one [`Plant`] class;
//! - [`sloppy`]: tiny histories whose reads sometimes see stale versions, serializable or
//!   not (for the brute-force [`super::oracle`]).

use super::history::{Atom, Atoms, Mop, ReadValue, Status, Txn, TxnHistory, TxnModel};
use super::infer::written_after;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

/// Shape of a generated history.
#[derive(Debug, Clone, Copy)]
pub struct GenConfig {
    /// Data model.
    pub model: TxnModel,
    /// Transactions.
    pub txns: usize,
    /// Keys.
    pub keys: u32,
    /// Concurrent clients.
    pub processes: u32,
    /// Most micro-operations per transaction.
    pub mops_max: usize,
    /// Aborted transactions, per thousand.
    pub fail_permille: u32,
    /// Indeterminate transactions, per thousand.
    pub info_permille: u32,
    /// Appends (writes) per key before the key is retired for a fresh one, as Elle's
    /// generator does to keep lists short (0: never).
    pub writes_per_key_max: u32,
    /// Random seed.
    pub seed: u64,
}

impl GenConfig {
    /// The benchmark family: `txns` list-append transactions over 20 keys and 20 processes,
    /// seed 1 (`distsys bench txn` and the `txn_bench` example measure the same histories).
    pub fn bench(txns: usize) -> GenConfig {
        GenConfig {
            model: TxnModel::ListAppend,
            txns,
            keys: 20,
            processes: 20,
            mops_max: 4,
            seed: 1,
            ..GenConfig::default()
        }
    }
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            model: TxnModel::ListAppend,
            txns: 100,
            keys: 5,
            processes: 5,
            mops_max: 4,
            fail_permille: 50,
            info_permille: 50,
            writes_per_key_max: 32,
            seed: 0,
        }
    }
}

/// Per-key state of the simulated database.
#[derive(Clone, Default)]
struct Db {
    lists: Vec<Vec<Atom>>,
    regs: Vec<Option<Atom>>,
}

impl Db {
    fn new(keys: u32) -> Db {
        Db {
            lists: vec![Vec::new(); keys as usize],
            regs: vec![None; keys as usize],
        }
    }

    /// Runs the micro-operations, filling in reads; returns them.
    fn apply(&mut self, model: TxnModel, mops: &[Mop], key_of: &[u32]) -> Vec<Mop> {
        if let Some(top) = mops.iter().map(|m| key_of[m.key() as usize] as usize).max() {
            if top >= self.lists.len() {
                self.lists.resize(top + 1, Vec::new());
                self.regs.resize(top + 1, None);
            }
        }
        mops.iter()
            .map(|m| match *m {
                Mop::Append { key, value } => {
                    self.lists[key_of[key as usize] as usize].push(value);
                    m.clone()
                }
                Mop::Write { key, value } => {
                    self.regs[key_of[key as usize] as usize] = Some(value);
                    m.clone()
                }
                Mop::Read { key, .. } => {
                    let k = key_of[key as usize] as usize;
                    let value = match model {
                        TxnModel::ListAppend => ReadValue::List(self.lists[k].clone()),
                        TxnModel::RwRegister => {
                            self.regs[k].map_or(ReadValue::Nil, ReadValue::Value)
                        }
                    };
                    Mop::Read { key, value }
                }
            })
            .collect()
    }
}

/// Atoms for keys `0..keys` and values `0..values`: key `k` is atom `key_of`-mapped, values
/// are integers offset past the keys.
struct Ids {
    atoms: Atoms,
    /// atom -> key index (for key atoms)
    key_of: Vec<u32>,
}

impl Ids {
    fn new() -> Ids {
        Ids {
            atoms: Atoms::default(),
            key_of: Vec::new(),
        }
    }

    fn key(&mut self, k: u32) -> Atom {
        let a = self.atoms.intern(&json!(format!("k{k}")));
        self.note(a, k);
        a
    }

    fn value(&mut self, v: u64) -> Atom {
        let a = self.atoms.intern(&json!(v));
        self.note(a, u32::MAX);
        a
    }

    fn note(&mut self, atom: Atom, key: u32) {
        if self.key_of.len() <= atom as usize {
            self.key_of.resize(atom as usize + 1, u32::MAX);
        }
        if key != u32::MAX {
            self.key_of[atom as usize] = key;
        }
    }
}

/// Which key each of the `keys` slots currently uses, and how often it was written.
#[derive(Default)]
struct Slots {
    key: Vec<u32>,
    writes: Vec<u32>,
    next: u32,
}

impl Slots {
    fn new(keys: u32) -> Slots {
        Slots {
            key: (0..keys.max(1)).collect(),
            writes: vec![0; keys.max(1) as usize],
            next: keys.max(1),
        }
    }

    /// The key of `slot` for a write; retires it after `max` writes.
    fn write(&mut self, slot: usize, max: u32) -> u32 {
        let key = self.key[slot];
        self.writes[slot] += 1;
        if max > 0 && self.writes[slot] >= max {
            self.key[slot] = self.next;
            self.next += 1;
            self.writes[slot] = 0;
        }
        key
    }
}

fn random_mops(
    rng: &mut ChaCha8Rng,
    ids: &mut Ids,
    config: &GenConfig,
    slots: &mut Slots,
    next: &mut u64,
) -> Vec<Mop> {
    let count = rng.random_range(1..=config.mops_max.max(1));
    (0..count)
        .map(|_| {
            let slot = rng.random_range(0..slots.key.len());
            let read = rng.random_bool(0.5);
            let k = if read {
                slots.key[slot]
            } else {
                slots.write(slot, config.writes_per_key_max)
            };
            let key = ids.key(k);
            if read {
                Mop::Read {
                    key,
                    value: ReadValue::Unknown,
                }
            } else {
                *next += 1;
                let value = ids.value(*next);
                match config.model {
                    TxnModel::ListAppend => Mop::Append { key, value },
                    TxnModel::RwRegister => Mop::Write { key, value },
                }
            }
        })
        .collect()
}

/// A strict-serializable history: each transaction takes effect at one instant between its
/// invocation and completion; aborted ones never; indeterminate ones at that instant with
/// probability 1/2. A process whose transaction ended indeterminate is retired.
pub fn clean(config: &GenConfig) -> TxnHistory {
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut ids = Ids::new();
    let mut db = Db::new(config.keys.max(1));
    let mut txns: Vec<Txn> = Vec::new();
    // (txn index, applied?) in flight
    let mut flight: Vec<(usize, bool)> = Vec::new();
    let mut idle: Vec<u64> = (0..config.processes.max(1) as u64).collect();
    let mut slots = Slots::new(config.keys);
    let mut next_process = idle.len() as u64;
    let (mut pos, mut next_value) = (0u64, 0u64);
    while txns.len() < config.txns || !flight.is_empty() {
        let invoke = txns.len() < config.txns
            && !idle.is_empty()
            && (flight.is_empty() || rng.random_bool(0.5));
        if invoke {
            let p = idle.swap_remove(rng.random_range(0..idle.len()));
            let mops = random_mops(&mut rng, &mut ids, config, &mut slots, &mut next_value);
            flight.push((txns.len(), false));
            txns.push(Txn {
                process: Some(p),
                status: Status::Info,
                mops,
                invoked_at: pos,
                completed_at: None,
                line: txns.len() + 1,
                index: None,
            });
            pos += 1;
            continue;
        }
        let i = rng.random_range(0..flight.len());
        let (t, applied) = flight[i];
        if !applied {
            let roll = rng.random_range(0..1000);
            let status = if roll < config.fail_permille {
                Status::Fail
            } else if roll < config.fail_permille + config.info_permille {
                Status::Info
            } else {
                Status::Ok
            };
            let txn = &mut txns[t];
            txn.status = status;
            let takes_effect =
                status == Status::Ok || (status == Status::Info && rng.random_bool(0.5));
            if takes_effect {
                let done = db.apply(config.model, &txn.mops, &ids.key_of);
                if status == Status::Ok {
                    txn.mops = done;
                }
            }
            flight[i].1 = true;
            continue;
        }
        flight.swap_remove(i);
        let txn = &mut txns[t];
        let p = txn.process.unwrap_or(0);
        if txn.status == Status::Info {
            idle.push(next_process);
            next_process += 1;
        } else {
            txn.completed_at = Some(pos);
            idle.push(p);
        }
        pos += 1;
    }
    TxnHistory {
        txns,
        atoms: ids.atoms,
    }
}

/// An anomaly class a planted pattern exhibits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plant {
    /// Two transactions' appends (writes) in opposite orders on two keys.
    G0,
    /// A read of an aborted append.
    G1a,
    /// A read of an intermediate append.
    G1b,
    /// Each of two transactions reads the other's append.
    G1c,
    /// Read skew: one transaction sees one of another's two appends.
    GSingle,
    /// Write skew.
    G2Item,
    /// A long fork: two readers see two independent appends in opposite orders.
    GNonadjacent,
    /// Two read-modify-writes of the same version.
    LostUpdate,
    /// A read missing the transaction's own append.
    Internal,
    /// A read, first of its key in the transaction, showing the transaction's own later
    /// append (write).
    FutureRead,
    /// A read holding an element twice (list-append only).
    DuplicateElements,
    /// A read of a value never written.
    GarbageRead,
    /// Two reads in different orders (list-append only).
    IncompatibleOrder,
    /// A stale read after the write completed (real time only).
    StaleRead,
}

/// Every plant.
pub const PLANTS: [Plant; 14] = [
    Plant::G0,
    Plant::G1a,
    Plant::G1b,
    Plant::G1c,
    Plant::GSingle,
    Plant::G2Item,
    Plant::GNonadjacent,
    Plant::LostUpdate,
    Plant::Internal,
    Plant::FutureRead,
    Plant::DuplicateElements,
    Plant::GarbageRead,
    Plant::IncompatibleOrder,
    Plant::StaleRead,
];

impl Plant {
    /// The pattern, one transaction per `;`: status, then `k+v` (append or write `v` to key
    /// `k`), `k=v1,v2` (a list read, or a register read of `v1`), `k=` (empty list or nil).
    /// `None` when the model cannot express the class.
    pub fn pattern(self, model: TxnModel) -> Option<&'static str> {
        let list = model == TxnModel::ListAppend;
        Some(match self {
            Plant::G0 if list => "ok a+1 b+1; ok a+2 b+2; ok a=1,2; ok b=2,1",
            Plant::G0 => "ok a=2 a+1 b+1; ok b=1 b+2 a+2",
            Plant::G1a => "fail a+1; ok a=1",
            Plant::G1b => "ok a+1 a+2; ok a=1",
            Plant::G1c => "ok a+1 b=1; ok b+1 a=1",
            Plant::GSingle => "ok a= b=1; ok a+1 b+1",
            Plant::G2Item => "ok a= b+1; ok b= a+1",
            Plant::GNonadjacent => "ok a+1; ok b+1; ok a=1 b=; ok b=1 a=",
            Plant::LostUpdate if list => "ok a= a+1; ok a= a+2; ok a=1,2",
            Plant::LostUpdate => "ok a= a+1; ok a= a+2",
            Plant::Internal => "ok a+1 a=",
            Plant::FutureRead => "ok a=1 a+1",
            Plant::DuplicateElements if list => "ok a+1; ok a=1,1",
            Plant::GarbageRead => "ok a=7",
            Plant::IncompatibleOrder if list => "ok a+1; ok a+2; ok a=1,2; ok a=2,1",
            Plant::StaleRead => "ok a+1; ok a=",
            Plant::DuplicateElements | Plant::IncompatibleOrder => return None,
        })
    }
}

/// A clean history with `plant`'s pattern appended on fresh keys, by fresh processes: its
/// transactions all overlap in time (so real time orders none of them), except for
/// [`Plant::StaleRead`], whose reader starts after the writer completed.
/// `None` when the model cannot express the class.
pub fn planted(config: &GenConfig, plant: Plant) -> Option<TxnHistory> {
    let pattern = plant.pattern(config.model)?;
    let mut history = clean(config);
    let mut pos = history
        .txns
        .iter()
        .map(|t| t.completed_at.unwrap_or(t.invoked_at) + 1)
        .max()
        .unwrap_or(0);
    let parsed: Vec<(Status, Vec<Mop>)> = pattern
        .split(';')
        .map(|t| pattern_txn(&mut history.atoms, config.model, t.trim()))
        .collect();
    let sequential = plant == Plant::StaleRead;
    let first = history.txns.len();
    for (i, (status, mops)) in parsed.into_iter().enumerate() {
        let invoked_at = if sequential {
            pos + 2 * i as u64
        } else {
            pos + i as u64
        };
        history.txns.push(Txn {
            process: Some(1_000_000 + i as u64),
            status,
            mops,
            invoked_at,
            completed_at: None,
            line: first + i + 1,
            index: None,
        });
    }
    let count = history.txns.len() - first;
    pos += if sequential {
        2 * count as u64
    } else {
        count as u64
    };
    for (i, txn) in history.txns[first..].iter_mut().enumerate() {
        txn.completed_at = Some(if sequential {
            txn.invoked_at + 1
        } else {
            pos + i as u64
        });
    }
    Some(history)
}

fn pattern_txn(atoms: &mut Atoms, model: TxnModel, text: &str) -> (Status, Vec<Mop>) {
    let mut words = text.split_whitespace();
    let status = match words.next() {
        Some("fail") => Status::Fail,
        Some("info") => Status::Info,
        _ => Status::Ok,
    };
    let mut intern = |s: &str| -> Atom {
        match s.parse::<i64>() {
            Ok(i) => atoms.intern(&json!(i + 1_000_000)),
            Err(_) => atoms.intern(&Value::String(format!("planted-{s}"))),
        }
    };
    let mops = words
        .map(|w| {
            if let Some((k, v)) = w.split_once('+') {
                let (key, value) = (intern(k), intern(v));
                match model {
                    TxnModel::ListAppend => Mop::Append { key, value },
                    TxnModel::RwRegister => Mop::Write { key, value },
                }
            } else {
                let (k, vs) = w.split_once('=').unwrap_or((w, ""));
                let key = intern(k);
                let values: Vec<Atom> = vs
                    .split(',')
                    .filter(|v| !v.is_empty())
                    .map(&mut intern)
                    .collect();
                let value = match (model, values.first()) {
                    (TxnModel::ListAppend, _) => ReadValue::List(values),
                    (TxnModel::RwRegister, Some(&v)) => ReadValue::Value(v),
                    (TxnModel::RwRegister, None) => ReadValue::Nil,
                };
                Mop::Read { key, value }
            }
        })
        .collect();
    (status, mops)
}

/// A tiny history (for the oracle): `txns` transactions on `keys` keys, run one at a time in
/// a random order, each read seeing the latest version with probability 1/2 and otherwise a
/// random earlier one; some abort, some end indeterminate. All overlap in real time.
pub fn sloppy(model: TxnModel, txns: usize, keys: u32, seed: u64) -> TxnHistory {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut ids = Ids::new();
    let config = GenConfig {
        model,
        keys,
        mops_max: 3,
        writes_per_key_max: 0,
        ..GenConfig::default()
    };
    let mut slots = Slots::new(keys);
    // versions[k]: every state key k went through (lists) / every value (registers)
    let mut lists: Vec<Vec<Vec<Atom>>> = vec![vec![Vec::new()]; keys as usize];
    let mut regs: Vec<Vec<Option<Atom>>> = vec![vec![None]; keys as usize];
    let mut next = 0;
    let mut out = Vec::new();
    for t in 0..txns {
        let mops = random_mops(&mut rng, &mut ids, &config, &mut slots, &mut next);
        let status = match rng.random_range(0..10) {
            0 => Status::Fail,
            1 => Status::Info,
            _ => Status::Ok,
        };
        let applies = status == Status::Ok || (status == Status::Info && rng.random_bool(0.5));
        let mut done = Vec::new();
        for m in &mops {
            let k = ids.key_of[m.key() as usize] as usize;
            match *m {
                Mop::Append { value, .. } if applies => {
                    let mut l = lists[k].last().cloned().unwrap_or_default();
                    l.push(value);
                    lists[k].push(l);
                }
                Mop::Write { value, .. } if applies => regs[k].push(Some(value)),
                Mop::Read { key, .. } => {
                    let stale = rng.random_bool(0.5);
                    let value = match model {
                        TxnModel::ListAppend => {
                            let i = if stale {
                                rng.random_range(0..lists[k].len())
                            } else {
                                lists[k].len() - 1
                            };
                            ReadValue::List(lists[k][i].clone())
                        }
                        TxnModel::RwRegister => {
                            let i = if stale {
                                rng.random_range(0..regs[k].len())
                            } else {
                                regs[k].len() - 1
                            };
                            regs[k][i].map_or(ReadValue::Nil, ReadValue::Value)
                        }
                    };
                    done.push(Mop::Read { key, value });
                    continue;
                }
                _ => {}
            }
            done.push(m.clone());
        }
        // Now and then a read shows the transaction's own later append (write) of its key: a
        // future read, which no serial execution gives.
        if rng.random_bool(0.15) {
            future_read(&mut done);
        }
        out.push(Txn {
            process: Some(t as u64),
            status,
            mops: if status == Status::Ok { done } else { mops },
            invoked_at: t as u64,
            completed_at: (status != Status::Info).then_some((txns + t) as u64),
            line: t + 1,
            index: None,
        });
    }
    TxnHistory {
        txns: out,
        atoms: ids.atoms,
    }
}

/// The history as the project's JSON Lines (an invoke and a completion per transaction, in
/// position order; indeterminate transactions end with `info`).
pub fn to_jsonl(history: &TxnHistory) -> String {
    let show = |a: Atom| -> Value {
        let s = history.atoms.show(a);
        s.parse::<i64>().map_or_else(|_| json!(s), |i| json!(i))
    };
    let mop = |m: &Mop, invoke: bool| -> Value {
        match m {
            Mop::Append { key, value } => json!(["append", show(*key), show(*value)]),
            Mop::Write { key, value } => json!(["w", show(*key), show(*value)]),
            Mop::Read { key, value } => {
                let v = match value {
                    _ if invoke => Value::Null,
                    ReadValue::Unknown | ReadValue::Nil => Value::Null,
                    ReadValue::Value(v) => show(*v),
                    ReadValue::List(l) => Value::Array(l.iter().map(|&a| show(a)).collect()),
                };
                json!(["r", show(*key), v])
            }
        }
    };
    let mut events: Vec<(u64, String)> = Vec::new();
    for t in &history.txns {
        let invoke: Vec<Value> = t.mops.iter().map(|m| mop(m, true)).collect();
        let done: Vec<Value> = t
            .mops
            .iter()
            .map(|m| mop(m, t.status != Status::Ok))
            .collect();
        let p = t.process.unwrap_or(0);
        events.push((
            t.invoked_at,
            json!({"process": p, "type": "invoke", "f": "txn", "value": invoke}).to_string(),
        ));
        let kind = match t.status {
            Status::Ok => "ok",
            Status::Fail => "fail",
            Status::Info => "info",
        };
        let at = t.completed_at.unwrap_or(u64::MAX);
        events.push((
            at,
            json!({"process": p, "type": kind, "f": "txn", "value": done}).to_string(),
        ));
    }
    events.sort_by_key(|e| e.0);
    let mut out = String::new();
    for (_, line) in events {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Makes the first read of `mops` that its own later append (write) of the key follows show
/// that value too.
fn future_read(mops: &mut [Mop]) {
    for i in 0..mops.len() {
        let Mop::Read { key, .. } = mops[i] else {
            continue;
        };
        let later = written_after(mops, i, key).next();
        if let (Some(v), Mop::Read { value, .. }) = (later, &mut mops[i]) {
            *value = match value {
                ReadValue::List(list) => ReadValue::List([&list[..], &[v]].concat()),
                _ => ReadValue::Value(v),
            };
            return;
        }
    }
}

/// [`sloppy`] with random real-time intervals (ties possible): for checking strict
/// serializability against the oracle. Indeterminate transactions never complete.
pub fn sloppy_timed(model: TxnModel, txns: usize, keys: u32, seed: u64) -> TxnHistory {
    let mut history = sloppy(model, txns, keys, seed);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    let span = 4 * txns.max(1) as u64;
    for txn in &mut history.txns {
        txn.invoked_at = rng.random_range(0..span);
        if txn.completed_at.is_some() {
            txn.completed_at = Some(txn.invoked_at + rng.random_range(0..span / 2 + 1));
        }
    }
    history
}
