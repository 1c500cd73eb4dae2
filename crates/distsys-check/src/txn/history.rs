//! Transactional histories: transactions of micro-operations (appends, writes, reads) with
//! their outcome, paired from invoke/complete events by process. Keys and values are interned
//! into compact ids ([`Atoms`]) so the checker works on integers.

use rustc_hash::FxHashMap;
use serde_json::Value;

/// An interned key or value (an index into [`Atoms`]).
pub type Atom = u32;

/// Integers in `0..DENSE_INTS` are looked up in a table rather than hashed (histories
/// number their keys and values from 0).
const DENSE_INTS: i64 = 1 << 20;

/// "Not interned yet" in the dense table.
const NO_ATOM: Atom = Atom::MAX;

/// The interning table: each distinct JSON scalar (or, for keys, any JSON value) gets one id.
/// Integers keep their own fast path; everything else is keyed by its JSON text.
#[derive(Debug, Default, Clone)]
pub struct Atoms {
    ints: IntIds,
    texts: FxHashMap<String, Atom>,
    shown: Vec<String>,
}

/// Ids of integers: small non-negative ones (below [`DENSE_INTS`]) through a table by value,
/// the others hashed.
#[derive(Debug, Default, Clone)]
pub(crate) struct IntIds {
    /// By value: `NO_ATOM` if unseen.
    dense: Vec<Atom>,
    others: FxHashMap<i64, Atom>,
}

impl IntIds {
    /// The id of `i`, made by `fresh` on its first sight.
    pub(crate) fn get_or_insert_with(&mut self, i: i64, fresh: impl FnOnce() -> Atom) -> Atom {
        if (0..DENSE_INTS).contains(&i) {
            let slot = i as usize;
            if slot >= self.dense.len() {
                self.dense
                    .resize((slot + 1).next_power_of_two().max(1024), NO_ATOM);
            }
            if self.dense[slot] == NO_ATOM {
                self.dense[slot] = fresh();
            }
            return self.dense[slot];
        }
        *self.others.entry(i).or_insert_with(fresh)
    }
}

impl Atoms {
    /// The id of a value, interning it on first sight. Strings are shown without quotes.
    pub fn intern(&mut self, value: &Value) -> Atom {
        if let Some(i) = value.as_i64() {
            return self.intern_int(i);
        }
        match value {
            Value::String(s) => self.intern_text(s),
            other => self.intern_text(&other.to_string()),
        }
    }

    /// The id of an integer (what [`Atoms::intern`] gives a JSON integer within i64).
    pub fn intern_int(&mut self, i: i64) -> Atom {
        let shown = &mut self.shown;
        self.ints
            .get_or_insert_with(i, || fresh(shown, i.to_string()))
    }

    /// The id of a text: a string, or another scalar's JSON text (what [`Atoms::intern`]
    /// gives a JSON string).
    pub fn intern_text(&mut self, text: &str) -> Atom {
        if let Some(&id) = self.texts.get(text) {
            return id;
        }
        let id = fresh(&mut self.shown, text.to_string());
        self.texts.insert(text.to_string(), id);
        id
    }

    /// The id of a fast-path scalar (the same as [`Atoms::intern`] of its JSON value).
    pub(crate) fn intern_scalar(&mut self, scalar: super::fast_jsonl::Scalar<'_>) -> Atom {
        match scalar {
            super::fast_jsonl::Scalar::Int(i) => self.intern_int(i),
            super::fast_jsonl::Scalar::Str(s) => self.intern_text(s),
        }
    }

    /// How an atom is shown in explanations.
    pub fn show(&self, atom: Atom) -> &str {
        self.shown.get(atom as usize).map_or("?", String::as_str)
    }
}

/// A new atom, shown as `text`.
fn fresh(shown: &mut Vec<String>, text: String) -> Atom {
    let id = shown.len() as Atom;
    shown.push(text);
    id
}

