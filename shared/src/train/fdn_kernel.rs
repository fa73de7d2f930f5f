//! Per-bin linear algebra of the FDN response op, [`Real::L`] frequency bins at a time.
//!
//! Each group of `L` bins is held as structure-of-arrays lanes ([`Real::Lane`] per matrix entry,
//! real and imaginary planes apart), so every loop over the lanes is a SIMD loop. The kernel is
//! generic over the precision: 8 f64 lanes or 16 f32 lanes (two AVX registers either way). Per
//! bin the forward
//! factorises `M = I − diag(g⊙p)·A` once (LU **without** pivoting, lane-wise) and solves both
//! `M·x = g⊙B` and `Mᵀ·u = Cᵀ`; keeping x and U (`N·(n_in + n_out)` values per bin) makes the
//! backward a handful of products per bin: `v = U·w` replaces the transposed solve.
//!
//! Why no pivoting: for the matrices training meets, `M = I − K` with `‖K‖₂ = max|g_i p_i| < 1`
//! (an orthogonal A, attenuation or an alias-decay radius), M's Hermitian part is positive
//! definite, so are all its Schur complements, and Gaussian elimination without pivoting is
//! stable with pivots of real part ≥ 1 − ‖K‖. Anything else (a random A, a lossless loop on the
//! unit circle) is caught per bin — a pivot below [`PIVOT_MIN`] in magnitude or a non-finite
//! result — and that bin is solved again with the scalar partial-pivoting LU.
//!
//! Every kernel is compiled twice, portable and (x86-64) AVX2 + FMA chosen at run time, like the
//! engine (see [`crate::engine::simd`]).

// T::Lane loops index several arrays by the same lane: plain index loops vectorise best here.
#![allow(clippy::needless_range_loop)]

use crate::engine::SimdLevel;
use crate::linalg::complex_solve_in_place;
use crate::real::Real;
use num_complex::{Complex, Complex64 as C64};
use rustfft::num_traits::Float;

/// The zero lane.
#[inline(always)]
fn zl<T: Real>() -> T::Lane {
    T::splat(T::zero())
}

/// A complex NaN (the value of a singular bin).
#[inline(always)]
fn cnan<T: Real>() -> Complex<T> {
    Complex::new(T::nan(), T::nan())
}

/// Smallest pivot magnitude the unpivoted factorisation accepts before the bin is redone with
/// partial pivoting.
pub(crate) const PIVOT_MIN: f64 = 0.05;

/// The most lanes any [`Real`] has.
const MAX_L: usize = 16;

/// Where a per-bin response factor (Γ, Q) comes from: absent (1), frozen (in [`GridLanes`]),
/// or trainable (re, im) planes `(bins, channels)` supplied per call.
#[derive(Clone, Copy)]
pub(crate) enum Resp<'a, T> {
    /// Response 1 everywhere.
    One,
    /// Precomputed into the grid lane tables.
    Frozen,
    /// (re, im) planes `(bins, channels)` each.
    Planes(&'a [T], &'a [T]),
}

/// Everything one evaluation needs, borrowed.
#[derive(Clone, Copy)]
pub(crate) struct Problem<'a, T: Real> {
    pub n: usize,
    pub ni: usize,
    pub no: usize,
    pub bins: usize,
    /// `(N, N)` row-major.
    pub a: &'a [T],
    /// `(N, n_in)`.
    pub b: &'a [T],
    /// `(n_out, N)`.
    pub c: &'a [T],
    /// `(n_out, n_in)`.
    pub d: &'a [T],
    /// post_delay Γ.
    pub gamma: Resp<'a, T>,
    /// post_output Q.
    pub q: Resp<'a, T>,
    /// The same grid factors as lane tables.
    pub grid: &'a GridLanes<T>,
    /// The backward writes ∂L/∂Γ (post_delay) per bin.
    pub pd_train: bool,
    /// The backward writes ∂L/∂Q (post_output) per bin.
    pub po_train: bool,
}

/// The backward's per-bin data of a run of bins: Ḡ `(bins, n_out, n_in)` in, hook gradients
/// `(bins, N)` and `(bins, n_out)` out (written only for trainable hooks; NaN at singular bins).
pub(crate) struct Adjoint<'a, T> {
    pub gbar: &'a [Complex<T>],
    pub hpd: &'a mut [Complex<T>],
    pub hpo: &'a mut [Complex<T>],
}

