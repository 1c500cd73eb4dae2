//! `distsys diagnose`: findings from logs, metrics and histories, each with its evidence (log
//! lines or samples, times, nodes, terms), the likely cause and the fix, plus the debug
//! checklist answered from the evidence where the inputs allow it.
//!
//! Findings: `split_brain` (two leaders in one term, or an old leader still acting long after
//! a newer one was elected), `leader_flapping` (elections no fault explains, with a timeout
//! recommended from the observed round trip), `stale_read` (the history is not linearizable),
//! `stuck_operations` (operations that never completed), `data_divergence` (replicas applied
//! different states at the same index), `partition_not_healed`, `replication_lag_growing`.

mod detect;
pub mod logs;
pub mod metrics;

use logs::LogEvent;
use serde::Serialize;

/// What to diagnose: `(name, text)` pairs.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// JSON log files.
    pub logs: Vec<(String, String)>,
    /// A Prometheus text snapshot.
    pub metrics: Option<(String, String)>,
    /// A history (any format `check-history` reads).
    pub history: Option<(String, String)>,
}

/// One problem found, with what shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// `split_brain`, `leader_flapping`, `stale_read`, ...
    pub kind: String,
    /// One sentence.
    pub summary: String,
    /// Nodes involved.
    pub nodes: Vec<u64>,
    /// Terms involved.
    pub terms: Vec<u64>,
    /// Log lines (`file:line` and content), samples or operations that show it.
    pub evidence: Vec<String>,
    /// The likely cause.
    pub cause: String,
    /// What to do.
    pub fix: String,
}

/// The state of one debug-checklist item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The evidence shows no problem.
    Ok,
    /// The evidence shows a problem (see the findings).
    Problem,
    /// These inputs cannot tell.
    NotObservable,
}

/// One item of the debug checklist, answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChecklistItem {
    /// What to check.
    pub item: String,
    /// The answer.
    pub status: Status,
    /// Why.
    pub detail: String,
}

/// A log line that could not be read (skipped, never fatal).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skipped {
    /// `file:line`.
    pub at: String,
    /// What is wrong with it.
    pub reason: String,
}

/// The whole answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnosis {
    /// Problems found (empty: nothing wrong in these inputs).
    pub findings: Vec<Finding>,
    /// The debug checklist.
    pub checklist: Vec<ChecklistItem>,
    /// Log lines skipped.
    pub skipped: Vec<Skipped>,
    /// Log events read.
    pub events: usize,
}

/// Diagnoses the inputs. Malformed log lines are skipped and listed; an input with no record
/// at all (a log file with no log line, a metrics file with no sample, a history with no
/// operation) and an unreadable metrics snapshot or history are errors (the caller's exit
/// code 2): nothing passes unread.
pub fn diagnose(inputs: &Inputs) -> Result<Diagnosis, String> {
    let (events, skipped) = read_logs(&inputs.logs)?;
    let samples = match &inputs.metrics {
        Some((name, text)) => Some(metrics::parse(text).map_err(|e| format!("{name}: {e}"))?),
        None => None,
    };
    let history = match &inputs.history {
        Some((name, text)) => {
            let parsed = crate::parse_history(text, None).map_err(|e| format!("{name}: {e}"))?;
            if parsed.0.has_no_record() {
                return Err(format!(
                    "{name}: no operation in this history (expected JSON lines, a Jepsen etcd \
                     log or Jepsen kv maps)"
                ));
            }
            Some(parsed)
        }
        None => None,
    };
    let mut findings = Vec::new();
    findings.extend(detect::split_brain(&events));
    findings.extend(detect::leader_flapping(&events, samples.as_deref()));
    findings.extend(detect::data_divergence(&events));
    findings.extend(detect::partition_not_healed(&events));
    findings.extend(detect::replication_lag(&events, samples.as_deref()));
    if let Some((history, format)) = &history {
        findings.extend(detect::history_findings(history, *format));
    }
    let checklist = detect::checklist(&events, samples.as_deref(), history.is_some(), &findings);
    Ok(Diagnosis {
        findings,
        checklist,
        skipped,
        events: events.len(),
    })
}

/// Parses every (name, text) log into one stream of events, ordered by time, then file and
/// line (stable), with the malformed lines skipped and listed; a log with no record at all is
/// an error naming it.
fn read_logs(logs: &[(String, String)]) -> Result<(Vec<LogEvent>, Vec<Skipped>), String> {
    let mut events = Vec::new();
    let mut skipped = Vec::new();
    for (name, text) in logs {
        let (mut parsed, bad) = logs::parse(name, text);
        if parsed.is_empty() {
            return Err(match bad.first() {
                Some((at, reason)) => format!(
                    "{name}: no line is a log record of the project's log schema (JSON objects \
                     with `timestamp` and `event`); {} line(s), the first ({at}): {reason}",
                    bad.len()
                ),
                None => format!(
                    "{name}: no log record (the file is empty): expected JSON lines with \
                     `timestamp` and `event`"
                ),
            });
        }
        events.append(&mut parsed);
        skipped.extend(bad.into_iter().map(|(at, reason)| Skipped { at, reason }));
    }
    in_order(&mut events);
    Ok((events, skipped))
}

/// Only the replica-divergence detector of [`diagnose`] (`data_divergence`: two nodes that
/// logged different chain digests for the same applied index, whatever the protocol) over the
/// (name, text) logs; a log with no record (a node that never started) is left out.
pub fn divergence(logs: &[(String, String)]) -> Vec<Finding> {
    let mut events: Vec<LogEvent> = logs
        .iter()
        .flat_map(|(name, text)| logs::parse(name, text).0)
        .collect();
    in_order(&mut events);
    detect::data_divergence(&events)
}

/// Orders events by time, then file and line (stable).
fn in_order(events: &mut [LogEvent]) {
    events.sort_by(|a, b| (a.time_us, &a.file, a.line).cmp(&(b.time_us, &b.file, b.line)));
}

impl Diagnosis {
    /// The report as text.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if self.findings.is_empty() {
            out.push_str(&format!("no findings in {} log event(s)\n", self.events));
        }
        for f in &self.findings {
            out.push_str(&format!("FINDING {}: {}\n", f.kind, f.summary));
            if !f.nodes.is_empty() {
                out.push_str(&format!("  nodes: {:?}\n", f.nodes));
            }
            if !f.terms.is_empty() {
                out.push_str(&format!("  terms: {:?}\n", f.terms));
            }
            out.push_str("  evidence:\n");
            for e in &f.evidence {
                out.push_str(&format!("    {e}\n"));
            }
            out.push_str(&format!("  cause: {}\n  fix: {}\n\n", f.cause, f.fix));
        }
        out.push_str("CHECKLIST\n");
        for c in &self.checklist {
            let status = match c.status {
                Status::Ok => "ok",
                Status::Problem => "PROBLEM",
                Status::NotObservable => "not observable from these inputs",
            };
            out.push_str(&format!("  [{status}] {}: {}\n", c.item, c.detail));
        }
        if !self.skipped.is_empty() {
            out.push_str(&format!(
                "SKIPPED {} malformed line(s)\n",
                self.skipped.len()
            ));
            for s in self.skipped.iter().take(20) {
                out.push_str(&format!("  {}: {}\n", s.at, s.reason));
            }
        }
        out
    }
}
