//! HRTF diagnostics with hrtfpykit's `utils/metrics.py` semantics (hrtf.md §3): LSD between two
//! HRTF sets per direction and ear (`hrtf_difference(metric="lsd")`) and ILD.
//!
//! Why not `tailor::loss::hrtf::hrtf_loss` (feature `grad`): that is the training loss (candle
//! tensors, whole last axis, `sqrt(mean Δ² + ε)`, real inputs clamped). `hrtf_difference` is a diagnostic with other
//! semantics (hrtf.md §5): a 20 Hz–20 kHz band by default, `max(|H|, ε)` floors, no ε inside the
//! square root, named reductions. It is computed here in f64 on plain data; the two agree on the
//! selected bins up to the ε inside the loss's square root.

use super::{Direction, Ear, HrirSet, HrtfError, HrtfSpectra};

/// Which ears to score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EarSelection {
    /// Receiver 0 only.
    Left,
    /// Receiver 1 only.
    Right,
    /// Both receivers, in file order.
    #[default]
    Both,
}

impl EarSelection {
    /// The selected ears in file order.
    pub fn ears(self) -> Vec<Ear> {
        match self {
            EarSelection::Left => vec![Ear::Left],
            EarSelection::Right => vec![Ear::Right],
            EarSelection::Both => Ear::BOTH.to_vec(),
        }
    }
}

/// Which frequency bins LSD averages over.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum FrequencySelection {
    /// All bins with 20 ≤ f ≤ 20000 Hz (inclusive).
    #[default]
    Audible,
    /// Union of inclusive `[lo, hi]` bands in Hz (grid order).
    Bands(Vec<(f64, f64)>),
    /// The bin nearest to each frequency in Hz (duplicates removed, first occurrence kept).
    Nearest(Vec<f64>),
}

/// How per-(position, ear) values are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reduce {
    /// Arithmetic mean.
    #[default]
    Mean,
    /// `sqrt(mean(x²))` (no ε).
    Rms,
}

impl Reduce {
    /// Applies the reduction to `values` (NaN for an empty slice).
    pub fn apply(self, values: &[f64]) -> f64 {
        let n = values.len() as f64;
        match self {
            Reduce::Mean => values.iter().sum::<f64>() / n,
            Reduce::Rms => (values.iter().map(|v| v * v).sum::<f64>() / n).sqrt(),
        }
    }
}

/// Options of [`lsd`] (defaults: both ears, 20 Hz–20 kHz, all positions, ε = 1e-12).
#[derive(Debug, Clone, PartialEq)]
pub struct LsdOptions {
    /// Ears to score.
    pub ears: EarSelection,
    /// Frequency bins to average over.
    pub frequencies: FrequencySelection,
    /// Measurement indices to score (None = all), in the given order.
    pub positions: Option<Vec<usize>>,
    /// Magnitude floor ε (linear) in `20·log10(max(|H|, ε))`; finite, > 0.
    pub epsilon: f64,
}

impl Default for LsdOptions {
    fn default() -> Self {
        Self {
            ears: EarSelection::Both,
            frequencies: FrequencySelection::Audible,
            positions: None,
            epsilon: 1e-12,
        }
    }
}

/// Per-(position, ear) LSD values in dB.
#[derive(Debug, Clone, PartialEq)]
pub struct LsdMap {
    /// Scored measurement indices.
    pub positions: Vec<usize>,
    /// Directions of the scored measurements.
    pub directions: Vec<Direction>,
    /// Scored ears.
    pub ears: Vec<Ear>,
    /// Bin indices averaged over.
    pub bins: Vec<usize>,
    /// LSD in dB, row-major `(positions, ears)`.
    pub values: Vec<f64>,
}

impl LsdMap {
    /// LSD in dB of the `p`-th scored position and `e`-th scored ear.
    pub fn value(&self, p: usize, e: usize) -> f64 {
        self.values[p * self.ears.len() + e]
    }

