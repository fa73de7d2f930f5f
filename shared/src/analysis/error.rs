//! Why an impulse-response analysis was refused.

/// Why an analysis could not run; every message names the problem and which input it was.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalysisError {
    /// The signal has no samples.
    #[error("{what}: impulse response is empty")]
    Empty {
        /// Which input ("IR", "A", "B", …).
        what: String,
    },
    /// A sample is NaN or infinite.
    #[error("{what}: sample {index} is not finite")]
    NonFinite {
        /// Which input.
        what: String,
        /// Sample index.
        index: usize,
    },
    /// Every sample is zero.
    #[error("{what}: impulse response is silent (all samples are zero)")]
    Silent {
        /// Which input.
        what: String,
    },
    /// Too few samples after the onset for the analysis.
    #[error("{what}: too short ({samples} samples after the onset, need at least {min})")]
    TooShort {
        /// Which input.
        what: String,
        /// Samples available.
        samples: usize,
        /// Samples needed.
        min: usize,
    },
    /// The two inputs have different sample rates.
    #[error("sample rates differ: A is {a} Hz, B is {b} Hz (resample one first)")]
    RateMismatch {
        /// Rate of A in Hz.
        a: f64,
        /// Rate of B in Hz.
        b: f64,
    },
    /// The sample rate is not finite or outside the supported range (`crate::limits`).
    #[error("sample rate {0} Hz is outside the supported 8000–384000 Hz")]
    BadRate(f64),
    /// A band does not fit below Nyquist (or is not a positive frequency).
    #[error("band at {fc} Hz (upper edge {upper} Hz) does not fit below Nyquist at {fs} Hz")]
    BandOutOfRange {
        /// Centre frequency in Hz.
        fc: f64,
        /// Upper band edge in Hz.
        upper: f64,
        /// Sample rate in Hz.
        fs: f64,
    },
    /// Band fraction or filter order is zero.
    #[error("band fraction ({fraction}) and filter order ({order}) must be at least 1")]
    BadDesign {
        /// Bands per octave.
        fraction: u32,
        /// Prototype order.
        order: usize,
    },
}

/// Checks that `x` is non-empty, finite and not silent; `what` names it in errors.
pub fn validate_ir(x: &[f64], what: &str) -> Result<(), AnalysisError> {
    if x.is_empty() {
        return Err(AnalysisError::Empty { what: what.into() });
    }
    if let Some(index) = x.iter().position(|v| !v.is_finite()) {
        return Err(AnalysisError::NonFinite {
            what: what.into(),
            index,
        });
    }
    if x.iter().all(|&v| v == 0.0) {
        return Err(AnalysisError::Silent { what: what.into() });
    }
    Ok(())
}

/// Checks that a sample rate in Hz is finite and within the supported range
/// ([`crate::limits::MIN_SAMPLE_RATE_HZ`]..=[`crate::limits::MAX_SAMPLE_RATE_HZ`]).
pub fn validate_rate(fs: f64) -> Result<(), AnalysisError> {
    if crate::limits::check_sample_rate("analysis", fs).is_ok() {
        Ok(())
    } else {
        Err(AnalysisError::BadRate(fs))
    }
}
