//! Acceptance: the engine's impulse response equals the exact f64 recursion
//! (`tailor::response::impulse_response`) within 1e-5 of the peak over 2 s, for the golden
//! builds, the 16 colorless presets with a 2 s / 0.5 s shelf, and a build whose delays are
//! shorter than the block, at block sizes 1, 7, 64, 512 and 4096, with both kernel sets.

mod engine_common;

use engine_common::*;
use tailor::engine::{MatrixKind, SimdLevel};
use tailor::preset::Build;
use tailor::response::impulse_response;

const TOLERANCE: f64 = 1e-5;
const ALL_BLOCKS: [usize; 5] = [1, 7, 64, 512, 4096];

/// Largest |engine − reference| over all input/output pairs, relative to the reference peak.
fn relative_error(build: &Build, len: usize, block: usize, simd: SimdLevel) -> f64 {
    let reference = impulse_response(build, len);
    let peak = reference.max_abs();
    assert!(peak > 0.0);
    let ir = engine_ir(build, len, block, simd);
    let mut worst = 0.0f64;
    for (i, per_in) in ir.iter().enumerate() {
        for (o, y) in per_in.iter().enumerate() {
            for (t, &v) in y.iter().enumerate() {
                assert!(v.is_finite());
                worst = worst.max((f64::from(v) - reference.at(t, o, i)).abs());
            }
        }
    }
    worst / peak
}

fn check(name: &str, build: &Build, blocks: &[usize], levels: &[SimdLevel]) {
    let len = (2.0 * build.sample_rate()) as usize;
    let mut worst = 0.0f64;
    for &simd in levels {
        for &block in blocks {
            let e = relative_error(build, len, block, simd);
            assert!(
                e <= TOLERANCE,
                "{name}: block {block}, {}: error {e:.3e} of peak",
                simd.name()
            );
            worst = worst.max(e);
        }
    }
    eprintln!("{name}: worst error {worst:.2e} of peak");
}

#[test]
fn golden_builds_match_the_exact_recursion() {
    let golden = golden_builds();
    assert_eq!(golden.len(), 4);
    for (name, build) in &golden {
        let levels = [SimdLevel::Avx2Fma, SimdLevel::Portable];
        check(name, build, &ALL_BLOCKS, &levels);
        let decayed = tailor::with_decay(build, (2.0, 0.5)).unwrap();
        check(&format!("{name} + decay"), &decayed, &ALL_BLOCKS, &levels);
    }
}

#[test]
fn colorless_presets_with_decay_match_the_exact_recursion() {
    let presets = colorless_with_decay();
    assert_eq!(presets.len(), 16);
    for (k, (name, build)) in presets.iter().enumerate() {
        // Every preset at every block size with the best kernels; the portable kernels on
        // every other preset.
        check(name, build, &ALL_BLOCKS, &[SimdLevel::Avx2Fma]);
        if k % 2 == 0 {
            check(name, build, &[7, 512], &[SimdLevel::Portable]);
        }
    }
}

#[test]
fn delays_shorter_than_the_block_and_every_hook_match() {
    let build = short_delay_build_with_hooks();
    check(
        "short delays + hooks",
        &build,
        &ALL_BLOCKS,
        &[SimdLevel::Avx2Fma, SimdLevel::Portable],
    );
}

#[test]
fn structured_matrices_match_the_exact_recursion() {
    for (kind, n) in [
        (MatrixKind::Householder, 12),
        (MatrixKind::Hadamard, 16),
        (MatrixKind::Hadamard, 64),
        (MatrixKind::Dense, 32),
    ] {
        let mut spec = tailor::engine::random::RandomBuildSpec::new(n);
        spec.matrix = kind;
        let build = tailor::engine::random::random_build(&spec).unwrap();
        let cfg = tailor::engine::EngineConfig::for_build(&build);
        let e = tailor::engine::Engine::prepare(&build, &cfg).unwrap();
        assert_eq!(e.matrix_kind(), kind, "N = {n}");
        check(
            &format!("{} N={n}", kind.name()),
            &build,
            &[64, 512],
            &[SimdLevel::Avx2Fma, SimdLevel::Portable],
        );
    }
}

#[test]
fn an_output_mix_matches_the_exact_recursion_and_mixes_the_fdn_outputs() {
    // The FDN outputs of a build with hooks on every stage, mixed to one more audible output.
    let fdn = short_delay_build_with_hooks();
    let k = fdn.n_out();
    let rows = k + 1;
    let m: Vec<f64> = (0..rows * k)
        .map(|i| [1.0, -0.5, 0.0, 2.0, 0.25][i % 5])
        .collect();
    let mut parts = fdn.parts().clone();
    parts.output_mix = Some(tailor::Matrix::from_row_major(rows, k, m.clone()).unwrap());
    let mixed = Build::new(parts).unwrap();
    assert_eq!((mixed.n_out(), mixed.n_outputs()), (k, rows));
    check(
        "output mix",
        &mixed,
        &ALL_BLOCKS,
        &[SimdLevel::Avx2Fma, SimdLevel::Portable],
    );
    // The exact response is the mix of the FDN outputs' responses.
    let len = 2000;
    let (a, b) = (impulse_response(&fdn, len), impulse_response(&mixed, len));
    assert_eq!(b.n_out, rows);
    for t in 0..len {
        for i in 0..fdn.n_in() {
            for r in 0..rows {
                let want: f64 = (0..k).map(|o| m[r * k + o] * a.at(t, o, i)).sum();
                assert!((b.at(t, r, i) - want).abs() < 1e-12, "t={t} r={r}");
            }
        }
    }
}
