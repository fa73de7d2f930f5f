//! Writes three steps of drdmannturb-style loss terms to a TensorBoard event file.
//!
//! `cargo run -p tailor --example tensorboard_log -- runs/demo` then `tensorboard --logdir runs/demo`.

use candle_core::{Device, Tensor};
use tailor::loss::{LossAggregator, LossParameters};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "runs/demo".into());
    let dev = Device::Cpu;
    let l = 20;
    let k1: Vec<f64> = (0..l)
        .map(|i| 10f64.powf(-1.0 + 3.0 * i as f64 / (l - 1) as f64) / 40.0)
        .collect();
    let k1 = Tensor::from_vec(k1, l, &dev)?;
    let params = LossParameters {
        alpha_pen1: 1.0,
        alpha_pen2: 1.0,
        beta_reg: 0.01,
    };
    let agg = LossAggregator::new(params, &k1, 40.0, Some(dir.as_ref()), "")?;
    let y_data = Tensor::from_vec(
        (0..4 * l)
            .map(|i| 1.0 + 0.1 * (i as f64).sin())
            .collect::<Vec<f64>>(),
        (4, l),
        &dev,
    )?;
    let theta = Tensor::from_vec(vec![0.3f64, -0.2, 0.5], 3, &dev)?;
    for step in 0..3 {
        let scale = 1.0 + 0.2 / (step as f64 + 1.0);
        let y = (&y_data * scale)?;
        let loss = agg.eval(&y, &y_data, Some(&theta), step)?;
        println!("step {step}: total loss {:.6}", loss.to_scalar::<f64>()?);
    }
    println!("wrote TensorBoard events to {dir}");
    Ok(())
}
