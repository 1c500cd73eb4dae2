//! `distsys advise`.

use super::{fail, print_json};
use crate::cli::OutputFormat;
use crate::io::load_context;
use crate::report::text_report;
use crate::EXIT_OK;
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
    let mut advice = distsys_core::advise(&context);
    if evidence {
        let measured = super::evidence::gather(&context, &advice);
        advice.rationale.extend(measured);
    }
    match format {
        OutputFormat::Json => print_json(stdout, &advice),
        OutputFormat::Yaml => match serde_norway::to_string(&advice) {
            Ok(text) => {
                let _ = stdout.write_all(text.as_bytes());
                EXIT_OK
            }
            Err(e) => fail(stderr, &format!("cannot serialise output as YAML: {e}")),
        },
        OutputFormat::Text => {
            let _ = stdout.write_all(text_report(&context, &advice).as_bytes());
            EXIT_OK
        }
    }
}
