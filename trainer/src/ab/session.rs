//! The session file, the answer key, stimulus hashes and the results CSV.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Session file name inside a session directory.
pub const SESSION_FILE: &str = "session.json";
/// Results file name inside a session directory.
pub const RESULTS_FILE: &str = "results.csv";
/// Default answer-key location relative to the session directory (kept apart from the stimuli).
pub const DEFAULT_KEY: &str = "key/answer_key.json";

/// One dry material's stimulus pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Material {
    /// Material name (from the dry file's stem).
    pub name: String,
    /// Stimulus A (FDN) file name.
    pub a: String,
    /// Stimulus B (reference IR) file name.
    pub b: String,
    /// BS.1770 integrated loudness of A in LUFS.
    pub loudness_a_lufs: f64,
    /// BS.1770 integrated loudness of B in LUFS.
    pub loudness_b_lufs: f64,
}

/// One ABX trial as the listener sees it (no answer here).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// 1-based trial number.
    pub trial: usize,
    /// Material name.
    pub material: String,
    /// The X stimulus file name.
    pub x: String,
}

/// The session file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// Always "tailor-ab-session".
    pub format: String,
    /// Format version (1).
    pub version: u32,
    /// RNG seed of the trial order.
    pub seed: u64,
    /// Stimulus sample rate in Hz.
    pub sample_rate: u32,
    /// Wet share of the stimuli (0–1).
    pub mix: f64,
    /// Loudness every stimulus was normalised to, LUFS.
    pub target_lufs: f64,
    /// Preset used for A (as given).
    pub preset: String,
    /// Reference IR used for B (as given).
    pub reference: String,
    /// Stimulus pairs.
    pub materials: Vec<Material>,
    /// Trials in presentation order.
    pub trials: Vec<Trial>,
    /// SHA-256 (hex) of every stimulus file.
    pub files_sha256: std::collections::BTreeMap<String, String>,
    /// SHA-256 (hex) of the answer-key file.
    pub key_sha256: String,
}

/// The answer key: which stimulus each trial's X is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerKey {
    /// Always "tailor-ab-key".
    pub format: String,
    /// "A" or "B" per trial, in trial order.
    pub x_is: Vec<String>,
}

/// Hex SHA-256 of a byte string.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Hex SHA-256 of a file.
pub fn sha256_file(path: &Path) -> Result<String> {
    Ok(sha256_hex(
        &std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
    ))
}

impl Session {
    /// Reads `SESSION_DIR/session.json`.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(SESSION_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{} is not a session directory (no {SESSION_FILE})",
                dir.display()
            )
        })?;
        let s: Session = serde_json::from_str(&text)
            .with_context(|| format!("{}: malformed session file", path.display()))?;
        if s.format != "tailor-ab-session" || s.version != 1 {
            bail!(
                "{}: not a tailor A/B session (format {:?} version {})",
                path.display(),
                s.format,
                s.version
            );
        }
        Ok(s)
    }

    /// Writes the session file (pretty JSON, deterministic field order).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        std::fs::write(dir.join(SESSION_FILE), text)?;
        Ok(())
    }

    /// Checks every stimulus against its recorded hash (tampering, truncation, replacement).
    pub fn verify_stimuli(&self, dir: &Path) -> Result<()> {
        for (name, want) in &self.files_sha256 {
            let got = sha256_file(&dir.join(name)).with_context(|| {
                format!("session directory was tampered with: stimulus {name} is missing")
            })?;
            if &got != want {
                bail!("session directory was tampered with: {name} does not match its recorded SHA-256");
            }
        }
        Ok(())
    }

    /// Reads the answer key at `path` and checks it against the session's recorded hash.
    pub fn load_key(&self, path: &Path) -> Result<AnswerKey> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("answer key {} not found", path.display()))?;
        if sha256_hex(&bytes) != self.key_sha256 {
            bail!(
                "answer key {} was tampered with: its SHA-256 does not match the session",
                path.display()
            );
        }
        let key: AnswerKey = serde_json::from_slice(&bytes).context("malformed answer key")?;
        if key.x_is.len() != self.trials.len() {
            bail!(
                "answer key has {} answers for {} trials",
                key.x_is.len(),
                self.trials.len()
            );
        }
        Ok(key)
    }
}

/// One answer line of the results CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// Listener name.
    pub listener: String,
    /// 1-based trial number.
    pub trial: usize,
    /// What the listener says X is: "A" or "B".
    pub answer: String,
    /// Milliseconds since the Unix epoch.
    pub unix_ms: u128,
}

/// Appends one answer to `SESSION_DIR/results.csv` and syncs it to disk before returning, so
/// nothing is lost if the program is killed afterwards.
pub fn append_answer(dir: &Path, a: &Answer) -> Result<()> {
    let path = dir.join(RESULTS_FILE);
    let new = !path.exists();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    if new {
        writeln!(f, "listener,trial,answer,unix_ms")?;
    }
    let listener: String = a
        .listener
        .chars()
        .filter(|c| *c != ',' && *c != '\n' && *c != '\r')
        .collect();
    writeln!(f, "{listener},{},{},{}", a.trial, a.answer, a.unix_ms)?;
    f.sync_data()?;
    Ok(())
}

/// Reads every answer of a results CSV.
pub fn read_answers(path: &Path) -> Result<Vec<Answer>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("no results at {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 4 {
            bail!(
                "{}:{}: expected listener,trial,answer,unix_ms",
                path.display(),
                i + 1
            );
        }
        let answer = f[2].trim().to_ascii_uppercase();
        if answer != "A" && answer != "B" {
            bail!(
                "{}:{}: answer must be A or B, got {:?}",
                path.display(),
                i + 1,
                f[2]
            );
        }
        out.push(Answer {
            listener: f[0].to_string(),
            trial: f[1]
                .trim()
                .parse()
                .with_context(|| format!("{}:{}: bad trial number", path.display(), i + 1))?,
            answer,
            unix_ms: f[3].trim().parse().unwrap_or(0),
        });
    }
    Ok(out)
}

/// Default key path for a session directory.
pub fn default_key_path(dir: &Path) -> PathBuf {
    dir.join(DEFAULT_KEY)
}
