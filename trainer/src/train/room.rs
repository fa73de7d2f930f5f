//! Gradient fine-tuning of a room design (`tailor fit` step 5) with the trainer's FDN op.
//!
//! Trainable: the graphic-EQ attenuation of every line (10 band RTs per line, starting exactly at
//! the design's: the soft RT floor is inverted for the initial values), the output EQ (dB per
//! band), B and C; A and the delays stay. Loss: [`tailor::loss::edc::CompareLoss`] — the
//! differentiable counterparts of `tailor compare`'s figures (normalised band EDCs over each band's first 35 dB, the broadband
//! EDC above −30 dB, band energy shares; IEC octave filters, the room's curves noise-compensated
//! as `compare` measures them) — on the *total* response (FDN crossfaded into the measured early
//! part exactly as the exported preset renders it). Every `eval_every` steps the current
//! parameters are exported, rendered and measured with `tailor compare`'s figures; a step is
//! kept only when it is no worse than the design on every figure and better in score. If none
//! is, the design stands.

use super::fit::Adam;
use super::model::{
    extract_build, model_from_parts, Attenuation, AttenuationDesign, FdnModel, MatrixKind,
    ModelOptions, PostDelay, Trainable,
};
use anyhow::{Context, Result};
use candle_core::{DType, Device, Tensor, Var};
use tailor::analysis::bands::{band_fits, iec_bandpass_sos, octave_bands_hz, sos_filter};
use tailor::analysis::compare::Comparison;
use tailor::analysis::iso3382::{band_window_s, energy_curve, BROADBAND_WINDOW_S};
use tailor::geq::BANDS;
use tailor::loss::edc::CompareLoss;
use tailor::room::design::{evaluate_build, score, to_command_bands, Candidate, DesignParams};
use tailor::room::early::fade_in;
use tailor::room::grouped::split_lines;

/// Settings of the fine-tuning.
#[derive(Debug, Clone, PartialEq)]
pub struct FineTuneOptions {
    /// Adam steps.
    pub steps: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Steps between measurements of the exported candidate.
    pub eval_every: usize,
    /// Decay range of each band's EDC entering the loss, dB.
    pub range_db: f64,
    /// Stop after this many measurements in a row without a better score (0 = never).
    pub patience: usize,
}

impl Default for FineTuneOptions {
    fn default() -> Self {
        Self {
            steps: 100,
            lr: 2e-4,
            eval_every: 5,
            range_db: 35.0,
            patience: 4,
        }
    }
}

/// What the fine-tuning did.
#[derive(Debug, Clone)]
pub struct FineTune {
    /// The best measured candidate no worse than the design on every figure, if any.
    pub best: Option<Candidate>,
    /// Step of `best`.
    pub best_step: Option<usize>,
    /// Loss per step.
    pub loss: Vec<f64>,
    /// (step, score) of every measurement.
    pub evaluations: Vec<(usize, f64)>,
    /// Mean wall time per optimisation step, milliseconds.
    pub ms_per_step: f64,
}

/// True when `c` is no worse than `d` on every acceptance figure.
pub fn no_worse(c: &Comparison, d: &Comparison) -> bool {
    let le = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => a <= b + 1e-9,
        (_, None) => true,
        (None, Some(_)) => false,
    };
    le(c.mean_rt_error_pct, d.mean_rt_error_pct)
        && le(c.worst_rt_error_pct, d.worst_rt_error_pct)
        && c.edc_error_db <= d.edc_error_db + 1e-9
        && c.level_error_db <= d.level_error_db + 1e-9
}

/// The smallest even length ≥ `x` of the form 2^a·3^b (fast for the FFTs of the op and loss).
fn fft_friendly(x: usize) -> usize {
    let mut best = x.max(2).next_power_of_two();
    let mut p3 = 1usize;
    while p3 <= best {
        let mut v = 2 * p3;
        while v < x {
            v *= 2;
        }
        best = best.min(v);
        p3 *= 3;
    }
    best
}

