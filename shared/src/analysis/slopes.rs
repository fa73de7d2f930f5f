//! Single- and multi-slope fits of an energy decay curve with the common-slope model of Götz,
//! Hold, Schlecht and Välimäki, "Common-slope modeling of late reverberation" (IEEE/ACM TASLP
//! 2023), the model DecayFitNet fits:
//!
//! `d(t) = Σ_k A_k·(exp(−13.8155·t/T_k) − exp(−13.8155·L/T_k)) + A_0·(L − t)/L`
//!
//! for `t` in seconds over an EDC of length `L` seconds, `T_k` the RT60 of slope `k` (seconds)
//! and `A_0` the noise term (the Schroeder integral of a constant noise floor).
//!
//! Method: for given decay times the amplitudes solve a non-negative linear least-squares
//! problem weighted by `1/EDC` (relative error, the first-order dB error); the decay times
//! minimise the mean squared dB error between model and EDC, found by an exhaustive search on a
//! log-spaced grid of 0.02–20 s followed by Nelder–Mead refinement of `ln T` from the best
//! distinct grid points. Everything is deterministic.

/// `ln(10⁶)`: an exponential `exp(−RT60_DECAY·t/T)` falls 60 dB after `T` seconds.
pub const RT60_DECAY: f64 = 13.815510557964274;

/// Largest number of exponential slopes a fit may use.
pub const MAX_SLOPES: usize = 3;

/// Shortest EDC (samples) [`fit_slopes`] accepts.
pub const MIN_EDC_SAMPLES: usize = 100;

/// Fraction of the EDC length fitted; the last 5 % (where the EDC plunges to zero) is left out.
const FIT_FRACTION: f64 = 0.95;
/// The fit stops where the EDC falls below this level relative to t = 0 (dB).
const FIT_FLOOR_DB: f64 = -150.0;
/// Fit points after downsampling (at most).
const FIT_POINTS: usize = 400;
/// Decay-time search grid: lowest and highest RT60 (seconds).
const GRID_RT_S: (f64, f64) = (0.02, 20.0);
/// Grid points for one and two slopes, and for three.
const GRID_POINTS: usize = 48;
const GRID_POINTS_3: usize = 30;
/// Nelder–Mead bounds on the refined RT60 (seconds).
const REFINE_RT_S: (f64, f64) = (0.005, 100.0);
/// Nelder–Mead starts (distinct grid optima) and evaluations per start.
const STARTS: usize = 3;
const EVALS_PER_DIM: usize = 250;

/// `fit_slopes_auto`: a further slope must cut the RMS dB error to this fraction or less.
pub const AUTO_RMS_RATIO: f64 = 0.5;
/// `fit_slopes_auto`: a further slope must cut the RMS dB error by at least this (dB).
pub const AUTO_MIN_GAIN_DB: f64 = 0.05;
/// `fit_slopes_auto`: neighbouring decay times must differ by at least this factor.
pub const AUTO_MIN_RT_RATIO: f64 = 1.25;
/// `fit_slopes_auto`: every slope must supply at least this fraction of the modelled EDC
/// somewhere in the fitted range (it dominates some stretch of the decay).
pub const AUTO_MIN_SHARE: f64 = 0.5;

