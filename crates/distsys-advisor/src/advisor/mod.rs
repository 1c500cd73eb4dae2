//! The advisor: from a validated [`DistributedContext`] to an [`Advice`].
//!
//! Every number is derived from the input by the formulas documented in [`crate::quorum`],
//! [`crate::timing`] and [`environment::Environment::new`]; each problem type has its own module
//! with its decision rule in the module documentation. The answer lists which input led to
//! which choice (`rationale`) and what in the input looks questionable (`warnings`).

mod conflict;
mod consensus;
pub mod environment;
pub mod figures;
pub mod operations;
mod partitioning;
mod replication;
mod scenarios;
mod transaction;
mod workload;

use crate::advice::{Advice, Configuration, FailureScenario, Protocol, Rationale, Warning};
use crate::context::{DistributedContext, ProblemType};
use environment::Environment;

/// Above this many voters one consensus group pays more in messages than it gains in tolerance.
pub const MAX_RECOMMENDED_VOTERS: u32 = 7;
/// From this partition probability on, a CP design is unavailable too often to ignore.
pub const HIGH_PARTITION_PROBABILITY: f64 = 0.2;

/// What a problem-type module decides; [`advise`] adds what every answer shares.
pub(crate) struct Answer {
    pub protocol: Protocol,
    pub write_path: figures::WritePath,
    pub configuration: Configuration,
    pub failure_scenarios: Vec<FailureScenario>,
    pub rationale: Vec<Rationale>,
    pub warnings: Vec<Warning>,
}

pub(crate) fn rationale(input: &str, choice: &str) -> Rationale {
    Rationale {
        input: input.to_string(),
        choice: choice.to_string(),
    }
}

pub(crate) fn warning(code: &str, message: String) -> Warning {
    Warning {
        code: code.to_string(),
        message,
    }
}

/// Answers a validated context. Pure and deterministic: the same context gives the same advice.
///
/// Guarantees (checked by property tests): `2 * quorum_size > group_size` for every quorum-based
/// answer (byzantine: any two quorums share at least `f + 1` nodes), `timeout_ms > heartbeat_ms`,
/// at least three failure scenarios, and output valid against [`crate::schema::output_schema`].
pub fn advise(context: &DistributedContext) -> Advice {
    advise_with(Environment::new(context))
}

/// [`advise`], plus the measurements that take longer than an instant answer should: the
/// partitioning scheme placed and loaded at the context's size (`advise --evidence`).
pub fn advise_measured(context: &DistributedContext) -> Advice {
    let mut env = Environment::new(context);
    env.measure = true;
    advise_with(env)
}

fn advise_with(env: Environment) -> Advice {
    let context = env.context;
    let mut answer = match context.problem_type {
        ProblemType::Consensus => consensus::answer(&env),
        ProblemType::Replication => replication::answer(&env),
        ProblemType::Partitioning => partitioning::answer(&env),
        ProblemType::Transaction => transaction::answer(&env),
        ProblemType::ConflictResolution => conflict::answer(&env),
    };
    // The availability of the configuration's own quorum (an answer may lower it from the
    // group's majority, e.g. leaderless W = 1).
    let c = &mut answer.configuration;
    c.quorum_availability = context.network_assumptions.partition_probability.map(|p| {
        (environment::quorum_availability(c.group_size, c.quorum_size, p) * 1e6).round() / 1e6
    });
    debug_assert!(answer.failure_scenarios.len() >= 3);
    debug_assert!(answer.configuration.timeout_ms > answer.configuration.heartbeat_ms);
    let mut rationale = common_rationale(&env, answer.configuration.quorum_size);
    rationale.extend(answer.rationale);
    let mut warnings = answer.warnings;
    warnings.extend(common_warnings(
        &env,
        &answer.protocol,
        &answer.configuration,
    ));
    warnings.extend(workload::workload_warnings(&env, &answer.configuration));
    let figures = figures::figures(&env, &answer.configuration, answer.write_path);
    let safety_mechanisms =
        operations::safety_mechanisms(&env, &answer.configuration, answer.write_path);
    let operations =
        operations::operations(&env, &answer.configuration, &figures, answer.write_path);
    Advice {
        problem_type: context.problem_type,
        figures,
        safety_mechanisms,
        operations,
        protocol: answer.protocol,
        configuration: answer.configuration,
        failure_scenarios: answer.failure_scenarios,
        rationale,
        warnings,
    }
}

