//! The metric families, defined once for the node's `/metrics`, the simulator's `--metrics`
//! file and `distsys diagnose` (which reads them): name, help, type, label, the label values
//! known in advance, and the latency buckets.
//!
//! - `leader_elections_total{result}` (counter; `success`, `timeout`, `split_vote`),
//! - `replication_lag_seconds{follower_id}` (gauge),
//! - `consensus_latency_seconds{operation_type}` (histogram; [`LATENCY_BUCKETS`]),
//! - `partition_events_total{type}` (counter; `detected`, `healed`).
//!
//! The names and labels are always available; [`Families`], which registers and renders them
//! with prometheus-client, comes with the `metrics` feature.

/// The Prometheus type of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Only goes up; exposed with the `_total` suffix.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Observations counted into [`LATENCY_BUCKETS`].
    Histogram,
}

impl MetricKind {
    /// The word a `# TYPE` line uses.
    pub const fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        }
    }
}

/// One metric family: everything a producer registers and a reader looks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricFamily {
    /// The family's name as exposed (a counter's includes `_total`): what `# TYPE` lines and
    /// samples carry and what readers match.
    pub name: &'static str,
    /// The `# HELP` text.
    pub help: &'static str,
    /// The type.
    pub kind: MetricKind,
    /// The one label every sample of the family carries.
    pub label: &'static str,
    /// The label's values, when they are known in advance (registered at zero); empty when the
    /// values come from the data (follower ids, operation types).
    pub values: &'static [&'static str],
}

impl MetricFamily {
    /// The name to register with prometheus-client, which appends `_total` to counters itself.
    pub fn registered_name(&self) -> &'static str {
        match self.kind {
            MetricKind::Counter => self.name.strip_suffix("_total").unwrap_or(self.name),
            MetricKind::Gauge | MetricKind::Histogram => self.name,
        }
    }
}

/// Upper bounds (seconds) of the latency histogram's buckets.
pub const LATENCY_BUCKETS: [f64; 6] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5];

/// How an election ended: the values of [`LEADER_ELECTIONS`]' `result` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElectionResult {
    /// A leader was elected.
    Success,
    /// A candidate's election timed out with no other candidate competing.
    Timeout,
    /// Several candidates split the votes; no leader.
    SplitVote,
}

impl ElectionResult {
    /// Every result, in the order the label values are registered.
    pub const ALL: [ElectionResult; 3] = [
        ElectionResult::Success,
        ElectionResult::Timeout,
        ElectionResult::SplitVote,
    ];

    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            ElectionResult::Success => "success",
            ElectionResult::Timeout => "timeout",
            ElectionResult::SplitVote => "split_vote",
        }
    }
}

/// A partition seen or healed: the values of [`PARTITION_EVENTS`]' `type` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionChange {
    /// A link (or, in the simulator, the network) was cut.
    Detected,
    /// It works again.
    Healed,
}

impl PartitionChange {
    /// Both changes, in the order the label values are registered.
    pub const ALL: [PartitionChange; 2] = [PartitionChange::Detected, PartitionChange::Healed];

    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            PartitionChange::Detected => "detected",
            PartitionChange::Healed => "healed",
        }
    }
}

/// `leader_elections_total{result}`.
pub const LEADER_ELECTIONS: MetricFamily = MetricFamily {
    name: "leader_elections_total",
    help: "Leader elections by outcome (split_vote: several candidates, no leader)",
    kind: MetricKind::Counter,
    label: "result",
    values: &["success", "timeout", "split_vote"],
};

/// `replication_lag_seconds{follower_id}`.
pub const REPLICATION_LAG: MetricFamily = MetricFamily {
    name: "replication_lag_seconds",
    help: "On the leader: age of the oldest entry a follower lacks (the simulator: at the end \
           of the run, worst run)",
    kind: MetricKind::Gauge,
    label: "follower_id",
    values: &[],
};

/// `consensus_latency_seconds{operation_type}`.
pub const CONSENSUS_LATENCY: MetricFamily = MetricFamily {
    name: "consensus_latency_seconds",
    help: "Client operation latency, request to answer (the simulator: invoke to ok, in virtual \
           seconds)",
    kind: MetricKind::Histogram,
    label: "operation_type",
    values: &[],
};

/// `partition_events_total{type}`.
pub const PARTITION_EVENTS: MetricFamily = MetricFamily {
    name: "partition_events_total",
    help: "Network partitions detected and healed (the node: peer links lost and regained)",
    kind: MetricKind::Counter,
    label: "type",
    values: &["detected", "healed"],
};

/// Every family, in the order they are registered and rendered.
pub const FAMILIES: [MetricFamily; 4] = [
    LEADER_ELECTIONS,
    REPLICATION_LAG,
    CONSENSUS_LATENCY,
    PARTITION_EVENTS,
];

