//! The graphic-EQ design of [`crate::geq`] as a differentiable candle expression (pyFDN
//! `AttenuationFilter(design="graphic_eq")` / `OutputEQ`, FDN reference §6.5).
//!
//! The arithmetic is that of [`crate::geq::GeqPlan`]: control targets `T = E·t`, gains
//! `x = P·T`, then [`crate::geq::CORRECTION_ITERATIONS`] corrections `x ← x + P·(T − D(x))`
//! with `D` the cascade's dB response at the control points, all tensor ops — the corrections
//! stay differentiable (no constant-offset approximation), so the gradient is that of the
//! realised design.

use candle_core::{DType, Device, Result, Tensor};

use crate::geq::{GeqPlan, SectionKind, BANDS, CORRECTION_ITERATIONS, SECTIONS};

/// Constant tensors of a plan on one device/dtype.
struct Consts {
    expand: Tensor,
    projection: Tensor,
    phi: Tensor,
    phi2: Tensor,
    low_t: f64,
    high_t: f64,
    peak_t: Tensor,
    peak_cos: Tensor,
}

fn consts(plan: &GeqPlan, device: &Device, dtype: DType) -> Result<Consts> {
    let m = plan.controls();
    let t = |v: Vec<f64>, shape: &[usize]| -> Result<Tensor> {
        Tensor::from_vec(v, shape, &Device::Cpu)?
            .to_dtype(dtype)?
            .to_device(device)
    };
    let shelf_t = |k: SectionKind| match k {
        SectionKind::LowShelf { t } | SectionKind::HighShelf { t } => t,
        _ => 0.0,
    };
    let (mut pt, mut pc) = (Vec::new(), Vec::new());
    for k in &plan.kinds[2..10] {
        if let SectionKind::Peak { t, cos_w } = *k {
            pt.push(t);
            pc.push(cos_w);
        }
    }
    Ok(Consts {
        expand: t(plan.expand.clone(), &[m, BANDS])?,
        projection: t(plan.projection.clone(), &[SECTIONS, m])?,
        phi: t(plan.phi.clone(), &[1, m, 1])?,
        phi2: t(plan.phi.iter().map(|p| p * p).collect(), &[1, m, 1])?,
        low_t: shelf_t(plan.kinds[1]),
        high_t: shelf_t(plan.kinds[10]),
        peak_t: t(pt, &[8, 1])?,
        peak_cos: t(pc, &[8, 1])?,
    })
}

/// Un-normalised coefficient rows `[b0, b1, b2, a0, a1, a2]`, each `(11, C)`, for gains `x` dB.
fn coefficients(k: &Consts, x: &Tensor) -> Result<[Tensor; 6]> {
    let ln10 = std::f64::consts::LN_10;
    let g = x.affine(ln10 / 20.0, 0.0)?.exp()?;
    let g2 = x.affine(ln10 / 40.0, 0.0)?.exp()?;
    let g4 = x.affine(ln10 / 80.0, 0.0)?.exp()?;
    let s2 = std::f64::consts::SQRT_2;
    let row = |t: &Tensor, i: usize, n: usize| t.narrow(0, i, n);
    // Gain.
    let g0 = row(&g, 0, 1)?;
    let zero = g0.zeros_like()?;
    let one = g0.ones_like()?;
    let gain = [g0, zero.clone(), zero.clone(), one, zero.clone(), zero];
    // Shelves: b = √g·[√g t² + √2 t g¼ + 1, 2√g t² − 2, √g t² − √2 t g¼ + 1],
    // a = [√g + √2 t g¼ + t², 2t² − 2√g, √g − √2 t g¼ + t²].
    let shelf = |i: usize, t: f64| -> Result<([Tensor; 3], [Tensor; 3])> {
        let (q2, q4) = (row(&g2, i, 1)?, row(&g4, i, 1)?);
        let t2 = t * t;
        let mid = q4.affine(s2 * t, 0.0)?;
        let q2t2 = q2.affine(t2, 0.0)?;
        let b = [
            ((&q2t2 + &mid)? + 1.0)?.mul(&q2)?,
            q2t2.affine(2.0, -2.0)?.mul(&q2)?,
            ((&q2t2 - &mid)? + 1.0)?.mul(&q2)?,
        ];
        let a = [
            ((&q2 + &mid)? + t2)?,
            q2.affine(-2.0, 2.0 * t2)?,
            ((&q2 - &mid)? + t2)?,
        ];
        Ok((b, a))
    };
    let (lb, la) = shelf(1, k.low_t)?;
    let low = [
        lb[0].clone(),
        lb[1].clone(),
        lb[2].clone(),
        la[0].clone(),
        la[1].clone(),
        la[2].clone(),
    ];
    let (hb, ha) = shelf(10, k.high_t)?;
    let gh = row(&g, 10, 1)?;
    let high = [
        (&ha[0] * &gh)?,
        (&ha[1] * &gh)?,
        (&ha[2] * &gh)?,
        hb[0].clone(),
        hb[1].clone(),
        hb[2].clone(),
    ];
    // Peaks: b = [√g + g t, −2√g cos ω, √g − g t], a = [√g + t, −2√g cos ω, √g − t].
    let (pg, pg2) = (row(&g, 2, 8)?, row(&g2, 2, 8)?);
    let gt = pg.broadcast_mul(&k.peak_t)?;
    let mid = pg2.broadcast_mul(&k.peak_cos)?.affine(-2.0, 0.0)?;
    let peak = [
        (&pg2 + &gt)?,
        mid.clone(),
        (&pg2 - &gt)?,
        pg2.broadcast_add(&k.peak_t)?,
        mid,
        pg2.broadcast_sub(&k.peak_t)?,
    ];
    let mut out = Vec::with_capacity(6);
    for r in 0..6 {
        out.push(Tensor::cat(&[&gain[r], &low[r], &peak[r], &high[r]], 0)?);
    }
    let [b0, b1, b2, a0, a1, a2]: [Tensor; 6] = out.try_into().expect("six rows");
    Ok([b0, b1, b2, a0, a1, a2])
}

