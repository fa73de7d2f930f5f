//! Element-wise ops whose gradients follow PyTorch's conventions where candle's differ.
//!
//! candle's `abs` has gradient +1 at 0 and its `maximum`/`clamp` split the gradient 0.5/0.5 on
//! ties; PyTorch gives `abs` gradient 0 at 0 (real and complex) and lets `clamp(x, min)` pass the
//! whole gradient wherever `x >= min`. The reference losses depend on both, so these helpers
//! rebuild them from candle primitives (detached masks and `where_cond`), which keeps them
//! differentiable on every device.

use candle_core::{Result, Tensor};

/// `|x|` with PyTorch's gradient `sign(x)` (0 at `x = 0`).
pub fn abs(x: &Tensor) -> Result<Tensor> {
    let sign = x.detach().sign()?;
    x.mul(&sign)
}

/// `|re + i·im|` with PyTorch's gradient `(re, im) / |z|` (0 at `z = 0`).
///
/// The value is exactly `sqrt(re² + im²)`; the gradient is carried by a term whose value is
/// exactly zero.
pub fn complex_abs(re: &Tensor, im: &Tensor) -> Result<Tensor> {
    let (re0, im0) = (re.detach(), im.detach());
    let m0 = (re0.sqr()? + im0.sqr()?)?.sqrt()?;
    let zero = m0.zeros_like()?;
    let nonzero = m0.gt(0.0)?;
    let u_re = nonzero.where_cond(&re0.div(&m0)?, &zero)?;
    let u_im = nonzero.where_cond(&im0.div(&m0)?, &zero)?;
    let lin = (re.mul(&u_re)? + im.mul(&u_im)?)?;
    let delta = (&lin - lin.detach())?;
    m0 + delta
}

/// `max(x, min)` with PyTorch's `clamp(min=…)` gradient: passed through wherever `x >= min`
/// (inclusive) and where `x` is NaN (which propagates, as in PyTorch), 0 below `min`.
pub fn clamp_min(x: &Tensor, min: f64) -> Result<Tensor> {
    let below = x.detach().lt(min)?;
    let floor = x.detach().ones_like()?.affine(0.0, min)?;
    below.where_cond(&floor, x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn grad_of(x: &Var, y: &Tensor) -> Vec<f64> {
        let g = y.sum_all().unwrap().backward().unwrap();
        g.get(x).unwrap().to_vec1::<f64>().unwrap()
    }

    #[test]
    fn abs_gradient_is_zero_at_zero() {
        let x = Var::new(&[-2.0f64, 0.0, 3.0], &Device::Cpu).unwrap();
        let y = abs(x.as_tensor()).unwrap();
        assert_eq!(y.to_vec1::<f64>().unwrap(), vec![2.0, 0.0, 3.0]);
        assert_eq!(grad_of(&x, &y), vec![-1.0, 0.0, 1.0]);
    }

    #[test]
    fn complex_abs_value_and_gradient() {
        let re = Var::new(&[3.0f64, 0.0], &Device::Cpu).unwrap();
        let im = Var::new(&[4.0f64, 0.0], &Device::Cpu).unwrap();
        let y = complex_abs(re.as_tensor(), im.as_tensor()).unwrap();
        assert_eq!(y.to_vec1::<f64>().unwrap(), vec![5.0, 0.0]);
        let g = y.sum_all().unwrap().backward().unwrap();
        let gre = g.get(&re).unwrap().to_vec1::<f64>().unwrap();
        let gim = g.get(&im).unwrap().to_vec1::<f64>().unwrap();
        assert!((gre[0] - 0.6).abs() < 1e-15 && (gim[0] - 0.8).abs() < 1e-15);
        assert_eq!((gre[1], gim[1]), (0.0, 0.0));
    }

    #[test]
    fn clamp_min_is_inclusive_and_propagates_nan() {
        let x = Var::new(&[0.5f64, 1.0, 2.0, f64::NAN], &Device::Cpu).unwrap();
        let y = clamp_min(x.as_tensor(), 1.0).unwrap();
        let v = y.to_vec1::<f64>().unwrap();
        assert_eq!(&v[..3], &[1.0, 1.0, 2.0]);
        assert!(v[3].is_nan());
        let g = grad_of(&x, &y);
        assert_eq!(&g[..3], &[0.0, 1.0, 1.0]);
    }
}
