//! The fast path of the JSON Lines and Jepsen EDN readers: a hand-written scanner for one
//! event line of the common shape, writing into reusable buffers (no `serde_json::Value`
//! tree, no allocation per line beyond what the history keeps).
//!
//! In EDN (`{:type :ok, :value [[:append 1 2]], :process 3}`) commas are whitespace, field
//! names are keywords, `nil` is null, and a keyword in a key's or value's place is the
//! string `":name"`, as the general EDN reader makes it; integers are taken only in their
//! canonical form (no `N`, no `+`, no leading zeros) and must end at an EDN delimiter.
//!
//! It accepts only the common shape, and only where its meaning is the general reader's:
//! an object with an integer or null `process`, a `type` string, a `value` vector of
//! 3-element `[f k v]` vectors (`f` one of `append`, `w`, `r`, optionally with a leading
//! `:`) whose keys and written values are integers (within i64) or strings, and reads of
//! nil, one such scalar or a list of them; an optional `index`, and any other field, which
//! is skipped after being checked to be valid JSON. JSON whitespace may sit between any two
//! tokens (`{"process": 3, "type": "ok"}` as Python's `json.dumps` writes it).
//!
//! Anything else returns `None` and the line goes through the general reader, which
//! decides it and words its errors: named processes, floats, `-0`, booleans, integers out of
//! range, any string with an escape, duplicate fields (also `type` next to `:type`), other
//! functions and arities, nesting deeper than [`MAX_DEPTH`], trailing text, invalid JSON. So
//! the fast path can only be faster, never different: the tests in `format` check that both
//! readers build identical histories (or the same error) on lines built to hit every branch.

use crate::format::edn::is_delimiter;

/// Deepest nesting of a skipped field's value the fast path follows (serde_json's own
/// limit is 128; deeper lines go to the general reader, which words the error).
pub(crate) const MAX_DEPTH: usize = 64;

/// A key or a written value: an integer within i64 or a string without escapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scalar<'a> {
    /// An integer that fits in i64.
    Int(i64),
    /// A string's contents (no escapes in it).
    Str(&'a str),
}

/// The function of a micro-operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    /// `append`.
    Append,
    /// `w`.
    Write,
    /// `r`.
    Read,
}

/// The third element of a micro-operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operand<'a> {
    /// `null`.
    Nil,
    /// One scalar.
    One(Scalar<'a>),
    /// A list of scalars: `scalars[start..end]` of the [`Scratch`].
    List(u32, u32),
}

/// One micro-operation `[f k v]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawMop<'a> {
    /// Its function.
    pub func: Func,
    /// Its key.
    pub key: Scalar<'a>,
    /// Its operand.
    pub operand: Operand<'a>,
}

/// Buffers one line's micro-operations and list elements are written into, reused from line
/// to line.
#[derive(Debug, Default)]
pub(crate) struct Scratch<'a> {
    /// The line's micro-operations.
    pub mops: Vec<RawMop<'a>>,
    /// The elements of its list operands.
    pub scalars: Vec<Scalar<'a>>,
}

/// One event line of the common shape (its micro-operations are in the [`Scratch`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawEvent<'a> {
    /// The process: an integer, or null/absent for none.
    pub process: Option<u64>,
    /// `invoke`, `ok`, `fail` or `info`, as written (optionally with a leading `:`).
    pub kind: &'a str,
    /// The index, when a non-negative integer.
    pub index: Option<u64>,
}

/// The bytes that end the fast scan of a string: its closing quote, or what the fast path
/// refuses in one (an escape, a control character).
static STRING_STOP: [bool; 256] = {
    let mut stop = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        stop[b] = true;
        b += 1;
    }
    stop[b'"' as usize] = true;
    stop[b'\\' as usize] = true;
    stop
};

/// A number as JSON writes it: an integer (sign and magnitude, when it fits in u64) or
/// anything else valid (a float, an exponent, a bigger integer).
enum Number {
    Int { negative: bool, magnitude: u64 },
    Other,
}

