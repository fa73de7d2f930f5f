//! Differentiable spectral transforms as custom candle ops: a real FFT along the last axis and an
//! STFT with nnAudio semantics (centred frames, reflect padding, a linear grid of arbitrary bin
//! frequencies), evaluated with FFTs (Bluestein's chirp-z off the DFT grid).
//!
//! Both ops run on the CPU (rustfft/realfft and plain loops) in the input's precision: f64
//! tensors in f64, f32 tensors in f32 (one generic code path over [`Real`]). Their backward passes are analytic adjoints, not autograd
//! through the forward. **Device fallback:** a tensor on a CUDA/Metal device is copied to the CPU,
//! transformed there and copied back (`Tensor::to_device`, which is itself differentiable); there
//! is no native GPU kernel.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, DType, Device, Layout, Shape, Tensor};
use num_complex::Complex;
use rayon::prelude::*;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::{Fft, FftPlanner};
use std::any::Any;
use std::sync::{Arc, Mutex};

use super::fdn_loss_error::FdnLossError;
use crate::by_dtype;
use crate::real::{czero, grad_like, storage_as, storage_from, tensor_as, Real};

/// Reads a CPU storage (any float dtype, contiguous layout) as f64 values.
pub(crate) fn storage_f64(storage: &CpuStorage, layout: &Layout) -> candle_core::Result<Vec<f64>> {
    Ok(storage_as::<f64>(storage, layout)?.into_owned())
}

/// Wraps f64 values as a CPU storage of `dtype` (f32 or f64).
pub(crate) fn storage_from_f64(data: Vec<f64>, dtype: DType) -> candle_core::Result<CpuStorage> {
    storage_from(data, dtype)
}

/// Reads any tensor as contiguous f64 values on the CPU.
pub(crate) fn tensor_f64(t: &Tensor) -> candle_core::Result<Vec<f64>> {
    tensor_as::<f64>(t)
}

/// Applies a custom op on the CPU, copying a non-CPU tensor there and the result back.
pub(crate) fn apply_on_cpu<C: 'static + CustomOp1 + Send + Sync>(
    x: &Tensor,
    op: C,
) -> candle_core::Result<Tensor> {
    let device = x.device().clone();
    let x = x.contiguous()?;
    if device.is_cpu() {
        x.apply_op1(op)
    } else {
        x.to_device(&Device::Cpu)?.apply_op1(op)?.to_device(&device)
    }
}

/// The cached forward real FFT plan of length `n` (see [`Real::plan_rfft`]).
pub(crate) fn plan_rfft<T: Real>(n: usize) -> Arc<dyn RealToComplex<T>> {
    T::plan_rfft(n)
}

/// The cached inverse real FFT plan of length `n`.
pub(crate) fn plan_irfft<T: Real>(n: usize) -> Arc<dyn ComplexToReal<T>> {
    T::plan_irfft(n)
}

/// Whether bin `k` of an `n`-point real FFT is DC or (even `n`) Nyquist: real-valued bins whose
/// imaginary part a complex-to-real transform ignores.
pub(crate) fn is_edge_bin(k: usize, n: usize) -> bool {
    k == 0 || (n.is_multiple_of(2) && k == n / 2)
}

/// Real FFTs (unnormalised) of the consecutive length-`n` rows of `x`, planar: all real parts
/// (`rows × (n/2+1)`), then all imaginary parts.
pub(crate) fn rfft_rows<T: Real>(x: &[T], n: usize) -> candle_core::Result<Vec<T>> {
    let rows = x.len() / n;
    let bins = n / 2 + 1;
    let fft = plan_rfft::<T>(n);
    let mut input = fft.make_input_vec();
    let mut spec = fft.make_output_vec();
    let mut out = vec![T::zero(); 2 * rows * bins];
    let (re, im) = out.split_at_mut(rows * bins);
    for r in 0..rows {
        input.copy_from_slice(&x[r * n..(r + 1) * n]);
        fft.process(&mut input, &mut spec)
            .map_err(|e| candle_core::Error::Msg(format!("rfft: {e}")))?;
        for (k, z) in spec.iter().enumerate() {
            re[r * bins + k] = z.re;
            im[r * bins + k] = z.im;
        }
    }
    Ok(out)
}

/// Unnormalised inverse real FFTs of planar half spectra (the [`rfft_rows`] layout) with bin `k`
/// weighted by `weight(k)`; the imaginary parts of the edge bins are ignored.
pub(crate) fn irfft_rows<T: Real>(
    spec: &[T],
    n: usize,
    weight: impl Fn(usize) -> T,
) -> candle_core::Result<Vec<T>> {
    let bins = n / 2 + 1;
    let rows = spec.len() / (2 * bins);
    let (re, im) = spec.split_at(rows * bins);
    let ifft = plan_irfft::<T>(n);
    let mut half = ifft.make_input_vec();
    let mut row = ifft.make_output_vec();
    let mut out = vec![T::zero(); rows * n];
    for r in 0..rows {
        for (k, h) in half.iter_mut().enumerate() {
            let w = weight(k);
            let i = if is_edge_bin(k, n) {
                T::zero()
            } else {
                im[r * bins + k]
            };
            *h = Complex::new(w * re[r * bins + k], w * i);
        }
        ifft.process(&mut half, &mut row)
            .map_err(|e| candle_core::Error::Msg(format!("irfft: {e}")))?;
        out[r * n..(r + 1) * n].copy_from_slice(&row);
    }
    Ok(out)
}

/// Real FFT along the last axis: input `(..., n)` → output `(2, ..., n/2+1)` holding (re, im).
///
/// X_k = Σ_m x_m e^{−2πikm/n} (no normalisation, like `torch.fft.rfft`).
#[derive(Debug, Clone, Copy)]
pub struct Rfft {
    /// Transform length n (= the input's last dimension), samples.
    pub n: usize,
}

