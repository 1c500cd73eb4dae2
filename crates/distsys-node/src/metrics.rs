//! The node's Prometheus metrics, with the seed's names: `leader_elections_total{result}`,
//! `replication_lag_seconds{follower_id}`, `consensus_latency_seconds{operation_type}` (buckets
//! 0.001 .. 0.5) and `partition_events_total{type}` (a peer link lost or regained).

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

type Labels = Vec<(String, String)>;

fn label(name: &str, value: impl ToString) -> Labels {
    vec![(name.to_string(), value.to_string())]
}

/// Handles to the metrics (cheap to clone) and the registry that renders them.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    elections: Family<Labels, Counter>,
    lag: Family<Labels, Gauge<f64, AtomicU64>>,
    latency: Family<Labels, Histogram>,
    partitions: Family<Labels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let elections = Family::<Labels, Counter>::default();
        registry.register(
            "leader_elections",
            "Elections this node ran, by outcome",
            elections.clone(),
        );
        let lag = Family::<Labels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "replication_lag_seconds",
            "On the leader: age of the oldest entry a follower lacks",
            lag.clone(),
        );
        let latency = Family::<Labels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.001, 0.005, 0.01, 0.05, 0.1, 0.5])
        });
        registry.register(
            "consensus_latency_seconds",
            "Client operation latency on this node, request to answer",
            latency.clone(),
        );
        let partitions = Family::<Labels, Counter>::default();
        registry.register(
            "partition_events",
            "Peer links lost (detected) and regained (healed)",
            partitions.clone(),
        );
        for result in ["success", "timeout", "split_vote"] {
            let _ = elections.get_or_create(&label("result", result));
        }
        for kind in ["detected", "healed"] {
            let _ = partitions.get_or_create(&label("type", kind));
        }
        Metrics {
            registry: Arc::new(registry),
            elections,
            lag,
            latency,
            partitions,
        }
    }

    /// Counts an election outcome (`success`, `timeout` or `split_vote`).
    pub fn election(&self, result: &str) {
        self.elections.get_or_create(&label("result", result)).inc();
    }

    /// Sets a follower's replication lag.
    pub fn lag(&self, follower: u64, seconds: f64) {
        self.lag
            .get_or_create(&label("follower_id", follower))
            .set(seconds);
    }

    /// Records a client operation's latency.
    pub fn latency(&self, operation: &str, seconds: f64) {
        self.latency
            .get_or_create(&label("operation_type", operation))
            .observe(seconds);
    }

    /// Counts a peer link lost (`detected`) or regained (`healed`).
    pub fn partition(&self, kind: &str) {
        self.partitions.get_or_create(&label("type", kind)).inc();
    }

    /// The Prometheus text exposition format 0.0.4 (what `promtool check metrics` and every
    /// Prometheus scrape read).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = encode(&mut out, &self.registry);
        distsys_check::exposition::openmetrics_to_prometheus_text(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_named_with_total_and_there_is_no_eof() {
        let m = Metrics::new();
        m.election("success");
        m.latency("write", 0.002);
        m.lag(2, 0.5);
        let text = m.render();
        assert!(
            text.contains("# TYPE leader_elections_total counter"),
            "{text}"
        );
        assert!(text.contains("# HELP leader_elections_total "), "{text}");
        assert!(
            text.contains("leader_elections_total{result=\"success\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "consensus_latency_seconds_bucket{le=\"0.005\",operation_type=\"write\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("replication_lag_seconds{follower_id=\"2\"} 0.5"),
            "{text}"
        );
        assert!(!text.contains("# EOF"));
    }
}
