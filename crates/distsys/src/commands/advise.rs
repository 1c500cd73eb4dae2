//! `distsys advise`.

use super::{fail, print_json};
use crate::cli::OutputFormat;
use crate::io::load_context;
use crate::report::text_report;
use crate::{EXIT_CHECK_FAILED, EXIT_OK};
use std::io::{Read, Write};

pub fn run(
    file: &str,
    format: OutputFormat,
    evidence: bool,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
    let context = match load_context(file, stdin) {
        Ok(context) => context,
        Err(error) => return fail(stderr, &error),
    };
    let mut advice = if evidence {
        distsys_advisor::advise_measured(&context)
    } else {
        distsys_advisor::advise(&context)
    };
    let mut unsafe_design = None;
    if evidence {
        let measured = distsys_harness::evidence::gather(&context, &mut advice);
        advice.rationale.extend(measured.rationale);
        advice.warnings.extend(measured.warnings);
        unsafe_design = measured.unsafe_design;
    }
    let code = print(&context, &advice, format, stdout, stderr);
    match unsafe_design {
        Some(why) if code == EXIT_OK => {
            let _ = writeln!(stderr, "error: {why}");
            EXIT_CHECK_FAILED
        }
        _ => code,
    }
}

fn print(
    context: &distsys_advisor::DistributedContext,
    advice: &distsys_advisor::advice::Advice,
    format: OutputFormat,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
    match format {
        OutputFormat::Json => print_json(stdout, advice),
        OutputFormat::Yaml => match serde_norway::to_string(advice) {
            Ok(text) => {
                let _ = stdout.write_all(text.as_bytes());
                EXIT_OK
            }
            Err(e) => fail(stderr, &format!("cannot serialise output as YAML: {e}")),
        },
        OutputFormat::Text => {
            let _ = stdout.write_all(text_report(context, advice).as_bytes());
            EXIT_OK
        }
    }
}
