//! The feedback-matrix product `A·V` on a block (`N × b`, line-major), in three kinds: dense,
//! Householder (`A = g·(I − 2ŵŵᵀ)`, O(N) per sample) and Sylvester–Hadamard (`A = c·H_N`,
//! fast Walsh–Hadamard transform, O(N log N) per sample). The kind is detected from A.

use super::simd::{fmadd, round_up};
use crate::matrix::Matrix;

/// Largest entry-wise deviation (absolute, unitless) tolerated when recognising a structured A.
pub const STRUCTURE_TOLERANCE: f64 = 1e-9;

/// Time columns per dense micro-kernel tile (two AVX registers).
pub const TILE_T: usize = 16;
/// Rows per dense micro-kernel tile.
const TILE_R: usize = 4;

/// The matrix kind the engine uses for `A·v`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatrixKind {
    /// General dense `N × N` product (register-blocked GEMM).
    Dense,
    /// Scaled Householder reflection `g·(I − 2ŵŵᵀ)`.
    Householder,
    /// Scaled Sylvester–Hadamard matrix `c·H_N`, N a power of two.
    Hadamard,
}

impl MatrixKind {
    /// Lower-case name ("dense", "householder", "hadamard").
    pub fn name(self) -> &'static str {
        match self {
            MatrixKind::Dense => "dense",
            MatrixKind::Householder => "householder",
            MatrixKind::Hadamard => "hadamard",
        }
    }
}

/// A prepared feedback-matrix operator (f32 coefficients, padded to the engine's row count).
#[derive(Debug, Clone)]
pub enum MatrixOp {
    /// Dense A, `rows × n` row-major, rows ≥ N padded with zeros.
    Dense {
        /// Row-major coefficients.
        a: Vec<f32>,
        /// N.
        n: usize,
    },
    /// `g·(I − 2ŵŵᵀ)`.
    Householder {
        /// Unit vector ŵ (length N).
        w: Vec<f32>,
        /// `2·g·ŵ` (length N).
        gw2: Vec<f32>,
        /// Gain g.
        g: f32,
    },
    /// `c·H_N` (Sylvester order: `H[i][j] = (−1)^popcount(i & j)`).
    Hadamard {
        /// N (a power of two).
        n: usize,
        /// Scale c.
        scale: f32,
    },
}

/// Sylvester–Hadamard sign `(−1)^popcount(i & j)`.
fn hadamard_sign(i: usize, j: usize) -> f64 {
    if (i & j).count_ones().is_multiple_of(2) {
        1.0
    } else {
        -1.0
    }
}

/// Recognises `A = c·H_N` and returns c.
pub fn detect_hadamard(a: &Matrix) -> Option<f64> {
    let n = a.rows();
    if n < 2 || !n.is_power_of_two() || a.cols() != n {
        return None;
    }
    let c = a.get(0, 0);
    if c == 0.0 {
        return None;
    }
    let ok = (0..n).all(|i| {
        (0..n).all(|j| (a.get(i, j) - c * hadamard_sign(i, j)).abs() <= STRUCTURE_TOLERANCE)
    });
    ok.then_some(c)
}

/// Recognises `A = g·(I − 2ŵŵᵀ)` (N ≥ 3) and returns `(g, ŵ)`.
pub fn detect_householder(a: &Matrix) -> Option<(f64, Vec<f64>)> {
    let n = a.rows();
    if n < 3 || a.cols() != n {
        return None;
    }
    let trace: f64 = (0..n).map(|i| a.get(i, i)).sum();
    let fro = a.as_slice().iter().map(|v| v * v).sum::<f64>().sqrt();
    if trace == 0.0 || fro == 0.0 {
        return None;
    }
    // ‖g·H‖_F = |g|·√N and trace(g·H) = g·(N − 2).
    let g = trace.signum() * fro / (n as f64).sqrt();
    let m = |i: usize, j: usize| f64::from(u8::from(i == j)) - a.get(i, j) / g;
    let k = (0..n).max_by(|&x, &y| m(x, x).total_cmp(&m(y, y)))?;
    let mkk = m(k, k);
    if mkk <= 1e-12 {
        return None;
    }
    let w: Vec<f64> = (0..n).map(|i| m(i, k) / (2.0 * mkk).sqrt()).collect();
    let ok = (0..n).all(|i| {
        (0..n).all(|j| {
            let expect = g * (f64::from(u8::from(i == j)) - 2.0 * w[i] * w[j]);
            (a.get(i, j) - expect).abs() <= STRUCTURE_TOLERANCE
        })
    });
    ok.then_some((g, w))
}

