//! The decay-scale control: re-deriving the in-loop attenuation (`post_delay`) so that every
//! band's reverberation time is multiplied by a factor `s`.
//!
//! Approach. A per-line attenuation with gain `g` (linear) over delay `m` gives
//! `RT = −60·m / (fs · 20·log10 g)`, so multiplying RT by `s` means dividing the gain in dB by
//! `s`: `g' = g^(1/s)`.
//! * **First-order designs** (`decay_to_first_order_shelf`, `with_decay`, one-pole lowpasses; any
//!   single section `[b0, b1, 0, 1, a1, 0]` with `|a1| < 1`, `H(1) > 0`, `H(−1) > 0`): every such
//!   section equals `shelf_section(g_dc, g_ny, t)` with `g_dc = H(1)`, `g_ny = H(−1)`,
//!   `r = √(g_dc/g_ny)` and warp `t = r·(1 + a1)/(1 − a1)`. The rescaled section is
//!   `shelf_section(g_dc^(1/s), g_ny^(1/s), t)`: both endpoint RTs are multiplied by `s` exactly
//!   and the crossover warp is kept (a one-pole design becomes a shelf with the same crossover).
//! * **Other designs** (several sections, second-order sections): the whole cascade is scaled by
//!   `g_dc^(1/s − 1)` with `g_dc = |H(1)|`, which multiplies the DC reverberation time by `s`
//!   exactly and the others approximately.
//! * **No `post_delay`** (lossless loop): the reverberation time is infinite; the scale has no
//!   effect.

use super::filters::{normalized, LineFilters};
use crate::decay::shelf_section;
use crate::sos::SosBank;

/// Smallest accepted decay scale (×).
pub const MIN_DECAY_SCALE: f64 = 0.05;
/// Largest accepted decay scale (×).
pub const MAX_DECAY_SCALE: f64 = 20.0;

/// How the post-delay attenuation of a build is rescaled.
#[derive(Debug, Clone)]
pub enum DecayDesign {
    /// No attenuation in the loop: nothing to rescale.
    Lossless,
    /// One first-order shelf per line: `(ln g_dc, ln g_ny, t)` per line.
    Shelf(Vec<(f64, f64, f64)>),
    /// Any other cascade: `ln |H(1)|` per line and the original sections `[k][line]`.
    Broadband {
        /// `ln |H_line(1)|`.
        ln_dc: Vec<f64>,
        /// Normalised sections `[b0, b1, b2, a1, a2]`, index `k · N + line`.
        sections: Vec<[f64; 5]>,
    },
}

impl DecayDesign {
    /// Recovers the design of a post-delay bank (`None` = lossless loop).
    pub fn from_bank(bank: Option<&SosBank>) -> Self {
        let Some(bank) = bank else {
            return DecayDesign::Lossless;
        };
        let n = bank.channels();
        if bank.sections() == 1 {
            let shelves: Option<Vec<(f64, f64, f64)>> = (0..n)
                .map(|c| {
                    let [b0, b1, b2, a1, a2] = normalized(bank, 0, c);
                    if b2 != 0.0 || a2 != 0.0 || a1.abs() >= 1.0 {
                        return None;
                    }
                    let g_dc = (b0 + b1) / (1.0 + a1);
                    let g_ny = (b0 - b1) / (1.0 - a1);
                    if !(g_dc > 0.0 && g_ny > 0.0) {
                        return None;
                    }
                    let t = (g_dc / g_ny).sqrt() * (1.0 + a1) / (1.0 - a1);
                    (t.is_finite() && t > 0.0).then_some((g_dc.ln(), g_ny.ln(), t))
                })
                .collect();
            if let Some(s) = shelves {
                return DecayDesign::Shelf(s);
            }
        }
        let k = bank.sections();
        DecayDesign::Broadband {
            ln_dc: (0..n)
                .map(|c| {
                    let g = bank.eval(c, num_complex::Complex64::new(1.0, 0.0)).norm();
                    if g > 0.0 && g.is_finite() {
                        g.ln()
                    } else {
                        0.0
                    }
                })
                .collect(),
            sections: (0..k)
                .flat_map(|s| (0..n).map(move |c| normalized(bank, s, c)))
                .collect(),
        }
    }

    /// Writes the coefficients for decay scale `s` (×, clamped to the accepted range) into
    /// `filters`. Allocation-free; a few `exp` per line.
    pub fn apply(&self, s: f64, filters: &mut LineFilters) {
        let s = if s.is_finite() {
            s.clamp(MIN_DECAY_SCALE, MAX_DECAY_SCALE)
        } else {
            1.0
        };
        match self {
            DecayDesign::Lossless => {}
            DecayDesign::Shelf(lines) => {
                for (line, &(ln_dc, ln_ny, t)) in lines.iter().enumerate() {
                    let sec = shelf_section((ln_dc / s).exp(), (ln_ny / s).exp(), t);
                    filters.set_section(0, line, [sec[0], sec[1], sec[2], sec[4], sec[5]]);
                }
            }
            DecayDesign::Broadband { ln_dc, sections } => {
                let n = ln_dc.len();
                for (i, &sec) in sections.iter().enumerate() {
                    let (k, line) = (i / n, i % n);
                    let mut sec = sec;
                    if k == 0 {
                        let f = (ln_dc[line] * (1.0 / s - 1.0)).exp();
                        sec[0] *= f;
                        sec[1] *= f;
                        sec[2] *= f;
                    }
                    filters.set_section(k, line, sec);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decay::{decay_to_first_order_shelf, decay_to_one_pole, delay_gain};

    #[test]
    fn shelf_and_one_pole_designs_are_recovered_and_rescaled() {
        let delays = [571, 1105, 433];
        let fs = 48000.0;
        for bank in [
            decay_to_first_order_shelf(2.0, 0.5, None, &delays, fs).unwrap(),
            decay_to_one_pole(2.0, 0.5, &delays, fs).unwrap(),
        ] {
            let DecayDesign::Shelf(lines) = DecayDesign::from_bank(Some(&bank)) else {
                panic!("first-order design not recognised");
            };
            for (c, &(ln_dc, ln_ny, t)) in lines.iter().enumerate() {
                // At scale 1 the original section is reproduced.
                let orig = bank.normalized_section(0, c);
                let same = shelf_section(ln_dc.exp(), ln_ny.exp(), t);
                for (x, y) in orig.iter().zip(same) {
                    assert!((x - y).abs() < 1e-12, "{orig:?} vs {same:?}");
                }
                // At scale 2 both endpoint RTs double.
                let sec = shelf_section((ln_dc / 2.0).exp(), (ln_ny / 2.0).exp(), t);
                let b = SosBank::from_single_sections(&[sec]).unwrap();
                let m = delays[c] as f64;
                assert!((b.magnitude(0, 0.0) - delay_gain(4.0, m, fs)).abs() < 1e-12);
                assert!(
                    (b.magnitude(0, std::f64::consts::PI) - delay_gain(1.0, m, fs)).abs() < 1e-12
                );
            }
        }
        assert!(matches!(
            DecayDesign::from_bank(None),
            DecayDesign::Lossless
        ));
    }
}
