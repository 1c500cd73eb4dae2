//! The replicated key-value state machine: put, append, delete, cas, with client sessions so a
//! retried command (same client, same sequence number) is applied once and answered with the
//! first result.
//!
//! Keys and values are [`ByteString`]s: bytes end to end, never re-encoded. Entries and
//! snapshots are postcard behind a format byte; the JSON of older logs and snapshots (UTF-8
//! bytes as plain strings, other bytes as `{"base64": ...}`) still decodes.

use crate::types::{Entry, Index};
pub use distsys_types::ByteString;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// A state-changing operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// Set `key` to `value`.
    Put { key: ByteString, value: ByteString },
    /// Append `value` to `key`'s value (absent counts as empty); answers the new length.
    Append { key: ByteString, value: ByteString },
    /// Remove `key`.
    Delete { key: ByteString },
    /// Set `key` to `new` if it holds `expected` (`None`: absent).
    Cas {
        key: ByteString,
        expected: Option<ByteString>,
        new: ByteString,
    },
    /// Add one to the integer in `key` (absent counts as 0); answers the new value.
    Incr { key: ByteString },
    /// Set several keys at once (atomically: one log entry).
    PutMany {
        pairs: Vec<(ByteString, ByteString)>,
    },
    /// Read `key` through the log (protocols that order reads like writes, such as PBFT,
    /// where a read's answer must come from f+1 replicas that executed it at the same point).
    Get { key: ByteString },
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
    /// Encodes the command for the log: [`COMMAND_POSTCARD`], then postcard (keys and values
    /// as raw bytes).
    pub fn encode(&self) -> Vec<u8> {
        match postcard::to_extend(self, vec![COMMAND_POSTCARD]) {
            Ok(bytes) => bytes,
            // Unreachable: every field is plain data postcard encodes.
            Err(e) => unreachable!("a command always encodes: {e}"),
        }
    }

    /// Decodes a log entry's command (`None` for a no-op or garbage): the postcard form
    /// [`Command::encode`] writes, or the JSON of entries written before it (which starts with
    /// `{`; a JSON text never starts with the byte [`COMMAND_POSTCARD`]).
    pub fn decode(data: &[u8]) -> Option<Command> {
        match data.first()? {
            &COMMAND_POSTCARD => postcard::from_bytes(&data[1..]).ok(),
            b'{' => serde_json::from_slice(data).ok(),
            _ => None,
        }
    }
}

/// The format byte of a postcard command (JSON, the form before it, starts with `{`).
pub const COMMAND_POSTCARD: u8 = 1;

/// What applying a command produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpResult {
    /// Applied.
    Done,
    /// A cas whose comparison failed (nothing changed); carries the value found.
    CasFailed(Option<ByteString>),
    /// The value an ordered read found, the value a delete removed, an increment's result, or
    /// the length (in bytes, as decimal text) of the value an append left.
    Value(Option<ByteString>),
    /// The operation does not apply to the value found (nothing changed).
    Invalid(String),
}

/// The key-value store and its client sessions.
///
/// The data is a hash map (SipHash with a random key, so clients cannot pick colliding keys):
/// at a million keys an ordered map spent a quarter of the protocol thread comparing keys on
/// every write. Snapshots still write it in key order ([`sorted`]), so a state has one
/// encoding whatever order it was built in, the same bytes the ordered map wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvStore {
    #[serde(serialize_with = "sorted")]
    data: HashMap<ByteString, ByteString>,
    sessions: BTreeMap<u64, (u64, OpResult)>,
    applied: Index,
    applied_chain: u64,
}

impl KvStore {
    /// The value of `key`.
    pub fn get(&self, key: &[u8]) -> Option<&ByteString> {
        self.data.get(key)
    }

