//! Operations and histories: what clients did, when, and what they saw.
//!
//! Semantics (design.md, Jepsen): an operation is invoked, then completes `ok` (took effect, with
//! its result), `fail` (certainly did not take effect: dropped from the history) or `info`
//! (unknown: may take effect at any time after its invocation, or never). An invocation with no
//! completion by the end of the history is `info`. Times only need to be ordered: nanoseconds in
//! the JSON Lines format, line numbers in the Jepsen formats.

use rustc_hash::FxHashMap;
use serde_json::Value;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// A string held as the first `len` bytes of a text that other values share: the reads of an
/// append-only key return ever longer prefixes of one text, so each read costs a pointer and a
/// length instead of a copy of its whole value. Compares, hashes and prints as the string it
/// holds (`as_str`), whatever text it shares.
#[derive(Clone)]
pub struct SharedText {
    text: Arc<str>,
    len: usize,
}

impl SharedText {
    /// A string of its own (shared with nothing yet).
    pub fn new(text: impl Into<Arc<str>>) -> Self {
        let text: Arc<str> = text.into();
        SharedText {
            len: text.len(),
            text,
        }
    }

    /// The first `len` bytes of `text`; `None` unless `len` is a char boundary of `text`.
    pub fn prefix(text: &Arc<str>, len: usize) -> Option<Self> {
        text.is_char_boundary(len).then(|| SharedText {
            text: text.clone(),
            len,
        })
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        &self.text[..self.len]
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it is the empty string.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The identity of the text it shares: values with the same base are prefixes of one
    /// text, so the shorter of two is a prefix of the longer.
    pub fn base(&self) -> usize {
        Arc::as_ptr(&self.text) as *const u8 as usize
    }

    /// `prefix` followed by `suffix` as a prefix of `self`'s text, if `self` starts with exactly
    /// that (no copy); `None` otherwise.
    pub fn extension(&self, prefix: &SharedText, suffix: &str) -> Option<SharedText> {
        let len = prefix.len.checked_add(suffix.len())?;
        let whole = self.as_str();
        let fits = len <= whole.len()
            && prefix.is_prefix_of(self)
            && whole.as_bytes()[prefix.len..len] == *suffix.as_bytes();
        // `whole[..len]` is `prefix` then `suffix`, both strings: `len` is a char boundary.
        fits.then(|| SharedText::prefix(&self.text, len)).flatten()
    }

    /// Whether `self` is a prefix of `other` (`other` starts with `self`); constant time when
    /// both share one text.
    pub fn is_prefix_of(&self, other: &SharedText) -> bool {
        if Arc::ptr_eq(&self.text, &other.text) {
            self.len <= other.len
        } else {
            other.as_str().starts_with(self.as_str())
        }
    }
}

impl PartialEq for SharedText {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len
            && (Arc::ptr_eq(&self.text, &other.text) || self.as_str() == other.as_str())
    }
}

impl Eq for SharedText {}

impl Hash for SharedText {
    /// The length and at most 32 bytes at each end: equal strings hash alike (so `Eq` and `Hash`
    /// agree), in time independent of the length; different strings that collide are told apart
    /// by `eq`.
    fn hash<H: Hasher>(&self, state: &mut H) {
        let bytes = self.as_str().as_bytes();
        state.write_usize(bytes.len());
        if bytes.len() <= 64 {
            state.write(bytes);
        } else {
            state.write(&bytes[..32]);
            state.write(&bytes[bytes.len() - 32..]);
        }
    }
}

impl fmt::Debug for SharedText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// What a read returned: a JSON value, or a string held as a [`SharedText`] (the parsers and
/// [`HistoryBuilder`] hold every non-empty string read result that way). Equality is strict JSON
/// equality either way: a `Text` equals exactly the JSON string with the same characters (never
/// a number, `1` is not `"1"`).
#[derive(Clone, Debug)]
pub enum ReadValue {
    /// Any JSON value.
    Json(Value),
    /// A JSON string.
    Text(SharedText),
}

