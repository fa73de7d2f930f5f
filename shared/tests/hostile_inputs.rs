//! One test per class of hostile input that once panicked, aborted, hung or passed bad output
//! (issue 16): each now gives a typed error naming the problem, or finite, correct output.

use serde_json::Value;
use std::path::{Path, PathBuf};
use tailor::analysis::compare::compare_irs;
use tailor::preset::{Preset, PresetError};
use tailor::room::analysis::SlopeChoice;
use tailor::sos::SosBank;
use tailor::wav::{read_wav_bytes, write_wav, WavError};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn bundled_text() -> String {
    std::fs::read_to_string(repo().join("data/presets/colorless_FDN/colorless_N16_d1.json"))
        .unwrap()
}

fn fitted() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(repo().join("data/presets/fitted/meetingroom_fit.json")).unwrap(),
    )
    .unwrap()
}

fn load(v: &Value) -> Result<Preset, PresetError> {
    Preset::from_json_str(&v.to_string())
}

fn err_text(v: &Value) -> String {
    load(v).unwrap_err().to_string()
}

#[test]
fn non_ascii_bytes_outside_strings_are_errors_and_a_bom_is_skipped() {
    let text = bundled_text();
    let with_bom = format!("\u{feff}{text}");
    assert_eq!(
        Preset::from_json_str(&with_bom).unwrap().name(),
        Preset::from_json_str(&text).unwrap().name()
    );
    for bad in [
        text.replacen('{', "{\u{a0}", 1),
        text.replacen("\"metadata\"", "\u{201c}metadata\u{201d}", 1),
        text.replacen(':', ": \u{1f600}", 1),
    ] {
        let e = Preset::from_json_str(&bad).unwrap_err().to_string();
        assert!(e.contains("invalid JSON at line"), "{e}");
    }
}

#[test]
fn bare_nan_in_metadata_is_refused_not_turned_into_a_marker() {
    let text = bundled_text().replacen("\"name\": \"", "\"name\": NaN, \"was\": \"", 1);
    let e = Preset::from_json_str(&text).unwrap_err().to_string();
    assert!(e.contains("metadata.name") && e.contains("NaN"), "{e}");
}

/// A fitted preset whose every line gets one more attenuation section `s` (shape K × 6 × N).
fn fitted_with_section(s: [f64; 6]) -> Value {
    let mut v = fitted();
    let pd = v["build"]["post_delay"].as_array_mut().unwrap();
    let n = pd[0][0].as_array().unwrap().len();
    pd.push(Value::from(
        s.iter().map(|c| vec![*c; n]).collect::<Vec<Vec<f64>>>(),
    ));
    v
}

#[test]
fn sos_sections_are_judged_after_normalising_by_a0() {
    // True gain 2 with a tiny or huge a0: the loop is unstable and must be called so.
    for s in [
        [2e-170, 0.0, 0.0, 1e-170, 0.0, 0.0],
        [1e201, 0.0, 0.0, 1e200, 0.0, 0.0],
    ] {
        let bank = SosBank::new(1, 1, s.to_vec()).unwrap();
        let g = bank.max_gain();
        assert!((g - s[0] / s[3]).abs() < 1e-9, "max gain {g}");
        let p = load(&fitted_with_section(s)).unwrap();
        match p.build().check_stable() {
            Err(PresetError::Unstable { bound, .. }) => assert!(bound > 1.5, "bound {bound}"),
            other => panic!("a growing build passed the check: {other:?}"),
        }
    }
    // A subnormal a0, or one 1e13 times smaller than b0, cannot be divided by: refused at load.
    for s in [
        [1e-310, 0.0, 0.0, 1e-310, 0.0, 0.0],
        [1.0, 0.0, 0.0, 1e-13, 0.0, 0.0],
    ] {
        let e = err_text(&fitted_with_section(s));
        assert!(e.contains("post_delay") && e.contains("a0"), "{e}");
        assert!(SosBank::new(1, 1, s.to_vec()).is_err());
    }
    // A unit section changes nothing: the fitted preset stays stable with the same bound.
    let base = load(&fitted()).unwrap().build().check_stable().unwrap();
    let unit = load(&fitted_with_section([1.0, 0.0, 0.0, 1.0, 0.0, 0.0]))
        .unwrap()
        .build()
        .check_stable()
        .unwrap();
    assert!((base.loop_gain_bound - unit.loop_gain_bound).abs() < 1e-12);
}

