//! The A/B reference: a measured impulse response (WAV) played by uniformly partitioned FFT
//! convolution ([`tailor::convolution::Convolver`], zero latency, allocation-free), scaled so its
//! energy over the first second equals the FDN's ([`tailor::loudness::energy_matching_gain`]).
//! Everything here except
//! [`ReferenceConv::process`] runs on the loader thread.

use crate::presets::MAX_REFERENCE_SECONDS;
use std::path::Path;
use tailor::convolution::Convolver;
use tailor::ir::{load, IrPolicy};
use tailor::loudness::{energy_matching_gain, response_energy, EnergyMatchError};
use tailor::preset::EarlyReflections;
use tailor::Build;

/// Length of the loudness-matching window in seconds.
pub const MATCH_SECONDS: f64 = 1.0;

/// A reference IR read for playback: one or two channels at the session rate.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceIr {
    /// Channels (1 = mono, played on both sides; 2 = left/right), samples at `sample_rate`.
    pub channels: Vec<Vec<f64>>,
    /// Sample rate in Hz (the session's).
    pub sample_rate: f64,
    /// Informational note (truncation, resampling, dropped channels).
    pub note: Option<String>,
}

/// Reads a reference IR at `fs` Hz through the one IR loader ([`tailor::ir::load`] with
/// [`IrPolicy::playback`]): up to two channels (more are folded: odd channels to the left, even to
/// the right), its first [`MAX_REFERENCE_SECONDS`] s, resampled when the file's rate differs. A
/// 0-byte, corrupt, non-finite or silent file is an error naming the problem.
pub fn read_ir(path: &Path, fs: f64) -> Result<ReferenceIr, String> {
    let ir =
        load(path, &IrPolicy::playback(fs, MAX_REFERENCE_SECONDS)).map_err(|e| e.to_string())?;
    Ok(ReferenceIr {
        channels: ir.channels,
        sample_rate: ir.sample_rate,
        note: (!ir.notes.is_empty()).then(|| format!("reference: {}", ir.notes.join("; "))),
    })
}

/// Energy of the FDN's impulse response over its first second (input 0 to each output),
/// averaged over outputs; `build` is the session build (at `fs` Hz).
pub fn fdn_energy(build: &Build) -> f64 {
    preset_energy(build, None)
}

/// As [`fdn_energy`] with the preset's early-reflections FIR (session rate and shape) added, so
/// fitted presets are matched as they play ([`response_energy`]).
pub fn preset_energy(build: &Build, early: Option<&EarlyReflections>) -> f64 {
    response_energy(build, early, MATCH_SECONDS)
}

/// Linear gain that gives `reference` the energy `target` over its first second.
pub fn matching_gain(reference: &ReferenceIr, target: f64) -> Result<f64, String> {
    energy_matching_gain(
        &reference.channels,
        reference.sample_rate,
        MATCH_SECONDS,
        target,
    )
    .map_err(|e| match e {
        EnergyMatchError::SilentSignal => {
            "the reference IR has no energy in its first second".into()
        }
        EnergyMatchError::SilentTarget => "the FDN has no energy in its first second".into(),
    })
}

/// The audio-thread side of the reference: one convolver per output channel with the matching
/// gain folded into the IR.
#[derive(Debug)]
pub struct ReferenceConv {
    convs: [Convolver; 2],
    gain: f64,
    sample_rate: f64,
}

impl ReferenceConv {
    /// Convolvers for `ir` (mono → both sides) scaled by `gain` (linear), partitions sized for
    /// blocks of `max_block` samples.
    pub fn new(ir: &ReferenceIr, gain: f64, max_block: usize) -> Self {
        let scaled = |c: &Vec<f64>| -> Vec<f32> { c.iter().map(|v| (v * gain) as f32).collect() };
        let left = scaled(&ir.channels[0]);
        let right = ir.channels.get(1).map_or_else(|| left.clone(), scaled);
        Self {
            convs: [
                Convolver::new(&left, max_block),
                Convolver::new(&right, max_block),
            ],
            gain,
            sample_rate: ir.sample_rate,
        }
    }

    /// Matching gain applied (linear).
    pub fn gain(&self) -> f64 {
        self.gain
    }

    /// Sample rate in Hz the IR was prepared for.
    pub fn sample_rate(&self) -> f64 {
        self.sample_rate
    }

    /// Convolves `inputs[c]` into `outputs[c]` (written, not added) for the two sides.
    /// Allocation-free, zero latency.
    pub fn process(&mut self, inputs: [&[f32]; 2], outputs: [&mut [f32]; 2]) {
        for ((conv, x), y) in self.convs.iter_mut().zip(inputs).zip(outputs) {
            conv.process(x, y);
        }
    }

    /// Clears the convolution state.
    pub fn reset(&mut self) {
        self.convs.iter_mut().for_each(Convolver::reset);
    }
}

