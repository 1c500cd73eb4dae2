//! `distsys diagnose`: findings from logs, a metrics snapshot and a history.

use super::{fail, print_json};
use crate::cli::VerdictFormat;
use crate::io::read_limited;
use crate::{EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_OK};
use distsys_check::diagnose::{diagnose, Inputs};
use std::io::{Read, Write};

/// Largest input file read (logs and histories), in bytes.
const MAX_FILE_BYTES: u64 = 1 << 30;

pub fn run(
    logs: &[String],
    metrics: Option<&str>,
    history: Option<&str>,
    format: VerdictFormat,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
    if logs.is_empty() && metrics.is_none() && history.is_none() {
        let _ = writeln!(
            stderr,
            "error: nothing to diagnose: give --logs FILE..., --metrics FILE|URL or --history FILE"
        );
        return EXIT_BAD_INPUT;
    }
    let mut read =
        |name: &str| read_limited(name, stdin, MAX_FILE_BYTES).map(|t| (name.to_string(), t));
    let mut inputs = Inputs::default();
    for file in logs {
        match read(file) {
            Ok(pair) => inputs.logs.push(pair),
            Err(e) => return fail(stderr, &e),
        }
    }
    if let Some(source) = metrics {
        let text = if source.starts_with("http://") || source.starts_with("https://") {
            fetch(source)
        } else {
            read(source).map(|(_, t)| t).map_err(|e| e.to_string())
        };
        match text {
            Ok(text) => inputs.metrics = Some((source.to_string(), text)),
            Err(e) => return fail(stderr, &e),
        }
    }
    if let Some(file) = history {
        match read(file) {
            Ok(pair) => inputs.history = Some(pair),
            Err(e) => return fail(stderr, &e),
        }
    }
    let diagnosis = match diagnose(&inputs) {
        Ok(d) => d,
        Err(e) => return fail(stderr, &e),
    };
    match format {
        VerdictFormat::Json => {
            print_json(stdout, &diagnosis);
        }
        VerdictFormat::Text => {
            let _ = write!(stdout, "{}", diagnosis.to_text());
        }
    }
    if diagnosis.findings.is_empty() {
        EXIT_OK
    } else {
        EXIT_CHECK_FAILED
    }
}

/// Fetches a metrics page over HTTP.
fn fetch(url: &str) -> Result<String, String> {
    let response = ureq::get(url)
        .call()
        .map_err(|e| format!("cannot fetch {url}: {e}"))?;
    response
        .into_body()
        .read_to_string()
        .map_err(|e| format!("cannot read {url}: {e}"))
}
