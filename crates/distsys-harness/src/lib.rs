//! distsys-harness: everything of distsys that drives real processes, plus the simulations
//! behind `advise --evidence`. The `distsys` CLI parses flags, calls one function here with a
//! plain configuration and prints what it returns; nothing here prints or exits.
//!
//! - [`cluster`]: local clusters of node processes on loopback: their layout (ports,
//!   directories, configurations), starting, signalling and killing them, asking who leads,
//!   and `cluster up|down`.
//! - [`client`]: a blocking Redis-protocol client over the node's own codec
//!   ([`distsys_node::resp`], the one RESP codec of the project).
//! - [`chaos`]: the Jepsen-style chaos runner: recorder, workload, fault schedule, TCP-cut
//!   link proxies, full restart, final reads, linearizability verdict.
//! - [`bench`]: the benchmarks that drive processes or other implementations: the node
//!   cluster against etcd (one load generator), the Raft core against raft-rs (`raft-rs`
//!   feature).
//! - [`evidence`]: the simulations behind an advised design, and what they change in it.
//! - [`replay`]: the `distsys simulate` flags that replay a simulated configuration.

#![warn(missing_docs)]

pub mod bench;
pub mod chaos;
pub mod client;
pub mod cluster;
pub mod evidence;
pub mod replay;
