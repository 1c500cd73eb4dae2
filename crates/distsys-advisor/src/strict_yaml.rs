//! YAML read strictly into a JSON document: a key given twice in one mapping and numbers that
//! are not finite (`.nan`, `.inf`) are errors, not silently resolved (last key wins; NaN read
//! as an absent value), and every mapping key must be a string.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// A JSON value read from YAML with the rules above.
pub struct Strict(pub Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Strict, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

/// The error for an integer outside the 64-bit range every field is read in.
fn too_large<E: de::Error>(v: impl fmt::Display) -> E {
    E::custom(format!(
        "{v} is too large: integers must fit in 64 bits (every field's range is in `distsys schema input`)"
    ))
}

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v).map(Value::Number).ok_or_else(|| {
            E::custom(format!(
                "{v} is not a finite number (NaN and infinities are refused: give a number)"
            ))
        })
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        u64::try_from(v).map(Value::from).map_err(|_| too_large(v))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        i64::try_from(v).map(Value::from).map_err(|_| too_large(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Strict::deserialize(d).map(|s| s.0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(Strict(key)) = map.next_key()? {
            let key = match key {
                Value::String(s) => s,
                other => {
                    return Err(de::Error::custom(format!(
                        "mapping key {other} is not a string (field names are text)"
                    )))
                }
            };
            let Strict(value) = map.next_value()?;
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "duplicate key {key:?}: a field may appear once per mapping"
                )));
            }
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Value, String> {
        serde_norway::from_str::<Strict>(text)
            .map(|s| s.0)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn duplicate_keys_and_non_finite_numbers_are_refused() {
        let e = read("a: 1\nb:\n  c: 2\n  c: 3\n").unwrap_err();
        assert!(e.contains("duplicate key \"c\""), "{e}");
        for bad in [".nan", ".inf", "-.inf", ".NaN"] {
            let e = read(&format!("latency_ms: {bad}\n")).unwrap_err();
            assert!(e.contains("not a finite number"), "{bad}: {e}");
        }
        let e = read("1: x\n").unwrap_err();
        assert!(e.contains("not a string"), "{e}");
    }

    #[test]
    fn ordinary_documents_read_as_json() {
        let v = read("a: 1\nb: [x, 2.5, null, true]\nc: {d: -3}\n").unwrap();
        assert_eq!(
            v,
            serde_json::json!({"a": 1, "b": ["x", 2.5, null, true], "c": {"d": -3}})
        );
    }
}
