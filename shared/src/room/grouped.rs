//! Grouped FDN topology (Das & Abel, "Grouped feedback delay networks for modeling of coupled
//! spaces", JAES 2021): the delay lines are split into groups, each group gets the attenuation of
//! one decay slope, and a block-orthogonal feedback matrix couples the groups by a small angle.
//!
//! The feedback matrix is `A = R(θ) · blockdiag(Q_1, …, Q_K)` with `Q_k` Haar-random orthogonal
//! blocks and `R(θ)` a product of Givens rotations by `θ` between line `i` of group `k` and line
//! `i` of group `k + 1`. Both factors are orthogonal, so `A` is orthogonal for every `θ`
//! (a lossless prototype: all decay comes from the attenuation filters); `θ = 0` gives
//! uncoupled groups that decay independently, larger `θ` exchanges more energy between them.

use crate::delays::{pairwise_coprime, sample_delay_lengths_with, DelayDistribution, DelayOptions};
use crate::matrix::{random_orthogonal, Matrix};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::ops::Range;

/// Why a grouped topology could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GroupedError {
    /// A group has no delay line.
    #[error("every group needs at least one delay line (group sizes {0:?})")]
    EmptyGroup(Vec<usize>),
    /// The delay range is empty or non-positive.
    #[error("delay range {lo}..{hi} samples is empty or not positive")]
    DelayRange {
        /// Lower bound, samples.
        lo: f64,
        /// Upper bound, samples.
        hi: f64,
    },
    /// The coupling angle is not finite.
    #[error("coupling angle {0} rad is not finite")]
    Coupling(f64),
}

/// Contiguous line ranges of groups of the given sizes (group k owns lines `ranges[k]`).
pub fn group_ranges(sizes: &[usize]) -> Vec<Range<usize>> {
    let mut start = 0;
    sizes
        .iter()
        .map(|&s| {
            let r = start..start + s;
            start += s;
            r
        })
        .collect()
}

/// Splits `n` lines into `groups` nearly equal group sizes (the first groups get the remainder).
pub fn split_lines(n: usize, groups: usize) -> Vec<usize> {
    let groups = groups.max(1);
    (0..groups)
        .map(|k| n / groups + usize::from(k < n % groups))
        .collect()
}