impl ReadValue {
    /// The string, if the value is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            ReadValue::Json(Value::String(s)) => Some(s),
            ReadValue::Json(_) => None,
            ReadValue::Text(t) => Some(t.as_str()),
        }
    }

    /// The value as JSON (a `Text` is copied into a JSON string).
    pub fn to_json(&self) -> Value {
        match self {
            ReadValue::Json(v) => v.clone(),
            ReadValue::Text(t) => Value::String(t.as_str().to_string()),
        }
    }
}

impl From<Value> for ReadValue {
    fn from(value: Value) -> Self {
        ReadValue::Json(value)
    }
}

impl PartialEq for ReadValue {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (ReadValue::Json(a), ReadValue::Json(b)) => a == b,
            (ReadValue::Text(a), ReadValue::Text(b)) => a == b,
            (ReadValue::Text(t), ReadValue::Json(v)) | (ReadValue::Json(v), ReadValue::Text(t)) => {
                v.as_str() == Some(t.as_str())
            }
        }
    }
}

impl PartialEq<Value> for ReadValue {
    fn eq(&self, other: &Value) -> bool {
        match self {
            ReadValue::Json(v) => v == other,
            ReadValue::Text(t) => other.as_str() == Some(t.as_str()),
        }
    }
}

impl fmt::Display for ReadValue {
    /// As JSON text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadValue::Json(v) => write!(f, "{v}"),
            ReadValue::Text(t) => write!(f, "{}", Value::String(t.as_str().to_string())),
        }
    }
}

impl serde::Serialize for ReadValue {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ReadValue::Json(v) => v.serialize(serializer),
            ReadValue::Text(t) => serializer.serialize_str(t.as_str()),
        }
    }
}

/// What an operation does. Names accepted in inputs are listed in [`OpKind::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpKind {
    /// Read the whole value (`read`, `get`).
    Read,
    /// Overwrite the value (`write`, `put`).
    Write,
    /// Compare-and-set: `[expected, new]`.
    Cas,
    /// Append to the value (string concatenation).
    Append,
    /// Remove the value.
    Delete,
    /// Add an element to a set.
    Add,
}

impl OpKind {
    /// Parses an operation name: read|get, write|put, cas, append, delete|del, add.
    pub fn parse(name: &str) -> Option<OpKind> {
        Some(match name {
            "read" | "get" => OpKind::Read,
            "write" | "put" => OpKind::Write,
            "cas" => OpKind::Cas,
            "append" => OpKind::Append,
            "delete" | "del" => OpKind::Delete,
            "add" => OpKind::Add,
            _ => return None,
        })
    }

    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Read => "read",
            OpKind::Write => "write",
            OpKind::Cas => "cas",
            OpKind::Append => "append",
            OpKind::Delete => "delete",
            OpKind::Add => "add",
        }
    }

    /// Whether the operation can change the object's state.
    pub fn is_mutation(self) -> bool {
        !matches!(self, OpKind::Read)
    }
}

/// One operation of a history, invocation and completion together.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// The client process that ran it.
    pub process: u64,
    /// What it does.
    pub kind: OpKind,
    /// The object it acts on (`None`: the single register of the history).
    pub key: Option<String>,
    /// Argument: written/appended/added value, `[expected, new]` for cas, `null` otherwise.
    pub input: Value,
    /// Result, when known: the value a read returned (`null` = absent).
    pub output: Option<ReadValue>,
    /// Invocation time.
    pub call: u64,
    /// Completion time; `None` when the outcome is unknown (`info` or never completed).
    pub ret: Option<u64>,
    /// 1-based line of the invocation in the input.
    pub line: usize,
}

