//! Small tensor helpers shared by the FDN training losses, with PyTorch's gradient conventions.

use candle_core::{DType, Result, Tensor};

/// `torch.norm(x, p)` of the flattened tensor: p = 2 ("fro") → sqrt(Σx²); p = 1 → Σ|x|;
/// other finite p → (Σ|x|^p)^(1/p).
pub fn norm_p(x: &Tensor, p: f64) -> Result<Tensor> {
    if p == 2.0 {
        x.sqr()?.sum_all()?.sqrt()
    } else if p == 1.0 {
        super::torch_ops::abs(x)?.sum_all()
    } else {
        super::torch_ops::abs(x)?.powf(p)?.sum_all()?.powf(1.0 / p)
    }
}

/// A scalar tensor of `value` with the dtype/device of `like`.
pub fn scalar_like(value: f64, like: &Tensor) -> Result<Tensor> {
    Tensor::new(value, like.device())?.to_dtype(like.dtype())
}

/// A tensor of f64 `data` shaped `shape` with the dtype/device of `like`.
pub fn tensor_like(data: Vec<f64>, shape: &[usize], like: &Tensor) -> Result<Tensor> {
    Tensor::from_vec(data, shape, &candle_core::Device::Cpu)?
        .to_dtype(like.dtype())?
        .to_device(like.device())
}

/// Reads a scalar tensor as f64.
pub fn to_f64(x: &Tensor) -> Result<f64> {
    x.to_dtype(DType::F64)?
        .to_device(&candle_core::Device::Cpu)?
        .to_scalar::<f64>()
}
