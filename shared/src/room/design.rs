//! The closed-loop room design: from the analysis of a measured IR to a grouped FDN (and early
//! FIR) whose *measured* figures match the target's.
//!
//! Open-loop formulas (attenuation from band RTs, output EQ from band levels) leave errors —
//! graphic-EQ ripple, band-filter overlap, the coupling of groups, the estimator's own bias on a
//! two-slope EDC. So the design renders its candidate, measures it with exactly the estimator of
//! [`crate::analysis::compare`] and corrects, a few times:
//! * band RTs: every group's RT in band b is scaled by `rt_target(b) / rt_fit(b)`;
//! * output EQ: band b moves by the dB difference of the late band energies (after the early FIR,
//!   or after the onset without one), which sets the band levels absolutely;
//! * group gains (coupled rooms): the slower groups' gains move by the dB difference of the
//!   broadband energy decay between the start of the tail and a later checkpoint.
//!
//! Every candidate is scored by its worst figure relative to the acceptance thresholds (mean band
//! RT error 2 %, worst 5 %, EDC 1 dB, level 0.5 dB) and the best one is kept. Nothing in the loop
//! is tuned to one room: the only inputs are the target's own figures.

use super::early::{bake_early_fir, eq_early_fir};
use super::grouped::{grouped_delays, grouped_feedback_matrix, split_lines, GroupedError};
use crate::analysis::bands::{band_filter, decay_of_band_signal, octave_bands_hz};
use crate::analysis::compare::{compare_decay, compare_irs, Comparison, EDC_COMPARE_FLOOR_DB};
use crate::analysis::iso3382::{energy_curve, BROADBAND_WINDOW_S};
use crate::engine::{Engine, EngineConfig};
use crate::geq::{
    graphic_eq_attenuation_per_line, graphic_eq_output, GeqError, BANDS, COMMAND_FREQUENCIES,
};
use crate::matrix::Matrix;
use crate::preset::early::MAX_EARLY_SECONDS;
use crate::preset::{Build, BuildParts, PresetError};
use crate::response::impulse_response;
use crate::sos::{SosBank, SosChannelFilter};
use crate::third_octave_eq::ThirdOctaveEq;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::f64::consts::LN_2;
use std::ops::ControlFlow;

/// Iterations of the design loop that always take the full correction step.
pub const WARMUP: usize = 4;

/// Least relative gain of the best score over two iterations that keeps the design loop going.
pub const STALL_GAIN: f64 = 0.01;

/// Largest step of the output EQ from a command band outside 125 Hz … 8 kHz to its inner
/// neighbour, dB.
pub const OUTER_STEP_DB: f64 = 12.0;

/// Acceptance thresholds the design loop aims below: (mean RT %, worst RT %, EDC dB, level dB).
pub const TARGETS: (f64, f64, f64, f64) = (2.0, 5.0, 1.0, 0.5);

