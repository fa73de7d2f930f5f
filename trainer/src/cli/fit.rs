//! `tailor fit IR.wav --out P.json`: fit a measured room (analysis → grouped FDN design with a
//! closed correction loop → early FIR → optional gradient fine-tuning) and report the figures:
//! `P.fit.json`, a table on stdout and PNG plots of room vs fit (`P.summary.png` holds them all).

use super::plots::{
    band_name, draw_band_levels, draw_bars, draw_lines, draw_spectrograms, draw_text_block,
    heading, panel, write_png, Area, AxesSpec, LineSpec, Png,
};
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use plotters::prelude::DrawingBackend;
use serde_json::json;
use std::path::{Path, PathBuf};
use tailor::analysis::bands::{audio_band, band_edc_db};
use tailor::analysis::compare::{broadband_edc_db, Comparison};
use tailor::analysis::onset::align_pair;
use tailor::analysis::spectrogram::{spectrogram_db, Spectrogram};
use tailor::analysis::stereo::MultiComparison;
use tailor::room::analysis::{RoomAnalysis, SlopeChoice};
use tailor::room::design::Candidate;
use tailor::room::{FitOptions, Layout, Progress, Refine, RoomDesign, Stage};

use crate::train::room::{fine_tune, FineTuneOptions};

/// Arguments of `tailor fit`.
///
/// Input handling (`--layout`): a mono WAV is fitted as it is; a two-channel WAV as a stereo room
/// (the decay from the channels' mean, then each channel's levels and early part and the
/// per-octave coherence between them: `tailor::room::stereo`), a preset with one input and two
/// outputs; a four-channel WAV given as `--layout true-stereo` (channels in L → out L, in L → out
/// R, in R → out L, in R → out R) a preset with two inputs and two outputs; of any other
/// multichannel file the first channel is fitted (`--channel` picks one). A DC offset is removed, the pre-delay
/// before the onset (first sample within 20 dB of the peak) is cut to 1 ms, clipping is reported
/// and the decay fitted over the usable range (the direct sound is kept as recorded). Errors: an
/// IR shorter than 50 ms after its onset, noise without decay, a noise floor less than 30 dB below
/// the peak, NaN/silent input.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Measured room impulse response (WAV: mono, or stereo for a two-output preset; of more
    /// channels the first is used).
    pub ir: PathBuf,
    /// Output preset JSON (pyFDN v2 build + "tailor" early-reflection extension); plots and
    /// the report are written beside it.
    #[arg(long)]
    pub out: PathBuf,
    /// Number of delay lines.
    #[arg(long, default_value_t = 16)]
    pub n: usize,
    /// Decay slopes (groups of the grouped FDN): auto, 1, 2 or 3.
    #[arg(long, default_value = "auto", value_parser = parse_slopes)]
    pub slopes: SlopeChoice,
    /// Pure FDN: no early-reflection FIR.
    #[arg(long)]
    pub no_early: bool,
    /// Gradient fine-tuning steps after the design (0 = design only). The result is kept only if
    /// it is no worse than the design on every compare figure.
    #[arg(long, default_value_t = 100)]
    pub steps: usize,
    /// Stop fine-tuning after this many measurements (every 5 steps) without a better score
    /// (0 = run all steps).
    #[arg(long, default_value_t = 4)]
    pub patience: usize,
    /// Adam learning rate of the fine-tuning.
    #[arg(long, default_value_t = 2e-4)]
    pub lr: f64,
    /// Correction iterations of the design loop per slope count (each renders and measures the
    /// candidate; short rooms keep improving past 10).
    #[arg(long, default_value_t = 20)]
    pub iterations: usize,
    /// Seed of delays, feedback matrix and gain signs (of the first design; design k uses seed +
    /// k).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Designs tried at most while the fit misses a threshold (mean/worst band RT, EDC, level,
    /// third-octave level); the best is kept. 1 = one design.
    #[arg(long, default_value_t = tailor::room::DEFAULT_DRAWS)]
    pub draws: usize,
    /// Print the report as JSON on stdout (keys: ir, analysis, design, comparison, preset).
    #[arg(long)]
    pub json: bool,
    /// Do not write the PNG plots (`<stem>.summary.png` and the per-figure PNGs).
    #[arg(long)]
    pub no_plots: bool,
    /// Fit only this channel (0-based) of a multichannel file, as a mono room.
    #[arg(long, conflicts_with = "layout")]
    pub channel: Option<usize>,
    /// Channel layout: auto (1 channel: mono; 2: stereo; more: the first channel), stereo, or
    /// true-stereo (4 channels: in L → out L, in L → out R, in R → out L, in R → out R).
    #[arg(long, value_parser = ["auto", "stereo", "true-stereo"])]
    pub layout: Option<String>,
}

