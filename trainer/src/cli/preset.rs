//! `tailor preset check FILE...` and `tailor preset list`.

use anyhow::Context;
use std::path::PathBuf;
use tailor::preset::{Limits, Preset, BUNDLED_PRESETS};

/// Preset subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum PresetCommand {
    /// Validate preset/build files (pyFDN v2 or v1) and report their loop-gain stability.
    Check {
        /// Preset or build JSON files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Memory cap: longest allowed delay line in seconds at the build's rate.
        #[arg(long, default_value_t = 10.0)]
        max_delay_seconds: f64,
    },
    /// List the bundled presets.
    List,
}

/// Runs a preset subcommand; exit code 1 if any file is refused.
pub fn run(cmd: &PresetCommand) -> anyhow::Result<i32> {
    match cmd {
        PresetCommand::List => {
            for (name, _) in BUNDLED_PRESETS {
                println!("{name}");
            }
            Ok(0)
        }
        PresetCommand::Check {
            files,
            max_delay_seconds,
        } => {
            let limits = Limits {
                max_delay_seconds: *max_delay_seconds,
            };
            let mut bad = 0;
            for f in files {
                match check_one(f, &limits) {
                    Ok(line) => println!("ok    {}: {line}", f.display()),
                    Err(e) => {
                        bad += 1;
                        eprintln!("error {}: {e:#}", f.display());
                    }
                }
            }
            Ok(if bad > 0 { 1 } else { 0 })
        }
    }
}

fn check_one(path: &PathBuf, limits: &Limits) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path).context("cannot read file")?;
    let preset = Preset::from_json_str_with(&text, limits)?;
    let b = preset.build();
    let s = b.check_stable()?;
    let kind = if s.is_lossless() {
        "lossless"
    } else {
        "stable"
    };
    Ok(format!(
        "'{}' N={} in={} out={} fs={} Hz, delays {}..{} samples, {kind} (loop-gain bound {:.9})",
        preset.name(),
        b.n(),
        b.n_in(),
        b.n_out(),
        b.sample_rate(),
        b.delays().iter().min().unwrap_or(&0),
        b.max_delay(),
        s.loop_gain_bound
    ))
}
