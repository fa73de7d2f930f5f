//! H(z) = Q(z)·C·[I − Γ(z)·D_m(z)·P(z)·A]⁻¹·Γ(z)·D_m(z)·B + D on the `nfft/2 + 1` rfft bins.

use crate::linalg::complex_solve_in_place;
use crate::preset::Build;
use num_complex::Complex64;

/// A MIMO frequency response on bins `k = 0..=nfft/2`, layout `(bins, n_out, n_in)`.
#[derive(Debug, Clone, PartialEq)]
pub struct FreqResponse {
    /// FFT length the grid belongs to (samples).
    pub nfft: usize,
    /// Output channels.
    pub n_out: usize,
    /// Input channels.
    pub n_in: usize,
    /// Alias-decay attenuation `a` in dB used for the evaluation radius.
    pub alias_decay_db: f64,
    /// Values, row-major `(nfft/2 + 1, n_out, n_in)`.
    pub data: Vec<Complex64>,
}

impl FreqResponse {
    /// Number of bins (`nfft/2 + 1`).
    pub fn bins(&self) -> usize {
        self.nfft / 2 + 1
    }

    /// Value at bin `k`, output `o`, input `i`.
    pub fn at(&self, k: usize, o: usize, i: usize) -> Complex64 {
        self.data[(k * self.n_out + o) * self.n_in + i]
    }

    /// Largest magnitude over all bins and channels.
    pub fn max_abs(&self) -> f64 {
        self.data.iter().map(|z| z.norm()).fold(0.0, f64::max)
    }
}

/// Alias-decay factor γ = 10^(−|a| / (20·nfft)) for `a = alias_decay_db` (dB over `nfft` samples).
pub fn alias_factor(nfft: usize, alias_decay_db: f64) -> f64 {
    10f64.powf(-alias_decay_db.abs() / (20.0 * nfft as f64))
}

/// Evaluates H at the complex point given by `zinv = z⁻¹` and the per-line delay terms
/// `zinv_m[i] = z^(−m_i)`; writes `(n_out, n_in)` values into `out`. Returns `false` when
/// `I − Γ D P A` is singular at that point (a pole).
pub fn transfer_at(
    build: &Build,
    zinv: Complex64,
    zinv_m: &[Complex64],
    out: &mut [Complex64],
) -> bool {
    let n = build.n();
    let (n_in, n_out) = (build.n_in(), build.n_out());
    let a = build.a();
    // g_i = Γ_i(z) · z^(−m_i): the forward branch per line.
    let g: Vec<Complex64> = (0..n)
        .map(|i| {
            build
                .post_delay()
                .map_or(Complex64::new(1.0, 0.0), |b| b.eval(i, zinv))
                * zinv_m[i]
        })
        .collect();
    let p: Vec<Complex64> = (0..n)
        .map(|i| {
            build
                .post_matrix()
                .map_or(Complex64::new(1.0, 0.0), |b| b.eval(i, zinv))
        })
        .collect();
    let mut m = vec![Complex64::new(0.0, 0.0); n * n];
    for i in 0..n {
        let gp = g[i] * p[i];
        for j in 0..n {
            m[i * n + j] = -gp * a.get(i, j);
        }
        m[i * n + i] += 1.0;
    }
    let mut x: Vec<Complex64> = (0..n)
        .flat_map(|i| (0..n_in).map(move |c| (i, c)))
        .map(|(i, c)| g[i] * build.b().get(i, c))
        .collect();
    if !complex_solve_in_place(&mut m, &mut x, n, n_in) {
        return false;
    }
    for o in 0..n_out {
        let q = build
            .post_output()
            .map_or(Complex64::new(1.0, 0.0), |b| b.eval(o, zinv));
        for c in 0..n_in {
            let y: Complex64 = (0..n).map(|i| x[i * n_in + c] * build.c().get(o, i)).sum();
            out[o * n_in + c] = q * y + build.d().get(o, c);
        }
    }
    true
}

/// H on the rfft grid of `nfft` (bins `0..=nfft/2`, ω_k = 2πk/nfft), evaluated at radius 1/γ
/// (`alias_decay_db` = 0 gives H(e^{jω_k}) exactly), through the output mix if the build has one.
/// Bins at an exact pole hold NaN.
pub fn frequency_response(build: &Build, nfft: usize, alias_decay_db: f64) -> FreqResponse {
    let (n_in, n_out) = (build.n_in(), build.n_out());
    let gamma = alias_factor(nfft, alias_decay_db);
    let bins = nfft / 2 + 1;
    let mut data = vec![Complex64::new(0.0, 0.0); bins * n_out * n_in];
    let two_pi = 2.0 * std::f64::consts::PI;
    let gamma_m: Vec<f64> = build
        .delays()
        .iter()
        .map(|&m| gamma.powi(m as i32))
        .collect();
    let mut zinv_m = vec![Complex64::new(0.0, 0.0); build.n()];
    for k in 0..bins {
        let zinv = Complex64::from_polar(gamma, -two_pi * k as f64 / nfft as f64);
        // ω_k = (2π·k)/nfft and the phase ω_k·m, rounded as FLAMO rounds them: near the poles of
        // a lossless build |H| is ill-conditioned in the phase, so matching the reference to
        // 1e-9 needs the same floating-point phase, not a more exact one.
        let omega = two_pi * k as f64 / nfft as f64;
        for (i, &m) in build.delays().iter().enumerate() {
            let phase = omega * m as f64;
            zinv_m[i] = Complex64::new(gamma_m[i] * phase.cos(), -gamma_m[i] * phase.sin());
        }
        let out = &mut data[k * n_out * n_in..(k + 1) * n_out * n_in];
        if !transfer_at(build, zinv, &zinv_m, out) {
            out.iter_mut()
                .for_each(|v| *v = Complex64::new(f64::NAN, f64::NAN));
        }
    }
    let (n_out, data) = match build.output_mix() {
        Some(mix) => (mix.rows(), mixed(mix, &data, n_out, n_in)),
        None => (n_out, data),
    };
    FreqResponse {
        nfft,
        n_out,
        n_in,
        alias_decay_db,
        data,
    }
}

/// Bins of `(n_out, n_in)` values through the output mix `mix` (`rows × n_out`): `(rows, n_in)`.
fn mixed(mix: &crate::Matrix, data: &[Complex64], n_out: usize, n_in: usize) -> Vec<Complex64> {
    let rows = mix.rows();
    data.chunks(n_out * n_in)
        .flat_map(|bin| {
            (0..rows).flat_map(move |r| {
                (0..n_in).map(move |c| {
                    (0..n_out)
                        .map(|o| bin[o * n_in + c] * mix.get(r, o))
                        .sum::<Complex64>()
                })
            })
        })
        .collect()
}
