//! Energy-decay loss for room fitting: octave-band and broadband Schroeder EDCs and band energy
//! shares of a model IR against a target's ([`CompareLoss`]), so band decay times, band levels
//! and the EDC shape (two slopes of a coupled room) are matched together. The target's curves
//! may be given ([`CompareLoss::from_curves`]: the room fit passes its noise-compensated decays,
//! as `compare` measures them), the model's are its own (a render has no noise).
//!
//! Band filtering is a product with the band filter's frequency response on the rfft grid
//! followed by an inverse rfft (both sides use the same circular operator), the EDC a reverse
//! cumulative sum of the squared band signal. The inverse rfft and the reverse cumulative sum are
//! custom ops with analytic backward passes (like [`super::fft`]).

use super::fft::{
    apply_on_cpu, irfft_rows, is_edge_bin, rfft, rfft_rows, storage_f64, storage_from_f64,
    tensor_f64,
};
use crate::by_dtype;
use crate::real::{grad_like, storage_as, tensor_as};
use crate::sos::SosBank;
use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, Device, Layout, Shape, Tensor};
use num_complex::Complex64;

/// Inverse real FFT along the last axis: input `(2, ..., n/2+1)` holding (re, im) → `(..., n)`,
/// normalised by `1/n` like `torch.fft.irfft` (imaginary parts of DC and Nyquist ignored).
#[derive(Debug, Clone, Copy)]
pub struct Irfft {
    /// Output length n (even), samples.
    pub n: usize,
}

impl CustomOp1 for Irfft {
    fn name(&self) -> &'static str {
        "tailor-irfft"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let dims = layout.shape().dims();
        let n = self.n;
        let bins = n / 2 + 1;
        if n == 0 || !n.is_multiple_of(2) || dims.first() != Some(&2) || dims.last() != Some(&bins)
        {
            candle_core::bail!("irfft: expected (2, ..., {bins}) for n = {n}, got {dims:?}");
        }
        let mut shape = dims[1..dims.len() - 1].to_vec();
        shape.push(n);
        let out = by_dtype!(storage.dtype(), "irfft", T => {
            let x = storage_as::<T>(storage, layout)?;
            let w = T::of(1.0 / n as f64);
            T::to_cpu_storage_owned(irfft_rows(&x, n, |_| w)?)
        });
        Ok((out, Shape::from(shape)))
    }

    /// With G = rfft(dL/dy): dL/dRe X_k = c_k/n · Re G_k, dL/dIm X_k = c_k/n · Im G_k, where
    /// c_k = 1 at DC and Nyquist, 2 in between (and 0 for the ignored imaginary parts).
    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let n = self.n;
        let bins = n / 2 + 1;
        by_dtype!(arg.dtype(), "irfft", T => {
            let g = tensor_as::<T>(grad_res)?;
            let mut out = rfft_rows(&g, n)?;
            let half = out.len() / 2;
            let (gre, gim) = out.split_at_mut(half);
            for (j, (re, im)) in gre.iter_mut().zip(gim.iter_mut()).enumerate() {
                let k = j % bins;
                let edge = is_edge_bin(k, n);
                let c = T::of(if edge { 1.0 } else { 2.0 } / n as f64);
                *re *= c;
                *im = if edge { T::zero() } else { c * *im };
            }
            Ok(Some(grad_like(out, arg)?))
        })
    }
}

/// Inverse rfft of `(re, im)`, each `(..., n/2+1)`, to `(..., n)` (differentiable).
pub fn irfft(re: &Tensor, im: &Tensor, n: usize) -> candle_core::Result<Tensor> {
    let x = Tensor::stack(&[re, im], 0)?;
    apply_on_cpu(&x, Irfft { n })
}

/// Reverse cumulative sum along the last axis: `y[t] = Σ_{s ≥ t} x[s]` (Schroeder integration).
#[derive(Debug, Clone, Copy)]
pub struct ReverseCumsum;

fn rev_cumsum_rows(x: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![0.0; x.len()];
    for (xr, or) in x.chunks(n).zip(out.chunks_mut(n)) {
        let mut acc = 0.0;
        for t in (0..n).rev() {
            acc += xr[t];
            or[t] = acc;
        }
    }
    out
}

