//! The detectors: each reads the time-ordered events (and metrics or a history) and returns
//! findings with their evidence.

use super::logs::LogEvent;
use super::metrics::{self, Sample};
use super::{ChecklistItem, Finding, Status};
use crate::{check, CheckOptions, History, HistoryFormat, ModelKind, Verdict};
use distsys_advisor::timing::Timing;
use distsys_types::metrics::{ElectionResult, LEADER_ELECTIONS, REPLICATION_LAG};
use distsys_types::{Event, EventKind};
use std::collections::{BTreeMap, BTreeSet};

/// Evidence lines quoted per finding at most.
const MAX_EVIDENCE: usize = 8;
/// Elections no fault explains, per minute, above which leaders are flapping.
const FLAPPING_PER_MINUTE: f64 = 6.0;
/// ...and at least this many of them.
const FLAPPING_MIN_ELECTIONS: usize = 5;
/// Election timeout assumed when the logs do not say (the classic upper bound), in ms.
const DEFAULT_ELECTION_MAX_MS: u64 = 300;

fn named(events: &[LogEvent], kind: EventKind) -> impl Iterator<Item = &LogEvent> {
    events.iter().filter(move |e| e.kind == Some(kind))
}

/// Whether `e` is a fault the cluster had to react to (an election it explains).
fn is_fault(e: &LogEvent) -> bool {
    e.kind.is_some_and(EventKind::is_fault)
}

/// The largest election timeout the leaders report (`election_timeout_ms: [min, max]`).
fn election_timeout_ms(events: &[LogEvent]) -> (Option<(u64, u64)>, Option<u64>) {
    let mut range = None;
    let mut heartbeat = None;
    for e in events {
        let Some(Event::LeaderElected(elected)) = &e.data else {
            continue;
        };
        if let Some([min, max]) = elected.election_timeout_ms {
            range = Some((min, max));
        }
        if let Some(h) = elected.heartbeat_ms {
            heartbeat = Some(h);
        }
    }
    (range, heartbeat)
}

/// Two leaders in one term (a safety bug), or a leader still acting well after a newer term's
/// leader was elected (an old leader still serving).
pub fn split_brain(events: &[LogEvent]) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut by_term: BTreeMap<u64, BTreeMap<u64, &LogEvent>> = BTreeMap::new();
    for e in named(events, EventKind::LeaderElected) {
        if let (Some(node), Some(term)) = (e.node, e.term) {
            by_term.entry(term).or_default().entry(node).or_insert(e);
        }
    }
    for (term, leaders) in &by_term {
        if leaders.len() > 1 {
            let nodes: Vec<u64> = leaders.keys().copied().collect();
            findings.push(Finding {
                kind: "split_brain".into(),
                summary: format!(
                    "nodes {nodes:?} were all elected leader in term {term}: at most one leader \
                     per term is Raft's first safety property"
                ),
                nodes,
                terms: vec![*term],
                evidence: leaders.values().map(|e| e.describe()).collect(),
                cause: "a vote granted twice in one term, or a vote answered before it was \
                        durable and forgotten in a crash; a safety bug, not a tuning problem"
                    .into(),
                fix: "persist term and vote before answering a vote request, grant one vote per \
                      term; guard every write with fencing tokens (term checks) so a second \
                      leader's writes are rejected"
                    .into(),
            });
        }
    }
    // An old leader still acting: replication by a leader of an older term, more than two
    // election timeouts after a newer leader was elected (check-quorum would have stopped it).
    let (range, _) = election_timeout_ms(events);
    let grace_us = 2 * range.map_or(DEFAULT_ELECTION_MAX_MS, |r| r.1) as i64 * 1000;
    let mut newest: Option<&LogEvent> = None;
    let mut reported: BTreeSet<(u64, u64)> = BTreeSet::new();
    for e in events {
        match e.kind {
            Some(EventKind::LeaderElected) if e.term > newest.and_then(|n| n.term) => {
                newest = Some(e)
            }
            Some(EventKind::LogReplicated) => {
                let (Some(node), Some(term), Some(new)) = (e.node, e.term, newest) else {
                    continue;
                };
                let (Some(new_term), Some(new_node)) = (new.term, new.node) else {
                    continue;
                };
                if term < new_term
                    && node != new_node
                    && e.time_us > new.time_us + grace_us
                    && reported.insert((node, term))
                {
                    findings.push(Finding {
                        kind: "split_brain".into(),
                        summary: format!(
                            "node {node} kept acting as leader of term {term} {:.1} s after node \
                             {new_node} was elected in term {new_term}",
                            (e.time_us - new.time_us) as f64 / 1e6
                        ),
                        nodes: vec![node, new_node],
                        terms: vec![term, new_term],
                        evidence: vec![new.describe(), e.describe()],
                        cause: "an old leader that has not learned of the newer term (partitioned \
                                or paused) and does not step down on its own"
                            .into(),
                        fix: "enable check-quorum (a leader without a majority steps down within \
                              an election timeout), serve reads through ReadIndex or a lease \
                              refused without check-quorum, and fence writes by term"
                            .into(),
                    });
                }
            }
            _ => {}
        }
    }
    findings
}

