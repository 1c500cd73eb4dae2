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
        return Err(too_many_arguments(count, MAX_ARGS));
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

/// How much one connection's commands may use before they are parsed: the caps
/// [`CommandReader`] enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most arguments in one command.
    pub max_args: usize,
    /// Largest argument.
    pub max_bulk: usize,
    /// Most bytes held for commands not yet complete (arguments read so far plus unparsed
    /// input).
    pub max_buffered: usize,
}

impl Limits {
    /// What an authenticated client may send.
    pub const AUTHENTICATED: Limits = Limits {
        max_args: MAX_ARGS,
        max_bulk: super::MAX_BULK,
        max_buffered: 64 << 20,
    };
    /// What a client that has not authenticated yet may send (Redis's own caps: enough for
    /// `HELLO 3 AUTH user password SETNAME name`, nothing that costs real memory).
    pub const UNAUTHENTICATED: Limits = Limits {
        max_args: 10,
        max_bulk: 16 << 10,
        max_buffered: 64 << 10,
    };
}

/// A command header announcing `count` arguments where at most `max` are taken (Redis's
/// wording, then the limit when that is what was broken).
fn too_many_arguments(count: i64, max: usize) -> RespError {
    if count < 0 {
        return RespError(format!("invalid multibulk length {count}"));
    }
    RespError(format!(
        "invalid multibulk length {count}: a command may have at most {max} arguments"
    ))
}

/// The command being read: its argument count and the arguments complete so far.
#[derive(Debug)]
struct Partial {
    count: usize,
    args: Vec<Vec<u8>>,
}

/// An incremental command decoder: input is fed as it arrives and each byte is parsed once
/// (complete arguments are taken out as soon as they are whole), so a command costs time
/// linear in its size however it is split across reads, unlike re-decoding the whole buffer
/// on every read. Enforces [`Limits`]; [`CommandReader::buffered`] is what it holds.
#[derive(Debug)]
pub struct CommandReader {
    buf: Vec<u8>,
    at: usize,
    partial: Option<Partial>,
    partial_bytes: usize,
    /// The caps in force (a connection raises them once it authenticates).
    pub limits: Limits,
}

impl CommandReader {
    /// An empty reader with `limits`.
    pub fn new(limits: Limits) -> CommandReader {
        CommandReader {
            buf: Vec::new(),
            at: 0,
            partial: None,
            partial_bytes: 0,
            limits,
        }
    }

    /// Bytes held: arguments of the command being read plus input not parsed yet.
    pub fn buffered(&self) -> usize {
        self.partial_bytes + self.buf.len() - self.at
    }

    /// Appends input; an error if that takes [`CommandReader::buffered`] past the limit.
    pub fn feed(&mut self, input: &[u8]) -> Result<(), RespError> {
        if self.at > 0 && self.at >= self.buf.len() / 2 {
            self.buf.drain(..self.at);
            self.at = 0;
        }
        self.buf.extend_from_slice(input);
        if self.buffered() > self.limits.max_buffered {
            return Err(RespError(format!(
                "command larger than {} bytes",
                self.limits.max_buffered
            )));
        }
        Ok(())
    }

    /// The next complete command, `Ok(None)` until one has arrived.
    pub fn next_command(&mut self) -> Result<Option<Vec<Vec<u8>>>, RespError> {
        if self.partial.is_none() {
            let Some(&first) = self.buf.get(self.at) else {
                return Ok(None);
            };
            if first != b'*' {
                let Some((args, used)) = inline(&self.buf[self.at..])? else {
                    return Ok(None);
                };
                self.at += used;
                return self.checked(args).map(Some);
            }
            let Some((header, next)) = line(&self.buf, self.at + 1)? else {
                return Ok(None);
            };
            let count = number(header)?;
            if !(0..=self.limits.max_args as i64).contains(&count) {
                return Err(too_many_arguments(count, self.limits.max_args));
            }
            self.at = next;
            self.partial = Some(Partial {
                count: count as usize,
                args: Vec::with_capacity((count as usize).min(64)),
            });
        }
        self.more_arguments()
    }

    /// Takes every argument of the partial command that is whole.
    fn more_arguments(&mut self) -> Result<Option<Vec<Vec<u8>>>, RespError> {
        let Some(partial) = self.partial.as_mut() else {
            return Ok(None);
        };
        while partial.args.len() < partial.count {
            let Some(&kind) = self.buf.get(self.at) else {
                return Ok(None);
            };
            if kind != b'$' {
                return Err(RespError(format!("expected '$', got '{}'", kind as char)));
            }
            if let Some((len, _)) = line(&self.buf, self.at + 1)? {
                let len = number(len)?;
                if len > self.limits.max_bulk as i64 {
                    return Err(RespError(format!(
                        "invalid bulk length {len}: an argument may have at most {} bytes",
                        self.limits.max_bulk
                    )));
                }
            }
            let Some((arg, next)) = bulk(&self.buf, self.at, false)? else {
                return Ok(None);
            };
            let arg = arg.unwrap_or_default().to_vec();
            self.partial_bytes += arg.len();
            partial.args.push(arg);
            self.at = next;
        }
        let done = self.partial.take().map(|p| p.args).unwrap_or_default();
        self.partial_bytes = 0;
        Ok(Some(done))
    }

