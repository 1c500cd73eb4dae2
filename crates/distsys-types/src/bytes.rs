//! [`ByteString`]: a key or value of the replicated store, bytes end to end.
//!
//! Keys and values are arbitrary bytes (Redis's rule): nothing on the way from a client to the
//! disk and back may change one. In JSON (the log entry encoding, snapshots, histories) a byte
//! string that is valid UTF-8 is written as a plain JSON string, so text keeps the readable
//! (and backward-compatible) form it always had, and any other byte string is written as
//! `{"base64": "..."}` (standard alphabet, padded). Both forms decode to the same bytes; the
//! round trip is exact for every byte string (property-tested below). Binary formats (those
//! that are not human-readable, such as postcard) carry the bytes as they are.
//!
//! The bytes are shared, not copied, when a byte string is cloned ([`bytes::Bytes`]): a read
//! answered from the state machine holds the stored value, as Redis replies hold its objects,
//! so a thousand reads of a megabyte value cost no megabyte copies on the protocol thread.
//! Appending to a value no one else holds extends it in place (amortised, as a `Vec`).

use base64::Engine;
use bytes::{Bytes, BytesMut};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The JSON field that carries a byte string that is not valid UTF-8.
pub const BASE64_FIELD: &str = "base64";

/// A byte string: ordered, hashed and compared byte by byte, never re-encoded; a clone shares
/// the bytes.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteString(pub Bytes);

impl ByteString {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes, owned (a copy only if another byte string shares them).
    pub fn into_bytes(self) -> Vec<u8> {
        Vec::from(self.0)
    }

    /// The bytes as text when they are valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Appends `other`'s bytes: in place when no other byte string shares these (amortised
    /// like a `Vec`), else into a copy (the sharers keep what they had).
    pub fn extend_from(&mut self, other: &ByteString) {
        let mut bytes = BytesMut::from(std::mem::take(&mut self.0));
        bytes.extend_from_slice(&other.0);
        self.0 = bytes.freeze();
    }

    /// The bytes as `redis-cli` prints them: printable ASCII as is, `\"` and `\\` escaped, any
    /// other byte as `\xHH`. Injective, so two different byte strings never print alike.
    pub fn escaped(&self) -> String {
        let mut out = String::with_capacity(self.0.len());
        for &b in &self.0 {
            match b {
                b'"' => out.push_str("\\\""),
                b'\\' => out.push_str("\\\\"),
                0x20..=0x7e => out.push(char::from(b)),
                _ => out.push_str(&format!("\\x{b:02x}")),
            }
        }
        out
    }
}

impl fmt::Debug for ByteString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.escaped())
    }
}

impl fmt::Display for ByteString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.escaped())
    }
}

impl From<Vec<u8>> for ByteString {
    fn from(bytes: Vec<u8>) -> Self {
        ByteString(Bytes::from(bytes))
    }
}

impl From<&[u8]> for ByteString {
    fn from(bytes: &[u8]) -> Self {
        ByteString(Bytes::copy_from_slice(bytes))
    }
}

impl From<String> for ByteString {
    fn from(text: String) -> Self {
        ByteString(Bytes::from(text))
    }
}

impl From<&str> for ByteString {
    fn from(text: &str) -> Self {
        ByteString(Bytes::copy_from_slice(text.as_bytes()))
    }
}

impl From<Bytes> for ByteString {
    fn from(bytes: Bytes) -> Self {
        ByteString(bytes)
    }
}

impl From<ByteString> for Vec<u8> {
    fn from(bytes: ByteString) -> Self {
        bytes.into_bytes()
    }
}

