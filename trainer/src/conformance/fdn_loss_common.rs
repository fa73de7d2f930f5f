//! Shared plumbing for the FDN-loss golden families: golden arrays as candle `Var`s (f64, CPU),
//! scalar outputs, gradient comparisons and FLAMO spectrogram-loss options.

use super::Comparison;
use crate::golden::{array, GoldenArray};
use anyhow::{anyhow, Context, Result};
use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor, Var};
use serde_json::Value;
use tailor::loss::mss::SpectrogramLossConfig;

/// A golden real array as an f64 CPU tensor.
pub fn tensor(a: &GoldenArray) -> Result<Tensor> {
    if a.is_complex() {
        anyhow::bail!("expected a real array, got dtype {}", a.dtype);
    }
    Ok(Tensor::from_vec(
        a.data.clone(),
        a.shape.as_slice(),
        &Device::Cpu,
    )?)
}

/// `case.inputs[key]` as a differentiable f64 CPU variable.
pub fn input_var(case: &Value, key: &str) -> Result<Var> {
    let inputs = case
        .get("inputs")
        .ok_or_else(|| anyhow!("case has no inputs"))?;
    let a = array(inputs, key)?;
    Ok(Var::from_tensor(&tensor(&a)?)?)
}

/// True when `case.inputs` has `key`.
pub fn has_input(case: &Value, key: &str) -> bool {
    case.pointer(&format!("/inputs/{key}")).is_some()
}

/// `case.output` as a number.
pub fn scalar_output(case: &Value) -> Result<f64> {
    case.get("output")
        .and_then(Value::as_f64)
        .ok_or_else(|| anyhow!("case output is not a number"))
}

/// Compares a scalar value.
pub fn value_cmp(what: &str, got: &Tensor, want: f64, tol: f64) -> Result<Comparison> {
    let g = got.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?;
    Ok(Comparison::real(what, &[g], &[want], tol))
}

/// Compares the gradient of every input that has a golden `grads` entry.
pub fn grad_cmps(
    case: &Value,
    grads: &GradStore,
    vars: &[(&str, &Var)],
    tol: f64,
) -> Result<Vec<Comparison>> {
    let mut out = Vec::new();
    let Some(want_all) = case.get("grads") else {
        return Ok(out);
    };
    for (name, var) in vars {
        if want_all.get(*name).is_none() {
            continue;
        }
        let want = array(want_all, name)?;
        let what = format!("grad[{name}]");
        match grads.get(var.as_tensor()) {
            Some(g) => {
                let g = g.flatten_all()?.to_vec1::<f64>()?;
                out.push(Comparison::real(what, &g, &want.data, tol));
            }
            None => out.push(Comparison::failed(
                what,
                "no gradient reached this input".into(),
            )),
        }
    }
    Ok(out)
}

/// FLAMO `mss_loss`/`mel_mss_loss` keyword arguments → options and `form`.
pub fn spectrogram_kwargs(
    kwargs: Option<&Value>,
) -> Result<(SpectrogramLossConfig, Option<String>)> {
    let mut cfg = SpectrogramLossConfig::default();
    let mut form = None;
    let Some(kw) = kwargs.and_then(Value::as_object) else {
        return Ok((cfg, form));
    };
    for (k, v) in kw {
        let num = || {
            v.as_f64()
                .with_context(|| format!("kwargs.{k} must be a number"))
        };
        let flag = || {
            v.as_bool()
                .with_context(|| format!("kwargs.{k} must be a boolean"))
        };
        match k.as_str() {
            "nfft" => {
                cfg.nfft = v
                    .as_array()
                    .context("kwargs.nfft must be a list")?
                    .iter()
                    .map(|x| {
                        x.as_u64()
                            .map(|n| n as usize)
                            .context("nfft entries must be integers")
                    })
                    .collect::<Result<_>>()?
            }
            "overlap" => cfg.overlap = num()?,
            "sample_rate" => cfg.sample_rate = num()? as u32,
            "energy_norm" => cfg.energy_norm = flag()?,
            "apply_mask" => cfg.apply_mask = flag()?,
            "threshold" => cfg.threshold = num()?,
            "p" => {
                cfg.p = match v {
                    Value::String(s) if s == "fro" => 2.0,
                    _ => num()?,
                }
            }
            "log_term" => cfg.log_term = flag()?,
            "alpha" => cfg.alpha = num()?,
            "noise_energy" => cfg.noise_energy = v.as_f64(),
            "form" => form = v.as_str().map(str::to_string),
            "device" | "name" => {}
            other => anyhow::bail!("unsupported kwarg '{other}'"),
        }
    }
    Ok((cfg, form))
}

/// `aux.per_nfft` (window size → value), if present.
pub fn per_nfft(case: &Value) -> Vec<(usize, f64)> {
    case.pointer("/aux/per_nfft")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.parse().ok()?, v.as_f64()?)))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::super::{check_file, family_for};
    use std::path::PathBuf;

    fn golden(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../data/golden")
            .join(format!("{name}.json"))
    }

    #[test]
    fn public_golden_files_pass_for_every_fdn_loss_family() {
        for name in [
            "pyfdn_colorless_loss",
            "pyfdn_sparsity",
            "flamo_mss_loss",
            "flamo_mel_mss_loss",
            "pyfdn_train_objective",
        ] {
            let reports = check_file(&golden(name))
                .unwrap()
                .expect("family recognised");
            assert!(!reports.is_empty(), "{name}: no cases");
            for r in reports {
                assert_eq!(r.family, name);
                assert!(
                    r.passed(),
                    "{name}/{}: {:?} {:?}",
                    r.case,
                    r.error,
                    r.comparisons
                );
            }
        }
    }

    #[test]
    fn renamed_files_are_recognised_by_source_function() {
        for name in [
            "pyfdn_colorless_loss",
            "pyfdn_sparsity",
            "flamo_mss_loss",
            "flamo_mel_mss_loss",
            "pyfdn_train_objective",
        ] {
            let text = std::fs::read_to_string(golden(name)).unwrap();
            let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
            let fam =
                family_for(std::path::Path::new("renamed.json"), &doc).expect("dispatch by source");
            assert_eq!(fam.name, name);
        }
    }

    #[test]
    fn a_perturbed_expectation_fails() {
        let text = std::fs::read_to_string(golden("flamo_mss_loss")).unwrap();
        let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        let case = &mut doc["cases"][0];
        let v = case["output"].as_f64().unwrap();
        case["output"] = serde_json::json!(v * (1.0 + 1e-5));
        let fam = family_for(&golden("flamo_mss_loss"), &doc).unwrap();
        let cmps = (fam.check)(&doc["cases"][0]).unwrap();
        assert!(cmps.iter().any(|c| !c.passed));
        // A gradient off by 1e-3 relative must fail too (tolerance 1e-4).
        let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        let g = &mut doc["cases"][0]["grads"]["y_pred"]["data"];
        let x = g[5].as_f64().unwrap();
        let scale = g
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_f64())
            .fold(0.0f64, |m, v| m.max(v.abs()));
        g[5] = serde_json::json!(x + 1e-3 * scale);
        let cmps = (fam.check)(&doc["cases"][0]).unwrap();
        assert!(cmps.iter().any(|c| c.what == "grad[y_pred]" && !c.passed));
    }
}
