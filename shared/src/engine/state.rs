//! One prepared FDN (the "state" the audio thread renders and swaps): delay lines, f32 gains,
//! matrix operator, hook filters and block buffers, all allocated up front.

use super::decay::DecayDesign;
use super::delay::DelayLines;
use super::early::EarlyFir;
use super::filters::{ChannelFilter, LineFilters};
use super::matrix::{MatrixKind, MatrixOp, TILE_T};
use super::simd::{fmadd, round_up, SimdLevel, LANES};
use super::EngineError;
use crate::preset::{Build, EarlyReflections};

/// What a state needs to know about the engine it will run in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StateConfig {
    /// Engine sample rate in Hz (must equal the build's).
    pub sample_rate: f64,
    /// Largest internal block in samples (the block is also capped by the shortest delay).
    pub max_block: usize,
    /// Host input channels feeding the FDN inputs.
    pub host_inputs: usize,
    /// Kernel set to use.
    pub simd: SimdLevel,
    /// Use the dense matrix product even when A has a recognised structure.
    pub force_dense: bool,
}

/// A prepared FDN ready to render blocks without allocating.
#[derive(Debug, Clone)]
pub struct FdnState {
    n: usize,
    rows: usize,
    n_in: usize,
    /// Audible outputs (the output mix's rows, else the FDN outputs).
    n_out: usize,
    /// FDN outputs (rows of C).
    n_fdn: usize,
    host_inputs: usize,
    stride: usize,
    block: usize,
    simd: SimdLevel,
    lines: DelayLines,
    v: Vec<f32>,
    av: Vec<f32>,
    scratch: Vec<f32>,
    u: Vec<f32>,
    y: Vec<f32>,
    matrix: MatrixOp,
    /// B by columns: `b_cols[j · rows + i] = B[i][j]`.
    b_cols: Vec<f32>,
    /// C row-major `n_fdn × N`.
    c: Vec<f32>,
    /// D row-major `n_fdn × n_in`.
    d: Vec<f32>,
    post_delay: Option<LineFilters>,
    post_matrix: Option<LineFilters>,
    post_output: Vec<ChannelFilter>,
    decay: DecayDesign,
    decay_scale: f64,
    /// Early-reflections FIR from `u` to `y`, added after the FDN (not affected by decay scale).
    early: Option<EarlyFir>,
    /// Output mix row-major `n_out × n_fdn` (empty without one) and its block buffer.
    mix: Vec<f32>,
    mixed: Vec<f32>,
    /// Per FDN output: the first audible output that reads it (`n_out` when none does).
    first_use: Vec<usize>,
    /// Audible outputs rendered by the last block (the rest were skipped).
    active: usize,
}

fn to_f32(m: &crate::Matrix) -> Vec<f32> {
    m.as_slice().iter().map(|&v| v as f32).collect()
}

impl FdnState {
    /// Prepares `build` (which must be stable and at `cfg.sample_rate`). Allocates.
    pub fn new(build: &Build, cfg: &StateConfig) -> Result<Self, EngineError> {
        Self::with_early(build, None, cfg)
    }

    /// Prepares `build` plus an early-reflections FIR added to its outputs (shape checked against
    /// the build, resampled to the build's rate when it differs). Allocates.
    pub fn with_early(
        build: &Build,
        early: Option<&EarlyReflections>,
        cfg: &StateConfig,
    ) -> Result<Self, EngineError> {
        if (build.sample_rate() - cfg.sample_rate).abs() > 1e-9 * cfg.sample_rate.abs() {
            return Err(EngineError::SampleRate {
                build: build.sample_rate(),
                engine: cfg.sample_rate,
            });
        }
        build.check_stable()?;
        let n = build.n();
        let rows = round_up(n, LANES);
        let lines = DelayLines::new(build.delays());
        let block = cfg.max_block.max(1).min(lines.min_len());
        let stride = round_up(block, TILE_T);
        let (n_in, n_fdn, n_out) = (build.n_in(), build.n_out(), build.n_outputs());
        let mut b_cols = vec![0.0f32; n_in * rows];
        for i in 0..n {
            for j in 0..n_in {
                b_cols[j * rows + i] = build.b().get(i, j) as f32;
            }
        }
        let mut post_delay = build.post_delay().map(LineFilters::new);
        let decay = DecayDesign::from_bank(build.post_delay());
        if let Some(f) = post_delay.as_mut() {
            decay.apply(1.0, f);
        }
        let early = early
            .map(|e| EarlyFir::new(e, build, block, stride))
            .transpose()?;
        Ok(Self {
            n,
            rows,
            n_in,
            n_out,
            n_fdn,
            host_inputs: cfg.host_inputs.max(1),
            stride,
            block,
            simd: SimdLevel::supported_or_portable(cfg.simd),
            lines,
            v: vec![0.0; rows * stride],
            av: vec![0.0; rows * stride],
            scratch: vec![0.0; stride],
            u: vec![0.0; n_in * stride],
            y: vec![0.0; n_fdn.max(n_out) * stride],
            matrix: MatrixOp::new(build.a(), rows, cfg.force_dense),
            b_cols,
            c: to_f32(build.c()),
            d: to_f32(build.d()),
            post_delay,
            post_matrix: build.post_matrix().map(LineFilters::new),
            post_output: build.post_output().map_or_else(Vec::new, |b| {
                (0..n_fdn).map(|o| ChannelFilter::new(b, o)).collect()
            }),
            decay,
            decay_scale: 1.0,
            early,
            mix: build.output_mix().map_or_else(Vec::new, to_f32),
            mixed: if build.output_mix().is_some() {
                vec![0.0; n_out * stride]
            } else {
                Vec::new()
            },
            first_use: (0..n_fdn)
                .map(|k| match build.output_mix() {
                    Some(m) => (0..n_out).find(|&o| m.get(o, k) != 0.0).unwrap_or(n_out),
                    None => k,
                })
                .collect(),
            active: n_out,
        })
    }