/// Inverse of the soft RT floor `f·(1 + softplus((RT − f)/f))`, so the model starts at `rt`.
fn unfloor(rt: f64, f: f64) -> f64 {
    let y = (rt / f - 1.0).max(1e-9);
    // softplus⁻¹(y) = ln(eʸ − 1), stable for large y.
    let x = if y > 30.0 { y } else { y.exp_m1().ln() };
    f + f * x
}

/// The trainable model of a design: per-line graphic-EQ RTs and output EQ from `params`.
fn model_of(design: &Candidate, params: &DesignParams, nfft: usize) -> Result<FdnModel> {
    let build = &design.build;
    let fs = build.sample_rate();
    let n = build.n();
    let floor = build.delays().iter().copied().max().unwrap_or(1) as f64 / fs;
    let sizes = split_lines(n, params.rt_s.len());
    let mut rt = vec![0.0; BANDS * n];
    let mut line = 0;
    for (k, &size) in sizes.iter().enumerate() {
        let bands = to_command_bands(&params.rt_s[k]);
        for _ in 0..size {
            // Per-line RTs get per-line soft floors m_i/fs (§6.5).
            let f = build.delays()[line] as f64 / fs;
            for (j, &r) in bands.iter().enumerate() {
                rt[j * n + line] = unfloor(r, f);
            }
            line += 1;
        }
    }
    let rt = Var::from_tensor(&Tensor::from_vec(rt, (BANDS, n), &Device::Cpu)?)?;
    let att = Attenuation {
        design: AttenuationDesign::GraphicEq,
        rt,
        floor_s: floor,
        train: true,
    };
    let trainable = Trainable {
        feedback: false,
        input_gain: true,
        output_gain: true,
        direct: false,
    };
    let opts = ModelOptions {
        nfft,
        alias_decay_db: 60.0,
        device: Device::Cpu,
        dtype: DType::F64,
    };
    model_from_parts(
        build,
        trainable,
        MatrixKind::Random,
        PostDelay::Attenuation(att),
        &opts,
    )?
    .with_output_eq(&to_command_bands(&params.eq_db), true)
}

