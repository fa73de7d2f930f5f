//! Early reflections of a fitted preset: the measured early part kept as a FIR, crossfaded into
//! the FDN tail.
//!
//! The preset's response is `h = h_fdn + fir` (the FIR runs in parallel with the FDN). Choosing
//! `fir = (measured − h_fdn)·(1 − w)` with a raised-cosine fade `w` (0 before `start`, 1 after
//! `end`) gives exactly `h = measured·(1 − w) + h_fdn·w`: the measured IR up to `start`, a
//! crossfade, then the pure FDN tail.
//!
//! A fade of a few ms is a fraction of one period below 200 Hz: cutting the measured IR there
//! leaks its direct sound into the low bands (measured on a small room: +8 dB in the 31.5 Hz
//! third-octave over the whole room's energy there, which no FDN level can take back). So below
//! [`LF_SPLIT_HZ`] the crossfade runs over [`LF_FADE_S`] instead — several periods down to 20 Hz:
//! with `d = measured − h_fdn`, `w` the short fade and `w_lo` the long one,
//! `fir = d·(1 − w) + lo(d·(w − w_lo))`, `lo` the zero-phase low part. Its spectrum below the
//! split is exactly that of `d·(1 − w_lo)` (the short cut's low-frequency leakage cancels), above
//! it that of `d·(1 − w)`; the measured IR is kept exactly up to `start` less the split kernel's
//! few ms. The FIR is [`early_fir_len`] samples long.

use realfft::num_complex::Complex;
use realfft::RealFftPlanner;

/// Crossover of the low part with the long fade, Hz (a raised cosine over ±half an octave).
pub const LF_SPLIT_HZ: f64 = 200.0;

/// Fade length of the low part, seconds (3 periods of 20 Hz).
pub const LF_FADE_S: f64 = 0.15;

/// Length in samples of the early FIR for the fade `start..end` at `fs` Hz: the end of the low
/// part's fade, at least `end`.
pub fn early_fir_len(start: usize, end: usize, fs: f64) -> usize {
    end.max(start + (LF_FADE_S * fs).round() as usize)
}

/// Gain of the low part of the split on the `n/2 + 1` bins of an `n`-point real FFT at `fs` Hz:
/// 1 up to half an octave below [`LF_SPLIT_HZ`], 0 from half an octave above, a raised cosine in
/// log frequency between.
pub fn low_split_gains(n: usize, fs: f64) -> Vec<f64> {
    (0..=n / 2)
        .map(|k| {
            let f = k as f64 * fs / n as f64;
            let t = if f > 0.0 {
                ((f / LF_SPLIT_HZ).log2() + 0.5).clamp(0.0, 1.0)
            } else {
                0.0
            };
            0.5 + 0.5 * (std::f64::consts::PI * t).cos()
        })
        .collect()
}

/// The zero-phase low part of `x` below [`LF_SPLIT_HZ`] at `fs` Hz (gain 1 up to half an octave
/// below, 0 from half an octave above, raised cosine in log frequency between), computed
/// circularly over twice its length so nothing wraps into `x`'s span.
pub fn low_part(x: &[f64], fs: f64) -> Vec<f64> {
    if x.is_empty() {
        return Vec::new();
    }
    let n = (2 * x.len()).next_power_of_two();
    let mut planner = RealFftPlanner::<f64>::new();
    let (fwd, inv) = (planner.plan_fft_forward(n), planner.plan_fft_inverse(n));
    let mut buf = vec![0.0; n];
    buf[..x.len()].copy_from_slice(x);
    let mut spec = fwd.make_output_vec();
    if fwd.process(&mut buf, &mut spec).is_err() {
        return vec![0.0; x.len()];
    }
    for (z, h) in spec.iter_mut().zip(low_split_gains(n, fs)) {
        *z *= h / n as f64;
    }
    spec[0].im = 0.0;
    if let Some(last) = spec.last_mut() {
        *last = Complex::new(last.re, 0.0);
    }
    let mut out = inv.make_output_vec();
    if inv.process(&mut spec, &mut out).is_err() {
        return vec![0.0; x.len()];
    }
    out.truncate(x.len());
    out
}

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