impl CustomOp1 for ReverseCumsum {
    fn name(&self) -> &'static str {
        "tailor-reverse-cumsum"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = storage_f64(storage, layout)?;
        let n = *layout.shape().dims().last().unwrap_or(&1);
        let out = rev_cumsum_rows(&x, n.max(1));
        Ok((
            storage_from_f64(out, storage.dtype())?,
            layout.shape().clone(),
        ))
    }

    /// The adjoint of a reverse cumulative sum is a forward cumulative sum.
    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let g = tensor_f64(grad_res)?;
        let n = (*arg.dims().last().unwrap_or(&1)).max(1);
        let mut out = vec![0.0; g.len()];
        for (gr, or) in g.chunks(n).zip(out.chunks_mut(n)) {
            let mut acc = 0.0;
            for t in 0..n {
                acc += gr[t];
                or[t] = acc;
            }
        }
        let t = Tensor::from_vec(out, arg.shape(), &Device::Cpu)?
            .to_dtype(arg.dtype())?
            .to_device(arg.device())?;
        Ok(Some(t))
    }
}

/// Reverse cumulative sum of the last axis (differentiable).
pub fn reverse_cumsum(x: &Tensor) -> candle_core::Result<Tensor> {
    apply_on_cpu(x, ReverseCumsum)
}

/// Frequency response `(re, im)` of `bank` channel 0 on the `n`-point rfft grid.
fn bank_response(bank: &SosBank, n: usize) -> (Vec<f64>, Vec<f64>) {
    (0..=n / 2)
        .map(|k| {
            let w = 2.0 * std::f64::consts::PI * k as f64 / n as f64;
            let h = bank.eval(0, Complex64::from_polar(1.0, -w));
            (h.re, h.im)
        })
        .unzip()
}

/// Band-filtered energy decay curves of `x` (length ≤ n, zero-padded) through the circular
/// band operator, absolute (not normalised), `bands × n`.
pub fn band_edcs(x: &[f64], n: usize, bands: &[SosBank]) -> Vec<Vec<f64>> {
    let padded: Vec<f64> = (0..n).map(|i| x.get(i).copied().unwrap_or(0.0)).collect();
    let spec = rfft_rows(&padded, n).expect("one row of the planned length");
    let bins = n / 2 + 1;
    bands
        .iter()
        .map(|b| {
            let (hr, hi) = bank_response(b, n);
            let mut prod = vec![0.0; 2 * bins];
            for k in 0..bins {
                let z = Complex64::new(spec[k], spec[bins + k]) * Complex64::new(hr[k], hi[k]);
                prod[k] = z.re;
                prod[bins + k] = z.im;
            }
            let y =
                irfft_rows(&prod, n, |_| 1.0 / n as f64).expect("one row of the planned length");
            let e: Vec<f64> = y.iter().map(|v| v * v).collect();
            rev_cumsum_rows(&e, n)
        })
        .collect()
}

/// Why a [`CompareLoss`] cannot be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EdcLossError {
    /// The FFT length is odd, zero or shorter than the target.
    #[error("EDC loss: FFT length {n} must be even and at least the target length {len}")]
    Length {
        /// FFT length.
        n: usize,
        /// Target length.
        len: usize,
    },
    /// The target has no energy in some band.
    #[error("EDC loss: the target has no energy in band {0}")]
    SilentBand(usize),
    /// Tensor error.
    #[error("EDC loss: {0}")]
    Tensor(String),
}

/// Differentiable counterparts of `tailor compare`'s figures, squared and summed: per octave
/// band the band EDC normalised to its start over the target's first `range_db` dB (what the band
/// RT fit sees), the broadband normalised EDC where the target's is above −30 dB (the EDC error),
/// and the band energy shares in dB (the level error).
#[derive(Debug)]
pub struct CompareLoss {
    n: usize,
    resp_re: Tensor,
    resp_im: Tensor,
    band_db: Tensor,
    band_mask: Tensor,
    band_count: f64,
    broad_db: Tensor,
    broad_mask: Tensor,
    broad_count: f64,
    share_db: Tensor,
}

fn db(x: &Tensor) -> candle_core::Result<Tensor> {
    (x + 1e-300)?.log()? * (10.0 / std::f64::consts::LN_10)
}

impl CompareLoss {
    /// Loss toward `target` (length ≤ `n`) through the octave filters `bands`, as f64 tensors;
    /// the target's curves are its own circular band EDCs and plain Schroeder EDC.
    pub fn new(
        target: &[f64],
        n: usize,
        bands: &[SosBank],
        range_db: f64,
        device: &Device,
    ) -> Result<Self, EdcLossError> {
        if n == 0 || !n.is_multiple_of(2) || target.len() > n {
            return Err(EdcLossError::Length {
                n,
                len: target.len(),
            });
        }
        let broad = crate::analysis::slopes::schroeder_energy(target);
        let edcs: Vec<Vec<f64>> = band_edcs(target, n, bands)
            .into_iter()
            .map(|mut e| {
                e.truncate(target.len());
                e
            })
            .collect();
        Self::from_curves(&edcs, &broad, n, bands, range_db, device)
    }

