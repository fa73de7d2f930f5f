//! The FDN response as a differentiable candle op with an analytic adjoint backward.
//!
//! Forward (FLAMO's model, [`crate::response`]): on the `nfft/2 + 1` rfft bins at radius 1/γ
//! (alias decay, §4.2 of the FDN reference)
//!
//! `H_k = Q_k ⊙ (C·x_k) + D`, with `M_k·x_k = g_k ⊙ B`, `M_k = I − diag(g_k ⊙ p_k)·A`,
//! `g_k = Γ_k ⊙ z_k^(−m)`,
//!
//! Γ = post_delay response, p = post_matrix response, Q = post_output response (each 1 when
//! absent). The time output is FLAMO's `iFFTAntiAlias`: `h[n] = γ^(−n)·irfft(H)[n]`.
//!
//! Backward (adjoint method, per bin, for a real loss L with Ḡ = ∂L/∂Re H + i·∂L/∂Im H):
//! `w = conj(Ḡ)·Q`, `v = M⁻ᵀ·Cᵀ·w = U·w` (U kept from the forward), then
//! `∂L/∂B = Re(v ⊙ g)`, `∂L/∂A = Re(diag(g⊙p)·v·xᵀ)`, `∂L/∂C = Re(w·xᵀ)`, `∂L/∂D = Re(conj(Ḡ))`,
//! `∂L/∂Γ_i = conj(α_i)` with `α_i = Σ_c v_ic·z^(−m_i)·(B_ic + p_i·(A·x)_ic)`, and
//! `∂L/∂Q_o = conj(Σ_c conj(Ḡ_oc)·(C·x)_oc)` (complex gradients in torch's convention
//! ∂L/∂Re + i·∂L/∂Im). For the time output Ḡ_k = (c_k/nfft)·rfft(γ^(−n)·∂L/∂h)_k with c_k = 2
//! for interior bins and 1 at DC/Nyquist (whose imaginary parts irfft ignores). Trainable Γ and Q
//! come either as response tensors ([`Hook::Trainable`]) or as SOS coefficients evaluated inside
//! the op ([`Hook::TrainableSos`]; their gradient is ∂L/∂Γ pushed through the cascade).
//!
//! **Kernel:** CPU, in the parameters' precision (f64, or f32 with 16 bins per SIMD group; the
//! gradient totals over bins add up in f64), parallel over blocks of frequency bins with rayon,
//! each block solving [`Real::L`] bins at once in SIMD lanes (see [`super::fdn_kernel`]: one unpivoted LU per bin, pivoted fallback). The forward keeps
//! each bin's `x = M⁻¹(g⊙B)` and `U = M⁻ᵀCᵀ`, so the backward needs no solve at all:
//! `v = U·w`. All scratch and the saved solutions live in a workspace allocated once per op; a
//! step allocates only candle's input/output storages. A backward whose forward was not the last
//! call of the op re-runs that forward first.
//!
//! **Devices:** tensors on CUDA/Metal are copied to the CPU, evaluated there and copied back
//! (`Tensor::to_device` is differentiable), exactly like the FFT ops of [`crate::loss::fft`];
//! there is no native GPU kernel, so the `cuda` feature of candle builds and runs this path
//! unchanged.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, DType, Device, Layout, Shape, Tensor};
use num_complex::{Complex, Complex64 as C64};
use rayon::prelude::*;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use super::fdn_kernel::{self, Adjoint, GridLanes, Lanes, Problem, Resp};
use crate::by_dtype;
use crate::engine::SimdLevel;
use crate::real::{czero, grad_like, storage_as, tensor_as, Real};
use crate::response::alias_factor;
use crate::sos::SosBank;

/// Errors setting up or applying the FDN response op.
#[derive(Debug, thiserror::Error)]
pub enum FdnOpError {
    /// A shape or size that does not fit the FDN.
    #[error("FDN response op: {0}")]
    Shape(String),
    /// A candle failure.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// What the op returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FdnOutput {
    /// Impulse response `(nfft, n_out, n_in)` (FLAMO `iFFTAntiAlias`).
    Time,
    /// Frequency response `(2, nfft/2 + 1, n_out, n_in)` holding (re, im).
    Freq,
}

