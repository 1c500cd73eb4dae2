//! `advise --evidence`: runs the simulations behind an answer at the context's size and
//! latency and quotes what they measured, as extra rationale entries: consensus campaigns
//! (and timers that pass when the advised ones stall) in [`consensus`], primary-backup,
//! leaderless and causal runs in [`replication`], transactions over Raft groups (parallel
//! commits beside classic 2PC, histories through the isolation checker) in [`transaction`].

pub mod consensus;
pub mod replication;
pub mod transaction;

use distsys_advisor::advice::{Advice, Rationale, Warning};
use distsys_advisor::{DistributedContext, ProblemType};

/// Seeds per measurement: enough for a stable figure, few enough to answer in a second.
pub const SEEDS: u64 = 20;

/// A rationale entry quoting a measurement.
pub(crate) fn measured(what: &str, figures: String) -> Rationale {
    Rationale {
        input: format!("measured in simulation: {what}"),
        choice: figures,
    }
}

/// What the simulations behind an answer found, and what they changed in it.
#[derive(Debug, Default)]
pub struct Evidence {
    /// Measured rationale entries.
    pub rationale: Vec<Rationale>,
    /// Warnings the measurements raised (the answer changed, or is unsafe).
    pub warnings: Vec<Warning>,
    /// Set when the advised design failed in simulation and no safe variant was found: the
    /// answer must not be recommended (exit 1), with the seed and how to replay it.
    pub unsafe_design: Option<String>,
}

impl Evidence {
    /// The advised design failed its own simulation: the answer must not be recommended; the
    /// message (with the seed and the replay command) is also its `evidence_unsafe` warning.
    pub fn mark_unsafe(&mut self, message: String) {
        self.warnings.push(Warning {
            code: "evidence_unsafe".into(),
            message: message.clone(),
        });
        self.unsafe_design = Some(message);
    }
}

/// Runs the simulations behind `advice` at the context's size and latency, and applies what
/// they show: a configuration its own evidence finds stalling is replaced by one that passes
/// (both measurements quoted); one that breaks safety is reported unsafe.
pub fn gather(context: &DistributedContext, advice: &mut Advice) -> Evidence {
    let latency_ms = context
        .network_assumptions
        .latency_ms
        .unwrap_or(1.0)
        .max(0.1);
    match context.problem_type {
        ProblemType::Consensus => consensus::consensus(advice, latency_ms, None),
        ProblemType::Replication => Evidence {
            rationale: replication::replication(advice, latency_ms),
            ..Evidence::default()
        },
        ProblemType::ConflictResolution => Evidence {
            rationale: vec![replication::conflicts()],
            ..Evidence::default()
        },
        ProblemType::Transaction => transaction::transaction(
            advice,
            context.cluster_config.nodes,
            latency_ms,
            context.network_assumptions.max_clock_offset_ms(),
        ),
        ProblemType::Partitioning => Evidence::default(),
    }
}

/// A built-in example's context and its advice (tests).
#[cfg(test)]
pub(crate) fn example_advice(example: &str) -> (DistributedContext, Advice) {
    let path = format!("{}/../../examples/{example}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("the example is readable");
    let format = distsys_advisor::Format::from_path(&path);
    let Ok(context) = distsys_advisor::parse_context(&text, format) else {
        panic!("cannot parse {path}");
    };
    let advice = distsys_advisor::advise(&context);
    (context, advice)
}
