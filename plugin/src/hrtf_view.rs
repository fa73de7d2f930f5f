//! HRTF diagnostics for the editor, computed on the loader thread when a SOFA set is loaded:
//! per-direction magnitude of each ear (dB), interaural level difference (dB) and the
//! log-spectral distance to KEMAR per direction over 20 Hz–20 kHz (`tailor::hrtf::metrics::set_lsd`,
//! hrtfpykit's `hrtf_difference` semantics), with its mean.

use crate::analysis::{BAND_HZ, CURVE_POINTS};
use tailor::analysis::spectrum::on_log_grid;
use tailor::hrtf::metrics::{ild_spectrum, set_lsd};
use tailor::hrtf::{nearest_direction, Direction, Ear, HrirSet, HrtfSpectra};

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
        nearest_direction(
            &self.directions,
            &Direction::new(azimuth_deg, elevation_deg),
        )
    }
}

/// The diagnostics of `set` (named `name`) against `reference` (KEMAR).
pub fn compute(name: &str, set: &HrirSet, reference: &HrirSet) -> Result<HrtfView, String> {
    let n = set.len().next_power_of_two().max(2);
    let spectra: HrtfSpectra = set.spectra(Some(n)).map_err(|e| e.to_string())?;
    let freqs = spectra.frequencies();
    let magnitude = (0..set.n_directions())
        .map(|m| {
            Ear::BOTH.map(|ear| {
                let db = spectra.magnitude_db_floored(m, ear, EPSILON);
                on_log_grid(&db, &freqs, BAND_HZ, CURVE_POINTS)
            })
        })
        .collect();
    let ild = (0..set.n_directions())
        .map(|m| {
            on_log_grid(
                &ild_spectrum(&spectra, m, EPSILON),
                &freqs,
                BAND_HZ,
                CURVE_POINTS,
            )
        })
        .collect();
    let mut view = HrtfView {
        name: name.to_string(),
        sample_rate: set.sample_rate(),
        directions: set.directions().to_vec(),
        magnitude,
        ild,
        ..HrtfView::default()
    };
    match set_lsd(set, reference) {
        Ok((per, mean)) => {
            view.lsd_db = Some(per);
            view.lsd_mean_db = Some(mean);
        }
        Err(e) => view.lsd_error = Some(e.to_string()),
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
        let (per, mean) = set_lsd(&loud, &kemar).unwrap();
        assert!((mean - 6.0206).abs() < 1e-3, "{mean}");
        assert_eq!(per.len(), kemar.n_directions());
    }
}
