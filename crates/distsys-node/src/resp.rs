//! The Redis protocol (RESP2) on the client port: commands arrive as arrays of bulk strings (or
//! inline, space-separated); replies are simple strings, errors, integers, bulk strings and
//! arrays. The decoder is strict and bounded: malformed input is an error (the connection gets
//! `-ERR` and is closed), never a panic.

/// Most arguments in one command.
pub const MAX_ARGS: usize = 1024;
/// Largest argument.
pub const MAX_BULK: usize = 16 << 20;
/// Longest inline command or header line.
const MAX_LINE: usize = 64 << 10;

/// Malformed client input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Protocol error: {0}")]
pub struct RespError(pub String);

fn line(buf: &[u8], from: usize) -> Result<Option<(&[u8], usize)>, RespError> {
    match buf[from..].windows(2).position(|w| w == b"\r\n") {
        Some(pos) => Ok(Some((&buf[from..from + pos], from + pos + 2))),
        None if buf.len() - from > MAX_LINE => Err(RespError("line too long".into())),
        None => Ok(None),
    }
}

fn number(bytes: &[u8]) -> Result<i64, RespError> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| {
            RespError(format!(
                "invalid length {:?}",
                String::from_utf8_lossy(bytes)
            ))
        })
}

/// A decoded command: its arguments and how many input bytes it used.
pub type Decoded = (Vec<Vec<u8>>, usize);

/// Decodes one command from the front of `buf`: `Ok(None)` if it is incomplete, else the
/// arguments and how many bytes they used.
pub fn decode(buf: &[u8]) -> Result<Option<Decoded>, RespError> {
    if buf.is_empty() {
        return Ok(None);
    }
    if buf[0] != b'*' {
        // Inline command (redis-cli sends these for interactive PING and the like).
        let Some((text, used)) = line(buf, 0)? else {
            return Ok(None);
        };
        let args: Vec<Vec<u8>> = text
            .split(|b| *b == b' ')
            .filter(|a| !a.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        if args.len() > MAX_ARGS {
            return Err(RespError("too many arguments".into()));
        }
        return Ok(Some((args, used)));
    }
    let Some((header, mut at)) = line(buf, 1)? else {
        return Ok(None);
    };
    let count = number(header)?;
    if !(0..=MAX_ARGS as i64).contains(&count) {
        return Err(RespError(format!("invalid multibulk length {count}")));
    }
    let mut args = Vec::with_capacity(count as usize);
    for _ in 0..count {
        if at >= buf.len() {
            return Ok(None);
        }
        if buf[at] != b'$' {
            return Err(RespError(format!(
                "expected '$', got '{}'",
                buf[at] as char
            )));
        }
        let Some((len, start)) = line(buf, at + 1)? else {
            return Ok(None);
        };
        let len = number(len)?;
        if !(0..=MAX_BULK as i64).contains(&len) {
            return Err(RespError(format!("invalid bulk length {len}")));
        }
        let end = start + len as usize;
        if buf.len() < end + 2 {
            return Ok(None);
        }
        if &buf[end..end + 2] != b"\r\n" {
            return Err(RespError("bulk string not terminated by CRLF".into()));
        }
        args.push(buf[start..end].to_vec());
        at = end + 2;
    }
    Ok(Some((args, at)))
}

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
}

impl Reply {
    /// Appends the encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
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
            Reply::Bulk(None) => out.extend(b"$-1"),
            Reply::Bulk(Some(b)) => {
                out.extend(format!("${}\r\n", b.len()).as_bytes());
                out.extend(b);
            }
            Reply::Array(items) => {
                out.extend(format!("*{}\r\n", items.len()).as_bytes());
                for item in items {
                    item.encode(out);
                }
                return;
            }
        }
        out.extend(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_arrays_inline_and_partial_input() {
        let cmd = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nv1\r\n";
        let (args, used) = decode(cmd).expect("valid").expect("complete");
        assert_eq!(args, vec![b"SET".to_vec(), b"k".to_vec(), b"v1".to_vec()]);
        assert_eq!(used, cmd.len());
        for cut in 0..cmd.len() {
            assert_eq!(decode(&cmd[..cut]), Ok(None), "prefix of {cut} bytes");
        }
        let (args, _) = decode(b"PING  hello\r\n")
            .expect("valid")
            .expect("complete");
        assert_eq!(args, vec![b"PING".to_vec(), b"hello".to_vec()]);
        assert!(decode(b"*1\r\n:3\r\n").is_err());
        assert!(decode(b"*-5\r\n").is_err());
        assert!(decode(b"*1\r\n$99999999999\r\n").is_err());
        assert!(decode(b"*1\r\n$1\r\nab\r\n").is_err());
    }

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

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(Some((_, used))) = decode(&bytes) {
                prop_assert!(used <= bytes.len());
            }
        }

        #[test]
        fn every_command_round_trips(args in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..8)) {
            let mut wire = format!("*{}\r\n", args.len()).into_bytes();
            for a in &args {
                wire.extend(format!("${}\r\n", a.len()).as_bytes());
                wire.extend(a);
                wire.extend(b"\r\n");
            }
            let (decoded, used) = decode(&wire).expect("valid").expect("complete");
            prop_assert_eq!(decoded, args);
            prop_assert_eq!(used, wire.len());
        }
    }
}
