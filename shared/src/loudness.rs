//! ITU-R BS.1770 loudness (integrated, gated) via the `ebur128` crate, and energy matching over
//! a window (the plugin's A/B reference is matched to the preset that way).

/// Why loudness could not be measured.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LoudnessError {
    /// No channels, unequal channel lengths or an unusable sample rate.
    #[error("loudness: {0}")]
    Input(String),
    /// The meter refused the signal.
    #[error("loudness meter: {0}")]
    Meter(String),
    /// The signal is silent (below the −70 LUFS absolute gate everywhere).
    #[error("loudness: signal is silent (below the -70 LUFS gate)")]
    Silent,
}

/// Integrated loudness in LUFS of planar channels (each a `Vec` of samples) at `sample_rate` Hz.
/// Channels are weighted 1.0 (L, R, C or mono), as BS.1770 does for the front channels.
pub fn integrated_loudness(channels: &[Vec<f64>], sample_rate: f64) -> Result<f64, LoudnessError> {
    let n = channels.len();
    if n == 0 || n > 32 {
        return Err(LoudnessError::Input(format!(
            "need 1..32 channels, got {n}"
        )));
    }
    let len = channels[0].len();
    if channels.iter().any(|c| c.len() != len) {
        return Err(LoudnessError::Input("channels differ in length".into()));
    }
    if !(sample_rate.is_finite() && (8000.0..=384_000.0).contains(&sample_rate)) {
        return Err(LoudnessError::Input(format!(
            "unsupported sample rate {sample_rate} Hz"
        )));
    }
    let mut meter = ebur128::EbuR128::new(n as u32, sample_rate.round() as u32, ebur128::Mode::I)
        .map_err(|e| LoudnessError::Meter(e.to_string()))?;
    if n == 1 {
        // A mono signal counts once (not as a dual-mono pair).
        meter
            .set_channel(0, ebur128::Channel::Center)
            .map_err(|e| LoudnessError::Meter(e.to_string()))?;
    }
    let planar: Vec<&[f64]> = channels.iter().map(Vec::as_slice).collect();
    meter
        .add_frames_planar_f64(&planar)
        .map_err(|e| LoudnessError::Meter(e.to_string()))?;
    let l = meter
        .loudness_global()
        .map_err(|e| LoudnessError::Meter(e.to_string()))?;
    if l.is_finite() {
        Ok(l)
    } else {
        Err(LoudnessError::Silent)
    }
}

/// Linear gain that moves a signal of `lufs` to `target_lufs` (loudness scales exactly with gain).
pub fn gain_to_target(lufs: f64, target_lufs: f64) -> f64 {
    10f64.powf((target_lufs - lufs) / 20.0)
}

/// Energy (sum of squares) of the first `seconds` of each channel at `fs` Hz, averaged over the
/// channels; 0 for no channels.
pub fn window_energy(channels: &[Vec<f64>], fs: f64, seconds: f64) -> f64 {
    if channels.is_empty() {
        return 0.0;
    }
    let n = (seconds * fs).round() as usize;
    channels
        .iter()
        .map(|s| s.iter().take(n).map(|v| v * v).sum::<f64>())
        .sum::<f64>()
        / channels.len() as f64
}

/// Energy of the first `seconds` of `build`'s impulse response from input 0 to each output, with
/// the early-reflections FIR `early` added when its shape fits the build, averaged over the
/// outputs ([`window_energy`]): what a loudness match to a measured IR compares against.
pub fn response_energy(
    build: &crate::Build,
    early: Option<&crate::preset::EarlyReflections>,
    seconds: f64,
) -> f64 {
    let fs = build.sample_rate();
    let len = (seconds * fs).round().max(0.0) as usize;
    window_energy(
        &crate::response::impulse_response_channels(build, early, 0, len),
        fs,
        seconds,
    )
}

/// Why [`energy_matching_gain`] has no gain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EnergyMatchError {
    /// The signal to scale has no (finite) energy in the window.
    #[error("the signal has no energy in the window")]
    SilentSignal,
    /// The target energy is not finite and positive.
    #[error("the target has no energy in the window")]
    SilentTarget,
}

/// Linear gain that gives `channels` (at `fs` Hz) the [`window_energy`] `target` over their first
/// `seconds`: √(target / energy).
pub fn energy_matching_gain(
    channels: &[Vec<f64>],
    fs: f64,
    seconds: f64,
    target: f64,
) -> Result<f64, EnergyMatchError> {
    let e = window_energy(channels, fs, seconds);
    if !(e > 0.0 && e.is_finite()) {
        return Err(EnergyMatchError::SilentSignal);
    }
    if !(target > 0.0 && target.is_finite()) {
        return Err(EnergyMatchError::SilentTarget);
    }
    Ok((target / e).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_energy_averages_the_channels_over_the_window() {
        let ch = vec![vec![1.0; 30], vec![2.0; 5]];
        // 10 samples of window: (10·1 + 5·4) / 2.
        assert_eq!(window_energy(&ch, 100.0, 0.1), 15.0);
        assert_eq!(window_energy(&[], 100.0, 0.1), 0.0);
    }

    #[test]
    fn matching_gain_equalises_window_energy() {
        let fs = 1_000.0;
        let ch = vec![vec![0.5; 2_000], vec![-0.25; 3_000]];
        let g = energy_matching_gain(&ch, fs, 1.0, 3.0).unwrap();
        let scaled: Vec<Vec<f64>> = ch
            .iter()
            .map(|c| c.iter().map(|v| v * g).collect())
            .collect();
        assert!((window_energy(&scaled, fs, 1.0) - 3.0).abs() < 1e-12);
        assert_eq!(
            energy_matching_gain(&[vec![0.0; 10]], fs, 1.0, 1.0),
            Err(EnergyMatchError::SilentSignal)
        );
        assert_eq!(
            energy_matching_gain(&ch, fs, 1.0, f64::NAN),
            Err(EnergyMatchError::SilentTarget)
        );
    }

    #[test]
    fn sine_1khz_at_minus_20_dbfs_reads_about_minus_23_lufs() {
        // BS.1770: a 0 dBFS 997 Hz sine in one front channel reads −3.01 LUFS.
        let fs = 48000.0;
        let x: Vec<f64> = (0..(fs as usize * 5))
            .map(|n| 0.1 * (2.0 * std::f64::consts::PI * 997.0 * n as f64 / fs).sin())
            .collect();
        let l = integrated_loudness(std::slice::from_ref(&x), fs).unwrap();
        assert!((l - (-23.01)).abs() < 0.05, "{l}");
        // Gain shifts loudness exactly.
        let g = gain_to_target(l, -30.0);
        let y: Vec<f64> = x.iter().map(|v| v * g).collect();
        assert!((integrated_loudness(&[y], fs).unwrap() + 30.0).abs() < 1e-6);
        assert_eq!(
            integrated_loudness(&[vec![0.0; 48000]], fs),
            Err(LoudnessError::Silent)
        );
        assert!(integrated_loudness(&[], fs).is_err());
        assert!(integrated_loudness(&[vec![0.1; 10], vec![0.1; 9]], fs).is_err());
    }
}
