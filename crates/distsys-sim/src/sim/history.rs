//! The clients' history as the checker reads it: every invoke and completion recorded, and at
//! the end its linearizability checked against the key-value model.

use super::Sim;
use crate::protocol::Simulated;
use distsys_check::history::{Completion, OpKind};
use distsys_check::{check, CheckOptions, ModelKind, Verdict};
use serde_json::Value;

impl<C: Simulated> Sim<C> {
    pub(super) fn record(
        &mut self,
        client: usize,
        completion: Option<Completion>,
        kind: OpKind,
        key: &str,
        value: Value,
    ) {
        let process = self.clients[client].process;
        self.history
            .record(process, completion, kind, key, value, self.now);
    }

    /// Linearizability of everything the clients saw (this also catches lost acknowledged
    /// writes: every later read must see them), against the key-value model; a malformed
    /// history is a failure of its own (`history`).
    pub(super) fn check_linearizability(&mut self) {
        let history = match self.history.history() {
            Ok(history) => history,
            Err(e) => {
                self.fail(
                    "history",
                    format!("the simulator recorded a malformed history: {e}"),
                );
                return;
            }
        };
        let mut options = CheckOptions::new(ModelKind::Kv);
        options.timeout = Some(std::time::Duration::from_secs(10));
        match check(&history, &options) {
            Ok(result) => match result.verdict {
                Verdict::Linearizable => {}
                Verdict::Violation(v) => {
                    let text = distsys_check::report::violation_text(&v);
                    self.fail("linearizability", text);
                }
                Verdict::Unknown(reason) => self.fail(
                    "linearizability",
                    format!("checker gave no verdict ({reason:?})"),
                ),
            },
            Err(e) => self.fail("history", e.to_string()),
        }
    }
}
