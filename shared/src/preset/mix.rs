//! The output mix of a preset (`tailor.output_mix`): a matrix `M` (`n_outputs × n_out`) applied to
//! the FDN's outputs, kept in the document's `"tailor"` extension because pyFDN's build has no such
//! stage. A fitted stereo room needs it: two differently filtered combinations of the lines,
//! summed per channel, give each octave band its own inter-channel coherence (see
//! `room::stereo`). pyFDN loads the rest of the document as a plain build with `n_out` outputs.

use super::build::{Build, BuildParts, Limits};
use super::early::{tailor_object, TAILOR_KEY, TAILOR_VERSION};
use super::error::PresetError;
use super::json::kind_of;
use crate::Matrix;
use serde_json::{Map, Value};

/// Key of the output mix inside the extension.
pub const MIX_KEY: &str = "output_mix";

/// Reads `tailor.output_mix` (rows of numbers) from `extensions`, removes it, and returns `build`
/// with the mix attached (validated by [`Build::with_limits`]: one column per FDN output, finite
/// gains). `build` unchanged when there is none. A `tailor` object left holding only its version
/// is removed (it is written back with the mix).
pub(crate) fn take_output_mix(
    extensions: &mut Map<String, Value>,
    build: Build,
    limits: &Limits,
) -> Result<Build, PresetError> {
    let Some(Value::Object(obj)) = extensions.get_mut(TAILOR_KEY) else {
        return Ok(build);
    };
    let Some(v) = obj.remove(MIX_KEY) else {
        return Ok(build);
    };
    if obj.get("version").and_then(Value::as_u64) != Some(TAILOR_VERSION) {
        return Err(PresetError::field(
            format!("{TAILOR_KEY}.version"),
            format!("must be {TAILOR_VERSION} with an output mix"),
        ));
    }
    if obj.keys().all(|k| k == "version") {
        extensions.remove(TAILOR_KEY);
    }
    let field = format!("{TAILOR_KEY}.{MIX_KEY}");
    let bad = |what: String| PresetError::field(field.clone(), what);
    let rows = v
        .as_array()
        .ok_or_else(|| bad(format!("must be an array of rows (found {})", kind_of(&v))))?;
    let cols = rows.first().and_then(Value::as_array).map_or(0, Vec::len);
    let mut data = Vec::with_capacity(rows.len() * cols);
    for (r, row) in rows.iter().enumerate() {
        let row = row
            .as_array()
            .filter(|x| x.len() == cols)
            .ok_or_else(|| bad(format!("row {r} must be an array of {cols} numbers")))?;
        for (c, x) in row.iter().enumerate() {
            data.push(
                x.as_f64()
                    .ok_or_else(|| bad(format!("entry [{r}][{c}] is {}", kind_of(x))))?,
            );
        }
    }
    let m = Matrix::from_row_major(rows.len(), cols, data)
        .ok_or_else(|| bad("rows of unequal length".into()))?;
    let mut parts: BuildParts = build.into_parts();
    parts.output_mix = Some(m);
    Build::with_limits(parts, limits)
}

/// Writes `build`'s output mix (if any) into `extensions` (creating `tailor` with its version).
pub(crate) fn put_output_mix(extensions: &mut Map<String, Value>, build: &Build) {
    let Some(m) = build.output_mix() else {
        return;
    };
    let rows: Vec<Value> = (0..m.rows())
        .map(|r| Value::Array(m.row(r).iter().map(|&v| Value::from(v)).collect()))
        .collect();
    tailor_object(extensions).insert(MIX_KEY.into(), Value::Array(rows));
}

#[cfg(test)]
mod tests {
    use crate::preset::{bundled_preset, Preset};
    use crate::Matrix;

    #[test]
    fn an_output_mix_round_trips_and_bad_ones_are_named() {
        let p = bundled_preset("colorless_N4_d1").unwrap();
        let mut parts = p.build().parts().clone();
        let n = p.build().n();
        // Two FDN outputs (the second with the gains' signs alternating), summed and differenced.
        let c0 = p.build().c().row(0).to_vec();
        let c1: Vec<f64> = c0
            .iter()
            .enumerate()
            .map(|(i, v)| if i % 2 == 0 { *v } else { -v })
            .collect();
        parts.c = Matrix::from_row_major(2, n, [c0, c1].concat()).unwrap();
        parts.d = Matrix::zeros(2, 1);
        parts.output_mix = Some(Matrix::from_row_major(2, 2, vec![1.0, 1.0, 1.0, -1.0]).unwrap());
        let b = crate::Build::new(parts.clone()).unwrap();
        assert_eq!((b.n_out(), b.n_outputs()), (2, 2));
        let doc = Preset::from_build(b.clone(), "mix").to_json_string();
        let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
        assert!(
            v["build"].get("output_mix").is_none(),
            "pyFDN's build stays plain"
        );
        assert_eq!(v["tailor"]["output_mix"][1][1], -1.0);
        let back = Preset::from_json_str(&doc).unwrap();
        assert_eq!(back.build(), &b);
        assert_eq!(back.to_json_string(), doc);
        // A mix whose columns do not match the FDN outputs, or with a NaN, is refused by name.
        let bad = doc.replace("\"output_mix\": [", "\"output_mix\": [[1.0],");
        let e = Preset::from_json_str(&bad).unwrap_err().to_string();
        assert!(e.contains("output_mix"), "{e}");
        parts.output_mix = Some(Matrix::from_row_major(1, 3, vec![1.0; 3]).unwrap());
        let e = crate::Build::new(parts).unwrap_err().to_string();
        assert!(e.contains("tailor.output_mix"), "{e}");
    }
}
