//! Comparison of multichannel impulse responses (a stereo room and its fit): every channel as
//! [`compare_irs`] measures it, the channels' band levels as shares of their common total, and
//! the late inter-channel coherence per octave band ([`late_coherence`]).

use super::bands::OCTAVE_BANDS_HZ;
use super::coherence::{late_coherence, max_coherence_error};
use super::compare::{compare_irs, octave_band_energies, Comparison};
use super::error::AnalysisError;
use super::onset::without_dc;

/// How far a multichannel B is from A. Serialises with channel 0's [`Comparison`] keys at the
/// top level (what a mono comparison prints) plus the keys below.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MultiComparison {
    /// Channel 0's figures.
    #[serde(flatten)]
    pub first: Comparison,
    /// Every compared channel's figures, channel 0 first (channel o of A against channel o of B).
    pub channels: Vec<Comparison>,
    /// Per channel: mean over the octave bands of |ΔdB| of the channel's band energies as shares
    /// of the energy of all compared channels in those bands (so a louder left channel counts), dB.
    pub stereo_level_error_db: Vec<f64>,
    /// Octave-band centres of the coherence figures, Hz.
    pub coherence_bands_hz: Vec<f64>,
    /// Late coherence of A's channels 0 and 1 per band ([`late_coherence`]); `None` above Nyquist.
    pub coherence_a: Vec<Option<f64>>,
    /// Late coherence of B's channels 0 and 1 per band.
    pub coherence_b: Vec<Option<f64>>,
    /// Largest |coherence_b − coherence_a| over the bands where both are known.
    pub max_coherence_error: Option<f64>,
}

/// Compares the first `min(a.len(), b.len())` (≥ 2) channels of `a` (target) and `b` (candidate),
/// all at `fs` Hz: see [`MultiComparison`]. Errors as [`compare_irs`] and [`late_coherence`], and
/// when either side has fewer than two channels.
pub fn compare_channels(
    a: &[Vec<f64>],
    b: &[Vec<f64>],
    fs: f64,
) -> Result<MultiComparison, AnalysisError> {
    let k = a.len().min(b.len());
    if k < 2 {
        return Err(AnalysisError::TooShort {
            what: "channel count of A and B (a stereo comparison)".into(),
            samples: k,
            min: 2,
        });
    }
    let channels = a[..k]
        .iter()
        .zip(&b[..k])
        .map(|(x, y)| compare_irs(x, y, fs))
        .collect::<Result<Vec<_>, _>>()?;
    let shares = |x: &[Vec<f64>]| stereo_band_shares_db(&x[..k], fs);
    let (sa, sb) = (shares(a), shares(b));
    let stereo_level_error_db = sa
        .iter()
        .zip(&sb)
        .map(|(ca, cb)| {
            let d: Vec<f64> = ca
                .iter()
                .zip(cb)
                .filter_map(|(p, q)| Some((p.as_ref()? - q.as_ref()?).abs()))
                .collect();
            d.iter().sum::<f64>() / d.len().max(1) as f64
        })
        .collect();
    let coherence = |x: &[Vec<f64>]| late_coherence(&without_dc(&x[0]), &without_dc(&x[1]), fs);
    let (coherence_a, coherence_b) = (coherence(a)?, coherence(b)?);
    Ok(MultiComparison {
        first: channels[0].clone(),
        channels,
        stereo_level_error_db,
        coherence_bands_hz: OCTAVE_BANDS_HZ.to_vec(),
        max_coherence_error: max_coherence_error(&coherence_a, &coherence_b),
        coherence_a,
        coherence_b,
    })
}

/// Per channel and octave band: the band's energy without noise
/// ([`octave_band_energies`], DC removed) over the sum of every channel's energy in the bands all
/// channels have, dB; `None` for a band some channel lacks (above Nyquist).
pub fn stereo_band_shares_db(channels: &[Vec<f64>], fs: f64) -> Vec<Vec<Option<f64>>> {
    let e: Vec<Vec<Option<f64>>> = channels
        .iter()
        .map(|x| octave_band_energies(&without_dc(x), fs))
        .collect();
    let nb = OCTAVE_BANDS_HZ.len();
    let common: Vec<bool> = (0..nb)
        .map(|b| e.iter().all(|c| c.get(b).copied().flatten().is_some()))
        .collect();
    let total: f64 = e
        .iter()
        .flat_map(|c| c.iter().zip(&common).filter(|(_, k)| **k))
        .filter_map(|(v, _)| *v)
        .map(|v| v.max(0.0))
        .sum::<f64>()
        .max(1e-300);
    e.iter()
        .map(|c| {
            (0..nb)
                .map(|b| {
                    let v = c.get(b).copied().flatten().filter(|_| common[b])?;
                    Some(10.0 * (v.max(0.0) / total).max(1e-30).log10())
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::coherence::synthetic_stereo_ir;

    #[test]
    fn a_stereo_pair_against_itself_and_against_dual_mono() {
        let fs = 48_000.0;
        let (l, r) = synthetic_stereo_ir(fs, 1.0, 0.6, 11, |f| if f < 700.0 { 0.8 } else { 0.1 });
        let room = vec![l.clone(), r.clone()];
        let same = compare_channels(&room, &room, fs).unwrap();
        assert_eq!(same.channels.len(), 2);
        assert_eq!(same.max_coherence_error, Some(0.0));
        assert!(same.stereo_level_error_db.iter().all(|e| *e < 1e-9));
        // Dual mono: every band's coherence is 1, the highs' error large.
        let mono = vec![l.clone(), l.clone()];
        let c = compare_channels(&room, &mono, fs).unwrap();
        assert!(c
            .coherence_b
            .iter()
            .all(|v| (v.unwrap() - 1.0).abs() < 1e-9));
        assert!(
            c.max_coherence_error.unwrap() > 0.8,
            "{:?}",
            c.max_coherence_error
        );
        // The top level is channel 0's comparison, as a mono compare prints it.
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["edc_error_db"], json["channels"][0]["edc_error_db"]);
        assert!(json["coherence_a"].as_array().unwrap().len() == 7);
        // A right channel 6 dB down: its shares fall and the left's rise (by 10·log10(2/1.25)
        // and 10·log10(2/5) dB, 6 dB apart) while each channel's own band shape is unchanged.
        let quiet: Vec<f64> = r.iter().map(|v| v * 0.5).collect();
        let c = compare_channels(&room, &[l.clone(), quiet], fs).unwrap();
        let (el, er) = (c.stereo_level_error_db[0], c.stereo_level_error_db[1]);
        assert!((el - 10.0 * (2.0f64 / 1.25).log10()).abs() < 0.05, "{el}");
        assert!((er - 10.0 * 2.5f64.log10()).abs() < 0.05, "{er}");
        assert!(c.channels[1].level_error_db < 1e-6);
        assert!(compare_channels(&room[..1], &room, fs).is_err());
    }
}
