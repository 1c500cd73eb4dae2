//! The node's Prometheus metrics: the families of `distsys_types::metrics` (the same names,
//! help, labels and buckets the simulator's `--metrics` file has and `distsys diagnose` reads),
//! fed by the node and rendered by its admin endpoint.

/// Handles to the node's metrics (cheap to clone) and the registry that renders them.
pub use distsys_types::metrics::Families as Metrics;

#[cfg(test)]
mod tests {
    use super::*;
    use distsys_types::metrics::ElectionResult;

    #[test]
    fn counters_are_named_with_total_and_there_is_no_eof() {
        let m = Metrics::new();
        m.elections(ElectionResult::Success, 1);
        m.latency("write", [0.002]);
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
