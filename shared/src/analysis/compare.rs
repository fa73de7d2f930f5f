//! Comparison of two impulse responses (A = target, B = candidate) with the room-fitting
//! definitions: band RTs, broadband EDC error, octave level error and mel log-spectral distance,
//! decay measured as ISO 3382-1 measures it ([`super::iso3382`]: noise-compensated EDCs in
//! IEC 61260-1 octave bands), so a measured room's noise floor counts in no figure.
//!
//! Both IRs are first aligned at their onsets (first sample within 20 dB of the absolute peak)
//! and cut to the shorter remaining length ([`align_pair`]); every figure below is computed on
//! the aligned, cut pair.

use super::bands::{
    audio_band, audio_third_octaves_hz, band_filter, decay_of_band_signal, OCTAVE_BANDS_HZ,
};
use super::error::{validate_rate, AnalysisError};
use super::iso3382::{compensated_decay, CompensatedDecay, RtRange, BROADBAND_WINDOW_S};
use super::mel::mel_bands;
use super::onset::{align_pair, without_dc};
use super::schroeder_edc_db;
use super::spectrum::power_spectrum;

/// Shortest aligned length accepted by [`compare_irs`], seconds (20 ms).
pub const MIN_COMPARE_S: f64 = 0.020;
/// EDC level (dB, relative to the start) above which the target's EDC is compared (−30 dB).
pub const EDC_COMPARE_FLOOR_DB: f64 = -30.0;
/// EDC values are floored here (dB) so a B that falls silent gives a finite error.
pub const EDC_FLOOR_DB: f64 = -200.0;
/// Number of mel bands of the log-spectral distance.
pub const MEL_BANDS: usize = 64;
/// Lowest frequency of the mel bank, Hz.
pub const MEL_FMIN_HZ: f64 = 20.0;

/// How far B is from A. Serialises with exactly these snake_case keys.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Comparison {
    /// Octave-band centres in Hz (125 Hz … 8 kHz, nominal).
    pub bands_hz: Vec<f64>,
    /// Band RT of A, seconds: least squares on the band's noise-compensated EDC over the range
    /// of `rt_range`, extrapolated to 60 dB; `None` when the band is above Nyquist or has less
    /// than 25 dB of decay above its noise.
    pub rt_a_s: Vec<Option<f64>>,
    /// Band RT of B over the same range as A's, seconds.
    pub rt_b_s: Vec<Option<f64>>,
    /// Regression range per band ("T30", "T20" or "T15"), chosen by A's decay range above its
    /// noise (45, 35, 25 dB), used for both A and B.
    pub rt_range: Vec<Option<RtRange>>,
    /// Per band `100·|rt_b − rt_a|/rt_a`, percent; `None` when either RT is missing.
    pub rt_error_pct: Vec<Option<f64>>,
    /// Mean of the available `rt_error_pct`, percent; `None` when no band has both RTs.
    pub mean_rt_error_pct: Option<f64>,
    /// Largest available `rt_error_pct`, percent; `None` when no band has both RTs.
    pub worst_rt_error_pct: Option<f64>,
    /// Mean |ΔdB| between the broadband noise-compensated EDCs of A and B in the audio band
    /// ([`audio_band`]: DC drift and infrasonic rumble are no part of the decay; each EDC 0 dB at
    /// its start, floored at −200 dB) over the samples where A's EDC is above −30 dB, dB.
    pub edc_error_db: f64,
    /// Mean over the octave bands below Nyquist (all 7 at fs ≥ 22.5 kHz) of |ΔdB| of the band
    /// energy shares (noise-compensated band energy / sum of those band energies), dB.
    pub level_error_db: f64,
    /// RMS over 64 mel bands of 20·log10(|A_mel|/|B_mel|), dB (see [`mel_lsd_db`]).
    pub mel_lsd_db: f64,
    /// The third-octave level figures (keys `third_octave_*`); no bands from
    /// [`compare_decay`].
    #[serde(flatten)]
    pub third_octave: ThirdOctaveLevels,
}