impl CustomOp1 for Rfft {
    fn name(&self) -> &'static str {
        "tailor-rfft"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let dims = layout.shape().dims();
        let n = self.n;
        if dims.last() != Some(&n) || n == 0 {
            candle_core::bail!("rfft: last dimension must be {n}, got shape {dims:?}");
        }
        let bins = n / 2 + 1;
        let mut shape = vec![2];
        shape.extend_from_slice(&dims[..dims.len() - 1]);
        shape.push(bins);
        let out = by_dtype!(storage.dtype(), "rfft", T => {
            let x = storage_as::<T>(storage, layout)?;
            T::to_cpu_storage_owned(rfft_rows(&x, n)?)
        });
        Ok((out, Shape::from(shape)))
    }

    /// dL/dx_m = Re Σ_k G_k e^{+2πikm/n} with G = dL/dre + i dL/dim (half spectrum only), computed
    /// with a complex-to-real FFT of the half spectrum with interior bins halved.
    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let n = self.n;
        by_dtype!(arg.dtype(), "rfft", T => {
            let g = tensor_as::<T>(grad_res)?;
            let half = T::of(0.5);
            let dx = irfft_rows(&g, n, |k| if is_edge_bin(k, n) { T::one() } else { half })?;
            Ok(Some(grad_like(dx, arg)?))
        })
    }
}

/// Real FFT of the last axis of `x` (`(..., n)`, f32/f64, any device): returns `(re, im)`, each
/// `(..., n/2+1)`. Differentiable (analytic backward).
pub fn rfft(x: &Tensor) -> candle_core::Result<(Tensor, Tensor)> {
    let n = *x
        .dims()
        .last()
        .ok_or_else(|| candle_core::Error::Msg("rfft of a 0-d tensor".into()))?;
    let out = apply_on_cpu(x, Rfft { n })?;
    Ok((out.get(0)?, out.get(1)?))
}

/// How the STFT kernels are rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelPrecision {
    /// nnAudio's kernels: f32(sin/cos) × f32(window), multiplied in f32 (what FLAMO evaluates).
    ///
    /// The tables in [`SpectralKernel`] hold these rounded values; the FFT-based [`stft`] itself
    /// evaluates the exact f64 kernel (the two differ by < 1e-7 relative per coefficient).
    NnAudioF32,
    /// Exact f64 kernels.
    F64,
}

/// STFT projection kernels: `cos[k·n_fft + m] = w[m]·cos(2π f_k m / sr)` and the same for sin,
/// on the linear bin grid b_k = `first_bin` + k·`bin_step` (cycles per n_fft samples).
#[derive(Debug, Clone, PartialEq)]
pub struct SpectralKernel {
    /// Frame length n_fft, samples.
    pub n_fft: usize,
    /// Number of frequency bins.
    pub bins: usize,
    /// Bin frequencies in Hz (informational).
    pub freqs_hz: Vec<f64>,
    /// Normalised frequency of bin 0, cycles per n_fft samples.
    pub first_bin: f64,
    /// Spacing of the normalised bin frequencies, cycles per n_fft samples.
    pub bin_step: f64,
    /// Windowed cosine kernel, `(bins, n_fft)` row-major.
    pub cos: Vec<f64>,
    /// Windowed sine kernel, `(bins, n_fft)` row-major.
    pub sin: Vec<f64>,
}

/// Periodic Hann window of length `n` exactly as scipy's `get_window("hann", n, fftbins=True)`.
pub fn hann_periodic(n: usize) -> Vec<f64> {
    if n == 0 {
        return Vec::new();
    }
    if n == 1 {
        return vec![1.0];
    }
    // general_cosine(n + 1, [0.5, 0.5]) truncated: fac = linspace(-π, π, n + 1).
    let step = (2.0 * std::f64::consts::PI) / n as f64;
    (0..n)
        .map(|i| {
            let fac = i as f64 * step + (-std::f64::consts::PI);
            0.5 + 0.5 * fac.cos()
        })
        .collect()
}

impl SpectralKernel {
    /// Builds kernels for the normalised bins b_k = k·`step` + `first` (cycles per n_fft
    /// samples, nnAudio's operation order), k < `bins`: the phase is 2π·b_k·m/n_fft.
    fn from_grid(
        n_fft: usize,
        first: f64,
        step: f64,
        bins: usize,
        sr: f64,
        precision: KernelPrecision,
    ) -> Self {
        let window = hann_periodic(n_fft);
        let bins_norm: Vec<f64> = (0..bins).map(|k| k as f64 * step + first).collect();
        let mut cos = vec![0.0; bins * n_fft];
        let mut sin = vec![0.0; bins * n_fft];
        let two_pi = 2.0 * std::f64::consts::PI;
        for (k, &b) in bins_norm.iter().enumerate() {
            for (m, &wm) in window.iter().enumerate() {
                let phase = two_pi * b * m as f64 / n_fft as f64;
                let (s, c) = phase.sin_cos();
                let idx = k * n_fft + m;
                match precision {
                    KernelPrecision::NnAudioF32 => {
                        let w = wm as f32;
                        cos[idx] = f64::from((c as f32) * w);
                        sin[idx] = f64::from((s as f32) * w);
                    }
                    KernelPrecision::F64 => {
                        cos[idx] = c * wm;
                        sin[idx] = s * wm;
                    }
                }
            }
        }
        Self {
            n_fft,
            bins,
            freqs_hz: bins_norm.iter().map(|b| b * sr / n_fft as f64).collect(),
            first_bin: first,
            bin_step: step,
            cos,
            sin,
        }
    }

