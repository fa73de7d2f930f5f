//! What the room fitter needs to know about a measured IR: conditioning (DC, pre-delay, clipping,
//! noise floor), the decay slopes broadband and per octave band, the mixing time.

use super::design::{fill_from_neighbours, DesignStart};
use crate::analysis::bands::{band_filter, band_limited, octave_band_rts, octave_bands_hz};
use crate::analysis::echo::mixing_time_s;
use crate::analysis::noise::{lundeby, NoiseFloor};
use crate::analysis::onset::{dc_offset, onset_index};
use crate::analysis::slopes::{
    fit_slopes, fit_slopes_auto, schroeder_energy, DecayFitError, SlopeFit,
};

/// Shortest IR the fitter accepts, seconds.
pub const MIN_IR_S: f64 = 0.050;
/// Smallest decay range above the noise floor, dB (T30 fits need −35 dB plus margin).
pub const MIN_DECAY_RANGE_DB: f64 = 15.0;
/// A peak more than this many times (60 dB) above every sample outside its ±2 neighbours is an
/// isolated spike, not a direct sound.
pub const ISOLATED_SPIKE_RATIO: f64 = 1e3;
/// Below this broadband decay range above the noise (dB) the fit runs with a warning (the band
/// RTs then come from T20/T15 where their own range is short).
pub const SHORT_DECAY_RANGE_DB: f64 = 30.0;
/// Clamp of the early part (mixing time), seconds.
pub const EARLY_RANGE_S: (f64, f64) = (0.020, 0.120);
/// Pre-roll kept before the onset when the pre-delay is cut, seconds.
pub const PRE_ROLL_S: f64 = 0.001;

/// How many decay slopes to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlopeChoice {
    /// Chosen by [`crate::analysis::slopes::fit_slopes_auto`] (up to 3).
    Auto,
    /// Exactly this many (1–3).
    Fixed(usize),
}

/// Why a room IR cannot be fitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RoomError {
    /// Empty, non-finite, silent or too short input.
    #[error("{0}")]
    Input(String),
    /// The decay does not rise far enough above the noise.
    #[error("the decay spans only {range_db:.1} dB above the noise floor ({noise_db:.1} dB); at least {min_db:.0} dB are needed to fit band decays")]
    NoiseFloor {
        /// Decay range, dB.
        range_db: f64,
        /// Noise floor relative to the peak, dB.
        noise_db: f64,
        /// Required range, dB.
        min_db: f64,
    },
    /// The slope fit failed.
    #[error("decay fit: {0}")]
    Fit(String),
}

/// The analysis of a room IR (all times relative to the conditioned IR's start).
#[derive(Debug, Clone)]
pub struct RoomAnalysis {
    /// Sample rate, Hz.
    pub fs: f64,
    /// Conditioned IR: DC removed, cut `PRE_ROLL_S` before the onset.
    pub ir: Vec<f64>,
    /// Cut pre-delay, seconds.
    pub pre_delay_s: f64,
    /// Removed DC offset (linear, full scale 1).
    pub dc_offset: f64,
    /// Samples in clipped runs (≥ 3 equal consecutive peak samples).
    pub clipped_samples: usize,
    /// Noise floor and truncation (Lundeby).
    pub noise: NoiseFloor,
    /// Broadband slope fit (on the truncated EDC).
    pub broadband: SlopeFit,
    /// Octave-band centres, Hz.
    pub bands_hz: Vec<f64>,
    /// Per band fit with the broadband slope count (`None` where it failed).
    pub band_fits: Vec<Option<SlopeFit>>,
    /// Per band T30 (pyFDN's estimator, as `tailor compare`), seconds.
    pub band_rt_s: Vec<Option<f64>>,
    /// Mixing time from the echo density (`None` if the profile never reaches 1), seconds.
    pub mixing_time_s: Option<f64>,
    /// End of the early part: the mixing time clamped to [`EARLY_RANGE_S`], seconds.
    pub early_end_s: f64,
    /// Notes on the conditioning (clipping, DC, pre-delay).
    pub warnings: Vec<String>,
}

impl RoomAnalysis {
    /// Number of decay slopes found.
    pub fn n_slopes(&self) -> usize {
        self.broadband.slopes.len()
    }

    /// Another channel of the analysed recording (same rate and start) conditioned as the analysed
    /// IR was: its own DC offset removed by the same rule, the same pre-delay cut, the same length
    /// (shorter when it ends first).
    pub fn conditioned(&self, x: &[f64]) -> Vec<f64> {
        let cut = (self.pre_delay_s * self.fs).round() as usize;
        let dc = dc_offset(x);
        x.iter()
            .skip(cut)
            .take(self.ir.len())
            .map(|v| v - dc)
            .collect()
    }
}

