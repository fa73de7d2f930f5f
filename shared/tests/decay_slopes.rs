//! Lundeby noise floor and common-slope decay fits on synthetic decays with known decay times,
//! levels and noise floors, on the real meeting-room IR, and on bad input.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use tailor::analysis::noise::{lundeby, NoiseFloor};
use tailor::analysis::schroeder_edc_db;
use tailor::analysis::slopes::{
    fit_slopes, fit_slopes_auto, model_edc, schroeder_energy, DecayFitError, SlopeFit, RT60_DECAY,
};

const FS: f64 = 48000.0;

/// One exponential of a synthetic decay: RT60 (s) and its EDC level (dB, relative scale).
#[derive(Clone, Copy)]
struct Part {
    rt_s: f64,
    level_db: f64,
}

/// A synthetic decay: Gaussian noise (band-passed at 1 kHz when `band`) times the square root
/// of `Σ g_k·exp(−13.8155·t/T_k)`, plus white noise `floor_db` below the envelope peak energy.
struct Synth {
    ir: Vec<f64>,
    /// EDC amplitude `A_k` of each part (linear energy, the noise carrier's unit variance).
    amps: Vec<f64>,
}

fn gaussian(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| StandardNormal.sample(&mut rng)).collect()
}

/// RBJ band-pass (constant 0 dB peak gain) at `f0` Hz with quality `q`, rescaled to unit
/// variance.
fn band_pass(x: &[f64], f0: f64, q: f64) -> Vec<f64> {
    let w = 2.0 * std::f64::consts::PI * f0 / FS;
    let alpha = w.sin() / (2.0 * q);
    let a0 = 1.0 + alpha;
    let (b0, b2) = (alpha / a0, -alpha / a0);
    let (a1, a2) = (-2.0 * w.cos() / a0, (1.0 - alpha) / a0);
    let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
    let y: Vec<f64> = x
        .iter()
        .map(|&v| {
            let out = b0 * v + b2 * x2 - a1 * y1 - a2 * y2;
            (x2, x1, y2, y1) = (x1, v, y1, out);
            out
        })
        .collect();
    let rms = (y.iter().map(|v| v * v).sum::<f64>() / y.len() as f64).sqrt();
    y.iter().map(|v| v / rms).collect()
}

fn synth(len_s: f64, parts: &[Part], floor_db: Option<f64>, band: bool, seed: u64) -> Synth {
    let n = (len_s * FS) as usize;
    let mut carrier = gaussian(n, seed);
    if band {
        carrier = band_pass(&carrier, 1000.0, std::f64::consts::SQRT_2);
    }
    // g_k chosen so the EDC amplitude A_k = g_k / (1 − r_k) is 10^(level/10)·FS.
    let mut gains = Vec::new();
    let mut amps = Vec::new();
    for p in parts {
        let r = (-RT60_DECAY / (p.rt_s * FS)).exp();
        let a = 10f64.powf(p.level_db / 10.0) * FS;
        gains.push((a * (1.0 - r), r));
        amps.push(a);
    }
    let peak: f64 = gains.iter().map(|g| g.0).sum();
    let floor = gaussian(n, seed + 1000);
    let floor_amp = floor_db.map_or(0.0, |db| (peak * 10f64.powf(db / 10.0)).sqrt());
    let ir = (0..n)
        .map(|i| {
            let env: f64 = gains.iter().map(|&(g, r)| g * r.powi(i as i32)).sum();
            carrier[i] * env.sqrt() + floor_amp * floor[i]
        })
        .collect();
    Synth { ir, amps }
}

/// Checks that `fit` recovers `parts`: RT within 2 %, level (relative to the EDC at t = 0)
/// within 1 dB.
fn assert_recovers(fit: &SlopeFit, s: &Synth, parts: &[Part], edc0: f64) {
    assert_eq!(fit.slopes.len(), parts.len(), "{fit:#?}");
    for ((slope, part), a) in fit.slopes.iter().zip(parts).zip(&s.amps) {
        let rel = (slope.rt_s - part.rt_s).abs() / part.rt_s;
        assert!(rel < 0.02, "RT {} vs {} ({fit:#?})", slope.rt_s, part.rt_s);
        let want_db = 10.0 * (a / edc0).log10();
        assert!(
            (slope.level_db - want_db).abs() < 1.0,
            "level {} dB vs {want_db} dB ({fit:#?})",
            slope.level_db
        );
    }
}

fn print_fit(name: &str, fit: &SlopeFit) {
    let slopes: Vec<String> = fit
        .slopes
        .iter()
        .map(|s| format!("RT {:.3} s at {:.1} dB", s.rt_s, s.level_db))
        .collect();
    println!(
        "{name}: {} slopes [{}], noise {:.3e}, rms {:.3} dB",
        fit.slopes.len(),
        slopes.join(", "),
        fit.noise_level,
        fit.rms_error_db
    );
}

