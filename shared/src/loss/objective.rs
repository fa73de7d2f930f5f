//! pyFDN training objectives on a model response: the colorless recipe
//! `FlatMagnitude() + 0.2·Sparsity(feedback)` and the matching recipes
//! `MatchSpectrogram(target)` / `MatchMelSpectrogram(target)` (+ the same sparsity term).
//!
//! This is the loss side only: it takes the model's impulse response `h` `(nfft, n_out, n_in)` and
//! the realised feedback matrix A as tensors. Gradients reach FDN parameters only if `h` was
//! produced by a differentiable response op (not part of this module).

use candle_core::Tensor;

use super::colorless::{flat_magnitude, ChannelReduce};
use super::fdn_loss_error::FdnLossError;
use super::mel::MelMssLoss;
use super::mss::MssLoss;
use super::sparsity::sparsity;

/// pyFDN's default weight of the sparsity term (and the 0.3.x `sparsity_alpha` default).
pub const DEFAULT_SPARSITY_WEIGHT: f64 = 0.2;

/// pyFDN `Match*` target alignment: `(n,)`, `(n, n_out)` or `(n, n_out, n_in)` → zero-padded or
/// truncated to `(n_samples, n_out, n_in)`; channel counts must equal the model's.
pub fn align_target(
    target: &Tensor,
    n_samples: usize,
    n_out: usize,
    n_in: usize,
) -> Result<Tensor, FdnLossError> {
    let t = match target.rank() {
        1 => target.unsqueeze(1)?.unsqueeze(2)?,
        2 => target.unsqueeze(2)?,
        3 => target.clone(),
        _ => return Err(FdnLossError::TargetRank(target.dims().to_vec())),
    };
    let (len, t_out, t_in) = t.dims3()?;
    if (t_out, t_in) != (n_out, n_in) {
        return Err(FdnLossError::TargetChannels {
            t_out,
            t_in,
            m_out: n_out,
            m_in: n_in,
        });
    }
    let t = if len >= n_samples {
        t.narrow(0, 0, n_samples)?
    } else {
        let pad = Tensor::zeros((n_samples - len, n_out, n_in), t.dtype(), t.device())?;
        Tensor::cat(&[&t, &pad], 0)?
    };
    Ok(t.contiguous()?)
}

/// FLAMO layout of a response: `(n_samples, n_out, n_in)` → `(n_in, n_samples, n_out)`.
fn flamo_layout(h: &Tensor) -> Result<Tensor, FdnLossError> {
    if h.rank() != 3 {
        return Err(FdnLossError::ResponseShape(h.dims().to_vec()));
    }
    Ok(h.permute((2, 0, 1))?.contiguous()?)
}

/// pyFDN `MatchSpectrogram(target)`: FLAMO `mss_loss` of `h` against the aligned target, both in
/// FLAMO's `(n_in, T, n_out)` layout.
pub fn match_spectrogram(
    h: &Tensor,
    target: &Tensor,
    loss: &mut MssLoss,
) -> Result<Tensor, FdnLossError> {
    let (t, o, i) = h
        .dims3()
        .map_err(|_| FdnLossError::ResponseShape(h.dims().to_vec()))?;
    let tgt = align_target(&target.to_dtype(h.dtype())?.to_device(h.device())?, t, o, i)?;
    loss.forward(&flamo_layout(h)?, &flamo_layout(&tgt)?)
}

/// pyFDN `MatchMelSpectrogram(target)`: FLAMO `mel_mss_loss`, layout as [`match_spectrogram`].
pub fn match_mel_spectrogram(
    h: &Tensor,
    target: &Tensor,
    loss: &mut MelMssLoss,
) -> Result<Tensor, FdnLossError> {
    let (t, o, i) = h
        .dims3()
        .map_err(|_| FdnLossError::ResponseShape(h.dims().to_vec()))?;
    let tgt = align_target(&target.to_dtype(h.dtype())?.to_device(h.device())?, t, o, i)?;
    loss.forward(&flamo_layout(h)?, &flamo_layout(&tgt)?)
}

