//! Fractional-octave band filters (Butterworth band-pass, bilinear transform) and per-band
//! Schroeder decay analysis.
//!
//! Design follows scipy `butter(order, [fc·2^(−1/(2·fraction)), fc·2^(1/(2·fraction))],
//! btype="bandpass", fs=fs, output="sos")`: analog Butterworth prototype of `order` poles,
//! band edges pre-warped (`ω = 2·tan(π·f/fs)`), low-pass → band-pass transform (2·order poles,
//! `order` zeros at s = 0), bilinear transform `z = (2 + s)/(2 − s)` (zeros land at z = ±1), and
//! the gain set so the response is exactly 0 dB at the pre-warped geometric centre. Sections are
//! `[g, 0, −g, 1, a1, a2]` (one zero at +1 and one at −1 each); the transfer function equals
//! scipy's, only the grouping of zeros into sections differs. Filtering runs forward once, like
//! `sosfilt` (no zero-phase pass).

use super::error::{validate_rate, AnalysisError};
use super::iso3382::{band_window_s, compensated_decay, CompensatedDecay, RtRange};
use super::schroeder_edc_db;
use crate::sos::{SosBank, SosChannelFilter};
use num_complex::Complex64;

/// Centre frequencies in Hz of the seven octave bands used by `compare` (125 Hz … 8 kHz).
pub const OCTAVE_BANDS_HZ: [f64; 7] = [125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0];

/// Prototype order of the band filters (4 → 8 poles per band-pass).
pub const BAND_ORDER: usize = 4;

/// The seven octave-band centres in Hz (125 Hz … 8 kHz).
pub fn octave_bands_hz() -> Vec<f64> {
    OCTAVE_BANDS_HZ.to_vec()
}

/// Third-octave centres in Hz, `1000·2^(k/3)` for k = −10…10 (99.2 Hz … 10.08 kHz), keeping
/// those with `fc ≤ fs/2.2` whose upper edge lies below Nyquist (`fs` in Hz).
pub fn third_octave_bands_hz(fs: f64) -> Vec<f64> {
    (-10..=10)
        .map(|k| 1000.0 * 2f64.powf(f64::from(k) / 3.0))
        .filter(|&fc| fc <= fs / 2.2 && band_edges_hz(fc, 3).1 < fs / 2.0)
        .collect()
}

/// Nominal centres in Hz of the 31 IEC 61260-1 third-octave bands of the audio band (20 Hz …
/// 20 kHz).
pub const AUDIO_THIRD_OCTAVES_HZ: [f64; 31] = [
    20.0, 25.0, 31.5, 40.0, 50.0, 63.0, 80.0, 100.0, 125.0, 160.0, 200.0, 250.0, 315.0, 400.0,
    500.0, 630.0, 800.0, 1000.0, 1250.0, 1600.0, 2000.0, 2500.0, 3150.0, 4000.0, 5000.0, 6300.0,
    8000.0, 10000.0, 12500.0, 16000.0, 20000.0,
];

/// The third-octave bands of the audio band at `fs` Hz (nominal centres, Hz): those of
/// [`AUDIO_THIRD_OCTAVES_HZ`] whose exact midband is at most `0.45·fs` and whose IEC upper edge
/// lies below Nyquist (all 31 at 48 kHz and above; up to 16 kHz at 44.1 kHz; up to 3.15 kHz at
/// 8 kHz).
pub fn audio_third_octaves_hz(fs: f64) -> Vec<f64> {
    AUDIO_THIRD_OCTAVES_HZ
        .iter()
        .copied()
        .filter(|&f| exact_midband_hz(f, 3) <= 0.45 * fs && band_fits(f, fs, 3))
        .collect()
}

/// Lower and upper band edges in Hz of the `1/fraction`-octave band centred at `fc` Hz:
/// `fc·2^(∓1/(2·fraction))` (octave: fc/√2, fc·√2).
pub fn band_edges_hz(fc: f64, fraction: u32) -> (f64, f64) {
    let r = 2f64.powf(1.0 / (2.0 * f64::from(fraction.max(1))));
    (fc / r, fc * r)
}

