//! `distsys bench advise`: advise latency.

use crate::EXIT_OK;
use distsys_advisor::{advise, Consistency, DistributedContext, ProblemType};
use std::io::Write;
use std::time::Instant;

/// Times parse + validate + advise (the whole job of `distsys advise`) for a spread of contexts.
pub fn run(iterations: u32, stdout: &mut dyn Write) -> i32 {
    let mut cases: Vec<(String, String)> = Vec::new();
    for problem in ProblemType::ALL {
        for consistency in Consistency::ALL {
            for byzantine in [false, true] {
                for nodes in [3u32, 7, 100, 1000] {
                    let mut ctx = DistributedContext::new(problem, nodes);
                    ctx.consistency_requirement = consistency;
                    ctx.network_assumptions.byzantine = byzantine;
                    ctx.cluster_config.regions = vec!["eu".into(), "us".into(), "ap".into()];
                    let name = format!(
                        "{}/{}/{}/n{nodes}",
                        problem.as_str(),
                        consistency.as_str(),
                        if byzantine { "byz" } else { "crash" }
                    );
                    cases.push((name, serde_json::to_string(&ctx).unwrap_or_default()));
                }
            }
        }
    }
    let _ = writeln!(
        stdout,
        "advise latency (parse + validate + advise), {iterations} iterations per context"
    );
    let mut per_case: Vec<(f64, String)> = Vec::new();
    for (name, text) in &cases {
        let start = Instant::now();
        for _ in 0..iterations {
            if let Ok(ctx) = distsys_advisor::parse_context(std::hint::black_box(text), None) {
                std::hint::black_box(advise(&ctx));
            }
        }
        per_case.push((
            start.elapsed().as_secs_f64() * 1e6 / f64::from(iterations),
            name.clone(),
        ));
    }
    per_case.sort_by(|a, b| a.0.total_cmp(&b.0));
    let median = per_case[per_case.len() / 2].0;
    let (worst, worst_name) = per_case.last().cloned().unwrap_or_default();
    let mean = per_case.iter().map(|c| c.0).sum::<f64>() / per_case.len() as f64;
    let _ = writeln!(stdout, "contexts: {}", per_case.len());
    let _ = writeln!(stdout, "mean   {mean:10.1} us per answer");
    let _ = writeln!(stdout, "median {median:10.1} us per answer");
    let _ = writeln!(stdout, "worst  {worst:10.1} us per answer ({worst_name})");
    let _ = writeln!(
        stdout,
        "goal   {:10.1} us per answer (50 ms): {}",
        50_000.0,
        if worst < 50_000.0 { "met" } else { "NOT met" }
    );
    EXIT_OK
}
