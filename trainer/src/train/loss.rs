//! Training losses as weighted sums of criteria (pyFDN's `a + 0.2 * b`): the built-in colorless
//! and matching criteria, sparsity, and user criteria through the [`Criterion`] trait.

use anyhow::Result;
use candle_core::Tensor;
use std::ops::{Add, Mul};
use tailor::loss::colorless::{flat_magnitude, ChannelReduce};
use tailor::loss::mel::MelMssLoss;
use tailor::loss::mss::{MssForm, MssLoss, SpectrogramLossConfig};
use tailor::loss::objective::align_target;
use tailor::loss::sparsity::sparsity;

use super::model::FdnModel;

/// What a criterion sees at one step.
pub struct LossContext<'a> {
    /// Model impulse response `(nfft, n_out, n_in)`.
    pub h: &'a Tensor,
    /// Realised feedback matrix A `(N, N)`.
    pub feedback: &'a Tensor,
    /// The model (for any other parameter).
    pub model: &'a FdnModel,
}

/// A loss term over the response and/or the parameters; returns a scalar tensor.
pub trait Criterion: Send {
    /// Leaf name used in `loss_log` (pyFDN: the class name).
    fn name(&self) -> String;
    /// The unweighted value (scalar, differentiable).
    fn eval(&mut self, ctx: &LossContext<'_>) -> Result<Tensor>;
}

/// A weighted sum of criteria.
pub struct Loss {
    terms: Vec<(f64, Box<dyn Criterion>)>,
}

impl Loss {
    /// A single criterion with weight 1.
    pub fn new(c: impl Criterion + 'static) -> Self {
        Self {
            terms: vec![(1.0, Box::new(c))],
        }
    }

    /// Leaf names with pyFDN's duplicate suffixes (`#2`, `#3`, … in registration order).
    pub fn leaf_names(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (_, c) in &self.terms {
            let base = c.name();
            let mut name = base.clone();
            let mut k = 1;
            while out.contains(&name) {
                k += 1;
                name = format!("{base}#{k}");
            }
            out.push(name);
        }
        out
    }

    /// The weights, in leaf order.
    pub fn weights(&self) -> Vec<f64> {
        self.terms.iter().map(|(w, _)| *w).collect()
    }

