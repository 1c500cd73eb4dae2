//! Jepsen's etcd log format (single register):
//! `INFO  jepsen.util - 3\t:invoke\t:write\t4`. Fields are separated by any run of whitespace
//! (tabs as Jepsen writes them, or spaces as some published copies have them). Values: `nil`,
//! integers, `[from to]` for cas, `:timed-out` on `:info`/`:fail` completions, read with the one
//! EDN reader (so nesting is bounded). Lines not written by `jepsen.util` are skipped. Time is
//! the line number.

use super::edn::{parse_value as parse_edn, Edn};
use super::jsonl::parse_type;
use crate::history::{Event, History, HistoryBuilder, HistoryError, OpKind};
use serde_json::Value;

/// The rest of a `jepsen.util` log line after `jepsen.util - `, if it is one (any whitespace
/// around the dash).
pub(crate) fn log_fields(line: &str) -> Option<&str> {
    const LOGGER: &str = "jepsen.util";
    let at = line.find(LOGGER)?;
    let rest = &line[at + LOGGER.len()..];
    let after_space = rest.trim_start();
    if after_space.len() == rest.len() {
        return None;
    }
    let after_dash = after_space.strip_prefix('-')?;
    let fields = after_dash.trim_start();
    (fields.len() < after_dash.len()).then_some(fields)
}

/// Splits off the first whitespace-separated field.
fn field(text: &str) -> Option<(&str, &str)> {
    let text = text.trim_start();
    if text.is_empty() {
        return None;
    }
    let end = text.find(char::is_whitespace).unwrap_or(text.len());
    Some((&text[..end], &text[end..]))
}

/// Parses a Jepsen etcd log.
pub fn parse(text: &str) -> Result<History, HistoryError> {
    super::HistoryFormat::JepsenEtcd.parse(text)
}

/// Reads one (non-blank) line into `builder`.
pub(crate) fn line(
    line_no: usize,
    line: &str,
    builder: &mut HistoryBuilder,
) -> Result<(), HistoryError> {
    match event(line_no, line)? {
        Some(event) => builder.push(event),
        None => Ok(()),
    }
}

fn event(line_no: usize, line: &str) -> Result<Option<Event>, HistoryError> {
    {
        let Some(rest) = log_fields(line) else {
            return Ok(None);
        };
        let truncated = || {
            HistoryError::new(
                line_no,
                "expected PROCESS :TYPE :F [VALUE] after 'jepsen.util - ' (truncated line?)",
            )
        };
        let (process_field, rest) = field(rest).ok_or_else(truncated)?;
        let process: u64 = match process_field.parse() {
            Ok(p) => p,
            Err(_) if process_field == ":nemesis" => return Ok(None),
            Err(_) => {
                return Err(HistoryError::new(
                    line_no,
                    format!("bad process {process_field:?}"),
                ))
            }
        };
        let (type_field, rest) = field(rest).ok_or_else(truncated)?;
        let (f_field, rest) = field(rest).ok_or_else(truncated)?;
        let keyword = |field: &str, what: &str| {
            field
                .strip_prefix(':')
                .ok_or_else(|| {
                    HistoryError::new(line_no, format!("{what} {field:?} is not a keyword"))
                })
                .map(str::to_string)
        };
        let kind = keyword(type_field, "type")?;
        let f = keyword(f_field, "operation")?;
        let raw = rest.trim();
        let value = if raw.is_empty() {
            Value::Null
        } else {
            parse_value(raw).map_err(|e| {
                HistoryError::new(line_no, format!("cannot read value {raw:?}: {e}"))
            })?
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
    }
}

/// A value: `nil`, an integer, `[from to]`; a keyword (`:timed-out`) is no value.
fn parse_value(raw: &str) -> Result<Value, String> {
    match parse_edn(raw)? {
        Edn::Keyword(_) => Ok(Value::Null),
        other => Ok(other.into_json()),
    }
}
