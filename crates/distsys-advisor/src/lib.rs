//! distsys-advisor: the advisor, pure (no I/O, no async runtime): the `distributed_context`
//! model and its validation ([`context`], [`input`], [`rules`], [`schema`]), quorum and timer
//! arithmetic ([`quorum`], [`timing`]), the problems found in an input ([`problem`]), and the rules that turn a context into a protocol, its
//! configuration and its failure scenarios ([`advisor`], [`advice`]). The building blocks it
//! quotes (placement, CRDTs, clocks, replication, retries) live in `distsys-patterns`.

pub mod advice;
pub mod advisor;
pub mod context;
pub mod input;
pub mod problem;
pub mod quorum;
pub mod rules;
pub mod schema;
mod strict_yaml;
pub mod timing;

pub use advice::Advice;
pub use advisor::{advise, advise_measured};
pub use context::{Consistency, DistributedContext, ProblemType};
pub use input::{parse_context, Format, InputError};
pub use problem::Problem;
