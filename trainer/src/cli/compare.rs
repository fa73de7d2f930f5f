//! `tailor compare A.wav B.wav [--json]`: how far B is from the target A.

use std::path::PathBuf;
use tailor::analysis::compare::{compare_irs, Comparison};
use tailor::analysis::stereo::{compare_channels, MultiComparison};

/// Arguments of `tailor compare`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = JSON_KEYS_HELP)]
pub struct Args {
    /// Target impulse-response WAV. When A and B both have two or more channels, channel o is
    /// compared with channel o (and the stereo image with the first two); otherwise channel 0.
    pub a: PathBuf,
    /// Candidate impulse-response WAV (resampled to A's rate when the rates differ).
    pub b: PathBuf,
    /// Print one JSON object with exactly the comparison keys (see --help).
    #[arg(long)]
    pub json: bool,
}

/// The `--json` keys, shown by `tailor compare --help`.
const JSON_KEYS_HELP: &str = "\
Both IRs are aligned at their onsets (first sample within 20 dB of the peak) and cut to the
shorter length. JSON keys (--json):
  Decay is measured as ISO 3382-1 measures it: IEC 61260-1 octave filters, Lundeby noise floor,
  Chu noise subtraction with the truncation compensated (a noise floor lifts no figure).
  bands_hz              octave-band centres 125 … 8000 Hz (bands above Nyquist: null figures)
  rt_a_s, rt_b_s        per band RT on the noise-compensated band EDC over rt_range, ×60/span, s;
                        null with less than 25 dB of decay above the noise or above Nyquist
  rt_range              per band \"T30\" (−5 … −35 dB), \"T20\" or \"T15\": chosen by A's decay range
                        above its noise (45 / 35 / 25 dB), used for A and B alike
  rt_error_pct          per band 100·|rt_b − rt_a|/rt_a, %; null if either RT is missing
  mean_rt_error_pct     mean of the available band errors, %
  worst_rt_error_pct    largest available band error, %
  edc_error_db          mean |ΔdB| of the broadband noise-compensated EDCs where A's is above −30 dB
  level_error_db        mean over bands of |ΔdB| of the band energy shares (energies without noise)
  mel_lsd_db            RMS over 64 mel bands of 20·log10(|A_mel|/|B_mel|), unit-energy IRs
  third_octave_bands_hz IEC third-octave centres 20 Hz … 20 kHz (those below 0.45·fs)
  third_octave_above_noise  per band: A has a decay above its noise there
  third_octave_level_a_db, third_octave_level_b_db
                        per band energy without noise over the sum in A's above-noise bands, dB
  third_octave_band_error_db  per band B − A, dB (null where A is at its noise floor)
  third_octave_level_error_db largest |B − A| over A's above-noise bands, dB
  third_octave_excess_db      largest B − A where A has no decay above its noise, dB
Multichannel A and B (both ≥ 2 channels): the keys above are channel 0's, plus
  channels              per compared channel, an object with the keys above
  stereo_level_error_db per channel, mean over bands of |ΔdB| of the band energies as shares of
                        the energy of all compared channels, dB
  coherence_bands_hz    octave-band centres 125 … 8000 Hz
  coherence_a, coherence_b  late inter-channel coherence of channels 0 and 1 per band: normalised
                        cross-correlation at lag 0 of the IEC band-filtered channels from 80 ms
                        after the pair's onset (null above Nyquist)
  max_coherence_error   largest |coherence_b − coherence_a|";

