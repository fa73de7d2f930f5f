//! Colorless (flat magnitude) losses: pyFDN `FlatMagnitude` and FLAMO `mse_loss`.

use candle_core::Tensor;

use super::fdn_loss_error::FdnLossError;
use super::fft::rfft;
use super::reduce::scalar_like;

/// How a magnitude response is combined over the outputs before the distance (pyFDN `channels`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelReduce {
    /// Sum of magnitudes over outputs (FLAMO `mse_loss` convention; pyFDN default).
    Sum,
    /// Mean of magnitudes over outputs.
    Mean,
    /// Keep every (out, in) path.
    None,
}

impl ChannelReduce {
    /// Parses pyFDN's `channels` string ("sum", "mean", "none").
    pub fn parse(s: &str) -> Result<Self, FdnLossError> {
        match s {
            "sum" => Ok(Self::Sum),
            "mean" => Ok(Self::Mean),
            "none" => Ok(Self::None),
            other => Err(FdnLossError::BadParameter(format!(
                "channels must be 'sum', 'mean' or 'none', got '{other}'"
            ))),
        }
    }
}

/// |rfft(h, axis 0)| of a response `h` `(n_samples, n_out, n_in)` → `(n_out, n_in, n_samples/2+1)`
/// (rectangular window, no padding; linear magnitude).
pub fn magnitude_response(h: &Tensor) -> Result<Tensor, FdnLossError> {
    if h.rank() != 3 {
        return Err(FdnLossError::ResponseShape(h.dims().to_vec()));
    }
    let hp = h.permute((1, 2, 0))?.contiguous()?;
    let (re, im) = rfft(&hp)?;
    Ok((re.sqr()? + im.sqr()?)?.sqrt()?)
}

/// pyFDN `FlatMagnitude(target, channels)` of a response `h` `(n_samples, n_out, n_in)`:
/// mean over bins (and kept channels) of (reduce_out |H| − target)², dimensionless.
pub fn flat_magnitude(
    h: &Tensor,
    target: f64,
    channels: ChannelReduce,
) -> Result<Tensor, FdnLossError> {
    let mag = magnitude_response(h)?;
    let reduced = match channels {
        ChannelReduce::Sum => mag.sum(0)?,
        ChannelReduce::Mean => mag.mean(0)?,
        ChannelReduce::None => mag,
    };
    let t = scalar_like(target, &reduced)?;
    Ok(reduced.broadcast_sub(&t)?.sqr()?.mean_all()?)
}

/// FLAMO `mse_loss`: mean((Σ_channels y_pred − y_true[..., 0])²) for y_pred `(B, F, C)` and
/// y_true `(B, F, 1)` (typically ones), dimensionless.
pub fn flamo_mse_loss(y_pred: &Tensor, y_true: &Tensor) -> Result<Tensor, FdnLossError> {
    let bad = || FdnLossError::MseShape {
        pred: y_pred.dims().to_vec(),
        target: y_true.dims().to_vec(),
    };
    let (b, f, _) = y_pred.dims3().map_err(|_| bad())?;
    let (tb, tf, tc) = y_true.dims3().map_err(|_| bad())?;
    if (b, f, 1) != (tb, tf, tc) {
        return Err(bad());
    }
    let s = y_pred.sum(2)?;
    let t = y_true.squeeze(2)?;
    Ok((s - t)?.sqr()?.mean_all()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn unit_impulse_is_perfectly_flat() {
        let mut h = vec![0.0; 64];
        h[0] = 1.0;
        let t = Tensor::from_vec(h, (64, 1, 1), &Device::Cpu).unwrap();
        let l = flat_magnitude(&t, 1.0, ChannelReduce::Sum).unwrap();
        assert!(l.to_scalar::<f64>().unwrap().abs() < 1e-15);
        let l = flat_magnitude(&t, 0.5, ChannelReduce::Sum).unwrap();
        assert!((l.to_scalar::<f64>().unwrap() - 0.25).abs() < 1e-15);
    }

    #[test]
    fn sum_channels_doubles_two_identical_outputs() {
        // Two identical unit impulses on two outputs: summed magnitude = 2 → (2 − 1)² = 1.
        let mut h = vec![0.0; 32 * 2];
        h[0] = 1.0;
        h[1] = 1.0;
        let t = Tensor::from_vec(h, (32, 2, 1), &Device::Cpu).unwrap();
        let sum = flat_magnitude(&t, 1.0, ChannelReduce::Sum).unwrap();
        let mean = flat_magnitude(&t, 1.0, ChannelReduce::Mean).unwrap();
        assert!((sum.to_scalar::<f64>().unwrap() - 1.0).abs() < 1e-15);
        assert!(mean.to_scalar::<f64>().unwrap().abs() < 1e-15);
    }

    #[test]
    fn flat_magnitude_gradient_is_finite_and_matches_fd() {
        let n = 32;
        let x: Vec<f64> = (0..n).map(|i| ((i * 37 % 11) as f64 - 5.0) / 7.0).collect();
        let v = Var::from_vec(x.clone(), (n, 1, 1), &Device::Cpu).unwrap();
        let l = flat_magnitude(v.as_tensor(), 1.0, ChannelReduce::Sum).unwrap();
        let g = l
            .backward()
            .unwrap()
            .get(v.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        let f = |x: &[f64]| {
            let t = Tensor::from_vec(x.to_vec(), (n, 1, 1), &Device::Cpu).unwrap();
            flat_magnitude(&t, 1.0, ChannelReduce::Sum)
                .unwrap()
                .to_scalar::<f64>()
                .unwrap()
        };
        let mut xs = x.clone();
        for i in 0..n {
            xs[i] = x[i] + 1e-6;
            let p = f(&xs);
            xs[i] = x[i] - 1e-6;
            let m = f(&xs);
            xs[i] = x[i];
            assert!(((p - m) / 2e-6 - g[i]).abs() < 1e-6, "bin {i}");
        }
    }

    #[test]
    fn mse_rejects_bad_target() {
        let p = Tensor::zeros((1, 5, 2), candle_core::DType::F64, &Device::Cpu).unwrap();
        let t = Tensor::zeros((1, 5, 2), candle_core::DType::F64, &Device::Cpu).unwrap();
        assert!(matches!(
            flamo_mse_loss(&p, &t),
            Err(FdnLossError::MseShape { .. })
        ));
    }
}
