//! Uniformly partitioned FFT convolution (overlap-save in the frequency domain), zero latency,
//! allocation-free after construction.
//!
//! One engine serves every FIR job in Tailor: a single IR ([`Convolver`], e.g. the plugin's
//! reference-IR A/B), and many inputs summed into several outputs through an IR matrix
//! ([`MimoConvolver`], e.g. binaural output: N FDN channels → 2 ears, or early reflections of
//! fitted presets). Input spectra are computed once per input and shared by every output, and the
//! per-output sums are formed in the frequency domain, so a call costs one forward FFT per input
//! and one inverse FFT per output per partition boundary touched.
//!
//! Algorithm (the zero-latency scheme of uniformly partitioned convolution): the IRs are cut into
//! partitions of `P` samples (P = `max_block` rounded up to a power of two, ≥ 16) and transformed
//! with a `2P` real FFT. Incoming samples fill a `P`-sample input segment; on every call the
//! current (partially filled, zero-padded) segment is transformed and multiplied with partition 0,
//! and added to the products of the older segments with partitions `1..S` (computed once per
//! segment). The first half of the inverse transform plus the overlap of the previous segment is
//! the output, so there is no added latency and any call length works.

use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use std::sync::Arc;

/// Smallest partition length in samples.
const MIN_PARTITION: usize = 16;

/// Errors of [`MimoConvolver::new`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConvolutionError {
    /// The IR matrix has no inputs or no outputs.
    #[error("a convolver needs at least one input and one output")]
    Empty,
    /// A row of the IR matrix has the wrong number of entries.
    #[error("IR matrix row {row} has {got} entries, expected {expected} (one per input)")]
    RaggedMatrix {
        /// Output (row) index.
        row: usize,
        /// Entries found.
        got: usize,
        /// Entries expected (number of inputs).
        expected: usize,
    },
    /// An IR contains NaN or ±inf.
    #[error("IR for output {output}, input {input} contains a non-finite sample")]
    NonFinite {
        /// Output index.
        output: usize,
        /// Input index.
        input: usize,
    },
}

/// A multi-input multi-output partitioned convolver: `out[o] = Σ_i in[i] * ir[o][i]`.
pub struct MimoConvolver {
    part: usize,
    segments: usize,
    n_in: usize,
    n_out: usize,
    fft: Arc<dyn RealToComplex<f32>>,
    ifft: Arc<dyn ComplexToReal<f32>>,
    /// IR partition spectra, `[o][i][s][bin]` flattened; scaled by `1/(2P)`. `None` = all-zero IR.
    irs: Vec<Option<Vec<Complex32>>>,
    /// Outputs whose IRs are all zero (always silent: no transform is spent on them).
    silent: Vec<bool>,
    /// Current input segment per input, `n_in × P`.
    in_buf: Vec<f32>,
    /// Ring of input segment spectra per input, `n_in × S × bins`.
    seg: Vec<Complex32>,
    /// Sum over older segments per output, `n_out × bins`.
    premult: Vec<Complex32>,
    /// Second half of the last full segment's inverse transform per output, `n_out × P`.
    overlap: Vec<f32>,
    fill: usize,
    current: usize,
    time: Vec<f32>,
    conv: Vec<Complex32>,
    fft_scratch: Vec<Complex32>,
    ifft_scratch: Vec<Complex32>,
}

impl std::fmt::Debug for MimoConvolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MimoConvolver")
            .field("partition", &self.part)
            .field("segments", &self.segments)
            .field("inputs", &self.n_in)
            .field("outputs", &self.n_out)
            .finish()
    }
}

