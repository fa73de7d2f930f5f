//! The `tailor` binary end to end: preset check, conformance, render, analyze, demo.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tailor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tailor"))
        .args(args)
        .output()
        .expect("tailor runs")
}

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../data")
        .join(rel)
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tailor-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

const GOOD: &str = r#"{"format": "pyfdn-fdn-build", "version": 2,
 "feedback_matrix": [[0.0, 1.0], [1.0, 0.0]], "input_matrix": [[1.0], [1.0]],
 "output_matrix": [[0.5, 0.5]], "direct_matrix": [[0.0]], "delays": [3, 5], "sample_rate": 48000.0,
 "post_delay": null, "post_matrix": null, "post_output": null}"#;

#[test]
fn preset_check_accepts_all_bundled_presets() {
    let dir = data("presets/colorless_FDN");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    files.sort();
    assert_eq!(files.len(), 16);
    let mut args = vec!["preset", "check"];
    args.extend(files.iter().map(String::as_str));
    let o = tailor(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let out = stdout(&o);
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with("ok ") && l.contains("lossless"))
            .count(),
        16,
        "{out}"
    );
}

#[test]
fn preset_check_rejects_bad_files_naming_the_field() {
    let dir = scratch("bad");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "nan.json",
            GOOD.replace("[[0.0, 1.0], [1.0, 0.0]]", "[[0.0, NaN], [1.0, 0.0]]"),
            "feedback_matrix: must contain only finite values",
        ),
        (
            "nonsquare.json",
            GOOD.replace(
                "[[0.0, 1.0], [1.0, 0.0]]",
                "[[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]",
            ),
            "feedback_matrix: must be square",
        ),
        (
            "brows.json",
            GOOD.replace("[[1.0], [1.0]]", "[[1.0]]"),
            "input_matrix: must have one row per delay line",
        ),
        (
            "delay0.json",
            GOOD.replace("[3, 5]", "[0, 5]"),
            "delays: must contain one positive integer",
        ),
        (
            "delayhuge.json",
            GOOD.replace("[3, 5]", "[3, 1e12]"),
            "delays: line 1 has 1000000000000 samples, above the memory cap",
        ),
        (
            "version3.json",
            GOOD.replace("\"version\": 2", "\"version\": 3"),
            "version: unsupported FDN build version: 3",
        ),
        ("array.json", format!("[{GOOD}]"), "must contain an object"),
        (
            "truncated.json",
            GOOD[..GOOD.len() / 2].to_string(),
            "invalid JSON",
        ),
        (
            "a0.json",
            GOOD.replace(
                "\"post_delay\": null",
                "\"post_delay\": [[[0.9, 0.9], [0, 0], [0, 0], [0, 1], [0, 0], [0, 0]]]",
            ),
            "post_delay: has a section with a0 = 0",
        ),
        (
            "unstable.json",
            GOOD.replace("[[0.0, 1.0], [1.0, 0.0]]", "[[0.0, 1.1], [1.1, 0.0]]"),
            "unstable build, loop-gain bound 1.1",
        ),
        ("empty.json", String::new(), "invalid JSON"),
    ];
    for (name, text, expect) in &cases {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let o = tailor(&["preset", "check", path.to_str().unwrap()]);
        // Refusals go to stderr (stdout carries only the accepted files).
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(1), "{name}: {err}");
        assert!(stdout(&o).is_empty(), "{name}: {}", stdout(&o));
        assert!(
            err.contains(expect),
            "{name}: expected '{expect}' in: {err}"
        );
        assert!(
            !String::from_utf8_lossy(&o.stderr).contains("panicked"),
            "{name} panicked"
        );
    }
    // A missing file is an error too, and good + bad files give exit 1 with both lines.
    let good = dir.join("good.json");
    std::fs::write(&good, GOOD).unwrap();
    let o = tailor(&[
        "preset",
        "check",
        good.to_str().unwrap(),
        dir.join("missing.json").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("ok    ") && stdout(&o).contains("lossless"),
        "{}",
        stdout(&o)
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("missing.json"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn conformance_passes_on_the_shipped_golden_files() {
    let o = tailor(&["conformance", data("golden").to_str().unwrap()]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.lines().last().unwrap().ends_with(" 0 failed"), "{out}");
    assert!(out.contains("PASS fdn_response/preset_colorless_N8_d1"));
}

#[test]
fn conformance_fails_on_a_perturbed_golden_file_under_any_name() {
    // Another name (dispatch by source.function), and one value off by 1e-6 relative.
    let dir = scratch("perturbed");
    let text = std::fs::read_to_string(data("golden/fdn_response.json")).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let v = &mut doc["cases"][2]["output"]["impulse_response"]["data"][700];
    *v = serde_json::json!(v.as_f64().unwrap() + 1e-6);
    std::fs::write(
        dir.join("renamed_vectors.json"),
        serde_json::to_string(&doc).unwrap(),
    )
    .unwrap();
    let o = tailor(&["conformance", dir.to_str().unwrap()]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("FAIL fdn_response/N8_first_order_shelf_rt2.0_0.5"),
        "{out}"
    );
    assert!(out.contains("3 passed, 1 failed"), "{out}");
}

#[test]
fn render_analyze_and_demo() {
    let dir = scratch("render");
    let wav = dir.join("ir.wav");
    let o = tailor(&[
        "render",
        "colorless_N8_d1",
        "--rt",
        "1.0",
        "--seconds",
        "1.5",
        "--out",
        wav.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    let o = tailor(&["analyze", wav.to_str().unwrap(), "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let j: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    // A flat 1 s T60 with a colorless (flat) matrix: T30 within 5 % of the design.
    let t30 = j["t30_s"].as_f64().unwrap();
    assert!((t30 - 1.0).abs() < 0.05, "T30 {t30}");
    // Unknown presets and missing files are errors with exit code 1, not panics.
    let o = tailor(&["render", "no_such_preset", "--out", wav.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("neither a file nor a bundled preset"));
    let o = tailor(&["analyze", dir.join("missing.wav").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let o = tailor(&["demo", "--out", dir.join("demo").to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout(&o).contains("T30"));
    let preset = dir.join("demo/demo_preset.json");
    let o = tailor(&["preset", "check", preset.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("stable"));
}
