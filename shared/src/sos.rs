//! Banks of second-order sections (SOS): one cascade of `K` biquads per channel.
//!
//! Layout follows pyFDN: shape `(K, 6, C)`, row `[b0, b1, b2, a0, a1, a2]` of section `k` for
//! channel `c`, H(z) = Π_k (b0 + b1 z⁻¹ + b2 z⁻²)/(a0 + a1 z⁻¹ + a2 z⁻²). Coefficients are kept as
//! given; evaluation and filtering normalise by `a0` (FLAMO's convention; pyFDN's scipy path would
//! instead refuse `a0 ≠ 1`).

use num_complex::Complex64;
use serde::{Deserialize, Serialize};

/// Why an SOS bank was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SosError {
    /// Fewer than one section or channel.
    #[error("must have at least one section and one channel (got {sections} sections, {channels} channels)")]
    Empty {
        /// Number of sections given.
        sections: usize,
        /// Number of channels given.
        channels: usize,
    },
    /// Data length does not match `sections · 6 · channels`.
    #[error("data holds {len} values, expected sections·6·channels = {expected}")]
    Length {
        /// Values given.
        len: usize,
        /// Values expected.
        expected: usize,
    },
    /// A coefficient is NaN or infinite.
    #[error("must contain only finite values (section {section}, row {row}, channel {channel})")]
    NonFinite {
        /// Section index.
        section: usize,
        /// Row index 0..6.
        row: usize,
        /// Channel index.
        channel: usize,
    },
    /// A section has `a0 = 0`, so it has no defined response.
    #[error("has a section with a0 = 0 (section {section}, channel {channel})")]
    ZeroA0 {
        /// Section index.
        section: usize,
        /// Channel index.
        channel: usize,
    },
    /// `a0` is subnormal or so small against the other coefficients that normalising by it
    /// leaves a coefficient that is not finite or above [`MAX_NORMALIZED_COEF`].
    #[error("section {section}, channel {channel}: a0 = {a0:e} is subnormal or too small for the section (largest |coefficient / a0| = {ratio:e}, the limit is {max:e}); scale the section so that a0 = 1", max = MAX_NORMALIZED_COEF)]
    TinyA0 {
        /// Section index.
        section: usize,
        /// Channel index.
        channel: usize,
        /// The section's a0.
        a0: f64,
        /// Largest |coefficient / a0| of the section (may be infinite).
        ratio: f64,
    },
}

/// Largest allowed |coefficient / a0| of a section (a 240 dB gain factor): beyond it a section
/// is numerically meaningless and its response cannot be bounded reliably.
pub const MAX_NORMALIZED_COEF: f64 = 1e12;

/// A validated SOS bank of shape `(sections, 6, channels)`: finite, every `a0 ≠ 0`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Vec<Vec<f64>>>", into = "Vec<Vec<Vec<f64>>>")]
pub struct SosBank {
    sections: usize,
    channels: usize,
    /// Flat `(K, 6, C)` row-major values.
    data: Vec<f64>,
}

impl TryFrom<Vec<Vec<Vec<f64>>>> for SosBank {
    type Error = String;
    fn try_from(v: Vec<Vec<Vec<f64>>>) -> Result<Self, String> {
        let k = v.len();
        let c = v.first().and_then(|s| s.first()).map_or(0, Vec::len);
        if v.iter()
            .any(|s| s.len() != 6 || s.iter().any(|r| r.len() != c))
        {
            return Err("SOS bank must have shape (sections, 6, channels)".into());
        }
        let data = v.into_iter().flatten().flatten().collect();
        SosBank::new(k, c, data).map_err(|e| e.to_string())
    }
}

impl From<SosBank> for Vec<Vec<Vec<f64>>> {
    fn from(b: SosBank) -> Self {
        b.to_nested()
    }
}

impl SosBank {
    /// Validates a flat `(sections, 6, channels)` row-major array.
    pub fn new(sections: usize, channels: usize, data: Vec<f64>) -> Result<Self, SosError> {
        if sections == 0 || channels == 0 {
            return Err(SosError::Empty { sections, channels });
        }
        let expected = sections * 6 * channels;
        if data.len() != expected {
            return Err(SosError::Length {
                len: data.len(),
                expected,
            });
        }
        for (i, v) in data.iter().enumerate() {
            if !v.is_finite() {
                return Err(SosError::NonFinite {
                    section: i / (6 * channels),
                    row: (i / channels) % 6,
                    channel: i % channels,
                });
            }
        }
        let bank = Self {
            sections,
            channels,
            data,
        };
        for k in 0..sections {
            for c in 0..channels {
                let a0 = bank.coef(k, 3, c);
                if a0 == 0.0 {
                    return Err(SosError::ZeroA0 {
                        section: k,
                        channel: c,
                    });
                }
                let s = bank.section(k, c);
                // NaN-proof: a non-finite ratio becomes +inf, never dropped by a max.
                let ratio = s.iter().fold(0.0f64, |m, v| {
                    let r = (v / a0).abs();
                    if r.is_finite() {
                        m.max(r)
                    } else {
                        f64::INFINITY
                    }
                });
                if !a0.is_normal() || ratio > MAX_NORMALIZED_COEF {
                    return Err(SosError::TinyA0 {
                        section: k,
                        channel: c,
                        a0,
                        ratio,
                    });
                }
            }
        }
        Ok(bank)
    }