/// Why a decay analysis could not be done.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecayFitError {
    /// The input has no samples.
    #[error("{what} is empty")]
    Empty {
        /// What the input is ("impulse response", "energy decay curve").
        what: &'static str,
    },
    /// The input is too short to analyse.
    #[error("{what} has {len} samples; at least {min} are needed")]
    TooShort {
        /// What the input is.
        what: &'static str,
        /// Samples given.
        len: usize,
        /// Samples needed.
        min: usize,
    },
    /// A sample is NaN or infinite.
    #[error("{what} sample {index} is not finite")]
    NonFinite {
        /// What the input is.
        what: &'static str,
        /// Sample index.
        index: usize,
    },
    /// An energy value is negative.
    #[error("energy decay curve sample {index} is negative ({value}); pass linear energy")]
    NegativeEnergy {
        /// Sample index.
        index: usize,
        /// The value.
        value: f64,
    },
    /// Every sample is zero.
    #[error("{what} is all zeros")]
    Silent {
        /// What the input is.
        what: &'static str,
    },
    /// The sample rate is not a positive finite number.
    #[error("sample rate {0} Hz must be finite and positive")]
    SampleRate(f64),
    /// The requested slope count is out of range.
    #[error("slope count {n} must be between 1 and {max}")]
    SlopeCount {
        /// Requested count.
        n: usize,
        /// Largest count allowed.
        max: usize,
    },
    /// The signal does not decay far enough above its noise to analyse.
    #[error("no decay: the energy falls only {range_db:.1} dB from its peak to the noise floor (at least {min_db:.0} dB needed)")]
    NoDecay {
        /// Peak-to-noise range found (dB).
        range_db: f64,
        /// Range needed (dB).
        min_db: f64,
    },
}

/// One exponential slope of a [`SlopeFit`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slope {
    /// Decay time to −60 dB, seconds.
    pub rt_s: f64,
    /// Amplitude `A_k` in the model, linear energy in the scale of the fitted EDC.
    pub amplitude: f64,
    /// `10·log10(A_k / EDC(0))`, dB relative to the fitted EDC at t = 0.
    pub level_db: f64,
}

/// A common-slope fit of an energy decay curve.
#[derive(Debug, Clone, PartialEq)]
pub struct SlopeFit {
    /// Slopes in order of increasing decay time (slopes whose best amplitude is zero are dropped).
    pub slopes: Vec<Slope>,
    /// Noise term `A_0`, linear energy in the scale of the fitted EDC (0 without a noise term).
    pub noise_level: f64,
    /// Root-mean-square difference between model and EDC over the fitted range, dB.
    pub rms_error_db: f64,
    /// Length `L` of the fitted EDC, seconds.
    pub length_s: f64,
}

/// The model EDC of `fit` at `t_s` seconds (linear energy, scale of the fitted EDC).
pub fn model_edc(fit: &SlopeFit, t_s: f64) -> f64 {
    let l = fit.length_s;
    let exps: f64 = fit
        .slopes
        .iter()
        .map(|s| {
            s.amplitude * ((-RT60_DECAY * t_s / s.rt_s).exp() - (-RT60_DECAY * l / s.rt_s).exp())
        })
        .sum();
    let noise = if l > 0.0 {
        fit.noise_level * (l - t_s) / l
    } else {
        0.0
    };
    exps + noise
}

/// Schroeder backward-integrated energy `Σ_{m ≥ n} x[m]²` (linear, not normalised).
pub fn schroeder_energy(x: &[f64]) -> Vec<f64> {
    let mut acc = 0.0;
    let mut edc: Vec<f64> = x
        .iter()
        .rev()
        .map(|v| {
            acc += v * v;
            acc
        })
        .collect();
    edc.reverse();
    edc
}

/// Checks a sample rate (Hz).
pub(crate) fn check_sample_rate(fs: f64) -> Result<(), DecayFitError> {
    if fs.is_finite() && fs > 0.0 {
        Ok(())
    } else {
        Err(DecayFitError::SampleRate(fs))
    }
}

/// Checks a signal for emptiness, length, non-finite samples and silence.
pub(crate) fn check_signal(
    x: &[f64],
    what: &'static str,
    min_len: usize,
) -> Result<(), DecayFitError> {
    if x.is_empty() {
        return Err(DecayFitError::Empty { what });
    }
    if let Some(index) = x.iter().position(|v| !v.is_finite()) {
        return Err(DecayFitError::NonFinite { what, index });
    }
    if x.len() < min_len {
        return Err(DecayFitError::TooShort {
            what,
            len: x.len(),
            min: min_len,
        });
    }
    if x.iter().all(|&v| v == 0.0) {
        return Err(DecayFitError::Silent { what });
    }
    Ok(())
}

