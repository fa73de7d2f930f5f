//! Frequency response of an SOS cascade bank as a differentiable candle op, so that trainable
//! hooks (attenuation filters parametrised by RT, output EQ parametrised by dB) can feed the FDN
//! response op.
//!
//! Forward: coefficients `(K, 6, C)` (rows `[b0, b1, b2, a0, a1, a2]`) →
//! `(2, nfft/2 + 1, C)` holding (re, im) of `H_c(z_k) = Π_s N_s(z_k)/D_s(z_k)` at the alias
//! radius `z_k⁻¹ = γ·e^(−jω_k)` (a0 normalises as in FLAMO). FLAMO accumulates the cascade as
//! `exp(Σ ln(|H_s| + 1e-12) + jΣ∠H_s)`; the direct product here differs from it by at most
//! ~1e-12 relative per section.
//!
//! Backward: `∂H/∂b_p = H·z⁻ᵖ/N_s`, `∂H/∂a_p = −H·z⁻ᵖ/D_s`, so for a real loss with
//! Ḡ = ∂L/∂Re H + i·∂L/∂Im H: `∂L/∂θ = Σ_k Re(conj(Ḡ_k)·∂H_k/∂θ)`. CPU, f64 internally, rayon
//! over bin blocks; other devices go through the CPU (see [`super::fdn_op`]).

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, DType, Device, Layout, Shape, Tensor};
use num_complex::Complex64 as C64;
use rayon::prelude::*;
use std::sync::Arc;

use crate::response::alias_factor;

/// SOS cascade response on the rfft grid (see the module docs).
#[derive(Debug, Clone)]
pub struct SosResponse {
    /// z_k⁻¹ for every bin.
    zinv: Arc<Vec<C64>>,
}

impl SosResponse {
    /// Grid of `nfft/2 + 1` bins at the alias radius for `alias_decay_db`.
    pub fn new(nfft: usize, alias_decay_db: f64) -> Self {
        let gamma = alias_factor(nfft, alias_decay_db);
        let two_pi = 2.0 * std::f64::consts::PI;
        let zinv = (0..=nfft / 2)
            .map(|k| C64::from_polar(gamma, -two_pi * k as f64 / nfft as f64))
            .collect();
        Self {
            zinv: Arc::new(zinv),
        }
    }

    /// Number of bins.
    pub fn bins(&self) -> usize {
        self.zinv.len()
    }

    /// Response of `sos` `(K, 6, C)` → `(2, bins, C)`; differentiable w.r.t. the coefficients.
    pub fn forward(&self, sos: &Tensor) -> candle_core::Result<Tensor> {
        let dims = sos.dims();
        if dims.len() != 3 || dims[1] != 6 || dims[0] == 0 || dims[2] == 0 {
            candle_core::bail!("sos must have shape (sections, 6, channels), got {dims:?}");
        }
        let device = sos.device().clone();
        let x = sos.contiguous()?;
        if device.is_cpu() {
            x.apply_op1(self.clone())
        } else {
            x.to_device(&Device::Cpu)?
                .apply_op1(self.clone())?
                .to_device(&device)
        }
    }
}

fn section(x: &[f64], s: usize, ch: usize, c: usize) -> [f64; 6] {
    let mut out = [0.0; 6];
    for (r, v) in out.iter_mut().enumerate() {
        *v = x[(s * 6 + r) * ch + c];
    }
    out
}

fn num_den(q: &[f64; 6], z: C64) -> (C64, C64) {
    let z2 = z * z;
    (z2 * q[2] + z * q[1] + q[0], z2 * q[5] + z * q[4] + q[3])
}

const BLOCK: usize = 512;

/// Responses of the cascades `coef` `(K, 6, C)` at every bin `zinv[k] = z_k⁻¹`, written as planes
/// `re`, `im`, each `(bins, C)`.
pub(crate) fn cascade_response(
    coef: &[f64],
    k_sec: usize,
    ch: usize,
    zinv: &[C64],
    re: &mut [f64],
    im: &mut [f64],
) {
    let secs: Vec<[f64; 6]> = (0..k_sec)
        .flat_map(|s| (0..ch).map(move |c| (s, c)))
        .map(|(s, c)| section(coef, s, ch, c))
        .collect();
    re.par_chunks_mut(BLOCK * ch)
        .zip(im.par_chunks_mut(BLOCK * ch))
        .enumerate()
        .for_each(|(blk, (ro, io))| {
            for (kk, (rr, ir)) in ro.chunks_mut(ch).zip(io.chunks_mut(ch)).enumerate() {
                let z = zinv[blk * BLOCK + kk];
                for c in 0..ch {
                    let mut acc = C64::new(1.0, 0.0);
                    for s in 0..k_sec {
                        let (nu, de) = num_den(&secs[s * ch + c], z);
                        acc *= nu * de.conj() / de.norm_sqr();
                    }
                    rr[c] = acc.re;
                    ir[c] = acc.im;
                }
            }
        });
}

