//! The same Raft model, states, actions and bounds, behind stateright's `Model` trait, so
//! stateright's own breadth-first checker can explore it side by side with `distsys_model`'s.
//! States are identified by the model's canonical fingerprint (stateright hashes a state
//! through `Hash`), so both checkers count the same equivalence classes; the safety verdict of
//! each transition rides along in the state and is an `always` property.

use distsys_model::cluster::Action;
use distsys_model::explore::{Model as _, Next};
use distsys_model::raft::{RaftModel, RaftState};
use std::hash::{Hash, Hasher};

/// A state as stateright sees it: the model's state, its fingerprint, and whether the
/// transition into it broke a property.
#[derive(Debug, Clone)]
pub struct Checked {
    pub fingerprint: u64,
    pub broken: bool,
    pub state: RaftState,
}

impl Hash for Checked {
    fn hash<H: Hasher>(&self, h: &mut H) {
        (self.fingerprint, self.broken).hash(h);
    }
}

impl PartialEq for Checked {
    fn eq(&self, other: &Self) -> bool {
        (self.fingerprint, self.broken) == (other.fingerprint, other.broken)
    }
}

/// The adapter.
pub struct Stateright(pub RaftModel);

impl stateright::Model for Stateright {
    type State = Checked;
    type Action = Action;

    fn init_states(&self) -> Vec<Checked> {
        let state = self.0.init();
        vec![Checked {
            fingerprint: self.0.fingerprint(&state),
            broken: false,
            state,
        }]
    }

    fn actions(&self, state: &Checked, actions: &mut Vec<Action>) {
        if !state.broken {
            self.0.actions(&state.state, actions);
        }
    }

    fn next_state(&self, last: &Checked, action: Action) -> Option<Checked> {
        match self.0.next(&last.state, &action) {
            Next::State(state, violation) => Some(Checked {
                fingerprint: self.0.fingerprint(&state),
                broken: violation.is_some(),
                state,
            }),
            Next::Disabled | Next::OutOfBounds => None,
        }
    }

    fn properties(&self) -> Vec<stateright::Property<Self>> {
        vec![stateright::Property::always("safety", |_, s: &Checked| {
            !s.broken
        })]
    }
}
