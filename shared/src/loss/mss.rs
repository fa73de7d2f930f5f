//! FLAMO `mss_loss`: multi-resolution linear-magnitude STFT loss with nnAudio's kernels.
//!
//! Semantics (flamo 0.2.20 + nnAudio 0.3.4): per window size n, hop = int(n·(1 − overlap)),
//! periodic Hann, centred frames with reflect padding n/2, **bins at 20 + k·(sr/2 − 20)/(n/2+1) Hz**
//! (k = 0..n/2, not the DFT grid), magnitude sqrt(re² + im²) without epsilon; the default form adds
//! ‖ΔY·mask‖_p / N per resolution (N = element count, or the mask's count), summed over
//! resolutions. `(B, T, C)` inputs are reshaped (not transposed) to `(B·C, T)` as FLAMO does.

use candle_core::{DType, Tensor, TensorId};
use std::any::Any;
use std::sync::Arc;

use super::fdn_loss_error::FdnLossError;
use super::fft::{
    apply_on_cpu, check_stft_args, stft_magnitude, KernelPrecision, SpectralKernel, Stft, StftPlan,
};
use super::mss_l2::{MssL2, Resolution};
use super::reduce::{norm_p, tensor_like, to_f64};
use super::torch_ops;
use crate::by_dtype;
use crate::real::{tensor_as, Real};

/// Which combination of terms `mss_loss` adds per resolution (FLAMO `form`).
#[derive(Debug, Clone, PartialEq)]
pub enum MssForm {
    /// `form=None`: ‖ΔY·mask‖_p/N (+ alpha·‖Δln Y·mask‖_p/N with `log_term`).
    Plain,
    /// Spectral convergence ‖ΔY·mask‖_F/‖Y_true‖_F + alpha·Σ|Δln Y·mask|/numel.
    Yamamoto,
    /// (Σ|ΔY·mask| + alpha·Σ|Δln Y|·mask)/numel.
    Magenta,
    /// Any other string: contributes nothing (FLAMO silently ignores it).
    Other(String),
}

impl MssForm {
    /// Parses FLAMO's `form` (None → [`MssForm::Plain`]).
    pub fn parse(form: Option<&str>) -> Self {
        match form {
            None => Self::Plain,
            Some("yamamoto") => Self::Yamamoto,
            Some("magenta") => Self::Magenta,
            Some(other) => Self::Other(other.to_string()),
        }
    }
}

/// Options shared by [`MssLoss`] and [`super::mel::MelMssLoss`] (FLAMO constructor arguments).
#[derive(Debug, Clone, PartialEq)]
pub struct SpectrogramLossConfig {
    /// Window sizes n_fft, samples (results are summed over them).
    pub nfft: Vec<usize>,
    /// Frame overlap in [0, 1); hop = int(n·(1 − overlap)) samples.
    pub overlap: f64,
    /// Sample rate, Hz (integer in FLAMO; fmax = sample_rate // 2).
    pub sample_rate: u32,
    /// Divide each signal by its global L2 norm first.
    pub energy_norm: bool,
    /// Mask bins whose SNR against the noise energy is below `threshold` dB.
    pub apply_mask: bool,
    /// SNR threshold for the mask, dB.
    pub threshold: f64,
    /// Norm order p (2 = "fro").
    pub p: f64,
    /// Add the log-magnitude term.
    pub log_term: bool,
    /// Weight of the log term.
    pub alpha: f64,
    /// Noise energy for the mask (linear magnitude²); `None` = measured from the first resolution.
    pub noise_energy: Option<f64>,
    /// STFT kernel rounding (nnAudio's float32 kernels by default).
    pub precision: KernelPrecision,
}

impl Default for SpectrogramLossConfig {
    fn default() -> Self {
        Self {
            nfft: vec![128, 256, 512, 1024, 2048, 4096],
            overlap: 0.75,
            sample_rate: 48000,
            energy_norm: false,
            apply_mask: false,
            threshold: 5.0,
            p: 2.0,
            log_term: false,
            alpha: 1.0,
            noise_energy: None,
            precision: KernelPrecision::NnAudioF32,
        }
    }
}

impl SpectrogramLossConfig {
    /// Hop for window size `n`: int(n·(1 − overlap)) samples.
    pub fn hop(&self, n: usize) -> usize {
        (n as f64 * (1.0 - self.overlap)) as usize
    }

