//! The numbers every answer is derived from: effective fault budget, group size, quorum, timers,
//! placement over regions. Computed once from a validated context.

use crate::advice::{Configuration, RegionPlacement};
use crate::context::{Consistency, DistributedContext, ProblemType};
use crate::quorum::{
    byzantine_quorum, crash_quorum, max_byzantine_faults, max_crash_faults, min_nodes_byzantine,
    min_nodes_crash,
};
use crate::timing::{Timing, DEFAULT_LATENCY_MS_CROSS_REGION, DEFAULT_LATENCY_MS_LOCAL};

/// One replication (or consensus) group: its size, fault budget and quorum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Group {
    /// Voters or replicas in the group.
    pub size: u32,
    /// Faults the group survives.
    pub f: u32,
    /// Decision quorum.
    pub quorum: u32,
    /// Whether faults are byzantine.
    pub byzantine: bool,
}

impl Group {
    /// Members that may be lost while a quorum remains: `size - quorum`.
    pub fn spare(&self) -> u32 {
        self.size.saturating_sub(self.quorum)
    }

    /// A group of `size` members tolerating `f` faults of the given kind.
    /// Precondition: `size >= 2f + 1` (crash) or `size >= 3f + 1` (byzantine).
    pub fn new(size: u32, f: u32, byzantine: bool) -> Group {
        let quorum = if byzantine {
            byzantine_quorum(size, f)
        } else {
            crash_quorum(size)
        };
        debug_assert!(
            size - f >= quorum,
            "group of {size} with f={f} must keep a quorum of {quorum}"
        );
        Group {
            size,
            f,
            quorum,
            byzantine,
        }
    }
}

/// Everything derived from the context that more than one answer needs.
#[derive(Debug, Clone)]
pub struct Environment<'a> {
    /// The validated input.
    pub context: &'a DistributedContext,
    /// Nodes in the cluster.
    pub nodes: u32,
    /// The fault budget used (given, or the documented default).
    pub f: u32,
    /// Whether `failure_tolerance` was given.
    pub f_given: bool,
    /// The replication/consensus group the answer configures.
    pub group: Group,
    /// Timers derived from the latency.
    pub timing: Timing,
    /// Whether `latency_ms` was given.
    pub latency_given: bool,
    /// Partition probability (0 when absent).
    pub partition_probability: f64,
    /// Group members per region, round-robin, largest first (empty without regions).
    pub placement: Vec<RegionPlacement>,
    /// Whether to run the measurements behind the answer (partitioning schemes placed at the
    /// context's size); off for an instant answer, on for `advise --evidence`.
    pub measure: bool,
}

