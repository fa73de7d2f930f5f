//! Late inter-channel coherence of a two-channel impulse response, per octave band: how alike
//! the two channels of a stereo room are once the field is diffuse (typically correlated in the
//! lows, near 0 in the highs for spaced or coincident-angled microphones).

use super::bands::{band_filter, band_fits, OCTAVE_BANDS_HZ};
use super::error::{validate_ir, validate_rate, AnalysisError};
use super::onset::onset_index;

/// Start of the late part, seconds after the pair's onset (80 ms).
pub const LATE_FROM_S: f64 = 0.080;

/// Late inter-channel coherence of `a` and `b` (one IR's two channels, at `fs` Hz) in each octave
/// band of [`OCTAVE_BANDS_HZ`]: the normalised cross-correlation at lag 0,
/// `Σ a_b·b_b / √(Σ a_b² · Σ b_b²)`, of the IEC band-filtered channels from [`LATE_FROM_S`] after
/// the pair's onset (the earlier of the two channels' onsets, so their relative delay is kept).
/// Between −1 and 1; `None` for a band above Nyquist or one channel silent in it. Errors name the
/// channel ("A"/"B") that is empty, non-finite, silent or too short to have a late part.
pub fn late_coherence(a: &[f64], b: &[f64], fs: f64) -> Result<Vec<Option<f64>>, AnalysisError> {
    validate_rate(fs)?;
    validate_ir(a, "A")?;
    validate_ir(b, "B")?;
    let onset = |x: &[f64], what: &str| {
        onset_index(x).ok_or_else(|| AnalysisError::Silent { what: what.into() })
    };
    let on = onset(a, "A")?.min(onset(b, "B")?);
    let from = on + (LATE_FROM_S * fs).round() as usize;
    let n = a.len().min(b.len());
    // At least 20 ms of late part.
    let min = (0.020 * fs).ceil() as usize;
    if n < from + min {
        return Err(AnalysisError::TooShort {
            what: "stereo pair (late part from 80 ms after the onset)".into(),
            samples: n.saturating_sub(on),
            min: from - on + min,
        });
    }
    let (a, b) = (&a[..n], &b[..n]);
    Ok(OCTAVE_BANDS_HZ
        .iter()
        .map(|&fc| {
            if !band_fits(fc, fs, 1) {
                return None;
            }
            let ya = band_filter(a, fs, fc, 1).ok()?;
            let yb = band_filter(b, fs, fc, 1).ok()?;
            normalised_correlation(&ya[from..], &yb[from..])
        })
        .collect())
}

/// `Σ x·y / √(Σ x² · Σ y²)`; `None` when either is silent.
pub fn normalised_correlation(x: &[f64], y: &[f64]) -> Option<f64> {
    let (mut xy, mut xx, mut yy) = (0.0, 0.0, 0.0);
    for (p, q) in x.iter().zip(y) {
        xy += p * q;
        xx += p * p;
        yy += q * q;
    }
    (xx > 0.0 && yy > 0.0).then(|| (xy / (xx * yy).sqrt()).clamp(-1.0, 1.0))
}

/// Largest |coherence difference| over the bands where both pairs have a value; `None` when no
/// band has both.
pub fn max_coherence_error(a: &[Option<f64>], b: &[Option<f64>]) -> Option<f64> {
    a.iter()
        .zip(b)
        .filter_map(|(x, y)| Some((x.as_ref()? - y.as_ref()?).abs()))
        .fold(None, |m: Option<f64>, d| Some(m.map_or(d, |m| m.max(d))))
}

