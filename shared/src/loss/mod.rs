//! Loss math on candle tensors: every seed loss, differentiable, matching the reference libraries.
//!
//! One file per family. Complex values are (re, im) tensor pairs ([`complex::ComplexTensor`]);
//! FFTs are custom candle ops with an analytic backward.

pub mod complex;
