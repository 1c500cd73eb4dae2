//! The part of EDN (Clojure data) that Jepsen histories use: maps of keywords to nil, booleans,
//! integers (with an optional `N`), floats (optional `M`), strings with escapes, keywords,
//! symbols, vectors, lists, sets (`#{}`), nested maps and tagged values (`#inst "..."`, the tag
//! is dropped); commas are whitespace, `;` starts a comment to the end of the line and `#_`
//! discards the next form. Nesting deeper than [`DEPTH_MAX`] is an error, not a stack overflow.

use serde_json::{Map, Number, Value};
use std::borrow::Cow;

/// Deepest nesting of vectors, lists, sets and maps accepted.
pub const DEPTH_MAX: usize = 64;

/// An EDN value. Keywords are kept apart from strings (`:ok` is not `"ok"`). Borrows from the
/// text it was read from: a string with no escapes is a slice of it, found by `memchr`, never
/// copied (Jepsen kv reads return values of many kilobytes).
#[derive(Debug, Clone, PartialEq)]
pub enum Edn<'a> {
    /// A scalar or collection, as JSON (keywords inside collections become `":name"` strings,
    /// strings inside collections JSON strings).
    Data(Value),
    /// `:name`
    Keyword(&'a str),
    /// A string (not inside a collection).
    Str(Cow<'a, str>),
}

impl Edn<'_> {
    /// The value as JSON (a keyword becomes the string `":name"`).
    pub fn into_json(self) -> Value {
        match self {
            Edn::Data(v) => v,
            Edn::Keyword(k) => Value::String(format!(":{k}")),
            Edn::Str(s) => Value::String(s.into_owned()),
        }
    }
}

/// Parses a `{:k v, ...}` map; returns its entries in order.
pub fn parse_map(text: &str) -> Result<Vec<(&str, Edn<'_>)>, String> {
    let mut parser = Parser {
        text,
        pos: 0,
        depth: 0,
    };
    parser.skip_ws()?;
    parser.expect(b'{')?;
    let mut entries = Vec::new();
    loop {
        parser.skip_ws()?;
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
        let value = parser.value()?;
        entries.push((key, value));
    }
    parser.finish()?;
    Ok(entries)
}

/// Parses one EDN value filling the whole text (whitespace and comments aside).
pub fn parse_value(text: &str) -> Result<Edn<'_>, String> {
    let mut parser = Parser {
        text,
        pos: 0,
        depth: 0,
    };
    let value = parser.value()?;
    parser.finish()?;
    Ok(value)
}

