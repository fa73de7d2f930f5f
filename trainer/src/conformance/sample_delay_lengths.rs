//! Golden family `sample_delay_lengths`: the deterministic snapping step exactly, and the
//! properties of draws (numpy's RNG streams are not reproduced, see tailor::delays).

use super::Comparison;
use crate::golden::array;
use anyhow::{anyhow, Result};
use serde_json::Value;
use tailor::delays::{
    nearest_coprime, pairwise_coprime, sample_delay_lengths, snap_targets, DelayOptions,
};

/// Checks one case.
pub fn check(case: &Value) -> Result<Vec<Comparison>> {
    let params = case
        .get("params")
        .ok_or_else(|| anyhow!("case has no params"))?;
    let want: Vec<u64> = array(case, "output")?
        .ints()
        .into_iter()
        .map(|x| x as u64)
        .collect();
    let function = params.get("function").and_then(Value::as_str).unwrap_or("");
    let mut out = Vec::new();
    if function.contains("nearest_coprime") {
        let targets = array(
            case.get("inputs")
                .ok_or_else(|| anyhow!("inputs missing"))?,
            "targets",
        )?;
        let low_clip = params.get("low_clip").and_then(Value::as_u64).unwrap_or(2);
        let got = nearest_coprime(&targets.data, low_clip);
        out.push(Comparison::exact(
            "nearest_coprime",
            got == want,
            (got != want).then(|| format!("got {got:?}, expected {want:?}")),
        ));
        return Ok(out);
    }
    let n = params
        .get("N")
        .and_then(Value::as_u64)
        .ok_or_else(|| anyhow!("params.N missing"))? as usize;
    let range = params
        .get("delay_range")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow!("params.delay_range missing"))?;
    let opts = DelayOptions {
        range: (
            range[0].as_f64().unwrap_or(f64::NAN),
            range[1].as_f64().unwrap_or(f64::NAN),
        ),
        distribution: params
            .get("distribution")
            .and_then(Value::as_str)
            .unwrap_or("uniform")
            .parse()?,
        coprime: params
            .get("coprime")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        sort: params.get("sort").and_then(Value::as_bool).unwrap_or(false),
    };
    let aux = case.get("aux");
    // The snapping of the recorded real-valued draws must reproduce the output exactly.
    if let Some(raw) = aux.and_then(|a| a.get("raw_targets")) {
        let raw = crate::golden::GoldenArray::from_value(raw)?;
        let mut got = snap_targets(&raw.data, opts.coprime, 2);
        if opts.sort {
            got.sort_unstable();
        }
        out.push(Comparison::exact(
            "snap(raw_targets)",
            got == want,
            (got != want).then(|| format!("got {got:?}, expected {want:?}")),
        ));
    }
    // The recorded properties must hold for the reference output as our checks compute them.
    if let Some(props) = aux.and_then(|a| a.get("properties")) {
        if let Some(pc) = props.get("pairwise_coprime").and_then(Value::as_bool) {
            out.push(Comparison::exact(
                "properties.pairwise_coprime",
                pairwise_coprime(&want) == pc,
                None,
            ));
        }
        if let Some(mn) = props.get("min").and_then(Value::as_u64) {
            out.push(Comparison::exact(
                "properties.min",
                want.iter().min() == Some(&mn),
                None,
            ));
        }
        if let Some(mx) = props.get("max").and_then(Value::as_u64) {
            out.push(Comparison::exact(
                "properties.max",
                want.iter().max() == Some(&mx),
                None,
            ));
        }
    }
    // Our own seeded draw with the same parameters must have the same structural properties.
    let ours = sample_delay_lengths(n, &opts, 1301)?;
    let mut ok = ours.len() == n;
    if opts.coprime {
        let mut d = ours.clone();
        d.sort_unstable();
        d.dedup();
        ok &= pairwise_coprime(&ours) && d.len() == n;
    }
    if opts.sort {
        ok &= ours.windows(2).all(|w| w[0] <= w[1]);
    }
    out.push(Comparison::exact(
        "tailor draw properties",
        ok,
        (!ok).then(|| format!("draw {ours:?}")),
    ));
    Ok(out)
}