    /// Weighted total and each leaf's unweighted value.
    pub fn evaluate(&mut self, ctx: &LossContext<'_>) -> Result<(Tensor, Vec<Tensor>)> {
        let mut total: Option<Tensor> = None;
        let mut leaves = Vec::with_capacity(self.terms.len());
        for (w, c) in &mut self.terms {
            let v = c.eval(ctx)?;
            let wv = if *w == 1.0 {
                v.clone()
            } else {
                v.affine(*w, 0.0)?
            };
            total = Some(match total {
                None => wv,
                Some(t) => (t + wv)?,
            });
            leaves.push(v);
        }
        let total = total.ok_or_else(|| anyhow::anyhow!("a loss needs at least one term"))?;
        Ok((total, leaves))
    }
}

impl Add for Loss {
    type Output = Loss;
    fn add(mut self, rhs: Loss) -> Loss {
        self.terms.extend(rhs.terms);
        self
    }
}

impl Mul<Loss> for f64 {
    type Output = Loss;
    fn mul(self, mut rhs: Loss) -> Loss {
        rhs.terms.iter_mut().for_each(|(w, _)| *w *= self);
        rhs
    }
}

impl Mul<f64> for Loss {
    type Output = Loss;
    fn mul(self, rhs: f64) -> Loss {
        rhs * self
    }
}

/// pyFDN `FlatMagnitude(target, channels)`: mean((|rfft(h)| combined over outputs − target)²).
#[derive(Debug, Clone)]
pub struct FlatMagnitude {
    /// Target magnitude (linear).
    pub target: f64,
    /// Combination over outputs.
    pub channels: ChannelReduce,
}

impl Default for FlatMagnitude {
    fn default() -> Self {
        Self {
            target: 1.0,
            channels: ChannelReduce::Sum,
        }
    }
}

impl Criterion for FlatMagnitude {
    fn name(&self) -> String {
        "FlatMagnitude".into()
    }
    fn eval(&mut self, ctx: &LossContext<'_>) -> Result<Tensor> {
        Ok(flat_magnitude(ctx.h, self.target, self.channels)?)
    }
}

/// pyFDN `Sparsity(param(model, "feedback"))` on the realised A.
#[derive(Debug, Clone, Default)]
pub struct Sparsity;

impl Criterion for Sparsity {
    fn name(&self) -> String {
        "Sparsity[feedback]".into()
    }
    fn eval(&mut self, ctx: &LossContext<'_>) -> Result<Tensor> {
        Ok(sparsity(ctx.feedback)?)
    }
}

/// FLAMO layout `(n_in, T, n_out)` of a `(T, n_out, n_in)` response.
fn flamo_layout(h: &Tensor) -> Result<Tensor> {
    Ok(h.permute((2, 0, 1))?.contiguous()?)
}

/// A target aligned once to the model's `(nfft, n_out, n_in)` and kept in FLAMO layout.
fn aligned(target: &Tensor, h: &Tensor) -> Result<Tensor> {
    let (t, o, i) = h.dims3()?;
    let tgt = target.to_dtype(h.dtype())?.to_device(h.device())?;
    flamo_layout(&align_target(&tgt, t, o, i)?)
}

/// pyFDN `MatchSpectrogram(target, nfft)` (FLAMO `mss_loss`).
pub struct MatchSpectrogram {
    target: Tensor,
    cached: Option<Tensor>,
    loss: MssLoss,
}

impl MatchSpectrogram {
    /// Target IR `(n,)`, `(n, n_out)` or `(n, n_out, n_in)`; window sizes `nfft` (pyFDN default
    /// 256, 512, 1024); `fs` in Hz.
    pub fn new(target: Tensor, nfft: &[usize], fs: f64) -> Result<Self> {
        let cfg = SpectrogramLossConfig {
            nfft: nfft.to_vec(),
            sample_rate: fs as u32,
            ..Default::default()
        };
        Ok(Self {
            target,
            cached: None,
            loss: MssLoss::new(cfg, MssForm::Plain)?,
        })
    }
}

impl Criterion for MatchSpectrogram {
    fn name(&self) -> String {
        "MatchSpectrogram".into()
    }
    fn eval(&mut self, ctx: &LossContext<'_>) -> Result<Tensor> {
        if self.cached.is_none() {
            self.cached = Some(aligned(&self.target, ctx.h)?);
        }
        let tgt = self.cached.as_ref().expect("cached above");
        Ok(self.loss.forward(&flamo_layout(ctx.h)?, tgt)?)
    }
}

/// pyFDN `MatchMelSpectrogram(target, nfft)` (FLAMO `mel_mss_loss`).
pub struct MatchMelSpectrogram {
    target: Tensor,
    cached: Option<Tensor>,
    loss: MelMssLoss,
}

impl MatchMelSpectrogram {
    /// As [`MatchSpectrogram::new`].
    pub fn new(target: Tensor, nfft: &[usize], fs: f64) -> Result<Self> {
        let cfg = SpectrogramLossConfig {
            nfft: nfft.to_vec(),
            sample_rate: fs as u32,
            ..Default::default()
        };
        Ok(Self {
            target,
            cached: None,
            loss: MelMssLoss::new(cfg)?,
        })
    }
}

impl Criterion for MatchMelSpectrogram {
    fn name(&self) -> String {
        "MatchMelSpectrogram".into()
    }
    fn eval(&mut self, ctx: &LossContext<'_>) -> Result<Tensor> {
        if self.cached.is_none() {
            self.cached = Some(aligned(&self.target, ctx.h)?);
        }
        let tgt = self.cached.as_ref().expect("cached above");
        Ok(self.loss.forward(&flamo_layout(ctx.h)?, tgt)?)
    }
}

/// pyFDN's default spectrogram window sizes.
pub const DEFAULT_MSS_NFFT: [usize; 3] = [256, 512, 1024];

/// The colorless recipe `FlatMagnitude() + 0.2·Sparsity(feedback)`.
pub fn colorless() -> Loss {
    Loss::new(FlatMagnitude::default()) + 0.2 * Loss::new(Sparsity)
}

/// `MatchSpectrogram(target)` (+ `sparsity_weight`·Sparsity when > 0).
pub fn match_spectrogram(
    target: Tensor,
    nfft: &[usize],
    fs: f64,
    sparsity_weight: f64,
) -> Result<Loss> {
    let l = Loss::new(MatchSpectrogram::new(target, nfft, fs)?);
    Ok(if sparsity_weight > 0.0 {
        l + sparsity_weight * Loss::new(Sparsity)
    } else {
        l
    })
}

/// `MatchMelSpectrogram(target)` (+ `sparsity_weight`·Sparsity when > 0).
pub fn match_mel_spectrogram(
    target: Tensor,
    nfft: &[usize],
    fs: f64,
    sparsity_weight: f64,
) -> Result<Loss> {
    let l = Loss::new(MatchMelSpectrogram::new(target, nfft, fs)?);
    Ok(if sparsity_weight > 0.0 {
        l + sparsity_weight * Loss::new(Sparsity)
    } else {
        l
    })
}