impl<T: Real> Problem<'_, T> {
    /// Lanes of the stored solution per group: x `(N, n_in)` and U `(N, n_out)`, re and im.
    pub(crate) fn group_stride(&self) -> usize {
        2 * self.n * (self.ni + self.no)
    }
}

/// Scratch of one rayon block (allocated once per op).
#[derive(Debug, Clone)]
pub(crate) struct Lanes<T: Real> {
    mr: Vec<T::Lane>,
    mi: Vec<T::Lane>,
    dr: Vec<T::Lane>,
    di: Vec<T::Lane>,
    gr: Vec<T::Lane>,
    gi: Vec<T::Lane>,
    gpr: Vec<T::Lane>,
    gpi: Vec<T::Lane>,
    qr: Vec<T::Lane>,
    qi: Vec<T::Lane>,
    wr: Vec<T::Lane>,
    wi: Vec<T::Lane>,
    vr: Vec<T::Lane>,
    vi: Vec<T::Lane>,
    /// Gradient accumulators per lane: A `(N, N)`, B `(N, n_in)`, C `(n_out, N)`, D.
    pub ga: Vec<T::Lane>,
    pub gb: Vec<T::Lane>,
    pub gc: Vec<T::Lane>,
    pub gd: Vec<T::Lane>,
    /// A bin of this block was singular (its gradients are NaN).
    pub singular: bool,
    sm: Vec<C64>,
    sx: Vec<C64>,
    su: Vec<C64>,
}

impl<T: Real> Lanes<T> {
    /// Scratch for an N-line FDN with `ni` inputs and `no` outputs.
    pub(crate) fn new(n: usize, ni: usize, no: usize) -> Self {
        let z = C64::new(0.0, 0.0);
        Self {
            mr: vec![zl::<T>(); n * n],
            mi: vec![zl::<T>(); n * n],
            dr: vec![zl::<T>(); n],
            di: vec![zl::<T>(); n],
            gr: vec![zl::<T>(); n],
            gi: vec![zl::<T>(); n],
            gpr: vec![zl::<T>(); n],
            gpi: vec![zl::<T>(); n],
            qr: vec![zl::<T>(); no],
            qi: vec![zl::<T>(); no],
            wr: vec![zl::<T>(); no * ni],
            wi: vec![zl::<T>(); no * ni],
            vr: vec![zl::<T>(); n * ni],
            vi: vec![zl::<T>(); n * ni],
            ga: vec![zl::<T>(); n * n],
            gb: vec![zl::<T>(); n * ni],
            gc: vec![zl::<T>(); no * n],
            gd: vec![zl::<T>(); no * ni],
            singular: false,
            sm: vec![z; n * n],
            sx: vec![z; n * ni],
            su: vec![z; n * no],
        }
    }

    /// Clears the gradient accumulators.
    pub(crate) fn clear_grads(&mut self) {
        for v in [&mut self.ga, &mut self.gb, &mut self.gc, &mut self.gd] {
            v.iter_mut().for_each(|x| *x = zl::<T>());
        }
        self.singular = false;
    }
}

