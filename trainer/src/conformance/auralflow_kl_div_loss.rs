//! Golden family `auralflow_kl_div_loss`: auralflow `kl_div_loss(mu, sigma)` value and
//! gradients.

use super::autograd_inputs::{compare_error, compare_loss, expected_error, tolerances, Inputs};
use super::Comparison;
use anyhow::Result;
use serde_json::Value;
use tailor::loss::kl_div_loss;

/// Checks one case: `inputs.{mu, sigma}` → `output`, `grads`.
pub fn check(case: &Value) -> Result<Vec<Comparison>> {
    let inputs = Inputs::load(case)?;
    let result = kl_div_loss(&inputs.real("mu")?, &inputs.real("sigma")?);
    if let Some(expected) = expected_error(case) {
        return Ok(vec![compare_error(&expected, result)]);
    }
    let (value_tol, grad_tol) = tolerances(&inputs);
    compare_loss(case, &inputs, &result?, value_tol, grad_tol)
}
