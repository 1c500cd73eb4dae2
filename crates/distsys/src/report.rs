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
    figures_section(&mut out, advice);
    let _ = writeln!(out, "\nFAILURE SCENARIOS");
    for (i, s) in advice.failure_scenarios.iter().enumerate() {
        let _ = writeln!(out, "  {}. {}", i + 1, s.scenario);
        let _ = writeln!(out, "     what happens: {}", s.behavior);
        let _ = writeln!(out, "     recovery:     {}", s.recovery);
    }
    let _ = writeln!(out, "\nSAFETY MECHANISMS");
    for m in &advice.safety_mechanisms {
        let _ = writeln!(out, "  - {}: {}", m.name, m.why);
    }
    operations_section(&mut out, advice);
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

fn figures_section(out: &mut String, advice: &Advice) {
    let f = &advice.figures;
    let _ = writeln!(out, "\nFIGURES");
    let _ = writeln!(
        out,
        "  commit latency    {} ms (+ {} ms client round trip from the leader's region)",
        f.commit_latency_ms, f.client_hop_ms
    );
    let reads: Vec<String> = f
        .read_latency_ms
        .iter()
        .map(|r| format!("{} {} ms", r.path, r.latency_ms))
        .collect();
    let _ = writeln!(out, "  read latency      {}", reads.join(", "));
    if let Some(ms) = f.failover_ms {
        let _ = writeln!(out, "  failover          {ms} ms");
    }
    let _ = writeln!(out, "  messages/write    {}", f.messages_per_write);
    if let Some(a) = f.write_availability {
        let _ = writeln!(out, "  availability      {a} (writes)");
    }
    let _ = writeln!(
        out,
        "  cost              {} nodes, {} region(s), {} cross-region round(s) per write",
        f.nodes, f.regions, f.cross_region_rounds_per_write
    );
    if let Some(region) = &f.leader_region {
        let _ = writeln!(out, "  leader in         {region}");
    }
    let _ = writeln!(out, "  model             {}", f.model);
}

fn operations_section(out: &mut String, advice: &Advice) {
    let _ = writeln!(out, "\nOPERATIONS");
    for m in &advice.operations.monitor {
        let _ = writeln!(out, "  watch {}: {} ({})", m.metric, m.threshold, m.why);
    }
    for r in &advice.operations.runbooks {
        let _ = writeln!(out, "  {}:", r.name);
        for (i, step) in r.steps.iter().enumerate() {
            let _ = writeln!(out, "    {}. {step}", i + 1);
        }
    }
}
