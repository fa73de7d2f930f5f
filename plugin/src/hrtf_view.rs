//! HRTF diagnostics for the editor, computed on the loader thread when a SOFA set is loaded:
//! per-direction magnitude of each ear (dB), interaural level difference (dB) and the
//! log-spectral distance to KEMAR per direction over 20 Hz–20 kHz (`tailor::hrtf::metrics::lsd`,
//! hrtfpykit's `hrtf_difference` semantics), with its mean.

use crate::analysis::{BAND_HZ, CURVE_POINTS};
use tailor::hrtf::metrics::{ild_spectrum, lsd, LsdOptions, Reduce};
use tailor::hrtf::{Direction, Ear, HrirSet, HrtfSpectra};

/// Magnitude floor ε (linear) of the dB curves and the ILD.
pub const EPSILON: f64 = 1e-12;

/// Everything the HRTF panel draws.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HrtfView {
    /// Name of the loaded set (path or built-in).
    pub name: String,
    /// Sample rate of the loaded set in Hz.
    pub sample_rate: f64,
    /// Measurement directions of the loaded set.
    pub directions: Vec<Direction>,
    /// Per direction, per ear (left, right): magnitude curve (Hz, dB).
    pub magnitude: Vec<[Vec<[f64; 2]>; 2]>,
    /// Per direction: ILD curve (Hz, dB; positive = left louder).
    pub ild: Vec<Vec<[f64; 2]>>,
    /// Per direction: LSD to KEMAR in dB (mean of both ears), when computable.
    pub lsd_db: Option<Vec<f64>>,
    /// Mean LSD to KEMAR over directions and ears in dB.
    pub lsd_mean_db: Option<f64>,
    /// Why the LSD could not be computed.
    pub lsd_error: Option<String>,
}

impl HrtfView {
    /// Index of the measurement nearest to (`azimuth_deg`, `elevation_deg`) in degrees.
    pub fn nearest(&self, azimuth_deg: f64, elevation_deg: f64) -> Option<usize> {
        let want = Direction::new(azimuth_deg, elevation_deg);
        (0..self.directions.len()).min_by(|&a, &b| {
            self.directions[a]
                .angle_to(&want)
                .total_cmp(&self.directions[b].angle_to(&want))
        })
    }
}

/// Bins of a log-spaced grid (`CURVE_POINTS` points over 20 Hz–min(20 kHz, 0.49·fs)) sampled
/// from a per-bin curve; returns (Hz, value) points.
fn on_log_grid(values: &[f64], freqs: &[f64]) -> Vec<[f64; 2]> {
    let top = freqs.last().copied().unwrap_or(0.0);
    let hi = BAND_HZ.1.min(top);
    if freqs.len() < 2 || hi <= BAND_HZ.0 {
        return Vec::new();
    }
    let df = freqs[1] - freqs[0];
    (0..CURVE_POINTS)
        .map(|k| {
            let f = BAND_HZ.0 * (hi / BAND_HZ.0).powf(k as f64 / (CURVE_POINTS - 1) as f64);
            let i = ((f / df).round() as usize).min(values.len() - 1);
            [f, values[i]]
        })
        .collect()
}

/// `reference` put on the grid of `set`: resampled to its rate, each of `set`'s directions
/// taking the nearest reference measurement (so [`lsd`] can compare the two).
pub fn on_grid_of(reference: &HrirSet, set: &HrirSet) -> Result<HrirSet, String> {
    let r = reference
        .resampled(set.sample_rate())
        .map_err(|e| e.to_string())?;
    let mut ir = Vec::with_capacity(set.n_directions() * 2 * r.len());
    for d in set.directions() {
        let m = r.nearest(d);
        for ear in Ear::BOTH {
            ir.extend_from_slice(r.hrir(m, ear));
        }
    }
    HrirSet::new(ir, set.directions().to_vec(), r.len(), set.sample_rate())
        .map_err(|e| e.to_string())
}

/// Per-direction LSD (mean of both ears) between `set` and `reference` in dB, 20 Hz–20 kHz,
/// with the global mean. Grids may differ: the reference is resampled and looked up at the
/// nearest direction ([`on_grid_of`]); both are transformed with a common FFT length.
pub fn lsd_to(set: &HrirSet, reference: &HrirSet) -> Result<(Vec<f64>, f64), String> {
    let r = on_grid_of(reference, set)?;
    let n = set.len().max(r.len()).next_power_of_two().max(2);
    let a = set.spectra(Some(n)).map_err(|e| e.to_string())?;
    let b = r.spectra(Some(n)).map_err(|e| e.to_string())?;
    let map = lsd(&b, &a, &LsdOptions::default()).map_err(|e| e.to_string())?;
    Ok((map.per_position(Reduce::Mean), map.reduce(Reduce::Mean)))
}

/// The diagnostics of `set` (named `name`) against `reference` (KEMAR).
pub fn compute(name: &str, set: &HrirSet, reference: &HrirSet) -> Result<HrtfView, String> {
    let n = set.len().next_power_of_two().max(2);
    let spectra: HrtfSpectra = set.spectra(Some(n)).map_err(|e| e.to_string())?;
    let freqs = spectra.frequencies();
    let magnitude = (0..set.n_directions())
        .map(|m| {
            Ear::BOTH.map(|ear| on_log_grid(&spectra.magnitude_db_floored(m, ear, EPSILON), &freqs))
        })
        .collect();
    let ild = (0..set.n_directions())
        .map(|m| on_log_grid(&ild_spectrum(&spectra, m, EPSILON), &freqs))
        .collect();
    let mut view = HrtfView {
        name: name.to_string(),
        sample_rate: set.sample_rate(),
        directions: set.directions().to_vec(),
        magnitude,
        ild,
        ..HrtfView::default()
    };
    match lsd_to(set, reference) {
        Ok((per, mean)) => {
            view.lsd_db = Some(per);
            view.lsd_mean_db = Some(mean);
        }
        Err(e) => view.lsd_error = Some(e),
    }
    Ok(view)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kemar_against_itself_has_zero_lsd_and_a_lateral_ild() {
        let kemar = crate::binaural::load_set(None).unwrap();
        let v = compute("KEMAR", &kemar, &kemar).unwrap();
        assert_eq!(v.magnitude.len(), kemar.n_directions());
        assert!(v.lsd_mean_db.unwrap().abs() < 1e-9);
        // SOFA azimuth 90° is the listener's left: the left ear is louder there.
        let left = v.nearest(90.0, 0.0).unwrap();
        let mean_ild: f64 =
            v.ild[left].iter().map(|p| p[1]).sum::<f64>() / v.ild[left].len() as f64;
        assert!(mean_ild > 3.0, "ILD at 90° {mean_ild} dB");
    }

    #[test]
    fn a_louder_copy_differs_by_its_gain() {
        let kemar = crate::binaural::load_set(None).unwrap();
        let loud = kemar.scaled(2.0).unwrap();
        let (per, mean) = lsd_to(&loud, &kemar).unwrap();
        assert!((mean - 6.0206).abs() < 1e-3, "{mean}");
        assert_eq!(per.len(), kemar.n_directions());
    }
}
