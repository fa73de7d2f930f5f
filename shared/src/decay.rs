//! Decay (attenuation) filters for delay lines, and `with_decay` for builds.
//!
//! Per-line target gain for a reverberation time RT (seconds, −60 dB) and delay m (samples) at
//! rate fs (Hz): `G = 10^(−3·m / (RT·fs))` (linear), i.e. `−60·m/(RT·fs)` dB.
//!
//! Two crossover conventions exist for the first-order shelf (pyFDN changed it, fdn.md §6.3):
//! * pyFDN 0.3 [`first_order_absorption`]: `t = tan(2π·fc/fs)`, default `fc = fs/8`, `fc ≤ fs/5`;
//! * pyFDN 0.5 [`decay_to_first_order_shelf`]: `t = tan(π·f/fs)`, default `f = fs/4`, `f ≤ fs/2.1`.
//!
//! The defaults coincide (`t = 1`); an explicit crossover of `f` Hz in 0.5 equals `f/2` in 0.3.

use crate::preset::{Build, PresetError};
use crate::sos::SosBank;

/// Why a decay design was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecayError {
    /// A reverberation time is not positive and finite.
    #[error("{name}: reverberation time must be positive and finite seconds (got {value})")]
    Rt {
        /// Which RT ("rt", "rt_nyquist").
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// The crossover frequency is not positive and finite.
    #[error("crossover: must be a positive, finite frequency in Hz (got {0})")]
    Crossover(f64),
    /// The sample rate is not positive and finite.
    #[error("sample_rate: must be positive and finite (got {0})")]
    SampleRate(f64),
    /// The resulting build was refused.
    #[error(transparent)]
    Build(#[from] PresetError),
}

/// A reverberation-time target: flat, or a first-order shelf from DC to Nyquist (seconds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rt {
    /// The same T60 at every frequency, seconds.
    Flat(f64),
    /// T60 at DC and at Nyquist, seconds.
    Shelf {
        /// T60 at DC (s).
        dc: f64,
        /// T60 at Nyquist (s).
        nyquist: f64,
    },
}

impl Rt {
    /// `(rt_dc, rt_nyquist)` in seconds.
    pub fn endpoints(self) -> (f64, f64) {
        match self {
            Rt::Flat(t) => (t, t),
            Rt::Shelf { dc, nyquist } => (dc, nyquist),
        }
    }

    /// Largest of the two T60s (seconds).
    pub fn max_seconds(self) -> f64 {
        let (a, b) = self.endpoints();
        a.max(b)
    }
}

impl From<f64> for Rt {
    fn from(t: f64) -> Self {
        Rt::Flat(t)
    }
}

impl From<(f64, f64)> for Rt {
    fn from((dc, nyquist): (f64, f64)) -> Self {
        Rt::Shelf { dc, nyquist }
    }
}

/// Crossover convention of the first-order shelf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrossoverConvention {
    /// pyFDN ≤ 0.3 `first_order_absorption`: `t = tan(2π·fc/fs)`, default fs/8, clamp fs/5.
    Pyfdn03,
    /// pyFDN 0.5 `decay_to_first_order_shelf`: `t = tan(π·f/fs)`, default fs/4, clamp fs/2.1.
    Pyfdn05,
}

/// Linear per-line gain for a T60 of `rt` seconds over `delay` samples at `fs` Hz.
pub fn delay_gain(rt: f64, delay: f64, fs: f64) -> f64 {
    10f64.powf(-3.0 * delay / (rt * fs))
}

fn check(rt: f64, rt_ny: f64, fs: f64) -> Result<(), DecayError> {
    if !(rt.is_finite() && rt > 0.0) {
        return Err(DecayError::Rt {
            name: "rt",
            value: rt,
        });
    }
    if !(rt_ny.is_finite() && rt_ny > 0.0) {
        return Err(DecayError::Rt {
            name: "rt_nyquist",
            value: rt_ny,
        });
    }
    if !(fs.is_finite() && fs > 0.0) {
        return Err(DecayError::SampleRate(fs));
    }
    Ok(())
}