/// Third-octave level figures of an aligned pair A (the room), B (the fit); in a
/// [`Comparison`] they serialise as the keys in brackets.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ThirdOctaveLevels {
    /// Nominal centres of the IEC third-octave bands of the audio band below `0.45·fs`, Hz
    /// ([`audio_third_octaves_hz`]: 20 Hz … 20 kHz at fs ≥ 48 kHz) (`third_octave_bands_hz`).
    #[serde(rename = "third_octave_bands_hz")]
    pub bands_hz: Vec<f64>,
    /// Whether A has a decay above its noise in each band: the bands whose level error counts;
    /// in the others the room has no energy of its own (`third_octave_above_noise`).
    #[serde(rename = "third_octave_above_noise")]
    pub above_noise: Vec<bool>,
    /// Level of A per band, dB: its energy without noise (plain energy in a band without decay
    /// above the noise) over the sum of those energies in A's above-noise bands; `None` for a
    /// band with no energy at all (`third_octave_level_a_db`).
    #[serde(rename = "third_octave_level_a_db")]
    pub a_db: Vec<Option<f64>>,
    /// Level of B per band, dB, over the sum of B's energies in A's above-noise bands
    /// (`third_octave_level_b_db`).
    #[serde(rename = "third_octave_level_b_db")]
    pub b_db: Vec<Option<f64>>,
    /// B − A per band where A is above its noise, dB; `None` elsewhere
    /// (`third_octave_band_error_db`).
    #[serde(rename = "third_octave_band_error_db")]
    pub error_db: Vec<Option<f64>>,
    /// Largest |B − A| over the bands where A is above its noise, dB (every band of the room's
    /// own within this figure); 0 when no band is (`third_octave_level_error_db`).
    #[serde(rename = "third_octave_level_error_db")]
    pub worst_db: f64,
    /// Largest amount by which B's level exceeds A's in the bands where A has no decay above its
    /// noise, dB (energy the fit has where the room has none); 0 when B stays below everywhere
    /// (`third_octave_excess_db`).
    #[serde(rename = "third_octave_excess_db")]
    pub excess_db: f64,
}

impl ThirdOctaveLevels {
    /// No bands (what [`compare_decay`] reports).
    pub fn empty() -> Self {
        Self {
            bands_hz: Vec::new(),
            above_noise: Vec::new(),
            a_db: Vec::new(),
            b_db: Vec::new(),
            error_db: Vec::new(),
            worst_db: 0.0,
            excess_db: 0.0,
        }
    }
}

/// Energy of `x` without its noise (at `fs` Hz) in the IEC third-octave band with nominal
/// centre `fc` Hz from sample `from` on, and whether the band has a decay above its noise (the
/// plain energy where it has none); `None` when the band does not fit below Nyquist.
pub fn third_octave_energy(x: &[f64], fs: f64, fc: f64, from: usize) -> Option<(f64, bool)> {
    let y = band_filter(x, fs, fc, 3).ok()?;
    Some(match decay_of_band_signal(&y, fs, fc) {
        Some(d) => (d.energy_from(from), true),
        None => (y.iter().skip(from).map(|v| v * v).sum(), false),
    })
}

/// Third-octave level figures of aligned `a` and `b` at `fs` Hz (see [`ThirdOctaveLevels`]).
pub fn third_octave_levels(a: &[f64], b: &[f64], fs: f64) -> ThirdOctaveLevels {
    let bands_hz = audio_third_octaves_hz(fs);
    let measure = |x: &[f64]| -> Vec<(f64, bool)> {
        bands_hz
            .iter()
            .map(|&fc| third_octave_energy(x, fs, fc, 0).unwrap_or((0.0, false)))
            .collect()
    };
    let (ea, eb) = (measure(a), measure(b));
    let above_noise: Vec<bool> = ea.iter().map(|(_, d)| *d).collect();
    let total = |e: &[(f64, bool)]| -> f64 {
        e.iter()
            .zip(&above_noise)
            .filter(|(_, &k)| k)
            .map(|((v, _), _)| v.max(0.0))
            .sum::<f64>()
    };
    let level = |e: &[(f64, bool)]| -> Vec<Option<f64>> {
        let t = total(e);
        e.iter()
            .map(|(v, _)| (*v > 0.0 && t > 0.0).then(|| 10.0 * (v / t).log10()))
            .collect()
    };
    let (a_db, b_db) = (level(&ea), level(&eb));
    let diff = |i: usize| -> Option<f64> { Some(b_db[i]? - a_db[i]?) };
    let error_db: Vec<Option<f64>> = (0..bands_hz.len())
        .map(|i| if above_noise[i] { diff(i) } else { None })
        .collect();
    let worst_db = error_db
        .iter()
        .flatten()
        .fold(0.0f64, |m, v| m.max(v.abs()));
    let excess_db = (0..bands_hz.len())
        .filter(|&i| !above_noise[i])
        .filter_map(|i| match (a_db[i], b_db[i]) {
            (Some(x), Some(y)) => Some(y - x),
            (None, Some(_)) => Some(f64::INFINITY),
            _ => None,
        })
        .fold(0.0f64, f64::max);
    ThirdOctaveLevels {
        bands_hz,
        above_noise,
        a_db,
        b_db,
        error_db,
        worst_db,
        excess_db: if excess_db.is_finite() {
            excess_db
        } else {
            300.0
        },
    }
}

