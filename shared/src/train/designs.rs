//! RT / dB targets → SOS coefficients as differentiable candle expressions (pyFDN
//! `AttenuationFilter` / `OutputEQ`, FDN reference §6): first-order shelf and one-pole designs,
//! with pyFDN's soft RT floor.

use candle_core::{Result, Tensor};

/// torch `softplus(x)` (β = 1, threshold 20: identity above 20), elementwise.
pub fn softplus(x: &Tensor) -> Result<Tensor> {
    // ln(1 + e^x) = relu(x) + ln(1 + e^(−|x|)), stable for both signs.
    // ln(1 + u) for u = e^(−|x|) ∈ (0, 1]: a 4-term series below 1e-4 keeps full precision.
    let u = x.abs()?.neg()?.exp()?;
    let inner = (&u * (u.affine(-0.25, 0.0)? + (1.0 / 3.0))?)?;
    let inner = (&u * (inner - 0.5)?)?;
    let series = (&u * (inner + 1.0)?)?;
    let log1p = u.lt(1e-4)?.where_cond(&series, &(&u + 1.0)?.log()?)?;
    let stable = (x.relu()? + log1p)?;
    let big = x.gt(20.0)?;
    big.where_cond(x, &stable)
}

/// pyFDN's soft RT floor: `f·(1 + softplus((rt − f)/f))` with `floor_s` = f in seconds.
pub fn soft_rt_floor(rt: &Tensor, floor_s: f64) -> Result<Tensor> {
    let u = rt.affine(1.0 / floor_s, -1.0)?;
    softplus(&u)?.affine(floor_s, floor_s)
}

/// Per-line linear gains `10^(−3·m_i/(rt_i·fs))` for `rt` of shape `(1,)` or `(N,)` (seconds).
pub fn line_gains(rt: &Tensor, delays: &[usize], fs: f64) -> Result<Tensor> {
    let k: Vec<f64> = delays
        .iter()
        .map(|&m| -3.0 * std::f64::consts::LN_10 * m as f64 / fs)
        .collect();
    let k = Tensor::from_vec(k, delays.len(), rt.device())?.to_dtype(rt.dtype())?;
    k.broadcast_mul(&rt.recip()?)?.exp()
}

fn stack_sections(rows: [Tensor; 6]) -> Result<Tensor> {
    Tensor::stack(&rows, 0)?.unsqueeze(0)
}

/// First-order shelf bank `(1, 6, N)` (§6.1) from DC and Nyquist RTs (seconds, `(1,)` or `(N,)`)
/// and the bilinear warp `t` (1 for the default crossover fs/4).
pub fn shelf_sos(
    rt_dc: &Tensor,
    rt_ny: &Tensor,
    delays: &[usize],
    fs: f64,
    t: f64,
) -> Result<Tensor> {
    let g_dc = line_gains(rt_dc, delays, fs)?;
    let g_ny = line_gains(rt_ny, delays, fs)?;
    let r = (&g_dc / &g_ny)?.sqrt()?;
    let t_over_r = r.recip()?.affine(t, 0.0)?;
    let a0 = (&t_over_r + 1.0)?;
    let tr = r.affine(t, 0.0)?;
    let b0 = ((&tr + 1.0)? * &g_ny)?.div(&a0)?;
    let b1 = ((&tr - 1.0)? * &g_ny)?.div(&a0)?;
    let a1 = (&t_over_r - 1.0)?.div(&a0)?;
    let zero = g_dc.zeros_like()?;
    let one = g_dc.ones_like()?;
    stack_sections([b0, b1, zero.clone(), one, a1, zero])
}

/// One-pole bank `(1, 6, N)` (§6.2) from DC and Nyquist RTs (seconds, `(1,)` or `(N,)`).
pub fn one_pole_sos(rt_dc: &Tensor, rt_ny: &Tensor, delays: &[usize], fs: f64) -> Result<Tensor> {
    let g_dc = line_gains(rt_dc, delays, fs)?;
    let g_ny = line_gains(rt_ny, delays, fs)?;
    let rho = (&g_dc / &g_ny)?;
    let a1 = (rho.affine(-1.0, 1.0)? / (&rho + 1.0)?)?;
    let b0 = (a1.affine(-1.0, 1.0)? * &g_ny)?;
    let zero = g_dc.zeros_like()?;
    let one = g_dc.ones_like()?;
    stack_sections([b0, zero.clone(), zero.clone(), one, a1, zero])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decay::{decay_to_first_order_shelf, decay_to_one_pole};
    use candle_core::Device;

    fn flat(t: &Tensor) -> Vec<f64> {
        t.flatten_all().unwrap().to_vec1::<f64>().unwrap()
    }

    #[test]
    fn designs_match_the_f64_decay_module() {
        let delays = [997usize, 1201, 1499];
        let fs = 48000.0;
        let dc = Tensor::new(&[1.7f64], &Device::Cpu).unwrap();
        let ny = Tensor::new(&[0.6f64], &Device::Cpu).unwrap();
        let got = flat(&shelf_sos(&dc, &ny, &delays, fs, 1.0).unwrap());
        let want: Vec<f64> = decay_to_first_order_shelf(1.7, 0.6, None, &delays, fs)
            .unwrap()
            .to_nested()
            .into_iter()
            .flatten()
            .flatten()
            .collect();
        let err = got
            .iter()
            .zip(&want)
            .fold(0.0f64, |a, (x, y)| a.max((x - y).abs()));
        assert!(err < 1e-14, "shelf {err}");
        let got = flat(&one_pole_sos(&dc, &ny, &delays, fs).unwrap());
        let want: Vec<f64> = decay_to_one_pole(1.7, 0.6, &delays, fs)
            .unwrap()
            .to_nested()
            .into_iter()
            .flatten()
            .flatten()
            .collect();
        let err = got
            .iter()
            .zip(&want)
            .fold(0.0f64, |a, (x, y)| a.max((x - y).abs()));
        assert!(err < 1e-14, "one-pole {err}");
    }

    #[test]
    fn softplus_matches_torch_semantics() {
        let x = Tensor::new(&[-30.0f64, -1.0, 0.0, 3.0, 20.5], &Device::Cpu).unwrap();
        let y = flat(&softplus(&x).unwrap());
        let want = [
            (-30f64).exp().ln_1p(),
            (-1f64).exp().ln_1p(),
            2f64.ln(),
            3f64.exp().ln_1p(),
            20.5,
        ];
        for (a, b) in y.iter().zip(want) {
            assert!((a - b).abs() < 1e-15 * b.abs().max(1e-300), "{a} vs {b}");
        }
        let f = 0.03;
        let rt = Tensor::new(&[2.0f64], &Device::Cpu).unwrap();
        assert!((flat(&soft_rt_floor(&rt, f).unwrap())[0] - 2.0).abs() < 1e-12);
    }
}
