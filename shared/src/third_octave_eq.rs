//! Third-octave graphic equaliser for the output of a fitted room: the octave design of
//! [`crate::geq`] (broadband gain, low shelf, peaks, high shelf; control gains by weighted least
//! squares over the command frequencies and their log midpoints, then fixed corrections against
//! the cascade's exact response) with one peak per IEC 61260-1 third-octave band of the audio
//! band (20 Hz … 20 kHz, those at most `0.45·fs`, [`audio_third_octaves_hz`]).
//!
//! The peaks sit at the exact base-10 midbands with the octave design's overlap scaled to a
//! third of an octave (bandwidth ratio `2.7^(1/3)`), the low shelf at the lower edge of the
//! lowest band and the high shelf at the upper edge of the highest (at most `0.45·fs`); one
//! control point below the lowest band and one above the highest hold the shelves at the outer
//! bands' targets, so what lies outside the audio band follows its edge bands (a room with no
//! energy above 16 kHz gets none at 30 kHz either). Measured (tests below): flat, tilts, single
//! band notches of −30 dB and ±6 dB steps between third-octave neighbours within 0.5 dB at the
//! command frequencies.

use crate::analysis::bands::{audio_third_octaves_hz, exact_midband_hz, iec_band_edges_hz};
use crate::geq::{
    expand_targets, fit_control_gains, least_squares_projection, section_coefficients, section_db,
    GeqError, SectionKind, CORRECTION_ITERATIONS, MAX_FREQUENCY_RATIO, MIDPOINT_WEIGHT,
};
use crate::sos::SosBank;

/// Bandwidth ratio of the third-octave peaks: the octave design's 2.7 over a third of an octave.
pub const BANDWIDTH_RATIO: f64 = 1.392_476_650_177_346;

/// Lowest sample rate the design accepts, Hz (the 20 Hz … 3.15 kHz bands fit at 8 kHz).
pub const MIN_RATE_HZ: f64 = 8000.0;

/// The fixed part of a third-octave design at one sample rate.
#[derive(Debug, Clone)]
pub struct ThirdOctaveEq {
    fs: f64,
    bands_hz: Vec<f64>,
    kinds: Vec<SectionKind>,
    phi: Vec<f64>,
    expand: Vec<f64>,
    projection: Vec<f64>,
}

impl ThirdOctaveEq {
    /// Plans the design at `fs` Hz (at least [`MIN_RATE_HZ`]).
    pub fn new(fs: f64) -> Result<Self, GeqError> {
        if !(fs.is_finite() && fs >= MIN_RATE_HZ) {
            return Err(GeqError::SampleRate {
                fs,
                min: MIN_RATE_HZ,
            });
        }
        let bands_hz = audio_third_octaves_hz(fs);
        let nb = bands_hz.len();
        let pi = std::f64::consts::PI;
        let fmax = MAX_FREQUENCY_RATIO * fs;
        let centres: Vec<f64> = bands_hz.iter().map(|&f| exact_midband_hz(f, 3)).collect();
        let q = BANDWIDTH_RATIO.sqrt() / (BANDWIDTH_RATIO - 1.0);
        let shelf = |f: f64| (pi * f.min(fmax) / fs).tan();
        let low_edge = iec_band_edges_hz(bands_hz[0], 3).0;
        let high_edge = iec_band_edges_hz(bands_hz[nb - 1], 3).1;
        let mut kinds = vec![
            SectionKind::Gain,
            SectionKind::LowShelf { t: shelf(low_edge) },
        ];
        for &fc in &centres {
            let w = 2.0 * pi * fc / fs;
            kinds.push(SectionKind::Peak {
                t: (w / (2.0 * q)).tan(),
                cos_w: w.cos(),
            });
        }
        kinds.push(SectionKind::HighShelf {
            t: shelf(high_edge),
        });
        // Control points: below the lowest band, each band and the log midpoints, above the
        // highest (weights as in the octave design).
        let mut control_hz = Vec::new();
        let mut weights = Vec::new();
        let mut expand = Vec::new();
        let mut push = |f: f64, w: f64, row: Vec<f64>| {
            control_hz.push(f);
            weights.push(w);
            expand.extend(row);
        };
        let unit = |j: usize| -> Vec<f64> { (0..nb).map(|k| f64::from(k == j)).collect() };
        push(low_edge / 2f64.powf(1.0 / 3.0), MIDPOINT_WEIGHT, unit(0));
        for j in 0..nb {
            push(centres[j], 1.0, unit(j));
            if j + 1 < nb {
                let mut row = vec![0.0; nb];
                row[j] = 0.5;
                row[j + 1] = 0.5;
                push((centres[j] * centres[j + 1]).sqrt(), MIDPOINT_WEIGHT, row);
            }
        }
        let above = (high_edge * 2f64.powf(1.0 / 3.0)).min(fmax);
        if above > centres[nb - 1] {
            push(above, MIDPOINT_WEIGHT, unit(nb - 1));
        }
        let phi: Vec<f64> = control_hz
            .iter()
            .map(|f| (pi * f / fs).sin().powi(2))
            .collect();
        let active = vec![true; kinds.len()];
        let projection = least_squares_projection(&kinds, &active, &phi, &weights);
        Ok(Self {
            fs,
            bands_hz,
            kinds,
            phi,
            expand,
            projection,
        })
    }

    /// Nominal centres of the command bands, Hz.
    pub fn bands_hz(&self) -> &[f64] {
        &self.bands_hz
    }

    /// Sample rate of the plan, Hz.
    pub fn sample_rate(&self) -> f64 {
        self.fs
    }

