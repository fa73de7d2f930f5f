//! `tailor train colorless|match`: trains an FDN and writes the preset, `<stem>.log.json` and PNG
//! plots with titles, axes and legends (`<stem>.loss.png`: loss per step; for `match` also
//! `<stem>.edc.png`, Schroeder EDC of target vs result, and `<stem>.spectrogram.png`, target |
//! result over time in s and log frequency in Hz).

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use tailor::analysis::{schroeder_edc_db, summarize};
use tailor::response::{frequency_response, impulse_response_fft};
use tailor::{Build, Preset, Rt};

use super::plots::LineSpec;
use crate::train::target::load_target;
use crate::train::{
    build_fdn, colorless, extract_build, initial_rt, match_mel_spectrogram, match_spectrogram,
    model_from_parts, train_fdn_with, trainable_from_build, Attenuation, AttenuationDesign,
    BuildFdnOptions, FdnModel, MatrixKind, ModelOptions, Optimizer, PostDelay, TrainLog,
    TrainOptions, Trainable, DEFAULT_MSS_NFFT,
};

/// `tailor train` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum TrainCommand {
    /// Colorless FDN: FlatMagnitude + 0.2·Sparsity on a lossless model (alias decay 60 dB).
    Colorless(ColorlessArgs),
    /// Match a target room IR: MatchSpectrogram (or --mel MatchMelSpectrogram), trainable RT.
    Match(MatchArgs),
}

/// Options shared by both objectives.
#[derive(Debug, clap::Args)]
pub struct Common {
    /// Number of delay lines (ignored with --init).
    #[arg(long, default_value_t = 8)]
    pub n: usize,
    /// Start from this preset (file or bundled name) instead of a random build.
    #[arg(long)]
    pub init: Option<String>,
    /// Maximum number of Adam steps.
    #[arg(long, default_value_t = 200)]
    pub steps: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Plateau patience in steps (pyFDN default 10).
    #[arg(long, default_value_t = 10)]
    pub patience: usize,
    /// Plateau relative tolerance.
    #[arg(long, default_value_t = 1e-6)]
    pub tol: f64,
    /// Seed for delays and the random orthogonal matrix.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Sample rate of a random build, Hz.
    #[arg(long, default_value_t = 48000.0)]
    pub fs: f64,
    /// Checkpoint directory (checkpoint.json every step).
    #[arg(long)]
    pub train_dir: Option<PathBuf>,
    /// Resume from --train-dir's checkpoint.
    #[arg(long, requires = "train_dir")]
    pub resume: bool,
    /// Output preset JSON (pyFDN v2); the log and plots go beside it.
    #[arg(long)]
    pub out: PathBuf,
    /// Skip the PNG plots.
    #[arg(long)]
    pub no_plots: bool,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Optimiser: adam, or lbfgs (torch LBFGS with strong-Wolfe line search; --lr 1 is
    /// torch's default there, every step runs up to 20 iterations).
    #[arg(long, value_enum, default_value_t = OptimizerArg::Adam)]
    pub optimizer: OptimizerArg,
    /// Device of the parameters: cpu, cuda or cuda:N (CUDA needs a build with `--features
    /// cuda`; the FDN and FFT ops then run on the CPU between device tensors).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Parameter dtype: f64 (exact gradients) or f32 (pyFDN's default precision).
    #[arg(long, value_enum, default_value_t = DtypeArg::F64)]
    pub dtype: DtypeArg,
}

/// Parameter dtypes selectable on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DtypeArg {
    /// 64-bit floats.
    F64,
    /// 32-bit floats.
    F32,
}

impl Common {
    /// The candle device named by `--device`.
    fn device(&self) -> Result<candle_core::Device> {
        let spec = self.device.trim().to_ascii_lowercase();
        let ordinal = match spec.as_str() {
            "cpu" => return Ok(candle_core::Device::Cpu),
            "cuda" => 0,
            s => match s.strip_prefix("cuda:").map(str::parse::<usize>) {
                Some(Ok(i)) => i,
                _ => bail!(
                    "--device must be cpu, cuda or cuda:N, got '{}'",
                    self.device
                ),
            },
        };
        if !cfg!(feature = "cuda") {
            bail!(
                "--device {}: this build has no CUDA support; rebuild with \
                 `cargo build --release -p tailor-trainer --features cuda`",
                self.device
            );
        }
        candle_core::Device::new_cuda(ordinal)
            .with_context(|| format!("opening CUDA device {ordinal}"))
    }

