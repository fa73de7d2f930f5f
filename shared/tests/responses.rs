//! Frequency-domain model vs exact recursion, and the alias-decay radius, on real presets.

use tailor::preset::bundled_preset;
use tailor::response::{frequency_response, impulse_response, impulse_response_fft};

#[test]
fn alias_compensated_fft_ir_equals_the_exact_recursion() {
    // A decaying N=16 colorless preset: with 120 dB alias decay the wrapped copies are 120 dB
    // down, so the FFT IR equals the exact IR to ~1e-6 of its peak.
    let p = bundled_preset("colorless_N16_d1").unwrap();
    let b = tailor::with_decay(p.build(), (0.3, 0.1)).unwrap();
    let nfft = 1 << 14;
    let h = frequency_response(&b, nfft, 120.0);
    let fft_ir = impulse_response_fft(&h);
    let exact = impulse_response(&b, nfft);
    let peak = exact.max_abs();
    let err = fft_ir
        .data
        .iter()
        .zip(&exact.data)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(err <= 1e-5 * peak, "max err {err:e} vs peak {peak:e}");
    // Without alias decay the FFT IR is the circularly aliased one and differs visibly.
    let aliased = impulse_response_fft(&frequency_response(&b, 2048, 0.0));
    let exact_short = impulse_response(&b, 2048);
    let diff = aliased
        .data
        .iter()
        .zip(&exact_short.data)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(
        diff > 1e-3 * peak,
        "aliasing should show with nfft 2048: {diff:e}"
    );
}

#[test]
fn lossless_preset_needs_alias_decay_to_be_finite_in_time() {
    // A lossless preset rings forever: the exact IR keeps its energy, the γ-radius FFT IR is
    // finite and its first samples equal the exact IR.
    let p = bundled_preset("colorless_N8_d1").unwrap();
    let b = p.build();
    let nfft = 1 << 13;
    let fft_ir = impulse_response_fft(&frequency_response(b, nfft, 60.0));
    let exact = impulse_response(b, nfft);
    assert!(fft_ir.data.iter().all(|v| v.is_finite()));
    let e_exact: f64 = exact.data.iter().map(|v| v * v).sum();
    let e_fft: f64 = fft_ir.data.iter().map(|v| v * v).sum();
    assert!((e_fft / e_exact - 1.0).abs() < 0.01, "{e_fft} vs {e_exact}");
    // Before the first wrap can land (the first echo arrives after min delay samples), agreement is tight.
    for n in 0..800 {
        assert!(
            (fft_ir.at(n, 0, 0) - exact.at(n, 0, 0)).abs() < 1e-3,
            "sample {n}"
        );
    }
}

#[test]
fn all_hooks_mimo_frequency_model_equals_folded_exact_recursion() {
    use tailor::preset::{Build, BuildParts};
    use tailor::sos::SosBank;
    use tailor::Matrix;
    // N = 4, 3 inputs, 2 outputs, every hook present (post_delay two sections), a0 ≠ 1.
    let (s, c) = (0.6f64.sin(), 0.6f64.cos());
    let a = Matrix::from_rows(&[
        vec![c, -s, 0.0, 0.0],
        vec![s, c, 0.0, 0.0],
        vec![0.0, 0.0, c, s],
        vec![0.0, 0.0, -s, c],
    ])
    .unwrap();
    let a = a
        .matmul(
            &Matrix::from_rows(&[
                vec![0.5, 0.5, 0.5, 0.5],
                vec![0.5, -0.5, 0.5, -0.5],
                vec![0.5, 0.5, -0.5, -0.5],
                vec![0.5, -0.5, -0.5, 0.5],
            ])
            .unwrap(),
        )
        .unwrap();
    let b = Matrix::from_row_major(
        4,
        3,
        vec![
            0.3, -0.2, 0.9, 0.5, 0.1, -0.4, -0.7, 0.6, 0.2, 0.25, 0.8, -0.1,
        ],
    )
    .unwrap();
    let cm = Matrix::from_row_major(2, 4, vec![0.4, -0.3, 0.6, 0.2, -0.5, 0.7, 0.1, 0.3]).unwrap();
    let d = Matrix::from_row_major(2, 3, vec![0.1, 0.0, -0.2, 0.05, 0.3, 0.0]).unwrap();
    let delays = vec![37, 53, 71, 89];
    let g: Vec<[f64; 6]> = delays
        .iter()
        .map(|&m| {
            tailor::decay::one_pole_section(
                tailor::decay::delay_gain(0.05, m as f64, 48000.0),
                tailor::decay::delay_gain(0.02, m as f64, 48000.0),
            )
        })
        .collect();
    let mut pd = vec![0.0; 2 * 6 * 4];
    for (ch, sec) in g.iter().enumerate() {
        for row in 0..6 {
            pd[row * 4 + ch] = sec[row];
            // Second section: a mild biquad with a0 = 2 (normalised when evaluated).
            pd[(6 + row) * 4 + ch] = [0.9, 0.1, 0.05, 2.0, -0.3, 0.05][row];
        }
    }
    let post_delay = SosBank::new(2, 4, pd).unwrap();
    let post_matrix =
        SosBank::from_single_sections(&[[0.9, 0.05, 0.0, 1.0, -0.1, 0.0]; 4]).unwrap();
    let post_output = SosBank::from_single_sections(&[
        [0.5, 0.3, 0.1, 1.0, -0.2, 0.1],
        [1.0, -0.5, 0.0, 1.0, 0.3, 0.0],
    ])
    .unwrap();
    let build = Build::new(BuildParts {
        a,
        b,
        c: cm,
        d,
        delays,
        sample_rate: 48000.0,
        post_delay: Some(post_delay),
        post_matrix: Some(post_matrix),
        post_output: Some(post_output),
        output_mix: None,
        metadata: Default::default(),
    })
    .unwrap();
    assert!(build.check_stable().is_ok());
    let nfft = 512;
    let fft_ir = impulse_response_fft(&frequency_response(&build, nfft, 0.0));
    let exact = impulse_response(&build, 16 * nfft);
    assert!(
        exact.data[15 * nfft * 6..].iter().all(|v| v.abs() < 1e-12),
        "exact IR must have decayed"
    );
    let mut folded = vec![0.0; nfft * 6];
    for n in 0..16 * nfft {
        for k in 0..6 {
            folded[(n % nfft) * 6 + k] += exact.data[n * 6 + k];
        }
    }
    let peak = exact.max_abs();
    let err = fft_ir
        .data
        .iter()
        .zip(&folded)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(err <= 1e-12 * peak.max(1.0), "max err {err:e}");
    assert_eq!((fft_ir.n_out, fft_ir.n_in), (2, 3));
}
