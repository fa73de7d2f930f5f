//! Spectra on plain slices: power spectrum, spectral flatness of an impulse response,
//! fractional-octave smoothing on a log frequency grid, per-bin curves read on such a grid, and
//! the log-spectral distance of two magnitude curves.

use super::error::{validate_ir, validate_rate, AnalysisError};
use realfft::RealFftPlanner;

/// Lowest frequency in Hz included in the flatness band.
pub const FLATNESS_LOW_HZ: f64 = 50.0;
/// Upper end of the flatness band as a fraction of Nyquist (0.9 → 0.45·fs).
pub const FLATNESS_HIGH_FRACTION_OF_NYQUIST: f64 = 0.9;

/// Spectral flatness (Wiener entropy) as a ratio in [0, 1] and in dB (≤ 0).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Flatness {
    /// Geometric / arithmetic mean of the power spectrum, in [0, 1] (1 = white).
    pub ratio: f64,
    /// `10·log10(ratio)`, dB.
    pub db: f64,
}

/// Power spectrum |X[k]|² of `x` zero-padded to the next power of two (at least `min_fft`
/// points), bins `0..=n/2`; returns the spectrum and the FFT length.
pub fn power_spectrum(x: &[f64], min_fft: usize) -> (Vec<f64>, usize) {
    let n = x.len().max(min_fft).next_power_of_two();
    let fft = RealFftPlanner::<f64>::new().plan_fft_forward(n);
    let mut input = vec![0.0; n];
    input[..x.len()].copy_from_slice(x);
    let mut spec = fft.make_output_vec();
    // Lengths come from the plan itself, so processing cannot fail.
    if fft.process(&mut input, &mut spec).is_err() {
        return (vec![0.0; n / 2 + 1], n);
    }
    (spec.iter().map(|c| c.norm_sqr()).collect(), n)
}

/// Spectral flatness of `ir` at `fs` Hz: power spectrum of the whole IR (zero-padded to a power
/// of two, at least 4096 points), bins from 50 Hz to 0.9·fs/2; powers are floored at 10⁻²⁰ of
/// the band maximum (−200 dB) so a spectral null does not send the geometric mean to zero.
pub fn spectral_flatness(ir: &[f64], fs: f64) -> Result<Flatness, AnalysisError> {
    validate_rate(fs)?;
    validate_ir(ir, "IR")?;
    let (p, n) = power_spectrum(ir, 4096);
    let bin_hz = fs / n as f64;
    let lo = (FLATNESS_LOW_HZ / bin_hz).ceil() as usize;
    let hi = ((FLATNESS_HIGH_FRACTION_OF_NYQUIST * fs / 2.0) / bin_hz).floor() as usize;
    let band = &p[lo.min(p.len() - 1)..=hi.min(p.len() - 1)];
    let max = band.iter().fold(0.0f64, |m, &v| m.max(v));
    if max <= 0.0 {
        return Ok(Flatness {
            ratio: 0.0,
            db: f64::NEG_INFINITY,
        });
    }
    let floor = max * 1e-20;
    let k = band.len() as f64;
    let log_geo = band.iter().map(|&v| v.max(floor).ln()).sum::<f64>() / k;
    let arith = band.iter().map(|&v| v.max(floor)).sum::<f64>() / k;
    let ratio = (log_geo.exp() / arith).min(1.0);
    Ok(Flatness {
        ratio,
        db: 10.0 * ratio.log10(),
    })
}

/// `points` frequencies in Hz evenly spaced on a log axis from `lo_hz` to `hi_hz` (both
/// included; one point is `lo_hz`).
pub fn log_frequencies_hz(lo_hz: f64, hi_hz: f64, points: usize) -> Vec<f64> {
    if points < 2 {
        return vec![lo_hz; points];
    }
    (0..points)
        .map(|k| lo_hz * (hi_hz / lo_hz).powf(k as f64 / (points - 1) as f64))
        .collect()
}

