//! `tailor ab prepare`: renders loudness-matched A (FDN) / B (reference IR) stimuli and a blind,
//! seeded ABX trial order with a hashed answer key.

use super::session::{sha256_hex, AnswerKey, Material, Session, Trial, DEFAULT_KEY};
use anyhow::{bail, Context, Result};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};
use tailor::convolution::Convolver;
use tailor::engine::{Engine, EngineConfig};
use tailor::loudness::{gain_to_target, integrated_loudness};
use tailor::resample::resample;
use tailor::wav::{read_wav, read_wav_bytes, write_wav, Audio};

/// The bundled dry materials (CC0, see data/ATTRIBUTION.md), embedded so prepare works anywhere.
pub const BUNDLED_DRY: &[(&str, &[u8])] = &[
    (
        "drums",
        include_bytes!("../../../data/audio/drums/drums.wav"),
    ),
    (
        "synth",
        include_bytes!("../../../data/audio/general/synth_dry.wav"),
    ),
];

/// Planar audio: one `Vec` of samples per channel.
type Planar = Vec<Vec<f64>>;

/// Options of `tailor ab prepare`.
#[derive(Debug, Clone)]
pub struct PrepareOptions {
    /// Preset file or bundled preset name (stimulus A).
    pub preset: String,
    /// Reference IR WAV (stimulus B); its first channel is used.
    pub reference: PathBuf,
    /// Dry material WAVs; empty = the bundled drums and synth.
    pub dry: Vec<PathBuf>,
    /// Number of ABX trials.
    pub trials: usize,
    /// Seed of the trial order.
    pub seed: u64,
    /// Wet share 0–1 (same for A and B).
    pub mix: f64,
    /// Loudness every stimulus is normalised to, LUFS.
    pub target_lufs: f64,
    /// Seconds of reverb tail appended after the dry material.
    pub tail_seconds: f64,
    /// Session directory to create.
    pub out: PathBuf,
    /// Where the answer key goes (default SESSION_DIR/key/answer_key.json).
    pub key_out: Option<PathBuf>,
}

/// Renders everything and writes the session; returns it.
pub fn prepare(opts: &PrepareOptions) -> Result<Session> {
    if opts.trials == 0 || opts.trials > 1000 {
        bail!("--trials must be between 1 and 1000, got {}", opts.trials);
    }
    if !(0.0..=1.0).contains(&opts.mix) {
        bail!("--mix must be between 0 and 1, got {}", opts.mix);
    }
    if !(opts.tail_seconds.is_finite() && (0.0..=30.0).contains(&opts.tail_seconds)) {
        bail!(
            "--tail must be between 0 and 30 s, got {}",
            opts.tail_seconds
        );
    }
    let preset = tailor::preset::load(&opts.preset)?;
    let build = preset.build().clone();
    let stability = build.check_stable().context("the preset would not decay")?;
    if stability.is_lossless() {
        bail!("preset '{}' is lossless (it never decays): add decay first, e.g. `tailor demo` or `tailor render --rt`", opts.preset);
    }
    let fs = build.sample_rate();
    let reference = read_wav(&opts.reference)?;
    let ir = to_rate(&reference, fs)
        .context("resampling the reference IR")?
        .channels
        .swap_remove(0);
    if ir.len() < 16 {
        bail!(
            "{}: reference IR is only {} samples long",
            opts.reference.display(),
            ir.len()
        );
    }
    let materials: Vec<(String, Audio)> = if opts.dry.is_empty() {
        BUNDLED_DRY
            .iter()
            .map(|(name, bytes)| Ok((name.to_string(), read_wav_bytes(bytes, name)?)))
            .collect::<Result<_>>()?
    } else {
        opts.dry
            .iter()
            .map(|p| {
                let name = p
                    .file_stem()
                    .map_or("dry".into(), |s| s.to_string_lossy().to_string());
                Ok((name, read_wav(p)?))
            })
            .collect::<Result<_>>()?
    };
    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("creating {}", opts.out.display()))?;
    let mut files = std::collections::BTreeMap::new();
    let mut mats = Vec::new();
    let mut stimuli: Vec<(String, Planar, Planar)> = Vec::new();
    for (name, audio) in &materials {
        let dry = to_rate(audio, fs)
            .with_context(|| format!("resampling dry material {name}"))?
            .channels;
        let tail = (opts.tail_seconds * fs).round() as usize;
        let dry: Vec<Vec<f64>> = dry
            .into_iter()
            .map(|mut c| {
                c.resize(c.len() + tail, 0.0);
                c
            })
            .collect();
        let wet_a = render_fdn(&build, &dry)?;
        let wet_b = render_ir(&ir, &dry);
        // Match the wet parts first so A and B share the same wet/dry balance...
        let la =
            integrated_loudness(&wet_a, fs).with_context(|| format!("{name}: FDN wet signal"))?;
        let lb = integrated_loudness(&wet_b, fs)
            .with_context(|| format!("{name}: reference wet signal"))?;
        let gb = gain_to_target(lb, la);
        let mix = |wet: &[Vec<f64>], g: f64| -> Vec<Vec<f64>> {
            dry.iter()
                .zip(wet)
                .map(|(d, w)| {
                    d.iter()
                        .zip(w)
                        .map(|(d, w)| (1.0 - opts.mix) * d + opts.mix * g * w)
                        .collect()
                })
                .collect()
        };
        let a = mix(&wet_a, 1.0);
        let b = mix(&wet_b, gb);
        // ...then bring each stimulus to the target loudness (exact: loudness scales with gain).
        let a = normalise(a, fs, opts.target_lufs)?;
        let b = normalise(b, fs, opts.target_lufs)?;
        let (fa, fb) = (format!("{name}_A.wav"), format!("{name}_B.wav"));
        files.insert(fa.clone(), write_stimulus(&opts.out.join(&fa), fs, &a)?);
        files.insert(fb.clone(), write_stimulus(&opts.out.join(&fb), fs, &b)?);
        mats.push(Material {
            name: name.clone(),
            a: fa,
            b: fb,
            loudness_a_lufs: integrated_loudness(&a, fs)?,
            loudness_b_lufs: integrated_loudness(&b, fs)?,
        });
        stimuli.push((name.clone(), a, b));
    }
    // Trial order: materials balanced and shuffled, X = A or B at random, all from the seed.
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut order: Vec<usize> = (0..opts.trials).map(|i| i % stimuli.len()).collect();
    order.shuffle(&mut rng);
    let mut trials = Vec::new();
    let mut key = Vec::new();
    for (i, m) in order.into_iter().enumerate() {
        let x_is_a = rng.random::<bool>();
        let (name, a, b) = &stimuli[m];
        let x = format!("trial_{:02}_X.wav", i + 1);
        files.insert(
            x.clone(),
            write_stimulus(&opts.out.join(&x), fs, if x_is_a { a } else { b })?,
        );
        trials.push(Trial {
            trial: i + 1,
            material: name.clone(),
            x,
        });
        key.push(if x_is_a { "A" } else { "B" }.to_string());
    }
    let key = AnswerKey {
        format: "tailor-ab-key".into(),
        x_is: key,
    };
    let mut key_text = serde_json::to_string_pretty(&key)?;
    key_text.push('\n');
    let key_path = opts
        .key_out
        .clone()
        .unwrap_or_else(|| opts.out.join(DEFAULT_KEY));
    if let Some(parent) = key_path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&key_path, &key_text)
        .with_context(|| format!("writing {}", key_path.display()))?;
    let session = Session {
        format: "tailor-ab-session".into(),
        version: 1,
        seed: opts.seed,
        sample_rate: fs.round() as u32,
        mix: opts.mix,
        target_lufs: opts.target_lufs,
        preset: opts.preset.clone(),
        reference: opts.reference.display().to_string(),
        materials: mats,
        trials,
        files_sha256: files,
        key_sha256: sha256_hex(key_text.as_bytes()),
    };
    session.save(&opts.out)?;
    Ok(session)
}

