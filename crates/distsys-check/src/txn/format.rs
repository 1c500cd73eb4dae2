//! Reading transactional histories: Jepsen EDN (one map per line, or one vector of maps),
//! elle-cli JSON (an array of objects) and the project's JSON Lines (one object per line, the
//! same fields). Every event names `type` (`invoke`, `ok`, `fail`, `info`) and `value` (a
//! vector of micro-operations `[f k v]`, `f` one of `append`, `r`, `w`); `process`, `f`,
//! `index` and `time` are optional. Events of a non-integer process (`:nemesis`) are skipped.
//! Invocations and completions pair by process; an invocation never completed is
//! indeterminate (`info`).

use super::history::{Atoms, Mop, ReadValue, Status, Txn, TxnHistory};
use crate::format::edn::parse_forms;
use crate::history::HistoryError;
use rustc_hash::FxHashMap;
use serde_json::Value;

/// A transactional history file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnFormat {
    /// Jepsen EDN maps: `{:type :ok, :f :txn, :value [[:append 1 2]], :process 0}`.
    Edn,
    /// elle-cli JSON: `[{"type":"ok","value":[["append",1,2]],"process":0}, ...]`.
    Json,
    /// One JSON object per line, the same fields as elle-cli JSON.
    Jsonl,
}

impl std::str::FromStr for TxnFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "edn" => Ok(TxnFormat::Edn),
            "json" => Ok(TxnFormat::Json),
            "jsonl" => Ok(TxnFormat::Jsonl),
            _ => Err(format!("unknown format {s:?} (auto, edn, json, jsonl)")),
        }
    }
}

impl TxnFormat {
    /// Detects the format from the first significant characters: `{:` (optionally inside a
    /// `[`) is EDN, `[` then `{"` is JSON, `{"` is JSON Lines.
    pub fn detect(text: &str) -> Result<TxnFormat, HistoryError> {
        let body: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with(';'))
            .flat_map(|l| l.chars().chain(std::iter::once('\n')))
            .filter(|c| !c.is_whitespace() && *c != ',')
            .take(3)
            .collect();
        let (array, rest) = match body.strip_prefix('[') {
            Some(rest) => (true, rest),
            None => (false, body.as_str()),
        };
        match (array, rest.as_bytes()) {
            (_, [b'{', b':', ..]) => Ok(TxnFormat::Edn),
            (true, [b'{', b'"', ..]) => Ok(TxnFormat::Json),
            (false, [b'{', b'"', ..]) => Ok(TxnFormat::Jsonl),
            (_, []) => Err(HistoryError::new(1, "the history is empty")),
            _ => Err(HistoryError::new(
                1,
                "not a transactional history: expected EDN maps `{:type ...}` or JSON objects `{\"type\": ...}`",
            )),
        }
    }
}

/// Parses a history in the given format (or detected, with `None`).
pub fn parse_txn_history(
    text: &str,
    format: Option<TxnFormat>,
) -> Result<TxnHistory, HistoryError> {
    let format = match format {
        Some(f) => f,
        None => TxnFormat::detect(text)?,
    };
    let mut builder = Builder::default();
    let events = match format {
        TxnFormat::Edn => edn_events(text)?,
        TxnFormat::Json => json_events(text)?,
        TxnFormat::Jsonl => {
            // One line at a time: a large history is never held as JSON values.
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let value: Value = serde_json::from_str(line)
                    .map_err(|e| HistoryError::new(i + 1, format!("not a JSON object: {e}")))?;
                builder.event(i + 1, &value)?;
            }
            Vec::new()
        }
    };
    for (line, event) in events {
        builder.event(line, &event)?;
    }
    Ok(builder.finish())
}

fn line_of(text: &str, offset: usize) -> usize {
    1 + memchr::memchr_iter(b'\n', &text.as_bytes()[..offset.min(text.len())]).count()
}

fn edn_events(text: &str) -> Result<Vec<(usize, Value)>, HistoryError> {
    let forms = parse_forms(text).map_err(|(at, e)| HistoryError::new(line_of(text, at), e))?;
    // Offsets are increasing: count newlines incrementally.
    let mut line = 1;
    let mut last = 0;
    let mut out = Vec::with_capacity(forms.len());
    for (offset, value) in forms {
        line += memchr::memchr_iter(b'\n', &text.as_bytes()[last..offset]).count();
        last = offset;
        out.push((line, value));
    }
    Ok(out)
}

/// elle-cli writes one object per line inside the array: read it line by line (so errors
/// name lines); any other layout is read as one array (events named by position).
fn json_events(text: &str) -> Result<Vec<(usize, Value)>, HistoryError> {
    let per_line: Option<Vec<(usize, Value)>> = text
        .lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let t = l.trim().trim_start_matches('[').trim_end_matches(']');
            let t = t.trim().trim_end_matches(',').trim();
            (!t.is_empty()).then_some((i, t))
        })
        .map(|(i, t)| serde_json::from_str(t).ok().map(|v| (i + 1, v)))
        .collect();
    if let Some(events) = per_line {
        return Ok(events);
    }
    let all: Vec<Value> = serde_json::from_str(text)
        .map_err(|e| HistoryError::new(e.line(), format!("not a JSON array of events: {e}")))?;
    Ok(all
        .into_iter()
        .enumerate()
        .map(|(i, v)| (i + 1, v))
        .collect())
}

/// A field by its JSON name or its EDN keyword (`type` or `:type`).
fn field<'v>(object: &'v serde_json::Map<String, Value>, name: &str) -> Option<&'v Value> {
    object.get(name).or_else(|| object.get(&format!(":{name}")))
}

/// A keyword or string without its leading `:`.
fn name_of(value: &Value) -> Option<&str> {
    value.as_str().map(|s| s.strip_prefix(':').unwrap_or(s))
}

