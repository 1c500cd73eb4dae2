//! Reading transactional histories: Jepsen EDN (one map per line, or one vector of maps),
//! elle-cli JSON (an array of objects) and the project's JSON Lines (one object per line, the
//! same fields). Every event names `type` (`invoke`, `ok`, `fail`, `info`) and `value` (a
//! vector of micro-operations `[f k v]`, `f` one of `append`, `r`, `w`); `process`, `f`,
//! `index` and `time` are optional. Events of a non-integer process (`:nemesis`) are skipped.
//! Invocations and completions pair by process; an invocation never completed is
//! indeterminate (`info`).

#[cfg(test)]
use super::fast_jsonl;
use super::history::{Atoms, Mop, ReadValue, Status, Txn, TxnHistory};
use super::lex::{self, Kind, Line, Recorder};
use crate::format::edn::parse_forms;
use crate::format::exact::exact;
use crate::history::HistoryError;
use rustc_hash::FxHashMap;
use serde_json::Value;

/// A transactional history file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnFormat {
    /// Jepsen EDN maps: `{:type :ok, :f :txn, :value [[:append 1 2]], :process 0}`.
    Edn,
    /// elle-cli JSON: `[{"type":"ok","value":[["append",1,2]],"process":0}, ...]`.
    Json,
    /// One JSON object per line, the same fields as elle-cli JSON.
    Jsonl,
}

impl std::str::FromStr for TxnFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "edn" => Ok(TxnFormat::Edn),
            "json" => Ok(TxnFormat::Json),
            "jsonl" => Ok(TxnFormat::Jsonl),
            _ => Err(format!("unknown format {s:?} (auto, edn, json, jsonl)")),
        }
    }
}

impl TxnFormat {
    /// Detects the format from the first significant characters: `{:` (optionally inside a
    /// `[`) is EDN, `[` then `{"` is JSON, `{"` is JSON Lines.
    pub fn detect(text: &str) -> Result<TxnFormat, HistoryError> {
        let body: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with(';'))
            .flat_map(|l| l.chars().chain(std::iter::once('\n')))
            .filter(|c| !c.is_whitespace() && *c != ',')
            .take(3)
            .collect();
        let (array, rest) = match body.strip_prefix('[') {
            Some(rest) => (true, rest),
            None => (false, body.as_str()),
        };
        match (array, rest.as_bytes()) {
            (_, [b'{', b':', ..]) => Ok(TxnFormat::Edn),
            (true, [b'{', b'"', ..]) => Ok(TxnFormat::Json),
            (false, [b'{', b'"', ..]) => Ok(TxnFormat::Jsonl),
            (_, []) => Err(HistoryError::new(1, "the history is empty")),
            _ => Err(HistoryError::new(
                1,
                "not a transactional history: expected EDN maps `{:type ...}` or JSON objects `{\"type\": ...}`",
            )),
        }
    }
}

/// Parses a history in the given format (or detected, with `None`).
pub fn parse_txn_history(
    text: &str,
    format: Option<TxnFormat>,
) -> Result<TxnHistory, HistoryError> {
    // A byte order mark (editors on Windows write one) is not part of the history.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let format = match format {
        Some(f) => f,
        None => TxnFormat::detect(text)?,
    };
    let mut builder = Builder::default();
    let events = match format {
        TxnFormat::Edn if edn_lines(&mut builder, text, None) => Vec::new(),
        TxnFormat::Edn => {
            // A form spans lines, or an error: the whole text decides.
            builder = Builder::default();
            edn_events(text)?
        }
        TxnFormat::Json => json_events(text)?,
        TxnFormat::Jsonl => {
            jsonl_events(&mut builder, text, None)?;
            Vec::new()
        }
    };
    for (line, event) in events {
        builder.event(line, &event)?;
    }
    Ok(builder.finish())
}

/// JSON Lines, one line at a time (a large history is never held as JSON values): lines of
/// the common shape through the typed fast path, lexed in parallel in chunks of about
/// `chunk_bytes` ([`lex`]), the others through `serde_json::Value`.
fn jsonl_events(
    builder: &mut Builder,
    text: &str,
    chunk_bytes: Option<usize>,
) -> Result<(), HistoryError> {
    let chunks = lex::lex(text, false, chunk_bytes);
    lex::replay(chunks, builder, |builder, line| match line {
        Line::Event(event) => builder.record_event(event),
        Line::Other { line, text } => {
            let value: Value = serde_json::from_str(text)
                .map_err(|e| HistoryError::new(line, format!("not a JSON object: {e}")))?;
            exact(text, &value).map_err(|e| HistoryError::new(line, e))?;
            builder.event(line, &value)
        }
    })
}

