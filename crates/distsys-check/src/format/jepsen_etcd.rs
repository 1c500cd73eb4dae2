//! Jepsen's etcd log format (single register):
//! `INFO  jepsen.util - 3\t:invoke\t:write\t4`. Values: `nil`, integers, `[from to]` for cas,
//! `:timed-out` on `:info`/`:fail` completions. Lines not written by `jepsen.util` are skipped.
//! Time is the line number.

use super::jsonl::parse_type;
use crate::history::{Event, History, HistoryError, OpKind};
use serde_json::Value;

const MARKER: &str = "jepsen.util - ";

/// Parses a Jepsen etcd log.
pub fn parse(text: &str) -> Result<History, HistoryError> {
    super::parse_lines(text, |line_no, line| {
        let Some(at) = line.find(MARKER) else {
            return Ok(None);
        };
        let fields: Vec<&str> = line[at + MARKER.len()..].trim_end().split('\t').collect();
        if fields.len() < 3 {
            return Err(HistoryError::new(
                line_no,
                "expected PROCESS\\t:TYPE\\t:F[\\tVALUE] (truncated line?)",
            ));
        }
        let process: u64 = match fields[0].trim().parse() {
            Ok(p) => p,
            Err(_) if fields[0].trim() == ":nemesis" => return Ok(None),
            Err(_) => {
                return Err(HistoryError::new(
                    line_no,
                    format!("bad process {:?}", fields[0]),
                ))
            }
        };
        let keyword = |field: &str, what: &str| {
            field
                .strip_prefix(':')
                .ok_or_else(|| {
                    HistoryError::new(line_no, format!("{what} {field:?} is not a keyword"))
                })
                .map(str::to_string)
        };
        let kind = keyword(fields[1], "type")?;
        let f = keyword(fields[2], "operation")?;
        let value = match fields.get(3) {
            None => Value::Null,
            Some(raw) => parse_value(raw.trim())
                .ok_or_else(|| HistoryError::new(line_no, format!("cannot read value {raw:?}")))?,
        };
        Ok(Some(Event {
            line: line_no,
            process,
            completion: parse_type(&kind, line_no)?,
            kind: OpKind::parse(&f)
                .ok_or_else(|| HistoryError::new(line_no, format!("unknown operation :{f}")))?,
            key: None,
            value,
            time: line_no as u64,
        }))
    })
}

fn parse_value(raw: &str) -> Option<Value> {
    if raw == "nil" {
        return Some(Value::Null);
    }
    if raw.starts_with(':') {
        // `:timed-out` and friends: no value.
        return Some(Value::Null);
    }
    if let Some(inner) = raw.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return inner
            .split_whitespace()
            .map(parse_value)
            .collect::<Option<Vec<_>>>()
            .map(Value::Array);
    }
    raw.parse::<i64>().ok().map(|i| Value::Number(i.into()))
}