/// Gradient `(K, 6, C)` of a real loss w.r.t. the cascade coefficients, from `g(k, c)` =
/// ∂L/∂Re H + i·∂L/∂Im H of each bin's response: `∂L/∂b_p = Σ_k Re(conj(g)·H·z⁻ᵖ/N_s)`,
/// `∂L/∂a_p = −Σ_k Re(conj(g)·H·z⁻ᵖ/D_s)`.
pub(crate) fn cascade_grad(
    coef: &[f64],
    k_sec: usize,
    ch: usize,
    zinv: &[C64],
    g: impl Fn(usize, usize) -> C64 + Sync,
) -> Vec<f64> {
    let bins = zinv.len();
    let secs: Vec<[f64; 6]> = (0..k_sec)
        .flat_map(|s| (0..ch).map(move |c| (s, c)))
        .map(|(s, c)| section(coef, s, ch, c))
        .collect();
    (0..bins.div_ceil(BLOCK))
        .into_par_iter()
        .map(|blk| {
            let mut acc = vec![0.0; k_sec * 6 * ch];
            let mut nd = vec![(C64::new(0.0, 0.0), C64::new(0.0, 0.0)); k_sec];
            for (k, &z) in zinv
                .iter()
                .enumerate()
                .take(((blk + 1) * BLOCK).min(bins))
                .skip(blk * BLOCK)
            {
                let zp = [C64::new(1.0, 0.0), z, z * z];
                for c in 0..ch {
                    let gbar = g(k, c).conj();
                    if gbar.re == 0.0 && gbar.im == 0.0 {
                        continue;
                    }
                    let mut h = C64::new(1.0, 0.0);
                    for (s, v) in nd.iter_mut().enumerate() {
                        *v = num_den(&secs[s * ch + c], z);
                        h *= v.0 / v.1;
                    }
                    let gh = gbar * h;
                    for (s, &(nu, de)) in nd.iter().enumerate() {
                        let fb = gh / nu;
                        let fa = -gh / de;
                        for p in 0..3 {
                            acc[(s * 6 + p) * ch + c] += (fb * zp[p]).re;
                            acc[(s * 6 + 3 + p) * ch + c] += (fa * zp[p]).re;
                        }
                    }
                }
            }
            acc
        })
        .reduce(
            || vec![0.0; k_sec * 6 * ch],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            },
        )
}

impl CustomOp1 for SosResponse {
    fn name(&self) -> &'static str {
        "tailor-sos-response"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (k_sec, _, ch) = layout.shape().dims3()?;
        let (start, end) = layout
            .contiguous_offsets()
            .ok_or_else(|| candle_core::Error::Msg("sos op needs a contiguous input".into()))?;
        let x: Vec<f64> = match storage {
            CpuStorage::F64(v) => v[start..end].to_vec(),
            CpuStorage::F32(v) => v[start..end].iter().map(|&a| f64::from(a)).collect(),
            other => candle_core::bail!("sos op supports f32/f64, got {:?}", other.dtype()),
        };
        let bins = self.bins();
        let plane = bins * ch;
        let mut out = vec![0.0; 2 * plane];
        let (re, im) = out.split_at_mut(plane);
        cascade_response(&x, k_sec, ch, &self.zinv, re, im);
        let storage = match storage.dtype() {
            DType::F64 => CpuStorage::F64(out),
            DType::F32 => CpuStorage::F32(out.into_iter().map(|v| v as f32).collect()),
            other => candle_core::bail!("sos op supports f32/f64, got {other:?}"),
        };
        Ok((storage, Shape::from((2, bins, ch))))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let (k_sec, _, ch) = arg.dims3()?;
        let x = arg
            .to_device(&Device::Cpu)?
            .to_dtype(DType::F64)?
            .flatten_all()?
            .to_vec1::<f64>()?;
        let g = grad_res
            .to_device(&Device::Cpu)?
            .to_dtype(DType::F64)?
            .flatten_all()?
            .to_vec1::<f64>()?;
        let plane = self.bins() * ch;
        let total = cascade_grad(&x, k_sec, ch, &self.zinv, |k, c| {
            C64::new(g[k * ch + c], g[plane + k * ch + c])
        });
        let t = Tensor::from_vec(total, arg.shape(), &Device::Cpu)?
            .to_dtype(arg.dtype())?
            .to_device(arg.device())?;
        Ok(Some(t))
    }
}