/// Fractional-octave smoothed linear magnitude at each of `centres_hz`: √(mean of `power`
/// (|X[k]|², bin k at k·`bin_hz` Hz) over the bins from f·2^(−`octaves`/2) to f·2^(`octaves`/2)),
/// at least one bin; empty when `power` is.
pub fn smoothed_magnitude(
    power: &[f64],
    bin_hz: f64,
    centres_hz: &[f64],
    octaves: f64,
) -> Vec<f64> {
    if power.is_empty() {
        return Vec::new();
    }
    let (down, up) = (2f64.powf(-octaves / 2.0), 2f64.powf(octaves / 2.0));
    centres_hz
        .iter()
        .map(|&f| {
            let lo = ((f * down / bin_hz).floor() as usize).min(power.len() - 1);
            let hi = ((f * up / bin_hz).ceil() as usize).clamp(lo + 1, power.len());
            (power[lo..hi].iter().sum::<f64>() / (hi - lo) as f64).sqrt()
        })
        .collect()
}

/// A per-bin curve (`values[k]` at `freqs_hz[k]`, an rfft grid in Hz) read at `points` log-spaced
/// frequencies from `band_hz.0` to min(`band_hz.1`, the last bin), nearest bin: (Hz, value)
/// pairs; empty when the grid has fewer than 2 bins or ends at or below `band_hz.0`.
pub fn on_log_grid(
    values: &[f64],
    freqs_hz: &[f64],
    band_hz: (f64, f64),
    points: usize,
) -> Vec<[f64; 2]> {
    let top = freqs_hz.last().copied().unwrap_or(0.0);
    let hi = band_hz.1.min(top);
    if values.is_empty() || freqs_hz.len() < 2 || hi <= band_hz.0 {
        return Vec::new();
    }
    let df = freqs_hz[1] - freqs_hz[0];
    log_frequencies_hz(band_hz.0, hi, points)
        .into_iter()
        .map(|f| {
            let i = ((f / df).round() as usize).min(values.len() - 1);
            [f, values[i]]
        })
        .collect()
}

/// ε of [`lsd_db`] in linear magnitude: the floor of the magnitudes and the term under the
/// square root (hrtfpykit's default).
pub const LSD_EPSILON: f64 = 1e-12;

/// Log-spectral distance in dB between two linear magnitude curves of equal length:
/// √(mean (20·log10 max(p, ε) − 20·log10 max(t, ε))² + ε), ε = [`LSD_EPSILON`] (hrtfpykit's
/// `hrtf_loss` lsd on linear input, one row); `None` when the lengths differ or are 0.
pub fn lsd_db(prediction: &[f64], target: &[f64]) -> Option<f64> {
    let db = |x: &[f64]| -> Vec<f64> {
        x.iter()
            .map(|v| 20.0 * v.max(LSD_EPSILON).log10())
            .collect()
    };
    level_lsd_db(&db(prediction), &db(target))
}

