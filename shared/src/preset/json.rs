//! JSON helpers for presets: non-finite tokens and numeric n-d arrays.

use super::error::PresetError;
use serde_json::Value;

/// Marker a bare `NaN` / `Infinity` token is turned into before parsing, so that the field holding
/// it can be named in the error (Python's `json` writes such tokens; strict JSON has none).
const NON_FINITE_MARK: &str = "\u{1}tailor-non-finite:";
/// [`NON_FINITE_MARK`] as JSON string text.
const NON_FINITE_MARK_ESCAPED: &str = "\\u0001tailor-non-finite:";

/// Replaces bare `NaN`, `Infinity` and `-Infinity` tokens outside strings with marker strings.
pub fn protect_non_finite(text: &str) -> std::borrow::Cow<'_, str> {
    let bytes = text.as_bytes();
    let tokens: [&str; 3] = ["-Infinity", "Infinity", "NaN"];
    let mut out: Option<String> = None;
    let mut last = 0;
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        if b == b'"' {
            in_string = true;
            i += 1;
            continue;
        }
        // Byte-wise match: `i` may sit inside a multi-byte character (a no-break space, a
        // typographic quote), where slicing `text` would panic; the tokens are ASCII.
        if let Some(tok) = tokens.iter().find(|t| bytes[i..].starts_with(t.as_bytes())) {
            let before_ok = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
            let end = i + tok.len();
            let after_ok = end >= bytes.len() || !bytes[end].is_ascii_alphanumeric();
            if before_ok && after_ok {
                let s = out.get_or_insert_with(|| String::with_capacity(text.len() + 64));
                s.push_str(&text[last..i]);
                s.push('"');
                s.push_str(NON_FINITE_MARK_ESCAPED);
                s.push_str(tok);
                s.push('"');
                last = end;
                i = end;
                continue;
            }
        }
        i += 1;
    }
    match out {
        Some(mut s) => {
            s.push_str(&text[last..]);
            std::borrow::Cow::Owned(s)
        }
        None => std::borrow::Cow::Borrowed(text),
    }
}

/// Parses preset/build JSON text, accepting (then flagging) Python's non-finite tokens. A
/// leading UTF-8 byte-order mark (as some Windows editors write) is skipped.
pub fn parse_text(text: &str) -> Result<Value, PresetError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    serde_json::from_str(&protect_non_finite(text)).map_err(|e| PresetError::from_json(&e))
}

/// Refuses a bare `NaN`/`Infinity` token anywhere inside `v` (metadata, design records,
/// extensions: places where no number is read), naming its path from `field`.
pub fn reject_non_finite_tokens(field: &str, v: &Value) -> Result<(), PresetError> {
    match v {
        Value::String(s) if s.starts_with(NON_FINITE_MARK) => Err(PresetError::field(
            field,
            format!(
                "holds a bare {} token (not valid JSON here; write a number or a string)",
                &s[NON_FINITE_MARK.len()..]
            ),
        )),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, x)| reject_non_finite_tokens(&format!("{field}[{i}]"), x)),
        Value::Object(m) => m
            .iter()
            .try_for_each(|(k, x)| reject_non_finite_tokens(&format!("{field}.{k}"), x)),
        _ => Ok(()),
    }
}

/// Name of a JSON value's kind.
pub fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A numeric n-dimensional array read from nested JSON lists.
#[derive(Debug, Clone, PartialEq)]
pub struct NdArray {
    /// Shape, outermost first; empty for a scalar.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f64>,
}

/// Reads a rectangular nested array of numbers (a bare number is a 0-d array). Non-finite values
/// and non-numbers are errors naming `field`.
pub fn nd_array(field: &str, v: &Value) -> Result<NdArray, PresetError> {
    let mut shape = Vec::new();
    // Shape from the first element at each depth.
    let mut cur = v;
    while let Value::Array(items) = cur {
        shape.push(items.len());
        match items.first() {
            Some(first) => cur = first,
            None => break,
        }
    }
    let mut data = Vec::new();
    collect(field, v, &shape, 0, &mut data)?;
    Ok(NdArray { shape, data })
}

fn collect(
    field: &str,
    v: &Value,
    shape: &[usize],
    depth: usize,
    out: &mut Vec<f64>,
) -> Result<(), PresetError> {
    match v {
        Value::Array(items) => {
            if depth >= shape.len() || items.len() != shape[depth] {
                return Err(PresetError::field(
                    field,
                    "must be a rectangular array of numbers (rows of different lengths)",
                ));
            }
            for item in items {
                collect(field, item, shape, depth + 1, out)?;
            }
            Ok(())
        }
        Value::Number(n) => {
            if depth != shape.len() {
                return Err(PresetError::field(
                    field,
                    "must be a rectangular array of numbers (rows of different lengths)",
                ));
            }
            let x = n.as_f64().unwrap_or(f64::NAN);
            if !x.is_finite() {
                return Err(PresetError::NonFinite {
                    field: field.into(),
                    index: out.len(),
                    value: n.to_string(),
                });
            }
            out.push(x);
            Ok(())
        }
        Value::String(s) if s.starts_with(NON_FINITE_MARK) => Err(PresetError::NonFinite {
            field: field.into(),
            index: out.len(),
            value: s[NON_FINITE_MARK.len()..].to_string(),
        }),
        other => Err(PresetError::field(
            field,
            format!("must contain only numbers, found {}", kind_of(other)),
        )),
    }
}

/// Reads a finite number (also accepts the non-finite marker, to report it).
pub fn number(field: &str, v: &Value) -> Result<f64, PresetError> {
    let a = nd_array(field, v)?;
    if !a.shape.is_empty() {
        return Err(PresetError::field(field, "must be a single number"));
    }
    Ok(a.data[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_tokens_become_markers_outside_strings_only() {
        let t = r#"{"a": [1, NaN, -Infinity], "b": "NaN inside", "c": Infinity}"#;
        let p = protect_non_finite(t);
        let v: Value = serde_json::from_str(&p).unwrap();
        assert_eq!(v["b"], "NaN inside");
        let e = nd_array("a", &v["a"]).unwrap_err();
        assert_eq!(
            e,
            PresetError::NonFinite {
                field: "a".into(),
                index: 1,
                value: "NaN".into()
            }
        );
        assert!(matches!(
            number("c", &v["c"]),
            Err(PresetError::NonFinite { .. })
        ));
    }

    #[test]
    fn ragged_and_non_numeric_arrays_are_refused() {
        let v: Value = serde_json::from_str("[[1, 2], [3]]").unwrap();
        assert!(nd_array("x", &v)
            .unwrap_err()
            .to_string()
            .starts_with("x: must be a rectangular"));
        let v: Value = serde_json::from_str("[[1, 2], 3]").unwrap();
        assert!(nd_array("x", &v).is_err());
        let v: Value = serde_json::from_str(r#"[1, "2"]"#).unwrap();
        assert!(nd_array("x", &v)
            .unwrap_err()
            .to_string()
            .contains("found a string"));
        let v: Value = serde_json::from_str("[[1, 2], [3, 4]]").unwrap();
        assert_eq!(
            nd_array("x", &v).unwrap(),
            NdArray {
                shape: vec![2, 2],
                data: vec![1.0, 2.0, 3.0, 4.0]
            }
        );
    }
}
