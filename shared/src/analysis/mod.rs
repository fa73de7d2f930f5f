//! Impulse-response analysis: Schroeder energy decay curve and decay-time estimates, octave
//! bands, onset alignment, echo density, spectra (flatness, smoothing, LSD), IR comparison and
//! the display views of an IR.

pub mod bands;
pub mod coherence;
pub mod compare;
pub mod echo;
pub mod error;
pub mod iso3382;
pub mod mel;
pub mod onset;
pub mod spectrum;
pub mod stereo;
pub mod view;

pub mod spectrogram;

pub use error::AnalysisError;

pub mod noise;
pub mod slopes;

/// Schroeder backward-integrated energy decay curve in dB, normalised to 0 dB at sample 0.
pub fn schroeder_edc_db(ir: &[f64]) -> Vec<f64> {
    let edc = slopes::schroeder_energy(ir);
    let total = edc.first().copied().unwrap_or(0.0);
    edc.iter()
        .map(|&e| {
            if total > 0.0 && e > 0.0 {
                10.0 * (e / total).log10()
            } else {
                f64::NEG_INFINITY
            }
        })
        .collect()
}

/// Decay time in seconds extrapolated to −60 dB from a least-squares line fitted to the EDC
/// between `start_db` and `start_db − span_db` (e.g. T30: start −5, span 30). `None` when the
/// EDC does not reach the end of the range.
pub fn decay_time(edc_db: &[f64], sample_rate: f64, start_db: f64, span_db: f64) -> Option<f64> {
    let end_db = start_db - span_db;
    let i0 = edc_db.iter().position(|&e| e <= start_db)?;
    let i1 = edc_db.iter().position(|&e| e <= end_db)?;
    if i1 <= i0 + 1 {
        return None;
    }
    let (mut sx, mut sy, mut sxx, mut sxy) = (0.0, 0.0, 0.0, 0.0);
    let n = (i1 - i0 + 1) as f64;
    for (i, &y) in edc_db.iter().enumerate().take(i1 + 1).skip(i0) {
        let x = i as f64 / sample_rate;
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
    }
    let slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    (slope < 0.0).then(|| -60.0 / slope)
}

/// Summary figures of one impulse response.
#[derive(Debug, Clone, PartialEq)]
pub struct IrSummary {
    /// Length in seconds.
    pub length_s: f64,
    /// Largest absolute sample.
    pub peak: f64,
    /// Sample index of the peak.
    pub peak_index: usize,
    /// Total energy in dB (10·log10 Σx²).
    pub energy_db: f64,
    /// Early decay time (0 to −10 dB, ×6) on the noise-compensated EDC from the onset
    /// ([`iso3382`]), seconds.
    pub edt_s: Option<f64>,
    /// T20 (−5 to −25 dB, extrapolated to 60 dB; needs 35 dB above the noise), seconds.
    pub t20_s: Option<f64>,
    /// T30 (−5 to −35 dB, extrapolated to 60 dB; needs 45 dB above the noise), seconds.
    pub t30_s: Option<f64>,
}

/// Broadband summary of an impulse response sampled at `sample_rate` Hz.
pub fn summarize(ir: &[f64], sample_rate: f64) -> IrSummary {
    let (peak_index, peak) = ir
        .iter()
        .enumerate()
        .fold((0, 0.0f64), |(bi, bv), (i, &v)| {
            if v.abs() > bv {
                (i, v.abs())
            } else {
                (bi, bv)
            }
        });
    let energy: f64 = ir.iter().map(|x| x * x).sum();
    let x = &ir[onset::onset_index(ir).unwrap_or(0)..];
    let decay = iso3382::compensated_decay(x, sample_rate, iso3382::BROADBAND_WINDOW_S);
    let d = bands::BandDecay::from_decay(0.0, decay.as_ref());
    IrSummary {
        length_s: ir.len() as f64 / sample_rate,
        peak,
        peak_index,
        energy_db: 10.0 * energy.max(1e-300).log10(),
        edt_s: d.edt_s,
        t20_s: d.t20_s,
        t30_s: d.t30_s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_decay_gives_its_t60() {
        let fs = 48000.0;
        let rt = 1.2;
        // Noise-free exponential envelope on an alternating sign carrier: EDC is a straight line.
        let ir: Vec<f64> = (0..(3.0 * fs) as usize)
            .map(|n| {
                let t = n as f64 / fs;
                10f64.powf(-3.0 * t / rt) * if n % 2 == 0 { 1.0 } else { -1.0 }
            })
            .collect();
        let s = summarize(&ir, fs);
        for t in [s.edt_s, s.t20_s, s.t30_s] {
            assert!((t.unwrap() - rt).abs() < 0.01 * rt, "{t:?}");
        }
        assert_eq!(s.peak_index, 0);
    }
}
