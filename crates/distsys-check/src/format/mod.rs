//! History file formats: the project's JSON Lines, Jepsen's etcd log and Jepsen's kv (Clojure
//! map) format. Each parser turns lines into [`Event`]s for the one [`HistoryBuilder`].

pub(crate) mod edn;
pub(crate) mod exact;
pub mod jepsen_etcd;
pub mod jepsen_kv;
pub mod jsonl;

use crate::history::{History, HistoryBuilder, HistoryError};
use std::io::BufRead;
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
        let Some((index, line)) = text.lines().enumerate().find(|(_, l)| significant(l)) else {
            return Err(HistoryError::new(1, "the history is empty"));
        };
        Self::detect_line(index + 1, line)
    }

    /// The format of a history whose first significant line (not blank, no `;` comment) is
    /// `line`, line number `line_no`.
    fn detect_line(line_no: usize, line: &str) -> Result<HistoryFormat, HistoryError> {
        let index = line_no - 1;
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
        self.parse_reader(text.as_bytes())
    }

    /// Parses a history read line by line from `reader` (never held whole in memory).
    pub fn parse_reader(self, reader: impl BufRead) -> Result<History, HistoryError> {
        self.parse_lines(&mut Lines::new(reader), None)
    }

    /// Parses the lines, `first` (read by format detection) before the reader's.
    fn parse_lines<R: BufRead>(
        self,
        lines: &mut Lines<R>,
        first: Option<(usize, String)>,
    ) -> Result<History, HistoryError> {
        let mut builder = HistoryBuilder::new();
        let line: fn(usize, &str, &mut HistoryBuilder) -> Result<(), HistoryError> = match self {
            HistoryFormat::Jsonl => jsonl::line,
            HistoryFormat::JepsenEtcd => jepsen_etcd::line,
            HistoryFormat::JepsenKv => jepsen_kv::line,
        };
        if let Some((number, text)) = first {
            line(number, &text, &mut builder)?;
        }
        while let Some((number, text)) = lines.next()? {
            if !text.trim().is_empty() {
                line(number, text, &mut builder)?;
            }
        }
        Ok(builder.finish())
    }
}

/// Whether a line says anything (not blank, not a `;` comment).
fn significant(line: &str) -> bool {
    !line.trim().is_empty() && !line.trim_start().starts_with(';')
}

/// Parses a history, detecting its format unless one is given.
pub fn parse_history(
    text: &str,
    format: Option<HistoryFormat>,
) -> Result<(History, HistoryFormat), HistoryError> {
    parse_history_reader(text.as_bytes(), format)
}

/// [`parse_history`] reading line by line from `reader`: the input is never held whole, and
/// the history keeps string read results as shared prefixes (see [`HistoryBuilder`]), so a
/// history of long append-only values takes memory in proportion to its operations, not to
/// its size in bytes. A line that is not UTF-8 or a read error is an error naming the line.
pub fn parse_history_reader(
    reader: impl BufRead,
    format: Option<HistoryFormat>,
) -> Result<(History, HistoryFormat), HistoryError> {
    let mut lines = Lines::new(reader);
    let (format, first) = match format {
        Some(f) => (f, None),
        None => loop {
            match lines.next()? {
                None => return Err(HistoryError::new(1, "the history is empty")),
                Some((number, line)) if significant(line) => {
                    let format = HistoryFormat::detect_line(number, line)?;
                    break (format, Some((number, line.to_string())));
                }
                Some(_) => {}
            }
        },
    };
    Ok((format.parse_lines(&mut lines, first)?, format))
}

/// The UTF-8 byte order mark.
const BOM: &[u8] = b"\xef\xbb\xbf";

/// The lines of a reader, numbered from 1, line ends (LF or CRLF) removed: a line inside the
/// reader's buffer is borrowed from it (found by `memchr`), only a line across its end copied.
struct Lines<R> {
    reader: R,
    /// A line that crossed the end of the reader's buffer.
    spill: Vec<u8>,
    /// Bytes of the reader's buffer the last line took (consumed at the next call).
    taken: usize,
    /// The number of the last line.
    number: usize,
}

impl<R: BufRead> Lines<R> {
    fn new(reader: R) -> Self {
        Lines {
            reader,
            spill: Vec::new(),
            taken: 0,
            number: 0,
        }
    }

    fn next(&mut self) -> Result<Option<(usize, &str)>, HistoryError> {
        self.reader.consume(std::mem::take(&mut self.taken));
        self.number += 1;
        let number = self.number;
        let error = |e: std::io::Error| HistoryError::new(number, format!("cannot read: {e}"));
        let available = self.reader.fill_buf().map_err(error)?;
        if available.is_empty() {
            return Ok(None);
        }
        let bytes: &[u8] = if let Some(end) = memchr::memchr(b'\n', available) {
            self.taken = end + 1;
            &self.reader.fill_buf().map_err(error)?[..end]
        } else {
            self.spill.clear();
            loop {
                let available = self.reader.fill_buf().map_err(error)?;
                if available.is_empty() {
                    break;
                }
                match memchr::memchr(b'\n', available) {
                    Some(end) => {
                        self.spill.extend_from_slice(&available[..end]);
                        self.reader.consume(end + 1);
                        break;
                    }
                    None => {
                        let n = available.len();
                        self.spill.extend_from_slice(available);
                        self.reader.consume(n);
                    }
                }
            }
            &self.spill
        };
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        // A byte order mark (editors on Windows write one) is not part of the first line.
        let bytes = match number {
            1 => bytes.strip_prefix(BOM).unwrap_or(bytes),
            _ => bytes,
        };
        let line =
            std::str::from_utf8(bytes).map_err(|_| HistoryError::new(number, "not UTF-8 text"))?;
        Ok(Some((number, line)))
    }
}