/// The shelf's bilinear warp `t` for a convention and optional crossover (Hz).
pub fn shelf_warp(
    convention: CrossoverConvention,
    crossover: Option<f64>,
    fs: f64,
) -> Result<f64, DecayError> {
    if let Some(f) = crossover {
        if !(f.is_finite() && f > 0.0) {
            return Err(DecayError::Crossover(f));
        }
    }
    Ok(match convention {
        CrossoverConvention::Pyfdn03 => {
            let fc = crossover.unwrap_or(fs / 8.0).min(fs / 5.0);
            (2.0 * std::f64::consts::PI * fc / fs).tan()
        }
        CrossoverConvention::Pyfdn05 => {
            let f = crossover.unwrap_or(fs / 4.0).min(fs / 2.1);
            (std::f64::consts::PI * f / fs).tan()
        }
    })
}

/// First-order shelf section `[b0, b1, 0, 1, a1, 0]` with |H(1)| = `g_dc`, |H(−1)| = `g_ny` and warp `t`.
pub fn shelf_section(g_dc: f64, g_ny: f64, t: f64) -> [f64; 6] {
    let r = (g_dc / g_ny).sqrt();
    let a0 = t / r + 1.0;
    let b0 = (t * r + 1.0) * g_ny / a0;
    let b1 = (t * r - 1.0) * g_ny / a0;
    let a1 = (t / r - 1.0) / a0;
    [b0, b1, 0.0, 1.0, a1, 0.0]
}

fn shelf_bank(rt: f64, rt_ny: f64, delays: &[usize], fs: f64, t: f64) -> SosBank {
    let sections: Vec<[f64; 6]> = delays
        .iter()
        .map(|&m| {
            shelf_section(
                delay_gain(rt, m as f64, fs),
                delay_gain(rt_ny, m as f64, fs),
                t,
            )
        })
        .collect();
    SosBank::from_single_sections(&sections).expect("shelf coefficients are finite with a0 = 1")
}

/// pyFDN 0.5 `decay_to_first_order_shelf`: per-line shelf, T60 `rt` at DC and `rt_nyquist` at
/// Nyquist (seconds), crossover in Hz (default fs/4), `(1, 6, N)`.
pub fn decay_to_first_order_shelf(
    rt: f64,
    rt_nyquist: f64,
    crossover: Option<f64>,
    delays: &[usize],
    fs: f64,
) -> Result<SosBank, DecayError> {
    check(rt, rt_nyquist, fs)?;
    let t = shelf_warp(CrossoverConvention::Pyfdn05, crossover, fs)?;
    Ok(shelf_bank(rt, rt_nyquist, delays, fs, t))
}

/// Seed name (pyFDN ≤ 0.3) `first_order_absorption(rt_dc, rt_ny, delays, fs, fc)`: the same shelf
/// with the 0.3 crossover convention (`t = tan(2π·fc/fs)`, default fc = fs/8).
pub fn first_order_absorption(
    rt_dc: f64,
    rt_ny: f64,
    delays: &[usize],
    fs: f64,
    crossover: Option<f64>,
) -> Result<SosBank, DecayError> {
    check(rt_dc, rt_ny, fs)?;
    let t = shelf_warp(CrossoverConvention::Pyfdn03, crossover, fs)?;
    Ok(shelf_bank(rt_dc, rt_ny, delays, fs, t))
}

/// One-pole section `[b0, 0, 0, 1, a1, 0]` with |H(1)| = `g_dc` and |H(−1)| = `g_ny`.
pub fn one_pole_section(g_dc: f64, g_ny: f64) -> [f64; 6] {
    let rho = g_dc / g_ny;
    let a1 = (1.0 - rho) / (1.0 + rho);
    let b0 = (1.0 - a1) * g_ny;
    [b0, 0.0, 0.0, 1.0, a1, 0.0]
}

/// pyFDN `decay_to_one_pole` (seed name `one_pole_absorption`): per-line one-pole lowpass with
/// T60 `rt` at DC and `rt_nyquist` at Nyquist (seconds), `(1, 6, N)`.
pub fn decay_to_one_pole(
    rt: f64,
    rt_nyquist: f64,
    delays: &[usize],
    fs: f64,
) -> Result<SosBank, DecayError> {
    check(rt, rt_nyquist, fs)?;
    let sections: Vec<[f64; 6]> = delays
        .iter()
        .map(|&m| {
            one_pole_section(
                delay_gain(rt, m as f64, fs),
                delay_gain(rt_nyquist, m as f64, fs),
            )
        })
        .collect();
    Ok(SosBank::from_single_sections(&sections)
        .expect("one-pole coefficients are finite with a0 = 1"))
}

