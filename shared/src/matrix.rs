//! Dense real matrices (row-major `f64`) used for the FDN gains A, B, C, D.

use serde::{Deserialize, Serialize};

/// A dense row-major real matrix of `rows × cols` values (unitless gains).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl Matrix {
    /// Builds a matrix from row-major data; `None` if `data.len() != rows * cols`.
    pub fn from_row_major(rows: usize, cols: usize, data: Vec<f64>) -> Option<Self> {
        (data.len() == rows * cols).then_some(Self { rows, cols, data })
    }

    /// A `rows × cols` matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// The `n × n` identity matrix.
    pub fn identity(n: usize) -> Self {
        let mut m = Self::zeros(n, n);
        for i in 0..n {
            m.data[i * n + i] = 1.0;
        }
        m
    }

    /// A `rows × cols` matrix with every entry equal to `value`.
    pub fn filled(rows: usize, cols: usize, value: f64) -> Self {
        Self {
            rows,
            cols,
            data: vec![value; rows * cols],
        }
    }

    /// Builds a matrix from nested rows; `None` if the rows are ragged.
    pub fn from_rows(rows: &[Vec<f64>]) -> Option<Self> {
        let cols = rows.first().map_or(0, Vec::len);
        if rows.iter().any(|r| r.len() != cols) {
            return None;
        }
        Some(Self {
            rows: rows.len(),
            cols,
            data: rows.concat(),
        })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Row-major values.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }

    /// Mutable row-major values.
    pub fn as_mut_slice(&mut self) -> &mut [f64] {
        &mut self.data
    }

    /// Entry at row `r`, column `c`.
    pub fn get(&self, r: usize, c: usize) -> f64 {
        self.data[r * self.cols + c]
    }

    /// Sets the entry at row `r`, column `c`.
    pub fn set(&mut self, r: usize, c: usize, v: f64) {
        self.data[r * self.cols + c] = v;
    }

    /// Row `r` as a slice.
    pub fn row(&self, r: usize) -> &[f64] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }

    /// Nested rows (for JSON output).
    pub fn to_rows(&self) -> Vec<Vec<f64>> {
        (0..self.rows).map(|r| self.row(r).to_vec()).collect()
    }

    /// The transpose.
    pub fn transpose(&self) -> Matrix {
        let mut t = Matrix::zeros(self.cols, self.rows);
        for r in 0..self.rows {
            for c in 0..self.cols {
                t.data[c * self.rows + r] = self.get(r, c);
            }
        }
        t
    }

    /// Matrix product `self · other`; `None` on a shape mismatch.
    pub fn matmul(&self, other: &Matrix) -> Option<Matrix> {
        if self.cols != other.rows {
            return None;
        }
        let mut out = Matrix::zeros(self.rows, other.cols);
        for r in 0..self.rows {
            for k in 0..self.cols {
                let a = self.get(r, k);
                if a == 0.0 {
                    continue;
                }
                for c in 0..other.cols {
                    out.data[r * other.cols + c] += a * other.get(k, c);
                }
            }
        }
        Some(out)
    }

    /// `y = self · x` for a vector `x` of length `cols`, written into `y` (length `rows`).
    pub fn mul_vec_into(&self, x: &[f64], y: &mut [f64]) {
        for (r, yr) in y.iter_mut().enumerate().take(self.rows) {
            *yr = self.row(r).iter().zip(x).map(|(a, b)| a * b).sum::<f64>();
        }
    }

    /// True when every entry is finite.
    pub fn is_finite(&self) -> bool {
        self.data.iter().all(|v| v.is_finite())
    }

    /// Largest absolute entry-wise difference to `other` (same shape assumed).
    pub fn max_abs_diff(&self, other: &Matrix) -> f64 {
        self.data
            .iter()
            .zip(&other.data)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max)
    }

    /// Spectral norm (largest singular value), from the eigenvalues of `AᵀA` by cyclic Jacobi,
    /// computed on `A/s` with `s` the largest |entry| (so entries near the f64 range cannot
    /// overflow `AᵀA`); NaN when an entry is not finite or the eigenvalues are not (a NaN never
    /// vanishes into a max, so no check can read it as small).
    pub fn spectral_norm(&self) -> f64 {
        let s = self.data.iter().fold(0.0f64, |m, v| {
            if v.is_finite() && m.is_finite() {
                m.max(v.abs())
            } else {
                f64::NAN
            }
        });
        if !s.is_finite() {
            return f64::NAN;
        }
        if s == 0.0 {
            return 0.0;
        }
        let scaled = Matrix::from_row_major(
            self.rows,
            self.cols,
            self.data.iter().map(|v| v / s).collect(),
        )
        .expect("same shape");
        let ata = scaled
            .transpose()
            .matmul(&scaled)
            .expect("AᵀA shapes always agree");
        let eig = crate::linalg::symmetric_eigenvalues(&ata);
        if eig.iter().any(|e| !e.is_finite()) {
            return f64::NAN;
        }
        s * eig.into_iter().fold(0.0, f64::max).max(0.0).sqrt()
    }
}

/// Determinant of a square matrix by Gaussian elimination with partial pivoting.
pub fn determinant(a: &Matrix) -> f64 {
    let n = a.rows();
    let mut m = a.as_slice().to_vec();
    let mut det = 1.0;
    for k in 0..n {
        let piv = (k..n)
            .max_by(|&i, &j| m[i * n + k].abs().total_cmp(&m[j * n + k].abs()))
            .unwrap_or(k);
        if m[piv * n + k] == 0.0 {
            return 0.0;
        }
        if piv != k {
            for j in 0..n {
                m.swap(k * n + j, piv * n + j);
            }
            det = -det;
        }
        det *= m[k * n + k];
        for i in k + 1..n {
            let f = m[i * n + k] / m[k * n + k];
            for j in k..n {
                m[i * n + j] -= f * m[k * n + j];
            }
        }
    }
    det
}

/// Haar-random `n × n` matrix in SO(N) (pyFDN: QR of a standard normal matrix, columns signed by
/// diag R, last column negated if det < 0), drawn from `rng`.
pub fn random_orthogonal<R: rand::Rng>(n: usize, rng: &mut R) -> Matrix {
    use rand_distr::{Distribution, StandardNormal};
    let g: Vec<f64> = (0..n * n).map(|_| StandardNormal.sample(rng)).collect();
    // Modified Gram–Schmidt on the columns gives Q with positive diag R directly.
    let mut q = vec![0.0; n * n];
    for j in 0..n {
        let mut v: Vec<f64> = (0..n).map(|i| g[i * n + j]).collect();
        for k in 0..j {
            let dot: f64 = (0..n).map(|i| q[i * n + k] * v[i]).sum();
            for (i, vi) in v.iter_mut().enumerate() {
                *vi -= dot * q[i * n + k];
            }
        }
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        for (i, vi) in v.iter().enumerate() {
            q[i * n + j] = vi / norm;
        }
    }
    let mut q = Matrix {
        rows: n,
        cols: n,
        data: q,
    };
    if determinant(&q) < 0.0 {
        for i in 0..n {
            q.set(i, n - 1, -q.get(i, n - 1));
        }
    }
    q
}
