//! Stated limits on what Tailor reads, validates, renders and allocates.
//!
//! Every loader and renderer checks its input against these before it allocates, so a hostile
//! or broken file gets an error naming the limit instead of a panic, an abort or a run of hours.
//! The numbers are generous for real audio work (every common rate, up to 64 channels, hour-long
//! dry audio, minute-long IRs) and small enough that the largest accepted input fits in memory.

/// Lowest sample rate accepted for audio files, presets and HRTF sets, Hz.
pub const MIN_SAMPLE_RATE_HZ: f64 = 8_000.0;
/// Highest sample rate accepted for audio files, presets and HRTF sets, Hz.
pub const MAX_SAMPLE_RATE_HZ: f64 = 384_000.0;
/// Most channels of an audio file, and most inputs or outputs of a preset.
pub const MAX_CHANNELS: usize = 64;
/// Most delay lines of a build (the engine's cost grows with N² per sample).
pub const MAX_LINES: usize = 128;
/// Most cascaded second-order sections per SOS hook.
pub const MAX_SOS_SECTIONS: usize = 128;
/// Largest |value| of an input, output or direct gain and of an early-reflection tap (120 dB).
pub const MAX_GAIN: f64 = 1e6;
/// Longest impulse response analysed, compared or fitted, s.
pub const MAX_IR_SECONDS: f64 = 60.0;
/// Longest render (`tailor render --seconds`), s.
pub const MAX_RENDER_SECONDS: f64 = 600.0;
/// Most samples (frames × channels) one decoded or rendered signal may hold (2²⁷: 1 GiB as f64,
/// e.g. 23 min of 48 kHz stereo).
pub const MAX_TOTAL_SAMPLES: usize = 1 << 27;

/// A value outside one of the stated limits.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LimitError {
    /// A sample rate outside [`MIN_SAMPLE_RATE_HZ`]..=[`MAX_SAMPLE_RATE_HZ`] (or not finite).
    #[error("{what}: sample rate {shown} Hz is outside the supported {min}–{max} Hz", shown = short_number(*rate), min = MIN_SAMPLE_RATE_HZ, max = MAX_SAMPLE_RATE_HZ)]
    SampleRate {
        /// What carries the rate (a file, `sample_rate`, …).
        what: String,
        /// The rate given, Hz.
        rate: f64,
    },
    /// A count (channels, lines, sections, samples) above its limit.
    #[error("{what}: {count} {unit} exceeds the limit of {max}")]
    Count {
        /// What was counted.
        what: String,
        /// The count given.
        count: usize,
        /// The limit.
        max: usize,
        /// Unit of the count ("channels", "samples", …).
        unit: &'static str,
    },
    /// A duration above its limit.
    #[error("{what}: {seconds:.1} s exceeds the limit of {max} s")]
    Duration {
        /// What was measured.
        what: String,
        /// The duration given, s.
        seconds: f64,
        /// The limit, s.
        max: f64,
    },
}

/// `x` for messages: plain below 1e9, scientific beyond (1e300 is not 301 digits).
pub fn short_number(x: f64) -> String {
    if x.is_finite() && x.abs() >= 1e9 {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// Checks that `rate` (Hz) is finite and within [`MIN_SAMPLE_RATE_HZ`]..=[`MAX_SAMPLE_RATE_HZ`].
pub fn check_sample_rate(what: &str, rate: f64) -> Result<(), LimitError> {
    if rate.is_finite() && (MIN_SAMPLE_RATE_HZ..=MAX_SAMPLE_RATE_HZ).contains(&rate) {
        Ok(())
    } else {
        Err(LimitError::SampleRate {
            what: what.into(),
            rate,
        })
    }
}

/// Checks `count ≤ max`.
pub fn check_count(
    what: &str,
    count: usize,
    max: usize,
    unit: &'static str,
) -> Result<(), LimitError> {
    if count <= max {
        Ok(())
    } else {
        Err(LimitError::Count {
            what: what.into(),
            count,
            max,
            unit,
        })
    }
}

/// Checks `frames × channels ≤ MAX_TOTAL_SAMPLES` (overflow-safe).
pub fn check_total_samples(what: &str, frames: usize, channels: usize) -> Result<(), LimitError> {
    let total = frames.saturating_mul(channels);
    check_count(what, total, MAX_TOTAL_SAMPLES, "samples")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_name_the_value() {
        assert!(check_sample_rate("x.wav", 48_000.0).is_ok());
        assert!(check_sample_rate("x.wav", 8_000.0).is_ok());
        assert!(check_sample_rate("x.wav", 384_000.0).is_ok());
        for bad in [0.4, 7_999.0, 1e300, f64::NAN, -48_000.0, 4_294_967_296.0] {
            let e = check_sample_rate("x.wav", bad).unwrap_err().to_string();
            assert!(e.starts_with("x.wav: sample rate"), "{e}");
        }
        let e = check_count("outputs", 65_536, MAX_CHANNELS, "channels").unwrap_err();
        assert_eq!(
            e.to_string(),
            "outputs: 65536 channels exceeds the limit of 64"
        );
        assert!(check_total_samples("render", usize::MAX, 2).is_err());
        assert!(check_total_samples("render", 48_000, 2).is_ok());
    }
}
