//! The validated FDN build ("pyfdn-fdn-build" v2, v1 read and mapped to v2).

use super::error::PresetError;
use super::json::{kind_of, nd_array, number, parse_text, reject_non_finite_tokens};
use crate::limits;
use crate::matrix::Matrix;
use crate::sos::SosBank;
use serde_json::{Map, Value};

/// The build format tag.
pub const BUILD_FORMAT: &str = "pyfdn-fdn-build";
/// The build format version written.
pub const BUILD_VERSION: u32 = 2;
/// Tolerance on the loop-gain bound: `bound ≤ 1 + LOOP_GAIN_TOLERANCE` counts as stable, and
/// `|bound − 1| ≤ LOOP_GAIN_TOLERANCE` as lossless.
pub const LOOP_GAIN_TOLERANCE: f64 = 1e-6;

/// Limits applied when validating a build beyond pyFDN's own rules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Longest allowed delay line, in seconds at the build's sample rate (memory cap).
    pub max_delay_seconds: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_delay_seconds: 10.0,
        }
    }
}

/// The parts of a build, unvalidated; [`Build::new`] checks them.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildParts {
    /// Feedback matrix A, `N × N`.
    pub a: Matrix,
    /// Input gains B, `N × n_in`.
    pub b: Matrix,
    /// Output gains C, `n_out × N`.
    pub c: Matrix,
    /// Direct path D, `n_out × n_in`.
    pub d: Matrix,
    /// Delay lengths in samples, one per line, all ≥ 1.
    pub delays: Vec<usize>,
    /// Sample rate in Hz.
    pub sample_rate: f64,
    /// Per-line SOS in the loop after the delays (attenuation), `(K, 6, N)`.
    pub post_delay: Option<SosBank>,
    /// Per-line SOS on the feedback path after A, `(K, 6, N)`.
    pub post_matrix: Option<SosBank>,
    /// Per-output SOS on the wet signal, `(K, 6, n_out)`.
    pub post_output: Option<SosBank>,
    /// Output mix M, `n_outputs × n_out`: the build's audible outputs are `M·y` of its FDN
    /// outputs `y` (after post_output and the direct path); `None` = the FDN outputs themselves.
    /// A Tailor extension (the preset keeps it in `tailor.output_mix`, pyFDN's build JSON never
    /// holds it): per-band stereo images are made by mixing differently filtered FDN outputs.
    pub output_mix: Option<Matrix>,
    /// Free-form build metadata (written only when non-empty).
    pub metadata: Map<String, Value>,
}

/// A validated FDN build: finite, consistent shapes, positive delays under the memory cap.
#[derive(Debug, Clone, PartialEq)]
pub struct Build {
    parts: BuildParts,
}

/// Loop-gain report of a build.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stability {
    /// Spectral norm ‖A‖₂ of the feedback matrix.
    pub spectral_norm: f64,
    /// Largest magnitude of the in-loop filters (post_delay × post_matrix) over all lines and
    /// frequencies; 1 when there are none.
    pub max_filter_gain: f64,
    /// `spectral_norm × max_filter_gain`: an upper bound on the loop gain.
    pub loop_gain_bound: f64,
    /// Whether every hook filter has its poles strictly inside the unit circle.
    pub filters_stable: bool,
}

impl Stability {
    /// True when the loop neither loses nor gains energy (bound = 1 within tolerance).
    pub fn is_lossless(&self) -> bool {
        (self.loop_gain_bound - 1.0).abs() <= LOOP_GAIN_TOLERANCE
    }

    /// True when the bound guarantees the build does not blow up (bound ≤ 1 + tolerance).
    pub fn is_stable(&self) -> bool {
        // A NaN bound (non-finite norm or gain) fails the comparison: unstable.
        self.filters_stable && self.loop_gain_bound <= 1.0 + LOOP_GAIN_TOLERANCE
    }
}

impl Build {
    /// Validates parts with the default [`Limits`].
    pub fn new(parts: BuildParts) -> Result<Self, PresetError> {
        Self::with_limits(parts, &Limits::default())
    }

