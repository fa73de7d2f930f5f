//! f32 SOS cascades: per delay line (eight lines per SIMD lane group) and per output channel.
//!
//! Each section runs the transposed direct form II of [`crate::sos::SosChannelFilter`],
//! rewritten so that the recursive dependency is one multiply-add per sample:
//! `y = b0·x + s1`, `s1' = c1·x − a1·s1 + s2`, `s2' = c2·x − a2·s1` with `c1 = b1 − a1·b0` and
//! `c2 = b2 − a2·b0` (algebraically identical to `s1' = b1·x − a1·y + s2`, `s2' = b2·x − a2·y`).

use super::simd::{fmadd, LANES};
use crate::sos::SosBank;

/// States smaller than this (absolute) are flushed to zero after each block (denormal guard).
pub const STATE_FLUSH: f32 = 1e-30;

/// Normalised section `[b0, b1, b2, a1, a2]` (a0 = 1) of channel `c`, section `k` of `bank`.
pub fn normalized(bank: &SosBank, k: usize, c: usize) -> [f64; 5] {
    let s = bank.normalized_section(k, c);
    [s[0], s[1], s[2], s[4], s[5]]
}

/// Lane coefficients `[b0, c1, c2, a1, a2]` of one section for one channel.
fn lane_coefs(s: [f64; 5]) -> [f32; 5] {
    let [b0, b1, b2, a1, a2] = s;
    [
        b0 as f32,
        (b1 - a1 * b0) as f32,
        (b2 - a2 * b0) as f32,
        a1 as f32,
        a2 as f32,
    ]
}

/// Per-line SOS cascades for N lines, padded to groups of [`LANES`] (padding lanes output 0).
#[derive(Debug, Clone)]
pub struct LineFilters {
    groups: usize,
    sections: usize,
    /// `[b0, c1, c2, a1, a2]` lane vectors, index `group · sections + section`.
    coef: Vec<[[f32; LANES]; 5]>,
    /// `[s1, s2]` lane vectors, same indexing.
    state: Vec<[[f32; LANES]; 2]>,
}

impl LineFilters {
    /// Filters for the `bank.channels()` lines of `bank`, zero state.
    pub fn new(bank: &SosBank) -> Self {
        let n = bank.channels();
        let groups = n.div_ceil(LANES);
        let sections = bank.sections();
        let mut f = Self {
            groups,
            sections,
            coef: vec![[[0.0; LANES]; 5]; groups * sections],
            state: vec![[[0.0; LANES]; 2]; groups * sections],
        };
        for k in 0..sections {
            for line in 0..n {
                f.set_section(k, line, normalized(bank, k, line));
            }
        }
        f
    }

    /// Number of cascaded sections.
    pub fn sections(&self) -> usize {
        self.sections
    }

    /// Sets section `k` of `line` to the normalised `[b0, b1, b2, a1, a2]` (state is kept).
    pub fn set_section(&mut self, k: usize, line: usize, s: [f64; 5]) {
        let (g, l) = (line / LANES, line % LANES);
        if let Some(c) = self.coef.get_mut(g * self.sections + k) {
            for (row, v) in c.iter_mut().zip(lane_coefs(s)) {
                row[l] = v;
            }
        }
    }

    /// Filters rows `0..groups·LANES` of the line-major block `buf` (row stride `stride`) over
    /// columns `0..b`, in place.
    #[inline(always)]
    pub fn process<const FMA: bool>(&mut self, buf: &mut [f32], stride: usize, b: usize) {
        for g in 0..self.groups {
            let Some(block) = buf.get_mut(g * LANES * stride..(g + 1) * LANES * stride) else {
                return;
            };
            if self.sections == 1 {
                let c = self.coef[g];
                let st = &mut self.state[g];
                one_section::<FMA>(&c, st, block, stride, b);
            } else {
                let k0 = g * self.sections;
                let coefs = &self.coef[k0..k0 + self.sections];
                let states = &mut self.state[k0..k0 + self.sections];
                for t in 0..b {
                    let mut x = [0f32; LANES];
                    for (l, xl) in x.iter_mut().enumerate() {
                        *xl = block[l * stride + t];
                    }
                    for (c, s) in coefs.iter().zip(states.iter_mut()) {
                        x = tick::<FMA>(c, s, &x);
                    }
                    for (l, xl) in x.iter().enumerate() {
                        block[l * stride + t] = *xl;
                    }
                }
            }
        }
        self.flush();
    }

    fn flush(&mut self) {
        for s in self.state.iter_mut().flatten().flatten() {
            if s.abs() < STATE_FLUSH {
                *s = 0.0;
            }
        }
    }

    /// Clears the state.
    pub fn reset(&mut self) {
        self.state.iter_mut().for_each(|s| *s = [[0.0; LANES]; 2]);
    }
}