fn common_rationale(env: &Environment, quorum: u32) -> Vec<Rationale> {
    let g = env.group;
    let kind = if g.byzantine { "byzantine" } else { "crash" };
    let f_input = if env.f_given {
        format!("cluster_config.failure_tolerance={}", env.f)
    } else {
        "cluster_config.failure_tolerance absent".to_string()
    };
    let f_choice = if env.learners() > 0 {
        format!(
            "f={}: what a voting group of {} tolerates ({kind} faults); the other {} nodes are \
             learners, outside every quorum",
            env.f,
            g.size,
            env.learners()
        )
    } else if env.f_given {
        format!("f={} {kind} faults as requested", env.f)
    } else {
        match env.context.problem_type {
            ProblemType::Partitioning | ProblemType::Transaction if env.f > 0 => format!(
                "f={}: one failure per replica group by default (groups of {}, the usual \
                 production choice)",
                env.f, g.size
            ),
            ProblemType::Partitioning | ProblemType::Transaction => format!(
                "f=0: {} node(s) are fewer than a group that survives one {kind} failure needs \
                 ({}), so each group is {} node(s) and tolerates none",
                env.nodes,
                if g.byzantine { 4 } else { 3 },
                g.size
            ),
            _ => format!(
                "f={}: the most {kind} faults {} nodes survive ({})",
                env.f,
                env.nodes,
                if g.byzantine { "(n-1)/3" } else { "(n-1)/2" }
            ),
        }
    };
    let quorum_formula = if g.byzantine {
        format!("floor((n+f)/2)+1 = floor(({}+{})/2)+1", g.size, g.f)
    } else {
        format!("floor(n/2)+1 = floor({}/2)+1", g.size)
    };
    let t = env.timing;
    let latency_input = if env.latency_given {
        format!("network_assumptions.latency_ms={}", t.latency_ms)
    } else if env.regions().len() > 1 {
        format!(
            "network_assumptions.latency_ms absent, {} regions: {} ms assumed",
            env.regions().len(),
            t.latency_ms
        )
    } else {
        format!(
            "network_assumptions.latency_ms absent, one region: {} ms assumed",
            t.latency_ms
        )
    };
    let mut out = vec![
        rationale(&f_input, &f_choice),
        rationale(
            &format!("cluster_config.nodes={}", env.nodes),
            &format!(
                "group of {} nodes, quorum {} = {}",
                g.size, g.quorum, quorum_formula
            ),
        ),
        rationale(
            &latency_input,
            &format!(
                "rtt {} ms; heartbeat {} ms = max(50, ceil(1.5 x rtt)); failure-detection timeout \
                 randomised in [{}, {}) ms = [max(3 x heartbeat, 10 x rtt), 2 x that); client \
                 request timeout {} ms = max election timeout + 4 x rtt",
                t.rtt_ms,
                t.heartbeat_ms,
                t.election_timeout_min_ms,
                t.election_timeout_max_ms,
                t.request_timeout_ms
            ),
        ),
    ];
    if let Some(survives) = env.survives_region_loss(quorum) {
        let shares: Vec<String> = env
            .placement
            .iter()
            .map(|p| format!("{}={}", p.region, p.nodes))
            .collect();
        out.push(rationale(
            &format!("cluster_config.regions={:?}", env.regions()),
            &format!(
                "members placed round-robin ({}); losing the largest region {} the quorum",
                shares.join(", "),
                if survives { "keeps" } else { "loses" }
            ),
        ));
    }
    out
}

