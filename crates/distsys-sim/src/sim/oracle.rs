//! The oracle: safety after every event (the protocol's own predicates, state machine safety),
//! liveness after the heal within the protocol's recovery bound, message storms (runaway), and
//! at the end the history's linearizability and the replicas' agreement.

use super::{EventKind, Sim, MS};
use crate::protocol::Simulated;
use crate::sim::Violation;
use distsys_consensus::safety::SafetyViolation;
use distsys_consensus::{Entry, NodeId, Snapshot};
use distsys_types::event;
use distsys_types::Event;
use std::collections::BTreeMap;

/// Events allowed regardless of elapsed virtual time, on top of the protocol's rate
/// ([`Simulated::events_per_ms_bound`]): far more events than that means the cluster generates
/// messages without bound (a message storm), and the run ends as a `runaway`.
pub(super) const BASE_EVENTS: u64 = 20_000;
/// Wall-clock time one run may take before it is cut short as a `runaway` (checked every
/// [`WALL_CHECK_EVERY`] events). Only a pathological run reaches it; the event budget, which is
/// deterministic, stops message storms long before.
pub(super) const WALL_BUDGET: std::time::Duration = std::time::Duration::from_secs(60);
/// The window, in virtual milliseconds, over which a burst of events counts as a storm.
pub(super) const STORM_WINDOW_MS: u64 = 200;
/// How many times the protocol's event rate a window may hold before the run is a storm.
pub(super) const STORM_BURST: u64 = 3;
/// Events between two looks at the wall clock.
pub(super) const WALL_CHECK_EVERY: u64 = 1 << 14;
/// Upper bound on events waiting in the queue: more means a message storm (known-bugs #14).
pub(super) const MAX_QUEUED: usize = 1_000_000;

/// What the liveness check waits for after the heal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Evidence {
    /// A client operation completed, measured in the time clients had a request out.
    ClientOperation,
    /// A leader, measured from the heal.
    Leader,
}

impl Evidence {
    /// How a liveness failure names it.
    fn name(self) -> &'static str {
        match self {
            Evidence::ClientOperation => "client operation completed",
            Evidence::Leader => "leader",
        }
    }
}

impl<C: Simulated> Sim<C> {
    /// The liveness bound: how long after the heal the protocol must serve clients again
    /// (see [`Simulated::recovery_bound_us`]), from the configured timers.
    pub(super) fn recovery_bound_us(&self) -> u64 {
        let mut params = self.build_params();
        params.election_timeout_us = (
            self.config.election_timeout_ms.0 * MS,
            self.config.election_timeout_ms.1 * MS,
        );
        C::recovery_bound_us(self.config.nodes, &params)
    }

    /// What the liveness check demands after the heal, with how long it took: a client
    /// operation completed, for every protocol (a leader without a quorum, or a byzantine
    /// primary doing nothing, serves nobody), measured in the time clients had a request out
    /// at the cluster since the heal ([`super::clients::WaitClock`]: not the time they slept
    /// in their retry backoff); and a leader, for the protocols that have one, measured from
    /// the heal.
    pub(super) fn recovery_evidence(&self) -> Vec<(Evidence, Option<u64>)> {
        let mut evidence = vec![(Evidence::ClientOperation, self.first_ok_waited_us)];
        if !self.every_replica_answers {
            evidence.push((Evidence::Leader, self.report.leader_after_heal_us));
        }
        evidence
    }

