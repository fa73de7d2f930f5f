//! Early reflections (`tailor.early`) end to end: a preset with an FIR is written as JSON, read
//! back, rendered offline (`h = h_fdn + fir`) and by the real-time engine in several block sizes,
//! and the two agree; an FDN with C = D = 0 plays the FIR alone; the plugin's session conversion
//! (rate, stereo) keeps it.

use tailor::engine::{Engine, EngineConfig};
use tailor::fx::{build_at_rate, session_early, stereo_build, Reverb};
use tailor::matrix::Matrix;
use tailor::preset::{bundled_preset, EarlyReflections, Preset};
use tailor::response::{
    impulse_response, impulse_response_channels, preset_impulse_response, TimeResponse,
};
use tailor::{Build, BuildParts};

const BLOCKS: [usize; 5] = [1, 7, 64, 512, 4096];

/// A few impulses followed by decaying noise, `len` samples.
fn known_fir(len: usize, seed: u32) -> Vec<f64> {
    let mut s = seed;
    let mut h: Vec<f64> = (0..len)
        .map(|n| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let u = (s >> 8) as f64 / (1u32 << 24) as f64 - 0.5;
            0.3 * u * (-(n as f64) / (0.2 * len as f64)).exp()
        })
        .collect();
    for (at, v) in [(0, 0.9), (37, -0.5), (401, 0.35), (len / 2, 0.2)] {
        h[at] += v;
    }
    h
}

fn decayed(name: &str, rt: f64) -> Build {
    let p = bundled_preset(name).unwrap();
    tailor::with_decay(p.build(), rt).unwrap()
}

/// A preset around `build` with `fir` (one FIR per output, input 0), through a JSON round trip.
fn preset_with(build: &Build, firs: Vec<Vec<f64>>, rate: f64) -> Preset {
    let mut p = Preset::from_build(build.clone(), "early test");
    let fir = firs.into_iter().map(|h| vec![h]).collect();
    let e = EarlyReflections::new(rate, fir)
        .unwrap()
        .with_timing(Some(0.08), Some([0.06, 0.08]))
        .unwrap();
    p.set_early(Some(e)).unwrap();
    let back = Preset::from_json_str(&p.to_json_string()).unwrap();
    assert_eq!(back, p, "JSON round trip changed the preset");
    back
}

/// The engine's response to a unit impulse on input 0, rendered in host blocks of `block`.
fn engine_ir(preset: &Preset, len: usize, block: usize) -> Vec<Vec<f32>> {
    let b = preset.build();
    let mut cfg = EngineConfig::new(b.sample_rate(), 1, b.n_out());
    cfg.max_block = block.clamp(16, 1024);
    let mut e = Engine::prepare_preset(preset, &cfg).unwrap();
    assert_eq!(e.has_early(), preset.early().is_some());
    let mut x = vec![0.0f32; len];
    x[0] = 1.0;
    let mut y = vec![vec![0.0f32; len]; b.n_out()];
    let mut t = 0;
    while t < len {
        let n = block.min(len - t);
        let mut outs: Vec<&mut [f32]> = y.iter_mut().map(|c| &mut c[t..t + n]).collect();
        e.process(&[&x[t..t + n]], &mut outs);
        t += n;
    }
    y
}

fn worst_error(reference: &TimeResponse, y: &[Vec<f32>]) -> f64 {
    let mut worst: f64 = 0.0;
    for (o, ch) in y.iter().enumerate() {
        for (n, &v) in ch.iter().enumerate() {
            worst = worst.max((f64::from(v) - reference.at(n, o, 0)).abs());
        }
    }
    worst / reference.max_abs()
}

fn check_engine_matches_offline(preset: &Preset, len: usize) {
    let full = preset_impulse_response(preset, len, true).unwrap();
    let fdn = preset_impulse_response(preset, len, false).unwrap();
    assert_ne!(full, fdn, "the early part changed nothing");
    for block in BLOCKS {
        let y = engine_ir(preset, len, block);
        let err = worst_error(&full, &y);
        assert!(err <= 1e-5, "block {block}: error {err:e} of the peak");
        // The engine really plays the FIR: against the FDN alone it is far off.
        assert!(worst_error(&fdn, &y) > 1e-2, "block {block}: FIR missing");
    }
}

#[test]
fn engine_equals_offline_render_mono() {
    let b = decayed("colorless_N8_d1", 0.6);
    assert_eq!((b.n_in(), b.n_out()), (1, 1));
    let p = preset_with(&b, vec![known_fir(2400, 1)], b.sample_rate());
    check_engine_matches_offline(&p, 12_000);
}

#[test]
fn engine_equals_offline_render_one_in_two_out() {
    let b = stereo_build(&decayed("colorless_N4_d1", 0.5)).unwrap();
    assert_eq!((b.n_in(), b.n_out()), (1, 2));
    let p = preset_with(
        &b,
        vec![known_fir(3000, 2), known_fir(1700, 3)],
        b.sample_rate(),
    );
    check_engine_matches_offline(&p, 12_000);
}

