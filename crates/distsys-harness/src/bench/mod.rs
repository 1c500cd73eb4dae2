//! The benchmarks that drive real processes or other implementations: this project's cluster
//! against etcd's and its single node against Redis under one load generator ([`cluster`],
//! [`load`], [`etcd`], [`redis`]), and the Raft
//! core against TiKV's raft-rs in one in-process harness ([`raft`]), and the linearizability
//! checker against Porcupine and the brute-force oracle ([`check`]). They measure; nothing
//! here asserts a figure.

pub mod check;
pub mod cluster;
pub mod etcd;
pub mod load;
pub mod raft;
pub mod redis;
