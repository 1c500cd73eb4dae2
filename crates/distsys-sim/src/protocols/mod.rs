//! The built-in protocols, one module each: its [`crate::protocol::Simulated`] implementation
//! and its [`crate::registry::Descriptor`] (`DESCRIPTOR`), listed in
//! [`crate::registry::BUILTIN`].

pub mod multipaxos;
pub mod pbft;
pub mod raft;
