//! L-BFGS exactly as torch.optim.LBFGS as pyFDN drives it (FDN reference §8: `lr`,
//! `line_search_fn="strong_wolfe"`, torch defaults max_iter 20, max_eval 25, history 100,
//! tolerance_grad 1e-7, tolerance_change 1e-9): one [`Lbfgs::step`] = one torch
//! `optimizer.step(closure)`, with the two-loop recursion, the first-iteration step
//! `min(1, 1/‖g‖₁)·lr`, and torch's strong-Wolfe bracketing/zoom with cubic interpolation.
//!
//! One deliberate deviation: a non-finite trial loss in the line search counts as "too large"
//! (the step is bracketed and shrunk; the cubic step through a NaN falls back to bisection)
//! where torch would carry the NaN on.
//!
//! The optimiser works on a flat f64 parameter vector; [`flatten_vars`] / [`set_vars`] /
//! [`flat_grads`] move candle variables in and out of it.

use anyhow::{bail, Result};
use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var};

/// Settings of [`Lbfgs`] (torch names and defaults, line search as pyFDN sets it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LbfgsOptions {
    /// Learning rate (torch default 1; pyFDN passes its `lr`).
    pub lr: f64,
    /// Iterations per step.
    pub max_iter: usize,
    /// Function evaluations per step (torch: `max_iter·5/4`).
    pub max_eval: usize,
    /// Stop when max |gradient| ≤ this.
    pub tolerance_grad: f64,
    /// Stop when the loss or step changes by less than this.
    pub tolerance_change: f64,
    /// Stored curvature pairs.
    pub history_size: usize,
    /// Strong-Wolfe line search (pyFDN: on); off = fixed step `lr`.
    pub strong_wolfe: bool,
}

impl Default for LbfgsOptions {
    fn default() -> Self {
        Self {
            lr: 1.0,
            max_iter: 20,
            max_eval: 25,
            tolerance_grad: 1e-7,
            tolerance_change: 1e-9,
            history_size: 100,
            strong_wolfe: true,
        }
    }
}

/// Objective: loss and gradient at a flat parameter vector.
pub type Objective<'a> = dyn FnMut(&[f64]) -> Result<(f64, Vec<f64>)> + 'a;

/// torch LBFGS state carried across steps.
#[derive(Debug, Clone)]
pub struct Lbfgs {
    opts: LbfgsOptions,
    n_iter: usize,
    func_evals: usize,
    d: Vec<f64>,
    t: f64,
    old_dirs: Vec<Vec<f64>>,
    old_stps: Vec<Vec<f64>>,
    ro: Vec<f64>,
    h_diag: f64,
    prev_flat_grad: Vec<f64>,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn max_abs(a: &[f64]) -> f64 {
    a.iter().fold(0.0, |m, v| m.max(v.abs()))
}

fn axpy(x: &[f64], t: f64, d: &[f64]) -> Vec<f64> {
    x.iter().zip(d).map(|(a, b)| a + t * b).collect()
}

/// torch `_cubic_interpolate`: minimiser of the cubic through two points with slopes, clamped.
fn cubic_interpolate(p1: (f64, f64, f64), p2: (f64, f64, f64), bounds: Option<(f64, f64)>) -> f64 {
    let ((x1, f1, g1), (x2, f2, g2)) = (p1, p2);
    let (lo, hi) = bounds.unwrap_or(if x1 <= x2 { (x1, x2) } else { (x2, x1) });
    let d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2);
    let d2_square = d1 * d1 - g1 * g2;
    if d2_square >= 0.0 {
        let d2 = d2_square.sqrt();
        let min_pos = if x1 <= x2 {
            x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
        } else {
            x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
        };
        min_pos.max(lo).min(hi)
    } else {
        (lo + hi) / 2.0
    }
}

/// Result of the line search: loss, gradient, step, evaluations.
struct Search {
    f: f64,
    g: Vec<f64>,
    t: f64,
    evals: usize,
}