    /// The candle dtype named by `--dtype`.
    fn dtype(&self) -> candle_core::DType {
        match self.dtype {
            DtypeArg::F64 => candle_core::DType::F64,
            DtypeArg::F32 => candle_core::DType::F32,
        }
    }
}

/// Optimisers selectable on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum OptimizerArg {
    /// torch Adam.
    Adam,
    /// torch L-BFGS with strong-Wolfe line search.
    Lbfgs,
}

/// Arguments of `tailor train colorless`.
#[derive(Debug, clap::Args)]
pub struct ColorlessArgs {
    /// Shared options.
    #[command(flatten)]
    pub common: Common,
    /// FFT length (training IR length), samples.
    #[arg(long, default_value_t = 1 << 14)]
    pub nfft: usize,
    /// Alias decay in dB for the lossless model.
    #[arg(long, default_value_t = 60.0)]
    pub alias_decay_db: f64,
}

/// Arguments of `tailor train match`.
#[derive(Debug, clap::Args)]
pub struct MatchArgs {
    /// Shared options.
    #[command(flatten)]
    pub common: Common,
    /// Target impulse-response WAV (one channel per model path).
    #[arg(long)]
    pub target: PathBuf,
    /// Use MatchMelSpectrogram instead of MatchSpectrogram.
    #[arg(long)]
    pub mel: bool,
    /// FFT length (training IR length), samples.
    #[arg(long, default_value_t = 1 << 17)]
    pub nfft: usize,
    /// Alias decay in dB.
    #[arg(long, default_value_t = 0.0)]
    pub alias_decay_db: f64,
    /// Initial RT (s, flat or DC,NYQUIST); default: the target's T30 (else T20, else 1 s).
    #[arg(long, value_parser = super::parse_rt)]
    pub rt: Option<Rt>,
    /// Attenuation design of the trainable RT hook.
    #[arg(long, value_enum, default_value_t = Design::Shelf)]
    pub attenuation: Design,
    /// Keep the RT fixed.
    #[arg(long)]
    pub freeze_rt: bool,
    /// Add a trainable output EQ (10 octave bands, graphic EQ, starting flat at 0 dB).
    #[arg(long)]
    pub output_eq: bool,
    /// Spectrogram window sizes, samples.
    #[arg(long, value_delimiter = ',', default_values_t = DEFAULT_MSS_NFFT.to_vec())]
    pub mss_nfft: Vec<usize>,
    /// Weight of the sparsity term (0 = none).
    #[arg(long, default_value_t = 0.0)]
    pub sparsity: f64,
}

/// Attenuation designs selectable on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Design {
    /// First-order shelf.
    Shelf,
    /// One-pole lowpass.
    OnePole,
    /// 10-band graphic EQ (octaves 31.25 Hz…16 kHz); --rt DC,NYQUIST spreads geometrically.
    GraphicEq,
}

/// Runs `tailor train`.
pub fn run(cmd: &TrainCommand) -> Result<()> {
    match cmd {
        TrainCommand::Colorless(a) => colorless_cmd(a),
        TrainCommand::Match(a) => match_cmd(a),
    }
}

/// Loads and validates an initial preset: stable, and refused before any training otherwise.
fn load_init(spec: &str) -> Result<Build> {
    let preset = tailor::preset::load(spec)?;
    let build = preset.build().clone();
    build
        .check_stable()
        .with_context(|| format!("preset {spec} is unstable; refusing to train from it"))?;
    Ok(build)
}

fn options(c: &Common) -> TrainOptions {
    TrainOptions {
        max_steps: c.steps,
        lr: c.lr,
        patience: c.patience,
        tol: c.tol,
        train_dir: c.train_dir.clone(),
        checkpoint_every: 1,
        resume: c.resume,
        restore_best: true,
        optimizer: match c.optimizer {
            OptimizerArg::Adam => Optimizer::Adam,
            OptimizerArg::Lbfgs => Optimizer::Lbfgs,
        },
    }
}