/// The early FIR over `0..early_fir_len(start, end, fs)` samples (see the module docs):
/// `d·(1 − w) + lo(d·(w − w_lo))` with `d = measured − fdn`, `w` the fade over `start..end` and
/// `w_lo` the fade over `start..len`; inputs shorter than the FIR are treated as zero beyond
/// their length.
pub fn bake_early_fir(
    measured: &[f64],
    fdn: &[f64],
    start: usize,
    end: usize,
    fs: f64,
) -> Vec<f64> {
    let len = early_fir_len(start, end, fs);
    let d: Vec<f64> = (0..len)
        .map(|n| measured.get(n).copied().unwrap_or(0.0) - fdn.get(n).copied().unwrap_or(0.0))
        .collect();
    let (w, w_lo) = (fade_in(len, start, end), fade_in(len, start, len));
    let extra: Vec<f64> = (0..len).map(|n| d[n] * (w[n] - w_lo[n])).collect();
    let lo = low_part(&extra, fs);
    (0..len).map(|n| d[n] * (1.0 - w[n]) + lo[n]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fir_plus_fdn_is_the_crossfade_of_measured_and_fdn() {
        let measured: Vec<f64> = (0..400).map(|n| ((n * 7919) % 13) as f64 - 6.0).collect();
        let fdn: Vec<f64> = (0..400).map(|n| (n as f64 * 0.37).sin()).collect();
        let (start, end) = (100, 160);
        // At 400 Hz the low fade (0.15 s) is 60 samples: it ends where the high one does.
        let fir = bake_early_fir(&measured, &fdn, start, end, 400.0);
        assert_eq!(fir.len(), end);
        let w = fade_in(400, start, end);
        for n in 0..400 {
            let total = fdn[n] + fir.get(n).copied().unwrap_or(0.0);
            let want = measured[n] * (1.0 - w[n]) + fdn[n] * w[n];
            assert!((total - want).abs() < 1e-12, "n={n}");
        }
        assert!((fir[0] - (measured[0] - fdn[0])).abs() < 1e-12);
        assert_eq!(w[99], 0.0);
        assert_eq!(w[160], 1.0);
        assert!(w[130] > 0.49 && w[130] < 0.51);
    }

    #[test]
    fn the_low_part_fades_later_and_the_parts_sum_to_the_difference() {
        let fs = 48000.0;
        // 50 Hz and 2 kHz, a decaying pair: both sides of the split.
        let measured: Vec<f64> = (0..20000)
            .map(|n| {
                let t = n as f64 / fs;
                let w = 2.0 * std::f64::consts::PI * t;
                ((w * 50.0).sin() + (w * 2000.0).sin()) * (-t / 0.1).exp()
            })
            .collect();
        let fdn = vec![0.0; 20000];
        let (start, end) = (960, 1200);
        let fir = bake_early_fir(&measured, &fdn, start, end, fs);
        assert_eq!(fir.len(), early_fir_len(start, end, fs));
        assert_eq!(fir.len(), 960 + 7200);
        // Before the fades (less the split kernel's few ms) the FIR is the measured IR.
        for n in 0..start - 480 {
            assert!((fir[n] - measured[n]).abs() < 1e-3, "n={n}");
        }
        // After the short fade only the low part is left: its spectrum an octave above the split
        // (the raised cosine ends at 283 Hz) holds less than 1 % of its energy.
        let tail = &fir[end..];
        let n = (2 * tail.len()).next_power_of_two();
        let mut buf = vec![0.0; n];
        buf[..tail.len()].copy_from_slice(tail);
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(n);
        let mut spec = fft.make_output_vec();
        fft.process(&mut buf, &mut spec).unwrap();
        let edge = (2.0 * LF_SPLIT_HZ * n as f64 / fs) as usize;
        let hi_energy: f64 = spec[edge..].iter().map(|z| z.norm_sqr()).sum();
        let energy: f64 = spec.iter().map(|z| z.norm_sqr()).sum();
        assert!(
            energy > 0.0 && hi_energy < 1e-2 * energy,
            "{hi_energy} of {energy}"
        );
        // A 50 Hz tone passes the split whole, a 2 kHz tone not at all.
        let tone = |f: f64| -> Vec<f64> {
            (0..8192)
                .map(|n| (2.0 * std::f64::consts::PI * f * n as f64 / fs).sin())
                .collect()
        };
        let (lo50, lo2k) = (low_part(&tone(50.0), fs), low_part(&tone(2000.0), fs));
        let mid = 2000..6000;
        let e = |v: &[f64]| v[mid.clone()].iter().map(|x| x * x).sum::<f64>();
        assert!((e(&lo50) / e(&tone(50.0)) - 1.0).abs() < 0.01);
        assert!(e(&lo2k) < 1e-6 * e(&tone(2000.0)));
    }
}
