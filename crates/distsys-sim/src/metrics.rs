//! The campaign's metrics in the Prometheus text format: the families of
//! `distsys_types::metrics` (`leader_elections_total{result}`, `replication_lag_seconds
//! {follower_id}`, `consensus_latency_seconds{operation_type}`, `partition_events_total{type}`),
//! filled from a campaign's figures. Times are virtual.

use crate::campaign::CampaignReport;
use distsys_types::metrics::{ElectionResult, Families, PartitionChange};

/// Renders a campaign's figures in the Prometheus text format 0.0.4.
pub fn render(summary: &CampaignReport) -> String {
    let families = Families::new();
    let (won, timeout, split) = summary.election_results;
    families.elections(ElectionResult::Success, won);
    families.elections(ElectionResult::Timeout, timeout);
    families.elections(ElectionResult::SplitVote, split);
    for (follower, seconds) in &summary.replication_lag_seconds {
        families.lag(*follower, *seconds);
    }
    for (operation, samples) in &summary.latency_by_operation_us {
        families.latency(operation, samples.iter().map(|us| *us as f64 / 1e6));
    }
    families.partitions(PartitionChange::Detected, summary.partitions.0);
    families.partitions(PartitionChange::Healed, summary.partitions.1);
    families.render()
}
