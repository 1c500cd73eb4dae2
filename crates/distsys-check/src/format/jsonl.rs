//! The project's JSON Lines history format (design.md).

use super::HistoryFormat;
use crate::history::{Completion, Event, History, HistoryBuilder, HistoryError, OpKind};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct RawEvent {
    process: u64,
    #[serde(rename = "type")]
    kind: String,
    f: String,
    #[serde(default)]
    key: Option<Value>,
    #[serde(default)]
    value: Value,
    time: u64,
}

/// Parses a JSON Lines history. Blank lines are skipped; extra fields are ignored.
pub fn parse(text: &str) -> Result<History, HistoryError> {
    HistoryFormat::Jsonl.parse(text)
}

/// serde_json's message for an error inside one line, with the position said as a column of
/// that line (serde_json counts lines within the line it was given: always "line 1", which
/// read next to the history's own line number looked like a second, contradictory one).
fn in_line(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let message = match text.rfind(" at line ") {
        Some(at) => &text[..at],
        None => &text,
    };
    if error.column() > 0 {
        format!("{message} (column {})", error.column())
    } else {
        message.to_string()
    }
}

/// Reads one (non-blank) line into `builder`.
pub(crate) fn line(
    line_no: usize,
    line: &str,
    builder: &mut HistoryBuilder,
) -> Result<(), HistoryError> {
    let raw: RawEvent = serde_json::from_str(line)
        .map_err(|e| HistoryError::new(line_no, format!("not a history event: {}", in_line(&e))))?;
    for value in raw.key.iter().chain([&raw.value]) {
        super::exact::exact(line, value).map_err(|e| HistoryError::new(line_no, e))?;
    }
    builder.push(Event {
        line: line_no,
        process: raw.process,
        completion: parse_type(&raw.kind, line_no)?,
        kind: OpKind::parse(&raw.f)
            .ok_or_else(|| HistoryError::new(line_no, format!("unknown operation {:?}", raw.f)))?,
        key: match raw.key {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(other) => Some(other.to_string()),
        },
        value: raw.value,
        time: raw.time,
    })
}

/// `invoke` | `ok` | `fail` | `info`.
pub(crate) fn parse_type(name: &str, line: usize) -> Result<Option<Completion>, HistoryError> {
    match name {
        "invoke" => Ok(None),
        "ok" => Ok(Some(Completion::Ok)),
        "fail" => Ok(Some(Completion::Fail)),
        "info" => Ok(Some(Completion::Info)),
        other => Err(HistoryError::new(
            line,
            format!("unknown event type {other:?} (invoke, ok, fail, info)"),
        )),
    }
}