/// Windows in which a fault was acting, widened by `grace_us` after each ends.
fn fault_windows(events: &[LogEvent], grace_us: i64) -> Vec<(i64, i64)> {
    let end = events.last().map_or(0, |e| e.time_us);
    let mut windows = Vec::new();
    let mut open: BTreeMap<(String, Option<u64>), i64> = BTreeMap::new();
    for e in events {
        let (opens, closes) = match e.kind {
            Some(EventKind::PartitionDetected) => (Some("partition"), None),
            Some(EventKind::PartitionHealed | EventKind::FaultsHealed) => (None, Some("partition")),
            Some(EventKind::NodeCrashed) => (Some("down"), None),
            Some(EventKind::NodeRestarted) => (None, Some("down")),
            Some(EventKind::NodePaused) => (Some("paused"), None),
            Some(EventKind::NodeResumed) => (None, Some("paused")),
            _ => (None, None),
        };
        // Partitions (and the end of all faults) concern the network, not the node logging.
        let node = if opens == Some("partition") || closes == Some("partition") {
            None
        } else {
            e.node
        };
        if let Some(kind) = opens {
            open.entry((kind.to_string(), node)).or_insert(e.time_us);
        }
        if let Some(kind) = closes {
            if let Some(start) = open.remove(&(kind.to_string(), node)) {
                windows.push((start, e.time_us + grace_us));
            }
            if e.kind == Some(EventKind::FaultsHealed) {
                for (_, start) in std::mem::take(&mut open) {
                    windows.push((start, e.time_us + grace_us));
                }
            }
        }
        if is_fault(e) {
            windows.push((e.time_us, e.time_us + grace_us));
        }
    }
    for (_, start) in open {
        windows.push((start, end + grace_us));
    }
    windows
}

/// Metrics alone show flapping: more failed elections (split votes, timeouts) than won ones.
fn flapping_in_metrics(s: &[Sample]) -> Option<String> {
    let elections = |result: ElectionResult| {
        metrics::value(
            s,
            LEADER_ELECTIONS.name,
            Some((LEADER_ELECTIONS.label, result.as_str())),
        )
    };
    let won = elections(ElectionResult::Success)?;
    let split = elections(ElectionResult::SplitVote).unwrap_or(0.0);
    let timeout = elections(ElectionResult::Timeout).unwrap_or(0.0);
    (split + timeout > won && split + timeout >= FLAPPING_MIN_ELECTIONS as f64).then(|| {
        format!(
            "metrics: {} success={won} split_vote={split} timeout={timeout}",
            LEADER_ELECTIONS.name
        )
    })
}

/// The round trip, observed: a candidate that wins does so one vote round after it starts, so
/// the median time from a candidacy to its victory (`None` when no election was won).
fn observed_round_trip_ms(events: &[LogEvent], started: &[&LogEvent]) -> Option<f64> {
    let mut start_of: BTreeMap<(Option<u64>, Option<u64>), i64> = BTreeMap::new();
    for e in started {
        start_of.entry((e.node, e.term)).or_insert(e.time_us);
    }
    let mut rounds: Vec<i64> = named(events, EventKind::LeaderElected)
        .filter_map(|e| start_of.get(&(e.node, e.term)).map(|s| e.time_us - s))
        .filter(|d| *d >= 0)
        .collect();
    rounds.sort_unstable();
    rounds.get(rounds.len() / 2).map(|us| *us as f64 / 1000.0)
}

