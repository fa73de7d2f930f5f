//! HRTF acceptance tests on the bundled MIT KEMAR SOFA file: loading, lookup, LSD/ILD
//! diagnostics, malformed files, resampling, datasets and binaural rendering.

#[cfg(feature = "grad")]
use candle_core::Device;
use num_complex::Complex64;
use std::sync::OnceLock;
use tailor::convolution::direct_convolution;
use tailor::hrtf::binaural::BinauralRenderer;
use tailor::hrtf::dataset::{hutubs_subject, Domain, HrtfDataset, HrtfSpec, IndexBy, Signal};
use tailor::hrtf::metrics::{
    ild_broadband, ild_spectrum, lsd, EarSelection, FrequencySelection, LsdOptions, Reduce,
};
use tailor::hrtf::{nearest_direction, Direction, Ear, HrirSet, HrtfError, KEMAR_SOFA_PATH};

fn kemar() -> &'static HrirSet {
    static SET: OnceLock<HrirSet> = OnceLock::new();
    SET.get_or_init(|| HrirSet::kemar().expect("bundled KEMAR loads"))
}

fn kemar_bytes() -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(KEMAR_SOFA_PATH),
    )
    .unwrap()
}

#[test]
fn kemar_loads_with_the_files_values() {
    let k = kemar();
    // Values read independently with h5py 3 from the same file.
    assert_eq!(k.n_directions(), 710);
    assert_eq!(k.len(), 512);
    assert_eq!(k.sample_rate(), 44100.0);
    assert_eq!(k.hrir(355, Ear::Right)[62], 0.083984375);
    assert_eq!(k.hrir(0, Ear::Left)[55], -0.311798095703125);
    assert_eq!(k.hrir(709, Ear::Left)[40], 0.19921875);
    let d = k.directions()[100];
    assert_eq!(
        (d.azimuth_deg, d.elevation_deg, d.radius_m),
        (264.0, -30.0, 1.4)
    );
    let d = k.directions()[1];
    assert!((d.azimuth_deg - 45.0 / 7.0).abs() < 1e-12 && d.elevation_deg == -40.0);
    assert_eq!(k.horizontal_plane(0.0).len(), 72);
    assert_eq!(k.horizontal_plane(2.0), k.horizontal_plane(0.0));
}

#[test]
fn nearest_direction_is_great_circle() {
    let k = kemar();
    assert_eq!(k.nearest(&Direction::new(90.0, 0.0)), 278);
    assert_eq!(k.nearest(&Direction::new(91.0, 1.0)), 278);
    // Near the pole every azimuth is close: azimuth must not dominate.
    assert_eq!(k.nearest(&Direction::new(200.0, 89.0)), 709);
    assert_eq!(k.nearest(&Direction::new(-270.0, 0.0)), 278);
    assert_eq!(
        nearest_direction(k.directions(), &Direction::new(91.0, 1.0)),
        Some(278)
    );
    assert_eq!(nearest_direction(&[], &Direction::new(0.0, 0.0)), None);
}

#[test]
fn regridding_keeps_grid_points_and_takes_the_target_rate() {
    let k = kemar();
    // On its own grid a set is unchanged.
    assert_eq!(k.on_grid_of(k).unwrap(), *k);
    // Onto three directions (two of them off the measured grid): each takes the nearest
    // measurement, and a measured direction keeps its own HRIRs.
    let dirs = vec![
        Direction::new(90.0, 0.0),
        Direction::new(91.0, 1.0),
        k.directions()[100],
    ];
    let target = HrirSet::new(vec![1.0; 3 * 2 * 8], dirs.clone(), 8, 48_000.0).unwrap();
    let on = k.on_grid_of(&target).unwrap();
    assert_eq!(on.directions(), &dirs[..]);
    assert_eq!(on.sample_rate(), 48_000.0);
    let r = k.resampled(48_000.0).unwrap();
    assert_eq!(on.len(), r.len());
    for (m, want) in [278, 278, 100].into_iter().enumerate() {
        for ear in Ear::BOTH {
            assert_eq!(on.hrir(m, ear), r.hrir(want, ear), "direction {m}");
        }
    }
}