/// Butterworth band-pass SOS (one channel, `order` sections, `2·order` poles) for the
/// `1/fraction`-octave band at `fc` Hz (base-2 edges, [`band_edges_hz`]) and sample rate `fs`
/// Hz; −3 dB at the band edges.
pub fn bandpass_sos(
    fc: f64,
    fs: f64,
    fraction: u32,
    order: usize,
) -> Result<SosBank, AnalysisError> {
    validate_rate(fs)?;
    if fraction == 0 || order == 0 {
        return Err(AnalysisError::BadDesign { fraction, order });
    }
    let (f1, f2) = band_edges_hz(fc, fraction);
    if !(fc.is_finite() && fc > 0.0 && f2 < fs / 2.0) {
        return Err(AnalysisError::BandOutOfRange { fc, upper: f2, fs });
    }
    butterworth_bandpass_sos(f1, f2, fs, order).ok_or(AnalysisError::BandOutOfRange {
        fc,
        upper: f2,
        fs,
    })
}

/// Butterworth band-pass SOS (one channel, `order` sections) with −3 dB edges `f1 < f2` Hz at
/// `fs` Hz, 0 dB at the pre-warped geometric centre; `None` when the edges are not
/// `0 < f1 < f2 < fs/2` or the design is not finite.
pub fn butterworth_bandpass_sos(f1: f64, f2: f64, fs: f64, order: usize) -> Option<SosBank> {
    if !(f1 > 0.0 && f1 < f2 && f2 < fs / 2.0 && order > 0) {
        return None;
    }
    // Pre-warped analog edges (bilinear with sample period 1: s = 2(z − 1)/(z + 1)).
    let w1 = 2.0 * (std::f64::consts::PI * f1 / fs).tan();
    let w2 = 2.0 * (std::f64::consts::PI * f2 / fs).tan();
    let (bw, wo) = (w2 - w1, (w1 * w2).sqrt());
    let n = order as f64;
    let mut poles = Vec::with_capacity(2 * order);
    for i in 0..order {
        // scipy buttap: p = −exp(jπm/(2N)), m = −N+1, −N+3, …, N−1.
        let m = -n + 1.0 + 2.0 * i as f64;
        let p = -Complex64::from_polar(1.0, std::f64::consts::PI * m / (2.0 * n));
        let plp = p * (bw / 2.0);
        let root = (plp * plp - wo * wo).sqrt();
        for s in [plp + root, plp - root] {
            poles.push((Complex64::new(2.0, 0.0) + s) / (Complex64::new(2.0, 0.0) - s));
        }
    }
    let mut sections: Vec<[f64; 6]> = Vec::with_capacity(order);
    let mut real: Vec<f64> = Vec::new();
    for z in &poles {
        if z.im.abs() <= 1e-12 * z.norm().max(1.0) {
            real.push(z.re);
        } else if z.im > 0.0 {
            sections.push([1.0, 0.0, -1.0, 1.0, -2.0 * z.re, z.norm_sqr()]);
        }
    }
    real.sort_by(f64::total_cmp);
    for pair in real.chunks(2) {
        let (r1, r2) = (pair[0], pair.get(1).copied().unwrap_or(0.0));
        sections.push([1.0, 0.0, -1.0, 1.0, -(r1 + r2), r1 * r2]);
    }
    sections.sort_by(|a, b| a[5].total_cmp(&b[5]));
    let flat = |secs: &[[f64; 6]]| secs.iter().flatten().copied().collect::<Vec<f64>>();
    let unit = SosBank::new(sections.len(), 1, flat(&sections)).ok()?;
    // 0 dB at the digital image of the analog centre ωo.
    let omega0 = 2.0 * (wo / 2.0).atan();
    let g = 1.0 / unit.magnitude(0, omega0);
    if !g.is_finite() {
        return None;
    }
    sections[0][0] *= g;
    sections[0][2] *= g;
    SosBank::new(sections.len(), 1, flat(&sections)).ok()
}

/// Runs `x` forward through a one-channel SOS bank (like scipy `sosfilt`), zero initial state.
pub fn sos_filter(bank: &SosBank, x: &[f64]) -> Vec<f64> {
    let mut f = SosChannelFilter::new(bank, 0);
    x.iter().map(|&v| f.tick(v)).collect()
}

/// Butterworth prototype order of the IEC 61260-1 class-1 band filters (28 poles per octave or
/// third-octave band-pass; pyfar 0.8's `fractional_octave_bands` uses the same design).
pub const IEC_ORDER: usize = 14;