#[inline(always)]
fn fma<const F: bool, T: Real>(a: T, b: T, c: T) -> T {
    if F {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// The line count: the compile-time `N` of a specialised kernel, else the problem's.
#[inline(always)]
fn dim<T: Real, const N: usize>(p: &Problem<'_, T>) -> usize {
    if N > 0 {
        N
    } else {
        p.n
    }
}

/// Bin of lane `l` in the group starting at `k0` (padding lanes repeat the last bin).
#[inline(always)]
fn bin<T: Real>(p: &Problem<'_, T>, k0: usize, l: usize) -> usize {
    (k0 + l).min(p.bins - 1)
}

/// Per-group lane tables fixed at setup: `z^(−m)` with a frozen Γ folded in, the frozen
/// post_matrix p and the frozen Q, each laid out `[re lanes | im lanes]` per group of
/// [`Real::L`] bins
/// (padding lanes repeat the last bin).
#[derive(Debug, Clone)]
pub(crate) struct GridLanes<T: Real> {
    /// `z^(−m_i)·Γ_i` (Γ = 1 unless frozen), groups × 2N.
    gz: Vec<T::Lane>,
    /// post_matrix response, groups × 2N.
    p: Option<Vec<T::Lane>>,
    /// Frozen post_output response, groups × 2·n_out.
    q: Option<Vec<T::Lane>>,
}

impl<T: Real> GridLanes<T> {
    /// Tables for `bins` bins of an N-line FDN from per-bin `(bins, channels)` values.
    pub(crate) fn new(
        bins: usize,
        n: usize,
        no: usize,
        zinv_m: &[C64],
        gamma: Option<&[C64]>,
        pm: Option<&[C64]>,
        q: Option<&[C64]>,
    ) -> Self {
        let groups = bins.div_ceil(T::L);
        let table = |ch: usize, f: &dyn Fn(usize, usize) -> C64| -> Vec<T::Lane> {
            let mut out = vec![zl::<T>(); groups * 2 * ch];
            for g in 0..groups {
                let base = g * 2 * ch;
                for l in 0..T::L {
                    let k = (g * T::L + l).min(bins - 1);
                    for c in 0..ch {
                        let v = f(k, c);
                        out[base + c][l] = T::of(v.re);
                        out[base + ch + c][l] = T::of(v.im);
                    }
                }
            }
            out
        };
        Self {
            gz: table(n, &|k, i| {
                let z = zinv_m[k * n + i];
                gamma.map_or(z, |gm| gm[k * n + i] * z)
            }),
            p: pm.map(|pm| table(n, &|k, i| pm[k * n + i])),
            q: q.map(|q| table(no, &|k, o| q[k * no + o])),
        }
    }
}

/// Gathers g = Γ·z^(−m), g⊙p and Q of the group starting at bin `k0` into lanes.
#[inline(always)]
fn gather<T: Real, const N: usize>(p: &Problem<'_, T>, k0: usize, s: &mut Lanes<T>) {
    let (n, no) = (dim::<T, N>(p), p.no);
    let gi = k0 / T::L;
    let gz = &p.grid.gz[gi * 2 * n..(gi + 1) * 2 * n];
    match p.gamma {
        Resp::Planes(re, im) => {
            for i in 0..n {
                let (zr, zi) = (gz[i], gz[n + i]);
                let (mut gr, mut gi_) = (zl::<T>(), zl::<T>());
                for l in 0..T::L {
                    let idx = bin(p, k0, l) * n + i;
                    gr[l] = re[idx] * zr[l] - im[idx] * zi[l];
                    gi_[l] = re[idx] * zi[l] + im[idx] * zr[l];
                }
                s.gr[i] = gr;
                s.gi[i] = gi_;
            }
        }
        _ => {
            s.gr[..n].copy_from_slice(&gz[..n]);
            s.gi[..n].copy_from_slice(&gz[n..]);
        }
    }
    match &p.grid.p {
        Some(pl) => {
            let pl = &pl[gi * 2 * n..(gi + 1) * 2 * n];
            for i in 0..n {
                let (gr, gi_, pr, pi) = (s.gr[i], s.gi[i], pl[i], pl[n + i]);
                for l in 0..T::L {
                    s.gpr[i][l] = gr[l] * pr[l] - gi_[l] * pi[l];
                    s.gpi[i][l] = gr[l] * pi[l] + gi_[l] * pr[l];
                }
            }
        }
        None => {
            s.gpr[..n].copy_from_slice(&s.gr[..n]);
            s.gpi[..n].copy_from_slice(&s.gi[..n]);
        }
    }
    match (p.q, &p.grid.q) {
        (Resp::Planes(re, im), _) => {
            for l in 0..T::L {
                let k = bin(p, k0, l);
                for o in 0..no {
                    s.qr[o][l] = re[k * no + o];
                    s.qi[o][l] = im[k * no + o];
                }
            }
        }
        (_, Some(ql)) => {
            let ql = &ql[gi * 2 * no..(gi + 1) * 2 * no];
            s.qr.copy_from_slice(&ql[..no]);
            s.qi.copy_from_slice(&ql[no..]);
        }
        _ => {
            s.qr.iter_mut().for_each(|v| *v = T::splat(T::one()));
            s.qi.iter_mut().for_each(|v| *v = zl::<T>());
        }
    }
}

/// `Σ_j row[j]·v[j·cols + col]` for a real row and a complex lane column `(vr, vi)`.
#[inline(always)]
fn real_row_dot<const F: bool, T: Real>(
    row: &[T],
    vr: &[T::Lane],
    vi: &[T::Lane],
    cols: usize,
    col: usize,
) -> (T::Lane, T::Lane) {
    let (mut yr, mut yi) = (zl::<T>(), zl::<T>());
    for (j, &a) in row.iter().enumerate() {
        let (sr, si) = (vr[j * cols + col], vi[j * cols + col]);
        for l in 0..T::L {
            yr[l] = fma::<F, T>(a, sr[l], yr[l]);
            yi[l] = fma::<F, T>(a, si[l], yi[l]);
        }
    }
    (yr, yi)
}

/// `t −= f·y` on complex lanes.
#[inline(always)]
fn sub_mul<const F: bool, T: Real>(
    tr: &mut T::Lane,
    ti: &mut T::Lane,
    fr: &T::Lane,
    fi: &T::Lane,
    yr: &T::Lane,
    yi: &T::Lane,
) {
    for l in 0..T::L {
        tr[l] = fma::<F, T>(fi[l], yi[l], fma::<F, T>(-fr[l], yr[l], tr[l]));
        ti[l] = fma::<F, T>(-fi[l], yr[l], fma::<F, T>(-fr[l], yi[l], ti[l]));
    }
}

/// Which triangle of the lane LU a [`sweep`] solves with.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sweep {
    /// L (unit diagonal), forward.
    Lower,
    /// U, backward.
    Upper,
    /// Uᵀ, forward.
    UpperT,
    /// Lᵀ (unit diagonal), backward.
    LowerT,
}

/// Solves one triangle of the group's LU for column `col` of the `(n, cols)` lanes `(vr, vi)`
/// in place.
#[inline(always)]
fn sweep<const F: bool, T: Real>(
    s: &Lanes<T>,
    n: usize,
    vr: &mut [T::Lane],
    vi: &mut [T::Lane],
    cols: usize,
    col: usize,
    which: Sweep,
) {
    let forward = matches!(which, Sweep::Lower | Sweep::UpperT);
    let trans = matches!(which, Sweep::UpperT | Sweep::LowerT);
    let diag = matches!(which, Sweep::Upper | Sweep::UpperT);
    for step in 0..n {
        let i = if forward { step } else { n - 1 - step };
        let (mut tr, mut ti) = (vr[i * cols + col], vi[i * cols + col]);
        let js = if forward { 0..i } else { i + 1..n };
        for j in js {
            let f = if trans { j * n + i } else { i * n + j };
            sub_mul::<F, T>(
                &mut tr,
                &mut ti,
                &s.mr[f],
                &s.mi[f],
                &vr[j * cols + col],
                &vi[j * cols + col],
            );
        }
        if diag {
            let (dr, di) = (s.dr[i], s.di[i]);
            let (mut or, mut oi) = (zl::<T>(), zl::<T>());
            for l in 0..T::L {
                or[l] = tr[l] * dr[l] - ti[l] * di[l];
                oi[l] = tr[l] * di[l] + ti[l] * dr[l];
            }
            (tr, ti) = (or, oi);
        }
        vr[i * cols + col] = tr;
        vi[i * cols + col] = ti;
    }
}

/// Forward of one group: factorise, solve x and U into `st`, write H of the `valid` lanes into
/// `h` `(valid, n_out, n_in)` and each lane's success into `ok`.
#[inline(always)]
fn forward_group<const F: bool, T: Real, const N: usize>(
    p: &Problem<'_, T>,
    k0: usize,
    s: &mut Lanes<T>,
    st: &mut [T::Lane],
    ok: &mut [bool],
    h: &mut [Complex<T>],
    valid: usize,
) {
    let (n, ni, no) = (dim::<T, N>(p), p.ni, p.no);
    gather::<T, N>(p, k0, s);
    let (xs, us) = st.split_at_mut(2 * n * ni);
    let (xr, xi) = xs.split_at_mut(n * ni);
    let (ur, ui) = us.split_at_mut(n * no);
    for i in 0..n {
        for j in 0..n {
            let a = p.a[i * n + j];
            let (mut r, mut m) = (zl::<T>(), zl::<T>());
            for l in 0..T::L {
                r[l] = -s.gpr[i][l] * a;
                m[l] = -s.gpi[i][l] * a;
            }
            s.mr[i * n + j] = r;
            s.mi[i * n + j] = m;
        }
        for l in 0..T::L {
            s.mr[i * n + i][l] += T::one();
        }
        for c in 0..ni {
            let b = p.b[i * ni + c];
            for l in 0..T::L {
                xr[i * ni + c][l] = s.gr[i][l] * b;
                xi[i * ni + c][l] = s.gi[i][l] * b;
            }
        }
        for o in 0..no {
            ur[i * no + o] = T::splat(p.c[o * n + i]);
            ui[i * no + o] = zl::<T>();
        }
    }
    // LU without pivoting; d = 1/pivot.
    let mut minp = T::splat(T::infinity());
    for k in 0..n {
        let (pr, pi) = (s.mr[k * n + k], s.mi[k * n + k]);
        let (mut ir, mut ii) = (zl::<T>(), zl::<T>());
        for l in 0..T::L {
            let d = pr[l] * pr[l] + pi[l] * pi[l];
            minp[l] = Float::min(minp[l], d);
            ir[l] = pr[l] / d;
            ii[l] = -pi[l] / d;
        }
        s.dr[k] = ir;
        s.di[k] = ii;
        for r in k + 1..n {
            let (ar, ai) = (s.mr[r * n + k], s.mi[r * n + k]);
            let (mut fr, mut fi) = (zl::<T>(), zl::<T>());
            for l in 0..T::L {
                fr[l] = ar[l] * ir[l] - ai[l] * ii[l];
                fi[l] = ar[l] * ii[l] + ai[l] * ir[l];
            }
            s.mr[r * n + k] = fr;
            s.mi[r * n + k] = fi;
            for j in k + 1..n {
                let (kr, ki) = (s.mr[k * n + j], s.mi[k * n + j]);
                let (mut xr_, mut xi_) = (s.mr[r * n + j], s.mi[r * n + j]);
                sub_mul::<F, T>(&mut xr_, &mut xi_, &fr, &fi, &kr, &ki);
                s.mr[r * n + j] = xr_;
                s.mi[r * n + j] = xi_;
            }
        }
    }
    // M·x = g⊙B: L·t = rhs (unit diagonal), then U·x = t.
    for c in 0..ni {
        sweep::<F, T>(s, n, xr, xi, ni, c, Sweep::Lower);
        sweep::<F, T>(s, n, xr, xi, ni, c, Sweep::Upper);
    }
    // Mᵀ·u = Cᵀ: Uᵀ·s = rhs, then Lᵀ·u = s (unit diagonal).
    for o in 0..no {
        sweep::<F, T>(s, n, ur, ui, no, o, Sweep::UpperT);
        sweep::<F, T>(s, n, ur, ui, no, o, Sweep::LowerT);
    }
    // Any NaN or infinity in a lane's solution makes its sum non-finite.
    let mut sum = zl::<T>();
    for v in xr.iter().chain(xi.iter()).chain(ur.iter()).chain(ui.iter()) {
        for l in 0..T::L {
            sum[l] += v[l];
        }
    }
    for l in 0..valid {
        let good = minp[l].wide() >= PIVOT_MIN * PIVOT_MIN && sum[l].is_finite();
        ok[l] = good || pivoted_bin(p, l, s, xr, xi, ur, ui);
    }
    // H = Q ⊙ (C·x) + D.
    for o in 0..no {
        for c in 0..ni {
            let (yr, yi) = real_row_dot::<F, T>(&p.c[o * n..(o + 1) * n], xr, xi, ni, c);
            let dv = p.d[o * ni + c];
            for l in 0..valid {
                h[(l * no + o) * ni + c] = if ok[l] {
                    let y = Complex::new(yr[l], yi[l]);
                    Complex::new(s.qr[o][l], s.qi[o][l]) * y + dv
                } else {
                    cnan::<T>()
                };
            }
        }
    }
}

/// Solves lane `l`'s bin with partial pivoting into the lane slots ([`crate::linalg`]: one
/// factorisation of M for x, one of Mᵀ for U — this path is rare); false when M is singular.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn pivoted_bin<T: Real>(
    p: &Problem<'_, T>,
    l: usize,
    s: &mut Lanes<T>,
    xr: &mut [T::Lane],
    xi: &mut [T::Lane],
    ur: &mut [T::Lane],
    ui: &mut [T::Lane],
) -> bool {
    let (n, ni, no) = (p.n, p.ni, p.no);
    let m_at = |i: usize, j: usize, s: &Lanes<T>| {
        let gp = C64::new(s.gpr[i][l].wide(), s.gpi[i][l].wide());
        let d = if i == j { 1.0 } else { 0.0 };
        C64::new(d, 0.0) - gp * p.a[i * n + j].wide()
    };
    for i in 0..n {
        let g = C64::new(s.gr[i][l].wide(), s.gi[i][l].wide());
        for j in 0..n {
            s.sm[i * n + j] = m_at(i, j, s);
        }
        for c in 0..ni {
            s.sx[i * ni + c] = g * p.b[i * ni + c].wide();
        }
        for o in 0..no {
            s.su[i * no + o] = C64::new(p.c[o * n + i].wide(), 0.0);
        }
    }
    let mut good = complex_solve_in_place(&mut s.sm, &mut s.sx, n, ni);
    if good {
        for i in 0..n {
            for j in 0..n {
                s.sm[j * n + i] = m_at(i, j, s);
            }
        }
        good = complex_solve_in_place(&mut s.sm, &mut s.su, n, no);
    }
    let good = good
        && s.sx
            .iter()
            .chain(&s.su)
            .all(|z| z.re.is_finite() && z.im.is_finite());
    let z = if good { None } else { Some(0.0) };
    for (idx, v) in s.sx.iter().enumerate() {
        xr[idx][l] = T::of(z.unwrap_or(v.re));
        xi[idx][l] = T::of(z.unwrap_or(v.im));
    }
    for (idx, v) in s.su.iter().enumerate() {
        ur[idx][l] = T::of(z.unwrap_or(v.re));
        ui[idx][l] = T::of(z.unwrap_or(v.im));
    }
    good
}