/// Draws `Σ sizes` pairwise-coprime delays (samples) uniformly in `range` and deals them to the
/// groups round-robin in ascending order, so every group spans the whole range (each group keeps a
/// dense, spread set of modes). Deterministic in `seed`.
pub fn grouped_delays(
    sizes: &[usize],
    range: (f64, f64),
    seed: u64,
) -> Result<Vec<usize>, GroupedError> {
    if sizes.is_empty() || sizes.contains(&0) {
        return Err(GroupedError::EmptyGroup(sizes.to_vec()));
    }
    let (lo, hi) = range;
    if !(lo.is_finite() && hi.is_finite() && lo >= 1.0 && hi > lo) {
        return Err(GroupedError::DelayRange { lo, hi });
    }
    let n: usize = sizes.iter().sum();
    let opts = DelayOptions {
        range: (lo, hi),
        distribution: DelayDistribution::Uniform,
        coprime: true,
        sort: true,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let sorted = sample_delay_lengths_with(n, &opts, &mut rng)
        .map_err(|_| GroupedError::DelayRange { lo, hi })?;
    debug_assert!(pairwise_coprime(&sorted));
    let ranges = group_ranges(sizes);
    let mut out = vec![0usize; n];
    let mut fill: Vec<usize> = ranges.iter().map(|r| r.start).collect();
    let mut k = 0;
    for &d in &sorted {
        // Next group (round-robin) that still has room.
        while fill[k] == ranges[k].end {
            k = (k + 1) % sizes.len();
        }
        out[fill[k]] = d as usize;
        fill[k] += 1;
        k = (k + 1) % sizes.len();
    }
    Ok(out)
}

/// Block-orthogonal feedback matrix `R(θ)·blockdiag(Q_k)` for groups of `sizes` lines coupled by
/// `coupling_rad` (radians; see the module docs). Orthogonal for every angle.
pub fn grouped_feedback_matrix(
    sizes: &[usize],
    coupling_rad: f64,
    seed: u64,
) -> Result<Matrix, GroupedError> {
    if sizes.is_empty() || sizes.contains(&0) {
        return Err(GroupedError::EmptyGroup(sizes.to_vec()));
    }
    if !coupling_rad.is_finite() {
        return Err(GroupedError::Coupling(coupling_rad));
    }
    let n: usize = sizes.iter().sum();
    let ranges = group_ranges(sizes);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut a = Matrix::zeros(n, n);
    for r in &ranges {
        let q = random_orthogonal(r.len(), &mut rng);
        for i in 0..r.len() {
            for j in 0..r.len() {
                a.set(r.start + i, r.start + j, q.get(i, j));
            }
        }
    }
    let (c, s) = (coupling_rad.cos(), coupling_rad.sin());
    for w in ranges.windows(2) {
        let m = w[0].len().min(w[1].len());
        for i in 0..m {
            let (p, q) = (w[0].start + i, w[1].start + i);
            // Rows p, q ← [c s; −s c]·[row p; row q].
            for j in 0..n {
                let (x, y) = (a.get(p, j), a.get(q, j));
                a.set(p, j, c * x + s * y);
                a.set(q, j, -s * x + c * y);
            }
        }
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orthogonality_error(a: &Matrix) -> f64 {
        let ata = a.transpose().matmul(a).unwrap();
        ata.max_abs_diff(&Matrix::identity(a.rows()))
    }

    #[test]
    fn coupled_matrix_is_orthogonal_and_uncoupled_is_block_diagonal() {
        for theta in [0.0, 0.05, 0.3, std::f64::consts::FRAC_PI_4] {
            let a = grouped_feedback_matrix(&[8, 8], theta, 3).unwrap();
            assert!(orthogonality_error(&a) < 1e-12, "θ={theta}");
        }
        let a = grouped_feedback_matrix(&[5, 6, 5], 0.1, 1).unwrap();
        assert!(orthogonality_error(&a) < 1e-12);
        let a0 = grouped_feedback_matrix(&[8, 8], 0.0, 3).unwrap();
        for i in 0..8 {
            for j in 8..16 {
                assert_eq!(a0.get(i, j), 0.0);
                assert_eq!(a0.get(j, i), 0.0);
            }
        }
        // Coupling moves energy across the blocks: the off-block energy is sin²θ per row pair.
        let a1 = grouped_feedback_matrix(&[8, 8], 0.2, 3).unwrap();
        let off: f64 = (0..8)
            .flat_map(|i| (8..16).map(move |j| (i, j)))
            .map(|(i, j)| a1.get(i, j).powi(2))
            .sum();
        assert!((off - 8.0 * 0.2f64.sin().powi(2)).abs() < 1e-9, "{off}");
    }

    #[test]
    fn delays_are_coprime_spread_and_dealt_round_robin() {
        let d = grouped_delays(&[8, 8], (700.0, 2500.0), 5).unwrap();
        assert_eq!(d.len(), 16);
        let u: Vec<u64> = d.iter().map(|&x| x as u64).collect();
        assert!(pairwise_coprime(&u));
        assert!(d.iter().all(|&x| (680..=2520).contains(&x)), "{d:?}");
        let (g0, g1) = d.split_at(8);
        let mean = |g: &[usize]| g.iter().sum::<usize>() as f64 / g.len() as f64;
        assert!((mean(g0) - mean(g1)).abs() < 300.0, "{d:?}");
        assert_eq!(split_lines(16, 3), vec![6, 5, 5]);
        assert_eq!(group_ranges(&[6, 5, 5])[2], 11..16);
    }

    #[test]
    fn bad_layouts_are_refused() {
        assert!(matches!(
            grouped_delays(&[8, 0], (700.0, 2500.0), 1),
            Err(GroupedError::EmptyGroup(_))
        ));
        assert!(matches!(
            grouped_delays(&[8], (700.0, 600.0), 1),
            Err(GroupedError::DelayRange { .. })
        ));
        assert!(matches!(
            grouped_feedback_matrix(&[4, 4], f64::NAN, 1),
            Err(GroupedError::Coupling(_))
        ));
    }
}
