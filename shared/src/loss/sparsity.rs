//! Feedback-matrix sparsity penalty (pyFDN `Sparsity`, FLAMO `sparsity_loss`) and the orthogonal
//! parametrisation A = expm(W_u − W_uᵀ) it is usually evaluated through.

use candle_core::{DType, Tensor};

use super::fdn_loss_error::FdnLossError;
use super::torch_ops;

/// pyFDN `Sparsity` of a square matrix A `(N, N)`: −(Σ|A_ij| − N√N) / (N(√N − 1)); 0 for a
/// maximally dense orthogonal matrix, 1 for a permutation. The gradient of |a| at 0 is 0 (torch).
/// N = 1 divides by zero (inf/NaN), as in the reference.
pub fn sparsity(a: &Tensor) -> Result<Tensor, FdnLossError> {
    let (n, m) = a
        .dims2()
        .map_err(|_| FdnLossError::NotSquare(a.dims().to_vec()))?;
    if n != m {
        return Err(FdnLossError::NotSquare(a.dims().to_vec()));
    }
    let nf = n as f64;
    let s = torch_ops::abs(a)?.sum_all()?;
    let denom = nf * (nf.sqrt() - 1.0);
    Ok(s.affine(-1.0 / denom, nf * nf.sqrt() / denom)?)
}

/// FLAMO `sparsity_loss` of the realised feedback matrix: 2-D `(N, N)` as [`sparsity`]; 3-D
/// `(C, N, N)` → mean over C of (Σ|A_c| − N√N) / (N(1 − √N)).
pub fn flamo_sparsity(a: &Tensor) -> Result<Tensor, FdnLossError> {
    match a.rank() {
        2 => sparsity(a),
        3 => {
            let (_, n, m) = a.dims3()?;
            if n != m {
                return Err(FdnLossError::NotSquare(a.dims().to_vec()));
            }
            let nf = n as f64;
            let denom = nf * (1.0 - nf.sqrt());
            let per = torch_ops::abs(a)?.sum((1, 2))?;
            Ok(per
                .affine(1.0 / denom, -nf * nf.sqrt() / denom)?
                .mean_all()?)
        }
        _ => Err(FdnLossError::NotSquare(a.dims().to_vec())),
    }
}

/// Matrix exponential of a square matrix `(N, N)` (scaling and squaring with a degree-18 Taylor
/// polynomial, built from differentiable candle ops so autograd gives its exact derivative).
pub fn matrix_exp(x: &Tensor) -> Result<Tensor, FdnLossError> {
    let (n, m) = x
        .dims2()
        .map_err(|_| FdnLossError::NotSquare(x.dims().to_vec()))?;
    if n != m {
        return Err(FdnLossError::NotSquare(x.dims().to_vec()));
    }
    // 1-norm (max column abs sum) decides the scaling; it does not enter the gradient.
    let cols = x
        .detach()
        .abs()?
        .sum(0)?
        .to_dtype(DType::F64)?
        .to_vec1::<f64>()?;
    let norm = cols.into_iter().fold(0.0, f64::max);
    let squarings = if norm > 0.5 {
        (norm / 0.5).log2().ceil() as i32
    } else {
        0
    };
    let xs = x.affine(0.5f64.powi(squarings), 0.0)?;
    let eye = Tensor::eye(n, x.dtype(), x.device())?;
    let mut e = eye.clone();
    for k in (1..=18).rev() {
        e = (&eye + xs.matmul(&e)?.affine(1.0 / k as f64, 0.0)?)?;
    }
    for _ in 0..squarings {
        e = e.matmul(&e)?;
    }
    Ok(e)
}

