//! `tailor ab prepare | run | score`: blind, loudness-matched listening tests.

use crate::ab::{live, prepare, score, session};
use std::path::PathBuf;

/// Listening-test subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum AbCommand {
    /// Render loudness-matched A (FDN) / B (reference IR) stimuli and a seeded ABX session.
    Prepare {
        /// Preset file or bundled preset name (stimulus A).
        #[arg(long)]
        preset: String,
        /// Reference impulse response WAV (stimulus B; first channel; resampled if needed).
        #[arg(long)]
        reference: PathBuf,
        /// Dry material WAV (repeatable); default: the bundled drums and synth (CC0).
        #[arg(long)]
        dry: Vec<PathBuf>,
        /// Number of ABX trials.
        #[arg(long, default_value_t = 12)]
        trials: usize,
        /// Seed of the trial order (same seed, same session).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Wet share 0–1, the same for A and B.
        #[arg(long, default_value_t = 0.35)]
        mix: f64,
        /// Loudness every stimulus is normalised to (ITU-R BS.1770), LUFS.
        #[arg(long, default_value_t = -23.0)]
        target_lufs: f64,
        /// Seconds of reverb tail after the dry material.
        #[arg(long, default_value_t = 2.0)]
        tail: f64,
        /// Answer-key path (default SESSION_DIR/key/answer_key.json); keep it from listeners.
        #[arg(long)]
        key_out: Option<PathBuf>,
        /// Session directory to create.
        #[arg(long)]
        out: PathBuf,
    },
    /// Play a session live (keys switch A/B/X with a 10 ms crossfade; answers saved at once).
    Run {
        /// Session directory.
        session: Option<PathBuf>,
        /// Output device (substring of a name from --list).
        #[arg(long)]
        device: Option<String>,
        /// List output devices and exit.
        #[arg(long)]
        list: bool,
        /// Listener name recorded with each answer.
        #[arg(long, default_value = "listener")]
        listener: String,
    },
    /// Score a session: correct/total per listener, binomial p-value, verdict.
    Score {
        /// Session directory.
        session: PathBuf,
        /// Answer-key path (default SESSION_DIR/key/answer_key.json).
        #[arg(long)]
        key: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs an `ab` subcommand.
pub fn run(cmd: &AbCommand) -> anyhow::Result<()> {
    match cmd {
        AbCommand::Prepare {
            preset,
            reference,
            dry,
            trials,
            seed,
            mix,
            target_lufs,
            tail,
            key_out,
            out,
        } => {
            let s = prepare::prepare(&prepare::PrepareOptions {
                preset: preset.clone(),
                reference: reference.clone(),
                dry: dry.clone(),
                trials: *trials,
                seed: *seed,
                mix: *mix,
                target_lufs: *target_lufs,
                tail_seconds: *tail,
                out: out.clone(),
                key_out: key_out.clone(),
            })?;
            for m in &s.materials {
                println!(
                    "{:<10} A {:+.2} LUFS  B {:+.2} LUFS  (difference {:.3} LU)",
                    m.name,
                    m.loudness_a_lufs,
                    m.loudness_b_lufs,
                    (m.loudness_a_lufs - m.loudness_b_lufs).abs()
                );
            }
            println!("{} trials written to {}", s.trials.len(), out.display());
            Ok(())
        }
        AbCommand::Run {
            session,
            device,
            list,
            listener,
        } => {
            if *list {
                for d in live::list_devices()? {
                    println!("{d}");
                }
                return Ok(());
            }
            let dir = session
                .as_ref()
                .ok_or_else(|| anyhow::anyhow!("give a SESSION_DIR (or --list)"))?;
            live::run(dir, device.as_deref(), listener)
        }
        AbCommand::Score {
            session: dir,
            key,
            json,
        } => {
            let key = key
                .clone()
                .unwrap_or_else(|| session::default_key_path(dir));
            let scores = score::score(dir, &key)?;
            if *json {
                let v: Vec<_> = scores
                    .iter()
                    .map(|s| serde_json::json!({"listener": s.listener, "correct": s.correct, "total": s.total, "p_value": s.p_value, "verdict": s.verdict()}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                for s in &scores {
                    println!(
                        "{:<16} {:>3}/{:<3} p = {:.4}  {}",
                        s.listener,
                        s.correct,
                        s.total,
                        s.p_value,
                        s.verdict()
                    );
                }
            }
            Ok(())
        }
    }
}
