//! Behaviour of the real-time reverb (the engine inside the one mix, [`tailor::fx::Reverb`]):
//! click-free preset swaps, smooth controls, the decay-scale and pre-delay controls against the
//! exact recursion, bad input, reset, odd buffers, refused builds, denormals.

mod engine_common;

use engine_common::*;
use tailor::engine::{EngineConfig, EngineError, SimdLevel};
use tailor::fx::Reverb;
use tailor::matrix::Matrix;
use tailor::preset::Build;
use tailor::response::impulse_response;

fn max_step(y: &[f32]) -> f32 {
    y.windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0, f32::max)
}

/// Sets the decay scale (×) of `r`.
fn set_decay(r: &mut Reverb, scale: f32) {
    let mut c = r.controls();
    c.decay_scale = scale;
    r.set_controls(&c);
}

/// Sets the pre-delay (ms) of `r`.
fn set_predelay(r: &mut Reverb, ms: f32) {
    let mut c = r.controls();
    c.mix.predelay_ms = ms;
    r.set_controls(&c);
}

/// Sets the dry/wet balance of `r` (dry = 1 − mix, wet = mix).
fn set_mix(r: &mut Reverb, mix: f32) {
    let mut c = r.controls();
    (c.mix.dry, c.mix.wet) = (1.0 - mix, mix);
    r.set_controls(&c);
}

/// Sets the output gain (dB) of `r`.
fn set_gain_db(r: &mut Reverb, db: f32) {
    let mut c = r.controls();
    c.mix.output_gain_db = db;
    r.set_controls(&c);
}

/// Renders mono `x` in blocks of `block` through `engine`, calling `between(k, engine)` before
/// block k.
fn render(
    engine: &mut Reverb,
    x: &[f32],
    block: usize,
    mut between: impl FnMut(usize, &mut Reverb),
) -> Vec<f32> {
    let mut y = vec![0.0f32; x.len()];
    for (k, (xi, yi)) in x.chunks(block).zip(y.chunks_mut(block)).enumerate() {
        between(k, engine);
        engine.process(&[xi], &mut [yi]);
    }
    y
}

#[test]
fn preset_swaps_every_100_ms_for_60_s_do_not_click() {
    let presets = colorless_with_decay();
    let cycle: Vec<&Build> = [0usize, 4, 6, 7].iter().map(|&k| &presets[k].1).collect();
    let fs = 48_000.0;
    let x = noise(60 * 48_000, 3);
    let block = 480; // 10 ms
    let cfg = EngineConfig::new(fs, 1, 1);
    // The signal's own largest step: each preset rendered without swaps.
    let mut own = 0.0f32;
    for b in &cycle {
        let mut e = Reverb::prepare(b, &cfg).unwrap();
        own = own.max(max_step(&render(&mut e, &x, block, |_, _| {})));
    }
    let mut e = Reverb::prepare(cycle[0], &cfg).unwrap();
    let handle = e.swap_handle();
    let mut next = 1;
    let y = render(&mut e, &x, block, |k, _| {
        if k > 0 && k % 10 == 0 {
            handle.collect_retired();
            handle.swap_to(cycle[next % cycle.len()]).unwrap();
            next += 1;
        }
    });
    assert!(y.iter().all(|v| v.is_finite()));
    assert!(
        e.engine().swaps_completed() >= 595,
        "{} swaps",
        e.engine().swaps_completed()
    );
    let step = max_step(&y);
    assert!(
        step <= 1.5 * own,
        "largest step {step} vs the signal's own {own}"
    );
}