    /// Largest block [`FdnState::render`] accepts (samples): `min(max_block, shortest delay)`.
    pub fn block_len(&self) -> usize {
        self.block
    }
    /// Number of delay lines N.
    pub fn n(&self) -> usize {
        self.n
    }
    /// FDN output channels.
    pub fn n_out(&self) -> usize {
        self.n_out
    }
    /// FDN input channels.
    pub fn n_in(&self) -> usize {
        self.n_in
    }
    /// The feedback-matrix kind in use.
    pub fn matrix_kind(&self) -> MatrixKind {
        self.matrix.kind()
    }
    /// The kernel set in use.
    pub fn simd(&self) -> SimdLevel {
        self.simd
    }
    /// True when the state carries an early-reflections FIR.
    pub fn has_early(&self) -> bool {
        self.early.is_some()
    }

    /// Sets the decay scale (× every band's RT); recomputes the attenuation when it changed.
    pub fn set_decay_scale(&mut self, s: f64) {
        if s != self.decay_scale {
            self.decay_scale = s;
            if let Some(f) = self.post_delay.as_mut() {
                self.decay.apply(s, f);
            }
        }
    }

    /// Wet output `o` of the last rendered block (`b` samples).
    pub fn wet(&self, o: usize, b: usize) -> &[f32] {
        let o = o.min(self.n_out.saturating_sub(1));
        &self.y[o * self.stride..o * self.stride + b.min(self.stride)]
    }

    /// Renders `b ≤ block_len()` samples from the host-input block `x` (`host_inputs` rows of
    /// `x_stride`): maps the host channels onto the FDN inputs (equal counts: one to one; one FDN
    /// input: the mean of the host inputs; otherwise input j ← host channel j mod host count),
    /// runs the FDN, adds the early FIR (if any) and leaves the wet outputs in [`FdnState::wet`].
    /// Only the first `outputs` audible outputs are computed (their wet rows are unspecified
    /// meanwhile); the delay lines always run, so a skipped output is exact again as soon as it
    /// is asked for, except that its output filters restart from silence. A block whose output
    /// is not finite (an overflowing state) resets the state and yields silence.
    /// Allocation-free.
    pub fn render(&mut self, x: &[f32], x_stride: usize, b: usize, outputs: usize) {
        let b = b.min(self.block);
        self.set_active(outputs.clamp(1, self.n_out.max(1)));
        let h = self.host_inputs;
        for j in 0..self.n_in {
            let row = &mut self.u[j * self.stride..j * self.stride + b];
            if self.n_in == 1 && h > 1 {
                row.iter_mut().for_each(|v| *v = 0.0);
                for c in 0..h {
                    for (v, &s) in row.iter_mut().zip(&x[c * x_stride..c * x_stride + b]) {
                        *v += s;
                    }
                }
                let k = 1.0 / h as f32;
                row.iter_mut().for_each(|v| *v *= k);
            } else {
                let c = j % h;
                row.copy_from_slice(&x[c * x_stride..c * x_stride + b]);
            }
        }
        match self.simd {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `simd` is Avx2Fma only after `SimdLevel::detect` found AVX2 and FMA.
            SimdLevel::Avx2Fma => unsafe { render_avx2(self, b) },
            _ => render_kernel::<false>(self, b),
        }
        if !self.mix.is_empty() {
            self.apply_mix(b);
        }
        if let Some(e) = self.early.as_mut() {
            e.process_add(&self.u, &mut self.y, b);
        }
        // Any inf/NaN makes some lane of Σ 0·y NaN (vectorisable, unlike a plain sum).
        let mut lanes = [0f32; LANES];
        for o in 0..self.active {
            for chunk in self.y[o * self.stride..o * self.stride + b].chunks(LANES) {
                for (acc, &v) in lanes.iter_mut().zip(chunk) {
                    *acc += v * 0.0;
                }
            }
        }
        if lanes.iter().any(|v| !v.is_finite()) {
            self.reset();
        }
    }