/// Fine-tunes `design` (made from `params`) toward `target` (onset at 0, rate = the build's);
/// `early` is the crossfade of the design (fade start, end) in samples. `progress(step, loss)`
/// runs after every step.
pub fn fine_tune(
    target: &[f64],
    early: Option<(usize, usize)>,
    design: &Candidate,
    params: &DesignParams,
    opts: &FineTuneOptions,
    mut progress: impl FnMut(usize, f64),
) -> Result<FineTune> {
    let fs = design.build.sample_rate();
    // The bands and target curves as `tailor compare` measures them: IEC 61260-1 octave filters,
    // the room's noise-compensated decays (ISO 3382-1), so the loss chases no noise floor.
    let fcs: Vec<f64> = octave_bands_hz()
        .into_iter()
        .filter(|&fc| band_fits(fc, fs, 1))
        .collect();
    let bands = fcs
        .iter()
        .map(|&fc| iec_bandpass_sos(fc, fs, 1))
        .collect::<Result<Vec<_>, _>>()
        .context("octave band filters")?;
    let target_bands: Vec<Vec<f64>> = fcs
        .iter()
        .zip(&bands)
        .map(|(&fc, bank)| energy_curve(&sos_filter(bank, target), fs, band_window_s(fc)))
        .collect();
    let target_broad = energy_curve(target, fs, BROADBAND_WINDOW_S);
    // The loss only looks at each band's first `range_db` dB: train on the shortest power of two
    // that holds them with 20 % to spare (alias decay keeps the FDN's longer tail from wrapping).
    let needed = target_bands
        .iter()
        .map(|e| {
            let floor = e[0] * 10f64.powf(-opts.range_db / 10.0);
            e.iter().position(|&v| v < floor).unwrap_or(target.len())
        })
        .max()
        .unwrap_or(target.len());
    let nfft = fft_friendly(((needed as f64 * 1.2) as usize).min(target.len()).max(1024));
    let cut = |e: &[f64]| e[..e.len().min(nfft)].to_vec();
    let target_bands: Vec<Vec<f64>> = target_bands.iter().map(|e| cut(e)).collect();
    let model = model_of(design, params, nfft)?;
    let loss = CompareLoss::from_curves(
        &target_bands,
        &cut(&target_broad),
        nfft,
        &bands,
        opts.range_db,
        &Device::Cpu,
    )?;
    // total = h·w + measured·(1 − w): the exported preset's response.
    let (w, mw) = match early {
        Some((start, end)) => {
            let w = fade_in(nfft, start, end);
            let mw: Vec<f64> = (0..nfft)
                .map(|i| target.get(i).copied().unwrap_or(0.0) * (1.0 - w[i]))
                .collect();
            (
                Some(Tensor::from_vec(w, nfft, &Device::Cpu)?),
                Some(Tensor::from_vec(mw, nfft, &Device::Cpu)?),
            )
        }
        None => (None, None),
    };
    let vars = model.trainable_vars();
    let mut adam = Adam::new(&vars)?;
    let mut out = FineTune {
        best: None,
        best_step: None,
        loss: Vec::with_capacity(opts.steps),
        evaluations: Vec::new(),
        ms_per_step: 0.0,
    };
    let mut best_score = design.score;
    // Step 0: the model as built must reproduce the design (same figures).
    let (c0, _) = evaluate_build(target, fs, early, extract_build(&model)?)?;
    out.evaluations.push((0, score(&c0.comparison)));
    let mut best_seen = score(&c0.comparison);
    let mut since_best = 0;
    let t0 = std::time::Instant::now();
    let mut eval_time = std::time::Duration::ZERO;
    for step in 1..=opts.steps {
        let h = model.response()?.reshape(nfft)?;
        let total = match (&w, &mw) {
            (Some(w), Some(mw)) => ((h * w)? + mw)?,
            _ => h,
        };
        let l = loss.forward(&total)?;
        let lv = l.to_scalar::<f64>()?;
        if !lv.is_finite() {
            break;
        }
        out.loss.push(lv);
        let grads = l.backward()?;
        adam.step(&grads, opts.lr)?;
        progress(step, lv);
        if step % opts.eval_every.max(1) == 0 || step == opts.steps {
            let te = std::time::Instant::now();
            let Ok(build) = extract_build(&model) else {
                continue;
            };
            if build.check_stable().is_err() {
                continue;
            }
            let (cand, _) = evaluate_build(target, fs, early, build)?;
            let s = score(&cand.comparison);
            out.evaluations.push((step, s));
            if s < best_score && no_worse(&cand.comparison, &design.comparison) {
                best_score = s;
                out.best = Some(cand);
                out.best_step = Some(step);
            }
            eval_time += te.elapsed();
            if s < best_seen {
                best_seen = s;
                since_best = 0;
            } else {
                since_best += 1;
                if opts.patience > 0 && since_best >= opts.patience {
                    break;
                }
            }
        }
    }
    let steps = out.loss.len().max(1);
    out.ms_per_step = 1000.0 * (t0.elapsed() - eval_time).as_secs_f64() / steps as f64;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fft_lengths_are_even_3_smooth_and_tight() {
        assert_eq!(fft_friendly(1000), 1024);
        assert_eq!(fft_friendly(1025), 1152);
        assert_eq!(fft_friendly(55_000), 55_296);
        for x in [1usize, 7, 999, 70_001, 131_073] {
            let v = fft_friendly(x);
            let mut r = v;
            while r.is_multiple_of(2) {
                r /= 2;
            }
            while r.is_multiple_of(3) {
                r /= 3;
            }
            assert!(
                v >= x && v.is_multiple_of(2) && r == 1 && v < 2 * x.max(2),
                "{x} → {v}"
            );
        }
        assert!((unfloor(0.8, 0.05) - 0.8).abs() < 0.01);
    }
}
