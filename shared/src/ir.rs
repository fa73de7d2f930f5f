//! The one way an impulse response is read from a file: [`load`] with an [`IrPolicy`] that says
//! how many channels to keep, how long it may be and at what rate it is wanted. The CLI (fit,
//! compare, analyze), the trainer's targets and the plugin's A/B reference all read through it, so
//! a file is accepted, cut or refused by the same rules everywhere. Conditioning for analysis (DC
//! offset, pre-delay before the onset) is the room analysis's ([`crate::room::analysis`]), which
//! the fit applies to what this returns.

use std::path::Path;

use crate::limits::MAX_IR_SECONDS;
use crate::wav::{check_ir_length, read_wav, WavError};

/// What to do with an IR longer than the policy's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TooLong {
    /// Refuse it: an IR followed by minutes of noise or silence is not an IR.
    Refuse,
    /// Keep its first part (with a note).
    Cut,
}

/// Which channels of the file to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channels {
    /// Every channel as recorded.
    All,
    /// At most two: a file with more is folded to stereo (odd channels to the left, even to the
    /// right, each side their mean), with a note.
    Stereo,
}

/// How [`load`] reads an IR.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IrPolicy {
    /// Channels to keep.
    pub channels: Channels,
    /// Longest IR, s (at most [`MAX_IR_SECONDS`]).
    pub max_seconds: f64,
    /// What happens beyond `max_seconds`.
    pub too_long: TooLong,
    /// Rate to resample to, Hz (`None`: the file's own).
    pub rate: Option<f64>,
}

impl IrPolicy {
    /// A room to fit, compare or analyse: every channel at the file's rate, at most
    /// [`MAX_IR_SECONDS`] long.
    pub const ROOM: IrPolicy = IrPolicy {
        channels: Channels::All,
        max_seconds: MAX_IR_SECONDS,
        too_long: TooLong::Refuse,
        rate: None,
    };

    /// An IR to play at `fs` Hz: at most two channels, its first `max_seconds` s.
    pub fn playback(fs: f64, max_seconds: f64) -> IrPolicy {
        IrPolicy {
            channels: Channels::Stereo,
            max_seconds: max_seconds.min(MAX_IR_SECONDS),
            too_long: TooLong::Cut,
            rate: Some(fs),
        }
    }
}

/// Why an IR could not be read.
#[derive(Debug, thiserror::Error)]
pub enum IrError {
    /// The WAV could not be read or broke a limit.
    #[error(transparent)]
    Wav(#[from] WavError),
    /// The file holds no samples.
    #[error("{path}: the WAV holds no samples")]
    Empty {
        /// The file.
        path: String,
    },
    /// Every sample is zero.
    #[error("{path}: the IR is silent")]
    Silent {
        /// The file.
        path: String,
    },
    /// Resampling to the wanted rate failed.
    #[error("{path}: resampling from {from} Hz to {to} Hz: {cause}")]
    Resample {
        /// The file.
        path: String,
        /// The file's rate, Hz.
        from: f64,
        /// The wanted rate, Hz.
        to: f64,
        /// What failed.
        cause: String,
    },
}

/// An IR as read under a policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Ir {
    /// Channels, samples at `sample_rate`.
    pub channels: Vec<Vec<f64>>,
    /// Sample rate, Hz.
    pub sample_rate: f64,
    /// The file's own rate, Hz.
    pub file_rate: f64,
    /// What was changed on the way (cut, folded, resampled), for the user.
    pub notes: Vec<String>,
}

