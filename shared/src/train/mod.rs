//! Differentiable FDN pieces for training: the FDN response op (analytic adjoint), the SOS
//! cascade response op, and RT/dB → SOS designs on candle tensors.

pub mod designs;
mod fdn_kernel;
pub mod fdn_op;
pub mod geq;
pub mod logm;
pub mod sos_op;

#[cfg(test)]
mod tests;

pub use fdn_op::{FdnInputs, FdnOpError, FdnOutput, FdnResponse, FdnSpec, Hook};
pub use sos_op::SosResponse;