/// How a hook (post_delay / post_output) enters the op.
#[derive(Debug, Clone, PartialEq)]
pub enum Hook {
    /// No filter (response 1).
    None,
    /// A fixed SOS bank, evaluated once at setup on the alias-radius grid.
    Frozen(SosBank),
    /// A response tensor `(2, bins, channels)` supplied per call (differentiable).
    Trainable,
    /// SOS coefficients `(sections, 6, channels)` (rows `[b0, b1, b2, a0, a1, a2]`) supplied per
    /// call (differentiable) and evaluated inside the op — no `(2, bins, channels)` response
    /// tensor in the graph (what the trainer's RT- and dB-parametrised hooks use).
    TrainableSos {
        /// Number of second-order sections per channel.
        sections: usize,
    },
}

/// How a hook's per-call input is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HookInput {
    /// No per-call input.
    Absent,
    /// Response planes `(2, bins, channels)`.
    Response,
    /// SOS coefficients `(sections, 6, channels)`.
    Sos(usize),
}

impl HookInput {
    fn of(hook: &Hook) -> Self {
        match hook {
            Hook::Trainable => Self::Response,
            Hook::TrainableSos { sections } => Self::Sos(*sections),
            Hook::None | Hook::Frozen(_) => Self::Absent,
        }
    }

    /// Values this input occupies in the packed parameter vector.
    fn len(self, bins: usize, ch: usize) -> usize {
        match self {
            Self::Absent => 0,
            Self::Response => 2 * bins * ch,
            Self::Sos(k) => 6 * k * ch,
        }
    }
}

/// Static description of the FDN evaluated by [`FdnResponse`].
#[derive(Debug, Clone)]
pub struct FdnSpec {
    /// Delay lengths in samples (N of them, all ≥ 1).
    pub delays: Vec<usize>,
    /// Input channels.
    pub n_in: usize,
    /// Output channels.
    pub n_out: usize,
    /// FFT length = rendered IR length, samples (even, ≥ 2).
    pub nfft: usize,
    /// Alias-decay attenuation in dB over `nfft` samples (0 = unit circle).
    pub alias_decay_db: f64,
    /// Per-line filter after the delays (attenuation).
    pub post_delay: Hook,
    /// Per-line filter after A (frozen only; pyFDN never trains it).
    pub post_matrix: Option<SosBank>,
    /// Per-output filter on the wet signal.
    pub post_output: Hook,
    /// Output kind.
    pub output: FdnOutput,
}

/// The parameters of one evaluation (tensors of one dtype, f32 or f64, any device).
#[derive(Debug, Clone, Copy)]
pub struct FdnInputs<'a> {
    /// Feedback matrix `(N, N)`.
    pub a: &'a Tensor,
    /// Input gains `(N, n_in)`.
    pub b: &'a Tensor,
    /// Output gains `(n_out, N)`.
    pub c: &'a Tensor,
    /// Direct path `(n_out, n_in)`.
    pub d: &'a Tensor,
    /// post_delay response `(2, bins, N)` when the hook is [`Hook::Trainable`], SOS
    /// coefficients `(K, 6, N)` when it is [`Hook::TrainableSos`].
    pub post_delay: Option<&'a Tensor>,
    /// post_output response `(2, bins, n_out)` when the hook is [`Hook::Trainable`], SOS
    /// coefficients `(K, 6, n_out)` when it is [`Hook::TrainableSos`].
    pub post_output: Option<&'a Tensor>,
}

/// Buffers reused across calls, in precision `T`.
struct Workspace<T: Real> {
    /// Per rayon block SIMD scratch and gradient accumulators.
    lanes: Vec<Lanes<T>>,
    /// Saved x and U per group of [`Real::L`] bins (see [`Problem::group_stride`]).
    store: Vec<T::Lane>,
    /// Per bin: the solve succeeded (M not singular).
    ok: Vec<bool>,
    /// Frequency response or its adjoint, `(bins, n_out, n_in)`.
    spec: Vec<Complex<T>>,
    /// Per-bin hook gradients, `(bins, N)` and `(bins, n_out)`.
    hook_pd: Vec<Complex<T>>,
    hook_po: Vec<Complex<T>>,
    fft_c: Vec<Complex<T>>,
    fft_r: Vec<T>,
    fft_scratch: Vec<Complex<T>>,
    /// Evaluated SOS hook responses (re plane, then im plane), `(bins, N)` and `(bins, n_out)`.
    pd_resp: Vec<T>,
    po_resp: Vec<T>,
    /// Call number whose solves `store` holds.
    solved_call: Option<u64>,
}

