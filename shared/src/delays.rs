//! Delay-length sampling with pyFDN's coprime snapping rule (pyFDN `sample_delay_lengths`).
//!
//! The random draws use Tailor's own seeded generator (ChaCha8), so integer results differ from
//! numpy's; the deterministic snapping step ([`nearest_coprime`]) matches pyFDN exactly.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution as _, Normal};

/// Distribution of the real-valued delay targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DelayDistribution {
    /// Uniform on `[low, high)` samples.
    Uniform,
    /// `low · (high/low)^U(0,1)`.
    Geometric,
    /// `exp(Normal((ln low + ln high)/2, (ln high − ln low)/4))`, clipped to `[low, high]`.
    Lognormal,
}

impl std::str::FromStr for DelayDistribution {
    type Err = DelayError;
    fn from_str(s: &str) -> Result<Self, DelayError> {
        match s {
            "uniform" => Ok(Self::Uniform),
            "geometric" => Ok(Self::Geometric),
            "lognormal" => Ok(Self::Lognormal),
            other => Err(DelayError::Distribution(other.to_string())),
        }
    }
}

/// Why delay sampling was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DelayError {
    /// N was zero.
    #[error("N must be positive")]
    NonPositiveN,
    /// The range is not `1 ≤ low < high`.
    #[error("delay_range must satisfy 1 <= low < high (got ({low}, {high}))")]
    Range {
        /// Lower bound in samples.
        low: f64,
        /// Upper bound in samples.
        high: f64,
    },
    /// Unknown distribution name.
    #[error("distribution must be 'uniform', 'geometric' or 'lognormal', got '{0}'")]
    Distribution(String),
}

/// Options of [`sample_delay_lengths`] (pyFDN defaults: (400, 1200), uniform, not coprime, unsorted).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DelayOptions {
    /// `(low, high)` target range in samples.
    pub range: (f64, f64),
    /// Target distribution.
    pub distribution: DelayDistribution,
    /// Snap to pairwise-coprime lengths (pyFDN's rule).
    pub coprime: bool,
    /// Sort ascending (otherwise draw order).
    pub sort: bool,
}

impl Default for DelayOptions {
    fn default() -> Self {
        Self {
            range: (400.0, 1200.0),
            distribution: DelayDistribution::Uniform,
            coprime: false,
            sort: false,
        }
    }
}

/// Draws `n` real-valued targets (samples) from `opts`' distribution.
pub fn sample_targets<R: Rng>(
    n: usize,
    opts: &DelayOptions,
    rng: &mut R,
) -> Result<Vec<f64>, DelayError> {
    if n == 0 {
        return Err(DelayError::NonPositiveN);
    }
    let (low, high) = opts.range;
    if !(low >= 1.0 && low < high && high.is_finite()) {
        return Err(DelayError::Range { low, high });
    }
    let out = match opts.distribution {
        DelayDistribution::Uniform => (0..n).map(|_| rng.random_range(low..high)).collect(),
        DelayDistribution::Geometric => (0..n)
            .map(|_| low * (high / low).powf(rng.random::<f64>()))
            .collect(),
        DelayDistribution::Lognormal => {
            let mu = (low.ln() + high.ln()) / 2.0;
            let sigma = (high.ln() - low.ln()) / 4.0;
            let normal = Normal::new(mu, sigma).expect("sigma is positive");
            (0..n)
                .map(|_| normal.sample(rng).exp().clamp(low, high))
                .collect()
        }
    };
    Ok(out)
}

/// Snaps real targets to integers exactly as pyFDN does.
///
/// `coprime = false`: round half to even, clip ≥ 1. `coprime = true`: targets in descending order,
/// candidate `c = max(round(t), low_clip)`, offsets 0, +1, −1, +2, −2, …; the first candidate
/// ≥ `low_clip`, not yet chosen and coprime with all chosen ones wins (the first target is taken
/// whatever its factors). Output is in the targets' order.
pub fn snap_targets(targets: &[f64], coprime: bool, low_clip: u64) -> Vec<u64> {
    if !coprime {
        return targets
            .iter()
            .map(|t| t.round_ties_even().max(1.0) as u64)
            .collect();
    }
    nearest_coprime(targets, low_clip)
}

