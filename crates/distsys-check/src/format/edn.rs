//! The small subset of EDN (Clojure data) that Jepsen history maps use: maps of keywords to
//! nil, booleans, integers, floats, strings, keywords and vectors of those.

use serde_json::{Number, Value};

/// An EDN value. Keywords are kept apart from strings (`:ok` is not `"ok"`).
#[derive(Debug, Clone, PartialEq)]
pub enum Edn {
    /// A scalar or vector, as JSON.
    Data(Value),
    /// `:name`
    Keyword(String),
}

/// Parses a `{:k v, ...}` map; returns its entries in order.
pub fn parse_map(text: &str) -> Result<Vec<(String, Edn)>, String> {
    let mut parser = Parser {
        bytes: text.as_bytes(),
        pos: 0,
    };
    parser.skip_ws();
    parser.expect(b'{')?;
    let mut entries = Vec::new();
    loop {
        parser.skip_ws();
        match parser.peek() {
            Some(b'}') => {
                parser.pos += 1;
                break;
            }
            None => return Err("unterminated map (missing '}')".into()),
            _ => {}
        }
        let key = match parser.value()? {
            Edn::Keyword(k) => k,
            other => return Err(format!("map key must be a keyword, got {other:?}")),
        };
        parser.skip_ws();
        let value = parser.value()?;
        entries.push((key, value));
    }
    parser.skip_ws();
    if parser.pos != parser.bytes.len() {
        return Err(format!(
            "unexpected text after the map at byte {}",
            parser.pos
        ));
    }
    Ok(entries)
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r' | b',')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected '{}' at byte {}", byte as char, self.pos))
        }
    }

    fn token(&mut self) -> &str {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if matches!(
                b,
                b' ' | b'\t' | b'\n' | b'\r' | b',' | b'}' | b']' | b'{' | b'['
            ) {
                break;
            }
            self.pos += 1;
        }
        std::str::from_utf8(&self.bytes[start..self.pos]).unwrap_or("")
    }

    fn value(&mut self) -> Result<Edn, String> {
        self.skip_ws();
        match self.peek() {
            None => Err("unexpected end of line (truncated?)".into()),
            Some(b':') => {
                self.pos += 1;
                let name = self.token().to_string();
                if name.is_empty() {
                    Err(format!("empty keyword at byte {}", self.pos))
                } else {
                    Ok(Edn::Keyword(name))
                }
            }
            Some(b'"') => self.string().map(|s| Edn::Data(Value::String(s))),
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_ws();
                    match self.peek() {
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Edn::Data(Value::Array(items)));
                        }
                        None => return Err("unterminated vector (missing ']')".into()),
                        _ => match self.value()? {
                            Edn::Data(v) => items.push(v),
                            Edn::Keyword(k) => items.push(Value::String(format!(":{k}"))),
                        },
                    }
                }
            }
            Some(_) => {
                let start = self.pos;
                let token = self.token().to_string();
                scalar(&token).ok_or_else(|| format!("cannot read {token:?} at byte {start}"))
            }
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err("unterminated string".into()),
                Some(b'"') => {
                    self.pos += 1;
                    return String::from_utf8(out).map_err(|e| e.to_string());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let escaped = self.peek().ok_or("unterminated escape")?;
                    out.push(match escaped {
                        b'n' => b'\n',
                        b't' => b'\t',
                        b'r' => b'\r',
                        other => other,
                    });
                    self.pos += 1;
                }
                Some(b) => {
                    out.push(b);
                    self.pos += 1;
                }
            }
        }
    }
}

fn scalar(token: &str) -> Option<Edn> {
    Some(Edn::Data(match token {
        "nil" => Value::Null,
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => {
            if let Ok(i) = token.parse::<i64>() {
                Value::Number(i.into())
            } else {
                Value::Number(Number::from_f64(token.parse::<f64>().ok()?)?)
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_jepsen_maps() {
        let entries = parse_map(
            r#"{:process 0, :type :invoke, :f :cas, :key "k\"1", :value [1 nil], :x 1.5}"#,
        )
        .unwrap();
        assert_eq!(entries[0], ("process".into(), Edn::Data(json!(0))));
        assert_eq!(entries[1], ("type".into(), Edn::Keyword("invoke".into())));
        assert_eq!(entries[3], ("key".into(), Edn::Data(json!("k\"1"))));
        assert_eq!(entries[4], ("value".into(), Edn::Data(json!([1, null]))));
        assert_eq!(entries[5], ("x".into(), Edn::Data(json!(1.5))));
    }

    #[test]
    fn rejects_truncated_maps() {
        assert!(
            parse_map(r#"{:process 0, :type :invoke, :f :append, :key "0", :value "x 0"#).is_err()
        );
        assert!(parse_map(r#"{:process 0, :type"#).is_err());
        assert!(parse_map(r#"{:process 0} trailing"#).is_err());
        assert!(parse_map(r#"{"process" 0}"#).is_err());
    }
}
