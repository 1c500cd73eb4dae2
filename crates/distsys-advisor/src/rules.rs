//! Cross-field rules of the `distributed_context` that a JSON Schema cannot express.
//!
//! The rules read the raw document leniently (a field of the wrong type is simply not used), so
//! they run even when the schema already found other problems: the user sees every problem at once.

use crate::problem::Problem;
use crate::quorum::{min_nodes_byzantine, min_nodes_crash};
use serde_json::Value;
use std::collections::BTreeSet;

/// Rule name: a crash-tolerant quorum needs `nodes >= 2f + 1`.
pub const QUORUM_POSSIBLE: &str = "quorum_possible";
/// Rule name: byzantine tolerance needs `nodes >= 3f + 1`.
pub const BYZANTINE_NODES: &str = "byzantine_nodes";
/// Rule name: region names are non-empty and distinct.
pub const DISTINCT_REGIONS: &str = "distinct_regions";

/// The fields the rules look at, taken from a raw document where they have a usable value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuleInputs {
    /// `cluster_config.nodes`, when it is a non-negative integer.
    pub nodes: Option<u64>,
    /// `cluster_config.failure_tolerance`, when it is a non-negative integer.
    pub failure_tolerance: Option<u64>,
    /// `network_assumptions.byzantine`, false unless it is `true`.
    pub byzantine: bool,
}

impl RuleInputs {
    /// Extracts the rule inputs from a raw JSON document.
    pub fn from_document(document: &Value) -> RuleInputs {
        let cluster = document.get("cluster_config");
        RuleInputs {
            nodes: cluster.and_then(|c| c.get("nodes")).and_then(Value::as_u64),
            failure_tolerance: cluster
                .and_then(|c| c.get("failure_tolerance"))
                .and_then(Value::as_u64),
            byzantine: document
                .get("network_assumptions")
                .and_then(|n| n.get("byzantine"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }
    }
}

/// Checks every cross-field rule on a raw document and returns every problem found.
pub fn check_document(document: &Value) -> Vec<Problem> {
    let mut problems = check_fault_budget(RuleInputs::from_document(document));
    if let Some(regions) = document
        .get("cluster_config")
        .and_then(|c| c.get("regions"))
        .and_then(Value::as_array)
    {
        problems.extend(check_regions(regions));
    }
    problems
}

/// `quorum_possible` and `byzantine_nodes`: the node count must be able to tolerate `f` faults.
pub fn check_fault_budget(inputs: RuleInputs) -> Vec<Problem> {
    let mut problems = Vec::new();
    let (Some(nodes), Some(f)) = (inputs.nodes, inputs.failure_tolerance) else {
        return problems;
    };
    let needed = min_nodes_crash(f);
    if nodes < needed {
        problems.push(Problem::new(
            "cluster_config.nodes",
            QUORUM_POSSIBLE,
            format!(
                "Cannot tolerate f failures with fewer than 2f+1 nodes (f={f} needs at least {needed} nodes, got {nodes})"
            ),
        ));
    }
    if inputs.byzantine {
        let needed = min_nodes_byzantine(f);
        if nodes < needed {
            problems.push(Problem::new(
                "cluster_config.nodes",
                BYZANTINE_NODES,
                format!(
                    "Byzantine tolerance requires 3f+1 nodes (f={f} needs at least {needed} nodes, got {nodes})"
                ),
            ));
        }
    }
    problems
}

/// `distinct_regions`: every region name is non-empty and appears once.
fn check_regions(regions: &[Value]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for (index, region) in regions.iter().enumerate() {
        let Some(name) = region.as_str() else {
            continue;
        };
        let field = format!("cluster_config.regions[{index}]");
        if name.trim().is_empty() {
            problems.push(Problem::new(
                field,
                DISTINCT_REGIONS,
                "region name is empty",
            ));
        } else if !seen.insert(name) {
            problems.push(Problem::new(
                field,
                DISTINCT_REGIONS,
                format!("region {name:?} is listed more than once"),
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules_broken(doc: Value) -> Vec<String> {
        check_document(&doc).into_iter().map(|p| p.rule).collect()
    }

    #[test]
    fn seed_four_nodes_cannot_tolerate_two() {
        let problems =
            check_document(&json!({"cluster_config": {"nodes": 4, "failure_tolerance": 2}}));
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].rule, QUORUM_POSSIBLE);
        assert!(
            problems[0]
                .message
                .contains("f=2 needs at least 5 nodes, got 4"),
            "{}",
            problems[0]
        );
    }

    #[test]
    fn seed_byzantine_six_rejected_seven_accepted() {
        let six = json!({"cluster_config": {"nodes": 6, "failure_tolerance": 2},
                         "network_assumptions": {"byzantine": true}});
        assert_eq!(rules_broken(six), vec![BYZANTINE_NODES]);
        let seven = json!({"cluster_config": {"nodes": 7, "failure_tolerance": 2},
                           "network_assumptions": {"byzantine": true}});
        assert!(rules_broken(seven).is_empty());
    }

    #[test]
    fn both_rules_can_fire_together() {
        let doc = json!({"cluster_config": {"nodes": 3, "failure_tolerance": 2},
                         "network_assumptions": {"byzantine": true}});
        assert_eq!(rules_broken(doc), vec![QUORUM_POSSIBLE, BYZANTINE_NODES]);
    }

    #[test]
    fn huge_failure_tolerance_does_not_overflow() {
        let doc = json!({"cluster_config": {"nodes": 1000, "failure_tolerance": u64::MAX}});
        assert_eq!(rules_broken(doc), vec![QUORUM_POSSIBLE]);
    }

    #[test]
    fn duplicate_and_empty_regions() {
        let doc = json!({"cluster_config": {"nodes": 3, "regions": ["a", "b", "a", " "]}});
        let problems = check_document(&doc);
        assert_eq!(problems.len(), 2);
        assert_eq!(problems[0].field, "cluster_config.regions[2]");
        assert_eq!(problems[1].field, "cluster_config.regions[3]");
    }
}
