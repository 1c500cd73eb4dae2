//! Commands: what a client sends (an array of bulk strings, or an inline line) and the node
//! decodes.

use super::{bulk, line, number, RespError, MAX_ARGS};

/// A decoded command: its arguments and how many input bytes it used.
pub type Decoded = (Vec<Vec<u8>>, usize);

/// Decodes one command from the front of `buf`: `Ok(None)` if it is incomplete, else the
/// arguments and how many bytes they used. At most [`MAX_ARGS`] arguments of at most
/// [`super::MAX_BULK`] bytes each; anything else is an error.
pub fn decode(buf: &[u8]) -> Result<Option<Decoded>, RespError> {
    if buf.is_empty() {
        return Ok(None);
    }
    if buf[0] != b'*' {
        return inline(buf);
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
        let Some((arg, next)) = bulk(buf, at, false)? else {
            return Ok(None);
        };
        args.push(arg.unwrap_or_default().to_vec());
        at = next;
    }
    Ok(Some((args, at)))
}

/// An inline command (redis-cli sends these for interactive PING and the like): one line of
/// space-separated arguments.
fn inline(buf: &[u8]) -> Result<Option<Decoded>, RespError> {
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
    Ok(Some((args, used)))
}

/// Appends the encoding of a command (an array of bulk strings, byte-safe) to `out`: what
/// [`decode`] reads back as the same arguments.
pub fn encode_command<A: AsRef<[u8]>>(args: &[A], out: &mut Vec<u8>) {
    out.extend(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        let a = a.as_ref();
        out.extend(format!("${}\r\n", a.len()).as_bytes());
        out.extend(a);
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
    fn encodes_a_command_as_an_array_of_bulk_strings() {
        let mut out = Vec::new();
        encode_command(&["SET", "k", "a b\r\n"], &mut out);
        assert_eq!(
            out,
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na b\r\n\r\n".to_vec()
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
            let mut wire = Vec::new();
            encode_command(&args, &mut wire);
            let (decoded, used) = decode(&wire).expect("valid").expect("complete");
            prop_assert_eq!(decoded, args);
            prop_assert_eq!(used, wire.len());
        }
    }
}
