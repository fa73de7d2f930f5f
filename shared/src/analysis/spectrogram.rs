//! Magnitude spectrogram (STFT) in dB for plots and reports.

use realfft::RealFftPlanner;

/// A magnitude spectrogram: `frames × bins` values in dB.
#[derive(Debug, Clone, PartialEq)]
pub struct Spectrogram {
    /// Values in dB, frame-major (`db[frame * bins + bin]`).
    pub db: Vec<f64>,
    /// Number of frames.
    pub frames: usize,
    /// Number of frequency bins (`fft_len / 2 + 1`).
    pub bins: usize,
    /// Hop between frames, seconds.
    pub hop_s: f64,
    /// Bin spacing, Hz.
    pub bin_hz: f64,
}

/// STFT magnitude of `x` (rate `fs` Hz) in dB with a periodic Hann window of `fft_len` samples
/// and a hop of `hop` samples, frames starting at 0 (the signal is zero-padded at the end);
/// magnitudes are floored at −200 dB. `fft_len` and `hop` are clamped to ≥ 2 and ≥ 1.
pub fn spectrogram_db(x: &[f64], fs: f64, fft_len: usize, hop: usize) -> Spectrogram {
    let fft_len = fft_len.max(2);
    let hop = hop.max(1);
    let frames = x.len().div_ceil(hop).max(1);
    let bins = fft_len / 2 + 1;
    let window: Vec<f64> = (0..fft_len)
        .map(|n| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / fft_len as f64).cos())
        .collect();
    let fft = RealFftPlanner::<f64>::new().plan_fft_forward(fft_len);
    let mut frame = fft.make_input_vec();
    let mut spec = fft.make_output_vec();
    let mut db = Vec::with_capacity(frames * bins);
    for f in 0..frames {
        let start = f * hop;
        for (n, v) in frame.iter_mut().enumerate() {
            *v = x.get(start + n).copied().unwrap_or(0.0) * window[n];
        }
        fft.process(&mut frame, &mut spec)
            .expect("buffers come from the same plan");
        db.extend(spec.iter().map(|c| 20.0 * c.norm().max(1e-10).log10()));
    }
    Spectrogram {
        db,
        frames,
        bins,
        hop_s: hop as f64 / fs,
        bin_hz: fs / fft_len as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sine_peaks_in_its_bin_and_frames_cover_the_signal() {
        let fs = 8000.0;
        let x: Vec<f64> = (0..4000)
            .map(|n| (2.0 * std::f64::consts::PI * 1000.0 * n as f64 / fs).sin())
            .collect();
        let s = spectrogram_db(&x, fs, 256, 128);
        assert_eq!(s.bins, 129);
        assert_eq!(s.frames, 4000usize.div_ceil(128));
        let f = 10;
        let row = &s.db[f * s.bins..(f + 1) * s.bins];
        let peak = (0..s.bins)
            .max_by(|&a, &b| row[a].total_cmp(&row[b]))
            .unwrap();
        assert_eq!(peak, 32); // 1000 Hz / (8000/256) Hz per bin
                              // Hann window: coherent gain 0.5, so a unit sine peaks at 20·log10(256/4) dB.
        assert!((row[32] - 20.0 * 64f64.log10()).abs() < 0.01, "{}", row[32]);
        assert!(row[80] < row[32] - 60.0);
    }
}
