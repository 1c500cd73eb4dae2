//! distsys-core: the pure part of distsys. No I/O, no async runtime: the `distributed_context`
//! model and its validation, quorum and timer arithmetic, and the advisor that turns a context
//! into a protocol, its configuration and its failure scenarios.

pub mod advice;
pub mod advisor;
pub mod clock;
pub mod context;
pub mod crdt;
pub mod input;
pub mod partitioning;
pub mod problem;
pub mod quorum;
pub mod replication;
pub mod retry;
pub mod rules;
pub mod schema;
mod strict_yaml;
pub mod timing;

pub use advice::Advice;
pub use advisor::{advise, advise_measured};
pub use context::{Consistency, DistributedContext, ProblemType};
pub use input::{parse_context, Format, InputError};
pub use problem::Problem;