/// Reads `path` at the session rate of `build` and prepares its convolvers, loudness-matched
/// to `build`; returns them with the informational note.
pub fn prepare(
    path: &Path,
    build: &Build,
    early: Option<&EarlyReflections>,
    max_block: usize,
) -> Result<(ReferenceConv, Option<String>), String> {
    let ir = read_ir(path, build.sample_rate())?;
    let gain = matching_gain(&ir, preset_energy(build, early))?;
    let note = ir.note.clone();
    Ok((ReferenceConv::new(&ir, gain, max_block), note))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tailor::convolution::direct_convolution;

    #[test]
    fn a_fitted_room_is_loudness_matched_with_its_early_part() {
        // The fitted meeting room plays the measured early part, so against the measured IR the
        // matching gain is about 1; the FDN alone (without the FIR that replaces its own early
        // response by the measured one) has a different first-second energy.
        let p = crate::presets::factory_preset(crate::presets::FACTORY.len()).unwrap();
        let fs = 48_000.0;
        let build = crate::presets::session_build(&p, fs).unwrap();
        let early = crate::presets::session_early_part(&p, fs).unwrap();
        let room = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../data/rir/meetingroom_to_hallway_290cm.wav"
        ));
        let ir = read_ir(room, fs).unwrap();
        let whole = matching_gain(&ir, preset_energy(&build, early.as_ref())).unwrap();
        let fdn_only = matching_gain(&ir, fdn_energy(&build)).unwrap();
        assert!(
            (whole - 1.0).abs() < 0.1,
            "gain with the early part {whole}"
        );
        assert!(
            (fdn_only / whole - 1.0).abs() > 0.05,
            "gain without it {fdn_only} vs {whole}"
        );
    }

    #[test]
    fn matching_gain_equalises_first_second_energy() {
        let fs = 1_000.0;
        let ir = ReferenceIr {
            channels: vec![vec![0.5; 2_000]],
            sample_rate: fs,
            note: None,
        };
        let g = matching_gain(&ir, 1.0).unwrap();
        assert!((g * g * 250.0 - 1.0).abs() < 1e-12, "{g}");
        let silent = ReferenceIr {
            channels: vec![vec![0.0; 10]],
            sample_rate: fs,
            note: None,
        };
        assert!(matching_gain(&silent, 1.0).is_err());
    }

    #[test]
    fn meeting_room_ir_is_loudness_matched_to_the_fdn() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../data/rir/meetingroom_to_hallway_290cm.wav");
        let build =
            crate::presets::session_build(&crate::presets::default_preset(), 44_100.0).unwrap();
        let (mut conv, _) = prepare(&path, &build, None, 4_096).unwrap();
        let n = 44_100;
        let mut x = vec![0.0f32; n];
        x[0] = 1.0;
        let mut y = [vec![0.0f32; n], vec![0.0f32; n]];
        let (l, r) = y.split_at_mut(1);
        for ((xi, yl), yr) in x
            .chunks(4_096)
            .zip(l[0].chunks_mut(4_096))
            .zip(r[0].chunks_mut(4_096))
        {
            conv.process([xi, xi], [yl, yr]);
        }
        let got: Vec<Vec<f64>> = y
            .iter()
            .map(|c| c.iter().map(|&v| f64::from(v)).collect())
            .collect();
        let e_ref = tailor::loudness::window_energy(&got, 44_100.0, MATCH_SECONDS);
        let e_fdn = fdn_energy(&build);
        assert!((e_ref / e_fdn - 1.0).abs() < 1e-3, "{e_ref} vs {e_fdn}");
    }

    #[test]
    fn convolution_equals_direct_convolution_times_gain() {
        let ir: Vec<f64> = (0..3_000)
            .map(|i| (-(i as f64) / 400.0).exp() * ((i * 7919 % 13) as f64 - 6.0) / 6.0)
            .collect();
        let ref_ir = ReferenceIr {
            channels: vec![ir.clone(), ir.iter().map(|v| -0.5 * v).collect()],
            sample_rate: 48_000.0,
            note: None,
        };
        let gain = 0.37;
        let mut conv = ReferenceConv::new(&ref_ir, gain, 256);
        let x: Vec<f32> = (0..5_000)
            .map(|i| ((i * 31 % 97) as f32 - 48.0) / 48.0)
            .collect();
        let mut y = [vec![0.0f32; x.len()], vec![0.0f32; x.len()]];
        let mut t = 0;
        for b in [1usize, 256, 7, 100, 256, 33].iter().cycle() {
            if t >= x.len() {
                break;
            }
            let e = (t + b).min(x.len());
            let (l, r) = y.split_at_mut(1);
            conv.process([&x[t..e], &x[t..e]], [&mut l[0][t..e], &mut r[0][t..e]]);
            t = e;
        }
        let x64: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
        for (c, out) in y.iter().enumerate() {
            let want = direct_convolution(&x64, &ref_ir.channels[c]);
            let peak = want.iter().fold(0.0f64, |m, v| m.max(v.abs())) * gain;
            let err = out
                .iter()
                .zip(&want)
                .fold(0.0f64, |m, (a, b)| m.max((f64::from(*a) - b * gain).abs()));
            assert!(
                err / peak < 1e-4,
                "channel {c}: relative error {}",
                err / peak
            );
        }
    }
}
