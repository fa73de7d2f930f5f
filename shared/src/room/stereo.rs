//! Stereo rooms: a two-channel room IR fitted as one FDN with two outputs whose late
//! inter-channel coherence and band levels follow the room's, octave by octave.
//!
//! The decay belongs to the lines, so it is designed once, by the mono fit of the channels' mean
//! (`design_room`, fine-tuning and the timbre polish). The stereo image is then made at the
//! output. The lines of a diffuse FDN carry mutually uncorrelated signals with the same spectrum,
//! so two output combinations of them, `S = c·x` (the mono fit's gains) and `D = c⊥·x` (the same
//! gains with balanced signs, made orthogonal to `c`), are uncorrelated and equally loud in every
//! band. Channel `o` plays `a_o(f)·(cos θ(f)·S ± sin θ(f)·D)` (+ for the left, − for the right):
//! its power is `a_o²(S² + D²)` whatever θ is, and the two channels' normalised correlation is
//! `(cos²θ − sin²θ) = cos 2θ`. So `θ(f) = ½·acos ρ(f)` sets the coherence ρ in each band and
//! `a_o(f)` each channel's level, independently. `cos θ·a_o` and `sin θ·a_o` are graphic EQs
//! (octave commands) on four FDN outputs (`S, D, S, D`) that the build's output mix sums pairwise
//! (`tailor.output_mix` = [[1, 1, 0, 0], [0, 0, 1, −1]]); the FDN itself stays a pyFDN build.
//! Measured coherence and levels are corrected in a closed loop (the lines are only nearly
//! uncorrelated, and the graphic EQ only nearly meets extreme cuts).
//!
//! A true-stereo room (two sources, four responses) has a second input whose gains are the first
//! input's with balanced signs, made orthogonal to them: the two inputs excite uncorrelated
//! realisations of the same decay, which both go through the same output stage, so θ is set from
//! the mean of the two inputs' coherences and each output's levels from both inputs' energy.

use super::design::{
    band_timbre_error, fill_from_neighbours, late_band_energies, render_outputs_from,
    retune_attenuation, timbre_error, to_command_bands, Candidate, DesignError, POLISH_ITERATIONS,
    POLISH_MAX_BOOST_DB, POLISH_MAX_CUT_DB,
};
use super::early::{bake_early_fir, eq_early_fir};
use crate::analysis::bands::OCTAVE_BANDS_HZ;
use crate::analysis::coherence::{late_coherence, max_coherence_error};
use crate::analysis::stereo::{compare_channels, MultiComparison};
use crate::geq::{graphic_eq_sos, BANDS, COMMAND_FREQUENCIES};
use crate::matrix::Matrix;
use crate::preset::early::MAX_EARLY_SECONDS;
use crate::preset::{Build, BuildParts};
use crate::sos::{SosBank, SosChannelFilter};
use crate::third_octave_eq::ThirdOctaveEq;

/// Renders (closed-loop corrections) of the stereo design at most.
pub const STEREO_ITERATIONS: usize = 8;

/// Largest |coherence| the design aims at: `sin θ` (or `cos θ`) stays ≥ 0.1 (−20 dB), within
/// what the graphic EQ realises.
pub const MAX_DESIGN_COHERENCE: f64 = 0.98;

/// Coherence error that counts as one unit of the stereo score (the acceptance threshold, about
/// 1.3 coherence JNDs).
pub const COHERENCE_TOLERANCE: f64 = 0.1;

/// Late band-level error (dB) that counts as one unit of the stereo score.
pub const STEREO_LEVEL_TOLERANCE_DB: f64 = 1.0;

/// A fitted stereo room.
#[derive(Debug, Clone)]
pub struct StereoFit {
    /// Four FDN outputs (`S, D, S, D` through their EQs), the output mix to two channels, one or
    /// two inputs.
    pub build: Build,
    /// Early FIR per output and input, `[o][i]` (empty without an early part).
    pub early_fir: Vec<Vec<Vec<f64>>>,
    /// Every figure of the two output channels against the room's, one comparison per input.
    pub comparisons: Vec<MultiComparison>,
    /// The image loop's score per render (≤ 1: coherence within [`COHERENCE_TOLERANCE`] and late
    /// band levels within [`STEREO_LEVEL_TOLERANCE_DB`]).
    pub history: Vec<f64>,
}