/// torch `_strong_wolfe` (c1 1e-4, c2 0.9, max_ls 25) along `d` from `x`.
#[allow(clippy::too_many_arguments)]
fn strong_wolfe(
    obj: &mut Objective<'_>,
    x: &[f64],
    mut t: f64,
    d: &[f64],
    f: f64,
    g: &[f64],
    gtd: f64,
    tolerance_change: f64,
) -> Result<Search> {
    const C1: f64 = 1e-4;
    const C2: f64 = 0.9;
    const MAX_LS: usize = 25;
    let d_norm = max_abs(d);
    let (mut f_new, mut g_new) = obj(&axpy(x, t, d))?;
    let mut evals = 1;
    let mut gtd_new = dot(&g_new, d);
    let (mut t_prev, mut f_prev, mut g_prev, mut gtd_prev) = (0.0, f, g.to_vec(), gtd);
    let mut done = false;
    let mut ls_iter = 0;
    // Brackets: (t, f, g, gtd).
    let mut br: Vec<(f64, f64, Vec<f64>, f64)> = Vec::new();
    while ls_iter < MAX_LS {
        if !f_new.is_finite() || f_new > f + C1 * t * gtd || (ls_iter > 1 && f_new >= f_prev) {
            br = vec![
                (t_prev, f_prev, g_prev.clone(), gtd_prev),
                (t, f_new, g_new.clone(), gtd_new),
            ];
            break;
        }
        if gtd_new.abs() <= -C2 * gtd {
            br = vec![(t, f_new, g_new.clone(), gtd_new)];
            done = true;
            break;
        }
        if gtd_new >= 0.0 {
            br = vec![
                (t_prev, f_prev, g_prev.clone(), gtd_prev),
                (t, f_new, g_new.clone(), gtd_new),
            ];
            break;
        }
        let min_step = t + 0.01 * (t - t_prev);
        let max_step = t * 10.0;
        let tmp = t;
        t = cubic_interpolate(
            (t_prev, f_prev, gtd_prev),
            (t, f_new, gtd_new),
            Some((min_step, max_step)),
        );
        t_prev = tmp;
        f_prev = f_new;
        g_prev = g_new.clone();
        gtd_prev = gtd_new;
        (f_new, g_new) = obj(&axpy(x, t, d))?;
        evals += 1;
        gtd_new = dot(&g_new, d);
        ls_iter += 1;
    }
    if ls_iter == MAX_LS {
        br = vec![
            (0.0, f, g.to_vec(), gtd),
            (t, f_new, g_new.clone(), gtd_new),
        ];
    }
    // Zoom.
    // Non-finite losses order as +∞ so the low end of the bracket is always a finite point.
    let key = |f: f64| if f.is_finite() { f } else { f64::INFINITY };
    let order = |br: &[(f64, f64, Vec<f64>, f64)]| {
        if key(br[0].1) <= key(br[br.len() - 1].1) {
            (0, 1)
        } else {
            (1, 0)
        }
    };
    let (mut low, mut high) = order(&br);
    let mut insuf_progress = false;
    while !done && ls_iter < MAX_LS {
        if (br[1].0 - br[0].0).abs() * d_norm < tolerance_change {
            break;
        }
        t = cubic_interpolate(
            (br[0].0, br[0].1, br[0].3),
            (br[1].0, br[1].1, br[1].3),
            None,
        );
        let (bmax, bmin) = (br[0].0.max(br[1].0), br[0].0.min(br[1].0));
        let eps = 0.1 * (bmax - bmin);
        if (bmax - t).min(t - bmin) < eps {
            if insuf_progress || t >= bmax || t <= bmin {
                t = if (t - bmax).abs() < (t - bmin).abs() {
                    bmax - eps
                } else {
                    bmin + eps
                };
                insuf_progress = false;
            } else {
                insuf_progress = true;
            }
        } else {
            insuf_progress = false;
        }
        (f_new, g_new) = obj(&axpy(x, t, d))?;
        evals += 1;
        gtd_new = dot(&g_new, d);
        ls_iter += 1;
        if !f_new.is_finite() || f_new > f + C1 * t * gtd || f_new >= br[low].1 {
            br[high] = (t, f_new, g_new.clone(), gtd_new);
            (low, high) = order(&br);
        } else {
            if gtd_new.abs() <= -C2 * gtd {
                done = true;
            } else if gtd_new * (br[high].0 - br[low].0) >= 0.0 {
                br[high] = br[low].clone();
            }
            br[low] = (t, f_new, g_new.clone(), gtd_new);
        }
    }
    let (t, f, g, _) = br.swap_remove(low);
    Ok(Search { f, g, t, evals })
}

