//! The README's deterministic figures are what the binary prints today: every
//! `<!-- figure: ARGS | deterministic -->` block is re-run in-process and compared line by line
//! (`scripts/readme-figures` regenerates them). Wall-clock blocks are not compared (speed is
//! measured, not asserted) but must name the machine they were measured on.

mod common;

use common::{run_in_process, workspace_root};

/// A figure block: the command's arguments, its tags, and the text the README shows.
struct Figure {
    command: String,
    deterministic: bool,
    /// Minutes to re-run: compared only with `DISTSYS_SLOW_FIGURES=1`.
    slow: bool,
    /// `lines=N`: the block holds the first N lines of the output.
    lines: Option<usize>,
    body: String,
}

/// The output without its wall-clock lines (`wall time: ...`, `events: N in X s wall ...`),
/// which are not figures of the deterministic simulator; `scripts/readme-figures` drops the
/// same lines.
fn without_wall_clock(out: &str) -> String {
    out.split_inclusive('\n')
        .filter(|l| !(l.starts_with("wall time:") || l.contains(" s wall")))
        .collect()
}

fn figures(readme: &str) -> Vec<Figure> {
    const OPEN: &str = "<!-- figure: ";
    let mut out = Vec::new();
    let mut rest = readme;
    while let Some(at) = rest.find(OPEN) {
        rest = &rest[at + OPEN.len()..];
        let header_end = rest.find(" -->\n").expect("a figure header ends with -->");
        let header = &rest[..header_end];
        let (command, tags) = header.split_once(" | ").unwrap_or((header, ""));
        rest = &rest[header_end + 5..];
        let body = rest
            .strip_prefix("```text\n")
            .expect("a figure header is followed by a ```text block");
        let end = body
            .find("```\n<!-- /figure -->")
            .expect("a figure block is closed");
        out.push(Figure {
            command: command.trim().to_string(),
            deterministic: tags.split_whitespace().any(|t| t == "deterministic"),
            slow: tags.split_whitespace().any(|t| t == "slow"),
            lines: tags
                .split_whitespace()
                .find_map(|t| t.strip_prefix("lines="))
                .map(|n| n.parse().expect("lines=N takes a number")),
            body: body[..end].to_string(),
        });
        rest = &body[end..];
    }
    out
}

fn readme() -> String {
    std::fs::read_to_string(workspace_root().join("README.md")).expect("README.md")
}

#[test]
fn deterministic_figures_match_a_fresh_run() {
    let readme = readme();
    let all = figures(&readme);
    assert!(
        all.iter().filter(|f| f.deterministic).count() >= 3,
        "the README keeps its deterministic figures in figure blocks"
    );
    let slow_too = std::env::var_os("DISTSYS_SLOW_FIGURES").is_some();
    for figure in all
        .iter()
        .filter(|f| f.deterministic && (slow_too || !f.slow))
    {
        let args: Vec<&str> = figure.command.split_whitespace().collect();
        let (code, out, err) = run_in_process(&args, "");
        assert!(
            code == 0 || code == 1,
            "distsys {}: exit {code}: {err}",
            figure.command
        );
        let mut out = without_wall_clock(&out);
        if let Some(n) = figure.lines {
            out = out.split_inclusive('\n').take(n).collect();
        }
        if out != figure.body {
            let line = out
                .lines()
                .zip(figure.body.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            panic!(
                "README figure `distsys {}` differs from a fresh run at line {}:\n  README: {:?}\n  now:    {:?}\nrun scripts/readme-figures --deterministic",
                figure.command,
                line + 1,
                figure.body.lines().nth(line),
                out.lines().nth(line)
            );
        }
    }
}

#[test]
fn wall_clock_figures_say_where_they_were_measured() {
    for figure in figures(&readme()).iter().filter(|f| !f.deterministic) {
        assert!(
            figure.body.contains("(measured on ") && figure.body.contains(" build; "),
            "README figure `distsys {}` does not say the machine and profile it was measured with",
            figure.command
        );
    }
}

#[test]
fn the_block_reader_sees_headers_tags_and_bodies() {
    let text = "x\n<!-- figure: bench protocols --seconds 1 | deterministic -->\n```text\na\nb\n```\n<!-- /figure -->\n<!-- figure: bench sim -->\n```text\nc\n```\n<!-- /figure -->\n";
    let f = figures(text);
    assert_eq!(f.len(), 2);
    assert_eq!(f[0].command, "bench protocols --seconds 1");
    assert!(f[0].deterministic && !f[1].deterministic && !f[0].slow);
    assert_eq!(
        without_wall_clock(
            "events: 5 in 1.2 s wall (4 events/s)\nwall time: 3 s\nLWW: 1 with wall clocks\n"
        ),
        "LWW: 1 with wall clocks\n"
    );
    assert_eq!((f[0].body.as_str(), f[1].body.as_str()), ("a\nb\n", "c\n"));
}