/// Counts samples that belong to runs of ≥ 3 consecutive samples at the absolute peak (±0.1 %).
fn clipped_samples(x: &[f64]) -> usize {
    let peak = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let mut count = 0;
    let mut run = 0;
    for v in x {
        if v.abs() >= peak * 0.999 {
            run += 1;
        } else {
            if run >= 3 {
                count += run;
            }
            run = 0;
        }
    }
    if run >= 3 {
        count += run;
    }
    count
}

/// Analyses a mono room IR at `fs` Hz. Conditioning, documented for `tailor fit --help`:
/// a DC offset (the mean of the last 10 %, when above 0.1 % of the peak) is subtracted; the
/// pre-delay before the onset (first sample within 20 dB of the peak) minus 1 ms is cut;
/// clipping is reported (it only affects the direct sound, which the early FIR copies as it is);
/// a noise floor less than 30 dB below the peak, noise without decay, or an IR shorter than
/// 50 ms after the onset is an error.
pub fn analyse_room(ir: &[f64], fs: f64, slopes: SlopeChoice) -> Result<RoomAnalysis, RoomError> {
    crate::limits::check_sample_rate("IR", fs).map_err(|e| RoomError::Input(e.to_string()))?;
    if ir.is_empty() {
        return Err(RoomError::Input("the IR is empty".into()));
    }
    if let Some(i) = ir.iter().position(|v| !v.is_finite()) {
        return Err(RoomError::Input(format!("IR sample {i} is not finite")));
    }
    let peak = ir.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if peak == 0.0 {
        return Err(RoomError::Input(
            "the IR is silent (all samples are zero)".into(),
        ));
    }
    // A room's direct sound is followed by reflections within 60 dB of it; one sample far above
    // everything else is a click or a corrupt value, and its filter ringing would pass for a room.
    let p = ir.iter().position(|v| v.abs() == peak).unwrap_or(0);
    let rest = ir
        .iter()
        .enumerate()
        .filter(|(i, _)| i.abs_diff(p) > 2)
        .fold(0.0f64, |m, (_, v)| m.max(v.abs()));
    if rest * ISOLATED_SPIKE_RATIO < peak {
        return Err(RoomError::Input(format!(
            "sample {p} stands {:.0} dB above every other sample: an isolated spike (a click or a corrupt value), not a room's impulse response",
            20.0 * (peak / rest.max(1e-300)).log10()
        )));
    }
    let mut warnings = Vec::new();
    let dc_offset = dc_offset(ir);
    if dc_offset != 0.0 {
        warnings.push(format!("removed a DC offset of {dc_offset:.2e}"));
    }
    let x: Vec<f64> = ir.iter().map(|v| v - dc_offset).collect();
    let clipped = clipped_samples(&x);
    if clipped > 0 {
        warnings.push(format!(
            "{clipped} samples look clipped (runs at the peak); the decay is fitted, the direct sound is kept as recorded"
        ));
    }
    let onset = onset_index(&x).unwrap_or(0);
    let cut = onset.saturating_sub((PRE_ROLL_S * fs).round() as usize);
    if cut as f64 / fs > 0.005 {
        warnings.push(format!(
            "cut {:.1} ms of pre-delay (use the plugin's pre-delay to add it back)",
            1000.0 * cut as f64 / fs
        ));
    }
    let x = x[cut..].to_vec();
    if (x.len() as f64) < MIN_IR_S * fs {
        return Err(RoomError::Input(format!(
            "the IR has {:.1} ms after its onset; at least {:.0} ms are needed",
            1000.0 * x.len() as f64 / fs,
            1000.0 * MIN_IR_S
        )));
    }
    // The broadband decay is read from the IR limited to the fitted octave bands (the sum of
    // their IEC band-passes): rumble below 88 Hz or hiss above 11 kHz is no part of the decay
    // the FDN reproduces and would otherwise pass for a high noise floor.
    let limited = band_limited(&x, fs);
    let noise = lundeby(&limited, fs).map_err(|e| match e {
        DecayFitError::NoDecay { range_db, min_db } => RoomError::NoiseFloor {
            range_db,
            noise_db: -range_db,
            min_db,
        },
        e => RoomError::Input(format!("noise floor: {e}")),
    })?;
    if noise.decay_range_db < MIN_DECAY_RANGE_DB {
        return Err(RoomError::NoiseFloor {
            range_db: noise.decay_range_db,
            noise_db: noise.noise_db,
            min_db: MIN_DECAY_RANGE_DB,
        });
    }
    if noise.decay_range_db < SHORT_DECAY_RANGE_DB {
        warnings.push(format!(
            "the decay spans only {:.1} dB above the noise floor: fitted over that range (band RTs by T20/T15 where a band's range is short), less certain than a {SHORT_DECAY_RANGE_DB:.0} dB measurement",
            noise.decay_range_db
        ));
    }
    let end = noise
        .truncation_index
        .clamp((MIN_IR_S * fs) as usize, x.len());
    let fit = |sig: &[f64], k: Option<usize>| -> Result<SlopeFit, RoomError> {
        let edc = schroeder_energy(&sig[..end.min(sig.len())]);
        match k {
            None => fit_slopes_auto(&edc, fs, 3, true),
            Some(k) => fit_slopes(&edc, fs, k, true),
        }
        .map_err(|e| RoomError::Fit(e.to_string()))
    };
    let broadband = match slopes {
        SlopeChoice::Auto => fit(&limited, None)?,
        SlopeChoice::Fixed(k) => fit(&limited, Some(k))?,
    };
    if broadband.slopes.is_empty()
        || broadband
            .slopes
            .iter()
            .any(|s| !(s.rt_s.is_finite() && s.rt_s > 0.0 && s.amplitude.is_finite()))
    {
        return Err(RoomError::Fit(
            "the broadband EDC shows no decaying slope (is this an impulse response?)".into(),
        ));
    }
    let k = broadband.slopes.len();
    let bands_hz = octave_bands_hz();
    let band_fits = bands_hz
        .iter()
        .map(|&fc| {
            band_filter(&x, fs, fc, 1)
                .ok()
                .and_then(|b| fit(&b, Some(k)).ok())
        })
        .collect();
    let band_rt_s = octave_band_rts(&x, fs);
    for (fc, rt) in bands_hz.iter().zip(&band_rt_s) {
        if rt.is_none() && crate::analysis::bands::band_fits(*fc, fs, 1) {
            warnings.push(format!(
                "the {fc} Hz band has no decay above its noise (25 dB needed): its RT follows the neighbouring bands"
            ));
        }
    }
    let mixing = mixing_time_s(&x, fs).ok().flatten();
    let early_end_s = mixing
        .unwrap_or(EARLY_RANGE_S.1)
        .clamp(EARLY_RANGE_S.0, EARLY_RANGE_S.1);
    Ok(RoomAnalysis {
        fs,
        ir: x,
        pre_delay_s: cut as f64 / fs,
        dc_offset,
        clipped_samples: clipped,
        noise,
        broadband,
        bands_hz,
        band_fits,
        band_rt_s,
        mixing_time_s: mixing,
        early_end_s,
        warnings,
    })
}

