//! Transaction evidence: the advised parallel-commits design simulated at the context's group
//! size and latency with every fault (`distsys simulate --model txn`), classic 2PC beside it,
//! every history through the isolation checker; a run that breaks the claimed isolation level
//! or an invariant makes the answer unsafe, with the seed and the replay command.

use super::{measured, Evidence, SEEDS};
use distsys_advisor::advice::Advice;
use distsys_check::txn::{Consistency, TxnVerdict};
use distsys_sim::stats::percentile;
use distsys_sim::txn::{
    recovery_times, run_campaign, CommitFigures, CommitProtocol, RunResult, TxnSimConfig,
};

/// Most groups an evidence run simulates (the model's workload spreads a transaction over at
/// most 4 groups; more only dilutes contention).
const MAX_GROUPS: usize = 4;
/// Most nodes (each hosting a replica of every group) an evidence run simulates.
const MAX_NODES: usize = 9;

/// The simulated setup for the advised design: a group of the advised size (every node
/// hosting one replica of each group), as many groups as the cluster holds (1 to
/// [`MAX_GROUPS`]), the context's latency (whole ms, 1 to 500) and clock offset bound, the
/// advised commit wait, every fault.
pub fn txn_config(advice: &Advice, nodes: u32, latency_ms: f64, offset_ms: f64) -> TxnSimConfig {
    let c = &advice.configuration;
    let group = (c.group_size as usize).clamp(1, MAX_NODES);
    let groups = (nodes as usize).div_ceil(group).clamp(1, MAX_GROUPS);
    let mut config = TxnSimConfig::new(1, groups);
    config.nodes = group;
    config.latency_ms = (latency_ms.ceil() as u64).clamp(1, 500);
    config.max_skew_ms = (offset_ms.ceil() as u64).min(10_000);
    config.commit_wait_ms = c.commit_wait_ms.unwrap_or(0);
    config.protocol = CommitProtocol::Parallel;
    // Timers (and so the start of the clients and the faults' spacing) scale with the latency,
    // and every commit waits out the commit wait: the run scales with both, so a slow network
    // or a long wait gets as many transactions as a fast one (clients run for 60% of the run,
    // after two election timeouts).
    let by_timers = 4_000 * (config.election_min_ms() / 150).max(1);
    let by_wait = (config.clients_start_ms() * 2 + 15 * config.commit_wait_ms).min(120_000);
    config.duration_ms = by_timers.max(by_wait);
    config
}

/// The `distsys simulate` line that replays `seed` of `config`.
pub fn replay_command(config: &TxnSimConfig, seed: u64) -> String {
    format!(
        "distsys simulate --model txn --commit {} --groups {} --nodes {} --latency-ms {} \
         --max-skew-ms {} --commit-wait-ms {} --seed {seed}",
        config.protocol.name(),
        config.groups,
        config.nodes,
        config.latency_ms,
        config.max_skew_ms,
        config.commit_wait_ms,
    )
}

