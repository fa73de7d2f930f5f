//! Small dense linear algebra: complex LU solves and symmetric eigenvalues.

use crate::matrix::Matrix;
use num_complex::Complex64;

/// Solves `M X = R` in place for square complex `M` (`n × n`, row-major) and right-hand side `R`
/// (`n × k`, row-major) by LU with partial pivoting. `m` is overwritten by its factors, `r` by `X`.
/// Returns `false` if `M` is numerically singular (a zero pivot).
pub fn complex_solve_in_place(
    m: &mut [Complex64],
    r: &mut [Complex64],
    n: usize,
    k: usize,
) -> bool {
    debug_assert_eq!(m.len(), n * n);
    debug_assert_eq!(r.len(), n * k);
    for col in 0..n {
        // Pivot: largest magnitude in this column at or below the diagonal.
        let mut piv = col;
        let mut best = m[col * n + col].norm_sqr();
        for row in col + 1..n {
            let v = m[row * n + col].norm_sqr();
            if v > best {
                best = v;
                piv = row;
            }
        }
        if best == 0.0 || !best.is_finite() {
            return false;
        }
        if piv != col {
            for j in 0..n {
                m.swap(col * n + j, piv * n + j);
            }
            for j in 0..k {
                r.swap(col * k + j, piv * k + j);
            }
        }
        let inv = m[col * n + col].inv();
        for row in col + 1..n {
            let f = m[row * n + col] * inv;
            if f == Complex64::new(0.0, 0.0) {
                continue;
            }
            m[row * n + col] = f;
            for j in col + 1..n {
                let v = m[col * n + j];
                m[row * n + j] -= f * v;
            }
            for j in 0..k {
                let v = r[col * k + j];
                r[row * k + j] -= f * v;
            }
        }
    }
    // Back substitution.
    for col in (0..n).rev() {
        let inv = m[col * n + col].inv();
        for j in 0..k {
            let mut acc = r[col * k + j];
            for c in col + 1..n {
                acc -= m[col * n + c] * r[c * k + j];
            }
            r[col * k + j] = acc * inv;
        }
    }
    true
}

/// Eigenvalues of a symmetric real matrix by the cyclic Jacobi method (accurate to rounding).
pub fn symmetric_eigenvalues(s: &Matrix) -> Vec<f64> {
    let n = s.rows();
    let mut a = s.as_slice().to_vec();
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j] * a[i * n + j])
            .sum();
        let diag: f64 = (0..n).map(|i| a[i * n + i] * a[i * n + i]).sum();
        if off <= 1e-30 * diag.max(f64::MIN_POSITIVE) {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let app = a[p * n + p];
                let aqq = a[q * n + q];
                let theta = (aqq - app) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let sn = t * c;
                for k in 0..n {
                    let akp = a[k * n + p];
                    let akq = a[k * n + q];
                    a[k * n + p] = c * akp - sn * akq;
                    a[k * n + q] = sn * akp + c * akq;
                }
                for k in 0..n {
                    let apk = a[p * n + k];
                    let aqk = a[q * n + k];
                    a[p * n + k] = c * apk - sn * aqk;
                    a[q * n + k] = sn * apk + c * aqk;
                }
            }
        }
    }
    (0..n).map(|i| a[i * n + i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solve_matches_known_system() {
        let c = |re: f64, im: f64| Complex64::new(re, im);
        let m0 = vec![
            c(2.0, 1.0),
            c(0.5, 0.0),
            c(0.0, 0.0),
            c(1.0, 0.0),
            c(3.0, -1.0),
            c(1.0, 1.0),
            c(0.0, 2.0),
            c(1.0, 0.0),
            c(4.0, 0.0),
        ];
        let x = vec![c(1.0, -1.0), c(0.5, 0.25), c(-2.0, 3.0)];
        let mut r: Vec<Complex64> = (0..3)
            .map(|i| (0..3).map(|j| m0[i * 3 + j] * x[j]).sum())
            .collect();
        let mut m = m0.clone();
        assert!(complex_solve_in_place(&mut m, &mut r, 3, 1));
        for (a, b) in r.iter().zip(&x) {
            assert!((a - b).norm() < 1e-13);
        }
    }

    #[test]
    fn singular_system_is_reported() {
        let mut m = vec![
            Complex64::new(1.0, 0.0),
            Complex64::new(2.0, 0.0),
            Complex64::new(2.0, 0.0),
            Complex64::new(4.0, 0.0),
        ];
        let mut r = vec![Complex64::new(1.0, 0.0); 2];
        assert!(!complex_solve_in_place(&mut m, &mut r, 2, 1));
    }

    #[test]
    fn spectral_norm_of_diagonal_and_rotation() {
        let d = Matrix::from_rows(&[vec![3.0, 0.0], vec![0.0, -5.0]]).unwrap();
        assert!((d.spectral_norm() - 5.0).abs() < 1e-12);
        let (s, c) = (0.3f64.sin(), 0.3f64.cos());
        let r = Matrix::from_rows(&[vec![c, -s], vec![s, c]]).unwrap();
        assert!((r.spectral_norm() - 1.0).abs() < 1e-14);
        let g = Matrix::from_rows(&[vec![1.0, 2.0], vec![3.0, 4.0]]).unwrap();
        assert!((g.spectral_norm() - 5.464985704219043).abs() < 1e-12);
    }
}
