//! The reverb effect around the real-time engine, as hosts (the plugin) use it: session-rate
//! conversion of builds, stereo outputs for mono builds, tail length, and [`Reverb`], which adds
//! a wet tone (high cut) and stereo width to the engine's wet signal inside the one [`Mix`]
//! (pre-delay, dry/wet, output gain).
//!
//! A preset's early reflections follow its build: [`session_early`] resamples the FIR to the
//! session rate and duplicates it for the second output exactly when [`stereo_build`] adds one,
//! so `Reverb::prepare_with_early(&stereo_build(&build_at_rate(b, fs)?)?, session_early(p, fs)?
//! .as_ref(), cfg)` plays the whole preset.
//!
//! With the tone open and width 1, [`Reverb`]'s output is `gain · (dry · x + wet · R(x'))` with
//! `x'` the pre-delayed input and `R` the [`Engine`], sample for sample. A host that plays other
//! wet sources (the plugin's A/B reference and binaural output) puts them between the two with a
//! [`WetStage`], so it mixes through the same stage.

use crate::engine::filters::STATE_FLUSH;
use crate::engine::{DenormalGuard, Engine, EngineConfig, EngineError, Ramp, SwapHandle};
use crate::mix::{Mix, MixControls};
use crate::preset::{Build, BuildParts, EarlyReflections, Preset, PresetError};
use crate::sos::SosBank;
use crate::Matrix;

/// Highest tone (high-cut) frequency in Hz; at or above it the wet tone filter is bypassed.
pub const TONE_OPEN_HZ: f32 = 20_000.0;
/// Lowest tone (high-cut) frequency in Hz.
pub const TONE_MIN_HZ: f32 = 200.0;

/// Maps one biquad `[b0, b1, b2, a0, a1, a2]` designed at rate `fs_from` to rate `fs_to` (Hz)
/// through their common analog prototype (inverse bilinear at `fs_from`, bilinear at `fs_to`):
/// DC maps to DC, Nyquist to Nyquist, and every analog frequency keeps its gain; `a0` is kept.
pub fn remap_section(s: [f64; 6], fs_from: f64, fs_to: f64) -> [f64; 6] {
    let k = fs_to / fs_from;
    // z_from^{-1} = P(q) / Q(q) with q = z_to^{-1}.
    let p = [1.0 - k, 1.0 + k];
    let q = [1.0 + k, 1.0 - k];
    let mul = |x: [f64; 2], y: [f64; 2]| [x[0] * y[0], x[0] * y[1] + x[1] * y[0], x[1] * y[1]];
    let (qq, pq, pp) = (mul(q, q), mul(p, q), mul(p, p));
    let poly = |c0: f64, c1: f64, c2: f64| -> [f64; 3] {
        std::array::from_fn(|i| c0 * qq[i] + c1 * pq[i] + c2 * pp[i])
    };
    let b = poly(s[0], s[1], s[2]);
    let a = poly(s[3], s[4], s[5]);
    // Keep the section's a0 (the map multiplies every coefficient by a common factor).
    let g = if a[0] != 0.0 { s[3] / a[0] } else { 1.0 };
    [b[0] * g, b[1] * g, b[2] * g, a[0] * g, a[1] * g, a[2] * g]
}

fn remap_bank(bank: &SosBank, fs_from: f64, fs_to: f64) -> Result<SosBank, PresetError> {
    let (k, c) = (bank.sections(), bank.channels());
    let mut data = vec![0.0; k * 6 * c];
    for sec in 0..k {
        for ch in 0..c {
            let s = remap_section(bank.section(sec, ch), fs_from, fs_to);
            for (row, v) in s.iter().enumerate() {
                data[(sec * 6 + row) * c + ch] = *v;
            }
        }
    }
    SosBank::new(k, c, data).map_err(|e| PresetError::field("sos", e.to_string()))
}

