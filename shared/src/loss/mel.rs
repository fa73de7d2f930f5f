//! FLAMO `mel_mss_loss`: multi-resolution mel power-spectrogram loss (nnAudio MelSpectrogram).
//!
//! Per window size n: DFT-grid STFT (periodic Hann, centred, reflect padding n/2, hop
//! int(n·(1 − overlap))), power |X|² (computed as (sqrt(re² + im²))² like nnAudio), then a Slaney
//! mel filterbank with area normalisation, n_mels = n/8, fmin = 0, fmax = sr//2. The filterbank is
//! built the way nnAudio builds it (float64 math, stored as float32): [`crate::analysis::mel`],
//! re-exported here.

use candle_core::Tensor;
use std::sync::Arc;

use super::fdn_loss_error::FdnLossError;
use super::fft::{stft_magnitude, SpectralKernel};
use super::mss::{prepare, snr_mask, SpectrogramLossConfig, TruthCache};
use super::reduce::{norm_p, tensor_like, to_f64};
pub use crate::analysis::mel::{
    hz_to_mel_slaney, mel_bands, mel_filterbank, mel_to_hz_slaney, MelBand,
};

/// FLAMO `mel_mss_loss` (no `form`; holds the measured noise energy like FLAMO).
#[derive(Debug, Clone)]
pub struct MelMssLoss {
    /// Constructor options.
    pub config: SpectrogramLossConfig,
    kernels: Vec<Arc<SpectralKernel>>,
    banks: Vec<Vec<f64>>,
    truth: TruthCache,
}

impl MelMssLoss {
    /// Builds the loss, its DFT-grid STFT kernels and mel filterbanks (n_mels = n/8).
    pub fn new(config: SpectrogramLossConfig) -> Result<Self, FdnLossError> {
        config.validate()?;
        if let Some(&n) = config.nfft.iter().find(|&&n| n / 8 == 0) {
            return Err(FdnLossError::BadParameter(format!(
                "n_fft {n} gives n_mels = n_fft // 8 = 0"
            )));
        }
        let sr = f64::from(config.sample_rate);
        let fmax = f64::from(config.sample_rate / 2);
        let kernels = config
            .nfft
            .iter()
            .map(|&n| Arc::new(SpectralKernel::nnaudio_dft(n, sr, config.precision)))
            .collect();
        let banks = config
            .nfft
            .iter()
            .map(|&n| mel_filterbank(sr, n, n / 8, 0.0, fmax))
            .collect();
        Ok(Self {
            config,
            kernels,
            banks,
            truth: TruthCache::default(),
        })
    }

    /// The mel filterbank used for the i-th window size, `(n/8, n/2+1)` row-major.
    pub fn filterbank(&self, i: usize) -> Option<&[f64]> {
        self.banks.get(i).map(Vec::as_slice)
    }

    /// The loss (scalar) and each resolution's contribution.
    pub fn forward_terms(
        &mut self,
        y_pred: &Tensor,
        y_true: &Tensor,
    ) -> Result<(Tensor, Vec<Tensor>), FdnLossError> {
        let cfg = &self.config;
        let rows = prepare(y_pred, y_true, cfg.energy_norm)?;
        let cached = self.truth.get(y_true).map(<[Tensor]>::to_vec);
        let mut fresh = Vec::new();
        let mut terms = Vec::with_capacity(self.kernels.len());
        let mut noise_energy = cfg.noise_energy;
        for (idx, ((kernel, bank), &n)) in self
            .kernels
            .iter()
            .zip(&self.banks)
            .zip(&cfg.nfft)
            .enumerate()
        {
            let hop = cfg.hop(n);
            let n_mels = n / 8;
            let basis = tensor_like(bank.clone(), &[n_mels, n / 2 + 1], &rows.pred)?;
            let mel = |x: &Tensor| -> Result<Tensor, FdnLossError> {
                let power = stft_magnitude(x, kernel.clone(), hop, n / 2)?.sqr()?;
                let m = basis.broadcast_matmul(&power)?;
                let (_, h, w) = m.dims3()?;
                Ok(m.reshape((rows.batch, h, w, rows.channels))?)
            };
            let yp = mel(&rows.pred)?;
            let yt = match &cached {
                Some(c) => c[idx].clone(),
                None => mel(&rows.truth)?,
            };
            fresh.push(yt.clone());
            let (mask, count) = if cfg.apply_mask {
                let (mask, count, noise) =
                    snr_mask(&yt, noise_energy, cfg.sample_rate, hop, cfg.threshold)?;
                noise_energy = Some(noise);
                (Some(mask), count)
            } else {
                (None, yt.elem_count() as f64)
            };
            let masked = |d: Tensor| -> candle_core::Result<Tensor> {
                match &mask {
                    Some(m) => d.mul(m),
                    None => Ok(d),
                }
            };
            let mut term = norm_p(&masked((&yt - &yp)?)?, cfg.p)?.affine(1.0 / count, 0.0)?;
            if cfg.log_term {
                let dlog = masked((yt.log()? - yp.log()?)?)?;
                term = (term + norm_p(&dlog, cfg.p)?.affine(cfg.alpha / count, 0.0)?)?;
            }
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

    /// The loss (scalar tensor, dimensionless).
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
    use candle_core::Device;

    #[test]
    fn identical_signals_give_zero_and_different_positive() {
        let a: Vec<f64> = (0..500).map(|i| (i as f64 * 0.3).sin()).collect();
        let b: Vec<f64> = (0..500).map(|i| (i as f64 * 0.7).sin()).collect();
        let a = Tensor::from_vec(a, (1, 500, 1), &Device::Cpu).unwrap();
        let b = Tensor::from_vec(b, (1, 500, 1), &Device::Cpu).unwrap();
        let mut l = MelMssLoss::new(SpectrogramLossConfig {
            nfft: vec![64, 128],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(l.value(&a, &a).unwrap(), 0.0);
        assert!(l.value(&a, &b).unwrap() > 0.0);
    }
}
