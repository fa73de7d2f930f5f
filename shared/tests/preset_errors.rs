//! Every validation rule of fdn.md §2 and §12 that applies to presets/builds: each bad input is
//! refused with a typed error whose message names the field.

use serde_json::{json, Value};
use tailor::preset::{Build, Limits, Preset, PresetError};

fn good_build() -> Value {
    json!({
        "format": "pyfdn-fdn-build", "version": 2,
        "feedback_matrix": [[0.0, 1.0], [1.0, 0.0]],
        "input_matrix": [[1.0], [1.0]],
        "output_matrix": [[0.5, 0.5]],
        "direct_matrix": [[0.0]],
        "delays": [3, 5], "sample_rate": 48000.0,
        "post_delay": null, "post_matrix": null, "post_output": null
    })
}

fn err_of(v: &Value) -> PresetError {
    Build::from_json_value(v, &Limits::default()).unwrap_err()
}

fn with(key: &str, value: Value) -> Value {
    let mut v = good_build();
    v[key] = value;
    v
}

#[test]
fn good_build_parses_and_v1_maps_to_v2() {
    let b = Build::from_json_value(&good_build(), &Limits::default()).unwrap();
    assert_eq!(b.n(), 2);
    let mut v1 = good_build();
    v1["version"] = json!(1);
    let obj = v1.as_object_mut().unwrap();
    obj.remove("post_delay");
    obj.remove("post_matrix");
    obj.remove("post_output");
    obj.insert(
        "absorption_filters".into(),
        json!([[[0.9, 0.8], [0, 0], [0, 0], [1, 1], [0, 0], [0, 0]]]),
    );
    obj.insert(
        "output_filters".into(),
        json!([[[0.5], [0], [0], [1], [0], [0]]]),
    );
    let b = Build::from_json_value(&v1, &Limits::default()).unwrap();
    assert_eq!(b.post_delay().unwrap().section(0, 1)[0], 0.8);
    assert_eq!(b.post_output().unwrap().section(0, 0)[0], 0.5);
    // Written back as v2 with the v2 key names.
    let out = b.to_json_value();
    assert_eq!(out["version"], json!(2));
    assert!(out["post_delay"].is_array() && out.get("absorption_filters").is_none());
    // 2.0 passes as version 2; integral floats pass as delays.
    let b2 = Build::from_json_value(&with("version", json!(2.0)), &Limits::default()).unwrap();
    assert_eq!(b2.n(), 2);
    assert_eq!(
        Build::from_json_value(&with("delays", json!([3.0, 5.0])), &Limits::default())
            .unwrap()
            .delays(),
        &[3, 5]
    );
}

#[test]
fn format_version_and_missing_fields() {
    assert!(matches!(
        err_of(&with("format", json!("other"))),
        PresetError::Format { .. }
    ));
    let e = err_of(&with("version", json!(3)));
    assert_eq!(e.to_string(), "version: unsupported FDN build version: 3");
    let mut v = good_build();
    v.as_object_mut().unwrap().remove("delays");
    v.as_object_mut().unwrap().remove("sample_rate");
    assert_eq!(
        err_of(&v).to_string(),
        "FDN build is missing required fields: delays, sample_rate"
    );
    assert!(matches!(
        err_of(&json!([1, 2])),
        PresetError::NotAnObject { found: "an array" }
    ));
}