/// The warnings every answer may carry, in a fixed order: group size and tolerance, timers
/// and partitions, voters and regions, then what the context asks for.
fn common_warnings(
    env: &Environment,
    protocol: &Protocol,
    configuration: &Configuration,
) -> Vec<Warning> {
    let ctx = env.context;
    let leader_group = !matches!(
        ctx.problem_type,
        ProblemType::Partitioning | ProblemType::Transaction
    ) && !protocol.name.starts_with("Leaderless")
        && !protocol.name.starts_with("CRDT")
        && !protocol.name.contains("version vectors");
    let mut out = Vec::new();
    size_warnings(env, leader_group, &mut out);
    timing_warnings(env, configuration, &mut out);
    voter_and_region_warnings(env, configuration, leader_group, &mut out);
    context_warnings(env, &mut out);
    out
}

/// One node, an even group, a capped or zero failure tolerance.
fn size_warnings(env: &Environment, leader_group: bool, out: &mut Vec<Warning>) {
    let g = env.group;
    if g.size == 1 {
        out.push(warning(
            "single_node",
            "one node tolerates no failure at all: any crash is an outage and may lose data".into(),
        ));
    } else if g.size == 2 && !g.byzantine && leader_group {
        out.push(warning(
            "two_nodes_need_a_witness",
            "2 voters need 2 of 2 for every decision, so either crash stops writes: add a witness \
             (a third voter that stores the log's metadata but no data, on a separate machine or \
             zone), giving a quorum of 2 of 3 that survives one crash"
                .into(),
        ));
    } else if g.size.is_multiple_of(2) && !g.byzantine && leader_group {
        out.push(warning(
            "even_node_count",
            format!(
                "{} nodes tolerate {} crash(es), as many as {} nodes do: the extra node adds \
                 cost and a larger quorum ({}) but no tolerance",
                g.size,
                crate::quorum::max_crash_faults(g.size),
                g.size - 1,
                g.quorum
            ),
        ));
    }
    if let Some(asked) = env.context.cluster_config.failure_tolerance {
        if env.learners() > 0 && u64::from(asked) > u64::from(env.f) {
            out.push(warning(
                "failure_tolerance_capped",
                format!(
                    "failure_tolerance {asked} asks for {} voters; the design keeps {} voters \
                     (tolerating {}) and {} learners: larger voting groups slow every commit; \
                     for more tolerance, shard the data over several groups",
                    2 * u64::from(asked) + 1,
                    g.size,
                    env.f,
                    env.learners()
                ),
            ));
        }
    }
    if env.f_given && env.f == 0 && env.nodes >= 3 {
        out.push(warning(
            "no_fault_tolerance",
            format!(
                "failure_tolerance is 0 with {} nodes: the design is allowed to stop at the first \
                 failure although the nodes could survive {}",
                env.nodes,
                if g.byzantine {
                    crate::quorum::max_byzantine_faults(env.nodes)
                } else {
                    crate::quorum::max_crash_faults(env.nodes)
                }
            ),
        ));
    }
}

/// Timers shorter than the latency allows; a partition probability too high for a CP design.
fn timing_warnings(env: &Environment, configuration: &Configuration, out: &mut Vec<Warning>) {
    let ctx = env.context;
    // Only answers with an election timer can flap.
    if configuration.election_timeout_max_ms.is_some() && env.timing.classic_timeouts_too_short() {
        out.push(warning(
            "latency_exceeds_default_timeouts",
            format!(
                "latency {} ms (rtt {} ms): the common 150-300 ms election timeout is shorter than \
                 ten round trips and would make leaders flap; use the derived {}-{} ms",
                env.timing.latency_ms,
                env.timing.rtt_ms,
                env.timing.election_timeout_min_ms,
                env.timing.election_timeout_max_ms
            ),
        ));
    }
    let cp = ctx.consistency_requirement.needs_total_order()
        || ctx.problem_type == ProblemType::Consensus;
    if cp && env.partition_probability >= HIGH_PARTITION_PROBABILITY {
        out.push(warning(
            "partition_probability_high",
            format!(
                "partition probability {}: a consistent (CP) design refuses writes on every side \
                 without a quorum, so expect to be unavailable for a large share of the time; \
                 consider causal or eventual consistency if that is acceptable",
                env.partition_probability
            ),
        ));
    }
}