/// Octave frequency ratio of the base-10 system of IEC 61260-1, `G = 10^(3/10)`.
pub const OCTAVE_RATIO: f64 = 1.995_262_314_968_879_5;

/// Exact midband frequency in Hz (IEC 61260-1, base 10: `1000·G^(x/b)`) of the `1/fraction`-octave
/// band whose nominal centre is `nominal` Hz (125 → 125.89, 8000 → 7943.3), `fraction` odd.
pub fn exact_midband_hz(nominal: f64, fraction: u32) -> f64 {
    let b = f64::from(fraction.max(1));
    let x = (b * (nominal / 1000.0).ln() / OCTAVE_RATIO.ln()).round();
    1000.0 * OCTAVE_RATIO.powf(x / b)
}

/// Lower and upper edges in Hz (IEC 61260-1, base 10: `fm·G^(∓1/(2b))`) of the
/// `1/fraction`-octave band with nominal centre `nominal` Hz.
pub fn iec_band_edges_hz(nominal: f64, fraction: u32) -> (f64, f64) {
    let fm = exact_midband_hz(nominal, fraction);
    let r = OCTAVE_RATIO.powf(1.0 / (2.0 * f64::from(fraction.max(1))));
    (fm / r, fm * r)
}

/// The IEC 61260-1 class-1 band-pass (Butterworth, [`IEC_ORDER`], exact base-10 edges at −3 dB)
/// of the `1/fraction`-octave band with nominal centre `nominal` Hz at `fs` Hz. A band whose
/// upper edge is at or above Nyquist is refused ([`AnalysisError::BandOutOfRange`]).
pub fn iec_bandpass_sos(nominal: f64, fs: f64, fraction: u32) -> Result<SosBank, AnalysisError> {
    validate_rate(fs)?;
    if fraction == 0 {
        return Err(AnalysisError::BadDesign {
            fraction,
            order: IEC_ORDER,
        });
    }
    let (f1, f2) = iec_band_edges_hz(nominal, fraction);
    let out = AnalysisError::BandOutOfRange {
        fc: nominal,
        upper: f2,
        fs,
    };
    if !(nominal.is_finite() && nominal > 0.0 && f2 < fs / 2.0) {
        return Err(out);
    }
    butterworth_bandpass_sos(f1, f2, fs, IEC_ORDER).ok_or(out)
}

/// Whether the `1/fraction`-octave band with nominal centre `nominal` Hz fits below Nyquist at
/// `fs` Hz (its IEC upper edge is below `fs/2`).
pub fn band_fits(nominal: f64, fs: f64, fraction: u32) -> bool {
    iec_band_edges_hz(nominal, fraction).1 < fs / 2.0
}

/// `x` (sampled at `fs` Hz) filtered by the IEC 61260-1 class-1 `1/fraction`-octave band-pass
/// with nominal centre `fc` Hz ([`iec_bandpass_sos`]), run forward once, same length as `x`.
pub fn band_filter(x: &[f64], fs: f64, fc: f64, fraction: u32) -> Result<Vec<f64>, AnalysisError> {
    Ok(sos_filter(&iec_bandpass_sos(fc, fs, fraction)?, x))
}

/// `x` (at `fs` Hz) limited to the octave bands of the fit: the sum of its IEC band-passes
/// (125 Hz … 8 kHz, those below Nyquist).
pub fn band_limited(x: &[f64], fs: f64) -> Vec<f64> {
    let mut sum = vec![0.0; x.len()];
    for fc in OCTAVE_BANDS_HZ {
        if let Ok(y) = band_filter(x, fs, fc, 1) {
            for (s, v) in sum.iter_mut().zip(y) {
                *s += v;
            }
        }
    }
    sum
}

/// Lower and upper edge of the audio band, Hz: 20 Hz to 20 kHz (at most 0.45·fs).
pub const AUDIO_BAND_HZ: (f64, f64) = (20.0, 20_000.0);

/// `x` (at `fs` Hz) limited to the audio band (4-pole Butterworth band-pass, 20 Hz to
/// min(20 kHz, 0.45·fs)): DC drift and infrasonic rumble are no part of a room's audible decay.
pub fn audio_band(x: &[f64], fs: f64) -> Vec<f64> {
    let hi = AUDIO_BAND_HZ.1.min(0.45 * fs);
    match butterworth_bandpass_sos(AUDIO_BAND_HZ.0, hi, fs, 2) {
        Some(bank) => sos_filter(&bank, x),
        None => x.to_vec(),
    }
}