/// The timers to set: derived from the observed round trip when there is one.
fn flapping_fix(rtt_ms: Option<f64>, range: Option<(u64, u64)>, heartbeat: Option<u64>) -> String {
    let configured = match (range, heartbeat) {
        (Some((min, max)), Some(h)) => {
            format!(" (configured: heartbeat {h} ms, election timeout {min}-{max} ms)")
        }
        (Some((min, max)), None) => format!(" (configured election timeout {min}-{max} ms)"),
        _ => String::new(),
    };
    match rtt_ms {
        Some(rtt) => {
            let t = Timing::from_latency_ms(rtt / 2.0);
            format!(
                "set the heartbeat to {} ms and the election timeout to {}-{} ms{configured}: \
                 computed from the observed round trip of {rtt:.1} ms (median time from a \
                 candidacy to its victory) as heartbeat = max(50, 1.5 x rtt), election timeout \
                 = max(3 x heartbeat, 10 x rtt) to twice that; keep pre-vote on",
                t.heartbeat_ms, t.election_timeout_min_ms, t.election_timeout_max_ms
            )
        }
        None => format!(
            "raise the election timeout to at least 10 round trips and 3 heartbeats{configured}; \
             no election was won in these logs, so the round trip could not be measured"
        ),
    }
}

/// Elections that no fault explains, too often: the timeouts are too short for the network.
pub fn leader_flapping(events: &[LogEvent], samples: Option<&[Sample]>) -> Vec<Finding> {
    let (range, heartbeat) = election_timeout_ms(events);
    let election_max_ms = range.map_or(DEFAULT_ELECTION_MAX_MS, |r| r.1);
    let windows = fault_windows(events, 3 * election_max_ms as i64 * 1000);
    let started: Vec<&LogEvent> = named(events, EventKind::ElectionStarted).collect();
    let unexplained: Vec<&LogEvent> = started
        .iter()
        .copied()
        .filter(|e| !windows.iter().any(|(a, b)| (*a..=*b).contains(&e.time_us)))
        .collect();
    let won: BTreeSet<(Option<u64>, Option<u64>)> = named(events, EventKind::LeaderElected)
        .map(|e| (e.node, e.term))
        .collect();
    let span_min = match (events.first(), events.last()) {
        (Some(a), Some(b)) => ((b.time_us - a.time_us) as f64 / 60e6).max(1.0 / 60.0),
        _ => return Vec::new(),
    };
    let rate = unexplained.len() as f64 / span_min;
    let flapping_in_logs =
        unexplained.len() >= FLAPPING_MIN_ELECTIONS && rate >= FLAPPING_PER_MINUTE;
    let from_metrics = samples.and_then(flapping_in_metrics);
    if !flapping_in_logs && from_metrics.is_none() {
        return Vec::new();
    }
    let rtt_ms = observed_round_trip_ms(events, &started);
    let split_votes = started
        .iter()
        .filter(|e| !won.contains(&(e.node, e.term)))
        .map(|e| e.term)
        .collect::<BTreeSet<_>>()
        .len();
    let nodes: BTreeSet<u64> = unexplained.iter().filter_map(|e| e.node).collect();
    let terms: BTreeSet<u64> = unexplained.iter().filter_map(|e| e.term).collect();
    let fix = flapping_fix(rtt_ms, range, heartbeat);
    let mut evidence = vec![format!(
        "{} election(s) started, {} with no crash, pause, partition or membership change to \
         explain them ({rate:.1} per minute); {split_votes} term(s) with no winner",
        started.len(),
        unexplained.len()
    )];
    evidence.extend(from_metrics);
    evidence.extend(unexplained.iter().take(MAX_EVIDENCE).map(|e| e.describe()));
    vec![Finding {
        kind: "leader_flapping".into(),
        summary: format!(
            "leaders keep changing with no fault to explain it: {} unexplained election(s), \
             {rate:.1} per minute",
            unexplained.len()
        ),
        nodes: nodes.into_iter().collect(),
        terms: terms.into_iter().collect(),
        evidence,
        cause: "election timeouts too short for the network's round trip (or the heartbeat too \
                slow), so followers give up on a live leader and votes split"
            .into(),
        fix,
    }]
}

