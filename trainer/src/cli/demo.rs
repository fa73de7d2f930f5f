//! `tailor demo`: the main job on the embedded data.

use std::path::PathBuf;

/// Arguments of `tailor demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output directory for the preset and the IR.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// Bundled preset to start from.
    #[arg(long, default_value = "colorless_N16_d1")]
    pub preset: String,
    /// Decay as RT or RT_DC,RT_NYQUIST in seconds.
    #[arg(long, default_value = "2.0,0.5", value_parser = super::parse_rt)]
    pub rt: tailor::Rt,
    /// IR length in seconds.
    #[arg(long, default_value_t = 2.0)]
    pub seconds: f64,
}

/// Loads the preset, adds decay, renders, writes the preset and WAV, prints the analysis.
pub fn run(args: &Args) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out)?;
    let mut preset = tailor::preset::load(&args.preset)?;
    let build = tailor::with_decay(preset.build(), args.rt)?;
    let stability = build.check_stable()?;
    preset.set_build(build.clone());
    let name = format!("{}_decay", preset.name());
    preset
        .metadata_mut()
        .insert("name".into(), name.clone().into());
    let preset_path = args.out.join("demo_preset.json");
    std::fs::write(&preset_path, preset.to_json_string())?;
    let ir = super::render::render_channels(&build, args.seconds, 0)?;
    let wav_path = args.out.join("demo_ir.wav");
    tailor::wav::write_wav(&wav_path, build.sample_rate().round() as u32, &ir)?;
    let (dc, ny) = args.rt.endpoints();
    println!(
        "preset  {} (N={}, loop-gain bound {:.6})",
        name,
        build.n(),
        stability.loop_gain_bound
    );
    println!("decay   first-order shelf, RT {dc} s at DC, {ny} s at Nyquist");
    println!(
        "wrote   {} and {}",
        preset_path.display(),
        wav_path.display()
    );
    let s = tailor::analysis::summarize(&ir[0], build.sample_rate());
    super::analyze::print_summary(&wav_path.display().to_string(), &s, build.sample_rate());
    Ok(())
}