impl MatrixOp {
    /// The cheapest exact operator for A (dense unless a structure is recognised), or dense
    /// when `force_dense`. `rows` is the engine's padded row count (≥ N, multiple of 8).
    pub fn new(a: &Matrix, rows: usize, force_dense: bool) -> Self {
        let n = a.rows();
        if !force_dense {
            if let Some(c) = detect_hadamard(a) {
                return MatrixOp::Hadamard { n, scale: c as f32 };
            }
            if let Some((g, w)) = detect_householder(a) {
                return MatrixOp::Householder {
                    w: w.iter().map(|&x| x as f32).collect(),
                    gw2: w.iter().map(|&x| (2.0 * g * x) as f32).collect(),
                    g: g as f32,
                };
            }
        }
        let mut data = vec![0.0f32; rows.max(n) * n];
        for (dst, src) in data.iter_mut().zip(a.as_slice()) {
            *dst = *src as f32;
        }
        MatrixOp::Dense { a: data, n }
    }

    /// The kind of this operator.
    pub fn kind(&self) -> MatrixKind {
        match self {
            MatrixOp::Dense { .. } => MatrixKind::Dense,
            MatrixOp::Householder { .. } => MatrixKind::Householder,
            MatrixOp::Hadamard { .. } => MatrixKind::Hadamard,
        }
    }

    /// `av[i][t] = Σ_j A[i][j]·v[j][t]` for rows `i < N` and columns `t < round_up(b, 16)`
    /// (line-major blocks with row stride `stride`, a multiple of 16 ≥ that width). `scratch`
    /// holds at least `stride` values.
    #[inline(always)]
    pub fn apply<const FMA: bool>(
        &self,
        v: &[f32],
        av: &mut [f32],
        scratch: &mut [f32],
        stride: usize,
        b: usize,
    ) {
        let bb = round_up(b, TILE_T).min(stride);
        match self {
            MatrixOp::Dense { a, n } => dense::<FMA>(a, *n, v, av, stride, bb),
            MatrixOp::Householder { w, gw2, g } => {
                householder::<FMA>(w, gw2, *g, v, av, &mut scratch[..bb], stride, bb)
            }
            MatrixOp::Hadamard { n, scale } => hadamard(*n, *scale, v, av, stride, bb),
        }
    }
}