    /// Validates parts with explicit limits.
    pub fn with_limits(parts: BuildParts, limits: &Limits) -> Result<Self, PresetError> {
        let n = parts.a.rows();
        if parts.a.cols() != n || n == 0 {
            return Err(PresetError::field(
                "feedback_matrix",
                format!(
                    "must be square and non-empty (got {}×{})",
                    parts.a.rows(),
                    parts.a.cols()
                ),
            ));
        }
        for (name, m) in [
            ("feedback_matrix", &parts.a),
            ("input_matrix", &parts.b),
            ("output_matrix", &parts.c),
            ("direct_matrix", &parts.d),
        ] {
            if let Some(index) = m.as_slice().iter().position(|v| !v.is_finite()) {
                return Err(PresetError::NonFinite {
                    field: name.into(),
                    index,
                    value: m.as_slice()[index].to_string(),
                });
            }
        }
        if parts.b.rows() != n {
            return Err(PresetError::field(
                "input_matrix",
                format!(
                    "must have one row per delay line (got {} rows, N = {n})",
                    parts.b.rows()
                ),
            ));
        }
        if parts.c.cols() != n {
            return Err(PresetError::field(
                "output_matrix",
                format!(
                    "must have one column per delay line (got {} columns, N = {n})",
                    parts.c.cols()
                ),
            ));
        }
        let (n_in, n_out) = (parts.b.cols(), parts.c.rows());
        if n_in == 0 || n_out == 0 {
            return Err(PresetError::field(
                "input_matrix",
                "needs at least one input and one output channel",
            ));
        }
        if parts.d.shape() != (n_out, n_in) {
            return Err(PresetError::field(
                "direct_matrix",
                format!(
                    "shape must match the output and input counts (got {}×{}, expected {n_out}×{n_in})",
                    parts.d.rows(),
                    parts.d.cols()
                ),
            ));
        }
        if !(parts.sample_rate.is_finite() && parts.sample_rate > 0.0) {
            return Err(PresetError::field(
                "sample_rate",
                format!("must be positive and finite (got {})", parts.sample_rate),
            ));
        }
        if limits::check_sample_rate("sample_rate", parts.sample_rate).is_err() {
            return Err(PresetError::field(
                "sample_rate",
                format!(
                    "{} Hz is outside the supported {}–{} Hz",
                    limits::short_number(parts.sample_rate),
                    limits::MIN_SAMPLE_RATE_HZ,
                    limits::MAX_SAMPLE_RATE_HZ
                ),
            ));
        }
        if n > limits::MAX_LINES {
            return Err(PresetError::field(
                "feedback_matrix",
                format!("{n} delay lines exceed the limit of {}", limits::MAX_LINES),
            ));
        }
        for (name, count, what) in [
            ("input_matrix", n_in, "inputs"),
            ("output_matrix", n_out, "outputs"),
        ] {
            if count > limits::MAX_CHANNELS {
                return Err(PresetError::field(
                    name,
                    format!(
                        "{count} {what} exceed the limit of {} channels",
                        limits::MAX_CHANNELS
                    ),
                ));
            }
        }
        for (name, m) in [
            ("input_matrix", &parts.b),
            ("output_matrix", &parts.c),
            ("direct_matrix", &parts.d),
        ] {
            if let Some(index) = m.as_slice().iter().position(|v| v.abs() > limits::MAX_GAIN) {
                return Err(PresetError::field(
                    name,
                    format!(
                        "entry {index} is {:e}, above the gain limit of {:e} (120 dB)",
                        m.as_slice()[index],
                        limits::MAX_GAIN
                    ),
                ));
            }
        }
        if let Some(m) = &parts.output_mix {
            if m.cols() != n_out || m.rows() == 0 || m.rows() > limits::MAX_CHANNELS {
                return Err(PresetError::field(
                    "tailor.output_mix",
                    format!(
                        "must be 1…{} rows by one column per FDN output (got {}×{}, {n_out} outputs)",
                        limits::MAX_CHANNELS,
                        m.rows(),
                        m.cols()
                    ),
                ));
            }
            if let Some(index) = m
                .as_slice()
                .iter()
                .position(|v| !(v.is_finite() && v.abs() <= limits::MAX_GAIN))
            {
                return Err(PresetError::field(
                    "tailor.output_mix",
                    format!(
                        "entry {index} is {}, not a finite gain within {:e}",
                        m.as_slice()[index],
                        limits::MAX_GAIN
                    ),
                ));
            }
        }
        if parts.delays.len() != n {
            return Err(PresetError::field(
                "delays",
                format!(
                    "must contain one positive integer per delay line (got {}, N = {n})",
                    parts.delays.len()
                ),
            ));
        }
        check_delay_values(
            &parts.delays.iter().map(|&d| d as f64).collect::<Vec<_>>(),
            parts.sample_rate,
            limits,
        )?;
        for (name, bank, channels) in [
            ("post_delay", &parts.post_delay, n),
            ("post_matrix", &parts.post_matrix, n),
            ("post_output", &parts.post_output, n_out),
        ] {
            if let Some(bank) = bank {
                if bank.sections() > limits::MAX_SOS_SECTIONS {
                    return Err(PresetError::field(
                        name,
                        format!(
                            "{} sections exceed the limit of {}",
                            bank.sections(),
                            limits::MAX_SOS_SECTIONS
                        ),
                    ));
                }
                if bank.channels() != channels {
                    let what = if name == "post_output" {
                        "outputs"
                    } else {
                        "delay lines"
                    };
                    return Err(PresetError::field(
                        name,
                        format!("must have shape (sections, 6, {what}) (got {} channels, expected {channels})", bank.channels()),
                    ));
                }
            }
        }
        Ok(Self { parts })
    }

