//! Binaural output: the FDN's delay lines on a ring of [`DIRECTIONS`] virtual directions,
//! rendered to two ears through HRIRs ([`tailor::hrtf::ring`]).
//!
//! Channel layout chosen here: the engine always runs the session build with one output per
//! ring direction appended ([`engine_build`]), so rows 0–1 are the stereo outputs (unchanged)
//! and row `2 + k` is direction `k`; the mixer renders the ring rows only while binaural output
//! is heard.
//!
//! KEMAR is built in (`include_bytes!` of `data/hrtf/MIT_KEMAR_normal_pinna.sofa`, 1.1 MB) so the
//! plugin works wherever it is installed; a user SOFA file replaces it by path.

use tailor::hrtf::binaural::BinauralRenderer;
use tailor::hrtf::ring::{ring_build, ring_early, ring_renderer};
use tailor::hrtf::HrirSet;
use tailor::preset::early::EarlyReflections;
use tailor::Build;

/// Number of virtual directions on the ring (horizontal plane, elevation 0°).
pub const DIRECTIONS: usize = 16;
/// Outputs of the engine build: stereo pair plus one per direction.
pub const ENGINE_OUTPUTS: usize = 2 + DIRECTIONS;
/// The bundled MIT KEMAR (normal pinna) SOFA file.
pub static KEMAR_SOFA: &[u8] = include_bytes!("../../data/hrtf/MIT_KEMAR_normal_pinna.sofa");
/// Display name of the built-in HRTF set.
pub const KEMAR_NAME: &str = "MIT KEMAR normal pinna (built in)";

/// The engine build for a stereo session build: its outputs, then the ring's
/// ([`ring_build`]).
pub fn engine_build(stereo: &Build) -> Result<Build, String> {
    ring_build(stereo, DIRECTIONS).map_err(|e| format!("binaural build: {e}"))
}

/// The early-reflections FIR for [`engine_build`]'s outputs ([`ring_early`]).
pub fn engine_early(stereo: &EarlyReflections, n_out: usize) -> Result<EarlyReflections, String> {
    ring_early(stereo, n_out, DIRECTIONS).map_err(|e| format!("binaural early reflections: {e}"))
}

/// Reads an HRTF set: the SOFA file at `path`, or the built-in KEMAR when `None`.
pub fn load_set(path: Option<&str>) -> Result<HrirSet, String> {
    match path {
        Some(p) => HrirSet::from_sofa_file(p).map_err(|e| format!("SOFA {p}: {e}")),
        None => HrirSet::from_sofa_bytes(KEMAR_SOFA).map_err(|e| format!("built-in KEMAR: {e}")),
    }
}

/// The renderer of the ring for `set` at `fs` Hz (HRIRs resampled when needed) for blocks of
/// up to `max_block` samples ([`ring_renderer`]).
pub fn renderer(set: &HrirSet, fs: f64, max_block: usize) -> Result<BinauralRenderer, String> {
    ring_renderer(set, DIRECTIONS, fs, max_block).map_err(|e| format!("binaural renderer: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_kemar_loads_and_a_malformed_sofa_is_an_error() {
        let kemar = load_set(None).unwrap();
        assert!(kemar.n_directions() > DIRECTIONS);
        assert_eq!(
            renderer(&kemar, 48_000.0, 256).unwrap().n_channels(),
            DIRECTIONS
        );
        let p = crate::presets::default_preset();
        let s = crate::presets::session_build(&p, 48_000.0).unwrap();
        assert_eq!(engine_build(&s).unwrap().n_outputs(), ENGINE_OUTPUTS);
        let bad = std::env::temp_dir().join(format!("tailor-bad-{}.sofa", std::process::id()));
        std::fs::write(&bad, b"not a sofa file").unwrap();
        let err = load_set(Some(bad.to_str().unwrap())).unwrap_err();
        assert!(err.contains("SOFA"), "{err}");
        let _ = std::fs::remove_file(&bad);
    }
}
