//! The command reference, generated from the clap definitions so the README and
//! `docs/commands.md` cannot drift from the binary (tests/docs.rs compares them).

use clap::{Arg, Command, CommandFactory};
use std::fmt::Write as _;

/// Widest line of the compact reference before it wraps.
const WIDTH: usize = 100;

/// Every command, bench and cluster subcommands included, in the order `--help` lists them,
/// with its full path (`["bench", "advise"]`).
fn leaf_commands() -> Vec<(Vec<String>, Command)> {
    fn walk(path: &[String], cmd: &Command, out: &mut Vec<(Vec<String>, Command)>) {
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let mut here = path.to_vec();
            here.push(sub.get_name().to_string());
            if sub.has_subcommands() {
                walk(&here, sub, out);
            } else {
                out.push((here, sub.clone()));
            }
        }
    }
    let mut root = crate::cli::Cli::command();
    root.build();
    let mut out = Vec::new();
    walk(&[], &root, &mut out);
    out
}

/// Whether an argument takes more than one value (`FILES...`, `--logs A B`).
fn takes_many(arg: &Arg) -> bool {
    arg.get_num_args()
        .is_some_and(|range| range.max_values() > 1)
}

/// How one argument reads in a usage line: `[--format=json|text]`, `[--nodes=5]`,
/// `[--timeout TIMEOUT]`, `[--lease]`, `FILE...`.
fn usage_of(arg: &Arg) -> String {
    let name = arg
        .get_value_names()
        .and_then(|names| names.first())
        .map(|n| n.to_string())
        .unwrap_or_else(|| arg.get_id().as_str().to_uppercase());
    let many = takes_many(arg);
    if arg.is_positional() {
        let body = if many { format!("{name}...") } else { name };
        let optional = !arg.is_required_set();
        return if optional { format!("[{body}]") } else { body };
    }
    let long = format!("--{}", arg.get_long().unwrap_or(arg.get_id().as_str()));
    let body = if !arg.get_action().takes_values() {
        long
    } else {
        let possible: Vec<String> = arg
            .get_possible_values()
            .iter()
            .filter(|v| !v.is_hide_set())
            .map(|v| v.get_name().to_string())
            .collect();
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        if !possible.is_empty() {
            format!("{long}={}", possible.join("|"))
        } else if !defaults.is_empty() {
            format!("{long}={}", defaults.join(","))
        } else if many {
            format!("{long} {name}...")
        } else {
            format!("{long} {name}")
        }
    };
    if arg.is_required_set() {
        body
    } else {
        format!("[{body}]")
    }
}

/// The arguments a user sees (not `--help` / `--version`).
fn visible_args(cmd: &Command) -> impl Iterator<Item = &Arg> {
    cmd.get_arguments()
        .filter(|a| !a.is_hide_set() && a.get_id() != "help" && a.get_id() != "version")
}

/// The compact reference (the README's "Commands" block): one usage per command, wrapped at
/// 100 columns, then its one-line summary. Options show their default (`--nodes=5`) or their
/// possible values (`--format=json|yaml|text`).
pub fn command_reference() -> String {
    let mut out = String::new();
    for (path, cmd) in leaf_commands() {
        let mut line = format!("distsys {}", path.join(" "));
        let mut lines = Vec::new();
        for arg in visible_args(&cmd) {
            let word = usage_of(arg);
            if line.len() + 1 + word.len() > WIDTH && !line.trim().is_empty() {
                lines.push(std::mem::take(&mut line));
                line = " ".repeat(4);
            }
            if !line.ends_with(' ') {
                line.push(' ');
            }
            line.push_str(&word);
        }
        lines.push(line);
        for l in lines {
            let _ = writeln!(out, "{}", l.trim_end());
        }
        let about = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
        let _ = writeln!(out, "    # {about}");
    }
    out
}

/// The full reference (`docs/commands.md`): every command's `--help`, as the binary prints it.
pub fn command_help() -> String {
    let mut out = String::from(
        "# Command reference\n\nGenerated from the binary's argument definitions by \
         `scripts/readme-commands` (a test fails when this file and `distsys <command> --help` \
         differ). Exit codes, for every command: 0 ok, 1 a check failed, 2 bad input or usage, \
         3 no verdict.\n",
    );
    let mut root = crate::cli::Cli::command();
    let _ = write!(
        out,
        "\n## distsys\n\n```text\n{}```\n",
        root.render_long_help()
    );
    for (path, _) in leaf_commands() {
        let mut cmd = crate::cli::Cli::command();
        for name in &path {
            let Some(sub) = cmd.find_subcommand(name) else {
                break;
            };
            cmd = sub.clone();
        }
        let mut cmd = cmd.bin_name(format!("distsys {}", path.join(" ")));
        let help = cmd.render_long_help().to_string();
        let _ = write!(out, "\n## distsys {}\n\n```text\n{}", path.join(" "), help);
        if !help.ends_with('\n') {
            out.push('\n');
        }
        out.push_str("```\n");
    }
    out
}

/// One command's arguments, as a fuzzer or a completion script needs them.
#[derive(Debug, Clone)]
pub struct CommandShape {
    /// The command's path (`["bench", "advise"]`).
    pub path: Vec<String>,
    /// How many positional arguments it takes at most (`usize::MAX`: any number).
    pub positionals: usize,
    /// Its long flags, each with whether it takes a value.
    pub flags: Vec<(String, bool)>,
}

/// Every command's arguments, from the clap definitions (so a test that feeds every command
/// random flags covers a flag the day it is added).
pub fn command_shapes() -> Vec<CommandShape> {
    leaf_commands()
        .into_iter()
        .map(|(path, cmd)| {
            let mut positionals = 0usize;
            let mut flags = Vec::new();
            for arg in visible_args(&cmd) {
                if arg.is_positional() {
                    positionals = if takes_many(arg) {
                        usize::MAX
                    } else {
                        positionals.saturating_add(1)
                    };
                } else if let Some(long) = arg.get_long() {
                    flags.push((format!("--{long}"), arg.get_action().takes_values()));
                }
            }
            CommandShape {
                path,
                positionals,
                flags,
            }
        })
        .collect()
}
