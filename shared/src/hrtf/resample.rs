//! Resampling HRIR sets to a session rate with [`crate::resample`]; the taps are scaled by
//! `fs_old/fs_new` so the HRTF (the filter's transfer function) keeps its magnitude.

use super::{HrirSet, HrtfError};

pub(super) fn resample(set: &HrirSet, rate: f64) -> Result<HrirSet, HrtfError> {
    let bad = |e: crate::resample::ResampleError| match e {
        crate::resample::ResampleError::Rate(r) => HrtfError::BadSampleRate(r),
        other => HrtfError::Resample(other.to_string()),
    };
    let from = set.sample_rate();
    if (rate - from).abs() < 1e-9 {
        return Ok(set.clone());
    }
    let n = set.len();
    let input: Vec<Vec<f64>> = set.ir().chunks(n).map(<[f64]>::to_vec).collect();
    let output = crate::resample::resample(&input, from, rate).map_err(bad)?;
    let new_len = output.first().map_or(0, Vec::len);
    // Band-limited interpolation keeps the sample values of the continuous IR; as FIR taps at the
    // new rate they would scale the transfer function by to/from, so scale back by from/to.
    let gain = from / rate;
    let ir: Vec<f64> = output
        .iter()
        .flat_map(|ch| ch.iter().map(move |v| v * gain))
        .collect();
    HrirSet::new(ir, set.directions().to_vec(), new_len, rate.round())
}