    /// Liveness: every piece of recovery evidence within the recovery bound after the heal.
    pub(super) fn check_recovery(&mut self) {
        let Some(healed) = self.healed_at else {
            return;
        };
        let bound = self.recovery_bound_us();
        let waited = self.waiting.elapsed(self.now);
        for (evidence, at) in self.recovery_evidence() {
            let (what, client) = (evidence.name(), evidence == Evidence::ClientOperation);
            match at {
                None if client => self.fail(
                    "liveness",
                    format!(
                        "no {what} in the {} ms after the faults healed, {} ms of them with a request out at the cluster (bound {} ms)",
                        (self.now - healed) / MS,
                        waited / MS,
                        bound / MS
                    ),
                ),
                None => self.fail(
                    "liveness",
                    format!("no {what} within {} ms after the faults healed", bound / MS),
                ),
                Some(t) if t > bound => self.fail(
                    "liveness",
                    format!(
                        "the first {what} after the faults healed took {} ms{} (bound {} ms)",
                        t / MS,
                        if client {
                            " with a request out at the cluster"
                        } else {
                            ""
                        },
                        bound / MS
                    ),
                ),
                _ => {}
            }
        }
    }

    /// At the end of the configured duration, a run whose liveness is not yet decided goes on
    /// (clients included) until its clients have had requests out for the recovery bound
    /// since the heal, so a short run, or clients asleep in their backoff, never make a
    /// protocol look stuck that was given less than its bound. At most one longest backoff
    /// past twice the bound after the heal. Returns the new end, if extended.
    pub(super) fn extend_for_liveness(&mut self, end: u64) -> Option<u64> {
        let healed = self.healed_at?;
        let bound = self.recovery_bound_us();
        let cap = healed + 2 * bound + self.retry.max_ms * MS + MS;
        // The run may have processed an event past `end` (the last extension's deadline).
        let end = end.max(self.now);
        let waited = self.waiting.elapsed(end);
        let deadline = self
            .recovery_evidence()
            .into_iter()
            .filter(|(_, at)| at.is_none())
            .map(|(evidence, _)| match evidence {
                Evidence::ClientOperation if waited < bound => end + (bound - waited) + MS,
                Evidence::ClientOperation => end,
                Evidence::Leader => healed + bound + MS,
            })
            .max()?
            .min(cap);
        if deadline <= end {
            return None;
        }
        self.clients_end_us = deadline;
        for client in 0..self.clients.len() {
            if self.clients[client].pending.is_none() {
                self.schedule(self.now, EventKind::ClientNext { client });
            }
        }
        Some(deadline)
    }

    /// Why the run must stop as a message storm, if it must: more events than the protocol's
    /// rate allows for the virtual time elapsed, too many waiting, or past the wall budget.
    pub(super) fn runaway(&mut self, rate: u64, started: std::time::Instant) -> Option<String> {
        let per_op = C::events_per_operation_bound(self.config.nodes);
        let ops = self.report.ops_total;
        // A storm also shows as a burst: more than STORM_BURST times the rate over a window
        // (the cumulative budget alone lets a run bank what quiet periods left unused).
        let window = self.now / (STORM_WINDOW_MS * MS);
        if window != self.storm_window.0 {
            self.storm_window = (window, self.report.events, ops);
        } else {
            let in_window = self.report.events - self.storm_window.1;
            let allowed =
                STORM_BURST * (rate * STORM_WINDOW_MS + per_op * (ops - self.storm_window.2));
            if in_window > allowed {
                return Some(format!(
                    "{in_window} events in {STORM_WINDOW_MS} virtual ms at {} ms (more than {STORM_BURST} x ({rate} per ms + {per_op} per operation started)): the cluster generates messages without bound",
                    self.now / MS
                ));
            }
        }
        let allowed = BASE_EVENTS + rate * (self.now / MS + 100) + per_op * ops;
        if self.report.events > allowed || self.queue.len() > MAX_QUEUED {
            return Some(format!(
                "{} events processed and {} waiting at {} ms (budget {allowed}: {rate} per virtual ms and {per_op} per operation started): the cluster generates messages without bound",
                self.report.events,
                self.queue.len(),
                self.now / MS
            ));
        }
        if self.report.events.is_multiple_of(WALL_CHECK_EVERY) && started.elapsed() > WALL_BUDGET {
            return Some(format!(
                "{} events processed in more than {} s of wall time (the run's wall budget)",
                self.report.events,
                WALL_BUDGET.as_secs()
            ));
        }
        None
    }

