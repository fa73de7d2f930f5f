//! hrtfpykit 0.2.0 `datasets.torch.hrtf_loss`: RMSE / MAE / log-spectral distance between HRTF
//! tensors, scored along the last axis and reduced over every other axis.
//!
//! Semantics (losses.md §1): the last axis (length L, time samples or frequency bins) is scored
//! per row; rows are then reduced by `mean` or `rms`. 1-D inputs return the row value directly.
//! Complex inputs are [`ComplexTensor`] pairs; a real input paired with a complex one is promoted
//! to complex (zero imaginary part), so its sign is discarded by `|·|` in `lsd`/`linear`.

use super::complex::ComplexTensor;
use super::torch_ops;
use candle_core::{DType, Device, Tensor, D};
use std::str::FromStr;

/// Per-row metric of [`hrtf_loss`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// `sqrt(mean_L |p − t|² + ε)` (units of the inputs).
    Rmse,
    /// `mean_L |p − t|` (units of the inputs; ε unused).
    Mae,
    /// Log-spectral distance `sqrt(mean_L (P_dB − T_dB)² + ε)` in dB.
    Lsd,
}

/// How [`Metric::Lsd`] reads its inputs (rmse/mae ignore it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputScale {
    /// Inputs are already in dB (real only).
    Db,
    /// Inputs are linear magnitudes (real values are clamped at ε, complex ones take |z|).
    Linear,
}

/// How row values are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduction {
    /// Arithmetic mean of the row values.
    Mean,
    /// `sqrt(mean(m²) + ε)` of the row values.
    Rms,
}

/// Validation errors of [`hrtf_loss`] (texts as hrtfpykit's `ValueError`s).
#[derive(Debug, thiserror::Error)]
pub enum HrtfLossError {
    /// Unknown metric name.
    #[error("metric must be one of: rmse, mae, lsd")]
    InvalidMetric,
    /// Unknown input scale name.
    #[error("input_scale must be one of: db, linear")]
    InvalidInputScale,
    /// Unknown reduction name.
    #[error("reduction_method must be one of: mean, rms")]
    InvalidReduction,
    /// ε not finite or not > 0.
    #[error("epsilon must be a finite, positive value.")]
    InvalidEpsilon,
    /// Shapes differ (no broadcasting).
    #[error("prediction and target must have the same shape")]
    ShapeMismatch,
    /// 0-d inputs.
    #[error("prediction and target must have at least one dimension")]
    ZeroDimensional,
    /// `lsd` with `input_scale = db` got a complex input.
    #[error("input_scale='db' does not support complex tensors")]
    ComplexDb,
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

fn normalise(s: &str) -> String {
    s.trim().to_lowercase()
}

impl FromStr for Metric {
    type Err = HrtfLossError;
    /// Parses `rmse`/`mae`/`lsd` after trimming and lower-casing.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match normalise(s).as_str() {
            "rmse" => Ok(Self::Rmse),
            "mae" => Ok(Self::Mae),
            "lsd" => Ok(Self::Lsd),
            _ => Err(HrtfLossError::InvalidMetric),
        }
    }
}

impl FromStr for InputScale {
    type Err = HrtfLossError;
    /// Parses `db`/`linear` after trimming and lower-casing.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match normalise(s).as_str() {
            "db" => Ok(Self::Db),
            "linear" => Ok(Self::Linear),
            _ => Err(HrtfLossError::InvalidInputScale),
        }
    }
}

impl FromStr for Reduction {
    type Err = HrtfLossError;
    /// Parses `mean`/`rms` after trimming and lower-casing.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match normalise(s).as_str() {
            "mean" => Ok(Self::Mean),
            "rms" => Ok(Self::Rms),
            _ => Err(HrtfLossError::InvalidReduction),
        }
    }
}

/// A real or complex input of [`hrtf_loss`].
#[derive(Debug, Clone)]
pub enum HrtfInput {
    /// Real tensor (any dtype; integers are computed in f32 as in hrtfpykit).
    Real(Tensor),
    /// Complex tensor as an (re, im) pair.
    Complex(ComplexTensor),
}

impl From<Tensor> for HrtfInput {
    fn from(t: Tensor) -> Self {
        Self::Real(t)
    }
}

impl From<&Tensor> for HrtfInput {
    fn from(t: &Tensor) -> Self {
        Self::Real(t.clone())
    }
}

impl From<ComplexTensor> for HrtfInput {
    fn from(z: ComplexTensor) -> Self {
        Self::Complex(z)
    }
}