/// Jepsen EDN one line at a time, as Jepsen writes it (one event map per line): lines of the
/// common shape through the fast path, any other line through the general EDN reader on its
/// own. `false` (the builder then holds a partial history) when a line is not whole forms by
/// itself (a map spanning lines, a vector around the history, a discard before a line break)
/// or an event is refused: only the whole text tells its meaning, or which error comes first
/// (the whole-text reader reports a syntax error anywhere before any event's error). On whole
/// lines the general reader gives the same events at the same lines either way, so the
/// history is the same.
fn edn_lines(builder: &mut Builder, text: &str, chunk_bytes: Option<usize>) -> bool {
    /// The whole text must decide.
    struct WholeText;
    impl From<HistoryError> for WholeText {
        fn from(_: HistoryError) -> Self {
            WholeText
        }
    }
    let chunks = lex::lex(text, true, chunk_bytes);
    let read = lex::replay(chunks, builder, |builder, line| match line {
        Line::Event(event) => Ok(builder.record_event(event)?),
        Line::Other { line, text } => {
            if text.trim_start().starts_with('[') {
                // `[` may open a vector of the whole history, read as its items.
                return Err(WholeText);
            }
            let forms = parse_forms(text).map_err(|_| WholeText)?;
            for (_, value) in &forms {
                builder.event(line, value)?;
            }
            Ok(())
        }
    });
    read.is_ok()
}

fn line_of(text: &str, offset: usize) -> usize {
    1 + memchr::memchr_iter(b'\n', &text.as_bytes()[..offset.min(text.len())]).count()
}

fn edn_events(text: &str) -> Result<Vec<(usize, Value)>, HistoryError> {
    let forms = parse_forms(text).map_err(|(at, e)| HistoryError::new(line_of(text, at), e))?;
    // Offsets are increasing: count newlines incrementally.
    let mut line = 1;
    let mut last = 0;
    let mut out = Vec::with_capacity(forms.len());
    for (offset, value) in forms {
        line += memchr::memchr_iter(b'\n', &text.as_bytes()[last..offset]).count();
        last = offset;
        out.push((line, value));
    }
    Ok(out)
}

/// elle-cli writes one object per line inside the array: read it line by line (so errors
/// name lines); any other layout is read as one array (events named by position).
fn json_events(text: &str) -> Result<Vec<(usize, Value)>, HistoryError> {
    // The text must be one JSON array whatever its layout (the per-line reading below would
    // take an array cut before its `]` for a whole one).
    serde_json::from_str::<Vec<serde::de::IgnoredAny>>(text)
        .map_err(|e| HistoryError::new(e.line(), format!("not a JSON array of events: {e}")))?;
    let per_line: Option<Vec<Result<(usize, Value), HistoryError>>> = text
        .lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let t = l.trim().trim_start_matches('[').trim_end_matches(']');
            let t = t.trim().trim_end_matches(',').trim();
            (!t.is_empty()).then_some((i + 1, t))
        })
        .map(|(line, t)| {
            let value: Value = serde_json::from_str(t).ok()?;
            Some(
                exact(t, &value)
                    .map(|()| (line, value))
                    .map_err(|e| HistoryError::new(line, e)),
            )
        })
        .collect();
    if let Some(events) = per_line {
        return events.into_iter().collect();
    }
    let all: Vec<Value> = serde_json::from_str(text)
        .map_err(|e| HistoryError::new(e.line(), format!("not a JSON array of events: {e}")))?;
    all.into_iter()
        .enumerate()
        .map(|(i, v)| {
            exact(text, &v).map_err(|e| HistoryError::new(i + 1, e))?;
            Ok((i + 1, v))
        })
        .collect()
}

/// A field by its JSON name or its EDN keyword (`type` or `:type`).
fn field<'v>(object: &'v serde_json::Map<String, Value>, name: &str) -> Option<&'v Value> {
    object.get(name).or_else(|| object.get(&format!(":{name}")))
}

/// A keyword or string without its leading `:`.
fn name_of(value: &Value) -> Option<&str> {
    value.as_str().map(|s| s.strip_prefix(':').unwrap_or(s))
}

