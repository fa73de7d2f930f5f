//! Binaural output: the FDN's delay lines placed on a ring of virtual directions and rendered
//! to two ears through HRIRs ([`tailor::hrtf::binaural::BinauralRenderer`]).
//!
//! Channel layout chosen here: the engine always runs a build with `2 + DIRECTIONS` outputs.
//! Rows 0–1 are the stereo outputs of the session build (unchanged); row `2 + k` is direction
//! `k` of [`tailor::hrtf::default_ring`]`(DIRECTIONS)` and reads every delay line `i` with
//! [`direction_of_line`]`(i, N) = k` through the line's first-output gain `C[0][i]` (the direct
//! path `D[0]` goes to the front direction). With `N ≤ 16` the lines sit evenly spread on the
//! ring; with more lines several share a direction. Lines are mutually decorrelated, so with
//! HRIRs normalised to unit mean energy ([`normalised_ring_set`]) the binaural ears carry about
//! the energy of the stereo outputs.
//!
//! KEMAR is built in (`include_bytes!` of `data/hrtf/MIT_KEMAR_normal_pinna.sofa`, 1.1 MB) so the
//! plugin works wherever it is installed; a user SOFA file replaces it by path.

use tailor::hrtf::binaural::BinauralRenderer;
use tailor::hrtf::{default_ring, Ear, HrirSet};
use tailor::preset::early::EarlyReflections;
use tailor::preset::BuildParts;
use tailor::sos::SosBank;
use tailor::{Build, Matrix};

/// Number of virtual directions on the ring (horizontal plane, elevation 0°).
pub const DIRECTIONS: usize = 16;
/// Outputs of the engine build: stereo pair plus one per direction.
pub const ENGINE_OUTPUTS: usize = 2 + DIRECTIONS;
/// The bundled MIT KEMAR (normal pinna) SOFA file.
pub static KEMAR_SOFA: &[u8] = include_bytes!("../../data/hrtf/MIT_KEMAR_normal_pinna.sofa");
/// Display name of the built-in HRTF set.
pub const KEMAR_NAME: &str = "MIT KEMAR normal pinna (built in)";

/// Ring direction of delay line `line` out of `lines` (spread evenly when `lines ≤ DIRECTIONS`).
pub fn direction_of_line(line: usize, lines: usize) -> usize {
    if lines <= DIRECTIONS {
        line * DIRECTIONS / lines.max(1)
    } else {
        line % DIRECTIONS
    }
}

/// The engine build for a stereo session build: its outputs followed by one output per ring
/// direction (see the module docs). The output SOS hook of output 0 is reused for the new rows.
pub fn engine_build(stereo: &Build) -> Result<Build, String> {
    let (n, n_out) = (stereo.n(), stereo.n_out());
    let gains = stereo.c().row(0);
    let mut c = stereo.c().as_slice().to_vec();
    let mut rows = vec![0.0; DIRECTIONS * n];
    for (i, &g) in gains.iter().enumerate() {
        rows[direction_of_line(i, n) * n + i] = g;
    }
    c.extend_from_slice(&rows);
    let n_in = stereo.d().cols();
    let mut d = stereo.d().as_slice().to_vec();
    let mut drows = vec![0.0; DIRECTIONS * n_in];
    drows[..n_in].copy_from_slice(stereo.d().row(0));
    d.extend_from_slice(&drows);
    let total = n_out + DIRECTIONS;
    let mut parts: BuildParts = stereo.parts().clone();
    parts.c = Matrix::from_row_major(total, n, c).ok_or("binaural output gains: shape")?;
    parts.d = Matrix::from_row_major(total, n_in, d).ok_or("binaural direct gains: shape")?;
    if let Some(po) = &parts.post_output {
        let (k, ch) = (po.sections(), po.channels());
        let mut data = Vec::with_capacity(k * 6 * total);
        for sec in 0..k {
            for row in 0..6 {
                for o in 0..total {
                    data.push(po.coef(sec, row, if o < ch { o } else { 0 }));
                }
            }
        }
        parts.post_output = Some(
            SosBank::new(k, total, data).map_err(|e| format!("binaural output filters: {e}"))?,
        );
    }
    // An output mix (a fitted stereo room) keeps mixing the stereo rows; the ring rows pass
    // through it unchanged.
    if let Some(m) = stereo.output_mix() {
        let (rows, cols) = (m.rows() + DIRECTIONS, total);
        let mut mix = vec![0.0; rows * cols];
        for r in 0..m.rows() {
            mix[r * cols..r * cols + n_out].copy_from_slice(m.row(r));
        }
        for k in 0..DIRECTIONS {
            mix[(m.rows() + k) * cols + n_out + k] = 1.0;
        }
        parts.output_mix =
            Some(Matrix::from_row_major(rows, cols, mix).ok_or("binaural output mix: shape")?);
    }
    Build::new(parts).map_err(|e| format!("binaural build: {e}"))
}

/// The early-reflections FIR for [`engine_build`]'s outputs: the stereo session FIR rows first,
/// then one row per ring direction, where only the first (the direction the direct path goes
/// to) carries output 0's FIR and the others are silent.
pub fn engine_early(stereo: &EarlyReflections, n_out: usize) -> Result<EarlyReflections, String> {
    let fir = stereo.fir();
    if fir.len() != n_out {
        return Err(format!(
            "early reflections have {} outputs, the session build {n_out}",
            fir.len()
        ));
    }
    let mut rows = fir.to_vec();
    for k in 0..DIRECTIONS {
        rows.push(if k == 0 {
            fir[0].clone()
        } else {
            fir[0].iter().map(|ir| vec![0.0; ir.len()]).collect()
        });
    }
    EarlyReflections::new(stereo.sample_rate(), rows)
        .map_err(|e| format!("binaural early reflections: {e}"))
}