    /// Audible outputs the last block rendered.
    pub fn active_outputs(&self) -> usize {
        self.active
    }

    /// True when FDN output `k` feeds one of the active audible outputs.
    #[inline]
    fn fdn_active(&self, k: usize) -> bool {
        self.first_use[k] < self.active
    }

    /// Switches to `active` audible outputs; FDN outputs that start again get silent output
    /// filters. Allocation-free.
    fn set_active(&mut self, active: usize) {
        if active == self.active {
            return;
        }
        for (k, f) in self.post_output.iter_mut().enumerate() {
            if self.first_use[k] < active && self.first_use[k] >= self.active {
                f.reset();
            }
        }
        self.active = active;
    }

    /// `y[o] = Σ_k mix[o][k]·y[k]` for the active audible outputs (through `mixed`).
    /// Allocation-free.
    fn apply_mix(&mut self, b: usize) {
        let (stride, k) = (self.stride, self.n_fdn);
        for o in 0..self.active {
            let out = &mut self.mixed[o * stride..o * stride + b];
            out.iter_mut().for_each(|v| *v = 0.0);
            for j in 0..k {
                let g = self.mix[o * k + j];
                if g != 0.0 {
                    for (acc, &x) in out.iter_mut().zip(&self.y[j * stride..j * stride + b]) {
                        *acc += g * x;
                    }
                }
            }
        }
        let rows = self.active * stride;
        self.y[..rows].copy_from_slice(&self.mixed[..rows]);
    }

    /// Clears every delay line, filter state and buffer.
    pub fn reset(&mut self) {
        self.lines.reset();
        for buf in [
            &mut self.v,
            &mut self.av,
            &mut self.scratch,
            &mut self.u,
            &mut self.y,
            &mut self.mixed,
        ] {
            buf.iter_mut().for_each(|v| *v = 0.0);
        }
        for f in self
            .post_delay
            .iter_mut()
            .chain(self.post_matrix.iter_mut())
        {
            f.reset();
        }
        self.post_output.iter_mut().for_each(ChannelFilter::reset);
        if let Some(e) = self.early.as_mut() {
            e.reset();
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn render_avx2(st: &mut FdnState, b: usize) {
    render_kernel::<true>(st, b)
}

/// One block of the recursion, line-major:
/// `V = PostDelay(gather)`, `y = PostOutput(C·V) + D·u`, `S = PostMatrix(A·V) + B·u`, scatter S.
#[inline(always)]
fn render_kernel<const FMA: bool>(st: &mut FdnState, b: usize) {
    let (n, rows, stride) = (st.n, st.rows, st.stride);
    for i in 0..n {
        st.lines.gather(i, &mut st.v[i * stride..i * stride + b]);
    }
    if let Some(f) = st.post_delay.as_mut() {
        f.process::<FMA>(&mut st.v, stride, b);
    }
    for o in 0..st.n_fdn {
        if !st.fdn_active(o) {
            continue;
        }
        let y = &mut st.y[o * stride..o * stride + b];
        y.iter_mut().for_each(|v| *v = 0.0);
        for i in 0..n {
            let c = st.c[o * n + i];
            for (acc, &x) in y.iter_mut().zip(&st.v[i * stride..i * stride + b]) {
                *acc = fmadd::<FMA>(c, x, *acc);
            }
        }
        if let Some(f) = st.post_output.get_mut(o) {
            f.process::<FMA>(y);
        }
        for j in 0..st.n_in {
            let d = st.d[o * st.n_in + j];
            for (acc, &x) in y.iter_mut().zip(&st.u[j * stride..j * stride + b]) {
                *acc = fmadd::<FMA>(d, x, *acc);
            }
        }
    }
    st.matrix
        .apply::<FMA>(&st.v, &mut st.av, &mut st.scratch, stride, b);
    if let Some(f) = st.post_matrix.as_mut() {
        f.process::<FMA>(&mut st.av, stride, b);
    }
    for j in 0..st.n_in {
        let u = &st.u[j * stride..j * stride + b];
        for i in 0..n {
            let bij = st.b_cols[j * rows + i];
            if bij != 0.0 {
                for (acc, &x) in st.av[i * stride..i * stride + b].iter_mut().zip(u) {
                    *acc = fmadd::<FMA>(bij, x, *acc);
                }
            }
        }
    }
    for i in 0..n {
        st.lines.scatter(i, &st.av[i * stride..i * stride + b]);
    }
}