    /// Number of keys held.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
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
                let current = self.data.entry(key.clone()).or_default();
                current.extend_from(value);
                OpResult::Value(Some(ByteString::from(current.0.len().to_string())))
            }
            Op::Delete { key } => OpResult::Value(self.data.remove(key)),
            Op::Incr { key } => {
                let current = self
                    .data
                    .get(key)
                    .map_or(Some(0), |v| v.as_str().and_then(canonical_integer));
                match current.and_then(|n| n.checked_add(1)) {
                    Some(n) => {
                        let n = ByteString::from(n.to_string());
                        self.data.insert(key.clone(), n.clone());
                        OpResult::Value(Some(n))
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

    /// Serialises the whole state (data, sessions, applied position) for a snapshot: one
    /// format byte ([`SNAPSHOT_POSTCARD`]) then postcard, which carries keys and values as raw
    /// bytes.
    pub fn snapshot(&self) -> Vec<u8> {
        let out = vec![SNAPSHOT_POSTCARD];
        match postcard::to_extend(self, out) {
            Ok(bytes) => bytes,
            // Unreachable: every field is plain data postcard encodes (no maps with keys it
            // cannot write, no unsized sequences).
            Err(e) => unreachable!("a key-value store always encodes: {e}"),
        }
    }

    /// Restores a snapshot produced by [`KvStore::snapshot`], or one written before the
    /// postcard format (JSON, which starts with `{`). Anything else is an error naming why:
    /// a snapshot that cannot be read must stop the replica, never be taken for an empty store.
    pub fn restore(bytes: &[u8]) -> Result<KvStore, SnapshotError> {
        match bytes.first() {
            Some(&SNAPSHOT_POSTCARD) => {
                postcard::from_bytes(&bytes[1..]).map_err(|e| SnapshotError(e.to_string()))
            }
            Some(b'{') => serde_json::from_slice(bytes).map_err(|e| SnapshotError(e.to_string())),
            Some(other) => Err(SnapshotError(format!("unknown format byte {other:#04x}"))),
            None => Err(SnapshotError("empty snapshot".into())),
        }
    }
}

/// The integer a value holds for INCR: only in the form Redis writes one (`0`, or an optional
/// `-` then digits without a leading zero, within i64), so `01`, `+5`, `-0` and ` 1` are not
/// integers, as in Redis.
fn canonical_integer(text: &str) -> Option<i64> {
    text.parse::<i64>().ok().filter(|n| n.to_string() == text)
}

/// Writes a map in key order (the encoding of a `BTreeMap` of the same pairs).
fn sorted<S: serde::Serializer>(
    data: &HashMap<ByteString, ByteString>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut pairs: Vec<(&ByteString, &ByteString)> = data.iter().collect();
    pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
    serializer.collect_map(pairs)
}

/// The format byte of a postcard snapshot.
pub const SNAPSHOT_POSTCARD: u8 = 1;

/// A snapshot of the state machine that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable state-machine snapshot: {0}")]
pub struct SnapshotError(pub String);

#[cfg(test)]
mod tests {
    use super::*;
    fn entry(index: Index, command: &Command) -> Entry {
        Entry::new(0, index, 1, command.encode(), None)
    }

    /// A state has one snapshot encoding whatever order its keys came in, and it is the
    /// encoding of the ordered map the store used before (old snapshots restore, new ones
    /// are the same bytes).
    #[test]
    fn snapshots_write_keys_in_order_whatever_order_they_came_in() {
        let pairs: Vec<(ByteString, ByteString)> = (0..500u32)
            .map(|i| {
                let key = ByteString::from(i.wrapping_mul(2_654_435_761).to_be_bytes().to_vec());
                (key, ByteString::from(format!("v{i}")))
            })
            .collect();
        let (mut forward, mut backward) = (KvStore::default(), KvStore::default());
        forward.data.extend(pairs.iter().cloned());
        backward.data.extend(pairs.iter().rev().cloned());
        assert_eq!(forward.snapshot(), backward.snapshot());
        #[derive(Serialize)]
        struct Ordered {
            data: BTreeMap<ByteString, ByteString>,
            sessions: BTreeMap<u64, (u64, OpResult)>,
            applied: Index,
            applied_chain: u64,
        }
        let ordered = Ordered {
            data: pairs.iter().cloned().collect(),
            sessions: BTreeMap::new(),
            applied: 0,
            applied_chain: 0,
        };
        let mut old = vec![SNAPSHOT_POSTCARD];
        old.extend(postcard::to_allocvec(&ordered).expect("encodes"));
        assert_eq!(forward.snapshot(), old);
        assert_eq!(KvStore::restore(&old).expect("restores"), forward);
    }

    #[test]
    fn incr_takes_only_integers_as_redis_writes_them() {
        for (text, expected) in [
            ("0", Some(0)),
            ("41", Some(41)),
            ("-7", Some(-7)),
            ("9223372036854775807", Some(i64::MAX)),
            ("01", None),
            ("+5", None),
            ("-0", None),
            (" 1", None),
            ("1 ", None),
            ("", None),
            ("1e3", None),
            ("9223372036854775808", None),
        ] {
            assert_eq!(canonical_integer(text), expected, "{text:?}");
        }
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
        let length = Some(OpResult::Value(Some(ByteString::from("1"))));
        assert_eq!(kv.apply(&entry(1, &append)).map(|(_, r)| r), length);
        // The retry answers what the first application answered, and changes nothing.
        assert_eq!(kv.apply(&entry(2, &append)).map(|(_, r)| r), length);
        assert_eq!(kv.get(b"k"), Some(&ByteString::from("x")));
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
        let legacy = serde_json::to_vec(&kv).expect("json");
        assert_eq!(KvStore::restore(&legacy), Ok(kv));
        for bad in [&b""[..], b"\x07junk", b"{not json", b"\x01\xff\xff"] {
            assert!(KvStore::restore(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn entries_written_when_keys_were_text_still_decode() {
        let old = br#"{"client":7,"seq":1,"op":{"Put":{"key":"k","value":"v"}}}"#;
        let command = Command::decode(old).expect("old entry");
        assert_eq!(
            command.op,
            Op::Put {
                key: "k".into(),
                value: "v".into()
            }
        );
        // Written again in the current form, it reads back the same.
        let again = command.encode();
        assert_eq!(again[0], COMMAND_POSTCARD);
        assert_eq!(Command::decode(&again), Some(command));
        for garbage in [
            &b""[..],
            b"\x01",
            b"\x01\xff\xff\xff",
            b"{\"client\":",
            b"\x07junk",
        ] {
            assert_eq!(Command::decode(garbage), None, "{garbage:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_survive_the_log_and_the_snapshot(
            key in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..12),
            value in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..24),
            suffix in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..8),
        ) {
            let mut kv = KvStore::default();
            let put = Command { client: 1, seq: 1, op: Op::Put { key: key.clone().into(), value: value.clone().into() } };
            let append = Command { client: 1, seq: 2, op: Op::Append { key: key.clone().into(), value: suffix.clone().into() } };
            let decoded = Command::decode(&put.encode()).expect("decodes");
            proptest::prop_assert_eq!(&decoded, &put);
            kv.apply(&entry(1, &decoded));
            kv.apply(&entry(2, &Command::decode(&append.encode()).expect("decodes")));
            let mut expected = value.clone();
            expected.extend_from_slice(&suffix);
            proptest::prop_assert_eq!(kv.get(&key).map(ByteString::as_bytes), Some(&expected[..]));
            let restored = KvStore::restore(&kv.snapshot()).expect("round trip");
            proptest::prop_assert_eq!(restored, kv);
            let other = Command { client: 2, seq: 1, op: Op::Put { key: vec![0xff, 0xfe].into(), value: key.clone().into() } };
            let mut kv = KvStore::restore(&KvStore::default().snapshot()).expect("empty");
            kv.apply(&entry(1, &other));
            proptest::prop_assert_eq!(KvStore::restore(&kv.snapshot()).expect("binary key"), kv);
        }
    }
}