/// Fits `n_slopes` (1–3) exponential slopes, plus a noise term when `noise_term`, to `edc`
/// (linear energy, any scale, sample 0 = t 0) sampled at `fs` Hz.
///
/// The fitted range runs from t = 0 to 95 % of the EDC length or to where the EDC falls 150 dB
/// below its start, whichever comes first, downsampled to at most 400 evenly spaced points.
pub fn fit_slopes(
    edc: &[f64],
    fs: f64,
    n_slopes: usize,
    noise_term: bool,
) -> Result<SlopeFit, DecayFitError> {
    if !(1..=MAX_SLOPES).contains(&n_slopes) {
        return Err(DecayFitError::SlopeCount {
            n: n_slopes,
            max: MAX_SLOPES,
        });
    }
    let problem = Problem::new(edc, fs, noise_term)?;
    Ok(problem.fit(n_slopes))
}

/// Fits 1 to `max_slopes` slopes and keeps the smallest count that describes `edc` (see
/// [`fit_slopes`] for the arguments).
///
/// Rule: start with one slope; a fit with `K + 1` slopes replaces the `K`-slope fit only when
/// (a) its RMS dB error is at most [`AUTO_RMS_RATIO`] (½) of the `K`-slope error and at least
/// [`AUTO_MIN_GAIN_DB`] lower, (b) it keeps all `K + 1` slopes (none with zero amplitude),
/// (c) neighbouring decay times differ by at least [`AUTO_MIN_RT_RATIO`] (×1.25), and (d) every
/// slope supplies at least [`AUTO_MIN_SHARE`] (half) of the modelled EDC at some fitted time, i.e.
/// each slope dominates a stretch of the decay. The search stops at the first rejected count,
/// so noise wiggles that a further slope could chase do not add slopes.
pub fn fit_slopes_auto(
    edc: &[f64],
    fs: f64,
    max_slopes: usize,
    noise_term: bool,
) -> Result<SlopeFit, DecayFitError> {
    if !(1..=MAX_SLOPES).contains(&max_slopes) {
        return Err(DecayFitError::SlopeCount {
            n: max_slopes,
            max: MAX_SLOPES,
        });
    }
    let problem = Problem::new(edc, fs, noise_term)?;
    let mut best = problem.fit(1);
    for k in 2..=max_slopes {
        let next = problem.fit(k);
        if problem.accepts(&best, &next, k) {
            best = next;
        } else {
            break;
        }
    }
    Ok(best)
}

/// Up to three slopes plus the noise column.
const MAXC: usize = MAX_SLOPES + 1;

/// The downsampled, normalised EDC a fit works on.
struct Problem {
    /// Input EDC at t = 0 (scale of the input).
    edc0: f64,
    /// EDC length `L`, seconds.
    length_s: f64,
    /// Spacing of the fit points, seconds (point `j` is at `j·dt`).
    dt: f64,
    /// `1 / EDC` at the fit points, EDC normalised to 1 at t = 0.
    inv: Vec<f64>,
    /// Whether the model has a noise term.
    noise_term: bool,
}

/// Amplitudes (normalised EDC scale) and the dB mean squared error of one set of decay times.
struct Eval {
    amps: [f64; MAXC],
    mse: f64,
}

