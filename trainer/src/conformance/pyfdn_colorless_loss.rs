//! Golden family `pyfdn_colorless_loss`: pyFDN `FlatMagnitude` on a response and FLAMO `mse_loss`
//! on a magnitude response; values and gradients (f64 reference).

use super::fdn_loss_common::{grad_cmps, has_input, input_var, scalar_output, value_cmp};
use super::Comparison;
use anyhow::{anyhow, Result};
use serde_json::Value;
use tailor::loss::colorless::{flamo_mse_loss, flat_magnitude, ChannelReduce};

/// Tolerance (max relative error) for values and gradients.
const TOL: f64 = 1e-9;

/// Checks one case: `inputs.h` → FlatMagnitude(params.target, params.channels); `inputs.y_pred`,
/// `inputs.y_true` → FLAMO mse_loss.
pub fn check(case: &Value) -> Result<Vec<Comparison>> {
    let want = scalar_output(case)?;
    if has_input(case, "h") {
        let params = case.get("params");
        let target = params
            .and_then(|p| p.get("target"))
            .and_then(Value::as_f64)
            .unwrap_or(1.0);
        let channels = params
            .and_then(|p| p.get("channels"))
            .and_then(Value::as_str)
            .unwrap_or("sum");
        let h = input_var(case, "h")?;
        let loss = flat_magnitude(h.as_tensor(), target, ChannelReduce::parse(channels)?)?;
        let grads = loss.backward()?;
        let mut out = vec![value_cmp("value", &loss, want, TOL)?];
        out.extend(grad_cmps(case, &grads, &[("h", &h)], TOL)?);
        Ok(out)
    } else if has_input(case, "y_pred") {
        let p = input_var(case, "y_pred")?;
        let t = input_var(case, "y_true")?;
        let loss = flamo_mse_loss(p.as_tensor(), t.as_tensor())?;
        let grads = loss.backward()?;
        let mut out = vec![value_cmp("value", &loss, want, TOL)?];
        out.extend(grad_cmps(
            case,
            &grads,
            &[("y_pred", &p), ("y_true", &t)],
            TOL,
        )?);
        Ok(out)
    } else {
        Err(anyhow!("case has neither inputs.h nor inputs.y_pred"))
    }
}
