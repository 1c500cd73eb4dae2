//! The run's trace: JSON lines in the log schema (`distsys_types::event`: `level`, `timestamp`,
//! `skill`, `node_id`, `term`, `event`, `context`), with virtual time as the timestamp.
//! Deterministic: the same seed gives byte-identical lines.

use distsys_types::{Event, LogLine};
use std::collections::VecDeque;

/// Lines kept for the report of a failing run.
const TAIL_LINES: usize = 40;

/// Collects trace lines; keeps all of them only when asked to.
#[derive(Debug)]
pub struct Trace {
    full: Option<Vec<String>>,
    tail: VecDeque<String>,
}

/// ISO 8601 timestamp of a virtual time (microseconds since the run started at the epoch).
pub fn timestamp(time_us: u64) -> String {
    let secs = time_us / 1_000_000;
    let micros = time_us % 1_000_000;
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    format!("1970-01-01T{h:02}:{m:02}:{s:02}.{micros:06}Z")
}

impl Trace {
    /// A trace; `keep_all` keeps every line (for `--trace`).
    pub fn new(keep_all: bool) -> Trace {
        Trace {
            full: keep_all.then(Vec::new),
            tail: VecDeque::with_capacity(TAIL_LINES),
        }
    }

    /// Records one event, at its kind's level.
    pub fn record(&mut self, time_us: u64, node: Option<u64>, term: Option<u64>, event: Event) {
        let line = LogLine::new(timestamp(time_us), node, term, event).to_json();
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line.clone());
        if let Some(full) = self.full.as_mut() {
            full.push(line);
        }
    }

    /// The last lines recorded.
    pub fn tail(&self) -> Vec<String> {
        self.tail.iter().cloned().collect()
    }

    /// Every line, if kept.
    pub fn into_lines(self) -> Vec<String> {
        self.full.unwrap_or_default()
    }
}