impl Problem {
    fn new(edc: &[f64], fs: f64, noise_term: bool) -> Result<Self, DecayFitError> {
        const WHAT: &str = "energy decay curve";
        check_sample_rate(fs)?;
        check_signal(edc, WHAT, MIN_EDC_SAMPLES)?;
        if let Some(index) = edc.iter().position(|&v| v < 0.0) {
            return Err(DecayFitError::NegativeEnergy {
                index,
                value: edc[index],
            });
        }
        let edc0 = edc[0];
        if edc0 <= 0.0 {
            return Err(DecayFitError::Silent { what: WHAT });
        }
        let floor = edc0 * 10f64.powf(FIT_FLOOR_DB / 10.0);
        let mut cut = ((edc.len() as f64 * FIT_FRACTION) as usize).max(1);
        if let Some(i) = edc[..cut].iter().position(|&v| v <= floor) {
            cut = i;
        }
        let min_points = 10;
        if cut < min_points {
            return Err(DecayFitError::TooShort {
                what: "energy decay curve above -150 dB",
                len: cut,
                min: min_points,
            });
        }
        let stride = cut.div_ceil(FIT_POINTS);
        let inv = (0..cut)
            .step_by(stride)
            .map(|i| edc0 / edc[i])
            .collect::<Vec<_>>();
        Ok(Self {
            edc0,
            length_s: edc.len() as f64 / fs,
            dt: stride as f64 / fs,
            inv,
            noise_term,
        })
    }

    /// Columns of the model: `k` exponential columns then (optionally) the noise column.
    fn columns(&self, rts: &[f64]) -> usize {
        rts.len() + usize::from(self.noise_term)
    }

    /// Unweighted model basis at every fit point, passed to `f(j, basis)`.
    fn for_each_basis(&self, rts: &[f64], mut f: impl FnMut(usize, &[f64; MAXC])) {
        let k = rts.len();
        let l = self.length_s;
        let mut ratio = [0.0; MAXC];
        let mut tail = [0.0; MAXC];
        let mut pow = [1.0; MAXC];
        for (c, &rt) in rts.iter().enumerate() {
            ratio[c] = (-RT60_DECAY * self.dt / rt).exp();
            tail[c] = (-RT60_DECAY * l / rt).exp();
        }
        let mut basis = [0.0; MAXC];
        for j in 0..self.inv.len() {
            for c in 0..k {
                basis[c] = pow[c] - tail[c];
                pow[c] *= ratio[c];
            }
            if self.noise_term {
                basis[k] = (l - j as f64 * self.dt) / l;
            }
            f(j, &basis);
        }
    }

    /// Weighted Gram matrix and right-hand side of the relative-error least squares.
    fn normal_equations(&self, rts: &[f64]) -> ([[f64; MAXC]; MAXC], [f64; MAXC]) {
        let n = self.columns(rts);
        let mut g = [[0.0; MAXC]; MAXC];
        let mut b = [0.0; MAXC];
        self.for_each_basis(rts, |j, basis| {
            let w = self.inv[j];
            for r in 0..n {
                let br = basis[r] * w;
                b[r] += br;
                for c in r..n {
                    g[r][c] += br * basis[c] * w;
                }
            }
        });
        #[allow(clippy::needless_range_loop)] // index form mirrors the math
        for r in 0..n {
            for c in 0..r {
                g[r][c] = g[c][r];
            }
        }
        (g, b)
    }

    /// Best amplitudes and dB error for decay times `rts` (seconds, any order).
    fn evaluate(&self, rts: &[f64]) -> Eval {
        let n = self.columns(rts);
        let (g, b) = self.normal_equations(rts);
        let amps = nnls_small(&g, &b, n);
        let mut sum = 0.0;
        self.for_each_basis(rts, |j, basis| {
            let m: f64 = (0..n).map(|c| amps[c] * basis[c]).sum();
            let e = 10.0 * (m * self.inv[j]).max(1e-300).log10();
            sum += e * e;
        });
        Eval {
            amps,
            mse: sum / self.inv.len() as f64,
        }
    }

