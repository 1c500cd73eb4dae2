//! Reading the project's JSON log lines (the schema of `distsys_types::event`): `level`,
//! `timestamp` (ISO 8601), `skill`, `node_id`, `term`, `event`, `context`. The event's name is
//! read into an [`EventKind`] and its context into an [`Event`], which the detectors match on.

use distsys_types::event::field;
use distsys_types::{Event, EventKind};
use serde_json::Value;

/// One log event.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEvent {
    /// File it came from.
    pub file: String,
    /// 1-based line number in that file.
    pub line: usize,
    /// Microseconds since the Unix epoch.
    pub time_us: i64,
    /// The node that logged it, if any.
    pub node: Option<u64>,
    /// The node's term when it logged it, if any.
    pub term: Option<u64>,
    /// The event name, as logged.
    pub event: String,
    /// The event, when the name is one of [`EventKind`]'s.
    pub kind: Option<EventKind>,
    /// The event with its data, when the context is what that kind carries.
    pub data: Option<Event>,
    /// Event fields.
    pub context: Value,
}

impl LogEvent {
    /// `file:line` for evidence.
    pub fn at(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    /// A one-line summary for evidence: where, when, who, what.
    pub fn describe(&self) -> String {
        let mut out = format!("{} t={:.3}s {}", self.at(), self.seconds(), self.event);
        if let Some(n) = self.node {
            out.push_str(&format!(" node={n}"));
        }
        if let Some(t) = self.term {
            out.push_str(&format!(" term={t}"));
        }
        if self.context.as_object().is_some_and(|o| !o.is_empty()) {
            out.push_str(&format!(" {}", self.context));
        }
        out
    }

    /// Time in seconds (for evidence).
    pub fn seconds(&self) -> f64 {
        self.time_us as f64 / 1e6
    }
}

/// Parses a log file. Malformed lines are returned as `(line, reason)` and skipped.
pub fn parse(file: &str, text: &str) -> (Vec<LogEvent>, Vec<(String, String)>) {
    let mut events = Vec::new();
    let mut skipped = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        if raw.trim().is_empty() {
            continue;
        }
        match parse_line(file, line, raw) {
            Ok(event) => events.push(event),
            Err(reason) => skipped.push((format!("{file}:{line}"), reason)),
        }
    }
    (events, skipped)
}

fn parse_line(file: &str, line: usize, raw: &str) -> Result<LogEvent, String> {
    let value: Value = serde_json::from_str(raw).map_err(|e| format!("not JSON: {e}"))?;
    let object = value.as_object().ok_or("not a JSON object")?;
    let event = object
        .get(field::EVENT)
        .and_then(Value::as_str)
        .ok_or("field `event` missing or not a string")?
        .to_string();
    let timestamp = object
        .get(field::TIMESTAMP)
        .and_then(Value::as_str)
        .ok_or("field `timestamp` missing or not a string")?;
    let time_us = chrono::DateTime::parse_from_rfc3339(timestamp)
        .map_err(|e| format!("field `timestamp` is not ISO 8601 ({e})"))?
        .timestamp_micros();
    let number = |name: &str| -> Result<Option<u64>, String> {
        match object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| format!("field `{name}` must be a non-negative integer or null")),
        }
    };
    let context = object.get(field::CONTEXT).cloned().unwrap_or(Value::Null);
    let kind = EventKind::from_name(&event);
    // A context that is not what the kind carries (another tool's, or a partial one) still
    // counts by its name; only the data is unknown.
    let data = kind.and_then(|k| Event::from_context(k, &context).ok());
    Ok(LogEvent {
        file: file.to_string(),
        line,
        time_us,
        node: number(field::NODE_ID)?,
        term: number(field::TERM)?,
        event,
        kind,
        data,
        context,
    })
}
