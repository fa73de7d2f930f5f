//! The FDN heard binaurally: its delay lines placed on a ring of virtual directions (horizontal
//! plane, [`default_ring`]) and rendered to two ears through HRIRs ([`BinauralRenderer`]).
//!
//! [`ring_build`] appends one output per direction to a (stereo) session build: direction `k`
//! reads every delay line `i` with [`direction_of_line`]`(i, N, K) = k` through the line's
//! first-output gain `C[0][i]`, and the direct path `D[0]` goes to the front direction. With
//! `N ≤ K` the lines sit evenly spread on the ring; with more lines several share a direction.
//! Lines are mutually decorrelated, so with HRIRs normalised to unit mean energy
//! ([`normalised_ring_set`]) the two ears carry about the energy of the stereo outputs.

use super::binaural::BinauralRenderer;
use super::{default_ring, Ear, HrirSet, HrtfError};
use crate::fx::with_added_outputs;
use crate::preset::{Build, EarlyReflections, PresetError};
use crate::Matrix;

/// Ring direction of delay line `line` out of `lines` on a ring of `directions` (spread evenly
/// when `lines ≤ directions`).
pub fn direction_of_line(line: usize, lines: usize, directions: usize) -> usize {
    if lines <= directions {
        line * directions / lines.max(1)
    } else {
        line % directions.max(1)
    }
}

/// `build` with one more output per ring direction (`directions` of them) after its own (see
/// the module docs); an output SOS hook and an output mix are extended by
/// [`with_added_outputs`].
pub fn ring_build(build: &Build, directions: usize) -> Result<Build, PresetError> {
    let n = build.n();
    let mut c = vec![0.0; directions * n];
    for (i, &g) in build.c().row(0).iter().enumerate() {
        c[direction_of_line(i, n, directions) * n + i] = g;
    }
    let n_in = build.n_in();
    let mut d = vec![0.0; directions * n_in];
    if directions > 0 {
        d[..n_in].copy_from_slice(build.d().row(0));
    }
    let shape = |what: &str| PresetError::field(what, "ring shape");
    let c = Matrix::from_row_major(directions, n, c).ok_or_else(|| shape("output_gains"))?;
    let d = Matrix::from_row_major(directions, n_in, d).ok_or_else(|| shape("direct_gains"))?;
    with_added_outputs(build, &c, &d)
}

/// The early-reflections FIR for [`ring_build`]`(build, directions)`, where `early` plays the
/// build's `n_out` FDN outputs: those rows first, then one per direction, where only the front
/// (the direction the direct path goes to) carries output 0's FIR and the others are silent.
pub fn ring_early(
    early: &EarlyReflections,
    n_out: usize,
    directions: usize,
) -> Result<EarlyReflections, PresetError> {
    let fir = early.fir();
    if fir.len() != n_out {
        return Err(PresetError::field(
            "early",
            format!(
                "the early reflections have {} outputs, the build {n_out}",
                fir.len()
            ),
        ));
    }
    let mut rows = fir.to_vec();
    for k in 0..directions {
        rows.push(if k == 0 {
            fir[0].clone()
        } else {
            fir[0].iter().map(|ir| vec![0.0; ir.len()]).collect()
        });
    }
    EarlyReflections::new(early.sample_rate(), rows)
}

/// The measurements of `set` nearest to the `directions` ring directions, as a set with those
/// directions, scaled so the mean HRIR energy over both ears is 1.
pub fn normalised_ring_set(set: &HrirSet, directions: usize) -> Result<HrirSet, HrtfError> {
    let ring = default_ring(directions);
    let len = set.len();
    let mut ir = Vec::with_capacity(directions * 2 * len);
    for d in &ring {
        let m = set.nearest(d);
        for ear in Ear::BOTH {
            ir.extend_from_slice(set.hrir(m, ear));
        }
    }
    let energy = ir.iter().map(|v| v * v).sum::<f64>() / (2 * directions).max(1) as f64;
    if !(energy > 0.0 && energy.is_finite()) {
        return Err(HrtfError::Invalid(
            "the HRIRs of the ring directions are silent".into(),
        ));
    }
    let g = energy.sqrt().recip();
    ir.iter_mut().for_each(|v| *v *= g);
    HrirSet::new(ir, ring, len, set.sample_rate())
}

