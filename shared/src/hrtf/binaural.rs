//! Binaural output: each FDN output channel is a virtual source at a direction, convolved with
//! that direction's HRIR pair (nearest measurement, great-circle) and summed to two ears.
//!
//! Built on [`crate::convolution::MimoConvolver`] with an `2 × N` IR matrix, so each channel's
//! input spectrum is computed once and shared by both ears, and the per-ear sums are formed in the
//! frequency domain. Processing is allocation-free and adds no latency.

use super::{default_ring, Direction, Ear, HrirSet, HrtfError};
use crate::convolution::MimoConvolver;

/// Renders N input channels to left/right ear signals through HRIRs.
#[derive(Debug)]
pub struct BinauralRenderer {
    conv: MimoConvolver,
    directions: Vec<Direction>,
    measurements: Vec<usize>,
    sample_rate: f64,
}

impl BinauralRenderer {
    /// Places channel `i` at `directions[i]` using the nearest measurement of `set`; the set is
    /// resampled to `session_rate` (Hz) first if its rate differs. `max_block` (samples) sizes the
    /// convolution partitions; any block length can be processed.
    pub fn new(
        set: &HrirSet,
        directions: &[Direction],
        session_rate: f64,
        max_block: usize,
    ) -> Result<Self, HrtfError> {
        if directions.is_empty() {
            return Err(HrtfError::Invalid(
                "binaural rendering needs at least one channel direction".into(),
            ));
        }
        if crate::limits::check_sample_rate("session", session_rate).is_err() {
            return Err(HrtfError::BadSampleRate(session_rate));
        }
        let resampled;
        let set = if (set.sample_rate() - session_rate).abs() > 1e-9 {
            resampled = set.resampled(session_rate)?;
            &resampled
        } else {
            set
        };
        let measurements: Vec<usize> = directions.iter().map(|d| set.nearest(d)).collect();
        let irs: Vec<Vec<Vec<f32>>> = Ear::BOTH
            .iter()
            .map(|&ear| {
                measurements
                    .iter()
                    .map(|&m| set.hrir(m, ear).iter().map(|&v| v as f32).collect())
                    .collect()
            })
            .collect();
        let matrix: Vec<Vec<&[f32]>> = irs
            .iter()
            .map(|row| row.iter().map(Vec::as_slice).collect())
            .collect();
        let conv = MimoConvolver::new(&matrix, max_block)
            .map_err(|e| HrtfError::Invalid(e.to_string()))?;
        Ok(Self {
            conv,
            directions: directions.to_vec(),
            measurements,
            sample_rate: session_rate,
        })
    }

    /// `channels` inputs on the [`default_ring`] (evenly spaced azimuths, elevation 0°).
    pub fn with_default_ring(
        set: &HrirSet,
        channels: usize,
        session_rate: f64,
        max_block: usize,
    ) -> Result<Self, HrtfError> {
        Self::new(set, &default_ring(channels), session_rate, max_block)
    }

    /// Number of input channels.
    pub fn n_channels(&self) -> usize {
        self.directions.len()
    }

    /// Requested channel directions.
    pub fn directions(&self) -> &[Direction] {
        &self.directions
    }

    /// Measurement index used for each channel (nearest to its direction).
    pub fn measurements(&self) -> &[usize] {
        &self.measurements
    }

    /// Session sample rate in Hz.
    pub fn sample_rate(&self) -> f64 {
        self.sample_rate
    }

    /// Renders one block: `inputs[i]` is channel `i`; `left`/`right` are written (not added).
    /// Processes the shortest of all slices; missing channels are silent. Allocation-free.
    pub fn process(&mut self, inputs: &[&[f32]], left: &mut [f32], right: &mut [f32]) {
        self.conv.process(inputs, &mut [left, right]);
    }

    /// Clears the convolution state.
    pub fn reset(&mut self) {
        self.conv.reset();
    }
}
