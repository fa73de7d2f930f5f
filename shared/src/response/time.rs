//! Time-domain responses: exact recursion and the alias-compensated inverse FFT.

use super::freq::{alias_factor, FreqResponse};
use crate::preset::{Build, EarlyReflections, Preset, PresetError};
use crate::sos::SosChannelFilter;
use realfft::RealFftPlanner;

/// A MIMO impulse response, layout `(len, n_out, n_in)` in samples.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeResponse {
    /// Length in samples.
    pub len: usize,
    /// Output channels.
    pub n_out: usize,
    /// Input channels.
    pub n_in: usize,
    /// Row-major `(len, n_out, n_in)` values.
    pub data: Vec<f64>,
}

impl TimeResponse {
    /// Value at sample `n`, output `o`, input `i`.
    pub fn at(&self, n: usize, o: usize, i: usize) -> f64 {
        self.data[(n * self.n_out + o) * self.n_in + i]
    }

    /// The response from input `i` to output `o` as one signal.
    pub fn channel(&self, o: usize, i: usize) -> Vec<f64> {
        (0..self.len).map(|n| self.at(n, o, i)).collect()
    }

    /// Largest absolute value.
    pub fn max_abs(&self) -> f64 {
        self.data.iter().map(|v| v.abs()).fold(0.0, f64::max)
    }
}

/// The exact sample-by-sample FDN recursion (pyFDN `dss_to_td`), the reference every faster
/// renderer is checked against:
/// `v(n) = PostDelay(s(n − m))`, `s(n) = B·u(n) + PostMatrix(A·v(n))`, `y(n) = PostOutput(C·v(n)) + D·u(n)`.
#[derive(Debug, Clone)]
pub struct TdRenderer {
    build: Build,
    lines: Vec<Vec<f64>>,
    pos: Vec<usize>,
    post_delay: Vec<SosChannelFilter>,
    post_matrix: Vec<SosChannelFilter>,
    post_output: Vec<SosChannelFilter>,
    v: Vec<f64>,
    av: Vec<f64>,
    /// The FDN outputs before the output mix (`n_out`).
    fdn_out: Vec<f64>,
}

impl TdRenderer {
    /// A renderer with zero state.
    pub fn new(build: &Build) -> Self {
        let n = build.n();
        let filters = |bank: Option<&crate::sos::SosBank>, c: usize| -> Vec<SosChannelFilter> {
            bank.map_or_else(Vec::new, |b| {
                (0..c).map(|ch| SosChannelFilter::new(b, ch)).collect()
            })
        };
        Self {
            lines: build.delays().iter().map(|&m| vec![0.0; m]).collect(),
            pos: vec![0; n],
            post_delay: filters(build.post_delay(), n),
            post_matrix: filters(build.post_matrix(), n),
            post_output: filters(build.post_output(), build.n_out()),
            v: vec![0.0; n],
            av: vec![0.0; n],
            fdn_out: vec![0.0; build.n_out()],
            build: build.clone(),
        }
    }

    /// Processes one frame: `u` has `n_in` values, `y` receives the build's `n_outputs` values
    /// (its FDN outputs through the output mix, when it has one).
    pub fn tick(&mut self, u: &[f64], y: &mut [f64]) {
        let mut fdn_out = std::mem::take(&mut self.fdn_out);
        self.tick_fdn(u, &mut fdn_out);
        match self.build.output_mix() {
            Some(m) => {
                for (r, yr) in y.iter_mut().enumerate().take(m.rows()) {
                    *yr = m.row(r).iter().zip(&fdn_out).map(|(g, v)| g * v).sum();
                }
            }
            None => {
                for (yo, v) in y.iter_mut().zip(&fdn_out) {
                    *yo = *v;
                }
            }
        }
        self.fdn_out = fdn_out;
    }