    /// Grid search then Nelder–Mead refinement for `k` slopes.
    fn fit(&self, k: usize) -> SlopeFit {
        let points = if k == 3 { GRID_POINTS_3 } else { GRID_POINTS };
        let (lo, hi) = GRID_RT_S;
        let grid: Vec<f64> = (0..points)
            .map(|i| lo * (hi / lo).powf(i as f64 / (points - 1) as f64))
            .collect();
        let candidates = self.grid_candidates(&grid, k);
        let (rlo, rhi) = REFINE_RT_S;
        let bounds = (rlo.ln(), rhi.ln());
        let objective = |theta: &[f64]| -> f64 {
            if theta.iter().any(|&x| x < bounds.0 || x > bounds.1) {
                return f64::INFINITY;
            }
            let rts: Vec<f64> = theta.iter().map(|x| x.exp()).collect();
            self.evaluate(&rts).mse
        };
        let mut best: Option<(Vec<f64>, f64)> = None;
        for start in candidates {
            let theta0: Vec<f64> = start.iter().map(|&i| grid[i].ln()).collect();
            let (t1, _) = nelder_mead(&objective, &theta0, 0.25, EVALS_PER_DIM * k);
            let (t2, f2) = nelder_mead(&objective, &t1, 0.05, EVALS_PER_DIM * k);
            if best.as_ref().is_none_or(|(_, f)| f2 < *f) {
                best = Some((t2, f2));
            }
        }
        let theta = best.map(|(t, _)| t).unwrap_or_else(|| vec![1f64.ln(); k]);
        self.finish(theta.iter().map(|x| x.exp()).collect())
    }

    /// The `STARTS` best grid combinations (indices, increasing) whose decay times differ from
    /// each better one by at least two grid steps somewhere, ranked by the weighted residual.
    fn grid_candidates(&self, grid: &[f64], k: usize) -> Vec<Vec<usize>> {
        let m = grid.len();
        // Gram matrix over all grid columns plus the noise column (last).
        let nc = m + usize::from(self.noise_term);
        let mut g = vec![0.0; nc * nc];
        let mut b = vec![0.0; nc];
        let mut cols = vec![vec![0.0; self.inv.len()]; nc];
        for (c, &rt) in grid.iter().enumerate() {
            self.for_each_basis(&[rt], |j, basis| cols[c][j] = basis[0] * self.inv[j]);
        }
        if self.noise_term {
            self.for_each_basis(&[], |j, basis| cols[m][j] = basis[0] * self.inv[j]);
        }
        for r in 0..nc {
            b[r] = cols[r].iter().sum();
            for c in r..nc {
                let v: f64 = cols[r].iter().zip(&cols[c]).map(|(x, y)| x * y).sum();
                g[r * nc + c] = v;
                g[c * nc + r] = v;
            }
        }
        let mut scored: Vec<(f64, Vec<usize>)> = Vec::new();
        let mut idx: Vec<usize> = (0..k).collect();
        loop {
            let mut sel: Vec<usize> = idx.clone();
            if self.noise_term {
                sel.push(m);
            }
            let n = sel.len();
            let mut gs = [[0.0; MAXC]; MAXC];
            let mut bs = [0.0; MAXC];
            for (r, &i) in sel.iter().enumerate() {
                bs[r] = b[i];
                for (c, &j) in sel.iter().enumerate() {
                    gs[r][c] = g[i * nc + j];
                }
            }
            let x = nnls_small(&gs, &bs, n);
            // Residual of the LS solution: Σ1 − x·b.
            let res = self.inv.len() as f64 - (0..n).map(|r| x[r] * bs[r]).sum::<f64>();
            scored.push((res, idx.clone()));
            if !next_combination(&mut idx, m) {
                break;
            }
        }
        scored.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut chosen: Vec<Vec<usize>> = Vec::new();
        for (_, c) in scored {
            let distinct = chosen
                .iter()
                .all(|p| p.iter().zip(&c).any(|(a, b)| a.abs_diff(*b) >= 2));
            if distinct {
                chosen.push(c);
                if chosen.len() == STARTS {
                    break;
                }
            }
        }
        chosen
    }

