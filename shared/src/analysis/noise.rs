//! Noise floor and truncation point of an impulse response by the iterative method of Lundeby,
//! Vigran, Bietz and Vorländer, "Uncertainties of measurements in room acoustics" (Acustica 81,
//! 1995).
//!
//! Steps: (1) average the squared IR in 10 ms intervals; (2) take the noise as the mean energy of
//! the last 10 %; (3) fit a line to the dB envelope from its peak down to 10 dB above the noise;
//! (4) the crossing of that line with the noise level is the preliminary truncation point;
//! (5) re-average with 5 intervals per 10 dB of decay; (6) re-estimate the noise from the point
//! 10 dB of decay after the crossing (at least the last 10 %); (7) fit the late decay over the
//! 20 dB range ending 10 dB above the noise; (8) new crossing; repeat (5)–(8) until the crossing
//! moves less than half an interval (at most 10 times).
//!
//! A noise-free IR whose energy still falls by more than 3 dB across its last 10 % has no noise
//! floor to find: the truncation point is then the end of the IR (after trailing zeros) and
//! `noise_db` is the level of its last 5 %, an upper bound on the noise.

use super::slopes::{check_sample_rate, check_signal, DecayFitError};

/// Shortest IR [`lundeby`] accepts, seconds.
pub const MIN_LENGTH_S: f64 = 0.05;
/// Smallest peak-to-noise range [`lundeby`] accepts, dB.
pub const MIN_DECAY_RANGE_DB: f64 = 15.0;

/// Initial averaging interval, seconds.
const INITIAL_WINDOW_S: f64 = 0.01;
/// Fraction of the IR at its end taken as noise (at least).
const NOISE_TAIL_FRACTION: f64 = 0.1;
/// Averaging intervals per 10 dB of decay after the first pass.
const INTERVALS_PER_10DB: f64 = 5.0;
/// Regressions end this far above the noise, dB.
const HEADROOM_DB: f64 = 10.0;
/// Dynamic range of the late-decay regression, dB.
const REGRESSION_RANGE_DB: f64 = 20.0;
/// The noise is estimated from this much decay after the crossing point, dB.
const NOISE_GAP_DB: f64 = 10.0;
/// Most refinement passes.
const MAX_ITERATIONS: usize = 10;
/// Energy drop across the last 10 % above which the IR counts as noise-free, dB.
const STILL_DECAYING_DB: f64 = 3.0;

/// Noise floor and truncation point of an impulse response.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoiseFloor {
    /// Noise energy in dB relative to the peak of the squared IR averaged in 10 ms intervals.
    pub noise_db: f64,
    /// Truncation point (where the late decay meets the noise), samples from the IR start.
    pub truncation_index: usize,
    /// Truncation point, seconds from the IR start.
    pub truncation_s: f64,
    /// Range from the envelope peak down to the noise, dB (`−noise_db`).
    pub decay_range_db: f64,
    /// Whether the crossing point settled within the iteration limit.
    pub converged: bool,
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
    let w0 = ((INITIAL_WINDOW_S * fs).round() as usize).max(1);
    let env0 = block_means(e, w0);
    let peak = env0.iter().copied().fold(0.0f64, f64::max);
    let to_db = |v: f64| 10.0 * (v.max(1e-300) / peak).log10();
    let tail_len = ((n as f64 * NOISE_TAIL_FRACTION).ceil() as usize).clamp(2, n);
    let tail_start = n - tail_len;
    let mut noise_db = to_db(mean(&e[tail_start..]));
    let range_db = -noise_db;
    if range_db < MIN_DECAY_RANGE_DB {
        return Err(DecayFitError::NoDecay {
            range_db,
            min_db: MIN_DECAY_RANGE_DB,
        });
    }
    let half = tail_start + tail_len / 2;
    let last_db = to_db(mean(&e[half..]));
    if to_db(mean(&e[tail_start..half])) - last_db > STILL_DECAYING_DB {
        return Ok(NoiseFloor {
            noise_db: last_db,
            truncation_index: n,
            truncation_s: n as f64 / fs,
            decay_range_db: -last_db,
            converged: true,
        });
    }
    let no_decay = DecayFitError::NoDecay {
        range_db,
        min_db: MIN_DECAY_RANGE_DB,
    };
    let db0: Vec<f64> = env0.iter().map(|&v| to_db(v)).collect();
    let peak_block = argmax(&env0);
    let stop = (peak_block + 1..db0.len())
        .find(|&b| db0[b] <= noise_db + HEADROOM_DB)
        .ok_or(no_decay.clone())?;
    let (mut slope, intercept) =
        regression(&db0, w0, n, fs, peak_block, stop).ok_or(no_decay.clone())?;
    let end_s = n as f64 / fs;
    let mut crossing = ((noise_db - intercept) / slope).clamp(0.0, end_s);
    let mut converged = false;
    for _ in 0..MAX_ITERATIONS {
        let w = ((fs * 10.0 / -slope / INTERVALS_PER_10DB).round() as usize).clamp(1, n / 4);
        let env = block_means(e, w);
        let db: Vec<f64> = env.iter().map(|&v| to_db(v)).collect();
        let gap_end = crossing + NOISE_GAP_DB / -slope;
        let noise_start = ((gap_end * fs) as usize).min(tail_start);
        noise_db = to_db(mean(&e[noise_start..]));
        let pk = argmax(&env);
        let lo = (pk..db.len())
            .find(|&b| db[b] <= noise_db + HEADROOM_DB + REGRESSION_RANGE_DB)
            .unwrap_or(pk);
        let Some(hi) = (lo..db.len()).find(|&b| db[b] <= noise_db + HEADROOM_DB) else {
            break;
        };
        let Some((s, i)) = regression(&db, w, n, fs, lo, hi) else {
            break;
        };
        slope = s;
        let next = ((noise_db - i) / s).clamp(0.0, end_s);
        let moved = (next - crossing).abs();
        crossing = next;
        if moved <= 0.5 * w as f64 / fs {
            converged = true;
            break;
        }
    }
    let truncation_index = ((crossing * fs).round() as usize).min(n);
    Ok(NoiseFloor {
        noise_db,
        truncation_index,
        truncation_s: truncation_index as f64 / fs,
        decay_range_db: -noise_db,
        converged,
    })
}

/// Means of `e` over consecutive blocks of `w` samples (the last block may be shorter).
fn block_means(e: &[f64], w: usize) -> Vec<f64> {
    e.chunks(w).map(mean).collect()
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

/// Least-squares line (dB/s, dB) through blocks `lo..=hi` of the block envelope `db` (blocks
/// of `w` samples of an `n`-sample signal at `fs` Hz, placed at their centres); `None` with
/// fewer than two blocks or a non-negative slope.
fn regression(db: &[f64], w: usize, n: usize, fs: f64, lo: usize, hi: usize) -> Option<(f64, f64)> {
    if hi <= lo {
        return None;
    }
    let (mut sx, mut sy, mut sxx, mut sxy) = (0.0, 0.0, 0.0, 0.0);
    for (b, &y) in db.iter().enumerate().take(hi + 1).skip(lo) {
        let start = b * w;
        let len = w.min(n - start);
        let t = (start as f64 + 0.5 * len as f64) / fs;
        sx += t;
        sy += y;
        sxx += t * t;
        sxy += t * y;
    }
    let k = (hi - lo + 1) as f64;
    let den = k * sxx - sx * sx;
    if den <= 0.0 {
        return None;
    }
    let slope = (k * sxy - sx * sy) / den;
    (slope < 0.0).then(|| (slope, (sy - slope * sx) / k))
}
