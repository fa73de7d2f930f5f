//! Tailor's shared core: the FDN model, presets, decay filters, responses and analysis.
//!
//! Everything here is plain math on plain data (no I/O threads, no GUI); the trainer and the
//! plugin call into it and never re-implement DSP or loss math.
//!
//! The candle tensor ops, the differentiable losses and training (`loss`, `train`, `real`)
//! are behind the default feature `grad`; without it (the plugin's build) nothing here depends
//! on candle.

pub mod analysis;
pub mod convolution;
pub mod decay;
pub mod delays;
pub mod engine;
pub mod fx;
pub mod geq;
pub mod hrtf;
pub mod ir;
pub mod limits;
pub mod linalg;
#[cfg(feature = "grad")]
pub mod loss;
pub mod loudness;
pub mod matrix;
pub mod mix;
pub mod preset;
#[cfg(feature = "grad")]
pub mod real;
pub mod resample;
pub mod response;
pub mod room;
pub mod sos;
pub mod third_octave_eq;
#[cfg(feature = "grad")]
pub mod train;
pub mod wav;

pub use decay::{with_decay, Rt};
pub use matrix::Matrix;
pub use preset::{Build, BuildParts, Preset, PresetError};