    /// Loss toward given target curves: per band of `bands` its energy decay (energy from each
    /// sample on, e.g. noise-compensated as ISO 3382-1 measures it) and the broadband one, each
    /// at most `n` samples long.
    pub fn from_curves(
        edcs: &[Vec<f64>],
        broad: &[f64],
        n: usize,
        bands: &[SosBank],
        range_db: f64,
        device: &Device,
    ) -> Result<Self, EdcLossError> {
        let len = broad.len();
        if n == 0
            || !n.is_multiple_of(2)
            || len == 0
            || len > n
            || edcs.len() != bands.len()
            || edcs.iter().any(|e| e.is_empty() || e.len() > n)
        {
            return Err(EdcLossError::Length { n, len });
        }
        let te = |e: candle_core::Error| EdcLossError::Tensor(e.to_string());
        let nb = bands.len();
        let bins = n / 2 + 1;
        let (mut re, mut im) = (Vec::with_capacity(nb * bins), Vec::with_capacity(nb * bins));
        let mut band_db = vec![0.0; nb * n];
        let mut band_mask = vec![0.0; nb * n];
        let mut band_count = 0.0f64;
        let total: f64 = edcs.iter().map(|e| e[0]).sum();
        let mut share_db = Vec::with_capacity(nb);
        for (b, bank) in bands.iter().enumerate() {
            let (r, i) = bank_response(bank, n);
            re.extend(r);
            im.extend(i);
            let e0 = edcs[b][0];
            if e0 <= 0.0 {
                return Err(EdcLossError::SilentBand(b));
            }
            share_db.push(10.0 * (e0 / total).log10());
            for t in 0..edcs[b].len() {
                let d = 10.0 * (edcs[b][t] / e0).log10();
                if d < -range_db {
                    break;
                }
                band_db[b * n + t] = d;
                band_mask[b * n + t] = 1.0;
                band_count += 1.0;
            }
        }
        let mut broad_db = vec![0.0; n];
        let mut broad_mask = vec![0.0; n];
        let mut broad_count = 0.0f64;
        for t in 0..len {
            let d = 10.0 * (broad[t] / broad[0].max(1e-300)).log10();
            if d <= -30.0 {
                break;
            }
            broad_db[t] = d;
            broad_mask[t] = 1.0;
            broad_count += 1.0;
        }
        let t = |v: Vec<f64>, shape: (usize, usize)| Tensor::from_vec(v, shape, device).map_err(te);
        Ok(Self {
            n,
            resp_re: t(re, (nb, bins))?,
            resp_im: t(im, (nb, bins))?,
            band_db: t(band_db, (nb, n))?,
            band_mask: t(band_mask, (nb, n))?,
            band_count: band_count.max(1.0),
            broad_db: t(broad_db, (1, n))?,
            broad_mask: t(broad_mask, (1, n))?,
            broad_count: broad_count.max(1.0),
            share_db: t(share_db, (nb, 1))?,
        })
    }

