//! Golden family `auralflow_component_loss`: auralflow `component_loss` (2- and 3-component)
//! and its `WeightedComponentLoss` wrapper, values and gradients.
//!
//! Documented difference: auralflow raises on 4-D inputs (`torch.linalg.norm` over three axes);
//! Tailor computes the intended per-item norm over all non-batch axes. For a case that expects
//! that library error, the check instead compares Tailor's 4-D value with an independent plain
//! f64 evaluation of the formula, and its 4-D gradients with those on the same data reshaped
//! to 3-D (the shape auralflow accepts).

use super::autograd_inputs::{
    compare_error, compare_loss, expected_error, tolerances, Input, Inputs,
};
use super::Comparison;
use anyhow::{anyhow, Result};
use candle_core::{Tensor, Var};
use serde_json::Value;
use tailor::loss::{component_loss, component_weights, weighted_component_loss};

const NAMES: [&str; 4] = ["filtered_src", "target_src", "filtered_res", "target_res"];

struct Params {
    alpha: f64,
    beta: f64,
    n_components: usize,
}

fn params(case: &Value) -> Result<Params> {
    let p = case
        .get("params")
        .ok_or_else(|| anyhow!("case has no params"))?;
    Ok(Params {
        alpha: p.get("alpha").and_then(Value::as_f64).unwrap_or(0.2),
        beta: p.get("beta").and_then(Value::as_f64).unwrap_or(0.8),
        n_components: p.get("n_components").and_then(Value::as_u64).unwrap_or(2) as usize,
    })
}

/// Checks one case: `inputs.{filtered_src, target_src, filtered_res, target_res}` or
/// `inputs.{mask, mixture, target}` (the wrapper) → `output`, `grads`.
pub fn check(case: &Value) -> Result<Vec<Comparison>> {
    let p = params(case)?;
    let inputs = Inputs::load(case)?;
    let (value_tol, grad_tol) = tolerances(&inputs);
    if inputs.opt("mask").is_some() {
        let result = weighted_component_loss(
            &inputs.real("mask")?,
            &inputs.real("mixture")?,
            &inputs.real("target")?,
            p.alpha,
            p.beta,
        );
        if let Some(expected) = expected_error(case) {
            return Ok(vec![compare_error(&expected, result)]);
        }
        return compare_loss(case, &inputs, &result?, value_tol, grad_tol);
    }
    let t: Vec<Tensor> = NAMES
        .iter()
        .map(|n| inputs.real(n))
        .collect::<Result<_>>()?;
    let result = component_loss(&t[0], &t[1], &t[2], &t[3], p.alpha, p.beta, p.n_components);
    if let Some(expected) = expected_error(case) {
        if expected.1.contains("linalg.norm") && t[0].rank() > 3 {
            return four_d_extension(&inputs, &t, &p, value_tol, grad_tol);
        }
        return Ok(vec![compare_error(&expected, result)]);
    }
    compare_loss(case, &inputs, &result?, value_tol, grad_tol)
}

/// The documented 4-D extension: value against a plain f64 evaluation, gradients against the
/// 3-D reshape.
fn four_d_extension(
    inputs: &Inputs,
    t: &[Tensor],
    p: &Params,
    value_tol: f64,
    grad_tol: f64,
) -> Result<Vec<Comparison>> {
    let loss = component_loss(&t[0], &t[1], &t[2], &t[3], p.alpha, p.beta, p.n_components)?;
    let data: Vec<Vec<f64>> = t
        .iter()
        .map(|x| x.flatten_all()?.to_vec1::<f64>())
        .collect::<candle_core::Result<_>>()?;
    let want = plain_component_loss(&data, t[0].dim(0)?, p);
    let got = loss.to_scalar::<f64>()?;
    let mut out = vec![Comparison::real(
        "output[4-D extension; auralflow raises]",
        &[got],
        &[want],
        value_tol,
    )];
    let grads4 = loss.backward()?;
    let dims = t[0].dims();
    let (b, last) = (dims[0], dims[dims.len() - 1]);
    let mid = t[0].elem_count() / (b * last);
    let vars3: Vec<Var> = t
        .iter()
        .map(|x| Var::from_tensor(&x.detach().reshape((b, mid, last))?))
        .collect::<candle_core::Result<_>>()?;
    let loss3 = component_loss(
        vars3[0].as_tensor(),
        vars3[1].as_tensor(),
        vars3[2].as_tensor(),
        vars3[3].as_tensor(),
        p.alpha,
        p.beta,
        p.n_components,
    )?;
    let grads3 = loss3.backward()?;
    for (i, name) in NAMES.iter().enumerate() {
        let Input::Real(var4) = inputs.get(name)? else {
            continue;
        };
        let flat = |g: Option<&Tensor>| -> candle_core::Result<Vec<f64>> {
            g.map_or(Ok(Vec::new()), |g| g.flatten_all()?.to_vec1::<f64>())
        };
        out.push(Comparison::real(
            format!("grad[{name}] 4-D vs 3-D reshape"),
            &flat(grads4.get(var4.as_tensor()))?,
            &flat(grads3.get(vars3[i].as_tensor()))?,
            grad_tol,
        ));
    }
    Ok(out)
}

/// auralflow's formula in plain f64 with the per-item norm over all non-batch elements.
fn plain_component_loss(x: &[Vec<f64>], batch: usize, p: &Params) -> f64 {
    let (fs, ts, fr, tr) = (&x[0], &x[1], &x[2], &x[3]);
    let n = fs.len();
    let per = fr.len() / batch;
    let s: f64 = fs.iter().zip(ts).map(|(a, b)| (a - b).powi(2)).sum();
    let noise: f64 = fr.iter().map(|a| a * a).sum();
    let mut q = 0.0;
    for item in 0..batch {
        let r = item * per..(item + 1) * per;
        let norm = tr[r.clone()].iter().map(|a| a * a).sum::<f64>().sqrt();
        q += fr[r.clone()]
            .iter()
            .zip(&tr[r])
            .map(|(a, b)| (a / norm - b / norm).powi(2))
            .sum::<f64>();
    }
    let (alpha, beta) = component_weights(p.alpha, p.beta, p.n_components);
    ((1.0 - alpha - beta) * s + alpha * noise + beta * q) / n as f64
}
