//! `distsys check-txn FILE...`: the transactional isolation checker.

use super::fail;
use crate::cli::CheckTxnArgs;
use crate::{EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_OK, EXIT_UNKNOWN};
use distsys_check::txn::{
    check_txn, parse_txn_history, report, Consistency, TxnFormat, TxnModel, TxnOptions, TxnVerdict,
};
use std::io::{Read, Write};

/// Worse first: bad input, undecided, anomalies, ok.
fn severity(code: i32) -> u8 {
    match code {
        EXIT_OK => 0,
        EXIT_CHECK_FAILED => 1,
        EXIT_UNKNOWN => 2,
        _ => 3,
    }
}

fn options(args: &CheckTxnArgs) -> Result<(TxnOptions, Option<TxnFormat>), String> {
    let model = match args.model.as_str() {
        "auto" => None,
        name => Some(name.parse::<TxnModel>()?),
    };
    let format = match args.format.as_str() {
        "auto" => None,
        name => Some(name.parse::<TxnFormat>()?),
    };
    let consistency = args
        .consistency
        .parse::<Consistency>()
        .map_err(|e| format!("--consistency: {e}"))?;
    if args.budget == 0 {
        return Err("--budget must be at least 1".into());
    }
    Ok((
        TxnOptions {
            model,
            consistency,
            budget: args.budget,
        },
        format,
    ))
}

/// Checks every file; returns the worst exit code.
pub fn run(
    args: &CheckTxnArgs,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
    let (options, format) = match options(args) {
        Ok(o) => o,
        Err(e) => return fail(stderr, &e),
    };
    if args.report.is_some() && args.files.len() > 1 {
        return fail(stderr, &"--report takes one history file");
    }
    let mut worst = EXIT_OK;
    for file in &args.files {
        let code = run_one(file, &options, format, args, stdin, stdout, stderr);
        if severity(code) > severity(worst) {
            worst = code;
        }
    }
    worst
}

/// The whole input as text; bytes that are not UTF-8 are an error naming their line, as
/// `check-history` names it.
fn read_text(file: &str, stdin: &mut dyn Read) -> Result<String, String> {
    let mut bytes = Vec::new();
    let result = if file == "-" {
        stdin.read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::File::open(file).and_then(|mut f| f.read_to_end(&mut bytes).map(|_| ()))
    };
    result.map_err(|e| format!("{file}: {e}"))?;
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..valid]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        format!("{file}: line {line}: not UTF-8 text (byte {valid})")
    })
}

fn run_one(
    file: &str,
    options: &TxnOptions,
    format: Option<TxnFormat>,
    args: &CheckTxnArgs,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
    let text = match read_text(file, stdin) {
        Ok(t) => t,
        Err(e) => return fail(stderr, &e),
    };
    let checked = parse_txn_history(&text, format)
        .and_then(|history| check_txn(&history, options).map(|r| (history, r)));
    let (history, result) = match checked {
        Ok(done) => done,
        Err(e) => {
            let _ = writeln!(stderr, "error: {file}: line {}: {}", e.line, e.message);
            return EXIT_BAD_INPUT;
        }
    };
    let _ = write!(
        stdout,
        "{file}: {}",
        report::render(&history, &result, args.explain)
    );
    if let Some(path) = &args.report {
        let page = report::html(&history, &result, file, args.explain.max(1));
        if let Err(e) = std::fs::write(path, page) {
            return fail(stderr, &format!("{path}: {e}"));
        }
    }
    match result.verdict {
        TxnVerdict::Valid => EXIT_OK,
        TxnVerdict::Invalid => EXIT_CHECK_FAILED,
        TxnVerdict::Unknown => EXIT_UNKNOWN,
    }
}