/// The per-band parameters of the output stage.
#[derive(Debug, Clone)]
struct Image {
    /// Rotation per octave band (125 Hz … 8 kHz), radians: coherence `cos 2θ`.
    theta: Vec<f64>,
    /// Level per channel and graphic-EQ command band, dB.
    level_db: [[f64; BANDS]; 2],
}

/// Designs the stereo output of `mono` (the finished mono fit of the room's channels' mean, whose
/// output EQ ends with the timbre polish `polish`, also applied to its early FIR) for `targets`
/// (`targets[i][o]`: the room's response from source `i` (one, or two for true stereo) to output
/// channel `o` (two), cut and cleaned as the mono target was, at `fs` Hz), with the early part
/// over `early` = (fade start, fade end) samples. See the module docs.
pub fn design_stereo(
    targets: &[Vec<Vec<f64>>],
    fs: f64,
    early: Option<(usize, usize)>,
    mono: &Candidate,
    polish: &[[f64; 6]],
) -> Result<StereoFit, DesignError> {
    let len = targets.first().and_then(|t| t.first()).map_or(0, Vec::len);
    if !(1..=2).contains(&targets.len())
        || targets
            .iter()
            .any(|t| t.len() != 2 || t.iter().any(|c| c.len() != len))
    {
        return Err(DesignError::Target(
            "a stereo design needs one or two inputs of two channels, all of equal length".into(),
        ));
    }
    let room = Room::new(targets, fs, early)?;
    let mut stage = OutputStage::new(mono, polish, fs, targets.len())?;
    let mut image = Image {
        theta: (0..OCTAVE_BANDS_HZ.len())
            .map(|b| clamp_theta(0.5 * room.mean_coherence(b).clamp(-1.0, 1.0).acos()))
            .collect(),
        level_db: [[0.0; BANDS]; 2],
    };
    // Start from the room's late level difference between the channels, around the mono fit.
    for b in 0..BANDS {
        if let (Some(l), Some(r)) = (room.late[0][b], room.late[1][b]) {
            if l > 0.0 && r > 0.0 {
                let mean = 0.5 * (l + r);
                image.level_db[0][b] = 10.0 * (l / mean).log10();
                image.level_db[1][b] = 10.0 * (r / mean).log10();
            }
        }
    }
    let mut history = Vec::new();
    let mut best: Option<(f64, StereoFit)> = None;
    // The decay was designed on the channels' mean; each channel's measured RT differs from it
    // by the room's own channel difference and by its realisation (T30 of one channel scatters by
    // 1–3 %). Each round sets the image, then retunes the lines by the midpoint of the channels'
    // room/fit RT ratios (`channel_rt_factors`), which splits the extreme misses evenly.
    for round in 0..=STEREO_RETUNES {
        let (image_now, fir_base) = image_loop(&room, &stage, image.clone(), &mut history)?;
        image = image_now;
        let fit = finish(&room, &stage, &image, &fir_base, history.clone())?;
        let score = stereo_score(&fit.comparisons);
        let better = best.as_ref().is_none_or(|(s, _)| score < *s);
        let factors = channel_rt_factors(&fit.comparisons);
        if better {
            best = Some((score, fit));
        }
        if score <= 1.0 || round == STEREO_RETUNES {
            break;
        }
        let Some(factors) = factors else { break };
        match retune_attenuation(&stage.mono, &factors) {
            Ok(b) => stage.mono = b,
            Err(_) => break,
        }
    }
    let (_, mut fit) = best.expect("at least one round");
    fit.history = history;
    polish_channels(&room, fit)
}