    pub(super) fn fail(&mut self, property: &str, detail: String) {
        if self.report.violation.is_none() {
            self.trace.record(
                self.now,
                None,
                None,
                Event::Violation(event::Violation {
                    property: property.to_string(),
                    detail: detail.clone(),
                }),
            );
            self.report.violation = Some(Violation {
                property: property.to_string(),
                detail,
                time_us: self.now,
            });
        }
    }

    /// A safety predicate broke: the property must be one the protocol's descriptor names
    /// (its `safety` list), so the list stays the complete set of what the checks report.
    fn fail_safety(&mut self, v: SafetyViolation) {
        debug_assert!(
            self.config.protocol.safety.contains(&v.property),
            "{} reported {}, which its descriptor's safety list does not name",
            self.config.protocol.name(),
            v.property
        );
        self.fail(v.property, v.detail);
    }

    /// Checks the safety properties against the node that just changed. Only that node's state
    /// moved, and the monitor remembers what every other node showed, so this is the same check
    /// as looking at the whole cluster, in constant work per event.
    pub(super) fn check_safety(&mut self, id: NodeId) {
        if self.is_byzantine(id) {
            return;
        }
        // Field-level borrows: the node is read while the monitor is updated.
        let Some(core) = self
            .nodes
            .get(&id)
            .and_then(|n| n.replica.as_ref())
            .map(|r| r.core())
        else {
            return;
        };
        if let Err(v) = core.observe_safety(&mut self.monitor) {
            self.fail_safety(v);
        }
    }

    /// Records an installed snapshot and the applied entries of node `id` in the trace, and
    /// hands them to the safety monitor (honest nodes only).
    pub(super) fn observe_applied(
        &mut self,
        id: NodeId,
        term: u64,
        installed: Option<&Snapshot>,
        applied: &[Entry],
    ) {
        let honest = !self.is_byzantine(id);
        if let Some(snapshot) = installed {
            self.report.snapshots_installed += 1;
            self.trace.record(
                self.now,
                Some(id),
                Some(term),
                Event::SnapshotInstalled(event::SnapshotInstalled {
                    last_index: snapshot.last_index,
                }),
            );
        }
        if let Some(snapshot) = installed.filter(|_| honest) {
            if let Err(v) = self.monitor.on_install(id, snapshot) {
                self.fail_safety(v);
            }
        }
        for entry in applied.iter().filter(|_| honest) {
            if let Err(v) = self.monitor.on_apply(id, entry) {
                self.fail_safety(v);
            }
        }
        if !applied.is_empty() {
            let last = applied.last().map_or(0, |e| e.index);
            self.trace.record(
                self.now,
                Some(id),
                Some(term),
                // Digest of the applied state: the chain hash covers every entry up to it.
                Event::CommitApplied(event::CommitApplied::new(
                    last,
                    applied.len(),
                    applied.last().map_or(0, |e| e.chain),
                )),
            );
        }
    }

    pub(super) fn finish(&mut self) {
        // Operations still pending have an unknown outcome.
        for client in 0..self.clients.len() {
            if let Some(pending) = self.clients[client].pending.take() {
                if pending.kind.is_mutation() {
                    self.report.ops_unknown += 1;
                }
            }
        }
        self.check_recovery();
        if self.report.violation.is_some() {
            return;
        }
        self.check_linearizability();
        // Replicas that applied the same index agree (state machine safety, end of run).
        let mut by_index: BTreeMap<u64, (u64, NodeId)> = BTreeMap::new();
        for (id, node) in &self.nodes {
            if self.is_byzantine(*id) {
                continue;
            }
            if let Some(r) = &node.replica {
                let (applied, chain) = (r.kv().applied(), r.kv().applied_chain());
                if let Some((other_chain, other)) = by_index.get(&applied) {
                    if *other_chain != chain {
                        let detail = format!("nodes {other} and {id} applied different histories up to index {applied}");
                        self.fail("state_machine_safety", detail);
                        return;
                    }
                }
                by_index.insert(applied, (chain, *id));
            }
        }
    }
}
