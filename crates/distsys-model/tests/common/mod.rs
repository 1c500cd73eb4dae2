//! Test helpers shared by the integration tests and the side-by-side bench.
pub mod stateright_adapter;