fn to_rate(a: &Audio, fs: f64) -> Result<Audio> {
    if (a.sample_rate - fs).abs() < 1e-9 {
        return Ok(a.clone());
    }
    Ok(Audio {
        sample_rate: fs,
        channels: resample(&a.channels, a.sample_rate, fs)?,
    })
}

/// Wet FDN signal per dry channel (each channel through its own engine: a dual-mono reverb).
fn render_fdn(build: &tailor::Build, dry: &[Vec<f64>]) -> Result<Vec<Vec<f64>>> {
    let mut cfg = EngineConfig::for_build(build);
    cfg.inputs = 1;
    cfg.outputs = 1;
    let mut out = Vec::new();
    for ch in dry {
        let mut engine = Engine::prepare(build, &cfg)?;
        let x: Vec<f32> = ch.iter().map(|&v| v as f32).collect();
        let mut y = vec![0.0f32; x.len()];
        for (xi, yi) in x.chunks(4096).zip(y.chunks_mut(4096)) {
            engine.process(&[xi], &mut [yi]);
        }
        out.push(y.into_iter().map(f64::from).collect());
    }
    Ok(out)
}

/// Dry convolved with the reference IR (the shared partitioned convolver).
fn render_ir(ir: &[f64], dry: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let h: Vec<f32> = ir.iter().map(|&v| v as f32).collect();
    dry.iter()
        .map(|ch| {
            let mut conv = Convolver::new(&h, 4096);
            let x: Vec<f32> = ch.iter().map(|&v| v as f32).collect();
            let mut y = vec![0.0f32; x.len()];
            for (xi, yi) in x.chunks(4096).zip(y.chunks_mut(4096)) {
                conv.process(xi, yi);
            }
            y.into_iter().map(f64::from).collect()
        })
        .collect()
}

fn normalise(x: Vec<Vec<f64>>, fs: f64, target: f64) -> Result<Vec<Vec<f64>>> {
    let g = gain_to_target(integrated_loudness(&x, fs)?, target);
    Ok(x.into_iter()
        .map(|c| c.into_iter().map(|v| v * g).collect())
        .collect())
}

/// Writes a float WAV and returns its SHA-256.
fn write_stimulus(path: &Path, fs: f64, x: &[Vec<f64>]) -> Result<String> {
    write_wav(path, fs.round() as u32, x)?;
    super::session::sha256_file(path)
}
