//! Early reflections of a fitted preset: an FIR matrix kept in the document's `"tailor"`
//! extension (`{"version": 1, "early": {...}}`).
//!
//! The preset's impulse response is `h = h_fdn + fir`: the FIR from build input `i` to output `o`
//! (`fir[o][i]`, samples at `sample_rate` Hz) is added to the whole FDN output (direct path and
//! `post_output` included). The fitter bakes onset matching and the crossfade into the FIR, so a
//! renderer does no windowing; `mixing_time_s` and `crossfade_s` are informational only.

use super::build::Build;
use super::error::PresetError;
use super::json::kind_of;
use serde_json::{Map, Value};

/// Top-level key of Tailor's extension object in a preset document.
pub const TAILOR_KEY: &str = "tailor";
/// Key of the early-reflections object inside the extension.
pub const EARLY_KEY: &str = "early";
/// The only supported `tailor.version`.
pub const TAILOR_VERSION: u64 = 1;
/// Default cap on the FIR length, in seconds at the FIR's rate (the fitter writes ≤ 0.12 s).
pub const MAX_EARLY_SECONDS: f64 = 2.0;

/// Marker `json::parse_text` puts in front of Python's bare `NaN`/`Infinity` tokens.
const NON_FINITE_MARK: &str = "\u{1}tailor-non-finite:";

/// A validated FIR matrix `fir[o][i]` (samples at `sample_rate` Hz), added to the FDN's output.
#[derive(Debug, Clone, PartialEq)]
pub struct EarlyReflections {
    sample_rate: f64,
    fir: Vec<Vec<Vec<f64>>>,
    mixing_time_s: Option<f64>,
    crossfade_s: Option<[f64; 2]>,
    other: Map<String, Value>,
}

fn field(path: &str) -> String {
    format!("{TAILOR_KEY}.{EARLY_KEY}.{path}")
}

impl EarlyReflections {
    /// An FIR matrix `fir[o][i]` at `sample_rate` Hz, capped at [`MAX_EARLY_SECONDS`].
    pub fn new(sample_rate: f64, fir: Vec<Vec<Vec<f64>>>) -> Result<Self, PresetError> {
        Self::with_max_seconds(sample_rate, fir, MAX_EARLY_SECONDS)
    }

    /// Like [`EarlyReflections::new`] with an explicit cap on every FIR's length (seconds).
    pub fn with_max_seconds(
        sample_rate: f64,
        fir: Vec<Vec<Vec<f64>>>,
        max_seconds: f64,
    ) -> Result<Self, PresetError> {
        if !(sample_rate.is_finite() && sample_rate > 0.0) {
            return Err(PresetError::field(
                field("sample_rate"),
                format!("must be a positive, finite rate in Hz (got {sample_rate})"),
            ));
        }
        let n_out = fir.len();
        let n_in = fir.first().map_or(0, Vec::len);
        if n_out == 0 || n_in == 0 {
            return Err(PresetError::field(
                field("fir"),
                "must be a non-empty n_out × n_in matrix of FIRs",
            ));
        }
        let cap = (max_seconds * sample_rate).floor().max(1.0) as usize;
        for (o, row) in fir.iter().enumerate() {
            if row.len() != n_in {
                return Err(PresetError::field(
                    field(&format!("fir[{o}]")),
                    format!("has {} FIRs, expected {n_in} (one per input)", row.len()),
                ));
            }
            for (i, h) in row.iter().enumerate() {
                let at = field(&format!("fir[{o}][{i}]"));
                if h.is_empty() {
                    return Err(PresetError::field(at, "is empty (needs at least 1 sample)"));
                }
                if h.len() > cap {
                    return Err(PresetError::field(
                        at,
                        format!(
                            "has {} samples ({:.3} s), longer than the cap of {cap} samples \
                             ({max_seconds} s at {sample_rate} Hz)",
                            h.len(),
                            h.len() as f64 / sample_rate
                        ),
                    ));
                }
                if let Some(k) = h.iter().position(|v| !v.is_finite()) {
                    return Err(PresetError::field(
                        at,
                        format!("contains a non-finite value (sample {k} is {})", h[k]),
                    ));
                }
                if let Some(k) = h.iter().position(|v| v.abs() > crate::limits::MAX_GAIN) {
                    return Err(PresetError::field(
                        at,
                        format!(
                            "sample {k} is {:e}, above the gain limit of {:e} (120 dB)",
                            h[k],
                            crate::limits::MAX_GAIN
                        ),
                    ));
                }
            }
        }
        Ok(Self {
            sample_rate,
            fir,
            mixing_time_s: None,
            crossfade_s: None,
            other: Map::new(),
        })
    }

