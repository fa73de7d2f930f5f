//! Golden family `pyfdn_train_objective`: the pyFDN objectives `FlatMagnitude() + 0.2·Sparsity`
//! and `MatchSpectrogram(target) + 0.2·Sparsity` on a model built by `build_fdn`.
//!
//! Checked: the realised feedback matrix expm(skew(W)) against `params.feedback_A`, the model
//! impulse response (f64 FDN frequency response + anti-alias iFFT, `tailor::response`) against
//! `aux.impulse_response_h`, both unweighted terms, the objective value, and the gradients
//! w.r.t. the raw trainable parameters (input_gain, fB, output_gain) through the differentiable
//! FDN response op (`tailor::train::FdnResponse`, analytic adjoint) at 1e-6 relative.
//! **Not checked:** the `train_fdn` loss trajectory (`aux.train_fdn_first5_losses`).

use super::fdn_loss_common::{grad_cmps, input_var, scalar_output, tensor, value_cmp};
use super::flamo_mss_loss::VALUE_TOL as SPECTROGRAM_TOL;
use super::Comparison;
use crate::golden::array;
use anyhow::{anyhow, bail, Context, Result};
use candle_core::{Device, Tensor};
use serde_json::Value;
use tailor::loss::mel::MelMssLoss;
use tailor::loss::mss::{MssForm, MssLoss, SpectrogramLossConfig};
use tailor::loss::objective::{PrimaryLoss, TrainObjective};
use tailor::loss::sparsity::orthogonal_map;
use tailor::preset::Limits;
use tailor::response::{frequency_response, impulse_response_fft};
use tailor::sos::SosBank;
use tailor::train::{FdnInputs, FdnOutput, FdnResponse, FdnSpec, Hook};
use tailor::{Build, BuildParts, Matrix};

/// Tolerance for f64 quantities.
const TOL: f64 = 1e-9;

/// Relative tolerance of the parameter gradients (the acceptance bound of the trainer issue).
const GRAD_TOL: f64 = 1e-6;

fn matrix_of(t: &Tensor) -> Result<Matrix> {
    let (r, c) = t.dims2()?;
    Matrix::from_row_major(r, c, t.flatten_all()?.to_vec1::<f64>()?).context("matrix shape")
}

/// torch `softplus` (beta 1, threshold 20).
fn softplus(x: f64) -> f64 {
    if x > 20.0 {
        x
    } else {
        x.exp().ln_1p()
    }
}

/// pyFDN `AttenuationFilter(design="first_order_shelf")` for a scalar or (dc, nyquist) `rt`:
/// soft floor f = max_i m_i/fs, RT_eff = f·(1 + softplus((RT − f)/f)), then the 0.5 shelf design.
fn attenuation_shelf(rt: &Value, delays: &[usize], fs: f64) -> Result<SosBank> {
    let (dc, ny) = match rt {
        Value::Number(n) => {
            let t = n.as_f64().context("rt")?;
            (t, t)
        }
        Value::Array(v) if v.len() == 2 => (
            v[0].as_f64().context("rt[0]")?,
            v[1].as_f64().context("rt[1]")?,
        ),
        other => bail!("unsupported rt {other}"),
    };
    let f = delays.iter().copied().max().unwrap_or(0) as f64 / fs;
    let eff = |r: f64| f * (1.0 + softplus((r - f) / f));
    Ok(tailor::decay::decay_to_first_order_shelf(
        eff(dc),
        eff(ny),
        None,
        delays,
        fs,
    )?)
}

/// Parses "Primary(...) + w * Sparsity(...)" → (primary name, sparsity weight).
fn parse_objective(s: &str) -> Result<(String, f64)> {
    let primary = s
        .split('(')
        .next()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| anyhow!("cannot parse objective '{s}'"))?
        .to_string();
    let weight = match s.find("Sparsity") {
        None => 0.0,
        Some(pos) => {
            let head = &s[..pos];
            let plus = head
                .rfind('+')
                .ok_or_else(|| anyhow!("cannot parse objective '{s}'"))?;
            let w = head[plus + 1..].trim().trim_end_matches('*').trim();
            if w.is_empty() {
                1.0
            } else {
                w.parse()
                    .with_context(|| format!("sparsity weight in '{s}'"))?
            }
        }
    };
    Ok((primary, weight))
}

