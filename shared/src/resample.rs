//! Sample-rate conversion of whole signals (rubato's synchronous FFT resampler), delay-compensated.

use rubato::{FftFixedInOut, Resampler};

/// Errors of [`resample`].
#[derive(Debug, thiserror::Error)]
pub enum ResampleError {
    /// A rate that is not a positive integer number of Hz.
    #[error("sample rates must be positive integers in Hz (got {from} → {to})")]
    Rate {
        /// Input rate, Hz.
        from: f64,
        /// Output rate, Hz.
        to: f64,
    },
    /// A rubato failure.
    #[error("resampler: {0}")]
    Rubato(String),
}

/// Resamples `x` from `from` Hz to `to` Hz (integer rates); the output has
/// `round(len·to/from)` samples; rubato's reported delay is removed (the residual offset is
/// below one output sample).
pub fn resample(x: &[f64], from: f64, to: f64) -> Result<Vec<f64>, ResampleError> {
    let ok = |r: f64| r.is_finite() && r >= 1.0 && r.fract() == 0.0;
    if !ok(from) || !ok(to) {
        return Err(ResampleError::Rate { from, to });
    }
    if from == to {
        return Ok(x.to_vec());
    }
    let err = |e: &dyn std::fmt::Display| ResampleError::Rubato(e.to_string());
    let mut r =
        FftFixedInOut::<f64>::new(from as usize, to as usize, 1024, 1).map_err(|e| err(&e))?;
    let want = (x.len() as f64 * to / from).round() as usize;
    let delay = r.output_delay();
    let mut out = Vec::with_capacity(want + delay + 4096);
    let mut pos = 0;
    while out.len() < want + delay {
        let need = r.input_frames_next();
        let mut chunk = vec![0.0; need];
        if pos < x.len() {
            let take = need.min(x.len() - pos);
            chunk[..take].copy_from_slice(&x[pos..pos + take]);
        }
        pos += need;
        let y = r.process(&[chunk], None).map_err(|e| err(&e))?;
        out.extend_from_slice(&y[0]);
    }
    Ok(out[delay..delay + want].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sine_keeps_frequency_amplitude_and_timing() {
        let (from, to) = (44100.0, 48000.0);
        let f = 1000.0;
        let x: Vec<f64> = (0..44100)
            .map(|n| (2.0 * std::f64::consts::PI * f * n as f64 / from).sin())
            .collect();
        let y = resample(&x, from, to).unwrap();
        assert_eq!(y.len(), 48000);
        // Best sub-sample shift in [−1, 1] output samples; the sine must match there.
        let err_at = |shift: f64| {
            (4000..44000)
                .map(|n| {
                    let t = (n as f64 - shift) / to;
                    (y[n] - (2.0 * std::f64::consts::PI * f * t).sin()).abs()
                })
                .fold(0.0f64, f64::max)
        };
        let err = (-100..=100)
            .map(|k| err_at(k as f64 / 100.0))
            .fold(f64::INFINITY, f64::min);
        assert!(err < 2e-3, "{err}");
        assert!(resample(&x, 0.0, to).is_err());
    }
}
