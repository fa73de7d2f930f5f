//! `tailor analyze IR.wav [--json]`.

use std::path::PathBuf;
use tailor::analysis::bands::{octave_band_decays, BandDecay};
use tailor::analysis::echo::mixing_time_s;
use tailor::analysis::error::validate_ir;
use tailor::analysis::spectrum::{spectral_flatness, Flatness};
use tailor::analysis::{summarize, IrSummary};

/// Arguments of `tailor analyze`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = JSON_KEYS_HELP)]
pub struct Args {
    /// Impulse-response WAV file. Multichannel files: channel 0 (the first) is analysed and a
    /// note says so.
    pub ir: PathBuf,
    /// Print one JSON object instead of text (keys: see --help).
    #[arg(long)]
    pub json: bool,
}

/// The `--json` keys, shown by `tailor analyze --help`.
const JSON_KEYS_HELP: &str = "\
JSON keys (--json), times in seconds, levels in dB:
  sample_rate, length_s, peak, peak_index, energy_db   broadband basics (peak: largest |sample|)
  edt_s, t20_s, t30_s        broadband decay times from the onset, ISO 3382-1: noise-compensated EDC
                             (Lundeby + Chu); T30 needs 45 dB above the noise, T20 35 dB (else null)
  channels, channel          channels in the file and the one analysed (0)
  bands_hz                   octave-band centres 125 … 8000 Hz (IEC 61260-1 class-1 band-pass)
  rt_s                       per band RT: T30, or T20/T15 where the band's decay range is shorter
                             (null below 25 dB, or above Nyquist)
  rt_range                   per band regression of rt_s: \"T30\", \"T20\", \"T15\" or null
  decay_range_db             per band envelope peak over the noise floor, dB
  edt_band_s, t20_band_s, t30_band_s   per band EDT (0 … −10 dB), T20, T30 (null if not allowed)
  mixing_time_s              first time after the onset where the Abel–Huang echo density reaches 1
                             (20 ms Hann window), null if never
  spectral_flatness          geometric/arithmetic mean of the power spectrum, 50 Hz … 0.45·fs, in [0, 1]
  spectral_flatness_db       the same in dB";

/// Band, echo-density and spectral figures added to the broadband summary.
#[derive(Debug, Clone)]
pub struct ExtraAnalysis {
    /// Per octave band EDT/T20/T30.
    pub bands: Vec<BandDecay>,
    /// Mixing time after the onset, seconds.
    pub mixing_time_s: Option<f64>,
    /// Spectral flatness.
    pub flatness: Flatness,
}

/// Prints the analysis.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let audio = tailor::ir::load(&args.ir, &tailor::ir::IrPolicy::ROOM)?;
    let name = args.ir.display().to_string();
    let ir = &audio.channels[0];
    let fs = audio.sample_rate;
    validate_ir(ir, &name)?;
    let s = summarize(ir, fs);
    let extra = ExtraAnalysis {
        bands: octave_band_decays(ir, fs),
        mixing_time_s: mixing_time_s(ir, fs)?,
        flatness: spectral_flatness(ir, fs)?,
    };
    let nch = audio.channels.len();
    if args.json {
        let mut j = summary_json(&s, fs);
        add_extra_json(&mut j, &extra, nch);
        println!("{j}");
    } else {
        if nch > 1 {
            println!("note: {nch} channels, analysing channel 0");
        }
        print_summary(&name, &s, fs);
        print_extra(&extra);
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

/// Adds the band, echo-density and flatness keys (see `JSON_KEYS_HELP`) to a summary object.
pub fn add_extra_json(j: &mut serde_json::Value, e: &ExtraAnalysis, channels: usize) {
    let col = |f: fn(&BandDecay) -> serde_json::Value| -> serde_json::Value {
        e.bands.iter().map(f).collect()
    };
    let extra = serde_json::json!({
        "channels": channels,
        "channel": 0,
        "bands_hz": col(|b| b.fc_hz.into()),
        "rt_s": col(|b| b.rt_s.into()),
        "rt_range": col(|b| b.rt_range.map(|r| r.name()).into()),
        "decay_range_db": col(|b| b.decay_range_db.into()),
        "t30_band_s": col(|b| b.t30_s.into()),
        "edt_band_s": col(|b| b.edt_s.into()),
        "t20_band_s": col(|b| b.t20_s.into()),
        "mixing_time_s": e.mixing_time_s,
        "spectral_flatness": e.flatness.ratio,
        "spectral_flatness_db": e.flatness.db,
    });
    if let (Some(obj), serde_json::Value::Object(add)) = (j.as_object_mut(), extra) {
        obj.extend(add);
    }
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

/// Prints the octave-band table, mixing time and spectral flatness.
pub fn print_extra(e: &ExtraAnalysis) {
    let t = |x: Option<f64>| x.map_or("    n/a".to_string(), |v| format!("{v:7.3}"));
    println!("  octave band   EDT (s)  T20 (s)  T30 (s)   RT (s)  range  above noise");
    for b in &e.bands {
        println!(
            "  {:>8} Hz  {}  {}  {}  {}  {:>5}  {}",
            b.fc_hz,
            t(b.edt_s),
            t(b.t20_s),
            t(b.t30_s),
            t(b.rt_s),
            b.rt_range.map_or("-", |r| r.name()),
            b.decay_range_db
                .map_or("no decay".to_string(), |r| format!("{r:.0} dB"))
        );
    }
    match e.mixing_time_s {
        Some(m) => println!(
            "  mixing time {:.1} ms after the onset (echo density ≥ 1)",
            m * 1e3
        ),
        None => println!("  mixing time n/a (echo density never reaches 1)"),
    }
    println!(
        "  flatness    {:.4} ({:.2} dB, 50 Hz … 0.45·fs)",
        e.flatness.ratio, e.flatness.db
    );
}