impl From<&ComplexTensor> for HrtfInput {
    fn from(z: &ComplexTensor) -> Self {
        Self::Complex(z.clone())
    }
}

impl HrtfInput {
    fn dims(&self) -> &[usize] {
        match self {
            Self::Real(t) => t.dims(),
            Self::Complex(z) => z.re.dims(),
        }
    }

    fn is_complex(&self) -> bool {
        matches!(self, Self::Complex(_))
    }

    /// dtype of the real part.
    fn dtype(&self) -> DType {
        match self {
            Self::Real(t) => t.dtype(),
            Self::Complex(z) => z.re.dtype(),
        }
    }

    fn to_device(&self, device: &Device) -> candle_core::Result<Self> {
        Ok(match self {
            Self::Real(t) => Self::Real(t.to_device(device)?),
            Self::Complex(z) => Self::Complex(ComplexTensor {
                re: z.re.to_device(device)?,
                im: z.im.to_device(device)?,
            }),
        })
    }

    fn device(&self) -> &Device {
        match self {
            Self::Real(t) => t.device(),
            Self::Complex(z) => z.re.device(),
        }
    }

    fn into_complex(self, dtype: DType) -> candle_core::Result<ComplexTensor> {
        Ok(match self {
            Self::Real(t) => ComplexTensor::from_real(t.to_dtype(dtype)?)?,
            Self::Complex(z) => ComplexTensor {
                re: z.re.to_dtype(dtype)?,
                im: z.im.to_dtype(dtype)?,
            },
        })
    }

    fn into_real(self, dtype: DType) -> candle_core::Result<Tensor> {
        match self {
            Self::Real(t) => t.to_dtype(dtype),
            Self::Complex(_) => candle_core::bail!("internal: complex input on the real path"),
        }
    }
}

/// Rank of a float dtype for complex promotion (f16 and bf16 promote to f32 together).
fn promote_float(a: DType, b: DType) -> DType {
    match (a, b) {
        (DType::F64, _) | (_, DType::F64) => DType::F64,
        (x, y) if x == y && x.is_float() => x,
        (x, y) if !y.is_float() && x.is_float() => x,
        (x, y) if !x.is_float() && y.is_float() => y,
        _ => DType::F32,
    }
}

/// Parses the three option names and ε in hrtfpykit's validation order (losses.md §1.1 steps
/// 2–5), then calls [`hrtf_loss`].
pub fn hrtf_loss_from_names(
    prediction: impl Into<HrtfInput>,
    target: impl Into<HrtfInput>,
    metric: &str,
    input_scale: &str,
    reduction: &str,
    epsilon: f64,
) -> Result<Tensor, HrtfLossError> {
    let metric: Metric = metric.parse()?;
    let input_scale: InputScale = input_scale.parse()?;
    let reduction: Reduction = reduction.parse()?;
    hrtf_loss(prediction, target, metric, input_scale, reduction, epsilon)
}

/// hrtfpykit `hrtf_loss`: a differentiable scalar (units: those of the inputs for rmse/mae, dB
/// for lsd). `epsilon` (default in hrtfpykit 1e-12) is added inside every square root.
pub fn hrtf_loss(
    prediction: impl Into<HrtfInput>,
    target: impl Into<HrtfInput>,
    metric: Metric,
    input_scale: InputScale,
    reduction: Reduction,
    epsilon: f64,
) -> Result<Tensor, HrtfLossError> {
    if !epsilon.is_finite() || epsilon <= 0.0 {
        return Err(HrtfLossError::InvalidEpsilon);
    }
    let prediction = prediction.into();
    let target = target.into().to_device(prediction.device())?;
    if prediction.dims() != target.dims() {
        return Err(HrtfLossError::ShapeMismatch);
    }
    if prediction.dims().is_empty() {
        return Err(HrtfLossError::ZeroDimensional);
    }
    let complex = prediction.is_complex() || target.is_complex();
    let row_values = if complex {
        let dtype = promote_float(prediction.dtype(), target.dtype());
        let p = prediction.into_complex(dtype)?;
        let t = target.into_complex(dtype)?;
        complex_rows(&p, &t, metric, input_scale, epsilon)?
    } else {
        let dtype = if prediction.dtype().is_float() {
            prediction.dtype()
        } else if target.dtype().is_float() {
            target.dtype()
        } else {
            DType::F32
        };
        let p = prediction.into_real(dtype)?;
        let t = target.into_real(dtype)?;
        real_rows(&p, &t, metric, input_scale, epsilon)?
    };
    if row_values.rank() == 0 {
        return Ok(row_values);
    }
    Ok(match reduction {
        Reduction::Mean => row_values.mean_all()?,
        Reduction::Rms => (row_values.sqr()?.mean_all()? + epsilon)?.sqrt()?,
    })
}

