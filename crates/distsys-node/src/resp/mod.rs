//! The Redis protocol (RESP2, and RESP3 replies after `HELLO 3`), both directions, in one place: the node decodes commands and
//! encodes replies ([`command::decode`], [`Reply::encode`]); clients (the harness, the tests)
//! encode commands and decode replies ([`encode_command`], [`decode_reply`]). Commands arrive as
//! arrays of bulk strings (or inline, space-separated); replies are simple strings, errors,
//! integers, bulk strings and arrays. Both decoders are strict and bounded: malformed input is
//! an error (the connection is closed), never a panic, and incomplete input is `Ok(None)`.

pub mod command;
pub mod reply;

pub use command::{decode, encode_command, CommandReader, Decoded, Limits};
pub use reply::{decode_reply, Protocol, Reply};

/// Most arguments in one command (and items in one reply array).
pub const MAX_ARGS: usize = 1024;
/// Largest argument (and largest bulk string in a reply).
pub const MAX_BULK: usize = 16 << 20;
/// Longest inline command or header line.
const MAX_LINE: usize = 64 << 10;

/// Malformed RESP input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Protocol error: {0}")]
pub struct RespError(pub String);

/// The line starting at `from` (without its CRLF) and where the next one starts; `Ok(None)` if
/// the CRLF has not arrived yet.
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

/// The bulk string whose `$` is at `at`: its bytes (`None` for nil, if `nil_ok`) and where the
/// next item starts; `Ok(None)` if incomplete.
type Bulk<'a> = (Option<&'a [u8]>, usize);

fn bulk(buf: &[u8], at: usize, nil_ok: bool) -> Result<Option<Bulk<'_>>, RespError> {
    let Some((len, start)) = line(buf, at + 1)? else {
        return Ok(None);
    };
    let len = number(len)?;
    if nil_ok && len == -1 {
        return Ok(Some((None, start)));
    }
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
    Ok(Some((Some(&buf[start..end]), end + 2)))
}