fn check_common(c: &Common, nfft: usize) -> Result<()> {
    if c.steps == 0 {
        bail!("--steps must be at least 1");
    }
    if c.n == 0 {
        bail!("--n must be at least 1");
    }
    if nfft < 256 || !nfft.is_multiple_of(2) {
        bail!("--nfft must be even and at least 256, got {nfft}");
    }
    Ok(())
}

fn colorless_cmd(a: &ColorlessArgs) -> Result<()> {
    let c = &a.common;
    check_common(c, a.nfft)?;
    let (device, dtype) = (c.device()?, c.dtype());
    let mut model = match &c.init {
        Some(spec) => trainable_from_build(
            &load_init(spec)?,
            Trainable::default(),
            MatrixKind::Orthogonal,
            &ModelOptions {
                nfft: a.nfft,
                alias_decay_db: a.alias_decay_db,
                device,
                dtype,
            },
        )?,
        None => build_fdn(&BuildFdnOptions {
            n: Some(c.n),
            rt: None,
            fs: c.fs,
            nfft: a.nfft,
            alias_decay_db: Some(a.alias_decay_db),
            seed: c.seed,
            device,
            dtype,
            ..Default::default()
        })?,
    };
    let mut loss = colorless();
    let log = run_training(&mut model, &mut loss, c)?;
    let build = extract_build(&model)?;
    write_outputs(c, &build, &log, "colorless", None)?;
    Ok(())
}

fn match_cmd(a: &MatchArgs) -> Result<()> {
    let c = &a.common;
    check_common(c, a.nfft)?;
    let longest = a.mss_nfft.iter().copied().max().unwrap_or(1024);
    if a.mss_nfft.is_empty() || a.mss_nfft.iter().any(|&n| n < 4 || n > a.nfft) {
        bail!("--mss-nfft values must lie in 4..=nfft ({})", a.nfft);
    }
    let (device, dtype) = (c.device()?, c.dtype());
    let init = c.init.as_deref().map(load_init).transpose()?;
    let fs = init.as_ref().map_or(c.fs, Build::sample_rate);
    let (n_out, n_in) = init.as_ref().map_or((1, 1), |b| (b.n_out(), b.n_in()));
    let target = load_target(&a.target, fs, n_out, n_in, longest)?;
    let ch0 = target.channel(0, 0, n_out, n_in);
    let rt = a.rt.unwrap_or_else(|| {
        let s = summarize(&ch0, fs);
        Rt::Flat(s.t30_s.or(s.t20_s).filter(|t| *t > 0.0).unwrap_or(1.0))
    });
    let design = match a.attenuation {
        Design::Shelf => AttenuationDesign::FirstOrderShelf,
        Design::OnePole => AttenuationDesign::OnePole,
        Design::GraphicEq => AttenuationDesign::GraphicEq,
    };
    let mut model = match &init {
        Some(build) => {
            let rt_t = candle_core::Tensor::new(initial_rt(design, rt).as_slice(), &device)?
                .to_dtype(dtype)?;
            model_from_parts(
                build,
                Trainable::default(),
                MatrixKind::Orthogonal,
                PostDelay::Attenuation(Attenuation {
                    design,
                    rt: candle_core::Var::from_tensor(&rt_t)?,
                    floor_s: build.max_delay() as f64 / fs,
                    train: !a.freeze_rt,
                }),
                &ModelOptions {
                    nfft: a.nfft,
                    alias_decay_db: a.alias_decay_db,
                    device: device.clone(),
                    dtype,
                },
            )?
        }
        None => build_fdn(&BuildFdnOptions {
            n: Some(c.n),
            rt: Some(rt),
            attenuation: design,
            train_rt: !a.freeze_rt,
            fs,
            nfft: a.nfft,
            alias_decay_db: Some(a.alias_decay_db),
            seed: c.seed,
            device,
            dtype,
            ..Default::default()
        })?,
    };
    if a.output_eq {
        model = model.with_output_eq(&[0.0; tailor::geq::BANDS], true)?;
    }
    let tgt = target.tensor(n_out, n_in)?;
    let mut loss = if a.mel {
        match_mel_spectrogram(tgt, &a.mss_nfft, fs, a.sparsity)?
    } else {
        match_spectrogram(tgt, &a.mss_nfft, fs, a.sparsity)?
    };
    let log = run_training(&mut model, &mut loss, c)?;
    let build = extract_build(&model)?;
    write_outputs(c, &build, &log, "match", Some((&ch0, fs)))?;
    Ok(())
}

