//! A canonical hash of a PBFT replica's protocol state, for exhaustive model checkers that
//! store fingerprints of states (as `raft::fingerprint` and `paxos::fingerprint` do).
//!
//! Time. Every decision of the replica that involves its clock compares how long ago something
//! happened (a request arrived, a view change started, a slot or a peer was last helped) with
//! one of its timeouts, all at most [`TIMER_LEAP_US`]. A checker that only ever advances a
//! replica's clock by [`TIMER_LEAP_US`] at a time ([`Pbft::timer_leap_us`]: every timer that is
//! running expires, the view-change or request timer and the retransmission together) leaves
//! every stored time either equal to the replica's clock (set since its last timer) or at
//! least that far behind it, and every such comparison is decided by which of the two it is.
//! So the fingerprint keeps, of each stored time a message handler reads (when a slot or a
//! peer was last helped, when a view change was last acknowledged), only whether it is now;
//! the times only the timer reads (when a request arrived, a view change started, a slot was
//! touched, a state fetch asked, the last retransmission) are always expired at the next
//! timer and are left out. Two states that differ only in what is left out behave the same
//! under such a checker. The clock itself, the
//! configuration (keys, timeouts), the refusal counters (statistics) and the undrained outputs
//! (a driver drains after every input; their counts are hashed) are left out.
//!
//! Node ids are not relabelled: the primary of a view is `nodes[view % n]`, so node ids are not
//! interchangeable and a checker uses no symmetry reduction.

use super::{Pbft, View};
use crate::types::TimeUs;
use std::hash::{Hash, Hasher};

/// The clock step of a model checker's timer action: at least every timeout a replica
/// compares elapsed time with, at the default configuration and any other whose timeouts are
/// shorter (asserted in debug builds for the view-change timeout; a retransmission interval
/// longer than the leap never expires, which is how a checker turns retransmission off).
pub const TIMER_LEAP_US: TimeUs = 10_000_000;

impl Pbft {
    /// When a model checker's timer action ticks this replica to: [`TIMER_LEAP_US`] after its
    /// clock, past every deadline (see the module doc).
    pub fn timer_leap_us(&self) -> TimeUs {
        debug_assert!(
            self.config.view_change_timeout_us(View::MAX) <= TIMER_LEAP_US,
            "view-change timeouts longer than the timer leap"
        );
        self.now + TIMER_LEAP_US
    }

    /// The highest sequence number this replica holds anything for.
    pub fn last_seq(&self) -> u64 {
        let slots = self.slots.keys().next_back().copied().unwrap_or(0);
        slots
            .max(self.executed)
            .max(self.next_seq.saturating_sub(1))
    }

    /// Feeds the protocol state (see the module doc for what is left out, and how time is
    /// kept) into `state`.
    pub fn fingerprint<H: Hasher>(&self, state: &mut H) {
        let now = self.now;
        let recent = |t: TimeUs| t >= now;
        self.config.id.hash(state);
        self.view.hash(state);
        self.changing
            .map(|c| (c.target, c.started.is_some(), c.timeout))
            .hash(state);
        self.slots.len().hash(state);
        for (seq, slot) in &self.slots {
            seq.hash(state);
            slot.accepted.hash(state);
            slot.request.hash(state);
            slot.prepares.hash(state);
            slot.commits.hash(state);
            slot.commit_sent_in.hash(state);
            slot.committed.hash(state);
            slot.pre_prepared.hash(state);
            slot.prepared.hash(state);
            slot.chain.hash(state);
            slot.helped.len().hash(state);
            for (peer, at) in &slot.helped {
                (peer, recent(*at)).hash(state);
            }
        }
        self.next_seq.hash(state);
        self.queued.hash(state);
        self.assigned.hash(state);
        self.installing_view.hash(state);
        self.pending.len().hash(state);
        for (digest, (_since, data)) in &self.pending {
            (digest, data).hash(state);
        }
        (self.executed, self.chain).hash(state);
        self.stable.hash(state);
        self.own_checkpoints.hash(state);
        self.checkpoint_votes.hash(state);
        self.fetching
            .map(|f| (f.seq, f.digest, f.attempt))
            .hash(state);
        self.view_changes.hash(state);
        self.acks.hash(state);
        self.acked_at.len().hash(state);
        for (key, (digest, at)) in &self.acked_at {
            (key, digest, recent(*at)).hash(state);
        }
        self.sent_view_change.hash(state);
        self.sent_view_changes.hash(state);
        self.sent_new_view.hash(state);
        self.pending_new_view.hash(state);
        self.windows.hash(state);
        self.helped_at.len().hash(state);
        for (peer, at) in &self.helped_at {
            (peer, recent(*at)).hash(state);
        }
        (self.epoch, self.counter).hash(state);
        // The executed digests, in execution order (which also determines the set).
        self.executed_order.hash(state);
        self.decided.hash(state);
        self.last_decided.hash(state);
        (
            self.ready.persist.len(),
            self.ready.messages.len(),
            self.ready.committed.len(),
        )
            .hash(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pbft::{Keys, PbftConfig, PbftPersisted};
    use std::hash::DefaultHasher;

    fn replica(now: TimeUs) -> Pbft {
        let nodes = vec![1, 2, 3, 4];
        let keys = Keys::derive(&[3; 32], 1, &nodes);
        Pbft::new(
            PbftConfig::new(1, nodes, keys),
            &PbftPersisted::default(),
            now,
        )
    }

    fn fingerprint(p: &Pbft) -> u64 {
        let mut h = DefaultHasher::new();
        p.fingerprint(&mut h);
        h.finish()
    }

    #[test]
    fn the_same_history_at_another_clock_has_the_same_fingerprint_and_a_timer_changes_it() {
        let (mut early, mut late) = (replica(0), replica(7_000_000));
        for p in [&mut early, &mut late] {
            let _ = p.ready();
            p.propose(b"x".to_vec())
                .expect("the primary takes requests");
            let _ = p.ready();
        }
        assert_eq!(fingerprint(&early), fingerprint(&late));
        // The request timer expires at the leap: the primary asks for the next view.
        let before = fingerprint(&early);
        let leap = early.timer_leap_us();
        early.tick(leap);
        assert!(early.changing_view());
        let _ = early.ready();
        assert_ne!(fingerprint(&early), before);
        // And the same leap on the other clock gives the same state again.
        let leap = late.timer_leap_us();
        late.tick(leap);
        let _ = late.ready();
        assert_eq!(fingerprint(&early), fingerprint(&late));
    }
}
