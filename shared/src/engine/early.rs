//! The early-reflections FIR of a fitted preset inside a prepared state: a
//! [`MimoConvolver`] from the FDN inputs to the FDN outputs whose output is added to the wet FDN
//! output (`h = h_fdn + fir`, see [`crate::preset::early`]). Prepared (and resampled) off the
//! audio thread with the rest of the state; allocation-free afterwards.

use super::EngineError;
use crate::convolution::MimoConvolver;
use crate::preset::{Build, EarlyReflections, PresetError};

/// Most FDN inputs or outputs an early FIR may connect.
pub const MAX_EARLY_CHANNELS: usize = 64;

/// A prepared early-reflections FIR: `y[o] += Σ_i fir[o][i] * u[i]`.
pub struct EarlyFir {
    conv: MimoConvolver,
    /// The FIRs at the build's rate, `[o][i]` (kept to rebuild the convolver on `clone`).
    irs: Vec<Vec<Vec<f32>>>,
    max_block: usize,
    /// Convolver output, `n_out × stride`.
    out: Vec<f32>,
    stride: usize,
}

impl std::fmt::Debug for EarlyFir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EarlyFir")
            .field("convolver", &self.conv)
            .field("taps", &self.len())
            .finish()
    }
}

impl Clone for EarlyFir {
    /// A fresh FIR with the same taps and zero signal state (allocates).
    fn clone(&self) -> Self {
        let rows: Vec<Vec<&[f32]>> = self
            .irs
            .iter()
            .map(|r| r.iter().map(Vec::as_slice).collect())
            .collect();
        let conv = MimoConvolver::new(&rows, self.max_block)
            .expect("the taps were accepted when the FIR was prepared");
        Self {
            conv,
            irs: self.irs.clone(),
            max_block: self.max_block,
            out: vec![0.0; self.out.len()],
            stride: self.stride,
        }
    }
}

impl EarlyFir {
    /// Prepares `early` for `build` (shape checked, resampled to the build's rate when needed)
    /// with blocks of up to `stride` samples. Allocates; call off the audio thread.
    pub fn new(
        early: &EarlyReflections,
        build: &Build,
        max_block: usize,
        stride: usize,
    ) -> Result<Self, EngineError> {
        early.check_build(build)?;
        if early.n_in() > MAX_EARLY_CHANNELS || early.n_out() > MAX_EARLY_CHANNELS {
            return Err(EngineError::Config(format!(
                "tailor.early.fir has {} × {} channels; at most {MAX_EARLY_CHANNELS} each are supported",
                early.n_out(),
                early.n_in()
            )));
        }
        let at_rate = early.at_rate(build.sample_rate())?;
        let irs: Vec<Vec<Vec<f32>>> = at_rate
            .fir()
            .iter()
            .map(|r| {
                r.iter()
                    .map(|h| h.iter().map(|&v| v as f32).collect())
                    .collect()
            })
            .collect();
        let rows: Vec<Vec<&[f32]>> = irs
            .iter()
            .map(|r| r.iter().map(Vec::as_slice).collect())
            .collect();
        let conv = MimoConvolver::new(&rows, max_block)
            .map_err(|e| PresetError::field("tailor.early.fir", e.to_string()))?;
        Ok(Self {
            conv,
            max_block,
            out: vec![0.0; irs.len() * stride],
            stride,
            irs,
        })
    }

    /// Length of the longest FIR in samples (at the build's rate).
    pub fn len(&self) -> usize {
        self.irs.iter().flatten().map(Vec::len).max().unwrap_or(0)
    }

    /// Always false: a prepared FIR has at least one tap.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Convolves `b ≤ stride` samples of the FDN inputs `u` (rows of `stride`) and adds the
    /// result to the FDN outputs `y` (rows of `stride`). Allocation-free.
    pub fn process_add(&mut self, u: &[f32], y: &mut [f32], b: usize) {
        let s = self.stride;
        let b = b.min(s);
        let n_in = self.conv.n_inputs();
        let n_out = self.conv.n_outputs();
        let mut ins: [&[f32]; MAX_EARLY_CHANNELS] = [&[]; MAX_EARLY_CHANNELS];
        for (j, slot) in ins.iter_mut().enumerate().take(n_in) {
            *slot = &u[j * s..j * s + b];
        }
        let mut outs: [&mut [f32]; MAX_EARLY_CHANNELS] =
            std::array::from_fn(|_| <&mut [f32]>::default());
        for (slot, chunk) in outs.iter_mut().zip(self.out.chunks_mut(s)).take(n_out) {
            *slot = &mut chunk[..b];
        }
        self.conv.process(&ins[..n_in], &mut outs[..n_out]);
        for o in 0..n_out {
            let src = &self.out[o * s..o * s + b];
            for (acc, &v) in y[o * s..o * s + b].iter_mut().zip(src) {
                *acc += v;
            }
        }
    }

    /// Clears the convolver's signal state (the taps are kept).
    pub fn reset(&mut self) {
        self.conv.reset();
        self.out.fill(0.0);
    }
}
