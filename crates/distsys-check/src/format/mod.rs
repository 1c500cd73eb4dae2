//! History file formats: the project's JSON Lines, Jepsen's etcd log and Jepsen's kv (Clojure
//! map) format. Each parser turns lines into [`Event`]s for the one [`HistoryBuilder`].

mod edn;
pub mod jepsen_etcd;
pub mod jepsen_kv;
pub mod jsonl;

use crate::history::{Event, History, HistoryBuilder, HistoryError};
use std::str::FromStr;

/// A history file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryFormat {
    /// `{"process":..,"type":..,"f":..,"key":..,"value":..,"time":..}` per line.
    Jsonl,
    /// `INFO  jepsen.util - 3\t:invoke\t:read\tnil`.
    JepsenEtcd,
    /// `{:process 0, :type :invoke, :f :append, :key "0", :value "x"}`.
    JepsenKv,
}

impl FromStr for HistoryFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "jsonl" | "json" => Ok(HistoryFormat::Jsonl),
            "jepsen-etcd" | "etcd" => Ok(HistoryFormat::JepsenEtcd),
            "jepsen-kv" | "kv" | "edn" => Ok(HistoryFormat::JepsenKv),
            _ => Err(format!(
                "unknown history format {s:?} (jsonl, jepsen-etcd, jepsen-kv)"
            )),
        }
    }
}

impl HistoryFormat {
    /// Detects the format from the first non-empty line.
    pub fn detect(text: &str) -> Result<HistoryFormat, HistoryError> {
        let Some((index, line)) = text
            .lines()
            .enumerate()
            .find(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with(';'))
        else {
            return Err(HistoryError::new(1, "the history is empty"));
        };
        let line = line.trim_start();
        let after_brace = line
            .strip_prefix('{')
            .map(|rest| rest.trim_start_matches([' ', '\t', ',']));
        if after_brace.is_some_and(|rest| rest.starts_with(':')) {
            Ok(HistoryFormat::JepsenKv)
        } else if line.starts_with('{') {
            Ok(HistoryFormat::Jsonl)
        } else if jepsen_etcd::log_fields(line).is_some() {
            Ok(HistoryFormat::JepsenEtcd)
        } else {
            Err(HistoryError::new(
                index + 1,
                "cannot tell the format (expected a JSON object, a Clojure map or a jepsen.util log line); use --format",
            ))
        }
    }

    /// The format's name as accepted by `--format`.
    pub fn name(self) -> &'static str {
        match self {
            HistoryFormat::Jsonl => "jsonl",
            HistoryFormat::JepsenEtcd => "jepsen-etcd",
            HistoryFormat::JepsenKv => "jepsen-kv",
        }
    }

    /// Parses a whole history in this format.
    pub fn parse(self, text: &str) -> Result<History, HistoryError> {
        match self {
            HistoryFormat::Jsonl => jsonl::parse(text),
            HistoryFormat::JepsenEtcd => jepsen_etcd::parse(text),
            HistoryFormat::JepsenKv => jepsen_kv::parse(text),
        }
    }
}

/// Parses a history, detecting its format unless one is given.
pub fn parse_history(
    text: &str,
    format: Option<HistoryFormat>,
) -> Result<(History, HistoryFormat), HistoryError> {
    let format = match format {
        Some(f) => f,
        None => HistoryFormat::detect(text)?,
    };
    Ok((format.parse(text)?, format))
}

/// The loop every format shares: numbers the lines from 1, skips blank ones, and feeds the
/// event `line_event` reads from each line (`None`: a line that is no client event, such as a
/// fault-injection entry) to one [`HistoryBuilder`], which enforces the history rules.
fn parse_lines(
    text: &str,
    mut line_event: impl FnMut(usize, &str) -> Result<Option<Event>, HistoryError>,
) -> Result<History, HistoryError> {
    let mut builder = HistoryBuilder::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if let Some(event) = line_event(index + 1, line)? {
            builder.push(event)?;
        }
    }
    Ok(builder.finish())
}