/// The noise-compensated decay ([`compensated_decay`]) of `x` (at `fs` Hz, starting at its
/// onset) in the `1/fraction`-octave band with nominal centre `fc` Hz. Errors: the band does not
/// fit below Nyquist; `Ok(None)`: the band has no decay above its noise.
pub fn band_decay(
    x: &[f64],
    fs: f64,
    fc: f64,
    fraction: u32,
) -> Result<Option<CompensatedDecay>, AnalysisError> {
    Ok(decay_of_band_signal(
        &band_filter(x, fs, fc, fraction)?,
        fs,
        fc,
    ))
}

/// The noise-compensated decay of `y`, a signal already filtered to the band with nominal
/// centre `fc` Hz (at `fs` Hz), with the band's Lundeby block length; `None` when no decay
/// stands above the noise.
pub fn decay_of_band_signal(y: &[f64], fs: f64, fc: f64) -> Option<CompensatedDecay> {
    compensated_decay(y, fs, band_window_s(fc))
}

/// EDC in dB (0 dB at sample 0) of `x` filtered to the `1/fraction`-octave band at `fc` Hz
/// (`fs` in Hz): the noise-compensated EDC up to the band's noise intersection, or the plain
/// Schroeder EDC of the band where no decay stands above the noise.
pub fn band_edc_db(x: &[f64], fs: f64, fc: f64, fraction: u32) -> Result<Vec<f64>, AnalysisError> {
    let y = band_filter(x, fs, fc, fraction)?;
    Ok(match decay_of_band_signal(&y, fs, fc) {
        Some(d) => d.edc_db(),
        None => schroeder_edc_db(&y),
    })
}

/// Decay of one band as ISO 3382-1 measures it (noise-compensated EDC), seconds; every figure is
/// `None` when the band has no decay above its noise or does not fit below Nyquist.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BandDecay {
    /// Band centre in Hz (nominal).
    pub fc_hz: f64,
    /// Early decay time: fit 0 to −10 dB, extrapolated to 60 dB, seconds.
    pub edt_s: Option<f64>,
    /// T20: fit −5 to −25 dB, extrapolated to 60 dB, seconds (needs 35 dB above the noise).
    pub t20_s: Option<f64>,
    /// T30: fit −5 to −35 dB, extrapolated to 60 dB, seconds (needs 45 dB above the noise).
    pub t30_s: Option<f64>,
    /// The band RT of `compare`: T30, or T20/T15 where the decay range is shorter, seconds.
    pub rt_s: Option<f64>,
    /// Which regression gave `rt_s`.
    pub rt_range: Option<RtRange>,
    /// Decay range of the band: envelope peak over its noise floor, dB.
    pub decay_range_db: Option<f64>,
}

impl BandDecay {
    /// The figures of one band from its compensated decay (`None`: nothing above the noise);
    /// the EDC is formed once for every range.
    pub fn from_decay(fc_hz: f64, d: Option<&CompensatedDecay>) -> Self {
        let rt_range = d.and_then(CompensatedDecay::rt_range);
        let edc = d.map(CompensatedDecay::edc_db);
        let fs = d.map_or(1.0, |d| d.fs);
        let time = |r: RtRange| edc.as_deref().and_then(|e| r.time(e, fs));
        // T20/T30 only where the band's range allows them (no longer than the chosen range).
        let allowed =
            |r: RtRange| rt_range.is_some_and(|best| r.limits_db().1 <= best.limits_db().1);
        BandDecay {
            fc_hz,
            edt_s: time(RtRange::Edt),
            t20_s: if allowed(RtRange::T20) {
                time(RtRange::T20)
            } else {
                None
            },
            t30_s: if allowed(RtRange::T30) {
                time(RtRange::T30)
            } else {
                None
            },
            rt_s: rt_range.and_then(time),
            rt_range,
            decay_range_db: d.map(|d| d.intersection.range_db),
        }
    }
}

/// `x` from its onset ([`super::onset::onset_index`]); all of `x` when it has none.
fn from_onset(x: &[f64]) -> &[f64] {
    &x[super::onset::onset_index(x).unwrap_or(0)..]
}