/// The precision-dependent half of the setup: lane tables, FFT plans and the workspace in `T`.
struct Engine<T: Real> {
    /// Groups of [`Real::L`] bins per rayon block.
    block_groups: usize,
    /// Grid factors as SIMD lane tables.
    grid: GridLanes<T>,
    /// γ^(−n)/nfft, n = 0..nfft.
    envelope: Vec<T>,
    c2r: Arc<dyn ComplexToReal<T>>,
    r2c: Arc<dyn RealToComplex<T>>,
    work: Mutex<Workspace<T>>,
}

/// Everything fixed at setup (precision-independent; f64).
struct Setup {
    n: usize,
    n_in: usize,
    n_out: usize,
    nfft: usize,
    bins: usize,
    /// Delay lengths, samples.
    delays: Vec<usize>,
    /// Alias-decay radius factor γ.
    gamma: f64,
    /// SIMD kernel set.
    level: SimdLevel,
    output: FdnOutput,
    /// Frozen Γ, `(bins, N)`.
    pd_frozen: Option<Vec<C64>>,
    pd_trainable: bool,
    pd_in: HookInput,
    /// Frozen post_matrix response, `(bins, N)`.
    pm: Option<Vec<C64>>,
    /// Frozen Q, `(bins, n_out)`.
    po_frozen: Option<Vec<C64>>,
    po_trainable: bool,
    po_in: HookInput,
    /// z_k⁻¹ at the alias radius, per bin.
    zinv: Vec<C64>,
    /// The f64 and f32 halves, each made on first use (or up front by
    /// [`FdnResponse::with_dtype`]).
    e64: OnceLock<Engine<f64>>,
    e32: OnceLock<Engine<f32>>,
    /// Number of op instances created (tags each call's saved solutions).
    calls: AtomicU64,
}

/// A precision the op runs in: where its [`Engine`] lives.
trait EngineReal: Real {
    fn slot(s: &Setup) -> &OnceLock<Engine<Self>>;
}

impl EngineReal for f64 {
    fn slot(s: &Setup) -> &OnceLock<Engine<f64>> {
        &s.e64
    }
}

impl EngineReal for f32 {
    fn slot(s: &Setup) -> &OnceLock<Engine<f32>> {
        &s.e32
    }
}

impl<T: Real> Engine<T> {
    /// Lane tables, FFT plans and workspace of `s` in precision `T`.
    fn new(s: &Setup) -> Self {
        let (n, ni, no, nfft, bins) = (s.n, s.n_in, s.n_out, s.nfft, s.bins);
        let two_pi = 2.0 * std::f64::consts::PI;
        let gamma_m: Vec<f64> = s.delays.iter().map(|&m| s.gamma.powi(m as i32)).collect();
        let mut zinv_m = Vec::with_capacity(bins * n);
        for k in 0..bins {
            // Same rounding of ω_k·m as `response::frequency_response` (and FLAMO).
            let omega = two_pi * k as f64 / nfft as f64;
            for (i, &m) in s.delays.iter().enumerate() {
                let phase = omega * m as f64;
                zinv_m.push(C64::new(
                    gamma_m[i] * phase.cos(),
                    -gamma_m[i] * phase.sin(),
                ));
            }
        }
        let inv_gamma = 1.0 / s.gamma;
        let mut envelope = Vec::with_capacity(nfft);
        let mut e = 1.0 / nfft as f64;
        for _ in 0..nfft {
            envelope.push(T::of(e));
            e *= inv_gamma;
        }
        let mut planner = RealFftPlanner::<T>::new();
        let c2r = planner.plan_fft_inverse(nfft);
        let r2c = planner.plan_fft_forward(nfft);
        let threads = rayon::current_num_threads().max(1);
        let groups = bins.div_ceil(T::L);
        let blocks = (threads * 8).min(groups);
        let block_groups = groups.div_ceil(blocks);
        let blocks = groups.div_ceil(block_groups);
        let scratch_len = c2r.get_scratch_len().max(r2c.get_scratch_len()).max(1);
        let stride = 2 * n * (ni + no);
        let z = czero::<T>();
        let work = Workspace {
            lanes: vec![Lanes::new(n, ni, no); blocks],
            store: vec![T::splat(T::zero()); groups * stride],
            ok: vec![false; groups * T::L],
            spec: vec![z; bins * no * ni],
            hook_pd: vec![z; bins * n],
            hook_po: vec![z; bins * no],
            fft_c: vec![z; bins],
            fft_r: vec![T::zero(); nfft],
            fft_scratch: vec![z; scratch_len],
            pd_resp: Vec::new(),
            po_resp: Vec::new(),
            solved_call: None,
        };
        Self {
            block_groups,
            grid: GridLanes::new(
                bins,
                n,
                no,
                &zinv_m,
                s.pd_frozen.as_deref(),
                s.pm.as_deref(),
                s.po_frozen.as_deref(),
            ),
            envelope,
            c2r,
            r2c,
            work: Mutex::new(work),
        }
    }
}

