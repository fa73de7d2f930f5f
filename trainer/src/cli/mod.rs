//! Command-line interface of `tailor` (clap). Each subcommand lives in its own module.

mod ab;
mod analyze;
mod bench;
mod compare;
mod conformance;
mod demo;
mod fit;
mod hrtf_report;
mod plots;
mod preset;
mod render;
mod train;

use clap::{Parser, Subcommand};

/// Tailor: trains feedback-delay-network reverbs from measured rooms.
#[derive(Debug, Parser)]
#[command(name = "tailor", version, about, long_about = None)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check every golden JSON file this tool understands in DIR against Tailor's implementation.
    Conformance(conformance::Args),
    /// Preset tools (validation, listing).
    #[command(subcommand)]
    Preset(preset::PresetCommand),
    /// Render a preset's impulse response (exact time-domain recursion) to a WAV file.
    Render(render::Args),
    /// Analyse an impulse-response WAV file (EDC, EDT, T20, T30, octave-band RTs, mixing time).
    Analyze(analyze::Args),
    /// Compare two impulse-response WAV files (band RTs, EDC, level and mel-spectrum errors).
    Compare(compare::Args),
    /// Listening tests: loudness-matched A/B and ABX sessions.
    #[command(subcommand)]
    Ab(ab::AbCommand),
    /// The main job on the embedded data: bundled colorless preset + decay → 2 s IR → analysis.
    Demo(demo::Args),
    /// Benchmarks (real-time engine throughput).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// HRTF report of a SOFA file: magnitude/ILD for a direction, LSD map against another set.
    HrtfReport(hrtf_report::Args),
    /// Fit a measured room IR: band decays, coupled-room slopes, early reflections → preset,
    /// compare table and plots.
    Fit(fit::Args),
    /// Train an FDN (colorless, or matching a target IR) and write preset, log and plots.
    #[command(subcommand)]
    Train(train::TrainCommand),
}

/// Runs the CLI and returns the process exit code (0 ok, 1 failure; never a panic for bad input).
pub fn main() -> i32 {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Conformance(a) => conformance::run(&a),
        Command::Preset(c) => preset::run(&c),
        Command::Render(a) => render::run(&a).map(|()| 0),
        Command::Analyze(a) => analyze::run(&a).map(|()| 0),
        Command::Compare(a) => compare::run(&a).map(|()| 0),
        Command::Demo(a) => demo::run(&a).map(|()| 0),
        Command::Ab(c) => ab::run(&c).map(|()| 0),
        Command::Bench(c) => bench::run(&c).map(|()| 0),
        Command::HrtfReport(a) => hrtf_report::run(&a).map(|()| 0),
        Command::Train(c) => train::run(&c).map(|()| 0),
        Command::Fit(a) => fit::run(&a).map(|()| 0),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

/// Parses an RT argument: `2.0` (flat) or `2.0,0.5` (DC, Nyquist), seconds.
pub fn parse_rt(s: &str) -> Result<tailor::Rt, String> {
    let parts: Vec<&str> = s.split(',').collect();
    let num = |t: &str| {
        t.trim()
            .parse::<f64>()
            .map_err(|_| format!("'{t}' is not a number of seconds"))
    };
    match parts.as_slice() {
        [a] => Ok(tailor::Rt::Flat(num(a)?)),
        [a, b] => Ok(tailor::Rt::Shelf {
            dc: num(a)?,
            nyquist: num(b)?,
        }),
        _ => Err("expected RT or RT_DC,RT_NYQUIST in seconds".into()),
    }
}