    /// Sets the informational mixing time and crossfade window (seconds; finite, ≥ 0, start ≤ end).
    pub fn with_timing(
        mut self,
        mixing_time_s: Option<f64>,
        crossfade_s: Option<[f64; 2]>,
    ) -> Result<Self, PresetError> {
        if let Some(t) = mixing_time_s {
            if !(t.is_finite() && t >= 0.0) {
                return Err(PresetError::field(
                    field("mixing_time_s"),
                    format!("must be finite and ≥ 0 s (got {t})"),
                ));
            }
        }
        if let Some([a, b]) = crossfade_s {
            if !(a.is_finite() && b.is_finite() && 0.0 <= a && a <= b) {
                return Err(PresetError::field(
                    field("crossfade_s"),
                    format!("must be [start, end] seconds with 0 ≤ start ≤ end (got [{a}, {b}])"),
                ));
            }
        }
        self.mixing_time_s = mixing_time_s;
        self.crossfade_s = crossfade_s;
        Ok(self)
    }

    /// Sample rate of the FIRs in Hz.
    pub fn sample_rate(&self) -> f64 {
        self.sample_rate
    }
    /// The FIR matrix `fir[o][i]` (samples).
    pub fn fir(&self) -> &[Vec<Vec<f64>>] {
        &self.fir
    }
    /// The FIR from input `i` to output `o` (samples); empty when out of range.
    pub fn ir(&self, o: usize, i: usize) -> &[f64] {
        self.fir
            .get(o)
            .and_then(|r| r.get(i))
            .map_or(&[], Vec::as_slice)
    }
    /// Output channels (rows of the matrix).
    pub fn n_out(&self) -> usize {
        self.fir.len()
    }
    /// Input channels (columns of the matrix).
    pub fn n_in(&self) -> usize {
        self.fir.first().map_or(0, Vec::len)
    }
    /// Length of the longest FIR in samples.
    pub fn len(&self) -> usize {
        self.fir.iter().flatten().map(Vec::len).max().unwrap_or(0)
    }
    /// Always false: a validated FIR has at least one sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Mixing time the fitter used, in seconds (informational).
    pub fn mixing_time_s(&self) -> Option<f64> {
        self.mixing_time_s
    }
    /// Crossfade window `[start, end]` the fitter used, in seconds (informational).
    pub fn crossfade_s(&self) -> Option<[f64; 2]> {
        self.crossfade_s
    }
    /// Unknown fields of the `early` object (kept on round trips).
    pub fn other_fields(&self) -> &Map<String, Value> {
        &self.other
    }

    /// Checks that the FIR matrix fits `build`: shape `n_out × n_in` of the build, and a rate
    /// equal to the build's or convertible to it with [`crate::resample::resample`].
    pub fn check_build(&self, build: &Build) -> Result<(), PresetError> {
        if self.n_out() != build.n_outputs() || self.n_in() != build.n_in() {
            return Err(PresetError::field(
                field("fir"),
                format!(
                    "shape {} × {} (outputs × inputs) does not match the build's {} × {}",
                    self.n_out(),
                    self.n_in(),
                    build.n_outputs(),
                    build.n_in()
                ),
            ));
        }
        self.check_rate(build.sample_rate())
    }

    fn check_rate(&self, fs: f64) -> Result<(), PresetError> {
        let whole =
            |r: f64| r.is_finite() && (1.0..1e7).contains(&r) && (r - r.round()).abs() < 1e-9;
        if self.sample_rate == fs || (whole(self.sample_rate) && whole(fs)) {
            Ok(())
        } else {
            Err(PresetError::field(
                field("sample_rate"),
                format!(
                    "{} Hz differs from the build's {fs} Hz and cannot be resampled \
                     (rates must be whole Hz)",
                    self.sample_rate
                ),
            ))
        }
    }