    /// Validates the parameters.
    pub fn validate(&self) -> Result<(), FdnLossError> {
        if self.nfft.is_empty() || self.nfft.contains(&0) {
            return Err(FdnLossError::BadParameter(
                "nfft must be a non-empty list of positive window sizes".into(),
            ));
        }
        if let Some(&n) = self.nfft.iter().find(|&&n| self.hop(n) == 0) {
            return Err(FdnLossError::BadParameter(format!(
                "overlap {} gives a zero hop for n_fft {n}",
                self.overlap
            )));
        }
        if self.sample_rate == 0 {
            return Err(FdnLossError::BadParameter(
                "sample_rate must be positive".into(),
            ));
        }
        if self.p.is_nan() || self.p <= 0.0 {
            return Err(FdnLossError::BadParameter("p must be positive".into()));
        }
        Ok(())
    }
}

/// Prepared inputs: `(B·C, T)` rows plus the original batch and channel counts.
pub(crate) struct Rows {
    pub pred: Tensor,
    pub truth: Tensor,
    pub batch: usize,
    pub channels: usize,
}

/// FLAMO's input handling: 1-D → `(1, T, 1)`, equal 3-D shapes, optional energy norm, then the
/// `(B, T, C)` → `(B·C, T)` reshape.
pub(crate) fn prepare(
    y_pred: &Tensor,
    y_true: &Tensor,
    energy_norm: bool,
) -> Result<Rows, FdnLossError> {
    let (mut p, mut t) = (y_pred.clone(), y_true.clone());
    if p.rank() == 1 && t.rank() == 1 {
        p = p.unsqueeze(0)?.unsqueeze(2)?;
        t = t.unsqueeze(0)?.unsqueeze(2)?;
    }
    if p.dims() != t.dims() || p.rank() != 3 {
        return Err(FdnLossError::SpectrogramShape);
    }
    let (batch, len, channels) = p.dims3()?;
    if energy_norm {
        p = p.broadcast_div(&p.sqr()?.sum_all()?.sqrt()?)?;
        t = t.broadcast_div(&t.sqr()?.sum_all()?.sqrt()?)?;
    }
    let pred = p.contiguous()?.reshape((batch * channels, len))?;
    let truth = t.contiguous()?.reshape((batch * channels, len))?;
    Ok(Rows {
        pred,
        truth,
        batch,
        channels,
    })
}

/// FLAMO's SNR mask on `Y_true` `(B, h, w, C)`: measures the noise energy (if not given) as the
/// mean of Y² over frame `−int(0.01·sr/hop)` (0 → the first frame), then zeroes bins whose
/// SNR = 10log10(max(Y², 1.01·noise) − noise) − 10log10(noise) is below `threshold`.
/// Returns (mask, mask count, noise energy used).
pub(crate) fn snr_mask(
    y_true: &Tensor,
    noise_energy: Option<f64>,
    sample_rate: u32,
    hop: usize,
    threshold: f64,
) -> Result<(Tensor, f64, f64), FdnLossError> {
    let (b, h, w, c) = y_true.dims4()?;
    let y = y_true
        .detach()
        .to_dtype(candle_core::DType::F64)?
        .to_device(&candle_core::Device::Cpu)?
        .flatten_all()?
        .to_vec1::<f64>()?;
    let noise = match noise_energy {
        Some(e) if e != 0.0 => e,
        _ => {
            let back = (0.01 * f64::from(sample_rate) / hop as f64) as usize;
            let frame = if back == 0 {
                0
            } else if back <= w {
                w - back
            } else {
                return Err(FdnLossError::BadParameter(format!(
                    "noise frame -{back} is out of range for {w} frames"
                )));
            };
            let mut acc = 0.0;
            for bi in 0..b {
                for hi in 0..h {
                    for ci in 0..c {
                        let v = y[((bi * h + hi) * w + frame) * c + ci];
                        acc += v * v;
                    }
                }
            }
            acc / (b * h * c) as f64
        }
    };
    let floor = 10.0 * noise.log10();
    let mask: Vec<f64> = y
        .iter()
        .map(|&v| {
            let snr = 10.0 * ((v * v).max(noise * 1.01) - noise).log10() - floor;
            if snr < threshold {
                0.0
            } else {
                1.0
            }
        })
        .collect();
    let count = mask.iter().sum();
    Ok((tensor_like(mask, &[b, h, w, c], y_true)?, count, noise))
}

