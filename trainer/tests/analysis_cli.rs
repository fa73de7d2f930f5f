//! `tailor analyze` and `tailor compare` end to end on the meeting-room IR and on bad files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tailor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tailor"))
        .args(args)
        .output()
        .expect("tailor runs")
}

fn meeting_room() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../data/rir/meetingroom_to_hallway_290cm.wav")
        .display()
        .to_string()
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tailor-analysis-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

/// A mono 32-bit float WAV written byte by byte (so NaN samples can be stored).
fn float_wav(path: &Path, fs: u32, samples: &[f32]) {
    let data_len = (samples.len() * 4) as u32;
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data_len).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&3u16.to_le_bytes()); // IEEE float
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&fs.to_le_bytes());
    b.extend_from_slice(&(fs * 4).to_le_bytes());
    b.extend_from_slice(&4u16.to_le_bytes());
    b.extend_from_slice(&32u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        b.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, b).unwrap();
}

const COMPARISON_KEYS: [&str; 17] = [
    "bands_hz",
    "rt_a_s",
    "rt_b_s",
    "rt_range",
    "rt_error_pct",
    "mean_rt_error_pct",
    "worst_rt_error_pct",
    "edc_error_db",
    "level_error_db",
    "mel_lsd_db",
    "third_octave_bands_hz",
    "third_octave_above_noise",
    "third_octave_level_a_db",
    "third_octave_level_b_db",
    "third_octave_band_error_db",
    "third_octave_level_error_db",
    "third_octave_excess_db",
];

