//! The text explanation of a transactional check: the verdict, each anomaly class with
//! its count, each cycle edge by edge saying why it holds, and the transactions involved.

use super::anomaly::Anomaly;
use super::append::shown_list;
use super::graph::{Edge, Rel, NONE};
use super::history::{Mop, ReadValue, Status, TxnHistory};
use super::infer::tname;
use super::{TxnResult, TxnVerdict};
use crate::report::escape;
use std::fmt::Write;

/// Why one edge holds, in one line.
pub fn explain_edge(history: &TxnHistory, e: &Edge) -> String {
    let show = |a| {
        if a == NONE {
            "nil".to_string()
        } else {
            history.atoms.show(a).to_string()
        }
    };
    let (from, to, k) = (tname(e.from), tname(e.to), show(e.key));
    let append = history
        .txns
        .get(e.to as usize)
        .is_some_and(|t| t.mops.iter().any(|m| matches!(m, Mop::Append { .. })))
        || history
            .txns
            .get(e.from as usize)
            .is_some_and(|t| t.mops.iter().any(|m| matches!(m, Mop::Append { .. })));
    match (e.rel, append) {
        (Rel::Ww, true) => format!(
            "{from} appended {} to key {k} before {to} appended {} (key {k}'s version order) (ww)",
            show(e.a),
            show(e.b)
        ),
        (Rel::Ww, false) => format!(
            "{to} read key {k} = {} ({from}'s write) and then wrote {}: its version follows (ww)",
            show(e.a),
            show(e.b)
        ),
        (Rel::Wr, true) => format!(
            "{to} read key {k} ending with {}, which {from} appended (wr)",
            show(e.a)
        ),
        (Rel::Wr, false) => format!("{to} read key {k} = {}, written by {from} (wr)", show(e.a)),
        (Rel::Rw, true) if e.a == NONE => format!(
            "{from} read key {k} = [] without {}, which {to} appended (rw)",
            show(e.b)
        ),
        (Rel::Rw, true) => format!(
            "{from} read key {k} up to {} without {}, which {to} appended (rw)",
            show(e.a),
            show(e.b)
        ),
        (Rel::Rw, false) => format!(
            "{from} read key {k} = {}, a version {to}'s write of {} follows (rw)",
            show(e.a),
            show(e.b)
        ),
        (Rel::Process, _) => format!(
            "{from} completed before {to} began on the same process {} (process)",
            history.txns[e.from as usize]
                .process
                .map_or("?".into(), |p| p.to_string())
        ),
        (Rel::Realtime, _) => format!(
            "{from} completed (line {}) before {to} was invoked (realtime)",
            history.txns[e.from as usize].line
        ),
    }
}

/// A transaction as `T3 (ok, process 1, line 8): [append 250 10] [r 253 [1 3 4]]`.
pub fn show_txn(history: &TxnHistory, txn: u32) -> String {
    let t = &history.txns[txn as usize];
    let status = match t.status {
        Status::Ok => "ok",
        Status::Fail => "fail",
        Status::Info => "info",
    };
    let process = t.process.map_or("none".into(), |p| p.to_string());
    let mops: Vec<String> = t
        .mops
        .iter()
        .map(|m| match m {
            Mop::Append { key, value } => format!(
                "[append {} {}]",
                history.atoms.show(*key),
                history.atoms.show(*value)
            ),
            Mop::Write { key, value } => format!(
                "[w {} {}]",
                history.atoms.show(*key),
                history.atoms.show(*value)
            ),
            Mop::Read { key, value } => {
                let v = match value {
                    ReadValue::Unknown | ReadValue::Nil => "nil".to_string(),
                    ReadValue::Value(v) => history.atoms.show(*v).to_string(),
                    ReadValue::List(l) => shown_list(history, l),
                };
                format!("[r {} {v}]", history.atoms.show(*key))
            }
        })
        .collect();
    format!(
        "{} ({status}, process {process}, line {}): {}",
        tname(txn),
        t.line,
        mops.join(" ")
    )
}

/// The verdict line: `serializable: NOT satisfied ...`.
pub fn verdict_line(history: &TxnHistory, result: &TxnResult) -> String {
    let (ok, fail, info) = history.counts();
    let verdict = match result.verdict {
        TxnVerdict::Valid => "valid",
        TxnVerdict::Invalid => "NOT valid",
        TxnVerdict::Unknown => "unknown (search budget exhausted)",
    };
    let classes: Vec<String> = result.classes().iter().map(|k| k.name()).collect();
    let found = if classes.is_empty() {
        "no anomalies".to_string()
    } else {
        format!("anomalies: {}", classes.join(", "))
    };
    format!(
        "{} {verdict} ({}, {} txns: {ok} ok, {fail} fail, {info} info; {} edges; {found})",
        result.consistency.name(),
        result.model.name(),
        history.txns.len(),
        result.graph.edges.len()
    )
}

