//! What safety monitors see of Multi-Paxos: every acceptor's votes and every value a replica
//! takes as chosen, checked against each other (`chosen_by_majority`,
//! [`crate::safety::SafetyMonitor::on_chosen`]). Two ways in, one check: a simulator that
//! watches replicas one step at a time feeds each step's votes and choices
//! ([`MultiPaxos::observe_last_step`]); a model checker that sees whole states feeds every disk
//! and every replica ([`observe_cluster`]).

use super::types::{PaxosPersistOp, PaxosPersisted, PaxosReady};
use super::MultiPaxos;
use crate::safety::{SafetyMonitor, SafetyViolation};
use crate::types::{Index, NodeId};

/// The hash a value is compared by (equal bytes, equal hash).
pub fn value_hash(value: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(value)
}

/// What one step (one `ready`) of a replica voted and learned.
#[derive(Debug, Clone, Default)]
pub(super) struct StepNotes {
    /// (slot, value hash) accepted and persisted in the step.
    accepted: Vec<(Index, u64)>,
    /// (slot, value hash) taken as chosen in the step.
    learned: Vec<(Index, u64)>,
}

impl StepNotes {
    /// The votes of `ready` (its persisted accepts) and the values `learned`.
    pub(super) fn of(ready: &PaxosReady, learned: Vec<(Index, u64)>) -> StepNotes {
        let accepted = ready
            .persist
            .iter()
            .filter_map(|op| match op {
                PaxosPersistOp::Accept(slot, _, value) => Some((*slot, value_hash(value))),
                _ => None,
            })
            .collect();
        StepNotes { accepted, learned }
    }
}

impl MultiPaxos {
    /// Feeds `monitor` what this replica's last step (up to its last `ready`) put on disk and
    /// learned chosen: its votes and compaction first, then each value it took as chosen,
    /// checked against every acceptor's votes the monitor has seen. A driver that persists
    /// every `ready` before sending its messages (the contract) and calls this after each
    /// gives the monitor every vote before the reply that counts it arrives anywhere.
    pub fn observe_last_step(&self, monitor: &mut SafetyMonitor) -> Result<(), SafetyViolation> {
        let id = self.config.id;
        monitor.on_compacted(id, self.compacted());
        for &(slot, value) in &self.last_step.accepted {
            monitor.on_vote(id, slot, value);
        }
        let majority = self.config.majority();
        for &(slot, value) in &self.last_step.learned {
            monitor.on_chosen(id, slot, value, majority)?;
        }
        Ok(())
    }

    /// Every value this replica knows chosen and has not compacted, by slot.
    pub fn chosen_values(&self) -> impl Iterator<Item = (Index, &[u8])> {
        self.chosen.iter().map(|(slot, v)| (*slot, v.as_slice()))
    }
}