/// FLAMO `mss_loss`. Holds the noise energy it measures (as FLAMO caches it on the object).
#[derive(Debug, Clone)]
pub struct MssLoss {
    /// Constructor options.
    pub config: SpectrogramLossConfig,
    /// FLAMO `form`.
    pub form: MssForm,
    kernels: Vec<Arc<SpectralKernel>>,
    truth: TruthCache,
    fused: Option<FusedTarget>,
}

/// The fused path's target: magnitudes per resolution for one untracked `y_true`.
#[derive(Debug, Clone)]
struct FusedTarget {
    key: TensorId,
    dims: (usize, usize),
    /// The precision the resolutions compute in (the prediction's dtype).
    dtype: DType,
    /// `Vec<Resolution<T>>` for `T` of `dtype`.
    resolutions: Arc<dyn Any + Send + Sync>,
}

/// Target magnitudes per resolution, kept for a `y_true` that carries no gradient (a training
/// target is the same tensor every step, so its STFTs are computed once).
#[derive(Debug, Clone, Default)]
pub(crate) struct TruthCache {
    key: Option<TensorId>,
    spectra: Vec<Tensor>,
}

impl TruthCache {
    /// The cached per-resolution tensors for `y_true`, if it is the cached, untracked tensor.
    pub(crate) fn get(&self, y_true: &Tensor) -> Option<&[Tensor]> {
        (!y_true.track_op() && self.key == Some(y_true.id())).then_some(self.spectra.as_slice())
    }

    /// Remembers `spectra` for `y_true` when it carries no gradient.
    pub(crate) fn put(&mut self, y_true: &Tensor, spectra: Vec<Tensor>) {
        if !y_true.track_op() {
            self.key = Some(y_true.id());
            self.spectra = spectra;
        }
    }
}

impl MssLoss {
    /// Builds the loss (and its STFT kernels).
    pub fn new(config: SpectrogramLossConfig, form: MssForm) -> Result<Self, FdnLossError> {
        config.validate()?;
        let sr = f64::from(config.sample_rate);
        let fmax = f64::from(config.sample_rate / 2);
        let kernels = config
            .nfft
            .iter()
            .map(|&n| {
                Arc::new(SpectralKernel::nnaudio_linear(
                    n,
                    sr,
                    20.0,
                    fmax,
                    config.precision,
                ))
            })
            .collect();
        Ok(Self {
            config,
            form,
            kernels,
            truth: TruthCache::default(),
            fused: None,
        })
    }

    /// Whether this configuration runs as the fused op ([`super::mss_l2`]): FLAMO's default
    /// form (plain, p = 2, no mask, no log term).
    fn fusable(&self) -> bool {
        let c = &self.config;
        self.form == MssForm::Plain && c.p == 2.0 && !c.log_term && !c.apply_mask
    }

    /// The fused evaluation against an untracked `y_true` (see [`MssLoss::forward_terms`]).
    fn forward_fused(
        &mut self,
        y_pred: &Tensor,
        y_true: &Tensor,
    ) -> Result<(Tensor, Vec<Tensor>), FdnLossError> {
        let rows = prepare(y_pred, y_true, self.config.energy_norm)?;
        for (kernel, &n) in self.kernels.iter().zip(&self.config.nfft) {
            check_stft_args(&rows.truth, kernel, self.config.hop(n), n / 2)?;
        }
        let dtype = rows.pred.dtype();
        let mut run = || -> candle_core::Result<Tensor> {
            by_dtype!(dtype, "mss", T => self.fused_op::<T>(&rows, y_true))
        };
        let out = run()?;
        let terms = (0..self.kernels.len())
            .map(|i| out.get(i))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok((out.sum_all()?, terms))
    }

