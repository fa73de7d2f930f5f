//! Helpers shared by the engine integration tests.
#![allow(dead_code)]

use tailor::engine::{Engine, EngineConfig, SimdLevel};
use tailor::matrix::Matrix;
use tailor::preset::{Build, BuildParts, Limits};
use tailor::sos::SosBank;

/// The builds of the golden file `data/golden/fdn_response.json`, with their case names.
pub fn golden_builds() -> Vec<(String, Build)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/golden/fdn_response.json"
    );
    let text = std::fs::read_to_string(path).expect("golden file");
    let v: serde_json::Value = serde_json::from_str(&text).expect("golden JSON");
    v["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            let p = tailor::Preset::from_json_value(&c["params"]["preset"], &Limits::default())
                .expect("golden preset");
            (
                c["name"].as_str().unwrap_or("?").to_string(),
                p.build().clone(),
            )
        })
        .collect()
}

/// All 16 bundled colorless presets with `with_decay(·, (2.0, 0.5))`.
pub fn colorless_with_decay() -> Vec<(String, Build)> {
    tailor::preset::BUNDLED_PRESETS
        .iter()
        .map(|(name, _)| {
            let p = tailor::preset::bundled_preset(name).expect("bundled preset");
            let b = tailor::with_decay(p.build(), (2.0, 0.5)).expect("decay");
            (name.to_string(), b)
        })
        .collect()
}

fn lcg(seed: &mut u64) -> f64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*seed >> 11) as f64 / (1u64 << 53) as f64) - 0.5
}

/// A 2-in, 3-out, N = 5 build with delays 1, 3, 7, 53 and 200 samples (shorter than most blocks),
/// a dense orthogonal A scaled by 0.9, and every hook: shelf post_delay, two-section
/// post_matrix and two-section post_output.
pub fn short_delay_build_with_hooks() -> Build {
    let n = 5;
    let mut rng = rand_chacha_seed();
    let a = tailor::engine::random::random_orthogonal(n, &mut rng);
    let a = Matrix::from_row_major(n, n, a.as_slice().iter().map(|v| 0.9 * v).collect()).unwrap();
    let mut s = 7u64;
    let mut m = |r: usize, c: usize| {
        Matrix::from_row_major(r, c, (0..r * c).map(|_| lcg(&mut s)).collect()).unwrap()
    };
    let (b, c, d) = (m(n, 2), m(3, n), m(3, 2));
    let mut pm = Vec::new();
    for k in 0..2 {
        for row in 0..6 {
            for ch in 0..n {
                let x = ch as f64 * 0.02;
                pm.push(match (k, row) {
                    (0, 0) => 0.5 - x,
                    (0, 3) => 1.0,
                    (0, 4) => -0.5 + x,
                    (1, 0) | (1, 2) => 0.2,
                    (1, 1) => 0.4,
                    (1, 3) => 1.0,
                    (1, 4) => -0.2,
                    (1, 5) => 0.1,
                    _ => 0.0,
                });
            }
        }
    }
    let post_matrix = SosBank::new(2, n, pm).unwrap();
    let post_output = SosBank::new(
        2,
        3,
        vec![
            1.0, 0.7, 1.2, -0.3, 0.1, 0.2, 0.0, 0.05, 0.0, 1.0, 1.0, 1.0, -0.4, 0.3, -0.8, 0.1,
            0.2, 0.3, //
            0.9, 1.0, 0.5, 0.2, -0.1, 0.0, 0.1, 0.0, 0.0, 1.0, 1.0, 1.0, 0.6, -0.1, 0.2, 0.2, 0.0,
            0.05,
        ],
    )
    .unwrap();
    let build = Build::new(BuildParts {
        a,
        b,
        c,
        d,
        delays: vec![1, 3, 7, 200, 53],
        sample_rate: 48000.0,
        post_delay: None,
        post_matrix: Some(post_matrix),
        post_output: Some(post_output),
        output_mix: None,
        metadata: Default::default(),
    })
    .unwrap();
    let build = tailor::with_decay(&build, (1.0, 0.3)).unwrap();
    build.check_stable().expect("the hook build is stable");
    build
}

fn rand_chacha_seed() -> rand_chacha::ChaCha8Rng {
    use rand::SeedableRng;
    rand_chacha::ChaCha8Rng::seed_from_u64(42)
}

/// The engine's impulse responses `[input][output][sample]` at default controls, processed in
/// host blocks of `block` samples with `max_block = block`.
pub fn engine_ir(build: &Build, len: usize, block: usize, simd: SimdLevel) -> Vec<Vec<Vec<f32>>> {
    let mut cfg = EngineConfig::for_build(build);
    cfg.max_block = block.min(tailor::engine::MAX_BLOCK_LIMIT);
    cfg.simd = simd;
    (0..build.n_in())
        .map(|i| {
            let mut e = Engine::prepare(build, &cfg).expect("engine");
            let mut x = vec![vec![0.0f32; len]; build.n_in()];
            x[i][0] = 1.0;
            let mut y = vec![vec![0.0f32; len]; build.n_outputs()];
            let mut t = 0;
            while t < len {
                let b = block.min(len - t);
                let ins: Vec<&[f32]> = x.iter().map(|c| &c[t..t + b]).collect();
                let mut outs: Vec<&mut [f32]> = y.iter_mut().map(|c| &mut c[t..t + b]).collect();
                e.process(&ins, &mut outs);
                t += b;
            }
            y
        })
        .collect()
}

/// Deterministic white noise in ±0.5.
pub fn noise(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_add(0x9E3779B97F4A7C15);
    (0..len).map(|_| lcg(&mut s) as f32).collect()
}
