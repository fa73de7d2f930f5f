//! The real-time FDN engine: f32, block-based, SIMD, allocation-free `process`, a smoothed
//! decay control and click-free preset swaps. It renders the wet signal only; pre-delay, dry/wet
//! and output gain are [`crate::mix::Mix`]'s, applied around it by [`crate::fx::Reverb`].
//!
//! * [`Engine::prepare`] allocates everything; [`Engine::process`] renders planar buffers of any
//!   length (internally in blocks of at most `max_block` samples and at most the shortest delay,
//!   so every block is an `N × N` by `N × b` product; a delay shorter than the block just makes
//!   the blocks shorter, down to one sample).
//! * The output of the engine at default controls equals the exact recursion of
//!   [`crate::response::TdRenderer`] up to f32 rounding.
//! * Presets are swapped through a [`SwapHandle`]: the state is built off the audio thread and
//!   crossfaded in over `crossfade_ms`; the old state goes back to the control side for dropping.
//! * A preset's early reflections (`tailor.early`, see [`crate::preset::early`]) travel inside
//!   the state ([`early::EarlyFir`], a [`crate::convolution::MimoConvolver`] from the FDN inputs
//!   to the FDN outputs), so they are prepared, swapped and crossfaded with the FDN. Enter
//!   through [`Engine::prepare_preset`] / [`SwapHandle::prepare_preset`] (or the `_with_early`
//!   variants); [`Engine::prepare`] with a bare build has no early part.

pub mod controls;
pub mod decay;
pub mod delay;
pub mod early;
pub mod filters;
pub mod matrix;
pub mod random;
pub mod scalar;
pub mod simd;
pub mod state;
pub mod swap;

pub use controls::Ramp;
pub use matrix::MatrixKind;
pub use simd::{flush_subnormals, DenormalGuard, SimdLevel};
pub use state::FdnState;
pub use swap::{PreparedState, SwapHandle};

use crate::preset::{Build, EarlyReflections, Preset, PresetError};
use state::StateConfig;
use swap::AudioSide;

/// Samples between decay-coefficient updates while the decay scale glides. Each update steps
/// the lines' gains, so it is kept short: a 10× → 0.1× glide of a 110 Hz sine through
/// colorless_N8_d1 steps 1.3× as far as the steady sine (4.4× with 32 samples).
pub const CONTROL_INTERVAL: usize = 8;
/// Longest accepted pre-delay in milliseconds (of [`EngineConfig::max_predelay_ms`]).
pub const MAX_PREDELAY_MS: f64 = 10_000.0;
/// Largest accepted internal block in samples.
pub const MAX_BLOCK_LIMIT: usize = 1 << 16;

/// Why the engine refused a configuration or a build.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    /// The build's sample rate differs from the engine's.
    #[error("the build runs at {build} Hz but the engine at {engine} Hz")]
    SampleRate {
        /// Build sample rate (Hz).
        build: f64,
        /// Engine sample rate (Hz).
        engine: f64,
    },
    /// The build is refused (unstable or invalid).
    #[error(transparent)]
    Build(#[from] PresetError),
    /// A configuration value is out of range.
    #[error("engine configuration: {0}")]
    Config(String),
    /// The audio thread has not taken the previously queued states yet.
    #[error("the swap queue is full; try again after the audio thread has run")]
    SwapQueueFull,
}

/// Engine configuration (fixed for the engine's life).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EngineConfig {
    /// Sample rate in Hz (builds must match it).
    pub sample_rate: f64,
    /// Host input channels (planar buffers passed to `process`).
    pub inputs: usize,
    /// Host output channels.
    pub outputs: usize,
    /// Largest internal block in samples (host blocks of any length are split).
    pub max_block: usize,
    /// Preset-swap crossfade in milliseconds (0 = instant).
    pub crossfade_ms: f64,
    /// Glide time of every control (and the pre-delay's crossfade) in milliseconds.
    pub smoothing_ms: f64,
    /// Longest pre-delay in milliseconds of the reverb's mix around the engine (memory is
    /// reserved for it; the engine itself has no pre-delay).
    pub max_predelay_ms: f64,
    /// Preferred kernel set (falls back to portable when the CPU lacks it).
    pub simd: SimdLevel,
    /// Use the dense matrix product even when A is Householder or Hadamard.
    pub force_dense: bool,
    /// States that may wait in the swap queue.
    pub swap_queue: usize,
}

