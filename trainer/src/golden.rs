//! Reader for the golden-vector JSON format: arrays are `{shape, dtype, data}` with flat
//! row-major data; complex entries (`c128`) are `[re, im]` pairs.

use anyhow::{anyhow, bail, Context, Result};
use num_complex::Complex64;
use serde_json::Value;

/// A golden array: shape, dtype tag and values (complex values as pairs).
#[derive(Debug, Clone, PartialEq)]
pub struct GoldenArray {
    /// Shape, outermost first.
    pub shape: Vec<usize>,
    /// dtype tag: "f64", "f32", "c128", "i64", ...
    pub dtype: String,
    /// Real values (for complex dtypes: interleaved re, im).
    pub data: Vec<f64>,
}

impl GoldenArray {
    /// Reads `{shape, dtype, data}`.
    pub fn from_value(v: &Value) -> Result<Self> {
        let shape = v
            .get("shape")
            .and_then(Value::as_array)
            .ok_or_else(|| anyhow!("array is missing 'shape'"))?
            .iter()
            .map(|s| {
                s.as_u64()
                    .map(|x| x as usize)
                    .ok_or_else(|| anyhow!("shape entries must be integers"))
            })
            .collect::<Result<Vec<_>>>()?;
        let dtype = v
            .get("dtype")
            .and_then(Value::as_str)
            .unwrap_or("f64")
            .to_string();
        let raw = v
            .get("data")
            .ok_or_else(|| anyhow!("array is missing 'data'"))?;
        let mut data = Vec::new();
        flatten(raw, &mut data)?;
        let count: usize = shape.iter().product();
        let expect = if dtype.starts_with('c') {
            2 * count
        } else {
            count
        };
        if data.len() != expect {
            bail!(
                "array data has {} numbers, shape {:?} ({dtype}) needs {expect}",
                data.len(),
                shape
            );
        }
        Ok(Self { shape, dtype, data })
    }

    /// True for complex dtypes.
    pub fn is_complex(&self) -> bool {
        self.dtype.starts_with('c')
    }

    /// Number of elements (complex pairs count once).
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Values as complex numbers (real dtypes get zero imaginary parts).
    pub fn complex(&self) -> Vec<Complex64> {
        if self.is_complex() {
            self.data
                .chunks_exact(2)
                .map(|p| Complex64::new(p[0], p[1]))
                .collect()
        } else {
            self.data.iter().map(|&x| Complex64::new(x, 0.0)).collect()
        }
    }

    /// Integer values (for i64 arrays).
    pub fn ints(&self) -> Vec<i64> {
        self.data.iter().map(|&x| x as i64).collect()
    }
}

fn flatten(v: &Value, out: &mut Vec<f64>) -> Result<()> {
    match v {
        Value::Array(items) => items.iter().try_for_each(|x| flatten(x, out)),
        Value::Number(n) => {
            out.push(n.as_f64().context("number out of range")?);
            Ok(())
        }
        Value::String(s) => {
            // Python's json writes NaN/Infinity; generators may store them as strings.
            let x = match s.as_str() {
                "NaN" | "nan" => f64::NAN,
                "Infinity" | "inf" => f64::INFINITY,
                "-Infinity" | "-inf" => f64::NEG_INFINITY,
                other => bail!("array holds a non-numeric string '{other}'"),
            };
            out.push(x);
            Ok(())
        }
        Value::Bool(b) => {
            out.push(if *b { 1.0 } else { 0.0 });
            Ok(())
        }
        Value::Null => bail!("array holds null"),
        Value::Object(_) => bail!("array holds an object"),
    }
}

/// Reads a golden array at `v[key]`, naming the key on failure.
pub fn array(v: &Value, key: &str) -> Result<GoldenArray> {
    let a = v.get(key).ok_or_else(|| anyhow!("missing array '{key}'"))?;
    GoldenArray::from_value(a).with_context(|| format!("array '{key}'"))
}