    /// One frame of the FDN's own `n_out` outputs (before any output mix) into `y`.
    fn tick_fdn(&mut self, u: &[f64], y: &mut [f64]) {
        let n = self.build.n();
        for i in 0..n {
            let raw = self.lines[i][self.pos[i]];
            self.v[i] = match self.post_delay.get_mut(i) {
                Some(f) => f.tick(raw),
                None => raw,
            };
        }
        self.build.a().mul_vec_into(&self.v, &mut self.av);
        for i in 0..n {
            let fb = match self.post_matrix.get_mut(i) {
                Some(f) => f.tick(self.av[i]),
                None => self.av[i],
            };
            let bu: f64 = self
                .build
                .b()
                .row(i)
                .iter()
                .zip(u)
                .map(|(b, x)| b * x)
                .sum();
            self.lines[i][self.pos[i]] = bu + fb;
            self.pos[i] = (self.pos[i] + 1) % self.lines[i].len();
        }
        for (o, yo) in y.iter_mut().enumerate().take(self.build.n_out()) {
            let wet: f64 = self
                .build
                .c()
                .row(o)
                .iter()
                .zip(&self.v)
                .map(|(c, v)| c * v)
                .sum();
            let wet = match self.post_output.get_mut(o) {
                Some(f) => f.tick(wet),
                None => wet,
            };
            let dry: f64 = self
                .build
                .d()
                .row(o)
                .iter()
                .zip(u)
                .map(|(d, x)| d * x)
                .sum();
            *yo = wet + dry;
        }
    }

    /// Clears all state.
    pub fn reset(&mut self) {
        self.lines
            .iter_mut()
            .for_each(|l| l.iter_mut().for_each(|v| *v = 0.0));
        self.pos.iter_mut().for_each(|p| *p = 0);
        for f in self
            .post_delay
            .iter_mut()
            .chain(&mut self.post_matrix)
            .chain(&mut self.post_output)
        {
            f.reset();
        }
    }
}

/// Exact impulse response of any length (pyFDN `build_to_impz`): one Dirac per input from zero
/// state, `(len, n_outputs, n_in)` (through the output mix, if any). No time aliasing.
pub fn impulse_response(build: &Build, len: usize) -> TimeResponse {
    let (n_in, n_out) = (build.n_in(), build.n_outputs());
    let mut data = vec![0.0; len * n_out * n_in];
    let mut u = vec![0.0; n_in];
    let mut y = vec![0.0; n_out];
    for i in 0..n_in {
        let mut r = TdRenderer::new(build);
        for n in 0..len {
            u[i] = if n == 0 { 1.0 } else { 0.0 };
            r.tick(&u, &mut y);
            for o in 0..n_out {
                data[(n * n_out + o) * n_in + i] = y[o];
            }
        }
        u[i] = 0.0;
    }
    TimeResponse {
        len,
        n_out,
        n_in,
        data,
    }
}

/// Adds an early-reflections FIR to `resp` (an impulse response of a build with the FIR's shape):
/// `h[n][o][i] += fir[o][i][n]` for `n < resp.len`, the FIR first resampled to `fs` Hz (the
/// response's rate) when its own rate differs. The shape must match the response.
pub fn add_early(
    resp: &mut TimeResponse,
    early: &EarlyReflections,
    fs: f64,
) -> Result<(), PresetError> {
    if early.n_out() != resp.n_out || early.n_in() != resp.n_in {
        return Err(PresetError::field(
            "tailor.early.fir",
            format!(
                "shape {} × {} (outputs × inputs) does not match the response's {} × {}",
                early.n_out(),
                early.n_in(),
                resp.n_out,
                resp.n_in
            ),
        ));
    }
    let e = early.at_rate(fs)?;
    for o in 0..resp.n_out {
        for i in 0..resp.n_in {
            for (n, &v) in e.ir(o, i).iter().take(resp.len).enumerate() {
                resp.data[(n * resp.n_out + o) * resp.n_in + i] += v;
            }
        }
    }
    Ok(())
}