/// The response-based term of an objective.
#[derive(Debug, Clone)]
pub enum PrimaryLoss {
    /// `FlatMagnitude(target, channels)`.
    FlatMagnitude {
        /// Target magnitude (linear).
        target: f64,
        /// Output combination.
        channels: ChannelReduce,
    },
    /// `MatchSpectrogram(target)`.
    MatchSpectrogram {
        /// Target impulse response (1-, 2- or 3-D).
        target: Tensor,
        /// FLAMO `mss_loss` instance.
        loss: Box<MssLoss>,
    },
    /// `MatchMelSpectrogram(target)`.
    MatchMelSpectrogram {
        /// Target impulse response (1-, 2- or 3-D).
        target: Tensor,
        /// FLAMO `mel_mss_loss` instance.
        loss: Box<MelMssLoss>,
    },
}

/// Objective values: the weighted total and each leaf unweighted (as pyFDN logs them).
#[derive(Debug, Clone)]
pub struct ObjectiveTerms {
    /// primary + weight·sparsity (scalar).
    pub total: Tensor,
    /// The primary leaf (scalar, unweighted).
    pub primary: Tensor,
    /// The sparsity leaf (scalar, unweighted); `None` when the weight is 0.
    pub sparsity: Option<Tensor>,
}

/// A pyFDN objective: primary loss + `sparsity_weight`·Sparsity(A).
#[derive(Debug, Clone)]
pub struct TrainObjective {
    /// Response term.
    pub primary: PrimaryLoss,
    /// Weight of the sparsity term (0 disables it).
    pub sparsity_weight: f64,
}

impl TrainObjective {
    /// The colorless recipe: `FlatMagnitude() + 0.2·Sparsity(feedback)`.
    pub fn colorless() -> Self {
        Self {
            primary: PrimaryLoss::FlatMagnitude {
                target: 1.0,
                channels: ChannelReduce::Sum,
            },
            sparsity_weight: DEFAULT_SPARSITY_WEIGHT,
        }
    }

    /// Evaluates the objective on a response `h` `(nfft, n_out, n_in)` and the realised feedback
    /// matrix `a` `(N, N)`.
    pub fn evaluate(&mut self, h: &Tensor, a: &Tensor) -> Result<ObjectiveTerms, FdnLossError> {
        let primary = match &mut self.primary {
            PrimaryLoss::FlatMagnitude { target, channels } => {
                flat_magnitude(h, *target, *channels)?
            }
            PrimaryLoss::MatchSpectrogram { target, loss } => match_spectrogram(h, target, loss)?,
            PrimaryLoss::MatchMelSpectrogram { target, loss } => {
                match_mel_spectrogram(h, target, loss)?
            }
        };
        if self.sparsity_weight == 0.0 {
            return Ok(ObjectiveTerms {
                total: primary.clone(),
                primary,
                sparsity: None,
            });
        }
        let s = sparsity(a)?;
        let total = (&primary + s.affine(self.sparsity_weight, 0.0)?)?;
        Ok(ObjectiveTerms {
            total,
            primary,
            sparsity: Some(s),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    #[test]
    fn align_pads_truncates_and_checks_channels() {
        let t = Tensor::ones(5, DType::F64, &Device::Cpu).unwrap();
        let a = align_target(&t, 8, 1, 1).unwrap();
        assert_eq!(a.dims(), &[8, 1, 1]);
        assert_eq!(
            a.flatten_all().unwrap().to_vec1::<f64>().unwrap(),
            vec![1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
        );
        assert_eq!(align_target(&t, 3, 1, 1).unwrap().dims(), &[3, 1, 1]);
        assert!(matches!(
            align_target(&t, 8, 2, 1),
            Err(FdnLossError::TargetChannels { .. })
        ));
        let t4 = Tensor::ones((2, 2, 2, 2), DType::F64, &Device::Cpu).unwrap();
        assert!(matches!(
            align_target(&t4, 8, 2, 1),
            Err(FdnLossError::TargetRank(_))
        ));
    }

    #[test]
    fn colorless_objective_adds_weighted_sparsity() {
        let mut h = vec![0.0; 16];
        h[0] = 1.0;
        let h = Tensor::from_vec(h, (16, 1, 1), &Device::Cpu).unwrap();
        let a = Tensor::eye(4, DType::F64, &Device::Cpu).unwrap();
        let terms = TrainObjective::colorless().evaluate(&h, &a).unwrap();
        assert!((terms.total.to_scalar::<f64>().unwrap() - 0.2).abs() < 1e-15);
        assert!(terms.primary.to_scalar::<f64>().unwrap().abs() < 1e-15);
    }
}
