//! distsys-model: exhaustive bounded model checking of the real protocol cores, in the manner of
//! TLC and stateright. The model *is* the shipped core: every action feeds a real input to a
//! real core and drains its `Ready` the way the simulator does (persist, then send, then
//! apply); states are stored as 8-byte canonical fingerprints, explored breadth first so the
//! first violation found is a shortest counterexample, and checked with the named predicates of
//! `distsys_consensus::safety`.
//!
//! - [`explore`]: the generic breadth-first checker ([`explore::Model`], [`explore::check`]):
//!   parallel frontier expansion, fingerprint set, memory budget, progress reports, the path to
//!   the first violation.
//! - [`cluster`]: the cluster model, generic over the protocol (nodes, disks, the in-flight
//!   network as a multiset, crashes and restarts per the persist contract, timers as actions,
//!   bounds, symmetry over node ids); [`protocol`]: what it needs from a protocol;
//!   [`clients`]: client writes and reads along a path and their linearizability.
//! - [`raft`], [`paxos`], [`pbft`]: Raft, Multi-Paxos and PBFT (with byzantine replicas) as
//!   [`protocol::Protocol`]s.
//! - [`replay`]: counterexamples as replay files, and replaying one against a core.

pub mod clients;
pub mod cluster;
pub mod explore;
pub mod paxos;
pub mod pbft;
pub mod protocol;
pub mod raft;
pub mod replay;