    /// Parses build JSON text (v2, or v1 mapped to v2) with default limits.
    pub fn from_json_str(text: &str) -> Result<Self, PresetError> {
        Self::from_json_value(&parse_text(text)?, &Limits::default())
    }

    /// Reads a build from a JSON value (v2, or v1 mapped to v2).
    pub fn from_json_value(v: &Value, limits: &Limits) -> Result<Self, PresetError> {
        let obj = v
            .as_object()
            .ok_or(PresetError::NotAnObject { found: kind_of(v) })?;
        match obj.get("format") {
            Some(Value::String(s)) if s == BUILD_FORMAT => {}
            Some(other) => {
                return Err(PresetError::Format {
                    found: other.to_string(),
                })
            }
            None => {}
        }
        let version = match obj.get("version") {
            Some(v) => match v.as_f64() {
                Some(2.0) => 2,
                Some(1.0) => 1,
                _ => {
                    return Err(PresetError::Version {
                        found: v.to_string(),
                    })
                }
            },
            None => 0,
        };
        let required = [
            "format",
            "version",
            "feedback_matrix",
            "input_matrix",
            "output_matrix",
            "direct_matrix",
            "delays",
            "sample_rate",
        ];
        let missing: Vec<String> = required
            .iter()
            .filter(|k| !obj.contains_key(**k))
            .map(|k| k.to_string())
            .collect();
        if !missing.is_empty() {
            return Err(PresetError::Missing { fields: missing });
        }
        let a = matrix_2d("feedback_matrix", &obj["feedback_matrix"])?;
        if a.rows() != a.cols() || a.rows() == 0 {
            return Err(PresetError::field(
                "feedback_matrix",
                format!("must be square (got {}×{})", a.rows(), a.cols()),
            ));
        }
        let b = matrix_2d("input_matrix", &obj["input_matrix"])?;
        let c = matrix_2d("output_matrix", &obj["output_matrix"])?;
        let d = matrix_2d("direct_matrix", &obj["direct_matrix"])?;
        let sample_rate = number("sample_rate", &obj["sample_rate"])?;
        if sample_rate <= 0.0 {
            return Err(PresetError::field(
                "sample_rate",
                format!("must be positive and finite (got {sample_rate})"),
            ));
        }
        let delays_raw = nd_array("delays", &obj["delays"])?.data;
        if let Some(bad) = delays_raw.iter().find(|d| d.fract() != 0.0) {
            return Err(PresetError::field(
                "delays",
                format!("must contain integers (got {bad})"),
            ));
        }
        if delays_raw.len() != a.rows() {
            return Err(PresetError::field(
                "delays",
                format!(
                    "must contain one positive integer per delay line (got {}, N = {})",
                    delays_raw.len(),
                    a.rows()
                ),
            ));
        }
        check_delay_values(&delays_raw, sample_rate, limits)?;
        let delays = delays_raw.iter().map(|&d| d as usize).collect();
        let (pd_key, po_key) = if version == 1 {
            ("absorption_filters", "output_filters")
        } else {
            ("post_delay", "post_output")
        };
        let post_delay = sos_field("post_delay", obj.get(pd_key))?;
        let post_matrix = if version == 1 {
            None
        } else {
            sos_field("post_matrix", obj.get("post_matrix"))?
        };
        let post_output = sos_field("post_output", obj.get(po_key))?;
        let metadata = match obj.get("metadata") {
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        };
        for (k, x) in &metadata {
            reject_non_finite_tokens(&format!("metadata.{k}"), x)?;
        }
        Self::with_limits(
            BuildParts {
                a,
                b,
                c,
                d,
                delays,
                sample_rate,
                post_delay,
                post_matrix,
                post_output,
                output_mix: None,
                metadata,
            },
            limits,
        )
    }

