//! Replies: what the node encodes and a client decodes.

use super::{bulk, line, number, RespError, MAX_ARGS};

/// Deepest nesting of arrays [`decode_reply`] accepts (the node sends at most one level).
const MAX_DEPTH: usize = 8;

/// A reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`-style status.
    Simple(String),
    /// `-ERR ...`-style error (the text includes its prefix, e.g. `MOVED`).
    Error(String),
    /// `:n`.
    Integer(i64),
    /// `$len` bulk string, or nil.
    Bulk(Option<Vec<u8>>),
    /// `*n` array.
    Array(Vec<Reply>),
    /// A map (RESP3 `%n`; in RESP2, an array of alternating keys and values, as Redis sends
    /// it).
    Map(Vec<(Reply, Reply)>),
}

/// The protocol version a connection speaks (`HELLO 2` / `HELLO 3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// RESP2, the default.
    #[default]
    Resp2,
    /// RESP3: nil is `_`, maps are `%`.
    Resp3,
}

impl Reply {
    /// Appends the RESP2 encoding to `out` (see [`Reply::encode_as`]).
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.encode_as(Protocol::Resp2, out);
    }

    /// Appends the encoding in `protocol` to `out`. Line breaks inside a status or error
    /// become spaces (the protocol cannot carry them there).
    pub fn encode_as(&self, protocol: Protocol, out: &mut Vec<u8>) {
        match self {
            Reply::Simple(s) => {
                out.push(b'+');
                out.extend(s.replace(['\r', '\n'], " ").as_bytes());
            }
            Reply::Error(s) => {
                out.push(b'-');
                out.extend(s.replace(['\r', '\n'], " ").as_bytes());
            }
            Reply::Integer(n) => out.extend(format!(":{n}").as_bytes()),
            Reply::Bulk(None) if protocol == Protocol::Resp3 => out.push(b'_'),
            Reply::Bulk(None) => out.extend(b"$-1"),
            Reply::Bulk(Some(b)) => {
                out.extend(format!("${}\r\n", b.len()).as_bytes());
                out.extend(b);
            }
            Reply::Array(items) => {
                out.extend(format!("*{}\r\n", items.len()).as_bytes());
                for item in items {
                    item.encode_as(protocol, out);
                }
                return;
            }
            Reply::Map(pairs) => {
                let header = match protocol {
                    Protocol::Resp3 => format!("%{}\r\n", pairs.len()),
                    Protocol::Resp2 => format!("*{}\r\n", 2 * pairs.len()),
                };
                out.extend(header.as_bytes());
                for (key, value) in pairs {
                    key.encode_as(protocol, out);
                    value.encode_as(protocol, out);
                }
                return;
            }
        }
        out.extend(b"\r\n");
    }
}

/// A decoded reply and how many input bytes it used.
pub type DecodedReply = (Reply, usize);

/// Decodes one reply from the front of `buf`: `Ok(None)` if it is incomplete, else the reply
/// and how many bytes it used. Bulk strings are byte-safe (at most [`super::MAX_BULK`] bytes),
/// arrays hold at most [`MAX_ARGS`] items and nest at most 8 deep; status and error text that
/// is not UTF-8 is decoded lossily. Anything else is an error.
pub fn decode_reply(buf: &[u8]) -> Result<Option<DecodedReply>, RespError> {
    decode_at(buf, 0, 0)
}