/// The build at another sample rate `fs` (Hz): delays scaled and rounded (at least 1 sample),
/// every SOS hook remapped with [`remap_section`]; the same build when the rate already matches.
pub fn build_at_rate(build: &Build, fs: f64) -> Result<Build, PresetError> {
    if !(fs.is_finite() && fs > 0.0) {
        return Err(PresetError::field(
            "sample_rate",
            format!("must be positive and finite Hz (got {fs})"),
        ));
    }
    let from = build.sample_rate();
    if from == fs {
        return Ok(build.clone());
    }
    let mut parts: BuildParts = build.parts().clone();
    parts.sample_rate = fs;
    parts.delays = build
        .delays()
        .iter()
        .map(|&m| ((m as f64 * fs / from).round() as usize).max(1))
        .collect();
    let remap = |b: &Option<SosBank>| b.as_ref().map(|b| remap_bank(b, from, fs)).transpose();
    parts.post_delay = remap(&parts.post_delay)?;
    parts.post_matrix = remap(&parts.post_matrix)?;
    parts.post_output = remap(&parts.post_output)?;
    Build::new(parts)
}

/// `build` with more outputs: output `n_out + r` reads the delay lines through row `r` of `c`
/// (`k × N`) and the inputs through row `r` of `d` (`k × n_in`). An output SOS hook is extended
/// to the new outputs with its channel 0; an output mix keeps mixing the old outputs and passes
/// each new one straight through (after the mixed channels).
pub fn with_added_outputs(build: &Build, c: &Matrix, d: &Matrix) -> Result<Build, PresetError> {
    let (n_out, k) = (build.n_out(), c.rows());
    if c.cols() != build.n() || d.cols() != build.n_in() || d.rows() != k {
        return Err(PresetError::field(
            "output_gains",
            format!(
                "added outputs need {k} × {} line gains and {k} × {} direct gains (got {} × {} \
                 and {} × {})",
                build.n(),
                build.n_in(),
                c.rows(),
                c.cols(),
                d.rows(),
                d.cols()
            ),
        ));
    }
    let total = n_out + k;
    let stack = |old: &Matrix, new: &Matrix, what: &str| {
        let mut rows = old.as_slice().to_vec();
        rows.extend_from_slice(new.as_slice());
        Matrix::from_row_major(total, old.cols(), rows)
            .ok_or_else(|| PresetError::field(what, "shape"))
    };
    let mut parts: BuildParts = build.parts().clone();
    parts.c = stack(build.c(), c, "output_gains")?;
    parts.d = stack(build.d(), d, "direct_gains")?;
    if let Some(po) = &parts.post_output {
        let (sections, ch) = (po.sections(), po.channels());
        let mut data = Vec::with_capacity(sections * 6 * total);
        for sec in 0..sections {
            for row in 0..6 {
                for o in 0..total {
                    data.push(po.coef(sec, row, if o < ch { o } else { 0 }));
                }
            }
        }
        parts.post_output = Some(
            SosBank::new(sections, total, data)
                .map_err(|e| PresetError::field("post_output", e.to_string()))?,
        );
    }
    if let Some(m) = build.output_mix() {
        let (rows, cols) = (m.rows() + k, total);
        let mut mix = vec![0.0; rows * cols];
        for r in 0..m.rows() {
            mix[r * cols..r * cols + n_out].copy_from_slice(m.row(r));
        }
        for r in 0..k {
            mix[(m.rows() + r) * cols + n_out + r] = 1.0;
        }
        parts.output_mix = Some(
            Matrix::from_row_major(rows, cols, mix)
                .ok_or_else(|| PresetError::field("output_mix", "shape"))?,
        );
    }
    Build::new(parts)
}

/// A two-output build from a one-output build: the second output reads the lines through the
/// first output's gains with alternating signs (same energy decay, decorrelated), D and an
/// output SOS hook are duplicated ([`with_added_outputs`]). Builds with two or more outputs, or
/// with an output mix, are returned unchanged.
pub fn stereo_build(build: &Build) -> Result<Build, PresetError> {
    if build.n_outputs() != 1 || build.output_mix().is_some() {
        return Ok(build.clone());
    }
    let c: Vec<f64> = build
        .c()
        .row(0)
        .iter()
        .enumerate()
        .map(|(i, v)| if i % 2 == 0 { *v } else { -*v })
        .collect();
    let c = Matrix::from_row_major(1, build.n(), c)
        .ok_or_else(|| PresetError::field("output_gains", "shape"))?;
    let d = Matrix::from_row_major(1, build.n_in(), build.d().row(0).to_vec())
        .ok_or_else(|| PresetError::field("direct_gains", "shape"))?;
    with_added_outputs(build, &c, &d)
}