/// What one campaign measured, as a sentence.
fn figures(results: &[RunResult]) -> String {
    let commits = CommitFigures::of(results);
    if commits.latencies_us.is_empty() {
        return format!(
            "no read-write transaction committed in {} runs: nothing was measured (not a pass)",
            results.len()
        );
    }
    let sum = |f: &dyn Fn(&RunResult) -> u64| results.iter().map(f).sum::<u64>();
    let ms = |us: u64| us as f64 / 1_000.0;
    let attempts = sum(&|r| r.stats.attempts);
    let recovery = recovery_times(results);
    let claimed = results.first().map(|r| r.claimed);
    let holds = results.iter().filter(|r| !r.failed()).count();
    let strict = results
        .iter()
        .filter(|r| r.strict == TxnVerdict::Valid)
        .count();
    let violations: usize = results.iter().map(|r| r.violations.len()).sum();
    let strict = match claimed {
        Some(Consistency::StrictSerializable) => String::new(),
        _ => format!(" (strict serializable in {strict})"),
    };
    format!(
        "commit latency p50 {:.1} ms, p99 {:.1} ms, {:.2} consensus rounds on average ({} \
         commits); aborted {:.1}% of {attempts} attempts, {} transactions gave up after their \
         last retry; {} orphaned transactions taken over by a recoverer, their intents held \
         p50 {:.0} ms, max {:.0} ms; checker: {} in {holds} of {} runs{strict}, {violations} \
         invariant violation(s)",
        ms(percentile(&commits.latencies_us, 0.5).unwrap_or_default()),
        ms(percentile(&commits.latencies_us, 0.99).unwrap_or_default()),
        commits.mean_rounds,
        commits.latencies_us.len(),
        100.0 * sum(&|r| r.stats.aborts) as f64 / attempts.max(1) as f64,
        sum(&|r| r.stats.gave_up),
        recovery.len(),
        ms(percentile(&recovery, 0.5).unwrap_or_default()),
        ms(recovery.last().copied().unwrap_or_default()),
        claimed.map_or("(no run)", |c| c.name()),
        results.len(),
    )
}

/// What was simulated, as a phrase.
fn what(config: &TxnSimConfig, nodes: u32) -> String {
    format!(
        "{SEEDS} runs of {} s of {} over {} Raft groups of {} replicas (the cluster's {nodes} nodes hold \
         {} groups of this size; at most {MAX_GROUPS} simulated), {} ms latency, every fault \
         (crashes, partitions, 1% loss and duplication, clocks up to {} ms off), commit wait {} \
         ms; a contended workload: {} clients over {} keys, 1 to 4 operations per transaction",
        config.duration_ms / 1_000,
        match config.protocol {
            CommitProtocol::Parallel => "parallel commits",
            CommitProtocol::TwoPhase => "classic 2PC",
        },
        config.groups,
        config.nodes,
        (nodes as usize).div_ceil(config.nodes.max(1)),
        config.latency_ms,
        config.max_skew_ms,
        config.commit_wait_ms,
        config.clients,
        config.keys_per_group as usize * config.groups,
    )
}

