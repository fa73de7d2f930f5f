//! Shared plumbing of the loss families: golden inputs as candle `Var`s (complex inputs as an
//! (re, im) pair of `Var`s), scalar-output comparison, gradient comparison against the golden
//! `grads` (a complex gradient is dL/dre + i·dL/dim), and expected-error matching.

use super::Comparison;
use crate::golden::GoldenArray;
use anyhow::{anyhow, bail, Result};
use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var};
use num_complex::Complex64;
use serde_json::Value;

/// One golden input on the CPU.
pub enum Input {
    /// A real float input (differentiable).
    Real(Var),
    /// A complex input: separate `Var`s for the real and imaginary parts.
    Complex(Var, Var),
    /// A non-float input (integers): no gradient.
    Fixed(Tensor),
}

impl Input {
    /// The real tensor (errors for complex inputs).
    pub fn real(&self) -> Result<Tensor> {
        match self {
            Self::Real(v) => Ok(v.as_tensor().clone()),
            Self::Fixed(t) => Ok(t.clone()),
            Self::Complex(..) => bail!("expected a real input, found a complex one"),
        }
    }

    /// True when the golden dtype was f64 or c128.
    fn is_f64(&self) -> bool {
        match self {
            Self::Real(v) => v.dtype() == DType::F64,
            Self::Complex(re, _) => re.dtype() == DType::F64,
            Self::Fixed(_) => false,
        }
    }
}

/// The case's named inputs, in file order.
pub struct Inputs(pub Vec<(String, Input)>);

impl Inputs {
    /// Reads `case.inputs`: f64/f32 → real `Var`s, c128/c64 → (re, im) `Var` pairs,
    /// other dtypes → fixed tensors.
    pub fn load(case: &Value) -> Result<Self> {
        let obj = case
            .get("inputs")
            .and_then(Value::as_object)
            .ok_or_else(|| anyhow!("case has no inputs"))?;
        let dev = Device::Cpu;
        let mut out = Vec::new();
        for (name, v) in obj {
            let a = GoldenArray::from_value(v).map_err(|e| anyhow!("input '{name}': {e:#}"))?;
            let shape = a.shape.clone();
            let input = match a.dtype.as_str() {
                "c128" | "c64" => {
                    let re: Vec<f64> = a.data.iter().step_by(2).copied().collect();
                    let im: Vec<f64> = a.data.iter().skip(1).step_by(2).copied().collect();
                    let dt = if a.dtype == "c64" {
                        DType::F32
                    } else {
                        DType::F64
                    };
                    let re = Tensor::from_vec(re, shape.clone(), &dev)?.to_dtype(dt)?;
                    let im = Tensor::from_vec(im, shape, &dev)?.to_dtype(dt)?;
                    Input::Complex(Var::from_tensor(&re)?, Var::from_tensor(&im)?)
                }
                "f64" | "f32" | "f16" => {
                    let dt = match a.dtype.as_str() {
                        "f64" => DType::F64,
                        "f32" => DType::F32,
                        _ => DType::F16,
                    };
                    let t = Tensor::from_vec(a.data, shape, &dev)?.to_dtype(dt)?;
                    Input::Real(Var::from_tensor(&t)?)
                }
                _ => {
                    let ints: Vec<i64> = a.data.iter().map(|&x| x as i64).collect();
                    Input::Fixed(Tensor::from_vec(ints, shape, &dev)?)
                }
            };
            out.push((name.clone(), input));
        }
        Ok(Self(out))
    }

    /// The input named `name`.
    pub fn get(&self, name: &str) -> Result<&Input> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, i)| i)
            .ok_or_else(|| anyhow!("case has no input '{name}'"))
    }

    /// The input named `name`, if present.
    pub fn opt(&self, name: &str) -> Option<&Input> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, i)| i)
    }

    /// The real input named `name`.
    pub fn real(&self, name: &str) -> Result<Tensor> {
        self.get(name)?.real()
    }

    /// True when every input is double precision (the f64 tolerance applies).
    pub fn all_f64(&self) -> bool {
        self.0.iter().all(|(_, i)| i.is_f64())
    }
}