    /// The build as a v2 JSON object (pyFDN key order; `metadata` only when non-empty).
    pub fn to_json_value(&self) -> Value {
        let p = &self.parts;
        let mut m = Map::new();
        m.insert("format".into(), BUILD_FORMAT.into());
        m.insert("version".into(), BUILD_VERSION.into());
        m.insert("feedback_matrix".into(), serde_json::json!(p.a.to_rows()));
        m.insert("input_matrix".into(), serde_json::json!(p.b.to_rows()));
        m.insert("output_matrix".into(), serde_json::json!(p.c.to_rows()));
        m.insert("direct_matrix".into(), serde_json::json!(p.d.to_rows()));
        m.insert("delays".into(), serde_json::json!(p.delays));
        m.insert("sample_rate".into(), serde_json::json!(p.sample_rate));
        for (k, bank) in [
            ("post_delay", &p.post_delay),
            ("post_matrix", &p.post_matrix),
            ("post_output", &p.post_output),
        ] {
            m.insert(
                k.into(),
                bank.as_ref()
                    .map_or(Value::Null, |b| serde_json::json!(b.to_nested())),
            );
        }
        if !p.metadata.is_empty() {
            m.insert("metadata".into(), Value::Object(p.metadata.clone()));
        }
        Value::Object(m)
    }

    /// The build as pretty JSON text (2-space indent, trailing newline).
    pub fn to_json_string(&self) -> String {
        let mut s = serde_json::to_string_pretty(&self.to_json_value())
            .expect("JSON values always serialise");
        s.push('\n');
        s
    }

    /// Number of delay lines N.
    pub fn n(&self) -> usize {
        self.parts.delays.len()
    }
    /// Number of input channels.
    pub fn n_in(&self) -> usize {
        self.parts.b.cols()
    }
    /// Number of output channels.
    pub fn n_out(&self) -> usize {
        self.parts.c.rows()
    }
    /// Feedback matrix A (`N × N`).
    pub fn a(&self) -> &Matrix {
        &self.parts.a
    }
    /// Input gains B (`N × n_in`).
    pub fn b(&self) -> &Matrix {
        &self.parts.b
    }
    /// Number of audible outputs: the output mix's rows, else [`Build::n_out`].
    pub fn n_outputs(&self) -> usize {
        self.parts
            .output_mix
            .as_ref()
            .map_or(self.n_out(), Matrix::rows)
    }
    /// The output mix (`n_outputs × n_out`), if any (see [`BuildParts::output_mix`]).
    pub fn output_mix(&self) -> Option<&Matrix> {
        self.parts.output_mix.as_ref()
    }
    /// Output gains C (`n_out × N`).
    pub fn c(&self) -> &Matrix {
        &self.parts.c
    }
    /// Direct path D (`n_out × n_in`).
    pub fn d(&self) -> &Matrix {
        &self.parts.d
    }
    /// Delay lengths in samples.
    pub fn delays(&self) -> &[usize] {
        &self.parts.delays
    }
    /// Sample rate in Hz.
    pub fn sample_rate(&self) -> f64 {
        self.parts.sample_rate
    }
    /// In-loop SOS after the delays (attenuation), if any.
    pub fn post_delay(&self) -> Option<&SosBank> {
        self.parts.post_delay.as_ref()
    }
    /// In-loop SOS after the feedback matrix, if any.
    pub fn post_matrix(&self) -> Option<&SosBank> {
        self.parts.post_matrix.as_ref()
    }
    /// Per-output SOS, if any.
    pub fn post_output(&self) -> Option<&SosBank> {
        self.parts.post_output.as_ref()
    }
    /// Build-level metadata.
    pub fn metadata(&self) -> &Map<String, Value> {
        &self.parts.metadata
    }
    /// The parts (for building a modified copy).
    pub fn parts(&self) -> &BuildParts {
        &self.parts
    }
    /// Consumes the build into its parts.
    pub fn into_parts(self) -> BuildParts {
        self.parts
    }

