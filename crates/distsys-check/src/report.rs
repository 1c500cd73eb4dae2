//! Human-facing output: the text explanation of a verdict and a self-contained HTML timeline
//! (each process a row, each operation a bar from invocation to completion), after Porcupine's
//! visualization.

use crate::checker::{CheckResult, Verdict, Violation};
use crate::history::Operation;
use std::collections::BTreeMap;
use std::fmt::Write;

/// The text explanation of a result.
pub fn text(result: &CheckResult) -> String {
    let mut out = verdict_line(result);
    if let Verdict::Violation(v) = &result.verdict {
        out.push_str(&explanation_text(v));
    }
    out
}

/// The first line of [`text`]: the verdict, printable before a violation is explained.
pub fn verdict_line(result: &CheckResult) -> String {
    let mut out = String::new();
    match &result.verdict {
        Verdict::Linearizable => {
            let _ = writeln!(
                out,
                "linearizable: {} operations over {} key(s), checked in {:.1} ms",
                result.operations,
                result.partitions,
                result.search_time.as_secs_f64() * 1e3
            );
        }
        Verdict::Unknown(reason) => {
            let _ = writeln!(
                out,
                "unknown: the search was stopped ({}) after {:.1} ms before reaching a verdict ({} operations, {} key(s))",
                match reason {
                    crate::checker::UnknownReason::Timeout => "timeout".to_string(),
                    crate::checker::UnknownReason::MemoryLimit { key, bytes_max } => format!(
                        "the search of {} reached its memory limit of {} MiB; --max-memory-mb raises it",
                        key_name(key),
                        bytes_max >> 20
                    ),
                },
                result.search_time.as_secs_f64() * 1e3,
                result.operations,
                result.partitions
            );
        }
        Verdict::Violation(v) => {
            let _ = writeln!(
                out,
                "NOT linearizable: {} ({} operations) has no valid order (verdict in {:.1} ms).",
                key_name(&v.key),
                v.partition.len(),
                result.search_time.as_secs_f64() * 1e3
            );
        }
    }
    out
}

/// The verdict and its figures as one JSON object (`verdict`, `algorithm`, `search_ms`,
/// `explain_ms`, `history_operations`, `keys`; for a violation `key`, `minimal`, `explained`,
/// `linearizable_until` and the core's `operations`; for no verdict `reason`, and for a
/// memory limit `key` and `memo_bytes_max`).
pub fn json(result: &CheckResult) -> serde_json::Value {
    use serde_json::json;
    let mut out = match &result.verdict {
        Verdict::Linearizable => json!({"verdict": "linearizable"}),
        Verdict::Unknown(crate::checker::UnknownReason::Timeout) => {
            json!({"verdict": "unknown", "reason": "timeout"})
        }
        Verdict::Unknown(crate::checker::UnknownReason::MemoryLimit { key, bytes_max }) => {
            json!({"verdict": "unknown", "reason": "memory-limit", "key": key, "memo_bytes_max": bytes_max})
        }
        Verdict::Violation(v) => json!({
            "verdict": "violation",
            "key": v.key,
            "linearizable_until": v.linearizable_until,
            "minimal": v.minimal,
            "explained": v.explained,
            "operations": v.core.iter().map(|op| json!({
                "process": op.process, "f": op.kind.name(), "key": op.key, "value": op.input,
                "output": op.output, "call": op.call, "return": op.ret, "line": op.line,
            })).collect::<Vec<_>>(),
        }),
    };
    out["algorithm"] = json!(result.algorithm);
    out["history_operations"] = json!(result.operations);
    out["keys"] = json!(result.partitions);
    out["search_ms"] = json!(result.search_time.as_secs_f64() * 1e3);
    out["explain_ms"] = json!(result.explain_time.as_secs_f64() * 1e3);
    out
}

fn key_name(key: &Option<String>) -> String {
    key.as_ref()
        .map_or_else(|| "the register".to_string(), |k| format!("key {k:?}"))
}

fn interval(op: &Operation) -> String {
    match op.ret {
        Some(ret) => format!("[{} .. {}]", op.call, ret),
        None => format!("[{} .. never]", op.call),
    }
}

/// The text explanation of a violation: the core, per process, with times.
pub fn violation_text(v: &Violation) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "NOT linearizable: {} ({} operations) has no valid order.",
        key_name(&v.key),
        v.partition.len()
    );
    out.push_str(&explanation_text(v));
    out
}