#[test]
fn lsd_of_a_set_against_itself_is_zero_and_against_plus_6_db_is_6() {
    let s = kemar().spectra(None).unwrap();
    let same = lsd(&s, &s, &LsdOptions::default()).unwrap();
    assert_eq!(same.values.len(), 710 * 2);
    assert!(same.values.iter().all(|&v| v == 0.0));
    assert_eq!(same.reduce(Reduce::Mean), 0.0);
    // 20 ≤ f ≤ 20000 at 44.1 kHz / 512: bins 1..=232.
    assert_eq!(same.bins.first(), Some(&1));
    assert_eq!(same.bins.last(), Some(&232));

    let louder = kemar().scaled(10f64.powf(6.0 / 20.0)).unwrap();
    let l = lsd(&s, &louder.spectra(None).unwrap(), &LsdOptions::default()).unwrap();
    for v in &l.values {
        assert!((v - 6.0).abs() < 1e-9, "{v}");
    }
    assert!((l.reduce(Reduce::Mean) - 6.0).abs() < 1e-9);
    assert!((l.reduce(Reduce::Rms) - 6.0).abs() < 1e-9);
}

/// Naive DFT magnitude in dB at bin k of an n-point transform.
fn dft_db(x: &[f64], k: usize, n: usize) -> f64 {
    let w = -2.0 * std::f64::consts::PI * k as f64 / n as f64;
    let z: Complex64 = x
        .iter()
        .enumerate()
        .map(|(t, &v)| Complex64::from_polar(v, w * t as f64))
        .sum();
    20.0 * z.norm().max(1e-12).log10()
}

#[test]
fn lsd_against_a_set_with_one_ear_shifted_matches_hand_computation() {
    let k = kemar();
    let s = k.spectra(None).unwrap();
    // (a) right ear 9 dB louder: left 0, right 9, mean 4.5, rms 9/√2.
    let g = 10f64.powf(9.0 / 20.0);
    let level = k
        .map_hrirs(|_, ear, h| {
            if ear == Ear::Right {
                h.iter_mut().for_each(|v| *v *= g)
            }
        })
        .unwrap();
    let m = lsd(&s, &level.spectra(None).unwrap(), &LsdOptions::default()).unwrap();
    for p in 0..m.positions.len() {
        assert!(m.value(p, 0).abs() < 1e-9);
        assert!((m.value(p, 1) - 9.0).abs() < 1e-9);
    }
    assert!((m.reduce(Reduce::Mean) - 4.5).abs() < 1e-9);
    assert!((m.reduce(Reduce::Rms) - 9.0 / 2f64.sqrt()).abs() < 1e-9);
    let per_ear = m.per_ear(Reduce::Mean);
    assert!(per_ear[0].abs() < 1e-9 && (per_ear[1] - 9.0).abs() < 1e-9);
    assert!(m
        .per_position(Reduce::Mean)
        .iter()
        .all(|v| (v - 4.5).abs() < 1e-9));

    // (b) right ear circularly shifted: same magnitudes, LSD 0.
    let circ = k
        .map_hrirs(|_, ear, h| {
            if ear == Ear::Right {
                h.rotate_right(17)
            }
        })
        .unwrap();
    let c = lsd(&s, &circ.spectra(None).unwrap(), &LsdOptions::default()).unwrap();
    assert!(c.reduce(Reduce::Mean) < 1e-9);

    // (c) right ear delayed by 17 samples with the tail cut (a linear shift changes the
    // 512-point magnitudes): LSD by a naive DFT over bins 1..=232 per position.
    let d = 17;
    let shifted = k
        .map_hrirs(|_, ear, h| {
            if ear == Ear::Right {
                h.rotate_right(d);
                h[..d].fill(0.0);
            }
        })
        .unwrap();
    let positions = vec![0, 278, 500, 709];
    let opts = LsdOptions {
        ears: EarSelection::Right,
        positions: Some(positions.clone()),
        ..LsdOptions::default()
    };
    let got = lsd(&s, &shifted.spectra(None).unwrap(), &opts).unwrap();
    assert_eq!(got.ears, vec![Ear::Right]);
    for (p, &mi) in positions.iter().enumerate() {
        let (a, b) = (k.hrir(mi, Ear::Right), shifted.hrir(mi, Ear::Right));
        let mean_sq = (1..=232)
            .map(|bin| (dft_db(a, bin, 512) - dft_db(b, bin, 512)).powi(2))
            .sum::<f64>()
            / 232.0;
        let want = mean_sq.sqrt();
        assert!(want > 0.1, "the shift must matter at position {mi}");
        assert!(
            (got.value(p, 0) - want).abs() < 1e-8,
            "{} vs {want}",
            got.value(p, 0)
        );
    }
}