/// `sqrt(mean_L(x) + ε)` over the last axis.
fn sqrt_mean_eps(squares: &Tensor, epsilon: f64) -> candle_core::Result<Tensor> {
    (squares.mean(D::Minus1)? + epsilon)?.sqrt()
}

/// `20·log10(max(m, ε))` with PyTorch's clamp gradient.
fn to_db(magnitude: &Tensor, epsilon: f64) -> candle_core::Result<Tensor> {
    let scale = 20.0 / std::f64::consts::LN_10;
    torch_ops::clamp_min(magnitude, epsilon)?
        .log()?
        .affine(scale, 0.0)
}

fn real_rows(
    p: &Tensor,
    t: &Tensor,
    metric: Metric,
    scale: InputScale,
    epsilon: f64,
) -> candle_core::Result<Tensor> {
    match metric {
        Metric::Rmse => sqrt_mean_eps(&(p - t)?.sqr()?, epsilon),
        Metric::Mae => torch_ops::abs(&(p - t)?)?.mean(D::Minus1),
        Metric::Lsd => {
            let (pdb, tdb) = match scale {
                InputScale::Db => (p.clone(), t.clone()),
                InputScale::Linear => (
                    to_db(&torch_ops::clamp_min(p, epsilon)?, epsilon)?,
                    to_db(&torch_ops::clamp_min(t, epsilon)?, epsilon)?,
                ),
            };
            sqrt_mean_eps(&(pdb - tdb)?.sqr()?, epsilon)
        }
    }
}