    /// The loss of an IR `h` (`(n,)`, f64) — differentiable.
    pub fn forward(&self, h: &Tensor) -> candle_core::Result<Tensor> {
        let h = h.reshape((1, self.n))?;
        let (hr, hi) = rfft(&h)?;
        let re = (self.resp_re.broadcast_mul(&hr)? - self.resp_im.broadcast_mul(&hi)?)?;
        let im = (self.resp_re.broadcast_mul(&hi)? + self.resp_im.broadcast_mul(&hr)?)?;
        let y = irfft(&re, &im, self.n)?;
        let e = reverse_cumsum(&y.sqr()?)?;
        let e0 = e.narrow(1, 0, 1)?;
        let band = db(&e)?.broadcast_sub(&db(&e0)?)?;
        let l_band = (((band - &self.band_db)? * &self.band_mask)?
            .sqr()?
            .sum_all()?
            / self.band_count)?;
        let eb = reverse_cumsum(&h.sqr()?)?;
        let broad = db(&eb)?.broadcast_sub(&db(&eb.narrow(1, 0, 1)?)?)?;
        let l_broad = (((broad - &self.broad_db)? * &self.broad_mask)?
            .sqr()?
            .sum_all()?
            / self.broad_count)?;
        let share = db(&e0.broadcast_div(&e0.sum_all()?)?)?;
        let l_share = (share - &self.share_db)?.sqr()?.mean_all()?;
        (l_band + l_broad)? + l_share
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Var;

    fn finite_difference_check(f: impl Fn(&Tensor) -> candle_core::Result<Tensor>, x: &[f64]) {
        let v = Var::new(x, &Device::Cpu).unwrap();
        let y = f(v.as_tensor()).unwrap();
        let grads = y.backward().unwrap();
        let g = grads.get(&v).unwrap().to_vec1::<f64>().unwrap();
        let eps = 1e-6;
        for i in [0, 1, x.len() / 2, x.len() - 1] {
            let mut p = x.to_vec();
            p[i] += eps;
            let mut m = x.to_vec();
            m[i] -= eps;
            let fp = f(&Tensor::new(p.as_slice(), &Device::Cpu).unwrap())
                .unwrap()
                .to_scalar::<f64>()
                .unwrap();
            let fm = f(&Tensor::new(m.as_slice(), &Device::Cpu).unwrap())
                .unwrap()
                .to_scalar::<f64>()
                .unwrap();
            let fd = (fp - fm) / (2.0 * eps);
            assert!(
                (fd - g[i]).abs() <= 1e-6 * fd.abs().max(1e-3),
                "i={i}: fd {fd} vs analytic {}",
                g[i]
            );
        }
    }

    #[test]
    fn irfft_inverts_rfft_and_its_gradient_matches_finite_differences() {
        let x: Vec<f64> = (0..32)
            .map(|i| ((i * 37 % 11) as f64 - 5.0) / 7.0)
            .collect();
        let t = Tensor::new(x.as_slice(), &Device::Cpu).unwrap();
        let (re, im) = rfft(&t).unwrap();
        let back = irfft(&re, &im, 32).unwrap().to_vec1::<f64>().unwrap();
        for (a, b) in x.iter().zip(&back) {
            assert!((a - b).abs() < 1e-12);
        }
        let w: Vec<f64> = (0..32).map(|i| (i as f64 * 0.3).sin()).collect();
        let wt = Tensor::new(w.as_slice(), &Device::Cpu).unwrap();
        finite_difference_check(
            |x| {
                let (re, im) = rfft(x)?;
                // A non-trivial spectral map so the imaginary path matters: multiply by (1 + 0.5i).
                let re2 = (re.clone() - (im.clone() * 0.5)?)?;
                let im2 = ((re * 0.5)? + im)?;
                (irfft(&re2, &im2, 32)?.sqr()? * &wt)?.sum_all()
            },
            &x,
        );
    }

    #[test]
    fn reverse_cumsum_and_its_gradient() {
        let x: Vec<f64> = (0..16).map(|i| (i as f64 * 0.7).cos()).collect();
        let t = Tensor::new(x.as_slice(), &Device::Cpu).unwrap();
        let y = reverse_cumsum(&t).unwrap().to_vec1::<f64>().unwrap();
        assert!((y[0] - x.iter().sum::<f64>()).abs() < 1e-12);
        assert_eq!(y[15], x[15]);
        let w: Vec<f64> = (0..16).map(|i| 1.0 + i as f64).collect();
        let wt = Tensor::new(w.as_slice(), &Device::Cpu).unwrap();
        finite_difference_check(|x| (reverse_cumsum(&x.sqr()?)? * &wt)?.sum_all(), &x);
    }

    #[test]
    fn compare_loss_is_zero_on_the_target_and_scale_free() {
        let fs = 8000.0;
        let n = 4096;
        let target: Vec<f64> = (0..3000)
            .map(|i| ((i * 7919 % 97) as f64 / 48.5 - 1.0) * (-(i as f64) / fs / 0.1).exp())
            .collect();
        let bands: Vec<SosBank> = [0.1f64, 0.3]
            .iter()
            .map(|&w| {
                let r: f64 = 0.9;
                let a1 = -2.0 * r * (std::f64::consts::PI * w).cos();
                SosBank::from_single_sections(&[[1.0 - r, 0.0, -(1.0 - r), 1.0, a1, r * r]])
                    .unwrap()
            })
            .collect();
        let loss = CompareLoss::new(&target, n, &bands, 35.0, &Device::Cpu).unwrap();
        let eval = |x: &[f64]| {
            let mut p = x.to_vec();
            p.resize(n, 0.0);
            loss.forward(&Tensor::new(p.as_slice(), &Device::Cpu).unwrap())
                .unwrap()
                .to_scalar::<f64>()
                .unwrap()
        };
        assert!(eval(&target) < 1e-18);
        // Normalised figures: a gain changes nothing, a faster decay does.
        let scaled: Vec<f64> = target.iter().map(|v| 3.0 * v).collect();
        assert!(eval(&scaled) < 1e-18);
        let faster: Vec<f64> = target
            .iter()
            .enumerate()
            .map(|(i, v)| v * (-(i as f64) / fs / 0.2).exp())
            .collect();
        assert!(eval(&faster) > 1.0);
        finite_difference_check(
            |x| {
                let p = x.pad_with_zeros(0, 0, n - 3000)?;
                loss.forward(&p)
            },
            &target,
        );
    }
}
