//! auralflow 0.1.0 `losses/losses.py`: the weighted component loss of the mask model and the
//! closed-form VAE KL term (losses.md §2).
//!
//! Difference from auralflow: the noise-quality term's per-item norm is the Frobenius norm over
//! *all* non-batch axes for any rank. auralflow passes that axis list to `torch.linalg.norm`,
//! which rejects more than two axes, so the library raises on its own 4-D (batch, channels,
//! freq, frames) spectrograms; Tailor computes the intended per-item norm there (equal to
//! auralflow on the input reshaped to (batch, C·F, T)).

use candle_core::Tensor;

/// Errors of the auralflow losses.
#[derive(Debug, thiserror::Error)]
pub enum AuralflowLossError {
    /// Inputs that the formula combines element-wise have different shapes.
    #[error("{what} must have the same shape, got {a:?} and {b:?}")]
    ShapeMismatch {
        /// Which inputs.
        what: &'static str,
        /// First shape.
        a: Vec<usize>,
        /// Second shape.
        b: Vec<usize>,
    },
    /// component_loss needs a batch axis plus at least one more axis.
    #[error("component_loss inputs need a batch axis and at least one more axis, got shape {0:?}")]
    NeedsBatchAxis(Vec<usize>),
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

fn same_shape(what: &'static str, a: &Tensor, b: &Tensor) -> Result<(), AuralflowLossError> {
    if a.dims() != b.dims() {
        return Err(AuralflowLossError::ShapeMismatch {
            what,
            a: a.dims().to_vec(),
            b: b.dims().to_vec(),
        });
    }
    Ok(())
}

/// Effective (α, β) of `component_loss`: β := 0 when `n_components == 2`, then both are
/// divided by `α + β + 1e-8` when `α + β > 1`.
pub fn component_weights(alpha: f64, beta: f64, n_components: usize) -> (f64, f64) {
    let beta = if n_components == 2 { 0.0 } else { beta };
    if alpha + beta > 1.0 {
        let total = alpha + beta + 1e-8;
        (alpha / total, beta / total)
    } else {
        (alpha, beta)
    }
}

/// auralflow `component_loss` (dimensionless, per element of `filtered_src`):
/// `((1 − α − β)·Σ(filtered_src − target_src)² + α·Σ filtered_res² + β·Σ_b ‖(filtered_res −
/// target_res)[b]‖² / ‖target_res[b]‖²) / numel(filtered_src)`, weights per
/// [`component_weights`]. auralflow defaults: α = 0.2, β = 0.8, n_components = 2 (which drops
/// the third term). The third term is always evaluated, so a zero `target_res` item gives NaN
/// even in 2-component mode, as in auralflow.
pub fn component_loss(
    filtered_src: &Tensor,
    target_src: &Tensor,
    filtered_res: &Tensor,
    target_res: &Tensor,
    alpha: f64,
    beta: f64,
    n_components: usize,
) -> Result<Tensor, AuralflowLossError> {
    same_shape("filtered_src and target_src", filtered_src, target_src)?;
    same_shape("filtered_res and target_res", filtered_res, target_res)?;
    if filtered_res.rank() < 2 {
        return Err(AuralflowLossError::NeedsBatchAxis(
            filtered_res.dims().to_vec(),
        ));
    }
    let separation = (filtered_src - target_src)?.sqr()?.sum_all()?;
    let noise = filtered_res.sqr()?.sum_all()?;
    let summed: Vec<usize> = (1..filtered_res.rank()).collect();
    let norm = target_res.sqr()?.sum_keepdim(summed)?.sqrt()?;
    let filtered_unit = filtered_res.broadcast_div(&norm)?;
    let target_unit = target_res.broadcast_div(&norm)?;
    let quality = (filtered_unit - target_unit)?.sqr()?.sum_all()?;
    let (alpha, beta) = component_weights(alpha, beta, n_components);
    let loss = separation.affine(1.0 - alpha - beta, 0.0)?;
    let loss = (loss + noise.affine(alpha, 0.0)?)?;
    let loss = (loss + quality.affine(beta, 0.0)?)?;
    Ok((loss / filtered_src.elem_count() as f64)?)
}

/// auralflow `WeightedComponentLoss.forward` (the trainer's criterion): builds
/// `filtered_src = mask·target`, `target_res = mixture − target`, `filtered_res =
/// mask·target_res` from magnitude spectrograms and calls [`component_loss`] with its default
/// `n_components = 2` (so `beta` is ignored, as in auralflow).
pub fn weighted_component_loss(
    mask: &Tensor,
    mixture: &Tensor,
    target: &Tensor,
    alpha: f64,
    beta: f64,
) -> Result<Tensor, AuralflowLossError> {
    same_shape("mask and target", mask, target)?;
    same_shape("mixture and target", mixture, target)?;
    let filtered_src = mask.mul(target)?;
    let true_residual = (mixture - target)?;
    let filtered_res = mask.mul(&true_residual)?;
    component_loss(
        &filtered_src,
        target,
        &filtered_res,
        &true_residual,
        alpha,
        beta,
        2,
    )
}

/// auralflow `kl_div_loss`: `0.5·mean(μ² + σ² − ln σ² − 1)` over every element (nats per
/// latent element, not the per-item sum).
pub fn kl_div_loss(mu: &Tensor, sigma: &Tensor) -> Result<Tensor, AuralflowLossError> {
    same_shape("mu and sigma", mu, sigma)?;
    let sigma2 = sigma.sqr()?;
    let inner = ((mu.sqr()? + &sigma2)? - sigma2.log()?)?;
    Ok(((inner - 1.0)?.mean_all()? * 0.5)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn t(v: &[f64], shape: &[usize]) -> Tensor {
        Tensor::from_slice(v, shape, &Device::Cpu).unwrap()
    }

    fn scalar(x: Tensor) -> f64 {
        x.to_scalar::<f64>().unwrap()
    }

    #[test]
    fn weights_follow_auralflow() {
        assert_eq!(component_weights(0.2, 0.8, 2), (0.2, 0.0));
        assert_eq!(component_weights(0.1, 0.3, 3), (0.1, 0.3));
        let (a, b) = component_weights(0.3, 0.9, 3);
        assert!((a - 0.3 / (1.2 + 1e-8)).abs() < 1e-16 && (b - 0.9 / (1.2 + 1e-8)).abs() < 1e-16);
        // n_components = 1 or 4 keep β (the 3rd term is dropped only for exactly 2).
        assert_eq!(component_weights(0.1, 0.3, 4), (0.1, 0.3));
    }

    #[test]
    fn component_loss_by_hand() {
        // batch 2 × 2: S = 1 + 4 = 5; N = 1 + 1 + 4 + 0 = 6;
        // target_res rows have norms 2 and 1; Q = (1+1)/4 + (4+1)/1 = 5.5.
        let fs = t(&[1.0, 0.0, 2.0, 0.0], &[2, 2]);
        let ts = t(&[0.0, 0.0, 0.0, 0.0], &[2, 2]);
        let fr = t(&[1.0, 1.0, 2.0, 0.0], &[2, 2]);
        let tr = t(&[0.0, 2.0, 0.0, 1.0], &[2, 2]);
        let two = scalar(component_loss(&fs, &ts, &fr, &tr, 0.2, 0.8, 2).unwrap());
        assert!((two - (0.8 * 5.0 + 0.2 * 6.0) / 4.0).abs() < 1e-15);
        let three = scalar(component_loss(&fs, &ts, &fr, &tr, 0.1, 0.3, 3).unwrap());
        assert!((three - (0.6 * 5.0 + 0.1 * 6.0 + 0.3 * 5.5) / 4.0).abs() < 1e-15);
    }

    #[test]
    fn four_d_norm_is_per_item_over_all_other_axes() {
        let dev = Device::Cpu;
        let shape = [2usize, 2, 3, 2];
        let n: usize = shape.iter().product();
        let v = |k: f64| {
            (0..n)
                .map(|i| ((i as f64) * k).sin() + 0.1)
                .collect::<Vec<_>>()
        };
        let xs: Vec<Tensor> = [1.3, 0.7, 2.1, 0.4]
            .iter()
            .map(|&k| Tensor::from_vec(v(k), &shape[..], &dev).unwrap())
            .collect();
        let four = scalar(component_loss(&xs[0], &xs[1], &xs[2], &xs[3], 0.1, 0.3, 3).unwrap());
        let flat: Vec<Tensor> = xs.iter().map(|x| x.reshape((2, 6, 2)).unwrap()).collect();
        let three =
            scalar(component_loss(&flat[0], &flat[1], &flat[2], &flat[3], 0.1, 0.3, 3).unwrap());
        assert!((four - three).abs() < 1e-15);
    }

    #[test]
    fn zero_residual_item_gives_nan_even_with_two_components() {
        let x = t(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
        let tr = t(&[0.0, 0.0, 1.0, 1.0], &[2, 2]);
        let fr = t(&[0.0, 0.0, 1.0, 1.0], &[2, 2]);
        assert!(scalar(component_loss(&x, &x, &fr, &tr, 0.2, 0.8, 2).unwrap()).is_nan());
    }

    #[test]
    fn shape_errors() {
        let a = t(&[1.0, 2.0], &[1, 2]);
        let b = t(&[1.0, 2.0], &[2, 1]);
        assert!(matches!(
            component_loss(&a, &b, &a, &a, 0.2, 0.8, 2),
            Err(AuralflowLossError::ShapeMismatch { .. })
        ));
        let c = t(&[1.0, 2.0], &[2]);
        assert!(matches!(
            component_loss(&c, &c, &c, &c, 0.2, 0.8, 2),
            Err(AuralflowLossError::NeedsBatchAxis(_))
        ));
        assert!(kl_div_loss(&a, &b).is_err());
    }

    #[test]
    fn weighted_component_loss_matches_manual_inputs() {
        let m = t(&[0.5, 1.0, 0.0, 0.2], &[2, 2]);
        let mix = t(&[2.0, 1.0, 3.0, 1.0], &[2, 2]);
        let tg = t(&[1.0, 2.0, 1.0, 0.5], &[2, 2]);
        let res = (&mix - &tg).unwrap();
        let direct = component_loss(
            &m.mul(&tg).unwrap(),
            &tg,
            &m.mul(&res).unwrap(),
            &res,
            0.4,
            0.0,
            2,
        );
        let wrapped = weighted_component_loss(&m, &mix, &tg, 0.4, 0.9).unwrap();
        assert_eq!(scalar(direct.unwrap()), scalar(wrapped));
    }

    #[test]
    fn kl_by_hand_and_gradient() {
        // μ = 1, σ = 1 → 0.5·(1 + 1 − 0 − 1) = 0.5; μ = 0, σ = e → 0.5·(e² − 2 − 1).
        let e = std::f64::consts::E;
        let mu = Var::from_tensor(&t(&[1.0, 0.0], &[2])).unwrap();
        let sigma = Var::from_tensor(&t(&[1.0, e], &[2])).unwrap();
        let kl = kl_div_loss(mu.as_tensor(), sigma.as_tensor()).unwrap();
        let want = (0.5 + 0.5 * (e * e - 3.0)) / 2.0;
        assert!((kl.to_scalar::<f64>().unwrap() - want).abs() < 1e-14);
        let g = kl.backward().unwrap();
        // d/dμ = μ/N, d/dσ = (σ − 1/σ)/N with N = 2.
        let gm = g.get(&mu).unwrap().to_vec1::<f64>().unwrap();
        let gs = g.get(&sigma).unwrap().to_vec1::<f64>().unwrap();
        assert!((gm[0] - 0.5).abs() < 1e-15 && gm[1] == 0.0);
        assert!(gs[0].abs() < 1e-15 && (gs[1] - (e - 1.0 / e) / 2.0).abs() < 1e-14);
    }
}