/// The explanation of a violation without its verdict line: the core, per process.
pub fn explanation_text(v: &Violation) -> String {
    let mut out = String::new();
    if !v.explained {
        let _ = writeln!(
            out,
            "Verdict only (not shrunk): all {} operations of {} together cannot be linearized.",
            v.core.len(),
            key_name(&v.key)
        );
        return out;
    }
    let _ = writeln!(
        out,
        "Its history is linearizable up to time {}; these {} operations cannot be linearized together{}:",
        v.linearizable_until,
        v.core.len(),
        if v.minimal { "" } else { " (not minimal: shrinking ran out of its --explain-budget; a smaller set may exist)" }
    );
    if let Some(culprit) = v.culprit.and_then(|i| v.core.get(i)) {
        let _ = writeln!(
            out,
            "  first operation with no valid place: process {} {} {culprit} (line {})",
            culprit.process,
            interval(culprit),
            culprit.line
        );
    }
    let mut by_process: BTreeMap<u64, Vec<(usize, &Operation)>> = BTreeMap::new();
    for (index, op) in v.core.iter().enumerate() {
        by_process.entry(op.process).or_default().push((index, op));
    }
    for (process, ops) in by_process {
        for (index, op) in ops {
            let mark = if Some(index) == v.culprit {
                "  <== no valid place"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "  process {process:>4}  {:<24} {op}   (line {}){mark}",
                interval(op),
                op.line
            );
        }
    }
    let _ = writeln!(
        out,
        "(times are the history's own: ns for JSON Lines, line numbers for Jepsen logs; an operation \
         with outcome unknown may take effect at any time after its invocation, or never)"
    );
    out
}

/// `s` made safe inside HTML text and attribute values (both reports use it).
pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Operations drawn at most in one HTML timeline, to keep the page usable.
const MAX_DRAWN: usize = 5000;

/// What the page shows for a verdict: the operations drawn, the core of a violation, where the
/// linearizable prefix ends, and the headline.
struct Shown<'a> {
    ops: Vec<&'a Operation>,
    core: Vec<&'a Operation>,
    cut: Option<u64>,
    headline: String,
}

impl<'a> Shown<'a> {
    fn of(result: &'a CheckResult, all_ops: &'a [Operation]) -> Shown<'a> {
        match &result.verdict {
            Verdict::Violation(v) => Shown {
                ops: v.partition.iter().collect(),
                core: v.core.iter().collect(),
                cut: Some(v.linearizable_until),
                headline: format!("NOT linearizable: {} has no valid order", key_name(&v.key)),
            },
            Verdict::Linearizable => Shown {
                ops: all_ops.iter().collect(),
                core: Vec::new(),
                cut: None,
                headline: "linearizable".to_string(),
            },
            Verdict::Unknown(_) => Shown {
                ops: all_ops.iter().collect(),
                core: Vec::new(),
                cut: None,
                headline: "unknown (stopped before a verdict)".to_string(),
            },
        }
    }
}

