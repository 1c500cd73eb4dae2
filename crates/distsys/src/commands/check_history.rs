//! `distsys check-history FILE...` and `distsys generate-history`.

use super::fail;
use crate::cli::VerdictFormat;
use crate::{EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_OK, EXIT_UNKNOWN};
use distsys_check::checker::default_explain_budget;
use distsys_check::generate::{
    family, to_jepsen_etcd, to_jepsen_kv, to_jsonl, Family, FamilyConfig, Plant,
};
use distsys_check::{
    decide, explain, parse_history_reader, report, CheckOptions, History, HistoryFormat, ModelKind,
    Verdict,
};
use serde_json::json;
use std::io::{BufReader, Read, Write};
use std::time::{Duration, Instant};

/// Largest history accepted, in bytes (64 GiB). Histories are streamed, never held whole, so
/// this only bounds how long a runaway input (an endless pipe) is read; a 100k-operation
/// kv-append history on 3 keys whose reads return whole values is over 4 GiB.
const MAX_HISTORY_BYTES: u64 = 64 << 30;

pub struct Args {
    pub files: Vec<String>,
    pub format: String,
    pub model: String,
    pub timeout: Option<f64>,
    pub report: Option<String>,
    pub output: VerdictFormat,
    pub explain_budget: Option<f64>,
    pub no_explain: bool,
    pub max_memory_mb: Option<usize>,
}

/// The model used when none is given (see [`ModelKind::default_for`]).
pub fn default_model(history: &History, format: HistoryFormat) -> ModelKind {
    ModelKind::default_for(history, format)
}

fn seconds(name: &str, value: Option<f64>) -> Result<Option<Duration>, String> {
    match value {
        Some(secs) if !(secs.is_finite() && secs > 0.0) => Err(format!(
            "--{name} must be a positive number of seconds, got {secs}"
        )),
        Some(secs) => Duration::try_from_secs_f64(secs)
            .map(Some)
            .map_err(|_| format!("--{name} must be at most {} seconds, got {secs}", u64::MAX)),
        None => Ok(None),
    }
}

/// How bad an exit code is: a file that could not be read (2) is worse than no verdict (3),
/// worse than a violation (1), worse than ok (0).
fn severity(code: i32) -> u8 {
    match code {
        EXIT_OK => 0,
        EXIT_CHECK_FAILED => 1,
        EXIT_UNKNOWN => 2,
        _ => 3,
    }
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
    let (timeout, explain_budget) = match (
        seconds("timeout", args.timeout),
        seconds("explain-budget", args.explain_budget),
    ) {
        (Ok(t), Ok(e)) => (t, e),
        (Err(e), _) | (_, Err(e)) => return fail(stderr, &e),
    };
    if args.max_memory_mb == Some(0) {
        return fail(stderr, &"--max-memory-mb must be at least 1");
    }
    let model = match args.model.as_str() {
        "auto" => None,
        name => match name.parse::<ModelKind>() {
            Ok(m) => Some(m),
            Err(e) => return fail(stderr, &e),
        },
    };
    if args.report.is_some() && args.files.len() > 1 {
        return fail(stderr, &"--report takes one history file");
    }
    let many = args.files.len() > 1;
    let mut worst = EXIT_OK;
    for file in &args.files {
        let code = run_one(
            args,
            file,
            format,
            model,
            timeout,
            explain_budget,
            many,
            stdin,
            stdout,
            stderr,
        );
        if severity(code) > severity(worst) {
            worst = code;
        }
    }
    worst
}