    /// The FIRs at `fs` Hz (resampled with [`crate::resample::resample`]; a clone when the rate
    /// already matches). Informational fields are kept.
    pub fn at_rate(&self, fs: f64) -> Result<Self, PresetError> {
        if fs == self.sample_rate {
            return Ok(self.clone());
        }
        self.check_rate(fs)?;
        let len = self.len();
        let channels: Vec<Vec<f64>> = self
            .fir
            .iter()
            .flatten()
            .map(|h| {
                let mut c = h.clone();
                c.resize(len, 0.0);
                c
            })
            .collect();
        let out = crate::resample::resample(&channels, self.sample_rate, fs)
            .map_err(|e| PresetError::field(field("fir"), e.to_string()))?;
        let n_in = self.n_in();
        let mut it = out.into_iter();
        let fir = (0..self.n_out())
            .map(|_| it.by_ref().take(n_in).collect())
            .collect();
        let cap_s = (MAX_EARLY_SECONDS).max(len as f64 / self.sample_rate + 1.0);
        let mut r = Self::with_max_seconds(fs, fir, cap_s)?;
        r.mixing_time_s = self.mixing_time_s;
        r.crossfade_s = self.crossfade_s;
        r.other = self.other.clone();
        Ok(r)
    }

    /// A two-output matrix from a one-output one (the FIR row duplicated, as
    /// [`crate::fx::stereo_build`] duplicates the direct path); other shapes are returned as is.
    pub fn stereo(&self) -> Self {
        let mut r = self.clone();
        if self.n_out() == 1 {
            r.fir.push(self.fir[0].clone());
        }
        r
    }

    /// The `early` object as JSON (`sample_rate`, `fir`, informational and unknown fields).
    pub fn to_json_value(&self) -> Value {
        let mut m = self.other.clone();
        m.insert("sample_rate".into(), Value::from(self.sample_rate));
        let fir: Vec<Value> = self
            .fir
            .iter()
            .map(|row| {
                Value::Array(
                    row.iter()
                        .map(|h| Value::Array(h.iter().map(|&v| Value::from(v)).collect()))
                        .collect(),
                )
            })
            .collect();
        m.insert("fir".into(), Value::Array(fir));
        if let Some(t) = self.mixing_time_s {
            m.insert("mixing_time_s".into(), Value::from(t));
        }
        if let Some([a, b]) = self.crossfade_s {
            m.insert("crossfade_s".into(), Value::from(vec![a, b]));
        }
        Value::Object(m)
    }

    /// Reads an `early` object (default length cap); errors name the field path.
    pub fn from_json_value(v: &Value) -> Result<Self, PresetError> {
        let obj = v.as_object().ok_or_else(|| {
            PresetError::field(
                format!("{TAILOR_KEY}.{EARLY_KEY}"),
                format!("must be an object (found {})", kind_of(v)),
            )
        })?;
        let sample_rate = match obj.get("sample_rate") {
            None => return Err(PresetError::field(field("sample_rate"), "is missing")),
            Some(v) => number(&field("sample_rate"), v)?,
        };
        let fir_v = obj
            .get("fir")
            .ok_or_else(|| PresetError::field(field("fir"), "is missing"))?;
        let fir = read_fir(fir_v)?;
        let mixing = obj
            .get("mixing_time_s")
            .filter(|v| !v.is_null())
            .map(|v| number(&field("mixing_time_s"), v))
            .transpose()?;
        let crossfade = match obj.get("crossfade_s") {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) if a.len() == 2 => Some([
                number(&field("crossfade_s[0]"), &a[0])?,
                number(&field("crossfade_s[1]"), &a[1])?,
            ]),
            Some(_) => {
                return Err(PresetError::field(
                    field("crossfade_s"),
                    "must be [start, end] in seconds",
                ))
            }
        };
        let mut r = Self::new(sample_rate, fir)?.with_timing(mixing, crossfade)?;
        r.other = obj
            .iter()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "sample_rate" | "fir" | "mixing_time_s" | "crossfade_s"
                )
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(r)
    }
}

fn number(path: &str, v: &Value) -> Result<f64, PresetError> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| PresetError::field(path, "is not representable as a number")),
        Value::String(s) if s.starts_with(NON_FINITE_MARK) => Err(PresetError::field(
            path,
            format!(
                "contains a non-finite value ({})",
                &s[NON_FINITE_MARK.len()..]
            ),
        )),
        other => Err(PresetError::field(
            path,
            format!("must be a number (found {})", kind_of(other)),
        )),
    }
}

