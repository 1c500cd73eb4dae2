//! The acceptor: promises and accepts, persisting both before answering.

use super::types::{Ballot, PaxosPersistOp, PaxosPersisted};
use crate::types::Index;

/// An acceptor's state (mirrors what is on disk).
#[derive(Debug, Clone, Default)]
pub struct Acceptor {
    pub(super) state: PaxosPersisted,
    /// Mutant AcceptLowerBallot.
    pub(super) accept_lower: bool,
}

impl Acceptor {
    /// Handles a prepare: promises if `ballot` is at least the current promise. Returns whether
    /// it promised, and the persist op to emit.
    pub fn prepare(&mut self, ballot: Ballot) -> (bool, Option<PaxosPersistOp>) {
        if ballot < self.state.promised {
            return (false, None);
        }
        if ballot == self.state.promised {
            return (true, None);
        }
        debug_assert!(ballot > self.state.promised, "a promise only moves up");
        self.state.promised = ballot;
        (true, Some(PaxosPersistOp::Promise(ballot)))
    }

    /// Handles an accept: accepts if `ballot` is at least the current promise.
    pub fn accept(&mut self, ballot: Ballot, slot: Index, value: &[u8]) -> Option<PaxosPersistOp> {
        if ballot < self.state.promised && !self.accept_lower {
            return None;
        }
        let op = PaxosPersistOp::Accept(slot, ballot, value.to_vec());
        self.state.apply(&op);
        Some(op)
    }

    /// Accepted values at or above `from`.
    pub fn accepted_from(&self, from: Index) -> Vec<(Index, Ballot, Vec<u8>)> {
        self.state
            .accepted
            .range(from..)
            .map(|(s, (b, v))| (*s, *b, v.clone()))
            .collect()
    }
}