/// Adds the early-reflections FIRs from input `input` to the planar output channels of an IR
/// rendered at `fs` Hz (`channels[o]`, one per build output), resampling the FIR when its rate
/// differs; samples past each channel's length are dropped.
pub fn add_early_channels(
    channels: &mut [Vec<f64>],
    early: &EarlyReflections,
    input: usize,
    fs: f64,
) -> Result<(), PresetError> {
    if channels.len() != early.n_out() || input >= early.n_in() {
        return Err(PresetError::field(
            "tailor.early.fir",
            format!(
                "shape {} × {} (outputs × inputs) does not fit {} output(s) from input {input}",
                early.n_out(),
                early.n_in(),
                channels.len()
            ),
        ));
    }
    let e = early.at_rate(fs)?;
    for (o, ch) in channels.iter_mut().enumerate() {
        for (y, &v) in ch.iter_mut().zip(e.ir(o, input)) {
            *y += v;
        }
    }
    Ok(())
}

/// Impulse response from input `input` to every output of `build`, `len` samples at its rate, as
/// planar channels, with the early-reflections FIR `early` added when given
/// ([`add_early_channels`]; a FIR of another shape, or one that cannot be resampled, is left
/// out); no channels when the build has no input `input`.
pub fn impulse_response_channels(
    build: &Build,
    early: Option<&EarlyReflections>,
    input: usize,
    len: usize,
) -> Vec<Vec<f64>> {
    if input >= build.n_in() {
        return Vec::new();
    }
    let r = impulse_response(build, len);
    let mut channels: Vec<Vec<f64>> = (0..r.n_out).map(|o| r.channel(o, input)).collect();
    if let Some(e) = early {
        // add_early_channels checks the shape and resamples before touching the channels.
        let _ = add_early_channels(&mut channels, e, input, build.sample_rate());
    }
    channels
}

/// Exact impulse response of a whole preset, `len` samples at the build's rate: the FDN's
/// ([`impulse_response`]) plus the early-reflections FIR when the preset has one and
/// `include_early` is set (`h = h_fdn + fir`).
pub fn preset_impulse_response(
    preset: &Preset,
    len: usize,
    include_early: bool,
) -> Result<TimeResponse, PresetError> {
    let build = preset.build();
    let mut r = impulse_response(build, len);
    if let (true, Some(e)) = (include_early, preset.early()) {
        add_early(&mut r, e, build.sample_rate())?;
    }
    Ok(r)
}

/// Alias-compensated time IR from a frequency response (FLAMO `iFFTAntiAlias`):
/// `h[n] = γ^(−n) · irfft_nfft(H)[n]`, n = 0..nfft. With alias decay `a` dB every wrapped copy of
/// the true IR is attenuated by `a` dB; `a = 0` gives the circularly aliased IR.
pub fn impulse_response_fft(h: &FreqResponse) -> TimeResponse {
    let nfft = h.nfft;
    let (n_out, n_in) = (h.n_out, h.n_in);
    let gamma = alias_factor(nfft, h.alias_decay_db);
    let mut planner = RealFftPlanner::<f64>::new();
    let c2r = planner.plan_fft_inverse(nfft);
    let mut spec = c2r.make_input_vec();
    let mut out = c2r.make_output_vec();
    let mut data = vec![0.0; nfft * n_out * n_in];
    for o in 0..n_out {
        for i in 0..n_in {
            for (k, s) in spec.iter_mut().enumerate() {
                *s = h.at(k, o, i);
            }
            // numpy's irfft ignores the imaginary parts of the DC and Nyquist bins.
            spec[0].im = 0.0;
            if nfft.is_multiple_of(2) {
                let last = spec.len() - 1;
                spec[last].im = 0.0;
            }
            c2r.process(&mut spec, &mut out)
                .expect("buffer sizes come from the plan");
            let mut undo = 1.0 / nfft as f64;
            let inv_gamma = 1.0 / gamma;
            for (n, v) in out.iter().enumerate() {
                data[(n * n_out + o) * n_in + i] = v * undo;
                undo *= inv_gamma;
            }
        }
    }
    TimeResponse {
        len: nfft,
        n_out,
        n_in,
        data,
    }
}
