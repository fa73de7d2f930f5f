//! One training step (forward + backward + optimiser update) through `train_fdn`, as the CLI
//! runs it: (a) colorless N=8, nfft 2^14, from the packaged `colorless_init_N8_d1` preset;
//! (b) MatchSpectrogram N=8, nfft 2^17, toward the meeting-room IR (trainable shelf RT), in f64
//! and (`_f32`, `--dtype f32`) in f32;
//! (c) N=16 with trainable graphic-EQ attenuation + output EQ, MatchSpectrogram, nfft 2^17;
//! plus the graphic-EQ design alone (forward + backward, 16 lines).

use criterion::{criterion_group, criterion_main, Criterion};
use std::path::Path;
use tailor::{Preset, Rt};
use tailor_trainer::train::target::load_target;
use tailor_trainer::train::{
    build_fdn, colorless, match_spectrogram, train_fdn, trainable_from_build, AttenuationDesign,
    BuildFdnOptions, FdnModel, Loss, MatrixKind, ModelOptions, TrainOptions, Trainable,
    DEFAULT_MSS_NFFT,
};

fn data(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// Criterion's `iters` steps as one `train_fdn` run, timed by the run's own `ms_per_step` (the
/// step loop only: not the model snapshot or the extra evaluation after the last update).
fn one_step(c: &mut Criterion, name: &str, model: &mut FdnModel, loss: &mut Loss) {
    c.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let opts = TrainOptions {
                max_steps: iters as usize,
                patience: usize::MAX,
                ..Default::default()
            };
            let log = train_fdn(model, loss, &opts).expect("training steps");
            std::time::Duration::from_secs_f64(log.ms_per_step * 1e-3 * iters as f64)
        })
    });
}

fn match_model(
    n: usize,
    design: AttenuationDesign,
    output_eq: bool,
    dtype: candle_core::DType,
) -> (FdnModel, Loss) {
    let fs = 48000.0;
    let longest = *DEFAULT_MSS_NFFT.iter().max().expect("window sizes");
    let target = load_target(
        &data("data/rir/meetingroom_to_hallway_290cm.wav"),
        fs,
        1,
        1,
        longest,
    )
    .expect("meeting-room IR");
    let mut model = build_fdn(&BuildFdnOptions {
        n: Some(n),
        rt: Some(Rt::Flat(0.6)),
        attenuation: design,
        train_rt: true,
        fs,
        nfft: 1 << 17,
        alias_decay_db: Some(0.0),
        seed: 1,
        dtype,
        ..Default::default()
    })
    .expect("model");
    if output_eq {
        model = model
            .with_output_eq(&[0.0; tailor::geq::BANDS], true)
            .expect("output EQ");
    }
    let loss = match_spectrogram(
        target.tensor(1, 1).expect("target tensor"),
        &DEFAULT_MSS_NFFT,
        fs,
        0.0,
    )
    .expect("loss");
    (model, loss)
}

fn bench(c: &mut Criterion) {
    tailor_trainer::pin_thread_count();
    tailor_trainer::tune_allocator();
    let text =
        std::fs::read_to_string(data("data/presets/colorless_FDN/colorless_init_N8_d1.json"))
            .expect("colorless preset");
    let preset = Preset::from_json_str(&text).expect("preset");
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
    .expect("colorless model");
    one_step(c, "colorless_n8_nfft2^14", &mut model, &mut colorless());

    let f64_ = candle_core::DType::F64;
    let (mut model, mut loss) = match_model(8, AttenuationDesign::FirstOrderShelf, false, f64_);
    one_step(c, "match_spectrogram_n8_nfft2^17", &mut model, &mut loss);

    let (mut model, mut loss) = match_model(
        8,
        AttenuationDesign::FirstOrderShelf,
        false,
        candle_core::DType::F32,
    );
    one_step(
        c,
        "match_spectrogram_n8_nfft2^17_f32",
        &mut model,
        &mut loss,
    );

    let (mut model, mut loss) = match_model(16, AttenuationDesign::GraphicEq, true, f64_);
    one_step(
        c,
        "graphic_eq_output_eq_n16_nfft2^17",
        &mut model,
        &mut loss,
    );

    // The differentiable graphic-EQ design alone (16 lines, forward + backward): the share of
    // (c) spent outside the FDN response op.
    let delays: Vec<usize> = (0..16).map(|i| 500 + 97 * i).collect();
    let rt = candle_core::Var::from_tensor(
        &candle_core::Tensor::full(0.6f64, (tailor::geq::BANDS, 16), &candle_core::Device::Cpu)
            .expect("rt"),
    )
    .expect("var");
    c.bench_function("graphic_eq_design_fwd_bwd_n16", |b| {
        b.iter(|| {
            let sos = tailor::train::geq::graphic_eq_attenuation(rt.as_tensor(), &delays, 48000.0)
                .expect("design");
            sos.sum_all().expect("sum").backward().expect("backward")
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