fn decode_at(buf: &[u8], at: usize, depth: usize) -> Result<Option<DecodedReply>, RespError> {
    let Some(&kind) = buf.get(at) else {
        return Ok(None);
    };
    if kind == b'$' {
        return Ok(bulk(buf, at, true)?
            .map(|(bytes, next)| (Reply::Bulk(bytes.map(<[u8]>::to_vec)), next)));
    }
    let Some((text, mut next)) = line(buf, at + 1)? else {
        return Ok(None);
    };
    let text_of = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let reply = match kind {
        b'+' => Reply::Simple(text_of(text)),
        b'-' => Reply::Error(text_of(text)),
        b':' => Reply::Integer(number(text)?),
        b'_' if text.is_empty() => Reply::Bulk(None),
        b'%' => {
            let count = number(text)?;
            if !(0..=MAX_ARGS as i64).contains(&count) || depth >= MAX_DEPTH {
                return Err(RespError(format!("invalid map length {count}")));
            }
            let mut pairs = Vec::with_capacity(count as usize);
            for _ in 0..count {
                let Some((key, after)) = decode_at(buf, next, depth + 1)? else {
                    return Ok(None);
                };
                let Some((value, after)) = decode_at(buf, after, depth + 1)? else {
                    return Ok(None);
                };
                pairs.push((key, value));
                next = after;
            }
            Reply::Map(pairs)
        }
        b'*' => {
            let count = number(text)?;
            if !(0..=MAX_ARGS as i64).contains(&count) || depth >= MAX_DEPTH {
                return Err(RespError(format!("invalid multibulk length {count}")));
            }
            let mut items = Vec::with_capacity(count as usize);
            for _ in 0..count {
                let Some((item, after)) = decode_at(buf, next, depth + 1)? else {
                    return Ok(None);
                };
                items.push(item);
                next = after;
            }
            Reply::Array(items)
        }
        other => return Err(RespError(format!("unknown reply type '{}'", other as char))),
    };
    Ok(Some((reply, next)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn encodes_every_reply_kind() {
        let mut out = Vec::new();
        Reply::Array(vec![
            Reply::Simple("OK".into()),
            Reply::Error("MOVED 0 127.0.0.1:7001".into()),
            Reply::Integer(3),
            Reply::Bulk(None),
            Reply::Bulk(Some(b"x".to_vec())),
        ])
        .encode(&mut out);
        assert_eq!(
            out,
            b"*5\r\n+OK\r\n-MOVED 0 127.0.0.1:7001\r\n:3\r\n$-1\r\n$1\r\nx\r\n".to_vec()
        );
    }

    #[test]
    fn decodes_every_reply_kind_and_waits_for_partial_input() {
        let wire = b"*6\r\n+OK\r\n-MOVED 0 127.0.0.1:7001\r\n:-3\r\n$-1\r\n$4\r\na\r\nb\r\n*0\r\n";
        let (reply, used) = decode_reply(wire).expect("valid").expect("complete");
        assert_eq!(used, wire.len());
        assert_eq!(
            reply,
            Reply::Array(vec![
                Reply::Simple("OK".into()),
                Reply::Error("MOVED 0 127.0.0.1:7001".into()),
                Reply::Integer(-3),
                Reply::Bulk(None),
                Reply::Bulk(Some(b"a\r\nb".to_vec())),
                Reply::Array(Vec::new()),
            ])
        );
        for cut in 0..wire.len() {
            assert_eq!(
                decode_reply(&wire[..cut]),
                Ok(None),
                "prefix of {cut} bytes"
            );
        }
        assert!(decode_reply(b"?x\r\n").is_err());
        assert!(decode_reply(b":12a\r\n").is_err());
        assert!(decode_reply(b"$99999999999\r\n").is_err());
        assert!(decode_reply(b"$1\r\nab\r\n").is_err());
        assert!(decode_reply(b"*-2\r\n").is_err());
        assert!(decode_reply(&b"*1\r\n".repeat(MAX_DEPTH + 1)).is_err());
    }

    /// What a RESP2 client reads for `reply`: maps as flat arrays.
    fn as_resp2(reply: &Reply) -> Reply {
        match reply {
            Reply::Array(items) => Reply::Array(items.iter().map(as_resp2).collect()),
            Reply::Map(pairs) => Reply::Array(
                pairs
                    .iter()
                    .flat_map(|(k, v)| [as_resp2(k), as_resp2(v)])
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn any_reply() -> impl Strategy<Value = Reply> {
        let leaf = prop_oneof![
            "[a-zA-Z0-9 ]{0,20}".prop_map(Reply::Simple),
            "[a-zA-Z0-9 ]{0,20}".prop_map(Reply::Error),
            any::<i64>().prop_map(Reply::Integer),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40))
                .prop_map(Reply::Bulk),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Reply::Array),
                proptest::collection::vec((inner.clone(), inner), 0..3).prop_map(Reply::Map),
            ]
        })
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(Some((_, used))) = decode_reply(&bytes) {
                prop_assert!(used <= bytes.len());
            }
        }

        #[test]
        fn every_reply_round_trips(reply in any_reply()) {
            let mut wire = Vec::new();
            reply.encode(&mut wire);
            let (decoded, used) = decode_reply(&wire).expect("valid").expect("complete");
            prop_assert_eq!(decoded, as_resp2(&reply));
            prop_assert_eq!(used, wire.len());
            let mut wire = Vec::new();
            reply.encode_as(Protocol::Resp3, &mut wire);
            let (decoded, used) = decode_reply(&wire).expect("valid").expect("complete");
            prop_assert_eq!(decoded, reply);
            prop_assert_eq!(used, wire.len());
        }

        #[test]
        fn a_map_is_a_flat_array_in_resp2(pairs in proptest::collection::vec((any::<i64>(), any::<i64>()), 0..4)) {
            let map = Reply::Map(pairs.iter().map(|(k, v)| (Reply::Integer(*k), Reply::Integer(*v))).collect());
            let mut wire = Vec::new();
            map.encode(&mut wire);
            let flat = Reply::Array(pairs.iter().flat_map(|(k, v)| [Reply::Integer(*k), Reply::Integer(*v)]).collect());
            prop_assert_eq!(decode_reply(&wire).expect("valid").expect("complete").0, flat);
        }
    }
}