/// Whitespace of JSON (`WHITESPACE[b] & 1`) and of EDN, where commas are whitespace too
/// (`WHITESPACE[b] & 2`).
static WHITESPACE: [u8; 256] = {
    let mut table = [0u8; 256];
    table[b' ' as usize] = 3;
    table[b'\t' as usize] = 3;
    table[b'\n' as usize] = 3;
    table[b'\r' as usize] = 3;
    table[b',' as usize] = 2;
    table
};

/// [`is_delimiter`] as a table.
static DELIMITER: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = is_delimiter(b as u8);
        b += 1;
    }
    table
};

/// The scanner over one line. `EDN`: Jepsen EDN instead of JSON (commas are whitespace,
/// keywords, `nil`); a parameter rather than a field so each reader is compiled without
/// the other's branches. The small methods are inlined into [`parse`] so the position stays
/// in a register.
struct Cursor<'a, const EDN: bool> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a, const EDN: bool> Cursor<'a, EDN> {
    #[inline(always)]
    fn skip_ws(&mut self) {
        let mask = if EDN { 2 } else { 1 };
        while let Some(&b) = self.bytes.get(self.at) {
            if WHITESPACE[usize::from(b)] & mask == 0 {
                break;
            }
            self.at += 1;
        }
    }

    /// The next byte after whitespace, not consumed.
    #[inline(always)]
    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.bytes.get(self.at).copied()
    }

    #[inline(always)]
    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// After an item: `close` (consumed, then `false`) or another item (`true`): in JSON
    /// after a `,`, in EDN after whitespace (commas included).
    #[inline(always)]
    fn next_item(&mut self, close: u8) -> Option<bool> {
        match self.peek()? {
            b if b == close => {
                self.at += 1;
                Some(false)
            }
            b',' if !EDN => {
                self.at += 1;
                Some(true)
            }
            _ if EDN => Some(true),
            _ => None,
        }
    }

    /// An EDN token (a run of non-delimiters), possibly empty.
    #[inline(always)]
    fn token(&mut self) -> &'a str {
        self.skip_ws();
        let start = self.at;
        while self
            .bytes
            .get(self.at)
            .is_some_and(|&b| !DELIMITER[usize::from(b)])
        {
            self.at += 1;
        }
        self.text.get(start..self.at).unwrap_or("")
    }

    /// An EDN token read as the general reader would, where the fast path can: a canonical
    /// integer within i64, `nil` (as `None`), a keyword (`:name`, kept with its colon, as the
    /// general reader turns it into the string `":name"`). Anything else: `Err(())`.
    #[inline(always)]
    fn edn_atom(&mut self) -> Result<Option<Scalar<'a>>, ()> {
        let token = self.token();
        let bytes = token.as_bytes();
        match bytes {
            b"nil" => return Ok(None),
            [b':', _, ..] => return Ok(Some(Scalar::Str(token))),
            _ => {}
        }
        // Canonical: digits after an optional `-`, no leading zero, not `-0`, at most 18
        // digits (so no overflow).
        let (negative, digits) = match bytes {
            [b'-', rest @ ..] => (true, rest),
            _ => (false, bytes),
        };
        let canonical = match digits {
            [] => false,
            [b'0'] => !negative,
            [b'0', ..] => false,
            _ => digits.len() <= 18,
        };
        if !canonical {
            return Err(());
        }
        let mut value = 0i64;
        for &d in digits {
            if !d.is_ascii_digit() {
                return Err(());
            }
            value = value * 10 + i64::from(d - b'0');
        }
        Ok(Some(Scalar::Int(if negative { -value } else { value })))
    }

    /// A string without escapes or control characters: its contents.
    #[inline(always)]
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.at;
        while !STRING_STOP[usize::from(*self.bytes.get(self.at)?)] {
            self.at += 1;
        }
        if self.bytes[self.at] != b'"' {
            return None;
        }
        let s = self.text.get(start..self.at)?;
        self.at += 1;
        Some(s)
    }

    /// A number by JSON's grammar.
    fn number(&mut self) -> Option<Number> {
        self.skip_ws();
        let negative = self.bytes.get(self.at) == Some(&b'-');
        if negative {
            self.at += 1;
        }
        let digits = self.at;
        let mut magnitude: Option<u64> = Some(0);
        while let Some(&d @ b'0'..=b'9') = self.bytes.get(self.at) {
            magnitude = magnitude
                .and_then(|m| m.checked_mul(10))
                .and_then(|m| m.checked_add(u64::from(d - b'0')));
            self.at += 1;
        }
        let count = self.at - digits;
        if count == 0 || (count > 1 && self.bytes[digits] == b'0') {
            return None;
        }
        let mut integer = true;
        if self.bytes.get(self.at) == Some(&b'.') {
            self.at += 1;
            integer = false;
            self.digits()?;
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.at) {
            self.at += 1;
            integer = false;
            if let Some(b'+' | b'-') = self.bytes.get(self.at) {
                self.at += 1;
            }
            self.digits()?;
        }
        Some(match magnitude {
            Some(magnitude) if integer => Number::Int {
                negative,
                magnitude,
            },
            _ => Number::Other,
        })
    }

    /// One or more digits.
    fn digits(&mut self) -> Option<()> {
        let start = self.at;
        while let Some(b'0'..=b'9') = self.bytes.get(self.at) {
            self.at += 1;
        }
        (self.at > start).then_some(())
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.skip_ws();
        let end = self.at + word.len();
        (self.bytes.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// An integer or a string without escapes (in EDN also a keyword). (`-0` is a float to
    /// serde_json: refused.)
    #[inline(always)]
    fn scalar(&mut self) -> Option<Scalar<'a>> {
        self.skip_ws();
        // The common case first: a positive integer of at most 18 digits (no overflow).
        if let Some(value) = self.positive_int() {
            return Some(Scalar::Int(value));
        }
        if EDN {
            return match self.peek()? {
                b'"' => self.string().map(Scalar::Str),
                _ => self.edn_atom().ok().flatten(),
            };
        }
        self.scalar_general()
    }

    /// At the cursor, a positive integer of at most 18 digits without a leading zero that
    /// ends the token (EDN: at a delimiter or the end; JSON: not before a fraction or an
    /// exponent), consumed; otherwise `None` with nothing consumed.
    #[inline(always)]
    fn positive_int(&mut self) -> Option<i64> {
        let start = self.at;
        let first = *self.bytes.get(start)?;
        if !(b'1'..=b'9').contains(&first) {
            return None;
        }
        let mut value = i64::from(first - b'0');
        let mut at = start + 1;
        while let Some(&d @ b'0'..=b'9') = self.bytes.get(at) {
            if at - start == 18 {
                return None;
            }
            value = value * 10 + i64::from(d - b'0');
            at += 1;
        }
        let ends = match self.bytes.get(at) {
            None => true,
            Some(&b) if EDN => DELIMITER[usize::from(b)],
            Some(b) => !matches!(b, b'.' | b'e' | b'E'),
        };
        ends.then(|| {
            self.at = at;
            value
        })
    }

    /// `[` scalars `]`, appended to `scratch.scalars`.
    #[inline(always)]
    fn list(&mut self, scratch: &mut Scratch<'a>) -> Option<()> {
        self.eat(b'[')?;
        if self.peek()? == b']' {
            self.at += 1;
            return Some(());
        }
        loop {
            let scalar = self.scalar()?;
            scratch.scalars.push(scalar);
            if !self.next_item(b']')? {
                return Some(());
            }
        }
    }

    fn scalar_general(&mut self) -> Option<Scalar<'a>> {
        match self.peek()? {
            b'"' => self.string().map(Scalar::Str),
            _ => match self.number()? {
                Number::Int {
                    negative: false,
                    magnitude,
                } => i64::try_from(magnitude).ok().map(Scalar::Int),
                Number::Int {
                    negative: true,
                    magnitude,
                } if magnitude > 0 => 0i64.checked_sub_unsigned(magnitude).map(Scalar::Int),
                _ => None,
            },
        }
    }

    /// Any JSON value, checked and skipped (strings with escapes refused).
    fn skip_value(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        if EDN {
            return self.skip_edn(depth);
        }
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' => self.sequence(b'{', b'}', |c| {
                c.string()?;
                c.eat(b':')?;
                c.skip_value(depth + 1)
            }),
            b'[' => self.sequence(b'[', b']', |c| c.skip_value(depth + 1)),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number().map(drop),
        }
    }

    /// Any EDN value the general reader reads without error, skipped: strings without
    /// escapes, keywords, tokens (numbers, symbols, nil, booleans: never an error there),
    /// vectors, lists and maps of those. Sets, tags, characters, comments and discards
    /// (`#`, `\\`, `;`) are refused.
    fn skip_edn(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'[' => self.sequence(b'[', b']', |c| c.skip_value(depth + 1)),
            b'(' => self.sequence(b'(', b')', |c| c.skip_value(depth + 1)),
            b'{' => self.sequence(b'{', b'}', |c| {
                c.skip_value(depth + 1)?;
                // The key's value: a map needs pairs.
                (c.peek()? != b'}').then_some(())?;
                c.skip_value(depth + 1)
            }),
            b'#' | b'\\' | b';' => None,
            _ => (!self.token().is_empty()).then_some(()),
        }
    }

    /// The name of a field: a JSON string followed by `:`, or an EDN keyword (with its colon).
    #[inline(always)]
    fn field_name(&mut self) -> Option<&'a str> {
        if EDN {
            let name = self.token();
            return (name.len() > 1 && name.starts_with(':')).then_some(name);
        }
        let name = self.string()?;
        self.eat(b':')?;
        Some(name)
    }

    /// A process: a non-negative integer, or `null` / `nil` for none.
    #[inline(always)]
    fn process(&mut self) -> Option<Option<u64>> {
        if EDN {
            return match self.edn_atom().ok()? {
                None => Some(None),
                Some(Scalar::Int(i)) => Some(Some(u64::try_from(i).ok()?)),
                Some(Scalar::Str(_)) => None,
            };
        }
        match self.peek()? {
            b'n' => self.literal(b"null").map(|()| None),
            _ => match self.number()? {
                Number::Int {
                    negative: false,
                    magnitude,
                } => Some(Some(magnitude)),
                _ => None,
            },
        }
    }

    /// The event's type: a string, or in EDN also a keyword (kept with its colon).
    #[inline(always)]
    fn kind(&mut self) -> Option<&'a str> {
        match (EDN, self.peek()?) {
            (true, b':') => self.edn_atom().ok().flatten().and_then(|s| match s {
                Scalar::Str(k) => Some(k),
                Scalar::Int(_) => None,
            }),
            _ => self.string(),
        }
    }

    /// The index: `Some(n)` for a non-negative integer, `None` for any other value the
    /// general reader also ignores; `None` from the outer option when only it can tell.
    #[inline(always)]
    fn index(&mut self) -> Option<Option<u64>> {
        self.skip_ws();
        let start = self.at;
        if EDN {
            return match self.bytes.get(start)? {
                b'"' | b':' | b'[' | b'(' | b'{' => self.skip_value(1).map(|()| None),
                _ => match self.edn_atom().ok()? {
                    None => Some(None),
                    Some(Scalar::Int(i)) => Some(u64::try_from(i).ok()),
                    Some(Scalar::Str(_)) => None,
                },
            };
        }
        match self.bytes.get(start) {
            Some(b'-' | b'0'..=b'9') => match self.number()? {
                Number::Int {
                    negative: false,
                    magnitude,
                } => Some(Some(magnitude)),
                _ => Some(None),
            },
            _ => self.skip_value(1).map(|()| None),
        }
    }

    /// The third element of a micro-operation: nil, a list of scalars, or a scalar.
    #[inline(always)]
    fn operand(&mut self, scratch: &mut Scratch<'a>) -> Option<Operand<'a>> {
        match self.peek()? {
            b'[' => {
                let start = scratch.scalars.len() as u32;
                self.list(scratch)?;
                Some(Operand::List(start, scratch.scalars.len() as u32))
            }
            b'n' if !EDN => self.literal(b"null").map(|()| Operand::Nil),
            b'"' => self.scalar().map(Operand::One),
            _ if EDN => Some(match self.positive_int() {
                Some(value) => Operand::One(Scalar::Int(value)),
                None => match self.edn_atom().ok()? {
                    None => Operand::Nil,
                    Some(one) => Operand::One(one),
                },
            }),
            _ => self.scalar().map(Operand::One),
        }
    }

    /// `[f k v]`.
    #[inline(always)]
    fn mop(&mut self, scratch: &mut Scratch<'a>) -> Option<RawMop<'a>> {
        self.eat(b'[')?;
        let name = if EDN && self.peek()? == b':' {
            self.token()
        } else {
            self.string()?
        };
        let func = match name.strip_prefix(':').unwrap_or(name) {
            "append" => Func::Append,
            "w" => Func::Write,
            "r" => Func::Read,
            _ => return None,
        };
        self.separator()?;
        let key = self.scalar()?;
        self.separator()?;
        let operand = self.operand(scratch)?;
        self.eat(b']')?;
        Some(RawMop { func, key, operand })
    }

    /// The `value` field's vector.
    #[inline(always)]
    fn mops(&mut self, scratch: &mut Scratch<'a>) -> Option<()> {
        self.sequence(b'[', b']', |c| {
            let mop = c.mop(scratch)?;
            scratch.mops.push(mop);
            Some(())
        })
    }

    /// `open`, then items separated by commas up to `close` (no item at all included), each
    /// read by `item`.
    #[inline(always)]
    fn sequence(
        &mut self,
        open: u8,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<()> {
        self.eat(open)?;
        if self.peek()? == close {
            self.at += 1;
            return Some(());
        }
        loop {
            item(self)?;
            if !self.next_item(close)? {
                return Some(());
            }
        }
    }

    /// Between two elements of a micro-operation: `,` in JSON, whitespace in EDN.
    #[inline(always)]
    fn separator(&mut self) -> Option<()> {
        if EDN {
            self.skip_ws();
            Some(())
        } else {
            self.eat(b',')
        }
    }
}

/// The line as a [`RawEvent`] with its micro-operations in `scratch` (cleared first), or
/// `None` when it is not of the fast path's shape. `edn`: the line is Jepsen EDN (a map of
/// keywords) rather than JSON.
pub(crate) fn parse<'a>(
    line: &'a str,
    scratch: &mut Scratch<'a>,
    edn: bool,
) -> Option<RawEvent<'a>> {
    scratch.mops.clear();
    scratch.scalars.clear();
    if edn {
        parse_as::<true>(line, scratch)
    } else {
        parse_as::<false>(line, scratch)
    }
}

