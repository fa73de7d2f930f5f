//! Editor diagnostics, computed on the loader thread: energy decay curves, decay times, smoothed
//! magnitude responses of the FDN and the reference IR, and their log-spectral distance
//! (`tailor::loss::hrtf_loss`, metric lsd).

use crate::loader::session_build;
use candle_core::{Device, Tensor};
use realfft::RealFftPlanner;
use std::path::Path;
use tailor::analysis::summarize;
use tailor::loss::{hrtf_loss, InputScale, Metric, Reduction};
use tailor::Preset;

/// Longest FDN impulse response rendered for the diagnostics, in seconds.
pub const MAX_FDN_IR_SECONDS: f64 = 8.0;
/// Points of each plotted curve.
pub const CURVE_POINTS: usize = 240;
/// Lowest and highest frequency of the response plot and the LSD band, in Hz.
pub const BAND_HZ: (f64, f64) = (20.0, 20_000.0);

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
    /// Energy decay curve: (time s, level dB).
    pub edc: Vec<[f64; 2]>,
    /// 1/3-octave-smoothed magnitude: (frequency Hz, level dB), energy-normalised over 1 s.
    pub magnitude: Vec<[f64; 2]>,
    /// Decay times.
    pub times: DecayTimes,
    /// Octave-band RT60 (T30 as `tailor compare` measures it) at 125 Hz … 8 kHz, seconds.
    pub band_rt: Vec<Option<f64>>,
}

/// Everything the editor plots.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Analysis {
    /// The FDN (first output).
    pub fdn: IrView,
    /// The reference IR, when one is set and readable.
    pub reference: Option<IrView>,
    /// Log-spectral distance FDN vs reference over 20 Hz–20 kHz in dB.
    pub lsd_db: Option<f64>,
}

/// Reads a reference IR as mono at `fs` Hz: [`crate::reference::read_ir`] (truncated to
/// [`crate::loader::MAX_REFERENCE_SECONDS`], resampled when the file's rate differs) with its channels averaged.
/// Returns the samples and an informational note.
pub fn read_reference(path: &Path, fs: f64) -> Result<(Vec<f64>, Option<String>), String> {
    let ir = crate::reference::read_ir(path, fs)?;
    let k = ir.channels.len() as f64;
    let n = ir.channels.iter().map(Vec::len).min().unwrap_or(0);
    let mono = (0..n)
        .map(|i| ir.channels.iter().map(|c| c[i]).sum::<f64>() / k)
        .collect();
    Ok((mono, ir.note))
}

fn edc_curve(ir: &[f64], fs: f64) -> Vec<[f64; 2]> {
    let edc = tailor::analysis::schroeder_edc_db(ir);
    let step = (edc.len() / CURVE_POINTS).max(1);
    edc.iter()
        .enumerate()
        .step_by(step)
        .map(|(i, &d)| [i as f64 / fs, d.max(-120.0)])
        .collect()
}

/// Smoothed magnitude on a log grid (Hz, linear magnitude) of `ir` energy-normalised over 1 s.
fn magnitude(ir: &[f64], fs: f64) -> Vec<[f64; 2]> {
    let nfft = 1 << 16;
    let second = ir.len().min(fs as usize);
    let energy: f64 = ir[..second].iter().map(|v| v * v).sum::<f64>().max(1e-30);
    let norm = energy.sqrt().recip();
    let mut buf: Vec<f64> = ir.iter().take(nfft).map(|v| v * norm).collect();
    buf.resize(nfft, 0.0);
    let fft = RealFftPlanner::<f64>::new().plan_fft_forward(nfft);
    let mut spec = fft.make_output_vec();
    if fft.process(&mut buf, &mut spec).is_err() {
        return Vec::new();
    }
    let power: Vec<f64> = spec.iter().map(|z| z.norm_sqr()).collect();
    let hz_per_bin = fs / nfft as f64;
    let hi = BAND_HZ.1.min(0.49 * fs);
    (0..CURVE_POINTS)
        .map(|k| {
            let f = BAND_HZ.0 * (hi / BAND_HZ.0).powf(k as f64 / (CURVE_POINTS - 1) as f64);
            let (a, b) = (f * 2f64.powf(-1.0 / 6.0), f * 2f64.powf(1.0 / 6.0));
            let lo = ((a / hz_per_bin).floor() as usize).min(power.len() - 1);
            let up = ((b / hz_per_bin).ceil() as usize).clamp(lo + 1, power.len());
            let p = power[lo..up].iter().sum::<f64>() / (up - lo) as f64;
            [f, p.sqrt()]
        })
        .collect()
}

fn view(ir: &[f64], fs: f64) -> (IrView, Vec<[f64; 2]>) {
    let s = summarize(ir, fs);
    let mag = magnitude(ir, fs);
    let v = IrView {
        edc: edc_curve(ir, fs),
        magnitude: mag
            .iter()
            .map(|[f, m]| [*f, 20.0 * m.max(1e-12).log10()])
            .collect(),
        times: DecayTimes {
            edt: s.edt_s,
            t20: s.t20_s,
            t30: s.t30_s,
        },
        band_rt: tailor::analysis::bands::octave_band_rts(ir, fs),
    };
    (v, mag)
}

