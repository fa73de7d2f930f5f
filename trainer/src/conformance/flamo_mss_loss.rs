//! Golden family `flamo_mss_loss`: FLAMO `mss_loss` (all forms, log term, energy norm, mask,
//! multi-channel reshape, 1-D inputs) and pyFDN `MatchSpectrogram`; values, per-resolution values
//! and gradients. The reference kernels are float32 (nnAudio), so the tolerances are 1e-6 for
//! values and 1e-4 for gradients.

use super::fdn_loss_common::{
    grad_cmps, has_input, input_var, per_nfft, scalar_output, spectrogram_kwargs, tensor, value_cmp,
};
use super::Comparison;
use crate::golden::array;
use anyhow::{anyhow, Result};
use serde_json::Value;
use tailor::loss::mss::{MssForm, MssLoss, SpectrogramLossConfig};
use tailor::loss::objective::match_spectrogram;

/// Value tolerance (max relative error).
pub const VALUE_TOL: f64 = 1e-6;
/// Gradient tolerance (max relative error).
pub const GRAD_TOL: f64 = 1e-4;

/// pyFDN `MatchSpectrogram` defaults: FLAMO options with nfft (256, 512, 1024) and sr = fs.
pub fn match_defaults(case: &Value) -> Result<(SpectrogramLossConfig, Option<String>)> {
    let params = case.get("params");
    let (mut cfg, form) = spectrogram_kwargs(params.and_then(|p| p.get("kwargs")))?;
    if params.and_then(|p| p.pointer("/kwargs/nfft")).is_none() {
        cfg.nfft = vec![256, 512, 1024];
    }
    if let Some(fs) = params.and_then(|p| p.get("fs")).and_then(Value::as_f64) {
        cfg.sample_rate = fs as u32;
    }
    Ok((cfg, form))
}

/// Checks one case: `inputs.y_pred`/`inputs.y_true` with `params.kwargs`, or `inputs.h` with
/// `aux.target` (pyFDN MatchSpectrogram).
pub fn check(case: &Value) -> Result<Vec<Comparison>> {
    let want = scalar_output(case)?;
    if has_input(case, "y_pred") {
        let (cfg, form) = spectrogram_kwargs(case.pointer("/params/kwargs"))?;
        let form = MssForm::parse(form.as_deref());
        let p = input_var(case, "y_pred")?;
        let t = input_var(case, "y_true")?;
        let mut loss = MssLoss::new(cfg.clone(), form.clone())?;
        let value = loss.forward(p.as_tensor(), t.as_tensor())?;
        let grads = value.backward()?;
        let mut out = vec![value_cmp("value", &value, want, VALUE_TOL)?];
        for (n, want_n) in per_nfft(case) {
            let single = SpectrogramLossConfig {
                nfft: vec![n],
                ..cfg.clone()
            };
            let v = MssLoss::new(single, form.clone())?.forward(p.as_tensor(), t.as_tensor())?;
            out.push(value_cmp(&format!("per_nfft[{n}]"), &v, want_n, VALUE_TOL)?);
        }
        out.extend(grad_cmps(
            case,
            &grads,
            &[("y_pred", &p), ("y_true", &t)],
            GRAD_TOL,
        )?);
        Ok(out)
    } else if has_input(case, "h") {
        let (cfg, form) = match_defaults(case)?;
        let h = input_var(case, "h")?;
        let aux = case
            .get("aux")
            .ok_or_else(|| anyhow!("case has no aux.target"))?;
        let target = tensor(&array(aux, "target")?)?;
        let mut loss = MssLoss::new(cfg, MssForm::parse(form.as_deref()))?;
        let value = match_spectrogram(h.as_tensor(), &target, &mut loss)?;
        let grads = value.backward()?;
        let mut out = vec![value_cmp("value", &value, want, VALUE_TOL)?];
        out.extend(grad_cmps(case, &grads, &[("h", &h)], GRAD_TOL)?);
        Ok(out)
    } else {
        Err(anyhow!("case has neither inputs.y_pred nor inputs.h"))
    }
}
