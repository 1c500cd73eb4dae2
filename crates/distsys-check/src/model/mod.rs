//! Sequential specifications the checker linearizes against.
//!
//! A model is a few lines: [`Model::prepare`] turns a partition's operations into the model's
//! own compact form (rejecting operations it does not support, with their line), [`Model::init`]
//! gives the initial state and [`Model::step`] applies one operation, returning `None` when the
//! operation's observed result is impossible in that state. Operations whose outcome is unknown
//! must be accepted in every state (they may have failed or not happened yet).

mod kv;
mod register;
mod set;

pub use kv::{KvModel, KvOp, KvValue};
pub use register::{RegisterModel, RegisterOp, ZONES};
pub use set::{SetModel, SetOp};

use crate::history::Operation;
use crate::search::Interval;
use std::fmt::Debug;
use std::hash::Hash;
use std::str::FromStr;

/// A sequential specification of one object (one key).
pub trait Model: Sync {
    /// The object's state; hashed and compared by the search's memo table.
    type State: Clone + Eq + Hash + Send + Debug;
    /// One operation in the model's own form.
    type Op: Clone + Send + Sync + Debug + Eq + Hash;

    /// Converts a partition's operations; an error names the offending operation's line.
    fn prepare(&self, ops: &[Operation]) -> Result<Vec<Self::Op>, (usize, String)>;
    /// The state before any operation.
    fn init(&self) -> Self::State;
    /// The state after `op`, or `None` if `op`'s observed result is impossible from `state`.
    fn step(&self, state: &Self::State, op: &Self::Op) -> Option<Self::State>;

    /// Whether [`Model::may_follow`] can say no for any of these operations (the search skips
    /// the check otherwise).
    fn prunes(&self, ops: &[Self::Op]) -> bool {
        let _ = ops;
        false
    }

    /// Whether `op`, not linearized yet, can still take effect at some later point starting
    /// from `state`, whatever else happens in between (`linearized(i)`: whether operation `i`
    /// already took its place); `false` only when provably impossible (the search then
    /// abandons this state early). The default never prunes.
    fn may_follow(
        &self,
        state: &Self::State,
        op: &Self::Op,
        linearized: &dyn Fn(u32) -> bool,
    ) -> bool {
        let _ = (state, op, linearized);
        true
    }

    /// Whether `op` may set the state to something its current value does not lead to by
    /// itself (for a key-value store: a put, a delete or a cas, not an append or a get). The
    /// default says yes for every operation, so [`Model::may_follow_first`] is never asked.
    fn may_reset(&self, op: &Self::Op) -> bool {
        let _ = op;
        true
    }

    /// Whether `op`, the operation whose return comes first among those not linearized, can
    /// still take effect from `state` when only operations that cannot reset the state
    /// ([`Model::may_reset`]) may take effect before it; `false` only when provably
    /// impossible. The default never prunes.
    fn may_follow_first(&self, state: &Self::State, op: &Self::Op) -> bool {
        let _ = (state, op);
        true
    }

    /// Whether `op` (as in [`Model::may_follow_first`]) can take effect after `reset` (an
    /// operation that may reset the state) followed only by operations that cannot; `false`
    /// only when provably impossible. The default says it can.
    fn may_follow_first_after(&self, reset: &Self::Op, op: &Self::Op) -> bool {
        let _ = (reset, op);
        true
    }

    /// A decision by a polynomial algorithm when the operations qualify (after
    /// [`Model::simplify`]), with the algorithm's name; `None` falls back to the search.
    fn decide_fast(
        &self,
        ops: &[Self::Op],
        intervals: &[Interval],
    ) -> Option<(bool, &'static str)> {
        let _ = (ops, intervals);
        None
    }

    /// Rewrites operations of unknown outcome (`ret: None`) before the search, where that
    /// provably keeps the verdict: drop one that nothing can observe, or give one the return
    /// time of the first operation that must have seen its effect. Each implementation states
    /// its proof; all are tested against the brute-force [`crate::oracle`]. The default keeps
    /// everything (always exact).
    fn simplify(&self, ops: &mut Vec<Self::Op>, intervals: &mut Vec<Interval>) {
        let _ = (ops, intervals);
    }
}

/// The models selectable with `--model`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// read/write register per key.
    Register,
    /// read/write/cas register per key.
    CasRegister,
    /// key-value store: get/put/append/cas/delete, each key independent.
    Kv,
    /// grow-only set per key: add / read (whole set).
    Set,
}

impl FromStr for ModelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "register" => Ok(ModelKind::Register),
            "cas-register" | "cas_register" => Ok(ModelKind::CasRegister),
            "kv" => Ok(ModelKind::Kv),
            "set" => Ok(ModelKind::Set),
            _ => Err(format!(
                "unknown model {s:?} (register, cas-register, kv, set)"
            )),
        }
    }
}

impl ModelKind {
    /// The model used when none is given: cas-register for Jepsen etcd logs (a single
    /// register), set when the history adds to sets, kv otherwise (kv covers
    /// read/write/cas/append/delete).
    pub fn default_for(history: &crate::History, format: crate::HistoryFormat) -> ModelKind {
        if format == crate::HistoryFormat::JepsenEtcd {
            ModelKind::CasRegister
        } else if history
            .operations
            .iter()
            .any(|op| op.kind == crate::OpKind::Add)
        {
            ModelKind::Set
        } else {
            ModelKind::Kv
        }
    }

    /// The model's name as accepted by `--model`.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Register => "register",
            ModelKind::CasRegister => "cas-register",
            ModelKind::Kv => "kv",
            ModelKind::Set => "set",
        }
    }
}

/// A JSON value as a canonical string key (strings unquoted, other scalars as JSON text).
pub fn canonical(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