#[test]
fn a_feedback_matrix_near_the_f64_range_is_unstable_not_stable_with_bound_0() {
    // Found by the long fuzz run (seed 7): entries ~1e307 overflowed AᵀA, the NaN eigenvalues
    // vanished in a max and the check said "stable (loop-gain bound 0)"; the render blew up.
    let mut v: Value = serde_json::from_str(&bundled_text()).unwrap();
    let a = v["build"]["feedback_matrix"].as_array_mut().unwrap();
    for row in a.iter_mut() {
        for x in row.as_array_mut().unwrap() {
            *x = Value::from(x.as_f64().unwrap() * 1e307);
        }
    }
    let p = load(&v).unwrap();
    let s = p.build().stability();
    assert!(s.spectral_norm > 1e306, "{s:?}");
    assert!(matches!(
        p.build().check_stable(),
        Err(PresetError::Unstable { .. })
    ));
    // The scaled norm still equals the plain one on ordinary matrices.
    let plain = tailor::matrix::Matrix::from_row_major(2, 2, vec![3.0, 0.0, 4.0, 0.0]).unwrap();
    assert!((plain.spectral_norm() - 5.0).abs() < 1e-12);
    let nan = tailor::matrix::Matrix::from_row_major(1, 2, vec![f64::NAN, 1.0]).unwrap();
    assert!(nan.spectral_norm().is_nan());
}

#[test]
fn stated_limits_refuse_what_would_abort_or_run_for_hours() {
    let base: Value = serde_json::from_str(&bundled_text()).unwrap();
    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = base.clone();
        f(&mut v);
        err_text(&v)
    };
    for rate in [0.4, 1000.0, 7999.0, 384_001.0, 1e9, 4_294_967_296.0, 1e300] {
        let e = with(&|v| v["build"]["sample_rate"] = Value::from(rate));
        assert!(
            e.contains("sample_rate") || e.contains("delays"),
            "{rate}: {e}"
        );
    }
    let e = with(&|v| v["build"]["sample_rate"] = Value::from(1e300));
    assert!(e.contains("1e300 Hz"), "{e}");
    for outputs in [65usize, 65536, 65537] {
        let e = with(&|v| {
            v["build"]["output_matrix"] = Value::from(vec![vec![0.1; 16]; outputs]);
            v["build"]["direct_matrix"] = Value::from(vec![vec![0.0]; outputs]);
        });
        assert!(
            e.contains("output_matrix") && e.contains("limit of 64"),
            "{e}"
        );
    }
    let n = 1500;
    let e = with(&|v| {
        let b = &mut v["build"];
        b["feedback_matrix"] = Value::from(
            (0..n)
                .map(|i| {
                    (0..n)
                        .map(|j| f64::from(u8::from(i == (j + 1) % n)))
                        .collect()
                })
                .collect::<Vec<Vec<f64>>>(),
        );
        b["input_matrix"] = Value::from(vec![vec![1.0]; n]);
        b["output_matrix"] = Value::from(vec![vec![1.0; n]]);
        b["delays"] = Value::from((0..n).map(|i| 100 + i).collect::<Vec<_>>());
    });
    assert!(
        e.contains("1500 delay lines exceed the limit of 128"),
        "{e}"
    );
    let e = with(&|v| v["build"]["direct_matrix"] = Value::from(vec![vec![1e39]]));
    assert!(
        e.contains("direct_matrix") && e.contains("gain limit"),
        "{e}"
    );
    let mut f = fitted();
    f["tailor"]["early"]["fir"][0][0][5] = Value::from(1e308);
    let e = err_text(&f);
    assert!(
        e.contains("tailor.early.fir") && e.contains("gain limit"),
        "{e}"
    );
}

fn wav(samples: &[f32], rate: u32, before_fmt: &[u8]) -> Vec<u8> {
    let data: Vec<u8> = samples.iter().flat_map(|x| x.to_le_bytes()).collect();
    let mut fmt = b"fmt ".to_vec();
    fmt.extend_from_slice(&16u32.to_le_bytes());
    fmt.extend_from_slice(&3u16.to_le_bytes());
    fmt.extend_from_slice(&1u16.to_le_bytes());
    fmt.extend_from_slice(&rate.to_le_bytes());
    fmt.extend_from_slice(&(rate * 4).to_le_bytes());
    fmt.extend_from_slice(&4u16.to_le_bytes());
    fmt.extend_from_slice(&32u16.to_le_bytes());
    let mut body = b"WAVE".to_vec();
    body.extend_from_slice(before_fmt);
    body.extend(fmt);
    body.extend_from_slice(b"data");
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend(data);
    let mut w = b"RIFF".to_vec();
    w.extend_from_slice(&(body.len() as u32).to_le_bytes());
    w.extend(body);
    w
}