/// Replicas that applied different states at the same index (the chain digest differs).
pub fn data_divergence(events: &[LogEvent]) -> Vec<Finding> {
    let mut seen: BTreeMap<u64, (&str, &LogEvent)> = BTreeMap::new();
    let mut findings = Vec::new();
    let mut reported = BTreeSet::new();
    for e in events {
        let Some(Event::CommitApplied(applied)) = &e.data else {
            continue;
        };
        let (index, chain) = (applied.applied_index, applied.applied_chain.as_str());
        match seen.get(&index) {
            Some((other_chain, other)) if *other_chain != chain && other.node != e.node => {
                let pair = (other.node, e.node);
                if reported.insert(pair) {
                    let nodes: Vec<u64> = [other.node, e.node].into_iter().flatten().collect();
                    findings.push(Finding {
                        kind: "data_divergence".into(),
                        summary: format!(
                            "nodes {nodes:?} applied different states at index {index}"
                        ),
                        nodes,
                        terms: [other.term, e.term].into_iter().flatten().collect(),
                        evidence: vec![other.describe(), e.describe()],
                        cause: "an entry applied before it was committed, or logs that \
                                disagree (a log-matching check skipped): replicas now hold \
                                different data"
                            .into(),
                        fix: "apply only committed entries and keep the log-matching check; \
                              resync the diverged replica from a snapshot of a healthy one"
                            .into(),
                    });
                }
            }
            Some(_) => {}
            None => {
                seen.insert(index, (chain, e));
            }
        }
    }
    findings
}

/// Partitions detected and never healed by the end of the logs.
pub fn partition_not_healed(events: &[LogEvent]) -> Vec<Finding> {
    let mut open: Vec<&LogEvent> = Vec::new();
    for e in events {
        match e.kind {
            Some(EventKind::PartitionDetected) => open.push(e),
            Some(EventKind::PartitionHealed | EventKind::FaultsHealed) => open.clear(),
            _ => {}
        }
    }
    if open.is_empty() {
        return Vec::new();
    }
    let end = events.last().map_or(0, |e| e.time_us);
    vec![Finding {
        kind: "partition_not_healed".into(),
        summary: format!(
            "a network partition detected at {:.3} s was still in place at the end of the logs ({:.3} s)",
            open[0].seconds(),
            end as f64 / 1e6
        ),
        nodes: open.iter().filter_map(|e| e.node).collect(),
        terms: Vec::new(),
        evidence: open.iter().take(MAX_EVIDENCE).map(|e| e.describe()).collect(),
        cause: "a network fault (link, firewall rule, routing) that has not been repaired; the \
                minority side cannot make progress"
            .into(),
        fix: "restore connectivity between the sides (check links, firewall rules, routes); \
              clients on the minority side should fail over to the majority"
            .into(),
    }]
}

/// A follower falling further and further behind, from the leader's replication events (or
/// the lag metric).
pub fn replication_lag(events: &[LogEvent], samples: Option<&[Sample]>) -> Vec<Finding> {
    /// Entries behind, at the end, that count as a real lag.
    const LAG_ENTRIES: u64 = 1_000;
    /// Seconds behind (metric) that count as a real lag.
    const LAG_SECONDS: f64 = 5.0;
    let mut lag: BTreeMap<u64, Vec<(u64, &LogEvent)>> = BTreeMap::new();
    for e in events {
        let Some(Event::LogReplicated(replicated)) = &e.data else {
            continue;
        };
        for &(id, matched) in &replicated.follower_match {
            lag.entry(id)
                .or_default()
                .push((replicated.commit_index.saturating_sub(matched), e));
        }
    }
    let mut findings = Vec::new();
    for (follower, series) in &lag {
        let Some((last, last_event)) = series.last() else {
            continue;
        };
        let middle = series[series.len() / 2].0;
        if *last >= LAG_ENTRIES && *last > 2 * middle {
            findings.push(Finding {
                kind: "replication_lag_growing".into(),
                summary: format!(
                    "follower {follower} is {last} entries behind the leader's commit index and \
                     the gap keeps growing (it was {middle} halfway through)"
                ),
                nodes: vec![*follower],
                terms: last_event.term.into_iter().collect(),
                evidence: vec![series[series.len() / 2].1.describe(), last_event.describe()],
                cause: "the follower cannot keep up (slow disk or network, or it is cut off) and \
                        the leader keeps committing with the others"
                    .into(),
                fix: "check the follower's disk and network; bound in-flight bytes; if it stays \
                      behind, let it catch up from a snapshot or replace it"
                    .into(),
            });
        }
    }
    if let Some(samples) = samples {
        for s in samples.iter().filter(|s| s.name == REPLICATION_LAG.name) {
            if s.value >= LAG_SECONDS {
                let follower = s
                    .labels
                    .iter()
                    .find(|(k, _)| k == REPLICATION_LAG.label)
                    .and_then(|(_, v)| v.parse().ok());
                findings.push(Finding {
                    kind: "replication_lag_growing".into(),
                    summary: format!(
                        "replication lag of {:.1} s for follower {}",
                        s.value,
                        follower.map_or("?".to_string(), |f: u64| f.to_string())
                    ),
                    nodes: follower.into_iter().collect(),
                    terms: Vec::new(),
                    evidence: vec![format!("metrics: replication_lag_seconds{:?} = {}", s.labels, s.value)],
                    cause: "a follower that has not received entries the leader holds for seconds".into(),
                    fix: "check the follower's disk and network; let it catch up from a snapshot or replace it".into(),
                });
            }
        }
    }
    findings
}