/// pyFDN's `_nearest_coprime`: the coprime snapping step alone (see [`snap_targets`]).
pub fn nearest_coprime(targets: &[f64], low_clip: u64) -> Vec<u64> {
    let mut order: Vec<usize> = (0..targets.len()).collect();
    order.sort_by(|&a, &b| targets[a].total_cmp(&targets[b]));
    order.reverse();
    let mut chosen: Vec<u64> = Vec::with_capacity(targets.len());
    let mut out = vec![0u64; targets.len()];
    for idx in order {
        let c = (targets[idx].round_ties_even().max(0.0) as u64).max(low_clip) as i128;
        let ok = |cand: i128, chosen: &[u64]| {
            cand >= low_clip as i128
                && !chosen.contains(&(cand as u64))
                && chosen.iter().all(|&d| gcd(d, cand as u64) == 1)
        };
        let mut offset = 0i128;
        let pick = loop {
            if offset == 0 {
                if ok(c, &chosen) {
                    break c;
                }
            } else {
                if ok(c + offset, &chosen) {
                    break c + offset;
                }
                if ok(c - offset, &chosen) {
                    break c - offset;
                }
            }
            offset += 1;
        } as u64;
        chosen.push(pick);
        out[idx] = pick;
    }
    out
}

/// Greatest common divisor.
pub fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// True when every pair of values is coprime.
pub fn pairwise_coprime(values: &[u64]) -> bool {
    values
        .iter()
        .enumerate()
        .all(|(i, &a)| values[i + 1..].iter().all(|&b| gcd(a, b) == 1))
}

/// Samples `n` delay lengths in samples (pyFDN `sample_delay_lengths`) from a seeded generator.
pub fn sample_delay_lengths(
    n: usize,
    opts: &DelayOptions,
    seed: u64,
) -> Result<Vec<u64>, DelayError> {
    sample_delay_lengths_with(n, opts, &mut ChaCha8Rng::seed_from_u64(seed))
}

/// As [`sample_delay_lengths`] with a caller-provided generator.
pub fn sample_delay_lengths_with<R: Rng>(
    n: usize,
    opts: &DelayOptions,
    rng: &mut R,
) -> Result<Vec<u64>, DelayError> {
    let targets = sample_targets(n, opts, rng)?;
    let mut d = snap_targets(&targets, opts.coprime, 2);
    if opts.sort {
        d.sort_unstable();
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapping_order_and_offsets() {
        // Largest first; +offset tried before −offset; low clip 2.
        assert_eq!(
            nearest_coprime(&[1.2, 2.4, 4.788182061228356, 4.427973482405739], 2),
            vec![7, 3, 5, 4]
        );
        assert_eq!(snap_targets(&[2.5, 3.5, 0.2], false, 2), vec![2, 4, 1]);
    }

    #[test]
    fn errors_name_the_problem() {
        let o = DelayOptions::default();
        assert_eq!(
            sample_delay_lengths(0, &o, 1),
            Err(DelayError::NonPositiveN)
        );
        let bad = DelayOptions {
            range: (500.0, 400.0),
            ..o
        };
        assert!(matches!(
            sample_delay_lengths(4, &bad, 1),
            Err(DelayError::Range { .. })
        ));
        assert!("gaussian"
            .parse::<DelayDistribution>()
            .unwrap_err()
            .to_string()
            .contains("'uniform', 'geometric' or 'lognormal'"));
    }

    #[test]
    fn sampled_delays_have_the_requested_properties() {
        for dist in [
            DelayDistribution::Uniform,
            DelayDistribution::Geometric,
            DelayDistribution::Lognormal,
        ] {
            for seed in 0..20 {
                let o = DelayOptions {
                    range: (400.0, 1200.0),
                    distribution: dist,
                    coprime: true,
                    sort: true,
                };
                let d = sample_delay_lengths(16, &o, seed).unwrap();
                assert!(pairwise_coprime(&d));
                assert!(d.windows(2).all(|w| w[0] < w[1]));
                assert!(d.iter().all(|&x| (380..=1220).contains(&x)), "{d:?}");
            }
        }
        let o = DelayOptions::default();
        assert_eq!(
            sample_delay_lengths(8, &o, 7).unwrap(),
            sample_delay_lengths(8, &o, 7).unwrap()
        );
    }
}