/// The loop's starting point from an analysis: one group per slope (fast → slow). With one slope
/// the band RTs are the estimator's T30s; with more, each band's own slope fit (ordered by RT),
/// falling back to the broadband slopes where a band fit failed. Group gains follow the slope
/// amplitudes: an exponential with EDC amplitude `A` and RT `T` starts at energy `∝ A/T`, so the
/// gain is `√(A/T)`, normalised to the largest.
pub fn design_start(a: &RoomAnalysis) -> DesignStart {
    let k = a.n_slopes().max(1);
    let nb = a.bands_hz.len();
    let broad: Vec<f64> = a.broadband.slopes.iter().map(|s| s.rt_s).collect();
    let mut rt_s = vec![vec![0.0; nb]; k];
    for (b, fit) in a.band_fits.iter().enumerate() {
        let band: Option<Vec<f64>> = fit.as_ref().and_then(|f| {
            let mut r: Vec<f64> = f.slopes.iter().map(|s| s.rt_s).collect();
            r.sort_by(f64::total_cmp);
            (r.len() == k && r.iter().all(|t| t.is_finite() && *t > 0.0)).then_some(r)
        });
        let own = a.band_rt_s[b];
        let near = fill_from_neighbours(&a.band_rt_s)[b];
        for (g, row) in rt_s.iter_mut().enumerate() {
            row[b] = if k == 1 {
                own.or(near).unwrap_or(broad[0])
            } else {
                match (&band, own) {
                    // The band's own slope fit where it agrees with the broadband slopes scaled
                    // to the band (within a factor of 2 each): a band's multi-slope fit is
                    // ill-conditioned (0.1 s and 3 s for a 1.3 s band) and such a start sends
                    // the loop past its iterations.
                    (Some(r), Some(t))
                        if (0.5..=2.0).contains(&(r[g] / (broad[g] * t / broad[k - 1]))) =>
                    {
                        r[g]
                    }
                    // Otherwise (or with no own decay) the broadband slope scaled to the band's
                    // RT (its neighbours' without its own).
                    _ => near.map_or(broad[g], |n| broad[g] * n / broad[k - 1]),
                }
            }
            .clamp(0.02, 60.0);
        }
    }
    let raw: Vec<f64> = a
        .broadband
        .slopes
        .iter()
        .map(|s| (s.amplitude.max(0.0) / s.rt_s.max(1e-3)).sqrt())
        .collect();
    let top = raw.iter().copied().fold(0.0f64, f64::max);
    let group_gain = if top > 0.0 {
        raw.iter().map(|g| (g / top).max(1e-3)).collect()
    } else {
        vec![1.0; k]
    };
    DesignStart { rt_s, group_gain }
}