/// Reads the IR at `path` under `policy`. A missing, corrupt, empty, non-finite or silent file
/// is an error naming the problem; so is one longer than the policy allows when it refuses.
pub fn load(path: &Path, policy: &IrPolicy) -> Result<Ir, IrError> {
    let name = path.display().to_string();
    let audio = read_wav(path)?;
    if audio.channels.is_empty() || audio.is_empty() {
        return Err(IrError::Empty { path: name });
    }
    let fs = audio.sample_rate;
    let mut notes = Vec::new();
    let n = audio.len();
    let max = policy.max_seconds.min(MAX_IR_SECONDS);
    let keep = match policy.too_long {
        TooLong::Refuse => {
            check_ir_length(&audio, &name, max)?;
            n
        }
        TooLong::Cut => {
            let keep = n.min((max * fs) as usize).max(1);
            if keep < n {
                notes.push(format!(
                    "the IR is {:.0} s long; the first {max:.0} s are used",
                    audio.duration_seconds()
                ));
            }
            keep
        }
    };
    let count = audio.channels.len();
    let channels: Vec<Vec<f64>> = match policy.channels {
        Channels::Stereo if count > 2 => {
            notes.push(format!("{count} channels folded to stereo"));
            (0..2)
                .map(|side| {
                    let group: Vec<&Vec<f64>> =
                        audio.channels.iter().skip(side).step_by(2).collect();
                    let k = group.len() as f64;
                    (0..keep)
                        .map(|i| group.iter().map(|c| c[i]).sum::<f64>() / k)
                        .collect()
                })
                .collect()
        }
        _ => audio.channels.iter().map(|c| c[..keep].to_vec()).collect(),
    };
    if channels.iter().flatten().all(|&v| v == 0.0) {
        return Err(IrError::Silent { path: name });
    }
    let (channels, sample_rate) = match policy.rate {
        Some(to) if (to - fs).abs() > 1e-9 => {
            notes.push(format!("resampled from {fs} Hz to {to} Hz"));
            let c =
                crate::resample::resample(&channels, fs, to).map_err(|e| IrError::Resample {
                    path: name.clone(),
                    from: fs,
                    to,
                    cause: e.to_string(),
                })?;
            (c, to)
        }
        _ => (channels, fs),
    };
    Ok(Ir {
        channels,
        sample_rate,
        file_rate: fs,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wav::write_wav;

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("tailor-ir-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d.join(name)
    }

    fn decay(n: usize, k: f64) -> Vec<f64> {
        (0..n)
            .map(|i| k * (-(i as f64) / 2000.0).exp() * if i % 2 == 0 { 1.0 } else { -0.5 })
            .collect()
    }

    #[test]
    fn a_room_keeps_every_channel_at_its_rate() {
        let p = tmp("room.wav");
        let ch: Vec<Vec<f64>> = (0..4).map(|k| decay(8000, 0.1 * (k + 1) as f64)).collect();
        write_wav(&p, 16000, &ch).unwrap();
        let ir = load(&p, &IrPolicy::ROOM).unwrap();
        assert_eq!(ir.channels.len(), 4);
        assert_eq!(ir.sample_rate, 16000.0);
        assert!(ir.notes.is_empty());
        assert!((ir.channels[2][0] - 0.3).abs() < 1e-6);
    }

    #[test]
    fn playback_folds_cuts_and_resamples_with_notes() {
        let p = tmp("play.wav");
        let ch: Vec<Vec<f64>> = (0..4).map(|k| decay(32000, 0.1 * (k + 1) as f64)).collect();
        write_wav(&p, 16000, &ch).unwrap();
        let ir = load(&p, &IrPolicy::playback(32000.0, 1.0)).unwrap();
        assert_eq!(ir.channels.len(), 2);
        assert_eq!(ir.sample_rate, 32000.0);
        assert_eq!(ir.file_rate, 16000.0);
        // 1 s at 32 kHz (the resampler may add a few samples of its filter's length).
        assert!(
            (ir.channels[0].len() as i64 - 32000).abs() < 200,
            "{}",
            ir.channels[0].len()
        );
        assert_eq!(ir.notes.len(), 3, "{:?}", ir.notes);
        // Left = mean of channels 0 and 2 (0.1 and 0.3 at the first sample).
        let ir = load(
            &p,
            &IrPolicy {
                rate: None,
                ..IrPolicy::playback(16000.0, 1.0)
            },
        )
        .unwrap();
        assert!((ir.channels[0][0] - 0.2).abs() < 1e-6);
        assert!((ir.channels[1][0] - 0.3).abs() < 1e-6);
    }

    #[test]
    fn bad_files_are_named_errors() {
        let silent = tmp("silent.wav");
        write_wav(&silent, 16000, &[vec![0.0; 100]]).unwrap();
        let e = load(&silent, &IrPolicy::ROOM).unwrap_err().to_string();
        assert!(e.contains("silent"), "{e}");
        let long = tmp("long.wav");
        write_wav(&long, 8000, &[decay(8000 * 3, 0.5)]).unwrap();
        let strict = IrPolicy {
            max_seconds: 2.0,
            ..IrPolicy::ROOM
        };
        let e = load(&long, &strict).unwrap_err().to_string();
        assert!(e.contains("trim it"), "{e}");
        let missing = tmp("missing.wav");
        assert!(load(&missing, &IrPolicy::ROOM).is_err());
        let _ = std::fs::remove_dir_all(silent.parent().unwrap());
    }
}