impl EngineConfig {
    /// Defaults for a rate (Hz) and channel counts: 256-sample blocks, 50 ms crossfade, 20 ms
    /// smoothing, 500 ms maximum pre-delay, best SIMD, structured matrices, queue of 2.
    pub fn new(sample_rate: f64, inputs: usize, outputs: usize) -> Self {
        Self {
            sample_rate,
            inputs,
            outputs,
            max_block: 256,
            crossfade_ms: 50.0,
            smoothing_ms: 20.0,
            max_predelay_ms: 500.0,
            simd: SimdLevel::detect(),
            force_dense: false,
            swap_queue: 2,
        }
    }

    /// The same configuration with the channel counts of `build`.
    pub fn for_build(build: &Build) -> Self {
        Self::new(build.sample_rate(), build.n_in(), build.n_outputs())
    }

    fn validate(&self) -> Result<(), EngineError> {
        let bad = |what: &str| Err(EngineError::Config(what.to_string()));
        if !(self.sample_rate.is_finite() && self.sample_rate > 0.0) {
            return bad("sample_rate must be positive and finite (Hz)");
        }
        if self.inputs == 0 || self.outputs == 0 || self.inputs > 64 || self.outputs > 64 {
            return bad("inputs and outputs must be between 1 and 64 channels");
        }
        if self.max_block == 0 || self.max_block > MAX_BLOCK_LIMIT {
            return bad("max_block must be between 1 and 65536 samples");
        }
        for (name, v, hi) in [
            ("crossfade_ms", self.crossfade_ms, 10_000.0),
            ("smoothing_ms", self.smoothing_ms, 10_000.0),
            ("max_predelay_ms", self.max_predelay_ms, MAX_PREDELAY_MS),
        ] {
            if !(v.is_finite() && (0.0..=hi).contains(&v)) {
                return Err(EngineError::Config(format!(
                    "{name} must be between 0 and {hi} ms (got {v})"
                )));
            }
        }
        if self.swap_queue == 0 || self.swap_queue > 64 {
            return bad("swap_queue must be between 1 and 64");
        }
        Ok(())
    }

    fn samples(&self, ms: f64) -> usize {
        (ms * self.sample_rate / 1000.0).round() as usize
    }

    fn state_config(&self) -> StateConfig {
        StateConfig {
            sample_rate: self.sample_rate,
            max_block: self.max_block,
            host_inputs: self.inputs,
            simd: self.simd,
            force_dense: self.force_dense,
        }
    }
}

/// The real-time FDN engine (one per plugin instance).
#[derive(Debug)]
pub struct Engine {
    cfg: EngineConfig,
    current: Box<FdnState>,
    incoming: Option<Box<FdnState>>,
    fade_pos: usize,
    fade_len: usize,
    audio: AudioSide,
    handle: SwapHandle,
    /// Decay rate `1 / decay scale`: it glides linearly, so every line's attenuation in dB
    /// (proportional to 1 / RT) changes by equal steps instead of mostly at the end.
    decay: Ramp,
    /// Target decay scale (×).
    decay_scale: f32,
    /// Sanitised host inputs, `inputs × max_block`.
    x: Vec<f32>,
    fade: Vec<f32>,
    swaps: u64,
}

/// Copies samples `offset..offset + b` of each of `channels` planar `inputs` into `dst`
/// (`channels` rows of `stride`, first `b` used); non-finite samples, missing channels and
/// samples past a channel's end are written as 0.
pub fn copy_planar(
    inputs: &[&[f32]],
    offset: usize,
    b: usize,
    channels: usize,
    dst: &mut [f32],
    stride: usize,
) {
    for c in 0..channels {
        let src = inputs.get(c).and_then(|x| x.get(offset..)).unwrap_or(&[]);
        let src = &src[..src.len().min(b)];
        let row = &mut dst[c * stride..c * stride + b];
        for (d, &x) in row.iter_mut().zip(src) {
            *d = if x.is_finite() { x } else { 0.0 };
        }
        row[src.len()..].iter_mut().for_each(|d| *d = 0.0);
    }
}

