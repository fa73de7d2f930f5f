//! HRIR → HRTF: `rfft` along the sample axis, magnitudes in dB (hrtf.md §1.1, §2).

use super::{Direction, Ear, HrirSet, HrtfError};
use num_complex::Complex64;
use realfft::RealFftPlanner;

/// `rfftfreq(n, 1/fs)`: the `n/2 + 1` bin frequencies `k·fs/n` in Hz.
pub fn rfft_frequencies(n: usize, sample_rate: f64) -> Vec<f64> {
    (0..n / 2 + 1)
        .map(|k| k as f64 * sample_rate / n as f64)
        .collect()
}

/// HRTFs of a set: `(M, 2, K)` complex spectra with `K = fft_len/2 + 1` bins.
#[derive(Debug, Clone, PartialEq)]
pub struct HrtfSpectra {
    tf: Vec<Complex64>,
    bins: usize,
    fft_len: usize,
    sample_rate: f64,
    directions: Vec<Direction>,
}

impl HrtfSpectra {
    /// `TF = rfft(IR, n = fft_len)` for every direction and ear (zero-padded or truncated to
    /// `fft_len`, rectangular window); `fft_len` must be ≥ 2.
    pub fn from_hrirs(set: &HrirSet, fft_len: usize) -> Result<Self, HrtfError> {
        if fft_len < 2 {
            return Err(HrtfError::Invalid(
                "FFT length must contain at least two points.".into(),
            ));
        }
        let bins = fft_len / 2 + 1;
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(fft_len);
        let mut input = vec![0.0; fft_len];
        let mut out = vec![Complex64::new(0.0, 0.0); bins];
        let mut scratch = fft.make_scratch_vec();
        let mut tf = Vec::with_capacity(set.n_directions() * 2 * bins);
        for m in 0..set.n_directions() {
            for ear in Ear::BOTH {
                let h = set.hrir(m, ear);
                input.fill(0.0);
                let n = h.len().min(fft_len);
                input[..n].copy_from_slice(&h[..n]);
                fft.process_with_scratch(&mut input, &mut out, &mut scratch)
                    .map_err(|e| HrtfError::Invalid(format!("rfft: {e}")))?;
                tf.extend_from_slice(&out);
            }
        }
        Ok(Self {
            tf,
            bins,
            fft_len,
            sample_rate: set.sample_rate(),
            directions: set.directions().to_vec(),
        })
    }

    /// Number of frequency bins K.
    pub fn n_bins(&self) -> usize {
        self.bins
    }

    /// FFT length n in samples.
    pub fn fft_len(&self) -> usize {
        self.fft_len
    }

    /// Sample rate in Hz.
    pub fn sample_rate(&self) -> f64 {
        self.sample_rate
    }

    /// Source directions (one per measurement).
    pub fn directions(&self) -> &[Direction] {
        &self.directions
    }

    /// Number of directions M.
    pub fn n_directions(&self) -> usize {
        self.directions.len()
    }

    /// Bin frequencies `k·fs/n` in Hz.
    pub fn frequencies(&self) -> Vec<f64> {
        rfft_frequencies(self.fft_len, self.sample_rate)
    }

    /// Complex spectrum of measurement `m` at `ear` (K bins, linear); panics if `m ≥ M`.
    pub fn tf(&self, m: usize, ear: Ear) -> &[Complex64] {
        let at = (m * 2 + ear.index()) * self.bins;
        &self.tf[at..at + self.bins]
    }

    /// `20·log10|TF|` in dB for measurement `m` at `ear`, no floor (−inf for exact zeros), as
    /// hrtfpykit's `tf_magnitude_db`.
    pub fn magnitude_db(&self, m: usize, ear: Ear) -> Vec<f64> {
        self.tf(m, ear)
            .iter()
            .map(|z| 20.0 * z.norm().log10())
            .collect()
    }

    /// `20·log10(max(|TF|, epsilon))` in dB (the floor used by LSD diagnostics).
    pub fn magnitude_db_floored(&self, m: usize, ear: Ear, epsilon: f64) -> Vec<f64> {
        self.tf(m, ear)
            .iter()
            .map(|z| 20.0 * z.norm().max(epsilon).log10())
            .collect()
    }
}