    /// nnAudio `freq_scale="linear"` kernels: n_fft/2+1 bins at f_k = fmin + k·(fmax − fmin)/(n_fft/2+1)
    /// Hz (not the DFT grid), periodic Hann window.
    pub fn nnaudio_linear(
        n_fft: usize,
        sr: f64,
        fmin: f64,
        fmax: f64,
        precision: KernelPrecision,
    ) -> Self {
        let freq_bins = n_fft / 2 + 1;
        let nf = n_fft as f64;
        let start_bin = fmin * nf / sr;
        let scaling_ind = (fmax - fmin) * (nf / sr) / freq_bins as f64;
        Self::from_grid(n_fft, start_bin, scaling_ind, freq_bins, sr, precision)
    }

    /// nnAudio `freq_scale="no"` kernels: the DFT grid k·sr/n_fft, k = 0..n_fft/2, periodic Hann.
    pub fn nnaudio_dft(n_fft: usize, sr: f64, precision: KernelPrecision) -> Self {
        Self::from_grid(n_fft, 0.0, 1.0, n_fft / 2 + 1, sr, precision)
    }
}

/// Smallest 2^a·3^b ≥ `n` (a fast rustfft length).
fn fast_len(n: usize) -> usize {
    let mut best = n.next_power_of_two();
    let mut p3 = 1;
    while p3 < best {
        let mut v = p3;
        while v < n {
            v *= 2;
        }
        best = best.min(v);
        p3 *= 3;
    }
    best
}

/// e^{−2πi·c} for a phase of `c` cycles (reduced to [0, 1) first), rounded to `T`.
fn cis_cycles<T: Real>(c: f64) -> Complex<T> {
    let ph = -2.0 * std::f64::consts::PI * c.rem_euclid(1.0);
    Complex::new(T::of(ph.cos()), T::of(ph.sin()))
}

/// Bluestein (chirp-z) evaluation of X_k = Σ_m w_m·y_m·e^{−2πi(b0 + kΔ)m/n}, k < bins.
struct ChirpZ<T: Real> {
    /// w_m·e^{−iπ(2·b0·m + Δ·m²)/n}, m < n.
    pre: Vec<Complex<T>>,
    /// e^{−iπΔk²/n}, k < bins.
    post: Vec<Complex<T>>,
    /// FFT of the wrapped chirp e^{+iπΔj²/n} (j = −(n−1)..bins−1), divided by its length.
    chirp: Vec<Complex<T>>,
    fwd: Arc<dyn Fft<T>>,
    inv: Arc<dyn Fft<T>>,
}

/// Per-frame FFT evaluation of a [`SpectralKernel`].
enum FramePlan<T: Real> {
    /// DFT grid: a real FFT of the windowed frame.
    Dft {
        window: Vec<T>,
        r2c: Arc<dyn RealToComplex<T>>,
        c2r: Arc<dyn ComplexToReal<T>>,
    },
    /// Any other linear grid: Bluestein chirp-z.
    Chirp(ChirpZ<T>),
}

/// Reusable buffers of one worker.
struct FrameScratch<T: Real> {
    buf: Vec<Complex<T>>,
    fft: Vec<Complex<T>>,
    real: Vec<T>,
}

/// An FFT-based STFT engine in precision `T`: frame length, bin count and the per-frame plan.
pub(crate) struct StftPlan<T: Real> {
    n: usize,
    bins: usize,
    frame: FramePlan<T>,
}

impl<T: Real> std::fmt::Debug for StftPlan<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StftPlan")
            .field("n", &self.n)
            .field("bins", &self.bins)
            .finish()
    }
}

impl<T: Real> StftPlan<T> {
    /// Plans the per-frame transforms of `k` (window, FFT plans, chirp tables; the tables are
    /// computed in f64 and rounded to `T`).
    pub(crate) fn new(k: &SpectralKernel) -> Self {
        let (n, bins) = (k.n_fft, k.bins);
        let window = hann_periodic(n);
        if k.first_bin == 0.0 && k.bin_step == 1.0 && bins == n / 2 + 1 {
            let mut planner = RealFftPlanner::<T>::new();
            return Self {
                n,
                bins,
                frame: FramePlan::Dft {
                    window: window.iter().map(|&w| T::of(w)).collect(),
                    r2c: planner.plan_fft_forward(n),
                    c2r: planner.plan_fft_inverse(n),
                },
            };
        }
        let (b0, d, nf) = (k.first_bin, k.bin_step, n as f64);
        let len = fast_len(n + bins.max(1) - 1);
        let mut planner = FftPlanner::<T>::new();
        let fwd = planner.plan_fft_forward(len);
        let inv = planner.plan_fft_inverse(len);
        let pre = (0..n)
            .map(|m| {
                let mf = m as f64;
                cis_cycles::<f64>((b0 * mf + 0.5 * d * mf * mf) / nf) * window[m]
            })
            .map(|z| Complex::new(T::of(z.re), T::of(z.im)))
            .collect();
        let post = (0..bins)
            .map(|k| {
                let kf = k as f64;
                cis_cycles(0.5 * d * kf * kf / nf)
            })
            .collect();
        let mut chirp = vec![czero::<T>(); len];
        let scale = 1.0 / len as f64;
        let wrapped = |j: usize| {
            let jf = j as f64;
            let z = cis_cycles::<f64>(-0.5 * d * jf * jf / nf) * scale;
            Complex::new(T::of(z.re), T::of(z.im))
        };
        for (j, c) in chirp.iter_mut().enumerate().take(bins) {
            *c = wrapped(j);
        }
        for j in 1..n {
            chirp[len - j] = wrapped(j);
        }
        let mut scratch = vec![czero::<T>(); fwd.get_inplace_scratch_len()];
        fwd.process_with_scratch(&mut chirp, &mut scratch);
        Self {
            n,
            bins,
            frame: FramePlan::Chirp(ChirpZ {
                pre,
                post,
                chirp,
                fwd,
                inv,
            }),
        }
    }