    fn checked(&self, args: Vec<Vec<u8>>) -> Result<Vec<Vec<u8>>, RespError> {
        if args.len() > self.limits.max_args {
            return Err(RespError("too many arguments".into()));
        }
        if args.iter().any(|a| a.len() > self.limits.max_bulk) {
            return Err(RespError("argument too long".into()));
        }
        Ok(args)
    }
}

/// An inline command (what `telnet` or `nc` users type): one line, ended by `\n` with or
/// without `\r` before it, split into arguments as Redis splits it ([`split_inline`]).
fn inline(buf: &[u8]) -> Result<Option<Decoded>, RespError> {
    let Some(end) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > super::MAX_LINE {
            return Err(RespError("too big inline request".into()));
        }
        return Ok(None);
    };
    let text = buf[..end].strip_suffix(b"\r").unwrap_or(&buf[..end]);
    let args = split_inline(text)?;
    if args.len() > MAX_ARGS {
        return Err(too_many_arguments(args.len() as i64, MAX_ARGS));
    }
    Ok(Some((args, end + 1)))
}

/// Splits an inline command into arguments the way Redis does (`sdssplitargs`): runs of
/// whitespace separate them; `"..."` quotes with the escapes `\n \r \t \b \a \\ \"` and
/// `\xHH`; `'...'` quotes with `\'`; a closing quote must end its argument.
fn split_inline(line: &[u8]) -> Result<Vec<Vec<u8>>, RespError> {
    let unbalanced = || RespError("unbalanced quotes in request".into());
    let space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let hex = |b: u8| char::from(b).to_digit(16).map(|d| d as u8);
    let mut args = Vec::new();
    let mut at = 0;
    loop {
        while line.get(at).copied().is_some_and(space) {
            at += 1;
        }
        if at >= line.len() {
            return Ok(args);
        }
        let mut arg = Vec::new();
        // Some(quote) while inside quotes.
        let mut quote: Option<u8> = None;
        loop {
            let byte = line.get(at).copied();
            match (quote, byte) {
                (Some(_), None) => return Err(unbalanced()),
                (None, None) => break,
                (Some(b'"'), Some(b'\\')) => {
                    let escaped = line.get(at + 1).copied().ok_or_else(unbalanced)?;
                    let pair = (line.get(at + 2).copied(), line.get(at + 3).copied());
                    match (escaped, pair) {
                        (b'x', (Some(h), Some(l))) if hex(h).is_some() && hex(l).is_some() => {
                            arg.push(hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0));
                            at += 4;
                            continue;
                        }
                        _ => arg.push(match escaped {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        }),
                    }
                    at += 2;
                    continue;
                }
                (Some(b'\''), Some(b'\\')) if line.get(at + 1) == Some(&b'\'') => {
                    arg.push(b'\'');
                    at += 2;
                    continue;
                }
                (Some(q), Some(b)) if b == q => {
                    // A closing quote ends its argument.
                    if line.get(at + 1).copied().is_some_and(|b| !space(b)) {
                        return Err(unbalanced());
                    }
                    at += 1;
                    break;
                }
                (Some(_), Some(b)) => arg.push(b),
                (None, Some(b)) if space(b) => break,
                (None, Some(q @ (b'"' | b'\''))) => quote = Some(q),
                (None, Some(b)) => arg.push(b),
            }
            at += 1;
        }
        args.push(arg);
    }
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

    /// Inline commands as Redis reads them: `\n` ends a line (with or without `\r`), quotes
    /// group words and carry escapes (a bare `\n` once left the command waiting, and the next
    /// line was glued to it).
    #[test]
    fn inline_commands_split_as_redis_splits_them() {
        let args =
            |line: &[u8]| -> Vec<Vec<u8>> { decode(line).expect("valid").expect("complete").0 };
        let words =
            |w: &[&str]| -> Vec<Vec<u8>> { w.iter().map(|a| a.as_bytes().to_vec()).collect() };
        assert_eq!(args(b"PING\n"), words(&["PING"]));
        assert_eq!(args(b"PING\r\n"), words(&["PING"]));
        assert_eq!(decode(b"PING\nPING\r\n"), Ok(Some((words(&["PING"]), 5))));
        assert_eq!(args(b"  SET \t k   v  \n"), words(&["SET", "k", "v"]));
        assert_eq!(args(b"SET \"a b\" \"c\"\r\n"), words(&["SET", "a b", "c"]));
        assert_eq!(args(b"SET k 'it\\'s'\n"), words(&["SET", "k", "it's"]));
        assert_eq!(
            args(b"SET k \"\\x41\\n\\t\\\"\\\\\\xZZ\"\n"),
            vec![b"SET".to_vec(), b"k".to_vec(), b"A\n\t\"\\xZZ".to_vec()]
        );
        assert_eq!(args(b"SET k\"ey 1\" v\n"), words(&["SET", "key 1", "v"]));
        assert_eq!(args(b"SET k \"\"\n"), words(&["SET", "k", ""]));
        for unbalanced in [
            &b"SET \"abc\n"[..],
            b"SET 'abc\n",
            b"SET \"a\"b\n",
            b"SET \"a\\\n",
        ] {
            let e = decode(unbalanced).expect_err("unbalanced");
            assert!(e.0.contains("unbalanced quotes"), "{e}");
        }
        assert_eq!(decode(b"PING"), Ok(None), "no line end yet");
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

    /// Feeds `wire` to a reader in pieces of `split` bytes; every command decoded.
    fn read_all(wire: &[u8], split: usize, limits: Limits) -> Result<Vec<Vec<Vec<u8>>>, RespError> {
        let mut reader = CommandReader::new(limits);
        let mut commands = Vec::new();
        for piece in wire.chunks(split.max(1)) {
            reader.feed(piece)?;
            while let Some(command) = reader.next_command()? {
                commands.push(command);
            }
        }
        Ok(commands)
    }

    #[test]
    fn the_reader_enforces_its_limits() {
        let mut wire = Vec::new();
        encode_command(&["SET", "k", &"x".repeat(20_000)], &mut wire);
        let e = read_all(&wire, 100, Limits::UNAUTHENTICATED).unwrap_err();
        assert!(e.0.contains("bulk length 20000"), "{e}");
        assert!(e.0.contains("at most 16384 bytes"), "names the limit: {e}");
        assert_eq!(
            read_all(&wire, 100, Limits::AUTHENTICATED).unwrap().len(),
            1
        );
        let many: Vec<String> = (0..11).map(|i| i.to_string()).collect();
        let mut wire = Vec::new();
        encode_command(&many, &mut wire);
        let e = read_all(&wire, 7, Limits::UNAUTHENTICATED).unwrap_err();
        assert!(e.0.contains("multibulk length 11"), "{e}");
        assert!(e.0.contains("at most 10 arguments"), "names the limit: {e}");
        let tight = Limits {
            max_args: 4,
            max_bulk: 100,
            max_buffered: 150,
        };
        let mut wire = Vec::new();
        encode_command(&["SET", &"k".repeat(90), &"v".repeat(90)], &mut wire);
        let e = read_all(&wire, 10, tight).unwrap_err();
        assert!(e.0.contains("larger than 150"), "{e}");
    }

    #[test]
    fn the_reader_parses_each_byte_once() {
        // A 1,024-argument, 16 MiB command read 16 KiB at a time: the whole buffer was
        // re-parsed and its arguments copied on every read before (quadratic). Measured by
        // what is held: never more than the command itself plus one read.
        let arg = vec![b'a'; 16 << 10];
        let args: Vec<&[u8]> = (0..1024).map(|_| arg.as_slice()).collect();
        let mut wire = Vec::new();
        encode_command(&args, &mut wire);
        let mut reader = CommandReader::new(Limits::AUTHENTICATED);
        let mut done = None;
        for piece in wire.chunks(16 << 10) {
            reader.feed(piece).expect("within limits");
            assert!(reader.buffered() <= wire.len());
            assert!(
                reader.buf.len() <= 2 * (16 << 10) + 64,
                "parsed input is released"
            );
            if let Some(command) = reader.next_command().expect("valid") {
                done = Some(command);
            }
        }
        assert_eq!(done.map(|c| c.len()), Some(1024));
        assert_eq!(reader.buffered(), 0);
    }

    proptest! {
        #[test]
        fn the_reader_agrees_with_decode_however_input_is_split(
            commands in proptest::collection::vec(proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..20), 1..5), 1..6),
            split in 1usize..40,
        ) {
            let mut wire = Vec::new();
            for c in &commands {
                encode_command(c, &mut wire);
            }
            wire.extend_from_slice(b"PING  x\r\n");
            let mut expected = commands.clone();
            expected.push(vec![b"PING".to_vec(), b"x".to_vec()]);
            prop_assert_eq!(read_all(&wire, split, Limits::AUTHENTICATED).expect("valid"), expected);
        }

        #[test]
        fn the_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512), split in 1usize..64) {
            let _ = read_all(&bytes, split, Limits::AUTHENTICATED);
        }

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