/// The inline SVG timeline: one row per process, one box per operation (classed core,
/// culprit, prefix, unknown or plain), and a dashed line where the linearizable prefix ends.
fn timeline_svg(
    drawn: &[&Operation],
    core: &[&Operation],
    culprit: Option<&Operation>,
    cut: Option<u64>,
) -> String {
    let is_core = |op: &Operation| {
        core.iter()
            .any(|c| c.line == op.line && c.process == op.process)
    };
    let t_min = drawn.iter().map(|o| o.call).min().unwrap_or(0);
    let t_end = drawn
        .iter()
        .map(|o| o.ret.unwrap_or(o.call))
        .max()
        .unwrap_or(1)
        .max(t_min + 1);
    let span = (t_end - t_min) as f64 * 1.05;
    let processes: Vec<u64> = {
        let mut p: Vec<u64> = drawn.iter().map(|o| o.process).collect();
        p.sort_unstable();
        p.dedup();
        p
    };
    let (left, width, row) = (90.0, 1100.0, 26.0);
    let height = row * processes.len() as f64 + 60.0;
    let x = |t: u64| left + (t - t_min) as f64 / span * width;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{height}" font-family="monospace" font-size="11">"#,
        left + width + 20.0
    );
    for (row_index, process) in processes.iter().enumerate() {
        let y = 30.0 + row * row_index as f64;
        let _ = write!(
            svg,
            r#"<text x="4" y="{}">process {process}</text><line x1="{left}" x2="{}" y1="{}" y2="{}" stroke="rgb(238,238,238)"/>"#,
            y + 14.0,
            left + width,
            y + 10.0,
            y + 10.0
        );
    }
    for op in drawn {
        let row_index = processes.binary_search(&op.process).unwrap_or(0);
        let y = 30.0 + row * row_index as f64 + 2.0;
        let x0 = x(op.call);
        let x1 = op.ret.map_or(left + width, x).max(x0 + 3.0);
        let class = if culprit.is_some_and(|c| c.line == op.line && c.process == op.process) {
            "core culprit"
        } else if is_core(op) {
            "core"
        } else if cut.is_some_and(|c| op.ret.is_some_and(|r| r <= c)) {
            "prefix"
        } else if op.ret.is_none() {
            "unknown"
        } else {
            "plain"
        };
        let label = escape(&op.to_string());
        let _ = write!(
            svg,
            r#"<g class="{class}"><title>process {} {} {label} (line {})</title><rect x="{x0:.1}" y="{y:.1}" width="{:.1}" height="18" rx="3"/><text x="{:.1}" y="{:.1}">{}</text></g>"#,
            op.process,
            interval(op),
            op.line,
            x1 - x0,
            x0 + 3.0,
            y + 13.0,
            escape(&truncate(&op.to_string(), ((x1 - x0) / 6.5) as usize))
        );
    }
    if let Some(c) = cut {
        let cx = x(c.max(t_min));
        let _ = write!(
            svg,
            r#"<line x1="{cx:.1}" x2="{cx:.1}" y1="18" y2="{}" stroke="rgb(204,0,0)" stroke-dasharray="4 3"/><text x="{:.1}" y="14" fill="rgb(204,0,0)">linearizable up to t={c}</text>"#,
            height - 20.0,
            cx + 4.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A self-contained HTML page (inline SVG and CSS, no scripts fetched) showing the checked
/// operations on a time axis. For a violation it shows the offending key, marks where its
/// history stops being linearizable and highlights the operations of the core.
pub fn html(result: &CheckResult, all_ops: &[Operation], title: &str) -> String {
    let culprit: Option<&Operation> = match &result.verdict {
        Verdict::Violation(v) => v.culprit.and_then(|i| v.core.get(i)),
        _ => None,
    };
    let shown = Shown::of(result, all_ops);
    let (ops, core, headline) = (&shown.ops, &shown.core, &shown.headline);
    let drawn: Vec<&Operation> = ops.iter().copied().take(MAX_DRAWN).collect();
    let svg = timeline_svg(&drawn, core, culprit, shown.cut);
    let core_list: String = core
        .iter()
        .map(|op| {
            let is_culprit = culprit.is_some_and(|c| std::ptr::eq(c, *op));
            let mark = if is_culprit {
                " &lt;== first operation with no valid place"
            } else {
                ""
            };
            format!(
                "<li>process {} {} <b>{}</b> (line {}){mark}</li>",
                op.process,
                interval(op),
                escape(&op.to_string()),
                op.line
            )
        })
        .collect();
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 20px; color: #222; }}
h1 {{ font-size: 20px; }} .verdict {{ font-size: 16px; font-weight: bold; color: {color}; }}
.legend span {{ display: inline-block; padding: 2px 8px; margin-right: 8px; border-radius: 3px; }}
g.core rect {{ fill: #e53935; }} g.culprit rect {{ stroke: #000; stroke-width: 3; }} g.core text {{ fill: #fff; font-weight: bold; }}
g.prefix rect {{ fill: #a5d6a7; }} g.plain rect {{ fill: #cfd8dc; }}
g.unknown rect {{ fill: #fff3e0; stroke: #fb8c00; stroke-dasharray: 4 2; }}
.timeline {{ overflow-x: auto; border: 1px solid #ddd; padding: 6px; }}
</style></head><body>
<h1>{title}</h1>
<p class="verdict">{headline}</p>
<p>{ops} operations over {keys} key(s); search {ms:.1} ms.{drawn_note}</p>
<p class="legend"><span style="background:#e53935;color:#fff">cannot be linearized together</span><span style="background:#a5d6a7">completed in the linearizable prefix</span><span style="background:#cfd8dc">other</span><span style="background:#fff3e0;border:1px dashed #fb8c00">outcome unknown (may take effect later, or never)</span></p>
{core_section}
<div class="timeline">{svg}</div>
</body></html>
"#,
        title = escape(title),
        color = if core.is_empty() {
            "#2e7d32"
        } else {
            "#c62828"
        },
        headline = escape(headline),
        ops = result.operations,
        keys = result.partitions,
        ms = result.search_time.as_secs_f64() * 1e3,
        drawn_note = if ops.len() > MAX_DRAWN {
            format!(
                " Showing the first {MAX_DRAWN} of {} operations.",
                ops.len()
            )
        } else {
            String::new()
        },
        core_section = if core.is_empty() {
            String::new()
        } else {
            format!("<h2>Operations that cannot be linearized together</h2><ul>{core_list}</ul>")
        },
    )
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else if max <= 1 {
        String::new()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}
