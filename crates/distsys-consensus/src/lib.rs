//! distsys-consensus: consensus protocols as pure, sans-IO state machines, and the replicated
//! key-value service built on them. Drivers (the deterministic simulator and the real node) feed
//! inputs and carry out the outputs; nothing here reads a clock, touches a socket or draws
//! randomness of its own.

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
