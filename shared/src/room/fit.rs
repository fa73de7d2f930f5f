//! The whole fit of a measured room as one library call: channel layout → analysis and
//! closed-loop design (every slope count, [`design_room`]) → an optional refinement stage the
//! caller supplies (the trainer's gradient fine-tuning; [`Refine`]) → third-octave timbre polish
//! → stereo image (two- and four-channel rooms) → preset → validation → the figures a user gets
//! from `tailor render` + `tailor compare`.
//!
//! **Draws.** The design starts from random delays, feedback matrix and gain signs (the seed).
//! In short rooms with heavy loss per pass, which draw it starts from decides whether the
//! closed loop and the polish meet every threshold: on a 2 s, 96 kHz studio (RT 0.2–0.4 s)
//! seeds 1–5 gave third-octave errors of 7.2, 6.1, 12.1, 10.6 and 0.3 dB with everything else
//! alike. So a fit whose finished preset misses a threshold ([`draw_merit`] > 1 on any channel
//! the fit compares) designs again from the next seed, up to [`FitOptions::draws`] designs, and
//! keeps the best by that merit;
//! a room met by its first draw costs nothing more, and the seeds are fixed, so a fit is
//! reproducible.
//!
//! The CLI (`tailor fit`) and the plugin both call [`fit`]; they parse, show and write, and hold
//! no policy of their own. Nothing here writes files or spawns threads: a caller that wants the
//! fit off its thread runs [`fit`] there and follows it through [`Progress`], which can also
//! cancel it between steps.

use std::ops::ControlFlow;
use std::time::Instant;

use serde_json::json;

use super::analysis::{RoomAnalysis, SlopeChoice};
use super::design::{polish_timbre, Candidate, DesignOptions, Polish};
use super::stereo::{decay_target, design_stereo, StereoFit};
use super::{design_room, early_window, FitError, RoomDesign, AUTO_SLOPE_COUNTS};
use crate::analysis::compare::{compare_irs, Comparison};
use crate::analysis::stereo::{compare_channels, MultiComparison};
use crate::preset::early::EarlyReflections;
use crate::Preset;

/// Designs a fit tries at most by default ([`FitOptions::draws`]).
pub const DEFAULT_DRAWS: usize = 5;

/// Samples of the room (decay target, at its own rate) times the designs drawn, at most: the
/// extra designs of a long IR would cost more than they are worth, so a fit draws at most
/// `DRAW_BUDGET_SAMPLES / IR length` designs (at least one) — five for a 2 s, 96 kHz IR, one
/// for a 10 s, 96 kHz IR, whose single design then keeps its time.
pub const DRAW_BUDGET_SAMPLES: usize = 1_000_000;

/// Designs a fit of an IR of `samples` samples draws at most with `draws` asked for.
pub fn draws_for(samples: usize, draws: usize) -> usize {
    draws.min(DRAW_BUDGET_SAMPLES / samples.max(1)).max(1)
}

/// How far a fit's figures are from the thresholds: the larger of the decay and level score
/// ([`super::design::score`]: mean and worst band RT, EDC, octave level) and the worst
/// third-octave level error over its 1 dB threshold; ≤ 1 when every threshold is met.
pub fn draw_merit(c: &Comparison) -> f64 {
    super::design::score(c).max(c.third_octave.worst_db / THIRD_OCTAVE_LIMIT_DB)
}

/// The third-octave level threshold of a fit, dB.
pub const THIRD_OCTAVE_LIMIT_DB: f64 = 1.0;

/// Which channels of a room IR the fit uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// One channel: a mono room; two: a stereo room; more: the first channel as a mono room.
    #[default]
    Auto,
    /// This channel (0-based) alone, as a mono room.
    Channel(usize),
    /// Two channels: a room with one input and two outputs.
    Stereo,
    /// Four channels in the order in L → out L, in L → out R, in R → out L, in R → out R: a room
    /// with two inputs and two outputs.
    TrueStereo,
}