impl Lbfgs {
    /// A fresh optimiser.
    pub fn new(opts: LbfgsOptions) -> Result<Self> {
        if !(opts.lr.is_finite() && opts.lr > 0.0) {
            bail!("L-BFGS lr must be positive, got {}", opts.lr);
        }
        if opts.max_iter == 0 || opts.max_eval == 0 || opts.history_size == 0 {
            bail!("L-BFGS max_iter, max_eval and history_size must be at least 1");
        }
        Ok(Self {
            opts,
            n_iter: 0,
            func_evals: 0,
            d: Vec::new(),
            t: 0.0,
            old_dirs: Vec::new(),
            old_stps: Vec::new(),
            ro: Vec::new(),
            h_diag: 1.0,
            prev_flat_grad: Vec::new(),
        })
    }

    /// Total objective evaluations so far.
    pub fn func_evals(&self) -> usize {
        self.func_evals
    }

    /// One torch `LBFGS.step(closure)` from `x` (updated in place); returns the loss at the
    /// starting point, as torch does.
    pub fn step(&mut self, x: &mut Vec<f64>, obj: &mut Objective<'_>) -> Result<f64> {
        let o = self.opts;
        let (orig_loss, mut flat_grad) = obj(x)?;
        if flat_grad.len() != x.len() {
            bail!(
                "objective returned {} gradient values for {} parameters",
                flat_grad.len(),
                x.len()
            );
        }
        let mut loss = orig_loss;
        let mut current_evals = 1;
        self.func_evals += 1;
        if max_abs(&flat_grad) <= o.tolerance_grad {
            return Ok(orig_loss);
        }
        let mut n_iter = 0;
        while n_iter < o.max_iter {
            n_iter += 1;
            self.n_iter += 1;
            if self.n_iter == 1 {
                self.d = flat_grad.iter().map(|g| -g).collect();
                self.old_dirs.clear();
                self.old_stps.clear();
                self.ro.clear();
                self.h_diag = 1.0;
            } else {
                let y: Vec<f64> = flat_grad
                    .iter()
                    .zip(&self.prev_flat_grad)
                    .map(|(a, b)| a - b)
                    .collect();
                let s: Vec<f64> = self.d.iter().map(|v| v * self.t).collect();
                let ys = dot(&y, &s);
                if ys > 1e-10 {
                    if self.old_dirs.len() == o.history_size {
                        self.old_dirs.remove(0);
                        self.old_stps.remove(0);
                        self.ro.remove(0);
                    }
                    self.h_diag = ys / dot(&y, &y);
                    self.old_dirs.push(y);
                    self.old_stps.push(s);
                    self.ro.push(1.0 / ys);
                }
                let k = self.old_dirs.len();
                let mut al = vec![0.0; k];
                let mut q: Vec<f64> = flat_grad.iter().map(|g| -g).collect();
                for i in (0..k).rev() {
                    al[i] = dot(&self.old_stps[i], &q) * self.ro[i];
                    for (qj, yj) in q.iter_mut().zip(&self.old_dirs[i]) {
                        *qj -= al[i] * yj;
                    }
                }
                let mut r: Vec<f64> = q.iter().map(|v| v * self.h_diag).collect();
                let pairs = self.old_dirs.iter().zip(&self.old_stps).zip(&self.ro);
                for (((y, s), ro), a) in pairs.zip(&al) {
                    let be_i = dot(y, &r) * ro;
                    for (rj, sj) in r.iter_mut().zip(s) {
                        *rj += (a - be_i) * sj;
                    }
                }
                self.d = r;
            }
            self.prev_flat_grad = flat_grad.clone();
            let prev_loss = loss;
            self.t = if self.n_iter == 1 {
                (1.0f64).min(1.0 / flat_grad.iter().map(|g| g.abs()).sum::<f64>()) * o.lr
            } else {
                o.lr
            };
            let gtd = dot(&flat_grad, &self.d);
            if gtd > -o.tolerance_change {
                break;
            }
            let ls_evals;
            let opt_cond;
            if o.strong_wolfe {
                let s = strong_wolfe(
                    obj,
                    x,
                    self.t,
                    &self.d,
                    loss,
                    &flat_grad,
                    gtd,
                    o.tolerance_change,
                )?;
                loss = s.f;
                flat_grad = s.g;
                self.t = s.t;
                ls_evals = s.evals;
                *x = axpy(x, self.t, &self.d);
                opt_cond = max_abs(&flat_grad) <= o.tolerance_grad;
            } else {
                *x = axpy(x, self.t, &self.d);
                if n_iter != o.max_iter {
                    (loss, flat_grad) = obj(x)?;
                    opt_cond = max_abs(&flat_grad) <= o.tolerance_grad;
                    ls_evals = 1;
                } else {
                    opt_cond = false;
                    ls_evals = 0;
                }
            }
            current_evals += ls_evals;
            self.func_evals += ls_evals;
            if n_iter == o.max_iter || current_evals >= o.max_eval || opt_cond {
                break;
            }
            if max_abs(&self.d) * self.t.abs() <= o.tolerance_change {
                break;
            }
            if (loss - prev_loss).abs() < o.tolerance_change {
                break;
            }
        }
        Ok(orig_loss)
    }
}