#[derive(Default)]
struct Builder {
    atoms: Atoms,
    txns: Vec<Txn>,
    /// Process -> index in `txns` of its invocation awaiting completion.
    pending: FxHashMap<Option<u64>, usize>,
    position: u64,
}

impl Recorder for Builder {
    fn atoms(&mut self) -> &mut Atoms {
        &mut self.atoms
    }
}

impl Builder {
    fn event(&mut self, line: usize, event: &Value) -> Result<(), HistoryError> {
        let err = |m: String| HistoryError::new(line, m);
        let object = event
            .as_object()
            .ok_or_else(|| err(format!("an event must be a map, got {event}")))?;
        let process =
            match field(object, "process") {
                None | Some(Value::Null) => None,
                Some(Value::Number(n)) => Some(n.as_u64().ok_or_else(|| {
                    err(format!("field process: {n} is not a non-negative integer"))
                })?),
                // `:nemesis` and other named processes inject faults: not transactions.
                Some(Value::String(_)) => return Ok(()),
                Some(other) => return Err(err(format!("field process: bad value {other}"))),
            };
        let kind = match field(object, "type").and_then(Value::as_str) {
            Some(raw) => Kind::named(raw).ok_or_else(|| {
                let name = raw.strip_prefix(':').unwrap_or(raw);
                err(format!(
                    "field type: {name:?} is not invoke, ok, fail or info"
                ))
            })?,
            None => return Err(err("field type: missing (invoke, ok, fail or info)".into())),
        };
        let invoke = matches!(kind, Kind::Invoke);
        let mops = match field(object, "value") {
            Some(value) => self.mops(value, invoke).map_err(err)?,
            None => return Err(err("field value: missing (a vector of [f k v])".into())),
        };
        let index = field(object, "index").and_then(Value::as_u64);
        self.record(line, process, kind, mops, index)
    }

    /// Records an event the lexer read.
    fn record_event(&mut self, event: lex::Event) -> Result<(), HistoryError> {
        self.record(
            event.line,
            event.process,
            event.kind,
            event.mops,
            event.index,
        )
    }

    /// Records one event: an invocation opens its process's transaction, a completion closes it.
    fn record(
        &mut self,
        line: usize,
        process: Option<u64>,
        kind: Kind,
        mops: Vec<Mop>,
        index: Option<u64>,
    ) -> Result<(), HistoryError> {
        let err = |m: String| HistoryError::new(line, m);
        let position = self.position;
        self.position += 1;
        match kind {
            Kind::Invoke => {
                if let Some(&open) = self.pending.get(&process) {
                    return Err(err(format!(
                        "process {} invoked a transaction while its transaction of line {} is still open (one at a time per process)",
                        show_process(process),
                        self.txns[open].line
                    )));
                }
                self.pending.insert(process, self.txns.len());
                self.txns.push(Txn {
                    process,
                    status: Status::Info,
                    mops,
                    invoked_at: position,
                    completed_at: None,
                    line,
                    index,
                });
            }
            Kind::Done(status) => self.complete(process, status, mops, position, line, index)?,
        }
        Ok(())
    }

    fn complete(
        &mut self,
        process: Option<u64>,
        status: Status,
        mops: Vec<Mop>,
        position: u64,
        line: usize,
        index: Option<u64>,
    ) -> Result<(), HistoryError> {
        let at = self.open_txn(process, status, mops.len(), line)?;
        if status == Status::Ok {
            self.txns[at].mops = mops;
        }
        self.close(at, process, status, position, line, index);
        Ok(())
    }

    /// The open transaction a completion of `len` micro-operations by `process` closes: an
    /// error when there is none or the invocation had another number of micro-operations.
    fn open_txn(
        &self,
        process: Option<u64>,
        status: Status,
        len: usize,
        line: usize,
    ) -> Result<usize, HistoryError> {
        let Some(&at) = self.pending.get(&process) else {
            return Err(HistoryError::new(
                line,
                format!(
                    "a completion ({status:?}) of process {} with no open invocation",
                    show_process(process)
                ),
            ));
        };
        let txn = &self.txns[at];
        if len != txn.mops.len() {
            return Err(HistoryError::new(
                line,
                format!(
                    "the completion has {len} micro-operations, its invocation (line {}) {}",
                    txn.line,
                    txn.mops.len()
                ),
            ));
        }
        Ok(at)
    }