#[test]
fn compare_meeting_room_with_itself_has_every_key_and_zero_error() {
    let ir = meeting_room();
    let o = tailor(&["compare", &ir, &ir, "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let j: serde_json::Value = serde_json::from_str(&text(&o.stdout)).unwrap();
    let obj = j.as_object().unwrap();
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut want = COMPARISON_KEYS.to_vec();
    want.sort_unstable();
    assert_eq!(keys, want);
    for k in [
        "edc_error_db",
        "level_error_db",
        "mel_lsd_db",
        "mean_rt_error_pct",
        "worst_rt_error_pct",
        "third_octave_level_error_db",
        "third_octave_excess_db",
    ] {
        assert_eq!(j[k].as_f64(), Some(0.0), "{k}: {}", j[k]);
    }
    assert_eq!(j["bands_hz"].as_array().unwrap().len(), 7);
    // 48 kHz: the 31 IEC third-octaves 20 Hz … 20 kHz.
    assert_eq!(j["third_octave_bands_hz"].as_array().unwrap().len(), 31);
    // The meeting room has at least 45 dB above its noise in every band but 125 Hz (43 dB there,
    // pyrato 1.1's Lundeby gives the same): T20 there, T30 above.
    let ranges: Vec<&str> = j["rt_range"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(ranges, ["T20", "T30", "T30", "T30", "T30", "T30", "T30"]);
    for e in j["rt_error_pct"].as_array().unwrap() {
        assert_eq!(e.as_f64(), Some(0.0));
    }
    // Text mode: the band table and summary lines.
    let o = tailor(&["compare", &ir, &ir]);
    assert_eq!(o.status.code(), Some(0));
    let out = text(&o.stdout);
    assert!(
        out.contains("RT A (s)")
            && out.contains("1000 Hz")
            && out.contains("mel LSD")
            && out.contains("1/3-oct level"),
        "{out}"
    );
}

#[test]
fn compare_resamples_b_to_a_rate_and_says_so() {
    let dir = scratch("resample");
    let ir = meeting_room();
    let audio = tailor::wav::read_wav(Path::new(&ir)).unwrap();
    let down = tailor::resample::resample(&audio.channels, 48000.0, 44100.0).unwrap();
    let b = dir.join("b44k.wav");
    tailor::wav::write_wav(&b, 44100, &down).unwrap();
    let o = tailor(&["compare", &ir, b.to_str().unwrap(), "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("resampled from 44100 Hz to 48000 Hz"));
    let j: serde_json::Value = serde_json::from_str(&text(&o.stdout)).unwrap();
    // A round trip through 44.1 kHz keeps the room: small errors, not zero.
    assert!(j["worst_rt_error_pct"].as_f64().unwrap() < 5.0, "{j}");
    assert!(j["level_error_db"].as_f64().unwrap() < 0.5, "{j}");
}

#[test]
fn analyze_json_has_the_band_keys() {
    let o = tailor(&["analyze", &meeting_room(), "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let j: serde_json::Value = serde_json::from_str(&text(&o.stdout)).unwrap();
    for k in ["t30_s", "edt_s", "peak_index", "sample_rate"] {
        assert!(j.get(k).is_some(), "existing key {k} kept");
    }
    let bands = j["bands_hz"].as_array().unwrap();
    assert_eq!(bands.len(), 7);
    assert_eq!(bands[0].as_f64(), Some(125.0));
    for k in ["rt_s", "edt_band_s", "t20_band_s"] {
        assert_eq!(j[k].as_array().unwrap().len(), 7, "{k}");
    }
    for rt in j["rt_s"].as_array().unwrap() {
        let rt = rt.as_f64().unwrap();
        assert!((0.2..2.0).contains(&rt), "{rt}");
    }
    let m = j["mixing_time_s"].as_f64().unwrap();
    assert!((0.005..0.15).contains(&m), "{m}");
    let f = j["spectral_flatness"].as_f64().unwrap();
    assert!(f > 0.0 && f <= 1.0, "{f}");
    assert!(j["spectral_flatness_db"].as_f64().unwrap() <= 0.0);
    let o = tailor(&["analyze", &meeting_room()]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o.stdout).contains("mixing time"));
}

#[test]
fn empty_nan_and_silent_wavs_exit_1_with_a_message() {
    let dir = scratch("bad");
    let ir = meeting_room();
    let empty = dir.join("empty.wav");
    std::fs::write(&empty, b"").unwrap();
    let nan = dir.join("nan.wav");
    float_wav(&nan, 48000, &[0.5, f32::NAN, 0.1, 0.0]);
    let silent = dir.join("silent.wav");
    float_wav(&silent, 48000, &[0.0; 4800]);
    let cases = [
        (&empty, "not a readable WAV file"),
        (&nan, "sample 1 is not finite"),
        (&silent, "silent"),
    ];
    for (bad, msg) in cases {
        let bad = bad.to_str().unwrap();
        for args in [
            vec!["compare", &ir, bad],
            vec!["compare", bad, &ir, "--json"],
            vec!["analyze", bad],
        ] {
            let o = tailor(&args);
            assert_eq!(o.status.code(), Some(1), "{args:?}");
            let err = text(&o.stderr);
            assert!(err.contains(msg), "{args:?}: {err}");
            assert!(!err.contains("panicked"), "{err}");
        }
    }
    let short = dir.join("short.wav");
    float_wav(&short, 48000, &[1.0, 0.5, 0.25]);
    let o = tailor(&["compare", &ir, short.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("too short"), "{}", text(&o.stderr));
}

/// A shared room file in `data/rooms` (see its ATTRIBUTION.md).
fn room(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../data/rooms")
        .join(name)
        .display()
        .to_string()
}

/// `tailor compare A B --json`, parsed.
fn compare_json(a: &str, b: &str) -> serde_json::Value {
    let out = tailor(&["compare", a, b, "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn compare_measures_a_stereo_rooms_image_and_tells_dual_mono_from_it() {
    let church = room("st_andrews_church_stereo.wav");
    let c = compare_json(&church, &church);
    assert_eq!(c["channels"].as_array().unwrap().len(), 2);
    assert_eq!(c["max_coherence_error"].as_f64(), Some(0.0));
    // The church's late coherence, correlated in the lows and near 0 in the highs (pyfar 0.8
    // IEC octave filters, same definition: 0.850 0.839 0.622 0.245 0.022 0.015 −0.122).
    let want = [0.850, 0.839, 0.622, 0.245, 0.022, 0.015, -0.122];
    let got: Vec<f64> = c["coherence_a"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 0.005, "{got:?}");
    }
    assert_eq!(c["edc_error_db"], c["channels"][0]["edc_error_db"]);
    // A dual-mono copy (the left channel twice) scores 1 in every band.
    let wav = tailor::ir::load(Path::new(&church), &tailor::ir::IrPolicy::ROOM).unwrap();
    let d = scratch("stereo");
    let mono = d.join("dual_mono.wav");
    let left = wav.channels[0].clone();
    tailor::wav::write_wav(&mono, wav.sample_rate as u32, &[left.clone(), left]).unwrap();
    let c = compare_json(&church, mono.to_str().unwrap());
    assert!(c["coherence_b"]
        .as_array()
        .unwrap()
        .iter()
        .all(|v| (v.as_f64().unwrap() - 1.0).abs() < 1e-6));
    assert!(c["max_coherence_error"].as_f64().unwrap() > 1.0);
    let _ = std::fs::remove_dir_all(&d);
}