/// Runs the advised transaction design (and classic 2PC beside it) and quotes commit latency,
/// abort rate, recovery of orphaned transactions and the checker's verdict; a run that breaks
/// the claimed isolation level or an invariant makes the design unsafe.
pub fn transaction(advice: &Advice, nodes: u32, latency_ms: f64, offset_ms: f64) -> Evidence {
    let mut evidence = Evidence::default();
    if advice.configuration.isolation.is_none() {
        evidence.rationale.push(measured(
            &advice.protocol.name,
            "not simulated: the simulator implements parallel commits and 2PC over Raft groups \
             (sagas and byzantine groups are not modelled)"
                .into(),
        ));
        return evidence;
    }
    let config = txn_config(advice, nodes, latency_ms, offset_ms);
    let advised = run_campaign(&config, SEEDS);
    evidence
        .rationale
        .push(measured(&what(&config, nodes), figures(&advised)));
    let mut classic = config.clone();
    classic.protocol = CommitProtocol::TwoPhase;
    let compared = run_campaign(&classic, SEEDS);
    evidence
        .rationale
        .push(measured(&what(&classic, nodes), figures(&compared)));
    let commits = CommitFigures::of(&advised).latencies_us;
    match percentile(&commits, 0.5) {
        Some(p50) => super::consensus::compare_latency(advice, p50 as f64 / 1_000.0, &mut evidence),
        None => evidence.warnings.push(distsys_advisor::advice::Warning {
            code: "evidence_inconclusive".into(),
            message: format!(
                "no transaction committed in the simulated runs ({} ms each, commit wait {} ms): \
                 the design's latency and isolation were not measured",
                config.duration_ms, config.commit_wait_ms
            ),
        }),
    }
    // The answer's own claim is the bar: a strict serializable answer fails on any run that
    // is not, whatever the simulated commit wait lets the run claim.
    let claims_strict = advice.configuration.isolation.as_deref() == Some("strict_serializable");
    let fails = |r: &RunResult| r.failed() || (claims_strict && r.strict != TxnVerdict::Valid);
    let failed = advised
        .iter()
        .map(|r| (&config, r))
        .chain(compared.iter().map(|r| (&classic, r)))
        .find(|(_, r)| fails(r));
    if let Some((config, run)) = failed {
        let mut why: Vec<String> = run
            .anomalies
            .iter()
            .chain(run.violations.iter())
            .take(3)
            .cloned()
            .collect();
        if why.is_empty() {
            why.push("a transaction serialized before one that finished before it began".into());
        }
        let claimed = match claims_strict {
            true => "strict-serializable",
            false => run.claimed.name(),
        };
        let message = format!(
            "the advised design failed its own simulation: seed {} is not {claimed} ({}); \
             replay: {}. Do not deploy this configuration.",
            run.seed,
            why.join("; "),
            replay_command(config, run.seed)
        );
        evidence.mark_unsafe(message);
    }
    evidence
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::example_advice as advice_for;

    /// The transaction example: both protocols measured, the claimed strict serializability
    /// held in every run with the advised commit wait, nothing unsafe.
    #[test]
    fn the_advised_transaction_design_passes_its_evidence() {
        let (context, advice) = advice_for("transaction.yaml");
        assert_eq!(advice.configuration.commit_wait_ms, Some(80));
        let evidence = transaction(&advice, context.cluster_config.nodes, 2.0, 40.0);
        assert!(evidence.unsafe_design.is_none(), "{:?}", evidence.warnings);
        let quoted: Vec<&str> = evidence
            .rationale
            .iter()
            .map(|r| r.choice.as_str())
            .collect();
        assert!(
            quoted[0].contains("strict-serializable in 20 of 20 runs"),
            "{quoted:?}"
        );
        assert!(evidence.rationale[0].input.contains("parallel commits"));
        assert!(evidence.rationale[1].input.contains("classic 2PC"));
        assert!(
            quoted.iter().any(|q| q.starts_with("computed ")),
            "{quoted:?}"
        );
    }

    /// A planted bad configuration: the answer claims strict serializability without its
    /// commit wait. The evidence must find the real-time inversion and refuse the design with
    /// a seed and a replay command that reproduces it.
    #[test]
    fn a_strict_claim_without_its_commit_wait_is_reported_unsafe() {
        let (context, mut advice) = advice_for("transaction.yaml");
        advice.configuration.commit_wait_ms = Some(0);
        let evidence = transaction(&advice, context.cluster_config.nodes, 2.0, 40.0);
        let why = evidence.unsafe_design.expect("reported unsafe");
        assert!(why.contains("is not strict-serializable"), "{why}");
        assert!(why.contains("--commit-wait-ms 0 --seed "), "{why}");
    }

    /// Runs in which nothing committed are no pass: the figures say nothing was measured
    /// (instead of "strict-serializable in 20 of 20 runs" over zero commits).
    #[test]
    fn runs_without_a_commit_measure_nothing() {
        assert!(figures(&[]).contains("nothing was measured"));
        let (_, mut advice) = advice_for("transaction.yaml");
        advice.configuration.commit_wait_ms = Some(4_000);
        let config = txn_config(&advice, 9, 2.0, 2_000.0);
        assert!(
            config.duration_ms >= 60_000,
            "a 4 s commit wait gets a run long enough to commit: {config:?}"
        );
    }

    /// Sagas are not simulated, and the answer says so instead of quoting nothing.
    #[test]
    fn designs_the_simulator_does_not_model_say_so() {
        let mut context = advice_for("transaction.yaml").0;
        context.consistency_requirement = distsys_advisor::Consistency::Eventual;
        let advice = distsys_advisor::advise(&context);
        let evidence = transaction(&advice, 9, 2.0, 40.0);
        assert!(evidence.rationale[0].choice.starts_with("not simulated"));
        assert!(evidence.unsafe_design.is_none());
    }
}
