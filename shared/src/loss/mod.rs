//! Loss math on candle tensors: every seed loss, differentiable, matching the reference libraries.
//!
//! One file per family. Complex values are (re, im) tensor pairs ([`complex::ComplexTensor`]);
//! FFTs are custom candle ops with an analytic backward.

pub mod aggregator;
pub mod colorless;
pub mod complex;
pub mod component;
pub mod edc;
pub mod fdn_loss_error;
pub mod fft;
pub mod hrtf;
pub mod mel;
pub mod mss;
mod mss_l2;
pub mod objective;
pub mod reduce;
pub mod sparsity;
pub mod tensorboard;
pub mod torch_ops;

pub use aggregator::{AggregatorError, LossAggregator, LossParameters, LossTerms};
pub use component::{
    component_loss, component_weights, kl_div_loss, weighted_component_loss, AuralflowLossError,
};
pub use hrtf::{
    hrtf_loss, hrtf_loss_from_names, HrtfInput, HrtfLossError, InputScale, Metric, Reduction,
};