/// Reads a golden scalar that may be a number, a NaN/Infinity string or null (NaN).
pub fn scalar_value(v: &Value) -> Result<f64> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| anyhow!("number out of range")),
        Value::String(s) => match s.as_str() {
            "NaN" | "nan" => Ok(f64::NAN),
            "Infinity" | "inf" => Ok(f64::INFINITY),
            "-Infinity" | "-inf" => Ok(f64::NEG_INFINITY),
            other => bail!("non-numeric scalar '{other}'"),
        },
        Value::Null => Ok(f64::NAN),
        _ => bail!("expected a scalar"),
    }
}

/// Compares a scalar loss to `case.output`.
pub fn compare_output(case: &Value, got: &Tensor, tol: f64) -> Result<Comparison> {
    let want = scalar_value(
        case.get("output")
            .ok_or_else(|| anyhow!("case has no output"))?,
    )?;
    let got = got.to_dtype(DType::F64)?.to_scalar::<f64>()?;
    Ok(Comparison::real("output", &[got], &[want], tol))
}

fn grad_values(grads: &GradStore, var: &Var) -> Result<Vec<f64>> {
    Ok(match grads.get(var.as_tensor()) {
        Some(g) => g.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?,
        None => vec![0.0; var.elem_count()],
    })
}

/// Compares our gradients to every array of `case.grads` (missing `grads` → no comparisons).
pub fn compare_grads(
    case: &Value,
    inputs: &Inputs,
    grads: &GradStore,
    tol: f64,
) -> Result<Vec<Comparison>> {
    let Some(obj) = case.get("grads").and_then(Value::as_object) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (name, v) in obj {
        let want = GoldenArray::from_value(v).map_err(|e| anyhow!("grad '{name}': {e:#}"))?;
        let what = format!("grad[{name}]");
        let c = match inputs.get(name)? {
            Input::Real(var) => Comparison::real(what, &grad_values(grads, var)?, &want.data, tol),
            Input::Complex(re, im) => {
                let got: Vec<Complex64> = grad_values(grads, re)?
                    .into_iter()
                    .zip(grad_values(grads, im)?)
                    .map(|(r, i)| Complex64::new(r, i))
                    .collect();
                Comparison::complex(what, &got, &want.complex(), tol)
            }
            Input::Fixed(_) => bail!("golden has a gradient for non-float input '{name}'"),
        };
        out.push(c);
    }
    Ok(out)
}

/// Value and gradient comparisons of a differentiable scalar loss.
pub fn compare_loss(
    case: &Value,
    inputs: &Inputs,
    loss: &Tensor,
    value_tol: f64,
    grad_tol: f64,
) -> Result<Vec<Comparison>> {
    let mut out = vec![compare_output(case, loss, value_tol)?];
    if case.get("grads").and_then(Value::as_object).is_some() {
        let grads = loss.backward()?;
        out.extend(compare_grads(case, inputs, &grads, grad_tol)?);
    }
    Ok(out)
}

/// The case's expected error (`"ValueError: text"`) split into (type, text), if any.
pub fn expected_error(case: &Value) -> Option<(String, String)> {
    let e = case.get("error")?;
    let s = e
        .as_str()
        .map(str::to_string)
        .or_else(|| {
            let t = e.get("type").and_then(Value::as_str)?;
            let m = e.get("message").and_then(Value::as_str).unwrap_or("");
            Some(format!("{t}: {m}"))
        })
        .unwrap_or_else(|| e.to_string());
    Some(match s.split_once(": ") {
        Some((t, m)) if !t.contains(' ') => (t.to_string(), m.to_string()),
        _ => (String::new(), s),
    })
}

/// Checks that our call failed with the expected error text.
pub fn compare_error<T, E: std::fmt::Display>(
    expected: &(String, String),
    got: std::result::Result<T, E>,
) -> Comparison {
    let (kind, text) = expected;
    match got {
        Ok(_) => Comparison::failed(
            "error",
            format!("expected {kind} '{text}', but the call succeeded"),
        ),
        Err(e) => {
            let msg = e.to_string();
            let ok = normalise_ws(&msg) == normalise_ws(text);
            Comparison::exact(
                "error",
                ok,
                (!ok).then(|| format!("expected {kind} '{text}', got '{msg}'")),
            )
        }
    }
}