    fn scratch(&self) -> FrameScratch<T> {
        let z = czero::<T>();
        match &self.frame {
            FramePlan::Dft { r2c, c2r, .. } => FrameScratch {
                buf: vec![z; self.n / 2 + 1],
                fft: vec![z; r2c.get_scratch_len().max(c2r.get_scratch_len())],
                real: vec![T::zero(); self.n],
            },
            FramePlan::Chirp(c) => FrameScratch {
                buf: vec![z; c.chirp.len()],
                fft: vec![
                    z;
                    c.fwd
                        .get_inplace_scratch_len()
                        .max(c.inv.get_inplace_scratch_len())
                ],
                real: Vec::new(),
            },
        }
    }

    /// Spectrum of one (unwindowed) frame of n samples at the kernel's bins into `out`.
    fn frame_fwd(&self, frame: &[T], out: &mut [Complex<T>], s: &mut FrameScratch<T>) {
        match &self.frame {
            FramePlan::Dft { window, r2c, .. } => {
                for ((r, &x), &w) in s.real.iter_mut().zip(frame).zip(window) {
                    *r = x * w;
                }
                // Lengths come from the plan, so the transform cannot fail.
                let _ = r2c.process_with_scratch(&mut s.real, &mut s.buf, &mut s.fft);
                out.copy_from_slice(&s.buf[..self.bins]);
            }
            FramePlan::Chirp(c) => {
                for ((b, &x), &p) in s.buf.iter_mut().zip(frame).zip(&c.pre) {
                    *b = p * x;
                }
                s.buf[self.n..].fill(czero());
                c.fwd.process_with_scratch(&mut s.buf, &mut s.fft);
                for (b, h) in s.buf.iter_mut().zip(&c.chirp) {
                    *b *= h;
                }
                c.inv.process_with_scratch(&mut s.buf, &mut s.fft);
                for ((o, b), p) in out.iter_mut().zip(&s.buf).zip(&c.post) {
                    *o = p * b;
                }
            }
        }
    }

    /// Adjoint of [`StftPlan::frame_fwd`]: dy_m = Re Σ_k G_k·conj(∂X_k/∂y_m) into `dy`.
    fn frame_adj(&self, g: &[Complex<T>], dy: &mut [T], s: &mut FrameScratch<T>) {
        match &self.frame {
            FramePlan::Dft { window, c2r, .. } => {
                let n = self.n;
                let last = self.bins - 1;
                let has_nyquist = n.is_multiple_of(2);
                let half = T::of(0.5);
                for (k, (b, &gk)) in s.buf.iter_mut().zip(g).enumerate() {
                    let edge = k == 0 || (has_nyquist && k == last);
                    *b = if edge {
                        Complex::new(gk.re, T::zero())
                    } else {
                        gk * half
                    };
                }
                let _ = c2r.process_with_scratch(&mut s.buf, &mut s.real, &mut s.fft);
                for ((d, &r), &w) in dy.iter_mut().zip(&s.real).zip(window) {
                    *d = r * w;
                }
            }
            FramePlan::Chirp(c) => {
                for ((b, &gk), p) in s.buf.iter_mut().zip(g).zip(&c.post) {
                    *b = p.conj() * gk;
                }
                s.buf[self.bins..].fill(czero());
                c.fwd.process_with_scratch(&mut s.buf, &mut s.fft);
                for (b, h) in s.buf.iter_mut().zip(&c.chirp) {
                    *b *= h.conj();
                }
                c.inv.process_with_scratch(&mut s.buf, &mut s.fft);
                for ((d, b), p) in dy.iter_mut().zip(&s.buf).zip(&c.pre) {
                    *d = (p.conj() * b).re;
                }
            }
        }
    }
}

/// Frames per rayon task for `frames` frames.
fn frame_chunk(frames: usize) -> usize {
    frames
        .div_ceil(rayon::current_num_threads().max(1) * 4)
        .max(1)
}

/// Centred, reflect-padded STFT by kernel projection: input `(R, T)` → `(2, R, bins, frames)`
/// with re = Σ_m x_pad[w·hop + m]·cos[k, m] and im = −Σ_m x_pad[w·hop + m]·sin[k, m].
///
/// Evaluated with FFTs (a real FFT per frame on the DFT grid, Bluestein's chirp-z otherwise);
/// the backward is the matching adjoint (inverse FFTs overlap-added and folded back through the
/// padding).
#[derive(Debug, Clone)]
pub struct Stft {
    /// Projection kernels.
    pub kernel: Arc<SpectralKernel>,
    /// Hop between frames, samples.
    pub hop: usize,
    /// Reflect padding on each side, samples (n_fft/2 for `center=True`, 0 for none).
    pub pad: usize,
}

impl Stft {
    /// Number of frames for a signal of `t` samples.
    pub fn frames(&self, t: usize) -> usize {
        (t + 2 * self.pad - self.kernel.n_fft) / self.hop + 1
    }

    /// Index into the unpadded signal of padded position `i` (reflect padding, no edge repeat).
    fn source(&self, i: usize, t: usize) -> usize {
        let p = self.pad;
        if i < p {
            p - i
        } else if i < p + t {
            i - p
        } else {
            let j = i - p - t;
            t - 2 - j
        }
    }

