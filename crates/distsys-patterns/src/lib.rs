//! distsys-patterns: the building blocks a design is made of, as pure, deterministic
//! libraries (no I/O, no clock, no RNG inside: time and randomness are arguments).
//!
//! - [`clock`]: hybrid logical clocks and their stamps.
//! - [`crdt`]: state-based CRDTs (counters, registers, sets) and vector clocks.
//! - [`partitioning`]: placement schemes (consistent hashing, rendezvous, ranges, a
//!   directory) and the measurements the advisor quotes (balance, keys moved).
//! - [`replication`]: analytic models of sync, async and semi-sync replication.
//! - [`retry`]: backoff with jitter, retry budgets and idempotency keys.
//!
//! The advisor (`distsys-advisor`) quotes these; the simulator (`distsys-sim`) runs them.

pub mod clock;
pub mod crdt;
pub mod partitioning;
pub mod replication;
pub mod retry;
