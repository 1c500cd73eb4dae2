//! The parameters of one run.

use crate::faults::FaultSet;
use crate::registry::{Protocol, SeededBug};
use distsys_consensus::pbft::byzantine::Behaviour;

/// Parameters of one run.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Cluster size.
    pub nodes: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Virtual duration, in milliseconds.
    pub duration_ms: u64,
    /// Concurrent clients.
    pub clients: usize,
    /// One-way network latency, in milliseconds (jittered).
    pub latency_ms: f64,
    /// Randomised election timeout range and heartbeat, in milliseconds.
    pub election_timeout_ms: (u64, u64),
    /// Heartbeat interval, in milliseconds.
    pub heartbeat_ms: u64,
    /// Faults to inject.
    pub faults: FaultSet,
    /// Serve leader reads from a lease (see `Config::lease_read`).
    pub lease_read: bool,
    /// The protocol to run.
    pub protocol: Protocol,
    /// The seeded bug to plant, if any: one of `protocol`'s (see [`Protocol::bug`]).
    pub mutant: Option<SeededBug>,
    /// Byzantine replicas (protocols with an adversary only; chosen per seed).
    pub byzantine: usize,
    /// What byzantine replicas may do; each one draws a non-empty subset per seed.
    pub byzantine_behaviours: Vec<Behaviour>,
    /// Record a full trace (JSON lines in the seed's log schema).
    pub trace: bool,
    /// Nodes that crash when the faults heal and never restart: a beyond-tolerance experiment
    /// (more crashed nodes than the protocol survives must stall it, which the liveness check
    /// reports). 0 in every normal run.
    pub down_after_heal: usize,
    /// How long a node's disk write takes to become durable, drawn per write from this range
    /// in microseconds; (0, 0): each Ready is durable at once, before anything is sent. Above
    /// zero the writes are pipelined: a node's writes complete in order, a crash loses those
    /// not yet complete, what must wait for the disk (votes, acknowledgements, client
    /// answers) waits for its write, and the Raft core runs with pipelined persistence (its
    /// leader's appends leave while its own write is in flight; `Config::async_persist`).
    pub write_delay_us: (u64, u64),
    /// With `write_delay_us` above zero: whether the core sends before its write is durable
    /// (true, the default) or waits for every write like a driver without pipelining (false:
    /// the same slow disk, for comparison).
    pub write_pipelining: bool,
}

impl SimConfig {
    /// The seeded bug's name, if one is enabled.
    pub fn mutant_name(&self) -> Option<&'static str> {
        self.mutant.map(|m| m.name)
    }

    /// Defaults: 5 nodes, 10 s, 5 clients, 1 ms latency, 150-300 ms elections, 50 ms heartbeat.
    pub fn new(seed: u64) -> SimConfig {
        SimConfig {
            nodes: 5,
            seed,
            duration_ms: 10_000,
            clients: 5,
            latency_ms: 1.0,
            election_timeout_ms: (150, 300),
            heartbeat_ms: 50,
            faults: FaultSet::all(),
            lease_read: false,
            protocol: Protocol::default(),
            mutant: None,
            byzantine: 0,
            byzantine_behaviours: Behaviour::ALL.to_vec(),
            trace: false,
            down_after_heal: 0,
            write_delay_us: (0, 0),
            write_pipelining: true,
        }
    }
}