/// Settings of a fit.
#[derive(Debug, Clone, PartialEq)]
pub struct FitOptions {
    /// Number of delay lines (1 … 64).
    pub n: usize,
    /// Decay slopes (groups of the grouped FDN).
    pub slopes: SlopeChoice,
    /// Keep the measured early part as an FIR (crossfaded into the FDN at the mixing time).
    pub early: bool,
    /// Correction iterations (renders) of the design loop per slope count.
    pub iterations: usize,
    /// Seed of delays, feedback matrix and gain signs of the first draw (draw k uses seed + k).
    pub seed: u64,
    /// Designs tried at most while the fit misses a threshold (at least 1; at most what
    /// [`draws_for`] allows for the IR's length; see the module docs).
    pub draws: usize,
    /// Channels of the IR the fit uses.
    pub layout: Layout,
    /// Name of the room (the preset is named `fit: <name>`).
    pub name: String,
    /// Where the IR came from (the preset's `source_ir` metadata), e.g. its path.
    pub source: String,
    /// What fitted it (the preset's `fitted_by` metadata).
    pub fitted_by: String,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            n: 16,
            slopes: SlopeChoice::Auto,
            early: true,
            iterations: 20,
            seed: 1,
            draws: DEFAULT_DRAWS,
            layout: Layout::Auto,
            name: "room".into(),
            source: String::new(),
            fitted_by: "tailor fit".into(),
        }
    }
}

/// A stage of a fit, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Analysis and the closed-loop design of every slope count (one step per render).
    Design,
    /// The caller's refinement ([`Refine`]), e.g. gradient fine-tuning (one step per its step).
    Refine,
    /// Third-octave timbre polish.
    Polish,
    /// Stereo image (coherence and levels per octave) of a two- or four-channel room.
    Stereo,
    /// Building, validating and measuring the preset.
    Check,
}

impl Stage {
    /// What the stage does, for a progress display.
    pub fn describe(self) -> &'static str {
        match self {
            Stage::Design => "design",
            Stage::Refine => "fine-tune",
            Stage::Polish => "timbre polish (third-octave EQ)",
            Stage::Stereo => "stereo image (coherence and levels per octave)",
            Stage::Check => "validating and measuring the preset",
        }
    }
}

/// Follows a fit and may cancel it.
pub trait Progress {
    /// `stage` begins; it reports `steps` steps (0: an unknown number).
    fn stage(&mut self, stage: Stage, steps: usize);
    /// `done` steps of the current stage are finished; `note` says where it stands.
    fn step(&mut self, done: usize, note: &str);
    /// Whether the fit should stop (asked between steps; the fit then returns
    /// [`FitError::Cancelled`]).
    fn cancelled(&self) -> bool {
        false
    }
}

/// A [`Progress`] that shows nothing and never cancels.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn stage(&mut self, _: Stage, _: usize) {}
    fn step(&mut self, _: usize, _: &str) {}
}

/// A refinement stage between the design and the polish (the trainer's gradient fine-tuning):
/// given the kept design it returns a better candidate, or `None` to keep the design.
pub trait Refine {
    /// Steps it reports through [`Progress::step`].
    fn steps(&self) -> usize;
    /// Refines `room.design.best` (the early crossfade `early`, samples); errors are reported as
    /// [`FitError::Refine`].
    fn refine(
        &mut self,
        room: &RoomDesign,
        early: Option<(usize, usize)>,
        progress: &mut dyn Progress,
    ) -> Result<Option<Candidate>, String>;
}

