//! Metrics exposition: prometheus-client writes OpenMetrics; Prometheus itself and `promtool
//! check metrics` read the Prometheus text format 0.0.4. One conversion for the node's
//! `/metrics` and the simulator's `--metrics` file.

/// prometheus-client writes OpenMetrics, where a counter family `x` has samples `x_total` and
/// the text ends with `# EOF`; the Prometheus text format names the family `x_total` in its
/// HELP and TYPE lines and has no EOF marker.
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
}
