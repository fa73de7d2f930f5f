//! Presets: the pyFDN build format ("pyfdn-fdn-build" v2; v1 read) and the preset document.
//!
//! A [`Build`] can only exist validated (finite values, square A, consistent B/C/D, positive
//! delays under a memory cap, well-formed SOS hooks). [`Build::stability`] reports the loop-gain
//! bound so callers can refuse builds that may blow up. [`EarlyReflections`] is the optional FIR
//! of a fitted preset (`tailor.early`), added to the FDN's output.

mod build;
mod document;
pub mod early;
mod error;
pub mod json;
pub mod mix;

pub use build::{
    Build, BuildParts, Limits, Stability, BUILD_FORMAT, BUILD_VERSION, LOOP_GAIN_TOLERANCE,
};
pub use document::Preset;
pub use early::EarlyReflections;
pub use error::PresetError;

/// The 16 colorless presets shipped with pyFDN 0.5 (MIT, Gloria Dal Santo), embedded by name.
pub const BUNDLED_PRESETS: &[(&str, &str)] = &[
    (
        "colorless_N4_d1",
        include_str!("../../../data/presets/colorless_FDN/colorless_N4_d1.json"),
    ),
    (
        "colorless_N4_d2",
        include_str!("../../../data/presets/colorless_FDN/colorless_N4_d2.json"),
    ),
    (
        "colorless_N6_d1",
        include_str!("../../../data/presets/colorless_FDN/colorless_N6_d1.json"),
    ),
    (
        "colorless_N6_d2",
        include_str!("../../../data/presets/colorless_FDN/colorless_N6_d2.json"),
    ),
    (
        "colorless_N8_d1",
        include_str!("../../../data/presets/colorless_FDN/colorless_N8_d1.json"),
    ),
    (
        "colorless_N8_d2",
        include_str!("../../../data/presets/colorless_FDN/colorless_N8_d2.json"),
    ),
    (
        "colorless_N16_d1",
        include_str!("../../../data/presets/colorless_FDN/colorless_N16_d1.json"),
    ),
    (
        "colorless_N16_d2",
        include_str!("../../../data/presets/colorless_FDN/colorless_N16_d2.json"),
    ),
    (
        "colorless_init_N4_d1",
        include_str!("../../../data/presets/colorless_FDN/colorless_init_N4_d1.json"),
    ),
    (
        "colorless_init_N4_d2",
        include_str!("../../../data/presets/colorless_FDN/colorless_init_N4_d2.json"),
    ),
    (
        "colorless_init_N6_d1",
        include_str!("../../../data/presets/colorless_FDN/colorless_init_N6_d1.json"),
    ),
    (
        "colorless_init_N6_d2",
        include_str!("../../../data/presets/colorless_FDN/colorless_init_N6_d2.json"),
    ),
    (
        "colorless_init_N8_d1",
        include_str!("../../../data/presets/colorless_FDN/colorless_init_N8_d1.json"),
    ),
    (
        "colorless_init_N8_d2",
        include_str!("../../../data/presets/colorless_FDN/colorless_init_N8_d2.json"),
    ),
    (
        "colorless_init_N16_d1",
        include_str!("../../../data/presets/colorless_FDN/colorless_init_N16_d1.json"),
    ),
    (
        "colorless_init_N16_d2",
        include_str!("../../../data/presets/colorless_FDN/colorless_init_N16_d2.json"),
    ),
];

/// Largest preset file [`read_file`] reads, bytes (a fitted 96 kHz true-stereo preset with its
/// early FIRs is a few MB).
pub const MAX_PRESET_BYTES: u64 = 64 << 20;

/// Reads and validates the preset file at `path` (at most [`MAX_PRESET_BYTES`]): the one preset
/// loader of the CLI, the A/B tools and the plugin.
pub fn read_file(path: &std::path::Path) -> Result<Preset, PresetError> {
    let file = |message: String| PresetError::File {
        path: path.display().to_string(),
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| file(e.to_string()))?;
    if meta.len() > MAX_PRESET_BYTES {
        return Err(file(format!(
            "{} bytes is larger than the {MAX_PRESET_BYTES}-byte limit",
            meta.len()
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| file(e.to_string()))?;
    Preset::from_json_str(&text).map_err(|e| file(e.to_string()))
}

/// Loads `spec`: a preset file's path ([`read_file`]) or, when no such file exists, a bundled
/// preset's name ([`bundled_preset`]).
pub fn load(spec: &str) -> Result<Preset, PresetError> {
    let path = std::path::Path::new(spec);
    if path.exists() {
        return read_file(path);
    }
    bundled_preset(spec).map_err(|e| PresetError::File {
        path: spec.into(),
        message: format!("neither a file nor a bundled preset ({e})"),
    })
}

/// Loads a bundled preset by name (optional ".json"), like pyFDN's `get_fdn_preset`.
pub fn bundled_preset(name: &str) -> Result<Preset, PresetError> {
    let key = name.strip_suffix(".json").unwrap_or(name);
    let text = BUNDLED_PRESETS
        .iter()
        .find(|(n, _)| *n == key)
        .map(|(_, t)| *t)
        .ok_or_else(|| {
            let names: Vec<&str> = BUNDLED_PRESETS.iter().map(|(n, _)| *n).collect();
            PresetError::field(
                "preset",
                format!(
                    "Unknown FDN preset '{name}'. Available presets: {}",
                    names.join(", ")
                ),
            )
        })?;
    Preset::from_json_str(text)
}