    /// Builds a bank with one channel per section list (`[b0, b1, b2, a0, a1, a2]` each); lists
    /// shorter than the longest are padded with unit sections (at least one section).
    pub fn from_channel_sections(channels: &[Vec<[f64; 6]>]) -> Result<Self, SosError> {
        let k = channels.iter().map(Vec::len).max().unwrap_or(0).max(1);
        let ch = channels.len();
        let unit = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];
        let mut data = vec![0.0; k * 6 * ch];
        for (c, secs) in channels.iter().enumerate() {
            for s in 0..k {
                let sec = secs.get(s).copied().unwrap_or(unit);
                for (row, v) in sec.iter().enumerate() {
                    data[(s * 6 + row) * ch + c] = *v;
                }
            }
        }
        Self::new(k, ch, data)
    }

    /// Each channel's sections, in order (the inverse of [`SosBank::from_channel_sections`]).
    pub fn to_channel_sections(&self) -> Vec<Vec<[f64; 6]>> {
        (0..self.channels)
            .map(|c| (0..self.sections).map(|k| self.section(k, c)).collect())
            .collect()
    }

    /// Builds a bank from per-channel sections `[b0, b1, b2, a0, a1, a2]` (one section each).
    pub fn from_single_sections(per_channel: &[[f64; 6]]) -> Result<Self, SosError> {
        let c = per_channel.len();
        let mut data = vec![0.0; 6 * c];
        for (ch, s) in per_channel.iter().enumerate() {
            for (row, v) in s.iter().enumerate() {
                data[row * c + ch] = *v;
            }
        }
        Self::new(1, c, data)
    }

    /// A one-section bank of pure gains `[g, 0, 0, 1, 0, 0]` (linear gain per channel).
    pub fn gains(g: &[f64]) -> Result<Self, SosError> {
        let s: Vec<[f64; 6]> = g.iter().map(|&g| [g, 0.0, 0.0, 1.0, 0.0, 0.0]).collect();
        Self::from_single_sections(&s)
    }

    /// Number of cascaded sections `K`.
    pub fn sections(&self) -> usize {
        self.sections
    }

    /// Number of channels `C`.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Coefficient at (section, row 0..6, channel).
    pub fn coef(&self, section: usize, row: usize, channel: usize) -> f64 {
        self.data[(section * 6 + row) * self.channels + channel]
    }

    /// Section `k` of channel `c` as `[b0, b1, b2, a0, a1, a2]`.
    pub fn section(&self, k: usize, c: usize) -> [f64; 6] {
        std::array::from_fn(|row| self.coef(k, row, c))
    }

    /// Section `k` of channel `c` normalised by `a0`: `[b0, b1, b2, 1, a1, a2] / a0`.
    pub fn normalized_section(&self, k: usize, c: usize) -> [f64; 6] {
        let s = self.section(k, c);
        let a0 = s[3];
        [s[0] / a0, s[1] / a0, s[2] / a0, 1.0, s[4] / a0, s[5] / a0]
    }

    /// Nested `(K, 6, C)` values (for JSON output).
    pub fn to_nested(&self) -> Vec<Vec<Vec<f64>>> {
        (0..self.sections)
            .map(|k| {
                (0..6)
                    .map(|row| (0..self.channels).map(|c| self.coef(k, row, c)).collect())
                    .collect()
            })
            .collect()
    }

    /// Response of channel `c` at the complex point `z`, given `zinv = z⁻¹` (each section
    /// normalised by its `a0` first, so extreme coefficient scales cannot overflow).
    pub fn eval(&self, c: usize, zinv: Complex64) -> Complex64 {
        let zinv2 = zinv * zinv;
        let mut h = Complex64::new(1.0, 0.0);
        for k in 0..self.sections {
            let s = self.normalized_section(k, c);
            let num = zinv2 * s[2] + zinv * s[1] + s[0];
            let den = zinv2 * s[5] + zinv * s[4] + s[3];
            h *= num / den;
        }
        h
    }

    /// Magnitude of channel `c` at normalised angular frequency `omega` (rad/sample).
    pub fn magnitude(&self, c: usize, omega: f64) -> f64 {
        self.eval(c, Complex64::from_polar(1.0, -omega)).norm()
    }

    /// Largest magnitude of any channel over `0..=π`: a dense grid of 4097 points (both ends
    /// included) plus the angle of every complex pole pair, where a resonance peaks between
    /// grid points. A non-finite magnitude makes the result +inf (it never vanishes in the max).
    pub fn max_gain(&self) -> f64 {
        let n = 4096;
        let mut max = 0.0f64;
        let mut take = |g: f64| {
            max = if g.is_nan() {
                f64::INFINITY
            } else {
                max.max(g)
            };
        };
        for c in 0..self.channels {
            for i in 0..=n {
                take(self.magnitude(c, std::f64::consts::PI * i as f64 / n as f64));
            }
            for k in 0..self.sections {
                let s = self.normalized_section(k, c);
                // z² + a1 z + a2 with complex roots r·e^{±jθ}: r² = a2, cos θ = −a1 / (2r).
                let (a1, a2) = (s[4], s[5]);
                if a2 > 0.0 && a1 * a1 < 4.0 * a2 {
                    let theta = (-a1 / (2.0 * a2.sqrt())).clamp(-1.0, 1.0).acos();
                    take(self.magnitude(c, theta));
                }
            }
        }
        max
    }

    /// True when every section's poles lie strictly inside the unit circle.
    pub fn poles_inside_unit_circle(&self) -> bool {
        (0..self.sections).all(|k| {
            (0..self.channels).all(|c| {
                let s = self.normalized_section(k, c);
                // z² + a1 z + a2: both roots inside the unit circle (Jury conditions).
                let (a1, a2) = (s[4], s[5]);
                a2.abs() < 1.0 && a1.abs() < 1.0 + a2
            })
        })
    }
}

