//! Reading a one-event-per-line history on every core. The text is cut at line ends into
//! chunks. Each chunk is lexed on its own thread: its lines of the fast path's shape
//! ([`fast_jsonl`]) become events whose micro-operations are built with chunk-local atom
//! ids; any other line is kept as text for the general reader. The chunks are then replayed
//! in order on one thread ([`replay`]): at each line, the local atoms that line introduced
//! are interned globally (in their order within the line), its micro-operations renumbered,
//! and the event recorded, or the other line read.
//!
//! So the history is exactly what one sequential read gives, whatever the chunking: an
//! atom's id is assigned at its first line and its position in that line, whichever chunk
//! lexed it, and events are recorded (and errors raised) in line order. The tests in
//! `format` read the same texts cut into chunks of every size and compare.

use super::fast_jsonl::{self, Func, Operand, RawMop, Scalar, Scratch};
use super::history::{Atom, Atoms, IntIds, Mop, ReadValue, Status};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

/// Texts shorter than this are lexed as one chunk (threads would cost more than they save).
const MIN_CHUNK_BYTES: usize = 64 << 10;

/// Whether an event opens a transaction or completes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `invoke`.
    Invoke,
    /// `ok`, `fail` or `info`.
    Done(Status),
}

impl Kind {
    /// The kind named by a `type` (with or without a leading `:`).
    pub(crate) fn named(name: &str) -> Option<Kind> {
        match name.strip_prefix(':').unwrap_or(name) {
            "invoke" => Some(Kind::Invoke),
            "ok" => Some(Kind::Done(Status::Ok)),
            "fail" => Some(Kind::Done(Status::Fail)),
            "info" => Some(Kind::Done(Status::Info)),
            _ => None,
        }
    }
}

/// An event of the fast path's shape.
#[derive(Debug)]
pub(crate) struct Event {
    /// 1-based line number (within its chunk while lexed, within the text once replayed).
    pub line: usize,
    pub kind: Kind,
    pub process: Option<u64>,
    pub index: Option<u64>,
    /// Its micro-operations (atoms local to the chunk while lexed, the history's once
    /// replayed).
    pub mops: Vec<Mop>,
}

/// One non-blank line of a chunk.
#[derive(Debug)]
pub(crate) enum Lexed<'a> {
    /// An event; its atoms are the chunk's local ids.
    Event {
        event: Event,
        /// The chunk's local atoms up to and including this line's: `atoms[..atoms_end]`.
        atoms_end: u32,
    },
    /// A line for the general reader.
    Other {
        /// 1-based line number within the chunk.
        line: usize,
        text: &'a str,
    },
}

/// A chunk's lines, lexed.
#[derive(Debug, Default)]
pub(crate) struct Chunk<'a> {
    /// Its non-blank lines in order.
    pub lines: Vec<Lexed<'a>>,
    /// Its local atoms by id, in order of first appearance.
    pub atoms: Vec<Scalar<'a>>,
    /// The number of line ends in it (the line numbers the next chunk starts after).
    pub line_ends: usize,
}

/// Chunk-local interning: the same partition of scalars as [`Atoms`] (an integer and the
/// string of its digits are different atoms).
#[derive(Default)]
struct LocalAtoms<'a> {
    ints: IntIds,
    texts: FxHashMap<&'a str, Atom>,
    scalars: Vec<Scalar<'a>>,
}

impl<'a> LocalAtoms<'a> {
    fn intern(&mut self, scalar: Scalar<'a>) -> Atom {
        let next = self.scalars.len() as Atom;
        let id = match scalar {
            Scalar::Int(i) => self.ints.get_or_insert_with(i, || next),
            Scalar::Str(s) => *self.texts.entry(s).or_insert(next),
        };
        if id == next {
            self.scalars.push(scalar);
        }
        id
    }

    /// A micro-operation of the right shape, its atoms interned in the general reader's
    /// order (key, then values).
    fn mop(&mut self, raw: RawMop<'a>, scratch: &Scratch<'a>, invoke: bool) -> Mop {
        let key = self.intern(raw.key);
        match (raw.func, raw.operand) {
            (Func::Append, Operand::One(v)) => Mop::Append {
                key,
                value: self.intern(v),
            },
            (Func::Write, Operand::One(v)) => Mop::Write {
                key,
                value: self.intern(v),
            },
            (_, operand) => Mop::Read {
                key,
                value: match operand {
                    Operand::Nil if invoke => ReadValue::Unknown,
                    Operand::Nil => ReadValue::Nil,
                    Operand::One(v) => ReadValue::Value(self.intern(v)),
                    Operand::List(lo, hi) => ReadValue::List(
                        scratch.scalars[lo as usize..hi as usize]
                            .iter()
                            .map(|&v| self.intern(v))
                            .collect(),
                    ),
                },
            },
        }
    }
}