/// Stale reads (the history is not linearizable) and operations that never completed.
pub fn history_findings(history: &History, format: HistoryFormat) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut options = CheckOptions::new(ModelKind::default_for(history, format));
    options.timeout = Some(std::time::Duration::from_secs(30));
    if let Ok(result) = check(history, &options) {
        if let Verdict::Violation(v) = result.verdict {
            let processes: BTreeSet<u64> = v.core.iter().map(|op| op.process).collect();
            findings.push(Finding {
                kind: "stale_read".into(),
                summary: format!(
                    "the history is not linearizable on key {}: a read returned a value older \
                     than a write that had completed (or one no write produced)",
                    v.key.as_deref().unwrap_or("(single register)")
                ),
                nodes: Vec::new(),
                terms: Vec::new(),
                evidence: {
                    // Reads first: they are what went wrong.
                    let mut ops: Vec<&crate::Operation> = v.core.iter().collect();
                    ops.sort_by_key(|op| (op.kind != crate::OpKind::Read, op.call));
                    ops.into_iter()
                        .take(MAX_EVIDENCE)
                        .map(describe_op)
                        .chain(std::iter::once(format!(
                            "processes involved: {processes:?}"
                        )))
                        .collect()
                },
                cause: "reads served without a read barrier: from a follower, from a leader \
                        that lost its majority, or from a new leader before it committed in its \
                        term"
                    .into(),
                fix: "route reads to the leader through ReadIndex (or a lease with \
                      check-quorum), or use read repair / quorum reads in leaderless stores"
                    .into(),
            });
        }
    }
    let total = history.operations.len();
    let never: Vec<_> = history
        .operations
        .iter()
        .filter(|op| op.ret.is_none())
        .collect();
    if total > 0 && never.len() * 20 >= total && !never.is_empty() {
        findings.push(Finding {
            kind: "stuck_operations".into(),
            summary: format!(
                "{} of {total} operations never completed (their outcome is unknown)",
                never.len()
            ),
            nodes: Vec::new(),
            terms: Vec::new(),
            evidence: never
                .iter()
                .take(MAX_EVIDENCE)
                .map(|op| describe_op(op))
                .collect(),
            cause: "requests that wait forever: no leader, a lost reply, or a lock that is never \
                    released"
                .into(),
            fix: "give every request a timeout and retry with exponential backoff, jitter and an \
                  idempotency key; give locks leases with fencing tokens"
                .into(),
        });
    }
    findings
}

/// One operation for evidence: where, who, what, result, when (history time units).
fn describe_op(op: &crate::Operation) -> String {
    let what = match (&op.kind, &op.output) {
        (crate::OpKind::Read, Some(out)) => format!("read -> {out}"),
        (kind, _) => format!("{kind:?} {}", op.input).to_lowercase(),
    };
    let key = op
        .key
        .as_deref()
        .map_or(String::new(), |k| format!(" key {k}"));
    match op.ret {
        Some(ret) => format!(
            "history line {}: process {}{key} {what}, completed, [{} .. {}]",
            op.line, op.process, op.call, ret
        ),
        None => format!(
            "history line {}: process {}{key} {what}, never completed, invoked at {}",
            op.line, op.process, op.call
        ),
    }
}