/// The renderer of a `directions` ring for `set` ([`normalised_ring_set`]) at `fs` Hz (HRIRs
/// resampled when needed) for blocks of up to `max_block` samples.
pub fn ring_renderer(
    set: &HrirSet,
    directions: usize,
    fs: f64,
    max_block: usize,
) -> Result<BinauralRenderer, HrtfError> {
    let ring = normalised_ring_set(set, directions)?;
    BinauralRenderer::with_default_ring(&ring, directions, fs, max_block)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fx::stereo_build;
    use crate::preset::bundled_preset;

    const K: usize = 16;

    fn stereo() -> Build {
        let p = bundled_preset("colorless_N16_d1").unwrap();
        stereo_build(&crate::with_decay(p.build(), 2.0).unwrap()).unwrap()
    }

    #[test]
    fn lines_spread_over_the_ring() {
        let dirs: Vec<usize> = (0..8).map(|i| direction_of_line(i, 8, K)).collect();
        assert_eq!(dirs, vec![0, 2, 4, 6, 8, 10, 12, 14]);
        assert_eq!(direction_of_line(17, 32, K), 1);
        assert!((0..6).all(|i| direction_of_line(i, 6, K) < K));
    }

    #[test]
    fn the_ring_build_keeps_the_stereo_rows_and_carries_output_0s_energy() {
        let s = stereo();
        let b = ring_build(&s, K).unwrap();
        assert_eq!(b.n_out(), 2 + K);
        assert_eq!(b.c().row(0), s.c().row(0));
        assert_eq!(b.c().row(1), s.c().row(1));
        let ring_sum: f64 = (2..2 + K)
            .map(|o| b.c().row(o).iter().map(|v| v * v).sum::<f64>())
            .sum();
        let row0: f64 = s.c().row(0).iter().map(|v| v * v).sum();
        assert!((ring_sum - row0).abs() < 1e-12);
        assert_eq!(b.d().row(2), s.d().row(0));
        assert!(b.d().row(3).iter().all(|&v| v == 0.0));
    }

    #[test]
    fn a_build_with_an_output_mix_keeps_its_mix_and_adds_the_ring() {
        // A fitted stereo room's shape: four FDN outputs mixed to two channels.
        let p = bundled_preset("colorless_N16_d1").unwrap();
        let mono = p.build();
        let n = mono.n();
        let c0 = mono.c().row(0).to_vec();
        let mut parts = mono.parts().clone();
        parts.c = Matrix::from_row_major(4, n, [c0.clone(), c0.clone(), c0.clone(), c0].concat())
            .unwrap();
        parts.d = Matrix::zeros(4, mono.n_in());
        parts.post_output = None;
        let m = vec![1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, -1.0];
        parts.output_mix = Some(Matrix::from_row_major(2, 4, m).unwrap());
        let s = Build::new(parts).unwrap();
        let b = ring_build(&s, K).unwrap();
        assert_eq!(b.n_outputs(), 2 + K);
        assert_eq!(b.n_out(), 4 + K);
        let mix = b.output_mix().unwrap();
        assert_eq!(mix.row(1)[..4], [0.0, 0.0, 1.0, -1.0]);
        // Each ring row passes straight through.
        for k in 0..K {
            assert_eq!(mix.get(2 + k, 4 + k), 1.0);
            assert_eq!(mix.row(2 + k).iter().sum::<f64>(), 1.0);
        }
        let ir = crate::response::impulse_response(&b, 4000);
        assert_eq!(ir.n_out, 2 + K);
        assert!(ir.max_abs().is_finite() && ir.max_abs() > 0.0);
    }

    #[test]
    fn the_ring_early_part_plays_output_0_at_the_front_only() {
        let s = stereo();
        let h: Vec<f64> = (0..64).map(|i| 0.9f64.powi(i)).collect();
        let early = EarlyReflections::new(48_000.0, vec![vec![h.clone()], vec![h.clone()]]);
        let e = ring_early(&early.unwrap(), s.n_out(), K).unwrap();
        assert_eq!(e.n_out(), 2 + K);
        assert_eq!(e.ir(2, 0), h.as_slice());
        assert!(e.ir(3, 0).iter().all(|&v| v == 0.0));
        let one = EarlyReflections::new(48_000.0, vec![vec![h]]).unwrap();
        assert!(ring_early(&one, s.n_out(), K).is_err());
    }

    #[test]
    fn the_kemar_ring_is_normalised_and_renders() {
        let kemar = HrirSet::kemar().unwrap();
        let ring = normalised_ring_set(&kemar, K).unwrap();
        assert_eq!(ring.n_directions(), K);
        let e = ring.ir().iter().map(|v| v * v).sum::<f64>() / (2 * K) as f64;
        assert!((e - 1.0).abs() < 1e-9, "{e}");
        let r = ring_renderer(&kemar, K, 48_000.0, 256).unwrap();
        assert_eq!(r.n_channels(), K);
    }
}
