//! The JSON Lines reader's fast path: one event line deserialized straight into borrowed,
//! typed fields (no `serde_json::Value` tree, no allocation for keys or unescaped strings).
//!
//! It accepts only the common shape, and only where its meaning is the general reader's:
//! integer or null `process`, string `type`, a `value` vector of 3-element `[f k v]` vectors
//! whose keys and values are integers (within i64) or strings, and reads of nil, one such
//! scalar or a list of them. Anything else (named processes, floats, booleans, nested maps,
//! duplicate fields, unknown functions, malformed lines) returns `None` and the line goes
//! through the general reader, which decides it and words its errors. So the fast path can
//! only be faster, never different: `tests` checks both readers build identical histories on
//! lines built to hit every branch.

use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// A key or a written value: what the general reader interns as an integer or a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scalar<'a> {
    /// An integer that fits in i64.
    Int(i64),
    /// A string.
    Str(Cow<'a, str>),
}

struct ScalarVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for ScalarVisitor<'a> {
    type Value = Scalar<'a>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer or a string")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        i64::try_from(v)
            .map(Scalar::Int)
            .map_err(|_| E::custom("above i64"))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_string())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v)))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor(PhantomData))
    }
}

/// The third element of a micro-operation: nil, a scalar, or a list of scalars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Operand<'a> {
    /// `null`.
    Nil,
    /// One scalar.
    One(Scalar<'a>),
    /// A list of scalars.
    List(Vec<Scalar<'a>>),
}

struct OperandVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for OperandVisitor<'a> {
    type Value = Operand<'a>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("null, a scalar or a list of scalars")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Operand::Nil)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Operand::Nil)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        ScalarVisitor(PhantomData).visit_i64(v).map(Operand::One)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        ScalarVisitor(PhantomData).visit_u64(v).map(Operand::One)
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        ScalarVisitor(PhantomData)
            .visit_borrowed_str(v)
            .map(Operand::One)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        ScalarVisitor(PhantomData).visit_str(v).map(Operand::One)
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        ScalarVisitor(PhantomData).visit_string(v).map(Operand::One)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(4));
        while let Some(item) = seq.next_element::<Scalar<'a>>()? {
            items.push(item);
        }
        Ok(Operand::List(items))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Operand<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(OperandVisitor(PhantomData))
    }
}

/// `index`: the general reader keeps it only when it is a non-negative integer, and ignores
/// any other value; so does this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct LooseIndex(pub Option<u64>);

struct LooseIndexVisitor;

impl<'de> Visitor<'de> for LooseIndexVisitor {
    type Value = LooseIndex;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(LooseIndex(Some(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(LooseIndex(u64::try_from(v).ok()))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(LooseIndex(None))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(LooseIndex(None))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(LooseIndex(None))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(LooseIndex(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(LooseIndex(None))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(LooseIndex(None))
    }
}

impl<'de> Deserialize<'de> for LooseIndex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LooseIndexVisitor)
    }
}

/// One event line of the common shape. Each field also answers to its EDN keyword name
/// (`:type`), as in the general reader; a line naming a field both ways is left to it.
#[derive(Debug, Deserialize)]
pub(crate) struct RawEvent<'a> {
    /// The process: an integer, or null/absent for none.
    #[serde(default, alias = ":process")]
    pub process: Option<u64>,
    /// `invoke`, `ok`, `fail` or `info` (optionally with a leading `:`).
    /// (A string with escapes is left to the general reader.)
    #[serde(rename = "type", alias = ":type", borrow)]
    pub kind: &'a str,
    /// The micro-operations `[f k v]`.
    #[serde(alias = ":value", borrow)]
    pub value: Vec<(&'a str, Scalar<'a>, Operand<'a>)>,
    /// The index, when a non-negative integer.
    #[serde(default, alias = ":index")]
    pub index: LooseIndex,
}

/// The line as a [`RawEvent`], or `None` when it is not of the fast path's shape.
pub(crate) fn parse(line: &str) -> Option<RawEvent<'_>> {
    serde_json::from_str(line).ok()
}