/// The debug checklist, answered from the evidence.
pub fn checklist(
    events: &[LogEvent],
    samples: Option<&[Sample]>,
    has_history: bool,
    findings: &[Finding],
) -> Vec<ChecklistItem> {
    let found = |kind: &str| findings.iter().any(|f| f.kind == kind);
    vec![
        reachability_item(events, found("partition_not_healed")),
        item(
            "clock sync",
            Status::NotObservable,
            "the logs carry one timestamp per line and no clock offsets; compare node clocks \
             (chronyc tracking) against the lease margin"
                .into(),
        ),
        quorum_item(events),
        divergence_item(events, found("data_divergence")),
        metrics_item(
            samples,
            found("leader_flapping") || found("replication_lag_growing"),
        ),
        reads_item(has_history, found("stale_read")),
        item(
            "retry storms",
            Status::NotObservable,
            "attempts per request are not in these inputs".into(),
        ),
    ]
}

/// One line of the checklist.
fn item(item: &str, status: Status, detail: String) -> ChecklistItem {
    ChecklistItem {
        item: item.into(),
        status,
        detail,
    }
}

/// Network reachability: every partition the logs show was healed.
fn reachability_item(events: &[LogEvent], not_healed: bool) -> ChecklistItem {
    let partitions = named(events, EventKind::PartitionDetected).count();
    if events.is_empty() {
        item(
            "network reachability",
            Status::NotObservable,
            "no logs".into(),
        )
    } else if not_healed {
        item(
            "network reachability",
            Status::Problem,
            "a partition was never healed".into(),
        )
    } else {
        item(
            "network reachability",
            Status::Ok,
            format!("{partitions} partition(s) detected, all healed"),
        )
    }
}

/// Quorum available: a leader was elected and commits continue after the last fault.
fn quorum_item(events: &[LogEvent]) -> ChecklistItem {
    let elected = named(events, EventKind::LeaderElected).count();
    let last_fault = events
        .iter()
        .filter(|e| is_fault(e))
        .map(|e| e.time_us)
        .max();
    let progress_after = events.iter().any(|e| {
        matches!(
            e.kind,
            Some(EventKind::LogReplicated | EventKind::CommitApplied)
        ) && last_fault.is_none_or(|t| e.time_us > t)
    });
    if events.is_empty() {
        item("quorum available", Status::NotObservable, "no logs".into())
    } else if elected > 0 && progress_after {
        item(
            "quorum available",
            Status::Ok,
            format!("{elected} leader election(s) won; commits continue after the last fault"),
        )
    } else {
        item(
            "quorum available",
            Status::Problem,
            "no commit progress after the last fault (or no leader ever elected)".into(),
        )
    }
}

/// Log divergence: the applied-state digests agree (observable only when the logs carry them).
fn divergence_item(events: &[LogEvent], diverged: bool) -> ChecklistItem {
    let digests = events
        .iter()
        .any(|e| matches!(e.data, Some(Event::CommitApplied(_))));
    if diverged {
        item(
            "log divergence",
            Status::Problem,
            "replicas applied different states".into(),
        )
    } else if digests {
        item(
            "log divergence",
            Status::Ok,
            "every index applied with the same digest on every node".into(),
        )
    } else {
        item(
            "log divergence",
            Status::NotObservable,
            "no applied-state digests in the logs".into(),
        )
    }
}

/// Metrics anomalies: none of the metric findings.
fn metrics_item(samples: Option<&[Sample]>, anomaly: bool) -> ChecklistItem {
    match samples {
        None => item(
            "metrics anomalies",
            Status::NotObservable,
            "no metrics snapshot".into(),
        ),
        Some(_) if anomaly => item(
            "metrics anomalies",
            Status::Problem,
            "see the findings".into(),
        ),
        Some(s) => item(
            "metrics anomalies",
            Status::Ok,
            format!("{} sample(s), none out of range", s.len()),
        ),
    }
}

/// Reads linearizable: the history's verdict, when a history was given.
fn reads_item(has_history: bool, stale: bool) -> ChecklistItem {
    if !has_history {
        return item(
            "reads linearizable",
            Status::NotObservable,
            "no history given".into(),
        );
    }
    item(
        "reads linearizable",
        if stale { Status::Problem } else { Status::Ok },
        if stale {
            "the checker found a stale read".into()
        } else {
            "the history is linearizable (or undecided within 30 s)".into()
        },
    )
}
