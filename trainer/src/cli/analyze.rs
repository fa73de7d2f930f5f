//! `tailor analyze IR.wav [--json]`.

use std::path::PathBuf;
use tailor::analysis::{summarize, IrSummary};

/// Arguments of `tailor analyze`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Impulse-response WAV file (first channel is analysed).
    pub ir: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Prints the analysis.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let audio = tailor::wav::read_wav(&args.ir)?;
    let s = summarize(&audio.channels[0], audio.sample_rate);
    if args.json {
        println!("{}", summary_json(&s, audio.sample_rate));
    } else {
        print_summary(&args.ir.display().to_string(), &s, audio.sample_rate);
    }
    Ok(())
}

/// The summary as a JSON object (times in seconds, levels in dB).
pub fn summary_json(s: &IrSummary, sample_rate: f64) -> serde_json::Value {
    serde_json::json!({
        "sample_rate": sample_rate,
        "length_s": s.length_s,
        "peak": s.peak,
        "peak_index": s.peak_index,
        "energy_db": s.energy_db,
        "edt_s": s.edt_s,
        "t20_s": s.t20_s,
        "t30_s": s.t30_s,
    })
}

/// Prints the summary as a small table.
pub fn print_summary(name: &str, s: &IrSummary, sample_rate: f64) {
    let t = |x: Option<f64>| x.map_or("n/a".to_string(), |v| format!("{v:.3} s"));
    println!("{name}: {:.3} s at {sample_rate} Hz", s.length_s);
    println!("  peak        {:.4} at sample {}", s.peak, s.peak_index);
    println!("  energy      {:.2} dB", s.energy_db);
    println!("  EDT         {}", t(s.edt_s));
    println!("  T20         {}", t(s.t20_s));
    println!("  T30         {}", t(s.t30_s));
}
