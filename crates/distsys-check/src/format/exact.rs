//! Integers beyond 64 bits: refused, never rounded. `serde_json` (without arbitrary
//! precision) reads `18446744073709551616` and `18446744073709551617` as the same float, so two
//! different values would compare equal and a wrong read pass as right. The readers refuse
//! such a number with a clear error instead.

use serde_json::Value;

/// The error for an integer literal that does not fit in 64 bits.
pub(crate) fn too_big(literal: &str) -> String {
    format!(
        "integer {literal} does not fit in 64 bits: the checker would compare it inexactly (as a float), so it is not supported"
    )
}

/// Whether `value` holds a float that may have been an integer literal beyond 64 bits (an
/// integral float of magnitude at least 2^63): the cheap test before [`big_integer`] scans
/// the text.
fn may_hold_big_integer(value: &Value) -> bool {
    match value {
        Value::Number(n) if n.is_f64() => n
            .as_f64()
            .is_some_and(|f| f.fract() == 0.0 && f.abs() >= 2f64.powi(63)),
        Value::Array(items) => items.iter().any(may_hold_big_integer),
        Value::Object(fields) => fields.values().any(may_hold_big_integer),
        _ => false,
    }
}

/// The first integer literal of JSON `text` (outside strings; no fraction, no exponent) that
/// fits neither i64 nor u64.
fn big_integer(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    let (mut at, mut in_string) = (0, false);
    while at < bytes.len() {
        let b = bytes[at];
        if in_string {
            match b {
                b'\\' => at += 1,
                b'"' => in_string = false,
                _ => {}
            }
            at += 1;
            continue;
        }
        if b == b'"' {
            in_string = true;
            at += 1;
            continue;
        }
        if b == b'-' || b.is_ascii_digit() {
            let start = at;
            at += 1;
            while at < bytes.len() && bytes[at].is_ascii_digit() {
                at += 1;
            }
            let integer = !matches!(bytes.get(at), Some(b'.' | b'e' | b'E'));
            let literal = &text[start..at];
            if integer && literal.parse::<i64>().is_err() && literal.parse::<u64>().is_err() {
                return Some(literal);
            }
            while at < bytes.len()
                && matches!(bytes[at], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
            {
                at += 1;
            }
            continue;
        }
        at += 1;
    }
    None
}

/// `Err` naming the literal when `value`, read from JSON `text`, holds an integer beyond 64
/// bits (read as a float by `serde_json`).
pub(crate) fn exact(text: &str, value: &Value) -> Result<(), String> {
    if !may_hold_big_integer(value) {
        return Ok(());
    }
    match big_integer(text) {
        Some(literal) => Err(too_big(literal)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_beyond_64_bits_are_found_and_nothing_else() {
        for (text, big) in [
            (
                r#"{"value":18446744073709551616}"#,
                Some("18446744073709551616"),
            ),
            (
                r#"{"value":[1,-9223372036854775809]}"#,
                Some("-9223372036854775809"),
            ),
            (r#"{"value":18446744073709551615}"#, None),
            (r#"{"value":-9223372036854775808}"#, None),
            (r#"{"value":1.8446744073709552e19}"#, None),
            (r#"{"value":18446744073709551616.0}"#, None),
            (
                r#"{"v":"18446744073709551616","w":"a\"99999999999999999999"}"#,
                None,
            ),
        ] {
            assert_eq!(big_integer(text), big, "{text}");
            let value: Value = serde_json::from_str(text).expect("json");
            assert_eq!(exact(text, &value).is_err(), big.is_some(), "{text}");
        }
    }
}
