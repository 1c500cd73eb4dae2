//! The history being recorded by every client thread, in real-time order: the simulator's
//! [`Recording`] behind a lock, timed from when the recorder was made.

use distsys_check::history::{Completion, Event, OpKind, Recording};
use serde_json::Value;
use std::sync::Mutex;
use std::time::Instant;

/// A shared, append-only history: each event gets the next line number and the time since
/// the recorder was made.
pub struct Recorder {
    start: Instant,
    recording: Mutex<Recording>,
}

impl Recorder {
    /// An empty history starting now.
    pub fn new() -> Recorder {
        Recorder {
            start: Instant::now(),
            recording: Mutex::new(Recording::new()),
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
        let mut recording = self.recording.lock().unwrap_or_else(|e| e.into_inner());
        let time = self.start.elapsed().as_nanos() as u64;
        recording.record(process, completion, kind, key, value, time);
    }

    /// Everything recorded so far (the recorder is left empty).
    pub fn take(&self) -> Vec<Event> {
        let mut recording = self.recording.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *recording).into_events()
    }
}

impl Default for Recorder {
    fn default() -> Recorder {
        Recorder::new()
    }
}
