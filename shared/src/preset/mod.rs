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