    /// Applies the fused op in precision `T` to the prepared rows (target magnitudes computed
    /// once per `y_true`, shape and precision).
    fn fused_op<T: Real>(&mut self, rows: &Rows, y_true: &Tensor) -> candle_core::Result<Tensor> {
        let dims = rows.pred.dims2()?;
        let cached = self
            .fused
            .as_ref()
            .filter(|f| f.key == y_true.id() && f.dims == dims && f.dtype == T::DTYPE)
            .and_then(|f| f.resolutions.downcast_ref::<Vec<Resolution<T>>>())
            .cloned();
        let resolutions = match cached {
            Some(r) => r,
            None => {
                let (r, t) = dims;
                let truth = tensor_as::<T>(&rows.truth)?;
                let mut resolutions = Vec::with_capacity(self.kernels.len());
                for (kernel, &n) in self.kernels.iter().zip(&self.config.nfft) {
                    let hop = self.config.hop(n);
                    let stft = Stft {
                        kernel: kernel.clone(),
                        hop,
                        pad: n / 2,
                    };
                    stft.check(t)?;
                    let plan = Arc::new(StftPlan::<T>::new(kernel));
                    let target = Arc::new(MssL2::magnitudes(&stft, &plan, &truth, r, t));
                    resolutions.push(Resolution { stft, plan, target });
                }
                self.fused = Some(FusedTarget {
                    key: y_true.id(),
                    dims,
                    dtype: T::DTYPE,
                    resolutions: Arc::new(resolutions.clone()),
                });
                resolutions
            }
        };
        let op = MssL2 {
            resolutions,
            saved: std::sync::Mutex::new(Vec::new()),
        };
        apply_on_cpu(&rows.pred, op)
    }

    /// The loss for `y_pred`, `y_true` (`(B, T, C)` or 1-D), a scalar; also returns each
    /// resolution's contribution. Updates the cached noise energy when masking.
    pub fn forward_terms(
        &mut self,
        y_pred: &Tensor,
        y_true: &Tensor,
    ) -> Result<(Tensor, Vec<Tensor>), FdnLossError> {
        if self.fusable() && !y_true.track_op() {
            return self.forward_fused(y_pred, y_true);
        }
        let cfg = &self.config;
        let rows = prepare(y_pred, y_true, cfg.energy_norm)?;
        let cached = self.truth.get(y_true).map(<[Tensor]>::to_vec);
        let mut fresh = Vec::new();
        let mut terms = Vec::with_capacity(self.kernels.len());
        let mut noise_energy = cfg.noise_energy;
        for (idx, (kernel, &n)) in self.kernels.iter().zip(&cfg.nfft).enumerate() {
            let hop = cfg.hop(n);
            let mag = |x: &Tensor| -> Result<Tensor, FdnLossError> {
                let m = stft_magnitude(x, kernel.clone(), hop, n / 2)?;
                let (_, h, w) = m.dims3()?;
                Ok(m.reshape((rows.batch, h, w, rows.channels))?)
            };
            let yp = mag(&rows.pred)?;
            let yt = match &cached {
                Some(c) => c[idx].clone(),
                None => mag(&rows.truth)?,
            };
            fresh.push(yt.clone());
            let numel = yt.elem_count() as f64;
            let (mask, count) = if cfg.apply_mask {
                let (mask, count, noise) =
                    snr_mask(&yt, noise_energy, cfg.sample_rate, hop, cfg.threshold)?;
                noise_energy = Some(noise);
                (Some(mask), count)
            } else {
                (None, numel)
            };
            let masked = |d: Tensor| -> candle_core::Result<Tensor> {
                match &mask {
                    Some(m) => d.mul(m),
                    None => Ok(d),
                }
            };
            let dlin = masked((&yt - &yp)?)?;
            let dlog = || -> candle_core::Result<Tensor> { masked((yt.log()? - yp.log()?)?) };
            let term = match &self.form {
                MssForm::Plain => {
                    let mut t = norm_p(&dlin, cfg.p)?.affine(1.0 / count, 0.0)?;
                    if cfg.log_term {
                        t = (t + norm_p(&dlog()?, cfg.p)?.affine(cfg.alpha / count, 0.0)?)?;
                    }
                    t
                }
                MssForm::Yamamoto => {
                    let sc = norm_p(&dlin, 2.0)?.div(&norm_p(&yt, 2.0)?)?;
                    (sc + norm_p(&dlog()?, 1.0)?.affine(cfg.alpha / numel, 0.0)?)?
                }
                MssForm::Magenta => {
                    let lin = norm_p(&dlin, 1.0)?;
                    let log = torch_ops::abs(&(yt.log()? - yp.log()?)?)?;
                    let log = masked(log)?.sum_all()?;
                    (lin + log.affine(cfg.alpha, 0.0)?)?.affine(1.0 / numel, 0.0)?
                }
                MssForm::Other(_) => dlin.sum_all()?.zeros_like()?,
            };
            terms.push(term);
        }
        if cfg.apply_mask {
            self.config.noise_energy = noise_energy;
        }
        if cached.is_none() {
            self.truth.put(y_true, fresh);
        }
        let total = Tensor::stack(&terms, 0)?.sum_all()?;
        Ok((total, terms))
    }

