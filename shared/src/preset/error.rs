//! Typed errors for presets and builds; every message names the offending field.

use crate::sos::SosError;

/// Why a preset or build was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PresetError {
    /// The text is not valid JSON (truncated, bad token, ...).
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's description.
        message: String,
    },
    /// The top-level JSON value is not an object.
    #[error("FDN build JSON must contain an object (top level is {found})")]
    NotAnObject {
        /// JSON kind found instead ("array", "number", ...).
        found: &'static str,
    },
    /// `format` is not "pyfdn-fdn-build".
    #[error("format: expected format 'pyfdn-fdn-build', got {found}")]
    Format {
        /// The value found.
        found: String,
    },
    /// `version` is neither 1 nor 2.
    #[error("version: unsupported FDN build version: {found}")]
    Version {
        /// The value found.
        found: String,
    },
    /// Required build keys are absent.
    #[error("FDN build is missing required fields: {}", .fields.join(", "))]
    Missing {
        /// The absent keys.
        fields: Vec<String>,
    },
    /// An array entry is NaN or infinite.
    #[error("{field}: must contain only finite values (entry {index} is {value})")]
    NonFinite {
        /// Field name, e.g. "feedback_matrix".
        field: String,
        /// Flat index of the first bad entry.
        index: usize,
        /// Its text ("NaN", "inf", ...).
        value: String,
    },
    /// The preset file could not be read (missing, unreadable, too large).
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A field has the wrong shape, type or value.
    #[error("{field}: {message}")]
    Field {
        /// Field name.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A delay exceeds the configured memory cap.
    #[error("delays: line {line} has {delay} samples, above the memory cap of {cap} samples ({cap_seconds} s at {sample_rate} Hz)")]
    DelayTooLong {
        /// Delay-line index.
        line: usize,
        /// Requested delay in samples.
        delay: f64,
        /// Cap in samples.
        cap: f64,
        /// Cap in seconds.
        cap_seconds: f64,
        /// Build sample rate in Hz.
        sample_rate: f64,
    },
    /// An SOS hook bank is malformed.
    #[error("{field}: {cause}")]
    Sos {
        /// Hook name ("post_delay", ...).
        field: String,
        /// The bank's own error.
        cause: SosError,
    },
    /// A preset document lacks `metadata` or `build`.
    #[error("preset needs metadata and build fields (missing: {missing})")]
    PresetFields {
        /// Which are missing.
        missing: String,
    },
    /// `metadata`, `design` or `build` is not an object.
    #[error("preset {field} must be an object")]
    PresetType {
        /// "metadata", "design" or "build".
        field: &'static str,
    },
    /// A design component name is not known.
    #[error("design: unknown preset design component: '{component}'")]
    DesignComponent {
        /// The component name.
        component: String,
    },
    /// A design component's `type` is not allowed.
    #[error("design.{component}.type: '{found}' is not one of: {allowed}")]
    DesignType {
        /// Component name.
        component: String,
        /// Type found.
        found: String,
        /// Allowed types, comma separated.
        allowed: String,
    },
    /// The loop-gain bound exceeds one: the build may blow up.
    #[error("feedback_matrix/post_delay: unstable build, loop-gain bound {bound:.9} > 1 (spectral norm of feedback_matrix {spectral_norm:.9} × max in-loop filter gain {filter_gain:.9})")]
    Unstable {
        /// ‖A‖₂ · max filter gain.
        bound: f64,
        /// ‖A‖₂.
        spectral_norm: f64,
        /// Max in-loop filter gain.
        filter_gain: f64,
    },
    /// A hook filter has poles on or outside the unit circle.
    #[error("{field}: filter has poles on or outside the unit circle (unstable)")]
    UnstableFilter {
        /// Hook name.
        field: String,
    },
}

impl PresetError {
    /// Shorthand for [`PresetError::Field`].
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Field {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Converts a serde_json error into [`PresetError::Json`].
    pub fn from_json(e: &serde_json::Error) -> Self {
        let msg = e.to_string();
        let message = match msg.find(" at line ") {
            Some(i) => msg[..i].to_string(),
            None => msg,
        };
        Self::Json {
            line: e.line(),
            column: e.column(),
            message,
        }
    }
}