/// Parses successive top-level forms (as JSON, see [`Edn::into_json`]), each with the byte
/// offset where it starts. A text holding one vector of forms (`[{...}, {...}]`) yields the
/// vector's items. An error carries the byte offset where it was found.
pub fn parse_forms(text: &str) -> Result<Vec<(usize, Value)>, (usize, String)> {
    let mut parser = Parser {
        text,
        pos: 0,
        depth: 0,
    };
    let at = |p: &Parser, e: String| (p.pos, e);
    parser.skip_ws().map_err(|e| at(&parser, e))?;
    let vector = parser.peek() == Some(b'[');
    if vector {
        parser.pos += 1;
    }
    let mut forms = Vec::new();
    loop {
        parser.skip_ws().map_err(|e| at(&parser, e))?;
        match parser.peek() {
            None if vector => return Err(at(&parser, "unterminated vector (missing ']')".into())),
            None => return Ok(forms),
            Some(b']') if vector => {
                parser.pos += 1;
                parser.finish().map_err(|e| at(&parser, e))?;
                return Ok(forms);
            }
            Some(_) => {
                let start = parser.pos;
                let value = parser.value().map_err(|e| at(&parser, e))?;
                forms.push((start, value.into_json()));
            }
        }
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    /// Values being read (nesting), bounded by [`DEPTH_MAX`].
    depth: usize,
}

/// What ends a token (the transactional reader's fast path splits EDN tokens the same way).
pub(crate) const fn is_delimiter(b: u8) -> bool {
    matches!(
        b,
        b' ' | b'\t' | b'\n' | b'\r' | b',' | b'}' | b']' | b')' | b'{' | b'[' | b'(' | b'"' | b';'
    )
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn byte_at(&self, pos: usize) -> Option<u8> {
        self.text.as_bytes().get(pos).copied()
    }

    fn finish(&mut self) -> Result<(), String> {
        self.skip_ws()?;
        if self.pos != self.text.len() {
            return Err(format!("unexpected text at byte {}", self.pos));
        }
        Ok(())
    }

    /// Skips whitespace, commas, `;` comments and `#_` discarded forms.
    fn skip_ws(&mut self) -> Result<(), String> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\n' | b'\r' | b',') => self.pos += 1,
                Some(b';') => {
                    while !matches!(self.peek(), None | Some(b'\n')) {
                        self.pos += 1;
                    }
                }
                Some(b'#') if self.byte_at(self.pos + 1) == Some(b'_') => {
                    self.pos += 2;
                    self.value()?;
                }
                _ => return Ok(()),
            }
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

    fn token(&mut self) -> Result<&'a str, String> {
        let start = self.pos;
        while self.peek().is_some_and(|b| !is_delimiter(b)) {
            self.pos += 1;
        }
        // Delimiters are ASCII, so a token ends on a char boundary (unless the text does).
        let text: &'a str = self.text;
        text.get(start..self.pos)
            .ok_or_else(|| format!("invalid UTF-8 at byte {start}"))
    }

    /// Items of a collection up to `close`, each at `depth + 1`.
    fn items(&mut self, close: u8, what: &str) -> Result<Vec<Value>, String> {
        let mut items = Vec::new();
        loop {
            self.skip_ws()?;
            match self.peek() {
                Some(b) if b == close => {
                    self.pos += 1;
                    return Ok(items);
                }
                None => return Err(format!("unterminated {what} (missing '{}')", close as char)),
                _ => items.push(self.value()?.into_json()),
            }
        }
    }

    fn value(&mut self) -> Result<Edn<'a>, String> {
        if self.depth >= DEPTH_MAX {
            return Err(format!(
                "nesting deeper than {DEPTH_MAX} levels at byte {}",
                self.pos
            ));
        }
        self.depth += 1;
        let value = self.value_here();
        self.depth -= 1;
        value
    }

    fn value_here(&mut self) -> Result<Edn<'a>, String> {
        self.skip_ws()?;
        match self.peek() {
            None => Err("unexpected end of line (truncated?)".into()),
            Some(b':') => {
                self.pos += 1;
                let name = self.token()?;
                if name.is_empty() {
                    Err(format!("empty keyword at byte {}", self.pos))
                } else {
                    Ok(Edn::Keyword(name))
                }
            }
            Some(b'"') => self.string().map(Edn::Str),
            Some(b'[') => {
                self.pos += 1;
                Ok(Edn::Data(Value::Array(self.items(b']', "vector")?)))
            }
            Some(b'(') => {
                self.pos += 1;
                Ok(Edn::Data(Value::Array(self.items(b')', "list")?)))
            }
            Some(b'{') => {
                self.pos += 1;
                let items = self.items(b'}', "map")?;
                if items.len() % 2 != 0 {
                    return Err(format!("a map needs key-value pairs at byte {}", self.pos));
                }
                let mut map = Map::new();
                let mut items = items.into_iter();
                while let (Some(k), Some(v)) = (items.next(), items.next()) {
                    let key = match k {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    map.insert(key, v);
                }
                Ok(Edn::Data(Value::Object(map)))
            }
            Some(b'#') => {
                self.pos += 1;
                match self.peek() {
                    Some(b'{') => {
                        self.pos += 1;
                        Ok(Edn::Data(Value::Array(self.items(b'}', "set")?)))
                    }
                    _ => {
                        // A tagged value: `#inst "..."`, `#uuid "..."`; the tag is dropped.
                        let tag = self.token()?.to_string();
                        if tag.is_empty() {
                            return Err(format!("bad '#' at byte {}", self.pos));
                        }
                        self.value()
                    }
                }
            }
            Some(b'\\') => {
                // A character literal: `\a`, `\newline`, `\space`.
                self.pos += 1;
                let start = self.pos;
                let first = self.peek().ok_or("unterminated character literal")?;
                self.pos += 1;
                let rest = self.token()?;
                let c = match (first, rest) {
                    (b'n', "ewline") => "\n".to_string(),
                    (b's', "pace") => " ".to_string(),
                    (b't', "ab") => "\t".to_string(),
                    (b'r', "eturn") => "\r".to_string(),
                    (_, "") => self.text.get(start..self.pos).unwrap_or("").to_string(),
                    _ => return Err(format!("unknown character literal at byte {start}")),
                };
                Ok(Edn::Data(Value::String(c)))
            }
            Some(_) => {
                let start = self.pos;
                let token = self.token()?.to_string();
                if token.is_empty() {
                    return Err(format!(
                        "unexpected '{}' at byte {start}",
                        self.byte_at(start).unwrap_or(b'?') as char
                    ));
                }
                scalar(&token)
            }
        }
    }

    fn string(&mut self) -> Result<Cow<'a, str>, String> {
        self.expect(b'"')?;
        // No escape before the closing quote: the string is a slice of the text.
        let text: &'a str = self.text;
        let rest = &text[self.pos..];
        if let Some(end) = memchr::memchr2(b'"', b'\\', rest.as_bytes()) {
            if rest.as_bytes()[end] == b'"' {
                self.pos += end + 1;
                return Ok(Cow::Borrowed(&rest[..end]));
            }
        }
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err("unterminated string".into()),
                Some(b'"') => {
                    self.pos += 1;
                    return String::from_utf8(out)
                        .map(Cow::Owned)
                        .map_err(|e| e.to_string());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let escaped = self.peek().ok_or("unterminated escape")?;
                    self.pos += 1;
                    match escaped {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'u' => {
                            let hex = self
                                .text
                                .as_bytes()
                                .get(self.pos..self.pos + 4)
                                .and_then(|h| std::str::from_utf8(h).ok())
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .ok_or_else(|| format!("bad \\u escape at byte {}", self.pos))?;
                            self.pos += 4;
                            let c = char::from_u32(hex).unwrap_or(char::REPLACEMENT_CHARACTER);
                            out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                        }
                        other => out.push(other),
                    }
                }
                Some(b) => {
                    out.push(b);
                    self.pos += 1;
                }
            }
        }
    }
}

