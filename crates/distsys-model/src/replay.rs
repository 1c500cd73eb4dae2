//! Counterexamples as replay files: the model's bounds, the seeded bug, the broken property and
//! the actions from the initial state, as JSON. Replaying a file re-runs the same actions on
//! fresh cores, deterministically, so a model-checking find becomes a regression test.

use crate::explore::{Model, Next};
use crate::raft::{Bounds, RaftAction, RaftModel, Symmetry};
use distsys_consensus::Mutant;
use serde::{Deserialize, Serialize};

/// A stored counterexample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayFile {
    /// The protocol ("raft").
    pub protocol: String,
    /// The bounds the path was found within.
    pub bounds: Bounds,
    /// The symmetry reduction it was found with (informational: a path is a path).
    pub symmetry: Symmetry,
    /// The seeded bug's command-line name, if any.
    pub mutant: Option<String>,
    /// The property the path broke when found.
    pub property: String,
    /// The actions from the initial state.
    pub steps: Vec<RaftAction>,
}

impl ReplayFile {
    /// Parses a replay file; the error says what is wrong.
    pub fn parse(text: &str) -> Result<ReplayFile, String> {
        let file: ReplayFile =
            serde_json::from_str(text).map_err(|e| format!("not a replay file: {e}"))?;
        if file.protocol != "raft" {
            return Err(format!(
                "replay files of protocol {:?} are not supported (raft only)",
                file.protocol
            ));
        }
        file.bounds.validate()?;
        Ok(file)
    }

    /// The seeded bug named in the file.
    pub fn mutant(&self) -> Result<Option<Mutant>, String> {
        self.mutant
            .as_deref()
            .map(crate::raft::mutant_by_name)
            .transpose()
    }

    /// The file as pretty JSON (stable field order).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// What replaying a path did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayOutcome {
    /// Step `step` (1-based) broke `property`.
    Violation {
        /// The step that broke it.
        step: usize,
        /// The property and its evidence.
        property: String,
    },
    /// Step `step` was not enabled (or left the bounds): the path does not exist on this core.
    Diverged {
        /// The step that could not be taken.
        step: usize,
    },
    /// Every step was taken and no property broke.
    NoViolation,
}

/// Replays `steps` on `model` from its initial state, checking every step as the search does;
/// `on_step` sees each step's number, description and the state after it.
pub fn replay(
    model: &RaftModel,
    steps: &[RaftAction],
    on_step: &mut dyn FnMut(usize, &str, &str),
) -> ReplayOutcome {
    let mut state = model.init();
    for (k, action) in steps.iter().enumerate() {
        let description = model.describe(&state, action);
        match model.next(&state, action) {
            Next::State(next, violation) => {
                on_step(k + 1, &description, &model.summary(&next));
                if let Some(property) = violation {
                    return ReplayOutcome::Violation {
                        step: k + 1,
                        property,
                    };
                }
                state = next;
            }
            Next::Disabled | Next::OutOfBounds => return ReplayOutcome::Diverged { step: k + 1 },
        }
    }
    ReplayOutcome::NoViolation
}