/// Reads an HRTF set: the SOFA file at `path`, or the built-in KEMAR when `None`.
pub fn load_set(path: Option<&str>) -> Result<HrirSet, String> {
    match path {
        Some(p) => HrirSet::from_sofa_file(p).map_err(|e| format!("SOFA {p}: {e}")),
        None => HrirSet::from_sofa_bytes(KEMAR_SOFA).map_err(|e| format!("built-in KEMAR: {e}")),
    }
}

/// The measurements of `set` nearest to the ring directions, as a `DIRECTIONS`-measurement set
/// (directions = ring) scaled so the mean HRIR energy over both ears is 1.
pub fn normalised_ring_set(set: &HrirSet) -> Result<HrirSet, String> {
    let ring = default_ring(DIRECTIONS);
    let len = set.len();
    let mut ir = Vec::with_capacity(DIRECTIONS * 2 * len);
    for d in &ring {
        let m = set.nearest(d);
        for ear in Ear::BOTH {
            ir.extend_from_slice(set.hrir(m, ear));
        }
    }
    let energy = ir.iter().map(|v| v * v).sum::<f64>() / (2 * DIRECTIONS) as f64;
    if !(energy > 0.0 && energy.is_finite()) {
        return Err("the HRIRs of the ring directions are silent".into());
    }
    let g = energy.sqrt().recip();
    ir.iter_mut().for_each(|v| *v *= g);
    HrirSet::new(ir, ring, len, set.sample_rate()).map_err(|e| e.to_string())
}

/// The renderer of the ring for `set` at `fs` Hz (HRIRs resampled when needed) for blocks of
/// `max_block` samples.
pub fn renderer(set: &HrirSet, fs: f64, max_block: usize) -> Result<BinauralRenderer, String> {
    let ring = normalised_ring_set(set)?;
    BinauralRenderer::with_default_ring(&ring, DIRECTIONS, fs, max_block)
        .map_err(|e| format!("binaural renderer: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_spread_over_the_ring() {
        let dirs: Vec<usize> = (0..8).map(|i| direction_of_line(i, 8)).collect();
        assert_eq!(dirs, vec![0, 2, 4, 6, 8, 10, 12, 14]);
        assert_eq!(direction_of_line(17, 32), 1);
        assert!((0..6).all(|i| direction_of_line(i, 6) < DIRECTIONS));
    }

    #[test]
    fn engine_build_keeps_stereo_rows_and_adds_the_ring() {
        let p = crate::presets::default_preset();
        let s = crate::presets::session_build(&p, 48_000.0).unwrap();
        let b = engine_build(&s).unwrap();
        assert_eq!(b.n_out(), ENGINE_OUTPUTS);
        assert_eq!(b.c().row(0), s.c().row(0));
        assert_eq!(b.c().row(1), s.c().row(1));
        let ring_sum: f64 = (2..ENGINE_OUTPUTS)
            .map(|o| b.c().row(o).iter().map(|v| v * v).sum::<f64>())
            .sum();
        let row0: f64 = s.c().row(0).iter().map(|v| v * v).sum();
        assert!((ring_sum - row0).abs() < 1e-12);
    }

    #[test]
    fn a_stereo_build_with_an_output_mix_keeps_its_mix_and_adds_the_ring() {
        // A fitted stereo room's shape: four FDN outputs mixed to two channels.
        let p = crate::presets::default_preset();
        let mono = p.build();
        let n = mono.n();
        let c0 = mono.c().row(0).to_vec();
        let mut parts = mono.parts().clone();
        parts.c =
            tailor::Matrix::from_row_major(4, n, [c0.clone(), c0.clone(), c0.clone(), c0].concat())
                .unwrap();
        parts.d = tailor::Matrix::zeros(4, mono.n_in());
        parts.post_output = None;
        let m = vec![1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, -1.0];
        parts.output_mix = Some(tailor::Matrix::from_row_major(2, 4, m).unwrap());
        let s = tailor::Build::new(parts).unwrap();
        let b = engine_build(&s).unwrap();
        assert_eq!(b.n_outputs(), ENGINE_OUTPUTS);
        assert_eq!(b.n_out(), 4 + DIRECTIONS);
        let mix = b.output_mix().unwrap();
        assert_eq!(mix.row(1)[..4], [0.0, 0.0, 1.0, -1.0]);
        // Each ring row passes straight through.
        for k in 0..DIRECTIONS {
            assert_eq!(mix.get(2 + k, 4 + k), 1.0);
            assert_eq!(mix.row(2 + k).iter().sum::<f64>(), 1.0);
        }
        let ir = tailor::response::impulse_response(&b, 4000);
        assert_eq!(ir.n_out, ENGINE_OUTPUTS);
        assert!(ir.max_abs().is_finite() && ir.max_abs() > 0.0);
    }

    #[test]
    fn kemar_ring_is_normalised_and_malformed_sofa_is_an_error() {
        let kemar = load_set(None).unwrap();
        let ring = normalised_ring_set(&kemar).unwrap();
        assert_eq!(ring.n_directions(), DIRECTIONS);
        let e = ring.ir().iter().map(|v| v * v).sum::<f64>() / (2 * DIRECTIONS) as f64;
        assert!((e - 1.0).abs() < 1e-9, "{e}");
        let bad = std::env::temp_dir().join(format!("tailor-bad-{}.sofa", std::process::id()));
        std::fs::write(&bad, b"not a sofa file").unwrap();
        let err = load_set(Some(bad.to_str().unwrap())).unwrap_err();
        assert!(err.contains("SOFA"), "{err}");
    }
}