/// nil, booleans, numbers; any other token is a symbol, read as its name. An integer beyond
/// 64 bits (`18446744073709551616`, `...N`) is an error: as a float it would compare equal to
/// its neighbours.
fn scalar(token: &str) -> Result<Edn<'static>, String> {
    Ok(Edn::Data(match token {
        "nil" => Value::Null,
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => {
            let decimal = token.strip_suffix('M').filter(|d| !d.is_empty());
            let digits = token
                .strip_suffix('N')
                .filter(|d| !d.is_empty())
                .or(decimal)
                .unwrap_or(token);
            let unsigned = digits.strip_prefix(['-', '+']).unwrap_or(digits);
            if !unsigned.starts_with(|c: char| c.is_ascii_digit()) {
                return Ok(Edn::Data(Value::String(token.to_string())));
            }
            if let Ok(i) = digits.parse::<i64>() {
                Value::Number(i.into())
            } else if let Ok(u) = digits.parse::<u64>() {
                Value::Number(u.into())
            } else if decimal.is_none() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
                return Err(super::exact::too_big(token));
            } else {
                match digits.parse::<f64>().ok().and_then(Number::from_f64) {
                    Some(n) => Value::Number(n),
                    None => Value::String(token.to_string()),
                }
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
        assert_eq!(entries[0], ("process", Edn::Data(json!(0))));
        assert_eq!(entries[1], ("type", Edn::Keyword("invoke")));
        assert_eq!(entries[3], ("key", Edn::Str("k\"1".into())));
        assert_eq!(entries[4], ("value", Edn::Data(json!([1, null]))));
        assert_eq!(entries[5], ("x", Edn::Data(json!(1.5))));
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

    #[test]
    fn reads_comments_sets_escapes_and_nesting() {
        let entries = parse_map(
            "{:value #{1 2} ; a comment\n, :s \"a\\\"b\\u0041\", #_ :skipped :m {:a [1 (2)]}, :t #inst \"x\"}",
        )
        .unwrap();
        assert_eq!(entries[0], ("value", Edn::Data(json!([1, 2]))));
        assert_eq!(entries[1], ("s", Edn::Str("a\"bA".into())));
        assert_eq!(entries[2], ("m", Edn::Data(json!({":a": [1, [2]]}))));
        assert_eq!(entries[3], ("t", Edn::Str("x".into())));
        let deep = format!("{{:value {}}}", "[".repeat(100_000));
        let error = parse_map(&deep).unwrap_err();
        assert!(error.contains("nesting deeper than"), "{error}");
        let discards = format!("{{:value {}1}}", "#_".repeat(100_000));
        assert!(parse_map(&discards)
            .unwrap_err()
            .contains("nesting deeper than"));
        let tags = format!("{{:value {}1}}", "#t ".repeat(100_000));
        assert!(parse_map(&tags)
            .unwrap_err()
            .contains("nesting deeper than"));
    }
}
