//! The client workload, one definition for the simulator's clients and the chaos clients that
//! drive real processes: which key, which operation, which value, and what the history records
//! of it. A seeded RNG and a fresh value number in, one [`Operation`] out; the caller sends it
//! (as a simulated request, or as a Redis command with [`Operation::command`]) and records it.

use distsys_check::history::OpKind;
use distsys_consensus::kv::Op;
use distsys_consensus::replica::ClientOp;
use rand::{Rng, RngExt};
use serde_json::{json, Value};

/// Keys the clients use (`k0`..`k4`): few, so operations contend.
pub const KEYS: usize = 5;

/// One client operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// The key.
    pub key: String,
    /// Its kind in the history.
    pub kind: OpKind,
    /// What the history records as its input (a read's is null; a cas's is `[expected, new]`).
    pub input: Value,
    /// The request.
    pub op: ClientOp,
}

/// The next operation: a random key of [`KEYS`], and a read (45 %), write (30 %), cas (15 %,
/// expecting the key absent or holding a value some client may have written: `v1`..`v{fresh}`)
/// or append (10 %) of the fresh value `v{fresh}`. Values are unique as long as `fresh` is.
///
/// The draws are, in order: the key, the kind, and for a cas whether it expects absence, then
/// which value; a caller sharing the RNG with other draws replays exactly.
pub fn next_operation<R: Rng>(rng: &mut R, fresh: u64) -> Operation {
    let key = format!("k{}", rng.random_range(0..KEYS));
    let value = format!("v{fresh}");
    let roll = rng.random_range(0..100);
    let (kind, input, op) = if roll < 45 {
        (
            OpKind::Read,
            Value::Null,
            ClientOp::Read {
                key: key.as_str().into(),
            },
        )
    } else if roll < 75 {
        (
            OpKind::Write,
            json!(value),
            ClientOp::Write(Op::Put {
                key: key.as_str().into(),
                value: value.as_str().into(),
            }),
        )
    } else if roll < 90 {
        let expected = if rng.random_bool(0.5) {
            None
        } else {
            Some(format!("v{}", rng.random_range(1..=fresh.max(1))))
        };
        (
            OpKind::Cas,
            json!([expected, value]),
            ClientOp::Write(Op::Cas {
                key: key.as_str().into(),
                expected: expected.map(Into::into),
                new: value.as_str().into(),
            }),
        )
    } else {
        let piece = format!(" {value}");
        (
            OpKind::Append,
            json!(piece),
            ClientOp::Write(Op::Append {
                key: key.as_str().into(),
                value: piece.into(),
            }),
        )
    };
    Operation {
        key,
        kind,
        input,
        op,
    }
}

impl Operation {
    /// Whether it only reads.
    pub fn is_read(&self) -> bool {
        matches!(self.op, ClientOp::Read { .. })
    }

    /// The Redis command that performs it on a node: `GET`, `SET`, `CAS key expected new`,
    /// `SET key new NX` (a cas expecting absence) or `APPEND`.
    pub fn command(&self) -> Vec<Vec<u8>> {
        let words: Vec<&[u8]> = match &self.op {
            ClientOp::Read { key } | ClientOp::Write(Op::Get { key }) => {
                vec![b"GET", key.as_bytes()]
            }
            ClientOp::Write(Op::Put { key, value }) => {
                vec![b"SET", key.as_bytes(), value.as_bytes()]
            }
            ClientOp::Write(Op::Cas {
                key,
                expected: Some(expected),
                new,
            }) => vec![b"CAS", key.as_bytes(), expected.as_bytes(), new.as_bytes()],
            ClientOp::Write(Op::Cas {
                key,
                expected: None,
                new,
            }) => vec![b"SET", key.as_bytes(), new.as_bytes(), b"NX"],
            ClientOp::Write(Op::Append { key, value }) => {
                vec![b"APPEND", key.as_bytes(), value.as_bytes()]
            }
            ClientOp::Write(Op::Delete { key }) => vec![b"DEL", key.as_bytes()],
            ClientOp::Write(Op::Incr { key }) => vec![b"INCR", key.as_bytes()],
            ClientOp::Write(Op::PutMany { pairs }) => std::iter::once(&b"MSET"[..])
                .chain(pairs.iter().flat_map(|(k, v)| [k.as_bytes(), v.as_bytes()]))
                .collect(),
        };
        words.into_iter().map(<[u8]>::to_vec).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn the_mix_has_every_kind_at_its_share_and_values_are_the_fresh_ones() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut counts = std::collections::BTreeMap::new();
        let mut absent = 0;
        for fresh in 1..=20_000u64 {
            let o = next_operation(&mut rng, fresh);
            *counts.entry(o.kind.name()).or_insert(0u32) += 1;
            assert!(o.key.starts_with('k') && o.key[1..].parse::<usize>().unwrap() < KEYS);
            match o.kind {
                OpKind::Read => assert!(o.is_read() && o.input.is_null()),
                OpKind::Write => assert_eq!(o.input, json!(format!("v{fresh}"))),
                OpKind::Append => assert_eq!(o.input, json!(format!(" v{fresh}"))),
                OpKind::Cas => {
                    assert_eq!(o.input[1], json!(format!("v{fresh}")));
                    absent += usize::from(o.input[0].is_null());
                }
                other => panic!("unexpected kind {other:?}"),
            }
        }
        let share = |k: &str| f64::from(counts[k]) / 20_000.0;
        assert!((share("read") - 0.45).abs() < 0.02, "{counts:?}");
        assert!((share("write") - 0.30).abs() < 0.02, "{counts:?}");
        assert!((share("cas") - 0.15).abs() < 0.02, "{counts:?}");
        assert!((share("append") - 0.10).abs() < 0.02, "{counts:?}");
        let cas = counts["cas"] as usize;
        assert!(
            absent * 3 > cas && absent * 3 < cas * 2,
            "{absent} of {cas}"
        );
    }

    #[test]
    fn each_operation_becomes_the_redis_command_with_the_same_meaning() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut seen = std::collections::BTreeSet::new();
        for fresh in 1..=2_000u64 {
            let o = next_operation(&mut rng, fresh);
            let command: Vec<String> = o
                .command()
                .iter()
                .map(|w| String::from_utf8(w.clone()).unwrap())
                .collect();
            let v = format!("v{fresh}");
            let expected: Vec<String> = match (o.kind, &o.input) {
                (OpKind::Read, _) => vec!["GET".into(), o.key.clone()],
                (OpKind::Write, _) => vec!["SET".into(), o.key.clone(), v],
                (OpKind::Append, _) => vec!["APPEND".into(), o.key.clone(), format!(" {v}")],
                (OpKind::Cas, input) if input[0].is_null() => {
                    vec!["SET".into(), o.key.clone(), v, "NX".into()]
                }
                (OpKind::Cas, input) => vec![
                    "CAS".into(),
                    o.key.clone(),
                    input[0].as_str().unwrap().to_string(),
                    v,
                ],
                (other, _) => panic!("unexpected kind {other:?}"),
            };
            assert_eq!(command, expected);
            seen.insert(
                command[0].clone()
                    + command
                        .last()
                        .map_or("", |w| if w == "NX" { "NX" } else { "" }),
            );
        }
        assert_eq!(seen.len(), 5, "{seen:?}");
    }
}
