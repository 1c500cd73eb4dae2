//! Jepsen's kv history format: one Clojure map per line,
//! `{:process 0, :type :invoke, :f :append, :key "0", :value "x 0 0 y"}`.
//! Keys in any order, any EDN whitespace and comments (see [`super::edn`]); lines holding only a
//! comment are skipped, and so are events of the `:nemesis` process (fault injection). Time is
//! the line number.

use super::edn::{parse_map, Edn};
use super::jsonl::parse_type;
use crate::history::{Event, History, HistoryError, OpKind};
use serde_json::Value;

/// Parses a Jepsen kv history.
pub fn parse(text: &str) -> Result<History, HistoryError> {
    super::parse_lines(text, |line_no, line| {
        if line.trim_start().starts_with(';') {
            return Ok(None);
        }
        let entries = parse_map(line).map_err(|e| HistoryError::new(line_no, e))?;
        let get = |name: &str| entries.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        let process = match get("process") {
            Some(Edn::Data(Value::Number(n))) => n.as_u64().ok_or_else(|| {
                HistoryError::new(
                    line_no,
                    format!("process {n} is not a non-negative integer"),
                )
            })?,
            Some(Edn::Keyword(k)) if k == "nemesis" => return Ok(None),
            other => {
                return Err(HistoryError::new(
                    line_no,
                    format!("missing or bad :process ({other:?})"),
                ))
            }
        };
        let kind_name = match get("type") {
            Some(Edn::Keyword(k)) => k.as_str(),
            _ => return Err(HistoryError::new(line_no, "missing :type keyword")),
        };
        let f = match get("f") {
            Some(Edn::Keyword(k)) => k.as_str(),
            _ => return Err(HistoryError::new(line_no, "missing :f keyword")),
        };
        let key = match get("key") {
            None | Some(Edn::Data(Value::Null)) => None,
            Some(Edn::Data(Value::String(s))) => Some(s.clone()),
            Some(Edn::Data(other)) => Some(other.to_string()),
            Some(Edn::Keyword(k)) => Some(format!(":{k}")),
        };
        let value = match get("value") {
            None => Value::Null,
            Some(Edn::Data(v)) => v.clone(),
            Some(Edn::Keyword(k)) => Value::String(format!(":{k}")),
        };
        Ok(Some(Event {
            line: line_no,
            process,
            completion: parse_type(kind_name, line_no)?,
            kind: OpKind::parse(f)
                .ok_or_else(|| HistoryError::new(line_no, format!("unknown operation :{f}")))?,
            key,
            value,
            time: line_no as u64,
        }))
    })
}
