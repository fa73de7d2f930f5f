//! Editor diagnostics, computed on the loader thread: energy decay curves, decay times, smoothed
//! magnitude responses of the FDN and the reference IR ([`tailor::analysis::view`]), and their
//! log-spectral distance ([`tailor::analysis::spectrum::level_lsd_db`]).

use crate::presets::{session_build, session_early_part};
use std::path::Path;
use tailor::analysis::spectrum::level_lsd_db;
use tailor::analysis::view::{ir_view, IrView};
use tailor::response::impulse_response_channels;
use tailor::Preset;

/// Longest FDN impulse response rendered for the diagnostics, in seconds.
pub const MAX_FDN_IR_SECONDS: f64 = 8.0;
/// Points of each plotted curve.
pub const CURVE_POINTS: usize = 240;
/// Lowest and highest frequency of the response plot and the LSD band, in Hz.
pub const BAND_HZ: (f64, f64) = (20.0, 20_000.0);

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
/// [`crate::presets::MAX_REFERENCE_SECONDS`], resampled when the file's rate differs) with its
/// channels averaged. Returns the samples and an informational note.
pub fn read_reference(path: &Path, fs: f64) -> Result<(Vec<f64>, Option<String>), String> {
    let ir = crate::reference::read_ir(path, fs)?;
    let k = ir.channels.len() as f64;
    let n = ir.channels.iter().map(Vec::len).min().unwrap_or(0);
    let mono = (0..n)
        .map(|i| ir.channels.iter().map(|c| c[i]).sum::<f64>() / k)
        .collect();
    Ok((mono, ir.note))
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
    let early = session_early_part(preset, fs).ok().flatten();
    let mut channels = impulse_response_channels(&build, early.as_ref(), 0, len);
    if channels.is_empty() {
        return (out, Some("preset cannot be analysed".into()));
    }
    let mut ir = channels.swap_remove(0);
    let mut msg = None;
    let reference = match reference.map(|path| read_reference(Path::new(path), fs)) {
        Some(Ok((r, note))) => {
            msg = note;
            Some(r)
        }
        Some(Err(e)) => {
            msg = Some(format!("reference: {e}"));
            None
        }
        None => None,
    };
    // Like `tailor compare`: both from their onsets (a fit plays without the room's pre-delay;
    // the plugin's pre-delay adds it back) and over the shorter length, so the EDCs are
    // normalised over the same span and part only where the decays do.
    let aligned = reference
        .as_deref()
        .and_then(|r| tailor::analysis::onset::align_pair(r, &ir).ok())
        .map(|(r, f)| (r.to_vec(), f.to_vec()));
    let reference = aligned.as_ref().map(|(r, _)| r.as_slice());
    if let Some((_, f)) = &aligned {
        ir.clone_from(f);
    }
    out.fdn = ir_view(&ir, fs, BAND_HZ, CURVE_POINTS);
    if let Some(r) = reference {
        let rv = ir_view(r, fs, BAND_HZ, CURVE_POINTS);
        let levels = |v: &IrView| -> Vec<f64> { v.magnitude.iter().map(|p| p[1]).collect() };
        out.lsd_db = level_lsd_db(&levels(&out.fdn), &levels(&rv));
        out.reference = Some(rv);
    }
    (out, msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tailor::analysis::spectrum::lsd_db;

    #[test]
    fn lsd_of_identical_curves_is_zero_and_of_6db_is_6() {
        let a = vec![1.0, 0.5, 0.25];
        assert!(lsd_db(&a, &a).unwrap().abs() < 1e-3);
        let b: Vec<f64> = a.iter().map(|v| v * 2.0).collect();
        assert!((lsd_db(&a, &b).unwrap() - 6.0206).abs() < 1e-2);
    }

    #[test]
    fn default_preset_analysis_has_curves_and_a_2s_decay() {
        let (a, msg) = analyse(&crate::presets::default_preset(), None, 48_000.0);
        assert!(msg.is_none());
        assert_eq!(a.fdn.magnitude.len(), CURVE_POINTS);
        let t30 = a.fdn.times.t30.unwrap();
        assert!((t30 - 2.0).abs() < 0.3, "t30 {t30}");
        assert_eq!(a.fdn.band_rt.len(), 7);
    }

    #[test]
    fn fitted_room_bars_match_the_measured_room() {
        let i = crate::presets::FACTORY.len();
        let preset = crate::presets::factory_preset(i).unwrap();
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