fn read_fir(v: &Value) -> Result<Vec<Vec<Vec<f64>>>, PresetError> {
    let rows = v.as_array().ok_or_else(|| {
        PresetError::field(
            field("fir"),
            format!(
                "must be an n_out × n_in × taps array (found {})",
                kind_of(v)
            ),
        )
    })?;
    rows.iter()
        .enumerate()
        .map(|(o, row)| {
            let row = row.as_array().ok_or_else(|| {
                PresetError::field(
                    field(&format!("fir[{o}]")),
                    format!("must be an array of FIRs (found {})", kind_of(row)),
                )
            })?;
            row.iter()
                .enumerate()
                .map(|(i, h)| {
                    let at = field(&format!("fir[{o}][{i}]"));
                    let taps = h.as_array().ok_or_else(|| {
                        PresetError::field(
                            at.clone(),
                            format!("must be an array of samples (found {})", kind_of(h)),
                        )
                    })?;
                    taps.iter().map(|s| number(&at, s)).collect()
                })
                .collect()
        })
        .collect()
}

/// Splits the typed early part out of a document's extensions: validates `tailor` (an object
/// with `version` 1), reads and checks `tailor.early` against `build`, and removes it from the
/// map (the preset holds it typed). Other `tailor` fields stay in the map; a `tailor` object
/// left with only its version is removed (it is written back with the early part).
pub(crate) fn take_early(
    extensions: &mut Map<String, Value>,
    build: &Build,
) -> Result<Option<EarlyReflections>, PresetError> {
    let Some(t) = extensions.get_mut(TAILOR_KEY) else {
        return Ok(None);
    };
    let found = kind_of(t);
    let obj = t.as_object_mut().ok_or_else(|| {
        PresetError::field(TAILOR_KEY, format!("must be an object (found {found})"))
    })?;
    match obj.get("version") {
        None => {
            return Err(PresetError::field(
                format!("{TAILOR_KEY}.version"),
                format!("is missing (expected {TAILOR_VERSION})"),
            ))
        }
        Some(v) if v.as_u64() == Some(TAILOR_VERSION) => {}
        Some(v) => {
            return Err(PresetError::field(
                format!("{TAILOR_KEY}.version"),
                format!("unsupported version {v} (expected {TAILOR_VERSION})"),
            ))
        }
    }
    let Some(early) = obj.get(EARLY_KEY) else {
        return Ok(None);
    };
    let early = EarlyReflections::from_json_value(early)?;
    early.check_build(build)?;
    obj.remove(EARLY_KEY);
    // A `tailor` object left holding only its version is re-created on serialisation.
    if obj.keys().all(|k| k == "version") {
        extensions.remove(TAILOR_KEY);
    }
    Ok(Some(early))
}

/// The `tailor` object of `extensions`, created (or replacing a non-object) with its version.
pub(crate) fn tailor_object(extensions: &mut Map<String, Value>) -> &mut Map<String, Value> {
    let t = extensions
        .entry(TAILOR_KEY)
        .or_insert_with(|| Value::Object(Map::new()));
    if !t.is_object() {
        *t = Value::Object(Map::new());
    }
    let Value::Object(m) = t else {
        unreachable!("made an object above")
    };
    m.entry("version").or_insert(Value::from(TAILOR_VERSION));
    m
}