/// Backward of one group (`adj` covers its `valid` bins): adds the A/B/C/D gradients to the lane
/// accumulators and writes the hook gradients.
#[inline(always)]
fn backward_group<const F: bool, T: Real, const N: usize>(
    p: &Problem<'_, T>,
    k0: usize,
    s: &mut Lanes<T>,
    st: &[T::Lane],
    ok: &[bool],
    adj: Adjoint<'_, T>,
    valid: usize,
) {
    let (n, ni, no) = (dim::<T, N>(p), p.ni, p.no);
    let (pd_train, po_train) = (p.pd_train, p.po_train);
    let Adjoint { gbar, hpd, hpo } = adj;
    gather::<T, N>(p, k0, s);
    let (xs, us) = st.split_at(2 * n * ni);
    let (xr, xi) = xs.split_at(n * ni);
    let (ur, ui) = us.split_at(n * no);
    // Ḡ lanes (zero on padding and singular lanes) → w = conj(Ḡ)·Q, D gradient.
    let mut live = [false; MAX_L];
    for l in 0..valid {
        live[l] = ok[l];
        if !ok[l] {
            s.singular = true;
            hpd[l * n..(l + 1) * n].fill(cnan::<T>());
            hpo[l * no..(l + 1) * no].fill(cnan::<T>());
        }
    }
    for o in 0..no {
        for c in 0..ni {
            let idx = o * ni + c;
            let (mut wr, mut wi) = (zl::<T>(), zl::<T>());
            for l in 0..T::L {
                if live[l] {
                    let gb = gbar[l * no * ni + idx];
                    s.gd[idx][l] += gb.re;
                    let (qr, qi) = (s.qr[o][l], s.qi[o][l]);
                    wr[l] = gb.re * qr + gb.im * qi;
                    wi[l] = gb.re * qi - gb.im * qr;
                }
            }
            s.wr[idx] = wr;
            s.wi[idx] = wi;
        }
    }
    // C gradient: Re(w·xᵀ).
    for o in 0..no {
        for i in 0..n {
            let mut acc = s.gc[o * n + i];
            for c in 0..ni {
                let (wr, wi) = (s.wr[o * ni + c], s.wi[o * ni + c]);
                let (sr, si) = (xr[i * ni + c], xi[i * ni + c]);
                for l in 0..T::L {
                    acc[l] = fma::<F, T>(wr[l], sr[l], fma::<F, T>(-wi[l], si[l], acc[l]));
                }
            }
            s.gc[o * n + i] = acc;
        }
    }
    // v = U·w, B gradient Re(v⊙g), then v ← v⊙g⊙p for A.
    for i in 0..n {
        for c in 0..ni {
            let (mut vr, mut vi) = (zl::<T>(), zl::<T>());
            for o in 0..no {
                let (wr, wi) = (s.wr[o * ni + c], s.wi[o * ni + c]);
                let (a, b) = (ur[i * no + o], ui[i * no + o]);
                for l in 0..T::L {
                    vr[l] = fma::<F, T>(a[l], wr[l], fma::<F, T>(-b[l], wi[l], vr[l]));
                    vi[l] = fma::<F, T>(a[l], wi[l], fma::<F, T>(b[l], wr[l], vi[l]));
                }
            }
            let (gr, gi) = (s.gr[i], s.gi[i]);
            let mut acc = s.gb[i * ni + c];
            for l in 0..T::L {
                acc[l] = fma::<F, T>(vr[l], gr[l], fma::<F, T>(-vi[l], gi[l], acc[l]));
            }
            s.gb[i * ni + c] = acc;
            s.vr[i * ni + c] = vr;
            s.vi[i * ni + c] = vi;
        }
    }
    if pd_train {
        // α_i = Σ_c v_ic·z^(−m_i)·(B_ic + p_i·(A·x)_ic); ∂L/∂Γ_i = conj(α_i). A trainable Γ is
        // never frozen, so the grid's gz lanes are z^(−m) itself.
        let gi = k0 / T::L;
        let gz = &p.grid.gz[gi * 2 * n..(gi + 1) * 2 * n];
        let pl = p.grid.p.as_ref().map(|v| &v[gi * 2 * n..(gi + 1) * 2 * n]);
        for i in 0..n {
            let (zr, zi) = (gz[i], gz[n + i]);
            let (mut ar, mut ai) = (zl::<T>(), zl::<T>());
            for c in 0..ni {
                let (axr, axi) = real_row_dot::<F, T>(&p.a[i * n..(i + 1) * n], xr, xi, ni, c);
                let b = p.b[i * ni + c];
                let (mut tr, mut ti) = (zl::<T>(), zl::<T>());
                match pl {
                    Some(pl) => {
                        let (pr, pi) = (pl[i], pl[n + i]);
                        for l in 0..T::L {
                            tr[l] = b + pr[l] * axr[l] - pi[l] * axi[l];
                            ti[l] = pr[l] * axi[l] + pi[l] * axr[l];
                        }
                    }
                    None => {
                        for l in 0..T::L {
                            tr[l] = b + axr[l];
                            ti[l] = axi[l];
                        }
                    }
                }
                let (vr, vi) = (s.vr[i * ni + c], s.vi[i * ni + c]);
                for l in 0..T::L {
                    let ur = vr[l] * zr[l] - vi[l] * zi[l];
                    let ui = vr[l] * zi[l] + vi[l] * zr[l];
                    ar[l] += ur * tr[l] - ui * ti[l];
                    ai[l] += ur * ti[l] + ui * tr[l];
                }
            }
            for l in 0..valid {
                if live[l] {
                    hpd[l * n + i] = Complex::new(ar[l], -ai[l]);
                }
            }
        }
    }
    if po_train {
        // ∂L/∂Q_o = conj(Σ_c conj(Ḡ_oc)·(C·x)_oc).
        for o in 0..no {
            let (mut ar, mut ai) = (zl::<T>(), zl::<T>());
            for c in 0..ni {
                let (yr, yi) = real_row_dot::<F, T>(&p.c[o * n..(o + 1) * n], xr, xi, ni, c);
                for l in 0..valid {
                    if live[l] {
                        let gb = gbar[l * no * ni + o * ni + c].conj();
                        let al = gb * Complex::new(yr[l], yi[l]);
                        ar[l] += al.re;
                        ai[l] += al.im;
                    }
                }
            }
            for l in 0..valid {
                if live[l] {
                    hpo[l * no + o] = Complex::new(ar[l], -ai[l]);
                }
            }
        }
    }
    // A gradient: Re((v⊙g⊙p)·xᵀ).
    for i in 0..n {
        for c in 0..ni {
            let (vr, vi) = (s.vr[i * ni + c], s.vi[i * ni + c]);
            let (gr, gi) = (s.gpr[i], s.gpi[i]);
            let (mut tr, mut ti) = (zl::<T>(), zl::<T>());
            for l in 0..T::L {
                tr[l] = vr[l] * gr[l] - vi[l] * gi[l];
                ti[l] = vr[l] * gi[l] + vi[l] * gr[l];
            }
            for j in 0..n {
                let (sr, si) = (xr[j * ni + c], xi[j * ni + c]);
                let mut acc = s.ga[i * n + j];
                for l in 0..T::L {
                    acc[l] = fma::<F, T>(tr[l], sr[l], fma::<F, T>(-ti[l], si[l], acc[l]));
                }
                s.ga[i * n + j] = acc;
            }
        }
    }
}