/// Everything a fit found and made.
#[derive(Debug, Clone)]
pub struct FitReport {
    /// The room's analysis (with the kept slope count), design and every slope count's score.
    pub room: RoomDesign,
    /// Early crossfade `(fade start, fade end)`, samples; `None` for a pure FDN.
    pub early: Option<(usize, usize)>,
    /// Whether the refinement stage's candidate replaced the design's.
    pub refined: bool,
    /// The kept draw (0-based) and its seed.
    pub draw: (usize, u64),
    /// Per draw tried, its seed and [`draw_merit`].
    pub draw_merits: Vec<(u64, f64)>,
    /// The timbre polish.
    pub polish: Polish,
    /// The stereo stage of a two- or four-channel room.
    pub stereo: Option<StereoFit>,
    /// The fitted preset, validated as the engine and the plugin validate it.
    pub preset: Preset,
    /// The room's channel 0 as given (what the comparison judges), samples at `fs`.
    pub target: Vec<f64>,
    /// The preset's response on output 0 from input 0 (early part included), as long as
    /// `target`.
    pub response: Vec<f64>,
    /// `tailor compare` of `target` and `response`.
    pub comparison: Comparison,
    /// Per input of a stereo room: both output channels against the room's (empty for mono).
    pub per_input: Vec<MultiComparison>,
    /// Things the user should know (channels left out, the analysis's warnings).
    pub notes: Vec<String>,
    /// Time spent designing (every draw), s.
    pub design_seconds: f64,
    /// Time of the whole fit (every draw), s.
    pub seconds: f64,
}

impl FitReport {
    /// The analysis of the kept design.
    pub fn analysis(&self) -> &RoomAnalysis {
        &self.room.analysis
    }

    /// Sample rate of the room and the preset, Hz.
    pub fn sample_rate(&self) -> f64 {
        self.room.analysis.fs
    }
}

/// The rooms of `channels` under `layout`: `(decay target, [input][output] responses)`, the
/// latter empty for a mono room.
type Sources = (Vec<f64>, Vec<Vec<Vec<f64>>>);

/// Picks the channels `layout` names from `channels`, with notes for the user.
fn sources(channels: &[Vec<f64>], layout: Layout) -> Result<(Sources, Vec<String>), FitError> {
    let count = channels.len();
    if count == 0 {
        return Err(FitError::Input("the IR has no channels".into()));
    }
    let mut notes = Vec::new();
    let channel = |c: usize| -> Result<Vec<f64>, FitError> {
        channels.get(c).cloned().ok_or_else(|| {
            FitError::Input(format!(
                "channel {c} out of range: the IR has {count} channel(s)"
            ))
        })
    };
    // Sources of the room (1, or 2 for true stereo), each with two output channels; 0 = mono.
    let inputs = match layout {
        Layout::Channel(c) => return Ok(((channel(c)?, Vec::new()), notes)),
        Layout::Stereo if count == 2 => 1,
        Layout::TrueStereo if count == 4 => 2,
        Layout::Stereo => {
            return Err(FitError::Input(format!(
                "a stereo layout needs 2 channels; the IR has {count}"
            )))
        }
        Layout::TrueStereo => {
            return Err(FitError::Input(format!(
                "a true-stereo layout needs 4 channels; the IR has {count}"
            )))
        }
        Layout::Auto if count == 2 => 1,
        Layout::Auto => 0,
    };
    if inputs == 0 {
        if count > 2 {
            notes.push(format!(
                "{count} channels: fitting channel 0 (a stereo fit takes a two-channel file, a \
                 true-stereo fit four channels in the true-stereo layout)"
            ));
        }
        return Ok(((channel(0)?, Vec::new()), notes));
    }
    let used = &channels[..2 * inputs];
    if let Some(k) = used.iter().position(|c| c.iter().all(|v| *v == 0.0)) {
        return Err(FitError::Input(format!(
            "channel {k} is silent: fit one channel as a mono room"
        )));
    }
    let pairs = (0..inputs)
        .map(|i| channels[2 * i..2 * i + 2].to_vec())
        .collect();
    Ok(((decay_target(used), pairs), notes))
}