/// What a read returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadValue {
    /// Not known: the read of an invocation, or of an indeterminate transaction.
    Unknown,
    /// A register read of the initial (never written) state: `nil`.
    Nil,
    /// A register read of one value.
    Value(Atom),
    /// A list read (list-append); `nil` in a completed read is the empty list.
    List(Vec<Atom>),
}

/// One micro-operation of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mop {
    /// `[:append k v]`: appends `v` to the list at `k`.
    Append { key: Atom, value: Atom },
    /// `[:w k v]`: sets register `k` to `v`.
    Write { key: Atom, value: Atom },
    /// `[:r k v]`: reads `k`.
    Read { key: Atom, value: ReadValue },
}

impl Mop {
    /// The key the micro-operation touches.
    pub fn key(&self) -> Atom {
        match self {
            Mop::Append { key, .. } | Mop::Write { key, .. } | Mop::Read { key, .. } => *key,
        }
    }

    /// The value written, for an append or a write.
    pub fn written(&self) -> Option<Atom> {
        match self {
            Mop::Append { value, .. } | Mop::Write { value, .. } => Some(*value),
            Mop::Read { .. } => None,
        }
    }
}

/// How a transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Committed, its reads known.
    Ok,
    /// Aborted: none of its writes may ever be visible.
    Fail,
    /// Indeterminate: may or may not have committed; its reads are unknown.
    Info,
}

/// One transaction: an invocation paired with its completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Txn {
    /// The process (client) that ran it; `None` when the history names none.
    pub process: Option<u64>,
    /// How it ended.
    pub status: Status,
    /// Its micro-operations, in order (reads filled in from the completion when `Ok`).
    pub mops: Vec<Mop>,
    /// Position of the invocation in the history (event number, from 0).
    pub invoked_at: u64,
    /// Position of the completion; `None` for an indeterminate transaction (it may take
    /// effect at any later time).
    pub completed_at: Option<u64>,
    /// 1-based line of the completion (or of the invocation when none).
    pub line: usize,
    /// The `:index` of the completion event, when the file gives one.
    pub index: Option<u64>,
}

/// Which data model a history follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnModel {
    /// Lists per key, `append` and whole-list reads; appended values unique per key.
    ListAppend,
    /// Registers per key, `w` and `r`; written values unique per key.
    RwRegister,
}

impl std::str::FromStr for TxnModel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "list-append" | "append" => Ok(TxnModel::ListAppend),
            "rw-register" | "register" => Ok(TxnModel::RwRegister),
            _ => Err(format!(
                "unknown transactional model {s:?} (list-append, rw-register)"
            )),
        }
    }
}

impl TxnModel {
    /// The model's name as the CLI spells it.
    pub fn name(self) -> &'static str {
        match self {
            TxnModel::ListAppend => "list-append",
            TxnModel::RwRegister => "rw-register",
        }
    }
}

/// A parsed transactional history.
#[derive(Debug, Clone, Default)]
pub struct TxnHistory {
    /// Transactions in order of invocation.
    pub txns: Vec<Txn>,
    /// Interned keys and values.
    pub atoms: Atoms,
}

impl TxnHistory {
    /// The model the micro-operations imply: list-append if any append or list read,
    /// rw-register if any write; `None` if only scalar-free reads (ambiguous).
    pub fn infer_model(&self) -> Option<TxnModel> {
        let mut register = false;
        for mop in self.txns.iter().flat_map(|t| &t.mops) {
            match mop {
                Mop::Append { .. }
                | Mop::Read {
                    value: ReadValue::List(_),
                    ..
                } => return Some(TxnModel::ListAppend),
                Mop::Write { .. }
                | Mop::Read {
                    value: ReadValue::Value(_),
                    ..
                } => register = true,
                Mop::Read { .. } => {}
            }
        }
        register.then_some(TxnModel::RwRegister)
    }

    /// The number of transactions with each status: (ok, fail, info).
    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |s| self.txns.iter().filter(|t| t.status == s).count();
        (count(Status::Ok), count(Status::Fail), count(Status::Info))
    }
}
