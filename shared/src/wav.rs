//! WAV reading and writing (hound), with errors that name the problem.

use crate::limits::{self, LimitError};
use std::path::Path;

/// Why a WAV file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum WavError {
    /// The file is missing, empty, truncated or not a WAV file.
    #[error("{path}: not a readable WAV file ({cause})")]
    Format {
        /// File path.
        path: String,
        /// hound's error.
        cause: hound::Error,
    },
    /// The file has no samples.
    #[error("{path}: WAV file holds no samples")]
    Empty {
        /// File path.
        path: String,
    },
    /// A sample is NaN or infinite.
    #[error("{path}: WAV sample {index} is not finite")]
    NonFinite {
        /// File path.
        path: String,
        /// Frame index.
        index: usize,
    },
    /// Writing failed.
    #[error("{path}: cannot write WAV ({cause})")]
    Write {
        /// File path.
        path: String,
        /// hound's error.
        cause: hound::Error,
    },
    /// The file could not be opened or read.
    #[error("{path}: cannot read file ({cause})")]
    Io {
        /// File path.
        path: String,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// The RIFF chunk structure is broken (before any sample is decoded).
    #[error("{path}: not a readable WAV file ({message})")]
    Chunks {
        /// File path.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The file (or the signal to write) is outside a stated limit ([`crate::limits`]).
    #[error("{path}: {cause}")]
    Limit {
        /// File path.
        path: String,
        /// The limit broken.
        cause: LimitError,
    },
    /// A sample to write is not finite or beyond the 32-bit float range; nothing is written.
    #[error("{path}: refusing to write: sample {index} of channel {channel} is {value} (not a finite 32-bit float)")]
    BadSample {
        /// File path.
        path: String,
        /// Channel index.
        channel: usize,
        /// Frame index.
        index: usize,
        /// The value.
        value: f64,
    },
}

/// Audio read from a WAV file: one `Vec` per channel, samples scaled to [-1, 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    /// Sample rate in Hz.
    pub sample_rate: f64,
    /// Channels of equal length (samples).
    pub channels: Vec<Vec<f64>>,
}

impl Audio {
    /// Frames per channel.
    pub fn len(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }
    /// True when there are no frames.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Length in seconds.
    pub fn duration_seconds(&self) -> f64 {
        self.len() as f64 / self.sample_rate
    }
}

/// Reads a PCM (8–32 bit) or float WAV file within the stated limits ([`crate::limits`]: rate,
/// channels, total samples). RIFF chunks are walked with their pad bytes, so metadata chunks of
/// any size before or after `fmt ` are skipped.
pub fn read_wav(path: &Path) -> Result<Audio, WavError> {
    let p = path.display().to_string();
    let io = |cause| WavError::Io {
        path: p.clone(),
        cause,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    // The largest accepted file: every sample as 32-bit data, plus room for metadata chunks.
    let max_bytes = (limits::MAX_TOTAL_SAMPLES as u64) * 4 + (16 << 20);
    if size > max_bytes {
        return Err(WavError::Chunks {
            path: p,
            message: format!("{size} bytes is larger than the {max_bytes}-byte limit"),
        });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    read_wav_bytes(&bytes, &p)
}

/// Refuses audio longer than `max_s` seconds (at most [`limits::MAX_IR_SECONDS`]) as an impulse
/// response (an IR followed by minutes of noise or silence is not an IR; trim it); `name` is
/// what the error names.
pub fn check_ir_length(audio: &Audio, name: &str, max_s: f64) -> Result<(), WavError> {
    let seconds = audio.duration_seconds();
    let max = max_s.min(limits::MAX_IR_SECONDS);
    if seconds > max {
        return Err(WavError::Limit {
            path: name.into(),
            cause: LimitError::Duration {
                what: "impulse response (trim it)".into(),
                seconds,
                max,
            },
        });
    }
    Ok(())
}

/// Reads a WAV file held in memory (e.g. embedded data); `name` is used in errors.
pub fn read_wav_bytes(bytes: &[u8], name: &str) -> Result<Audio, WavError> {
    let p = name.to_string();
    let canonical = canonical_riff(bytes).map_err(|message| WavError::Chunks {
        path: p.clone(),
        message,
    })?;
    let reader = hound::WavReader::new(std::io::Cursor::new(&canonical[..])).map_err(|cause| {
        WavError::Format {
            path: p.clone(),
            cause,
        }
    })?;
    decode(reader, p)
}

/// The `fmt ` and `data` chunks of a RIFF/WAVE file as a minimal canonical WAV (header, `fmt `,
/// `data`), for hound: walks every chunk with its pad byte (odd-sized chunks are followed by one
/// byte, which hound's own walk does not skip), ignores all others.
fn canonical_riff(bytes: &[u8]) -> Result<Vec<u8>, String> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err("no RIFF/WAVE header".into());
    }
    let u32_at =
        |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let mut fmt: Option<&[u8]> = None;
    let mut data: Option<&[u8]> = None;
    let mut at = 12usize;
    while at + 8 <= bytes.len() && data.is_none() {
        let id = &bytes[at..at + 4];
        let len = u32_at(at + 4) as usize;
        let body = at + 8;
        let available = bytes.len() - body;
        if id == b"data" {
            if fmt.is_none() {
                return Err("data chunk before the fmt chunk".into());
            }
            if len > available {
                return Err(format!(
                    "data chunk claims {len} bytes but only {available} remain (truncated file)"
                ));
            }
            data = Some(&bytes[body..body + len]);
        } else {
            if len > available {
                return Err(format!(
                    "chunk '{}' claims {len} bytes but only {available} remain (truncated file)",
                    String::from_utf8_lossy(id)
                ));
            }
            if id == b"fmt " && fmt.is_none() {
                fmt = Some(&bytes[body..body + len]);
            }
        }
        at = body + len + (len & 1);
    }
    let fmt = fmt.ok_or("no fmt chunk")?;
    let data = data.ok_or("no data chunk")?;
    let mut out = Vec::with_capacity(44 + fmt.len() + data.len());
    let riff_len = 4 + 8 + fmt.len() + (fmt.len() & 1) + 8 + data.len();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(riff_len.min(u32::MAX as usize) as u32).to_le_bytes());
    out.extend_from_slice(b"WAVE");
    out.extend_from_slice(b"fmt ");
    out.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
    out.extend_from_slice(fmt);
    if fmt.len() & 1 == 1 {
        out.push(0);
    }
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    Ok(out)
}