#[test]
fn lsd_options_select_bins_and_reject_bad_input() {
    let s = kemar().spectra(None).unwrap();
    let band = LsdOptions {
        frequencies: FrequencySelection::Bands(vec![(1000.0, 2000.0), (0.0, 0.0)]),
        ..LsdOptions::default()
    };
    let m = lsd(&s, &s, &band).unwrap();
    // 1000..2000 Hz on 86.13 Hz bins: k = 12..=23, plus DC.
    assert_eq!(m.bins, [vec![0], (12..=23).collect::<Vec<_>>()].concat());
    let nearest = LsdOptions {
        frequencies: FrequencySelection::Nearest(vec![1000.0, 1001.0, 50.0]),
        ..LsdOptions::default()
    };
    assert_eq!(lsd(&s, &s, &nearest).unwrap().bins, vec![12, 1]);
    let bad = LsdOptions {
        frequencies: FrequencySelection::Bands(vec![(3.0, 2.0)]),
        ..LsdOptions::default()
    };
    assert!(lsd(&s, &s, &bad).is_err());
    let bad_eps = LsdOptions {
        epsilon: 0.0,
        ..LsdOptions::default()
    };
    assert!(lsd(&s, &s, &bad_eps).is_err());
    let other_grid = kemar().spectra(Some(256)).unwrap();
    assert!(lsd(&s, &other_grid, &LsdOptions::default()).is_err());
}

#[test]
fn ild_broadband_and_per_frequency() {
    let k = kemar();
    let ild = ild_broadband(k, 1e-12);
    let left = k.nearest(&Direction::new(90.0, 0.0));
    let right = k.nearest(&Direction::new(270.0, 0.0));
    assert!(
        ild[left] > 5.0,
        "source on the left → left louder: {}",
        ild[left]
    );
    assert!(ild[right] < -5.0, "{}", ild[right]);
    // Halving the right ear adds 20·log10(2) dB everywhere.
    let half = k
        .map_hrirs(|_, ear, h| {
            if ear == Ear::Right {
                h.iter_mut().for_each(|v| *v *= 0.5)
            }
        })
        .unwrap();
    let ild2 = ild_broadband(&half, 1e-12);
    for (a, b) in ild.iter().zip(&ild2) {
        assert!((b - a - 20.0 * 2f64.log10()).abs() < 1e-6);
    }
    let spec = ild_spectrum(&k.spectra(None).unwrap(), left, 1e-12);
    assert_eq!(spec.len(), 257);
    let spec2 = ild_spectrum(&half.spectra(None).unwrap(), left, 1e-12);
    assert!((spec2[10] - spec[10] - 20.0 * 2f64.log10()).abs() < 1e-6);
}

fn replace_all(bytes: &mut [u8], from: &[u8], to: &[u8]) -> usize {
    assert_eq!(from.len(), to.len());
    let mut n = 0;
    let mut i = 0;
    while i + from.len() <= bytes.len() {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + from.len()].copy_from_slice(to);
            n += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    n
}

fn dims(m: u64, r: u64, n: u64) -> Vec<u8> {
    [m, r, n].iter().flat_map(|v| v.to_le_bytes()).collect()
}