#[test]
fn one_slope_is_recovered_and_chosen() {
    let parts = [Part {
        rt_s: 1.3,
        level_db: 0.0,
    }];
    let s = synth(3.0, &parts, None, false, 1);
    let edc = schroeder_energy(&s.ir);
    let fit = fit_slopes(&edc, FS, 1, false).unwrap();
    print_fit("one slope, K=1", &fit);
    assert_recovers(&fit, &s, &parts, edc[0]);
    let auto = fit_slopes_auto(&edc, FS, 3, false).unwrap();
    print_fit("one slope, auto", &auto);
    assert_recovers(&auto, &s, &parts, edc[0]);
    // The model reproduces the EDC it was fitted to.
    for t in [0.0, 0.5, 1.0, 2.0] {
        let i = (t * FS) as usize;
        let d = 10.0 * (model_edc(&fit, t) / edc[i]).log10();
        assert!(d.abs() < 0.5, "model off by {d} dB at {t} s");
    }
}

#[test]
fn two_slopes_with_noise_floor_are_recovered_and_chosen() {
    let parts = [
        Part {
            rt_s: 0.25,
            level_db: 0.0,
        },
        Part {
            rt_s: 1.6,
            level_db: -15.0,
        },
    ];
    let s = synth(4.0, &parts, Some(-70.0), false, 2);
    let edc = schroeder_energy(&s.ir);
    let fit = fit_slopes(&edc, FS, 2, true).unwrap();
    print_fit("two slopes + floor, K=2", &fit);
    assert_recovers(&fit, &s, &parts, edc[0]);
    assert!(fit.noise_level > 0.0);
    let auto = fit_slopes_auto(&edc, FS, 3, true).unwrap();
    print_fit("two slopes + floor, auto", &auto);
    assert_recovers(&auto, &s, &parts, edc[0]);
    // One slope cannot describe it.
    let one = fit_slopes(&edc, FS, 1, true).unwrap();
    print_fit("two slopes + floor, K=1", &one);
    assert!(one.rms_error_db > 4.0 * fit.rms_error_db);
}

#[test]
fn three_slopes_are_recovered_and_chosen() {
    let parts = [
        Part {
            rt_s: 0.15,
            level_db: 0.0,
        },
        Part {
            rt_s: 0.6,
            level_db: -15.0,
        },
        Part {
            rt_s: 2.5,
            level_db: -30.0,
        },
    ];
    let s = synth(3.0, &parts, None, false, 3);
    let edc = schroeder_energy(&s.ir);
    let fit = fit_slopes(&edc, FS, 3, false).unwrap();
    print_fit("three slopes, K=3", &fit);
    assert_recovers(&fit, &s, &parts, edc[0]);
    let auto = fit_slopes_auto(&edc, FS, 3, false).unwrap();
    print_fit("three slopes, auto", &auto);
    assert_recovers(&auto, &s, &parts, edc[0]);
}

#[test]
fn band_filtered_two_slopes_are_recovered() {
    let parts = [
        Part {
            rt_s: 0.3,
            level_db: 0.0,
        },
        Part {
            rt_s: 1.2,
            level_db: -12.0,
        },
    ];
    let s = synth(3.0, &parts, None, true, 4);
    let edc = schroeder_energy(&s.ir);
    let fit = fit_slopes(&edc, FS, 2, false).unwrap();
    print_fit("band-passed two slopes, K=2", &fit);
    assert_recovers(&fit, &s, &parts, edc[0]);
    let auto = fit_slopes_auto(&edc, FS, 3, false).unwrap();
    print_fit("band-passed two slopes, auto", &auto);
    assert_eq!(auto.slopes.len(), 2);
}

fn assert_floor(nf: &NoiseFloor, floor_db: f64, crossing_s: f64) {
    // The noise is given relative to the peak 30 ms block, which sits up to 2 dB under the
    // decay's peak for a 0.5 s decay: 3 dB of slack.
    assert!(
        (nf.noise_db - floor_db).abs() < 3.0,
        "noise {} dB vs {floor_db} dB ({nf:?})",
        nf.noise_db
    );
    assert!(
        (nf.truncation_s - crossing_s).abs() < 0.1 * crossing_s,
        "truncation {} s vs {crossing_s} s ({nf:?})",
        nf.truncation_s
    );
    assert!((nf.decay_range_db + nf.noise_db).abs() < 1e-9);
}

#[test]
fn lundeby_finds_known_noise_floors() {
    let rt = Part {
        rt_s: 1.3,
        level_db: 0.0,
    };
    let s = synth(3.0, &[rt], Some(-70.0), false, 5);
    let nf = lundeby(&s.ir, FS).unwrap();
    println!("RT 1.3 s, floor -70 dB: {nf:?}");
    assert_floor(&nf, -70.0, 1.3 * 70.0 / 60.0);
    assert!(!nf.noise_free);
    assert_eq!(nf.truncation_index, (nf.truncation_s * FS).round() as usize);

    let short = Part {
        rt_s: 0.5,
        level_db: 0.0,
    };
    let s = synth(1.5, &[short], Some(-45.0), true, 6);
    let nf = lundeby(&s.ir, FS).unwrap();
    println!("RT 0.5 s band-passed, floor -45 dB: {nf:?}");
    assert_floor(&nf, -45.0, 0.5 * 45.0 / 60.0);
}