/// The preset's early reflections as the session plays them: resampled to `fs` Hz (like
/// [`build_at_rate`] converts the build) and, for a one-output preset, duplicated onto a second
/// output (like [`stereo_build`] duplicates the direct path). `None` when the preset has none.
pub fn session_early(preset: &Preset, fs: f64) -> Result<Option<EarlyReflections>, PresetError> {
    preset
        .early()
        .map(|e| Ok(e.at_rate(fs)?.stereo()))
        .transpose()
}

/// Longest reverberation time of any delay line over 64 frequencies from DC to Nyquist, in
/// seconds, from the line's attenuation filter (`post_delay`) and the feedback matrix's largest
/// singular value; `None` for a lossless build (it rings forever).
pub fn longest_rt_seconds(build: &Build) -> Option<f64> {
    let fs = build.sample_rate();
    let matrix_db = 20.0 * build.a().spectral_norm().max(1e-300).log10();
    let pd = build.post_delay();
    let mut worst: f64 = 0.0;
    for (i, &m) in build.delays().iter().enumerate() {
        for k in 0..=64 {
            let omega = std::f64::consts::PI * k as f64 / 64.0;
            let g = pd
                .map(|b| b.magnitude(i.min(b.channels() - 1), omega))
                .unwrap_or(1.0);
            let db = 20.0 * g.max(1e-300).log10() + matrix_db;
            if db >= -1e-9 {
                return None;
            }
            worst = worst.max(-60.0 * m as f64 / (fs * db));
        }
    }
    Some(worst)
}

/// Target values of the [`Reverb`] controls.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FxControls {
    /// Multiplier of every band's reverberation time (×, 0.05–20; see
    /// [`Engine::set_decay_scale`]).
    pub decay_scale: f32,
    /// Pre-delay, dry and wet gains, output gain ([`Mix`]).
    pub mix: MixControls,
    /// Wet high-cut frequency in Hz (≥ [`TONE_OPEN_HZ`] = bypassed).
    pub tone_hz: f32,
    /// Stereo width of the wet signal (0 = mono, 1 = as rendered, up to 2).
    pub width: f32,
}

impl Default for FxControls {
    /// Decay ×1, the mix's defaults (fully wet, no pre-delay, 0 dB), tone open, width 1.
    fn default() -> Self {
        Self {
            decay_scale: 1.0,
            mix: MixControls::default(),
            tone_hz: TONE_OPEN_HZ,
            width: 1.0,
        }
    }
}

/// What a host places between the reverb's wet signal and the mix: e.g. the plugin's
/// crossfades to a reference convolution or a binaural rendering, which hear the same
/// pre-delayed input as the FDN. Called once per block from the audio thread: it must not
/// allocate, lock or panic.
pub trait WetStage {
    /// Engine outputs to render this block (at least the mixed outputs are rendered).
    fn rows(&self) -> usize;

    /// Turns the block's wet rows into the wet signal that is mixed: `input` are the
    /// pre-delayed inputs, `wet` the engine's rows (tone and width applied), all of the same
    /// length; rows `0..mixed` of `wet` are mixed afterwards.
    fn process(&mut self, input: &[&[f32]], wet: &mut [&mut [f32]], mixed: usize);
}

/// No stage: the reverb's own wet signal is mixed.
impl WetStage for () {
    fn rows(&self) -> usize {
        0
    }

    fn process(&mut self, _input: &[&[f32]], _wet: &mut [&mut [f32]], _mixed: usize) {}
}

/// The engine plus wet tone and width, inside the one [`Mix`] (pre-delay, dry/wet, output
/// gain). `process` never allocates, locks or panics.
#[derive(Debug)]
pub struct Reverb {
    engine: Engine,
    mix: Mix,
    outputs: usize,
    max_block: usize,
    sample_rate: f32,
    tone_hz: f32,
    width_target: f32,
    width: Ramp,
    tone: Ramp,
    lp: Vec<f32>,
    /// Rows the last block rendered (the tone states of the others are stale).
    active: usize,
    w: Vec<f32>,
    g_width: Vec<f32>,
    g_tone: Vec<f32>,
}