/// Log-spectral distance in dB between two linear magnitude curves of equal length.
pub fn lsd_db(prediction: &[f64], target: &[f64]) -> Result<f64, String> {
    let dev = Device::Cpu;
    let p =
        Tensor::from_slice(prediction, (1, prediction.len()), &dev).map_err(|e| e.to_string())?;
    let t = Tensor::from_slice(target, (1, target.len()), &dev).map_err(|e| e.to_string())?;
    hrtf_loss(
        p,
        t,
        Metric::Lsd,
        InputScale::Linear,
        Reduction::Mean,
        1e-12,
    )
    .map_err(|e| e.to_string())?
    .to_scalar::<f64>()
    .map_err(|e| e.to_string())
}

/// Diagnostics of `preset` at `fs` Hz, against the reference IR at `reference` when given. The
/// message reports a reference that could not be used (or was resampled/truncated).
pub fn analyse(preset: &Preset, reference: Option<&str>, fs: f64) -> (Analysis, Option<String>) {
    let mut out = Analysis::default();
    let Ok(build) = session_build(preset, fs) else {
        return (out, Some("preset cannot be analysed".into()));
    };
    let rt = tailor::fx::longest_rt_seconds(&build).unwrap_or(MAX_FDN_IR_SECONDS);
    let len = ((rt * 1.5).clamp(0.5, MAX_FDN_IR_SECONDS) * fs) as usize;
    // The whole preset as it plays: FDN plus the early-reflections FIR of fitted presets.
    let r = tailor::response::impulse_response(&build, len);
    let mut channels: Vec<Vec<f64>> = (0..build.n_outputs()).map(|o| r.channel(o, 0)).collect();
    if let Ok(Some(e)) = crate::loader::session_early_part(preset, fs) {
        let _ = tailor::response::add_early_channels(&mut channels, &e, 0, fs);
    }
    let mut ir = channels.swap_remove(0);
    let mut msg = None;
    let reference = match reference.map(|path| read_reference(Path::new(path), fs)) {
        Some(Ok((r, note))) => {
            msg = note;
            // Like `tailor compare`: both curves over the shorter of the two lengths, so the
            // EDCs are normalised over the same span and the band RTs are the ones compare reports.
            ir.truncate(r.len().max(1));
            Some(r)
        }
        Some(Err(e)) => {
            msg = Some(format!("reference: {e}"));
            None
        }
        None => None,
    };
    let (fdn, fdn_mag) = view(&ir, fs);
    out.fdn = fdn;
    if let Some(r) = reference {
        let r = &r[..r.len().min(ir.len().max(1))];
        let (rv, rmag) = view(r, fs);
        let p: Vec<f64> = fdn_mag.iter().map(|v| v[1]).collect();
        let t: Vec<f64> = rmag.iter().map(|v| v[1]).collect();
        out.lsd_db = lsd_db(&p, &t).ok();
        out.reference = Some(rv);
    }
    (out, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsd_of_identical_curves_is_zero_and_of_6db_is_6() {
        let a = vec![1.0, 0.5, 0.25];
        assert!(lsd_db(&a, &a).unwrap().abs() < 1e-3);
        let b: Vec<f64> = a.iter().map(|v| v * 2.0).collect();
        assert!((lsd_db(&a, &b).unwrap() - 6.0206).abs() < 1e-2);
    }

    #[test]
    fn default_preset_analysis_has_curves_and_a_2s_decay() {
        let (a, msg) = analyse(&crate::loader::default_preset(), None, 48_000.0);
        assert!(msg.is_none());
        assert_eq!(a.fdn.magnitude.len(), CURVE_POINTS);
        let t30 = a.fdn.times.t30.unwrap();
        assert!((t30 - 2.0).abs() < 0.3, "t30 {t30}");
        assert_eq!(a.fdn.band_rt.len(), 7);
    }

    #[test]
    fn fitted_room_bars_match_the_measured_room() {
        let i = crate::loader::FACTORY.len();
        let preset = crate::loader::factory_preset(i).unwrap();
        let room = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../data/rir/meetingroom_to_hallway_290cm.wav"
        );
        let (a, _) = analyse(&preset, Some(room), 48_000.0);
        let r = a.reference.expect("reference analysed");
        for (b, (f, t)) in a.fdn.band_rt.iter().zip(&r.band_rt).enumerate() {
            let (f, t) = (f.unwrap(), t.unwrap());
            // Both over the room IR's length, as `tailor compare` measures them (≤ 5 % there).
            assert!((f - t).abs() / t < 0.05, "band {b}: fit {f} vs room {t}");
        }
    }
}