#[derive(Default)]
struct Builder {
    atoms: Atoms,
    txns: Vec<Txn>,
    /// Process -> index in `txns` of its invocation awaiting completion.
    pending: FxHashMap<Option<u64>, usize>,
    position: u64,
}

enum Kind {
    Invoke,
    Done(Status),
}

impl Builder {
    fn event(&mut self, line: usize, event: &Value) -> Result<(), HistoryError> {
        let err = |m: String| HistoryError::new(line, m);
        let object = event
            .as_object()
            .ok_or_else(|| err(format!("an event must be a map, got {event}")))?;
        let process =
            match field(object, "process") {
                None | Some(Value::Null) => None,
                Some(Value::Number(n)) => Some(n.as_u64().ok_or_else(|| {
                    err(format!("field process: {n} is not a non-negative integer"))
                })?),
                // `:nemesis` and other named processes inject faults: not transactions.
                Some(Value::String(_)) => return Ok(()),
                Some(other) => return Err(err(format!("field process: bad value {other}"))),
            };
        let kind = match field(object, "type").and_then(name_of) {
            Some("invoke") => Kind::Invoke,
            Some("ok") => Kind::Done(Status::Ok),
            Some("fail") => Kind::Done(Status::Fail),
            Some("info") => Kind::Done(Status::Info),
            Some(other) => {
                return Err(err(format!(
                    "field type: {other:?} is not invoke, ok, fail or info"
                )))
            }
            None => return Err(err("field type: missing (invoke, ok, fail or info)".into())),
        };
        let invoke = matches!(kind, Kind::Invoke);
        let mops = match field(object, "value") {
            Some(value) => self.mops(value, invoke).map_err(err)?,
            None => return Err(err("field value: missing (a vector of [f k v])".into())),
        };
        let index = field(object, "index").and_then(Value::as_u64);
        let position = self.position;
        self.position += 1;
        match kind {
            Kind::Invoke => {
                if let Some(&open) = self.pending.get(&process) {
                    return Err(err(format!(
                        "process {} invoked a transaction while its transaction of line {} is still open (one at a time per process)",
                        show_process(process),
                        self.txns[open].line
                    )));
                }
                self.pending.insert(process, self.txns.len());
                self.txns.push(Txn {
                    process,
                    status: Status::Info,
                    mops,
                    invoked_at: position,
                    completed_at: None,
                    line,
                    index,
                });
            }
            Kind::Done(status) => self.complete(process, status, mops, position, line, index)?,
        }
        Ok(())
    }

    fn complete(
        &mut self,
        process: Option<u64>,
        status: Status,
        mops: Vec<Mop>,
        position: u64,
        line: usize,
        index: Option<u64>,
    ) -> Result<(), HistoryError> {
        let Some(at) = self.pending.remove(&process) else {
            return Err(HistoryError::new(
                line,
                format!(
                    "a completion ({status:?}) of process {} with no open invocation",
                    show_process(process)
                ),
            ));
        };
        let txn = &mut self.txns[at];
        if mops.len() != txn.mops.len() {
            return Err(HistoryError::new(
                line,
                format!(
                    "the completion has {} micro-operations, its invocation (line {}) {}",
                    mops.len(),
                    txn.line,
                    txn.mops.len()
                ),
            ));
        }
        txn.status = status;
        txn.line = line;
        txn.index = index.or(txn.index);
        if status != Status::Info {
            txn.completed_at = Some(position);
        }
        if status == Status::Ok {
            txn.mops = mops;
        }
        Ok(())
    }

    fn mops(&mut self, value: &Value, invoke: bool) -> Result<Vec<Mop>, String> {
        let list = match value {
            Value::Array(list) => list,
            other => {
                return Err(format!(
                    "field value: expected a vector of [f k v], got {other}"
                ))
            }
        };
        list.iter()
            .enumerate()
            .map(|(i, mop)| {
                self.mop(mop, invoke)
                    .map_err(|e| format!("micro-op {i} ({mop}): {e}"))
            })
            .collect()
    }

    fn mop(&mut self, mop: &Value, invoke: bool) -> Result<Mop, String> {
        let [f, key, value] = mop.as_array().map(Vec::as_slice).unwrap_or_default() else {
            return Err("expected [f key value]".into());
        };
        let key = self.atoms.intern(key);
        let scalar = |v: &Value| !(v.is_array() || v.is_object() || v.is_null());
        match name_of(f) {
            Some("append") if scalar(value) => Ok(Mop::Append {
                key,
                value: self.atoms.intern(value),
            }),
            Some("w") if scalar(value) => Ok(Mop::Write {
                key,
                value: self.atoms.intern(value),
            }),
            Some("append" | "w") => Err("the written value must be a scalar".into()),
            Some("r") => {
                let value = match value {
                    Value::Null if invoke => ReadValue::Unknown,
                    Value::Null => ReadValue::Nil,
                    Value::Array(items) => {
                        if items.iter().any(|v| !scalar(v)) {
                            return Err("a list read holds scalars only".into());
                        }
                        ReadValue::List(items.iter().map(|v| self.atoms.intern(v)).collect())
                    }
                    v if scalar(v) => ReadValue::Value(self.atoms.intern(v)),
                    _ => return Err("a read returns nil, a scalar or a list".into()),
                };
                Ok(Mop::Read { key, value })
            }
            _ => Err(format!("unknown function {f} (append, r, w)")),
        }
    }

    fn finish(self) -> TxnHistory {
        TxnHistory {
            txns: self.txns,
            atoms: self.atoms,
        }
    }
}

fn show_process(process: Option<u64>) -> String {
    process.map_or_else(|| "(none)".to_string(), |p| p.to_string())
}
