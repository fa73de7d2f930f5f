//! Golden family `hrtf_loss`: hrtfpykit `hrtf_loss` values and gradients (real and complex
//! inputs), and its validation errors when a case expects one.

use super::autograd_inputs::{
    compare_error, compare_loss, expected_error, tolerances, Input, Inputs,
};
use super::Comparison;
use anyhow::{anyhow, Result};
use serde_json::Value;
use tailor::loss::complex::ComplexTensor;
use tailor::loss::{hrtf_loss_from_names, HrtfInput};

/// Python's `str(x)` for the option parameters (so non-string values fail validation the same
/// way).
fn py_str(v: Option<&Value>, default: &str) -> String {
    match v {
        None => default.to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) => "None".to_string(),
        Some(other) => other.to_string(),
    }
}

/// hrtfpykit's `float(epsilon)` with bools rejected: anything it would reject maps to NaN, which
/// `hrtf_loss` rejects with the same error at the same point of the validation order.
fn py_epsilon(v: Option<&Value>) -> f64 {
    match v {
        None => 1e-12,
        Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
        Some(Value::String(s)) => s.trim().parse::<f64>().unwrap_or(f64::NAN),
        Some(_) => f64::NAN,
    }
}

fn hrtf_input(i: &Input) -> HrtfInput {
    match i {
        Input::Real(v) => HrtfInput::Real(v.as_tensor().clone()),
        Input::Fixed(t) => HrtfInput::Real(t.clone()),
        Input::Complex(re, im) => HrtfInput::Complex(ComplexTensor {
            re: re.as_tensor().clone(),
            im: im.as_tensor().clone(),
        }),
    }
}

/// Checks one case: `params.{metric, input_scale, reduction_method, epsilon}`,
/// `inputs.{prediction, target}` → `output`, `grads`.
pub fn check(case: &Value) -> Result<Vec<Comparison>> {
    let params = case
        .get("params")
        .ok_or_else(|| anyhow!("case has no params"))?;
    let metric = py_str(params.get("metric"), "rmse");
    let scale = py_str(params.get("input_scale"), "db");
    let reduction = py_str(params.get("reduction_method"), "mean");
    let epsilon = py_epsilon(params.get("epsilon"));
    let inputs = Inputs::load(case)?;
    let p = hrtf_input(inputs.get("prediction")?);
    let t = hrtf_input(inputs.get("target")?);
    let result = hrtf_loss_from_names(p, t, &metric, &scale, &reduction, epsilon);
    if let Some(expected) = expected_error(case) {
        return Ok(vec![compare_error(&expected, result)]);
    }
    let loss = result?;
    let (value_tol, grad_tol) = tolerances(&inputs);
    compare_loss(case, &inputs, &loss, value_tol, grad_tol)
}
