//! Golden family `fdn_response`: H(z) on the rfft grid, the exact IR and the aliased FFT IR.

use super::Comparison;
use crate::golden::array;
use anyhow::{anyhow, Context, Result};
use serde_json::Value;
use tailor::preset::{Limits, Preset};
use tailor::response::{frequency_response, impulse_response, impulse_response_fft};

/// Tolerance relative to the largest expected magnitude (f64 reference).
const TOL: f64 = 1e-9;

/// Checks one case: `params.preset`, `params.nfft`, `params.ir_len` → `output.*`.
pub fn check(case: &Value) -> Result<Vec<Comparison>> {
    let params = case
        .get("params")
        .ok_or_else(|| anyhow!("case has no params"))?;
    let preset_v = params
        .get("preset")
        .ok_or_else(|| anyhow!("params has no preset"))?;
    let preset = Preset::from_json_value(preset_v, &Limits::default()).context("params.preset")?;
    let build = preset.build();
    let nfft = params
        .get("nfft")
        .and_then(Value::as_u64)
        .ok_or_else(|| anyhow!("params.nfft missing"))? as usize;
    let alias = params
        .get("alias_decay_db")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    let output = case
        .get("output")
        .ok_or_else(|| anyhow!("case has no output"))?;
    let mut out = Vec::new();
    let h = frequency_response(build, nfft, alias);
    if output.get("freq_response").is_some() {
        let want = array(output, "freq_response")?;
        out.push(Comparison::complex(
            "freq_response",
            &h.data,
            &want.complex(),
            TOL,
        ));
    }
    if output.get("impulse_response").is_some() {
        let want = array(output, "impulse_response")?;
        let len = params
            .get("ir_len")
            .and_then(Value::as_u64)
            .map_or(want.shape[0], |x| x as usize);
        let ir = impulse_response(build, len);
        out.push(Comparison::real(
            "impulse_response",
            &ir.data,
            &want.data,
            TOL,
        ));
    }
    if output.get("flamo_time_response").is_some() {
        let want = array(output, "flamo_time_response")?;
        let ir = impulse_response_fft(&h);
        out.push(Comparison::real(
            "flamo_time_response",
            &ir.data,
            &want.data,
            TOL,
        ));
    }
    Ok(out)
}
