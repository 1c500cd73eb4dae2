//! Reading a Prometheus text snapshot (the seed's metric names).

use prometheus_parse::{Scrape, Value};

/// One sample: name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Metric name (for histograms and summaries, with the `_sum`/`_count` suffix).
    pub name: String,
    /// Labels, sorted.
    pub labels: Vec<(String, String)>,
    /// The value (a histogram's count for histogram samples).
    pub value: f64,
}

/// Parses the text format; an error names what is wrong.
pub fn parse(text: &str) -> Result<Vec<Sample>, String> {
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape =
        Scrape::parse(lines).map_err(|e| format!("not a Prometheus text snapshot: {e}"))?;
    Ok(scrape
        .samples
        .into_iter()
        .map(|s| {
            let mut labels: Vec<(String, String)> = s
                .labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            labels.sort();
            let value = match s.value {
                Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
                Value::Histogram(h) => h.last().map_or(0.0, |b| b.count),
                Value::Summary(_) => f64::NAN,
            };
            Sample {
                name: s.metric,
                labels,
                value,
            }
        })
        .collect())
}

/// The value of `name` with the label `key=value` (summed over other labels).
pub fn value(samples: &[Sample], name: &str, label: Option<(&str, &str)>) -> Option<f64> {
    let matching: Vec<f64> = samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| label.is_none_or(|(k, v)| s.labels.iter().any(|(lk, lv)| lk == k && lv == v)))
        .map(|s| s.value)
        .collect();
    (!matching.is_empty()).then(|| matching.iter().sum())
}
