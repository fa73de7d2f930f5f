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
//! The cascade kernels (`cascade_response`, `cascade_grad`) run in the FDN op's precision (f64,
//! or f32 with 16 bins per SIMD group; gradient totals add up in f64); this standalone op
//! computes in f64.
//!
//! Backward: `∂H/∂b_p = H·z⁻ᵖ/N_s`, `∂H/∂a_p = −H·z⁻ᵖ/D_s`, so for a real loss with
//! Ḡ = ∂L/∂Re H + i·∂L/∂Im H: `∂L/∂θ = Σ_k Re(conj(Ḡ_k)·∂H_k/∂θ)`. CPU, rayon over bin blocks;
//! other devices go through the CPU (see [`super::fdn_op`]).

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, DType, Device, Layout, Shape, Tensor};
use num_complex::{Complex, Complex64 as C64};
use rayon::prelude::*;
use std::sync::Arc;

use crate::real::Real;
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

fn section<T: Real>(x: &[T], s: usize, ch: usize, c: usize) -> [T; 6] {
    let mut out = [T::zero(); 6];
    for (r, v) in out.iter_mut().enumerate() {
        *v = x[(s * 6 + r) * ch + c];
    }
    out
}

const BLOCK: usize = 512;

/// The zero lane.
#[inline(always)]
fn zl<T: Real>() -> T::Lane {
    T::splat(T::zero())
}

/// z⁻¹ and z⁻² of the group of bins starting at `k0` as lanes (padding lanes repeat the last
/// bin); returns the number of real bins.
#[allow(clippy::needless_range_loop)]
#[inline(always)]
fn z_lanes<T: Real>(zinv: &[C64], k0: usize, end: usize) -> (usize, [T::Lane; 4]) {
    let cnt = (end - k0).min(T::L);
    let mut z = [zl::<T>(); 4];
    for l in 0..T::L {
        let v = zinv[(k0 + l).min(end - 1)];
        let v2 = v * v;
        z[0][l] = T::of(v.re);
        z[1][l] = T::of(v.im);
        z[2][l] = T::of(v2.re);
        z[3][l] = T::of(v2.im);
    }
    (cnt, z)
}

/// Numerator and denominator lanes (re, im) of section `q` at `z`.
#[inline(always)]
fn nd_lanes<T: Real>(q: &[T; 6], z: &[T::Lane; 4]) -> [T::Lane; 4] {
    let mut o = [zl::<T>(); 4];
    for l in 0..T::L {
        o[0][l] = q[0] + q[1] * z[0][l] + q[2] * z[2][l];
        o[1][l] = q[1] * z[1][l] + q[2] * z[3][l];
        o[2][l] = q[3] + q[4] * z[0][l] + q[5] * z[2][l];
        o[3][l] = q[4] * z[1][l] + q[5] * z[3][l];
    }
    o
}

/// (ar + i·ai)·(br + i·bi)/(cr + i·ci), lane-wise.
#[inline(always)]
fn mul_div<T: Real>(
    ar: &T::Lane,
    ai: &T::Lane,
    br: &T::Lane,
    bi: &T::Lane,
    cr: &T::Lane,
    ci: &T::Lane,
) -> (T::Lane, T::Lane) {
    let (mut r, mut i) = (zl::<T>(), zl::<T>());
    for l in 0..T::L {
        let pr = ar[l] * br[l] - ai[l] * bi[l];
        let pi = ar[l] * bi[l] + ai[l] * br[l];
        let inv = T::one() / (cr[l] * cr[l] + ci[l] * ci[l]);
        r[l] = (pr * cr[l] + pi * ci[l]) * inv;
        i[l] = (pi * cr[l] - pr * ci[l]) * inv;
    }
    (r, i)
}

