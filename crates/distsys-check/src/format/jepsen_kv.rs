//! Jepsen's kv history format: one Clojure map per line,
//! `{:process 0, :type :invoke, :f :append, :key "0", :value "x 0 0 y"}`.
//! Keys in any order, any EDN whitespace and comments (see [`super::edn`]); lines holding only a
//! comment are skipped, and so are events of the `:nemesis` process (fault injection). Time is
//! the line number.

use super::edn::{parse_map, Edn};
use super::jsonl::parse_type;
use crate::history::{Event, History, HistoryBuilder, HistoryError, OpKind};
use serde_json::Value;

/// Parses a Jepsen kv history.
pub fn parse(text: &str) -> Result<History, HistoryError> {
    super::HistoryFormat::JepsenKv.parse(text)
}

/// Reads one (non-blank) line into `builder`. A string value is handed over borrowed from
/// the line ([`HistoryBuilder::push_str`]), so a read's long result is never copied.
pub(crate) fn line(
    line_no: usize,
    line: &str,
    builder: &mut HistoryBuilder,
) -> Result<(), HistoryError> {
    if line.trim_start().starts_with(';') {
        return Ok(());
    }
    let mut entries = parse_map(line).map_err(|e| HistoryError::new(line_no, e))?;
    let get = |name: &str| entries.iter().position(|(k, _)| *k == name);
    let process = match get("process").map(|i| &entries[i].1) {
        Some(Edn::Data(Value::Number(n))) => n.as_u64().ok_or_else(|| {
            HistoryError::new(
                line_no,
                format!("process {n} is not a non-negative integer"),
            )
        })?,
        Some(Edn::Keyword(k)) if *k == "nemesis" => return Ok(()),
        other => {
            return Err(HistoryError::new(
                line_no,
                format!("missing or bad :process ({other:?})"),
            ))
        }
    };
    let kind_name = match get("type").map(|i| &entries[i].1) {
        Some(Edn::Keyword(k)) => *k,
        _ => return Err(HistoryError::new(line_no, "missing :type keyword")),
    };
    let f = match get("f").map(|i| &entries[i].1) {
        Some(Edn::Keyword(k)) => *k,
        _ => return Err(HistoryError::new(line_no, "missing :f keyword")),
    };
    let key = match get("key").map(|i| &entries[i].1) {
        None | Some(Edn::Data(Value::Null)) => None,
        Some(Edn::Str(s)) => Some(s.to_string()),
        Some(Edn::Data(Value::String(s))) => Some(s.clone()),
        Some(Edn::Data(other)) => Some(other.to_string()),
        Some(Edn::Keyword(k)) => Some(format!(":{k}")),
    };
    let event = Event {
        line: line_no,
        process,
        completion: parse_type(kind_name, line_no)?,
        kind: OpKind::parse(f)
            .ok_or_else(|| HistoryError::new(line_no, format!("unknown operation :{f}")))?,
        key,
        value: Value::Null,
        time: line_no as u64,
    };
    match get("value").map(|i| entries.swap_remove(i).1) {
        None => builder.push(event),
        Some(Edn::Str(text)) => builder.push_str(event, &text),
        Some(other) => builder.push(Event {
            value: other.into_json(),
            ..event
        }),
    }
}