/// The error for a history with no record of its format: which format was expected, what its
/// records look like, and the file's first line (a file, not standard input, can be re-read).
fn no_record(file: &str, format: HistoryFormat) -> String {
    let (name, shape) = match format {
        HistoryFormat::Jsonl => (
            "jsonl",
            r#"JSON objects such as {"process":0,"type":"invoke","f":"write","value":1}"#,
        ),
        HistoryFormat::JepsenEtcd => (
            "jepsen-etcd",
            "Jepsen log lines such as `INFO  jepsen.util - 0 :invoke :write 1` (tabs or spaces between fields)",
        ),
        HistoryFormat::JepsenKv => (
            "jepsen-kv",
            "Jepsen maps such as {:process 0, :type :invoke, :f :write, :key 1, :value 1}",
        ),
    };
    let first = (file != "-")
        .then(|| std::fs::File::open(file).ok())
        .flatten()
        .and_then(|f| {
            use std::io::BufRead;
            BufReader::new(f.take(1 << 16))
                .lines()
                .map_while(Result::ok)
                .find(|l| !l.trim().is_empty())
        });
    let first = match first {
        Some(line) => format!(
            "; its first line: {:?}",
            line.chars().take(100).collect::<String>()
        ),
        None => "; it has no non-blank line".to_string(),
    };
    format!("{file}: no operation of the {name} format in it (expected {shape}){first}")
}

/// The options of the verdict's search (the explanation comes after it, with its own budget).
fn verdict_options(
    model: ModelKind,
    timeout: Option<Duration>,
    max_memory_mb: Option<usize>,
) -> CheckOptions {
    let mut options = CheckOptions::new(model);
    options.timeout = timeout;
    options.memo_bytes_max = max_memory_mb.map(|mb| mb.saturating_mul(1 << 20));
    options.explain = false;
    options
}

#[allow(clippy::too_many_arguments)]
fn run_one(
    args: &Args,
    file: &str,
    format: Option<HistoryFormat>,
    model: Option<ModelKind>,
    timeout: Option<Duration>,
    explain_budget: Option<Duration>,
    many: bool,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
    // Read line by line: the file is never held whole (a 100k-op kv history is ~1 GB).
    let parsed = if file == "-" {
        let limited = Limited::new(stdin, "standard input");
        parse_history_reader(BufReader::with_capacity(1 << 16, limited), format)
    } else {
        match std::fs::File::open(file) {
            Ok(f) => {
                let limited = Limited::new(f, file);
                parse_history_reader(BufReader::with_capacity(1 << 16, limited), format)
            }
            Err(e) => return fail(stderr, &format!("cannot read {file}: {e}")),
        }
    };
    let (history, format) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => return fail(stderr, &format!("{file}: {e}")),
    };
    if history.has_no_record() {
        return fail(stderr, &no_record(file, format));
    }
    let model = model.unwrap_or_else(|| default_model(&history, format));
    let options = verdict_options(model, timeout, args.max_memory_mb);
    // The verdict first, printed at once; a violation is explained after it, within budget.
    let mut result = match decide(&history, &options) {
        Ok(result) => result,
        Err(e) => return fail(stderr, &format!("{file}: {e}")),
    };
    let text_output = matches!(args.output, VerdictFormat::Text);
    if text_output {
        let prefix = if many {
            format!("{file}: ")
        } else {
            String::new()
        };
        let _ = write!(stdout, "{prefix}{}", report::verdict_line(&result));
        let _ = stdout.flush();
    }
    if let Verdict::Violation(v) = &result.verdict {
        if !args.no_explain {
            let budget =
                explain_budget.unwrap_or_else(|| default_explain_budget(result.search_time));
            let start = Instant::now();
            let explained = explain(v, model, budget);
            result.explain_time = start.elapsed();
            result.verdict = Verdict::Violation(Box::new(explained));
        }
        if text_output {
            if let Verdict::Violation(v) = &result.verdict {
                let _ = write!(stdout, "{}", report::explanation_text(v));
            }
        }
    }
    if let Some(path) = &args.report {
        let page = report::html(
            &result,
            &history.operations,
            &format!("distsys check-history: {file}"),
        );
        if let Err(e) = std::fs::write(path, page) {
            let _ = writeln!(stderr, "error: cannot write report {path}: {e}");
            return EXIT_BAD_INPUT;
        }
    }
    if text_output {
        let _ = writeln!(
            stdout,
            "(format {}, model {}, algorithm {})",
            format.name(),
            model.name(),
            result.algorithm
        );
    } else {
        let mut out = report::json(&result);
        if many {
            out["file"] = json!(file);
        }
        out["format"] = json!(format.name());
        out["model"] = json!(model.name());
        let _ = writeln!(stdout, "{out}");
    }
    match result.verdict {
        Verdict::Linearizable => EXIT_OK,
        Verdict::Violation(_) => EXIT_CHECK_FAILED,
        Verdict::Unknown(_) => EXIT_UNKNOWN,
    }
}
/// A reader that fails past [`MAX_HISTORY_BYTES`].
struct Limited<'a, R> {
    inner: R,
    source: &'a str,
    read: u64,
}