#[test]
fn lundeby_truncates_a_noise_free_decay_at_its_end() {
    let rt = Part {
        rt_s: 0.8,
        level_db: 0.0,
    };
    let s = synth(2.0, &[rt], None, false, 7);
    let nf = lundeby(&s.ir, FS).unwrap();
    println!("noise-free: {nf:?}");
    assert_eq!(nf.truncation_index, s.ir.len());
    assert!(nf.noise_db < -120.0, "{nf:?}");
}

#[test]
fn lundeby_rejects_bad_input() {
    let noise = gaussian(48000, 8);
    assert!(matches!(
        lundeby(&noise, FS),
        Err(DecayFitError::NoDecay { .. })
    ));
    assert!(matches!(lundeby(&[], FS), Err(DecayFitError::Empty { .. })));
    let mut nan = noise.clone();
    nan[100] = f64::NAN;
    assert!(matches!(
        lundeby(&nan, FS),
        Err(DecayFitError::NonFinite { index: 100, .. })
    ));
    assert!(matches!(
        lundeby(&vec![0.0; 48000], FS),
        Err(DecayFitError::Silent { .. })
    ));
    assert!(matches!(
        lundeby(&noise[..10], FS),
        Err(DecayFitError::TooShort { .. })
    ));
    assert!(matches!(
        lundeby(&noise[..(0.04 * FS) as usize], FS),
        Err(DecayFitError::TooShort { .. })
    ));
    assert!(matches!(
        lundeby(&noise, f64::NAN),
        Err(DecayFitError::SampleRate(_))
    ));
    let err = lundeby(&noise, FS).unwrap_err().to_string();
    assert!(err.contains("no decay"), "{err}");
}

#[test]
fn fits_reject_bad_input() {
    let s = synth(
        1.0,
        &[Part {
            rt_s: 0.5,
            level_db: 0.0,
        }],
        None,
        false,
        9,
    );
    let edc = schroeder_energy(&s.ir);
    for f in [fit_slopes, fit_slopes_auto] {
        assert!(matches!(
            f(&[], FS, 1, false),
            Err(DecayFitError::Empty { .. })
        ));
        assert!(matches!(
            f(&edc[..10], FS, 1, false),
            Err(DecayFitError::TooShort { len: 10, .. })
        ));
        let mut nan = edc.clone();
        nan[5] = f64::NAN;
        assert!(matches!(
            f(&nan, FS, 1, false),
            Err(DecayFitError::NonFinite { index: 5, .. })
        ));
        assert!(matches!(
            f(&vec![0.0; 1000], FS, 1, false),
            Err(DecayFitError::Silent { .. })
        ));
        let mut neg = edc.clone();
        neg[7] = -1.0;
        assert!(matches!(
            f(&neg, FS, 1, false),
            Err(DecayFitError::NegativeEnergy { index: 7, .. })
        ));
        assert!(matches!(
            f(&edc, FS, 0, false),
            Err(DecayFitError::SlopeCount { n: 0, .. })
        ));
        assert!(matches!(
            f(&edc, FS, 4, false),
            Err(DecayFitError::SlopeCount { n: 4, .. })
        ));
        assert!(matches!(
            f(&edc, -1.0, 1, false),
            Err(DecayFitError::SampleRate(_))
        ));
    }
}

#[test]
fn schroeder_energy_matches_the_db_curve() {
    let x = gaussian(1000, 10);
    let lin = schroeder_energy(&x);
    let db = schroeder_edc_db(&x);
    for (l, d) in lin.iter().zip(&db) {
        assert!((10.0 * (l / lin[0]).log10() - d).abs() < 1e-9);
    }
}

#[test]
fn meeting_room_ir_has_a_fast_then_slow_decay() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/rir/meetingroom_to_hallway_290cm.wav"
    );
    let audio = tailor::wav::read_wav(std::path::Path::new(path)).unwrap();
    let fs = audio.sample_rate;
    let ch = &audio.channels[0];
    let peak = ch
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
        .unwrap()
        .0;
    let ir = &ch[peak..];
    let nf = lundeby(ir, fs).unwrap();
    println!(
        "meeting room: {} samples at {fs} Hz, peak at {peak}, {nf:?}",
        ch.len()
    );
    assert!(nf.decay_range_db > 30.0, "{nf:?}");
    let edc = schroeder_energy(&ir[..nf.truncation_index]);
    let start = std::time::Instant::now();
    let fit = fit_slopes_auto(&edc, fs, 3, true).unwrap();
    println!("auto fit took {:?}", start.elapsed());
    print_fit("meeting room broadband, auto", &fit);
    assert!(fit.slopes.len() >= 2, "{fit:#?}");
    assert!(fit.slopes[0].rt_s < 0.5 * fit.slopes[1].rt_s, "{fit:#?}");
    for k in 1..=3 {
        let f = fit_slopes(&edc, fs, k, true).unwrap();
        print_fit(&format!("meeting room broadband, K={k}"), &f);
    }
}