    /// Loop-gain report: ‖A‖₂ × max |post_delay| × max |post_matrix| and filter pole checks.
    pub fn stability(&self) -> Stability {
        let spectral_norm = self.parts.a.spectral_norm();
        let max_filter_gain = self.post_delay().map_or(1.0, SosBank::max_gain)
            * self.post_matrix().map_or(1.0, SosBank::max_gain);
        let filters_stable = [self.post_delay(), self.post_matrix(), self.post_output()]
            .into_iter()
            .flatten()
            .all(SosBank::poles_inside_unit_circle);
        Stability {
            spectral_norm,
            max_filter_gain,
            loop_gain_bound: spectral_norm * max_filter_gain,
            filters_stable,
        }
    }

    /// The stability report, or an error naming the problem when the build may blow up.
    pub fn check_stable(&self) -> Result<Stability, PresetError> {
        let s = self.stability();
        for (name, bank) in [
            ("post_delay", self.post_delay()),
            ("post_matrix", self.post_matrix()),
            ("post_output", self.post_output()),
        ] {
            if bank.is_some_and(|b| !b.poles_inside_unit_circle()) {
                return Err(PresetError::UnstableFilter { field: name.into() });
            }
        }
        if !s.is_stable() {
            return Err(PresetError::Unstable {
                bound: s.loop_gain_bound,
                spectral_norm: s.spectral_norm,
                filter_gain: s.max_filter_gain,
            });
        }
        Ok(s)
    }

    /// A copy with `post_delay` replaced (validated again).
    pub fn with_post_delay(&self, post_delay: Option<SosBank>) -> Result<Self, PresetError> {
        let mut parts = self.parts.clone();
        parts.post_delay = post_delay;
        Self::new(parts)
    }

    /// The longest delay in samples.
    pub fn max_delay(&self) -> usize {
        self.parts.delays.iter().copied().max().unwrap_or(0)
    }
}

fn check_delay_values(
    delays: &[f64],
    sample_rate: f64,
    limits: &Limits,
) -> Result<(), PresetError> {
    if delays.is_empty() {
        return Err(PresetError::field(
            "delays",
            "must contain one positive integer per delay line (got none)",
        ));
    }
    if let Some((i, d)) = delays.iter().enumerate().find(|(_, d)| **d < 1.0) {
        return Err(PresetError::field(
            "delays",
            format!("must contain one positive integer per delay line (line {i} has {d})"),
        ));
    }
    let cap = (limits.max_delay_seconds * sample_rate).floor();
    if let Some((line, &delay)) = delays.iter().enumerate().find(|(_, d)| **d > cap) {
        return Err(PresetError::DelayTooLong {
            line,
            delay,
            cap,
            cap_seconds: limits.max_delay_seconds,
            sample_rate,
        });
    }
    Ok(())
}

fn matrix_2d(field: &str, v: &Value) -> Result<Matrix, PresetError> {
    let a = nd_array(field, v)?;
    if a.shape.len() != 2 {
        return Err(PresetError::field(
            field,
            format!("must be a 2-D array (got {} dimensions)", a.shape.len()),
        ));
    }
    Matrix::from_row_major(a.shape[0], a.shape[1], a.data)
        .ok_or_else(|| PresetError::field(field, "inconsistent shape"))
}

fn sos_field(field: &str, v: Option<&Value>) -> Result<Option<SosBank>, PresetError> {
    let v = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(v) => v,
    };
    let what = if field == "post_output" {
        "outputs"
    } else {
        "delay lines"
    };
    let a = nd_array(field, v)?;
    if a.shape.len() != 3 || a.shape[1] != 6 {
        return Err(PresetError::field(
            field,
            format!("must have shape (sections, 6, {what}) (got {:?})", a.shape),
        ));
    }
    SosBank::new(a.shape[0], a.shape[2], a.data)
        .map(Some)
        .map_err(|source| PresetError::Sos {
            field: field.into(),
            cause: source,
        })
}
