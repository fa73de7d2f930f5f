//! The seed training API (pyFDN `build_fdn` / `trainable_from_build` / `train_fdn` /
//! `extract_build`) on candle, with the FDN response op of `tailor::train`.

pub mod fit;
pub mod lbfgs;
pub mod loss;
pub mod model;
pub mod room;
pub mod target;

#[cfg(test)]
mod tests;

pub use fit::{train_fdn, train_fdn_with, Optimizer, Plateau, TrainLog, TrainOptions};
pub use loss::{
    colorless, match_mel_spectrogram, match_spectrogram, Criterion, FlatMagnitude, Loss,
    LossContext, MatchMelSpectrogram, MatchSpectrogram, Sparsity, DEFAULT_MSS_NFFT,
};
pub use model::{
    build_fdn, extract_build, initial_rt, model_from_parts, trainable_from_build, with_decay,
    Attenuation, AttenuationDesign, BuildFdnOptions, FdnModel, MatrixKind, ModelOptions, OutputEq,
    PostDelay, Trainable,
};