/// Lexes one chunk (whole lines).
fn lex_chunk(text: &str, edn: bool) -> Chunk<'_> {
    let mut scratch = Scratch::default();
    let mut atoms = LocalAtoms::default();
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let line_number = i + 1;
        let event = fast_jsonl::parse(line, &mut scratch, edn)
            .and_then(|event| Some((event, Kind::named(event.kind)?)))
            // Decide every micro-operation's shape before interning anything.
            .filter(|_| {
                scratch.mops.iter().all(|m| {
                    matches!(
                        (m.func, m.operand),
                        (Func::Append | Func::Write, Operand::One(_)) | (Func::Read, _)
                    )
                })
            });
        lines.push(match event {
            Some((event, kind)) => {
                let invoke = kind == Kind::Invoke;
                let mops = scratch
                    .mops
                    .iter()
                    .map(|&raw| atoms.mop(raw, &scratch, invoke))
                    .collect();
                Lexed::Event {
                    event: Event {
                        line: line_number,
                        kind,
                        process: event.process,
                        index: event.index,
                        mops,
                    },
                    atoms_end: atoms.scalars.len() as Atom,
                }
            }
            None => Lexed::Other {
                line: line_number,
                text: line,
            },
        });
    }
    Chunk {
        lines,
        atoms: atoms.scalars,
        line_ends: memchr::memchr_iter(b'\n', text.as_bytes()).count(),
    }
}

/// Cuts `text` after line ends into pieces of about `chunk_bytes` (at least one line each).
fn pieces(text: &str, chunk_bytes: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    let target = chunk_bytes.max(1);
    while !rest.is_empty() {
        // A line end is one byte, so cutting after it is always at a character boundary.
        let cut = if target >= rest.len() {
            rest.len()
        } else {
            memchr::memchr(b'\n', &rest.as_bytes()[target - 1..])
                .map_or(rest.len(), |at| target + at)
        };
        out.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    out
}

/// Lexes `text` in chunks of about `chunk_bytes` (`None`: a size that keeps every core busy),
/// in parallel.
pub(crate) fn lex(text: &str, edn: bool, chunk_bytes: Option<usize>) -> Vec<Chunk<'_>> {
    let size = chunk_bytes
        .unwrap_or_else(|| (text.len() / (4 * rayon::current_num_threads())).max(MIN_CHUNK_BYTES));
    let pieces = pieces(text, size);
    if pieces.len() <= 1 {
        return pieces.into_iter().map(|p| lex_chunk(p, edn)).collect();
    }
    pieces.into_par_iter().map(|p| lex_chunk(p, edn)).collect()
}

/// Renumbers a micro-operation's local atoms through `global`.
fn renumber(mop: &mut Mop, global: &[Atom]) {
    let at = |a: &mut Atom| *a = global[*a as usize];
    match mop {
        Mop::Append { key, value } | Mop::Write { key, value } => {
            at(key);
            at(value);
        }
        Mop::Read { key, value } => {
            at(key);
            match value {
                ReadValue::Value(v) => at(v),
                ReadValue::List(list) => list.iter_mut().for_each(at),
                ReadValue::Unknown | ReadValue::Nil => {}
            }
        }
    }
}

/// A line as the replay hands it over, numbered in the whole text (1-based).
pub(crate) enum Line<'a> {
    /// An event of the fast path's shape, its atoms interned in the recorder's atoms.
    Event(Event),
    /// A line for the general reader.
    Other { line: usize, text: &'a str },
}

/// What the replay records into: it holds the history's atoms.
pub(crate) trait Recorder {
    /// The atoms lines are interned into.
    fn atoms(&mut self) -> &mut Atoms;
}

/// Replays the chunks in order: each line's new atoms interned into the recorder's atoms,
/// then the line handed to `each`. Stops at the first error `each` returns.
pub(crate) fn replay<'a, R: Recorder, E>(
    chunks: Vec<Chunk<'a>>,
    recorder: &mut R,
    mut each: impl FnMut(&mut R, Line<'a>) -> Result<(), E>,
) -> Result<(), E> {
    let mut offset = 0;
    for chunk in chunks {
        let mut global: Vec<Atom> = Vec::with_capacity(chunk.atoms.len());
        for lexed in chunk.lines {
            let line = match lexed {
                Lexed::Event {
                    mut event,
                    atoms_end,
                } => {
                    let atoms = recorder.atoms();
                    while global.len() < atoms_end as usize {
                        global.push(atoms.intern_scalar(chunk.atoms[global.len()]));
                    }
                    event.mops.iter_mut().for_each(|m| renumber(m, &global));
                    event.line += offset;
                    Line::Event(event)
                }
                Lexed::Other { line, text } => Line::Other {
                    line: offset + line,
                    text,
                },
            };
            each(recorder, line)?;
        }
        offset += chunk.line_ends;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_end_at_line_ends_and_cover_the_text() {
        let text = "ab\ncd\n\nef\nghi";
        for size in 0..16 {
            let p = pieces(text, size);
            assert_eq!(p.concat(), text, "size {size}");
            for piece in &p[..p.len() - 1] {
                assert!(piece.ends_with('\n'), "size {size}: {p:?}");
            }
        }
        assert_eq!(pieces(text, 100), vec![text]);
        assert_eq!(pieces("", 4), Vec::<&str>::new());
        // A target inside a multi-byte character.
        let text = "é\né\n";
        for size in 0..6 {
            assert_eq!(pieces(text, size).concat(), text);
        }
    }
}
