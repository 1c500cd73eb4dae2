//! `distsys check-history`.

use super::fail;
use crate::cli::VerdictFormat;
use crate::io::read_limited;
use crate::{EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_OK, EXIT_UNKNOWN};
use distsys_check::{
    check, parse_history, report, CheckOptions, History, HistoryFormat, ModelKind, Verdict,
};
use serde_json::json;
use std::io::{Read, Write};
use std::time::Duration;

/// Largest history accepted, in bytes (4 GiB).
const MAX_HISTORY_BYTES: u64 = 4 << 30;

pub struct Args {
    pub file: String,
    pub format: String,
    pub model: String,
    pub timeout: Option<f64>,
    pub report: Option<String>,
    pub output: VerdictFormat,
}

/// The model used when none is given (see [`ModelKind::default_for`]).
pub fn default_model(history: &History, format: HistoryFormat) -> ModelKind {
    ModelKind::default_for(history, format)
}

pub fn run(
    args: &Args,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
    let format = match args.format.as_str() {
        "auto" => None,
        name => match name.parse::<HistoryFormat>() {
            Ok(f) => Some(f),
            Err(e) => return fail(stderr, &e),
        },
    };
    let timeout = match args.timeout {
        Some(secs) if !(secs.is_finite() && secs > 0.0) => {
            return fail(
                stderr,
                &format!("--timeout must be a positive number of seconds, got {secs}"),
            )
        }
        other => other.map(Duration::from_secs_f64),
    };
    let text = match read_limited(&args.file, stdin, MAX_HISTORY_BYTES) {
        Ok(text) => text,
        Err(e) => return fail(stderr, &e),
    };
    let (history, format) = match parse_history(&text, format) {
        Ok(parsed) => parsed,
        Err(e) => return fail(stderr, &format!("{}: {e}", args.file)),
    };
    let model = match args.model.as_str() {
        "auto" => default_model(&history, format),
        name => match name.parse::<ModelKind>() {
            Ok(m) => m,
            Err(e) => return fail(stderr, &e),
        },
    };
    let mut options = CheckOptions::new(model);
    options.timeout = timeout;
    let result = match check(&history, &options) {
        Ok(result) => result,
        Err(e) => return fail(stderr, &format!("{}: {e}", args.file)),
    };
    if let Some(path) = &args.report {
        let page = report::html(
            &result,
            &history.operations,
            &format!("distsys check-history: {}", args.file),
        );
        if let Err(e) = std::fs::write(path, page) {
            let _ = writeln!(stderr, "error: cannot write report {path}: {e}");
            return EXIT_BAD_INPUT;
        }
    }
    match args.output {
        VerdictFormat::Text => {
            let _ = write!(stdout, "{}", report::text(&result));
            let _ = writeln!(stdout, "(format {}, model {})", format.name(), model.name());
        }
        VerdictFormat::Json => {
            let verdict = match &result.verdict {
                Verdict::Linearizable => json!({"verdict": "linearizable"}),
                Verdict::Unknown(reason) => {
                    json!({"verdict": "unknown", "reason": format!("{reason:?}")})
                }
                Verdict::Violation(v) => json!({
                    "verdict": "violation",
                    "key": v.key,
                    "linearizable_until": v.linearizable_until,
                    "minimal": v.minimal,
                    "operations": v.core.iter().map(|op| json!({
                        "process": op.process, "f": op.kind.name(), "key": op.key, "value": op.input,
                        "output": op.output, "call": op.call, "return": op.ret, "line": op.line,
                    })).collect::<Vec<_>>(),
                }),
            };
            let mut out = verdict;
            out["format"] = json!(format.name());
            out["model"] = json!(model.name());
            out["history_operations"] = json!(result.operations);
            out["keys"] = json!(result.partitions);
            out["search_ms"] = json!(result.search_time.as_secs_f64() * 1e3);
            let _ = writeln!(stdout, "{out}");
        }
    }
    match result.verdict {
        Verdict::Linearizable => EXIT_OK,
        Verdict::Violation(_) => EXIT_CHECK_FAILED,
        Verdict::Unknown(_) => EXIT_UNKNOWN,
    }
}