/// Checks one case.
pub fn check(case: &Value) -> Result<Vec<Comparison>> {
    let params = case.get("params").context("case has no params")?;
    let bf = params
        .get("build_fdn")
        .context("params.build_fdn missing")?;
    let aux = case.get("aux").context("case has no aux")?;
    let want = scalar_output(case)?;
    let delays: Vec<usize> = bf
        .get("delays")
        .and_then(Value::as_array)
        .context("build_fdn.delays")?
        .iter()
        .map(|d| {
            d.as_u64()
                .map(|d| d as usize)
                .context("delays must be integers")
        })
        .collect::<Result<_>>()?;
    let nfft = bf
        .get("nfft")
        .and_then(Value::as_u64)
        .context("build_fdn.nfft")? as usize;
    let fs = bf.get("fs").and_then(Value::as_f64).unwrap_or(48000.0);
    let rt_given = bf.get("rt").is_some_and(|v| !v.is_null());
    let alias = match bf.get("alias_decay_db").and_then(Value::as_f64) {
        Some(a) => a,
        None if rt_given => 0.0,
        None => 60.0,
    };
    if bf
        .get("matrix")
        .and_then(Value::as_str)
        .unwrap_or("orthogonal")
        != "orthogonal"
    {
        bail!("only the orthogonal feedback parametrisation is supported");
    }

    let w = input_var(case, "fB")?;
    let a = orthogonal_map(w.as_tensor())?;
    let b_var = input_var(case, "input_gain")?;
    let c_var = input_var(case, "output_gain")?;
    let (b, c) = (b_var.as_tensor().clone(), c_var.as_tensor().clone());
    let (n_out, n_in) = (c.dims2()?.0, b.dims2()?.1);
    let mut out = Vec::new();
    let designed = match bf.get("rt") {
        Some(rt) if rt_given => Some(attenuation_shelf(rt, &delays, fs)?),
        _ => None,
    };
    // The stored bank (when present) is what the model used; our own design is checked against it.
    let post_delay = match (aux.get("post_delay_sos"), designed) {
        (Some(_), designed) => {
            let s = array(aux, "post_delay_sos")?;
            if s.shape.len() != 3 || s.shape[1] != 6 {
                bail!(
                    "aux.post_delay_sos must be (sections, 6, N), got {:?}",
                    s.shape
                );
            }
            if let Some(d) = designed {
                let got: Vec<f64> = d.to_nested().into_iter().flatten().flatten().collect();
                out.push(Comparison::real(
                    "post_delay_sos (shelf design)",
                    &got,
                    &s.data,
                    TOL,
                ));
            }
            Some(SosBank::new(s.shape[0], s.shape[2], s.data.clone())?)
        }
        (None, designed) => designed,
    };
    let build = Build::with_limits(
        BuildParts {
            a: matrix_of(&a)?,
            b: matrix_of(&b)?,
            c: matrix_of(&c)?,
            d: Matrix::zeros(n_out, n_in),
            delays,
            sample_rate: fs,
            post_delay: post_delay.clone(),
            post_matrix: None,
            post_output: None,
            output_mix: None,
            metadata: Default::default(),
        },
        &Limits::default(),
    )?;
    let ir = impulse_response_fft(&frequency_response(&build, nfft, alias));

    if let Some(fa) = params.get("feedback_A").and_then(Value::as_array) {
        let want_a: Vec<f64> = fa
            .iter()
            .flat_map(|r| r.as_array().cloned().unwrap_or_default())
            .filter_map(|x| x.as_f64())
            .collect();
        out.push(Comparison::real(
            "feedback_A = expm(skew(fB))",
            &a.flatten_all()?.to_vec1::<f64>()?,
            &want_a,
            TOL,
        ));
    }
    if aux.get("impulse_response_h").is_some() {
        let want_h = array(aux, "impulse_response_h")?;
        out.push(Comparison::real(
            "impulse_response_h",
            &ir.data,
            &want_h.data,
            TOL,
        ));
    }

    // The differentiable op must reproduce the f64 reference response it is trained through.
    let op = FdnResponse::new(&FdnSpec {
        delays: build.delays().to_vec(),
        n_in,
        n_out,
        nfft,
        alias_decay_db: alias,
        post_delay: post_delay.map_or(Hook::None, Hook::Frozen),
        post_matrix: None,
        post_output: Hook::None,
        output: FdnOutput::Time,
    })?;
    let d = Tensor::zeros((n_out, n_in), candle_core::DType::F64, &Device::Cpu)?;
    let h = op.forward(&FdnInputs {
        a: &a,
        b: &b,
        c: &c,
        d: &d,
        post_delay: None,
        post_output: None,
    })?;
    out.push(Comparison::real(
        "FDN op response vs tailor::response",
        &h.flatten_all()?.to_vec1::<f64>()?,
        &ir.data,
        TOL,
    ));
    let objective = params
        .get("objective")
        .and_then(Value::as_str)
        .context("params.objective")?;
    let (primary_name, weight) = parse_objective(objective)?;
    let spectro_cfg = || SpectrogramLossConfig {
        nfft: vec![256, 512, 1024],
        sample_rate: fs as u32,
        ..Default::default()
    };
    let target = || -> Result<Tensor> { tensor(&array(aux, "target_ir")?) };
    let (primary, tol) = match primary_name.as_str() {
        "FlatMagnitude" => (
            PrimaryLoss::FlatMagnitude {
                target: 1.0,
                channels: tailor::loss::colorless::ChannelReduce::Sum,
            },
            TOL,
        ),
        "MatchSpectrogram" => (
            PrimaryLoss::MatchSpectrogram {
                target: target()?,
                loss: Box::new(MssLoss::new(spectro_cfg(), MssForm::Plain)?),
            },
            SPECTROGRAM_TOL,
        ),
        "MatchMelSpectrogram" => (
            PrimaryLoss::MatchMelSpectrogram {
                target: target()?,
                loss: Box::new(MelMssLoss::new(spectro_cfg())?),
            },
            SPECTROGRAM_TOL,
        ),
        other => bail!("unsupported primary loss '{other}'"),
    };
    let mut obj = TrainObjective {
        primary,
        sparsity_weight: weight,
    };
    let terms = obj.evaluate(&h, &a)?;
    if let Some(p) = aux.pointer("/terms/primary").and_then(Value::as_f64) {
        out.push(value_cmp("terms.primary", &terms.primary, p, tol)?);
    }
    if let (Some(s), Some(got)) = (
        aux.pointer("/terms/sparsity").and_then(Value::as_f64),
        &terms.sparsity,
    ) {
        out.push(value_cmp("terms.sparsity", got, s, TOL)?);
    }
    out.push(value_cmp("value", &terms.total, want, tol)?);
    if case.get("grads").is_some() {
        let grads = terms.total.backward()?;
        out.extend(grad_cmps(
            case,
            &grads,
            &[("input_gain", &b_var), ("fB", &w), ("output_gain", &c_var)],
            GRAD_TOL,
        )?);
    }
    Ok(out)
}