/// Each output channel's third-octave timbre polish: the stereo stage sets levels per octave, and
/// the mono polish was set on the channels' mean, so a channel's third-octave levels can still be
/// a few dB off. A third-octave EQ per channel ([`ThirdOctaveEq`]) acts on the channel's whole
/// response (its two FDN outputs and its early FIRs), so the new response is the old one through
/// the EQ and a correction needs no render. Set from the band errors averaged over the sources
/// (a band where the room has only noise is only cut), [`POLISH_ITERATIONS`] times at most and
/// until every channel is within 0.5 dB (1 dB of excess); a correction is kept while the summed
/// error falls and the stereo score stays at most max(1, the score before); the step halves after
/// one that is not.
fn polish_channels(room: &Room, fit: StereoFit) -> Result<StereoFit, DesignError> {
    let eq = ThirdOctaveEq::new(room.fs)?;
    let nb = eq.bands_hz().len();
    let len = room.targets[0][0].len();
    // The fit's responses `[input][output]`, rendered once.
    let base: Responses = (0..room.targets.len())
        .map(|i| {
            let mut outs = render_outputs_from(&fit.build, len, i);
            for (o, y) in outs.iter_mut().enumerate() {
                for (v, e) in y.iter_mut().zip(&fit.early_fir[o][i]) {
                    *v += e;
                }
            }
            outs
        })
        .collect();
    let timbre = |c: &[MultiComparison]| -> f64 {
        c.iter()
            .flat_map(|m| &m.channels)
            .map(timbre_error)
            .sum::<f64>()
    };
    let mut best = (fit.comparisons.clone(), [vec![0.0; nb], vec![0.0; nb]]);
    let start_score = stereo_score(&best.0);
    let mut step = 1.0;
    let mut refused = 0;
    for _ in 0..POLISH_ITERATIONS {
        let (comparisons, gains) = &best;
        // Timbre met (as the mono polish judges it): done.
        let met = comparisons
            .iter()
            .flat_map(|m| &m.channels)
            .all(|c| c.third_octave.worst_db <= 0.5 && c.third_octave.excess_db <= 1.0);
        if met {
            break;
        }
        let next: [Vec<f64>; 2] = std::array::from_fn(|o| {
            (0..nb)
                .map(|b| {
                    let err = comparisons
                        .iter()
                        .map(|m| band_timbre_error(&m.channels[o], b))
                        .sum::<f64>()
                        / comparisons.len() as f64;
                    (gains[o][b] - step * err.clamp(-12.0, 12.0))
                        .clamp(POLISH_MAX_CUT_DB, POLISH_MAX_BOOST_DB)
                })
                .collect()
        });
        let banks = [channel_eq(&eq, &next[0])?, channel_eq(&eq, &next[1])?];
        let cand = base
            .iter()
            .zip(room.targets)
            .map(|(outs, target)| {
                let filtered: Vec<Vec<f64>> = outs
                    .iter()
                    .zip(&banks)
                    .map(|(y, bank)| {
                        let mut f = SosChannelFilter::new(bank, 0);
                        y.iter().map(|&v| f.tick(v)).collect()
                    })
                    .collect();
                compare_channels(target, &filtered, room.fs).map_err(analysis_error)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (now, before) = (timbre(&cand), timbre(&best.0));
        if now < before && stereo_score(&cand) <= start_score.max(1.0) {
            best = (cand, next);
            refused = 0;
            // Settled: less than 2 % of the summed error taken out.
            if now > 0.98 * before {
                break;
            }
        } else {
            // Two refusals in a row: what is left is not the EQ's to take out (e.g. the sources
            // of a true-stereo room differ band by band, and one EQ per channel serves both).
            step *= 0.5;
            refused += 1;
            if refused == 2 {
                break;
            }
        }
    }
    let (comparisons, gains) = best;
    if gains.iter().flatten().all(|g| *g == 0.0) {
        return Ok(fit);
    }
    // The kept EQs on each channel's two FDN outputs and its early FIRs.
    let sections: Vec<Vec<[f64; 6]>> = gains
        .iter()
        .map(|g| eq.sections(g))
        .collect::<Result<_, _>>()?;
    let po = fit
        .build
        .post_output()
        .expect("the stereo build has output EQs");
    let mut chains = po.to_channel_sections();
    for (k, c) in chains.iter_mut().enumerate() {
        c.extend_from_slice(&sections[k / 2]);
    }
    let mut parts: BuildParts = fit.build.parts().clone();
    parts.post_output = Some(sections_bank(&chains)?);
    let build = Build::new(parts)?;
    build.check_stable()?;
    let cap = ((MAX_EARLY_SECONDS * room.fs).floor() as usize).min(len);
    let early_fir = fit
        .early_fir
        .iter()
        .zip(&sections)
        .map(|(row, secs)| {
            let bank = sections_bank(std::slice::from_ref(secs))?;
            Ok(row
                .iter()
                .map(|f| {
                    if f.is_empty() {
                        Vec::new()
                    } else {
                        eq_early_fir(f, &bank, cap)
                    }
                })
                .collect())
        })
        .collect::<Result<_, DesignError>>()?;
    Ok(StereoFit {
        build,
        early_fir,
        comparisons,
        history: fit.history,
    })
}

/// The one-channel bank of the third-octave EQ `eq` with `gains` (dB per band).
fn channel_eq(eq: &ThirdOctaveEq, gains: &[f64]) -> Result<SosBank, DesignError> {
    sections_bank(&[eq.sections(gains)?])
}

/// Decay retunes of the stereo design at most (each followed by the image loop).
pub const STEREO_RETUNES: usize = 3;

/// The worst of the stereo comparisons' figures (one per source) against their thresholds (≤ 1
/// meets them all): per channel mean / worst band RT (2 % / 5 %) and EDC (1 dB), the band levels as
/// shares of both channels ([`STEREO_LEVEL_TOLERANCE_DB`]) and the coherence averaged over the
/// sources ([`COHERENCE_TOLERANCE`]; [`mean_coherence_error`]).
pub fn stereo_score(c: &[MultiComparison]) -> f64 {
    let decay = c
        .iter()
        .flat_map(|m| &m.channels)
        .map(|ch| {
            (ch.mean_rt_error_pct.unwrap_or(100.0) / 2.0)
                .max(ch.worst_rt_error_pct.unwrap_or(100.0) / 5.0)
                .max(ch.edc_error_db)
        })
        .fold(0.0, f64::max);
    let level = c
        .iter()
        .flat_map(|m| &m.stereo_level_error_db)
        .copied()
        .fold(0.0, f64::max);
    decay
        .max(level / STEREO_LEVEL_TOLERANCE_DB)
        .max(mean_coherence_error(c).unwrap_or(1.0) / COHERENCE_TOLERANCE)
}

/// Largest |Δ| over the octave bands between the room's and the fit's late coherence, each
/// averaged over the sources of `c` (one comparison per source). With one source this is its
/// `max_coherence_error`. Both sources of a true-stereo fit go through the same output stage, so
/// their mean is what the design sets; each source's own coherence also carries its realisation's
/// scatter (in the room and in the FDN, whose few modes per band at low frequencies scatter more:
/// about ±0.1 at 250 Hz for 16 lines and a 2 s decay).
pub fn mean_coherence_error(c: &[MultiComparison]) -> Option<f64> {
    let mean = |pick: fn(&MultiComparison) -> &Vec<Option<f64>>| -> Vec<Option<f64>> {
        (0..OCTAVE_BANDS_HZ.len())
            .map(|b| {
                let v: Vec<f64> = c.iter().filter_map(|m| pick(m).get(b).copied()?).collect();
                (v.len() == c.len() && !v.is_empty())
                    .then(|| v.iter().sum::<f64>() / v.len() as f64)
            })
            .collect()
    };
    max_coherence_error(&mean(|m| &m.coherence_a), &mean(|m| &m.coherence_b))
}

/// Per octave band, the factor that brings the channels of `c` to their smallest worst RT error:
/// the geometric midpoint of the largest and smallest room/fit RT ratio (clamped to 0.5–2; a band
/// without both RTs in any channel follows its neighbours). With two channels it is their
/// geometric mean.
fn channel_rt_factors(c: &[MultiComparison]) -> Option<Vec<f64>> {
    let channels: Vec<&crate::analysis::compare::Comparison> =
        c.iter().flat_map(|m| &m.channels).collect();
    let per: Vec<Option<f64>> = (0..OCTAVE_BANDS_HZ.len())
        .map(|b| {
            let logs: Vec<f64> = channels
                .iter()
                .filter_map(|ch| {
                    let (a, f) = (ch.rt_a_s.get(b).copied()??, ch.rt_b_s.get(b).copied()??);
                    (a > 0.0 && f > 0.0).then(|| (a / f).ln())
                })
                .collect();
            (logs.len() == channels.len() && !logs.is_empty()).then(|| {
                let hi = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let lo = logs.iter().copied().fold(f64::INFINITY, f64::min);
                (0.5 * (hi + lo)).exp().clamp(0.5, 2.0)
            })
        })
        .collect();
    fill_from_neighbours(&per).into_iter().collect()
}

/// The room side of the stereo design.
struct Room<'a> {
    /// `[input][output]` responses.
    targets: &'a [Vec<Vec<f64>>],
    fs: f64,
    early: Option<(usize, usize)>,
    /// Late coherence per input and octave band (a band above Nyquist follows its neighbours).
    coherence: Vec<Vec<f64>>,
    /// Late band energies per output channel (summed over the inputs) and command band from the
    /// tail start.
    late: Vec<Vec<Option<f64>>>,
    tail_from: usize,
}

impl<'a> Room<'a> {
    fn new(
        targets: &'a [Vec<Vec<f64>>],
        fs: f64,
        early: Option<(usize, usize)>,
    ) -> Result<Self, DesignError> {
        let tail_from = early.map_or(0, |(_, end)| end);
        let coherence = targets
            .iter()
            .map(|t| {
                let c = late_coherence(&t[0], &t[1], fs).map_err(analysis_error)?;
                Ok(fill_from_neighbours(&c)
                    .into_iter()
                    .map(|v| v.unwrap_or(0.0))
                    .collect())
            })
            .collect::<Result<Vec<Vec<f64>>, DesignError>>()?;
        Ok(Self {
            targets,
            fs,
            early,
            coherence,
            late: summed_late(targets, fs, tail_from),
            tail_from,
        })
    }

    /// The room's late coherence in octave band `b`, averaged over the inputs.
    fn mean_coherence(&self, b: usize) -> f64 {
        self.coherence.iter().map(|c| c[b]).sum::<f64>() / self.coherence.len() as f64
    }
}

/// Late band energies (command bands, from `tail_from`) per output channel of `[input][output]`
/// responses, summed over the inputs (`None` where an input has none).
fn summed_late(x: &[Vec<Vec<f64>>], fs: f64, tail_from: usize) -> Vec<Vec<Option<f64>>> {
    (0..2)
        .map(|o| {
            let per: Vec<Vec<Option<f64>>> = x
                .iter()
                .map(|t| late_band_energies(&t[o], fs, tail_from))
                .collect();
            (0..BANDS)
                .map(|b| per.iter().map(|p| p[b]).sum::<Option<f64>>())
                .collect()
        })
        .collect()
}

fn analysis_error(e: crate::analysis::AnalysisError) -> DesignError {
    DesignError::Analysis(e.to_string())
}

/// θ kept where `cos θ` and `sin θ` are ≥ 0.1 ([`MAX_DESIGN_COHERENCE`]).
fn clamp_theta(t: f64) -> f64 {
    let limit = 0.5 * MAX_DESIGN_COHERENCE.acos();
    t.clamp(limit, std::f64::consts::FRAC_PI_2 - limit)
}

/// The image's closed loop from `image`: renders the stereo build, bakes each response's early
/// FIR, measures late coherence and band levels and corrects θ and the levels, until the score is
/// ≤ 0.5 or [`STEREO_ITERATIONS`] renders. Returns the best image and its early FIRs (before the
/// polish, `[input][output]`), pushing each render's score to `history`.
fn image_loop(
    room: &Room,
    stage: &OutputStage,
    mut image: Image,
    history: &mut Vec<f64>,
) -> Result<(Image, Responses), DesignError> {
    let mut best: Option<(f64, Image, Responses)> = None;
    for _ in 0..STEREO_ITERATIONS {
        let (totals, fir_base) = totals(room, stage, &image)?;
        let fit_coherence = totals
            .iter()
            .map(|t| late_coherence(&t[0], &t[1], room.fs).map_err(analysis_error))
            .collect::<Result<Vec<_>, _>>()?;
        let fit_late = summed_late(&totals, room.fs, room.tail_from);
        // The sources' mean coherence, room against fit (what θ sets).
        let room_mean: Vec<Option<f64>> = (0..OCTAVE_BANDS_HZ.len())
            .map(|b| Some(room.mean_coherence(b)))
            .collect();
        let fit_mean: Vec<Option<f64>> = (0..OCTAVE_BANDS_HZ.len())
            .map(|b| {
                let v: Vec<f64> = fit_coherence
                    .iter()
                    .filter_map(|f| f.get(b).copied()?)
                    .collect();
                (v.len() == fit_coherence.len()).then(|| v.iter().sum::<f64>() / v.len() as f64)
            })
            .collect();
        let coherence_error = max_coherence_error(&room_mean, &fit_mean).unwrap_or(0.0);
        let level_error = late_level_error_db(&room.late, &fit_late);
        let score =
            (coherence_error / COHERENCE_TOLERANCE).max(level_error / STEREO_LEVEL_TOLERANCE_DB);
        history.push(score);
        if best.as_ref().is_none_or(|(s, _, _)| score < *s) {
            best = Some((score, image.clone(), fir_base));
        }
        if score <= 0.5 {
            break;
        }
        // Coherence: θ moves by the measured miss (ρ = cos 2θ), averaged over the inputs.
        for (b, t) in image.theta.iter_mut().enumerate() {
            let misses: Vec<f64> = room
                .coherence
                .iter()
                .zip(&fit_coherence)
                .filter_map(|(r, f)| {
                    let f = f.get(b).copied().flatten()?;
                    Some(r[b].clamp(-1.0, 1.0).acos() - f.clamp(-1.0, 1.0).acos())
                })
                .collect();
            if !misses.is_empty() {
                let miss = misses.iter().sum::<f64>() / misses.len() as f64;
                *t = clamp_theta(*t + 0.5 * miss);
            }
        }
        // Levels: each channel's late band energy toward the room's, per command band (a band
        // the room has nothing of its own in follows its neighbours).
        for (o, level) in image.level_db.iter_mut().enumerate() {
            let set: Vec<Option<f64>> = (0..BANDS)
                .map(|b| match (room.late[o][b], fit_late[o][b]) {
                    (Some(t), Some(f)) if t > 0.0 && f > 0.0 => {
                        Some(level[b] + (10.0 * (t / f).log10()).clamp(-12.0, 12.0))
                    }
                    _ => None,
                })
                .collect();
            for (l, v) in level.iter_mut().zip(fill_from_neighbours(&set)) {
                if let Some(v) = v {
                    *l = v.clamp(-30.0, 30.0);
                }
            }
        }
    }
    let (_, image, fir) = best.expect("at least one render");
    Ok((image, fir))
}

/// Responses `[input][output]`.
type Responses = Vec<Vec<Vec<f64>>>;

/// Every input's whole responses for `image` (FDN + early FIR baked against the room, through the
/// polish) and the early FIRs before the polish, both `[input][output]`.
fn totals(
    room: &Room,
    stage: &OutputStage,
    image: &Image,
) -> Result<(Responses, Responses), DesignError> {
    let len = room.targets[0][0].len();
    let build = stage.build(image, room.early.is_none())?;
    let mut totals = Vec::new();
    let mut firs = Vec::new();
    for (i, target) in room.targets.iter().enumerate() {
        let outs = render_outputs_from(&build, len, i);
        let fir_base: Vec<Vec<f64>> = match room.early {
            Some((start, end)) => target
                .iter()
                .zip(&outs)
                .map(|(t, y)| bake_early_fir(t, y, start, end))
                .collect(),
            None => vec![Vec::new(); 2],
        };
        totals.push(
            outs.iter()
                .zip(&fir_base)
                .map(|(y, f)| {
                    let mut t = y.clone();
                    for (v, e) in t.iter_mut().zip(f) {
                        *v += e;
                    }
                    match (&stage.polish_bank, room.early) {
                        (Some(p), Some(_)) => {
                            let mut filter = SosChannelFilter::new(p, 0);
                            t.iter().map(|&v| filter.tick(v)).collect()
                        }
                        _ => t,
                    }
                })
                .collect(),
        );
        firs.push(fir_base);
    }
    Ok((totals, firs))
}

/// The finished stereo fit of `image`: the build with the polish, each channel's early FIR through
/// the polish, and every figure of the whole response against the room.
fn finish(
    room: &Room,
    stage: &OutputStage,
    image: &Image,
    fir_base: &[Vec<Vec<f64>>],
    history: Vec<f64>,
) -> Result<StereoFit, DesignError> {
    let len = room.targets[0][0].len();
    let build = stage.build(image, true)?;
    let cap = ((MAX_EARLY_SECONDS * room.fs).floor() as usize).min(len);
    // `[input][output]` through the polish.
    let firs: Responses = fir_base
        .iter()
        .map(|per_out| {
            per_out
                .iter()
                .map(|f| match (&stage.polish_bank, f.is_empty()) {
                    (Some(p), false) => eq_early_fir(f, p, cap),
                    _ => f.clone(),
                })
                .collect()
        })
        .collect();
    let mut comparisons = Vec::new();
    for (i, target) in room.targets.iter().enumerate() {
        let mut totals = render_outputs_from(&build, len, i);
        for (t, f) in totals.iter_mut().zip(&firs[i]) {
            for (v, e) in t.iter_mut().zip(f) {
                *v += e;
            }
        }
        comparisons.push(compare_channels(target, &totals, room.fs).map_err(analysis_error)?);
    }
    let early_fir = (0..2)
        .map(|o| firs.iter().map(|per_out| per_out[o].clone()).collect())
        .collect();
    Ok(StereoFit {
        build,
        early_fir,
        comparisons,
        history,
    })
}

/// Largest |ΔdB| over both channels and the octave bands 125 Hz … 8 kHz of the late band
/// energies as shares of both channels' total in those bands.
fn late_level_error_db(room: &[Vec<Option<f64>>], fit: &[Vec<Option<f64>>]) -> f64 {
    let octave: Vec<usize> = COMMAND_FREQUENCIES
        .iter()
        .enumerate()
        .filter(|(_, f)| OCTAVE_BANDS_HZ.iter().any(|o| (*o - **f).abs() < 1.0))
        .map(|(b, _)| b)
        .collect();
    let usable: Vec<usize> = octave
        .into_iter()
        .filter(|&b| {
            room.iter()
                .chain(fit)
                .all(|c| c[b].is_some_and(|v| v > 0.0))
        })
        .collect();
    let total = |x: &[Vec<Option<f64>>]| -> f64 {
        x.iter()
            .flat_map(|c| usable.iter().map(move |&b| c[b].unwrap_or(0.0)))
            .sum::<f64>()
            .max(1e-300)
    };
    let (tr, tf) = (total(room), total(fit));
    room.iter()
        .zip(fit)
        .flat_map(|(r, f)| {
            usable.iter().map(move |&b| {
                let (r, f) = (r[b].unwrap_or(0.0) / tr, f[b].unwrap_or(0.0) / tf);
                (10.0 * (f / r).log10()).abs()
            })
        })
        .fold(0.0, f64::max)
}

/// What the stereo output stage is built from: the mono fit's build, its output EQ without the
/// polish, the two line combinations and the polish as a bank.
struct OutputStage {
    mono: Build,
    fs: f64,
    /// The mono output EQ's sections before the polish.
    base: Vec<[f64; 6]>,
    polish: Vec<[f64; 6]>,
    polish_bank: Option<SosBank>,
    /// `S` and `D` gains per line.
    rows: [Vec<f64>; 2],
    /// Input gains `N × n_in` (row-major): the mono fit's, and for a second input the same with
    /// balanced signs, orthogonal to them.
    b: Matrix,
}

impl OutputStage {
    fn new(
        mono: &Candidate,
        polish: &[[f64; 6]],
        fs: f64,
        inputs: usize,
    ) -> Result<Self, DesignError> {
        let build = &mono.build;
        if build.n_out() != 1 || build.n_in() != 1 || build.output_mix().is_some() {
            return Err(DesignError::Target(
                "the stereo stage starts from a one-input, one-output mono fit".into(),
            ));
        }
        let b0: Vec<f64> = (0..build.n()).map(|i| build.b().get(i, 0)).collect();
        let columns = if inputs == 2 {
            vec![b0.clone(), orthogonal_row(&b0)]
        } else {
            vec![b0]
        };
        let b = Matrix::from_row_major(
            build.n(),
            columns.len(),
            (0..build.n())
                .flat_map(|i| columns.iter().map(move |c| c[i]))
                .collect(),
        )
        .expect("N × inputs");
        let chain: Vec<[f64; 6]> = build
            .post_output()
            .map_or_else(Vec::new, |b| b.to_channel_sections().swap_remove(0));
        if chain.len() < polish.len() || chain[chain.len() - polish.len()..] != *polish {
            return Err(DesignError::Target(
                "the mono fit's output EQ does not end with its polish".into(),
            ));
        }
        let base = chain[..chain.len() - polish.len()].to_vec();
        let polish_bank = if polish.is_empty() {
            None
        } else {
            Some(sections_bank(&[polish.to_vec()])?)
        };
        let s = build.c().row(0).to_vec();
        Ok(Self {
            rows: [s.clone(), orthogonal_row(&s)],
            b,
            mono: build.clone(),
            fs,
            base,
            polish: polish.to_vec(),
            polish_bank,
        })
    }

    /// The stereo build for `image`: four FDN outputs `S, D, S, D`, output `k` EQ'd by the base
    /// chain, then `a·cos θ` (S) or `a·sin θ` (D) of its channel, then the polish when
    /// `with_polish`; mixed to `L = S₀ + D₀`, `R = S₁ − D₁`.
    fn build(&self, image: &Image, with_polish: bool) -> Result<Build, DesignError> {
        let theta = to_command_bands(&image.theta);
        let n = self.mono.n();
        let mut c = Vec::with_capacity(4 * n);
        let mut chains = Vec::with_capacity(4);
        for level in &image.level_db {
            for (j, row) in self.rows.iter().enumerate() {
                c.extend_from_slice(row);
                let gains: [f64; BANDS] = std::array::from_fn(|b| {
                    let g = if j == 0 {
                        theta[b].cos()
                    } else {
                        theta[b].sin()
                    };
                    level[b] + 20.0 * g.max(1e-6).log10()
                });
                let mut chain = self.base.clone();
                chain.extend(graphic_eq_sos(&gains, self.fs)?);
                if with_polish {
                    chain.extend_from_slice(&self.polish);
                }
                chains.push(chain);
            }
        }
        let mut parts: BuildParts = self.mono.parts().clone();
        parts.c = Matrix::from_row_major(4, n, c).expect("4 × N");
        parts.b = self.b.clone();
        parts.d = Matrix::zeros(4, self.b.cols());
        parts.post_output = Some(sections_bank(&chains)?);
        parts.output_mix = Some(
            Matrix::from_row_major(2, 4, vec![1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, -1.0])
                .expect("2 × 4"),
        );
        let build = Build::new(parts)?;
        build.check_stable()?;
        Ok(build)
    }
}

/// The signal a stereo room's decay is designed on: the mean of its `responses` (all as long as
/// the first), each turned to the first one's polarity (by the sign of its correlation with it),
/// so an anti-phase pair does not cancel.
pub fn decay_target(responses: &[Vec<f64>]) -> Vec<f64> {
    let Some(first) = responses.first() else {
        return Vec::new();
    };
    let polarity: Vec<f64> = responses
        .iter()
        .map(|c| {
            let dot: f64 = c.iter().zip(first).map(|(a, b)| a * b).sum();
            if dot < 0.0 {
                -1.0
            } else {
                1.0
            }
        })
        .collect();
    let k = responses.len() as f64;
    (0..first.len())
        .map(|n| {
            responses
                .iter()
                .zip(&polarity)
                .map(|(c, p)| p * c.get(n).copied().unwrap_or(0.0))
                .sum::<f64>()
                / k
        })
        .collect()
}

/// `c` with balanced signs and made orthogonal to `c`, at `c`'s norm: the lines are sorted by
/// |gain| (a group's lines share one) and every second one is negated, so each group's share
/// nearly cancels in `Σ c·c⊥`; the rest is projected out.
pub fn orthogonal_row(c: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..c.len()).collect();
    order.sort_by(|&a, &b| c[a].abs().total_cmp(&c[b].abs()));
    let mut d = c.to_vec();
    for (k, &i) in order.iter().enumerate() {
        if k % 2 == 1 {
            d[i] = -d[i];
        }
    }
    let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(a, b)| a * b).sum::<f64>();
    let cc = dot(c, c);
    if cc > 0.0 {
        let k = dot(&d, c) / cc;
        for (v, ci) in d.iter_mut().zip(c) {
            *v -= k * ci;
        }
        let scale = (cc / dot(&d, &d).max(1e-300)).sqrt();
        d.iter_mut().for_each(|v| *v *= scale);
    }
    d
}

