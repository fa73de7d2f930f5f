//! Offline resampling of whole signals between integer sample rates (rubato's synchronous FFT
//! resampler): IRs, dry material and HRIRs brought to a session rate.

use rubato::audioadapter_buffers::direct::SequentialSliceOfVecs;
use rubato::{Fft, FixedSync, Resampler};

/// Why a signal could not be resampled.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResampleError {
    /// A rate is not a positive whole number of Hz below 10 MHz.
    #[error("sample rate {0} Hz is not a positive whole number of Hz")]
    Rate(f64),
    /// Channels of different lengths, or none.
    #[error("resample: {0}")]
    Input(String),
    /// rubato refused.
    #[error("resampler: {0}")]
    Resampler(String),
}

fn whole_hz(rate: f64) -> Result<usize, ResampleError> {
    if rate.is_finite() && rate >= 1.0 && (rate - rate.round()).abs() < 1e-9 && rate < 1e7 {
        Ok(rate.round() as usize)
    } else {
        Err(ResampleError::Rate(rate))
    }
}

/// Resamples planar channels from `from` Hz to `to` Hz. The output length is
/// `ceil(len · to / from)` samples per channel, aligned with the input to within one output
/// sample (rubato compensates its filter delay; a fractional residue remains for odd ratios).
pub fn resample(channels: &[Vec<f64>], from: f64, to: f64) -> Result<Vec<Vec<f64>>, ResampleError> {
    let (fi, ti) = (whole_hz(from)?, whole_hz(to)?);
    let n = channels.first().map_or(0, Vec::len);
    if channels.is_empty() || n == 0 || channels.iter().any(|c| c.len() != n) {
        return Err(ResampleError::Input(
            "need one or more channels of equal, non-zero length".into(),
        ));
    }
    if fi == ti {
        return Ok(channels.to_vec());
    }
    let nch = channels.len();
    let new_len = (n as f64 * ti as f64 / fi as f64).ceil() as usize;
    let chunk = n.clamp(64, 8192);
    let err = |e: &dyn std::fmt::Display| ResampleError::Resampler(e.to_string());
    let mut r = Fft::<f64>::new(fi, ti, chunk, nch, FixedSync::Input).map_err(|e| err(&e))?;
    let out_len = r.process_all_needed_output_len(n);
    let mut output = vec![vec![0.0; out_len]; nch];
    let input = SequentialSliceOfVecs::new(channels, nch, n).map_err(|e| err(&e))?;
    let mut out = SequentialSliceOfVecs::new_mut(&mut output, nch, out_len).map_err(|e| err(&e))?;
    let (_, produced) = r
        .process_all_into_buffer(&input, &mut out, n, None)
        .map_err(|e| err(&e))?;
    Ok(output
        .into_iter()
        .map(|mut c| {
            c.truncate(produced.min(new_len));
            c.resize(new_len, 0.0);
            c
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sine_survives_96k_to_48k_and_44k1() {
        let f = 1000.0;
        let x: Vec<f64> = (0..96000)
            .map(|n| (2.0 * std::f64::consts::PI * f * n as f64 / 96000.0).sin())
            .collect();
        for to in [48000.0, 44100.0] {
            let y = &resample(std::slice::from_ref(&x), 96000.0, to).unwrap()[0];
            assert_eq!(y.len(), (96000.0 * to / 96000.0) as usize);
            // Away from the edges the output is the same sine at the new rate: fit a·sin + b·cos;
            // the amplitude must be 1 and the delay (phase) under one output sample.
            let w = 2.0 * std::f64::consts::PI * f / to;
            let (mut ss, mut sc, mut cc, mut ys, mut yc) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for (n, &v) in y.iter().enumerate().take(y.len() - 2000).skip(2000) {
                let (sn, cs) = ((w * n as f64).sin(), (w * n as f64).cos());
                ss += sn * sn;
                sc += sn * cs;
                cc += cs * cs;
                ys += v * sn;
                yc += v * cs;
            }
            let det = ss * cc - sc * sc;
            let a = (ys * cc - yc * sc) / det;
            let b = (yc * ss - ys * sc) / det;
            let amp = (a * a + b * b).sqrt();
            let delay = -b.atan2(a) / w;
            assert!((amp - 1.0).abs() < 1e-3, "{to}: amplitude {amp}");
            assert!(delay.abs() < 1.0, "{to}: delay {delay} samples");
            let resid = (2000..y.len() - 2000)
                .map(|n| (y[n] - a * (w * n as f64).sin() - b * (w * n as f64).cos()).abs())
                .fold(0.0, f64::max);
            assert!(resid < 1e-3, "{to}: residual {resid}");
        }
        assert!(matches!(
            resample(std::slice::from_ref(&x), 44100.5, 48000.0),
            Err(ResampleError::Rate(_))
        ));
        assert!(resample(&[], 48000.0, 44100.0).is_err());
    }
}