impl Reverb {
    /// Prepares the engine for `build` with `config` (see [`Engine::prepare`]); controls start at
    /// [`FxControls::default`].
    pub fn prepare(build: &Build, config: &EngineConfig) -> Result<Self, EngineError> {
        Self::prepare_with_early(build, None, config)
    }

    /// Like [`Reverb::prepare`] with an early-reflections FIR added to the wet signal (see
    /// [`Engine::prepare_with_early`]; use [`session_early`] to match a converted build).
    pub fn prepare_with_early(
        build: &Build,
        early: Option<&EarlyReflections>,
        config: &EngineConfig,
    ) -> Result<Self, EngineError> {
        let engine = Engine::prepare_with_early(build, early, config)?;
        let smooth = (config.smoothing_ms * config.sample_rate / 1000.0).round() as u32;
        let d = FxControls::default();
        let mb = config.max_block;
        Ok(Self {
            engine,
            mix: Mix::new(
                config.inputs,
                config.sample_rate,
                mb,
                config.smoothing_ms,
                config.max_predelay_ms,
            ),
            outputs: config.outputs,
            max_block: mb,
            sample_rate: config.sample_rate as f32,
            tone_hz: d.tone_hz,
            width_target: d.width,
            width: Ramp::new(d.width, smooth),
            tone: Ramp::new(d.tone_hz, smooth),
            lp: vec![0.0; config.outputs],
            active: config.outputs,
            w: vec![0.0; config.outputs * mb],
            g_width: vec![0.0; mb],
            g_tone: vec![0.0; mb],
        })
    }

    /// The engine (for queries).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// A swap handle of the engine (see [`Engine::swap_handle`]).
    pub fn swap_handle(&self) -> SwapHandle {
        self.engine.swap_handle()
    }

    /// Control targets currently set.
    pub fn controls(&self) -> FxControls {
        FxControls {
            decay_scale: self.engine.decay_scale(),
            mix: self.mix.controls(),
            tone_hz: self.tone_hz,
            width: self.width_target,
        }
    }

    /// Sets every control target (each glides over the engine's `smoothing_ms`); non-finite values
    /// are ignored, others clamped (decay see [`Engine::set_decay_scale`], mix see [`Mix`], tone
    /// [`TONE_MIN_HZ`]–[`TONE_OPEN_HZ`], width 0–2).
    pub fn set_controls(&mut self, c: &FxControls) {
        self.engine.set_decay_scale(c.decay_scale);
        self.mix.set_controls(&c.mix);
        if c.width.is_finite() {
            self.width_target = c.width.clamp(0.0, 2.0);
            self.width.set_target(self.width_target);
        }
        if c.tone_hz.is_finite() {
            self.tone_hz = c.tone_hz.clamp(TONE_MIN_HZ, TONE_OPEN_HZ);
            self.tone.set_target(self.tone_hz);
        }
    }

    /// Jumps every control to its target.
    pub fn snap_controls(&mut self) {
        self.engine.snap_controls();
        self.mix.snap();
        self.width.snap();
        self.tone.snap();
    }

    /// Clears all audio state and snaps the controls. Allocation-free.
    pub fn reset(&mut self) {
        self.engine.reset();
        self.mix.reset();
        self.lp.iter_mut().for_each(|v| *v = 0.0);
        self.snap_controls();
    }

    /// Fades the input of the wet path in from silence over the smoothing time (see
    /// [`Mix::fade_in_wet`]): a restart mid-stream after [`Reverb::reset`] (e.g. leaving a full
    /// bypass) then does not start the reverb on a jump. Allocation-free.
    pub fn fade_in_input(&mut self) {
        self.mix.fade_in_wet();
    }

    /// Renders planar `inputs` into planar `outputs`: the [`Mix`] of the input and the engine's
    /// wet signal (of the pre-delayed input) through tone and width, under a
    /// [`DenormalGuard`]. Passing fewer outputs than configured renders only those (an output
    /// asked for again restarts its tone filter and the engine's output filters from silence).
    /// Never allocates, locks or panics.
    pub fn process(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        self.process_with(inputs, outputs, &mut ());
    }

