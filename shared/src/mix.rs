//! The one dry/wet stage of every real-time path ([`crate::fx::Reverb`], and through it the
//! plugin): the pre-delay of what the wet sources hear, and `out = gain · (dry · x + wet · w)`.
//!
//! Per block, [`Mix::begin`] reads the host inputs (non-finite samples, missing channels and
//! samples past a channel's end read as 0), keeps them as the dry signal and writes them
//! pre-delayed ([`Mix::wet_input`]) for the wet sources (the FDN, a reference convolution, …);
//! the caller renders its wet signal from that and [`Mix::output`] mixes it with the dry input.
//! Output `o`'s dry signal is input `o mod inputs`.
//!
//! Every control glides over the smoothing time: dry, wet and output gain linearly, the
//! pre-delay by crossfading two taps ([`DelayFade`]; a fade ends on a block boundary, see
//! [`Mix::block_len`]). [`Mix::fade_in_wet`] fades the wet sources' input in from silence
//! before the pre-delay, so a restart mid-stream (e.g. leaving a bypass) does not start the
//! wet path on a jump. Nothing here allocates after [`Mix::new`], locks or panics.

use crate::engine::copy_planar;
use crate::engine::delay::{DelayFade, PreDelay};
use crate::engine::Ramp;

/// Linear gain of `db` decibels.
pub fn db_to_linear(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}

/// Highest dry or wet gain (linear).
pub const MAX_MIX_GAIN: f32 = 4.0;
/// Lowest output gain in dB.
pub const MIN_OUTPUT_DB: f32 = -120.0;
/// Highest output gain in dB.
pub const MAX_OUTPUT_DB: f32 = 24.0;

/// Target values of the mix controls.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MixControls {
    /// Pre-delay of the wet path in milliseconds (0 – the mix's maximum).
    pub predelay_ms: f32,
    /// Dry (unprocessed input) gain, linear (0–4).
    pub dry: f32,
    /// Wet gain, linear (0–4).
    pub wet: f32,
    /// Output gain in dB (−120 to +24).
    pub output_gain_db: f32,
}

impl Default for MixControls {
    /// No pre-delay, fully wet, 0 dB: the output is the wet signal.
    fn default() -> Self {
        Self {
            predelay_ms: 0.0,
            dry: 0.0,
            wet: 1.0,
            output_gain_db: 0.0,
        }
    }
}

/// The dry/wet stage (see the module docs).
#[derive(Debug, Clone)]
pub struct Mix {
    inputs: usize,
    max_block: usize,
    sample_rate: f64,
    max_predelay_ms: f32,
    targets: MixControls,
    predelay: PreDelay,
    /// Pre-delay in samples; a change crossfades two taps.
    predelay_samples: DelayFade,
    dry: Ramp,
    wet: Ramp,
    gain: Ramp,
    /// Gain of the wet sources' input (1 but after [`Mix::fade_in_wet`]).
    wet_in: Ramp,
    /// Sanitised host inputs, `inputs × max_block`.
    x_dry: Vec<f32>,
    /// What enters the pre-delay while `wet_in` glides, `inputs × max_block`.
    x_in: Vec<f32>,
    /// Pre-delayed inputs, `inputs × max_block`.
    x_wet: Vec<f32>,
    block: usize,
    pd: Vec<f32>,
    g_in: Vec<f32>,
    g_dry: Vec<f32>,
    g_wet: Vec<f32>,
    g_out: Vec<f32>,
}

impl Mix {
    /// A mix of `inputs` channels at `sample_rate` Hz for blocks of up to `max_block` samples,
    /// controls gliding over `smoothing_ms`, pre-delays up to `max_predelay_ms`; controls at
    /// [`MixControls::default`].
    pub fn new(
        inputs: usize,
        sample_rate: f64,
        max_block: usize,
        smoothing_ms: f64,
        max_predelay_ms: f64,
    ) -> Self {
        let (inputs, mb) = (inputs.max(1), max_block.max(1));
        let ms_to_samples = |ms: f64| (ms * sample_rate / 1000.0).round().max(0.0);
        let smooth = ms_to_samples(smoothing_ms).min(f64::from(u32::MAX)) as u32;
        let max_pd = ms_to_samples(max_predelay_ms) as usize;
        let d = MixControls::default();
        Self {
            inputs,
            max_block: mb,
            sample_rate,
            max_predelay_ms: max_predelay_ms.max(0.0) as f32,
            targets: d,
            predelay: PreDelay::new(inputs, max_pd, mb),
            predelay_samples: DelayFade::new(0, smooth as usize),
            dry: Ramp::new(d.dry, smooth),
            wet: Ramp::new(d.wet, smooth),
            gain: Ramp::new(db_to_linear(d.output_gain_db), smooth),
            wet_in: Ramp::new(1.0, smooth),
            x_dry: vec![0.0; inputs * mb],
            x_in: vec![0.0; inputs * mb],
            x_wet: vec![0.0; inputs * mb],
            block: 0,
            pd: vec![0.0; mb],
            g_in: vec![0.0; mb],
            g_dry: vec![0.0; mb],
            g_wet: vec![0.0; mb],
            g_out: vec![0.0; mb],
        }
    }