/// Cascade dB response `(M, C)` at the control points for coefficient rows `q`.
fn cascade_db(k: &Consts, q: &[Tensor; 6]) -> Result<Tensor> {
    // |B|² = (b0 + b1 + b2)² − 4(b0b1 + 4b0b2 + b1b2)φ + 16b0b2φ² (see crate::geq::section_db).
    let pow = |b0: &Tensor, b1: &Tensor, b2: &Tensor| -> Result<Tensor> {
        let c0 = ((b0 + b1)? + b2)?.sqr()?.unsqueeze(1)?;
        let b02 = (b0 * b2)?;
        let c1 = (((b0 * b1)? + b02.affine(4.0, 0.0)?)? + (b1 * b2)?)?
            .affine(-4.0, 0.0)?
            .unsqueeze(1)?;
        let c2 = b02.affine(16.0, 0.0)?.unsqueeze(1)?;
        c0.broadcast_add(&c1.broadcast_mul(&k.phi)?)?
            .broadcast_add(&c2.broadcast_mul(&k.phi2)?)
    };
    let num = pow(&q[0], &q[1], &q[2])?;
    let den = pow(&q[3], &q[4], &q[5])?;
    (num / den)?
        .log()?
        .affine(10.0 / std::f64::consts::LN_10, 0.0)?
        .sum(0)
}

/// Graphic-EQ bank `(11, 6, C)` (`a0 = 1`) realising `gains_db` `(10, C)` (dB per command band
/// and channel) at `fs` Hz; differentiable w.r.t. the gains.
pub fn graphic_eq_sos(gains_db: &Tensor, fs: f64) -> Result<Tensor> {
    let dims = gains_db.dims();
    if dims.len() != 2 || dims[0] != BANDS || dims[1] == 0 {
        candle_core::bail!("graphic-EQ gains must have shape (10, channels), got {dims:?}");
    }
    let plan = GeqPlan::new(fs).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
    let k = consts(&plan, gains_db.device(), gains_db.dtype())?;
    let target = k.expand.matmul(gains_db)?;
    let mut x = k.projection.matmul(&target)?;
    for _ in 0..CORRECTION_ITERATIONS {
        let d = cascade_db(&k, &coefficients(&k, &x)?)?;
        x = (&x + k.projection.matmul(&(&target - d)?)?)?;
    }
    let q = coefficients(&k, &x)?;
    let a0 = &q[3];
    let rows: Vec<Tensor> = q.iter().map(|r| r.div(a0)).collect::<Result<_>>()?;
    Tensor::stack(&rows, 1)
}

/// Per-line attenuation targets `(10, N)` in dB, `−60·m_i/(RT·fs)`, for band RTs `rt` (seconds,
/// `(10,)` shared by all lines or `(10, N)` per line).
pub fn attenuation_target_db(rt: &Tensor, delays: &[usize], fs: f64) -> Result<Tensor> {
    let rt = match rt.dims() {
        [b] if *b == BANDS => rt.reshape((BANDS, 1))?,
        [b, n] if *b == BANDS && *n == delays.len() => rt.clone(),
        d => candle_core::bail!(
            "graphic-EQ band RTs must have shape (10,) or (10, {}), got {d:?}",
            delays.len()
        ),
    };
    let k: Vec<f64> = delays.iter().map(|&m| -60.0 * m as f64 / fs).collect();
    let k = Tensor::from_vec(k, (1, delays.len()), &Device::Cpu)?
        .to_dtype(rt.dtype())?
        .to_device(rt.device())?;
    k.broadcast_mul(&rt.recip()?)
}

