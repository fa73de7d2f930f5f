//! Real matrix logarithm (inverse scaling and squaring), used to initialise the orthogonal
//! feedback parametrisation W from a given A₀ (FLAMO: W = real(logm(A₀))).

use crate::Matrix;

/// Inverse of a square matrix by Gauss–Jordan with partial pivoting; `None` when singular.
pub fn inverse(a: &Matrix) -> Option<Matrix> {
    let n = a.rows();
    if a.cols() != n {
        return None;
    }
    let mut m = a.as_slice().to_vec();
    let mut inv = Matrix::identity(n).as_slice().to_vec();
    for k in 0..n {
        let piv = (k..n).max_by(|&i, &j| m[i * n + k].abs().total_cmp(&m[j * n + k].abs()))?;
        if m[piv * n + k] == 0.0 || !m[piv * n + k].is_finite() {
            return None;
        }
        for j in 0..n {
            m.swap(k * n + j, piv * n + j);
            inv.swap(k * n + j, piv * n + j);
        }
        let d = 1.0 / m[k * n + k];
        for j in 0..n {
            m[k * n + j] *= d;
            inv[k * n + j] *= d;
        }
        for i in 0..n {
            if i != k {
                let f = m[i * n + k];
                if f != 0.0 {
                    for j in 0..n {
                        m[i * n + j] -= f * m[k * n + j];
                        inv[i * n + j] -= f * inv[k * n + j];
                    }
                }
            }
        }
    }
    Matrix::from_row_major(n, n, inv)
}

fn add_scaled(a: &Matrix, b: &Matrix, sb: f64) -> Matrix {
    let data = a
        .as_slice()
        .iter()
        .zip(b.as_slice())
        .map(|(x, y)| x + sb * y)
        .collect();
    Matrix::from_row_major(a.rows(), a.cols(), data).expect("same shape")
}

fn scale(a: &Matrix, s: f64) -> Matrix {
    Matrix::from_row_major(
        a.rows(),
        a.cols(),
        a.as_slice().iter().map(|x| x * s).collect(),
    )
    .expect("same shape")
}

fn dist_to_identity(a: &Matrix) -> f64 {
    let n = a.rows();
    (0..n)
        .map(|i| {
            (0..n)
                .map(|j| (a.get(i, j) - if i == j { 1.0 } else { 0.0 }).abs())
                .sum::<f64>()
        })
        .fold(0.0, f64::max)
}

/// Principal real logarithm of a square matrix with no eigenvalues on the closed negative real
/// axis: repeated Denman–Beavers square roots until ‖A^(1/2^k) − I‖₁ < 0.05, then the Taylor
/// series of log(I + X), times 2^k. `None` when an iterate is singular or does not converge
/// (e.g. an eigenvalue at −1, where the logarithm is not real).
pub fn logm(a: &Matrix) -> Option<Matrix> {
    let n = a.rows();
    if a.cols() != n || !a.is_finite() {
        return None;
    }
    let mut y = a.clone();
    let mut k = 0;
    while dist_to_identity(&y) >= 0.05 {
        if k > 60 {
            return None;
        }
        // Denman–Beavers: Y → sqrt(A), Z → sqrt(A)⁻¹.
        let mut z = Matrix::identity(n);
        let mut yy = y.clone();
        for _ in 0..100 {
            let yi = inverse(&yy)?;
            let zi = inverse(&z)?;
            let ny = scale(&add_scaled(&yy, &zi, 1.0), 0.5);
            let nz = scale(&add_scaled(&z, &yi, 1.0), 0.5);
            let change = ny.max_abs_diff(&yy);
            yy = ny;
            z = nz;
            if change <= 1e-15 * (1.0 + yy.as_slice().iter().fold(0.0f64, |m, v| m.max(v.abs()))) {
                break;
            }
        }
        if !yy.is_finite() {
            return None;
        }
        y = yy;
        k += 1;
    }
    let x = add_scaled(&y, &Matrix::identity(n), -1.0);
    let mut term = x.clone();
    let mut sum = x.clone();
    for p in 2..=40 {
        term = term.matmul(&x)?;
        let sign = if p % 2 == 0 { -1.0 } else { 1.0 };
        sum = add_scaled(&sum, &term, sign / p as f64);
    }
    Some(scale(&sum, 2f64.powi(k)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::sparsity::orthogonal_map;
    use candle_core::{Device, Tensor};

    #[test]
    fn logm_inverts_expm_of_a_skew_matrix() {
        let n = 6;
        let w: Vec<f64> = super::super::tests::noise(n * n, 5)
            .iter()
            .map(|v| 1.5 * v)
            .collect();
        let wt = Tensor::from_vec(w, (n, n), &Device::Cpu).unwrap();
        let a = orthogonal_map(&wt).unwrap();
        let a = Matrix::from_row_major(n, n, a.flatten_all().unwrap().to_vec1().unwrap()).unwrap();
        let l = logm(&a).unwrap();
        let lt = Tensor::from_vec(l.as_slice().to_vec(), (n, n), &Device::Cpu).unwrap();
        let back = orthogonal_map(&lt).unwrap();
        let back =
            Matrix::from_row_major(n, n, back.flatten_all().unwrap().to_vec1().unwrap()).unwrap();
        assert!(back.max_abs_diff(&a) < 1e-11, "{}", back.max_abs_diff(&a));
        // The log of an orthogonal matrix is skew-symmetric.
        assert!(l.max_abs_diff(&scale(&l.transpose(), -1.0)) < 1e-10);
        assert!(inverse(&Matrix::zeros(2, 2)).is_none());
    }
}