/// Why a design failed.
#[derive(Debug, thiserror::Error)]
pub enum DesignError {
    /// The grouped topology could not be made.
    #[error(transparent)]
    Grouped(#[from] GroupedError),
    /// A candidate build was refused.
    #[error(transparent)]
    Preset(#[from] PresetError),
    /// The graphic EQ design failed.
    #[error(transparent)]
    Geq(#[from] GeqError),
    /// Measuring a candidate failed.
    #[error("measuring the candidate: {0}")]
    Analysis(String),
    /// The target is unusable.
    #[error("{0}")]
    Target(String),
    /// The caller's progress callback asked to stop.
    #[error("the design was cancelled")]
    Cancelled,
}

/// Starting point of the loop: per group and octave band RTs, group gains, band EQ.
#[derive(Debug, Clone, PartialEq)]
pub struct DesignStart {
    /// Decay time per group (fast → slow) and octave band (125 Hz … 8 kHz), seconds.
    pub rt_s: Vec<Vec<f64>>,
    /// Linear output amplitude per group.
    pub group_gain: Vec<f64>,
}

/// Settings of the loop.
#[derive(Debug, Clone, PartialEq)]
pub struct DesignOptions {
    /// Number of delay lines.
    pub n: usize,
    /// Delay range in seconds (pyFDN's RIR2FDN recipe: 700–2500 samples at 48 kHz).
    pub delay_range_s: (f64, f64),
    /// Coupling angle between groups, radians.
    pub coupling_rad: f64,
    /// Early part: `(fade start, fade end)` in samples of the target, or `None` for a pure FDN.
    pub early: Option<(usize, usize)>,
    /// Correction iterations (renders) at most.
    pub iterations: usize,
    /// Seed of delays, matrix and gain signs.
    pub seed: u64,
}

impl Default for DesignOptions {
    fn default() -> Self {
        Self {
            n: 16,
            delay_range_s: (700.0 / 48000.0, 2500.0 / 48000.0),
            coupling_rad: 0.02,
            early: None,
            iterations: 12,
            seed: 1,
        }
    }
}

/// One evaluated candidate.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The FDN build.
    pub build: Build,
    /// The early FIR (1-in-1-out), empty without an early part.
    pub early_fir: Vec<f64>,
    /// Its figures against the target.
    pub comparison: Comparison,
    /// Worst figure relative to its threshold (≤ 1 meets every threshold).
    pub score: f64,
}

/// The parameters of a design.
#[derive(Debug, Clone, PartialEq)]
pub struct DesignParams {
    /// Decay time per group (fast → slow) and octave band, seconds.
    pub rt_s: Vec<Vec<f64>>,
    /// Output EQ per graphic-EQ command band (31.25 Hz … 16 kHz), dB.
    pub eq_db: Vec<f64>,
    /// Linear output amplitude per group.
    pub group_gain: Vec<f64>,
}

/// Result of the loop: the best candidate, its parameters and the score of every iteration.
#[derive(Debug, Clone)]
pub struct Design {
    /// Best candidate.
    pub best: Candidate,
    /// Parameters of the best candidate.
    pub params: DesignParams,
    /// Score per iteration (in order).
    pub history: Vec<f64>,
}

/// Worst figure of `c` relative to the [`TARGETS`] (≤ 1: all met). Missing RTs count as 100 %.
pub fn score(c: &Comparison) -> f64 {
    let (m, w, e, l) = TARGETS;
    let mean = c.mean_rt_error_pct.unwrap_or(100.0);
    let worst = c.worst_rt_error_pct.unwrap_or(100.0);
    // A band whose RT one side lacks counts as a full miss.
    let missing = c
        .rt_a_s
        .iter()
        .zip(&c.rt_b_s)
        .any(|(a, b)| a.is_some() != b.is_some());
    let worst = if missing { worst.max(100.0) } else { worst };
    (mean / m)
        .max(worst / w)
        .max(c.edc_error_db / e)
        .max(c.level_error_db / l)
}

/// Extends 7 octave-band values (125 Hz … 8 kHz) to the graphic EQ's 10 command bands
/// (31.25 Hz … 16 kHz): the lowest value repeats below 125 Hz, the highest above 8 kHz; 10
/// values are taken as they are.
pub fn to_command_bands(octave: &[f64]) -> [f64; BANDS] {
    let mut out = [0.0; BANDS];
    if octave.len() == BANDS {
        out.copy_from_slice(octave);
        return out;
    }
    let bands = octave_bands_hz();
    for (j, &f) in COMMAND_FREQUENCIES.iter().enumerate() {
        let i = bands
            .iter()
            .position(|&b| (b - f).abs() < 1e-6)
            .unwrap_or(if f < bands[0] { 0 } else { bands.len() - 1 });
        out[j] = octave[i.min(octave.len() - 1)];
    }
    out
}

/// The build for one parameter set: grouped delays and matrix, graphic-EQ attenuation per group,
/// ±1/√N input gains, ±gain/√n_k output gains, graphic output EQ, no direct path.
pub fn make_build(
    fs: f64,
    opts: &DesignOptions,
    rt_s: &[Vec<f64>],
    group_gain: &[f64],
    eq_db: &[f64],
) -> Result<Build, DesignError> {
    let sizes = split_lines(opts.n, rt_s.len());
    let range = (opts.delay_range_s.0 * fs, opts.delay_range_s.1 * fs);
    let delays = grouped_delays(&sizes, range, opts.seed)?;
    let a = grouped_feedback_matrix(&sizes, opts.coupling_rad, opts.seed)?;
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed ^ 0x9e37_79b9);
    let n = opts.n;
    let sign = |rng: &mut ChaCha8Rng| if rng.random::<bool>() { 1.0 } else { -1.0 };
    let b: Vec<f64> = (0..n).map(|_| sign(&mut rng) / (n as f64).sqrt()).collect();
    let mut c = Vec::with_capacity(n);
    let mut per_line = Vec::with_capacity(n);
    for (k, &size) in sizes.iter().enumerate() {
        let rts = to_command_bands(&rt_s[k]);
        for _ in 0..size {
            c.push(sign(&mut rng) * group_gain[k] / (size as f64).sqrt());
            per_line.push(rts);
        }
    }
    let post_delay = graphic_eq_attenuation_per_line(&per_line, &delays, fs)?;
    let post_output = graphic_eq_output(&to_command_bands(eq_db), 1, fs)?;
    let parts = BuildParts {
        a,
        b: Matrix::from_row_major(n, 1, b).expect("n×1"),
        c: Matrix::from_row_major(1, n, c).expect("1×n"),
        d: Matrix::zeros(1, 1),
        delays,
        sample_rate: fs,
        post_delay: Some(post_delay),
        post_matrix: None,
        post_output: Some(post_output),
        output_mix: None,
        metadata: Default::default(),
    };
    Ok(Build::new(parts)?)
}

/// Energies of `x` without its noise from sample `from` on in the octave band of each graphic-EQ
/// command band (31.5 Hz … 16 kHz): the noise-compensated decay's energy
/// ([`crate::analysis::iso3382::CompensatedDecay::energy_from`]). Inside the fitted octaves
/// (125 Hz … 8 kHz) a band without a decay above its noise gives its plain energy; outside them,
/// and above Nyquist, it gives `None` (nothing of the room's own to match there).
pub(crate) fn late_band_energies(x: &[f64], fs: f64, from: usize) -> Vec<Option<f64>> {
    COMMAND_FREQUENCIES
        .iter()
        .map(|&fc| {
            let y = band_filter(x, fs, fc, 1).ok()?;
            match decay_of_band_signal(&y, fs, fc) {
                Some(d) => Some(d.energy_from(from)),
                None if (125.0..=8000.0).contains(&fc) => {
                    Some(y.iter().skip(from).map(|v| v * v).sum())
                }
                None => None,
            }
        })
        .collect()
}

/// The impulse response (output 0, input 0) of `build`, `len` samples, rendered by the real-time
/// engine (f32, SIMD: about ten times faster than the exact f64 recursion, and equal to it within
/// 1e-5 of the peak); the exact recursion when the engine refuses the build.
pub fn render_fdn(build: &Build, len: usize) -> Vec<f64> {
    render_outputs(build, len).swap_remove(0)
}

/// Every audible output of `build` (through its output mix) for `len` samples from a unit
/// impulse at input 0, by the engine (the exact recursion when the engine refuses the build).
pub fn render_outputs(build: &Build, len: usize) -> Vec<Vec<f64>> {
    render_outputs_from(build, len, 0)
}

/// [`render_outputs`] from a unit impulse at input `input` (no output for an input the build
/// lacks).
pub fn render_outputs_from(build: &Build, len: usize, input: usize) -> Vec<Vec<f64>> {
    if input >= build.n_in() {
        return Vec::new();
    }
    let cfg = EngineConfig {
        max_block: 4096,
        ..EngineConfig::for_build(build)
    };
    let Ok(mut engine) = Engine::prepare(build, &cfg) else {
        let r = impulse_response(build, len);
        return (0..build.n_outputs())
            .map(|o| r.channel(o, input))
            .collect();
    };
    let mut x = vec![vec![0.0f32; len]; build.n_in()];
    if let Some(first) = x[input].first_mut() {
        *first = 1.0;
    }
    let mut y = vec![vec![0.0f32; len]; build.n_outputs()];
    {
        let inputs: Vec<&[f32]> = x.iter().map(Vec::as_slice).collect();
        let mut outputs: Vec<&mut [f32]> = y.iter_mut().map(Vec::as_mut_slice).collect();
        engine.process(&inputs, &mut outputs);
    }
    y.into_iter()
        .map(|ch| ch.into_iter().map(f64::from).collect())
        .collect()
}

/// Renders `build` for `target.len()` samples, adds the early FIR baked against `target` over
/// `early` = (fade start, fade end) samples, and measures the total against the target. Returns
/// the candidate and the total IR. The decay figures alone are measured ([`compare_decay`]).
pub fn evaluate_build(
    target: &[f64],
    fs: f64,
    early: Option<(usize, usize)>,
    build: Build,
) -> Result<(Candidate, Vec<f64>), DesignError> {
    evaluate_with(target, fs, early, build, compare_decay)
}

/// How a candidate is measured against the target at a rate (Hz): `compare_decay` or the full
/// `compare_irs`.
type Measure = fn(&[f64], &[f64], f64) -> Result<Comparison, crate::analysis::AnalysisError>;

/// [`evaluate_build`] measuring with `measure`.
fn evaluate_with(
    target: &[f64],
    fs: f64,
    early: Option<(usize, usize)>,
    build: Build,
    measure: Measure,
) -> Result<(Candidate, Vec<f64>), DesignError> {
    let fdn = render_fdn(&build, target.len());
    let (early_fir, total) = match early {
        Some((start, end)) => {
            let fir = bake_early_fir(target, &fdn, start, end);
            let mut total = fdn;
            for (t, f) in total.iter_mut().zip(&fir) {
                *t += f;
            }
            (fir, total)
        }
        None => (Vec::new(), fdn),
    };
    let comparison =
        measure(target, &total, fs).map_err(|e| DesignError::Analysis(e.to_string()))?;
    let score = score(&comparison);
    Ok((
        Candidate {
            build,
            early_fir,
            comparison,
            score,
        },
        total,
    ))
}

/// Runs the closed loop from `start` toward `target` (onset at sample 0, rate `fs`); `progress`
/// is called after every iteration with its index and score, and its `ControlFlow::Break` stops
/// the loop ([`DesignError::Cancelled`]).
pub fn design(
    target: &[f64],
    fs: f64,
    start: &DesignStart,
    opts: &DesignOptions,
    mut progress: impl FnMut(usize, f64) -> ControlFlow<()>,
) -> Result<Design, DesignError> {
    let k = start.rt_s.len();
    if k == 0 || start.group_gain.len() != k {
        return Err(DesignError::Target(
            "design needs ≥ 1 group with a gain each".into(),
        ));
    }
    let mut rt = start.rt_s.clone();
    let mut gain = start.group_gain.clone();
    let mut eq = vec![0.0; BANDS];
    let tail_from = opts.early.map_or(0, |(_, end)| end);
    let target_late = late_band_energies(target, fs, tail_from);
    // Checkpoints of the broadband decay for the group gains, one per slower group: they split
    // the part of the target's EDC that the comparison scores (from the tail start down to
    // −30 dB) evenly, so each group's gain is set where its decay dominates that range.
    let target_tail = energy_curve(target, fs, BROADBAND_WINDOW_S);
    let tail_at = |e: &[f64], i: usize| e.get(i).copied().unwrap_or(0.0);
    let t_total = tail_at(&target_tail, 0).max(1e-300);
    let t_tail = tail_at(&target_tail, tail_from).max(1e-300);
    let tail_start_db = 10.0 * (t_tail / t_total).log10();
    let span_db = (tail_start_db - EDC_COMPARE_FLOOR_DB).max(10.0);
    let checkpoints: Vec<usize> = (1..k)
        .map(|g| {
            let drop_db = span_db * g as f64 / k as f64;
            let want = t_tail * 10f64.powf(-drop_db / 10.0);
            (tail_from..target.len())
                .find(|&i| target_tail[i] <= want)
                .unwrap_or(target.len() - 1)
        })
        .collect();
    let mut best: Option<(Candidate, DesignParams, Vec<f64>)> = None;
    let mut history = Vec::new();
    // Step size of the corrections: halved (and the loop restarted from the best parameters)
    // whenever a correction made the score worse.
    let mut alpha = 1.0f64;
    for it in 0..opts.iterations.max(1) {
        // A correction the graphic EQs cannot realise ends the loop with the best so far.
        let build = match make_build(fs, opts, &rt, &gain, &eq) {
            Ok(b) => b,
            Err(e) if best.is_none() => return Err(e),
            Err(_) => break,
        };
        let (cand, total) = evaluate_build(target, fs, opts.early, build)?;
        history.push(cand.score);
        if progress(it, cand.score).is_break() {
            return Err(DesignError::Cancelled);
        }
        let done = cand.score <= 0.5;
        let improved = best.as_ref().is_none_or(|(b, _, _)| cand.score < b.score);
        // The first corrections are large (absolute level, first RT estimates): damping starts
        // after WARMUP iterations.
        let (cmp, total) = if improved || it < WARMUP {
            let params = DesignParams {
                rt_s: rt.clone(),
                eq_db: eq.clone(),
                group_gain: gain.clone(),
            };
            let c = cand.comparison.clone();
            if improved {
                best = Some((cand, params, total.clone()));
            }
            (c, total)
        } else {
            // Back to the best point with a smaller step.
            alpha *= 0.5;
            let (b, p, t) = best.as_ref().expect("improved on the first iteration");
            rt = p.rt_s.clone();
            eq = p.eq_db.clone();
            gain = p.group_gain.clone();
            (b.comparison.clone(), t.clone())
        };
        // Two iterations that together lowered the best score (the least in `history`) by less
        // than STALL_GAIN of it end the loop: the figures have settled, more renders only cost.
        let best_of = |k: usize| history[..=k].iter().copied().fold(f64::INFINITY, f64::min);
        let stalled =
            it >= WARMUP + 2 && best_of(it - 2) - best_of(it) < STALL_GAIN * best_of(it - 2);
        if done || stalled || it + 1 == opts.iterations || alpha < 1.0 / 64.0 {
            break;
        }
        // RT correction per band ([`rt_factors`]: a band the target has no RT in follows its
        // neighbours). Not on the first render: its output level is uncalibrated (no output EQ
        // yet), and the total's measured decay is then mostly the early part's (an FDN 20 dB too
        // quiet reads as a 0.2 s room) — a correction from it sends the RTs the wrong way.
        if let Some(factors) = rt_factors(&cmp).filter(|_| it > 0) {
            for (b, f) in factors.iter().enumerate() {
                for g in rt.iter_mut() {
                    g[b] = (g[b] * f.powf(alpha)).clamp(0.02, 60.0);
                }
            }
        }
        // Late band levels → output EQ, per command band (31.5 Hz … 16 kHz, so the FDN has no
        // more energy below 125 Hz or above 8 kHz than the room); a band the room has no decay
        // of its own in follows its neighbours.
        let fit_late = late_band_energies(&total, fs, tail_from);
        let mut set: Vec<Option<f64>> = vec![None; BANDS];
        for b in 0..BANDS {
            if let (Some(t), Some(f)) = (target_late[b], fit_late[b]) {
                if t > 0.0 && f > 0.0 {
                    eq[b] += alpha * (10.0 * (t / f).log10()).clamp(-12.0, 12.0);
                    set[b] = Some(eq[b]);
                }
            }
        }
        for (e, v) in eq.iter_mut().zip(fill_from_neighbours(&set)) {
            if let Some(v) = v {
                *e = v;
            }
        }
        // The command bands outside the fitted octaves (31.5, 63 Hz, 16 kHz) stay within
        // −OUTER_STEP_DB … +OUTER_STEP_DB/2 of their inner neighbour: a steeper step is past what
        // the graphic EQ realises without ripple into the bands whose decay is fitted.
        let lo = COMMAND_FREQUENCIES
            .iter()
            .position(|&f| f >= 125.0)
            .unwrap_or(0);
        let hi = COMMAND_FREQUENCIES
            .iter()
            .rposition(|&f| f <= 8000.0)
            .unwrap_or(BANDS - 1);
        for b in (0..lo).rev() {
            eq[b] = eq[b].clamp(eq[b + 1] - OUTER_STEP_DB, eq[b + 1] + 0.5 * OUTER_STEP_DB);
        }
        for b in hi + 1..BANDS {
            eq[b] = eq[b].clamp(eq[b - 1] - OUTER_STEP_DB, eq[b - 1] + 0.5 * OUTER_STEP_DB);
        }
        // Broadband decay shape → slower groups' gains.
        let fit_tail = energy_curve(&total, fs, BROADBAND_WINDOW_S);
        let f_tail = tail_at(&fit_tail, tail_from).max(1e-300);
        for (g, &cp) in checkpoints.iter().enumerate() {
            let rt_t = tail_at(&target_tail, cp) / t_tail;
            let rf = tail_at(&fit_tail, cp) / f_tail;
            if rt_t > 0.0 && rf > 0.0 {
                gain[g + 1] *= (rt_t / rf).sqrt().clamp(0.5, 2.0).powf(alpha);
            }
        }
    }
    let (best, params, _) = best.expect("at least one iteration ran");
    Ok(Design {
        best,
        params,
        history,
    })
}

/// Corrections the third-octave polish tries at most ([`polish_timbre`]).
pub const POLISH_ITERATIONS: usize = 8;

/// Deepest cut of the third-octave polish in any band, dB.
pub const POLISH_MAX_CUT_DB: f64 = -40.0;

/// Attenuation retunes (renders) the polish tries per correction at most.
pub const RETUNES: usize = 3;

/// Largest boost of the third-octave polish in any band, dB (where the octave EQ, held near
/// its neighbours outside 125 Hz–8 kHz, and the early part's cut leave a band short).
pub const POLISH_MAX_BOOST_DB: f64 = 20.0;

/// What the third-octave polish did.
#[derive(Debug, Clone)]
pub struct Polish {
    /// The candidate: the input one when no correction was kept.
    pub best: Candidate,
    /// Third-octave gains added after the output EQ, dB (all 0 when none was kept).
    pub gains_db: Vec<f64>,
    /// The sections of that EQ, appended to the output EQ of `best` and applied to its early FIR
    /// (empty when none was kept).
    pub sections: Vec<[f64; 6]>,
    /// Largest third-octave level error before and after, dB ([`Comparison`]'s
    /// `third_octave_level_error_db`).
    pub worst_db: (f64, f64),
}

/// The third-octave timbre polish of a finished design: the output EQ works per octave, so
/// third-octave levels (and energy where the room has none) can still be several dB off. A
/// third-octave EQ ([`crate::third_octave_eq`]) is cascaded after the candidate's output EQ and
/// set from the band errors `compare` measures on the whole response (a band where the room has
/// only noise is only cut), a few times.
///
/// The EQ acts on the whole response: the early FIR is filtered by it too ([`eq_early_fir`]), so
/// the early part's own spread of energy into bands the room lacks is cut with the rest, and a
/// correction needs no render (the new total is the old one through the EQ). The EQ sits outside
/// the feedback loop, but moving level between the third-octaves of an octave moves that octave's
/// measured decay a little (its bands decay at different rates, in the room and in the FDN's
/// first arrivals). So when a candidate misses a decay threshold, the line attenuations are
/// retuned by the octave RT errors it measured ([`retune_attenuation`], one render) and the pair
/// is measured again; with the timbre met, the polish goes on retuning the decay alone. What it
/// keeps is said by [`keeps`]; the step halves after a correction it did not keep.
pub fn polish_timbre(
    target: &[f64],
    fs: f64,
    early: Option<(usize, usize)>,
    candidate: Candidate,
) -> Result<Polish, DesignError> {
    let eq = ThirdOctaveEq::new(fs)?;
    let fir_cap = ((MAX_EARLY_SECONDS * fs).floor() as usize).min(target.len());
    // The candidate re-measured with the third-octave figures (same build, same early FIR).
    let (mut best, total) = evaluate_with(target, fs, early, candidate.build, compare_irs)?;
    let before = best.comparison.third_octave.worst_db;
    // The unpolished base the kept gains apply to.
    let mut base = Base {
        build: best.build.clone(),
        fir: best.early_fir.clone(),
        total,
    };
    let mut gains = vec![0.0; eq.bands_hz().len()];
    let mut kept_sections = Vec::new();
    // Step size: halved after a correction that was not kept; per band, halved again each time
    // the band's error changes sign (a band whose measured level moves more than its gain, e.g.
    // next to a cliff, would otherwise swing around its target for ever).
    let mut step = 1.0;
    let n_bands = eq.bands_hz().len();
    let mut band_step = vec![1.0; n_bands];
    let mut last_err = vec![0.0; n_bands];
    for _ in 0..POLISH_ITERATIONS {
        let c = &best.comparison;
        let timbre_met = c.third_octave.worst_db <= 0.5 && c.third_octave.excess_db <= 1.0;
        if timbre_met && best.score <= 1.0 {
            break;
        }
        let err: Vec<f64> = (0..n_bands).map(|i| band_timbre_error(c, i)).collect();
        for ((s, e), last) in band_step.iter_mut().zip(&err).zip(&last_err) {
            if e * last < 0.0 {
                *s *= 0.5;
            }
        }
        last_err.clone_from(&err);
        // With the timbre met, only the decay is retuned (same gains).
        let next: Vec<f64> = if timbre_met {
            gains.clone()
        } else {
            gains
                .iter()
                .zip(&err)
                .zip(&band_step)
                .map(|((g, e), s)| {
                    (g - step * s * e.clamp(-12.0, 12.0))
                        .clamp(POLISH_MAX_CUT_DB, POLISH_MAX_BOOST_DB)
                })
                .collect()
        };
        let whole = eq.sections(&next)?;
        let Some(mut cand) = polished(target, fs, &base, &whole, fir_cap)? else {
            break;
        };
        let mut retuned = None;
        // A decay threshold is missed: retune the attenuation under the new EQ (one render
        // each), while that lowers the score, RETUNES times at most. The band's measured RT need
        // not move by the factor its lines' RTs move by (in a short room the early part holds
        // much of the band's decay range), so each retune after the first divides the wanted
        // change (in log RT) by the response the previous one measured, per band.
        let mut response = vec![1.0; octave_bands_hz().len()];
        for _ in 0..RETUNES {
            if cand.score <= 1.0 {
                break;
            }
            let Some(wanted) = rt_factors(&cand.comparison) else {
                break;
            };
            let applied: Vec<f64> = wanted
                .iter()
                .zip(&response)
                .map(|(w, r)| (w.ln() / r).clamp(-LN_2, LN_2).exp())
                .collect();
            let from = retuned.as_ref().map_or(&base.build, |r: &Base| &r.build);
            let Ok(b) = retune_attenuation(from, &applied) else {
                break;
            };
            let (c0, total) = evaluate_with(target, fs, early, b, compare_decay)?;
            let rebase = Base {
                build: c0.build,
                fir: c0.early_fir,
                total,
            };
            match polished(target, fs, &rebase, &whole, fir_cap)? {
                Some(c1) if c1.score < cand.score => {
                    for (b, r) in response.iter_mut().enumerate() {
                        let at = |c: &Candidate| c.comparison.rt_b_s.get(b).copied().flatten();
                        if let (Some(old), Some(new)) = (at(&cand), at(&c1)) {
                            let step = applied[b].ln();
                            if step.abs() > 1e-3 && old > 0.0 && new > 0.0 {
                                *r = ((new / old).ln() / step).clamp(0.25, 4.0);
                            }
                        }
                    }
                    cand = c1;
                    retuned = Some(rebase);
                }
                _ => break,
            }
        }
        if keeps(&cand, &best) {
            best = cand;
            gains = next;
            kept_sections = whole;
            if let Some(r) = retuned {
                base = r;
            }
        } else {
            step *= 0.5;
        }
    }
    Ok(Polish {
        worst_db: (before, best.comparison.third_octave.worst_db),
        best,
        gains_db: gains,
        sections: kept_sections,
    })
}

/// Whether the polish keeps `cand` over `best`: a lower summed third-octave error
/// ([`timbre_error`]) with the decay score at most max(1, best's) — every threshold met stays
/// met — or, while a decay threshold is missed, a lower score with the worst third-octave error
/// and the excess no worse than max(1 dB, best's).
fn keeps(cand: &Candidate, best: &Candidate) -> bool {
    let (c, b) = (&cand.comparison, &best.comparison);
    let timbre = timbre_error(c) < timbre_error(b) && cand.score <= best.score.max(1.0);
    let decay = best.score > 1.0
        && cand.score < best.score
        && c.third_octave.worst_db <= b.third_octave.worst_db.max(1.0)
        && c.third_octave.excess_db <= b.third_octave.excess_db.max(1.0);
    timbre || decay
}

/// A build without the polish EQ, its early FIR and its total response (FDN + FIR).
struct Base {
    build: Build,
    fir: Vec<f64>,
    total: Vec<f64>,
}

/// `base` with the 1-channel EQ `whole` on the whole response, measured with every figure;
/// `None` when the build with the EQ is refused.
fn polished(
    target: &[f64],
    fs: f64,
    base: &Base,
    whole: &[[f64; 6]],
    fir_cap: usize,
) -> Result<Option<Candidate>, DesignError> {
    let Base { build, fir, total } = base;
    let mut parts = build.parts().clone();
    parts.post_output = Some(append_sections(parts.post_output.as_ref(), whole)?);
    let Ok(build) = Build::new(parts) else {
        return Ok(None);
    };
    let bank = SosBank::new(whole.len(), 1, whole.iter().flatten().copied().collect())
        .map_err(|e| DesignError::Target(format!("timbre EQ sections: {e}")))?;
    let mut filter = SosChannelFilter::new(&bank, 0);
    let total: Vec<f64> = total.iter().map(|&v| filter.tick(v)).collect();
    let early_fir = if fir.is_empty() {
        Vec::new()
    } else {
        eq_early_fir(fir, &bank, fir_cap)
    };
    let comparison =
        compare_irs(target, &total, fs).map_err(|e| DesignError::Analysis(e.to_string()))?;
    Ok(Some(Candidate {
        build,
        early_fir,
        score: score(&comparison),
        comparison,
    }))
}

/// The octave RT ratios room/fit of `c` (clamped to 0.5–2; a band without both RTs follows its
/// neighbours), one per octave band; `None` when no band has both.
pub fn rt_factors(c: &Comparison) -> Option<Vec<f64>> {
    let factors: Vec<Option<f64>> = c
        .rt_a_s
        .iter()
        .zip(&c.rt_b_s)
        .map(|(a, b)| match (a, b) {
            (Some(a), Some(b)) if *a > 0.0 && *b > 0.0 => Some((a / b).clamp(0.5, 2.0)),
            _ => None,
        })
        .collect();
    let filled: Option<Vec<f64>> = fill_from_neighbours(&factors).into_iter().collect();
    filled.filter(|f| f.len() == octave_bands_hz().len())
}

/// `build` with every line's attenuation filter redesigned for its band RTs scaled by
/// `factors` (one per octave band of [`octave_bands_hz`]; the command bands outside the octaves
/// take their nearest one's). A line's loss per pass is read from its filter's gain at the
/// command frequencies and divided by the factor (`RT = −60·m/(fs·dB)`), so any graphic-EQ
/// attenuation (designed or fine-tuned) can be retuned. Errors when the factors do not match the
/// octave bands or the new design is refused.
pub fn retune_attenuation(build: &Build, factors: &[f64]) -> Result<Build, DesignError> {
    if factors.len() != octave_bands_hz().len()
        || factors.iter().any(|f| !(f.is_finite() && *f > 0.0))
    {
        return Err(DesignError::Target(format!(
            "retune needs {} positive octave factors, got {factors:?}",
            octave_bands_hz().len()
        )));
    }
    let factor = to_command_bands(factors);
    let parts = build.parts();
    let Some(att) = parts.post_delay.as_ref() else {
        return Err(DesignError::Target(
            "the build has no attenuation filters".into(),
        ));
    };
    let fs = build.sample_rate();
    let rts: Vec<[f64; BANDS]> = build
        .delays()
        .iter()
        .enumerate()
        .map(|(line, &m)| {
            std::array::from_fn(|b| {
                let w = 2.0 * std::f64::consts::PI * COMMAND_FREQUENCIES[b] / fs;
                let db = 20.0 * att.magnitude(line, w.min(std::f64::consts::PI)).log10();
                let rt = if db < -1e-9 {
                    -60.0 * m as f64 / (fs * db)
                } else {
                    60.0
                };
                (rt * factor[b]).clamp(0.02, 60.0)
            })
        })
        .collect();
    let mut parts = parts.clone();
    parts.post_delay = Some(graphic_eq_attenuation_per_line(&rts, build.delays(), fs)?);
    Ok(Build::new(parts)?)
}

/// Sum over the third-octave bands of `c` of |B − A| where the room decays above its noise and of
/// B's rise above the room elsewhere, dB: what the polish lowers (the worst band alone could stall
/// it where one band's correction costs its neighbours more).
pub(crate) fn timbre_error(c: &Comparison) -> f64 {
    (0..c.third_octave.bands_hz.len())
        .map(|i| band_timbre_error(c, i).abs())
        .sum()
}

/// The polish's error in third-octave band `i` of `c`, dB: B − A where the room decays above its
/// noise, B's rise above the room (≥ 0) elsewhere, 0 where a level is missing.
pub(crate) fn band_timbre_error(c: &Comparison, i: usize) -> f64 {
    let at = |v: &[Option<f64>]| v.get(i).copied().flatten();
    match at(&c.third_octave.error_db) {
        Some(d) => d,
        None => match (at(&c.third_octave.a_db), at(&c.third_octave.b_db)) {
            (Some(a), Some(b)) => (b - a).max(0.0),
            _ => 0.0,
        },
    }
}

/// `bank` (one channel per output; `None`: no filter) followed by the single-channel `extra`
/// sections on every output.
fn append_sections(bank: Option<&SosBank>, extra: &[[f64; 6]]) -> Result<SosBank, DesignError> {
    let mut channels = bank.map_or_else(|| vec![Vec::new()], SosBank::to_channel_sections);
    for c in &mut channels {
        c.extend_from_slice(extra);
    }
    SosBank::from_channel_sections(&channels)
        .map_err(|e| DesignError::Target(format!("output EQ sections: {e}")))
}

/// `values` with each `None` replaced by its nearest available neighbours (the mean of the two
/// nearest on either side, or the one side that has a value); all `None` stays `None`.
pub fn fill_from_neighbours(values: &[Option<f64>]) -> Vec<Option<f64>> {
    (0..values.len())
        .map(|i| {
            values[i].or_else(|| {
                let below = values[..i].iter().rev().flatten().next();
                let above = values[i + 1..].iter().flatten().next();
                match (below, above) {
                    (Some(a), Some(b)) => Some(0.5 * (a + b)),
                    (Some(v), None) | (None, Some(v)) => Some(*v),
                    (None, None) => None,
                }
            })
        })
        .collect()
}
