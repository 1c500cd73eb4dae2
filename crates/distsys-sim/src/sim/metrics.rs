//! What a run measures besides the checks: elections by outcome, rejected messages, the
//! replication lag of each follower at the end.

use super::{Sim, MS};
use crate::protocol::Simulated;
use distsys_consensus::{NodeId, Role};
use distsys_types::event;
use distsys_types::Event;
use std::collections::BTreeMap;

impl<C: Simulated> Sim<C> {
    pub(super) fn on_role(&mut self, id: NodeId, role: Role, term: u64) {
        match role {
            Role::Candidate => {
                self.candidates.insert((id, term), false);
                self.trace.record(
                    self.now,
                    Some(id),
                    Some(term),
                    Event::ElectionStarted(event::ElectionStarted { candidate: id }),
                );
            }
            Role::Leader => {
                self.candidates.insert((id, term), true);
                self.report.elections_won += 1;
                if let Some(healed) = self.healed_at {
                    if self.report.leader_after_heal_us.is_none() {
                        self.report.leader_after_heal_us = Some(self.now - healed);
                    }
                }
                self.trace.record(
                    self.now,
                    Some(id),
                    Some(term),
                    Event::LeaderElected(event::LeaderElected {
                        leader: id,
                        heartbeat_ms: Some(self.config.heartbeat_ms),
                        election_timeout_ms: Some([
                            self.election_timeout_us.0 / MS,
                            self.election_timeout_us.1 / MS,
                        ]),
                    }),
                );
            }
            Role::Follower | Role::PreCandidate => {}
        }
    }

    /// Adds what an honest replica refused to the run's counts (at a crash and at the end).
    pub(super) fn count_rejections(&mut self, id: NodeId) {
        if self.is_byzantine(id) {
            return;
        }
        let Some(counts) = self.replica(id).map(|r| r.core().rejections()) else {
            return;
        };
        for (reason, count) in counts {
            *self.report.rejected.entry(reason).or_default() += count;
        }
    }

    /// Election outcomes per term, and each follower's replication lag behind the leader.
    pub(super) fn final_metrics(&mut self) {
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        for id in ids {
            self.count_rejections(id);
        }
        let mut by_term: BTreeMap<u64, (usize, bool)> = BTreeMap::new();
        for ((_, term), won) in &self.candidates {
            let slot = by_term.entry(*term).or_default();
            slot.0 += 1;
            slot.1 |= *won;
        }
        for (candidates, won) in by_term.values() {
            let r = &mut self.report.election_results;
            match (won, candidates) {
                (true, _) => r.0 += 1,
                (false, 1) => r.1 += 1,
                (false, _) => r.2 += 1,
            }
        }
        let Some(leader) = self.leader() else { return };
        let Some(core) = self.replica(leader).map(|r| r.core()) else {
            return;
        };
        let last = core.last_index();
        for (follower, matched) in core.follower_progress() {
            let seconds = if matched >= last {
                0.0
            } else {
                self.appended_at
                    .get(&(matched + 1))
                    .map_or(0.0, |t| (self.now - t) as f64 / 1e6)
            };
            self.report
                .replication_lag_seconds
                .insert(follower, seconds);
        }
    }
}