impl Operation {
    /// Whether the operation completed `ok` (its effect and result are known).
    pub fn is_complete(&self) -> bool {
        self.ret.is_some()
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind.name())?;
        if let Some(key) = &self.key {
            write!(f, "({key})")?;
        }
        match self.kind {
            OpKind::Read => match &self.output {
                Some(v) => write!(f, " -> {v}"),
                None => write!(f, " -> ?"),
            },
            OpKind::Delete => Ok(()),
            _ => write!(f, " {}", self.input),
        }?;
        if self.ret.is_none() {
            write!(f, " (outcome unknown)")?;
        }
        Ok(())
    }
}

/// A parsed history: completed and indeterminate operations, `fail`ed ones removed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// Operations in invocation order.
    pub operations: Vec<Operation>,
    /// How many operations completed with `fail` and were dropped.
    pub failed: usize,
    /// How many reads of unknown outcome (`info`, or never completed) were dropped: they
    /// constrain nothing.
    pub unknown_reads: usize,
}

impl History {
    /// Whether nothing was read at all: no operation, not even a failed one or a read of
    /// unknown outcome (what a file of another format, or of no record, parses to). Such an
    /// input must not pass as checked.
    pub fn has_no_record(&self) -> bool {
        self.operations.is_empty() && self.failed == 0 && self.unknown_reads == 0
    }

    /// The operations grouped by key, keys in sorted order (`None` first). Operations on
    /// different keys are independent (P-compositionality), so each group is checked alone.
    pub fn partitions(&self) -> Vec<(Option<String>, Vec<Operation>)> {
        let mut groups: FxHashMap<Option<&str>, Vec<Operation>> = FxHashMap::default();
        for op in &self.operations {
            groups
                .entry(op.key.as_deref())
                .or_default()
                .push(op.clone());
        }
        let mut out: Vec<(Option<String>, Vec<Operation>)> = groups
            .into_iter()
            .map(|(k, ops)| (k.map(str::to_string), ops))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

/// A problem in a history file, with its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct HistoryError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl HistoryError {
    /// Builds an error at a line.
    pub fn new(line: usize, message: impl Into<String>) -> Self {
        HistoryError {
            line,
            message: message.into(),
        }
    }
}

/// How an operation completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// Took effect, result known.
    Ok,
    /// Certainly did not take effect.
    Fail,
    /// Unknown.
    Info,
}

/// One event as read from a file, in any format.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// 1-based line.
    pub line: usize,
    /// Client process.
    pub process: u64,
    /// `None` for an invocation, else how it completed.
    pub completion: Option<Completion>,
    /// Operation kind.
    pub kind: OpKind,
    /// Object key, if any.
    pub key: Option<String>,
    /// The event's value field.
    pub value: Value,
    /// Event time.
    pub time: u64,
}

/// A history being recorded by a live workload (the simulator's clients, the chaos clients on
/// real processes): events in the order they happened, each given the next line number. One
/// definition, so both write the same history a checker reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recording {
    events: Vec<Event>,
}

impl Recording {
    /// An empty history.
    pub fn new() -> Recording {
        Recording::default()
    }

    /// Appends an invocation (`completion` `None`) or a completion of `process`'s operation on
    /// `key` at `time`; it gets the next line number.
    pub fn record(
        &mut self,
        process: u64,
        completion: Option<Completion>,
        kind: OpKind,
        key: &str,
        value: Value,
        time: u64,
    ) {
        self.events.push(Event {
            line: self.events.len() + 1,
            process,
            completion,
            kind,
            key: Some(key.to_string()),
            value,
            time,
        });
    }

    /// The events so far.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The history the checker reads, or the first event that breaks the history rules.
    pub fn history(&self) -> Result<History, HistoryError> {
        history_of(&self.events)
    }

    /// The events, taken.
    pub fn into_events(self) -> Vec<Event> {
        self.events
    }
}

/// The history `events` make, paired by [`HistoryBuilder`], or the first event that breaks
/// the history rules.
pub fn history_of(events: &[Event]) -> Result<History, HistoryError> {
    let mut builder = HistoryBuilder::new();
    for event in events {
        builder.push(event.clone())?;
    }
    Ok(builder.finish())
}