/// Band decays of `ir` (at `fs` Hz, measured from its onset) in each octave band of
/// [`OCTAVE_BANDS_HZ`]; a band above Nyquist or without decay above its noise gets all `None`.
pub fn octave_band_decays(ir: &[f64], fs: f64) -> Vec<BandDecay> {
    let x = from_onset(ir);
    OCTAVE_BANDS_HZ
        .iter()
        .map(|&fc| BandDecay::from_decay(fc, band_decay(x, fs, fc, 1).ok().flatten().as_ref()))
        .collect()
}

/// Band RT in seconds of `ir` (at `fs` Hz) per octave band of [`OCTAVE_BANDS_HZ`], as ISO 3382-1
/// measures it ([`BandDecay::rt_s`]); `None` for a band above Nyquist or without enough decay
/// above its noise (25 dB).
pub fn octave_band_rts(ir: &[f64], fs: f64) -> Vec<Option<f64>> {
    octave_band_decays(ir, fs).iter().map(|d| d.rt_s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};

    fn mag_db(bank: &SosBank, f: f64, fs: f64) -> f64 {
        20.0 * bank
            .magnitude(0, 2.0 * std::f64::consts::PI * f / fs)
            .log10()
    }

    #[test]
    fn octave_filters_are_0_db_at_fc_minus_3_at_edges_and_reject_two_octaves_away() {
        for fs in [44100.0, 48000.0, 96000.0] {
            for fc in OCTAVE_BANDS_HZ {
                let bank = bandpass_sos(fc, fs, 1, BAND_ORDER).unwrap();
                assert_eq!(bank.sections(), 4, "8 poles = 4 biquads");
                assert!(bank.poles_inside_unit_circle());
                let (lo, hi) = band_edges_hz(fc, 1);
                assert!(mag_db(&bank, fc, fs).abs() < 0.01, "{fc} at {fs}");
                for edge in [lo, hi] {
                    let m = mag_db(&bank, edge, fs);
                    assert!((m + 3.0103).abs() < 0.1, "{fc} edge {edge}: {m}");
                }
                assert!(mag_db(&bank, fc / 4.0, fs) < -40.0, "{fc}/4 at {fs}");
                if 4.0 * fc < fs / 2.0 {
                    assert!(mag_db(&bank, 4.0 * fc, fs) < -40.0, "4·{fc} at {fs}");
                }
            }
        }
    }

    #[test]
    fn octave_filter_matches_scipy_butter_bandpass() {
        // scipy 1.x: butter(4, [1000/√2, 1000·√2], btype="bandpass", fs=48000, output="sos").
        let bank = bandpass_sos(1000.0, 48000.0, 1, 4).unwrap();
        let scipy_den = [
            [-1.885_247_679_573_900_6, 0.906_948_398_768_017_7],
            [-1.916_685_988_109_721_4, 0.929_106_599_394_407_6],
            [-1.922_752_740_735_907_7, 0.954_664_777_136_934_8],
            [-1.967_064_609_966_607_6, 0.975_918_894_303_869_7],
        ];
        for (k, d) in scipy_den.iter().enumerate() {
            let s = bank.normalized_section(k, 0);
            assert!(
                (s[4] - d[0]).abs() < 1e-12 && (s[5] - d[1]).abs() < 1e-12,
                "{k}: {s:?}"
            );
        }
        // scipy's gain (its zeros ±1 grouped differently: (1 + z⁻¹)²(1 − z⁻¹)² = (1 − z⁻²)²).
        let g: f64 = (0..4).map(|k| bank.normalized_section(k, 0)[0]).product();
        assert!((g / 4.076_353_113_570_579e-6 - 1.0).abs() < 1e-9, "{g}");
        // scipy sosfreqz magnitudes at 250, 3000 Hz.
        let m = |f: f64| bank.magnitude(0, 2.0 * std::f64::consts::PI * f / 48000.0);
        assert!((m(250.0) / 0.001_270_744_111_103_4 - 1.0).abs() < 1e-9);
        assert!((m(3000.0) / 0.004_736_207_843_913_82 - 1.0).abs() < 1e-9);
    }

    #[test]
    fn third_octave_bands_and_bad_designs() {
        let b = third_octave_bands_hz(48000.0);
        assert_eq!(b.len(), 21);
        assert!(
            (b[0] - 99.21).abs() < 0.01 && (b[20] - 10079.4).abs() < 0.1,
            "{b:?}"
        );
        let low = third_octave_bands_hz(16000.0);
        assert!(low.iter().all(|&f| f <= 16000.0 / 2.2), "{low:?}");
        assert!(low.len() < 21);
        let bank = bandpass_sos(1000.0, 48000.0, 3, BAND_ORDER).unwrap();
        let (lo, hi) = band_edges_hz(1000.0, 3);
        assert!(mag_db(&bank, 1000.0, 48000.0).abs() < 0.01);
        assert!((mag_db(&bank, lo, 48000.0) + 3.0103).abs() < 0.1);
        assert!((mag_db(&bank, hi, 48000.0) + 3.0103).abs() < 0.1);
        let e = bandpass_sos(8000.0, 16000.0, 1, 4).unwrap_err();
        assert!(e.to_string().contains("does not fit below Nyquist"), "{e}");
        assert!(bandpass_sos(1000.0, 48000.0, 0, 4).is_err());
        assert!(bandpass_sos(-5.0, 48000.0, 1, 4).is_err());
        assert!(band_filter(&[1.0], f64::NAN, 1000.0, 1).is_err());
    }

    #[test]
    fn filtering_a_sine_at_fc_keeps_its_amplitude() {
        let fs = 48000.0;
        let x: Vec<f64> = (0..48000)
            .map(|n| (2.0 * std::f64::consts::PI * 500.0 * n as f64 / fs).sin())
            .collect();
        let y = band_filter(&x, fs, 500.0, 1).unwrap();
        let peak = y[24000..].iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!((peak - 1.0).abs() < 1e-3, "{peak}");
        let y = band_filter(&x, fs, 4000.0, 1).unwrap();
        let peak = y[24000..].iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(peak < 1e-3, "{peak}");
    }

    /// White Gaussian noise with an exponential envelope of `rt` seconds (60 dB decay).
    pub(crate) fn decaying_noise(rt: f64, seconds: f64, fs: f64, seed: u64) -> Vec<f64> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let normal = Normal::new(0.0, 1.0).unwrap();
        (0..(seconds * fs) as usize)
            .map(|n| normal.sample(&mut rng) * 10f64.powf(-3.0 * n as f64 / fs / rt))
            .collect()
    }

    #[test]
    fn band_rts_of_decaying_noise_are_within_2_percent() {
        // Band RTs of noise fluctuate with the realisation; the mean over 4 seeds is asserted.
        let fs = 48000.0;
        let seeds = 4u64;
        let rt = 2.0;
        let mut mean = [0.0; 7];
        for seed in 0..seeds {
            let ir = decaying_noise(rt, 5.0, fs, 11 + seed);
            for (m, t) in mean.iter_mut().zip(octave_band_rts(&ir, fs)) {
                *m += t.unwrap() / seeds as f64;
            }
        }
        for (fc, t) in OCTAVE_BANDS_HZ.iter().zip(mean) {
            assert!((t - rt).abs() < 0.02 * rt, "{fc} Hz: {t}");
        }
        // Per-band RTs: a sum of decaying tones, one at each band centre with its own RT
        // (neighbouring tones leak −26 dB into a band and decay at a similar rate).
        let rts = [2.4, 2.2, 2.0, 1.8, 1.6, 1.4, 1.2];
        let mix: Vec<f64> = (0..(5.0 * fs) as usize)
            .map(|n| {
                let t = n as f64 / fs;
                OCTAVE_BANDS_HZ
                    .iter()
                    .zip(&rts)
                    .map(|(fc, r)| {
                        (2.0 * std::f64::consts::PI * fc * t).cos() * 10f64.powf(-3.0 * t / r)
                    })
                    .sum()
            })
            .collect();
        for (d, r) in octave_band_decays(&mix, fs).iter().zip(rts) {
            let t = d.t30_s.unwrap();
            assert!((t - r).abs() < 0.02 * r, "{} Hz: T30 {t} want {r}", d.fc_hz);
            assert!(d.t20_s.is_some() && d.edt_s.is_some());
        }
        // A one-sample IR has a one-point EDC that never reaches −35 dB: None.
        assert!(octave_band_rts(&[1.0], fs).iter().all(Option::is_none));
    }
}