/// What to do when losing the largest region loses the quorum: with two regions, the 2-2-1
/// layout (a witness voter in a third failure domain); otherwise spread over three regions.
fn region_loss_remedy(env: &Environment, quorum: u32) -> String {
    let g = env.group;
    let largest = env.placement.first().map_or(0, |p| p.nodes);
    let lost = format!(
        "with {} region(s), the largest holds {largest} of {} group members: losing it loses the \
         quorum of {quorum}",
        env.regions().len(),
        g.size
    );
    if env.regions().len() != 2 || g.byzantine {
        let spread = scenarios::spread_to_survive(g.size, quorum);
        return format!("{lost}; {}", spread.to_lowercase());
    }
    // 2-2-1: the two regions hold equal halves of the data voters, a witness in a third
    // failure domain breaks the tie; losing either region leaves a quorum.
    let half = (g.size / 2).max(1);
    let voters = 2 * half + 1;
    let q = crate::quorum::crash_quorum(voters);
    format!(
        "{lost}; use a {half}-{half}-1 layout instead: {half} voters in each region and 1 witness \
         (a voter holding the log's metadata, no data) in a third failure domain (another zone or \
         a small third region); losing either region leaves {} of {voters}, a quorum of {q}",
        half + 1
    )
}

/// Too many voters; regions whose loss loses the quorum, outnumber the nodes, or look too close.
fn voter_and_region_warnings(
    env: &Environment,
    configuration: &Configuration,
    leader_group: bool,
    out: &mut Vec<Warning>,
) {
    let g = env.group;
    if leader_group && g.size > MAX_RECOMMENDED_VOTERS {
        out.push(warning(
            "too_many_voters",
            format!(
                "{} voters in one group: every commit waits for {} of them and the leader sends \
                 {} messages per round; keep {MAX_RECOMMENDED_VOTERS} or fewer voters and add the \
                 rest as non-voting learners (or shard into several groups)",
                g.size,
                g.quorum,
                g.size - 1
            ),
        ));
    }
    if env.survives_region_loss(configuration.quorum_size) == Some(false) {
        out.push(warning(
            "region_loss_loses_quorum",
            region_loss_remedy(env, configuration.quorum_size),
        ));
    }
    if env.regions().len() > env.nodes as usize {
        out.push(warning(
            "more_regions_than_nodes",
            format!(
                "{} regions for {} nodes: some regions get no node",
                env.regions().len(),
                env.nodes
            ),
        ));
    }
    if env.regions().len() > 1 && env.latency_given && env.timing.latency_ms < 5.0 {
        out.push(warning(
            "latency_low_for_regions",
            format!(
                "latency {} ms across {} regions looks like a single-datacenter figure; timeouts \
                 derived from it will be too short if regions are far apart",
                env.timing.latency_ms,
                env.regions().len()
            ),
        ));
    }
}

/// Consistency weaker than consensus gives; byzantine without a tolerated liar.
fn context_warnings(env: &Environment, out: &mut Vec<Warning>) {
    let (g, ctx) = (env.group, env.context);
    if ctx.problem_type == ProblemType::Consensus
        && !ctx.consistency_requirement.needs_total_order()
    {
        out.push(warning(
            "consistency_weaker_than_consensus",
            format!(
                "consensus gives linearizability, stronger than the {} consistency asked for; a \
                 replication or conflict_resolution design may be cheaper and stay available under partition",
                ctx.consistency_requirement.as_str()
            ),
        ));
    }
    if g.byzantine && g.f == 0 {
        out.push(warning(
            "byzantine_without_tolerance",
            format!(
                "byzantine is set but f = 0 ({} node(s)): no lying node is tolerated; byzantine \
                 tolerance needs at least 4 nodes",
                env.nodes
            ),
        ));
    }
}

mod expert_suite;
#[cfg(test)]
mod tests;
