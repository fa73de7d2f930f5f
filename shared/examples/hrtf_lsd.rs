//! hrtfpykit's documented workflow in Rust: load HRTFs from SOFA, build (input, target) samples,
//! train with LSD. A small candle-nn MLP maps left-ear KEMAR HRIRs (512 samples) to their HRTF
//! magnitudes in dB (the 232 bins in 20 Hz–20 kHz), trained with `hrtf_loss(metric = lsd, input_scale = db)`.
//!
//! `cargo run --release -p tailor --example hrtf_lsd [EPOCHS]` (default 30; a few seconds).
//! Prints the training LSD and a held-out LSD per epoch; both decrease.

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{Linear, Module, Optimizer, ParamsAdamW};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use tailor::hrtf::dataset::{Domain, HrtfDataset, HrtfSpec, IndexBy, Signal};
use tailor::hrtf::metrics::EarSelection;
use tailor::hrtf::HrirSet;
use tailor::loss::hrtf::{hrtf_loss, InputScale, Metric, Reduction};

/// LSD figures of one epoch, dB.
#[derive(Debug, Clone, Copy)]
pub struct EpochStats {
    /// Mean training LSD over the epoch's mini-batches, dB.
    pub train_lsd_db: f64,
    /// LSD on the held-out directions after the epoch, dB.
    pub held_out_lsd_db: f64,
}

fn lsd(pred: &Tensor, target: &Tensor) -> candle_core::Result<Tensor> {
    hrtf_loss(
        pred,
        target,
        Metric::Lsd,
        InputScale::Db,
        Reduction::Mean,
        1e-12,
    )
    .map_err(|e| candle_core::Error::Msg(e.to_string()))
}

/// A seeded dense layer (He-normal weights, zero bias) and its trainable variables.
fn layer(
    rng: &mut rand_chacha::ChaCha8Rng,
    inputs: usize,
    outputs: usize,
    dev: &Device,
) -> candle_core::Result<(Linear, Vec<Var>)> {
    let normal = Normal::new(0.0f32, (2.0 / inputs as f32).sqrt()).expect("valid std");
    let w: Vec<f32> = (0..inputs * outputs).map(|_| normal.sample(rng)).collect();
    let w = Var::from_tensor(&Tensor::from_vec(w, (outputs, inputs), dev)?)?;
    let b = Var::from_tensor(&Tensor::zeros(outputs, DType::F32, dev)?)?;
    let lin = Linear::new(w.as_tensor().clone(), Some(b.as_tensor().clone()));
    Ok((lin, vec![w, b]))
}

/// Trains for `epochs` epochs (seeded, deterministic) and returns the LSD per epoch.
pub fn train(epochs: usize, seed: u64) -> Result<Vec<EpochStats>, Box<dyn std::error::Error>> {
    let dev = Device::Cpu;
    let kemar = HrirSet::kemar()?;
    let spec = |domain, signal, frequency_bands| HrtfSpec {
        domain,
        signal,
        ears: EarSelection::Left,
        index_by: IndexBy::Position,
        fft_len: None,
        frequency_bands,
    };
    let subjects = vec![("kemar".to_string(), kemar)];
    let inputs = HrtfDataset::from_sets(subjects.clone(), spec(Domain::Time, Signal::Ir, None))?;
    // 20 Hz–20 kHz (bins 1..=232): two KEMAR HRIRs have an exactly zero Nyquist bin (−inf dB).
    let targets = HrtfDataset::from_sets(
        subjects,
        spec(
            Domain::Frequency,
            Signal::TfMagnitudeDb,
            Some(vec![(20.0, 20000.0)]),
        ),
    )?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut rows: Vec<usize> = (0..inputs.len()).collect();
    rows.shuffle(&mut rng);
    let (held_out, train_rows) = rows.split_at(rows.len() / 10);
    let held_x = inputs.batch(held_out, &dev)?;
    let held_y = targets.batch(held_out, &dev)?;
    if targets
        .batch(&rows, &dev)?
        .flatten_all()?
        .to_vec1::<f32>()?
        .iter()
        .any(|v| !v.is_finite())
    {
        return Err("a target magnitude is zero (−inf dB)".into());
    }
    // Inputs are HRIR samples (|x| < 1): scale so the first layer sees unit-order values.
    let in_scale = 8.0;
    let (n_in, n_hidden, n_out) = (
        inputs.get(0)?.values.len(),
        128,
        targets.get(0)?.values.len(),
    );
    let (l1, mut vars) = layer(&mut rng, n_in, n_hidden, &dev)?;
    let (l2, v2) = layer(&mut rng, n_hidden, n_out, &dev)?;
    vars.extend(v2);
    let forward = |x: &Tensor| -> candle_core::Result<Tensor> {
        l2.forward(&l1.forward(&(x * in_scale)?)?.tanh()?)
    };
    let mut opt = candle_nn::AdamW::new(
        vars,
        ParamsAdamW {
            lr: 3e-3,
            weight_decay: 0.0,
            ..Default::default()
        },
    )?;
    let batch = 64;
    let mut order = train_rows.to_vec();
    let mut stats = Vec::with_capacity(epochs);
    for _ in 0..epochs {
        order.shuffle(&mut rng);
        let (mut sum, mut count) = (0.0, 0);
        for chunk in order.chunks(batch) {
            let x = inputs.batch(chunk, &dev)?;
            let y = targets.batch(chunk, &dev)?;
            let loss = lsd(&forward(&x)?, &y)?;
            opt.backward_step(&loss)?;
            sum += loss.to_scalar::<f32>()? as f64;
            count += 1;
        }
        let held = lsd(&forward(&held_x)?, &held_y)?.to_scalar::<f32>()? as f64;
        stats.push(EpochStats {
            train_lsd_db: sum / count as f64,
            held_out_lsd_db: held,
        });
    }
    Ok(stats)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let epochs = match std::env::args().nth(1) {
        Some(s) => s.parse()?,
        None => 30,
    };
    println!("epoch  train LSD (dB)  held-out LSD (dB)");
    for (i, s) in train(epochs, 7)?.iter().enumerate() {
        println!(
            "{:>5}  {:>14.3}  {:>17.3}",
            i + 1,
            s.train_lsd_db,
            s.held_out_lsd_db
        );
    }
    Ok(())
}