/// Pairs invocations with completions, per process, and enforces the history rules. Every
/// format's parser feeds it events; it is the one place those rules live.
///
/// String read results are held compactly: each key keeps a few growing texts, and a read
/// whose string is a prefix of one of them (or extends one, which then grows) is stored as that
/// text's prefix ([`SharedText`]), checked byte by byte, so the ever longer reads of an
/// append-only key cost one copy of the longest, not one copy each.
#[derive(Debug, Default)]
pub struct HistoryBuilder {
    operations: Vec<Option<Operation>>,
    in_flight: FxHashMap<u64, usize>,
    failed: usize,
    unknown_reads: usize,
    last_time: u64,
    texts: TextLogs,
}

/// Per key, at most [`TextLogs::PER_KEY`] growing texts; the reads that are prefixes of them.
#[derive(Debug, Default)]
struct TextLogs {
    logs: Vec<String>,
    /// Log indices of each key, the most recently used last.
    by_key: FxHashMap<Option<String>, Vec<usize>>,
    /// (operation index, log, length) of every read held as a prefix of a log.
    reads: Vec<(usize, usize, usize)>,
}

impl TextLogs {
    const PER_KEY: usize = 8;

    /// The log of `key` that `text` is a prefix of, or that `text` extends (grown to it), or a
    /// new one while the key has fewer than [`Self::PER_KEY`]; `None`: `text` stays on its own.
    fn share(&mut self, key: &Option<String>, text: &str) -> Option<usize> {
        let logs = match self.by_key.get_mut(key) {
            Some(logs) => logs,
            None => self.by_key.entry(key.clone()).or_default(),
        };
        for slot in (0..logs.len()).rev() {
            let log = &mut self.logs[logs[slot]];
            let common = log.len().min(text.len());
            if log.as_bytes()[..common] != text.as_bytes()[..common] {
                continue;
            }
            if text.len() > log.len() {
                log.push_str(&text[common..]);
            }
            let index = logs.remove(slot);
            logs.push(index);
            return Some(index);
        }
        if logs.len() >= Self::PER_KEY {
            return None;
        }
        logs.push(self.logs.len());
        self.logs.push(text.to_string());
        self.logs.len().checked_sub(1)
    }
}

impl HistoryBuilder {
    /// A builder with no events yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the next event. Errors name the line: a completion with no invocation, an
    /// invocation on a process that already has one in flight, a completion whose operation or
    /// key differs from its invocation, or time going backwards.
    pub fn push(&mut self, event: Event) -> Result<(), HistoryError> {
        self.push_text(event, None)
    }

    /// [`HistoryBuilder::push`] for an event whose value is the string `text` (borrowed from
    /// the input; `event.value` is ignored): a read's result is then compared with its key's
    /// texts in place, never copied unless it extends them.
    pub fn push_str(&mut self, event: Event, text: &str) -> Result<(), HistoryError> {
        self.push_text(event, Some(text))
    }

    fn push_text(&mut self, mut event: Event, text: Option<&str>) -> Result<(), HistoryError> {
        let is_read_result = event.kind == OpKind::Read && event.completion == Some(Completion::Ok);
        let mut shared = None;
        if is_read_result {
            let borrowed = text.or_else(|| event.value.as_str());
            shared = borrowed.filter(|t| !t.is_empty()).map(|t| t.len());
            if shared.is_none() {
                if let Some(t) = text {
                    event.value = Value::String(t.to_string());
                }
            }
        } else if let Some(t) = text {
            event.value = Value::String(t.to_string());
        }
        if event.time < self.last_time {
            return Err(HistoryError::new(
                event.line,
                format!(
                    "time {} is earlier than the previous event's {}",
                    event.time, self.last_time
                ),
            ));
        }
        self.last_time = event.time;
        match event.completion {
            None => self.invoke(event),
            Some(completion) => {
                let index = self.in_flight.get(&event.process).copied();
                // Kept apart while `complete` checks the event (the read's value is set below).
                let owned = match shared {
                    Some(_) => std::mem::take(&mut event.value),
                    None => Value::Null,
                };
                self.complete(event, completion)?;
                let (Some(len), Some(index)) = (shared, index) else {
                    return Ok(());
                };
                let Some(op) = self.operations[index].as_mut() else {
                    return Ok(());
                };
                let text = text.or(owned.as_str()).unwrap_or("");
                debug_assert_eq!(text.len(), len);
                match self.texts.share(&op.key, text) {
                    Some(log) => self.texts.reads.push((index, log, len)),
                    None => op.output = Some(ReadValue::Text(SharedText::new(text))),
                }
                Ok(())
            }
        }
    }

