//! Loss math on candle tensors: every seed loss, differentiable, matching the reference libraries.
//!
//! One file per family. Complex values are (re, im) tensor pairs ([`complex::ComplexTensor`]);
//! FFTs are custom candle ops with an analytic backward.

pub mod colorless;
pub mod complex;
pub mod fdn_loss_error;
pub mod fft;
pub mod mel;
pub mod mss;
pub mod objective;
pub mod reduce;
pub mod sparsity;