    /// As [`Reverb::process`], with `stage` turning the wet rows into the wet signal that is
    /// mixed, block by block (see [`WetStage`]); the engine renders `stage.rows()` outputs (at
    /// least the outputs passed, at most the configured ones).
    pub fn process_with<S: WetStage + ?Sized>(
        &mut self,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
        stage: &mut S,
    ) {
        let _guard = DenormalGuard::new();
        let frames = outputs.iter().map(|o| o.len()).min().unwrap_or(0);
        let mb = self.max_block;
        let mixed = self.outputs.min(outputs.len());
        let mut done = 0;
        while done < frames {
            let b = self.mix.block_len(frames - done);
            self.mix.begin(inputs, done, b);
            let rows = stage.rows().max(mixed).min(self.outputs);
            {
                let n_in = self.mix.inputs().min(64);
                let mut ins: [&[f32]; 64] = [&[]; 64];
                for (c, slot) in ins.iter_mut().enumerate().take(n_in) {
                    *slot = self.mix.wet_input(c);
                }
                let mut wet: [&mut [f32]; 64] = std::array::from_fn(|_| <&mut [f32]>::default());
                for (slot, chunk) in wet.iter_mut().zip(self.w.chunks_mut(mb)).take(rows) {
                    *slot = &mut chunk[..b];
                }
                self.engine.process(&ins[..n_in], &mut wet[..rows]);
                tone_and_width(
                    &mut wet[..rows],
                    &mut self.lp,
                    &mut self.active,
                    (&mut self.tone, &mut self.g_tone[..b]),
                    (&mut self.width, &mut self.g_width[..b]),
                    self.sample_rate,
                );
                stage.process(&ins[..n_in], &mut wet[..rows], mixed);
            }
            for (o, out) in outputs.iter_mut().enumerate() {
                let out = &mut out[done..done + b];
                if o < mixed {
                    self.mix.output(o, &self.w[o * mb..o * mb + b], out);
                } else {
                    out.iter_mut().for_each(|v| *v = 0.0);
                }
            }
            done += b;
        }
    }
}

