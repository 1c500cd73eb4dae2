//! The replicated key-value state machine: put, append, delete, cas, with client sessions so a
//! retried command (same client, same sequence number) is applied once and answered with the
//! first result.

use crate::types::{Entry, Index};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A state-changing operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// Set `key` to `value`.
    Put { key: String, value: String },
    /// Append `value` to `key`'s value (absent counts as empty).
    Append { key: String, value: String },
    /// Remove `key`.
    Delete { key: String },
    /// Set `key` to `new` if it holds `expected` (`None`: absent).
    Cas {
        key: String,
        expected: Option<String>,
        new: String,
    },
    /// Add one to the integer in `key` (absent counts as 0); answers the new value.
    Incr { key: String },
    /// Set several keys at once (atomically: one log entry).
    PutMany { pairs: Vec<(String, String)> },
    /// Read `key` through the log (protocols that order reads like writes, such as PBFT,
    /// where a read's answer must come from f+1 replicas that executed it at the same point).
    Get { key: String },
}

/// A command in the log: an operation with its idempotency key (client, sequence number).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// The client session.
    pub client: u64,
    /// The client's sequence number; a client has one command in flight at a time.
    pub seq: u64,
    /// What to do.
    pub op: Op,
}

impl Command {
    /// Encodes the command for the log.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Decodes a log entry's command (`None` for a no-op or garbage).
    pub fn decode(data: &[u8]) -> Option<Command> {
        if data.is_empty() {
            return None;
        }
        serde_json::from_slice(data).ok()
    }
}

/// What applying a command produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpResult {
    /// Applied.
    Done,
    /// A cas whose comparison failed (nothing changed); carries the value found.
    CasFailed(Option<String>),
    /// The value an ordered read found, the value a delete removed, or an increment's result.
    Value(Option<String>),
    /// The operation does not apply to the value found (nothing changed).
    Invalid(String),
}

/// The key-value store and its client sessions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvStore {
    data: BTreeMap<String, String>,
    sessions: BTreeMap<u64, (u64, OpResult)>,
    applied: Index,
    applied_chain: u64,
}

impl KvStore {
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&String> {
        self.data.get(key)
    }

    /// Index of the last applied entry.
    pub fn applied(&self) -> Index {
        self.applied
    }

    /// Chain hash of the last applied entry: equal on two replicas iff they applied the same
    /// sequence of entries.
    pub fn applied_chain(&self) -> u64 {
        self.applied_chain
    }

    /// The last command this client session applied: its sequence number and result (what a
    /// retry of that command is answered with).
    pub fn session(&self, client: u64) -> Option<(u64, &OpResult)> {
        self.sessions
            .get(&client)
            .map(|(seq, result)| (*seq, result))
    }

    /// Applies the next committed entry; returns the command and its result (`None` for a
    /// no-op). A command whose (client, seq) was already applied is not applied again.
    pub fn apply(&mut self, entry: &Entry) -> Option<(Command, OpResult)> {
        debug_assert_eq!(
            entry.index,
            self.applied + 1,
            "entries are applied in order, once"
        );
        self.applied = entry.index;
        self.applied_chain = entry.chain;
        let command = Command::decode(&entry.data)?;
        if let Some((seq, result)) = self.sessions.get(&command.client) {
            if command.seq <= *seq {
                let result = result.clone();
                return Some((command, result));
            }
        }
        let result = match &command.op {
            Op::Put { key, value } => {
                self.data.insert(key.clone(), value.clone());
                OpResult::Done
            }
            Op::Append { key, value } => {
                self.data.entry(key.clone()).or_default().push_str(value);
                OpResult::Done
            }
            Op::Delete { key } => OpResult::Value(self.data.remove(key)),
            Op::Incr { key } => {
                let current = self
                    .data
                    .get(key)
                    .map_or(Some(0), |v| v.parse::<i64>().ok());
                match current.and_then(|n| n.checked_add(1)) {
                    Some(n) => {
                        self.data.insert(key.clone(), n.to_string());
                        OpResult::Value(Some(n.to_string()))
                    }
                    None => {
                        OpResult::Invalid("value is not an integer or out of range".to_string())
                    }
                }
            }
            Op::PutMany { pairs } => {
                for (key, value) in pairs {
                    self.data.insert(key.clone(), value.clone());
                }
                OpResult::Done
            }
            Op::Get { key } => OpResult::Value(self.data.get(key).cloned()),
            Op::Cas { key, expected, new } => {
                if self.data.get(key) == expected.as_ref() {
                    self.data.insert(key.clone(), new.clone());
                    OpResult::Done
                } else {
                    OpResult::CasFailed(self.data.get(key).cloned())
                }
            }
        };
        self.sessions
            .insert(command.client, (command.seq, result.clone()));
        Some((command, result))
    }

    /// Serialises the whole state (data, sessions, applied position) for a snapshot.
    pub fn snapshot(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Restores a snapshot produced by [`KvStore::snapshot`].
    pub fn restore(bytes: &[u8]) -> Option<KvStore> {
        serde_json::from_slice(bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn entry(index: Index, command: &Command) -> Entry {
        Entry::new(0, index, 1, command.encode(), None)
    }

    #[test]
    fn retried_command_applies_once() {
        let mut kv = KvStore::default();
        let append = Command {
            client: 7,
            seq: 1,
            op: Op::Append {
                key: "k".into(),
                value: "x".into(),
            },
        };
        kv.apply(&entry(1, &append));
        kv.apply(&entry(2, &append));
        assert_eq!(kv.get("k").map(String::as_str), Some("x"));
        let cas = Command {
            client: 7,
            seq: 2,
            op: Op::Cas {
                key: "k".into(),
                expected: Some("y".into()),
                new: "z".into(),
            },
        };
        assert_eq!(
            kv.apply(&entry(3, &cas)).map(|r| r.1),
            Some(OpResult::CasFailed(Some("x".into())))
        );
        let restored = KvStore::restore(&kv.snapshot()).expect("round trip");
        assert_eq!(restored, kv);
    }
}
