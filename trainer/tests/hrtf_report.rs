//! `tailor hrtf-report` end to end on the bundled KEMAR file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tailor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tailor"))
        .args(args)
        .output()
        .expect("tailor runs")
}

fn kemar() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../data/hrtf/MIT_KEMAR_normal_pinna.sofa")
        .display()
        .to_string()
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tailor-hrtf-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn json_report_against_itself_has_zero_lsd_and_writes_a_png() {
    let dir = scratch("self");
    let png = dir.join("map.png");
    let k = kemar();
    let o = tailor(&[
        "hrtf-report",
        &k,
        "--against",
        &k,
        "--direction",
        "-90,0",
        "--json",
        "--png",
        png.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["mean_lsd_db"].as_f64(), Some(0.0));
    assert_eq!(v["lsd"]["per_direction"].as_array().unwrap().len(), 710);
    assert_eq!(v["file_directions"], 710);
    // −90° = 270°: the right side, so the right ear is louder.
    assert_eq!(v["direction"]["azimuth_deg"].as_f64(), Some(270.0));
    assert!(v["ild_broadband_db"].as_f64().unwrap() < -5.0);
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn text_report_and_errors() {
    let o = tailor(&["hrtf-report", &kemar(), "--direction", "90,0"]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("710 directions, 512 samples at 44100 Hz"),
        "{text}"
    );
    assert!(text.contains("broad-band ILD"), "{text}");

    let dir = scratch("bad");
    let bad = dir.join("truncated.sofa");
    let bytes = std::fs::read(kemar()).unwrap();
    std::fs::write(&bad, &bytes[..bytes.len() / 3]).unwrap();
    let o = tailor(&["hrtf-report", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("truncated SOFA file"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