fn run_training(
    model: &mut FdnModel,
    loss: &mut crate::train::Loss,
    c: &Common,
) -> Result<TrainLog> {
    for w in model.warnings() {
        eprintln!("warning: {w}");
    }
    let pb = if c.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(c.steps as u64)
    };
    pb.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {per_sec}  loss {msg}")
            .context("progress template")?,
    );
    let log = train_fdn_with(model, loss, &options(c), &mut |step, total| {
        pb.set_position(step as u64);
        pb.set_message(format!("{total:.6}"));
    })?;
    pb.finish_and_clear();
    Ok(log)
}

/// `<stem>.<suffix>` beside the output file.
fn beside(out: &Path, suffix: &str) -> PathBuf {
    let stem = out
        .file_stem()
        .map_or_else(|| "preset".into(), |s| s.to_string_lossy().into_owned());
    out.with_file_name(format!("{stem}.{suffix}"))
}

fn write_outputs(
    c: &Common,
    build: &Build,
    log: &TrainLog,
    kind: &str,
    target: Option<(&[f64], f64)>,
) -> Result<()> {
    let name = c
        .out
        .file_stem()
        .map_or_else(|| kind.to_string(), |s| s.to_string_lossy().into_owned());
    let preset = Preset::from_build(build.clone(), &name);
    std::fs::write(&c.out, preset.to_json_string())
        .with_context(|| format!("writing {}", c.out.display()))?;
    let log_path = beside(&c.out, "log.json");
    let json = serde_json::json!({
        "train_loss": log.train_loss,
        "loss_log": log.loss_log,
        "steps_run": log.steps_run,
        "stopped_early": log.stopped_early,
        "ms_per_step": log.ms_per_step,
        "best_step": log.best_step,
        "best_loss": log.best_loss,
        "final_loss": log.final_loss,
        "exported_loss": log.exported_loss,
    });
    std::fs::write(&log_path, serde_json::to_string_pretty(&json)?)
        .with_context(|| format!("writing {}", log_path.display()))?;
    println!(
        "{kind}: {} steps ({}), loss {:.6} → {:.6}, best {:.6} at step {}, after the last \
         update {:.6}, exported {:.6}, {:.2} ms/step",
        log.steps_run,
        if log.stopped_early {
            "stopped early"
        } else {
            "ran to the limit"
        },
        log.train_loss.first().copied().unwrap_or(f64::NAN),
        log.train_loss.last().copied().unwrap_or(f64::NAN),
        log.best_loss,
        log.best_step,
        log.final_loss,
        log.exported_loss,
        log.ms_per_step
    );
    println!("wrote {} and {}", c.out.display(), log_path.display());
    if !c.no_plots {
        // The preset and log are written: a plot that cannot be drawn is a note, not a failure.
        let report = |path: PathBuf, r: Result<()>| match r {
            Ok(()) => println!("wrote {}", path.display()),
            Err(e) => eprintln!("note: no plot written: {e:#}"),
        };
        let loss_png = beside(&c.out, "loss.png");
        let spec = LineSpec {
            title: &format!("Training loss ({kind})"),
            x_desc: "step",
            y_desc: "loss",
            x_scale: 1.0,
            y_min: None,
        };
        let r = super::plots::line_plot(&loss_png, &spec, &[("loss", &log.train_loss)]);
        report(loss_png, r);
        if let Some((t, fs)) = target {
            let len = t.len();
            let ir = impulse_response_fft(&frequency_response(build, len.next_power_of_two(), 0.0));
            let r = ir.channel(0, 0);
            let edc_png = beside(&c.out, "edc.png");
            let spec = LineSpec {
                title: "Energy decay (Schroeder): target vs result",
                x_desc: "time (s)",
                y_desc: "energy decay (dB)",
                x_scale: 1.0 / fs,
                y_min: Some(-100.0),
            };
            let (et, er) = (schroeder_edc_db(t), schroeder_edc_db(&r[..len]));
            let res = super::plots::line_plot(&edc_png, &spec, &[("target", &et), ("result", &er)]);
            report(edc_png, res);
            let spec_png = beside(&c.out, "spectrogram.png");
            let fft = super::plots::spectrogram_fft_len(fs);
            let st = tailor::analysis::spectrogram::spectrogram_db(t, fs, fft, fft / 8);
            let sr = tailor::analysis::spectrogram::spectrogram_db(&r[..len], fs, fft, fft / 8);
            let res =
                super::plots::spectrogram_png(&spec_png, &[("target", &st), ("result", &sr)], 90.0);
            report(spec_png, res);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: TrainCommand,
    }

    #[test]
    fn match_with_graphic_eq_output_eq_and_lbfgs_writes_a_baked_preset() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let target = root.join("data/rir/meetingroom_to_hallway_290cm.wav");
        let dir = std::env::temp_dir().join(format!("tailor-geq-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("geq.json");
        let cli = Cli::try_parse_from([
            "train",
            "match",
            "--target",
            target.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--attenuation",
            "graphic-eq",
            "--rt",
            "0.9,0.4",
            "--output-eq",
            "--optimizer",
            "lbfgs",
            "--lr",
            "1",
            "--steps",
            "2",
            "--n",
            "4",
            "--nfft",
            "4096",
            "--mss-nfft",
            "256,512",
            "--quiet",
        ])
        .unwrap();
        run(&cli.cmd).unwrap();
        for png in ["loss.png", "edc.png", "spectrogram.png"] {
            let p = beside(&out, png);
            assert!(
                std::fs::metadata(&p)
                    .map(|m| m.len() > 1000)
                    .unwrap_or(false),
                "{p:?}"
            );
        }
        let preset = Preset::from_json_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        let build = preset.build();
        assert_eq!(build.post_delay().unwrap().sections(), 11);
        assert_eq!(build.post_output().unwrap().sections(), 11);
        build.check_stable().unwrap();
        let log: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(beside(&out, "log.json")).unwrap())
                .unwrap();
        let losses: Vec<f64> = log["train_loss"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap_or(f64::NAN))
            .collect();
        assert_eq!(losses.len(), 2);
        assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn unknown_optimizer_is_refused_by_name() {
        let e = Cli::try_parse_from([
            "train",
            "match",
            "--target",
            "x.wav",
            "--out",
            "o.json",
            "--optimizer",
            "sgd",
        ])
        .unwrap_err();
        assert!(e.to_string().contains("sgd"), "{e}");
    }

    /// `--dtype f32` trains in pyFDN's default precision; `--device` names the device or
    /// says what is missing.
    #[test]
    fn dtype_and_device_options() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let dir = std::env::temp_dir().join(format!("tailor-dtype-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("c32.json");
        let preset = root.join("data/presets/colorless_FDN/colorless_init_N4_d1.json");
        let args = |device: &str| {
            Cli::try_parse_from([
                "train",
                "colorless",
                "--init",
                preset.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--steps",
                "3",
                "--nfft",
                "2048",
                "--dtype",
                "f32",
                "--device",
                device,
                "--no-plots",
                "--quiet",
            ])
            .unwrap()
        };
        run(&args("cpu").cmd).unwrap();
        let log: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(beside(&out, "log.json")).unwrap())
                .unwrap();
        let losses = log["train_loss"].as_array().unwrap();
        assert_eq!(losses.len(), 3);
        assert!(losses[2].as_f64().unwrap() < losses[0].as_f64().unwrap());
        let e = run(&args("gpu").cmd).unwrap_err().to_string();
        assert!(e.contains("cpu, cuda or cuda:N"), "{e}");
        if !cfg!(feature = "cuda") {
            let e = run(&args("cuda:0").cmd).unwrap_err().to_string();
            assert!(e.contains("--features cuda"), "{e}");
        }
    }
}
