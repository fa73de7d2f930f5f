//! Resampling HRIR sets to a session rate with rubato's synchronous FFT resampler; the taps are
//! scaled by `fs_old/fs_new` so the HRTF (the filter's transfer function) keeps its magnitude.

use super::{HrirSet, HrtfError};
use rubato::audioadapter_buffers::direct::SequentialSliceOfVecs;
use rubato::{Fft, FixedSync, Resampler};

/// A rate in whole Hz, or an error (rubato's FFT resampler works on integer rate ratios).
fn whole_hz(rate: f64) -> Result<usize, HrtfError> {
    if rate.is_finite() && rate >= 1.0 && (rate - rate.round()).abs() < 1e-9 && rate < 1e7 {
        Ok(rate.round() as usize)
    } else {
        Err(HrtfError::BadSampleRate(rate))
    }
}

pub(super) fn resample(set: &HrirSet, rate: f64) -> Result<HrirSet, HrtfError> {
    let to = whole_hz(rate)?;
    let from = whole_hz(set.sample_rate())?;
    if to == from {
        return Ok(set.clone());
    }
    let n = set.len();
    let channels = set.n_directions() * 2;
    let new_len = (n as f64 * to as f64 / from as f64).ceil() as usize;
    let input: Vec<Vec<f64>> = set.ir().chunks(n).map(<[f64]>::to_vec).collect();
    let mut resampler = Fft::<f64>::new(from, to, n.max(64), channels, FixedSync::Input)
        .map_err(|e| HrtfError::Resample(e.to_string()))?;
    let out_len = resampler.process_all_needed_output_len(n);
    let mut output = vec![vec![0.0; out_len]; channels];
    let in_adapter = SequentialSliceOfVecs::new(&input, channels, n)
        .map_err(|e| HrtfError::Resample(e.to_string()))?;
    let mut out_adapter = SequentialSliceOfVecs::new_mut(&mut output, channels, out_len)
        .map_err(|e| HrtfError::Resample(e.to_string()))?;
    let (_, produced) = resampler
        .process_all_into_buffer(&in_adapter, &mut out_adapter, n, None)
        .map_err(|e| HrtfError::Resample(e.to_string()))?;
    // Band-limited interpolation keeps the sample values of the continuous IR; as FIR taps at the
    // new rate they would scale the transfer function by to/from, so scale back by from/to.
    let gain = from as f64 / to as f64;
    let mut ir = Vec::with_capacity(channels * new_len);
    for ch in &output {
        let take = new_len.min(produced);
        ir.extend(ch[..take].iter().map(|v| v * gain));
        ir.extend(std::iter::repeat_n(0.0, new_len - take));
    }
    HrirSet::new(ir, set.directions().to_vec(), new_len, to as f64)
}