/// Fits the room IR `channels` (at `fs` Hz) with `opts`: see the module docs for the stages.
/// `refine` runs between the design and the polish. The preset it returns has passed the
/// validation and stability check the engine and the plugin apply; a design that cannot be made
/// valid is an error naming why.
pub fn fit(
    channels: &[Vec<f64>],
    fs: f64,
    opts: &FitOptions,
    progress: &mut dyn Progress,
    refine: Option<&mut dyn Refine>,
) -> Result<FitReport, FitError> {
    if !(1..=64).contains(&opts.n) {
        return Err(FitError::Input(format!(
            "the number of delay lines must be between 1 and 64 (got {})",
            opts.n
        )));
    }
    let ((decay, pairs), mut notes) = sources(channels, opts.layout)?;
    let first = match opts.layout {
        Layout::Channel(_) => decay.clone(),
        _ => channels[0].clone(),
    };
    let tries = match opts.slopes {
        SlopeChoice::Auto => AUTO_SLOPE_COUNTS.len(),
        SlopeChoice::Fixed(_) => 1,
    };
    let per_try = opts.iterations.max(1);
    let draws = draws_for(decay.len(), opts.draws);
    let t0 = Instant::now();
    let go_on = |p: &dyn Progress| {
        if p.cancelled() {
            Err(FitError::Cancelled)
        } else {
            Ok(())
        }
    };
    let mut refine = refine;
    let mut kept: Option<(FitReport, f64)> = None;
    let mut draw_merits = Vec::new();
    let mut design_seconds = 0.0;
    for draw in 0..draws {
        let seed = opts.seed.wrapping_add(draw as u64);
        let design_opts = DesignOptions {
            n: opts.n,
            iterations: per_try,
            seed,
            ..DesignOptions::default()
        };
        let t_design = Instant::now();
        progress.stage(Stage::Design, tries * per_try);
        let which = if draw == 0 {
            String::new()
        } else {
            format!("draw {} of at most {draws} (seed {seed}), ", draw + 1)
        };
        let room = design_room(
            &decay,
            fs,
            opts.slopes,
            &design_opts,
            opts.early,
            |c, it, s| {
                progress.step(
                    c * per_try + it + 1,
                    &format!(
                        "{which}slope count {} of {tries}, closed loop, score {s:.3}",
                        c + 1
                    ),
                );
                if progress.cancelled() {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
        )?;
        design_seconds += t_design.elapsed().as_secs_f64();
        let early = opts.early.then(|| early_window(&room.analysis));
        let mut best = room.design.best.clone();
        let mut refined = false;
        if let Some(r) = refine.as_deref_mut() {
            progress.stage(Stage::Refine, r.steps());
            if let Some(b) = r.refine(&room, early, progress).map_err(FitError::Refine)? {
                best = b;
                refined = true;
            }
        }
        go_on(progress)?;
        progress.stage(Stage::Polish, 0);
        let polish = polish_timbre(&room.analysis.ir, fs, early, best)?;
        go_on(progress)?;
        let finished = finish_draw(
            room, early, refined, polish, &pairs, &first, fs, opts, seed, progress,
        )?;
        go_on(progress)?;
        let merit = report_merit(&finished);
        draw_merits.push((seed, merit));
        if kept.as_ref().is_none_or(|(_, m)| merit < *m) {
            kept = Some((finished, merit));
        }
        if merit <= 1.0 {
            break;
        }
    }
    let Some((mut report, _)) = kept else {
        return Err(FitError::Input("no design was made".into()));
    };
    let draw = draw_merits
        .iter()
        .position(|(seed, _)| *seed == report.draw.1)
        .unwrap_or(0);
    if draw_merits.len() > 1 {
        let tried: Vec<String> = draw_merits
            .iter()
            .map(|(seed, m)| format!("seed {seed}: {m:.2}"))
            .collect();
        notes.push(format!(
            "the first design missed a threshold: {} designs tried (merit ≤ 1 meets every \
             threshold; {}), seed {} kept",
            draw_merits.len(),
            tried.join(", "),
            report.draw.1
        ));
    }
    notes.extend(report.room.analysis.warnings.iter().cloned());
    report.draw.0 = draw;
    report.draw_merits = draw_merits;
    report.notes = notes;
    report.design_seconds = design_seconds;
    report.seconds = t0.elapsed().as_secs_f64();
    Ok(report)
}

/// How far a finished draw is from the thresholds: [`draw_merit`] of channel 0 (what `tailor
/// compare` reports), and of every channel of a stereo room.
fn report_merit(r: &FitReport) -> f64 {
    r.per_input
        .iter()
        .flat_map(|m| m.channels.iter())
        .map(draw_merit)
        .fold(draw_merit(&r.comparison), f64::max)
}

/// The rest of one draw: stereo image, preset, the validation the engine applies, and the
/// figures a user gets from `tailor render` + `tailor compare` on the original file (`first`).
#[allow(clippy::too_many_arguments)]
fn finish_draw(
    room: RoomDesign,
    early: Option<(usize, usize)>,
    refined: bool,
    polish: Polish,
    pairs: &[Vec<Vec<f64>>],
    first: &[f64],
    fs: f64,
    opts: &FitOptions,
    seed: u64,
    progress: &mut dyn Progress,
) -> Result<FitReport, FitError> {
    let analysis = &room.analysis;
    let stereo = if pairs.is_empty() {
        None
    } else {
        progress.stage(Stage::Stereo, 0);
        let targets: Vec<Vec<Vec<f64>>> = pairs
            .iter()
            .map(|pair| pair.iter().map(|c| analysis.conditioned(c)).collect())
            .collect();
        Some(design_stereo(
            &targets,
            fs,
            early,
            &polish.best,
            &polish.sections,
        )?)
    };
    if progress.cancelled() {
        return Err(FitError::Cancelled);
    }
    progress.stage(Stage::Check, 0);
    let preset = to_preset(&polish.best, analysis, early, opts, seed, stereo.as_ref())?;
    // The preset goes back through the loader and the stability check the engine and the plugin
    // use: nothing leaves here that they would refuse.
    let preset = Preset::from_json_str(&preset.to_json_string())
        .and_then(|p| p.build().check_stable().map(|_| p))
        .map_err(|e| FitError::Invalid(e.to_string()))?;
    let rendered = crate::response::preset_impulse_response(&preset, first.len(), true)
        .map_err(|e| FitError::Invalid(format!("rendering the fitted preset: {e}")))?;
    let response = rendered.channel(0, 0);
    let measure = |e: crate::analysis::AnalysisError| FitError::Measure(e.to_string());
    let comparison = compare_irs(first, &response, fs).map_err(measure)?;
    let per_input = pairs
        .iter()
        .enumerate()
        .map(|(i, pair)| {
            let outs: Vec<Vec<f64>> = (0..rendered.n_out)
                .map(|o| rendered.channel(o, i))
                .collect();
            compare_channels(pair, &outs, fs).map_err(measure)
        })
        .collect::<Result<_, _>>()?;
    Ok(FitReport {
        draw: (0, seed),
        draw_merits: Vec::new(),
        room,
        early,
        refined,
        polish,
        stereo,
        preset,
        target: first.to_vec(),
        response,
        comparison,
        per_input,
        notes: Vec::new(),
        design_seconds: 0.0,
        seconds: 0.0,
    })
}

/// The preset document: the best build (the stereo stage's when there is one), the early FIR
/// matrix `[output][input]`, and the fit in the metadata.
fn to_preset(
    best: &Candidate,
    a: &RoomAnalysis,
    early: Option<(usize, usize)>,
    opts: &FitOptions,
    seed: u64,
    stereo: Option<&StereoFit>,
) -> Result<Preset, FitError> {
    let invalid = |e: crate::PresetError| FitError::Invalid(e.to_string());
    let build = stereo.map_or(&best.build, |s| &s.build);
    let mut preset = Preset::from_build(build.clone(), &format!("fit: {}", opts.name));
    let md = preset.metadata_mut();
    md.insert("source_ir".into(), opts.source.clone().into());
    md.insert("fitted_by".into(), opts.fitted_by.clone().into());
    md.insert(
        "slopes".into(),
        json!(a
            .broadband
            .slopes
            .iter()
            .map(|s| s.rt_s)
            .collect::<Vec<_>>()),
    );
    md.insert("pre_delay_s".into(), a.pre_delay_s.into());
    md.insert("seed".into(), seed.into());
    let fir: Vec<Vec<Vec<f64>>> = match stereo {
        Some(s) => s.early_fir.clone(),
        None => vec![vec![best.early_fir.clone()]],
    };
    if let (false, Some((start, end))) = (fir.iter().flatten().any(Vec::is_empty), early) {
        let fs = a.fs;
        let e = EarlyReflections::new(fs, fir)
            .and_then(|e| {
                e.with_timing(a.mixing_time_s, Some([start as f64 / fs, end as f64 / fs]))
            })
            .map_err(invalid)?;
        preset.set_early(Some(e)).map_err(invalid)?;
    }
    Ok(preset)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An exponential decay of `rt` s in noise at `fs` Hz, `seconds` long (deterministic).
    fn room(rt: f64, fs: f64, seconds: f64, seed: u64) -> Vec<f64> {
        let n = (seconds * fs) as usize;
        let mut s = seed;
        (0..n)
            .map(|i| {
                s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let u = ((s >> 11) as f64 / (1u64 << 53) as f64) - 0.5;
                let t = i as f64 / fs;
                u * 10f64.powf(-3.0 * t / rt) + 1e-5 * u
            })
            .collect()
    }

    /// Counts stages and steps; cancels once `cancel_after` steps were reported.
    struct Count {
        stages: Vec<Stage>,
        steps: usize,
        cancel_after: Option<usize>,
    }

    impl Count {
        fn new(cancel_after: Option<usize>) -> Self {
            Self {
                stages: Vec::new(),
                steps: 0,
                cancel_after,
            }
        }
    }

    impl Progress for Count {
        fn stage(&mut self, stage: Stage, _: usize) {
            self.stages.push(stage);
        }
        fn step(&mut self, _: usize, _: &str) {
            self.steps += 1;
        }
        fn cancelled(&self) -> bool {
            self.cancel_after.is_some_and(|k| self.steps >= k)
        }
    }

    /// A refinement that keeps the design and counts its calls.
    struct Keep(usize);

    impl Refine for Keep {
        fn steps(&self) -> usize {
            1
        }
        fn refine(
            &mut self,
            _: &RoomDesign,
            _: Option<(usize, usize)>,
            p: &mut dyn Progress,
        ) -> Result<Option<Candidate>, String> {
            self.0 += 1;
            p.step(1, "kept");
            Ok(None)
        }
    }

    fn quick() -> FitOptions {
        FitOptions {
            slopes: SlopeChoice::Fixed(1),
            iterations: 4,
            draws: 1,
            ..FitOptions::default()
        }
    }

    #[test]
    fn a_missed_threshold_draws_again_and_the_best_draw_is_kept() {
        let fs = 16_000.0;
        let ir = room(0.5, fs, 1.2, 3);
        // One correction per design: the first draw misses a threshold.
        let opts = FitOptions {
            iterations: 1,
            draws: 3,
            seed: 7,
            ..quick()
        };
        let mut p = Count::new(None);
        let mut keep = Keep(0);
        let r = fit(
            std::slice::from_ref(&ir),
            fs,
            &opts,
            &mut p,
            Some(&mut keep),
        )
        .unwrap();
        let merits = &r.draw_merits;
        assert!(merits[0].1 > 1.0, "the first draw should miss: {merits:?}");
        assert!(merits.len() >= 2 && merits.len() <= 3, "{merits:?}");
        // Another draw only after a miss; fewer than all only when the last one meets all.
        assert!(merits[..merits.len() - 1].iter().all(|(_, m)| *m > 1.0));
        if merits.len() < 3 {
            assert!(merits.last().unwrap().1 <= 1.0);
        }
        let seeds: Vec<u64> = merits.iter().map(|(s, _)| *s).collect();
        assert_eq!(seeds, (7..7 + merits.len() as u64).collect::<Vec<_>>());
        let best = merits.iter().map(|(_, m)| *m).fold(f64::INFINITY, f64::min);
        assert_eq!(merits[r.draw.0].1, best);
        assert_eq!(r.draw.1, 7 + r.draw.0 as u64);
        assert_eq!(r.preset.metadata()["seed"], json!(r.draw.1));
        // Every draw is designed, refined and polished.
        let designs = p.stages.iter().filter(|s| **s == Stage::Design).count();
        assert_eq!((designs, keep.0), (merits.len(), merits.len()));
        assert!(r.notes.iter().any(|n| n.contains("designs tried")));
        // One draw: the first design alone.
        let one = fit(
            &[ir],
            fs,
            &FitOptions { draws: 1, ..opts },
            &mut Silent,
            None,
        )
        .unwrap();
        assert_eq!((one.draw, one.draw_merits.len()), ((0, 7), 1));
    }

    #[test]
    fn long_irs_draw_fewer_designs() {
        assert_eq!(draws_for(2 * 96_000, DEFAULT_DRAWS), 5);
        assert_eq!(draws_for(10 * 96_000, DEFAULT_DRAWS), 1);
        assert_eq!(draws_for(10 * 48_000, DEFAULT_DRAWS), 2);
        assert_eq!(draws_for(100, 0), 1);
        assert_eq!(draws_for(0, 3), 3);
    }

    #[test]
    fn a_fit_runs_every_stage_and_returns_a_valid_preset() {
        let fs = 16_000.0;
        let ir = room(0.5, fs, 1.2, 3);
        let mut p = Count::new(None);
        let mut keep = Keep(0);
        let r = fit(
            std::slice::from_ref(&ir),
            fs,
            &quick(),
            &mut p,
            Some(&mut keep),
        )
        .unwrap();
        assert_eq!(
            p.stages,
            [Stage::Design, Stage::Refine, Stage::Polish, Stage::Check]
        );
        assert!(p.steps >= 2);
        assert_eq!(keep.0, 1);
        assert!(!r.refined);
        assert_eq!(r.response.len(), ir.len());
        assert!(r.preset.build().check_stable().is_ok());
        assert!(r.comparison.mean_rt_error_pct.unwrap() < 5.0);
    }

    #[test]
    fn a_cancelled_fit_stops_with_cancelled() {
        let fs = 16_000.0;
        let ir = room(0.5, fs, 1.2, 4);
        let mut p = Count::new(Some(1));
        let e = fit(&[ir], fs, &quick(), &mut p, None).unwrap_err();
        assert!(matches!(e, FitError::Cancelled), "{e}");
        assert_eq!(p.steps, 1);
    }

    #[test]
    fn layouts_name_what_is_missing() {
        let fs = 16_000.0;
        let ir = room(0.5, fs, 1.2, 5);
        let two = [ir.clone(), vec![0.0; ir.len()]];
        let e = |layout, ch: &[Vec<f64>]| {
            let o = FitOptions { layout, ..quick() };
            fit(ch, fs, &o, &mut Silent, None).unwrap_err().to_string()
        };
        assert!(e(Layout::Auto, &two).contains("channel 1 is silent"));
        assert!(e(Layout::TrueStereo, &two).contains("needs 4 channels"));
        assert!(e(Layout::Channel(2), &two).contains("channel 2 out of range"));
        assert!(e(Layout::Auto, &[]).contains("no channels"));
        let o = FitOptions { n: 0, ..quick() };
        assert!(fit(&[ir], fs, &o, &mut Silent, None)
            .unwrap_err()
            .to_string()
            .contains("delay lines"));
    }
}