impl Setup {
    fn offsets(&self) -> [usize; 7] {
        let (n, ni, no, bins) = (self.n, self.n_in, self.n_out, self.bins);
        let a = 0;
        let b = a + n * n;
        let c = b + n * ni;
        let d = c + no * n;
        let pd = d + no * ni;
        let po = pd + self.pd_in.len(bins, n);
        let end = po + self.po_in.len(bins, no);
        [a, b, c, d, pd, po, end]
    }
}

/// The differentiable FDN response (see the module docs for the math).
#[derive(Clone)]
pub struct FdnResponse {
    setup: Arc<Setup>,
}

impl std::fmt::Debug for FdnResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FdnResponse")
            .field("n", &self.setup.n)
            .field("n_in", &self.setup.n_in)
            .field("n_out", &self.setup.n_out)
            .field("nfft", &self.setup.nfft)
            .finish()
    }
}

/// Evaluates a frozen bank at every bin: `(bins, channels)`.
fn bank_response(bank: &SosBank, zinv: &[C64]) -> Vec<C64> {
    let ch = bank.channels();
    let mut out = Vec::with_capacity(zinv.len() * ch);
    for &z in zinv {
        for c in 0..ch {
            out.push(bank.eval(c, z));
        }
    }
    out
}

impl FdnResponse {
    /// Precomputes the grid, delay terms, frozen hook responses, FFT plans and the f64
    /// workspace (see [`FdnResponse::with_dtype`] for f32).
    pub fn new(spec: &FdnSpec) -> Result<Self, FdnOpError> {
        Self::with_dtype(spec, DType::F64)
    }

    /// The precision-independent setup; engines are made on first use.
    fn setup_only(spec: &FdnSpec) -> Result<Self, FdnOpError> {
        let n = spec.delays.len();
        if n == 0 || spec.delays.contains(&0) {
            return Err(FdnOpError::Shape(
                "delays must be a non-empty list of positive integers".into(),
            ));
        }
        if spec.n_in == 0 || spec.n_out == 0 {
            return Err(FdnOpError::Shape(
                "needs at least one input and one output".into(),
            ));
        }
        if spec.nfft < 2 || !spec.nfft.is_multiple_of(2) {
            return Err(FdnOpError::Shape(format!(
                "nfft must be even and ≥ 2, got {}",
                spec.nfft
            )));
        }
        if !spec.alias_decay_db.is_finite() {
            return Err(FdnOpError::Shape("alias_decay_db must be finite".into()));
        }
        let nfft = spec.nfft;
        let bins = nfft / 2 + 1;
        let gamma = alias_factor(nfft, spec.alias_decay_db);
        let two_pi = 2.0 * std::f64::consts::PI;
        let zinv: Vec<C64> = (0..bins)
            .map(|k| C64::from_polar(gamma, -two_pi * k as f64 / nfft as f64))
            .collect();
        let check_bank = |name: &str, bank: &SosBank, ch: usize| {
            if bank.channels() == ch {
                Ok(())
            } else {
                Err(FdnOpError::Shape(format!(
                    "{name} has {} channels, expected {ch}",
                    bank.channels()
                )))
            }
        };
        let pd_frozen = match &spec.post_delay {
            Hook::Frozen(bank) => {
                check_bank("post_delay", bank, n)?;
                Some(bank_response(bank, &zinv))
            }
            _ => None,
        };
        let pm = match &spec.post_matrix {
            Some(bank) => {
                check_bank("post_matrix", bank, n)?;
                Some(bank_response(bank, &zinv))
            }
            None => None,
        };
        let po_frozen = match &spec.post_output {
            Hook::Frozen(bank) => {
                check_bank("post_output", bank, spec.n_out)?;
                Some(bank_response(bank, &zinv))
            }
            _ => None,
        };
        Ok(Self {
            setup: Arc::new(Setup {
                n,
                n_in: spec.n_in,
                n_out: spec.n_out,
                nfft,
                bins,
                delays: spec.delays.clone(),
                gamma,
                level: SimdLevel::detect(),
                output: spec.output,
                pd_frozen,
                pd_trainable: HookInput::of(&spec.post_delay) != HookInput::Absent,
                pd_in: HookInput::of(&spec.post_delay),
                pm,
                po_frozen,
                po_trainable: HookInput::of(&spec.post_output) != HookInput::Absent,
                po_in: HookInput::of(&spec.post_output),
                zinv,
                e64: OnceLock::new(),
                e32: OnceLock::new(),
                calls: AtomicU64::new(0),
            }),
        })
    }

