//! `tailor render PRESET --seconds S --out IR.wav [--no-early]`: the whole preset's impulse
//! response (FDN plus the early-reflections FIR of a fitted preset), or the FDN alone.

use anyhow::{bail, Context};
use std::path::PathBuf;

/// Arguments of `tailor render`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Preset file, or a bundled preset name (see `tailor preset list`).
    pub preset: String,
    /// Length of the rendered impulse response in seconds.
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// Replace the attenuation with a first-order shelf: RT or RT_DC,RT_NYQUIST in seconds.
    #[arg(long, value_parser = super::parse_rt)]
    pub rt: Option<tailor::Rt>,
    /// Input channel to excite (0-based).
    #[arg(long, default_value_t = 0, conflicts_with = "all_inputs")]
    pub input: usize,
    /// Excite every input in turn: the WAV holds input 0's outputs, then input 1's, … (a
    /// true-stereo preset gives in L → out L, in L → out R, in R → out L, in R → out R).
    #[arg(long)]
    pub all_inputs: bool,
    /// Output WAV path (32-bit float, one channel per output: the FDN's, through the preset's
    /// output mix when it has one).
    #[arg(long)]
    pub out: PathBuf,
    /// Render the FDN only, without the preset's early reflections (`tailor.early`).
    #[arg(long)]
    pub no_early: bool,
}

/// Renders and writes the IR.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let preset = tailor::preset::load(&args.preset)?;
    let mut build = preset.build().clone();
    if let Some(rt) = args.rt {
        build = tailor::with_decay(&build, rt)?;
    }
    build.check_stable().context("refusing to render")?;
    let inputs: Vec<usize> = if args.all_inputs {
        (0..build.n_in()).collect()
    } else {
        vec![args.input]
    };
    let early = preset.early().filter(|_| !args.no_early);
    let mut channels = Vec::new();
    for &input in &inputs {
        let mut part = render_channels(&build, args.seconds, input)?;
        tailor::wav::check_writable("the FDN render", &part).context("refusing to write")?;
        if let Some(e) = early {
            tailor::response::add_early_channels(&mut part, e, input, build.sample_rate())
                .context("early reflections")?;
            tailor::wav::check_writable("the FDN + early-reflections render", &part)
                .context("refusing to write")?;
        }
        channels.extend(part);
    }
    tailor::wav::write_wav(&args.out, build.sample_rate().round() as u32, &channels)?;
    println!(
        "wrote {} ({} channel(s), {:.3} s at {} Hz{})",
        args.out.display(),
        channels.len(),
        args.seconds,
        build.sample_rate(),
        match (early, preset.early()) {
            (Some(e), _) => format!(", FDN + {}-tap early FIR", e.len()),
            (None, Some(_)) => ", FDN only (--no-early)".to_string(),
            (None, None) => String::new(),
        }
    );
    Ok(())
}

/// The exact IR from input `input` to every output, `seconds` long.
pub fn render_channels(
    build: &tailor::Build,
    seconds: f64,
    input: usize,
) -> anyhow::Result<Vec<Vec<f64>>> {
    let max = tailor::limits::MAX_RENDER_SECONDS;
    if !(seconds.is_finite() && seconds > 0.0 && seconds <= max) {
        bail!("--seconds must be in (0, {max}], got {seconds}");
    }
    if input >= build.n_in() {
        bail!(
            "--input {input} out of range: the build has {} input(s)",
            build.n_in()
        );
    }
    let len = (seconds * build.sample_rate()).round() as usize;
    tailor::limits::check_total_samples("render", len, build.n_outputs())?;
    let mut r = tailor::response::TdRenderer::new(build);
    let mut u = vec![0.0; build.n_in()];
    let mut y = vec![0.0; build.n_outputs()];
    let mut out = vec![Vec::with_capacity(len); build.n_outputs()];
    for n in 0..len {
        u[input] = if n == 0 { 1.0 } else { 0.0 };
        r.tick(&u, &mut y);
        for (ch, v) in out.iter_mut().zip(&y) {
            ch.push(*v);
        }
    }
    Ok(out)
}