/// A two-channel decaying noise at `fs` Hz, `seconds` long, with the late coherence `rho(f)`
/// (f in Hz) between its channels: white noises `U`, `V` mixed in the frequency domain as
/// `L = U`, `R = ρ·U + √(1−ρ²)·V`, then both given the same exponential decay (`rt_s` seconds to
/// −60 dB). The test signal of the stereo analysis and fit (deterministic for a `seed`).
pub fn synthetic_stereo_ir(
    fs: f64,
    seconds: f64,
    rt_s: f64,
    seed: u64,
    rho: impl Fn(f64) -> f64,
) -> (Vec<f64>, Vec<f64>) {
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};
    use realfft::RealFftPlanner;
    let n = ((seconds * fs).round() as usize).max(2) & !1;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut noise = || -> Vec<f64> { (0..n).map(|_| StandardNormal.sample(&mut rng)).collect() };
    let (mut u, mut v) = (noise(), noise());
    let mut planner = RealFftPlanner::<f64>::new();
    let fwd = planner.plan_fft_forward(n);
    let inv = planner.plan_fft_inverse(n);
    let mut su = fwd.make_output_vec();
    let mut sv = fwd.make_output_vec();
    fwd.process(&mut u, &mut su).expect("sizes from the plan");
    fwd.process(&mut v, &mut sv).expect("sizes from the plan");
    let mut sr: Vec<_> = su
        .iter()
        .zip(&sv)
        .enumerate()
        .map(|(k, (x, y))| {
            let r = rho(k as f64 * fs / n as f64).clamp(-1.0, 1.0);
            x * r + y * (1.0 - r * r).sqrt()
        })
        .collect();
    // The DC and Nyquist bins of a real signal are real.
    sr[0].im = 0.0;
    if let Some(last) = sr.last_mut() {
        last.im = 0.0;
    }
    let mut l = vec![0.0; n];
    let mut r = vec![0.0; n];
    inv.process(&mut su, &mut l).expect("sizes from the plan");
    inv.process(&mut sr, &mut r).expect("sizes from the plan");
    let decay = -3.0 * std::f64::consts::LN_10 / (rt_s * fs);
    let scale = 1.0 / (n as f64 * n as f64).sqrt();
    for (i, (x, y)) in l.iter_mut().zip(r.iter_mut()).enumerate() {
        let g = (decay * i as f64).exp() * scale;
        *x *= g;
        *y *= g;
    }
    (l, r)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The coherence the tests set: 0.9 at 125 Hz falling linearly in octaves to 0 at 8 kHz.
    fn falling(f: f64) -> f64 {
        let oct = (f.max(1.0) / 125.0).log2().clamp(0.0, 6.0);
        0.9 * (1.0 - oct / 6.0)
    }

    #[test]
    fn a_set_per_band_coherence_is_recovered() {
        // A slow decay: the estimate of one realisation scatters by about
        // (1 − ρ²)/√(2·bandwidth·duration), so the test gives it a long effective duration.
        let fs = 48_000.0;
        let (l, r) = synthetic_stereo_ir(fs, 2.0, 30.0, 7, falling);
        let got = late_coherence(&l, &r, fs).unwrap();
        for (fc, c) in OCTAVE_BANDS_HZ.iter().zip(&got) {
            let c = c.expect("every band fits at 48 kHz");
            assert!(
                (c - falling(*fc)).abs() < 0.05,
                "{fc} Hz: {c} vs {}",
                falling(*fc)
            );
        }
        // Dual mono is 1 everywhere; a channel and its negation −1.
        let same = late_coherence(&l, &l, fs).unwrap();
        assert!(same.iter().all(|c| (c.unwrap() - 1.0).abs() < 1e-9));
        let neg: Vec<f64> = l.iter().map(|v| -v).collect();
        let opp = late_coherence(&l, &neg, fs).unwrap();
        assert!(opp.iter().all(|c| (c.unwrap() + 1.0).abs() < 1e-9));
        assert_eq!(
            max_coherence_error(&got, &same).map(|e| e > 0.8),
            Some(true)
        );
    }

    #[test]
    fn bands_above_nyquist_are_left_out_and_bad_input_is_named() {
        let fs = 16_000.0;
        let (l, r) = synthetic_stereo_ir(fs, 0.6, 0.5, 3, |_| 0.5);
        let got = late_coherence(&l, &r, fs).unwrap();
        assert_eq!(got.last(), Some(&None), "8 kHz does not fit at 16 kHz");
        assert!(got[..5].iter().all(Option::is_some));
        let short = late_coherence(&l[..1000], &r[..1000], fs).unwrap_err();
        assert!(short.to_string().contains("80 ms"), "{short}");
        let silent = vec![0.0; l.len()];
        let e = late_coherence(&l, &silent, fs).unwrap_err();
        assert!(e.to_string().starts_with("B:"), "{e}");
        let mut bad = l.clone();
        bad[10] = f64::NAN;
        assert!(late_coherence(&bad, &r, fs).is_err());
    }
}
