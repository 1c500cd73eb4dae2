//! Conflict-free replicated data types, state-based with delta mutators (Almeida, Shoker,
//! Baquero 2018): every mutator applies a change and returns it as a small state (a delta)
//! that can be shipped and merged like a full state. `merge` is a join: commutative,
//! associative and idempotent, so replicas converge whatever the order, duplication or loss of
//! deltas, once anti-entropy (merging full states) has run.
//!
//! Types: [`GCounter`], [`PNCounter`], [`GSet`], [`TwoPSet`], [`ORSet`] (add wins),
//! [`LWWRegister`] (on hybrid logical clocks), [`MVRegister`] (keeps concurrent values),
//! [`ORMap`] (observed-remove keys, values merged per key).

mod counter;
mod dots;
mod map;
mod register;
mod set;

pub use counter::{GCounter, PNCounter};
pub use dots::{Dot, DotKernel};
pub use map::ORMap;
pub use register::{LWWRegister, MVRegister};
pub use set::{GSet, ORSet, TwoPSet};

/// A replica's identity.
pub type ReplicaId = u64;

/// The identity of incarnation `incarnation` of node `node`: a replica that restarts without
/// its CRDT state (a lost disk) must take a new incarnation, or it would reissue dots and
/// counter slots it already used. Persist the incarnation (bump it before first use).
pub fn incarnation_id(node: u32, incarnation: u32) -> ReplicaId {
    (u64::from(node) << 32) | u64::from(incarnation)
}

/// A state-based CRDT: `merge` is the join of a semilattice.
pub trait Crdt: Clone + PartialEq + std::fmt::Debug {
    /// Merges another state (or delta) into this one.
    fn merge(&mut self, other: &Self);
}

#[cfg(test)]
mod tests;
