//! Errors of the FDN training losses (colorless, sparsity, multi-resolution STFT, mel, objective).

use thiserror::Error;

/// Bad shapes or parameters for an FDN training loss (messages follow the reference libraries).
#[derive(Debug, Error)]
pub enum FdnLossError {
    /// FLAMO's spectrogram losses need equal `(B, T, C)` shapes (or two 1-D signals).
    #[error("y_pred and y_true must have the same shape (n_batch, n_samples, n_channels)")]
    SpectrogramShape,
    /// Reflect padding (n_fft/2) must be shorter than the signal.
    #[error("Padding size should be less than the corresponding input dimension, but got: padding ({pad}, {pad}) for a signal of {len} samples")]
    ReflectPadding {
        /// Padding on each side, samples.
        pad: usize,
        /// Signal length, samples.
        len: usize,
    },
    /// The (padded) signal is shorter than one frame.
    #[error("STFT window n={n_fft} is longer than the response ({len} samples)")]
    SignalTooShort {
        /// Signal length, samples.
        len: usize,
        /// Frame length, samples.
        n_fft: usize,
    },
    /// Sparsity needs a square matrix (or a stack of them).
    #[error("Sparsity expects a square (N, N) matrix (or (C, N, N) for FLAMO), got shape {0:?}")]
    NotSquare(Vec<usize>),
    /// Response tensors are `(n_samples, n_out, n_in)`.
    #[error("response h must be 3-D (n_samples, n_out, n_in), got shape {0:?}")]
    ResponseShape(Vec<usize>),
    /// pyFDN target dimensionality.
    #[error("target must be 1-, 2- or 3-D (n_samples[, n_out[, n_in]]), got shape {0:?}")]
    TargetRank(Vec<usize>),
    /// pyFDN target channel counts must equal the model's.
    #[error("target has {t_out} outputs and {t_in} inputs, but the model has {m_out} outputs and {m_in} inputs")]
    TargetChannels {
        /// Target outputs.
        t_out: usize,
        /// Target inputs.
        t_in: usize,
        /// Model outputs.
        m_out: usize,
        /// Model inputs.
        m_in: usize,
    },
    /// FLAMO `mse_loss` shapes: `(B, F, C)` prediction, `(B, F, 1)` target.
    #[error("mse_loss expects y_pred (batch, bins, channels) and y_true (batch, bins, 1) with equal batch and bins, got {pred:?} and {target:?}")]
    MseShape {
        /// Prediction shape.
        pred: Vec<usize>,
        /// Target shape.
        target: Vec<usize>,
    },
    /// Any other invalid parameter.
    #[error("{0}")]
    BadParameter(String),
    /// Tensor backend error.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}
