//! Display views of one impulse response (the plugin's diagnostics): its energy decay curve (as
//! `tailor compare` measures it) decimated for plotting, its third-octave-smoothed magnitude on a log frequency grid, its
//! broadband decay times and its octave-band RTs, all as [`super::summarize`] and
//! [`super::bands::octave_band_rts`] measure them.

use super::bands::{audio_band, octave_band_rts};
use super::compare::broadband_edc_db;
use super::spectrum::{log_frequencies_hz, power_spectrum, smoothed_magnitude, LSD_EPSILON};
use super::summarize;

/// FFT length in samples of [`magnitude_curve`] (longer IRs are truncated to it).
pub const MAGNITUDE_FFT_LEN: usize = 1 << 16;
/// Lowest level in dB of [`edc_curve`].
pub const EDC_FLOOR_DB: f64 = -120.0;
/// Smoothing width of [`magnitude_curve`] in octaves.
pub const SMOOTHING_OCTAVES: f64 = 1.0 / 3.0;

/// Broadband decay times of one impulse response, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DecayTimes {
    /// Early decay time (s).
    pub edt: Option<f64>,
    /// T20 (s).
    pub t20: Option<f64>,
    /// T30 (s).
    pub t30: Option<f64>,
}

/// Curves and figures of one impulse response.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IrView {
    /// Energy decay curve: (time s, level dB), floored at [`EDC_FLOOR_DB`].
    pub edc: Vec<[f64; 2]>,
    /// 1/3-octave-smoothed magnitude: (frequency Hz, level dB), energy-normalised over 1 s,
    /// floored at 20·log10 [`LSD_EPSILON`] (so [`super::spectrum::level_lsd_db`] of two views
    /// is [`super::spectrum::lsd_db`] of their linear magnitudes).
    pub magnitude: Vec<[f64; 2]>,
    /// Decay times.
    pub times: DecayTimes,
    /// Octave-band RT60 (T30 as `tailor compare` measures it) at 125 Hz … 8 kHz, seconds.
    pub band_rt: Vec<Option<f64>>,
}

/// EDC of `ir` at `fs` Hz as `tailor compare` measures it (audio band, noise-compensated up to
/// the noise intersection: [`broadband_edc_db`]) as about `points` (time s, level dB) pairs:
/// every ⌊len/points⌋-th sample, levels floored at [`EDC_FLOOR_DB`]. A room and its fit part
/// only where their decays do, not where the room's noise floor lifts a plain Schroeder EDC.
pub fn edc_curve(ir: &[f64], fs: f64, points: usize) -> Vec<[f64; 2]> {
    let edc = broadband_edc_db(&audio_band(ir, fs), fs);
    let step = (edc.len() / points.max(1)).max(1);
    edc.iter()
        .enumerate()
        .step_by(step)
        .map(|(i, &d)| [i as f64 / fs, d.max(EDC_FLOOR_DB)])
        .collect()
}

/// Third-octave-smoothed linear magnitude of `ir` at `fs` Hz, scaled to unit energy over its
/// first second, at `points` log-spaced frequencies from `band_hz.0` to min(`band_hz.1`, 0.49·fs):
/// (Hz, magnitude) pairs. The FFT has [`MAGNITUDE_FFT_LEN`] points.
pub fn magnitude_curve(ir: &[f64], fs: f64, band_hz: (f64, f64), points: usize) -> Vec<[f64; 2]> {
    let second = ir.len().min(fs as usize);
    let energy: f64 = ir[..second].iter().map(|v| v * v).sum::<f64>().max(1e-30);
    let norm = energy.sqrt().recip();
    let x: Vec<f64> = ir
        .iter()
        .take(MAGNITUDE_FFT_LEN)
        .map(|v| v * norm)
        .collect();
    let (power, n) = power_spectrum(&x, MAGNITUDE_FFT_LEN);
    let centres = log_frequencies_hz(band_hz.0, band_hz.1.min(0.49 * fs), points);
    let magnitude = smoothed_magnitude(&power, fs / n as f64, &centres, SMOOTHING_OCTAVES);
    centres
        .into_iter()
        .zip(magnitude)
        .map(|(f, m)| [f, m])
        .collect()
}

/// The view of `ir` at `fs` Hz: [`edc_curve`] and [`magnitude_curve`] (in dB) with `points`
/// points each (the magnitude over `band_hz`), [`summarize`]'s decay times and the octave-band
/// RTs.
pub fn ir_view(ir: &[f64], fs: f64, band_hz: (f64, f64), points: usize) -> IrView {
    let s = summarize(ir, fs);
    IrView {
        edc: edc_curve(ir, fs, points),
        magnitude: magnitude_curve(ir, fs, band_hz, points)
            .iter()
            .map(|[f, m]| [*f, 20.0 * m.max(LSD_EPSILON).log10()])
            .collect(),
        times: DecayTimes {
            edt: s.edt_s,
            t20: s.t20_s,
            t30: s.t30_s,
        },
        band_rt: octave_band_rts(ir, fs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decaying_noise(fs: f64, rt: f64, seconds: f64) -> Vec<f64> {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        (0..(seconds * fs) as usize)
            .map(|n| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let u = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                u * 10f64.powf(-3.0 * n as f64 / (fs * rt))
            })
            .collect()
    }

    #[test]
    fn an_impulse_has_a_flat_unit_magnitude() {
        let mut ir = vec![0.0; 1000];
        ir[3] = 0.5;
        let m = magnitude_curve(&ir, 48_000.0, (20.0, 20_000.0), 64);
        assert_eq!(m.len(), 64);
        assert!((m[0][0] - 20.0).abs() < 1e-12 && (m[63][0] - 20_000.0).abs() < 1e-6);
        assert!(m.iter().all(|[_, v]| (v - 1.0).abs() < 1e-9), "{m:?}");
        // Below 40.8 kHz the grid stops at 0.49·fs.
        let m = magnitude_curve(&ir, 32_000.0, (20.0, 20_000.0), 64);
        assert!((m[63][0] - 15_680.0).abs() < 1e-6);
    }

    #[test]
    fn a_decaying_noise_view_has_its_rt_and_a_falling_edc() {
        let fs = 48_000.0;
        let ir = decaying_noise(fs, 1.0, 2.0);
        let v = ir_view(&ir, fs, (20.0, 20_000.0), 240);
        assert_eq!(v.magnitude.len(), 240);
        assert_eq!(v.edc.len(), 240);
        assert_eq!(v.edc[0], [0.0, 0.0]);
        assert!(v
            .edc
            .windows(2)
            .all(|w| w[1][1] <= w[0][1] && w[1][0] > w[0][0]));
        assert!(v.edc.iter().all(|p| p[1] >= EDC_FLOOR_DB));
        let t30 = v.times.t30.unwrap();
        assert!((t30 - 1.0).abs() < 0.1, "T30 {t30}");
        assert_eq!(v.band_rt.len(), 7);
        // Nothing to measure: empty curves, no panic.
        let e = ir_view(&[], fs, (20.0, 20_000.0), 0);
        assert!(e.edc.is_empty() && e.times.t30.is_none());
    }
}