/// Cascade responses of the bins `k0..k0 + re.len()/ch` (see [`cascade_response`]).
#[allow(clippy::needless_range_loop)]
#[inline(always)]
fn response_block<T: Real>(
    secs: &[[T; 6]],
    k_sec: usize,
    ch: usize,
    zinv: &[C64],
    k0: usize,
    re: &mut [T],
    im: &mut [T],
) {
    let end = k0 + re.len() / ch;
    let one = T::splat(T::one());
    let zero = zl::<T>();
    for g0 in (k0..end).step_by(T::L) {
        let (cnt, z) = z_lanes::<T>(zinv, g0, end);
        for c in 0..ch {
            let (mut ar, mut ai) = (one, zero);
            for s in 0..k_sec {
                let nd = nd_lanes::<T>(&secs[s * ch + c], &z);
                (ar, ai) = mul_div::<T>(&ar, &ai, &nd[0], &nd[1], &nd[2], &nd[3]);
            }
            for l in 0..cnt {
                let idx = (g0 - k0 + l) * ch + c;
                re[idx] = ar[l];
                im[idx] = ai[l];
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn response_block_avx2<T: Real>(
    secs: &[[T; 6]],
    k_sec: usize,
    ch: usize,
    zinv: &[C64],
    k0: usize,
    re: &mut [T],
    im: &mut [T],
) {
    response_block(secs, k_sec, ch, zinv, k0, re, im)
}

/// Coefficient-gradient lanes of the bins `k0..end` added to `acc` `(K·6·C)` lanes.
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
#[inline(always)]
fn grad_block<T: Real>(
    secs: &[[T; 6]],
    k_sec: usize,
    ch: usize,
    zinv: &[C64],
    k0: usize,
    end: usize,
    g: &(impl Fn(usize, usize) -> Complex<T> + Sync),
    acc: &mut [T::Lane],
    nd: &mut [[T::Lane; 4]],
) {
    let one = T::splat(T::one());
    let zero = zl::<T>();
    for g0 in (k0..end).step_by(T::L) {
        let (cnt, z) = z_lanes::<T>(zinv, g0, end);
        for c in 0..ch {
            // conj(Ḡ) lanes; padding lanes stay 0.
            let (mut gr, mut gi) = (zero, zero);
            for l in 0..cnt {
                let v = g(g0 + l, c);
                gr[l] = v.re;
                gi[l] = -v.im;
            }
            let (mut hr, mut hi) = (one, zero);
            for s in 0..k_sec {
                nd[s] = nd_lanes::<T>(&secs[s * ch + c], &z);
                (hr, hi) = mul_div::<T>(&hr, &hi, &nd[s][0], &nd[s][1], &nd[s][2], &nd[s][3]);
            }
            let (mut ghr, mut ghi) = (zero, zero);
            for l in 0..T::L {
                ghr[l] = gr[l] * hr[l] - gi[l] * hi[l];
                ghi[l] = gr[l] * hi[l] + gi[l] * hr[l];
            }
            for s in 0..k_sec {
                let [nr, ni, dr, di] = nd[s];
                // fb = gh/N, fa = −gh/D; ∂/∂b_p += Re(fb·z⁻ᵖ), ∂/∂a_p += Re(fa·z⁻ᵖ).
                let (fbr, fbi) = mul_div::<T>(&ghr, &ghi, &one, &zero, &nr, &ni);
                let (far, fai) = mul_div::<T>(&ghr, &ghi, &one, &zero, &dr, &di);
                let signs = [(fbr, fbi, T::one()), (far, fai, -T::one())];
                for (p, &(fr, fi, sign)) in signs.iter().enumerate() {
                    let base = s * 6 + 3 * p;
                    let a0 = &mut acc[base * ch + c];
                    for l in 0..T::L {
                        a0[l] += sign * fr[l];
                    }
                    let a1 = &mut acc[(base + 1) * ch + c];
                    for l in 0..T::L {
                        a1[l] += sign * (fr[l] * z[0][l] - fi[l] * z[1][l]);
                    }
                    let a2 = &mut acc[(base + 2) * ch + c];
                    for l in 0..T::L {
                        a2[l] += sign * (fr[l] * z[2][l] - fi[l] * z[3][l]);
                    }
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,fma")]
unsafe fn grad_block_avx2<T: Real>(
    secs: &[[T; 6]],
    k_sec: usize,
    ch: usize,
    zinv: &[C64],
    k0: usize,
    end: usize,
    g: &(impl Fn(usize, usize) -> Complex<T> + Sync),
    acc: &mut [T::Lane],
    nd: &mut [[T::Lane; 4]],
) {
    grad_block(secs, k_sec, ch, zinv, k0, end, g, acc, nd)
}

fn sections<T: Real>(coef: &[T], k_sec: usize, ch: usize) -> Vec<[T; 6]> {
    (0..k_sec)
        .flat_map(|s| (0..ch).map(move |c| (s, c)))
        .map(|(s, c)| section(coef, s, ch, c))
        .collect()
}

/// Responses of the cascades `coef` `(K, 6, C)` at every bin `zinv[k] = z_k⁻¹`, written as planes
/// `re`, `im`, each `(bins, C)`, in precision `T`. [`Real::L`] bins per SIMD group (AVX2 + FMA
/// chosen at run time).
pub(crate) fn cascade_response<T: Real>(
    coef: &[T],
    k_sec: usize,
    ch: usize,
    zinv: &[C64],
    re: &mut [T],
    im: &mut [T],
) {
    let secs = sections(coef, k_sec, ch);
    let level = crate::engine::SimdLevel::detect();
    re.par_chunks_mut(BLOCK * ch)
        .zip(im.par_chunks_mut(BLOCK * ch))
        .enumerate()
        .for_each(|(blk, (ro, io))| match level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: Avx2Fma is only detected on CPUs with AVX2 and FMA.
            crate::engine::SimdLevel::Avx2Fma => unsafe {
                response_block_avx2(&secs, k_sec, ch, zinv, blk * BLOCK, ro, io)
            },
            _ => response_block(&secs, k_sec, ch, zinv, blk * BLOCK, ro, io),
        });
}

/// Gradient `(K, 6, C)` of a real loss w.r.t. the cascade coefficients, from `g(k, c)` =
/// ∂L/∂Re H + i·∂L/∂Im H of each bin's response: `∂L/∂b_p = Σ_k Re(conj(g)·H·z⁻ᵖ/N_s)`,
/// `∂L/∂a_p = −Σ_k Re(conj(g)·H·z⁻ᵖ/D_s)`.
pub(crate) fn cascade_grad<T: Real>(
    coef: &[T],
    k_sec: usize,
    ch: usize,
    zinv: &[C64],
    g: impl Fn(usize, usize) -> Complex<T> + Sync,
) -> Vec<f64> {
    let bins = zinv.len();
    let secs = sections(coef, k_sec, ch);
    let level = crate::engine::SimdLevel::detect();
    let lanes = (0..bins.div_ceil(BLOCK))
        .into_par_iter()
        .map(|blk| {
            let mut acc = vec![zl::<T>(); k_sec * 6 * ch];
            let mut nd = vec![[zl::<T>(); 4]; k_sec];
            let (k0, end) = (blk * BLOCK, ((blk + 1) * BLOCK).min(bins));
            match level {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: Avx2Fma is only detected on CPUs with AVX2 and FMA.
                crate::engine::SimdLevel::Avx2Fma => unsafe {
                    grad_block_avx2(&secs, k_sec, ch, zinv, k0, end, &g, &mut acc, &mut nd)
                },
                _ => grad_block(&secs, k_sec, ch, zinv, k0, end, &g, &mut acc, &mut nd),
            }
            acc
        })
        .reduce(
            || vec![zl::<T>(); k_sec * 6 * ch],
            |mut a, b| {
                for (x, y) in a.iter_mut().zip(&b) {
                    for l in 0..T::L {
                        x[l] += y[l];
                    }
                }
                a
            },
        );
    // The lane totals add up in f64.
    lanes
        .iter()
        .map(|v| (0..T::L).map(|l| v[l].wide()).sum::<f64>())
        .collect()
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
