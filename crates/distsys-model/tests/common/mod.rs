//! Test helpers shared by the integration tests and the side-by-side bench.
#![allow(dead_code)] // each test binary uses its own part

pub mod check;
pub mod stateright_adapter;
