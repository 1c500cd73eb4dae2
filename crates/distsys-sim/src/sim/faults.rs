//! Fault injection: the schedule of partitions, crashes, pauses and membership changes, each
//! fault's effect on the cluster, torn writes, and the heal at the end of the faults.

use super::{EventKind, FaultAction, Sim, MS};
use crate::faults::{self, Fault};
use crate::protocol::Simulated;
use distsys_consensus::{NodeId, Role};
use distsys_types::event::{self, MembershipOutcome, MembershipStep, NoContext};
use distsys_types::{Event, QuorumSystem};
use rand::RngExt;

impl<C: Simulated> Sim<C> {
    pub(super) fn schedule_faults(&mut self) {
        let kinds: Vec<Fault> = [
            Fault::Partition,
            Fault::Crash,
            Fault::Pause,
            Fault::Membership,
        ]
        .into_iter()
        .filter(|f| self.config.faults.has(*f))
        .collect();
        let mut at = 200 * MS;
        while !kinds.is_empty() && at < self.faults_end_us {
            let kind = kinds[self.rng.random_range(0..kinds.len())];
            let action = match kind {
                Fault::Partition => FaultAction::Partition,
                Fault::Crash => FaultAction::Crash(None, None),
                Fault::Membership => FaultAction::ChangeMembership,
                _ => FaultAction::Pause,
            };
            self.schedule(at, EventKind::Fault(action));
            at += self.rng.random_range(300 * MS..1500 * MS);
        }
        let end = self.faults_end_us;
        self.schedule(end, EventKind::Fault(FaultAction::HealAll));
    }

    /// Moves one random node one step: voter -> removed (while enough voters remain), removed
    /// -> learner, learner -> voter. Refusals (no leader, a change in progress) are traced.
    pub(super) fn change_membership(&mut self) {
        let Some(leader) = self.leader() else {
            return;
        };
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        let node = ids[self.rng.random_range(0..ids.len())];
        let Some(current) = self
            .replica(leader)
            .and_then(|r| r.core().membership())
            .cloned()
        else {
            return;
        };
        let (mut voters, mut learners) = (current.voters.clone(), current.learners.clone());
        let min_voters = QuorumSystem::crash(ids.len()).quorum();
        let step = if voters.contains(&node) {
            if voters.len() <= min_voters {
                return;
            }
            voters.remove(&node);
            MembershipStep::Remove
        } else if learners.remove(&node) {
            voters.insert(node);
            MembershipStep::Promote
        } else {
            learners.insert(node);
            MembershipStep::AddLearner
        };
        let result = self
            .nodes
            .get_mut(&leader)
            .and_then(|n| n.replica.as_mut())
            .and_then(|r| C::propose_membership(r, voters.clone(), learners.clone()));
        let outcome = match result {
            Some(Ok(index)) => MembershipOutcome::Index(index),
            Some(Err(e)) => MembershipOutcome::Refused(e.to_string()),
            None => return,
        };
        self.trace.record(
            self.now,
            Some(leader),
            None,
            Event::MembershipChange(event::MembershipChange {
                step,
                node,
                voters,
                learners,
                outcome,
            }),
        );
        self.process_ready(leader);
    }

    pub(super) fn leader(&self) -> Option<NodeId> {
        self.nodes
            .iter()
            .filter(|(_, n)| !n.paused)
            .filter_map(|(id, n)| {
                n.replica
                    .as_ref()
                    .filter(|r| r.core().role() == Role::Leader)
                    .map(|r| (r.core().term(), *id))
            })
            .max()
            .map(|(_, id)| id)
    }

    /// A node to hit: the leader half of the time (leader-targeted faults), else any.
    pub(super) fn target(&mut self) -> NodeId {
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        let leader = self.leader();
        faults::target(&mut self.rng, &ids, leader)
    }

    pub(super) fn apply_fault(&mut self, action: FaultAction) {
        match action {
            FaultAction::Partition => self.start_partition(),
            FaultAction::Heal => {
                if self.partition.is_active() {
                    self.partition.heal();
                    self.report.partitions.1 += 1;
                    self.trace.record(
                        self.now,
                        None,
                        None,
                        Event::PartitionHealed(event::PartitionHealed { peer: None }),
                    );
                }
            }
            FaultAction::Crash(victim, restart_within) => self.crash(victim, restart_within),
            FaultAction::Restart(id) => {
                if self.stays_down.contains(&id) {
                    return;
                }
                if self.nodes.get(&id).is_some_and(|n| n.replica.is_none()) {
                    self.trace
                        .record(self.now, Some(id), None, Event::NodeRestarted(NoContext {}));
                    self.start_node(id);
                }
            }
            FaultAction::Pause => self.pause_one(),
            FaultAction::Resume(id) => {
                if let Some(node) = self.nodes.get_mut(&id) {
                    if node.paused {
                        node.paused = false;
                        let parked = std::mem::take(&mut node.parked);
                        for kind in parked {
                            self.queue.push(self.now, kind);
                        }
                        self.trace.record(
                            self.now,
                            Some(id),
                            None,
                            Event::NodeResumed(NoContext {}),
                        );
                    }
                }
            }
            FaultAction::ChangeMembership => self.change_membership(),
            FaultAction::HealAll => self.heal_all(),
        }
    }

