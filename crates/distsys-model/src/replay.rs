//! Counterexamples as replay files: the protocol, the model's bounds, the seeded bug, the
//! broken property and the actions from the initial state, as JSON. Replaying a file re-runs
//! the same actions on fresh cores, deterministically, so a model-checking find becomes a
//! regression test: every file under `testdata/model-check/` is replayed by the test suite
//! (`crates/distsys-model/tests/regressions.rs`).

use crate::clients::ClientLog;
use crate::cluster::{Action, Bounds, ClusterModel, Symmetry};
use crate::explore::{Model, Next};
use crate::paxos::PaxosProtocol;
use crate::pbft::PbftProtocol;
use crate::protocol::Protocol;
use crate::raft::RaftProtocol;
use serde::{Deserialize, Serialize};

/// The protocols replay files may name.
pub const PROTOCOLS: [&str; 3] = [RaftProtocol::NAME, PaxosProtocol::NAME, PbftProtocol::NAME];

/// A stored counterexample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayFile {
    /// The protocol (one of [`PROTOCOLS`]).
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
    pub steps: Vec<Action>,
}

impl ReplayFile {
    /// Parses a replay file; the error says what is wrong.
    pub fn parse(text: &str) -> Result<ReplayFile, String> {
        let file: ReplayFile =
            serde_json::from_str(text).map_err(|e| format!("not a replay file: {e}"))?;
        if !PROTOCOLS.contains(&file.protocol.as_str()) {
            return Err(format!(
                "replay files of protocol {:?} are not supported ({})",
                file.protocol,
                PROTOCOLS.join(", ")
            ));
        }
        file.bounds.validate()?;
        Ok(file)
    }

    /// The file of a violation found by `model`.
    pub fn of<P: Protocol>(model: &ClusterModel<P>, property: &str, steps: &[Action]) -> Self {
        ReplayFile {
            protocol: P::NAME.into(),
            bounds: model.bounds.clone(),
            symmetry: model.symmetry,
            mutant: model.mutant.map(|m| P::mutant_name(m).to_string()),
            property: property.to_string(),
            steps: steps.to_vec(),
        }
    }

    /// The name of the property the file broke (before the evidence).
    pub fn property_name(&self) -> &str {
        self.property.split(':').next().unwrap_or("").trim()
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
pub fn replay<P: Protocol>(
    model: &ClusterModel<P>,
    steps: &[Action],
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

/// The client operations along `steps` (up to the first that breaks a property or is not
/// possible), replayed on `model`'s cores with recording on, as a history for the general
/// linearizability checker ([`ClientLog::check`]).
pub fn client_history<P: Protocol>(
    model: &ClusterModel<P>,
    steps: &[Action],
) -> Result<ClientLog, String> {
    let recording = ClusterModel::<P>::new(model.bounds.clone(), model.mutant, model.symmetry)?
        .recording_clients();
    let mut state = recording.init();
    for action in steps {
        match recording.next(&state, action) {
            Next::State(next, violation) => {
                state = next;
                if violation.is_some() {
                    break;
                }
            }
            Next::Disabled | Next::OutOfBounds => break,
        }
    }
    Ok(*state.clients.log.unwrap_or_default())
}

/// Which seeded bug to replay a file on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Core<'a> {
    /// The file's own.
    AsFound,
    /// The correct core.
    Correct,
    /// The seeded bug of this name.
    Mutant(&'a str),
}

/// Replays `file` on the core `core` of its protocol.
pub fn replay_file(
    file: &ReplayFile,
    core: Core<'_>,
    on_step: &mut dyn FnMut(usize, &str, &str),
) -> Result<ReplayOutcome, String> {
    fn run<P: Protocol>(
        file: &ReplayFile,
        core: Core<'_>,
        on_step: &mut dyn FnMut(usize, &str, &str),
    ) -> Result<ReplayOutcome, String> {
        let name = match core {
            Core::AsFound => file.mutant.as_deref(),
            Core::Correct => None,
            Core::Mutant(name) => Some(name),
        };
        let mutant = name.map(P::mutant_by_name).transpose()?;
        let model = ClusterModel::<P>::new(file.bounds.clone(), mutant, file.symmetry)?;
        Ok(replay(&model, &file.steps, on_step))
    }
    match file.protocol.as_str() {
        RaftProtocol::NAME => run::<RaftProtocol>(file, core, on_step),
        PaxosProtocol::NAME => run::<PaxosProtocol>(file, core, on_step),
        PbftProtocol::NAME => run::<PbftProtocol>(file, core, on_step),
        other => Err(format!(
            "replay files of protocol {other:?} are not supported"
        )),
    }
}