    fn invoke(&mut self, event: Event) -> Result<(), HistoryError> {
        if let Some(&open) = self.in_flight.get(&event.process) {
            let line = self.operations[open].as_ref().map_or(0, |op| op.line);
            return Err(HistoryError::new(
                event.line,
                format!(
                    "process {} invokes a new operation while its operation from line {line} is still in flight",
                    event.process
                ),
            ));
        }
        self.in_flight.insert(event.process, self.operations.len());
        self.operations.push(Some(Operation {
            process: event.process,
            kind: event.kind,
            key: event.key,
            input: if event.kind == OpKind::Read {
                Value::Null
            } else {
                event.value
            },
            output: None,
            call: event.time,
            ret: None,
            line: event.line,
        }));
        Ok(())
    }

    fn complete(&mut self, event: Event, completion: Completion) -> Result<(), HistoryError> {
        let Some(index) = self.in_flight.remove(&event.process) else {
            return Err(HistoryError::new(
                event.line,
                format!(
                    "process {} completes an operation it never invoked",
                    event.process
                ),
            ));
        };
        let slot = &mut self.operations[index];
        let Some(op) = slot.as_mut() else {
            return Err(HistoryError::new(
                event.line,
                "internal: completed operation missing",
            ));
        };
        if op.kind != event.kind {
            return Err(HistoryError::new(
                event.line,
                format!(
                    "process {} completes a {} but invoked a {} at line {}",
                    event.process,
                    event.kind.name(),
                    op.kind.name(),
                    op.line
                ),
            ));
        }
        if event.key.is_some() && event.key != op.key {
            return Err(HistoryError::new(
                event.line,
                format!(
                    "completion key {:?} differs from the invocation's {:?} (line {})",
                    event.key, op.key, op.line
                ),
            ));
        }
        match completion {
            Completion::Ok => {
                op.ret = Some(event.time);
                if op.kind == OpKind::Read {
                    op.output = Some(ReadValue::Json(event.value));
                }
            }
            Completion::Fail => {
                *slot = None;
                self.failed += 1;
            }
            // A read with unknown outcome constrains nothing: drop it.
            Completion::Info if op.kind == OpKind::Read => {
                *slot = None;
                self.unknown_reads += 1;
            }
            Completion::Info => {}
        }
        Ok(())
    }

    /// The history; invocations still in flight become indeterminate (`info`).
    pub fn finish(mut self) -> History {
        let logs: Vec<Arc<str>> = self.texts.logs.drain(..).map(Arc::from).collect();
        for &(index, log, len) in &self.texts.reads {
            if let Some(Some(op)) = self.operations.get_mut(index) {
                // `len` is the length of a string the log starts with: a char boundary.
                op.output = SharedText::prefix(&logs[log], len).map(ReadValue::Text);
            }
        }
        let total = self.operations.iter().flatten().count();
        let operations: Vec<Operation> = self
            .operations
            .into_iter()
            .flatten()
            .filter(|op| op.kind != OpKind::Read || op.ret.is_some())
            .collect();
        History {
            unknown_reads: self.unknown_reads + (total - operations.len()),
            operations,
            failed: self.failed,
        }
    }
}