/// One octave band of one IR: its energy without noise and its compensated decay.
struct BandMeasure {
    energy: f64,
    decay: Option<CompensatedDecay>,
}

/// The octave bands of `x` at `fs` Hz (`None` above Nyquist).
fn measure_bands(x: &[f64], fs: f64) -> Vec<Option<BandMeasure>> {
    OCTAVE_BANDS_HZ
        .iter()
        .map(|&fc| {
            let y = band_filter(x, fs, fc, 1).ok()?;
            let decay = decay_of_band_signal(&y, fs, fc);
            let energy = decay
                .as_ref()
                .map_or_else(|| y.iter().map(|v| v * v).sum(), CompensatedDecay::total);
            Some(BandMeasure { energy, decay })
        })
        .collect()
}

/// Compares target `a` with candidate `b`, both at `fs` Hz (see [`Comparison`] for every
/// figure; bands above Nyquist have no RT and are left out of the level error). Errors: empty,
/// non-finite or silent input (named "A" or "B"), a rate outside [`crate::limits`], or less than
/// 20 ms left after alignment.
pub fn compare_irs(a: &[f64], b: &[f64], fs: f64) -> Result<Comparison, AnalysisError> {
    compare_with(a, b, fs, true)
}

/// [`compare_irs`] without the third-octave figures (their fields empty and 0): the decay
/// figures alone, for loops that judge candidates by them (the third-octave filters are about
/// four fifths of the comparison's cost).
pub fn compare_decay(a: &[f64], b: &[f64], fs: f64) -> Result<Comparison, AnalysisError> {
    compare_with(a, b, fs, false)
}

fn compare_with(
    a: &[f64],
    b: &[f64],
    fs: f64,
    third_octaves: bool,
) -> Result<Comparison, AnalysisError> {
    validate_rate(fs)?;
    // A measured IR's DC offset goes, as the room analysis removes it before fitting.
    let (a, b) = (without_dc(a), without_dc(b));
    let (a, b) = align_pair(&a, &b)?;
    let min = (MIN_COMPARE_S * fs).ceil() as usize;
    if a.len() < min {
        return Err(AnalysisError::TooShort {
            what: "A and B".into(),
            samples: a.len(),
            min,
        });
    }
    let (ma, mb) = (measure_bands(a, fs), measure_bands(b, fs));
    let level_error_db = level_error_of(&ma, &mb).ok_or(AnalysisError::BadRate(fs))?;
    let mut rt_a_s = Vec::new();
    let mut rt_b_s = Vec::new();
    let mut rt_range = Vec::new();
    for (x, y) in ma.iter().zip(&mb) {
        let da = x.as_ref().and_then(|m| m.decay.as_ref());
        let db = y.as_ref().and_then(|m| m.decay.as_ref());
        let range = da.and_then(CompensatedDecay::rt_range);
        rt_a_s.push(range.and_then(|r| da.and_then(|d| d.decay_time(r))));
        rt_b_s.push(range.and_then(|r| db.and_then(|d| d.decay_time(r))));
        rt_range.push(range);
    }
    let rt_error_pct: Vec<Option<f64>> = rt_a_s
        .iter()
        .zip(&rt_b_s)
        .map(|(ra, rb)| match (ra, rb) {
            (Some(ra), Some(rb)) if *ra > 0.0 => Some(100.0 * (rb - ra).abs() / ra),
            _ => None,
        })
        .collect();
    let known: Vec<f64> = rt_error_pct.iter().flatten().copied().collect();
    let mean_rt_error_pct =
        (!known.is_empty()).then(|| known.iter().sum::<f64>() / known.len() as f64);
    let worst_rt_error_pct = known.iter().copied().reduce(f64::max);
    let third = if third_octaves {
        third_octave_levels(a, b, fs)
    } else {
        ThirdOctaveLevels::empty()
    };
    Ok(Comparison {
        bands_hz: OCTAVE_BANDS_HZ.to_vec(),
        rt_a_s,
        rt_b_s,
        rt_range,
        rt_error_pct,
        mean_rt_error_pct,
        worst_rt_error_pct,
        edc_error_db: edc_error_db(&audio_band(a, fs), &audio_band(b, fs), fs),
        level_error_db,
        mel_lsd_db: mel_lsd_db(a, b, fs)?,
        third_octave: third,
    })
}