impl MimoConvolver {
    /// Builds a convolver from an IR matrix `irs[output][input]` (samples at the session rate;
    /// an empty or all-zero IR contributes nothing) with partitions sized for `max_block` samples.
    pub fn new(irs: &[Vec<&[f32]>], max_block: usize) -> Result<Self, ConvolutionError> {
        let n_out = irs.len();
        let n_in = irs.first().map_or(0, Vec::len);
        if n_out == 0 || n_in == 0 {
            return Err(ConvolutionError::Empty);
        }
        for (row, r) in irs.iter().enumerate() {
            if r.len() != n_in {
                return Err(ConvolutionError::RaggedMatrix {
                    row,
                    got: r.len(),
                    expected: n_in,
                });
            }
            for (input, ir) in r.iter().enumerate() {
                if ir.iter().any(|v| !v.is_finite()) {
                    return Err(ConvolutionError::NonFinite { output: row, input });
                }
            }
        }
        let part = max_block.max(MIN_PARTITION).next_power_of_two();
        let longest = irs.iter().flatten().map(|ir| ir.len()).max().unwrap_or(0);
        let segments = longest.div_ceil(part).max(1);
        let bins = part + 1;
        let mut planner = RealFftPlanner::<f32>::new();
        let fft = planner.plan_fft_forward(2 * part);
        let ifft = planner.plan_fft_inverse(2 * part);
        let mut fft_scratch = fft.make_scratch_vec();
        let scale = 1.0 / (2 * part) as f32;
        let mut time = vec![0.0f32; 2 * part];
        let mut spec = vec![Complex32::new(0.0, 0.0); bins];
        let mut out_irs = Vec::with_capacity(n_out * n_in);
        for row in irs {
            for ir in row {
                if ir.iter().all(|&v| v == 0.0) {
                    out_irs.push(None);
                    continue;
                }
                let mut h = vec![Complex32::new(0.0, 0.0); segments * bins];
                for (s, chunk) in ir.chunks(part).enumerate() {
                    time.fill(0.0);
                    for (t, v) in time.iter_mut().zip(chunk) {
                        *t = v * scale;
                    }
                    // Lengths are the planned ones, so the transform cannot fail.
                    let _ = fft.process_with_scratch(&mut time, &mut spec, &mut fft_scratch);
                    h[s * bins..(s + 1) * bins].copy_from_slice(&spec);
                }
                out_irs.push(Some(h));
            }
        }
        let ifft_scratch = ifft.make_scratch_vec();
        let silent = out_irs
            .chunks(n_in)
            .map(|row| row.iter().all(Option::is_none))
            .collect();
        Ok(Self {
            part,
            segments,
            n_in,
            n_out,
            fft,
            ifft,
            irs: out_irs,
            silent,
            in_buf: vec![0.0; n_in * part],
            seg: vec![Complex32::new(0.0, 0.0); n_in * segments * bins],
            premult: vec![Complex32::new(0.0, 0.0); n_out * bins],
            overlap: vec![0.0; n_out * part],
            fill: 0,
            current: 0,
            time,
            conv: spec,
            fft_scratch,
            ifft_scratch,
        })
    }

    /// Partition length `P` in samples (also the FFT hop; the FFT length is `2P`).
    pub fn partition_len(&self) -> usize {
        self.part
    }

    /// Number of inputs.
    pub fn n_inputs(&self) -> usize {
        self.n_in
    }

    /// Number of outputs.
    pub fn n_outputs(&self) -> usize {
        self.n_out
    }

    /// Clears all signal state (the IRs are kept); the next sample starts a fresh convolution.
    pub fn reset(&mut self) {
        self.in_buf.fill(0.0);
        self.seg.fill(Complex32::new(0.0, 0.0));
        self.premult.fill(Complex32::new(0.0, 0.0));
        self.overlap.fill(0.0);
        self.fill = 0;
        self.current = 0;
    }

    /// Convolves one block: `inputs` (one slice per input) into `outputs` (one per output, written,
    /// not added). Processes `len` = the shortest of all slices; output samples past `len` are left
    /// untouched, missing inputs/outputs (fewer slices than channels) are treated as silent/ignored.
    /// Allocation-free; any `len` works (blocks longer than the partition are split internally).
    pub fn process(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let len = inputs
            .iter()
            .map(|x| x.len())
            .chain(outputs.iter().map(|y| y.len()))
            .min()
            .unwrap_or(0);
        let p = self.part;
        let bins = p + 1;
        let s_count = self.segments;
        let mut done = 0;
        while done < len {
            let was_empty = self.fill == 0;
            let pos = self.fill;
            let n = (len - done).min(p - pos);
            // Forward transform of every input's current (zero-padded) segment.
            for i in 0..self.n_in {
                let buf = &mut self.in_buf[i * p..(i + 1) * p];
                match inputs.get(i) {
                    Some(x) => buf[pos..pos + n].copy_from_slice(&x[done..done + n]),
                    None => buf[pos..pos + n].fill(0.0),
                }
                self.time[..p].copy_from_slice(buf);
                self.time[p..].fill(0.0);
                let at = (i * s_count + self.current) * bins;
                let _ = self.fft.process_with_scratch(
                    &mut self.time,
                    &mut self.seg[at..at + bins],
                    &mut self.fft_scratch,
                );
            }
            if was_empty {
                self.premultiply();
            }
            let completes = pos + n == p;
            for o in 0..self.n_out {
                if self.silent[o] {
                    if let Some(y) = outputs.get_mut(o) {
                        y[done..done + n].fill(0.0);
                    }
                    continue;
                }
                self.conv
                    .copy_from_slice(&self.premult[o * bins..(o + 1) * bins]);
                for i in 0..self.n_in {
                    if let Some(h) = &self.irs[o * self.n_in + i] {
                        let x = &self.seg[(i * s_count + self.current) * bins..][..bins];
                        for ((c, a), b) in self.conv.iter_mut().zip(x).zip(&h[..bins]) {
                            *c += a * b;
                        }
                    }
                }
                self.conv[0].im = 0.0;
                self.conv[p].im = 0.0;
                let _ = self.ifft.process_with_scratch(
                    &mut self.conv,
                    &mut self.time,
                    &mut self.ifft_scratch,
                );
                let ov = &mut self.overlap[o * p..(o + 1) * p];
                if let Some(y) = outputs.get_mut(o) {
                    for j in 0..n {
                        y[done + j] = self.time[pos + j] + ov[pos + j];
                    }
                }
                if completes {
                    ov.copy_from_slice(&self.time[p..]);
                }
            }
            self.fill += n;
            if completes {
                self.in_buf.fill(0.0);
                self.fill = 0;
                self.current = (self.current + s_count - 1) % s_count;
            }
            done += n;
        }
    }