/// A 100 Hz sine through colorless_N8_d1 (+ decay) with every control changed abruptly at 1 s
/// (all ending no louder); returns (largest step before, largest step after the change).
fn control_change_steps(smoothing_ms: f64) -> (f32, f32) {
    let p = tailor::preset::bundled_preset("colorless_N8_d1").unwrap();
    let build = tailor::with_decay(p.build(), (2.0, 0.5)).unwrap();
    let mut cfg = EngineConfig::for_build(&build);
    cfg.smoothing_ms = smoothing_ms;
    let mut e = Reverb::prepare(&build, &cfg).unwrap();
    set_mix(&mut e, 0.8);
    e.snap_controls();
    let x: Vec<f32> = (0..96_000)
        .map(|n| (2.0 * std::f32::consts::PI * 100.0 * n as f32 / 48_000.0).sin() * 0.5)
        .collect();
    let y = render(&mut e, &x, 256, |k, e| {
        if k == 48_000 / 256 {
            set_gain_db(e, -6.0);
            set_mix(e, 0.4);
            set_predelay(e, 5.0);
            set_decay(e, 0.5);
        }
    });
    assert!(y.iter().all(|v| v.is_finite()));
    let cut = (48_000 / 256) * 256;
    (max_step(&y[24_000..cut]), max_step(&y[cut - 1..]))
}

#[test]
fn control_changes_are_smooth() {
    let (before, after) = control_change_steps(20.0);
    assert!(
        after <= 1.5 * before,
        "smoothed: step {after} after the change vs {before} before"
    );
    // The same changes without smoothing do click: the check above can fail.
    let (before, after) = control_change_steps(0.0);
    assert!(after > 1.5 * before, "unsmoothed: {after} vs {before}");
}

/// A control setter of the engine (value in the control's unit).
type Setter = fn(&mut Reverb, f32);

/// A 110 Hz sine through colorless_N8_d1 (+ decay), fully wet; `set(engine, from)` before the
/// start, `set(engine, to)` at 1 s. Returns (largest step in the 100 ms after the jump, largest
/// step in the same 100 ms of steady renders at `from` and at `to`).
fn jump_steps(set: Setter, from: f32, to: f32) -> (f32, f32) {
    let p = tailor::preset::bundled_preset("colorless_N8_d1").unwrap();
    let build = tailor::with_decay(p.build(), (2.0, 0.5)).unwrap();
    let cfg = EngineConfig::for_build(&build);
    let x: Vec<f32> = (0..60_000)
        .map(|n| (2.0 * std::f32::consts::PI * 110.0 * n as f32 / 48_000.0).sin() * 0.5)
        .collect();
    let jump = 48_000 / 256;
    let run = |start: f32, then: f32| {
        let mut e = Reverb::prepare(&build, &cfg).unwrap();
        set(&mut e, start);
        e.snap_controls();
        render(&mut e, &x, 256, |k, e| {
            if k == jump {
                set(e, then);
            }
        })
    };
    let span = jump * 256 - 1..jump * 256 + 4_800;
    let steady = max_step(&run(from, from)[span.clone()]).max(max_step(&run(to, to)[span.clone()]));
    (max_step(&run(from, to)[span]), steady)
}

#[test]
fn predelay_and_decay_jumps_between_their_ends_do_not_click() {
    // A read position gliding 500 ms in 20 ms would replay the sine 25 times too fast; a decay
    // scale gliding linearly in scale would move most of the attenuation in its last update.
    let cases: [(&str, Setter, f32, f32); 5] = [
        ("pre-delay", set_predelay, 0.0, 500.0),
        ("pre-delay", set_predelay, 500.0, 0.0),
        ("pre-delay", set_predelay, 3.0, 250.0),
        ("decay", set_decay, 10.0, 0.1),
        ("decay", set_decay, 0.1, 10.0),
    ];
    for (name, set, from, to) in cases {
        let (step, steady) = jump_steps(set, from, to);
        eprintln!(
            "{name} {from} → {to}: step {:.2} × the steady signals'",
            step / steady
        );
        assert!(
            step <= 1.5 * steady,
            "{name} {from} → {to}: step {step} vs the steady signals' {steady}"
        );
    }
}