fn decode<R: std::io::Read>(reader: hound::WavReader<R>, p: String) -> Result<Audio, WavError> {
    let spec = reader.spec();
    let limit = |cause| WavError::Limit {
        path: p.clone(),
        cause,
    };
    limits::check_sample_rate("WAV", f64::from(spec.sample_rate)).map_err(limit)?;
    limits::check_count(
        "WAV",
        usize::from(spec.channels),
        limits::MAX_CHANNELS,
        "channels",
    )
    .map_err(limit)?;
    limits::check_total_samples("WAV", reader.len() as usize, 1).map_err(limit)?;
    let nch = spec.channels.max(1) as usize;
    let samples: Vec<f64> = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .into_samples::<f32>()
            .map(|s| s.map(f64::from))
            .collect::<Result<_, _>>()
            .map_err(|cause| WavError::Format {
                path: p.clone(),
                cause,
            })?,
        hound::SampleFormat::Int => {
            if !(1..=32).contains(&spec.bits_per_sample) {
                return Err(WavError::Chunks {
                    path: p,
                    message: format!("{} bits per integer sample", spec.bits_per_sample),
                });
            }
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f64;
            reader
                .into_samples::<i32>()
                .map(|s| s.map(|v| v as f64 * scale))
                .collect::<Result<_, _>>()
                .map_err(|cause| WavError::Format {
                    path: p.clone(),
                    cause,
                })?
        }
    };
    if samples.len() < nch {
        return Err(WavError::Empty { path: p });
    }
    if let Some(i) = samples.iter().position(|v| !v.is_finite()) {
        return Err(WavError::NonFinite {
            path: p,
            index: i / nch,
        });
    }
    let frames = samples.len() / nch;
    let channels = (0..nch)
        .map(|c| (0..frames).map(|f| samples[f * nch + c]).collect())
        .collect();
    Ok(Audio {
        sample_rate: spec.sample_rate as f64,
        channels,
    })
}

/// Refuses `channels` unless every sample is finite and within the 32-bit float range, naming
/// the first bad one; `path` is what the error names.
pub fn check_writable(path: &str, channels: &[Vec<f64>]) -> Result<(), WavError> {
    for (c, ch) in channels.iter().enumerate() {
        if let Some(i) = ch
            .iter()
            .position(|v| !(v.is_finite() && v.abs() <= f64::from(f32::MAX)))
        {
            return Err(WavError::BadSample {
                path: path.into(),
                channel: c,
                index: i,
                value: ch[i],
            });
        }
    }
    Ok(())
}

/// Writes channels of equal length as a 32-bit float WAV at `sample_rate` Hz.
/// Refuses (before creating the file) a rate or channel count outside [`crate::limits`],
/// channels of unequal length and any sample [`check_writable`] refuses.
pub fn write_wav(path: &Path, sample_rate: u32, channels: &[Vec<f64>]) -> Result<(), WavError> {
    let p = path.display().to_string();
    let limit = |cause| WavError::Limit {
        path: p.clone(),
        cause,
    };
    limits::check_sample_rate("output", f64::from(sample_rate)).map_err(limit)?;
    if channels.is_empty() {
        return Err(WavError::Empty { path: p });
    }
    limits::check_count("output", channels.len(), limits::MAX_CHANNELS, "channels")
        .map_err(limit)?;
    let frames = channels[0].len();
    if channels.iter().any(|c| c.len() != frames) {
        return Err(WavError::Chunks {
            path: p,
            message: "channels of unequal length".into(),
        });
    }
    limits::check_total_samples("output", frames, channels.len()).map_err(limit)?;
    check_writable(&p, channels)?;
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let wrap = |cause| WavError::Write {
        path: p.clone(),
        cause,
    };
    let mut w = hound::WavWriter::create(path, spec).map_err(wrap)?;
    let frames = channels.first().map_or(0, Vec::len);
    for f in 0..frames {
        for ch in channels {
            w.write_sample(ch[f] as f32).map_err(wrap)?;
        }
    }
    w.finalize().map_err(wrap)
}