    /// `premult[o] = Σ_i Σ_{s ≥ 1} H[o][i][s] · X_i[current + s]` (older segments).
    fn premultiply(&mut self) {
        let bins = self.part + 1;
        let s_count = self.segments;
        self.premult.fill(Complex32::new(0.0, 0.0));
        if s_count < 2 {
            return;
        }
        for o in 0..self.n_out {
            let acc = &mut self.premult[o * bins..(o + 1) * bins];
            for i in 0..self.n_in {
                let Some(h) = &self.irs[o * self.n_in + i] else {
                    continue;
                };
                for s in 1..s_count {
                    let idx = (self.current + s) % s_count;
                    let x = &self.seg[(i * s_count + idx) * bins..][..bins];
                    let hs = &h[s * bins..(s + 1) * bins];
                    for ((c, a), b) in acc.iter_mut().zip(x).zip(hs) {
                        *c += a * b;
                    }
                }
            }
        }
    }
}

/// A single-input single-output partitioned convolver (thin wrapper over [`MimoConvolver`]).
#[derive(Debug)]
pub struct Convolver {
    inner: MimoConvolver,
}

impl Convolver {
    /// Builds a convolver for `ir` (samples; may be empty → silence) with partitions sized for
    /// blocks of `max_block` samples. Non-finite IR samples are replaced by 0.
    pub fn new(ir: &[f32], max_block: usize) -> Self {
        let clean: Vec<f32> = ir
            .iter()
            .map(|&v| if v.is_finite() { v } else { 0.0 })
            .collect();
        let inner = match MimoConvolver::new(&[vec![clean.as_slice()]], max_block) {
            Ok(c) => c,
            // One row with one finite IR is always a valid matrix.
            Err(e) => unreachable!("1×1 finite IR matrix rejected: {e}"),
        };
        Self { inner }
    }

    /// Partition length `P` in samples.
    pub fn partition_len(&self) -> usize {
        self.inner.partition_len()
    }

    /// Convolves `min(input.len(), output.len())` samples (output written, not added);
    /// allocation-free, zero latency, any block length.
    pub fn process(&mut self, input: &[f32], output: &mut [f32]) {
        self.inner.process(&[input], &mut [output]);
    }

    /// Clears the signal state (IR kept).
    pub fn reset(&mut self) {
        self.inner.reset();
    }
}

