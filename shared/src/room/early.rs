//! Early reflections of a fitted preset: the measured early part kept as a FIR, crossfaded into
//! the FDN tail.
//!
//! The preset's response is `h = h_fdn + fir` (the FIR runs in parallel with the FDN). Choosing
//! `fir = (measured − h_fdn)·(1 − w)` with a raised-cosine fade `w` (0 before `start`, 1 after
//! `end`) gives exactly `h = measured·(1 − w) + h_fdn·w`: the measured IR up to `start`, a
//! crossfade, then the pure FDN tail. The FIR is `end` samples long.
//!
//! A timbre EQ that must act on the whole response (the third-octave polish) is applied to both
//! parts: the FDN carries it in its output filters and the FIR is filtered offline, so
//! `h = eq ∗ (h_fdn + fir)` exactly. The filtered FIR runs past `end` by the EQ's ringing and is
//! cut where what is left of it is below [`EQ_TAIL_DB`] of its energy. Filtering the FIR *after*
//! its crossfade matters: a cut FIR (the measured part, or the FDN's own first arrivals that the
//! crossfade removes) spreads the energy of the bands above into bands the room does not have
//! (e.g. below 40 Hz, a few tens of ms after the onset); the EQ must see that spread to remove it.

use crate::sos::{SosBank, SosChannelFilter};

/// Energy left after the end of an EQ'd early FIR, relative to its whole energy, dB.
pub const EQ_TAIL_DB: f64 = -90.0;

/// Raised-cosine fade-in weights of length `len`: 0 before `start`, 1 from `end` on (samples).
pub fn fade_in(len: usize, start: usize, end: usize) -> Vec<f64> {
    (0..len)
        .map(|n| {
            if n < start {
                0.0
            } else if n >= end {
                1.0
            } else {
                let x = (n - start) as f64 / (end - start) as f64;
                0.5 - 0.5 * (std::f64::consts::PI * x).cos()
            }
        })
        .collect()
}

/// The early FIR `(measured − fdn)·(1 − w)` over `0..end` samples (see the module docs); inputs
/// shorter than `end` are treated as zero beyond their length.
pub fn bake_early_fir(measured: &[f64], fdn: &[f64], start: usize, end: usize) -> Vec<f64> {
    let w = fade_in(end, start, end);
    (0..end)
        .map(|n| {
            let m = measured.get(n).copied().unwrap_or(0.0);
            let f = fdn.get(n).copied().unwrap_or(0.0);
            (m - f) * (1.0 - w[n])
        })
        .collect()
}

/// `fir` filtered by `eq` (the 1-channel cascade that the FDN's output filters also carry; see the
/// module docs), cut where the energy still to come is below [`EQ_TAIL_DB`] of the whole, at
/// least `fir.len()` and at most `max_len` samples long.
pub fn eq_early_fir(fir: &[f64], eq: &SosBank, max_len: usize) -> Vec<f64> {
    let max_len = max_len.max(fir.len());
    let mut filter = SosChannelFilter::new(eq, 0);
    let mut out: Vec<f64> = (0..max_len)
        .map(|n| filter.tick(fir.get(n).copied().unwrap_or(0.0)))
        .collect();
    let total: f64 = out.iter().map(|v| v * v).sum();
    let floor = total * 10f64.powf(EQ_TAIL_DB / 10.0);
    let mut rest = 0.0;
    let mut len = max_len;
    for (n, v) in out.iter().enumerate().rev() {
        rest += v * v;
        if rest > floor {
            len = n + 1;
            break;
        }
    }
    out.truncate(len.max(fir.len()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fir_plus_fdn_is_the_crossfade_of_measured_and_fdn() {
        let measured: Vec<f64> = (0..400).map(|n| ((n * 7919) % 13) as f64 - 6.0).collect();
        let fdn: Vec<f64> = (0..400).map(|n| (n as f64 * 0.37).sin()).collect();
        let (start, end) = (100, 160);
        let fir = bake_early_fir(&measured, &fdn, start, end);
        assert_eq!(fir.len(), end);
        let w = fade_in(400, start, end);
        for n in 0..400 {
            let total = fdn[n] + fir.get(n).copied().unwrap_or(0.0);
            let want = measured[n] * (1.0 - w[n]) + fdn[n] * w[n];
            assert!((total - want).abs() < 1e-12, "n={n}");
        }
        assert_eq!(fir[0], measured[0] - fdn[0]);
        assert_eq!(w[99], 0.0);
        assert_eq!(w[160], 1.0);
        assert!(w[130] > 0.49 && w[130] < 0.51);
    }

    #[test]
    fn an_eqd_fir_is_the_filtered_fir_cut_below_the_tail_floor() {
        let fir: Vec<f64> = (0..160).map(|n| ((n * 7919) % 13) as f64 - 6.0).collect();
        // A resonant peak (poles at radius 0.99): rings well past the FIR.
        let (r, th) = (0.99f64, 0.3f64);
        let sec = [1.0, 0.0, -1.0, 1.0, -2.0 * r * th.cos(), r * r];
        let eq = SosBank::from_single_sections(&[sec]).unwrap();
        let out = eq_early_fir(&fir, &eq, 2500);
        assert!(out.len() > 660 && out.len() < 2500, "{}", out.len());
        let mut f = SosChannelFilter::new(&eq, 0);
        let all: Vec<f64> = (0..20000)
            .map(|n| f.tick(fir.get(n).copied().unwrap_or(0.0)))
            .collect();
        for n in 0..out.len() {
            assert!((out[n] - all[n]).abs() < 1e-12, "n={n}");
        }
        let e = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>();
        let left = e(&all[out.len()..]) / e(&all);
        let floor = 10f64.powf(EQ_TAIL_DB / 10.0);
        assert!(left <= floor * 1.01, "{left}");
        // One sample shorter would leave more than the floor.
        assert!(e(&all[out.len() - 1..]) / e(&all) > floor * 0.99);
        // A flat EQ gives the FIR back; the cap holds.
        let flat = SosBank::gains(&[1.0]).unwrap();
        assert_eq!(eq_early_fir(&fir, &flat, 2500), fir);
        assert_eq!(eq_early_fir(&fir, &eq, 300).len(), 300);
    }
}
