//! The byzantine replicas of a run: which ones, what each may do, and the protocol's adversary
//! that drives them (protocols whose adversary does not exist never get here).

use super::Sim;
use crate::protocol::{ByzantineAdversary, Simulated};
use distsys_consensus::pbft::byzantine::Behaviour;
use distsys_consensus::NodeId;
use distsys_types::event;
use distsys_types::Event;
use rand::RngExt;
use std::collections::{BTreeMap, BTreeSet};

impl<C: Simulated> Sim<C> {
    /// Picks the byzantine replicas (the first primary among them half of the time) and what
    /// each does: a random non-empty subset of the configured behaviours.
    pub(super) fn choose_byzantine(&mut self, ids: &[NodeId]) {
        let count = self.config.byzantine.min(ids.len());
        if count == 0 || !<C::Adversary as ByzantineAdversary<C::Message>>::EXISTS {
            return;
        }
        let mut pool: Vec<NodeId> = ids.to_vec();
        let mut chosen = BTreeSet::new();
        if self.rng.random_bool(0.5) {
            chosen.insert(pool.remove(0));
        }
        while chosen.len() < count {
            let i = self.rng.random_range(0..pool.len());
            chosen.insert(pool.remove(i));
        }
        let options = self.config.byzantine_behaviours.clone();
        let mut behaviours = BTreeMap::new();
        for id in chosen {
            let mut set: BTreeSet<Behaviour> = options
                .iter()
                .copied()
                .filter(|_| self.rng.random_bool(0.5))
                .collect();
            if set.is_empty() && !options.is_empty() {
                set.insert(options[self.rng.random_range(0..options.len())]);
            }
            self.report
                .byzantine
                .insert(id, set.iter().map(|b| b.name()).collect());
            behaviours.insert(id, set);
        }
        self.trace.record(
            0,
            None,
            None,
            Event::ByzantineReplicas(event::ByzantineReplicas {
                replicas: self
                    .report
                    .byzantine
                    .iter()
                    .map(|(id, names)| {
                        (
                            id.to_string(),
                            names.iter().map(|n| n.to_string()).collect(),
                        )
                    })
                    .collect(),
            }),
        );
        self.adversary = C::Adversary::new(&self.secret, ids, behaviours);
        debug_assert!(self.adversary.is_some(), "an adversary that EXISTS builds");
    }

    pub(super) fn is_byzantine(&self, id: NodeId) -> bool {
        self.adversary.as_ref().is_some_and(|a| a.controls(id))
    }
}
