//! The presets the plugin plays: the factory bank, the built-in default, preset files and
//! persisted states resolved to presets, and their conversion to a session (rate, stereo
//! outputs, early reflections). Used by the loader thread, the plugin's activation and the
//! diagnostics.

use crate::state::PersistedPreset;
use std::path::Path;
use tailor::fx::{build_at_rate, session_early, stereo_build};
use tailor::preset::EarlyReflections;
use tailor::{with_decay, Build, Preset};

/// Name of the built-in default (an N=16 colorless build with a 2 s decay).
pub const DEFAULT_NAME: &str = "colorless_N16_d1 · 2.0 s (default)";
/// Longest reference IR analysed, in seconds (longer files are truncated with a message).
pub const MAX_REFERENCE_SECONDS: f64 = 20.0;

/// Factory bank: (bundled colorless preset, reverberation time in seconds).
pub const FACTORY: &[(&str, f64)] = &[
    ("colorless_N16_d1", 2.0),
    ("colorless_N16_d2", 3.5),
    ("colorless_N8_d1", 1.2),
    ("colorless_N8_d2", 2.5),
    ("colorless_N6_d1", 0.8),
    ("colorless_N4_d1", 0.5),
];

/// Factory bank, fitted rooms: (name, preset JSON made by `tailor fit`). They follow the
/// colorless entries of [`FACTORY`] in the bank.
pub const FITTED_ROOMS: &[(&str, &str)] = &[(
    "meeting room → hallway (fitted)",
    include_str!("../../data/presets/fitted/meetingroom_fit.json"),
)];

/// Number of factory entries (colorless presets, then fitted rooms).
pub fn factory_count() -> usize {
    FACTORY.len() + FITTED_ROOMS.len()
}

/// Stable name of factory entry `i` (persisted in the state).
pub fn factory_name(i: usize) -> &'static str {
    match FACTORY.get(i) {
        Some((name, _)) => name,
        None => FITTED_ROOMS[i - FACTORY.len()].0,
    }
}

/// Display label of factory entry `i`.
pub fn factory_label(i: usize) -> String {
    match FACTORY.get(i) {
        Some((name, rt)) => format!("{name} · {rt:.1} s"),
        None => FITTED_ROOMS
            .get(i - FACTORY.len())
            .map_or_else(|| "?".into(), |(name, _)| (*name).to_string()),
    }
}

/// A factory entry as a preset document (a bundled build with its decay applied, or a fitted
/// room as `tailor fit` wrote it).
pub fn factory_preset(i: usize) -> Result<Preset, String> {
    if let Some(&(name, rt)) = FACTORY.get(i) {
        let p = tailor::preset::bundled_preset(name).map_err(|e| e.to_string())?;
        let b = with_decay(p.build(), rt).map_err(|e| e.to_string())?;
        return Ok(Preset::from_build(b, &factory_label(i)));
    }
    let (_, json) = FITTED_ROOMS
        .get(i.wrapping_sub(FACTORY.len()))
        .ok_or("unknown factory entry")?;
    Preset::from_json_str(json).map_err(|e| e.to_string())
}

/// The built-in default preset.
pub fn default_preset() -> Preset {
    let p = tailor::preset::bundled_preset("colorless_N16_d1").expect("bundled preset parses");
    let b = with_decay(p.build(), 2.0).expect("bundled preset takes a 2 s decay");
    Preset::from_build(b, DEFAULT_NAME)
}

/// The preset a persisted state asks for (JSON first, then factory name, else the default).
pub fn resolve(p: &PersistedPreset) -> Result<Preset, String> {
    if let Some(json) = &p.json {
        return Preset::from_json_str(json).map_err(|e| format!("preset: {e}"));
    }
    if let Some(f) = &p.factory {
        let i = (0..factory_count())
            .find(|&i| factory_name(i) == f)
            .ok_or_else(|| format!("unknown factory preset '{f}'"))?;
        return factory_preset(i);
    }
    Ok(default_preset())
}

/// The build the engine runs for `preset` in a session at `fs` Hz with stereo outputs: refused
/// when unstable, converted to the session rate, given a second output when mono.
pub fn session_build(preset: &Preset, fs: f64) -> Result<Build, String> {
    preset
        .build()
        .check_stable()
        .map_err(|e| format!("preset refused: {e}"))?;
    let b = build_at_rate(preset.build(), fs).map_err(|e| format!("rate conversion: {e}"))?;
    let b = stereo_build(&b).map_err(|e| format!("stereo outputs: {e}"))?;
    b.check_stable()
        .map_err(|e| format!("preset refused at {fs} Hz: {e}"))?;
    Ok(b)
}

/// The early reflections the engine plays for `preset` in a session at `fs` Hz (resampled, and
/// duplicated for the second output when [`session_build`] adds one); `None` when it has none.
pub fn session_early_part(preset: &Preset, fs: f64) -> Result<Option<EarlyReflections>, String> {
    session_early(preset, fs).map_err(|e| format!("early reflections: {e}"))
}

/// Reads and validates a preset file through the one preset loader
/// ([`tailor::preset::read_file`], size-capped); the text is the document as it will be stored.
pub fn read_preset_file(path: &Path) -> Result<(Preset, String), String> {
    let preset = tailor::preset::read_file(path).map_err(|e| e.to_string())?;
    let text = preset.to_json_string();
    Ok((preset, text))
}
