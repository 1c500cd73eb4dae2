//! The history being recorded by every client thread, in real-time order.

use distsys_check::history::{Completion, Event, OpKind};
use serde_json::Value;
use std::sync::Mutex;
use std::time::Instant;

/// A shared, append-only history: each event gets the next line number and the time since
/// the recorder was made.
pub struct Recorder {
    start: Instant,
    events: Mutex<Vec<Event>>,
}

impl Recorder {
    /// An empty history starting now.
    pub fn new() -> Recorder {
        Recorder {
            start: Instant::now(),
            events: Mutex::new(Vec::new()),
        }
    }

    /// Appends an invocation (`completion` `None`) or a completion of `process`'s operation.
    pub fn record(
        &self,
        process: u64,
        completion: Option<Completion>,
        kind: OpKind,
        key: &str,
        value: Value,
    ) {
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        let line = events.len() + 1;
        events.push(Event {
            line,
            process,
            completion,
            kind,
            key: Some(key.to_string()),
            value,
            time: self.start.elapsed().as_nanos() as u64,
        });
    }

    /// Everything recorded so far (the recorder is left empty).
    pub fn take(&self) -> Vec<Event> {
        std::mem::take(&mut *self.events.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Default for Recorder {
    fn default() -> Recorder {
        Recorder::new()
    }
}
