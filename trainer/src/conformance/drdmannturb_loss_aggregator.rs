//! Golden family `drdmannturb_loss_aggregator`: `LossAggregator.{MSE_term, Pen1stOrder,
//! Pen2ndOrder, Regularization, eval}` values, gradients and (for eval) every term.

use super::autograd_inputs::{
    compare_error, compare_loss, expected_error, scalar_value, tolerances, Inputs,
};
use super::Comparison;
use crate::golden::array;
use anyhow::{anyhow, bail, Result};
use candle_core::{Device, Tensor};
use serde_json::Value;
use tailor::loss::{LossAggregator, LossParameters};

fn loss_parameters(params: &Value) -> LossParameters {
    let lp = params.get("LossParameters");
    let f = |k: &str| {
        lp.and_then(|v| v.get(k))
            .and_then(Value::as_f64)
            .unwrap_or(0.0)
    };
    LossParameters {
        alpha_pen1: f("alpha_pen1"),
        alpha_pen2: f("alpha_pen2"),
        beta_reg: f("beta_reg"),
    }
}

/// `aux.k1space`, or the generator's documented grid `logspace(-1, 2, L) / zref`.
fn k1space(case: &Value, len: usize, zref: f64) -> Result<Tensor> {
    let values = match case.get("aux").filter(|a| a.get("k1space").is_some()) {
        Some(aux) => array(aux, "k1space")?.data,
        None => (0..len)
            .map(|i| {
                let e = -1.0 + 3.0 * i as f64 / (len.max(2) - 1) as f64;
                10f64.powf(e) / zref
            })
            .collect(),
    };
    let n = values.len();
    Ok(Tensor::from_vec(values, n, &Device::Cpu)?)
}

/// Checks one case: `params.{LossParameters, zref, epoch, method}`, inputs among
/// `y`, `y_data`, `theta_NN` → `output`, `grads`, and `aux.terms` for eval.
pub fn check(case: &Value) -> Result<Vec<Comparison>> {
    let params = case
        .get("params")
        .ok_or_else(|| anyhow!("case has no params"))?;
    let method = params
        .get("method")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("params.method missing"))?;
    let zref = params.get("zref").and_then(Value::as_f64).unwrap_or(1.0);
    let epoch = params.get("epoch").and_then(Value::as_i64).unwrap_or(0);
    let inputs = Inputs::load(case)?;
    let y = inputs.opt("y").map(|i| i.real()).transpose()?;
    let len = y
        .as_ref()
        .map_or(Ok(0), |y| y.dim(candle_core::D::Minus1))?;
    let agg =
        LossAggregator::without_logging(loss_parameters(params), &k1space(case, len, zref)?, zref)?;
    let theta = inputs.opt("theta_NN").map(|i| i.real()).transpose()?;
    let need_y = || y.clone().ok_or_else(|| anyhow!("case has no input 'y'"));
    let name = method.split('(').next().unwrap_or("").trim();
    let mut terms = None;
    let result = match name {
        "MSE_term" => agg.mse_term(&need_y()?, &inputs.real("y_data")?, epoch),
        "Pen1stOrder" => agg.pen1st_order(&need_y()?, epoch),
        "Pen2ndOrder" => agg.pen2nd_order(&need_y()?, epoch),
        "Regularization" => agg.regularization(theta.as_ref(), epoch),
        "eval" => agg
            .eval_terms(&need_y()?, &inputs.real("y_data")?, theta.as_ref(), epoch)
            .map(|t| {
                let total = t.total.clone();
                terms = Some(t);
                total
            }),
        other => bail!("unknown LossAggregator method '{other}'"),
    };
    if let Some(expected) = expected_error(case) {
        return Ok(vec![compare_error(&expected, result)]);
    }
    let loss = result?;
    let (value_tol, grad_tol) = tolerances(&inputs);
    let mut out = Vec::new();
    if let (Some(t), Some(want)) = (
        &terms,
        case.pointer("/aux/terms").and_then(Value::as_object),
    ) {
        for (key, w) in want {
            let got = match key.as_str() {
                "MSE_term" => Some(&t.mse),
                "Pen1stOrder" => t.pen1.as_ref(),
                "Pen2ndOrder" => t.pen2.as_ref(),
                "Regularization" => t.reg.as_ref(),
                other => bail!("unknown term '{other}' in aux.terms"),
            };
            let got = got.map_or(Ok(0.0), |g| g.to_scalar::<f64>())?;
            out.push(Comparison::real(
                format!("term[{key}]"),
                &[got],
                &[scalar_value(w)?],
                value_tol,
            ));
        }
    }
    out.extend(compare_loss(case, &inputs, &loss, value_tol, grad_tol)?);
    Ok(out)
}
