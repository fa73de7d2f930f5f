//! A plain per-sample f32 FDN (dense A, no blocks, no SIMD dispatch): the scalar baseline the
//! benchmarks compare the engine against, and a second check of the recursion.

use crate::preset::Build;
use crate::sos::SosBank;

/// One channel's SOS cascade, transposed direct form II, f32, one sample at a time.
#[derive(Debug, Clone)]
struct Sos {
    coef: Vec<[f32; 5]>,
    state: Vec<[f32; 2]>,
}

impl Sos {
    fn new(bank: &SosBank, c: usize) -> Self {
        let coef: Vec<[f32; 5]> = (0..bank.sections())
            .map(|k| {
                let s = bank.normalized_section(k, c);
                [
                    s[0] as f32,
                    s[1] as f32,
                    s[2] as f32,
                    s[4] as f32,
                    s[5] as f32,
                ]
            })
            .collect();
        Self {
            state: vec![[0.0; 2]; coef.len()],
            coef,
        }
    }

    #[inline]
    fn tick(&mut self, x: f32) -> f32 {
        let mut v = x;
        for (c, s) in self.coef.iter().zip(self.state.iter_mut()) {
            let y = c[0] * v + s[0];
            s[0] = c[1] * v - c[3] * y + s[1];
            s[1] = c[2] * v - c[4] * y;
            v = y;
        }
        v
    }
}

/// The scalar reference FDN (f32, per sample; `n_in` inputs, `n_out` outputs).
#[derive(Debug, Clone)]
pub struct ScalarFdn {
    n: usize,
    n_in: usize,
    n_out: usize,
    a: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
    d: Vec<f32>,
    lines: Vec<Vec<f32>>,
    pos: Vec<usize>,
    post_delay: Vec<Sos>,
    post_matrix: Vec<Sos>,
    post_output: Vec<Sos>,
    v: Vec<f32>,
}

impl ScalarFdn {
    /// A zero-state renderer for `build`.
    pub fn new(build: &Build) -> Self {
        let f = |m: &crate::Matrix| m.as_slice().iter().map(|&x| x as f32).collect();
        let sos = |bank: Option<&SosBank>, ch: usize| {
            bank.map_or_else(Vec::new, |b| (0..ch).map(|c| Sos::new(b, c)).collect())
        };
        let n = build.n();
        Self {
            n,
            n_in: build.n_in(),
            n_out: build.n_out(),
            a: f(build.a()),
            b: f(build.b()),
            c: f(build.c()),
            d: f(build.d()),
            lines: build.delays().iter().map(|&m| vec![0.0; m]).collect(),
            pos: vec![0; n],
            post_delay: sos(build.post_delay(), n),
            post_matrix: sos(build.post_matrix(), n),
            post_output: sos(build.post_output(), build.n_out()),
            v: vec![0.0; n],
        }
    }

    /// Renders planar `inputs` (`n_in` channels) into planar `outputs` (`n_out` channels) over
    /// the shortest buffer; missing inputs read as silence.
    pub fn process(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let frames = outputs.iter().map(|o| o.len()).min().unwrap_or(0);
        let n = self.n;
        for t in 0..frames {
            for i in 0..n {
                let raw = self.lines[i][self.pos[i]];
                self.v[i] = match self.post_delay.get_mut(i) {
                    Some(f) => f.tick(raw),
                    None => raw,
                };
            }
            let u = |j: usize| inputs.get(j).and_then(|x| x.get(t)).copied().unwrap_or(0.0);
            for (o, out) in outputs.iter_mut().enumerate().take(self.n_out) {
                let mut wet = 0.0;
                for i in 0..n {
                    wet += self.c[o * n + i] * self.v[i];
                }
                if let Some(f) = self.post_output.get_mut(o) {
                    wet = f.tick(wet);
                }
                for j in 0..self.n_in {
                    wet += self.d[o * self.n_in + j] * u(j);
                }
                out[t] = wet;
            }
            for i in 0..n {
                let mut s = 0.0;
                for j in 0..n {
                    s += self.a[i * n + j] * self.v[j];
                }
                if let Some(f) = self.post_matrix.get_mut(i) {
                    s = f.tick(s);
                }
                for j in 0..self.n_in {
                    s += self.b[i * self.n_in + j] * u(j);
                }
                let p = self.pos[i];
                self.lines[i][p] = s;
                self.pos[i] = (p + 1) % self.lines[i].len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::impulse_response;

    #[test]
    fn scalar_reference_matches_the_exact_recursion() {
        let preset = crate::preset::bundled_preset("colorless_N8_d1").unwrap();
        let build = crate::with_decay(preset.build(), (2.0, 0.5)).unwrap();
        let len = 6000;
        let reference = impulse_response(&build, len);
        let mut f = ScalarFdn::new(&build);
        let mut x = vec![0.0f32; len];
        x[0] = 1.0;
        let mut y = vec![0.0f32; len];
        f.process(&[&x], &mut [&mut y]);
        let peak = reference.max_abs();
        for (t, &v) in y.iter().enumerate() {
            assert!((f64::from(v) - reference.at(t, 0, 0)).abs() <= 1e-5 * peak);
        }
    }
}
