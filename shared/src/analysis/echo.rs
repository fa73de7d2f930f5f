//! Normalised echo density (Abel & Huang 2006, "A simple, robust measure of reverberation echo
//! density") and the mixing time derived from it.

use super::error::{validate_ir, validate_rate, AnalysisError};
use super::onset::onset_index;

/// Sliding-window length of the echo-density profile, seconds (20 ms).
pub const ECHO_WINDOW_S: f64 = 0.020;

/// `erfc(1/√2)`: the fraction of a Gaussian's samples lying outside one standard deviation.
pub const ERFC_INV_SQRT2: f64 = 0.317_310_507_862_914_1;

/// Normalised echo density profile η[n], one value per sample of `ir` (at `fs` Hz).
///
/// η[n] = (1/erfc(1/√2)) · Σ_τ w[τ]·1{|h[n+τ]| > σ[n]}, σ[n] = √(Σ_τ w[τ]·h²[n+τ]), with w a
/// Hann window of 20 ms (odd length, centred on n) normalised to unit sum; samples outside the IR
/// count as zeros. η ≈ 1 for Gaussian noise, ≪ 1 for sparse early reflections.
pub fn echo_density_profile(ir: &[f64], fs: f64) -> Result<Vec<f64>, AnalysisError> {
    let w = window(ir, fs)?;
    Ok((0..ir.len()).map(|c| density_at(ir, &w, c)).collect())
}

/// The unit-sum Hann window of the profile at `fs` (odd length, [`ECHO_WINDOW_S`]), after
/// checking `ir` and `fs`.
fn window(ir: &[f64], fs: f64) -> Result<Vec<f64>, AnalysisError> {
    validate_rate(fs)?;
    validate_ir(ir, "IR")?;
    let half = ((ECHO_WINDOW_S * fs / 2.0).round() as usize).max(1);
    let len = 2 * half + 1;
    let raw: Vec<f64> = (0..len)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * (i + 1) as f64 / (len + 1) as f64).cos())
        .collect();
    let total: f64 = raw.iter().sum();
    Ok(raw.iter().map(|v| v / total).collect())
}

/// η at sample `c` of `ir` with window `w` (centred on `c`).
fn density_at(ir: &[f64], w: &[f64], c: usize) -> f64 {
    let n = ir.len();
    let len = w.len();
    let half = len / 2;
    // Window taps i map to samples c + i − half; keep those inside the IR.
    let i0 = half.saturating_sub(c);
    let i1 = (n + half - c).min(len);
    let base = c + i0 - half;
    let seg = &ir[base..base + (i1 - i0)];
    let ws = &w[i0..i1];
    let var: f64 = ws.iter().zip(seg).map(|(w, h)| w * h * h).sum();
    let sigma = var.sqrt();
    let outside: f64 = ws
        .iter()
        .zip(seg)
        .filter(|(_, h)| h.abs() > sigma)
        .map(|(w, _)| w)
        .sum();
    outside / ERFC_INV_SQRT2
}

/// Mixing time in seconds after the onset: the first sample at or after the onset
/// ([`onset_index`], 20 dB rule) where the echo-density profile ([`echo_density_profile`])
/// reaches 1, measured from the onset. `Ok(None)` when the profile never reaches 1. The profile
/// is computed only up to that sample.
pub fn mixing_time_s(ir: &[f64], fs: f64) -> Result<Option<f64>, AnalysisError> {
    let w = window(ir, fs)?;
    let onset = onset_index(ir).unwrap_or(0);
    Ok((onset..ir.len())
        .position(|c| density_at(ir, &w, c) >= 1.0)
        .map(|i| i as f64 / fs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};

    #[test]
    fn noise_is_dense_and_sparse_clicks_are_not() {
        let fs = 48000.0;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let normal = Normal::new(0.0, 1.0).unwrap();
        // Clicks every 10 ms for 50 ms, then Gaussian noise.
        let split = (0.05 * fs) as usize;
        let mut ir = vec![0.0; (0.3 * fs) as usize];
        for k in 0..5 {
            ir[k * 480] = 1.0;
        }
        for v in ir.iter_mut().skip(split) {
            *v = 0.1 * normal.sample(&mut rng);
        }
        let p = echo_density_profile(&ir, fs).unwrap();
        assert!(p[(0.02 * fs) as usize] < 0.1, "clicks {}", p[960]);
        let tail = &p[(0.1 * fs) as usize..(0.25 * fs) as usize];
        let mean = tail.iter().sum::<f64>() / tail.len() as f64;
        assert!((mean - 1.0).abs() < 0.03, "noise mean {mean}");
        let t = mixing_time_s(&ir, fs).unwrap().unwrap();
        // The same sample as the full profile's first crossing after the onset.
        let onset = onset_index(&ir).unwrap();
        let first = p[onset..].iter().position(|&e| e >= 1.0).unwrap();
        assert_eq!(t, first as f64 / fs);
        // Reaches 1 once the 20 ms window lies in the noise (centre ≥ 60 ms), give or take.
        assert!((0.045..0.1).contains(&t), "mixing time {t}");
        // Clicks alone never reach 1.
        let clicks: Vec<f64> = ir.iter().take(split).copied().collect();
        assert_eq!(mixing_time_s(&clicks, fs).unwrap(), None);
        assert!(mixing_time_s(&[0.0; 10], fs).is_err());
    }
}