    /// Like [`FdnResponse::new`], with the tables and workspace of `dtype` (f32 or f64) made
    /// up front rather than on the first call; the other precision still works, set up on
    /// first use.
    pub fn with_dtype(spec: &FdnSpec, dtype: DType) -> Result<Self, FdnOpError> {
        let op = Self::setup_only(spec)?;
        match dtype {
            DType::F32 => {
                op.setup.engine::<f32>();
            }
            DType::F64 => {
                op.setup.engine::<f64>();
            }
            other => {
                return Err(FdnOpError::Shape(format!(
                    "the FDN op computes in f32 or f64, not {other:?}"
                )))
            }
        }
        Ok(op)
    }

    /// Number of frequency bins `nfft/2 + 1`.
    pub fn bins(&self) -> usize {
        self.setup.bins
    }

    /// Evaluates the response; differentiable w.r.t. every input tensor.
    pub fn forward(&self, p: &FdnInputs<'_>) -> Result<Tensor, FdnOpError> {
        let s = &self.setup;
        let (n, ni, no, bins) = (s.n, s.n_in, s.n_out, s.bins);
        let expect = |name: &str, t: &Tensor, dims: &[usize]| {
            if t.dims() == dims {
                Ok(())
            } else {
                Err(FdnOpError::Shape(format!(
                    "{name} must have shape {dims:?}, got {:?}",
                    t.dims()
                )))
            }
        };
        expect("feedback matrix A", p.a, &[n, n])?;
        expect("input gains B", p.b, &[n, ni])?;
        expect("output gains C", p.c, &[no, n])?;
        expect("direct path D", p.d, &[no, ni])?;
        let mut parts = vec![
            p.a.flatten_all()?,
            p.b.flatten_all()?,
            p.c.flatten_all()?,
            p.d.flatten_all()?,
        ];
        match (s.pd_trainable, p.post_delay) {
            (true, Some(t)) => {
                match s.pd_in {
                    HookInput::Sos(k) => expect("post_delay SOS", t, &[k, 6, n])?,
                    _ => expect("post_delay response", t, &[2, bins, n])?,
                }
                parts.push(t.flatten_all()?);
            }
            (false, None) => {}
            (true, None) => {
                return Err(FdnOpError::Shape(
                    "the trainable post_delay hook needs its response tensor".into(),
                ))
            }
            (false, Some(_)) => {
                return Err(FdnOpError::Shape(
                    "post_delay response given but the hook is not trainable".into(),
                ))
            }
        }
        match (s.po_trainable, p.post_output) {
            (true, Some(t)) => {
                match s.po_in {
                    HookInput::Sos(k) => expect("post_output SOS", t, &[k, 6, no])?,
                    _ => expect("post_output response", t, &[2, bins, no])?,
                }
                parts.push(t.flatten_all()?);
            }
            (false, None) => {}
            (true, None) => {
                return Err(FdnOpError::Shape(
                    "the trainable post_output hook needs its response tensor".into(),
                ))
            }
            (false, Some(_)) => {
                return Err(FdnOpError::Shape(
                    "post_output response given but the hook is not trainable".into(),
                ))
            }
        }
        let dtype = p.a.dtype();
        let parts = parts
            .iter()
            .map(|t| t.to_dtype(dtype))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let packed = Tensor::cat(&parts, 0)?;
        let device = packed.device().clone();
        let op = FdnOp {
            setup: self.setup.clone(),
            call: self.setup.calls.fetch_add(1, Ordering::Relaxed),
        };
        let out = if device.is_cpu() {
            packed.apply_op1(op)?
        } else {
            packed
                .to_device(&Device::Cpu)?
                .apply_op1(op)?
                .to_device(&device)?
        };
        Ok(out)
    }
}

