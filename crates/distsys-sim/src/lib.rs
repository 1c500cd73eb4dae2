//! distsys-sim: a deterministic simulator for the consensus cores.
//!
//! Discrete events ordered by (virtual time, sequence number); one seeded ChaCha RNG for every
//! random choice, so a seed replays a run bit for bit. The network drops, duplicates, delays and
//! reorders messages and can be partitioned (full split, minority isolation, one-way, bridge);
//! nodes crash and restart from their persisted state, pause, and run on skewed, drifting
//! clocks. Clients issue reads, writes, cas and appends with the project's retry policy and
//! idempotency keys; every operation is recorded. After every event the five Raft safety
//! properties are checked; at the end, the history's linearizability (which also catches lost
//! acknowledged writes), state machine agreement and liveness after the faults heal.

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

pub use campaign::{first_failure, run_campaign, run_one, shard_range, CampaignReport, FailedRun};
pub use faults::{Fault, FaultSet};
pub use protocol::{BuildParams, ByzantineAdversary, NoAdversary, Simulated};
pub use registry::{Descriptor, FaultModel, Protocol, Registry, SeededBug};
pub use sim::{FailureKind, RunReport, SimConfig, Simulation, Violation};