fn complex_rows(
    p: &ComplexTensor,
    t: &ComplexTensor,
    metric: Metric,
    scale: InputScale,
    epsilon: f64,
) -> Result<Tensor, HrtfLossError> {
    Ok(match metric {
        Metric::Rmse => sqrt_mean_eps(&p.sub(t)?.abs_sqr()?, epsilon)?,
        Metric::Mae => {
            let d = p.sub(t)?;
            torch_ops::complex_abs(&d.re, &d.im)?.mean(D::Minus1)?
        }
        Metric::Lsd => match scale {
            InputScale::Db => return Err(HrtfLossError::ComplexDb),
            InputScale::Linear => {
                let pdb = to_db(&torch_ops::complex_abs(&p.re, &p.im)?, epsilon)?;
                let tdb = to_db(&torch_ops::complex_abs(&t.re, &t.im)?, epsilon)?;
                sqrt_mean_eps(&(pdb - tdb)?.sqr()?, epsilon)?
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Var;

    const EPS: f64 = 1e-12;

    fn t(v: &[f64], shape: &[usize]) -> Tensor {
        Tensor::from_slice(v, shape, &Device::Cpu).unwrap()
    }

    fn scalar(x: Tensor) -> f64 {
        x.to_scalar::<f64>().unwrap()
    }

    #[test]
    fn rmse_mean_and_rms_by_hand() {
        // rows: [1, -1] → mean e² = 1; [2, 0] → mean e² = 2.
        let p = t(&[1.0, -1.0, 2.0, 0.0], &[2, 2]);
        let z = p.zeros_like().unwrap();
        let m = hrtf_loss(&p, &z, Metric::Rmse, InputScale::Db, Reduction::Mean, EPS).unwrap();
        let want = ((1.0 + EPS).sqrt() + (2.0 + EPS).sqrt()) / 2.0;
        assert!((scalar(m) - want).abs() < 1e-15);
        let r = hrtf_loss(&p, &z, Metric::Rmse, InputScale::Db, Reduction::Rms, EPS).unwrap();
        let want = ((1.0 + EPS + 2.0 + EPS) / 2.0 + EPS).sqrt();
        assert!((scalar(r) - want).abs() < 1e-15);
    }

    #[test]
    fn one_d_input_skips_the_reduction() {
        let p = t(&[3.0, -1.0], &[2]);
        let z = p.zeros_like().unwrap();
        let m = hrtf_loss(&p, &z, Metric::Mae, InputScale::Db, Reduction::Rms, EPS).unwrap();
        assert_eq!(m.rank(), 0);
        assert_eq!(scalar(m), 2.0);
    }

    #[test]
    fn lsd_linear_clamps_negative_reals_to_epsilon() {
        // -5 clamps to ε = 1e-12 → -240 dB; 1 → 0 dB; difference 240 dB in one of two bins.
        let p = t(&[-5.0, 1.0], &[2]);
        let q = t(&[1.0, 1.0], &[2]);
        let v = hrtf_loss(
            &p,
            &q,
            Metric::Lsd,
            InputScale::Linear,
            Reduction::Mean,
            EPS,
        )
        .unwrap();
        let want = (240.0f64 * 240.0 / 2.0 + EPS).sqrt();
        assert!((scalar(v) - want).abs() < 1e-9);
    }

    #[test]
    fn complex_pred_with_real_target_takes_abs_of_target() {
        let p = ComplexTensor::new(t(&[0.0], &[1]), t(&[2.0], &[1])).unwrap();
        let q = t(&[-2.0], &[1]);
        let v = hrtf_loss(
            &p,
            &q,
            Metric::Lsd,
            InputScale::Linear,
            Reduction::Mean,
            EPS,
        )
        .unwrap();
        assert!((scalar(v) - EPS.sqrt()).abs() < 1e-15);
    }

    #[test]
    fn mae_gradient_is_sign_and_zero_at_equality() {
        let p = Var::from_tensor(&t(&[1.0, 2.0, 3.0, 4.0], &[1, 4])).unwrap();
        let q = t(&[0.0, 2.0, 5.0, 4.0], &[1, 4]);
        let l = hrtf_loss(
            p.as_tensor(),
            &q,
            Metric::Mae,
            InputScale::Db,
            Reduction::Mean,
            EPS,
        )
        .unwrap();
        let g = l.backward().unwrap();
        let g = g
            .get(&p)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        assert_eq!(g, vec![0.25, 0.0, -0.25, 0.0]);
    }

    #[test]
    fn validation_errors_in_order() {
        let p = t(&[1.0], &[1]);
        let bad = |m: &str, s: &str, r: &str, e: f64| {
            hrtf_loss_from_names(&p, &p, m, s, r, e)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            bad("L2", "nope", "x", -1.0),
            "metric must be one of: rmse, mae, lsd"
        );
        assert_eq!(
            bad(" LSD ", "nope", "x", -1.0),
            "input_scale must be one of: db, linear"
        );
        assert_eq!(
            bad("lsd", "DB", "x", -1.0),
            "reduction_method must be one of: mean, rms"
        );
        assert_eq!(
            bad("lsd", "db", "Mean", 0.0),
            "epsilon must be a finite, positive value."
        );
        assert_eq!(
            bad("lsd", "db", "mean", f64::INFINITY),
            "epsilon must be a finite, positive value."
        );
        let q = t(&[1.0, 2.0], &[2]);
        let e = hrtf_loss(&p, &q, Metric::Rmse, InputScale::Db, Reduction::Mean, EPS).unwrap_err();
        assert!(matches!(e, HrtfLossError::ShapeMismatch));
        let s = Tensor::new(1.0f64, &Device::Cpu).unwrap();
        let e = hrtf_loss(&s, &s, Metric::Rmse, InputScale::Db, Reduction::Mean, EPS).unwrap_err();
        assert_eq!(
            e.to_string(),
            "prediction and target must have at least one dimension"
        );
        let z = ComplexTensor::from_real(p.clone()).unwrap();
        let e = hrtf_loss(&z, &p, Metric::Lsd, InputScale::Db, Reduction::Mean, EPS).unwrap_err();
        assert_eq!(
            e.to_string(),
            "input_scale='db' does not support complex tensors"
        );
        // Complex inputs are fine for the other metrics even with input_scale = db.
        assert!(hrtf_loss(&z, &p, Metric::Rmse, InputScale::Db, Reduction::Mean, EPS).is_ok());
    }

    #[test]
    fn integer_inputs_are_computed_in_f32_and_f32_prediction_wins() {
        let p = Tensor::new(&[1u32, 3], &Device::Cpu).unwrap();
        let q = Tensor::new(&[0u32, 3], &Device::Cpu).unwrap();
        let v = hrtf_loss(&p, &q, Metric::Mae, InputScale::Db, Reduction::Mean, EPS).unwrap();
        assert_eq!(v.dtype(), DType::F32);
        let pf = t(&[1.0, 3.0], &[2]).to_dtype(DType::F32).unwrap();
        let qd = t(&[0.0, 3.0], &[2]);
        let v = hrtf_loss(&pf, &qd, Metric::Mae, InputScale::Db, Reduction::Mean, EPS).unwrap();
        assert_eq!(v.dtype(), DType::F32);
        assert_eq!(v.to_scalar::<f32>().unwrap(), 0.5);
    }
}
