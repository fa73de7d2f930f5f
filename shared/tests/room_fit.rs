//! Room fitting on the bundled meeting-room IR (a coupled space: meeting room opening onto a
//! hallway): analysis finds two slopes, the closed-loop design meets the acceptance figures.

use tailor::room::analysis::{analyse_room, design_start, SlopeChoice};
use tailor::room::design::{design, DesignOptions};

fn meeting_room() -> (Vec<f64>, f64) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/rir/meetingroom_to_hallway_290cm.wav"
    );
    let audio = tailor::wav::read_wav(std::path::Path::new(path)).unwrap();
    (audio.channels[0].clone(), audio.sample_rate)
}

fn run(slopes: SlopeChoice, early: bool) -> tailor::room::design::Design {
    let (ir, fs) = meeting_room();
    let a = analyse_room(&ir, fs, slopes).unwrap();
    eprintln!(
        "slopes {:?} noise {:.1} dB trunc {:.3} s mixing {:?} early_end {:.3} band_rt {:?}",
        a.broadband.slopes,
        a.noise.noise_db,
        a.noise.truncation_s,
        a.mixing_time_s,
        a.early_end_s,
        a.band_rt_s
    );
    let start = design_start(&a);
    eprintln!("start {start:?}");
    let end = (a.early_end_s * fs).round() as usize;
    let fade = (end / 4).max((0.005 * fs) as usize).min(end);
    let opts = DesignOptions {
        early: early.then_some((end - fade, end)),
        ..DesignOptions::default()
    };
    let d = design(&a.ir, fs, &start, &opts, |it, s| {
        eprintln!("iteration {it}: score {s:.3}");
        std::ops::ControlFlow::Continue(())
    })
    .unwrap();
    let c = &d.best.comparison;
    eprintln!(
        "{slopes:?} early={early}: mean {:?} worst {:?} edc {:.3} level {:.3} mel {:.3} rt_a {:?} rt_b {:?}",
        c.mean_rt_error_pct, c.worst_rt_error_pct, c.edc_error_db, c.level_error_db, c.mel_lsd_db, c.rt_a_s, c.rt_b_s
    );
    d
}

#[test]
fn meeting_room_full_fit_meets_the_figures() {
    let d = run(SlopeChoice::Auto, true);
    // The engine (f32, what the plugin plays) renders the fitted preset — FDN plus early FIR —
    // like the exact offline render (`tailor render`).
    let fs = d.best.build.sample_rate();
    let mut preset = tailor::Preset::from_build(d.best.build.clone(), "fit");
    let early =
        tailor::preset::EarlyReflections::new(fs, vec![vec![d.best.early_fir.clone()]]).unwrap();
    preset.set_early(Some(early)).unwrap();
    let len = (1.5 * fs) as usize;
    let exact = tailor::response::preset_impulse_response(&preset, len, true)
        .unwrap()
        .channel(0, 0);
    let cfg = tailor::engine::EngineConfig::for_build(preset.build());
    let mut engine = tailor::engine::Engine::prepare_preset(&preset, &cfg).unwrap();
    let mut x = vec![0.0f32; len];
    x[0] = 1.0;
    let mut y = vec![0.0f32; len];
    for (xb, yb) in x.chunks(512).zip(y.chunks_mut(512)) {
        engine.process(&[xb], &mut [yb]);
    }
    let peak = exact.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let err = exact
        .iter()
        .zip(&y)
        .map(|(a, b)| (a - f64::from(*b)).abs())
        .fold(0.0, f64::max);
    let fdn = tailor::room::design::render_fdn(&d.best.build, len);
    let fdn_exact = tailor::response::impulse_response(&d.best.build, len).channel(0, 0);
    let e2 = fdn
        .iter()
        .zip(&fdn_exact)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let fir_peak = d.best.early_fir.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let fdn_peak = fdn_exact.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    eprintln!(
        "engine vs offline {:.3e}, FDN alone {:.3e} (peaks: total {peak:.3}, FIR {fir_peak:.3}, FDN {fdn_peak:.3})",
        err / peak,
        e2 / peak
    );
    assert!(err / peak <= 1e-5, "engine vs offline: {:.3e}", err / peak);
    assert!(e2 / peak <= 1e-5, "render_fdn vs exact: {:.3e}", e2 / peak);
    let c = &d.best.comparison;
    assert!(c.mean_rt_error_pct.unwrap() <= 2.0, "{c:?}");
    assert!(c.worst_rt_error_pct.unwrap() <= 5.0, "{c:?}");
    assert!(c.edc_error_db <= 1.0, "{c:?}");
    assert!(c.level_error_db <= 0.5, "{c:?}");
}

/// A synthetic hall (not the meeting room): octave bands of seeded noise, each decaying with its own
/// RT (2.4 s at 125 Hz down to 1.1 s at 8 kHz), a direct impulse and three early reflections, at
/// 44.1 kHz, 3 s long.
fn synthetic_hall() -> (Vec<f64>, f64) {
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};
    let fs = 44_100.0;
    let len = (3.0 * fs) as usize;
    let rts = [2.4, 2.3, 2.1, 1.9, 1.7, 1.4, 1.1];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let mut ir = vec![0.0; len];
    for (&fc, &rt) in tailor::analysis::bands::OCTAVE_BANDS_HZ.iter().zip(&rts) {
        let noise: Vec<f64> = (0..len).map(|_| StandardNormal.sample(&mut rng)).collect();
        let band = tailor::analysis::bands::band_filter(&noise, fs, fc, 1).unwrap();
        for (n, (y, b)) in ir.iter_mut().zip(&band).enumerate() {
            *y += 0.05 * b * 10f64.powf(-3.0 * n as f64 / fs / rt);
        }
    }
    for (t, g) in [(0.0, 1.0), (0.007, 0.5), (0.013, -0.4), (0.021, 0.3)] {
        ir[(t * fs) as usize] += g;
    }
    (ir, fs)
}

#[test]
fn a_synthetic_hall_meets_the_figures_too() {
    let (ir, fs) = synthetic_hall();
    let a = analyse_room(&ir, fs, SlopeChoice::Auto).unwrap();
    eprintln!(
        "hall: slopes {:?} band_rt {:?}",
        a.broadband.slopes, a.band_rt_s
    );
    let start = design_start(&a);
    let end = (a.early_end_s * fs).round() as usize;
    let fade = (end / 4).max((0.005 * fs) as usize).min(end);
    let opts = DesignOptions {
        early: Some((end - fade, end)),
        ..DesignOptions::default()
    };
    let d = design(&a.ir, fs, &start, &opts, |it, s| {
        eprintln!("hall iteration {it}: {s:.3}");
        std::ops::ControlFlow::Continue(())
    })
    .unwrap();
    let c = &d.best.comparison;
    eprintln!("hall: {c:?}");
    assert!(c.mean_rt_error_pct.unwrap() <= 2.0, "{c:?}");
    assert!(c.worst_rt_error_pct.unwrap() <= 5.0, "{c:?}");
    assert!(c.edc_error_db <= 1.0, "{c:?}");
    assert!(c.level_error_db <= 0.5, "{c:?}");
}

#[test]
fn meeting_room_pure_fdn_variants_run() {
    for (s, e) in [(SlopeChoice::Fixed(1), false), (SlopeChoice::Auto, false)] {
        let d = run(s, e);
        assert!(d.best.score.is_finite());
    }
}