#[test]
fn outputs_left_out_are_skipped_and_exact_again_when_asked_for() {
    let p = tailor::preset::bundled_preset("colorless_N8_d1").unwrap();
    let mono = tailor::with_decay(p.build(), (2.0, 0.5)).unwrap();
    let build = tailor::fx::stereo_build(&mono).unwrap();
    assert!(build.post_output().is_none());
    let cfg = EngineConfig::new(build.sample_rate(), 1, 2);
    let x = noise(24_000, 9);
    let (mut all, mut some) = (
        Reverb::prepare(&build, &cfg).unwrap(),
        Reverb::prepare(&build, &cfg).unwrap(),
    );
    let mut want = [vec![0.0f32; x.len()], vec![0.0f32; x.len()]];
    let mut got = [vec![0.0f32; x.len()], vec![0.0f32; x.len()]];
    for (k, start) in (0..x.len()).step_by(300).enumerate() {
        let r = start..(start + 300).min(x.len());
        let (w0, w1) = want.split_at_mut(1);
        all.process(
            &[&x[r.clone()]],
            &mut [&mut w0[0][r.clone()], &mut w1[0][r.clone()]],
        );
        let (g0, g1) = got.split_at_mut(1);
        // Output 1 is left out for the first 12 000 samples, then asked for again.
        if k < 40 {
            some.process(&[&x[r.clone()]], &mut [&mut g0[0][r.clone()]]);
        } else {
            some.process(
                &[&x[r.clone()]],
                &mut [&mut g0[0][r.clone()], &mut g1[0][r]],
            );
        }
    }
    assert_eq!(got[0], want[0]);
    // The delay lines ran all along, so the output is exact from its first sample back.
    assert_eq!(got[1][12_000..], want[1][12_000..]);
    assert!(want[1][12_000..].iter().any(|&v| v != 0.0));
}

#[test]
fn decay_scale_and_predelay_match_the_exact_recursion() {
    let p = tailor::preset::bundled_preset("colorless_N16_d1").unwrap();
    let base = tailor::with_decay(p.build(), (2.0, 0.5)).unwrap();
    let target = tailor::with_decay(p.build(), (4.0, 1.0)).unwrap();
    let len = 96_000;
    let reference = impulse_response(&target, len);
    let peak = reference.max_abs();
    let mut e = Reverb::prepare(&base, &EngineConfig::for_build(&base)).unwrap();
    set_decay(&mut e, 2.0);
    set_predelay(&mut e, 10.0);
    e.snap_controls();
    let mut x = vec![0.0f32; len];
    x[0] = 1.0;
    let y = render(&mut e, &x, 512, |_, _| {});
    let shift = 480;
    for (t, &v) in y.iter().enumerate() {
        let r = if t >= shift {
            reference.at(t - shift, 0, 0)
        } else {
            0.0
        };
        assert!((f64::from(v) - r).abs() <= 1e-5 * peak, "t {t}: {v} vs {r}");
    }
}

#[test]
fn nan_input_is_silenced_and_reset_clears_everything() {
    let presets = colorless_with_decay();
    let build = &presets[6].1;
    let cfg = EngineConfig::for_build(build);
    let mut x = noise(20_000, 5);
    let clean: Vec<f32> = x.clone();
    let mut clean_zeroed = clean.clone();
    for k in [10usize, 11, 500, 7777] {
        x[k] = if k % 2 == 0 { f32::NAN } else { f32::INFINITY };
        clean_zeroed[k] = 0.0;
    }
    let mut a = Reverb::prepare(build, &cfg).unwrap();
    let mut b = Reverb::prepare(build, &cfg).unwrap();
    let ya = render(&mut a, &x, 333, |_, _| {});
    let yb = render(&mut b, &clean_zeroed, 333, |_, _| {});
    assert!(ya.iter().all(|v| v.is_finite()));
    assert_eq!(ya, yb, "non-finite input samples act as zeros");

    // After reset the engine behaves like a fresh one.
    a.reset();
    let mut fresh = Reverb::prepare(build, &cfg).unwrap();
    let y1 = render(&mut a, &clean, 100, |_, _| {});
    let y2 = render(&mut fresh, &clean, 100, |_, _| {});
    assert_eq!(y1, y2);
}

