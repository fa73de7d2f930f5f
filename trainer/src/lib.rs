//! Tailor's trainer library: golden-vector conformance and the `tailor` CLI commands.

pub mod ab;
pub mod cli;
pub mod conformance;
pub mod golden;
pub mod train;
