//! distsys-consensus: consensus protocols as pure, sans-IO state machines, and the replicated
//! key-value service built on them. Drivers (the deterministic simulator and the real node) feed
//! inputs and carry out the outputs; nothing here reads a clock, touches a socket or draws
//! randomness of its own.
//!
//! - [`core`]: the one interface every protocol offers its drivers ([`Core`]).
//! - [`raft`], [`paxos`] (Multi-Paxos), [`pbft`] (with its authentication and byzantine
//!   adversary): the protocols.
//! - [`types`]: values shared by the cores and their drivers (entries, persist operations,
//!   messages, `Ready`); [`membership`]: voters, learners and joint consensus.
//! - [`kv`]: the replicated key-value state machine with client sessions; [`replica`]: a core
//!   plus that state machine, answering clients.
//! - [`safety`]: Raft's safety properties as predicates over a cluster; [`mutants`]: the
//!   seeded bugs the checks must catch; [`testkit`]: a step-by-step scenario driver for tests.

pub mod core;
pub mod kv;
pub mod membership;
pub mod mutants;
pub mod paxos;
pub mod pbft;
pub mod raft;
pub mod replica;
pub mod safety;
pub mod testkit;
pub mod types;

pub use crate::core::Core;
pub use membership::Membership;
pub use mutants::Mutant;
pub use types::*;