/// Direct (time-domain) linear convolution in f64, full length `x.len() + h.len() − 1`
/// (empty if either is empty); the reference the tests compare the FFT engine with.
pub fn direct_convolution(x: &[f64], h: &[f64]) -> Vec<f64> {
    if x.is_empty() || h.is_empty() {
        return Vec::new();
    }
    let mut y = vec![0.0; x.len() + h.len() - 1];
    for (n, &xv) in x.iter().enumerate() {
        if xv == 0.0 {
            continue;
        }
        for (k, &hv) in h.iter().enumerate() {
            y[n + k] += xv * hv;
        }
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn noise(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
    }

    fn max_rel_err(got: &[f32], want: &[f64]) -> f64 {
        let peak = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let err = got
            .iter()
            .zip(want)
            .fold(0.0f64, |m, (g, w)| m.max((*g as f64 - w).abs()));
        err / peak
    }

    /// Streams `x` through `c` in blocks whose lengths cycle through `blocks`.
    fn stream(c: &mut Convolver, x: &[f32], blocks: &[usize]) -> Vec<f32> {
        let mut y = vec![0.0f32; x.len()];
        let mut at = 0;
        let mut k = 0;
        while at < x.len() {
            let n = blocks[k % blocks.len()].min(x.len() - at);
            c.process(&x[at..at + n], &mut y[at..at + n]);
            at += n;
            k += 1;
        }
        y
    }

    #[test]
    fn matches_direct_convolution_for_many_block_sizes_and_ir_lengths() {
        for (ir_len, max_block) in [
            (1, 64),
            (7, 16),
            (100, 32),
            (512, 64),
            (1500, 128),
            (4096, 256),
        ] {
            let h = noise(ir_len, ir_len as u64);
            let x = noise(3000, 99);
            let hd: Vec<f64> = h.iter().map(|&v| v as f64).collect();
            let xd: Vec<f64> = x.iter().map(|&v| v as f64).collect();
            let want = direct_convolution(&xd, &hd);
            for blocks in [
                vec![max_block],
                vec![1],
                vec![max_block / 2 + 3],
                vec![5, 17, max_block, 1, 3 * max_block + 7],
            ] {
                let mut c = Convolver::new(&h, max_block);
                let got = stream(&mut c, &x, &blocks);
                let e = max_rel_err(&got, &want[..x.len()]);
                assert!(e <= 1e-5, "ir {ir_len} block {blocks:?}: rel err {e}");
            }
        }
    }

    #[test]
    fn reset_restarts_the_convolution() {
        let h = noise(300, 1);
        let x = noise(700, 2);
        let mut c = Convolver::new(&h, 32);
        let first = stream(&mut c, &x, &[32]);
        c.reset();
        let second = stream(&mut c, &x, &[32]);
        assert_eq!(first, second);
    }

    #[test]
    fn empty_and_zero_irs_give_silence() {
        let x = noise(200, 3);
        for h in [vec![], vec![0.0f32; 40]] {
            let mut c = Convolver::new(&h, 64);
            let y = stream(&mut c, &x, &[64]);
            assert!(y.iter().all(|&v| v == 0.0));
        }
    }

    #[test]
    fn mimo_sums_inputs_per_output() {
        let h = [noise(90, 10), noise(300, 11), noise(5, 12), vec![]];
        let zeros = vec![0.0f32; 70];
        let x = [noise(1000, 20), noise(1000, 21)];
        let matrix = vec![
            vec![h[0].as_slice(), h[1].as_slice()],
            vec![h[2].as_slice(), h[3].as_slice()],
            vec![h[3].as_slice(), zeros.as_slice()],
        ];
        let mut c = MimoConvolver::new(&matrix, 64).unwrap();
        let mut y0 = vec![0.0f32; 1000];
        let mut y1 = vec![0.0f32; 1000];
        // A row of silent IRs is written as silence.
        let mut y2 = vec![1.0f32; 1000];
        for (a, b) in [(0, 37), (37, 500), (500, 1000)] {
            let (l, r, s) = (&mut y0[a..b], &mut y1[a..b], &mut y2[a..b]);
            c.process(&[&x[0][a..b], &x[1][a..b]], &mut [l, r, s]);
        }
        assert!(y2.iter().all(|&v| v == 0.0));
        let d = |v: &[f32]| v.iter().map(|&s| s as f64).collect::<Vec<_>>();
        for (o, y) in [(0usize, &y0), (1, &y1)] {
            let mut want = vec![0.0; 1000];
            for i in 0..2 {
                let hh = matrix[o][i];
                for (w, v) in want.iter_mut().zip(direct_convolution(&d(&x[i]), &d(hh))) {
                    *w += v;
                }
            }
            assert!(max_rel_err(y, &want) <= 1e-5);
        }
    }

    #[test]
    fn rejects_bad_matrices() {
        let a = [1.0f32];
        assert_eq!(
            MimoConvolver::new(&[], 64).unwrap_err(),
            ConvolutionError::Empty
        );
        assert!(matches!(
            MimoConvolver::new(&[vec![&a[..]], vec![&a[..], &a[..]]], 64),
            Err(ConvolutionError::RaggedMatrix { row: 1, .. })
        ));
        let nan = [f32::NAN];
        assert!(matches!(
            MimoConvolver::new(&[vec![&nan[..]]], 64),
            Err(ConvolutionError::NonFinite { .. })
        ));
    }
}