impl<'a> Environment<'a> {
    /// Derives the environment.
    ///
    /// Group and default fault budget:
    /// - consensus, replication, conflict_resolution: the group is every node; without a given
    ///   `f`, the largest the node count allows ((n-1)/2 crash, (n-1)/3 byzantine).
    /// - partitioning, transaction: data is split over groups of `2f+1` (`3f+1` byzantine)
    ///   nodes; without a given `f`, `f = 1` when there are enough nodes (3 replicas, the usual
    ///   production default; 4 when byzantine), else 0.
    pub fn new(context: &'a DistributedContext) -> Environment<'a> {
        let nodes = context.cluster_config.nodes;
        let byzantine = context.byzantine();
        let max_f = |n: u32| {
            if byzantine {
                max_byzantine_faults(n)
            } else {
                max_crash_faults(n)
            }
        };
        // Crash-fault consensus over more nodes than one group should vote with: a voting
        // group of at most MAX_RECOMMENDED_VOTERS, the rest learners.
        let voters_and_learners = context.problem_type == ProblemType::Consensus
            && !byzantine
            && nodes > super::MAX_RECOMMENDED_VOTERS;
        let spans_all_nodes = matches!(
            context.problem_type,
            ProblemType::Consensus | ProblemType::Replication | ProblemType::ConflictResolution
        );
        let f_given = context.cluster_config.failure_tolerance.is_some();
        let f = context.cluster_config.failure_tolerance.unwrap_or_else(|| {
            if spans_all_nodes {
                max_f(nodes)
            } else {
                // One fault per group: 3 replicas, or 4 for one byzantine fault.
                max_f(nodes.min(if byzantine { 4 } else { 3 })).min(1)
            }
        });
        let (f, size) = if voters_and_learners {
            // 2f+1 voters for the asked f, between 3 and 7; f what those voters tolerate.
            let voters = u32::try_from(min_nodes_crash(u64::from(f)))
                .unwrap_or(u32::MAX)
                .clamp(3, super::MAX_RECOMMENDED_VOTERS);
            (max_crash_faults(voters), voters)
        } else {
            (f, 0)
        };
        let size = if voters_and_learners {
            size
        } else if spans_all_nodes {
            nodes
        } else {
            let needed = if byzantine {
                min_nodes_byzantine(u64::from(f))
            } else {
                min_nodes_crash(u64::from(f))
            };
            nodes.min(u32::try_from(needed).unwrap_or(u32::MAX))
        };
        let group = Group::new(size, f, byzantine);
        let regions = &context.cluster_config.regions;
        let latency_ms = context
            .network_assumptions
            .latency_ms
            .unwrap_or(if regions.len() > 1 {
                DEFAULT_LATENCY_MS_CROSS_REGION
            } else {
                DEFAULT_LATENCY_MS_LOCAL
            });
        Environment {
            context,
            nodes,
            f,
            f_given,
            group,
            timing: Timing::from_latency_ms(latency_ms),
            latency_given: context.network_assumptions.latency_ms.is_some(),
            partition_probability: context
                .network_assumptions
                .partition_probability
                .unwrap_or(0.0),
            placement: round_robin(size, regions),
            measure: false,
        }
    }

    /// The consistency the user asked for.
    pub fn consistency(&self) -> Consistency {
        self.context.consistency_requirement
    }

    /// Whether faults are byzantine.
    pub fn byzantine(&self) -> bool {
        self.group.byzantine
    }

    /// Regions given in the input.
    pub fn regions(&self) -> &[String] {
        &self.context.cluster_config.regions
    }

    /// Group members lost with the biggest region, or `None` without at least two regions.
    pub fn largest_region_share(&self) -> Option<&RegionPlacement> {
        (self.regions().len() > 1)
            .then(|| self.placement.first())
            .flatten()
    }

    /// Whether losing the largest region keeps a quorum (`None` without at least two regions).
    pub fn survives_region_loss(&self, quorum: u32) -> Option<bool> {
        self.largest_region_share()
            .map(|largest| self.group.size - largest.nodes >= quorum)
    }

    /// Nodes outside the voting group that still hold the data (learners of a consensus
    /// group larger than the recommended voter count); 0 otherwise.
    pub fn learners(&self) -> u32 {
        if self.context.problem_type == ProblemType::Consensus {
            self.nodes.saturating_sub(self.group.size)
        } else {
            0
        }
    }

    /// Probability that a quorum of the voting group is reachable when every node is
    /// independently unreachable with the partition probability `p`:
    /// `sum over k >= q of C(n, k) (1-p)^k p^(n-k)`. `None` without a partition probability.
    pub fn quorum_availability(&self) -> Option<f64> {
        let p = self.context.network_assumptions.partition_probability?;
        let exact = quorum_availability(self.group.size, self.group.quorum, p);
        Some((exact * 1e6).round() / 1e6)
    }

    /// The configuration fields every answer shares: group, quorum and timers.
    pub fn base_configuration(&self) -> Configuration {
        Configuration {
            learners: (self.learners() > 0).then(|| self.learners()),
            quorum_availability: self.quorum_availability(),
            group_size: self.group.size,
            failure_tolerance: self.group.f,
            quorum_size: self.group.quorum,
            timeout_ms: self.timing.election_timeout_min_ms,
            election_timeout_max_ms: Some(self.timing.election_timeout_max_ms),
            heartbeat_ms: self.timing.heartbeat_ms,
            request_timeout_ms: self.timing.request_timeout_ms,
            placement: self.placement.clone(),
            ..Configuration::default()
        }
    }
}

/// Probability that at least `quorum` of `nodes` are reachable when each is independently
/// unreachable with probability `p` (binomial tail, summed in log space so 1000 nodes do not
/// overflow).
pub fn quorum_availability(nodes: u32, quorum: u32, p: f64) -> f64 {
    let p = p.clamp(0.0, 1.0);
    if p == 0.0 {
        return 1.0;
    }
    if p == 1.0 {
        return if quorum == 0 { 1.0 } else { 0.0 };
    }
    let (ln_up, ln_down) = ((1.0 - p).ln(), p.ln());
    let n = f64::from(nodes);
    let mut ln_choose = 0.0; // ln C(n, 0)
    let mut total = 0.0;
    for k in 0..=nodes {
        if k > 0 {
            ln_choose += (n - f64::from(k) + 1.0).ln() - f64::from(k).ln();
        }
        if k >= quorum {
            total += (ln_choose + f64::from(k) * ln_up + (n - f64::from(k)) * ln_down).exp();
        }
    }
    total.clamp(0.0, 1.0)
}

/// Spreads `members` over `regions` round-robin; returns the shares largest first (ties in input
/// order), regions that get no member omitted.
fn round_robin(members: u32, regions: &[String]) -> Vec<RegionPlacement> {
    if regions.is_empty() {
        return Vec::new();
    }
    let count = u32::try_from(regions.len()).unwrap_or(u32::MAX);
    let mut shares: Vec<RegionPlacement> = regions
        .iter()
        .enumerate()
        .map(|(index, region)| {
            let index = u32::try_from(index).unwrap_or(u32::MAX);
            RegionPlacement {
                region: region.clone(),
                nodes: members / count + u32::from(index < members % count),
            }
        })
        .filter(|share| share.nodes > 0)
        .collect();
    shares.sort_by_key(|share| std::cmp::Reverse(share.nodes));
    debug_assert_eq!(shares.iter().map(|s| s.nodes).sum::<u32>(), members);
    shares
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(
        problem: ProblemType,
        nodes: u32,
        f: Option<u32>,
        regions: &[&str],
    ) -> DistributedContext {
        let mut ctx = DistributedContext::new(problem, nodes);
        ctx.cluster_config.failure_tolerance = f;
        ctx.cluster_config.regions = regions.iter().map(|r| r.to_string()).collect();
        ctx
    }

    #[test]
    fn consensus_group_is_every_node() {
        let c = ctx(ProblemType::Consensus, 5, None, &[]);
        let env = Environment::new(&c);
        assert_eq!((env.group.size, env.f, env.group.quorum), (5, 2, 3));
    }

    #[test]
    fn partitioning_defaults_to_three_replicas() {
        let c = ctx(ProblemType::Partitioning, 100, None, &[]);
        let env = Environment::new(&c);
        assert_eq!((env.group.size, env.f, env.group.quorum), (3, 1, 2));
        let c = ctx(ProblemType::Partitioning, 2, None, &[]);
        assert_eq!(Environment::new(&c).group.size, 1);
    }

    #[test]
    fn region_loss_is_computed() {
        let three = ctx(ProblemType::Consensus, 5, None, &["a", "b", "c"]);
        let env = Environment::new(&three);
        assert_eq!(
            env.placement.iter().map(|p| p.nodes).collect::<Vec<_>>(),
            vec![2, 2, 1]
        );
        assert_eq!(env.survives_region_loss(env.group.quorum), Some(true));
        assert_eq!(env.timing.latency_ms, DEFAULT_LATENCY_MS_CROSS_REGION);
        let two = ctx(ProblemType::Consensus, 5, None, &["a", "b"]);
        assert_eq!(Environment::new(&two).survives_region_loss(3), Some(false));
        let one = ctx(ProblemType::Consensus, 5, None, &["a"]);
        assert_eq!(Environment::new(&one).survives_region_loss(3), None);
    }
}