    pub(crate) fn check(&self, t: usize) -> candle_core::Result<()> {
        if self.hop == 0 {
            candle_core::bail!("stft: hop must be positive");
        }
        if self.pad > 0 && self.pad >= t {
            candle_core::bail!(
                "stft: reflect padding {} must be smaller than the signal length {t}",
                self.pad
            );
        }
        if t + 2 * self.pad < self.kernel.n_fft {
            candle_core::bail!(
                "stft: signal of {t} samples (+{} padding each side) is shorter than n_fft {}",
                self.pad,
                self.kernel.n_fft
            );
        }
        Ok(())
    }

    /// Complex spectra of every frame, `(R, frames, bins)`.
    fn spectra<T: Real>(&self, x: &[T], rows: usize, t: usize) -> Vec<Complex<T>> {
        self.spectra_with(&StftPlan::new(&self.kernel), x, rows, t)
    }

    /// [`Stft::spectra`] with a plan made once by the caller (`plan` must come from this
    /// kernel).
    pub(crate) fn spectra_with<T: Real>(
        &self,
        plan: &StftPlan<T>,
        x: &[T],
        rows: usize,
        t: usize,
    ) -> Vec<Complex<T>> {
        let (n, bins) = (plan.n, plan.bins);
        let frames = self.frames(t);
        let chunk = frame_chunk(frames);
        let mut spec = vec![czero::<T>(); rows * frames * bins];
        let mut xp = vec![T::zero(); t + 2 * self.pad];
        for (r, row_spec) in spec.chunks_mut(frames * bins).enumerate() {
            let row = &x[r * t..(r + 1) * t];
            for (i, v) in xp.iter_mut().enumerate() {
                *v = row[self.source(i, t)];
            }
            let xp = &xp;
            row_spec
                .par_chunks_mut(chunk * bins)
                .enumerate()
                .for_each(|(ci, out)| {
                    let mut s = plan.scratch();
                    for (j, o) in out.chunks_mut(bins).enumerate() {
                        let w0 = (ci * chunk + j) * self.hop;
                        plan.frame_fwd(&xp[w0..w0 + n], o, &mut s);
                    }
                });
        }
        spec
    }

    /// Adjoint of [`Stft::spectra`]: `g` `(R, frames, bins)` (∂L/∂Re + i·∂L/∂Im) → dL/dx `(R, T)`.
    fn adjoint<T: Real>(&self, g: &[Complex<T>], rows: usize, t: usize) -> Vec<T> {
        self.adjoint_with(&StftPlan::new(&self.kernel), g, rows, t)
    }

    /// [`Stft::adjoint`] with a plan made once by the caller.
    pub(crate) fn adjoint_with<T: Real>(
        &self,
        plan: &StftPlan<T>,
        g: &[Complex<T>],
        rows: usize,
        t: usize,
    ) -> Vec<T> {
        let (n, bins) = (plan.n, plan.bins);
        let frames = self.frames(t);
        let chunk = frame_chunk(frames);
        let mut dx = vec![T::zero(); rows * t];
        let mut dframes = vec![T::zero(); frames * n];
        let mut gp = vec![T::zero(); t + 2 * self.pad];
        for r in 0..rows {
            let gr = &g[r * frames * bins..(r + 1) * frames * bins];
            dframes
                .par_chunks_mut(chunk * n)
                .enumerate()
                .for_each(|(ci, out)| {
                    let mut s = plan.scratch();
                    for (j, d) in out.chunks_mut(n).enumerate() {
                        let w = ci * chunk + j;
                        plan.frame_adj(&gr[w * bins..(w + 1) * bins], d, &mut s);
                    }
                });
            gp.fill(T::zero());
            for (w, d) in dframes.chunks(n).enumerate() {
                for (acc, &v) in gp[w * self.hop..w * self.hop + n].iter_mut().zip(d) {
                    *acc += v;
                }
            }
            let row = &mut dx[r * t..(r + 1) * t];
            for (i, &v) in gp.iter().enumerate() {
                let o = &mut row[self.source(i, t)];
                *o += v;
            }
        }
        dx
    }
}

impl CustomOp1 for Stft {
    fn name(&self) -> &'static str {
        "tailor-stft"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (rows, t) = layout.shape().dims2()?;
        self.check(t)?;
        let bins = self.kernel.bins;
        let frames = self.frames(t);
        let plane = rows * bins * frames;
        let out = by_dtype!(storage.dtype(), "stft", T => {
            let x = storage_as::<T>(storage, layout)?;
            let spec = self.spectra(&x, rows, t);
            let mut out = vec![T::zero(); 2 * plane];
            for r in 0..rows {
                for w in 0..frames {
                    let src = &spec[(r * frames + w) * bins..(r * frames + w + 1) * bins];
                    for (b, z) in src.iter().enumerate() {
                        let o = (r * bins + b) * frames + w;
                        out[o] = z.re;
                        out[plane + o] = z.im;
                    }
                }
            }
            T::to_cpu_storage_owned(out)
        });
        Ok((out, Shape::from((2, rows, bins, frames))))
    }

    /// Adjoint: per-frame inverse transforms of g_re + i·g_im, overlap-added, then the reflect
    /// padding folded back onto the samples it copied.
    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let (rows, t) = arg.dims2()?;
        let bins = self.kernel.bins;
        let frames = self.frames(t);
        let plane = rows * bins * frames;
        by_dtype!(arg.dtype(), "stft", T => {
            let g = tensor_as::<T>(grad_res)?;
            let mut gc = vec![czero::<T>(); plane];
            for r in 0..rows {
                for b in 0..bins {
                    for w in 0..frames {
                        let o = (r * bins + b) * frames + w;
                        gc[(r * frames + w) * bins + b] = Complex::new(g[o], g[plane + o]);
                    }
                }
            }
            let dx = self.adjoint(&gc, rows, t);
            Ok(Some(grad_like(dx, arg)?.reshape((rows, t))?))
        })
    }
}