/// A bank with one channel per section list (all lists as long as the longest; shorter ones are
/// padded with unit sections).
fn sections_bank(channels: &[Vec<[f64; 6]>]) -> Result<SosBank, DesignError> {
    SosBank::from_channel_sections(channels)
        .map_err(|e| DesignError::Target(format!("stereo output EQ: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decay_target_keeps_an_anti_phase_pair() {
        let l = vec![1.0, 0.5, -0.25];
        let neg: Vec<f64> = l.iter().map(|v| -v).collect();
        assert_eq!(decay_target(&[l.clone(), neg]), l);
        let half: Vec<f64> = l.iter().map(|v| 0.5 * v).collect();
        assert_eq!(decay_target(&[l.clone(), half]), vec![0.75, 0.375, -0.1875]);
        assert!(decay_target(&[]).is_empty());
    }

    #[test]
    fn the_second_row_is_orthogonal_balanced_and_as_loud() {
        let c = [0.5, -0.5, 0.5, 0.5, -0.5, 0.2, 0.2, -0.2, 0.2, 0.2];
        let d = orthogonal_row(&c);
        let dot: f64 = c.iter().zip(&d).map(|(a, b)| a * b).sum();
        assert!(dot.abs() < 1e-12);
        let n = |x: &[f64]| x.iter().map(|v| v * v).sum::<f64>();
        assert!((n(&c) - n(&d)).abs() < 1e-12);
        // Not a copy or a negation: it differs from ±c.
        assert!(c.iter().zip(&d).any(|(a, b)| (a - b).abs() > 0.1));
        assert!(c.iter().zip(&d).any(|(a, b)| (a + b).abs() > 0.1));
    }
}