    /// Builds the result for decay times `rts`.
    fn finish(&self, mut rts: Vec<f64>) -> SlopeFit {
        rts.sort_by(f64::total_cmp);
        let e = self.evaluate(&rts);
        let k = rts.len();
        let slopes = rts
            .iter()
            .zip(&e.amps[..k])
            .filter(|(_, &a)| a > 0.0)
            .map(|(&rt_s, &a)| Slope {
                rt_s,
                amplitude: a * self.edc0,
                level_db: 10.0 * a.log10(),
            })
            .collect();
        SlopeFit {
            slopes,
            noise_level: if self.noise_term {
                e.amps[k] * self.edc0
            } else {
                0.0
            },
            rms_error_db: e.mse.sqrt(),
            length_s: self.length_s,
        }
    }

    /// Whether `next` (fitted with `k` slopes) should replace `prev` (see [`fit_slopes_auto`]).
    fn accepts(&self, prev: &SlopeFit, next: &SlopeFit, k: usize) -> bool {
        if next.slopes.len() != k
            || next.rms_error_db > AUTO_RMS_RATIO * prev.rms_error_db
            || prev.rms_error_db - next.rms_error_db < AUTO_MIN_GAIN_DB
        {
            return false;
        }
        if next
            .slopes
            .windows(2)
            .any(|w| w[1].rt_s < AUTO_MIN_RT_RATIO * w[0].rt_s)
        {
            return false;
        }
        let rts: Vec<f64> = next.slopes.iter().map(|s| s.rt_s).collect();
        let mut max_share = [0.0f64; MAXC];
        let amps: Vec<f64> = next
            .slopes
            .iter()
            .map(|s| s.amplitude / self.edc0)
            .collect();
        let noise = next.noise_level / self.edc0;
        self.for_each_basis(&rts, |_, basis| {
            let parts: Vec<f64> = (0..k).map(|c| amps[c] * basis[c]).collect();
            let noise_part = if self.noise_term {
                noise * basis[k]
            } else {
                0.0
            };
            let total: f64 = parts.iter().sum::<f64>() + noise_part;
            if total > 0.0 {
                for c in 0..k {
                    max_share[c] = max_share[c].max(parts[c] / total);
                }
            }
        });
        max_share[..k].iter().all(|&s| s >= AUTO_MIN_SHARE)
    }
}

/// Advances `idx` (strictly increasing indices below `m`) to the next combination.
fn next_combination(idx: &mut [usize], m: usize) -> bool {
    let k = idx.len();
    for i in (0..k).rev() {
        if idx[i] < m - k + i {
            idx[i] += 1;
            for j in i + 1..k {
                idx[j] = idx[j - 1] + 1;
            }
            return true;
        }
    }
    false
}

/// Non-negative least squares `min ‖Ax − 1‖², x ≥ 0` from its normal equations `g = AᵀA`,
/// `b = Aᵀ1` for `n ≤ 4` unknowns, by trying every active set.
fn nnls_small(g: &[[f64; MAXC]; MAXC], b: &[f64; MAXC], n: usize) -> [f64; MAXC] {
    let mut scale = [0.0; MAXC];
    for c in 0..n {
        scale[c] = if g[c][c] > 0.0 { g[c][c].sqrt() } else { 0.0 };
    }
    let mut best = [0.0; MAXC];
    let mut best_gain = 0.0;
    for mask in 1u32..(1 << n) {
        let sel: Vec<usize> = (0..n)
            .filter(|&c| mask & (1 << c) != 0 && scale[c] > 0.0)
            .collect();
        if sel.len() != mask.count_ones() as usize {
            continue;
        }
        let s = sel.len();
        let mut a = [[0.0; MAXC + 1]; MAXC];
        let mut rhs = [0.0; MAXC];
        for (r, &i) in sel.iter().enumerate() {
            for (c, &j) in sel.iter().enumerate() {
                a[r][c] = g[i][j] / (scale[i] * scale[j]);
            }
            rhs[r] = b[i] / scale[i];
            a[r][s] = rhs[r];
        }
        let Some(y) = solve(&mut a, s) else { continue };
        if y[..s].iter().any(|&v| v < 0.0) {
            continue;
        }
        // Reduction of the residual: y·b (scaled).
        let gain: f64 = (0..s).map(|r| y[r] * rhs[r]).sum();
        if gain > best_gain {
            best_gain = gain;
            best = [0.0; MAXC];
            for (r, &i) in sel.iter().enumerate() {
                best[i] = y[r] / scale[i];
            }
        }
    }
    best
}