/// The candle op on the packed parameter vector.
struct FdnOp {
    setup: Arc<Setup>,
    /// This call's number (see [`Workspace::solved_call`]).
    call: u64,
}

/// Parameter views into the packed vector.
struct Params<'a, T> {
    a: &'a [T],
    b: &'a [T],
    c: &'a [T],
    d: &'a [T],
    /// Trainable Γ planes (re, im), each `(bins, N)`.
    pd: Option<(&'a [T], &'a [T])>,
    /// Trainable Q planes (re, im), each `(bins, n_out)`.
    po: Option<(&'a [T], &'a [T])>,
}

impl Setup {
    /// The engine of precision `T` (made on first use).
    fn engine<T: EngineReal>(&self) -> &Engine<T> {
        T::slot(self).get_or_init(|| Engine::new(self))
    }

    /// Views of the packed vector `x`; SOS hooks read their evaluated responses from
    /// `pd_resp`/`po_resp` (see [`Setup::eval_sos_hooks`]).
    fn params<'a, T: Real>(
        &self,
        x: &'a [T],
        pd_resp: &'a [T],
        po_resp: &'a [T],
    ) -> candle_core::Result<Params<'a, T>> {
        let o = self.offsets();
        if x.len() != o[6] {
            candle_core::bail!(
                "FDN op: packed input has {} values, expected {}",
                x.len(),
                o[6]
            );
        }
        let half_pd = self.bins * self.n;
        let half_po = self.bins * self.n_out;
        Ok(Params {
            a: &x[o[0]..o[1]],
            b: &x[o[1]..o[2]],
            c: &x[o[2]..o[3]],
            d: &x[o[3]..o[4]],
            pd: match self.pd_in {
                HookInput::Absent => None,
                HookInput::Response => Some((&x[o[4]..o[4] + half_pd], &x[o[4] + half_pd..o[5]])),
                HookInput::Sos(_) => Some(pd_resp.split_at(half_pd)),
            },
            po: match self.po_in {
                HookInput::Absent => None,
                HookInput::Response => Some((&x[o[5]..o[5] + half_po], &x[o[5] + half_po..o[6]])),
                HookInput::Sos(_) => Some(po_resp.split_at(half_po)),
            },
        })
    }

    /// Evaluates the SOS hooks of packed vector `x` into the response buffers (re plane, then
    /// im plane).
    fn eval_sos_hooks<T: Real>(&self, x: &[T], pd_resp: &mut Vec<T>, po_resp: &mut Vec<T>) {
        let o = self.offsets();
        for (input, ch, range, buf) in [
            (self.pd_in, self.n, o[4]..o[5], pd_resp),
            (self.po_in, self.n_out, o[5]..o[6], po_resp),
        ] {
            if let HookInput::Sos(k) = input {
                let plane = self.bins * ch;
                buf.resize(2 * plane, T::zero());
                let (re, im) = buf.split_at_mut(plane);
                super::sos_op::cascade_response(&x[range], k, ch, &self.zinv, re, im);
            }
        }
    }

    /// The kernel's view of one evaluation.
    fn problem<'a, T: Real>(&'a self, e: &'a Engine<T>, p: &Params<'a, T>) -> Problem<'a, T> {
        let resp = |frozen: bool, planes: Option<(&'a [T], &'a [T])>| match (frozen, planes) {
            (true, _) => Resp::Frozen,
            (false, Some((re, im))) => Resp::Planes(re, im),
            (false, None) => Resp::One,
        };
        Problem {
            n: self.n,
            ni: self.n_in,
            no: self.n_out,
            bins: self.bins,
            a: p.a,
            b: p.b,
            c: p.c,
            d: p.d,
            gamma: resp(self.pd_frozen.is_some(), p.pd),
            q: resp(self.po_frozen.is_some(), p.po),
            grid: &e.grid,
            pd_train: self.pd_trainable,
            po_train: self.po_trainable,
        }
    }

    /// Forward kernel: H into `spec` `(bins, n_out, n_in)`, each bin's x and U into `store`.
    fn forward_freq<T: Real>(&self, e: &Engine<T>, p: &Params<'_, T>, work: &mut Workspace<T>) {
        let prob = self.problem(e, p);
        let per_bin = self.n_out * self.n_in;
        let bins_per_block = e.block_groups * T::L;
        let stride = prob.group_stride();
        let level = self.level;
        let Workspace {
            lanes,
            store,
            ok,
            spec,
            ..
        } = work;
        spec.par_chunks_mut(bins_per_block * per_bin)
            .zip(lanes.par_iter_mut())
            .zip(store.par_chunks_mut(e.block_groups * stride))
            .zip(ok.par_chunks_mut(bins_per_block))
            .enumerate()
            .for_each(|(b, (((h, s), st), okb))| {
                fdn_kernel::forward(level, &prob, b * bins_per_block, s, st, okb, h);
            });
    }

    /// Backward kernel: `spec` holds Ḡ; accumulates parameter gradients per block (lanes) and
    /// per-bin hook gradients.
    fn backward_freq<T: Real>(&self, e: &Engine<T>, p: &Params<'_, T>, work: &mut Workspace<T>) {
        let prob = self.problem(e, p);
        let (n, no) = (self.n, self.n_out);
        let per_bin = no * self.n_in;
        let bins_per_block = e.block_groups * T::L;
        let stride = prob.group_stride();
        let level = self.level;
        let Workspace {
            lanes,
            store,
            ok,
            spec,
            hook_pd,
            hook_po,
            ..
        } = work;
        spec.par_chunks(bins_per_block * per_bin)
            .zip(hook_pd.par_chunks_mut(bins_per_block * n))
            .zip(hook_po.par_chunks_mut(bins_per_block * no))
            .zip(lanes.par_iter_mut())
            .zip(store.par_chunks(e.block_groups * stride))
            .zip(ok.par_chunks(bins_per_block))
            .enumerate()
            .for_each(|(b, (((((gbar, hpd), hpo), s), st), okb))| {
                s.clear_grads();
                let adj = Adjoint { gbar, hpd, hpo };
                fdn_kernel::backward(level, &prob, b * bins_per_block, s, st, okb, adj);
            });
    }
}

