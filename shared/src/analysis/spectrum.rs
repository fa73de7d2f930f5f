//! Spectral flatness of an impulse response.

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

#[cfg(test)]
mod tests {
    use super::*;

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