/// [`compare_irs`] for inputs with their own rates (Hz); different rates are refused.
pub fn compare_irs_at(
    a: &[f64],
    fs_a: f64,
    b: &[f64],
    fs_b: f64,
) -> Result<Comparison, AnalysisError> {
    if fs_a != fs_b {
        return Err(AnalysisError::RateMismatch { a: fs_a, b: fs_b });
    }
    compare_irs(a, b, fs_a)
}

/// Broadband EDC in dB (0 dB at sample 0) of `x` at `fs` Hz as the comparison measures it: the
/// noise-compensated EDC up to the noise intersection, the plain Schroeder EDC when no decay
/// stands above the noise.
pub fn broadband_edc_db(x: &[f64], fs: f64) -> Vec<f64> {
    match compensated_decay(x, fs, BROADBAND_WINDOW_S) {
        Some(d) => d.edc_db(),
        None => schroeder_edc_db(x),
    }
}

/// Mean |ΔdB| between the broadband EDCs ([`broadband_edc_db`]) of equal-length, aligned `a`
/// and `b` at `fs` Hz (each 0 dB at its start, floored at −200 dB) over the samples where `a`'s
/// EDC is above −30 dB (and B's is defined), dB.
pub fn edc_error_db(a: &[f64], b: &[f64], fs: f64) -> f64 {
    let (ea, eb) = (broadband_edc_db(a, fs), broadband_edc_db(b, fs));
    let (sum, count) = ea
        .iter()
        .zip(&eb)
        .filter(|(x, _)| **x > EDC_COMPARE_FLOOR_DB)
        .fold((0.0, 0usize), |(s, c), (x, y)| {
            (s + (x.max(EDC_FLOOR_DB) - y.max(EDC_FLOOR_DB)).abs(), c + 1)
        });
    if count == 0 {
        0.0
    } else {
        sum / count as f64
    }
}

/// Energy of `x` (at `fs` Hz) in each octave band of [`OCTAVE_BANDS_HZ`]
/// without its noise (the compensated decay's total; the plain Σy² where no decay stands above
/// the noise); `None` for a band above Nyquist (8 kHz at fs < 22.5 kHz).
pub fn octave_band_energies(x: &[f64], fs: f64) -> Vec<Option<f64>> {
    measure_bands(x, fs)
        .into_iter()
        .map(|m| m.map(|m| m.energy))
        .collect()
}

/// Level error from per-band energies (`None` above Nyquist): mean |ΔdB| of the band shares.
fn level_error_of(a: &[Option<BandMeasure>], b: &[Option<BandMeasure>]) -> Option<f64> {
    let shares_db = |x: &[Option<BandMeasure>]| -> Vec<f64> {
        let e: Vec<f64> = x.iter().flatten().map(|m| m.energy.max(0.0)).collect();
        let total: f64 = e.iter().sum::<f64>().max(1e-300);
        e.iter()
            .map(|v| 10.0 * (v / total).max(1e-30).log10())
            .collect()
    };
    let (sa, sb) = (shares_db(a), shares_db(b));
    if sa.is_empty() || sa.len() != sb.len() {
        return None;
    }
    Some(sa.iter().zip(&sb).map(|(x, y)| (x - y).abs()).sum::<f64>() / sa.len() as f64)
}

/// Octave level error in dB of aligned `a` and `b` at `fs` Hz: mean over the octave bands below
/// Nyquist of |10·log10(share_b) − 10·log10(share_a)|, share = band energy without noise
/// ([`octave_band_energies`]) / sum of those band energies (floored at 10⁻³⁰).
pub fn level_error_db(a: &[f64], b: &[f64], fs: f64) -> Result<f64, AnalysisError> {
    validate_rate(fs)?;
    level_error_of(&measure_bands(a, fs), &measure_bands(b, fs)).ok_or(AnalysisError::BadRate(fs))
}