impl AsRef<[u8]> for ByteString {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl std::borrow::Borrow<[u8]> for ByteString {
    fn borrow(&self) -> &[u8] {
        &self.0
    }
}

impl PartialEq<str> for ByteString {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for ByteString {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl Serialize for ByteString {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if !serializer.is_human_readable() {
            return serializer.serialize_bytes(&self.0);
        }
        match std::str::from_utf8(&self.0) {
            Ok(text) => serializer.serialize_str(text),
            Err(_) => {
                use serde::ser::SerializeMap;
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry(
                    BASE64_FIELD,
                    &base64::engine::general_purpose::STANDARD.encode(&self.0),
                )?;
                map.end()
            }
        }
    }
}

struct ByteStringVisitor;

impl<'de> Visitor<'de> for ByteStringVisitor {
    type Value = ByteString;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a string, or {{\"{BASE64_FIELD}\": \"...\"}} for bytes that are not UTF-8"
        )
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<ByteString, E> {
        Ok(ByteString::from(text))
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<ByteString, E> {
        Ok(ByteString::from(bytes))
    }

    fn visit_byte_buf<E: de::Error>(self, bytes: Vec<u8>) -> Result<ByteString, E> {
        Ok(ByteString::from(bytes))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ByteString, A::Error> {
        let Some(field) = map.next_key::<String>()? else {
            return Err(de::Error::missing_field(BASE64_FIELD));
        };
        if field != BASE64_FIELD {
            return Err(de::Error::unknown_field(&field, &[BASE64_FIELD]));
        }
        let encoded: String = map.next_value()?;
        if map.next_key::<String>()?.is_some() {
            return Err(de::Error::custom(format!(
                "a byte string object has exactly one field, \"{BASE64_FIELD}\""
            )));
        }
        base64::engine::general_purpose::STANDARD
            .decode(encoded.as_bytes())
            .map(ByteString::from)
            .map_err(|e| de::Error::custom(format!("field \"{BASE64_FIELD}\": {e}")))
    }
}

impl<'de> Deserialize<'de> for ByteString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ByteString, D::Error> {
        if !deserializer.is_human_readable() {
            return deserializer.deserialize_byte_buf(ByteStringVisitor);
        }
        deserializer.deserialize_any(ByteStringVisitor)
    }
}

impl schemars::JsonSchema for ByteString {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ByteString".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Bytes: a string when they are valid UTF-8, else {\"base64\": \"...\"}",
            "oneOf": [
                { "type": "string" },
                {
                    "type": "object",
                    "properties": { "base64": { "type": "string" } },
                    "required": ["base64"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn text_keeps_its_plain_json_form_and_other_bytes_go_base64() {
        let text = ByteString::from("k1");
        assert_eq!(serde_json::to_string(&text).unwrap(), "\"k1\"");
        let binary = ByteString::from(vec![0xff, 0x00, 0xfe, 0x80, b'A']);
        assert_eq!(
            serde_json::to_string(&binary).unwrap(),
            "{\"base64\":\"/wD+gEE=\"}"
        );
        assert_ne!(
            ByteString::from(b"bin\xff".to_vec()),
            ByteString::from(b"bin\xfe".to_vec())
        );
    }

    #[test]
    fn a_clone_shares_the_bytes_and_an_append_never_changes_a_sharer() {
        let mut value = ByteString::from(vec![7u8; 1 << 20]);
        let reply = value.clone();
        assert_eq!(
            value.as_bytes().as_ptr(),
            reply.as_bytes().as_ptr(),
            "a clone is no copy"
        );
        value.extend_from(&ByteString::from("x"));
        assert_eq!(value.len(), (1 << 20) + 1);
        assert_eq!(value.as_bytes().last(), Some(&b'x'));
        assert_eq!(reply.len(), 1 << 20, "the sharer keeps what it had");
        assert!(reply.as_bytes().iter().all(|&b| b == 7));
    }

    #[test]
    fn appends_to_an_unshared_value_grow_it_in_place_amortised() {
        let mut value = ByteString::default();
        let one = ByteString::from("x");
        let mut buffers = std::collections::BTreeSet::new();
        for _ in 0..100_000 {
            value.extend_from(&one);
            buffers.insert(value.as_bytes().as_ptr() as usize);
        }
        assert_eq!(value.len(), 100_000);
        // Doubling capacity: a few dozen buffers, not one per append.
        assert!(buffers.len() < 64, "{} buffers", buffers.len());
    }

    #[test]
    fn malformed_byte_objects_are_refused_with_the_rule() {
        for (json, why) in [
            ("{\"hex\":\"00\"}", "unknown field"),
            ("{\"base64\":\"!!\"}", "field \"base64\""),
            ("{\"base64\":\"AA==\",\"x\":1}", "exactly one field"),
            ("{}", "missing field"),
            ("12", "a string, or"),
        ] {
            let e = serde_json::from_str::<ByteString>(json).unwrap_err();
            assert!(e.to_string().contains(why), "{json}: {e}");
        }
    }

    #[test]
    fn escaped_form_is_injective_on_tricky_bytes() {
        let a = ByteString::from(b"\\x41".to_vec());
        let b = ByteString::from(b"A".to_vec());
        let c = ByteString::from(vec![0x41]);
        assert_ne!(a.escaped(), b.escaped());
        assert_eq!(b.escaped(), c.escaped());
        assert_eq!(ByteString::from(vec![0, b'"']).escaped(), "\\x00\\\"");
    }

    proptest! {
        #[test]
        fn every_byte_string_round_trips_through_json(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let value = ByteString::from(bytes.clone());
            let json = serde_json::to_vec(&value).unwrap();
            let back: ByteString = serde_json::from_slice(&json).unwrap();
            prop_assert_eq!(back.0, bytes);
        }

        #[test]
        fn every_byte_string_round_trips_through_postcard(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let value = ByteString::from(bytes.clone());
            let wire = postcard::to_allocvec(&value).unwrap();
            prop_assert!(wire.len() <= bytes.len() + 2, "raw bytes plus a length");
            let back: ByteString = postcard::from_bytes(&wire).unwrap();
            prop_assert_eq!(back.0, bytes);
        }

        #[test]
        fn as_a_json_map_key_text_round_trips(key in "[a-z\\x00-\\x7f]{0,12}") {
            let map: std::collections::BTreeMap<ByteString, u8> = [(ByteString::from(key.as_str()), 1)].into();
            let json = serde_json::to_string(&map).unwrap();
            let back: std::collections::BTreeMap<ByteString, u8> = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back, map);
        }

        #[test]
        fn escaping_never_maps_two_byte_strings_to_one_text(
            a in proptest::collection::vec(any::<u8>(), 0..8),
            b in proptest::collection::vec(any::<u8>(), 0..8),
        ) {
            if a != b {
                prop_assert_ne!(ByteString::from(a).escaped(), ByteString::from(b).escaped());
            }
        }
    }
}
