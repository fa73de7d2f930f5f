//! Quick checks of the training API (small nfft and step counts).

use super::target::target_from_channels;
use super::*;
use tailor::Rt;

fn small(rt: Option<Rt>, train_rt: bool) -> FdnModel {
    build_fdn(&BuildFdnOptions {
        delays: Some(vec![31, 37, 41, 43]),
        rt,
        train_rt,
        nfft: 512,
        fs: 8000.0,
        seed: 3,
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn plateau_rule_is_pyfdn_exact() {
    let mut p = Plateau::default();
    // First step: best = +inf → rel = +inf → improving.
    assert!(!p.update(1.0, 1e-6, 2));
    assert!(!p.update(1.0, 1e-6, 2)); // no improvement: counter 1
    assert!(p.update(2.0, 1e-6, 2)); // increase counts as non-improving: counter 2 → stop
    let mut q = Plateau::default();
    assert!(!q.update(f64::NAN, 1e-6, 1)); // NaN from the start never stops
    assert!(!q.update(f64::NAN, 1e-6, 1));
    let mut r = Plateau::default();
    assert!(!r.update(1.0, 1e-6, 1));
    assert!(r.update(f64::NAN, 1e-6, 1)); // NaN after a finite best is non-improving
}

#[test]
fn colorless_training_lowers_the_loss_and_extracts_an_orthogonal_build() {
    let mut model = small(None, false);
    assert_eq!(model.alias_decay_db(), 60.0);
    let mut loss = colorless();
    assert_eq!(
        loss.leaf_names(),
        vec![
            "FlatMagnitude".to_string(),
            "Sparsity[feedback]".to_string()
        ]
    );
    let log = train_fdn(
        &mut model,
        &mut loss,
        &TrainOptions {
            max_steps: 15,
            lr: 1e-2,
            patience: 100,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(log.steps_run, 15);
    assert!(!log.stopped_early);
    assert!(
        log.train_loss[14] < log.train_loss[0],
        "{:?}",
        log.train_loss
    );
    for (i, t) in log.train_loss.iter().enumerate() {
        let w = log.loss_log["FlatMagnitude"][i] + 0.2 * log.loss_log["Sparsity[feedback]"][i];
        assert!((t - w).abs() < 1e-12);
    }
    let build = extract_build(&model).unwrap();
    let a = build.a();
    let ata = a.transpose().matmul(a).unwrap();
    assert!(ata.max_abs_diff(&tailor::Matrix::identity(4)) < 1e-12);
    assert!(build.stability().is_lossless());
}

#[test]
fn trainable_from_build_reproduces_the_build() {
    let model = small(Some(Rt::Flat(0.4)), false);
    let build = extract_build(&model).unwrap();
    let again = trainable_from_build(
        &build,
        Trainable::default(),
        MatrixKind::Orthogonal,
        &ModelOptions {
            nfft: 512,
            ..Default::default()
        },
    )
    .unwrap();
    let b2 = extract_build(&again).unwrap();
    assert!(b2.a().max_abs_diff(build.a()) < 1e-11);
    let h1 = model.response().unwrap();
    let h2 = again.response().unwrap();
    let d = (h1 - h2)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f64>()
        .unwrap();
    assert!(d < 1e-10, "{d}");
}

#[test]
fn rt_hook_gradient_matches_finite_differences() {
    for design in [
        AttenuationDesign::FirstOrderShelf,
        AttenuationDesign::OnePole,
    ] {
        let mut opts = BuildFdnOptions {
            delays: Some(vec![31, 37, 41, 43]),
            rt: Some(Rt::Shelf {
                dc: 0.3,
                nyquist: 0.1,
            }),
            attenuation: design,
            train_rt: true,
            nfft: 256,
            fs: 8000.0,
            seed: 3,
            ..Default::default()
        };
        let eval = |opts: &BuildFdnOptions| -> (f64, Vec<f64>) {
            let model = build_fdn(opts).unwrap();
            let (h, a) = model.response_and_feedback().unwrap();
            let mut loss = colorless();
            let (total, _) = loss
                .evaluate(&LossContext {
                    h: &h,
                    feedback: &a,
                    model: &model,
                })
                .unwrap();
            let g = total.backward().unwrap();
            let PostDelay::Attenuation(att) = model.post_delay() else {
                panic!("attenuation hook expected")
            };
            let grad = g.get(att.rt.as_tensor()).unwrap().to_vec1::<f64>().unwrap();
            (total.to_scalar::<f64>().unwrap(), grad)
        };
        let (_, grad) = eval(&opts);
        let h = 1e-6;
        let mut fd = [0.0; 2];
        for (k, v) in fd.iter_mut().enumerate() {
            let (dc, ny) = (0.3, 0.1);
            let pert = |d: f64| {
                let (a, b) = if k == 0 { (dc + d, ny) } else { (dc, ny + d) };
                Rt::Shelf { dc: a, nyquist: b }
            };
            opts.rt = Some(pert(h));
            let fp = eval(&opts).0;
            opts.rt = Some(pert(-h));
            let fm = eval(&opts).0;
            *v = (fp - fm) / (2.0 * h);
        }
        let scale = fd[0].abs().max(fd[1].abs());
        let err = (grad[0] - fd[0]).abs().max((grad[1] - fd[1]).abs()) / scale;
        assert!(err <= 1e-6, "{design:?}: {err} ({grad:?} vs {fd:?})");
    }
}

#[test]
fn checkpoint_resume_continues_the_same_trajectory() {
    let dir = std::env::temp_dir().join(format!("tailor-train-resume-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let opts = |steps: usize, resume: bool| TrainOptions {
        max_steps: steps,
        lr: 1e-2,
        patience: 100,
        train_dir: Some(dir.clone()),
        resume,
        ..Default::default()
    };
    let mut full_model = small(Some(Rt::Flat(0.3)), true);
    let full = train_fdn(
        &mut full_model,
        &mut colorless(),
        &TrainOptions {
            train_dir: None,
            ..opts(8, false)
        },
    )
    .unwrap();
    let mut m1 = small(Some(Rt::Flat(0.3)), true);
    train_fdn(&mut m1, &mut colorless(), &opts(5, false)).unwrap();
    let mut m2 = small(Some(Rt::Flat(0.3)), true);
    let resumed = train_fdn(&mut m2, &mut colorless(), &opts(8, true)).unwrap();
    assert_eq!(resumed.steps_run, 8);
    for (a, b) in full.train_loss.iter().zip(&resumed.train_loss) {
        assert!((a - b).abs() <= 1e-12 * a.abs(), "{a} vs {b}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn match_training_keeps_the_best_step() {
    let target_model = small(Some(Rt::Flat(0.2)), false);
    let target = target_model.response().unwrap();
    let mut model = small(Some(Rt::Flat(0.5)), true);
    let mut loss = match_spectrogram(target, &[64, 128], 8000.0, 0.0).unwrap();
    let log = train_fdn(
        &mut model,
        &mut loss,
        &TrainOptions {
            max_steps: 6,
            lr: 5e-2,
            patience: 100,
            restore_best: true,
            ..Default::default()
        },
    )
    .unwrap();
    let best = log.train_loss.iter().cloned().fold(f64::INFINITY, f64::min);
    assert_eq!(log.best_loss, best);
    assert!(log.best_loss < log.train_loss[0]);
    // The model now holds the best parameters seen.
    let (h, a) = model.response_and_feedback().unwrap();
    let (now, _) = loss
        .evaluate(&LossContext {
            h: &h,
            feedback: &a,
            model: &model,
        })
        .unwrap();
    // The model holds the better of the best logged step and the last update.
    assert_eq!(log.exported_loss, best.min(log.final_loss));
    let now = now.to_scalar::<f64>().unwrap();
    assert!(
        (now - log.exported_loss).abs() < 1e-12 * best,
        "{now} vs {}",
        log.exported_loss
    );
}

#[test]
fn bad_targets_get_clear_errors() {
    let ir: Vec<f64> = (0..4000)
        .map(|n| 0.999f64.powi(n) * if n % 2 == 0 { 1.0 } else { -0.5 })
        .collect();
    let msg = |r: anyhow::Result<super::target::Target>| format!("{:#}", r.unwrap_err());
    assert!(msg(target_from_channels(
        &[vec![0.0; 4000]],
        48000.0,
        48000.0,
        1,
        1,
        1024
    ))
    .contains("silent"));
    assert!(msg(target_from_channels(
        &[ir[..100].to_vec()],
        48000.0,
        48000.0,
        1,
        1,
        1024
    ))
    .contains("too short"));
    assert!(msg(target_from_channels(
        &[ir.clone(), ir.clone()],
        48000.0,
        48000.0,
        1,
        1,
        1024
    ))
    .contains("2 channel(s)"));
    let mut nan = ir.clone();
    nan[7] = f64::NAN;
    assert!(msg(target_from_channels(&[nan], 48000.0, 48000.0, 1, 1, 1024)).contains("index 7"));
    assert!(msg(target_from_channels(
        std::slice::from_ref(&ir),
        1000.0,
        48000.0,
        1,
        1,
        1024
    ))
    .contains("not supported"));
    let t = target_from_channels(std::slice::from_ref(&ir), 24000.0, 48000.0, 1, 1, 1024).unwrap();
    assert_eq!(t.len, 8000);
    let tensor = t.tensor(1, 1).unwrap();
    assert_eq!(tensor.dims(), &[8000, 1, 1]);
}

/// 200 colorless Adam steps from `colorless_init_N8_d1` (nfft 2^14, alias 60 dB, lr 1e-3)
/// follow pyFDN 0.5's own float64 run (torch, recorded in `tests/data/pyfdn_colorless_train.json`):
/// first and last logged totals to 1e-9, the last five to pyFDN's printed 7 digits, and the
/// model after the last update (what `train` exports) to 7 digits.
#[test]
fn colorless_training_follows_pyfdn_float64_for_200_steps() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let refs: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("tests/data/pyfdn_colorless_train.json")).unwrap(),
    )
    .unwrap();
    let r = &refs["float64"];
    let text = std::fs::read_to_string(
        root.join("../data/presets/colorless_FDN/colorless_init_N8_d1.json"),
    )
    .unwrap();
    let preset = tailor::Preset::from_json_str(&text).unwrap();
    let mut model = trainable_from_build(
        preset.build(),
        Trainable::default(),
        MatrixKind::Orthogonal,
        &ModelOptions {
            nfft: 1 << 14,
            alias_decay_db: 60.0,
            ..Default::default()
        },
    )
    .unwrap();
    let log = train_fdn(
        &mut model,
        &mut colorless(),
        &TrainOptions {
            max_steps: 200,
            lr: 1e-3,
            patience: 1000,
            restore_best: true,
            ..Default::default()
        },
    )
    .unwrap();
    let close = |got: f64, want: f64, tol: f64| {
        assert!(
            (got - want).abs() <= tol * want.abs(),
            "{got} vs pyFDN {want}"
        );
    };
    assert_eq!(log.steps_run, 200);
    close(
        log.train_loss[0],
        r["train_loss_first"].as_f64().unwrap(),
        1e-9,
    );
    close(
        log.train_loss[199],
        r["train_loss_last"].as_f64().unwrap(),
        1e-9,
    );
    for (i, want) in r["train_loss_195_199"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        close(log.train_loss[195 + i], want.as_f64().unwrap(), 2e-7);
    }
    close(
        log.final_loss,
        r["final_model_loss"].as_f64().unwrap(),
        2e-7,
    );
    // The exported model is the last update (better than every logged step).
    assert_eq!(log.exported_loss, log.final_loss);
    assert!(log.exported_loss <= 0.4104);
}

/// The same 200 steps with `dtype: F32` (the ops compute in f32, like pyFDN's default): the last
/// logged total lands within 1e-4 of pyFDN's float32 run (0.4104478) and the first within f32
/// accuracy of the exact start.
#[test]
fn colorless_f32_training_lands_near_pyfdn_float32_after_200_steps() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let refs: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("tests/data/pyfdn_colorless_train.json")).unwrap(),
    )
    .unwrap();
    let text = std::fs::read_to_string(
        root.join("../data/presets/colorless_FDN/colorless_init_N8_d1.json"),
    )
    .unwrap();
    let preset = tailor::Preset::from_json_str(&text).unwrap();
    let mut model = trainable_from_build(
        preset.build(),
        Trainable::default(),
        MatrixKind::Orthogonal,
        &ModelOptions {
            nfft: 1 << 14,
            alias_decay_db: 60.0,
            dtype: candle_core::DType::F32,
            ..Default::default()
        },
    )
    .unwrap();
    let log = train_fdn(
        &mut model,
        &mut colorless(),
        &TrainOptions {
            max_steps: 200,
            lr: 1e-3,
            patience: 1000,
            restore_best: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(log.steps_run, 200);
    let f32_last = refs["float32"]["train_loss_last"].as_f64().unwrap();
    let f64_first = refs["float64"]["train_loss_first"].as_f64().unwrap();
    let last = log.train_loss[199];
    assert!(
        (last - f32_last).abs() <= 1e-4,
        "f32 step 199: {last} vs pyFDN float32 {f32_last}"
    );
    let first = log.train_loss[0];
    assert!(
        (first - f64_first).abs() <= 1e-5 * f64_first,
        "f32 start {first} vs float64 {f64_first}"
    );
}