    /// The loss (scalar tensor, dimensionless; see [`MssLoss::forward_terms`]).
    pub fn forward(&mut self, y_pred: &Tensor, y_true: &Tensor) -> Result<Tensor, FdnLossError> {
        Ok(self.forward_terms(y_pred, y_true)?.0)
    }

    /// The loss as an f64.
    pub fn value(&mut self, y_pred: &Tensor, y_true: &Tensor) -> Result<f64, FdnLossError> {
        Ok(to_f64(&self.forward(y_pred, y_true)?)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    fn sig(len: usize, f: f64) -> Tensor {
        let v: Vec<f64> = (0..len)
            .map(|i| (i as f64 * f).sin() + 0.1 * (i as f64 * 0.37).cos())
            .collect();
        Tensor::from_vec(v, (1, len, 1), &Device::Cpu).unwrap()
    }

    fn cfg(nfft: Vec<usize>) -> SpectrogramLossConfig {
        SpectrogramLossConfig {
            nfft,
            ..Default::default()
        }
    }

    /// The fused op (untracked target) equals the generic tensor path (a tracked target takes
    /// it) in value, per-resolution terms and gradient, on 3 rows of 2 channels.
    #[test]
    fn fused_path_equals_the_generic_path() {
        let len = 700;
        let mk = |f: f64, ph: f64| -> Vec<f64> {
            (0..len * 2)
                .map(|i| (i as f64 * f + ph).sin() * (-(i as f64) / 400.0).exp())
                .collect()
        };
        let pred = candle_core::Var::from_vec(mk(0.21, 0.3), (1, len, 2), &Device::Cpu).unwrap();
        let truth = Tensor::from_vec(mk(0.5, 1.0), (1, len, 2), &Device::Cpu).unwrap();
        let tracked = candle_core::Var::from_tensor(&truth).unwrap();
        let mut fused = MssLoss::new(cfg(vec![64, 128, 256]), MssForm::Plain).unwrap();
        let mut generic = fused.clone();
        let eval = |l: &mut MssLoss, t: &Tensor| {
            let (total, terms) = l.forward_terms(pred.as_tensor(), t).unwrap();
            let g = total.backward().unwrap();
            let grad = g.get(pred.as_tensor()).unwrap().flatten_all().unwrap();
            let terms: Vec<f64> = terms
                .iter()
                .map(|t| t.to_scalar::<f64>().unwrap())
                .collect();
            (terms, grad.to_vec1::<f64>().unwrap())
        };
        for _ in 0..2 {
            let (tf, gf) = eval(&mut fused, &truth);
            let (tg, gg) = eval(&mut generic, tracked.as_tensor());
            for (a, b) in tf.iter().zip(&tg) {
                assert!((a - b).abs() <= 1e-12 * b.abs(), "term {a} vs {b}");
            }
            let scale = gg.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let err = gf
                .iter()
                .zip(&gg)
                .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
            assert!(
                scale > 0.0 && err <= 1e-10 * scale,
                "gradient error {err} of {scale}"
            );
        }
    }

    /// The fused op in f32 (f32 prediction, same target tensor, same loss object: the cached
    /// target switches precision) follows the f64 op: terms to 1e-5, gradient to 1e-4 of its
    /// largest value, and the gradient comes back in f32.
    #[test]
    fn fused_f32_follows_f64() {
        let len = 3000;
        let mk = |f: f64, ph: f64| -> Vec<f64> {
            (0..len * 2)
                .map(|i| (i as f64 * f + ph).sin() * (-(i as f64) / 900.0).exp())
                .collect()
        };
        let truth = Tensor::from_vec(mk(0.5, 1.0), (1, len, 2), &Device::Cpu).unwrap();
        let p64 = Tensor::from_vec(mk(0.21, 0.3), (1, len, 2), &Device::Cpu).unwrap();
        let mut loss = MssLoss::new(cfg(vec![64, 128, 256]), MssForm::Plain).unwrap();
        let mut eval = |dtype: DType| {
            let pred = candle_core::Var::from_tensor(&p64.to_dtype(dtype).unwrap()).unwrap();
            let (total, terms) = loss.forward_terms(pred.as_tensor(), &truth).unwrap();
            assert_eq!(total.dtype(), dtype);
            let g = total.backward().unwrap();
            let grad = g.get(pred.as_tensor()).unwrap().clone();
            assert_eq!(grad.dtype(), dtype);
            let f = |t: &Tensor| t.to_dtype(DType::F64).unwrap();
            let terms: Vec<f64> = terms.iter().map(|t| f(t).to_scalar().unwrap()).collect();
            (
                terms,
                f(&grad).flatten_all().unwrap().to_vec1::<f64>().unwrap(),
            )
        };
        let (t64, g64) = eval(DType::F64);
        let (t32, g32) = eval(DType::F32);
        for (a, b) in t32.iter().zip(&t64) {
            assert!((a - b).abs() <= 1e-5 * b.abs(), "term {a} vs {b}");
        }
        let scale = g64.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let err = g32
            .iter()
            .zip(&g64)
            .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        assert!(
            scale > 0.0 && err <= 1e-4 * scale,
            "gradient error {err} of {scale}"
        );
    }

    #[test]
    fn identical_signals_give_zero() {
        let x = sig(600, 0.2);
        let mut l = MssLoss::new(cfg(vec![64, 128]), MssForm::Plain).unwrap();
        assert_eq!(l.value(&x, &x).unwrap(), 0.0);
    }

    #[test]
    fn sum_over_resolutions_equals_single_resolution_losses() {
        let (a, b) = (sig(600, 0.2), sig(600, 0.5));
        let mut both = MssLoss::new(cfg(vec![64, 128]), MssForm::Plain).unwrap();
        let mut one = MssLoss::new(cfg(vec![64]), MssForm::Plain).unwrap();
        let mut two = MssLoss::new(cfg(vec![128]), MssForm::Plain).unwrap();
        let total = both.value(&a, &b).unwrap();
        let parts = one.value(&a, &b).unwrap() + two.value(&a, &b).unwrap();
        assert!((total - parts).abs() < 1e-14);
        assert!(total > 0.0);
    }

    #[test]
    fn one_d_inputs_equal_b1_c1() {
        let (a, b) = (sig(300, 0.2), sig(300, 0.5));
        let mut l = MssLoss::new(cfg(vec![64]), MssForm::Plain).unwrap();
        let v3 = l.value(&a, &b).unwrap();
        let v1 = l
            .value(&a.flatten_all().unwrap(), &b.flatten_all().unwrap())
            .unwrap();
        assert_eq!(v1, v3);
    }

    #[test]
    fn shape_mismatch_is_rejected() {
        let a = Tensor::zeros((1, 300, 1), DType::F64, &Device::Cpu).unwrap();
        let b = Tensor::zeros((1, 301, 1), DType::F64, &Device::Cpu).unwrap();
        let mut l = MssLoss::new(cfg(vec![64]), MssForm::Plain).unwrap();
        assert!(matches!(
            l.forward(&a, &b),
            Err(FdnLossError::SpectrogramShape)
        ));
    }

    #[test]
    fn too_short_for_reflect_padding_is_rejected() {
        let a = Tensor::zeros((1, 100, 1), DType::F64, &Device::Cpu).unwrap();
        let mut l = MssLoss::new(cfg(vec![256]), MssForm::Plain).unwrap();
        assert!(matches!(
            l.forward(&a, &a),
            Err(FdnLossError::ReflectPadding { .. })
        ));
    }

    #[test]
    fn unknown_form_contributes_nothing() {
        let (a, b) = (sig(300, 0.2), sig(300, 0.5));
        let mut l = MssLoss::new(cfg(vec![64]), MssForm::parse(Some("other"))).unwrap();
        assert_eq!(l.value(&a, &b).unwrap(), 0.0);
    }

    #[test]
    fn mask_caches_noise_energy() {
        let (a, b) = (sig(600, 0.2), sig(600, 0.5));
        let mut c = cfg(vec![64, 128]);
        c.apply_mask = true;
        let mut l = MssLoss::new(c, MssForm::Plain).unwrap();
        assert!(l.config.noise_energy.is_none());
        let v = l.value(&a, &b).unwrap();
        assert!(v.is_finite());
        assert!(l.config.noise_energy.unwrap() > 0.0);
    }
}
