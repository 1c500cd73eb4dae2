//! Local clusters of node processes on loopback: where each node's configuration, data and
//! log go ([`layout`]), starting and signalling the processes ([`process`]), asking them who
//! leads ([`leader`]), and what `cluster up|down` do ([`control`]).

pub mod control;
pub mod layout;
pub mod leader;
pub mod process;

pub use control::{down, up, DownError, StartedNode, UpError};
pub use layout::{layout, write_config};
pub use leader::{leader, wait_for_leader};
pub use process::{signal, NodeProgram, Nodes};
