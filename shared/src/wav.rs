//! WAV reading and writing (hound), with errors that name the problem.

use std::path::Path;

/// Why a WAV file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum WavError {
    /// The file is missing, empty, truncated or not a WAV file.
    #[error("{path}: not a readable WAV file ({source})")]
    Format {
        /// File path.
        path: String,
        /// hound's error.
        source: hound::Error,
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
    #[error("{path}: cannot write WAV ({source})")]
    Write {
        /// File path.
        path: String,
        /// hound's error.
        source: hound::Error,
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

/// Reads a PCM (8–32 bit) or float WAV file.
pub fn read_wav(path: &Path) -> Result<Audio, WavError> {
    let p = path.display().to_string();
    let reader = hound::WavReader::open(path).map_err(|source| WavError::Format {
        path: p.clone(),
        source,
    })?;
    decode(reader, p)
}

/// Reads a WAV file held in memory (e.g. embedded data); `name` is used in errors.
pub fn read_wav_bytes(bytes: &[u8], name: &str) -> Result<Audio, WavError> {
    let p = name.to_string();
    let reader =
        hound::WavReader::new(std::io::Cursor::new(bytes)).map_err(|source| WavError::Format {
            path: p.clone(),
            source,
        })?;
    decode(reader, p)
}

fn decode<R: std::io::Read>(reader: hound::WavReader<R>, p: String) -> Result<Audio, WavError> {
    let spec = reader.spec();
    let nch = spec.channels.max(1) as usize;
    let samples: Vec<f64> = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .into_samples::<f32>()
            .map(|s| s.map(f64::from))
            .collect::<Result<_, _>>()
            .map_err(|source| WavError::Format {
                path: p.clone(),
                source,
            })?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f64;
            reader
                .into_samples::<i32>()
                .map(|s| s.map(|v| v as f64 * scale))
                .collect::<Result<_, _>>()
                .map_err(|source| WavError::Format {
                    path: p.clone(),
                    source,
                })?
        }
    };
    if samples.is_empty() {
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

/// Writes channels of equal length as a 32-bit float WAV at `sample_rate` Hz.
pub fn write_wav(path: &Path, sample_rate: u32, channels: &[Vec<f64>]) -> Result<(), WavError> {
    let p = path.display().to_string();
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let wrap = |source| WavError::Write {
        path: p.clone(),
        source,
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
