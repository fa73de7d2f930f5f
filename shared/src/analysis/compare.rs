//! Comparison of two impulse responses (A = target, B = candidate) with the room-fitting
//! definitions: band RTs, broadband EDC error, octave level error and mel log-spectral distance,
//! decay measured as ISO 3382-1 measures it ([`super::iso3382`]: noise-compensated EDCs in
//! IEC 61260-1 octave bands), so a measured room's noise floor counts in no figure.
//!
//! Both IRs are first aligned at their onsets (first sample within 20 dB of the absolute peak)
//! and cut to the shorter remaining length ([`align_pair`]); every figure below is computed on
//! the aligned, cut pair.

use super::bands::{audio_band, band_filter, decay_of_band_signal, OCTAVE_BANDS_HZ};
use super::error::{validate_rate, AnalysisError};
use super::iso3382::{compensated_decay, CompensatedDecay, RtRange, BROADBAND_WINDOW_S};
use super::onset::align_pair;
use super::schroeder_edc_db;
use super::spectrum::power_spectrum;
use crate::loss::mel::mel_bands;

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
    validate_rate(fs)?;
    let (a, b) = align_pair(a, b)?;
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
/// [`crate::loss::mel::mel_filterbank`] (64 bands, 20 Hz to fs/2, area-normalised).
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