/// The wet tone (one-pole high cut) on every row and the width on rows 0–1 of one block;
/// `active` is the row count of the previous block (rows asked for again restart their filter
/// from silence).
fn tone_and_width(
    wet: &mut [&mut [f32]],
    lp: &mut [f32],
    active: &mut usize,
    (tone, g_tone): (&mut Ramp, &mut [f32]),
    (width, g_width): (&mut Ramp, &mut [f32]),
    sample_rate: f32,
) {
    let rows = wet.len();
    if rows > *active {
        lp[*active..rows].fill(0.0);
    }
    *active = rows;
    let tone_active = tone.is_moving() || tone.value() < TONE_OPEN_HZ;
    tone.fill(g_tone);
    let width_active = width.is_moving() || width.value() != 1.0;
    width.fill(g_width);
    for (row, state) in wet.iter_mut().zip(lp.iter_mut()) {
        if !tone_active {
            *state = row.last().copied().unwrap_or(*state);
            continue;
        }
        let k = -2.0 * std::f32::consts::PI / sample_rate;
        let mut y = *state;
        for (v, &fc) in row.iter_mut().zip(g_tone.iter()) {
            let a = if fc >= TONE_OPEN_HZ {
                1.0
            } else {
                1.0 - (k * fc).exp()
            };
            y += a * (*v - y);
            *v = y;
        }
        // A decaying one-pole can stick at a subnormal value; flush it.
        *state = if y.is_finite() && y.abs() >= STATE_FLUSH {
            y
        } else {
            0.0
        };
    }
    if width_active && rows >= 2 {
        let (l, r) = wet.split_at_mut(1);
        for ((l, r), &wd) in l[0].iter_mut().zip(r[0].iter_mut()).zip(g_width.iter()) {
            let m = 0.5 * (*l + *r);
            let s = 0.5 * (*l - *r) * wd;
            *l = m + s;
            *r = m - s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preset::bundled_preset;
    use crate::with_decay;

    fn default_build() -> Build {
        let p = bundled_preset("colorless_N16_d1").unwrap();
        with_decay(p.build(), 2.0).unwrap()
    }

    #[test]
    fn remap_keeps_dc_and_nyquist_gain() {
        let s = [0.3, 0.2, 0.1, 1.0, -0.5, 0.2];
        let r = remap_section(s, 48_000.0, 44_100.0);
        let h = |s: [f64; 6], z: f64| {
            (s[0] + s[1] * z + s[2] * z * z) / (s[3] + s[4] * z + s[5] * z * z)
        };
        assert!((h(s, 1.0) - h(r, 1.0)).abs() < 1e-12);
        assert!((h(s, -1.0) - h(r, -1.0)).abs() < 1e-12);
        assert_eq!(remap_section(s, 48_000.0, 48_000.0), s);
    }

    #[test]
    fn rate_conversion_keeps_reverberation_time() {
        let b = default_build();
        let rt = longest_rt_seconds(&b).unwrap();
        assert!((rt - 2.0).abs() < 0.05, "rt {rt}");
        let c = build_at_rate(&b, 44_100.0).unwrap();
        assert_eq!(c.sample_rate(), 44_100.0);
        let rt2 = longest_rt_seconds(&c).unwrap();
        assert!((rt2 - rt).abs() / rt < 0.02, "{rt} vs {rt2}");
        assert!(c.check_stable().is_ok());
    }

    #[test]
    fn lossless_build_has_no_finite_tail() {
        let p = bundled_preset("colorless_N16_d1").unwrap();
        assert_eq!(longest_rt_seconds(p.build()), None);
    }

    #[test]
    fn stereo_build_adds_a_decorrelated_output() {
        let b = stereo_build(&default_build()).unwrap();
        assert_eq!(b.n_out(), 2);
        let (l, r) = (b.c().row(0), b.c().row(1));
        let dot: f64 = l.iter().zip(r).map(|(a, b)| a * b).sum();
        let e: f64 = l.iter().map(|a| a * a).sum();
        assert!(dot.abs() < e, "outputs identical");
        assert_eq!(stereo_build(&b).unwrap().n_out(), 2);
    }

    fn noise(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect()
    }

    #[test]
    fn a_dark_tail_in_silence_never_turns_subnormal() {
        // Tone 200 Hz, fully wet: the one-pole used to stick at ±2.66e-44 in silence.
        let b = stereo_build(&default_build()).unwrap();
        let fs = b.sample_rate();
        let cfg = EngineConfig::new(fs, 2, 2);
        let mut r = Reverb::prepare(&b, &cfg).unwrap();
        r.set_controls(&FxControls {
            tone_hz: 200.0,
            ..FxControls::default()
        });
        r.snap_controls();
        let x = noise(4_800, 3);
        let silence = vec![0.0f32; 4_800];
        let (mut y0, mut y1) = (vec![0.0f32; 4_800], vec![0.0f32; 4_800]);
        let mut subnormal = 0;
        let mut last_nonzero = 0;
        for k in 0..(40.0 * fs / 4_800.0) as usize {
            let ins: [&[f32]; 2] = if k == 0 {
                [&x, &x]
            } else {
                [&silence, &silence]
            };
            r.process(&ins, &mut [&mut y0, &mut y1]);
            subnormal += y0.iter().chain(&y1).filter(|v| v.is_subnormal()).count();
            if y0.iter().chain(&y1).any(|&v| v != 0.0) {
                last_nonzero = k;
            }
        }
        assert_eq!(subnormal, 0);
        assert!(last_nonzero > 10, "the tail should ring for a while");
    }

    #[test]
    fn neutral_tone_and_width_mix_the_engine_of_the_pre_delayed_input() {
        let b = stereo_build(&default_build()).unwrap();
        let cfg = EngineConfig::new(b.sample_rate(), 2, 2);
        let mut e = Engine::prepare(&b, &cfg).unwrap();
        let mut r = Reverb::prepare(&b, &cfg).unwrap();
        let (dry, wet, gain_db, predelay_ms) = (0.6f32, 0.4f32, -3.0f32, 12.0f32);
        e.set_decay_scale(1.3);
        e.snap_controls();
        r.set_controls(&FxControls {
            decay_scale: 1.3,
            mix: MixControls {
                predelay_ms,
                dry,
                wet,
                output_gain_db: gain_db,
            },
            ..FxControls::default()
        });
        r.snap_controls();
        let n = 20_000;
        let (x0, x1) = (noise(n, 1), noise(n, 2));
        // The engine alone, on the input delayed by the pre-delay (576 samples at 48 kHz).
        let d = (f64::from(predelay_ms) * b.sample_rate() / 1000.0).round() as usize;
        let delayed = |x: &[f32]| -> Vec<f32> {
            let mut v = vec![0.0; d];
            v.extend_from_slice(&x[..n - d]);
            v
        };
        let (d0, d1) = (delayed(&x0), delayed(&x1));
        let mut w = vec![vec![0.0; n]; 2];
        {
            let (w0, w1) = w.split_at_mut(1);
            e.process(&[&d0, &d1], &mut [&mut w0[0], &mut w1[0]]);
        }
        let mut z = vec![vec![0.0; n]; 2];
        for (start, len) in [(0, 1), (1, 700), (701, 4096), (4797, 15_203)] {
            let ins = [&x0[start..start + len], &x1[start..start + len]];
            let (z0, z1) = z.split_at_mut(1);
            r.process(
                &ins,
                &mut [
                    &mut z0[0][start..start + len],
                    &mut z1[0][start..start + len],
                ],
            );
        }
        let g = crate::mix::db_to_linear(gain_db);
        for (o, x) in [&x0, &x1].into_iter().enumerate() {
            for t in 0..n {
                let want = g * (dry * x[t] + wet * w[o][t]);
                assert!((z[o][t] - want).abs() <= 1e-6, "output {o} sample {t}");
            }
        }
    }

    #[test]
    fn session_early_follows_rate_and_stereo_conversion() {
        let p = bundled_preset("colorless_N4_d1").unwrap();
        let mut p = Preset::from_build(p.build().clone(), "t");
        assert_eq!(session_early(&p, 44_100.0).unwrap(), None);
        let h: Vec<f64> = (0..960)
            .map(|n| ((n * 7919) % 13) as f64 / 13.0 - 0.5)
            .collect();
        p.set_early(Some(
            EarlyReflections::new(48_000.0, vec![vec![h.clone()]]).unwrap(),
        ))
        .unwrap();
        let same = session_early(&p, 48_000.0).unwrap().unwrap();
        assert_eq!(same.n_out(), 2);
        assert_eq!(same.ir(0, 0), h.as_slice());
        assert_eq!(same.ir(1, 0), h.as_slice());
        let other = session_early(&p, 44_100.0).unwrap().unwrap();
        assert_eq!(
            (other.sample_rate(), other.len(), other.n_out()),
            (44_100.0, 882, 2)
        );
        let b = stereo_build(&build_at_rate(p.build(), 44_100.0).unwrap()).unwrap();
        let cfg = EngineConfig::new(44_100.0, 1, 2);
        let r = Reverb::prepare_with_early(&b, Some(&other), &cfg).unwrap();
        assert!(r.engine().has_early());
        // The unconverted (mono) FIR does not fit the stereo build.
        assert!(Reverb::prepare_with_early(&b, p.early(), &cfg).is_err());
    }

    #[test]
    fn tone_darkens_and_width_zero_is_mono() {
        let b = stereo_build(&default_build()).unwrap();
        let cfg = EngineConfig::new(b.sample_rate(), 1, 2);
        let x = noise(24_000, 3);
        let render = |tone_hz: f32, width: f32| {
            let mut r = Reverb::prepare(&b, &cfg).unwrap();
            r.set_controls(&FxControls {
                tone_hz,
                width,
                ..FxControls::default()
            });
            r.snap_controls();
            let mut y = vec![vec![0.0; x.len()]; 2];
            let (l, rr) = y.split_at_mut(1);
            r.process(&[&x], &mut [&mut l[0], &mut rr[0]]);
            y
        };
        let open = render(TONE_OPEN_HZ, 1.0);
        let dark = render(1_000.0, 1.0);
        let hf = |v: &[f32]| v.windows(2).map(|w| (w[1] - w[0]).powi(2)).sum::<f32>();
        assert!(hf(&dark[0]) < 0.2 * hf(&open[0]));
        let mono = render(TONE_OPEN_HZ, 0.0);
        assert_eq!(mono[0], mono[1]);
        assert_ne!(open[0], open[1]);
    }
}