#[inline(always)]
fn dense<const FMA: bool>(
    a: &[f32],
    n: usize,
    v: &[f32],
    av: &mut [f32],
    stride: usize,
    bb: usize,
) {
    let rows = round_up(n, TILE_R);
    let mut t0 = 0;
    while t0 + TILE_T <= bb {
        let mut i0 = 0;
        while i0 < rows {
            let mut acc = [[0f32; TILE_T]; TILE_R];
            for j in 0..n {
                let Some(vj) = v.get(j * stride + t0..j * stride + t0 + TILE_T) else {
                    return;
                };
                let Ok(vj) = <&[f32; TILE_T]>::try_from(vj) else {
                    return;
                };
                for (r, acc_r) in acc.iter_mut().enumerate() {
                    let x = a[(i0 + r) * n + j];
                    for (s, &y) in acc_r.iter_mut().zip(vj) {
                        *s = fmadd::<FMA>(x, y, *s);
                    }
                }
            }
            for (r, acc_r) in acc.iter().enumerate() {
                let start = (i0 + r) * stride + t0;
                av[start..start + TILE_T].copy_from_slice(acc_r);
            }
            i0 += TILE_R;
        }
        t0 += TILE_T;
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn householder<const FMA: bool>(
    w: &[f32],
    gw2: &[f32],
    g: f32,
    v: &[f32],
    av: &mut [f32],
    proj: &mut [f32],
    stride: usize,
    bb: usize,
) {
    proj.iter_mut().for_each(|p| *p = 0.0);
    for (i, &wi) in w.iter().enumerate() {
        let row = &v[i * stride..i * stride + bb];
        for (p, &x) in proj.iter_mut().zip(row) {
            *p = fmadd::<FMA>(wi, x, *p);
        }
    }
    for (i, &ci) in gw2.iter().enumerate() {
        let row = &v[i * stride..i * stride + bb];
        let out = &mut av[i * stride..i * stride + bb];
        for ((o, &x), &p) in out.iter_mut().zip(row).zip(proj.iter()) {
            *o = fmadd::<FMA>(-ci, p, g * x);
        }
    }
}

/// Columns per Hadamard tile (keeps the N × tile working set in L1).
const HADAMARD_TILE: usize = 64;

#[inline(always)]
fn hadamard(n: usize, scale: f32, v: &[f32], av: &mut [f32], stride: usize, bb: usize) {
    let mut t0 = 0;
    while t0 < bb {
        let w = HADAMARD_TILE.min(bb - t0);
        // First stage (h = 1) fused with the copy and the scale.
        for i in (0..n).step_by(2) {
            let (x, y) = (i * stride + t0, (i + 1) * stride + t0);
            let (lo, hi) = av.split_at_mut(y);
            for ((o0, o1), (&a, &b)) in lo[x..x + w]
                .iter_mut()
                .zip(&mut hi[..w])
                .zip(v[x..x + w].iter().zip(&v[y..y + w]))
            {
                *o0 = scale * (a + b);
                *o1 = scale * (a - b);
            }
        }
        let mut h = 2;
        while h < n {
            for base in (0..n).step_by(2 * h) {
                for i in base..base + h {
                    let (x, y) = (i * stride + t0, (i + h) * stride + t0);
                    let (lo, hi) = av.split_at_mut(y);
                    for (p, q) in lo[x..x + w].iter_mut().zip(&mut hi[..w]) {
                        let (a, b) = (*p, *q);
                        *p = a + b;
                        *q = a - b;
                    }
                }
            }
            h *= 2;
        }
        t0 += w;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply_all(op: &MatrixOp, n: usize, v: &[f32], stride: usize, b: usize) -> Vec<f32> {
        let rows = round_up(n, 8);
        let mut av = vec![0.0; rows * stride];
        let mut scratch = vec![0.0; stride];
        op.apply::<false>(v, &mut av, &mut scratch, stride, b);
        av
    }

    fn sylvester(n: usize, c: f64) -> Matrix {
        let data = (0..n * n)
            .map(|k| c * hadamard_sign(k / n, k % n))
            .collect();
        Matrix::from_row_major(n, n, data).unwrap()
    }

    #[test]
    fn structured_kinds_match_dense() {
        let n = 16;
        let stride = 32;
        let b = 20;
        let v: Vec<f32> = (0..16 * stride)
            .map(|k| ((k * 7919) % 113) as f32 / 113.0 - 0.5)
            .collect();
        let had = sylvester(n, -0.25);
        let w: Vec<f64> = (0..n).map(|i| (i as f64 + 1.0).sqrt()).collect();
        let norm2: f64 = w.iter().map(|x| x * x).sum();
        let hh = Matrix::from_row_major(
            n,
            n,
            (0..n * n)
                .map(|k| {
                    let (i, j) = (k / n, k % n);
                    0.9 * (f64::from(u8::from(i == j)) - 2.0 * w[i] * w[j] / norm2)
                })
                .collect(),
        )
        .unwrap();
        for (a, kind) in [(had, MatrixKind::Hadamard), (hh, MatrixKind::Householder)] {
            let fast = MatrixOp::new(&a, 16, false);
            assert_eq!(fast.kind(), kind);
            let dense = MatrixOp::new(&a, 16, true);
            assert_eq!(dense.kind(), MatrixKind::Dense);
            let (x, y) = (
                apply_all(&fast, n, &v, stride, b),
                apply_all(&dense, n, &v, stride, b),
            );
            for i in 0..n {
                for t in 0..b {
                    let k = i * stride + t;
                    assert!((x[k] - y[k]).abs() < 1e-5, "{kind:?} row {i} col {t}");
                }
            }
        }
        // A generic orthogonal-looking matrix is not mistaken for a structured one.
        let mut g = sylvester(n, 0.25);
        g.set(3, 5, 0.2);
        assert_eq!(MatrixOp::new(&g, 16, false).kind(), MatrixKind::Dense);
    }
}