    /// Input channels.
    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// Control targets currently set.
    pub fn controls(&self) -> MixControls {
        self.targets
    }

    /// Sets every control target (see the setters; non-finite values are ignored).
    pub fn set_controls(&mut self, c: &MixControls) {
        self.set_predelay_ms(c.predelay_ms);
        self.set_dry(c.dry);
        self.set_wet(c.wet);
        self.set_output_gain_db(c.output_gain_db);
    }

    /// Pre-delay of the wet path in ms (clamped to 0 – the maximum, rounded to whole samples).
    pub fn set_predelay_ms(&mut self, ms: f32) {
        if ms.is_finite() {
            let ms = ms.clamp(0.0, self.max_predelay_ms);
            self.targets.predelay_ms = ms;
            let samples = (f64::from(ms) * self.sample_rate / 1000.0).round() as usize;
            self.predelay_samples
                .set_target(samples.min(self.predelay.max_delay() as usize));
        }
    }

    /// Dry (input) gain, linear, clamped to 0–[`MAX_MIX_GAIN`].
    pub fn set_dry(&mut self, gain: f32) {
        if gain.is_finite() {
            self.targets.dry = gain.clamp(0.0, MAX_MIX_GAIN);
            self.dry.set_target(self.targets.dry);
        }
    }

    /// Wet gain, linear, clamped to 0–[`MAX_MIX_GAIN`].
    pub fn set_wet(&mut self, gain: f32) {
        if gain.is_finite() {
            self.targets.wet = gain.clamp(0.0, MAX_MIX_GAIN);
            self.wet.set_target(self.targets.wet);
        }
    }

    /// Dry/wet balance: `mix` in 0–1 sets dry = 1 − mix and wet = mix.
    pub fn set_mix(&mut self, mix: f32) {
        if mix.is_finite() {
            let m = mix.clamp(0.0, 1.0);
            self.set_dry(1.0 - m);
            self.set_wet(m);
        }
    }

    /// Output gain in dB (clamped to [`MIN_OUTPUT_DB`]…[`MAX_OUTPUT_DB`]).
    pub fn set_output_gain_db(&mut self, db: f32) {
        if db.is_finite() {
            self.targets.output_gain_db = db.clamp(MIN_OUTPUT_DB, MAX_OUTPUT_DB);
            self.gain
                .set_target(db_to_linear(self.targets.output_gain_db));
        }
    }

    /// Jumps every control (and a running wet fade-in) to its target.
    pub fn snap(&mut self) {
        self.predelay_samples.snap();
        for r in [
            &mut self.dry,
            &mut self.wet,
            &mut self.gain,
            &mut self.wet_in,
        ] {
            r.snap();
        }
    }

    /// Clears the pre-delay and snaps the controls. Allocation-free.
    pub fn reset(&mut self) {
        self.predelay.reset();
        self.snap();
    }

    /// Fades the wet sources' input in from silence over the smoothing time (the dry signal is
    /// not touched). Allocation-free.
    pub fn fade_in_wet(&mut self) {
        self.wet_in.set_target(0.0);
        self.wet_in.snap();
        self.wet_in.set_target(1.0);
    }

    /// The length of the next block for up to `frames` samples: at most `max_block`, and a
    /// running pre-delay crossfade ends on the block's end (at least 1 when `frames` > 0).
    pub fn block_len(&self, frames: usize) -> usize {
        let mut b = frames.min(self.max_block);
        if self.predelay_samples.is_fading() {
            b = b.min(self.predelay_samples.remaining());
        }
        b.max(frames.min(1))
    }

    /// Starts a block: reads samples `offset..offset + b` of `inputs` (`b` from
    /// [`Mix::block_len`]) as the dry signal, writes them pre-delayed for the wet sources and
    /// advances the control glides by `b` samples.
    pub fn begin(&mut self, inputs: &[&[f32]], offset: usize, b: usize) {
        let (mb, n) = (self.max_block, self.inputs);
        let b = b.min(mb);
        self.block = b;
        copy_planar(inputs, offset, b, n, &mut self.x_dry, mb);
        let into_delay = if self.wet_in.is_moving() {
            self.wet_in.fill(&mut self.g_in[..b]);
            for c in 0..n {
                let (src, dst) = (&self.x_dry[c * mb..c * mb + b], &mut self.x_in[c * mb..]);
                for ((d, &x), &g) in dst.iter_mut().zip(src).zip(&self.g_in[..b]) {
                    *d = x * g;
                }
            }
            &self.x_in
        } else {
            &self.x_dry
        };
        let delay = self.predelay_samples.block(&mut self.pd[..b]);
        self.predelay
            .process(into_delay, delay, &mut self.x_wet, mb, b);
        self.dry.fill(&mut self.g_dry[..b]);
        self.wet.fill(&mut self.g_wet[..b]);
        self.gain.fill(&mut self.g_out[..b]);
    }