    /// Reduction over everything ("global") in dB.
    pub fn reduce(&self, method: Reduce) -> f64 {
        method.apply(&self.values)
    }

    /// Reduction over ears: one value per scored position, dB.
    pub fn per_position(&self, method: Reduce) -> Vec<f64> {
        self.values
            .chunks(self.ears.len())
            .map(|c| method.apply(c))
            .collect()
    }

    /// Reduction over positions: one value per scored ear, dB.
    pub fn per_ear(&self, method: Reduce) -> Vec<f64> {
        let ne = self.ears.len();
        (0..ne)
            .map(|e| {
                let col: Vec<f64> = self.values.iter().skip(e).step_by(ne).copied().collect();
                method.apply(&col)
            })
            .collect()
    }
}

/// Bin indices selected by `sel` on the grid `freqs` (Hz), hrtfpykit's rules and errors.
pub fn select_bins(freqs: &[f64], sel: &FrequencySelection) -> Result<Vec<usize>, HrtfError> {
    match sel {
        FrequencySelection::Audible => {
            let bins: Vec<usize> = (0..freqs.len())
                .filter(|&k| (20.0..=20000.0).contains(&freqs[k]))
                .collect();
            if bins.is_empty() {
                return Err(HrtfError::Invalid(
                    "No frequency bins available in the default LSD range [20.0, 20000.0] Hz"
                        .into(),
                ));
            }
            Ok(bins)
        }
        FrequencySelection::Bands(bands) => {
            for &(lo, hi) in bands {
                if !(lo.is_finite() && hi.is_finite()) || lo < 0.0 || lo > hi {
                    return Err(HrtfError::Invalid(format!(
                        "frequency band [{lo}, {hi}] must be finite, non-negative and ordered"
                    )));
                }
            }
            let bins: Vec<usize> = (0..freqs.len())
                .filter(|&k| {
                    bands
                        .iter()
                        .any(|&(lo, hi)| freqs[k] >= lo && freqs[k] <= hi)
                })
                .collect();
            if bins.is_empty() {
                return Err(HrtfError::Invalid(
                    "frequency_bands select no frequency bins".into(),
                ));
            }
            Ok(bins)
        }
        FrequencySelection::Nearest(fs) => {
            let mut bins = Vec::new();
            for &f in fs {
                if !f.is_finite() {
                    return Err(HrtfError::Invalid(format!("frequency {f} is not finite")));
                }
                let k = (0..freqs.len())
                    .min_by(|&a, &b| (freqs[a] - f).abs().total_cmp(&(freqs[b] - f).abs()))
                    .ok_or_else(|| HrtfError::Invalid("empty frequency grid".into()))?;
                if !bins.contains(&k) {
                    bins.push(k);
                }
            }
            if bins.is_empty() {
                return Err(HrtfError::Invalid("no frequencies requested".into()));
            }
            Ok(bins)
        }
    }
}

/// Checks that two spectra share the source grid (spherical degrees/metres, atol 1e-8) and the
/// frequency grid (atol 1e-8 Hz).
fn check_same_grid(a: &HrtfSpectra, b: &HrtfSpectra) -> Result<(), HrtfError> {
    if a.n_directions() != b.n_directions()
        || a.directions().iter().zip(b.directions()).any(|(x, y)| {
            (x.azimuth_deg - y.azimuth_deg).abs() > 1e-8
                || (x.elevation_deg - y.elevation_deg).abs() > 1e-8
                || (x.radius_m - y.radius_m).abs() > 1e-8
        })
    {
        return Err(HrtfError::Invalid(
            "HRTF source positions differ: both sets must share the same grid".into(),
        ));
    }
    let (fa, fb) = (a.frequencies(), b.frequencies());
    if fa.len() != fb.len() || fa.iter().zip(&fb).any(|(x, y)| (x - y).abs() > 1e-8) {
        return Err(HrtfError::Invalid(
            "HRTF frequency bins differ (same FFT length and sample rate required)".into(),
        ));
    }
    Ok(())
}

