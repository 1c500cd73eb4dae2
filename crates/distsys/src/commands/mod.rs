//! One module per subcommand; [`dispatch`] routes to them.

mod advise;
mod bench;
mod chaos;
mod check_history;
mod check_txn;
mod cluster;
mod diagnose;
mod model_check;
mod simulate;
mod sweep;

use crate::cli::{Command, SchemaKind};
use crate::io::load_context;
use crate::{EXIT_BAD_INPUT, EXIT_OK};
use std::io::{Read, Write};

/// Runs one parsed command and returns its exit code.
pub fn dispatch(
    command: Command,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
    match command {
        Command::Serve {
            config,
            protocol,
            mutant,
        } => cluster::serve(&config, protocol, mutant, stderr),
        Command::Cluster { action } => cluster::run(action, stdout, stderr),
        Command::Chaos(args) => chaos::run(&args, stdout, stderr),
        Command::Advise {
            file,
            format,
            evidence,
        } => advise::run(&file, format, evidence, stdin, stdout, stderr),
        Command::Validate { file } => match load_context(&file, stdin) {
            Ok(context) => {
                let _ = writeln!(
                    stdout,
                    "valid: {} with {} node(s)",
                    context.problem_type.as_str(),
                    context.cluster_config.nodes
                );
                EXIT_OK
            }
            Err(error) => fail(stderr, &error),
        },
        Command::Schema { which } => {
            let schema = match which {
                SchemaKind::Input => distsys_advisor::schema::input_schema(),
                SchemaKind::Output => distsys_advisor::schema::output_schema(),
            };
            print_json(stdout, &schema)
        }
        Command::CheckHistory {
            files,
            format,
            model,
            timeout,
            report,
            output,
            explain_budget,
            no_explain,
            max_memory_mb,
        } => {
            let args = check_history::Args {
                files,
                format,
                model,
                timeout,
                report,
                output,
                explain_budget,
                no_explain,
                max_memory_mb,
            };
            check_history::run(&args, stdin, stdout, stderr)
        }
        Command::CheckTxn(args) => check_txn::run(&args, stdin, stdout, stderr),
        Command::GenerateHistory(args) => check_history::generate(&args, stdout, stderr),
        Command::Simulate(args) => simulate::run(&args, stdout, stderr),
        Command::Sweep(args) => sweep::run(&args, stdout, stderr),
        Command::MergeReports { files } => simulate::summary::merge_reports(&files, stdout, stderr),
        Command::Diagnose {
            logs,
            metrics,
            history,
            format,
        } => diagnose::run(
            &logs,
            metrics.as_deref(),
            history.as_deref(),
            format,
            stdin,
            stdout,
            stderr,
        ),
        Command::ModelCheck(args) => model_check::run(&args, stdout, stderr),
        Command::Bench { what } => bench::run(what, stdout, stderr),
    }
}

/// Reports a bad-input error on stderr and returns exit code 2.
pub fn fail(stderr: &mut dyn Write, error: &dyn std::fmt::Display) -> i32 {
    let _ = writeln!(stderr, "error: {error}");
    EXIT_BAD_INPUT
}

/// Prints a value as pretty JSON followed by a newline.
pub fn print_json(stdout: &mut dyn Write, value: &impl serde::Serialize) -> i32 {
    match serde_json::to_string_pretty(value) {
        Ok(text) => {
            let _ = writeln!(stdout, "{text}");
            EXIT_OK
        }
        Err(e) => {
            let _ = writeln!(stdout, "internal error: cannot serialise output: {e}");
            EXIT_BAD_INPUT
        }
    }
}