/// Attenuation bank `(11, 6, N)` from band RTs (seconds, `(10,)` or `(10, N)`) for delays
/// (samples) at `fs` Hz; differentiable w.r.t. the RTs.
pub fn graphic_eq_attenuation(rt: &Tensor, delays: &[usize], fs: f64) -> Result<Tensor> {
    graphic_eq_sos(&attenuation_target_db(rt, delays, fs)?, fs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(t: &Tensor) -> Vec<f64> {
        t.flatten_all().unwrap().to_vec1::<f64>().unwrap()
    }

    const RTS: [f64; 10] = [1.8, 1.6, 1.3, 1.1, 1.0, 0.95, 0.9, 0.8, 0.6, 0.4];

    #[test]
    fn candle_design_equals_the_f64_design() {
        let delays = [577usize, 1499, 2999];
        let fs = 48000.0;
        for fs in [fs, 32000.0] {
            let rt = Tensor::new(&RTS, &Device::Cpu).unwrap();
            let got = flat(&graphic_eq_attenuation(&rt, &delays, fs).unwrap());
            let want = crate::geq::graphic_eq_attenuation(&RTS, &delays, fs).unwrap();
            let want: Vec<f64> = want.to_nested().into_iter().flatten().flatten().collect();
            let err = got
                .iter()
                .zip(&want)
                .fold(0.0f64, |a, (x, y)| a.max((x - y).abs()));
            assert!(err < 1e-9, "fs {fs}: max |Δ| {err:e}");
        }
        let g = [3.0, 2.0, 1.0, 0.0, -1.0, -2.0, -3.0, -4.0, -5.0, -6.0];
        let t = Tensor::new(&g, &Device::Cpu)
            .unwrap()
            .reshape((10, 1))
            .unwrap();
        let got = flat(&graphic_eq_sos(&t, 48000.0).unwrap());
        let want = crate::geq::graphic_eq_sos(&g, 48000.0).unwrap();
        for (k, s) in want.iter().enumerate() {
            for (r, v) in s.iter().enumerate() {
                assert!((got[k * 6 + r] - v).abs() < 1e-9, "section {k} row {r}");
            }
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let delays = [701usize, 1931];
        let fs = 48000.0;
        let mut rts = vec![0.0; 20];
        for (j, r) in RTS.iter().enumerate() {
            rts[j * 2] = *r;
            rts[j * 2 + 1] = r * 0.7;
        }
        // A fixed random-ish weighting of every coefficient as the scalar objective.
        let w: Vec<f64> = (0..11 * 6 * 2)
            .map(|i| ((i * 7919 % 113) as f64 / 113.0) - 0.5)
            .collect();
        let w = Tensor::from_vec(w, (11, 6, 2), &Device::Cpu).unwrap();
        let objective = |v: &[f64]| -> f64 {
            let rt = Tensor::from_vec(v.to_vec(), (10, 2), &Device::Cpu).unwrap();
            let s = graphic_eq_attenuation(&rt, &delays, fs).unwrap();
            (s * &w)
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f64>()
                .unwrap()
        };
        let var = candle_core::Var::from_tensor(
            &Tensor::from_vec(rts.clone(), (10, 2), &Device::Cpu).unwrap(),
        )
        .unwrap();
        let s = graphic_eq_attenuation(var.as_tensor(), &delays, fs).unwrap();
        let loss = (s * &w).unwrap().sum_all().unwrap();
        let grads = loss.backward().unwrap();
        let g = flat(grads.get(var.as_tensor()).unwrap());
        let scale = g.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        // Richardson-extrapolated central differences: step large enough to sit above the
        // rounding noise of the low-frequency responses, truncation O(h⁴).
        let central = |i: usize, h: f64| {
            let mut p = rts.clone();
            p[i] += h;
            let mut m = rts.clone();
            m[i] -= h;
            (objective(&p) - objective(&m)) / (2.0 * h)
        };
        for i in 0..20 {
            let h = 1e-3 * rts[i];
            let fd = (4.0 * central(i, h / 2.0) - central(i, h)) / 3.0;
            let rel = (fd - g[i]).abs() / scale;
            assert!(
                rel < 1e-6,
                "param {i}: analytic {} fd {fd} rel {rel:e}",
                g[i]
            );
        }
    }

    #[test]
    fn bad_shapes_are_refused() {
        let t = Tensor::zeros((9, 1), DType::F64, &Device::Cpu).unwrap();
        let e = graphic_eq_sos(&t, 48000.0).unwrap_err();
        assert!(e.to_string().contains("(10, channels)"), "{e}");
        let rt = Tensor::ones((10, 3), DType::F64, &Device::Cpu).unwrap();
        let e = graphic_eq_attenuation(&rt, &[100, 200], 48000.0).unwrap_err();
        assert!(e.to_string().contains("band RTs"), "{e}");
    }
}
