//! Early reflections of a fitted preset: the measured early part kept as a FIR, crossfaded into
//! the FDN tail.
//!
//! The preset's response is `h = h_fdn + fir` (the FIR runs in parallel with the FDN). Choosing
//! `fir = (measured − h_fdn)·(1 − w)` with a raised-cosine fade `w` (0 before `start`, 1 after
//! `end`) gives exactly `h = measured·(1 − w) + h_fdn·w`: the measured IR up to `start`, a
//! crossfade, then the pure FDN tail. The FIR is `end` samples long.

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
}