/// Log-spectral distance per (position, ear) in dB, `hrtf_difference(metric="lsd")`:
/// `sqrt(mean_f (20log10 max(|H_ref|, ε) − 20log10 max(|H_cmp|, ε))²)` over the selected bins.
pub fn lsd(
    reference: &HrtfSpectra,
    compared: &HrtfSpectra,
    opts: &LsdOptions,
) -> Result<LsdMap, HrtfError> {
    if !(opts.epsilon.is_finite() && opts.epsilon > 0.0) {
        return Err(HrtfError::Invalid(
            "epsilon must be a finite, positive value.".into(),
        ));
    }
    check_same_grid(reference, compared)?;
    let bins = select_bins(&reference.frequencies(), &opts.frequencies)?;
    let positions = match &opts.positions {
        None => (0..reference.n_directions()).collect::<Vec<_>>(),
        Some(p) => {
            if p.is_empty() {
                return Err(HrtfError::Invalid("no positions selected".into()));
            }
            if let Some(&bad) = p.iter().find(|&&i| i >= reference.n_directions()) {
                return Err(HrtfError::Invalid(format!(
                    "position index {bad} out of range (M = {})",
                    reference.n_directions()
                )));
            }
            p.clone()
        }
    };
    let ears = opts.ears.ears();
    let db = |z: &num_complex::Complex64| 20.0 * z.norm().max(opts.epsilon).log10();
    let mut values = Vec::with_capacity(positions.len() * ears.len());
    for &m in &positions {
        for &ear in &ears {
            let (r, c) = (reference.tf(m, ear), compared.tf(m, ear));
            let sum: f64 = bins
                .iter()
                .map(|&k| {
                    let d = db(&r[k]) - db(&c[k]);
                    d * d
                })
                .sum();
            values.push((sum / bins.len() as f64).sqrt());
        }
    }
    Ok(LsdMap {
        directions: positions
            .iter()
            .map(|&m| reference.directions()[m])
            .collect(),
        positions,
        ears,
        bins,
        values,
    })
}

/// LSD per direction of `set` (mean of both ears) against `reference` in dB, with the mean over
/// directions and ears ([`lsd`] with the default options: 20 Hz–20 kHz). The grids may differ:
/// the reference is resampled and looked up at the nearest direction
/// ([`HrirSet::on_grid_of`]), and both are transformed with one FFT length.
pub fn set_lsd(set: &HrirSet, reference: &HrirSet) -> Result<(Vec<f64>, f64), HrtfError> {
    let r = reference.on_grid_of(set)?;
    let n = set.len().max(r.len()).next_power_of_two().max(2);
    let map = lsd(
        &r.spectra(Some(n))?,
        &set.spectra(Some(n))?,
        &LsdOptions::default(),
    )?;
    Ok((map.per_position(Reduce::Mean), map.reduce(Reduce::Mean)))
}

/// Broad-band ILD per measurement in dB: `20·log10((rms_L + ε)/(rms_R + ε))` (positive = left
/// louder), RMS over the IR samples.
pub fn ild_broadband(set: &HrirSet, epsilon: f64) -> Vec<f64> {
    let rms = |x: &[f64]| (x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64).sqrt();
    (0..set.n_directions())
        .map(|m| {
            let l = rms(set.hrir(m, Ear::Left));
            let r = rms(set.hrir(m, Ear::Right));
            20.0 * ((l + epsilon) / (r + epsilon)).log10()
        })
        .collect()
}

/// Frequency-dependent ILD of measurement `m` in dB per bin: `20·log10((|H_L| + ε)/(|H_R| + ε))`.
pub fn ild_spectrum(spectra: &HrtfSpectra, m: usize, epsilon: f64) -> Vec<f64> {
    spectra
        .tf(m, Ear::Left)
        .iter()
        .zip(spectra.tf(m, Ear::Right))
        .map(|(l, r)| 20.0 * ((l.norm() + epsilon) / (r.norm() + epsilon)).log10())
        .collect()
}