/// Magnitude spectrum of `x` on 64 mel bands: |FFT| of `x` scaled to unit energy (zero-padded to
/// a power of two, at least 16384 points) weighted by the Slaney mel filterbank of
/// [`super::mel::mel_filterbank`] (64 bands, 20 Hz to fs/2, area-normalised).
pub fn mel_magnitudes(x: &[f64], fs: f64, n_fft: usize) -> Vec<f64> {
    let energy: f64 = x.iter().map(|v| v * v).sum();
    let scale = if energy > 0.0 {
        1.0 / energy.sqrt()
    } else {
        0.0
    };
    let scaled: Vec<f64> = x.iter().map(|v| v * scale).collect();
    let (p, n) = power_spectrum(&scaled, n_fft);
    mel_bands(fs, n, MEL_BANDS, MEL_FMIN_HZ, fs / 2.0)
        .iter()
        .map(|band| {
            band.weights
                .iter()
                .zip(&p[band.start..])
                .map(|(w, v)| w * v.sqrt())
                .sum()
        })
        .collect()
}

/// Mel log-spectral distance in dB of equal-length, aligned `a` and `b` at `fs` Hz: each scaled
/// to unit energy, RMS over 64 mel bands of 20·log10(|A_mel|/|B_mel|) (magnitudes floored at
/// 10⁻¹⁵), see [`mel_magnitudes`].
pub fn mel_lsd_db(a: &[f64], b: &[f64], fs: f64) -> Result<f64, AnalysisError> {
    validate_rate(fs)?;
    let n_fft = a.len().max(b.len()).max(16384).next_power_of_two();
    let (ma, mb) = (mel_magnitudes(a, fs, n_fft), mel_magnitudes(b, fs, n_fft));
    let sq: f64 = ma
        .iter()
        .zip(&mb)
        .map(|(x, y)| (20.0 * (x.max(1e-15) / y.max(1e-15)).log10()).powi(2))
        .sum();
    Ok((sq / ma.len() as f64).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::bands::octave_band_rts;
    use crate::analysis::echo::mixing_time_s;

    /// Sum of exponentially decaying cosines, one at each octave centre, with the given linear
    /// amplitudes (all start at their peak, so the onset is sample 0).
    fn tones(amps: &[f64; 7], fs: f64) -> Vec<f64> {
        (0..(1.5 * fs) as usize)
            .map(|n| {
                let t = n as f64 / fs;
                OCTAVE_BANDS_HZ
                    .iter()
                    .zip(amps)
                    .map(|(fc, a)| a * (2.0 * std::f64::consts::PI * fc * t).cos())
                    .sum::<f64>()
                    * 10f64.powf(-3.0 * t / 0.5)
            })
            .collect()
    }

    #[test]
    fn an_ir_against_itself_and_a_scaled_copy_has_no_error() {
        let fs = 48000.0;
        let a = tones(&[1.0; 7], fs);
        let c = compare_irs(&a, &a, fs).unwrap();
        assert_eq!(c.edc_error_db, 0.0);
        assert_eq!(c.level_error_db, 0.0);
        assert_eq!(c.mel_lsd_db, 0.0);
        assert_eq!(c.mean_rt_error_pct, Some(0.0));
        assert_eq!(c.worst_rt_error_pct, Some(0.0));
        assert!(c.rt_error_pct.iter().all(|e| *e == Some(0.0)));
        assert_eq!(c.rt_a_s, c.rt_b_s);
        let b: Vec<f64> = a.iter().map(|v| 2.0 * v).collect();
        let c = compare_irs(&a, &b, fs).unwrap();
        assert!(c.edc_error_db < 1e-9, "{}", c.edc_error_db);
        assert!(c.level_error_db < 1e-9, "{}", c.level_error_db);
        assert!(c.mel_lsd_db < 1e-9, "{}", c.mel_lsd_db);
        assert!(c.worst_rt_error_pct.unwrap() < 1e-6);
    }

    #[test]
    fn six_db_more_in_one_band_gives_the_hand_computed_level_error() {
        let fs = 48000.0;
        let a = tones(&[1.0; 7], fs);
        let mut amps = [1.0; 7];
        amps[3] = 2.0; // +6 dB in the 1 kHz band: energy ×4.
        let b = tones(&amps, fs);
        let c = compare_irs(&a, &b, fs).unwrap();
        // Shares: A 1/7 each; B 4/10 at 1 kHz, 1/10 elsewhere.
        // |10·log10(2.8)| + 6·|10·log10(0.7)|, over 7 bands = 1.9666 dB.
        let hand = ((2.8f64).log10().abs() + 6.0 * (0.7f64).log10().abs()) * 10.0 / 7.0;
        assert!((hand - 1.9666).abs() < 1e-3);
        assert!(
            (c.level_error_db - hand).abs() < 0.1,
            "{} vs {hand}",
            c.level_error_db
        );
        assert!(c.mel_lsd_db > 0.5, "{}", c.mel_lsd_db);
        // All tones decay alike: band RTs still agree.
        assert!(c.worst_rt_error_pct.unwrap() < 2.0, "{:?}", c.rt_error_pct);
    }

    /// Decaying noise (RT 0.5 s) with the 1 kHz third-octave raised by `boost_db` (a zero-phase
    /// FFT gain on the band), over a steady noise floor about 80 dB down.
    fn noisy_room(boost_db: f64, seed: u64) -> Vec<f64> {
        noisy_room_cut(boost_db, seed, 0.0, 1e-4)
    }

    /// [`noisy_room`] with the decay removed below `cut_hz` (only the floor, of amplitude
    /// `floor`, is left there).
    fn noisy_room_cut(boost_db: f64, seed: u64, cut_hz: f64, floor: f64) -> Vec<f64> {
        use rand::{Rng, SeedableRng};
        let fs = 48000.0;
        let n = (1.5 * fs) as usize;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let x: Vec<f64> = (0..n)
            .map(|i| {
                let t = i as f64 / fs;
                (rng.random::<f64>() - 0.5) * 10f64.powf(-3.0 * t / 0.5)
            })
            .collect();
        let floor: Vec<f64> = (0..n)
            .map(|_| (rng.random::<f64>() - 0.5) * floor)
            .collect();
        let g = 10f64.powf(boost_db / 20.0);
        let (lo, hi) = crate::analysis::bands::iec_band_edges_hz(1000.0, 3);
        let mut planner = realfft::RealFftPlanner::<f64>::new();
        let (f, i) = (planner.plan_fft_forward(n), planner.plan_fft_inverse(n));
        let mut buf = x.clone();
        let mut spec = f.make_output_vec();
        f.process(&mut buf, &mut spec).unwrap();
        for (k, z) in spec.iter_mut().enumerate() {
            let hz = k as f64 * fs / n as f64;
            let gain = if hz < cut_hz {
                0.0
            } else if (lo..hi).contains(&hz) {
                g
            } else {
                1.0
            };
            *z *= gain / n as f64;
        }
        let mut out = i.make_output_vec();
        i.process(&mut spec, &mut out).unwrap();
        out.iter().zip(&floor).map(|(x, f)| x + f).collect()
    }

    #[test]
    fn third_octave_levels_find_a_band_boost_and_ignore_the_noise_floor() {
        let fs = 48000.0;
        let a = noisy_room(0.0, 1);
        // A louder copy: the same levels (shares) in every band. (Two noise realisations differ
        // by several dB in the bands below 100 Hz, which hold only a few modes' worth of energy.)
        let louder: Vec<f64> = a.iter().map(|v| 3.0 * v).collect();
        let same = third_octave_levels(&a, &louder, fs);
        assert_eq!(same.bands_hz.len(), 31);
        assert!(
            same.above_noise[8..].iter().all(|&k| k),
            "{:?}",
            same.above_noise
        );
        assert!(same.worst_db < 1e-6, "{same:?}");
        // +4 dB in the 1 kHz band: that band is 4 dB up (less the share it takes from the total).
        let up = third_octave_levels(&a, &noisy_room(4.0, 1), fs);
        let k = up.bands_hz.iter().position(|&f| f == 1000.0).unwrap();
        let e = up.error_db[k].unwrap();
        assert!((3.3..4.2).contains(&e), "{e}");
        assert!((up.worst_db - e).abs() < 1e-9);
        let others = up
            .error_db
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != k)
            .fold(0.0f64, |m, (_, e)| m.max(e.map_or(0.0, f64::abs)));
        assert!(others < 0.5, "{up:?}");
        let c = compare_irs(&a, &noisy_room(4.0, 1), fs).unwrap();
        assert!((c.third_octave.worst_db - up.worst_db).abs() < 0.3);
        // The decay-only comparison has the same decay figures and no third-octave ones.
        let d = compare_decay(&a, &noisy_room(4.0, 1), fs).unwrap();
        assert_eq!(d.rt_b_s, c.rt_b_s);
        assert_eq!(d.edc_error_db, c.edc_error_db);
        assert!(d.third_octave.bands_hz.is_empty() && d.third_octave.worst_db == 0.0);
        // A 20 Hz tone 20 dB over the band's energy: that band's error says so.
        let tone = |x: &[f64]| -> Vec<f64> {
            x.iter()
                .enumerate()
                .map(|(i, v)| v + 1e-2 * (2.0 * std::f64::consts::PI * 20.0 * i as f64 / fs).sin())
                .collect()
        };
        let loud = third_octave_levels(&a, &tone(&a), fs);
        assert!(
            loud.error_db[0].unwrap_or(loud.excess_db) > 10.0,
            "{loud:?}"
        );
        // A room with nothing but its floor (40 dB down) below 56 Hz: the 20 and 25 Hz bands are
        // not judged by level, and energy the fit puts there is the excess.
        let cut = noisy_room_cut(0.0, 1, 56.0, 1e-2);
        let quiet = third_octave_levels(&cut, &cut, fs);
        assert_eq!(&quiet.above_noise[..2], &[false, false], "{quiet:?}");
        assert!(quiet.above_noise[8..].iter().all(|&k| k), "{quiet:?}");
        assert_eq!(quiet.excess_db, 0.0);
        let excess = third_octave_levels(&cut, &tone(&cut), fs);
        assert!(
            excess.error_db[0].is_none() && excess.excess_db > 20.0,
            "{excess:?}"
        );
    }

    #[test]
    fn edc_error_is_the_mean_db_gap_above_minus_30() {
        let fs = 48000.0;
        // Two noise-free exponential decays: EDCs are lines of slope −60/rt dB/s; with rt 1 s and
        // 0.5 s, A stays above −30 dB for 0.5 s where the gap grows linearly from 0 to 30 dB.
        let decay = |rt: f64| -> Vec<f64> {
            (0..(4.0 * fs) as usize)
                .map(|n| {
                    10f64.powf(-3.0 * n as f64 / fs / rt) * if n % 2 == 0 { 1.0 } else { -1.0 }
                })
                .collect()
        };
        let e = edc_error_db(&decay(1.0), &decay(0.5), fs);
        assert!((e - 15.0).abs() < 0.05, "{e}");
    }

    #[test]
    fn bad_inputs_are_refused_by_name() {
        let fs = 48000.0;
        let a = tones(&[1.0; 7], fs);
        let mut nan = a.clone();
        nan[100] = f64::NAN;
        let msg = |r: Result<Comparison, AnalysisError>| r.unwrap_err().to_string();
        assert_eq!(
            msg(compare_irs(&a, &nan, fs)),
            "B: sample 100 is not finite"
        );
        assert_eq!(
            msg(compare_irs(&[0.0; 10], &a, fs)),
            "A: impulse response is silent (all samples are zero)"
        );
        assert_eq!(
            msg(compare_irs(&[], &a, fs)),
            "A: impulse response is empty"
        );
        assert!(msg(compare_irs(&a, &a[..100], fs)).contains("too short"));
        assert!(msg(compare_irs_at(&a, fs, &a, 44100.0)).contains("sample rates differ"));
        // At 16 kHz the 8 kHz band (upper edge 11.2 kHz) is left out, not refused.
        let c = compare_irs(&a, &a, 16000.0).unwrap();
        assert!(c.rt_a_s[6].is_none() && c.rt_a_s[5].is_some(), "{c:?}");
    }

    #[test]
    fn meeting_room_bands_and_mixing_time_are_plausible() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../data/rir/meetingroom_to_hallway_290cm.wav");
        let audio = crate::wav::read_wav(&path).unwrap();
        let (ir, fs) = (&audio.channels[0], audio.sample_rate);
        let rts = octave_band_rts(ir, fs);
        for (fc, rt) in OCTAVE_BANDS_HZ.iter().zip(&rts) {
            let rt = rt.unwrap_or_else(|| panic!("{fc} Hz has no RT"));
            assert!((0.2..2.0).contains(&rt), "{fc} Hz: {rt} s");
        }
        let t = mixing_time_s(ir, fs).unwrap().unwrap();
        assert!((0.005..0.150).contains(&t), "mixing time {t} s");
        eprintln!("meeting room: RTs {rts:?}, mixing time {t} s");
    }
}
