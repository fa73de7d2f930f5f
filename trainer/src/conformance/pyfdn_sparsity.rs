//! Golden family `pyfdn_sparsity`: pyFDN `Sparsity` / FLAMO `sparsity_loss` on a matrix A
//! (identity map) or on W through the orthogonal map A = expm(W_u − W_uᵀ); values and gradients.

use super::fdn_loss_common::{grad_cmps, has_input, input_var, scalar_output, value_cmp};
use super::Comparison;
use crate::golden::array;
use anyhow::{anyhow, Result};
use serde_json::Value;
use tailor::loss::sparsity::{flamo_sparsity, orthogonal_map, sparsity};

/// Tolerance (max relative error) for values and gradients.
const TOL: f64 = 1e-9;

/// Checks one case: `inputs.A` (2-D or 3-D) or `inputs.W` (+ `aux.A`, the realised matrix).
pub fn check(case: &Value) -> Result<Vec<Comparison>> {
    let want = scalar_output(case)?;
    if has_input(case, "A") {
        let a = input_var(case, "A")?;
        let loss = if a.as_tensor().rank() == 3 {
            flamo_sparsity(a.as_tensor())?
        } else {
            sparsity(a.as_tensor())?
        };
        let grads = loss.backward()?;
        let mut out = vec![value_cmp("value", &loss, want, TOL)?];
        out.extend(grad_cmps(case, &grads, &[("A", &a)], TOL)?);
        Ok(out)
    } else if has_input(case, "W") {
        let w = input_var(case, "W")?;
        let a = orthogonal_map(w.as_tensor())?;
        let loss = sparsity(&a)?;
        let grads = loss.backward()?;
        let mut out = vec![value_cmp("value", &loss, want, TOL)?];
        if let Some(aux) = case.get("aux").filter(|x| x.get("A").is_some()) {
            let want_a = array(aux, "A")?;
            let got = a.flatten_all()?.to_vec1::<f64>()?;
            out.push(Comparison::real("aux[A]", &got, &want_a.data, TOL));
        }
        out.extend(grad_cmps(case, &grads, &[("W", &w)], TOL)?);
        Ok(out)
    } else {
        Err(anyhow!("case has neither inputs.A nor inputs.W"))
    }
}