/// Feeds `monitor` a whole cluster: the votes on every acceptor's disk (`disks`, crashed
/// acceptors included: their votes still count), then every value each running replica
/// (`live`) knows chosen, each checked against those votes (`chosen_by_majority`).
pub fn observe_cluster(
    monitor: &mut SafetyMonitor,
    live: &[&MultiPaxos],
    disks: &[(NodeId, &PaxosPersisted)],
) -> Result<(), SafetyViolation> {
    for (id, disk) in disks {
        if let Some(snapshot) = &disk.snapshot {
            monitor.on_compacted(*id, snapshot.index);
        }
        for (slot, (_, value)) in &disk.accepted {
            monitor.on_vote(*id, *slot, value_hash(value));
        }
    }
    for replica in live {
        let majority = replica.config.majority();
        for (slot, value) in replica.chosen_values() {
            monitor.on_chosen(replica.id(), slot, value_hash(value), majority)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paxos::{Ballot, PaxosConfig, PaxosMessage, PaxosMutant};

    fn replica(id: NodeId, nodes: usize, mutant: Option<PaxosMutant>) -> MultiPaxos {
        let mut config = PaxosConfig::new(id, (1..=nodes as NodeId).collect());
        config.mutant = mutant;
        MultiPaxos::new(config, &PaxosPersisted::default(), id, 0)
    }

    /// Node 1 of `nodes` leads ballot (1, 1) with promises from 2 and 3, proposes `b"x"`, and
    /// gets node 2's Accepted `acks` times, every step of both observed by one monitor.
    /// Returns the first violation, if any.
    fn count_acks(nodes: usize, acks: usize, mutant: Option<PaxosMutant>) -> Option<String> {
        let mut monitor = SafetyMonitor::new();
        let mut leader = replica(1, nodes, mutant);
        let mut two = replica(2, nodes, mutant);
        let ballot = Ballot { round: 1, node: 1 };
        leader.start_prepare();
        let _ = leader.ready();
        for from in 2..=3 {
            leader.step(
                from,
                PaxosMessage::Promise {
                    ballot,
                    ok: true,
                    promised: ballot,
                    accepted: Vec::new(),
                    compacted: 0,
                },
            );
        }
        leader.propose(b"x".to_vec()).expect("leads");
        let _ = leader.ready();
        leader.observe_last_step(&mut monitor).expect("a vote");
        two.step(
            1,
            PaxosMessage::Accept {
                ballot,
                slot: 1,
                value: b"x".to_vec(),
                chosen: 0,
            },
        );
        let _ = two.ready();
        two.observe_last_step(&mut monitor).expect("a vote");
        for _ in 0..acks {
            leader.step(
                2,
                PaxosMessage::Accepted {
                    ballot,
                    slot: 1,
                    ok: true,
                    promised: ballot,
                },
            );
            let _ = leader.ready();
            if let Err(v) = leader.observe_last_step(&mut monitor) {
                return Some(v.to_string());
            }
        }
        None
    }

    #[test]
    fn a_choice_counted_from_one_acceptor_twice_is_refused_and_a_real_majority_passes() {
        // Three nodes: the leader and node 2 are a majority.
        assert_eq!(count_acks(3, 1, None), None);
        assert_eq!(count_acks(3, 2, None), None);
        // Four nodes: the leader, node 2 and node 2 again are three messages, two acceptors.
        assert_eq!(count_acks(4, 2, None), None, "the correct core waits");
        let broken = count_acks(4, 2, Some(PaxosMutant::CountDuplicateAccepts))
            .expect("the duplicate is counted as a third acceptor");
        assert!(broken.starts_with("chosen_by_majority"), "{broken}");
        assert!(broken.contains("only 2 of the 3"), "{broken}");
    }

    #[test]
    fn the_whole_cluster_check_counts_crashed_disks_and_compaction() {
        let mut leader = replica(1, 3, None);
        leader.learn(1, b"v".to_vec());
        let voted = |value: &[u8]| {
            let mut disk = PaxosPersisted::default();
            disk.apply(&PaxosPersistOp::Accept(
                1,
                Ballot { round: 1, node: 1 },
                value.to_vec(),
            ));
            disk
        };
        let (v, w, empty) = (voted(b"v"), voted(b"w"), PaxosPersisted::default());
        let check = |disks: &[(NodeId, &PaxosPersisted)]| {
            observe_cluster(&mut SafetyMonitor::new(), &[&leader], disks)
        };
        assert!(check(&[(1, &v), (2, &v), (3, &empty)]).is_ok());
        let broken = check(&[(1, &v), (2, &w), (3, &empty)]).expect_err("one vote of three");
        assert_eq!(broken.property, "chosen_by_majority");
        let mut compacted = empty.clone();
        compacted.apply(&PaxosPersistOp::Compact(crate::paxos::PaxosSnapshot {
            index: 1,
            chain: 0,
            data: Vec::new(),
        }));
        assert!(check(&[(1, &v), (2, &w), (3, &compacted)]).is_ok());
    }
}