#[test]
fn wav_reader_walks_padded_chunks_and_refuses_rates_outside_the_limits() {
    let x = [0.5f32, -0.25, 0.125, 0.0];
    // A 3-byte LIST chunk with its pad byte before `fmt `.
    let padded = wav(&x, 48000, b"LIST\x03\x00\x00\x00abc\x00");
    let a = read_wav_bytes(&padded, "padded.wav").unwrap();
    assert_eq!(
        a.channels[0],
        x.iter().map(|v| f64::from(*v)).collect::<Vec<_>>()
    );
    for rate in [1u32, 2, 100, 7999, 384_001] {
        let e = read_wav_bytes(&wav(&x, rate, b""), "r.wav").unwrap_err();
        assert!(matches!(e, WavError::Limit { .. }), "{rate}: {e}");
        assert!(e.to_string().contains("sample rate"), "{e}");
    }
    let e = read_wav_bytes(&wav(&[0.1, f32::NAN], 48000, b""), "nan.wav").unwrap_err();
    assert!(e.to_string().contains("not finite"), "{e}");
}

#[test]
fn wav_writer_never_writes_a_non_finite_or_out_of_range_sample() {
    let dir = std::env::temp_dir().join(format!("tailor-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for bad in [f64::INFINITY, f64::NAN, 1e39, -1e308] {
        let path = dir.join("bad.wav");
        let e = write_wav(&path, 48000, &[vec![0.0, bad]]).unwrap_err();
        assert!(matches!(e, WavError::BadSample { index: 1, .. }), "{e}");
        assert!(!path.exists(), "a refused signal must not leave a file");
    }
    for (rate, channels) in [(1u32, 1usize), (48000, 65), (48000, 0)] {
        let path = dir.join("shape.wav");
        assert!(write_wav(&path, rate, &vec![vec![0.0; 4]; channels]).is_err());
        assert!(!path.exists());
    }
    let e = tailor::wav::check_writable("the FDN render", &[vec![1.0, f64::INFINITY]]).unwrap_err();
    assert!(e.to_string().contains("the FDN render"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

/// The meeting room decimated to `fs` by an integer factor (low-passed by averaging first).
fn room_at(factor: usize) -> (Vec<f64>, f64) {
    let room =
        tailor::wav::read_wav(&repo().join("data/rir/meetingroom_to_hallway_290cm.wav")).unwrap();
    let x = &room.channels[0];
    let y: Vec<f64> = x
        .chunks(factor)
        .map(|c| c.iter().sum::<f64>() / c.len() as f64)
        .collect();
    (y, room.sample_rate / factor as f64)
}

#[test]
fn low_rate_irs_are_compared_and_analysed_on_the_bands_below_nyquist() {
    let (room, fs0) = room_at(1);
    for fs in [8000.0, 22050.0] {
        let ir = tailor::resample::resample(std::slice::from_ref(&room), fs0, fs)
            .unwrap()
            .swap_remove(0);
        let c = compare_irs(&ir, &ir, fs).unwrap();
        assert!(
            c.level_error_db.abs() < 1e-9 && c.mel_lsd_db.abs() < 1e-9,
            "{c:?}"
        );
        // The 8 kHz band needs fs ≥ 22.6 kHz; the bands that fit have an RT.
        assert!(
            c.rt_a_s.last().unwrap().is_none(),
            "fs {fs}: {:?}",
            c.rt_a_s
        );
        assert!(
            c.rt_a_s[..4].iter().all(Option::is_some),
            "fs {fs}: {:?}",
            c.rt_a_s
        );
        let a = tailor::room::analysis::analyse_room(&ir, fs, SlopeChoice::Auto).unwrap();
        assert!(a
            .band_rt_s
            .iter()
            .flatten()
            .all(|t| t.is_finite() && *t > 0.0));
    }
    // Below the stated minimum rate every analysis is an error, not a panic.
    let (ir, _) = room_at(6);
    for fs in [100.0, 1.0] {
        assert!(tailor::analysis::spectrum::spectral_flatness(&ir, fs).is_err());
        assert!(compare_irs(&ir, &ir, fs).is_err());
        assert!(tailor::room::analysis::analyse_room(&ir, fs, SlopeChoice::Auto).is_err());
    }
}

#[test]
fn one_huge_sample_is_a_fit_error_not_a_panic() {
    let (mut ir, fs) = room_at(1);
    ir.truncate(fs as usize);
    ir[1000] = 1e30;
    let e = tailor::room::analysis::analyse_room(&ir, fs, SlopeChoice::Auto).unwrap_err();
    assert!(e.to_string().contains("isolated spike"), "{e}");
}
