//! distsys-sim: a deterministic simulator for the consensus cores.
//!
//! Discrete events ordered by (virtual time, sequence number); one seeded ChaCha RNG for every
//! random choice, so a seed replays a run bit for bit. The network drops, duplicates, delays and
//! reorders messages and can be partitioned (full split, minority isolation, one-way, bridge);
//! nodes crash and restart from their persisted state, pause, and run on skewed, drifting
//! clocks. Clients issue reads, writes, cas and appends with the project's retry policy and
//! idempotency keys; every operation is recorded. After every event the protocol's safety
//! predicates are checked; at the end, the history's linearizability (which also catches lost
//! acknowledged writes), state machine agreement and liveness after the faults heal.
//!
//! What lives where:
//! - [`protocol`]: the [`Simulated`] trait a protocol implements on top of
//!   `distsys_consensus::Core` (how to build a node, what the simulator observes of it), and the
//!   [`ByzantineAdversary`] hook ([`NoAdversary`] for crash-fault protocols);
//! - [`registry`]: one [`Descriptor`] per protocol (names, seeded bugs, parameters, fault
//!   model, safety properties, how to start a run), [`registry::lookup`] for every caller that
//!   parses a protocol name, [`Registry`] to add a protocol from outside this crate;
//! - [`protocols`]: the built-in protocols, one module each (Raft, Multi-Paxos, PBFT);
//! - [`sim`]: one run ([`Simulation`]), in modules with one job each: network, faults, clients,
//!   history, oracle (safety, liveness, runaway), metrics, byzantine, config and report;
//! - [`campaign`]: many seeds in parallel, summarised; [`sweep`]: every protocol at every size
//!   and fault count, and one fault beyond tolerance;
//! - [`workload`]: the client operation mix, shared with the chaos clients on real processes;
//! - [`faults`] (the fault vocabulary and the partition model), [`queue`], [`trace`],
//!   [`metrics`] (Prometheus text of a campaign), [`stats`];
//! - the other models: [`replication`], [`leaderless`], [`causal`], [`retry_storm`], and
//!   [`txn`] (transactions over many Raft groups: 2PC and parallel commits).
//!
//! Adding a protocol: one module of [`protocols`] and one line of [`registry::BUILTIN`]; see
//! `docs/protocols.md`, which walks through a toy protocol written against the public API only
//! (`tests/toy_protocol.rs`).

pub mod campaign;
pub mod causal;
pub mod faults;
pub mod leaderless;
pub mod metrics;
pub mod protocol;
pub mod protocols;
pub mod queue;
pub mod registry;
pub mod replication;
pub mod retry_storm;
pub mod sim;
pub mod stats;
pub mod sweep;
pub mod trace;
pub mod txn;
pub mod workload;

pub use campaign::{first_failure, run_campaign, run_one, shard_range, CampaignReport, FailedRun};
pub use faults::{Fault, FaultSet};
pub use protocol::{BuildParams, ByzantineAdversary, NoAdversary, Simulated};
pub use registry::{Descriptor, FaultModel, Protocol, Registry, SeededBug};
pub use sim::{FailureKind, RunReport, SimConfig, Simulation, Violation};
