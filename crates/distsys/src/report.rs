//! The `--format text` report: the advice laid out for a person to read.

use distsys_advisor::{Advice, DistributedContext};
use std::fmt::Write;

/// Renders the advice as a plain-text report.
pub fn text_report(context: &DistributedContext, advice: &Advice) -> String {
    let mut out = String::new();
    let c = &advice.configuration;
    let _ = writeln!(
        out,
        "distsys advice for {} ({} nodes, {} consistency{})",
        context.problem_type.as_str(),
        context.cluster_config.nodes,
        context.consistency_requirement.as_str(),
        if context.byzantine() {
            ", byzantine"
        } else {
            ""
        }
    );
    let _ = writeln!(out, "\nPROTOCOL  {}", advice.protocol.name);
    let _ = writeln!(out, "  {}", advice.protocol.description);
    let _ = writeln!(
        out,
        "  Guarantee: {}",
        advice.protocol.correctness_guarantee
    );
    let _ = writeln!(out, "\nCONFIGURATION");
    let config = serde_json::to_value(c).unwrap_or_default();
    if let Some(fields) = config.as_object() {
        let width = fields.keys().map(String::len).max().unwrap_or(0);
        for (name, value) in fields {
            let shown = match value {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Array(items) => items
                    .iter()
                    .map(|p| format!("{}:{}", p["region"].as_str().unwrap_or("?"), p["nodes"]))
                    .collect::<Vec<_>>()
                    .join(", "),
                other => other.to_string(),
            };
            let _ = writeln!(out, "  {name:<width$}  {shown}");
        }
    }
    let _ = writeln!(out, "\nFAILURE SCENARIOS");
    for (i, s) in advice.failure_scenarios.iter().enumerate() {
        let _ = writeln!(out, "  {}. {}", i + 1, s.scenario);
        let _ = writeln!(out, "     what happens: {}", s.behavior);
        let _ = writeln!(out, "     recovery:     {}", s.recovery);
    }
    let _ = writeln!(out, "\nRATIONALE");
    for r in &advice.rationale {
        let _ = writeln!(out, "  - {}\n      -> {}", r.input, r.choice);
    }
    let _ = writeln!(out, "\nWARNINGS");
    if advice.warnings.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for w in &advice.warnings {
        let _ = writeln!(out, "  ! [{}] {}", w.code, w.message);
    }
    out
}