/// [`lsd_db`] of two curves already in dB (levels floored at 20·log10 ε, as [`lsd_db`] floors
/// its magnitudes): √(mean (p − t)² + ε) in dB; `None` when the lengths differ or are 0.
pub fn level_lsd_db(prediction_db: &[f64], target_db: &[f64]) -> Option<f64> {
    if prediction_db.len() != target_db.len() || prediction_db.is_empty() {
        return None;
    }
    let sq: f64 = prediction_db
        .iter()
        .zip(target_db)
        .map(|(p, t)| (p - t) * (p - t))
        .sum();
    Some((sq / prediction_db.len() as f64 + LSD_EPSILON).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_frequencies_span_the_band_evenly_in_octaves() {
        let f = log_frequencies_hz(20.0, 20_480.0, 11);
        assert_eq!(f.len(), 11);
        assert!((f[0] - 20.0).abs() < 1e-12 && (f[10] - 20_480.0).abs() < 1e-9);
        for w in f.windows(2) {
            assert!((w[1] / w[0] - 2.0).abs() < 1e-12, "{w:?}");
        }
        assert_eq!(log_frequencies_hz(20.0, 200.0, 1), vec![20.0]);
        assert!(log_frequencies_hz(20.0, 200.0, 0).is_empty());
    }

    #[test]
    fn smoothing_a_flat_spectrum_keeps_it_flat() {
        let power = vec![4.0; 4097];
        let centres = log_frequencies_hz(20.0, 20_000.0, 50);
        let m = smoothed_magnitude(&power, 48_000.0 / 8192.0, &centres, 1.0 / 3.0);
        assert_eq!(m.len(), 50);
        assert!(m.iter().all(|v| (v - 2.0).abs() < 1e-12), "{m:?}");
        assert!(smoothed_magnitude(&[], 1.0, &centres, 1.0 / 3.0).is_empty());
    }

    #[test]
    fn smoothing_averages_power_over_the_band() {
        // Bins of 1 Hz; at 100 Hz a third octave spans 89.09…112.25 Hz → bins 89..113.
        let power: Vec<f64> = (0..1000).map(|k| k as f64).collect();
        let m = smoothed_magnitude(&power, 1.0, &[100.0], 1.0 / 3.0);
        let want = ((89..113).map(f64::from).sum::<f64>() / 24.0).sqrt();
        assert!((m[0] - want).abs() < 1e-12, "{} vs {want}", m[0]);
    }

    #[test]
    fn log_grid_reads_the_nearest_bin_and_keeps_grid_points() {
        let freqs: Vec<f64> = (0..=512).map(|k| k as f64 * 10.0).collect();
        let values: Vec<f64> = (0..=512).map(|k| k as f64).collect();
        let g = on_log_grid(&values, &freqs, (20.0, 20_000.0), 8);
        assert_eq!(g.len(), 8);
        // The top is the last bin (5120 Hz): a frequency on the bin grid reads its own bin.
        assert_eq!(g[0], [20.0, 2.0]);
        assert!(
            (g[7][0] - 5120.0).abs() < 1e-9 && g[7][1] == 512.0,
            "{:?}",
            g[7]
        );
        for [f, v] in &g {
            assert_eq!(*v, (f / 10.0).round());
        }
        assert!(on_log_grid(&values, &freqs[..1], (20.0, 20_000.0), 8).is_empty());
        assert!(on_log_grid(&values, &freqs, (6000.0, 20_000.0), 8).is_empty());
        assert!(on_log_grid(&[], &freqs, (20.0, 20_000.0), 8).is_empty());
    }

    #[test]
    fn lsd_of_identical_curves_is_zero_and_matches_a_hand_computed_case() {
        let a = [1.0, 0.5, 0.25, 1e-20];
        assert!(lsd_db(&a, &a).unwrap() < 1e-5);
        // Levels differ by 20·log10(10) = 20 dB in one of four bins: √(400/4 + ε) = 10 dB.
        let b = [1.0, 5.0, 0.25, 0.0];
        assert!((lsd_db(&a, &b).unwrap() - 10.0).abs() < 1e-9);
        assert!((level_lsd_db(&[0.0, 6.0], &[0.0, 0.0]).unwrap() - 18f64.sqrt()).abs() < 1e-9);
        assert_eq!(lsd_db(&a, &b[..3]), None);
        assert_eq!(lsd_db(&[], &[]), None);
    }

    #[cfg(feature = "grad")]
    #[test]
    fn lsd_equals_the_training_loss_on_one_row() {
        use crate::loss::{hrtf_loss, InputScale, Metric, Reduction};
        use candle_core::{Device, Tensor};
        let p = [1.0, 0.3, 2.0, 1e-14, 0.7];
        let t = [0.9, 0.5, 0.1, 0.2, 0.7];
        let row = |x: &[f64]| Tensor::from_slice(x, (1, x.len()), &Device::Cpu).unwrap();
        let loss = hrtf_loss(
            row(&p),
            row(&t),
            Metric::Lsd,
            InputScale::Linear,
            Reduction::Mean,
            LSD_EPSILON,
        )
        .unwrap()
        .to_scalar::<f64>()
        .unwrap();
        assert!((lsd_db(&p, &t).unwrap() - loss).abs() < 1e-9, "{loss}");
    }

    #[test]
    fn a_unit_impulse_is_white_and_a_sine_is_not() {
        let mut x = vec![0.0; 1000];
        x[10] = 1.0;
        let f = spectral_flatness(&x, 48000.0).unwrap();
        assert!((f.ratio - 1.0).abs() < 1e-9 && f.db.abs() < 1e-6, "{f:?}");
        let s: Vec<f64> = (0..4096).map(|n| (0.3 * n as f64).sin()).collect();
        let f = spectral_flatness(&s, 48000.0).unwrap();
        assert!(f.ratio < 0.1 && f.db < -10.0, "{f:?}");
        assert!(spectral_flatness(&[0.0; 8], 48000.0).is_err());
        assert!(spectral_flatness(&x, 0.0).is_err());
    }
}