impl Engine {
    /// Validates `config`, prepares `build` (stable, at the engine's rate) and allocates every
    /// buffer. The decay scale starts at 1. No early reflections.
    pub fn prepare(build: &Build, config: &EngineConfig) -> Result<Self, EngineError> {
        Self::prepare_with_early(build, None, config)
    }

    /// Prepares a whole preset: its build (at the engine's rate) plus its early reflections, if
    /// any (see [`Engine::prepare_with_early`]).
    pub fn prepare_preset(preset: &Preset, config: &EngineConfig) -> Result<Self, EngineError> {
        Self::prepare_with_early(preset.build(), preset.early(), config)
    }

    /// Like [`Engine::prepare`], plus an early-reflections FIR (`n_out × n_in` of `build`,
    /// resampled to the build's rate when its own differs) added to the FDN's wet output.
    pub fn prepare_with_early(
        build: &Build,
        early: Option<&EarlyReflections>,
        config: &EngineConfig,
    ) -> Result<Self, EngineError> {
        config.validate()?;
        let cfg = *config;
        let current = Box::new(FdnState::with_early(build, early, &cfg.state_config())?);
        let (handle, audio) = swap::channels(cfg.state_config(), cfg.swap_queue);
        let smooth = cfg.samples(cfg.smoothing_ms).min(u32::MAX as usize) as u32;
        let mb = cfg.max_block;
        Ok(Self {
            current,
            incoming: None,
            fade_pos: 0,
            fade_len: cfg.samples(cfg.crossfade_ms),
            audio,
            handle,
            decay: Ramp::new(1.0, smooth),
            decay_scale: 1.0,
            x: vec![0.0; cfg.inputs * mb],
            fade: vec![0.0; mb],
            swaps: 0,
            cfg,
        })
    }

    /// A handle for preparing and queueing new presets (clone it to the control thread).
    pub fn swap_handle(&self) -> SwapHandle {
        self.handle.clone()
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }
    /// Feedback-matrix kind of the current state.
    pub fn matrix_kind(&self) -> MatrixKind {
        self.current.matrix_kind()
    }
    /// Kernel set of the current state.
    pub fn simd_level(&self) -> SimdLevel {
        self.current.simd()
    }
    /// Delay lines of the current state.
    pub fn n_lines(&self) -> usize {
        self.current.n()
    }
    /// Internal block length of the current state in samples.
    pub fn block_len(&self) -> usize {
        self.current.block_len()
    }
    /// True when the current state carries an early-reflections FIR.
    pub fn has_early(&self) -> bool {
        self.current.has_early()
    }
    /// Completed preset swaps since `prepare`.
    pub fn swaps_completed(&self) -> u64 {
        self.swaps
    }
    /// True while a swap crossfade is running.
    pub fn is_crossfading(&self) -> bool {
        self.incoming.is_some()
    }

    /// The target decay scale (×).
    pub fn decay_scale(&self) -> f32 {
        self.decay_scale
    }

    /// Multiplies every band's reverberation time by `scale` (×, clamped to 0.05–20; see
    /// [`decay`] for how the attenuation is re-derived). Non-finite values are ignored. Only the
    /// FDN changes: an early-reflections FIR is played as stored. A change glides over
    /// `smoothing_ms` linearly in the decay rate `1 / scale` (the attenuation in dB).
    pub fn set_decay_scale(&mut self, scale: f32) {
        if scale.is_finite() {
            let s = scale.clamp(decay::MIN_DECAY_SCALE as f32, decay::MAX_DECAY_SCALE as f32);
            self.decay_scale = s;
            self.decay.set_target(1.0 / s);
        }
    }

    /// Jumps the decay scale to its target (e.g. before the first block).
    pub fn snap_controls(&mut self) {
        self.decay.snap();
        let s = self.decay_scale_now();
        self.current.set_decay_scale(s);
        if let Some(inc) = self.incoming.as_mut() {
            inc.set_decay_scale(s);
        }
    }

    /// Clears all audio state (delay lines, filters), completes a running crossfade and snaps
    /// the decay scale. Allocation-free.
    pub fn reset(&mut self) {
        self.finish_fade();
        self.current.reset();
        self.snap_controls();
    }