/// The models the findings rule out, among those whose orderings were searched (the asked
/// model's variants): e.g. `read-committed, snapshot-isolation` for a G-single.
pub fn ruled_out(result: &TxnResult) -> Vec<&'static str> {
    let searched = result.consistency.variants();
    super::anomaly::MODELS
        .iter()
        .filter(|m| m.variants().iter().all(|v| searched.contains(v)))
        .filter(|m| result.verdict_for(**m) == TxnVerdict::Invalid)
        .map(|m| m.name())
        .collect()
}

/// The full explanation: the verdict line, then up to `per_class` anomalies of each class,
/// each with its cycle edge by edge and its transactions.
pub fn render(history: &TxnHistory, result: &TxnResult, per_class: usize) -> String {
    let mut out = verdict_line(history, result);
    out.push('\n');
    let out_models = ruled_out(result);
    if !out_models.is_empty() {
        let _ = writeln!(out, "ruled out: {}", out_models.join(", "));
    }
    for kind in result.classes() {
        let all: Vec<&Anomaly> = result.anomalies.iter().filter(|a| a.kind == kind).collect();
        let forbidden = if result.consistency.forbids(kind) {
            "forbidden"
        } else {
            "allowed"
        };
        let _ = writeln!(
            out,
            "{kind} ({} found, {forbidden} by {}):",
            all.len(),
            result.consistency.name()
        );
        for a in all.iter().take(per_class) {
            if a.cycle.is_empty() {
                let _ = writeln!(out, "  {}", a.detail);
            } else {
                let names: Vec<String> = a.cycle.iter().map(|e| tname(e.from)).collect();
                let _ = writeln!(out, "  cycle {} -> {}", names.join(" -> "), names[0]);
                for e in &a.cycle {
                    let _ = writeln!(out, "    {}", explain_edge(history, e));
                }
            }
            for &t in &a.txns {
                let _ = writeln!(out, "    {}", show_txn(history, t));
            }
        }
        if all.len() > per_class {
            let _ = writeln!(out, "  ... and {} more", all.len() - per_class);
        }
    }
    for (class, variant) in &result.undecided {
        let kind = super::AnomalyKind::Cycle(*class, *variant);
        let _ = writeln!(out, "{kind}: undecided (search budget exhausted)");
    }
    out
}

/// A self-contained HTML page: the verdict, the models ruled out, and per class up to
/// `per_class` anomalies, each cycle as a table of edges (relation, why) and its transactions.
pub fn html(history: &TxnHistory, result: &TxnResult, title: &str, per_class: usize) -> String {
    let color = match result.verdict {
        TxnVerdict::Valid => "#2e7d32",
        TxnVerdict::Invalid => "#c62828",
        TxnVerdict::Unknown => "#ef6c00",
    };
    let mut body = String::new();
    for kind in result.classes() {
        let all: Vec<&Anomaly> = result.anomalies.iter().filter(|a| a.kind == kind).collect();
        let forbidden = result.consistency.forbids(kind);
        let _ = write!(
            body,
            "<h2 class=\"{}\">{} ({} found, {} by {})</h2>",
            if forbidden { "bad" } else { "ok" },
            escape(&kind.name()),
            all.len(),
            if forbidden { "forbidden" } else { "allowed" },
            result.consistency.name()
        );
        for a in all.iter().take(per_class) {
            body.push_str("<table><tr><th>edge</th><th>why</th></tr>");
            if a.cycle.is_empty() {
                let _ = write!(body, "<tr><td></td><td>{}</td></tr>", escape(&a.detail));
            }
            for e in &a.cycle {
                let _ = write!(
                    body,
                    "<tr><td class=\"{}\">{} &rarr; {}</td><td>{}</td></tr>",
                    e.rel.name(),
                    tname(e.from),
                    tname(e.to),
                    escape(&explain_edge(history, e))
                );
            }
            body.push_str("</table><ul>");
            for &t in &a.txns {
                let _ = write!(
                    body,
                    "<li><code>{}</code></li>",
                    escape(&show_txn(history, t))
                );
            }
            body.push_str("</ul>");
        }
    }
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{t}</title><style>\n\
         body {{ font-family: sans-serif; margin: 20px; color: #222; }}\n\
         .verdict {{ font-size: 16px; font-weight: bold; color: {color}; }}\n\
         h2 {{ font-size: 16px; }} h2.bad {{ color: #c62828; }} h2.ok {{ color: #555; }}\n\
         table {{ border-collapse: collapse; margin: 6px 0; }} td, th {{ border: 1px solid #ddd; padding: 3px 8px; text-align: left; }}\n\
         td.rw {{ background: #ffcdd2; }} td.wr {{ background: #c8e6c9; }} td.ww {{ background: #bbdefb; }}\n\
         td.process, td.realtime {{ background: #eeeeee; }}\n\
         </style></head><body><h1>{t}</h1><p class=\"verdict\">{v}</p><p>ruled out: {r}</p>{body}</body></html>\n",
        t = escape(title),
        v = escape(&verdict_line(history, result)),
        r = escape(&ruled_out(result).join(", ")),
    )
}
