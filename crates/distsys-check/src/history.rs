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
    pub output: Option<Value>,
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
}

impl History {
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

/// Pairs invocations with completions, per process, and enforces the history rules. Every
/// format's parser feeds it events; it is the one place those rules live.
#[derive(Debug, Default)]
pub struct HistoryBuilder {
    operations: Vec<Option<Operation>>,
    in_flight: FxHashMap<u64, usize>,
    failed: usize,
    last_time: u64,
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
            Some(completion) => self.complete(event, completion),
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
                    op.output = Some(event.value);
                }
            }
            Completion::Fail => {
                *slot = None;
                self.failed += 1;
            }
            // A read with unknown outcome constrains nothing: drop it.
            Completion::Info if op.kind == OpKind::Read => *slot = None,
            Completion::Info => {}
        }
        Ok(())
    }

    /// The history; invocations still in flight become indeterminate (`info`).
    pub fn finish(self) -> History {
        History {
            operations: self
                .operations
                .into_iter()
                .flatten()
                .filter(|op| op.kind != OpKind::Read || op.ret.is_some())
                .collect(),
            failed: self.failed,
        }
    }
}
