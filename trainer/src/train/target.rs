//! Loading a target impulse response for the matching objectives, with clear errors for bad input.

use anyhow::{bail, Context, Result};
use candle_core::{Device, Tensor};
use std::path::Path;
use tailor::resample::resample;

/// Lowest and highest sample rate accepted (Hz); others are refused, not resampled.
pub const RATE_RANGE_HZ: (f64, f64) = (8000.0, 384000.0);

/// Peak magnitude below which a target counts as silent.
pub const SILENCE_PEAK: f64 = 1e-9;

/// A validated target: samples `(n, n_out, n_in)` at the model rate.
#[derive(Debug, Clone)]
pub struct Target {
    /// Samples per channel.
    pub len: usize,
    /// Values, row-major `(len, n_out, n_in)`.
    pub data: Vec<f64>,
    /// Sample rate of the file, Hz (before resampling).
    pub file_rate: f64,
}

impl Target {
    /// As a `(len, n_out, n_in)` f64 CPU tensor.
    pub fn tensor(&self, n_out: usize, n_in: usize) -> Result<Tensor> {
        Ok(Tensor::from_vec(
            self.data.clone(),
            (self.len, n_out, n_in),
            &Device::Cpu,
        )?)
    }

    /// Channel (o, i) as a vector.
    pub fn channel(&self, o: usize, i: usize, n_out: usize, n_in: usize) -> Vec<f64> {
        (0..self.len)
            .map(|t| self.data[(t * n_out + o) * n_in + i])
            .collect()
    }
}

/// Checks channel data and lays it out as `(len, n_out, n_in)`; channel k of the file is path
/// (o, i) = (k / n_in, k % n_in).
pub fn target_from_channels(
    channels: &[Vec<f64>],
    rate: f64,
    model_fs: f64,
    n_out: usize,
    n_in: usize,
    min_len: usize,
) -> Result<Target> {
    if channels.len() != n_out * n_in {
        bail!(
            "target has {} channel(s), but the model has {n_out} output(s) × {n_in} input(s) = {} path(s); give one channel per path",
            channels.len(),
            n_out * n_in
        );
    }
    if !(rate >= RATE_RANGE_HZ.0 && rate <= RATE_RANGE_HZ.1 && rate.fract() == 0.0) {
        bail!(
            "target sample rate {rate} Hz is not supported (integer rates {}–{} Hz are resampled to {model_fs} Hz)",
            RATE_RANGE_HZ.0,
            RATE_RANGE_HZ.1
        );
    }
    for (k, ch) in channels.iter().enumerate() {
        if let Some(i) = ch.iter().position(|v| !v.is_finite()) {
            bail!(
                "target channel {k} has a non-finite sample ({}) at index {i}",
                ch[i]
            );
        }
    }
    let peak = channels
        .iter()
        .flatten()
        .fold(0.0f64, |m, v| m.max(v.abs()));
    if peak < SILENCE_PEAK {
        bail!("target is silent (peak {peak:.3e}); nothing to match");
    }
    let chans: Vec<Vec<f64>> = if rate == model_fs {
        channels.to_vec()
    } else {
        resample(channels, rate, model_fs)
            .with_context(|| format!("resampling the target from {rate} Hz to {model_fs} Hz"))?
    };
    let len = chans.first().map_or(0, Vec::len);
    if len < min_len {
        bail!(
            "target is too short: {len} samples at {model_fs} Hz, needs at least {min_len} (the longest spectrogram window)"
        );
    }
    let mut data = vec![0.0; len * n_out * n_in];
    for (k, c) in chans.iter().enumerate() {
        for (t, v) in c.iter().enumerate() {
            data[t * n_out * n_in + k] = *v;
        }
    }
    Ok(Target {
        len,
        data,
        file_rate: rate,
    })
}

/// Reads and validates a target WAV (see [`target_from_channels`]).
pub fn load_target(
    path: &Path,
    model_fs: f64,
    n_out: usize,
    n_in: usize,
    min_len: usize,
) -> Result<Target> {
    let audio = tailor::ir::load(path, &tailor::ir::IrPolicy::ROOM)
        .with_context(|| format!("reading target {}", path.display()))?;
    target_from_channels(
        &audio.channels,
        audio.sample_rate,
        model_fs,
        n_out,
        n_in,
        min_len,
    )
    .with_context(|| format!("target {}", path.display()))
}
