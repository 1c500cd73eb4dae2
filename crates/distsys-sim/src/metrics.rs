//! The seed's metrics, in the Prometheus text format, for a run or a campaign:
//! `leader_elections_total{result}` (success | timeout | split_vote),
//! `replication_lag_seconds{follower_id}`, `consensus_latency_seconds{operation_type}` (buckets
//! 0.001 .. 0.5) and `partition_events_total{type}` (detected | healed). Times are virtual.

use crate::campaign::CampaignReport;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

type Labels = Vec<(String, String)>;

fn label(name: &str, value: impl ToString) -> Labels {
    vec![(name.to_string(), value.to_string())]
}

/// Renders a campaign's figures in the Prometheus text format 0.0.4.
pub fn render(summary: &CampaignReport) -> String {
    let mut registry = Registry::default();
    let elections = Family::<Labels, Counter>::default();
    registry.register(
        "leader_elections",
        "Elections by outcome (split_vote: several candidates, no leader)",
        elections.clone(),
    );
    let (won, timeout, split) = summary.election_results;
    elections
        .get_or_create(&label("result", "success"))
        .inc_by(won);
    elections
        .get_or_create(&label("result", "timeout"))
        .inc_by(timeout);
    elections
        .get_or_create(&label("result", "split_vote"))
        .inc_by(split);

    let lag = Family::<Labels, Gauge<f64, AtomicU64>>::default();
    registry.register(
        "replication_lag_seconds",
        "Age of the oldest entry the leader has that the follower lacks, at the end of the run (worst run)",
        lag.clone(),
    );
    for (follower, seconds) in &summary.replication_lag_seconds {
        lag.get_or_create(&label("follower_id", follower))
            .set(*seconds);
    }

    let latency = Family::<Labels, Histogram>::new_with_constructor(|| {
        Histogram::new([0.001, 0.005, 0.01, 0.05, 0.1, 0.5])
    });
    registry.register(
        "consensus_latency_seconds",
        "Client operation latency, invoke to ok, in virtual seconds",
        latency.clone(),
    );
    for (operation, samples) in &summary.latency_by_operation_us {
        let histogram = latency.get_or_create(&label("operation_type", operation));
        for us in samples {
            histogram.observe(*us as f64 / 1e6);
        }
    }

    let partitions = Family::<Labels, Counter>::default();
    registry.register(
        "partition_events",
        "Network partitions injected and healed",
        partitions.clone(),
    );
    partitions
        .get_or_create(&label("type", "detected"))
        .inc_by(summary.partitions.0);
    partitions
        .get_or_create(&label("type", "healed"))
        .inc_by(summary.partitions.1);

    let mut out = String::new();
    // Encoding into a String cannot fail.
    let _ = encode(&mut out, &registry);
    distsys_check::exposition::openmetrics_to_prometheus_text(&out)
}
