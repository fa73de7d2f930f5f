//! Golden family `flamo_mel_mss_loss`: FLAMO `mel_mss_loss`, pyFDN `MatchMelSpectrogram` and
//! nnAudio's Slaney mel filterbanks; values, per-resolution values and gradients (float32
//! reference kernels: 1e-6 values, 1e-4 gradients; filterbanks 1e-6).

use super::fdn_loss_common::{
    grad_cmps, has_input, input_var, per_nfft, scalar_output, spectrogram_kwargs, tensor, value_cmp,
};
use super::flamo_mss_loss::{match_defaults, GRAD_TOL, VALUE_TOL};
use super::Comparison;
use crate::golden::array;
use anyhow::{anyhow, Context, Result};
use serde_json::Value;
use tailor::loss::mel::{mel_filterbank, MelMssLoss};
use tailor::loss::mss::SpectrogramLossConfig;
use tailor::loss::objective::match_mel_spectrogram;

/// Checks a `mel_filterbank_*` case: dense `(n_mels, n_fft/2+1)` filterbank vs the stored
/// nonzero triplets (zeros elsewhere).
fn check_filterbank(case: &Value) -> Result<Vec<Comparison>> {
    let params = case.get("params").context("case has no params")?;
    let get = |k: &str| {
        params
            .get(k)
            .and_then(Value::as_f64)
            .with_context(|| format!("params.{k}"))
    };
    let n_fft = get("n_fft")? as usize;
    let (sr, n_mels) = (get("sr")?, get("n_mels")? as usize);
    let (fmin, fmax) = (get("fmin")?, get("fmax")?);
    let output = case.get("output").context("case has no output")?;
    let bins = n_fft / 2 + 1;
    let mut want = vec![0.0; n_mels * bins];
    let rows = array(output, "rows")?.ints();
    let cols = array(output, "cols")?.ints();
    let values = array(output, "values")?;
    for ((r, c), v) in rows.iter().zip(&cols).zip(&values.data) {
        let (r, c) = (*r as usize, *c as usize);
        if r >= n_mels || c >= bins {
            anyhow::bail!("triplet ({r}, {c}) outside ({n_mels}, {bins})");
        }
        want[r * bins + c] = *v;
    }
    let got = mel_filterbank(sr, n_fft, n_mels, fmin, fmax);
    let mut out = vec![Comparison::real("mel_basis", &got, &want, VALUE_TOL)];
    let nonzero_got = got.iter().filter(|v| **v != 0.0).count();
    out.push(Comparison::exact(
        "mel_basis nonzero count",
        nonzero_got == rows.len(),
        Some(format!("{nonzero_got} vs {}", rows.len())),
    ));
    Ok(out)
}

/// Checks one case: mel filterbank, `inputs.y_pred`/`inputs.y_true` with `params.kwargs`, or
/// `inputs.h` with `aux.target` (pyFDN MatchMelSpectrogram).
pub fn check(case: &Value) -> Result<Vec<Comparison>> {
    if case.pointer("/output/rows").is_some() {
        return check_filterbank(case);
    }
    let want = scalar_output(case)?;
    if has_input(case, "y_pred") {
        let (cfg, form) = spectrogram_kwargs(case.pointer("/params/kwargs"))?;
        if let Some(f) = form {
            anyhow::bail!("mel_mss_loss has no form argument (got '{f}')");
        }
        let p = input_var(case, "y_pred")?;
        let t = input_var(case, "y_true")?;
        let value = MelMssLoss::new(cfg.clone())?.forward(p.as_tensor(), t.as_tensor())?;
        let grads = value.backward()?;
        let mut out = vec![value_cmp("value", &value, want, VALUE_TOL)?];
        for (n, want_n) in per_nfft(case) {
            let single = SpectrogramLossConfig {
                nfft: vec![n],
                ..cfg.clone()
            };
            let v = MelMssLoss::new(single)?.forward(p.as_tensor(), t.as_tensor())?;
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
        let (cfg, _) = match_defaults(case)?;
        let h = input_var(case, "h")?;
        let aux = case
            .get("aux")
            .ok_or_else(|| anyhow!("case has no aux.target"))?;
        let target = tensor(&array(aux, "target")?)?;
        let value = match_mel_spectrogram(h.as_tensor(), &target, &mut MelMssLoss::new(cfg)?)?;
        let grads = value.backward()?;
        let mut out = vec![value_cmp("value", &value, want, VALUE_TOL)?];
        out.extend(grad_cmps(case, &grads, &[("h", &h)], GRAD_TOL)?);
        Ok(out)
    } else {
        Err(anyhow!("case has neither inputs.y_pred nor inputs.h"))
    }
}