    /// Normalised sections (`a0 = 1`) realising `gains_db` (one per command band, dB).
    pub fn sections(&self, gains_db: &[f64]) -> Result<Vec<[f64; 6]>, GeqError> {
        if gains_db.len() != self.bands_hz.len() {
            return Err(GeqError::Bands {
                got: gains_db.len(),
                want: self.bands_hz.len(),
            });
        }
        if let Some(band) = gains_db.iter().position(|g| !g.is_finite()) {
            return Err(GeqError::Gain {
                band,
                value: gains_db[band],
            });
        }
        let t = expand_targets(&self.expand, gains_db);
        let x = fit_control_gains(
            &self.kinds,
            &self.phi,
            &self.projection,
            &t,
            CORRECTION_ITERATIONS,
        );
        let sos: Vec<[f64; 6]> = self
            .kinds
            .iter()
            .zip(&x)
            .map(|(&k, &g)| {
                let c = section_coefficients(k, g);
                c.map(|v| v / c[3])
            })
            .collect();
        if sos.iter().flatten().any(|v| !v.is_finite()) {
            return Err(GeqError::NonFinite {
                what: "output",
                index: 0,
            });
        }
        Ok(sos)
    }

    /// dB response of `sos` at `f` Hz.
    pub fn response_db(&self, sos: &[[f64; 6]], f: f64) -> f64 {
        let phi = (std::f64::consts::PI * f / self.fs).sin().powi(2);
        sos.iter().map(|q| section_db(q, phi)).sum()
    }
}

/// The output EQ bank of `n_out` equal channels realising `gains_db` (one per band of
/// [`ThirdOctaveEq::bands_hz`] at `fs` Hz, dB).
pub fn third_octave_output(gains_db: &[f64], n_out: usize, fs: f64) -> Result<SosBank, GeqError> {
    if n_out == 0 {
        return Err(GeqError::Empty {
            what: "output channel",
        });
    }
    let sos = ThirdOctaveEq::new(fs)?.sections(gains_db)?;
    let s = sos.len();
    let mut data = vec![0.0; s * 6 * n_out];
    for (k, sec) in sos.iter().enumerate() {
        for (row, v) in sec.iter().enumerate() {
            for ch in 0..n_out {
                data[(k * 6 + row) * n_out + ch] = *v;
            }
        }
    }
    SosBank::new(s, n_out, data).map_err(|_| GeqError::NonFinite {
        what: "output",
        index: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Largest |realised − target| dB at the band centres.
    fn worst(eq: &ThirdOctaveEq, target: &[f64]) -> f64 {
        let sos = eq.sections(target).unwrap();
        eq.bands_hz()
            .iter()
            .zip(target)
            .map(|(&f, t)| (eq.response_db(&sos, exact_midband_hz(f, 3)) - t).abs())
            .fold(0.0, f64::max)
    }

    #[test]
    fn smooth_targets_steps_and_notches_are_met_at_every_rate() {
        for fs in [16000.0, 44100.0, 48000.0, 96000.0, 192000.0] {
            let eq = ThirdOctaveEq::new(fs).unwrap();
            let nb = eq.bands_hz().len();
            let mut cases: Vec<Vec<f64>> = vec![vec![0.0; nb], vec![-9.0; nb]];
            cases.push((0..nb).map(|j| -0.5 * j as f64).collect());
            cases.push((0..nb).map(|j| 8.0 * (j as f64 * 0.4).sin()).collect());
            // A loudspeaker cut-off: −40 dB up to 31.5 Hz under a +30 dB boost; a steep top:
            // −30 dB above 12.5 kHz.
            cases.push(
                eq.bands_hz()
                    .iter()
                    .map(|&f| {
                        if f <= 31.5 {
                            -40.0
                        } else if f <= 63.0 {
                            30.0
                        } else {
                            0.0
                        }
                    })
                    .collect(),
            );
            cases.push(
                eq.bands_hz()
                    .iter()
                    .map(|&f| if f >= 12500.0 { -30.0 } else { 0.0 })
                    .collect(),
            );
            // ±6 dB steps between neighbours every three bands.
            cases.push(
                (0..nb)
                    .map(|j| if (j / 3) % 2 == 0 { 6.0 } else { 0.0 })
                    .collect(),
            );
            for t in &cases {
                let e = worst(&eq, t);
                assert!(e < 0.5, "fs {fs}: {e} dB off for {t:?}");
            }
        }
    }

    #[test]
    fn bands_follow_the_rate_and_bad_input_is_refused() {
        assert_eq!(ThirdOctaveEq::new(48000.0).unwrap().bands_hz().len(), 31);
        assert_eq!(ThirdOctaveEq::new(44100.0).unwrap().bands_hz().len(), 30);
        let low = ThirdOctaveEq::new(8000.0).unwrap();
        assert_eq!(*low.bands_hz().last().unwrap(), 3150.0);
        assert!(ThirdOctaveEq::new(4000.0).is_err());
        assert!(ThirdOctaveEq::new(f64::NAN).is_err());
        let eq = ThirdOctaveEq::new(48000.0).unwrap();
        assert!(matches!(
            eq.sections(&[0.0; 3]),
            Err(GeqError::Bands { .. })
        ));
        let mut g = vec![0.0; 31];
        g[4] = f64::INFINITY;
        assert!(matches!(
            eq.sections(&g),
            Err(GeqError::Gain { band: 4, .. })
        ));
        let bank = third_octave_output(&vec![1.0; 31], 2, 48000.0).unwrap();
        assert_eq!(bank.channels(), 2);
        assert!(third_octave_output(&vec![1.0; 31], 0, 48000.0).is_err());
    }
}