impl FdnOp {
    /// [`CustomOp1::cpu_fwd`] in precision `T`.
    fn fwd<T: EngineReal>(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let s = &*self.setup;
        let e = s.engine::<T>();
        let x = storage_as::<T>(storage, layout)?;
        let mut guard = e
            .work
            .lock()
            .map_err(|_| candle_core::Error::Msg("FDN op workspace poisoned".into()))?;
        let work = &mut *guard;
        let (mut pd_resp, mut po_resp) = (
            std::mem::take(&mut work.pd_resp),
            std::mem::take(&mut work.po_resp),
        );
        s.eval_sos_hooks(&x, &mut pd_resp, &mut po_resp);
        let p = s.params(&x, &pd_resp, &po_resp)?;
        s.forward_freq(e, &p, work);
        work.solved_call = Some(self.call);
        work.pd_resp = pd_resp;
        work.po_resp = po_resp;
        let (ni, no, bins, nfft) = (s.n_in, s.n_out, s.bins, s.nfft);
        match s.output {
            FdnOutput::Freq => {
                let plane = bins * no * ni;
                let mut out = vec![T::zero(); 2 * plane];
                for (idx, z) in work.spec.iter().enumerate() {
                    out[idx] = z.re;
                    out[plane + idx] = z.im;
                }
                Ok((T::to_cpu_storage_owned(out), Shape::from((2, bins, no, ni))))
            }
            FdnOutput::Time => {
                let mut out = vec![T::zero(); nfft * no * ni];
                let Workspace {
                    spec,
                    fft_c,
                    fft_r,
                    fft_scratch,
                    ..
                } = work;
                for o in 0..no {
                    for c in 0..ni {
                        for (k, z) in fft_c.iter_mut().enumerate() {
                            *z = spec[(k * no + o) * ni + c];
                        }
                        fft_c[0].im = T::zero();
                        fft_c[bins - 1].im = T::zero();
                        e.c2r
                            .process_with_scratch(fft_c, fft_r, fft_scratch)
                            .map_err(|e| candle_core::Error::Msg(format!("irfft: {e}")))?;
                        for (t, (&v, &env)) in fft_r.iter().zip(&e.envelope).enumerate() {
                            out[(t * no + o) * ni + c] = v * env;
                        }
                    }
                }
                Ok((T::to_cpu_storage_owned(out), Shape::from((nfft, no, ni))))
            }
        }
    }