/// Collapses runs of whitespace (Python sources wrap long messages with indentation).
fn normalise_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Value/gradient tolerances: 1e-9 for all-f64 cases, else single-precision ones.
pub fn tolerances(inputs: &Inputs) -> (f64, f64) {
    if inputs.all_f64() {
        (1e-9, 1e-9)
    } else {
        (1e-6, 1e-4)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{check_file, families};
    use serde_json::{json, Value};
    use std::path::PathBuf;

    fn family(name: &str) -> super::super::Family {
        families().into_iter().find(|f| f.name == name).unwrap()
    }

    fn arr(shape: &[usize], data: Vec<f64>) -> Value {
        json!({"shape": shape, "dtype": "f64", "data": data})
    }

    #[test]
    fn public_golden_files_of_the_loss_families_pass() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/golden");
        for stem in [
            "hrtf_loss",
            "auralflow_component_loss",
            "auralflow_kl_div_loss",
            "drdmannturb_loss_aggregator",
        ] {
            let reports = check_file(&dir.join(format!("{stem}.json")))
                .unwrap()
                .unwrap();
            assert!(!reports.is_empty());
            for r in reports {
                assert!(
                    r.passed(),
                    "{stem}/{}: {:?} {:?}",
                    r.case,
                    r.error,
                    r.comparisons
                );
            }
        }
    }

    #[test]
    fn expected_validation_errors_are_matched_by_text() {
        let check = family("hrtf_loss").check;
        let inputs =
            json!({"prediction": arr(&[2], vec![1.0, 2.0]), "target": arr(&[2], vec![1.0, 1.0])});
        let case = |params: Value, error: &str| json!({"name": "e", "params": params, "inputs": inputs.clone(), "output": null, "error": error});
        let ok = |c: &Value| check(c).unwrap().iter().all(|c| c.passed);
        assert!(ok(&case(
            json!({"metric": "L2", "input_scale": "db", "reduction_method": "mean", "epsilon": 1e-12}),
            "ValueError: metric must be one of: rmse, mae, lsd"
        )));
        assert!(ok(&case(
            json!({"metric": " RMSE", "input_scale": "db", "reduction_method": "mean", "epsilon": true}),
            "ValueError: epsilon must be a finite, positive value."
        )));
        // A wrong expectation, and an expected error on a valid call, must both fail.
        assert!(!ok(&case(
            json!({"metric": "L2", "input_scale": "db", "reduction_method": "mean", "epsilon": 1e-12}),
            "ValueError: input_scale must be one of: db, linear"
        )));
        assert!(!ok(&case(
            json!({"metric": "rmse", "input_scale": "db", "reduction_method": "mean", "epsilon": 1e-12}),
            "ValueError: metric must be one of: rmse, mae, lsd"
        )));
        let agg = family("drdmannturb_loss_aggregator").check;
        let c = json!({
            "name": "reg_without_nn",
            "params": {"LossParameters": {"alpha_pen1": 0.0, "alpha_pen2": 0.0, "beta_reg": 0.1},
                       "zref": 1.0, "epoch": 0, "method": "eval(y, y_data, theta_NN=None, epoch=0)"},
            "inputs": {"y": arr(&[1, 3], vec![1.0, 2.0, 3.0]), "y_data": arr(&[1, 3], vec![1.0, 2.0, 2.0])},
            "output": null,
            "error": "ValueError: Regularization loss requires a neural network model to be used. Set the regularization hyperparameter                (beta_reg) to 0 if using a non-neural network model."
        });
        assert!(agg(&c).unwrap().iter().all(|c| c.passed));
    }

    #[test]
    fn a_wrong_golden_value_or_gradient_fails() {
        let check = family("auralflow_kl_div_loss").check;
        let mut c = json!({
            "name": "kl",
            "params": {},
            "inputs": {"mu": arr(&[2], vec![1.0, 0.0]), "sigma": arr(&[2], vec![1.0, 1.0])},
            "output": 0.25,
            "grads": {"mu": arr(&[2], vec![0.5, 0.0]), "sigma": arr(&[2], vec![0.0, 0.0])}
        });
        assert!(check(&c).unwrap().iter().all(|c| c.passed));
        c["output"] = json!(0.25 + 1e-8);
        assert!(!check(&c).unwrap().iter().all(|c| c.passed));
        c["output"] = json!(0.25);
        c["grads"]["mu"] = arr(&[2], vec![0.5, 1e-6]);
        assert!(!check(&c).unwrap().iter().all(|c| c.passed));
    }
}