/// Seed name for [`decay_to_one_pole`].
pub fn one_pole_absorption(
    rt_dc: f64,
    rt_ny: f64,
    delays: &[usize],
    fs: f64,
) -> Result<SosBank, DecayError> {
    decay_to_one_pole(rt_dc, rt_ny, delays, fs)
}

/// Seed `with_decay(build, rt)` (pyFDN 0.5 `build_set_decay`): a copy whose `post_delay` is
/// **replaced** by the first-order shelf for `rt` at the default crossover (identical in both
/// conventions); other hooks are untouched.
pub fn with_decay(build: &Build, rt: impl Into<Rt>) -> Result<Build, DecayError> {
    with_decay_crossover(build, rt, None, CrossoverConvention::Pyfdn05)
}

/// [`with_decay`] with an explicit crossover (Hz) in the given convention.
pub fn with_decay_crossover(
    build: &Build,
    rt: impl Into<Rt>,
    crossover: Option<f64>,
    convention: CrossoverConvention,
) -> Result<Build, DecayError> {
    let (dc, ny) = rt.into().endpoints();
    check(dc, ny, build.sample_rate())?;
    let t = shelf_warp(convention, crossover, build.sample_rate())?;
    let bank = shelf_bank(dc, ny, build.delays(), build.sample_rate(), t);
    Ok(build.with_post_delay(Some(bank))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shelf_hits_both_endpoint_gains() {
        let delays = [571, 1105];
        let bank = decay_to_first_order_shelf(2.0, 0.5, None, &delays, 48000.0).unwrap();
        for (c, &m) in delays.iter().enumerate() {
            let g_dc = delay_gain(2.0, m as f64, 48000.0);
            let g_ny = delay_gain(0.5, m as f64, 48000.0);
            assert!((bank.magnitude(c, 0.0) - g_dc).abs() < 1e-14);
            assert!((bank.magnitude(c, std::f64::consts::PI) - g_ny).abs() < 1e-14);
        }
        // Worked example of fdn.md §7.1: m = 1000, rt = 2 s, fs = 48 kHz → 0.9306 (−0.625 dB).
        assert!((delay_gain(2.0, 1000.0, 48000.0) - 10f64.powf(-0.625 / 20.0)).abs() < 1e-15);
    }

    #[test]
    fn conventions_agree_at_default_and_differ_by_factor_two() {
        let d = [800];
        let a = first_order_absorption(2.0, 0.5, &d, 48000.0, None).unwrap();
        let b = decay_to_first_order_shelf(2.0, 0.5, None, &d, 48000.0).unwrap();
        assert_eq!(a, b);
        let a = first_order_absorption(2.0, 0.5, &d, 48000.0, Some(3000.0)).unwrap();
        let b = decay_to_first_order_shelf(2.0, 0.5, Some(6000.0), &d, 48000.0).unwrap();
        assert!(a
            .section(0, 0)
            .iter()
            .zip(b.section(0, 0))
            .all(|(x, y)| (x - y).abs() < 1e-15));
    }

    #[test]
    fn flat_shelf_is_a_pure_gain_and_one_pole_endpoints() {
        let b = decay_to_first_order_shelf(1.5, 1.5, None, &[1000], 48000.0).unwrap();
        let s = b.section(0, 0);
        assert!(s[1].abs() < 1e-15 && s[4].abs() < 1e-15);
        let p = decay_to_one_pole(1.0, 0.3, &[687], 48000.0).unwrap();
        assert!((p.magnitude(0, 0.0) - delay_gain(1.0, 687.0, 48000.0)).abs() < 1e-14);
        assert!(
            (p.magnitude(0, std::f64::consts::PI) - delay_gain(0.3, 687.0, 48000.0)).abs() < 1e-14
        );
    }

    #[test]
    fn bad_times_are_refused() {
        assert!(matches!(
            decay_to_first_order_shelf(0.0, 1.0, None, &[10], 48000.0),
            Err(DecayError::Rt { name: "rt", .. })
        ));
        assert!(matches!(
            decay_to_one_pole(1.0, f64::NAN, &[10], 48000.0),
            Err(DecayError::Rt {
                name: "rt_nyquist",
                ..
            })
        ));
        assert!(matches!(
            decay_to_first_order_shelf(1.0, 1.0, Some(-3.0), &[10], 48000.0),
            Err(DecayError::Crossover(_))
        ));
    }
}
