//! Noise floor and truncation point of an impulse response: the Lundeby intersection of
//! [`super::iso3382`] (Lundeby, Vigran, Bietz and Vorländer, Acustica 81, 1995, as pyrato 1.1
//! implements it, with 30 ms blocks for a broadband IR) behind the input checks of the room
//! analysis. One estimator serves the analysis (usable decay range, slope-fit truncation),
//! `tailor compare` and the design loop.
//!
//! A noise-free IR that still decays at its end has no floor: the truncation point is its end
//! (after trailing zeros) and the range is measured down to its end level.

use super::iso3382::{intersection, BROADBAND_WINDOW_S};
use super::slopes::{check_sample_rate, check_signal, DecayFitError};

/// Shortest IR [`lundeby`] accepts, seconds.
pub const MIN_LENGTH_S: f64 = 0.05;
/// Smallest peak-to-noise range [`lundeby`] accepts, dB.
pub const MIN_DECAY_RANGE_DB: f64 = 15.0;

/// Noise floor and truncation point of an impulse response.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoiseFloor {
    /// Noise power in dB relative to the peak of the squared IR averaged in 30 ms blocks (the
    /// end level for a noise-free IR).
    pub noise_db: f64,
    /// Truncation point (where the late decay meets the noise), samples from the IR start.
    pub truncation_index: usize,
    /// Truncation point, seconds from the IR start.
    pub truncation_s: f64,
    /// Range from the envelope peak down to the noise, dB (`−noise_db`).
    pub decay_range_db: f64,
    /// Whether the IR still decays at its end (no floor found).
    pub noise_free: bool,
}

/// Lundeby noise-floor estimate and truncation point of the impulse response `x` at `fs` Hz.
///
/// Errors: empty, non-finite, all-zero, shorter than 50 ms, or no decay of at least
/// [`MIN_DECAY_RANGE_DB`] above the noise (e.g. noise only).
pub fn lundeby(x: &[f64], fs: f64) -> Result<NoiseFloor, DecayFitError> {
    const WHAT: &str = "impulse response";
    check_sample_rate(fs)?;
    let min_len = (MIN_LENGTH_S * fs).ceil() as usize;
    check_signal(x, WHAT, min_len)?;
    let energy: Vec<f64> = x.iter().map(|v| v * v).collect();
    // Trailing digital silence is not noise: leave it out.
    let n = energy.iter().rposition(|&v| v > 0.0).map_or(0, |i| i + 1);
    if n < min_len {
        return Err(DecayFitError::TooShort {
            what: "impulse response before its trailing zeros",
            len: n,
            min: min_len,
        });
    }
    let e = &energy[..n];
    // The range a refusal reports: the peak 30 ms block over the last 10 %.
    let rough_range = || {
        let w = ((BROADBAND_WINDOW_S * fs).round() as usize).clamp(1, n);
        let peak = e.chunks(w).map(mean).fold(0.0f64, f64::max);
        let tail = mean(&e[n - n.div_ceil(10)..]);
        10.0 * (peak.max(1e-300) / tail.max(1e-300)).log10()
    };
    let no_decay = |range_db: f64| DecayFitError::NoDecay {
        range_db,
        min_db: MIN_DECAY_RANGE_DB,
    };
    let i = intersection(e, fs, BROADBAND_WINDOW_S).ok_or_else(|| no_decay(rough_range()))?;
    if i.range_db.is_nan() || i.range_db < MIN_DECAY_RANGE_DB {
        return Err(no_decay(i.range_db));
    }
    let truncation_index = i.index.min(n);
    Ok(NoiseFloor {
        noise_db: -i.range_db,
        truncation_index,
        truncation_s: truncation_index as f64 / fs,
        decay_range_db: i.range_db,
        noise_free: i.noise_free,
    })
}

/// Arithmetic mean (0 for an empty slice).
pub(crate) fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// Index of the largest value.
pub(crate) fn argmax(v: &[f64]) -> usize {
    v.iter()
        .enumerate()
        .fold((0, f64::NEG_INFINITY), |(bi, bv), (i, &x)| {
            if x > bv {
                (i, x)
            } else {
                (bi, bv)
            }
        })
        .0
}