/// prometheus-client writes OpenMetrics, where a counter family `x` has samples `x_total` and
/// the text ends with `# EOF`; the Prometheus text format 0.0.4 (what Prometheus and `promtool
/// check metrics` read) names the family `x_total` in its HELP and TYPE lines and has no EOF
/// marker. One conversion for the node's `/metrics` and the simulator's `--metrics` file.
pub fn openmetrics_to_prometheus_text(text: &str) -> String {
    let counters: std::collections::BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if line == "# EOF" {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

#[cfg(feature = "metrics")]
pub use registry::Families;

#[cfg(feature = "metrics")]
mod registry {
    use super::*;
    use prometheus_client::encoding::text::encode;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::gauge::Gauge;
    use prometheus_client::metrics::histogram::Histogram;
    use prometheus_client::registry::{Metric, Registry};
    use std::sync::atomic::AtomicU64;

    type Labels = Vec<(String, String)>;

    fn label(family: &MetricFamily, value: impl ToString) -> Labels {
        vec![(family.label.to_string(), value.to_string())]
    }

    /// The four families registered (known label values at zero), with one method per family
    /// to record into it, rendered in the Prometheus text format. Cheap to clone: clones share
    /// the metrics.
    #[derive(Clone)]
    pub struct Families {
        registry: std::sync::Arc<Registry>,
        elections: Family<Labels, Counter>,
        lag: Family<Labels, Gauge<f64, AtomicU64>>,
        latency: Family<Labels, Histogram>,
        partitions: Family<Labels, Counter>,
    }

    impl Default for Families {
        fn default() -> Self {
            Families::new()
        }
    }

    impl Families {
        /// Registers every family of [`FAMILIES`], in that order.
        pub fn new() -> Families {
            let mut registry = Registry::default();
            let elections = Family::<Labels, Counter>::default();
            let lag = Family::<Labels, Gauge<f64, AtomicU64>>::default();
            let latency = Family::<Labels, Histogram>::new_with_constructor(|| {
                Histogram::new(LATENCY_BUCKETS)
            });
            let partitions = Family::<Labels, Counter>::default();
            fn register(registry: &mut Registry, family: &MetricFamily, metric: impl Metric) {
                registry.register(family.registered_name(), family.help, metric);
            }
            register(&mut registry, &LEADER_ELECTIONS, elections.clone());
            register(&mut registry, &REPLICATION_LAG, lag.clone());
            register(&mut registry, &CONSENSUS_LATENCY, latency.clone());
            register(&mut registry, &PARTITION_EVENTS, partitions.clone());
            for result in ElectionResult::ALL {
                let _ = elections.get_or_create(&label(&LEADER_ELECTIONS, result.as_str()));
            }
            for change in PartitionChange::ALL {
                let _ = partitions.get_or_create(&label(&PARTITION_EVENTS, change.as_str()));
            }
            Families {
                registry: std::sync::Arc::new(registry),
                elections,
                lag,
                latency,
                partitions,
            }
        }

        /// Counts `count` elections that ended with `result`.
        pub fn elections(&self, result: ElectionResult, count: u64) {
            self.elections
                .get_or_create(&label(&LEADER_ELECTIONS, result.as_str()))
                .inc_by(count);
        }

        /// Sets a follower's replication lag.
        pub fn lag(&self, follower: u64, seconds: f64) {
            self.lag
                .get_or_create(&label(&REPLICATION_LAG, follower))
                .set(seconds);
        }

        /// Records client operations' latencies, in seconds.
        pub fn latency(&self, operation: &str, seconds: impl IntoIterator<Item = f64>) {
            let histogram = self
                .latency
                .get_or_create(&label(&CONSENSUS_LATENCY, operation));
            for s in seconds {
                histogram.observe(s);
            }
        }

        /// Counts `count` partitions detected or healed.
        pub fn partitions(&self, change: PartitionChange, count: u64) {
            self.partitions
                .get_or_create(&label(&PARTITION_EVENTS, change.as_str()))
                .inc_by(count);
        }

        /// The Prometheus text exposition format 0.0.4.
        pub fn render(&self) -> String {
            let mut out = String::new();
            // Encoding into a String cannot fail.
            let _ = encode(&mut out, &self.registry);
            openmetrics_to_prometheus_text(&out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_families_take_their_total_name_and_eof_goes() {
        let open = "# HELP runs Runs.\n# TYPE runs counter\nruns_total 3\n# HELP lag Lag.\n# TYPE lag gauge\nlag 0.5\n# EOF\n";
        assert_eq!(
            openmetrics_to_prometheus_text(open),
            "# HELP runs_total Runs.\n# TYPE runs_total counter\nruns_total 3\n# HELP lag Lag.\n# TYPE lag gauge\nlag 0.5\n"
        );
    }

    #[test]
    fn label_values_are_the_enums() {
        let results: Vec<&str> = ElectionResult::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(results, LEADER_ELECTIONS.values);
        let changes: Vec<&str> = PartitionChange::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(changes, PARTITION_EVENTS.values);
    }

    #[test]
    fn counters_and_only_counters_end_in_total() {
        for family in FAMILIES {
            assert_eq!(
                family.name.ends_with("_total"),
                family.kind == MetricKind::Counter,
                "{}",
                family.name
            );
        }
    }

    #[cfg(feature = "metrics")]
    #[test]
    fn every_family_renders_under_its_name_with_its_help_and_type() {
        let families = Families::new();
        families.elections(ElectionResult::Success, 2);
        families.lag(2, 0.5);
        families.latency("write", [0.002]);
        families.partitions(PartitionChange::Healed, 1);
        let text = families.render();
        for family in FAMILIES {
            assert!(
                text.contains(&format!("# HELP {} {}", family.name, family.help)),
                "{text}"
            );
            assert!(
                text.contains(&format!(
                    "# TYPE {} {}\n",
                    family.name,
                    family.kind.as_str()
                )),
                "{text}"
            );
        }
        assert!(
            text.contains("leader_elections_total{result=\"success\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("leader_elections_total{result=\"split_vote\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("replication_lag_seconds{follower_id=\"2\"} 0.5"),
            "{text}"
        );
        for bound in LATENCY_BUCKETS {
            assert!(
                text.contains(&format!(
                    "consensus_latency_seconds_bucket{{le=\"{bound}\",operation_type=\"write\"}}"
                )),
                "{text}"
            );
        }
        assert!(
            text.contains("partition_events_total{type=\"healed\"} 1"),
            "{text}"
        );
        assert!(!text.contains("# EOF"));
    }
}