#[test]
fn matrix_shapes() {
    let msg = |v: Value| err_of(&v).to_string();
    assert!(msg(with(
        "feedback_matrix",
        json!([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    ))
    .starts_with("feedback_matrix: must be square"));
    assert!(msg(with("feedback_matrix", json!([1.0, 0.0])))
        .starts_with("feedback_matrix: must be a 2-D array"));
    assert!(msg(with("input_matrix", json!([[1.0]])))
        .starts_with("input_matrix: must have one row per delay line"));
    assert!(msg(with("output_matrix", json!([[1.0, 2.0, 3.0]])))
        .starts_with("output_matrix: must have one column per delay line"));
    assert!(msg(with("direct_matrix", json!([[0.0, 0.0]])))
        .starts_with("direct_matrix: shape must match"));
    assert!(
        msg(with("direct_matrix", json!(0.0))).starts_with("direct_matrix: must be a 2-D array")
    );
    assert!(msg(with("input_matrix", json!([[1.0], [1.0, 2.0]])))
        .starts_with("input_matrix: must be a rectangular array"));
    assert!(msg(with("input_matrix", json!([["a"], [1.0]]))).contains("found a string"));
}

#[test]
fn non_finite_values_name_the_field() {
    let text = good_build()
        .to_string()
        .replace("[[0.0,1.0],[1.0,0.0]]", "[[0.0,NaN],[1.0,0.0]]");
    assert!(text.contains("NaN"));
    let e = Build::from_json_str(&text).unwrap_err();
    assert_eq!(
        e,
        PresetError::NonFinite {
            field: "feedback_matrix".into(),
            index: 1,
            value: "NaN".into()
        }
    );
    let text = good_build().to_string().replace("48000.0", "Infinity");
    assert!(Build::from_json_str(&text)
        .unwrap_err()
        .to_string()
        .starts_with("sample_rate: must contain only finite values"));
}

#[test]
fn delays_and_sample_rate() {
    let msg = |v: Value| err_of(&v).to_string();
    assert!(msg(with("delays", json!([3.5, 5]))).starts_with("delays: must contain integers"));
    assert!(msg(with("delays", json!([0, 5])))
        .starts_with("delays: must contain one positive integer per delay line"));
    assert!(msg(with("delays", json!([-3, 5])))
        .starts_with("delays: must contain one positive integer"));
    assert!(msg(with("delays", json!([3])))
        .starts_with("delays: must contain one positive integer per delay line (got 1, N = 2)"));
    assert!(msg(with("sample_rate", json!(0.0)))
        .starts_with("sample_rate: must be positive and finite"));
    // Memory cap: default 10 s at the build's rate; configurable.
    let e = err_of(&with("delays", json!([3, 1e12])));
    assert!(
        matches!(e, PresetError::DelayTooLong { line: 1, .. }),
        "{e}"
    );
    assert!(e.to_string().starts_with(
        "delays: line 1 has 1000000000000 samples, above the memory cap of 480000 samples"
    ));
    let v = with("delays", json!([3, 480001]));
    assert!(Build::from_json_value(&v, &Limits::default()).is_err());
    assert!(Build::from_json_value(
        &v,
        &Limits {
            max_delay_seconds: 11.0
        }
    )
    .is_ok());
}

#[test]
fn sos_hooks() {
    let msg = |v: Value| err_of(&v).to_string();
    let a0_zero = json!([[[0.9, 0.9], [0, 0], [0, 0], [1, 0], [0, 0], [0, 0]]]);
    assert_eq!(
        msg(with("post_delay", a0_zero)),
        "post_delay: has a section with a0 = 0 (section 0, channel 1)"
    );
    let wrong_rows = json!([[[0.9, 0.9], [0, 0], [1, 1]]]);
    assert!(msg(with("post_matrix", wrong_rows))
        .starts_with("post_matrix: must have shape (sections, 6, delay lines)"));
    let wrong_channels = json!([[[0.9], [0], [0], [1], [0], [0]]]);
    assert!(msg(with("post_delay", wrong_channels))
        .starts_with("post_delay: must have shape (sections, 6, delay lines)"));
    let out_channels = json!([[[0.9, 0.9], [0, 0], [0, 0], [1, 1], [0, 0], [0, 0]]]);
    assert!(msg(with("post_output", out_channels))
        .starts_with("post_output: must have shape (sections, 6, outputs)"));
}

#[test]
fn stability_bound_and_unstable_filters() {
    // Lossless permutation: bound exactly 1, accepted and reported lossless.
    let b = Build::from_json_value(&good_build(), &Limits::default()).unwrap();
    let s = b.check_stable().unwrap();
    assert!(s.is_lossless() && (s.spectral_norm - 1.0).abs() < 1e-15);
    // Gain 1.01 in the loop: refused, naming the bound.
    let v = with("feedback_matrix", json!([[0.0, 1.01], [1.01, 0.0]]));
    let e = Build::from_json_value(&v, &Limits::default())
        .unwrap()
        .check_stable()
        .unwrap_err();
    assert!(
        matches!(e, PresetError::Unstable { .. }) && e.to_string().contains("loop-gain bound 1.01"),
        "{e}"
    );
    // A loss filter with |H| > 1 somewhere also raises the bound.
    let boost = json!([[[1.2, 1.2], [0, 0], [0, 0], [1, 1], [0, 0], [0, 0]]]);
    let e = Build::from_json_value(&with("post_delay", boost), &Limits::default())
        .unwrap()
        .check_stable()
        .unwrap_err();
    assert!(matches!(e, PresetError::Unstable { .. }));
    // Poles outside the unit circle in any hook: refused.
    let pole = json!([[[1.0], [0], [0], [1], [-1.5], [0]]]);
    let e = Build::from_json_value(&with("post_output", pole), &Limits::default())
        .unwrap()
        .check_stable()
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "post_output: filter has poles on or outside the unit circle (unstable)"
    );
    // Just within tolerance (1 + 1e-7): accepted.
    let v = with(
        "feedback_matrix",
        json!([[0.0, 1.0000001], [1.0000001, 0.0]]),
    );
    assert!(Build::from_json_value(&v, &Limits::default())
        .unwrap()
        .check_stable()
        .is_ok());
}

#[test]
fn preset_document_rules() {
    let doc = |v: Value| Preset::from_json_value(&v, &Limits::default());
    let ok = json!({"metadata": {"name": "x"}, "design": {"feedback_matrix": {"type": "orthogonal"}}, "build": good_build(), "other_tool": {"early": [1, 2]}});
    let p = doc(ok.clone()).unwrap();
    assert_eq!(p.name(), "x");
    assert_eq!(p.extensions()["other_tool"], json!({"early": [1, 2]}));
    // "tailor" is Tailor's own extension and is validated (see tailor::preset::early).
    let mut v = ok.clone();
    v["tailor"] = json!({"version": 1, "early": [1, 2]});
    assert!(doc(v)
        .unwrap_err()
        .to_string()
        .starts_with("tailor.early: must be an object"));
    assert_eq!(Preset::from_json_str(&p.to_json_string()).unwrap(), p);
    let mut v = ok.clone();
    v.as_object_mut().unwrap().remove("metadata");
    assert!(doc(v)
        .unwrap_err()
        .to_string()
        .starts_with("preset needs metadata and build fields"));
    let mut v = ok.clone();
    v["metadata"] = json!([1]);
    assert_eq!(
        doc(v).unwrap_err().to_string(),
        "preset metadata must be an object"
    );
    let mut v = ok.clone();
    v["design"] = json!("x");
    assert_eq!(
        doc(v).unwrap_err().to_string(),
        "preset design must be an object"
    );
    let mut v = ok.clone();
    v["build"] = json!(3);
    assert_eq!(
        doc(v).unwrap_err().to_string(),
        "preset build must be an object"
    );
    let mut v = ok.clone();
    v["design"] = json!({"reverb": {}});
    assert_eq!(
        doc(v).unwrap_err().to_string(),
        "design: unknown preset design component: 'reverb'"
    );
    let mut v = ok.clone();
    v["design"] = json!({"post_delay": {"type": "butterworth"}});
    assert!(doc(v)
        .unwrap_err()
        .to_string()
        .starts_with("design.post_delay.type: 'butterworth' is not one of: graphic_eq"));
    let mut v = ok.clone();
    v["design"] = json!({"delays": 3});
    assert_eq!(
        doc(v).unwrap_err().to_string(),
        "design.delays: must be an object"
    );
    // A bare build dict is a preset whose build metadata is lifted.
    let mut bare = good_build();
    bare["metadata"] = json!({"name": "bare"});
    let p = doc(bare).unwrap();
    assert_eq!(p.name(), "bare");
    assert!(p.build().metadata().is_empty());
    // Truncated JSON and a top-level array.
    let text = serde_json::to_string(&ok).unwrap();
    let e = Preset::from_json_str(&text[..text.len() / 2]).unwrap_err();
    assert!(
        matches!(e, PresetError::Json { .. })
            && e.to_string().starts_with("invalid JSON at line 1"),
        "{e}"
    );
    assert_eq!(
        Preset::from_json_str("[]").unwrap_err().to_string(),
        "FDN build JSON must contain an object (top level is an array)"
    );
}