    /// The decay scale reached by the glide (exactly the target once it has landed).
    fn decay_scale_now(&self) -> f64 {
        if self.decay.is_moving() {
            1.0 / f64::from(self.decay.value())
        } else {
            f64::from(self.decay_scale)
        }
    }

    fn finish_fade(&mut self) {
        if let Some(new) = self.incoming.take() {
            let old = std::mem::replace(&mut self.current, new);
            self.audio.retire(old);
            self.swaps += 1;
        }
        self.fade_pos = 0;
    }

    fn poll_swap(&mut self) {
        self.audio.flush_pending();
        if self.incoming.is_some() || self.audio.pending.is_some() {
            return;
        }
        if let Ok(mut new) = self.audio.incoming.try_recv() {
            new.set_decay_scale(self.decay_scale_now());
            self.incoming = Some(new);
            self.fade_pos = 0;
            if self.fade_len == 0 {
                self.finish_fade();
            }
        }
    }

    /// Renders `inputs` (planar, `config.inputs` channels) into `outputs` (planar,
    /// `config.outputs` channels): the wet signal `R(x)` with `R = FDN + early FIR` (the whole
    /// preset), where the FDN outputs map one to one when the counts agree, else output o ← FDN
    /// output `o mod n_out`. The frame count is the shortest output; missing or short inputs
    /// read as silence, non-finite input samples as 0, extra outputs are zeroed. Only the
    /// outputs passed are rendered: passing fewer than `config.outputs` skips the work of the
    /// others (they are exact again as soon as they are passed, except that their output
    /// filters restart from silence). Never allocates, locks or panics; any length is accepted.
    pub fn process(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let _guard = DenormalGuard::new();
        let frames = outputs.iter().map(|o| o.len()).min().unwrap_or(0);
        let mb = self.cfg.max_block;
        let mut done = 0;
        while done < frames {
            self.poll_swap();
            let mut b = (frames - done).min(self.current.block_len()).min(mb);
            if let Some(inc) = &self.incoming {
                b = b.min(inc.block_len()).min(self.fade_len - self.fade_pos);
            }
            if self.decay.is_moving() {
                b = b.min(CONTROL_INTERVAL);
            }
            let b = b.max(1);
            if self.decay.is_moving() {
                self.decay.advance(b);
                let s = self.decay_scale_now();
                self.current.set_decay_scale(s);
                if let Some(inc) = self.incoming.as_mut() {
                    inc.set_decay_scale(s);
                }
            }
            copy_planar(inputs, done, b, self.cfg.inputs, &mut self.x, mb);
            // Only the audible outputs the caller asked for are rendered.
            let wanted = outputs.len().min(self.cfg.outputs);
            self.current.render(&self.x, mb, b, wanted);
            if let Some(inc) = self.incoming.as_mut() {
                inc.render(&self.x, mb, b, wanted);
                let len = self.fade_len.max(1) as f32;
                for (t, w) in self.fade[..b].iter_mut().enumerate() {
                    *w = (self.fade_pos + t + 1) as f32 / len;
                }
            }
            let same = self.current.n_out() == self.cfg.outputs;
            for (o, out) in outputs.iter_mut().enumerate() {
                let out = &mut out[done..done + b];
                if o >= self.cfg.outputs {
                    out.iter_mut().for_each(|v| *v = 0.0);
                    continue;
                }
                let wo = if same { o } else { o % self.current.n_out() };
                let cur = self.current.wet(wo, b);
                match self.incoming.as_ref() {
                    None => out.copy_from_slice(cur),
                    Some(s) => {
                        let so = if s.n_out() == self.cfg.outputs {
                            o
                        } else {
                            o % s.n_out()
                        };
                        let inc = s.wet(so, b);
                        for ((y, (&w0, &w1)), &f) in
                            out.iter_mut().zip(cur.iter().zip(inc)).zip(&self.fade[..b])
                        {
                            *y = w0 + f * (w1 - w0);
                        }
                    }
                }
            }
            if self.incoming.is_some() {
                self.fade_pos += b;
                if self.fade_pos >= self.fade_len {
                    self.finish_fade();
                }
            }
            done += b;
        }
    }
}