impl<'a, R> Limited<'a, R> {
    fn new(inner: R, source: &'a str) -> Self {
        Limited {
            inner,
            source,
            read: 0,
        }
    }
}

impl<R: Read> Read for Limited<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > MAX_HISTORY_BYTES {
            return Err(std::io::Error::other(format!(
                "{} is larger than {MAX_HISTORY_BYTES} bytes",
                self.source
            )));
        }
        Ok(n)
    }
}

pub use crate::cli::GenerateArgs;

/// `distsys generate-history`: the history on stdout (or `--out`), its verdict on stderr.
pub fn generate(args: &GenerateArgs, stdout: &mut dyn Write, stderr: &mut dyn Write) -> i32 {
    let family_kind = match args.family.parse::<Family>() {
        Ok(f) => f,
        Err(e) => return fail(stderr, &e),
    };
    let plant = match args.violation.parse::<Plant>() {
        Ok(p) => p,
        Err(e) => return fail(stderr, &e),
    };
    if !(0.0..=1.0).contains(&args.info) {
        return fail(
            stderr,
            &format!("--info must be within 0..1, got {}", args.info),
        );
    }
    if !(1..=1024).contains(&args.clients) {
        return fail(
            stderr,
            &format!("--clients must be within 1..1024, got {}", args.clients),
        );
    }
    let format = match (args.format.as_str(), family_kind) {
        ("auto", f) if f.is_kv() => HistoryFormat::JepsenKv,
        ("auto", _) => HistoryFormat::JepsenEtcd,
        (name, _) => match name.parse::<HistoryFormat>() {
            Ok(f) => f,
            Err(e) => return fail(stderr, &e),
        },
    };
    if format == HistoryFormat::JepsenEtcd && family_kind.is_kv() {
        return fail(
            stderr,
            &"the Jepsen etcd format holds one register: use jepsen-kv or jsonl",
        );
    }
    let config = FamilyConfig {
        family: family_kind,
        operations: args.ops,
        clients: args.clients,
        keys: args.keys,
        info_share: args.info,
        plant,
        seed: args.seed,
    };
    let (events, linearizable) = family(&config);
    let text = match format {
        HistoryFormat::Jsonl => to_jsonl(&events),
        HistoryFormat::JepsenEtcd => to_jepsen_etcd(&events),
        HistoryFormat::JepsenKv => to_jepsen_kv(&events),
    };
    let written = match &args.out {
        Some(path) => std::fs::write(path, text).map_err(|e| format!("cannot write {path}: {e}")),
        None => stdout
            .write_all(text.as_bytes())
            .map_err(|e| format!("cannot write the history: {e}")),
    };
    if let Err(e) = written {
        let _ = writeln!(stderr, "error: {e}");
        return EXIT_BAD_INPUT;
    }
    let _ = writeln!(
        stderr,
        "expected verdict: {} ({} {} ops, {} clients, violation {})",
        if linearizable {
            "linearizable"
        } else {
            "violation"
        },
        family_kind.name(),
        args.ops,
        args.clients,
        args.violation
    );
    EXIT_OK
}