/// Solves the `s × s` augmented system in `a` by Gaussian elimination with partial pivoting;
/// `None` when it is (numerically) singular.
fn solve(a: &mut [[f64; MAXC + 1]; MAXC], s: usize) -> Option<[f64; MAXC]> {
    for col in 0..s {
        let piv = (col..s).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() < 1e-11 {
            return None;
        }
        a.swap(col, piv);
        for r in col + 1..s {
            let f = a[r][col] / a[col][col];
            #[allow(clippy::needless_range_loop)] // index form mirrors the math
            for c in col..=s {
                a[r][c] -= f * a[col][c];
            }
        }
    }
    let mut x = [0.0; MAXC];
    for r in (0..s).rev() {
        let acc: f64 = (r + 1..s).map(|c| a[r][c] * x[c]).sum();
        x[r] = (a[r][s] - acc) / a[r][r];
    }
    Some(x)
}

/// Nelder–Mead minimisation of `f` from `x0` with initial simplex step `step`; returns the best
/// point and its value after at most `max_evals` evaluations or when the simplex collapses.
fn nelder_mead(
    f: &impl Fn(&[f64]) -> f64,
    x0: &[f64],
    step: f64,
    max_evals: usize,
) -> (Vec<f64>, f64) {
    let d = x0.len();
    let mut simplex: Vec<(Vec<f64>, f64)> = Vec::with_capacity(d + 1);
    simplex.push((x0.to_vec(), f(x0)));
    for i in 0..d {
        let mut x = x0.to_vec();
        x[i] += step;
        let v = f(&x);
        simplex.push((x, v));
    }
    let mut evals = d + 1;
    while evals < max_evals {
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let (fbest, fworst) = (simplex[0].1, simplex[d].1);
        let spread = simplex
            .iter()
            .flat_map(|(x, _)| x.iter().zip(&simplex[0].0).map(|(a, b)| (a - b).abs()))
            .fold(0.0f64, f64::max);
        if spread < 1e-7 || (fworst - fbest).abs() <= 1e-12 * (1.0 + fbest.abs()) {
            break;
        }
        let centroid: Vec<f64> = (0..d)
            .map(|i| simplex[..d].iter().map(|(x, _)| x[i]).sum::<f64>() / d as f64)
            .collect();
        let along = |t: f64| -> Vec<f64> {
            centroid
                .iter()
                .zip(&simplex[d].0)
                .map(|(c, w)| c + t * (w - c))
                .collect()
        };
        let xr = along(-1.0);
        let fr = f(&xr);
        evals += 1;
        if fr < simplex[0].1 {
            let xe = along(-2.0);
            let fe = f(&xe);
            evals += 1;
            simplex[d] = if fe < fr { (xe, fe) } else { (xr, fr) };
        } else if fr < simplex[d - 1].1 {
            simplex[d] = (xr, fr);
        } else {
            let (xc, fc) = if fr < simplex[d].1 {
                let x = along(-0.5);
                let v = f(&x);
                (x, v)
            } else {
                let x = along(0.5);
                let v = f(&x);
                (x, v)
            };
            evals += 1;
            if fc < fr.min(simplex[d].1) {
                simplex[d] = (xc, fc);
            } else {
                let best = simplex[0].0.clone();
                for p in simplex.iter_mut().skip(1) {
                    p.0 =
                        p.0.iter()
                            .zip(&best)
                            .map(|(x, b)| b + 0.5 * (x - b))
                            .collect();
                    p.1 = f(&p.0);
                }
                evals += d;
            }
        }
    }
    simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
    simplex.swap_remove(0)
}