/// The FDN with its output and direct gains zeroed: the engine must play exactly the FIR.
#[test]
fn fir_alone_is_played_exactly() {
    let b = decayed("colorless_N4_d1", 0.5);
    let mut parts: BuildParts = b.parts().clone();
    parts.c = Matrix::from_row_major(1, b.n(), vec![0.0; b.n()]).unwrap();
    parts.d = Matrix::from_row_major(1, 1, vec![0.0]).unwrap();
    parts.post_output = None;
    let silent = Build::new(parts).unwrap();
    let h = known_fir(5000, 4);
    let p = preset_with(&silent, vec![h.clone()], silent.sample_rate());
    let len = 6000;
    for block in BLOCKS {
        let y = engine_ir(&p, len, block);
        let peak = h.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (n, &v) in y[0].iter().enumerate() {
            let want = h.get(n).copied().unwrap_or(0.0);
            assert!(
                (f64::from(v) - want).abs() <= 1e-6 * peak,
                "block {block}, sample {n}: {v} vs {want}"
            );
        }
    }
}

/// Real data: the first 80 ms of the meeting-room IR as the FIR of a colorless preset with decay.
#[test]
fn measured_onset_on_a_colorless_preset() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/rir/meetingroom_to_hallway_290cm.wav"
    );
    let rir = tailor::wav::read_wav(std::path::Path::new(path)).unwrap();
    let n = (0.08 * rir.sample_rate).round() as usize;
    let onset = rir.channels[0][..n].to_vec();
    let b = decayed("colorless_N16_d1", 0.8);
    let p = preset_with(&b, vec![onset.clone()], rir.sample_rate);
    assert_eq!(p.early().unwrap().len(), n);
    check_engine_matches_offline(&p, 24_000);
    // The offline render adds exactly the onset on top of the FDN.
    let full = preset_impulse_response(&p, n, true).unwrap();
    let fdn = preset_impulse_response(&p, n, false).unwrap();
    for (k, &v) in onset.iter().enumerate() {
        assert!((full.at(k, 0, 0) - fdn.at(k, 0, 0) - v).abs() < 1e-12);
    }
}

/// The plugin path: a 48 kHz mono preset in a 44.1 kHz stereo session plays the FIR resampled
/// and duplicated; the FIR shows up in both outputs.
#[test]
fn session_conversion_keeps_the_early_part() {
    let b = decayed("colorless_N8_d1", 0.6);
    let h = known_fir(2400, 5);
    let p = preset_with(&b, vec![h], b.sample_rate());
    let fs = 44_100.0;
    let sb = stereo_build(&build_at_rate(p.build(), fs).unwrap()).unwrap();
    let early = session_early(&p, fs).unwrap().unwrap();
    assert_eq!((early.n_out(), early.sample_rate()), (2, fs));
    let cfg = EngineConfig::new(fs, 1, 2);
    let len = 8192;
    let mut x = vec![0.0f32; len];
    x[0] = 1.0;
    let render = |early: Option<&EarlyReflections>| {
        let mut r = Reverb::prepare_with_early(&sb, early, &cfg).unwrap();
        let mut y = vec![vec![0.0f32; len]; 2];
        let (l, rr) = y.split_at_mut(1);
        r.process(&[&x], &mut [&mut l[0], &mut rr[0]]);
        y
    };
    let with = render(Some(&early));
    let without = render(None);
    for o in 0..2 {
        let diff: Vec<f64> = with[o]
            .iter()
            .zip(&without[o])
            .map(|(a, b)| f64::from(a - b))
            .collect();
        let want = early.ir(o, 0);
        let peak = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (k, d) in diff.iter().enumerate() {
            let w = want.get(k).copied().unwrap_or(0.0);
            assert!(
                (d - w).abs() <= 1e-5 * peak,
                "output {o} sample {k}: {d} vs {w}"
            );
        }
    }
}

/// The session's planar IR (what the plugin's diagnostics and A/B matching measure): the FDN's
/// channels from input 0 plus the session FIR; a FIR of another shape is left out; an input the
/// build lacks gives no channels.
#[test]
fn impulse_response_channels_add_the_session_fir() {
    let b = decayed("colorless_N8_d1", 0.6);
    let h = known_fir(2400, 9);
    let p = preset_with(&b, vec![h], b.sample_rate());
    let fs = 44_100.0;
    let sb = stereo_build(&build_at_rate(p.build(), fs).unwrap()).unwrap();
    let early = session_early(&p, fs).unwrap().unwrap();
    let len = 4096;
    let fdn = impulse_response(&sb, len);
    let got = impulse_response_channels(&sb, Some(&early), 0, len);
    assert_eq!(got.len(), 2);
    for (o, ch) in got.iter().enumerate() {
        assert_eq!(ch.len(), len);
        let fir = early.ir(o, 0);
        for (n, v) in ch.iter().enumerate() {
            let want = fdn.at(n, o, 0) + fir.get(n).copied().unwrap_or(0.0);
            assert!((v - want).abs() < 1e-12, "output {o} sample {n}");
        }
    }
    // The mono preset's own FIR (one output) does not fit the stereo build: FDN alone.
    let alone = impulse_response_channels(&sb, p.early(), 0, len);
    assert_eq!(alone, impulse_response_channels(&sb, None, 0, len));
    assert_eq!(alone[1], fdn.channel(1, 0));
    assert!(impulse_response_channels(&sb, None, 1, len).is_empty());
}