    /// Closes transaction `at` (its micro-operations already set).
    fn close(
        &mut self,
        at: usize,
        process: Option<u64>,
        status: Status,
        position: u64,
        line: usize,
        index: Option<u64>,
    ) {
        self.pending.remove(&process);
        let txn = &mut self.txns[at];
        txn.status = status;
        txn.line = line;
        txn.index = index.or(txn.index);
        if status != Status::Info {
            txn.completed_at = Some(position);
        }
    }

    fn mops(&mut self, value: &Value, invoke: bool) -> Result<Vec<Mop>, String> {
        let list = match value {
            Value::Array(list) => list,
            other => {
                return Err(format!(
                    "field value: expected a vector of [f k v], got {other}"
                ))
            }
        };
        list.iter()
            .enumerate()
            .map(|(i, mop)| {
                self.mop(mop, invoke)
                    .map_err(|e| format!("micro-op {i} ({mop}): {e}"))
            })
            .collect()
    }

    fn mop(&mut self, mop: &Value, invoke: bool) -> Result<Mop, String> {
        let [f, key, value] = mop.as_array().map(Vec::as_slice).unwrap_or_default() else {
            return Err("expected [f key value]".into());
        };
        let key = self.atoms.intern(key);
        let scalar = |v: &Value| !(v.is_array() || v.is_object() || v.is_null());
        match name_of(f) {
            Some("append") if scalar(value) => Ok(Mop::Append {
                key,
                value: self.atoms.intern(value),
            }),
            Some("w") if scalar(value) => Ok(Mop::Write {
                key,
                value: self.atoms.intern(value),
            }),
            Some("append" | "w") => Err("the written value must be a scalar".into()),
            Some("r") => {
                let value = match value {
                    Value::Null if invoke => ReadValue::Unknown,
                    Value::Null => ReadValue::Nil,
                    Value::Array(items) => {
                        if items.iter().any(|v| !scalar(v)) {
                            return Err("a list read holds scalars only".into());
                        }
                        ReadValue::List(items.iter().map(|v| self.atoms.intern(v)).collect())
                    }
                    v if scalar(v) => ReadValue::Value(self.atoms.intern(v)),
                    _ => return Err("a read returns nil, a scalar or a list".into()),
                };
                Ok(Mop::Read { key, value })
            }
            _ => Err(format!("unknown function {f} (append, r, w)")),
        }
    }

    fn finish(self) -> TxnHistory {
        TxnHistory {
            txns: self.txns,
            atoms: self.atoms,
        }
    }
}

fn show_process(process: Option<u64>) -> String {
    process.map_or_else(|| "(none)".to_string(), |p| p.to_string())
}

#[cfg(test)]
mod fast_path_tests {
    use super::*;
    use proptest::prelude::*;

    /// Chunk sizes the lexer is run with: one line per chunk, a few lines, and the default.
    const CHUNKS: [Option<usize>; 4] = [Some(1), Some(7), Some(40), None];

    /// `read` at every chunk size of [`CHUNKS`], shown: the same at every size (asserted).
    pub(super) fn same_at_every_chunk_size(
        text: &str,
        read: impl Fn(Option<usize>) -> Result<TxnHistory, HistoryError>,
    ) -> String {
        let results: Vec<String> = CHUNKS.iter().map(|&c| shown(read(c))).collect();
        for (chunk, result) in CHUNKS.iter().zip(&results) {
            assert_eq!(
                result, &results[0],
                "chunks of {chunk:?} read {text:?} otherwise"
            );
        }
        results[0].clone()
    }

    /// A history as text (every transaction, every atom as shown) or the error (line and
    /// message).
    pub(super) fn shown(read: Result<TxnHistory, HistoryError>) -> String {
        match read {
            Ok(h) => {
                let shown: Vec<&str> = (0..h.txns.len() as u32 * 8)
                    .map(|a| h.atoms.show(a))
                    .collect();
                format!("{:?} {:?}", h.txns, shown)
            }
            Err(e) => format!("error line {}: {}", e.line, e.message),
        }
    }

