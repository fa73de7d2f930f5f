//! FLAMO `mss_loss` in its default form (no mask, no log term, p = 2) as one fused op.
//!
//! Per resolution r the term is `‖|S_r(y)| − Y_r‖_F / numel_r` (Y_r the target magnitudes, kept
//! from the first call); the op returns the terms `(R,)`. The backward goes straight from the
//! terms' gradients to dL/dy: `∂L/∂S = g_r·(|S| − Y)/(‖·‖_F·numel)·S/|S|`, then the STFT
//! adjoint. Same values as the generic tensor path of [`super::mss::MssLoss`], without its
//! intermediate spectrogram tensors (on a 2^17-sample response those were ~10 full-size tensors
//! per resolution and step). Generic over the precision `T` (the input's dtype); the squared
//! norm accumulates in f64 either way.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};
use num_complex::Complex;
use rayon::prelude::*;
use std::sync::{Arc, Mutex};

use super::fft::{Stft, StftPlan};
use crate::real::{grad_like, storage_as, storage_from, tensor_as, Real};

/// One resolution in precision `T`: its STFT, plan and target magnitudes `(R, frames, bins)`.
#[derive(Debug, Clone)]
pub(crate) struct Resolution<T: Real> {
    pub stft: Stft,
    pub plan: Arc<StftPlan<T>>,
    pub target: Arc<Vec<T>>,
}

/// The fused op on rows `(R, T)` of precision `T`.
pub(crate) struct MssL2<T: Real> {
    pub resolutions: Vec<Resolution<T>>,
    /// Per resolution: the predicted spectra and ‖|S| − Y‖_F, kept for the backward.
    pub saved: Mutex<Vec<(Vec<Complex<T>>, f64)>>,
}

impl<T: Real> MssL2<T> {
    /// Target magnitudes of `truth` rows `(R, T)` for `res` (layout of the op's spectra).
    pub(crate) fn magnitudes(
        stft: &Stft,
        plan: &StftPlan<T>,
        x: &[T],
        rows: usize,
        t: usize,
    ) -> Vec<T> {
        stft.spectra_with(plan, x, rows, t)
            .par_iter()
            .map(|z| (z.re * z.re + z.im * z.im).sqrt())
            .collect()
    }
}

impl<T: Real> CustomOp1 for MssL2<T> {
    fn name(&self) -> &'static str {
        "tailor-mss-l2"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = storage_as::<T>(storage, layout)?;
        let (rows, t) = layout.shape().dims2()?;
        let mut saved = Vec::with_capacity(self.resolutions.len());
        let mut terms = Vec::with_capacity(self.resolutions.len());
        for res in &self.resolutions {
            res.stft.check(t)?;
            let spec = res.stft.spectra_with(&res.plan, &x, rows, t);
            if spec.len() != res.target.len() {
                candle_core::bail!(
                    "mss: prediction has {} spectrogram values, target {}",
                    spec.len(),
                    res.target.len()
                );
            }
            let sq: f64 = spec
                .par_chunks(4096)
                .zip(res.target.par_chunks(4096))
                .map(|(s, y)| {
                    s.iter()
                        .zip(y)
                        .map(|(z, &y)| {
                            let d = ((z.re * z.re + z.im * z.im).sqrt() - y).wide();
                            d * d
                        })
                        .sum::<f64>()
                })
                .sum();
            let norm = sq.sqrt();
            terms.push(T::of(norm / spec.len() as f64));
            saved.push((spec, norm));
        }
        *self
            .saved
            .lock()
            .map_err(|_| candle_core::Error::Msg("mss state poisoned".into()))? = saved;
        let n = terms.len();
        Ok((storage_from(terms, storage.dtype())?, Shape::from((n,))))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let (rows, t) = arg.dims2()?;
        let g = tensor_as::<f64>(grad_res)?;
        let saved = self
            .saved
            .lock()
            .map_err(|_| candle_core::Error::Msg("mss state poisoned".into()))?;
        if saved.len() != self.resolutions.len() {
            candle_core::bail!("mss backward before its forward");
        }
        let mut dx = vec![T::zero(); rows * t];
        for ((res, (spec, norm)), &gr) in self.resolutions.iter().zip(saved.iter()).zip(&g) {
            if gr == 0.0 {
                continue;
            }
            // d term / d|S| = (|S| − Y)/(‖·‖·numel); like autograd, ‖·‖ = 0 or |S| = 0 give NaN.
            let c = T::of(gr / (norm * spec.len() as f64));
            let gc: Vec<Complex<T>> = spec
                .par_iter()
                .zip(res.target.par_iter())
                .map(|(z, &y)| {
                    let m = (z.re * z.re + z.im * z.im).sqrt();
                    z * (c * (m - y) / m)
                })
                .collect();
            let d = res.stft.adjoint_with(&res.plan, &gc, rows, t);
            dx.iter_mut().zip(&d).for_each(|(a, &b)| *a += b);
        }
        drop(saved);
        Ok(Some(grad_like(dx, arg)?))
    }
}