#[inline(always)]
fn tick<const FMA: bool>(
    c: &[[f32; LANES]; 5],
    s: &mut [[f32; LANES]; 2],
    x: &[f32; LANES],
) -> [f32; LANES] {
    let [b0, c1, c2, a1, a2] = c;
    let [s1, s2] = s;
    let mut y = [0f32; LANES];
    for l in 0..LANES {
        y[l] = fmadd::<FMA>(b0[l], x[l], s1[l]);
        let n1 = fmadd::<FMA>(-a1[l], s1[l], fmadd::<FMA>(c1[l], x[l], s2[l]));
        s2[l] = fmadd::<FMA>(-a2[l], s1[l], c2[l] * x[l]);
        s1[l] = n1;
    }
    y
}

/// Transposes an 8 × 8 tile (`out[k][l] = m[l][k]`); AVX shuffles in the FMA (AVX2) build.
#[inline(always)]
pub fn transpose8<const FMA: bool>(m: &[[f32; LANES]; LANES]) -> [[f32; LANES]; LANES] {
    #[cfg(target_arch = "x86_64")]
    if FMA {
        // SAFETY: `FMA = true` is only instantiated inside `#[target_feature(enable =
        // "avx2,fma")]` code that runs after run-time detection, so AVX is available; all
        // loads and stores are unaligned accesses of whole `[f32; 8]` rows.
        unsafe {
            use std::arch::x86_64::*;
            let r = [
                _mm256_loadu_ps(m[0].as_ptr()),
                _mm256_loadu_ps(m[1].as_ptr()),
                _mm256_loadu_ps(m[2].as_ptr()),
                _mm256_loadu_ps(m[3].as_ptr()),
                _mm256_loadu_ps(m[4].as_ptr()),
                _mm256_loadu_ps(m[5].as_ptr()),
                _mm256_loadu_ps(m[6].as_ptr()),
                _mm256_loadu_ps(m[7].as_ptr()),
            ];
            let t0 = _mm256_unpacklo_ps(r[0], r[1]);
            let t1 = _mm256_unpackhi_ps(r[0], r[1]);
            let t2 = _mm256_unpacklo_ps(r[2], r[3]);
            let t3 = _mm256_unpackhi_ps(r[2], r[3]);
            let t4 = _mm256_unpacklo_ps(r[4], r[5]);
            let t5 = _mm256_unpackhi_ps(r[4], r[5]);
            let t6 = _mm256_unpacklo_ps(r[6], r[7]);
            let t7 = _mm256_unpackhi_ps(r[6], r[7]);
            let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
            let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
            let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
            let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
            let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
            let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
            let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
            let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
            let rows = [
                _mm256_permute2f128_ps::<0x20>(u0, u4),
                _mm256_permute2f128_ps::<0x20>(u1, u5),
                _mm256_permute2f128_ps::<0x20>(u2, u6),
                _mm256_permute2f128_ps::<0x20>(u3, u7),
                _mm256_permute2f128_ps::<0x31>(u0, u4),
                _mm256_permute2f128_ps::<0x31>(u1, u5),
                _mm256_permute2f128_ps::<0x31>(u2, u6),
                _mm256_permute2f128_ps::<0x31>(u3, u7),
            ];
            let mut out = [[0f32; LANES]; LANES];
            for (o, r) in out.iter_mut().zip(rows) {
                _mm256_storeu_ps(o.as_mut_ptr(), r);
            }
            return out;
        }
    }
    let mut out = [[0f32; LANES]; LANES];
    for (k, row) in out.iter_mut().enumerate() {
        for (l, v) in row.iter_mut().enumerate() {
            *v = m[l][k];
        }
    }
    out
}

#[inline(always)]
fn one_section<const FMA: bool>(
    c: &[[f32; LANES]; 5],
    st: &mut [[f32; LANES]; 2],
    block: &mut [f32],
    stride: usize,
    b: usize,
) {
    let mut s = *st;
    let mut t0 = 0;
    // Whole 8 × 8 tiles: 8 row loads, transpose, 8 ticks, transpose back, 8 row stores.
    while t0 + LANES <= b {
        let mut tile = [[0f32; LANES]; LANES];
        for (l, row) in tile.iter_mut().enumerate() {
            if let Some(src) = block.get(l * stride + t0..l * stride + t0 + LANES) {
                row.copy_from_slice(src);
            }
        }
        let cols = transpose8::<FMA>(&tile);
        let mut ys = [[0f32; LANES]; LANES];
        for (y, x) in ys.iter_mut().zip(&cols) {
            *y = tick::<FMA>(c, &mut s, x);
        }
        let rows = transpose8::<FMA>(&ys);
        for (l, row) in rows.iter().enumerate() {
            if let Some(dst) = block.get_mut(l * stride + t0..l * stride + t0 + LANES) {
                dst.copy_from_slice(row);
            }
        }
        t0 += LANES;
    }
    for t in t0..b {
        let mut x = [0f32; LANES];
        for (l, xl) in x.iter_mut().enumerate() {
            *xl = block[l * stride + t];
        }
        let y = tick::<FMA>(c, &mut s, &x);
        for (l, yl) in y.iter().enumerate() {
            block[l * stride + t] = *yl;
        }
    }
    *st = s;
}