/// Checks the STFT arguments with the loss error type.
pub(crate) fn check_stft_args(
    x: &Tensor,
    kernel: &SpectralKernel,
    hop: usize,
    pad: usize,
) -> Result<(), FdnLossError> {
    let (_, t) = x.dims2()?;
    if pad > 0 && pad >= t {
        return Err(FdnLossError::ReflectPadding { pad, len: t });
    }
    if t + 2 * pad < kernel.n_fft {
        return Err(FdnLossError::SignalTooShort {
            len: t,
            n_fft: kernel.n_fft,
        });
    }
    if hop == 0 {
        return Err(FdnLossError::BadParameter(
            "hop length must be positive".into(),
        ));
    }
    Ok(())
}

/// STFT of `x` (`(R, T)`, any device) with `kernel`, `hop` and reflect padding `pad`; returns
/// `(re, im)`, each `(R, bins, frames)`. Differentiable (analytic backward).
pub fn stft(
    x: &Tensor,
    kernel: Arc<SpectralKernel>,
    hop: usize,
    pad: usize,
) -> Result<(Tensor, Tensor), FdnLossError> {
    check_stft_args(x, &kernel, hop, pad)?;
    let out = apply_on_cpu(x, Stft { kernel, hop, pad })?;
    Ok((out.get(0)?, out.get(1)?))
}

/// The STFT magnitude sqrt(re² + im²) as one op (spectra kept for the backward).
struct StftMagnitude {
    stft: Stft,
    /// The last forward's spectra, a `Vec<Complex<T>>` of the input's precision.
    spectra: Mutex<Option<Box<dyn Any + Send>>>,
}

impl CustomOp1 for StftMagnitude {
    fn name(&self) -> &'static str {
        "tailor-stft-magnitude"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (rows, t) = layout.shape().dims2()?;
        self.stft.check(t)?;
        let bins = self.stft.kernel.bins;
        let frames = self.stft.frames(t);
        let out = by_dtype!(storage.dtype(), "stft magnitude", T => {
            let x = storage_as::<T>(storage, layout)?;
            let spec = self.stft.spectra(&x, rows, t);
            let mut out = vec![T::zero(); rows * bins * frames];
            for r in 0..rows {
                for w in 0..frames {
                    let src = &spec[(r * frames + w) * bins..(r * frames + w + 1) * bins];
                    for (b, z) in src.iter().enumerate() {
                        out[(r * bins + b) * frames + w] = (z.re * z.re + z.im * z.im).sqrt();
                    }
                }
            }
            *self.spectra.lock().map_err(|_| {
                candle_core::Error::Msg("stft magnitude cache poisoned".into())
            })? = Some(Box::new(spec));
            T::to_cpu_storage_owned(out)
        });
        Ok((out, Shape::from((rows, bins, frames))))
    }

    /// ∂L/∂X_k = g_k·X_k/|X_k| (NaN at |X_k| = 0, like autograd through sqrt), then the STFT
    /// adjoint.
    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let (rows, t) = arg.dims2()?;
        let bins = self.stft.kernel.bins;
        let frames = self.stft.frames(t);
        by_dtype!(arg.dtype(), "stft magnitude", T => {
            let g = tensor_as::<T>(grad_res)?;
            let guard = self
                .spectra
                .lock()
                .map_err(|_| candle_core::Error::Msg("stft magnitude cache poisoned".into()))?;
            let spec = guard
                .as_ref()
                .and_then(|b| b.downcast_ref::<Vec<Complex<T>>>())
                .filter(|s| s.len() == rows * bins * frames)
                .ok_or_else(|| {
                    candle_core::Error::Msg("stft magnitude backward before its forward".into())
                })?;
            let mut gc = vec![czero::<T>(); spec.len()];
            for r in 0..rows {
                for w in 0..frames {
                    for b in 0..bins {
                        let i = (r * frames + w) * bins + b;
                        let z = spec[i];
                        let gm = g[(r * bins + b) * frames + w];
                        gc[i] = z * (gm / (z.re * z.re + z.im * z.im).sqrt());
                    }
                }
            }
            drop(guard);
            let dx = self.stft.adjoint(&gc, rows, t);
            Ok(Some(grad_like(dx, arg)?.reshape((rows, t))?))
        })
    }
}