/// FLAMO `Matrix(matrix_type="orthogonal")` map: A = expm(W_u − W_uᵀ) with W_u the strict upper
/// triangle of W `(N, N)` (diagonal and lower triangle get zero gradient). Always in SO(N).
pub fn orthogonal_map(w: &Tensor) -> Result<Tensor, FdnLossError> {
    let (n, m) = w
        .dims2()
        .map_err(|_| FdnLossError::NotSquare(w.dims().to_vec()))?;
    if n != m {
        return Err(FdnLossError::NotSquare(w.dims().to_vec()));
    }
    let mask: Vec<f64> = (0..n * n)
        .map(|i| if i % n > i / n { 1.0 } else { 0.0 })
        .collect();
    let mask = super::reduce::tensor_like(mask, &[n, n], w)?;
    let wu = w.mul(&mask)?;
    let skew = (&wu - wu.t()?)?;
    matrix_exp(&skew)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn mat(n: usize, data: Vec<f64>) -> Tensor {
        Tensor::from_vec(data, (n, n), &Device::Cpu).unwrap()
    }

    #[test]
    fn identity_is_fully_sparse_and_hadamard_fully_dense() {
        let id = Tensor::eye(4, DType::F64, &Device::Cpu).unwrap();
        assert!((sparsity(&id).unwrap().to_scalar::<f64>().unwrap() - 1.0).abs() < 1e-15);
        let h = mat(
            4,
            vec![
                0.5, 0.5, 0.5, 0.5, 0.5, -0.5, 0.5, -0.5, 0.5, 0.5, -0.5, -0.5, 0.5, -0.5, -0.5,
                0.5,
            ],
        );
        assert!(sparsity(&h).unwrap().to_scalar::<f64>().unwrap().abs() < 1e-15);
    }

    #[test]
    fn abs_gradient_is_zero_at_zero() {
        let v = Var::from_tensor(&Tensor::eye(3, DType::F64, &Device::Cpu).unwrap()).unwrap();
        let g = sparsity(v.as_tensor()).unwrap().backward().unwrap();
        let g = g.get(v.as_tensor()).unwrap().to_vec2::<f64>().unwrap();
        assert_eq!(g[0][1], 0.0);
        assert!(g[0][0] < 0.0);
    }

    #[test]
    fn matrix_exp_of_rotation_generator() {
        // expm([[0, −θ], [θ, 0]]) = rotation by θ, also for large θ (squaring path).
        for theta in [0.3f64, 2.5, 7.0] {
            let e = matrix_exp(&mat(2, vec![0.0, -theta, theta, 0.0]))
                .unwrap()
                .to_vec2::<f64>()
                .unwrap();
            assert!((e[0][0] - theta.cos()).abs() < 1e-13);
            assert!((e[1][0] - theta.sin()).abs() < 1e-13);
            assert!((e[0][1] + theta.sin()).abs() < 1e-13);
        }
    }

    #[test]
    fn orthogonal_map_is_orthogonal_and_ignores_lower_triangle() {
        let w: Vec<f64> = (0..16).map(|i| ((i * 7 % 5) as f64 - 2.0) * 0.4).collect();
        let v = Var::from_vec(w, (4, 4), &Device::Cpu).unwrap();
        let a = orthogonal_map(v.as_tensor()).unwrap();
        let aat = a.matmul(&a.t().unwrap()).unwrap().to_vec2::<f64>().unwrap();
        for (i, row) in aat.iter().enumerate() {
            for (j, x) in row.iter().enumerate() {
                assert!((x - if i == j { 1.0 } else { 0.0 }).abs() < 1e-13);
            }
        }
        let g = sparsity(&a).unwrap().backward().unwrap();
        let g = g.get(v.as_tensor()).unwrap().to_vec2::<f64>().unwrap();
        for (i, row) in g.iter().enumerate() {
            for (j, x) in row.iter().enumerate() {
                if j <= i {
                    assert_eq!(*x, 0.0);
                }
            }
        }
    }

    #[test]
    fn rejects_non_square() {
        let t = Tensor::zeros((2, 3), DType::F64, &Device::Cpu).unwrap();
        assert!(matches!(sparsity(&t), Err(FdnLossError::NotSquare(_))));
    }
}
