//! The vocabulary every distsys crate shares, defined once: node ids and the quorum systems
//! that protocols, the simulator's checks and the advisor take their thresholds from.
//!
//! This crate depends on nothing, so every other crate (the protocols, the simulator, the
//! advisor, the node) can depend on it.

pub mod quorum;

pub use quorum::{FaultModel, JointQuorum, QuorumError, QuorumSystem};

/// A node (replica, server) of a cluster.
pub type NodeId = u64;
