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
    let mut samples = 0usize;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !looks_like_sample(line) {
            return Err(format!(
                "not a Prometheus text snapshot: line {} is neither a sample (`name{{labels}} \
                 value`) nor a # comment: {:?}",
                index + 1,
                truncate(line)
            ));
        }
        samples += 1;
    }
    if samples == 0 {
        return Err(
            "not a Prometheus text snapshot: no sample line (`name{labels} value`) in it".into(),
        );
    }
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

/// Whether a line has the shape of a Prometheus sample: a metric name
/// (`[a-zA-Z_:][a-zA-Z0-9_:]*`), optional `{labels}`, then a value (and an optional timestamp).
fn looks_like_sample(line: &str) -> bool {
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(line.len());
    let name = &line[..name_end];
    let starts_well = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':');
    if !starts_well {
        return false;
    }
    let mut rest = &line[name_end..];
    if rest.starts_with('{') {
        // Label values may hold `}` inside quotes: find the closing brace outside quotes.
        let mut in_quotes = false;
        let mut escaped = false;
        let mut close = None;
        for (i, c) in rest.char_indices().skip(1) {
            match (in_quotes, escaped, c) {
                (true, true, _) => escaped = false,
                (true, false, '\\') => escaped = true,
                (_, false, '"') => in_quotes = !in_quotes,
                (false, _, '}') => {
                    close = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let Some(close) = close else { return false };
        rest = &rest[close + 1..];
    }
    let mut fields = rest.split_whitespace();
    let value_ok = fields
        .next()
        .is_some_and(|v| v.parse::<f64>().is_ok() || matches!(v, "NaN" | "+Inf" | "-Inf" | "Inf"));
    let timestamp_ok = fields.next().is_none_or(|t| t.parse::<i64>().is_ok());
    value_ok && timestamp_ok && fields.next().is_none()
}

/// At most 80 characters of a line, for an error message.
fn truncate(line: &str) -> String {
    line.chars().take(80).collect()
}

#[cfg(test)]
mod shape_tests {
    use super::*;

    #[test]
    fn samples_comments_and_everything_else() {
        for good in [
            "up 1",
            "raft_term{node=\"1\"} 3",
            "x{a=\"}\\\"{\",b=\"c\"} 1.5e3 1700000000000",
            "y NaN",
            "_z:total +Inf",
        ] {
            assert!(looks_like_sample(good), "{good}");
        }
        // `nodes: 5` is a sample of a metric named `nodes:` (colons are legal in names), so a
        // YAML file is refused at its first line that is not `key: number`.
        assert!(looks_like_sample("nodes: 5"));
        for bad in [
            "cluster_config:",
            "problem_type: consensus",
            "- a",
            "{\"a\": 1}",
            "9x 1",
            "up",
            "up one",
            "up 1 2 3",
            "x{a=\"1\" 2",
        ] {
            assert!(!looks_like_sample(bad), "{bad}");
        }
        assert!(parse("nodes: 5\ncluster_config:\n  regions: 1\n")
            .unwrap_err()
            .contains("line 2"));
        assert!(parse("# HELP a b\n\n").unwrap_err().contains("no sample"));
        assert_eq!(parse("# TYPE up gauge\nup 1\n").map(|s| s.len()), Ok(1));
    }
}