/// Running state of one channel's cascade (transposed direct form II, normalised by `a0`).
#[derive(Debug, Clone)]
pub struct SosChannelFilter {
    /// Normalised coefficients per section `[b0, b1, b2, a1, a2]`.
    coefs: Vec<[f64; 5]>,
    /// Two state values per section.
    state: Vec<[f64; 2]>,
}

impl SosChannelFilter {
    /// A filter for channel `c` of `bank`, zero state.
    pub fn new(bank: &SosBank, c: usize) -> Self {
        let coefs: Vec<[f64; 5]> = (0..bank.sections())
            .map(|k| {
                let s = bank.normalized_section(k, c);
                [s[0], s[1], s[2], s[4], s[5]]
            })
            .collect();
        let state = vec![[0.0; 2]; coefs.len()];
        Self { coefs, state }
    }

    /// Filters one sample.
    #[inline]
    pub fn tick(&mut self, x: f64) -> f64 {
        let mut v = x;
        for (c, s) in self.coefs.iter().zip(self.state.iter_mut()) {
            let y = c[0] * v + s[0];
            s[0] = c[1] * v - c[3] * y + s[1];
            s[1] = c[2] * v - c[4] * y;
            v = y;
        }
        v
    }

    /// Clears the state.
    pub fn reset(&mut self) {
        self.state.iter_mut().for_each(|s| *s = [0.0; 2]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_a0_and_nan_are_refused() {
        let e = SosBank::from_single_sections(&[[1.0, 0.0, 0.0, 0.0, 0.0, 0.0]]).unwrap_err();
        assert_eq!(
            e,
            SosError::ZeroA0 {
                section: 0,
                channel: 0
            }
        );
        let e = SosBank::from_single_sections(&[[f64::NAN, 0.0, 0.0, 1.0, 0.0, 0.0]]).unwrap_err();
        assert!(matches!(e, SosError::NonFinite { .. }));
        assert!(matches!(
            SosBank::new(0, 1, vec![]),
            Err(SosError::Empty { .. })
        ));
        assert!(matches!(
            SosBank::new(1, 1, vec![1.0; 5]),
            Err(SosError::Length { .. })
        ));
    }

    #[test]
    fn filter_impulse_matches_frequency_response() {
        let bank = SosBank::from_single_sections(&[[0.5, 0.2, 0.1, 2.0, -0.6, 0.2]]).unwrap();
        let mut f = SosChannelFilter::new(&bank, 0);
        let h: Vec<f64> = (0..512)
            .map(|n| f.tick(if n == 0 { 1.0 } else { 0.0 }))
            .collect();
        for w in [0.0, 0.3, 1.7, std::f64::consts::PI] {
            let dft: Complex64 = h
                .iter()
                .enumerate()
                .map(|(n, &v)| Complex64::from_polar(v, -w * n as f64))
                .sum();
            let ev = bank.eval(0, Complex64::from_polar(1.0, -w));
            assert!((dft - ev).norm() < 1e-12, "{dft} vs {ev}");
        }
        assert!(bank.poles_inside_unit_circle());
        let unstable = SosBank::from_single_sections(&[[1.0, 0.0, 0.0, 1.0, -1.5, 0.0]]).unwrap();
        assert!(!unstable.poles_inside_unit_circle());
    }

    #[test]
    fn nested_roundtrip() {
        let bank = SosBank::new(2, 3, (0..36).map(|i| i as f64 + 1.0).collect()).unwrap();
        let nested = bank.to_nested();
        assert_eq!(nested.len(), 2);
        assert_eq!(nested[0].len(), 6);
        assert_eq!(nested[0][0].len(), 3);
        assert_eq!(SosBank::try_from(nested).unwrap(), bank);
    }
}