#[test]
fn any_buffer_shape_is_handled_without_panic() {
    let build = short_delay_build_with_hooks();
    let mut cfg = EngineConfig::for_build(&build);
    cfg.max_block = 64;
    let x0 = noise(100_000, 8);
    let x1 = noise(100_000, 9);
    // One huge call equals many small calls.
    let mut a = Reverb::prepare(&build, &cfg).unwrap();
    let mut b = Reverb::prepare(&build, &cfg).unwrap();
    let mut ya = vec![vec![0.0f32; 100_000]; 3];
    {
        let mut outs: Vec<&mut [f32]> = ya.iter_mut().map(|v| v.as_mut_slice()).collect();
        a.process(&[&x0, &x1], &mut outs);
    }
    let mut yb = vec![vec![0.0f32; 100_000]; 3];
    for t in (0..100_000).step_by(64) {
        let e = (t + 64).min(100_000);
        let mut outs: Vec<&mut [f32]> = yb.iter_mut().map(|v| &mut v[t..e]).collect();
        b.process(&[&x0[t..e], &x1[t..e]], &mut outs);
    }
    assert_eq!(ya, yb);
    // Missing inputs, extra outputs, ragged lengths, empty buffers.
    let mut o1 = vec![1.0f32; 300];
    let mut o2 = vec![1.0f32; 200];
    let mut o3 = vec![1.0f32; 300];
    let mut o4 = vec![1.0f32; 300];
    a.process(&[], &mut [&mut o1, &mut o2, &mut o3, &mut o4]);
    a.process(&[&x0[..10]], &mut [&mut o1, &mut o2, &mut o3, &mut o4]);
    assert!(
        o4[..200].iter().all(|&v| v == 0.0),
        "extra outputs are zeroed"
    );
    assert!(o1.iter().chain(&o2).chain(&o3).all(|v| v.is_finite()));
    a.process(&[], &mut []);
    a.process(&[&[]], &mut [&mut []]);
}

#[test]
fn bad_builds_and_configs_are_refused() {
    let p = tailor::preset::bundled_preset("colorless_N4_d1").unwrap();
    let mut parts = p.build().parts().clone();
    parts.a =
        Matrix::from_row_major(4, 4, parts.a.as_slice().iter().map(|v| 1.5 * v).collect()).unwrap();
    let unstable = Build::new(parts).unwrap();
    let cfg = EngineConfig::for_build(&unstable);
    assert!(matches!(
        Reverb::prepare(&unstable, &cfg),
        Err(EngineError::Build(_))
    ));
    let good = p.build();
    let mut cfg = EngineConfig::for_build(good);
    cfg.sample_rate = 44_100.0;
    assert!(matches!(
        Reverb::prepare(good, &cfg),
        Err(EngineError::SampleRate { .. })
    ));
    for bad in [
        EngineConfig {
            max_block: 0,
            ..EngineConfig::for_build(good)
        },
        EngineConfig {
            crossfade_ms: f64::NAN,
            ..EngineConfig::for_build(good)
        },
        EngineConfig {
            outputs: 0,
            ..EngineConfig::for_build(good)
        },
    ] {
        assert!(matches!(
            Reverb::prepare(good, &bad),
            Err(EngineError::Config(_))
        ));
    }
    // Non-finite control values are ignored.
    let mut e = Reverb::prepare(good, &EngineConfig::for_build(good)).unwrap();
    let before = e.controls();
    set_decay(&mut e, f32::NAN);
    set_predelay(&mut e, f32::INFINITY);
    set_gain_db(&mut e, f32::NAN);
    assert_eq!(e.controls(), before);
}

#[cfg(target_arch = "x86_64")]
#[test]
fn subnormal_signals_are_flushed() {
    let presets = colorless_with_decay();
    let build = &presets[4].1;
    let mut e = Reverb::prepare(build, &EngineConfig::for_build(build)).unwrap();
    set_mix(&mut e, 0.5);
    e.snap_controls();
    let x: Vec<f32> = noise(20_000, 4).iter().map(|v| v * 1e-38).collect();
    assert!(x.iter().any(|v| v.is_subnormal()));
    let y = render(&mut e, &x, 256, |_, _| {});
    assert!(y.iter().all(|v| *v == 0.0 || v.is_normal()));
    // The portable kernels too.
    let mut cfg = EngineConfig::for_build(build);
    cfg.simd = SimdLevel::Portable;
    let mut e = Reverb::prepare(build, &cfg).unwrap();
    let y = render(&mut e, &x, 256, |_, _| {});
    assert!(y.iter().all(|v| *v == 0.0 || v.is_normal()));
}