/// One channel's SOS cascade (used for the per-output hook): coefficients and state in f64.
/// It runs once per output channel (not per line), so f64 costs little, and it keeps the long
/// low-frequency sections of graphic output EQs (46 Hz shelves at 48 kHz, poles near z = 1) from
/// adding f32 coefficient error to every sample of the wet signal.
#[derive(Debug, Clone)]
pub struct ChannelFilter {
    coef: Vec<[f64; 5]>,
    state: Vec<[f64; 2]>,
}

impl ChannelFilter {
    /// Channel `c` of `bank`, zero state.
    pub fn new(bank: &SosBank, c: usize) -> Self {
        let coef: Vec<[f64; 5]> = (0..bank.sections())
            .map(|k| {
                let [b0, b1, b2, a1, a2] = normalized(bank, k, c);
                [b0, b1 - a1 * b0, b2 - a2 * b0, a1, a2]
            })
            .collect();
        Self {
            state: vec![[0.0; 2]; coef.len()],
            coef,
        }
    }

    /// Filters `x` in place (`FMA` is kept for the call sites' signature; f64 needs no variant).
    #[inline(always)]
    pub fn process<const FMA: bool>(&mut self, x: &mut [f32]) {
        for v in x.iter_mut() {
            let mut y = f64::from(*v);
            for (c, s) in self.coef.iter().zip(self.state.iter_mut()) {
                let [b0, c1, c2, a1, a2] = *c;
                let [s1, s2] = *s;
                let xv = y;
                y = b0 * xv + s1;
                *s = [c1 * xv - a1 * s1 + s2, c2 * xv - a2 * s1];
            }
            *v = y as f32;
        }
        for s in &mut self.state {
            for v in s.iter_mut() {
                if v.abs() < f64::from(STATE_FLUSH) {
                    *v = 0.0;
                }
            }
        }
    }

    /// Clears the state.
    pub fn reset(&mut self) {
        self.state.iter_mut().for_each(|s| *s = [0.0; 2]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sos::SosChannelFilter;

    #[test]
    fn transpose_kernels_agree() {
        let m: [[f32; LANES]; LANES] =
            std::array::from_fn(|l| std::array::from_fn(|k| (l * 10 + k) as f32));
        let t = transpose8::<false>(&m);
        assert_eq!(t[3][5], 53.0);
        #[cfg(target_arch = "x86_64")]
        if crate::engine::SimdLevel::detect() == crate::engine::SimdLevel::Avx2Fma {
            #[target_feature(enable = "avx2,fma")]
            fn avx(m: &[[f32; LANES]; LANES]) -> [[f32; LANES]; LANES] {
                transpose8::<true>(m)
            }
            // SAFETY: AVX2 and FMA were detected above.
            assert_eq!(unsafe { avx(&m) }, t);
        }
    }

    #[test]
    fn lane_and_channel_filters_match_the_f64_reference() {
        // Two sections, 10 lines (two lane groups, padded).
        let n = 10;
        let mut data = Vec::new();
        for k in 0..2 {
            for row in 0..6 {
                for c in 0..n {
                    let x = (c as f64 + 1.0) * 0.03;
                    data.push(match (k, row) {
                        (_, 0) => 0.6 + x,
                        (_, 1) => -0.2 + x,
                        (0, 2) => 0.1,
                        (1, 2) => 0.0,
                        (_, 3) => 1.5,
                        (_, 4) => -0.5 - x,
                        (0, 5) => 0.2,
                        _ => 0.05,
                    });
                }
            }
        }
        let bank = SosBank::new(2, n, data).unwrap();
        let (stride, len) = (40, 37);
        let mut buf = vec![0.0f32; 16 * stride];
        let input = |c: usize, t: usize| ((c * 31 + t * 17) % 23) as f64 / 23.0 - 0.4;
        for c in 0..n {
            for t in 0..len {
                buf[c * stride + t] = input(c, t) as f32;
            }
        }
        let mut lf = LineFilters::new(&bank);
        // Process in two blocks to check state carry-over.
        let (first, second) = (15, len - 15);
        lf.process::<false>(&mut buf, stride, first);
        let mut rest = vec![0.0f32; 16 * stride];
        for c in 0..16 {
            rest[c * stride..c * stride + second]
                .copy_from_slice(&buf[c * stride + first..c * stride + len]);
        }
        lf.process::<false>(&mut rest, stride, second);
        for c in 0..n {
            let mut r = SosChannelFilter::new(&bank, c);
            let mut ch = ChannelFilter::new(&bank, c);
            let mut row: Vec<f32> = (0..len).map(|t| input(c, t) as f32).collect();
            ch.process::<false>(&mut row);
            for t in 0..len {
                let want = r.tick(input(c, t));
                let got = if t < first {
                    buf[c * stride + t]
                } else {
                    rest[c * stride + t - first]
                };
                assert!((f64::from(got) - want).abs() < 1e-5, "line {c} t {t}");
                assert!((f64::from(row[t]) - want).abs() < 1e-5, "channel {c} t {t}");
            }
        }
        // Padding lanes stay silent.
        assert!(buf[10 * stride..16 * stride].iter().all(|&v| v == 0.0));
    }
}