    /// Input channel `c` (mod the input count) of the current block, pre-delayed: what the wet
    /// sources hear.
    pub fn wet_input(&self, c: usize) -> &[f32] {
        let (mb, c) = (self.max_block, c % self.inputs);
        &self.x_wet[c * mb..c * mb + self.block]
    }

    /// Writes output `o` of the current block: `out[t] = gain · (dry · x[t] + wet · w[t])` with
    /// `x` input `o mod inputs` and `w` = `wet` (the first `min(len)` samples are written).
    pub fn output(&self, o: usize, wet: &[f32], out: &mut [f32]) {
        let (mb, b) = (self.max_block, self.block);
        let c = o % self.inputs;
        let x = &self.x_dry[c * mb..c * mb + b];
        let gains = self.g_out[..b]
            .iter()
            .zip(&self.g_dry[..b])
            .zip(&self.g_wet[..b]);
        for ((y, (&xv, &w)), ((&g, &gd), &gw)) in out.iter_mut().zip(x.iter().zip(wet)).zip(gains) {
            *y = g * (gd * xv + gw * w);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp_input(n: usize) -> Vec<f32> {
        (1..=n).map(|v| v as f32).collect()
    }

    /// Runs `mix` over `x` in blocks of at most `block`, the wet source being the pre-delayed
    /// input itself; returns (output, wet input).
    fn run(mix: &mut Mix, x: &[f32], block: usize) -> (Vec<f32>, Vec<f32>) {
        let (mut y, mut w) = (vec![0.0; x.len()], Vec::new());
        let mut at = 0;
        while at < x.len() {
            let b = mix.block_len((x.len() - at).min(block));
            mix.begin(&[x], at, b);
            let wet = mix.wet_input(0).to_vec();
            mix.output(0, &wet, &mut y[at..at + b]);
            w.extend_from_slice(&wet);
            at += b;
        }
        (y, w)
    }

    #[test]
    fn the_mix_is_gain_times_dry_plus_wet_with_the_wet_path_pre_delayed() {
        let mut m = Mix::new(1, 1_000.0, 16, 0.0, 100.0);
        m.set_controls(&MixControls {
            predelay_ms: 5.0,
            dry: 0.5,
            wet: 2.0,
            output_gain_db: 20.0 * 0.5f32.log10(),
        });
        m.snap();
        let x = ramp_input(40);
        let (y, w) = run(&mut m, &x, 7);
        for n in 0..40 {
            let delayed = if n >= 5 { x[n - 5] } else { 0.0 };
            assert_eq!(w[n], delayed);
            let want = 0.5 * (0.5 * x[n] + 2.0 * delayed);
            assert!((y[n] - want).abs() < 1e-4, "sample {n}: {} vs {want}", y[n]);
        }
    }

    #[test]
    fn controls_glide_and_bad_values_are_ignored_or_clamped() {
        let mut m = Mix::new(2, 48_000.0, 64, 10.0, 50.0);
        m.set_dry(f32::NAN);
        m.set_output_gain_db(f32::INFINITY);
        m.set_predelay_ms(-3.0);
        assert_eq!(m.controls(), MixControls::default());
        m.set_predelay_ms(1e9);
        m.set_wet(9.0);
        assert_eq!(m.controls().predelay_ms, 50.0);
        assert_eq!(m.controls().wet, MAX_MIX_GAIN);
        // The pre-delay fade (480 samples) cuts the blocks so it ends on a block end.
        assert_eq!(m.block_len(1_000), 64);
        let x = vec![1.0f32; 480];
        let mut at = 0;
        while at < 480 {
            let b = m.block_len(480 - at);
            m.begin(&[&x, &x], at, b);
            at += b;
        }
        assert_eq!(m.block_len(1_000), 64);
        assert_eq!(m.block_len(0), 0);
    }

    #[test]
    fn a_wet_fade_in_starts_from_silence_and_leaves_the_dry_signal_alone() {
        let mut m = Mix::new(1, 1_000.0, 8, 8.0, 10.0);
        m.set_controls(&MixControls {
            predelay_ms: 2.0,
            dry: 1.0,
            wet: 1.0,
            output_gain_db: 0.0,
        });
        m.snap();
        m.fade_in_wet();
        let x = vec![1.0f32; 20];
        let (y, w) = run(&mut m, &x, 8);
        // The faded input reaches the wet path 2 samples later: 0, 0, 1/8, 2/8, … 1.
        assert_eq!(&w[..4], &[0.0, 0.0, 0.125, 0.25]);
        assert_eq!(w[9], 1.0);
        assert!((y[3] - 1.25).abs() < 1e-6);
        // Missing and non-finite input samples read as silence.
        let mut m = Mix::new(2, 1_000.0, 8, 0.0, 0.0);
        m.set_dry(1.0);
        m.snap();
        let bad = [f32::NAN, 1.0];
        m.begin(&[&bad], 0, 4);
        let mut out = [9.0f32; 4];
        m.output(0, &[0.0; 4], &mut out);
        assert_eq!(out, [0.0, 1.0, 0.0, 0.0]);
        m.output(1, &[0.0; 4], &mut out);
        assert_eq!(out, [0.0; 4]);
        assert_eq!(m.wet_input(1), &[0.0; 4]);
    }
}