#[test]
fn malformed_sofa_files_give_clear_errors() {
    let good = kemar_bytes();
    // Truncated.
    for cut in [good.len() / 2, good.len() - 1, 100, 30, 9] {
        match HrirSet::from_sofa_bytes(&good[..cut]) {
            Err(HrtfError::Truncated { expected, actual }) => {
                assert_eq!(actual, cut as u64);
                assert!(expected > actual);
            }
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    assert!(matches!(
        HrirSet::from_sofa_bytes(b"not a sofa file"),
        Err(HrtfError::NotHdf5)
    ));
    // Wrong convention (same-length attribute value).
    let mut wrong = good.clone();
    assert_eq!(
        replace_all(&mut wrong, b"SimpleFreeFieldHRIR", b"SimpleFreeFieldHRTF"),
        1
    );
    match HrirSet::from_sofa_bytes(&wrong) {
        Err(e @ HrtfError::WrongConvention(_)) => {
            assert!(e.to_string().contains("SimpleFreeFieldHRTF"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    // R ≠ 2: Data.IR dataspace (and max dims) patched from 710×2×512 to 1420×1×512.
    let mut one_ear = good.clone();
    assert_eq!(
        replace_all(&mut one_ear, &dims(710, 2, 512), &dims(1420, 1, 512)),
        2
    );
    let e = HrirSet::from_sofa_bytes(&one_ear).unwrap_err();
    assert!(matches!(e, HrtfError::ReceiverCount(1)), "{e}");
    assert!(e.to_string().contains("R = 1"));
    // Zero-length IRs: N patched to 0.
    let mut empty = good.clone();
    assert_eq!(
        replace_all(&mut empty, &dims(710, 2, 512), &dims(710, 2, 0)),
        2
    );
    let e = HrirSet::from_sofa_bytes(&empty).unwrap_err();
    assert!(matches!(e, HrtfError::ZeroLengthIr), "{e}");
    // All-zero / bad-rate / shape errors through the in-memory constructor (same validation).
    let dirs = vec![Direction::new(0.0, 0.0)];
    assert!(matches!(
        HrirSet::new(vec![0.0; 8], dirs.clone(), 4, 48000.0),
        Err(HrtfError::AllZeroIr)
    ));
    // Rates outside the stated limits (a 1–2 Hz claim once made hrtf-report allocate 15 GB).
    for rate in [0.0, 1.5, 2.0, 7999.0, 384_001.0, 1e300, f64::NAN] {
        assert!(matches!(
            HrirSet::new(vec![1.0; 8], dirs.clone(), 4, rate),
            Err(HrtfError::BadSampleRate(_))
        ));
    }
    assert!(matches!(
        HrirSet::new(vec![1.0; 8], dirs.clone(), 0, 48000.0),
        Err(HrtfError::ZeroLengthIr)
    ));
    assert!(matches!(
        HrirSet::new(vec![1.0; 7], dirs, 4, 48000.0),
        Err(HrtfError::Shape(_))
    ));
}

#[test]
fn corrupted_bytes_never_panic() {
    let good = kemar_bytes();
    // Deterministic corruption of header/metadata bytes: an error or a valid set, never a panic.
    let mut state = 0x2545F4914F6CDD1Du64;
    for _ in 0..20 {
        let mut bad = good.clone();
        for _ in 0..4 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let at = (state % 12_000) as usize;
            bad[at] = (state >> 32) as u8;
        }
        if let Ok(set) = HrirSet::from_sofa_bytes(&bad) {
            assert!(set.n_directions() > 0 && !set.is_empty());
        }
    }
}

#[test]
fn resampling_to_48k_keeps_the_magnitude_response() {
    let k = kemar();
    let r = k.resampled(48000.0).unwrap();
    assert_eq!(r.sample_rate(), 48000.0);
    assert_eq!(r.len(), 558); // ceil(512 · 48000 / 44100)
    assert_eq!(r.n_directions(), 710);
    // DTFT magnitude at the same physical frequencies agrees within 0.5 dB up to 16 kHz.
    let dtft_db = |h: &[f64], f: f64, fs: f64| {
        let w = -2.0 * std::f64::consts::PI * f / fs;
        let z: Complex64 = h
            .iter()
            .enumerate()
            .map(|(t, &v)| Complex64::from_polar(v, w * t as f64))
            .sum();
        20.0 * z.norm().log10()
    };
    for m in [0, 278, 709] {
        for f in [300.0, 1000.0, 4000.0, 9000.0, 16000.0] {
            let a = dtft_db(k.hrir(m, Ear::Left), f, 44100.0);
            let b = dtft_db(r.hrir(m, Ear::Left), f, 48000.0);
            assert!((a - b).abs() < 0.5, "m {m} f {f}: {a} vs {b}");
        }
    }
    assert_eq!(k.resampled(44100.0).unwrap(), *k);
    assert!(k.resampled(44100.5).is_err());
}

#[test]
fn dataset_rows_shapes_and_batches() {
    let spec = HrtfSpec {
        domain: Domain::Frequency,
        signal: Signal::TfMagnitudeDb,
        ears: EarSelection::Left,
        index_by: IndexBy::Subject,
        fft_len: None,
        frequency_bands: None,
    };
    let ds = HrtfDataset::from_sets(vec![("kemar".into(), kemar().clone())], spec).unwrap();
    assert_eq!(ds.len(), 1);
    let row = ds.get(0).unwrap();
    assert_eq!(row.shape, vec![710, 257]);
    let want = kemar().spectra(None).unwrap().magnitude_db(3, Ear::Left);
    assert_eq!(row.values[3 * 257 + 20], want[20] as f32);
    #[cfg(feature = "grad")]
    {
        let b = ds.batch(&[0, 0], &Device::Cpu).unwrap();
        assert_eq!(b.dims(), &[2, 710, 257]);
    }
    let banded = HrtfSpec {
        frequency_bands: Some(vec![(20.0, 20000.0)]),
        ..ds.spec().clone()
    };
    let ds2 = HrtfDataset::from_sets(vec![("kemar".into(), kemar().clone())], banded).unwrap();
    let row2 = ds2.get(0).unwrap();
    assert_eq!(row2.shape, vec![710, 232]);
    assert_eq!(row2.values[3 * 232 + 19], want[20] as f32);
    assert!(row2.values.iter().all(|v| v.is_finite()));
    let time_bands = HrtfSpec {
        frequency_bands: Some(vec![(0.0, 100.0)]),
        ..HrtfSpec::default()
    };
    assert!(HrtfDataset::from_sets(vec![("k".into(), kemar().clone())], time_bands).is_err());

    let spec = HrtfSpec {
        index_by: IndexBy::Position,
        ..HrtfSpec::default()
    };
    let ds = HrtfDataset::from_sets(vec![("kemar".into(), kemar().clone())], spec).unwrap();
    assert_eq!(ds.len(), 710);
    #[cfg(feature = "grad")]
    {
        let b = ds.batch(&[0, 278, 709], &Device::Cpu).unwrap();
        assert_eq!(b.dims(), &[3, 2, 512]);
        let v: Vec<Vec<Vec<f32>>> = b.to_vec3().unwrap();
        assert_eq!(v[1][1][7], kemar().hrir(278, Ear::Right)[7] as f32);
    }
    assert!(ds.get(710).is_err());

    let bad = HrtfSpec {
        domain: Domain::Time,
        signal: Signal::TfMagnitude,
        ..HrtfSpec::default()
    };
    assert!(HrtfDataset::from_sets(vec![("k".into(), kemar().clone())], bad).is_err());
}

#[test]
fn dataset_from_a_hutubs_style_folder() {
    let dir = std::env::temp_dir().join(format!("tailor-hrtf-ds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bytes = kemar_bytes();
    for name in [
        "pp12_HRIRs_measured.sofa",
        "pp3_HRIRs_measured.sofa",
        "pp3_HRIRs_simulated.sofa",
        "other.sofa",
        "notes.txt",
    ] {
        std::fs::write(dir.join(name), &bytes).unwrap();
    }
    let ds = HrtfDataset::from_folder(&dir, HrtfSpec::default(), None).unwrap();
    let ids: Vec<&str> = ds.subjects().iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, vec!["pp3", "pp3", "pp12", "other"]);
    let measured = HrtfDataset::from_folder(&dir, HrtfSpec::default(), Some("measured")).unwrap();
    let ids: Vec<&str> = measured.subjects().iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, vec!["pp3", "pp12"]);
    #[cfg(feature = "grad")]
    assert_eq!(
        measured.batch(&[0, 1], &Device::Cpu).unwrap().dims(),
        &[2, 710, 2, 512]
    );
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(hutubs_subject("pp96_HRIRs_simulated.sofa"), Some(96));
    assert_eq!(hutubs_subject("PP7_x.sofa"), Some(7));
    assert_eq!(hutubs_subject("pp_x.sofa"), None);
    assert_eq!(hutubs_subject("pp7.sofa"), None);
}

#[test]
fn binaural_render_of_a_one_line_fdn_equals_hrir_pair_convolved_with_the_fdn_ir() {
    use tailor::{Build, BuildParts, Matrix};
    let fs = 44100.0;
    let build = Build::new(BuildParts {
        a: Matrix::from_rows(&[vec![0.8]]).unwrap(),
        b: Matrix::from_rows(&[vec![1.0]]).unwrap(),
        c: Matrix::from_rows(&[vec![0.7]]).unwrap(),
        d: Matrix::from_rows(&[vec![0.0]]).unwrap(),
        delays: vec![37],
        sample_rate: fs,
        post_delay: None,
        post_matrix: None,
        post_output: None,
        output_mix: None,
        metadata: Default::default(),
    })
    .unwrap();
    let len = 3000;
    let fdn_ir = tailor::response::impulse_response(&build, len).channel(0, 0);
    assert!(fdn_ir.iter().any(|&v| v != 0.0));
    let dir = Direction::new(30.0, 0.0);
    let k = kemar();
    let mut r = BinauralRenderer::new(k, &[dir], fs, 64).unwrap();
    let m = r.measurements()[0];
    assert_eq!(m, k.nearest(&dir));
    let x: Vec<f32> = fdn_ir.iter().map(|&v| v as f32).collect();
    let (mut left, mut right) = (vec![0.0f32; len], vec![0.0f32; len]);
    let mut at = 0;
    for (i, n) in [64usize, 13, 100, 1, 64, 250].iter().cycle().enumerate() {
        if at >= len || i > 10_000 {
            break;
        }
        let n = (*n).min(len - at);
        r.process(
            &[&x[at..at + n]],
            &mut left[at..at + n],
            &mut right[at..at + n],
        );
        at += n;
    }
    for (ear, got) in [(Ear::Left, &left), (Ear::Right, &right)] {
        let want = direct_convolution(&fdn_ir, k.hrir(m, ear));
        let peak = want.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        let err = got
            .iter()
            .zip(&want)
            .fold(0.0f64, |a, (g, w)| a.max((*g as f64 - w).abs()));
        assert!(err / peak <= 1e-5, "{ear:?}: rel err {}", err / peak);
    }
}

#[test]
fn binaural_default_ring_resamples_and_places_channels() {
    let r = BinauralRenderer::with_default_ring(kemar(), 4, 48000.0, 128).unwrap();
    assert_eq!(r.n_channels(), 4);
    assert_eq!(r.sample_rate(), 48000.0);
    let az: Vec<f64> = r.directions().iter().map(|d| d.azimuth_deg).collect();
    assert_eq!(az, vec![0.0, 90.0, 180.0, 270.0]);
    assert_eq!(
        r.measurements()[1],
        kemar().nearest(&Direction::new(90.0, 0.0))
    );
    assert!(BinauralRenderer::new(kemar(), &[], 48000.0, 64).is_err());
}

#[test]
fn set_lsd_of_a_louder_resampled_copy_is_its_gain() {
    use tailor::hrtf::metrics::set_lsd;
    let loud = kemar().scaled(2.0).unwrap();
    let (per, mean) = set_lsd(&loud, kemar()).unwrap();
    assert!((mean - 6.0206).abs() < 1e-3, "{mean}");
    assert_eq!(per.len(), kemar().n_directions());
    // Another rate and grid: the reference is brought onto the compared set's.
    let other = kemar().resampled(48_000.0).unwrap();
    let (per, mean) = set_lsd(&other, kemar()).unwrap();
    assert_eq!(per.len(), other.n_directions());
    assert!(mean < 1.0, "a resampled copy is {mean} dB off");
}