    /// [`CustomOp1::bwd`] in precision `T`.
    fn bwd_in<T: EngineReal>(
        &self,
        arg: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let s = &*self.setup;
        let e = s.engine::<T>();
        let x = tensor_as::<T>(arg)?;
        let g = tensor_as::<T>(grad_res)?;
        let (n, ni, no, bins) = (s.n, s.n_in, s.n_out, s.bins);
        let mut guard = e
            .work
            .lock()
            .map_err(|_| candle_core::Error::Msg("FDN op workspace poisoned".into()))?;
        let work = &mut *guard;
        let (mut pd_resp, mut po_resp) = (
            std::mem::take(&mut work.pd_resp),
            std::mem::take(&mut work.po_resp),
        );
        let fresh = work.solved_call == Some(self.call);
        if !fresh {
            s.eval_sos_hooks(&x, &mut pd_resp, &mut po_resp);
        }
        let p = s.params(&x, &pd_resp, &po_resp)?;
        if !fresh {
            // Another call ran since this op's forward: solve again (overwrites `spec`).
            s.forward_freq(e, &p, work);
            work.solved_call = Some(self.call);
        }
        match s.output {
            FdnOutput::Freq => {
                let plane = bins * no * ni;
                for (idx, z) in work.spec.iter_mut().enumerate() {
                    *z = Complex::new(g[idx], g[plane + idx]);
                }
            }
            FdnOutput::Time => {
                let Workspace {
                    spec,
                    fft_c,
                    fft_r,
                    fft_scratch,
                    ..
                } = work;
                let two = T::one() + T::one();
                for o in 0..no {
                    for c in 0..ni {
                        for (t, (r, &env)) in fft_r.iter_mut().zip(&e.envelope).enumerate() {
                            // envelope = γ^(−n)/nfft: the 1/nfft of irfft's adjoint folds in here.
                            *r = g[(t * no + o) * ni + c] * env;
                        }
                        e.r2c
                            .process_with_scratch(fft_r, fft_c, fft_scratch)
                            .map_err(|e| candle_core::Error::Msg(format!("rfft: {e}")))?;
                        for (k, z) in fft_c.iter().enumerate() {
                            let edge = k == 0 || k == bins - 1;
                            spec[(k * no + o) * ni + c] = if edge {
                                Complex::new(z.re, T::zero())
                            } else {
                                *z * two
                            };
                        }
                    }
                }
            }
        }
        s.backward_freq(e, &p, work);
        let o = s.offsets();
        // Gradient totals over blocks and lanes add up in f64.
        let mut dx = vec![0.0f64; o[6]];
        for sc in &work.lanes {
            for (range, acc) in [
                (o[0]..o[1], &sc.ga),
                (o[1]..o[2], &sc.gb),
                (o[2]..o[3], &sc.gc),
                (o[3]..o[4], &sc.gd),
            ] {
                for (d, v) in dx[range].iter_mut().zip(acc) {
                    *d += (0..T::L).map(|l| v[l].wide()).sum::<f64>();
                }
            }
            if sc.singular {
                dx[o[0]..o[1]].iter_mut().for_each(|v| *v = f64::NAN);
            }
        }
        let mut dx: Vec<T> = dx.into_iter().map(T::of).collect();
        for (input, ch, range, hook) in [
            (s.pd_in, n, o[4]..o[5], &work.hook_pd),
            (s.po_in, no, o[5]..o[6], &work.hook_po),
        ] {
            match input {
                HookInput::Absent => {}
                HookInput::Response => {
                    let half = bins * ch;
                    for (idx, z) in hook.iter().enumerate() {
                        dx[range.start + idx] = z.re;
                        dx[range.start + half + idx] = z.im;
                    }
                }
                HookInput::Sos(k) => {
                    let g =
                        super::sos_op::cascade_grad(&x[range.clone()], k, ch, &s.zinv, |b, c| {
                            hook[b * ch + c]
                        });
                    for (d, v) in dx[range].iter_mut().zip(g) {
                        *d = T::of(v);
                    }
                }
            }
        }
        work.pd_resp = pd_resp;
        work.po_resp = po_resp;
        Ok(Some(grad_like(dx, arg)?))
    }
}

impl CustomOp1 for FdnOp {
    fn name(&self) -> &'static str {
        "tailor-fdn-response"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        by_dtype!(storage.dtype(), "FDN op", T => self.fwd::<T>(storage, layout))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        by_dtype!(arg.dtype(), "FDN op", T => self.bwd_in::<T>(arg, grad_res))
    }
}
