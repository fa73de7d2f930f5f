//! Slaney mel scale and filterbank (nnAudio/librosa, area-normalised), plain f64 math: the mel
//! LSD of [`super::compare`] weights spectra with it, and the training's mel loss
//! (`tailor::loss::mel`, feature `grad`) builds its banks from it.

/// numpy `linspace(start, stop, num)` (endpoint included, last value exact).
fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    if num == 1 {
        return vec![start];
    }
    let step = (stop - start) / (num - 1) as f64;
    let mut v: Vec<f64> = (0..num).map(|i| i as f64 * step + start).collect();
    if let Some(last) = v.last_mut() {
        *last = stop;
    }
    v
}

const F_SP: f64 = 200.0 / 3.0;
const MIN_LOG_HZ: f64 = 1000.0;

fn logstep() -> f64 {
    6.4f64.ln() / 27.0
}

/// Slaney mel of a frequency in Hz (linear below 1 kHz, logarithmic above).
pub fn hz_to_mel_slaney(f: f64) -> f64 {
    let min_log_mel = MIN_LOG_HZ / F_SP;
    if f >= MIN_LOG_HZ {
        min_log_mel + (f / MIN_LOG_HZ).ln() / logstep()
    } else {
        f / F_SP
    }
}

/// Frequency in Hz of a Slaney mel value.
pub fn mel_to_hz_slaney(m: f64) -> f64 {
    let min_log_mel = MIN_LOG_HZ / F_SP;
    if m >= min_log_mel {
        MIN_LOG_HZ * (logstep() * (m - min_log_mel)).exp()
    } else {
        F_SP * m
    }
}

/// nnAudio/librosa Slaney mel filterbank with area normalisation (`norm=1`), `(n_mels, n_fft/2+1)`
/// row-major, values rounded to float32 as nnAudio stores them. Frequencies in Hz.
pub fn mel_filterbank(sr: f64, n_fft: usize, n_mels: usize, fmin: f64, fmax: f64) -> Vec<f64> {
    let bins = n_fft / 2 + 1;
    let mut weights = vec![0.0; n_mels * bins];
    for (i, band) in mel_bands(sr, n_fft, n_mels, fmin, fmax).iter().enumerate() {
        weights[i * bins + band.start..][..band.weights.len()].copy_from_slice(&band.weights);
    }
    weights
}

/// One row of [`mel_filterbank`] without its zeros: `weights` start at bin `start`.
#[derive(Debug, Clone, PartialEq)]
pub struct MelBand {
    /// First rfft bin of the support.
    pub start: usize,
    /// Weights of bins `start..start + weights.len()` (every other bin's weight is 0).
    pub weights: Vec<f64>,
}

/// The rows of [`mel_filterbank`] (the same values) held sparsely: memory O(n_fft), not
/// O(n_mels · n_fft), so long signals' spectra can be weighted without a dense bank.
pub fn mel_bands(sr: f64, n_fft: usize, n_mels: usize, fmin: f64, fmax: f64) -> Vec<MelBand> {
    let bins = n_fft / 2 + 1;
    let step = if bins > 1 {
        (sr / 2.0) / (bins - 1) as f64
    } else {
        0.0
    };
    // linspace(0, sr/2, bins) element by element (the last bin is exactly sr/2).
    let freq = |j: usize| {
        if j + 1 == bins {
            sr / 2.0
        } else {
            j as f64 * step
        }
    };
    let mel_f: Vec<f64> = linspace(hz_to_mel_slaney(fmin), hz_to_mel_slaney(fmax), n_mels + 2)
        .into_iter()
        .map(mel_to_hz_slaney)
        .collect();
    let fdiff: Vec<f64> = mel_f.windows(2).map(|w| w[1] - w[0]).collect();
    (0..n_mels)
        .map(|i| {
            let enorm = 2.0 / (mel_f[i + 2] - mel_f[i]);
            // The triangle is non-zero only strictly between mel_f[i] and mel_f[i + 2]; one bin
            // of margin each side covers rounding.
            let (start, end) = if step > 0.0 && step.is_finite() {
                let lo = (mel_f[i] / step).floor() - 1.0;
                let hi = (mel_f[i + 2] / step).ceil() + 2.0;
                (
                    (lo.max(0.0) as usize).min(bins),
                    (hi.max(0.0) as usize).min(bins),
                )
            } else {
                (0, bins)
            };
            let weights = (start..end.max(start))
                .map(|j| {
                    let f = freq(j);
                    let lower = -(mel_f[i] - f) / fdiff[i];
                    let upper = (mel_f[i + 2] - f) / fdiff[i + 1];
                    let tri = 0.0f64.max(lower.min(upper)) as f32;
                    f64::from((f64::from(tri) * enorm) as f32)
                })
                .collect();
            MelBand { start, weights }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slaney_scale_round_trips_and_is_linear_below_1khz() {
        assert!((hz_to_mel_slaney(600.0) - 9.0).abs() < 1e-12);
        for f in [0.0, 500.0, 1000.0, 4000.0, 20000.0] {
            assert!((mel_to_hz_slaney(hz_to_mel_slaney(f)) - f).abs() < 1e-9 * (1.0 + f));
        }
    }

    #[test]
    fn filterbank_triangles_have_unit_area_in_hz() {
        // Slaney norm: each triangle has height 2/(e_{i+2} − e_i) → area 1 over Hz; on a fine grid
        // the Riemann sum (bin width sr/n_fft) approaches 1 for bands many bins wide.
        let (sr, n) = (16000.0, 4096);
        let fb = mel_filterbank(sr, n, 16, 0.0, 8000.0);
        // The sparse rows hold exactly the dense rows' non-zero values.
        let bins = n / 2 + 1;
        for (i, band) in mel_bands(sr, n, 16, 0.0, 8000.0).iter().enumerate() {
            let row = &fb[i * bins..(i + 1) * bins];
            let nz: Vec<usize> = (0..bins).filter(|&j| row[j] != 0.0).collect();
            assert!(nz
                .iter()
                .all(|&j| j >= band.start && j < band.start + band.weights.len()));
            assert_eq!(
                &row[band.start..band.start + band.weights.len()],
                &band.weights[..]
            );
        }
        let bins = n / 2 + 1;
        let df = sr / n as f64;
        for i in 4..16 {
            let area: f64 = fb[i * bins..(i + 1) * bins].iter().sum::<f64>() * df;
            assert!((area - 1.0).abs() < 2e-2, "band {i}: area {area}");
        }
    }
}