/// Forward of a run of groups starting at bin `k0` (`h` `(bins of the run, n_out, n_in)`).
#[inline(always)]
fn forward_run<const F: bool, T: Real, const N: usize>(
    p: &Problem<'_, T>,
    k0: usize,
    s: &mut Lanes<T>,
    store: &mut [T::Lane],
    ok: &mut [bool],
    h: &mut [Complex<T>],
) {
    let stride = p.group_stride();
    let per_bin = p.no * p.ni;
    let bins_here = h.len() / per_bin;
    for (g, (st, okg)) in store
        .chunks_mut(stride)
        .zip(ok.chunks_mut(T::L))
        .enumerate()
    {
        let first = g * T::L;
        if first >= bins_here {
            break;
        }
        let valid = (bins_here - first).min(T::L);
        let hg = &mut h[first * per_bin..(first + valid) * per_bin];
        forward_group::<F, T, N>(p, k0 + first, s, st, okg, hg, valid);
    }
}

/// Backward of a run of groups starting at bin `k0`.
#[inline(always)]
fn backward_run<const F: bool, T: Real, const N: usize>(
    p: &Problem<'_, T>,
    k0: usize,
    s: &mut Lanes<T>,
    store: &[T::Lane],
    ok: &[bool],
    adj: Adjoint<'_, T>,
) {
    let Adjoint { gbar, hpd, hpo } = adj;
    let stride = p.group_stride();
    let per_bin = p.no * p.ni;
    let bins_here = gbar.len() / per_bin;
    for (g, (st, okg)) in store.chunks(stride).zip(ok.chunks(T::L)).enumerate() {
        let first = g * T::L;
        if first >= bins_here {
            break;
        }
        let valid = (bins_here - first).min(T::L);
        let adj = Adjoint {
            gbar: &gbar[first * per_bin..(first + valid) * per_bin],
            hpd: &mut hpd[first * p.n..(first + valid) * p.n],
            hpo: &mut hpo[first * p.no..(first + valid) * p.no],
        };
        backward_group::<F, T, N>(p, k0 + first, s, st, okg, adj, valid);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn forward_run_avx2<T: Real, const N: usize>(
    p: &Problem<'_, T>,
    k0: usize,
    s: &mut Lanes<T>,
    store: &mut [T::Lane],
    ok: &mut [bool],
    h: &mut [Complex<T>],
) {
    forward_run::<true, T, N>(p, k0, s, store, ok, h)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn backward_run_avx2<T: Real, const N: usize>(
    p: &Problem<'_, T>,
    k0: usize,
    s: &mut Lanes<T>,
    store: &[T::Lane],
    ok: &[bool],
    adj: Adjoint<'_, T>,
) {
    backward_run::<true, T, N>(p, k0, s, store, ok, adj)
}

/// Calls `$f::<N>` with the line count fixed at compile time for the common sizes (4, 6, 8,
/// 12, 16, 24, 32 lines) so the loops unroll; `N = 0` reads it from the problem.
macro_rules! by_size {
    ($n:expr, $f:ident, $($arg:expr),*) => {
        match $n {
            4 => $f::<T, 4>($($arg),*),
            6 => $f::<T, 6>($($arg),*),
            8 => $f::<T, 8>($($arg),*),
            12 => $f::<T, 12>($($arg),*),
            16 => $f::<T, 16>($($arg),*),
            24 => $f::<T, 24>($($arg),*),
            32 => $f::<T, 32>($($arg),*),
            _ => $f::<T, 0>($($arg),*),
        }
    };
}

/// Forward of the bins `k0 ..` covered by `h`: H into `h`, x and U into `store` (one group
/// stride per [`Real::L`] bins), success per bin into `ok`.
pub(crate) fn forward<T: Real>(
    level: SimdLevel,
    p: &Problem<'_, T>,
    k0: usize,
    s: &mut Lanes<T>,
    store: &mut [T::Lane],
    ok: &mut [bool],
    h: &mut [Complex<T>],
) {
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `level` is Avx2Fma only when the CPU reported AVX2 and FMA.
        SimdLevel::Avx2Fma => unsafe { by_size!(p.n, forward_run_avx2, p, k0, s, store, ok, h) },
        _ => forward_run::<false, T, 0>(p, k0, s, store, ok, h),
    }
}

/// Backward of the bins `k0 ..` covered by `adj`, from the forward's `store`/`ok`;
/// accumulates into `s` and writes the hook gradients.
pub(crate) fn backward<T: Real>(
    level: SimdLevel,
    p: &Problem<'_, T>,
    k0: usize,
    s: &mut Lanes<T>,
    store: &[T::Lane],
    ok: &[bool],
    adj: Adjoint<'_, T>,
) {
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `level` is Avx2Fma only when the CPU reported AVX2 and FMA.
        SimdLevel::Avx2Fma => unsafe { by_size!(p.n, backward_run_avx2, p, k0, s, store, ok, adj) },
        _ => backward_run::<false, T, 0>(p, k0, s, store, ok, adj),
    }
}