    /// The general reader alone: every line through `serde_json::Value`.
    fn general(text: &str) -> Result<TxnHistory, HistoryError> {
        let mut builder = Builder::default();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let value: Value = serde_json::from_str(line)
                .map_err(|e| HistoryError::new(i + 1, format!("not a JSON object: {e}")))?;
            builder.event(i + 1, &value)?;
        }
        Ok(builder.finish())
    }

    /// Both readers on the same JSON Lines: the fast reader's result (the same at every
    /// chunk size, asserted here), then the general reader's.
    fn both(text: &str) -> (String, String) {
        (
            same_at_every_chunk_size(text, |chunk| {
                let mut builder = Builder::default();
                jsonl_events(&mut builder, text, chunk).map(|()| builder.finish())
            }),
            shown(general(text)),
        )
    }

    /// `line` with `ws` after every `{`, `[`, `:` and `,` outside strings (and before every
    /// `}` and `]`): how pretty printers and Python's `json.dumps` space their output.
    fn spaced(line: &str, ws: &str) -> String {
        let (mut out, mut in_string, mut escaped) = (String::new(), false, false);
        for c in line.chars() {
            if in_string {
                out.push(c);
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => in_string = false,
                    _ => {}
                }
                continue;
            }
            if matches!(c, '}' | ']') {
                out.push_str(ws);
            }
            out.push(c);
            match c {
                '"' => in_string = true,
                '{' | '[' | ':' | ',' => out.push_str(ws),
                _ => {}
            }
        }
        out
    }

    /// Whitespace a producer may write between tokens.
    fn whitespace() -> impl Strategy<Value = &'static str> {
        prop_oneof![4 => Just(""), 2 => Just(" "), 1 => Just("\t \r"), 1 => Just("\n")]
    }

    fn scalar() -> impl Strategy<Value = String> {
        prop_oneof![
            (-3i64..40).prop_map(|i| i.to_string()),
            Just("9223372036854775807".to_string()),
            Just("9223372036854775808".to_string()),
            // The fast path's integer scan stops at 18 digits; 19 still fit in i64.
            Just("999999999999999999".to_string()),
            Just("1000000000000000000".to_string()),
            Just("12e3".to_string()),
            Just("-9223372036854775808".to_string()),
            Just("1.5".to_string()),
            Just("1.0".to_string()),
            Just("true".to_string()),
            Just("null".to_string()),
            Just(r#""1.5""#.to_string()),
            Just(r#""1""#.to_string()),
            Just(r#""a""#.to_string()),
            Just(r#""a\u0062""#.to_string()),
            Just(r#""ab""#.to_string()),
            Just(r#""""#.to_string()),
            Just(r#"{"k":1}"#.to_string()),
        ]
    }

    fn operand() -> impl Strategy<Value = String> {
        prop_oneof![
            scalar(),
            prop::collection::vec(scalar(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
        ]
    }

    fn mop() -> impl Strategy<Value = String> {
        let f = prop_oneof![
            Just("append"),
            Just("w"),
            Just("r"),
            Just(":append"),
            Just(":r"),
            Just("x"),
            Just("\\u0072"),
        ];
        prop_oneof![
            8 => (f, scalar(), operand()).prop_map(|(f, k, v)| format!(r#"["{f}",{k},{v}]"#)),
            1 => Just(r#"["r",1]"#.to_string()),
            1 => Just(r#"["r",1,null,2]"#.to_string()),
        ]
    }

    fn event() -> impl Strategy<Value = String> {
        let process = prop_oneof![
            4 => (0u64..3).prop_map(|p| format!(r#""process":{p},"#)),
            1 => Just(String::new()),
            1 => Just(r#""process":null,"#.to_string()),
            1 => Just(r#""process":-1,"#.to_string()),
            1 => Just(r#""process":"nemesis","#.to_string()),
            1 => Just(r#"":process":1,"#.to_string()),
            1 => Just(r#""process":1,":process":2,"#.to_string()),
        ];
        let kind = prop_oneof![
            4 => Just(r#""type":"invoke""#),
            4 => Just(r#""type":"ok""#),
            1 => Just(r#""type":"fail""#),
            1 => Just(r#""type":"info""#),
            1 => Just(r#"":type":":ok""#),
            1 => Just(r#""type":"bogus""#),
            1 => Just(r#""type":"\u006fk""#),
            1 => Just(r#""type":"ok","type":"ok""#),
            1 => Just(r#""type":1"#),
        ];
        let index = prop_oneof![
            3 => Just(String::new()),
            1 => (0u64..9).prop_map(|i| format!(r#","index":{i}"#)),
            1 => Just(r#","index":-2"#.to_string()),
            1 => Just(r#","index":"x""#.to_string()),
            1 => Just(r#","index":[1,{"a":2}]"#.to_string()),
            1 => Just(r#","time":12,"f":"txn""#.to_string()),
        ];
        let value = prop_oneof![
            8 => prop::collection::vec(mop(), 0..4).prop_map(|m| format!(r#","value":[{}]"#, m.join(","))),
            1 => Just(String::new()),
            1 => Just(r#","value":null"#.to_string()),
        ];
        (process, kind, value, index).prop_map(|(p, k, v, i)| format!("{{{p}{k}{v}{i}}}"))
    }

    /// A well-formed history: processes alternate invocations and completions with the same
    /// number of micro-operations, whose keys and operands are drawn from the scalar pool;
    /// each event may be replaced by an odd line. `draws` drive every choice.
    /// One draw: which process (or an odd line), the completion's type, the micro-operations
    /// (function, key, operand) and the odd line.
    type Draw = (u8, u8, Vec<(u8, String, String)>, String);

    fn history(draws: &[Draw]) -> String {
        let mut open: [Option<usize>; 3] = [None; 3];
        let mut lines = Vec::new();
        for (choice, kind, mops, odd) in draws {
            if *choice % 10 == 0 {
                lines.push(odd.clone());
                continue;
            }
            let p = (*choice % 3) as usize;
            let fs = ["append", "w", "r", ":append", ":r"];
            let (kind, n) = match open[p] {
                None => {
                    open[p] = Some(mops.len());
                    (":invoke".trim_start_matches(':'), mops.len())
                }
                Some(n) => {
                    open[p] = None;
                    (["ok", ":ok", "fail", "info"][*kind as usize % 4], n)
                }
            };
            let mut body = Vec::new();
            for i in 0..n {
                let (f, k, v) = mops
                    .get(i)
                    .cloned()
                    .unwrap_or((2, "1".into(), "null".into()));
                let f = fs[f as usize % fs.len()];
                let v = if kind == "invoke" && f.ends_with('r') {
                    "null".into()
                } else {
                    v
                };
                body.push(format!(r#"["{f}",{k},{v}]"#));
            }
            let line = format!(
                r#"{{"process":{p},"type":"{kind}","value":[{}],"index":{}}}"#,
                body.join(","),
                lines.len()
            );
            // Spaced as a pretty printer would (never a newline: one event per line).
            lines.push(match choice % 7 {
                1 => spaced(&line, " "),
                2 => spaced(&line, "\t "),
                _ => line,
            });
        }
        lines.join("\n")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// The same on well-formed histories, where every branch of the fast path records
        /// transactions (nil reads of invocations, list reads, int and string atoms that share
        /// a text, completions replacing the invocation's operations).
        #[test]
        fn the_fast_path_builds_the_same_histories(
            draws in prop::collection::vec(
                (any::<u8>(), any::<u8>(), prop::collection::vec((any::<u8>(), scalar(), operand()), 0..4), event()),
                1..30,
            )
        ) {
            let text = history(&draws);
            let (fast, general) = both(&text);
            prop_assert_eq!(fast, general, "{}", text);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        /// The fast path changes nothing: on lines rich in every shape it refuses (named
        /// processes, floats, booleans, big integers, escapes, duplicate and keyword fields,
        /// bad functions and arities), both readers give the same history or the same error.
        #[test]
        fn the_fast_path_reads_every_line_as_the_general_reader(
            lines in prop::collection::vec((event(), whitespace()), 1..12)
        ) {
            // A newline inside an event splits it: both readers see the same broken lines.
            let lines: Vec<String> = lines.iter().map(|(l, ws)| spaced(l, ws)).collect();
            let text = lines.join("\n");
            let (fast, general) = both(&text);
            prop_assert_eq!(fast, general, "{}", text);
        }
    }

    /// The fast path does take the common shape, compact or spaced as Python's `json.dumps`
    /// writes it (else the speed-up is not there), and refuses a string with an escape.
    #[test]
    fn the_common_shape_takes_the_fast_path() {
        let compact = r#"{"process":3,"type":"ok","value":[["append",1,2],["r",1,[1,"xy"]],["r",2,null]],"index":7}"#;
        let spaced = "{\"process\": 3, \"type\": \"ok\", \"value\": [[\"append\", 1, 2], [\"r\", 1, [1, \"xy\"]], [\"r\", 2, null]], \"index\": 7, \"time\": 1.5e9}\r";
        for line in [compact, spaced] {
            let invoke = r#"{"process":3,"type":"invoke","value":[["append",1,2],["r",1,null],["r",2,null]]}"#;
            let text = format!("{invoke}\n{line}");
            let chunks = lex::lex(&text, false, None);
            let fast = chunks[0]
                .lines
                .iter()
                .filter(|l| matches!(l, lex::Lexed::Event { event, .. } if event.mops.len() == 3))
                .count();
            assert_eq!(fast, 2, "{line}");
            let history = parse_txn_history(&text, Some(TxnFormat::Jsonl)).expect("reads");
            assert_eq!(history.atoms.show(2), "xy");
            assert_eq!(history.txns[0].index, Some(7));
            assert_eq!(history.txns[0].status, Status::Ok);
        }
        let mut scratch = fast_jsonl::Scratch::default();
        let escaped = r#"{"process":3,"type":"ok","value":[["r",1,"x\"y"]]}"#;
        assert!(fast_jsonl::parse(escaped, &mut scratch, false).is_none());
    }
}

#[cfg(test)]
mod edn_fast_path_tests {
    use super::*;
    use proptest::prelude::*;

    /// The EDN reader (line by line, fast path first, at every chunk size) and the
    /// whole-text general reader on the same text: the history (every transaction, every
    /// atom as shown) or the error.
    fn both(text: &str) -> (String, String) {
        let general = || {
            edn_events(text).and_then(|events| {
                let mut builder = Builder::default();
                for (line, event) in events {
                    builder.event(line, &event)?;
                }
                Ok(builder.finish())
            })
        };
        let fast = super::fast_path_tests::same_at_every_chunk_size(text, |chunk| {
            let mut builder = Builder::default();
            if edn_lines(&mut builder, text, chunk) {
                Ok(builder.finish())
            } else {
                general()
            }
        });
        (fast, super::fast_path_tests::shown(general()))
    }

    fn scalar() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "0",
            "1",
            "2",
            "17",
            "-3",
            "-0",
            "007",
            "+5",
            "5N",
            "1.5",
            "9223372036854775807",
            "9223372036854775808",
            // The fast path's integer scan stops at 18 digits; 19 still fit in i64.
            "999999999999999999",
            "1000000000000000000",
            "12:x",
            "12E3",
            ":kw",
            ":x",
            "\"s\"",
            "\"1\"",
            "\"a\\\"b\"",
            "nil",
            "true",
            "sym",
            "#{1}",
            "\\a",
        ])
    }

    fn operand() -> impl Strategy<Value = String> {
        prop_oneof![
            scalar().prop_map(str::to_string),
            prop::collection::vec(scalar(), 0..4).prop_map(|v| format!("[{}]", v.join(" "))),
            Just("(1 2)".to_string()),
        ]
    }

    fn mop() -> impl Strategy<Value = String> {
        let f = prop::sample::select(vec![":append", ":r", ":w", "\"append\"", ":x", "append"]);
        prop_oneof![
            8 => (f, scalar(), operand()).prop_map(|(f, k, v)| format!("[{f} {k} {v}]")),
            1 => Just("[:r 1]".to_string()),
            1 => Just("[:r, 1, nil]".to_string()),
        ]
    }

    /// One event line (or an odd one), its fields in any order.
    fn event() -> impl Strategy<Value = String> {
        let process = prop::sample::select(vec![
            ":process 0",
            ":process 1",
            ":process 2",
            ":process nil",
            ":process :nemesis",
            ":process -1",
            ":process 1N",
            "",
            ":process 1 :process 2",
        ]);
        let kind = prop::sample::select(vec![
            ":type :invoke",
            ":type :ok",
            ":type :fail",
            ":type :info",
            ":type \"ok\"",
            ":type :bogus",
            ":type 1",
            ":type :ok :type :ok",
        ]);
        let index = prop::sample::select(vec![
            "",
            ":index 3",
            ":index 5N",
            ":index \"x\"",
            ":index nil",
            ":index [1 {:a 2}]",
            ":index #{1}",
            ":index -2",
            ":time 12 :f :txn",
            ":error #inst \"2020\"",
            ":node \"n1\" :x (1 :y)",
            ":m {:a}",
        ]);
        let value = prop_oneof![
            8 => prop::collection::vec(mop(), 0..4).prop_map(|m| format!(":value [{}]", m.join(" "))),
            1 => Just(String::new()),
            1 => Just(":value nil".to_string()),
        ];
        let sep = prop::sample::select(vec![", ", " ", ",", "  \t"]);
        (process, kind, value, index, sep, any::<u8>()).prop_map(|(p, k, v, i, sep, order)| {
            let mut fields = vec![p.to_string(), k.to_string(), v, i.to_string()];
            fields.retain(|f| !f.is_empty());
            let turn = order as usize % fields.len().max(1);
            fields.rotate_left(turn);
            format!("{{{}}}", fields.join(sep))
        })
    }

    /// A well-formed history: processes alternate invocations and completions with the same
    /// number of micro-operations; `odd` lines (comments, a map over two lines, a discard)
    /// may replace events.
    /// One draw: which process (and which odd line), the completion's type, and the
    /// micro-operations (function, key, operand).
    type Draw = (u8, u8, Vec<(u8, &'static str, String)>);

    fn history(draws: &[Draw]) -> String {
        let mut open: [Option<usize>; 3] = [None; 3];
        let mut lines = Vec::new();
        for (choice, kind, mops) in draws {
            match choice % 23 {
                0 => lines.push("; a comment".to_string()),
                1 => lines.push("{:type :info, :f :start, :process :nemesis,\n :value nil}".into()),
                2 => lines.push("#_ {:type :ok}".to_string()),
                _ => {}
            }
            let p = (*choice % 3) as usize;
            let fs = [":append", ":r", ":w", "\"append\""];
            let (kind, n) = match open[p] {
                None => {
                    open[p] = Some(mops.len());
                    (":invoke", mops.len())
                }
                Some(n) => {
                    open[p] = None;
                    ([":ok", ":ok", ":fail", ":info"][*kind as usize % 4], n)
                }
            };
            let mut body = Vec::new();
            for i in 0..n {
                let (f, k, v) = mops.get(i).cloned().unwrap_or((1, "1", "nil".into()));
                let f = fs[f as usize % fs.len()];
                let v = if kind == ":invoke" && f == ":r" {
                    "nil".into()
                } else {
                    v
                };
                body.push(format!("[{f} {k} {v}]"));
            }
            lines.push(format!(
                "{{:type {kind}, :f :txn, :value [{}], :process {p}, :time {}, :index {}}}",
                body.join(" "),
                lines.len() * 7,
                lines.len()
            ));
        }
        lines.join("\n")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Well-formed EDN histories (Jepsen's layout, with comments, nemesis maps over two
        /// lines and discards among them): the same history either way.
        #[test]
        fn the_edn_fast_path_builds_the_same_histories(
            draws in prop::collection::vec(
                (any::<u8>(), any::<u8>(), prop::collection::vec((any::<u8>(), scalar(), operand()), 0..4)),
                1..30,
            )
        ) {
            let text = history(&draws);
            let (fast, general) = both(&text);
            prop_assert_eq!(fast, general, "{}", text);
        }

        /// Lines rich in every shape the fast path refuses: the same history or error.
        #[test]
        fn the_edn_fast_path_reads_every_line_as_the_general_reader(
            lines in prop::collection::vec(event(), 1..12)
        ) {
            let text = lines.join("\n");
            let (fast, general) = both(&text);
            prop_assert_eq!(fast, general, "{}", text);
        }
    }

    /// A token that starts with digits is one token: the fast path's integer scan must not
    /// stop inside it (`12:x` is not `12` then `:x`), in any position, nor at 18 digits.
    #[test]
    fn tokens_that_start_with_digits_are_read_whole() {
        for operand in [
            "[12:x]",
            "[12:x 3]",
            "[3 1:y]",
            "12:x",
            "[999999999999999999 1000000000000000000]",
            "1000000000000000000",
        ] {
            for key in ["1", "12:x", "1000000000000000000"] {
                let text = format!(
                    "{{:type :invoke, :value [[:r {key} nil]], :process 1}}\n{{:type :ok, :value [[:r {key} {operand}]], :process 1}}"
                );
                let (fast, general) = both(&text);
                assert_eq!(fast, general, "{text}");
            }
        }
    }

    /// Jepsen's common line takes the fast path.
    #[test]
    fn the_common_edn_line_takes_the_fast_path() {
        let line = "{:type :ok, :f :txn, :value [[:append 11 1] [:r 11 [1]] [:r :k nil]], :process 10, :time 31076248, :index 2}";
        let mut scratch = fast_jsonl::Scratch::default();
        let event = fast_jsonl::parse(line, &mut scratch, true).expect("the common shape");
        assert_eq!(
            (event.kind, event.process, event.index),
            (":ok", Some(10), Some(2))
        );
        assert_eq!(scratch.mops.len(), 3);
        assert_eq!(scratch.scalars, vec![fast_jsonl::Scalar::Int(1)]);
        assert_eq!(scratch.mops[2].key, fast_jsonl::Scalar::Str(":k"));
    }
}
