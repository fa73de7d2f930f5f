//! Random stable FDN builds (for benchmarks and tests): orthogonal feedback matrix of a chosen
//! kind, coprime delays, first-order-shelf absorption.

use super::matrix::MatrixKind;
use crate::decay::with_decay;
use crate::delays::{sample_delay_lengths, DelayOptions};
use crate::matrix::Matrix;
use crate::preset::{Build, BuildParts};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// What [`random_build`] makes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomBuildSpec {
    /// Delay lines N.
    pub n: usize,
    /// Input channels.
    pub n_in: usize,
    /// Output channels.
    pub n_out: usize,
    /// Feedback matrix kind (Hadamard needs N a power of two).
    pub matrix: MatrixKind,
    /// `(low, high)` delay range in samples (coprime lengths).
    pub delay_range: (f64, f64),
    /// T60 at DC and at Nyquist in seconds (first-order shelf).
    pub rt: (f64, f64),
    /// Sample rate in Hz.
    pub sample_rate: f64,
    /// Random seed.
    pub seed: u64,
}

impl RandomBuildSpec {
    /// N lines, mono in, stereo out, dense, delays 400–1200 samples, RT 2 s / 0.5 s, 48 kHz.
    pub fn new(n: usize) -> Self {
        Self {
            n,
            n_in: 1,
            n_out: 2,
            matrix: MatrixKind::Dense,
            delay_range: (400.0, 1200.0),
            rt: (2.0, 0.5),
            sample_rate: 48_000.0,
            seed: 1,
        }
    }
}

/// A random orthogonal `n × n` matrix (Gram–Schmidt of a Gaussian matrix).
pub fn random_orthogonal(n: usize, rng: &mut impl Rng) -> Matrix {
    let mut q: Vec<Vec<f64>> = Vec::with_capacity(n);
    while q.len() < n {
        let mut v: Vec<f64> = (0..n).map(|_| StandardNormal.sample(rng)).collect();
        for _ in 0..2 {
            for u in &q {
                let d: f64 = v.iter().zip(u).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(u).for_each(|(a, b)| *a -= d * b);
            }
        }
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        if norm > 1e-6 {
            v.iter_mut().for_each(|a| *a /= norm);
            q.push(v);
        }
    }
    Matrix::from_rows(&q).unwrap_or_else(|| Matrix::identity(n))
}

fn structured(kind: MatrixKind, n: usize, rng: &mut impl Rng) -> Result<Matrix, String> {
    Ok(match kind {
        MatrixKind::Dense => random_orthogonal(n, rng),
        MatrixKind::Householder => {
            let w: Vec<f64> = (0..n).map(|_| StandardNormal.sample(rng)).collect();
            let w2: f64 = w.iter().map(|x| x * x).sum();
            let data = (0..n * n)
                .map(|k| {
                    let (i, j) = (k / n, k % n);
                    f64::from(u8::from(i == j)) - 2.0 * w[i] * w[j] / w2
                })
                .collect();
            Matrix::from_row_major(n, n, data).ok_or("shape")?
        }
        MatrixKind::Hadamard => {
            if n < 2 || !n.is_power_of_two() {
                return Err(format!(
                    "a Hadamard matrix needs N a power of two (got {n})"
                ));
            }
            let c = 1.0 / (n as f64).sqrt();
            let data = (0..n * n)
                .map(|k| {
                    if ((k / n) & (k % n)).count_ones().is_multiple_of(2) {
                        c
                    } else {
                        -c
                    }
                })
                .collect();
            Matrix::from_row_major(n, n, data).ok_or("shape")?
        }
    })
}

/// A random stable build for `spec` (lossless matrix + shelf absorption), or why not.
pub fn random_build(spec: &RandomBuildSpec) -> Result<Build, String> {
    let n = spec.n;
    if n == 0 || spec.n_in == 0 || spec.n_out == 0 {
        return Err("N, inputs and outputs must be positive".into());
    }
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let a = structured(spec.matrix, n, &mut rng)?;
    let opts = DelayOptions {
        range: spec.delay_range,
        coprime: true,
        ..DelayOptions::default()
    };
    let delays = sample_delay_lengths(n, &opts, spec.seed).map_err(|e| e.to_string())?;
    let mut gauss = |rows: usize, cols: usize, scale: f64| {
        let data = (0..rows * cols)
            .map(|_| {
                let x: f64 = StandardNormal.sample(&mut rng);
                scale * x
            })
            .collect();
        Matrix::from_row_major(rows, cols, data).unwrap_or_else(|| Matrix::zeros(rows, cols))
    };
    let b = gauss(n, spec.n_in, 1.0 / (n as f64).sqrt());
    let c = gauss(spec.n_out, n, 1.0 / (n as f64).sqrt());
    let d = Matrix::zeros(spec.n_out, spec.n_in);
    let build = Build::new(BuildParts {
        a,
        b,
        c,
        d,
        delays: delays.iter().map(|&m| m as usize).collect(),
        sample_rate: spec.sample_rate,
        post_delay: None,
        post_matrix: None,
        post_output: None,
        output_mix: None,
        metadata: Default::default(),
    })
    .map_err(|e| e.to_string())?;
    with_decay(&build, spec.rt).map_err(|e| e.to_string())
}