/// Writes `early` back into a copy of `extensions` (creating `tailor` with version 1 if needed).
pub(crate) fn with_early(
    extensions: &Map<String, Value>,
    early: Option<&EarlyReflections>,
) -> Map<String, Value> {
    let mut ext = extensions.clone();
    if let Some(e) = early {
        tailor_object(&mut ext).insert(EARLY_KEY.into(), e.to_json_value());
    }
    ext
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preset::{bundled_preset, Preset};

    fn doc_with(early: Value) -> String {
        let p = bundled_preset("colorless_N4_d1").unwrap();
        let mut v = p.to_json_value();
        v.as_object_mut().unwrap().insert(TAILOR_KEY.into(), early);
        serde_json::to_string(&v).unwrap()
    }

    fn good() -> Value {
        serde_json::json!({
            "version": 1,
            "fitter": {"iterations": 300},
            "early": {
                "sample_rate": 48000.0,
                "fir": [[[0.0, 0.12, -0.25, 0.5]]],
                "mixing_time_s": 0.08,
                "crossfade_s": [0.06, 0.08],
                "note": "kept"
            }
        })
    }

    fn err_of(t: Value) -> String {
        Preset::from_json_str(&doc_with(t)).unwrap_err().to_string()
    }

    #[test]
    fn round_trip_keeps_everything() {
        let text = doc_with(good());
        let p = Preset::from_json_str(&text).unwrap();
        let e = p.early().unwrap();
        assert_eq!(e.ir(0, 0), &[0.0, 0.12, -0.25, 0.5]);
        assert_eq!(e.mixing_time_s(), Some(0.08));
        assert_eq!(e.crossfade_s(), Some([0.06, 0.08]));
        assert_eq!(e.other_fields()["note"], "kept");
        let v = p.to_json_value();
        assert_eq!(v[TAILOR_KEY], good());
        let back = Preset::from_json_str(&p.to_json_string()).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn set_early_none_restores_the_plain_document() {
        let plain = bundled_preset("colorless_N4_d1").unwrap();
        let mut p = Preset::from_json_str(&doc_with(serde_json::json!({
            "version": 1,
            "early": good()["early"].clone()
        })))
        .unwrap();
        assert!(p.early().is_some());
        p.set_early(None).unwrap();
        assert_eq!(p, plain);
        assert_eq!(p.to_json_value(), plain.to_json_value());
        let e = EarlyReflections::new(48_000.0, vec![vec![vec![1.0]]]).unwrap();
        p.set_early(Some(e.clone())).unwrap();
        assert_eq!(p.early(), Some(&e));
        assert_eq!(p.to_json_value()[TAILOR_KEY]["version"], 1);
        let wrong = EarlyReflections::new(48_000.0, vec![vec![vec![1.0], vec![1.0]]]).unwrap();
        let msg = p.set_early(Some(wrong)).unwrap_err().to_string();
        assert!(
            msg.contains("tailor.early.fir") && msg.contains("1 × 2"),
            "{msg}"
        );
    }

    #[test]
    fn bad_extensions_name_the_field() {
        let mut t = good();
        t["early"]["fir"] = serde_json::json!([[[0.0]], [[1.0]]]);
        let m = err_of(t);
        assert!(m.contains("tailor.early.fir") && m.contains("2 × 1"), "{m}");

        let m = Preset::from_json_str(&doc_with(good()).replace("0.12", "NaN"))
            .unwrap_err()
            .to_string();
        assert!(
            m.contains("tailor.early.fir[0][0]: contains a non-finite value (NaN)"),
            "{m}"
        );

        let mut t = good();
        t["version"] = 2.into();
        let m = err_of(t);
        assert!(m.contains("tailor.version") && m.contains('2'), "{m}");

        let mut t = good();
        let long = vec![0.0; 480_000];
        t["early"]["fir"] = serde_json::json!([[long]]);
        let m = err_of(t);
        assert!(
            m.contains("tailor.early.fir[0][0]") && m.contains("480000 samples"),
            "{m}"
        );

        let mut t = good();
        t["early"]["sample_rate"] = 44_100.5.into();
        let m = err_of(t);
        assert!(
            m.contains("tailor.early.sample_rate") && m.contains("cannot be resampled"),
            "{m}"
        );

        let mut t = good();
        t["early"]["fir"] = serde_json::json!([[[]]]);
        assert!(err_of(t).contains("tailor.early.fir[0][0]: is empty"));

        let mut t = good();
        t["early"]["fir"] = serde_json::json!([[[0.0, "x"]]]);
        assert!(err_of(t).contains("tailor.early.fir[0][0]: must be a number"));

        let mut t = good();
        t["early"]["crossfade_s"] = serde_json::json!([0.08, 0.06]);
        assert!(err_of(t).contains("tailor.early.crossfade_s"));

        assert!(err_of(serde_json::json!([1])).contains("tailor: must be an object"));
    }

    #[test]
    fn resampling_keeps_the_duration_and_stereo_duplicates() {
        let h: Vec<f64> = (0..480).map(|n| (-(n as f64) / 60.0).exp()).collect();
        let e = EarlyReflections::new(48_000.0, vec![vec![h.clone()]]).unwrap();
        let r = e.at_rate(44_100.0).unwrap();
        assert_eq!(r.sample_rate(), 44_100.0);
        assert_eq!(r.len(), 441);
        let energy = |s: &[f64]| s.iter().map(|v| v * v).sum::<f64>();
        // A band-limited decay keeps its energy per second to within a few percent.
        let (a, b) = (energy(&h) / 48_000.0, energy(r.ir(0, 0)) / 44_100.0);
        assert!((a - b).abs() / a < 0.1, "{a} vs {b}");
        let s = e.stereo();
        assert_eq!(s.n_out(), 2);
        assert_eq!(s.ir(1, 0), h.as_slice());
        assert!(e.at_rate(44_100.5).is_err());
    }
}