fn parse_slopes(s: &str) -> Result<SlopeChoice, String> {
    match s {
        "auto" => Ok(SlopeChoice::Auto),
        "1" | "2" | "3" => Ok(SlopeChoice::Fixed(s.parse().expect("digit"))),
        _ => Err(format!("--slopes must be auto, 1, 2 or 3 (got '{s}')")),
    }
}

/// `<stem>.<suffix>` beside the output file.
fn beside(out: &Path, suffix: &str) -> PathBuf {
    let stem = out
        .file_stem()
        .map_or_else(|| "preset".into(), |s| s.to_string_lossy().into_owned());
    out.with_file_name(format!("{stem}.{suffix}"))
}

/// The fit's stages on indicatif bars (hidden with `--json`): one bar per stage, named for it.
struct Bars {
    json: bool,
    bar: ProgressBar,
}

impl Bars {
    fn new(json: bool) -> Self {
        Self {
            json,
            bar: ProgressBar::hidden(),
        }
    }
}

impl Progress for Bars {
    fn stage(&mut self, stage: Stage, steps: usize) {
        self.bar.finish_and_clear();
        if self.json {
            return;
        }
        let (bar, template) = match stage {
            Stage::Design => (
                ProgressBar::new(steps as u64),
                "{prefix:>9} {bar:30} {pos}/{len} renders  {msg}",
            ),
            Stage::Refine => (
                ProgressBar::new(steps as u64),
                "{prefix:>9} {bar:30} {pos}/{len} steps  {per_sec}  loss {msg}",
            ),
            _ => (ProgressBar::new_spinner(), "{spinner} {prefix} {msg}"),
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        // Counted stages carry their name in front of the bar, the others in the message.
        bar.set_prefix(if steps > 0 { stage.describe() } else { "" });
        if steps == 0 {
            bar.set_message(stage.describe());
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
        } else if stage == Stage::Design {
            bar.set_message("analysing the room");
        }
        self.bar = bar;
    }

    fn step(&mut self, done: usize, note: &str) {
        self.bar.set_position(done as u64);
        self.bar.set_message(note.to_string());
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// The gradient fine-tuning as the fit's refinement stage; keeps its figures for the report.
struct FineTuneStage {
    opts: FineTuneOptions,
    /// Per design the fit drew, the fine-tuning's figures.
    reports: Vec<serde_json::Value>,
    /// Per design, `(best step, design score, tuned score)` for the summary line.
    outcomes: Vec<(Option<usize>, f64, f64)>,
}

impl Refine for FineTuneStage {
    fn steps(&self) -> usize {
        self.opts.steps
    }

    fn refine(
        &mut self,
        room: &RoomDesign,
        early: Option<(usize, usize)>,
        progress: &mut dyn Progress,
    ) -> Result<Option<Candidate>, String> {
        let d = &room.design;
        let ft = fine_tune(
            &room.analysis.ir,
            early,
            &d.best,
            &d.params,
            &self.opts,
            |s, l| progress.step(s, &format!("{l:.4}")),
        )
        .map_err(|e| format!("{e:#}"))?;
        self.outcomes.push((
            ft.best_step,
            d.best.score,
            ft.best.as_ref().map_or(f64::NAN, |b| b.score),
        ));
        self.reports.push(json!({
            "steps": ft.loss.len(),
            "kept": ft.best.is_some(),
            "best_step": ft.best_step,
            "loss": ft.loss,
            "evaluations": ft.evaluations,
            "ms_per_step": ft.ms_per_step,
        }));
        Ok(ft.best)
    }
}

/// The fit's layout from `--channel` and `--layout`.
fn layout(args: &Args) -> Layout {
    match (args.channel, args.layout.as_deref()) {
        (Some(c), _) => Layout::Channel(c),
        (None, Some("stereo")) => Layout::Stereo,
        (None, Some("true-stereo")) => Layout::TrueStereo,
        _ => Layout::Auto,
    }
}

/// Runs the fit: reads the IR, calls [`tailor::room::fit`], writes the preset, the report and
/// the plots.
pub fn run(args: &Args) -> Result<()> {
    let audio = tailor::ir::load(&args.ir, &tailor::ir::IrPolicy::ROOM)?;
    let fs = audio.sample_rate;
    let opts = FitOptions {
        n: args.n,
        slopes: args.slopes,
        early: !args.no_early,
        iterations: args.iterations,
        seed: args.seed,
        draws: args.draws,
        layout: layout(args),
        name: args
            .ir
            .file_stem()
            .map_or_else(|| "room".into(), |s| s.to_string_lossy().into_owned()),
        source: args.ir.display().to_string(),
        fitted_by: "tailor fit".into(),
    };
    let mut stage = FineTuneStage {
        opts: FineTuneOptions {
            steps: args.steps,
            lr: args.lr,
            patience: args.patience,
            ..FineTuneOptions::default()
        },
        reports: Vec::new(),
        outcomes: Vec::new(),
    };
    let refine: Option<&mut dyn Refine> = (args.steps > 0).then_some(&mut stage as _);
    let mut bars = Bars::new(args.json);
    let fitted = tailor::room::fit(&audio.channels, fs, &opts, &mut bars, refine)
        .with_context(|| format!("cannot fit {}", args.ir.display()))?;
    let r = &fitted;
    let analysis = r.analysis();
    if !args.json {
        for w in &r.notes {
            eprintln!("note: {w}");
        }
        if r.room.candidates.len() > 1 {
            let tried: Vec<String> = r
                .room
                .candidates
                .iter()
                .map(|(k, s)| format!("{k}: {s:.3}"))
                .collect();
            println!(
                "slopes: {} kept (scores by slope count {})",
                analysis.n_slopes(),
                tried.join(", ")
            );
        }
        match stage.outcomes.get(r.draw.0) {
            Some(&(Some(s), from, to)) => {
                println!("fine-tuning: step {s} improves on the design (score {from:.3} → {to:.3})")
            }
            Some(&(None, _, _)) => println!(
                "fine-tuning: no step was at least as good as the design on every figure; the design is exported"
            ),
            None => {}
        }
    }
    std::fs::write(&args.out, r.preset.to_json_string())
        .with_context(|| format!("writing {}", args.out.display()))?;
    bars.stage(Stage::Check, 0);
    bars.step(0, "plotting");
    let plots = if args.no_plots {
        Vec::new()
    } else {
        // A stereo fit's plots show channel 0 against the room's channel 0.
        let room = if r.stereo.is_some() {
            &r.target
        } else {
            &analysis.ir
        };
        write_plots(&args.out, &args.ir, room, &r.response, fs, &r.comparison)
    };
    drop(bars);
    let design = &r.room.design;
    let report = json!({
        "ir": args.ir.display().to_string(),
        "preset": args.out.display().to_string(),
        "analysis": analysis_json(analysis),
        "design": {
            "iterations": design.history.len(),
            "score_history": design.history,
            "score": design.best.score,
            "rt_s": design.params.rt_s,
            "eq_db": design.params.eq_db,
            "group_gain": design.params.group_gain,
            "early_s": r.early.map(|(_, e)| e as f64 / fs),
            "slope_candidates": r.room.candidates.iter().map(|(k, s)| json!({"slopes": k, "score": s})).collect::<Vec<_>>(),
            "seconds": r.design_seconds,
            "seed": r.draw.1,
            "draws": r.draw_merits.iter().map(|(seed, m)| json!({"seed": seed, "merit": m})).collect::<Vec<_>>(),
        },
        "fine_tune": stage.reports.get(r.draw.0),
        "polish": {
            "third_octave_worst_db": [r.polish.worst_db.0, r.polish.worst_db.1],
            "gains_db": r.polish.gains_db,
        },
        "stereo": r.stereo.as_ref().map(|st| json!({"score_history": st.history})),
        "seconds": r.seconds,
        "comparison": match r.per_input.first() {
            Some(m) => serde_json::to_value(m)?,
            None => serde_json::to_value(&r.comparison)?,
        },
        "comparison_per_input": (r.per_input.len() > 1).then(|| serde_json::to_value(&r.per_input)).transpose()?,
        "plots": (!plots.is_empty()).then(|| json!({
            "summary": plots[0].display().to_string(),
            "files": plots.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        })),
    });
    std::fs::write(
        beside(&args.out, "fit.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_summary(analysis, &r.comparison, &args.out, r.seconds);
        for (i, m) in r.per_input.iter().enumerate() {
            if r.per_input.len() > 1 {
                println!("input {i}:");
            }
            print_stereo(m);
        }
        if let Some(summary) = plots.first() {
            println!("wrote {}", summary.display());
        }
    }
    Ok(())
}

fn analysis_json(a: &RoomAnalysis) -> serde_json::Value {
    json!({
        "sample_rate": a.fs,
        "pre_delay_s": a.pre_delay_s,
        "dc_offset": a.dc_offset,
        "clipped_samples": a.clipped_samples,
        "noise_db": a.noise.noise_db,
        "truncation_s": a.noise.truncation_s,
        "slopes": a.broadband.slopes.iter().map(|s| json!({"rt_s": s.rt_s, "level_db": s.level_db})).collect::<Vec<_>>(),
        "bands_hz": a.bands_hz,
        "band_rt_s": a.band_rt_s,
        "mixing_time_s": a.mixing_time_s,
        "early_end_s": a.early_end_s,
        "warnings": a.warnings,
    })
}

/// What the plots of a fit show, computed once for the per-figure PNGs and the summary: room
/// and fit aligned at their onsets and cut to the same length, measured as `tailor compare`
/// measures them.
struct PlotData {
    /// Sample rate, Hz.
    fs: f64,
    /// Broadband noise-compensated EDCs in the audio band (room, fit), dB.
    edc: (Vec<f64>, Vec<f64>),
    /// Octave-band centre (Hz) and noise-compensated band EDCs (room, fit), dB, for each band
    /// of the comparison below Nyquist.
    band_edcs: Vec<(f64, Vec<f64>, Vec<f64>)>,
    /// Third-octave band centres, Hz.
    third_bands_hz: Vec<f64>,
    /// Third-octave band levels of room and fit as `compare` measures them (energy without noise
    /// over the sum in the room's above-noise bands), dB.
    third_levels: (Vec<Option<f64>>, Vec<Option<f64>>),
    /// Spectrograms of room and fit.
    spectrograms: (Spectrogram, Spectrogram),
}

/// Lowest EDC level the plots show, dB.
const EDC_PLOT_FLOOR_DB: f64 = -80.0;
/// Dynamic range of the spectrogram colour scale, dB.
const SPECTROGRAM_RANGE_DB: f64 = 90.0;

impl PlotData {
    fn new(target: &[f64], fit: &[f64], fs: f64, c: &Comparison) -> Result<Self> {
        let (a, b) = align_pair(target, fit)?;
        let band_edcs = c
            .bands_hz
            .iter()
            .filter_map(|&fc| {
                Some((
                    fc,
                    band_edc_db(a, fs, fc, 1).ok()?,
                    band_edc_db(b, fs, fc, 1).ok()?,
                ))
            })
            .collect();
        let fft = super::plots::spectrogram_fft_len(fs);
        let third_bands_hz = c.third_octave.bands_hz.clone();
        let third_levels = (c.third_octave.a_db.clone(), c.third_octave.b_db.clone());
        Ok(PlotData {
            fs,
            edc: (
                broadband_edc_db(&audio_band(a, fs), fs),
                broadband_edc_db(&audio_band(b, fs), fs),
            ),
            band_edcs,
            third_bands_hz,
            third_levels,
            spectrograms: (
                spectrogram_db(a, fs, fft, fft / 8),
                spectrogram_db(b, fs, fft, fft / 8),
            ),
        })
    }
}

/// Draws the EDCs (dB, sample rate `fs` Hz) of room and fit with `title`, down to −80 dB.
fn draw_edc<DB: DrawingBackend>(
    area: &Area<DB>,
    title: &str,
    fs: f64,
    room: &[f64],
    fit: &[f64],
) -> Result<()> {
    let spec = LineSpec {
        title,
        x_desc: "time (s)",
        y_desc: "energy decay (dB)",
        x_scale: 1.0 / fs,
        y_min: Some(EDC_PLOT_FLOOR_DB),
    };
    draw_lines(area, &spec, &[("room", room), ("fit", fit)])
}

/// Title of the band RT figure.
const RT_TITLE: &str = "Reverberation time per octave band";
/// Title of the third-octave level figure.
const THIRD_OCTAVE_TITLE: &str = "Third-octave band levels";

/// Draws the octave-band RTs of room and fit as bars.
fn draw_rt<DB: DrawingBackend>(area: &Area<DB>, c: &Comparison) -> Result<()> {
    let names: Vec<String> = c.bands_hz.iter().map(|&f| band_name(f)).collect();
    draw_bars(
        area,
        &AxesSpec {
            title: RT_TITLE,
            x_desc: "octave band",
            y_desc: "RT (s, ISO 3382-1)",
        },
        &names,
        &[("room", c.rt_a_s.clone()), ("fit", c.rt_b_s.clone())],
    )
}

/// Draws the third-octave band levels of room and fit over a log frequency axis.
fn draw_third_octaves<DB: DrawingBackend>(area: &Area<DB>, d: &PlotData) -> Result<()> {
    draw_band_levels(
        area,
        &AxesSpec {
            title: THIRD_OCTAVE_TITLE,
            x_desc: "frequency (Hz)",
            y_desc: "level re total (dB)",
        },
        &d.third_bands_hz,
        &[
            ("room", d.third_levels.0.clone()),
            ("fit", d.third_levels.1.clone()),
        ],
    )
}

/// Draws the spectrograms room | fit with their colour bar.
fn draw_spectrogram_pair<DB: DrawingBackend>(area: &Area<DB>, d: &PlotData) -> Result<()> {
    draw_spectrograms(
        area,
        &[("room", &d.spectrograms.0), ("fit", &d.spectrograms.1)],
        SPECTROGRAM_RANGE_DB,
    )
}

/// The figures of the comparison as lines of text.
fn figures_text(c: &Comparison) -> Vec<String> {
    vec![
        "Fit vs room (ISO 3382-1)".into(),
        format!("mean band RT error: {} %", opt(c.mean_rt_error_pct, 2)),
        format!("worst band RT error: {} %", opt(c.worst_rt_error_pct, 2)),
        format!("broadband EDC error: {:.2} dB", c.edc_error_db),
        format!("octave level error: {:.2} dB", c.level_error_db),
        format!(
            "third-octave level error: {:.2} dB (worst band)",
            c.third_octave.worst_db
        ),
        format!(
            "fit above the room where it has only noise: {:.2} dB",
            c.third_octave.excess_db
        ),
        format!("mel log-spectral distance: {:.2} dB", c.mel_lsd_db),
    ]
}

/// Size of the summary PNG, pixels.
const SUMMARY_PX: (u32, u32) = (1800, 1720);

/// The summary of a fit in one image: title; broadband EDC, band RTs and third-octave levels;
/// the octave-band EDCs as small multiples beside the figures; spectrograms room | fit. A panel
/// with nothing to plot says so ([`panel`]).
fn draw_summary<DB: DrawingBackend>(
    area: &Area<DB>,
    name: &str,
    d: &PlotData,
    c: &Comparison,
) -> Result<()> {
    let body = heading(area, &format!("tailor fit: {name} — room vs fit"), 30, 56)?;
    let (row1, rest) = body.split_vertically(480);
    let (row2, row3) = rest.split_vertically(720);
    let top = row1.split_evenly((1, 3));
    let title = "Energy decay (broadband)";
    panel(&top[0], title, |a| {
        draw_edc(a, title, d.fs, &d.edc.0, &d.edc.1)
    })?;
    panel(&top[1], RT_TITLE, |a| draw_rt(a, c))?;
    panel(&top[2], THIRD_OCTAVE_TITLE, |a| draw_third_octaves(a, d))?;
    let cells = row2.split_evenly((2, 4));
    for (cell, (fc, a, b)) in cells.iter().zip(&d.band_edcs) {
        let title = format!("Energy decay, {} octave", band_name(*fc));
        panel(cell, &title, |area| draw_edc(area, &title, d.fs, a, b))?;
    }
    if let Some(cell) = cells.get(d.band_edcs.len()) {
        draw_text_block(&cell.margin(40, 0, 20, 0), &figures_text(c))?;
    }
    panel(&row3, "Spectrograms", |a| draw_spectrogram_pair(a, d))
}

/// Writes one figure to `path` and adds it to `written`; a figure that cannot be drawn or
/// written is a note on stderr, never a failed fit (the preset is already written).
fn save(
    written: &mut Vec<PathBuf>,
    path: PathBuf,
    size: (u32, u32),
    draw: impl FnOnce(&Area<Png>) -> Result<()>,
) {
    match write_png(&path, size, draw) {
        Ok(()) => written.push(path),
        Err(e) => eprintln!("note: no plot written: {e:#}"),
    }
}

/// Writes the PNGs of a fit beside `out` (the summary, then one per figure) and returns the
/// paths written, the summary first.
fn write_plots(
    out: &Path,
    ir: &Path,
    target: &[f64],
    fit: &[f64],
    fs: f64,
    c: &Comparison,
) -> Vec<PathBuf> {
    let d = match PlotData::new(target, fit, fs, c) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("note: no plots written: {e:#}");
            return Vec::new();
        }
    };
    let mut written = Vec::new();
    let name = ir
        .file_name()
        .map_or_else(|| "room".into(), |s| s.to_string_lossy().into_owned());
    save(&mut written, beside(out, "summary.png"), SUMMARY_PX, |a| {
        draw_summary(a, &name, &d, c)
    });
    save(&mut written, beside(out, "edc.png"), (900, 500), |a| {
        let title = "Energy decay (broadband): room vs fit";
        draw_edc(a, title, fs, &d.edc.0, &d.edc.1)
    });
    for (fc, a, b) in &d.band_edcs {
        let path = beside(out, &format!("edc_{}Hz.png", *fc as u32));
        let title = format!("Energy decay, {} octave band: room vs fit", band_name(*fc));
        save(&mut written, path, (900, 500), |area| {
            draw_edc(area, &title, fs, a, b)
        });
    }
    save(&mut written, beside(out, "rt.png"), (900, 500), |a| {
        draw_rt(a, c)
    });
    save(
        &mut written,
        beside(out, "third_octave.png"),
        (900, 500),
        |a| draw_third_octaves(a, &d),
    );
    save(
        &mut written,
        beside(out, "spectrogram.png"),
        (1070, 460),
        |a| draw_spectrogram_pair(a, &d),
    );
    written
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "—".into(), |x| format!("{x:.digits$}"))
}

/// The stereo lines of the summary: per-channel figures and the coherence per band.
fn print_stereo(m: &MultiComparison) {
    for (o, c) in m.channels.iter().enumerate() {
        println!(
            "channel {o}: RT error mean {:.2} % worst {:.2} %, EDC {:.2} dB, level (shares of both channels) {:.2} dB",
            c.mean_rt_error_pct.unwrap_or(f64::NAN),
            c.worst_rt_error_pct.unwrap_or(f64::NAN),
            c.edc_error_db,
            m.stereo_level_error_db.get(o).copied().unwrap_or(f64::NAN)
        );
    }
    let pairs: Vec<String> = m
        .coherence_bands_hz
        .iter()
        .zip(m.coherence_a.iter().zip(&m.coherence_b))
        .filter_map(|(f, (a, b))| Some(format!("{}: {:.2}/{:.2}", band_name(*f), (*a)?, (*b)?)))
        .collect();
    println!(
        "late coherence room/fit {} (worst error {:.3})",
        pairs.join(", "),
        m.max_coherence_error.unwrap_or(f64::NAN)
    );
}

fn print_summary(a: &RoomAnalysis, c: &Comparison, out: &Path, secs: f64) {
    let slopes: Vec<String> = a
        .broadband
        .slopes
        .iter()
        .map(|s| format!("{:.3} s ({:+.1} dB)", s.rt_s, s.level_db))
        .collect();
    println!(
        "analysis: {} slope(s) [{}], noise floor {:.1} dB, early part {:.1} ms",
        slopes.len(),
        slopes.join(", "),
        a.noise.noise_db,
        1000.0 * a.early_end_s
    );
    println!(
        "{:>8}  {:>9}  {:>9}  {:>7}",
        "band Hz", "RT target", "RT fit", "err %"
    );
    for (i, fc) in c.bands_hz.iter().enumerate() {
        println!(
            "{:>8}  {:>9}  {:>9}  {:>7}",
            *fc as u32,
            opt(c.rt_a_s[i], 3),
            opt(c.rt_b_s[i], 3),
            opt(c.rt_error_pct[i], 2)
        );
    }
    println!(
        "mean RT error {} %, worst {} %, EDC error {:.2} dB, level error {:.2} dB, mel LSD {:.2} dB",
        opt(c.mean_rt_error_pct, 2),
        opt(c.worst_rt_error_pct, 2),
        c.edc_error_db,
        c.level_error_db,
        c.mel_lsd_db
    );
    println!(
        "third-octave level error {:.2} dB (worst band above the room's noise), {:.2} dB above the room where it has only noise",
        c.third_octave.worst_db, c.third_octave.excess_db
    );
    println!("wrote {} ({:.1} s)", out.display(), secs);
}