/// [`parse`] in one of the two syntaxes.
fn parse_as<'a, const EDN: bool>(line: &'a str, scratch: &mut Scratch<'a>) -> Option<RawEvent<'a>> {
    let mut cursor = Cursor::<EDN> {
        text: line,
        bytes: line.as_bytes(),
        at: 0,
    };
    let c = &mut cursor;
    // Each field once, under either of its names.
    let (mut process, mut kind, mut value, mut index) = (None, None, false, None);
    c.sequence(b'{', b'}', |c| {
        // A field named twice (also under both names) is left to the general reader.
        match c.field_name()? {
            "process" | ":process" => {
                process.is_none().then_some(())?;
                process = Some(c.process()?);
            }
            "type" | ":type" => {
                kind.is_none().then_some(())?;
                kind = Some(c.kind()?);
            }
            "value" | ":value" => {
                (!value).then_some(())?;
                value = true;
                c.mops(scratch)?;
            }
            "index" | ":index" => {
                index.is_none().then_some(())?;
                index = Some(c.index()?);
            }
            _ => c.skip_value(1)?,
        }
        Some(())
    })?;
    c.skip_ws();
    if c.at != c.bytes.len() || !value {
        return None;
    }
    Some(RawEvent {
        process: process.flatten(),
        kind: kind?,
        index: index.flatten(),
    })
}
