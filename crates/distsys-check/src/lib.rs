//! distsys-check: histories and the linearizability checker.
//!
//! - [`history`]: operations, their outcomes and values (a history's vocabulary).
//! - [`format`]: the project's JSON Lines history, Jepsen etcd logs and Jepsen kv maps.
//! - [`model`]: register, cas-register, key-value and set specifications behind one trait.
//! - [`search`]: the JIT linearization search with memoization for one key.
//! - [`zones`]: the O(n log n) decision for registers with unique written values.
//! - [`checker`]: partition by key, search in parallel, explain violations.
//! - [`report`]: the text explanation and the self-contained HTML timeline.
//! - [`oracle`]: a brute-force checker for tiny histories, to test the fast one against.
//! - [`generate`]: random linearizable histories for tests and benchmarks.
//! - [`causal`]: the causal-consistency checker (every read sees the writes it depends on).
//! - [`diagnose`]: reads a cluster's logs, metrics and history and names what went wrong.
//! - [`txn`]: the transactional isolation checker (Elle's method: list-append, rw-register).

pub mod causal;
pub mod checker;
pub mod diagnose;
pub mod format;
pub mod generate;
pub mod history;
pub mod model;
pub mod oracle;
pub mod report;
pub mod search;
pub mod txn;
pub mod zones;

pub use checker::{
    check, decide, explain, CheckOptions, CheckResult, UnknownReason, Verdict, Violation,
};
pub use format::{parse_history, parse_history_reader, HistoryFormat};
pub use history::{History, HistoryError, OpKind, Operation, ReadValue, SharedText};
pub use model::ModelKind;