/// Runs the comparison and prints it.
pub fn run(args: &Args) -> anyhow::Result<()> {
    use tailor::ir::{load, IrPolicy};
    let a = load(&args.a, &IrPolicy::ROOM)?;
    let fs = a.sample_rate;
    // B at A's rate.
    let b = load(
        &args.b,
        &IrPolicy {
            rate: Some(fs),
            ..IrPolicy::ROOM
        },
    )?;
    let mut notes: Vec<String> = b
        .notes
        .iter()
        .map(|n| format!("{}: {n} (A's rate)", args.b.display()))
        .collect();
    let b_channels = &b.channels;
    if a.channels.len() > 1 && b_channels.len() > 1 {
        let c = compare_channels(&a.channels, b_channels, fs)?;
        return emit(args.json, &notes, &c, print_multi);
    }
    for (name, audio) in [(&args.a, &a), (&args.b, &b)] {
        if audio.channels.len() > 1 {
            notes.push(format!(
                "{}: {} channels, comparing channel 0 (the other file has one)",
                name.display(),
                audio.channels.len()
            ));
        }
    }
    let c = compare_irs(&a.channels[0], &b_channels[0], fs)?;
    emit(args.json, &notes, &c, print_comparison)
}

/// Prints `notes` and `value`: as one JSON object on stdout (notes on stderr) with `json`, else
/// as `print`'s table.
fn emit<T: serde::Serialize>(
    json: bool,
    notes: &[String],
    value: &T,
    print: fn(&T),
) -> anyhow::Result<()> {
    if json {
        notes.iter().for_each(|n| eprintln!("note: {n}"));
        println!("{}", serde_json::to_string(value)?);
    } else {
        notes.iter().for_each(|n| println!("note: {n}"));
        print(value);
    }
    Ok(())
}

/// Prints every channel's table, the stereo level errors and the coherence table.
pub fn print_multi(c: &MultiComparison) {
    for (o, ch) in c.channels.iter().enumerate() {
        println!("channel {o}:");
        print_comparison(ch);
        if let Some(e) = c.stereo_level_error_db.get(o) {
            println!("  level error as shares of all channels {e:.2} dB");
        }
    }
    let s = |x: Option<f64>| x.map_or("    n/a".to_string(), |v| format!("{v:7.3}"));
    println!("late coherence (channels 0 and 1, from 80 ms after the onset):");
    println!("      band        A        B");
    for (i, fc) in c.coherence_bands_hz.iter().enumerate() {
        println!(
            "  {:>5} Hz  {}  {}",
            fc,
            s(c.coherence_a.get(i).copied().flatten()),
            s(c.coherence_b.get(i).copied().flatten())
        );
    }
    println!(
        "  worst coherence error  {}",
        s(c.max_coherence_error).trim()
    );
}

/// Prints the band table (band | RT A | RT B | error %) and the summary lines.
pub fn print_comparison(c: &Comparison) {
    let s = |x: Option<f64>| x.map_or("    n/a".to_string(), |v| format!("{v:7.3}"));
    let p = |x: Option<f64>| x.map_or("    n/a".to_string(), |v| format!("{v:7.1}"));
    println!("      band   RT A (s)  RT B (s)  error %  range");
    for (i, fc) in c.bands_hz.iter().enumerate() {
        println!(
            "  {:>5} Hz   {}   {}  {}  {}",
            fc,
            s(c.rt_a_s[i]),
            s(c.rt_b_s[i]),
            p(c.rt_error_pct[i]),
            c.rt_range[i].map_or("-", |r| r.name())
        );
    }
    println!("  mean RT error   {}", p(c.mean_rt_error_pct).trim());
    println!("  worst RT error  {}", p(c.worst_rt_error_pct).trim());
    println!("  EDC error       {:.2} dB", c.edc_error_db);
    println!("  level error     {:.2} dB", c.level_error_db);
    println!("  mel LSD         {:.2} dB", c.mel_lsd_db);
    let above = c.third_octave.above_noise.iter().filter(|&&k| k).count();
    println!(
        "  1/3-oct level   {:.2} dB worst over {above} of {} bands above the room's noise; \
         excess elsewhere {:.2} dB",
        c.third_octave.worst_db,
        c.third_octave.bands_hz.len(),
        c.third_octave.excess_db
    );
}