/// Concatenated f64 values of `vars` (row-major each).
pub fn flatten_vars(vars: &[Var]) -> Result<Vec<f64>> {
    let mut out = Vec::new();
    for v in vars {
        out.extend(
            v.as_tensor()
                .to_device(&Device::Cpu)?
                .to_dtype(DType::F64)?
                .flatten_all()?
                .to_vec1::<f64>()?,
        );
    }
    Ok(out)
}

/// Writes the flat vector `x` back into `vars` (sizes as [`flatten_vars`]).
pub fn set_vars(vars: &[Var], x: &[f64]) -> Result<()> {
    let total: usize = vars.iter().map(|v| v.elem_count()).sum();
    if total != x.len() {
        bail!("{} values for {total} parameters", x.len());
    }
    let mut at = 0;
    for v in vars {
        let n = v.elem_count();
        let t = Tensor::from_vec(x[at..at + n].to_vec(), v.shape(), &Device::Cpu)?
            .to_dtype(v.dtype())?
            .to_device(v.device())?;
        v.set(&t)?;
        at += n;
    }
    Ok(())
}

/// Gradients of `vars` in `grads`, flattened like [`flatten_vars`] (missing → zeros).
pub fn flat_grads(vars: &[Var], grads: &GradStore) -> Result<Vec<f64>> {
    let mut out = Vec::new();
    for v in vars {
        match grads.get(v.as_tensor()) {
            Some(g) => out.extend(
                g.to_device(&Device::Cpu)?
                    .to_dtype(DType::F64)?
                    .flatten_all()?
                    .to_vec1::<f64>()?,
            ),
            None => out.extend(std::iter::repeat_n(0.0, v.elem_count())),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converges_to_the_minimiser_of_a_quadratic() {
        // f(x) = ½ xᵀAx − bᵀx with an ill-conditioned SPD A; minimiser A⁻¹b.
        let a = [[10.0, 2.0, 0.0], [2.0, 3.0, 0.5], [0.0, 0.5, 0.2]];
        let b = [1.0, -2.0, 0.5];
        let mut obj = |x: &[f64]| -> Result<(f64, Vec<f64>)> {
            let ax: Vec<f64> = (0..3).map(|i| dot(&a[i], x)).collect();
            let f = 0.5 * dot(x, &ax) - dot(&b, x);
            let g = ax.iter().zip(&b).map(|(p, q)| p - q).collect();
            Ok((f, g))
        };
        // Tight tolerances: torch's defaults stop once the loss changes by < 1e-9.
        let mut opt = Lbfgs::new(LbfgsOptions {
            tolerance_change: 1e-16,
            tolerance_grad: 1e-12,
            ..Default::default()
        })
        .unwrap();
        let mut x = vec![0.0; 3];
        for _ in 0..3 {
            opt.step(&mut x, &mut obj).unwrap();
        }
        // Solve A x = b by Cramer's rule for the reference.
        let det = |m: [[f64; 3]; 3]| {
            m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
                - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
                + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
        };
        let d = det(a);
        for k in 0..3 {
            let mut m = a;
            for i in 0..3 {
                m[i][k] = b[i];
            }
            let want = det(m) / d;
            assert!((x[k] - want).abs() < 1e-8, "x[{k}] = {} vs {want}", x[k]);
        }
    }

    #[test]
    fn rosenbrock_decreases_without_and_with_line_search() {
        let mut obj = |x: &[f64]| -> Result<(f64, Vec<f64>)> {
            let (a, b) = (x[0], x[1]);
            let f = (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2);
            let g = vec![
                -2.0 * (1.0 - a) - 400.0 * a * (b - a * a),
                200.0 * (b - a * a),
            ];
            Ok((f, g))
        };
        for strong_wolfe in [true, false] {
            let mut opt = Lbfgs::new(LbfgsOptions {
                strong_wolfe,
                lr: if strong_wolfe { 1.0 } else { 1e-3 },
                ..Default::default()
            })
            .unwrap();
            let mut x = vec![-1.2, 1.0];
            let f0 = obj(&x).unwrap().0;
            for _ in 0..10 {
                opt.step(&mut x, &mut obj).unwrap();
            }
            let f1 = obj(&x).unwrap().0;
            assert!(f1 < f0, "line search {strong_wolfe}: {f0} → {f1}");
            if strong_wolfe {
                assert!(f1 < 1e-8, "strong Wolfe reaches the minimum: {f1}");
            }
        }
    }

    #[test]
    fn colorless_training_with_lbfgs_lowers_the_loss() {
        use crate::train::{build_fdn, colorless, train_fdn, BuildFdnOptions, Optimizer};
        let mut model = build_fdn(&BuildFdnOptions {
            delays: Some(vec![31, 37, 41, 43]),
            rt: None,
            nfft: 512,
            fs: 8000.0,
            seed: 3,
            ..Default::default()
        })
        .unwrap();
        let log = train_fdn(
            &mut model,
            &mut colorless(),
            &crate::train::TrainOptions {
                max_steps: 3,
                lr: 1.0,
                patience: 100,
                optimizer: Optimizer::Lbfgs,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(log.steps_run, 3);
        // Logged losses are post-step; compare with the untrained model's loss.
        let fresh = build_fdn(&BuildFdnOptions {
            delays: Some(vec![31, 37, 41, 43]),
            rt: None,
            nfft: 512,
            fs: 8000.0,
            seed: 3,
            ..Default::default()
        })
        .unwrap();
        let (h, a) = fresh.response_and_feedback().unwrap();
        let (l0, _) = colorless()
            .evaluate(&crate::train::LossContext {
                h: &h,
                feedback: &a,
                model: &fresh,
            })
            .unwrap();
        let l0 = l0.to_scalar::<f64>().unwrap();
        assert!(log.train_loss[2] < l0, "{l0} → {:?}", log.train_loss);
        assert!(
            log.train_loss[2] <= log.train_loss[0],
            "{:?}",
            log.train_loss
        );
    }

    #[test]
    fn bad_settings_are_refused() {
        let e = Lbfgs::new(LbfgsOptions {
            lr: 0.0,
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("lr"), "{e}");
    }
}