/// STFT magnitude sqrt(re² + im²) of `x` (`(R, T)`, any device), `(R, bins, frames)`, as one
/// differentiable op (same values as [`stft`] followed by the magnitude, without the
/// intermediate tensors).
pub fn stft_magnitude(
    x: &Tensor,
    kernel: Arc<SpectralKernel>,
    hop: usize,
    pad: usize,
) -> Result<Tensor, FdnLossError> {
    check_stft_args(x, &kernel, hop, pad)?;
    let op = StftMagnitude {
        stft: Stft { kernel, hop, pad },
        spectra: Mutex::new(None),
    };
    Ok(apply_on_cpu(x, op)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Var;

    /// Deterministic pseudo-random values in (−1, 1).
    fn noise(len: usize, seed: u64) -> Vec<f64> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..len)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
            })
            .collect()
    }

    /// Checks the analytic gradient of `f` (scalar of x) against central finite differences.
    fn check_fd(
        x0: &[f64],
        shape: &[usize],
        f: &dyn Fn(&Tensor) -> candle_core::Result<Tensor>,
    ) -> f64 {
        let var = Var::from_vec(x0.to_vec(), shape, &Device::Cpu).unwrap();
        let y = f(var.as_tensor()).unwrap();
        let grads = y.backward().unwrap();
        let g = grads
            .get(var.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        let eval = |x: &[f64]| -> f64 {
            let t = Tensor::from_vec(x.to_vec(), shape, &Device::Cpu).unwrap();
            f(&t).unwrap().to_scalar::<f64>().unwrap()
        };
        let h = 1e-5;
        let mut max_err: f64 = 0.0;
        let mut scale: f64 = 0.0;
        let mut x = x0.to_vec();
        for i in 0..x.len() {
            let orig = x[i];
            x[i] = orig + h;
            let fp = eval(&x);
            x[i] = orig - h;
            let fm = eval(&x);
            x[i] = orig;
            let fd = (fp - fm) / (2.0 * h);
            max_err = max_err.max((fd - g[i]).abs());
            scale = scale.max(fd.abs());
        }
        max_err / scale
    }

    /// A smooth, non-quadratic scalar of (re, im) with varied weights so every bin matters.
    fn scalar_of(re: &Tensor, im: &Tensor) -> candle_core::Result<Tensor> {
        let n = re.elem_count();
        let w1 = Tensor::from_vec(noise(n, 7), re.shape(), re.device())?;
        let w2 = Tensor::from_vec(noise(n, 8), re.shape(), re.device())?;
        let a = (re.mul(&w1)?.sum_all()? + im.mul(&w2)?.sum_all()?)?;
        let b = (re.sqr()? + im.sqr()?)?
            .affine(0.1, 1.0)?
            .sqrt()?
            .sum_all()?;
        a + b
    }

    #[test]
    fn rfft_matches_naive_dft() {
        for n in [8usize, 9, 16] {
            let x = noise(2 * n, n as u64);
            let t = Tensor::from_vec(x.clone(), (2, n), &Device::Cpu).unwrap();
            let (re, im) = rfft(&t).unwrap();
            let re = re.to_vec2::<f64>().unwrap();
            let im = im.to_vec2::<f64>().unwrap();
            for r in 0..2 {
                for k in 0..=n / 2 {
                    let (mut sr, mut si) = (0.0, 0.0);
                    for m in 0..n {
                        let ph = -2.0 * std::f64::consts::PI * (k * m) as f64 / n as f64;
                        sr += x[r * n + m] * ph.cos();
                        si += x[r * n + m] * ph.sin();
                    }
                    assert!((re[r][k] - sr).abs() < 1e-12, "re n={n} k={k}");
                    assert!((im[r][k] - si).abs() < 1e-12, "im n={n} k={k}");
                }
            }
        }
    }

    #[test]
    fn rfft_gradient_matches_finite_differences() {
        for (n, rows) in [(16usize, 3usize), (15, 2), (2, 1)] {
            let x = noise(rows * n, 3 + n as u64);
            let err = check_fd(&x, &[rows, n], &|t| {
                let (re, im) = rfft(t)?;
                scalar_of(&re, &im)
            });
            assert!(err <= 1e-6, "n={n}: relative error {err}");
        }
    }

    #[test]
    fn stft_gradient_matches_finite_differences() {
        for (n_fft, hop, t, pad, rows) in [
            (16usize, 4usize, 40usize, 8usize, 2usize),
            (8, 3, 21, 4, 1),
            (8, 2, 12, 0, 1),
        ] {
            let kernel = Arc::new(SpectralKernel::nnaudio_linear(
                n_fft,
                48000.0,
                20.0,
                24000.0,
                KernelPrecision::F64,
            ));
            let x = noise(rows * t, 11 + t as u64);
            let err = check_fd(&x, &[rows, t], &|xt| {
                let (re, im) = stft(xt, kernel.clone(), hop, pad)
                    .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
                scalar_of(&re, &im)
            });
            assert!(err <= 1e-6, "n_fft={n_fft}: relative error {err}");
        }
    }

    #[test]
    fn stft_with_dft_kernel_equals_rfft_of_windowed_frames() {
        let n = 16;
        let kernel = Arc::new(SpectralKernel::nnaudio_dft(
            n,
            48000.0,
            KernelPrecision::F64,
        ));
        let x = noise(50, 5);
        let t = Tensor::from_vec(x.clone(), (1, 50), &Device::Cpu).unwrap();
        let (re, im) = stft(&t, kernel, 4, 8).unwrap();
        let re = re.get(0).unwrap().to_vec2::<f64>().unwrap();
        let im = im.get(0).unwrap().to_vec2::<f64>().unwrap();
        let w = hann_periodic(n);
        // Frame 3 starts at padded index 12 → original index 4 (inside the signal).
        let frame: Vec<f64> = (0..n).map(|m| x[4 + m] * w[m]).collect();
        let ft = Tensor::from_vec(frame, (1, n), &Device::Cpu).unwrap();
        let (fr, fi) = rfft(&ft).unwrap();
        let fr = fr.to_vec2::<f64>().unwrap();
        let fi = fi.to_vec2::<f64>().unwrap();
        for k in 0..=n / 2 {
            assert!((re[k][3] - fr[0][k]).abs() < 1e-12);
            assert!((im[k][3] - fi[0][k]).abs() < 1e-12);
        }
    }

    /// The kernel projection the FFT path replaces: re = Σ x·cos, im = −Σ x·sin per frame.
    fn projection(k: &SpectralKernel, x: &[f64], hop: usize, pad: usize) -> (Vec<f64>, Vec<f64>) {
        let op = Stft {
            kernel: Arc::new(k.clone()),
            hop,
            pad,
        };
        let t = x.len();
        let frames = op.frames(t);
        let xp: Vec<f64> = (0..t + 2 * pad).map(|i| x[op.source(i, t)]).collect();
        let n = k.n_fft;
        let (mut re, mut im) = (vec![0.0; k.bins * frames], vec![0.0; k.bins * frames]);
        for w in 0..frames {
            for b in 0..k.bins {
                for m in 0..n {
                    re[b * frames + w] += xp[w * hop + m] * k.cos[b * n + m];
                    im[b * frames + w] -= xp[w * hop + m] * k.sin[b * n + m];
                }
            }
        }
        (re, im)
    }

    #[test]
    fn fft_stft_matches_kernel_projection() {
        for (n_fft, hop, t) in [(64usize, 16usize, 300usize), (256, 64, 1000), (30, 7, 101)] {
            for kernel in [
                SpectralKernel::nnaudio_linear(n_fft, 48000.0, 20.0, 24000.0, KernelPrecision::F64),
                SpectralKernel::nnaudio_dft(n_fft, 48000.0, KernelPrecision::F64),
            ] {
                let x = noise(t, n_fft as u64);
                let (want_re, want_im) = projection(&kernel, &x, hop, n_fft / 2);
                let xt = Tensor::from_vec(x.clone(), (1, t), &Device::Cpu).unwrap();
                let kernel = Arc::new(kernel);
                let (re, im) = stft(&xt, kernel.clone(), hop, n_fft / 2).unwrap();
                let re = re.flatten_all().unwrap().to_vec1::<f64>().unwrap();
                let im = im.flatten_all().unwrap().to_vec1::<f64>().unwrap();
                let scale = want_re.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                for i in 0..re.len() {
                    assert!((re[i] - want_re[i]).abs() < 1e-12 * scale, "re {i}");
                    assert!((im[i] - want_im[i]).abs() < 1e-12 * scale, "im {i}");
                }
                let mag = stft_magnitude(&xt, kernel, hop, n_fft / 2)
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f64>()
                    .unwrap();
                for i in 0..mag.len() {
                    let want = (want_re[i].powi(2) + want_im[i].powi(2)).sqrt();
                    assert!((mag[i] - want).abs() < 1e-12 * scale, "mag {i}");
                }
            }
        }
    }

    #[test]
    fn stft_magnitude_gradient_matches_finite_differences() {
        for (n_fft, hop, t, rows) in [(16usize, 4usize, 40usize, 2usize), (8, 3, 21, 1)] {
            for kernel in [
                SpectralKernel::nnaudio_linear(n_fft, 48000.0, 20.0, 24000.0, KernelPrecision::F64),
                SpectralKernel::nnaudio_dft(n_fft, 48000.0, KernelPrecision::F64),
            ] {
                let kernel = Arc::new(kernel);
                let x = noise(rows * t, 13 + t as u64);
                let err = check_fd(&x, &[rows, t], &|xt| {
                    let m = stft_magnitude(xt, kernel.clone(), hop, n_fft / 2)
                        .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
                    let w = Tensor::from_vec(noise(m.elem_count(), 9), m.shape(), m.device())?;
                    (m.mul(&w)?.sum_all()? + m.sqr()?.sum_all()?)?.affine(1.0, 0.0)
                });
                assert!(err <= 1e-6, "n_fft={n_fft}: relative error {err}");
            }
        }
    }

    #[test]
    fn stft_rejects_short_signals() {
        let kernel = Arc::new(SpectralKernel::nnaudio_dft(
            16,
            48000.0,
            KernelPrecision::F64,
        ));
        let t = Tensor::zeros((1, 8), DType::F64, &Device::Cpu).unwrap();
        assert!(matches!(
            stft(&t, kernel, 4, 8),
            Err(FdnLossError::ReflectPadding { pad: 8, len: 8 })
        ));
    }

    #[test]
    fn f32_inputs_give_f32_outputs_and_gradients() {
        let x = noise(64, 21);
        let t64 = Tensor::from_vec(x.clone(), (1, 64), &Device::Cpu).unwrap();
        let t32 = t64.to_dtype(DType::F32).unwrap();
        let v32 = Var::from_tensor(&t32).unwrap();
        let (re32, im32) = rfft(v32.as_tensor()).unwrap();
        assert_eq!(re32.dtype(), DType::F32);
        let (re64, _) = rfft(&t64).unwrap();
        let d = (re32.to_dtype(DType::F64).unwrap() - re64)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f64>()
            .unwrap();
        assert!(d < 1e-5, "f32 vs f64 rfft differ by {d}");
        let g = (re32.sum_all().unwrap() + im32.sum_all().unwrap())
            .unwrap()
            .backward()
            .unwrap();
        assert_eq!(g.get(v32.as_tensor()).unwrap().dtype(), DType::F32);
        let kernel = Arc::new(SpectralKernel::nnaudio_dft(
            16,
            48000.0,
            KernelPrecision::NnAudioF32,
        ));
        let (sre, _) = stft(v32.as_tensor(), kernel, 4, 8).unwrap();
        assert_eq!(sre.dtype(), DType::F32);
        assert_eq!(sre.dims(), &[1, 9, 17]);
    }

    #[test]
    fn nnaudio_f32_kernels_are_float32_products() {
        let k =
            SpectralKernel::nnaudio_linear(32, 48000.0, 20.0, 24000.0, KernelPrecision::NnAudioF32);
        let e = SpectralKernel::nnaudio_linear(32, 48000.0, 20.0, 24000.0, KernelPrecision::F64);
        assert!(k.cos.iter().all(|&v| f64::from(v as f32) == v));
        let d = k
            .cos
            .iter()
            .zip(&e.cos)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(d > 0.0 && d < 1e-6);
        assert!((k.freqs_hz[0] - 20.0).abs() < 1e-12);
        assert!((k.freqs_hz[1] - (20.0 + (24000.0 - 20.0) / 17.0)).abs() < 1e-9);
    }

    #[test]
    fn hann_matches_closed_form() {
        let w = hann_periodic(8);
        for (i, v) in w.iter().enumerate() {
            let want = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / 8.0).cos();
            assert!((v - want).abs() < 1e-15);
        }
    }
}
