//! The `distsys` command line, as a library so tests can drive it in-process: it parses flags
//! (clap), calls one library or harness function with a plain configuration, prints the result
//! and picks the exit code. [`reference`] renders the command reference (README and
//! docs/commands.md) from the same clap definitions, so the docs cannot drift.
//!
//! Exit codes (stable): 0 ok; 1 a check failed (a violation was found); 2 bad input or usage.
//! Errors go to stderr, results to stdout.

mod cli;
mod commands;
mod io;
pub mod reference;
mod report;

use clap::Parser;
use std::ffi::OsString;
use std::io::{Read, Write};

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: a check failed (a violation was found).
pub const EXIT_CHECK_FAILED: i32 = 1;
/// Exit code: bad input or usage.
pub const EXIT_BAD_INPUT: i32 = 2;
/// Exit code: no verdict could be reached (timeout, memory limit).
pub const EXIT_UNKNOWN: i32 = 3;

/// Runs the CLI with the given arguments (the first is the program name) and streams.
/// Never panics on user input; returns the process exit code.
pub fn run(
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let code = if error.use_stderr() {
                EXIT_BAD_INPUT
            } else {
                EXIT_OK
            };
            let rendered = error.render().to_string();
            let sink: &mut dyn Write = if error.use_stderr() { stderr } else { stdout };
            let _ = sink.write_all(rendered.as_bytes());
            return code;
        }
    };
    commands::dispatch(cli.command, stdin, stdout, stderr)
}