    /// A partition of a random shape (a split, an isolated node, one-way links out of a node,
    /// or a bridge node between two sides), healed 0.2-2 s later.
    pub(super) fn start_partition(&mut self) {
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        let leader = self.leader();
        let description = self.partition.cut_random(&mut self.rng, &ids, leader);
        self.report.partitions.0 += 1;
        self.trace.record(
            self.now,
            None,
            None,
            Event::PartitionDetected(event::PartitionDetected {
                partition: Some(description),
                peer: None,
            }),
        );
        let heal = self.now + self.rng.random_range(200 * MS..2000 * MS);
        self.schedule(
            heal.min(self.faults_end_us),
            EventKind::Fault(FaultAction::Heal),
        );
    }

    /// Crashes `victim` (or a target), losing what it did not persist, and schedules its
    /// restart after `restart_within` (or 50-1500 ms).
    pub(super) fn crash(&mut self, victim: Option<NodeId>, restart_within: Option<u64>) {
        let victim = match victim {
            Some(v) => v,
            None => self.target(),
        };
        self.count_rejections(victim);
        if let Some(node) = self.nodes.get_mut(&victim) {
            node.parked.clear();
            // Writes still in flight never reach the disk.
            node.writes.clear();
            if node.replica.take().is_some() {
                self.trace.record(
                    self.now,
                    Some(victim),
                    None,
                    Event::NodeCrashed(NoContext {}),
                );
                let delay = match restart_within {
                    Some(d) => d,
                    None => self.rng.random_range(50 * MS..1500 * MS),
                };
                let back = (self.now + delay).min(self.faults_end_us.max(self.now + 1));
                self.schedule(back, EventKind::Fault(FaultAction::Restart(victim)));
            }
        }
    }

    /// Pauses a target for 0.1-1.5 s: its events are parked until it resumes.
    pub(super) fn pause_one(&mut self) {
        let victim = self.target();
        if let Some(node) = self.nodes.get_mut(&victim) {
            if !node.paused && node.replica.is_some() {
                node.paused = true;
                self.trace.record(
                    self.now,
                    Some(victim),
                    None,
                    Event::NodePaused(NoContext {}),
                );
                let back = self.now + self.rng.random_range(100 * MS..1500 * MS);
                self.schedule(
                    back.min(self.faults_end_us),
                    EventKind::Fault(FaultAction::Resume(victim)),
                );
            }
        }
    }

    /// The end of the faults: heal, resume and restart everything (but the nodes that stay
    /// down), and start the liveness clock.
    pub(super) fn heal_all(&mut self) {
        self.apply_fault(FaultAction::Heal);
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        for id in ids {
            self.apply_fault(FaultAction::Resume(id));
            self.apply_fault(FaultAction::Restart(id));
        }
        self.crash_for_good();
        self.healed_at = Some(self.now);
        self.waiting.restart(self.now);
        self.pending_at_heal = self
            .clients
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.pending.as_ref().map(|p| (i, p.seq)))
            .collect();
        if self.pending_at_heal.is_empty() {
            self.report.clients_done_after_heal_us = Some(0);
        }
        if self.leader().is_some() {
            self.report.leader_after_heal_us = Some(0);
        }
        self.trace
            .record(self.now, None, None, Event::FaultsHealed(NoContext {}));
    }

    /// Crashes `down_after_heal` random nodes for the rest of the run.
    pub(super) fn crash_for_good(&mut self) {
        let mut ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        let down = self.config.down_after_heal.min(ids.len());
        for _ in 0..down {
            let id = ids.remove(self.rng.random_range(0..ids.len()));
            self.stays_down.insert(id);
            self.apply_fault(FaultAction::Crash(Some(id), None));
        }
    }

    /// Sometimes (crash faults on) the node dies while writing this Ready: a prefix of its
    /// persist operations reaches the disk, the last one possibly cut short (a torn, unsynced
    /// tail), and nothing the Ready says is sent or applied. Returns whether it crashed.
    pub(super) fn crash_during_write(&mut self, id: NodeId, persist: &[C::PersistOp]) -> bool {
        /// Chance that a write is interrupted by a crash.
        const TORN_WRITE_PROBABILITY: f64 = 0.000_5;
        if persist.is_empty()
            || !self.config.faults.has(Fault::Crash)
            || self.now >= self.faults_end_us
            || !self.rng.random_bool(TORN_WRITE_PROBABILITY)
        {
            return false;
        }
        let durable = self.rng.random_range(0..persist.len());
        let appended = C::appended(&persist[durable]).count();
        let torn = if appended > 1 {
            let kept = self.rng.random_range(1..appended);
            C::torn(&persist[durable], kept)
        } else {
            None
        };
        let node = self.nodes.get_mut(&id).expect("node exists");
        for op in persist[..durable].iter().chain(torn.iter()) {
            C::apply_persist(&mut node.persisted, op);
        }
        self.trace.record(
            self.now,
            Some(id),
            None,
            Event::WriteTorn(event::WriteTorn {
                operations: persist.len() as u64,
                durable: durable as u64,
                torn_append: torn.is_some(),
            }),
        );
        self.apply_fault(FaultAction::Crash(Some(id), None));
        true
    }
}
