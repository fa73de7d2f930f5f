//! The trainable FDN model (pyFDN `build_fdn` / `trainable_from_build` / `extract_build`): candle
//! variables for W (feedback parametrisation), B, C, D and the trainable attenuation hook, and the
//! differentiable response through `tailor::train`.

use anyhow::{anyhow, bail, Context, Result};
use candle_core::{DType, Device, Tensor, Var};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tailor::decay::{shelf_warp, CrossoverConvention};
use tailor::delays::{sample_delay_lengths_with, DelayOptions};
use tailor::geq::{BANDS, SECTIONS};
use tailor::loss::sparsity::orthogonal_map;
use tailor::matrix::{determinant, random_orthogonal};
use tailor::sos::SosBank;
use tailor::train::designs::{one_pole_sos, shelf_sos, soft_rt_floor, softplus};
use tailor::train::geq::{graphic_eq_attenuation, graphic_eq_sos};
use tailor::train::logm::logm;
use tailor::train::{FdnInputs, FdnOutput, FdnResponse, FdnSpec, Hook};
use tailor::{Build, BuildParts, Matrix, Rt};

/// Which parameters train (pyFDN defaults: feedback, input and output gains; not the direct path).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Trainable {
    /// Feedback matrix (through its parametrisation).
    pub feedback: bool,
    /// Input gains B.
    pub input_gain: bool,
    /// Output gains C.
    pub output_gain: bool,
    /// Direct path D.
    pub direct: bool,
}

impl Default for Trainable {
    fn default() -> Self {
        Self {
            feedback: true,
            input_gain: true,
            output_gain: true,
            direct: false,
        }
    }
}

/// Feedback-matrix parametrisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatrixKind {
    /// A = expm(W_u − W_uᵀ), W_u the strict upper triangle of W (always in SO(N)).
    ///
    /// Why expm of the skew part, exactly like pyFDN/FLAMO: (1) A stays orthogonal to machine
    /// precision at every step — a lossless loop stays lossless — with no projection or penalty;
    /// (2) expm maps the skew-symmetric matrices *onto* SO(N), so no orthogonal matrix of
    /// determinant +1 is unreachable (Cayley misses those with eigenvalue −1, Householder
    /// products need N reflections); (3) using the same map and the same raw parameter W keeps
    /// gradients, Adam trajectories and conformance values identical to the reference, which a
    /// "better" map would not. Its cost (a degree-18 Taylor expm of an N×N matrix) is negligible
    /// next to the per-bin solves.
    Orthogonal,
    /// A = W (unconstrained).
    Random,
}

/// Design of a trainable attenuation (post_delay) hook parametrised by RT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttenuationDesign {
    /// First-order shelf (§6.1) between RT at DC and at Nyquist.
    FirstOrderShelf,
    /// One-pole lowpass (§6.2) between RT at DC and at Nyquist.
    OnePole,
    /// 11-section graphic EQ (§6.5, [`tailor::geq`]) on 10 octave band RTs: parameter `(10,)`
    /// shared by all lines or `(10, N)` per line, seconds.
    GraphicEq,
}

/// A trainable output EQ (pyFDN `OutputEQ`): graphic EQ per output channel feeding the
/// post_output hook.
#[derive(Debug, Clone)]
pub struct OutputEq {
    /// Gains at the 10 command frequencies, `(10, n_out)`, dB.
    pub gain_db: Var,
    /// Whether the gains train.
    pub train: bool,
}

/// A trainable attenuation hook: the parameter is `[rt_dc, rt_nyquist]` in seconds (shelf,
/// one-pole) or the 10 band RTs (graphic EQ, `(10,)` or `(10, N)`).
#[derive(Debug, Clone)]
pub struct Attenuation {
    /// Filter design.
    pub design: AttenuationDesign,
    /// `[rt_dc, rt_nyquist]`, seconds.
    pub rt: Var,
    /// Soft RT floor f = max_i m_i / fs, seconds.
    pub floor_s: f64,
    /// Whether the RTs train.
    pub train: bool,
}

/// The post_delay hook of a model.
#[derive(Debug, Clone)]
pub enum PostDelay {
    /// No attenuation (lossless loop).
    None,
    /// A baked, frozen SOS bank.
    Frozen(SosBank),
    /// An RT-parametrised attenuation filter.
    Attenuation(Attenuation),
}

/// Evaluation settings of a model.
#[derive(Debug, Clone)]
pub struct ModelOptions {
    /// FFT length = training IR length, samples.
    pub nfft: usize,
    /// Alias-decay attenuation, dB over nfft samples.
    pub alias_decay_db: f64,
    /// Device of the parameters.
    pub device: Device,
    /// Parameter dtype (f32 or f64).
    pub dtype: DType,
}

impl Default for ModelOptions {
    fn default() -> Self {
        Self {
            nfft: 1 << 14,
            alias_decay_db: 0.0,
            device: Device::Cpu,
            dtype: DType::F64,
        }
    }
}

/// A trainable FDN (see the module docs).
#[derive(Debug)]
pub struct FdnModel {
    delays: Vec<usize>,
    fs: f64,
    nfft: usize,
    alias_decay_db: f64,
    matrix: MatrixKind,
    trainable: Trainable,
    w: Var,
    b: Var,
    c: Var,
    d: Var,
    post_delay: PostDelay,
    post_matrix: Option<SosBank>,
    post_output: Option<SosBank>,
    output_eq: Option<OutputEq>,
    op: FdnResponse,
    warnings: Vec<String>,
}

fn var_of(m: &Matrix, opts: &ModelOptions) -> Result<Var> {
    let t = Tensor::from_vec(m.as_slice().to_vec(), m.shape(), &Device::Cpu)?
        .to_dtype(opts.dtype)?
        .to_device(&opts.device)?;
    Ok(Var::from_tensor(&t)?)
}

fn matrix_of(t: &Tensor) -> Result<Matrix> {
    let (r, c) = t.dims2()?;
    let v = t
        .to_device(&Device::Cpu)?
        .to_dtype(DType::F64)?
        .flatten_all()?
        .to_vec1::<f64>()?;
    Matrix::from_row_major(r, c, v).context("matrix shape")
}

impl FdnModel {
    /// Delay lengths, samples.
    pub fn delays(&self) -> &[usize] {
        &self.delays
    }

    /// Sample rate, Hz.
    pub fn sample_rate(&self) -> f64 {
        self.fs
    }

    /// FFT length (= training IR length), samples.
    pub fn nfft(&self) -> usize {
        self.nfft
    }

    /// Alias-decay attenuation, dB.
    pub fn alias_decay_db(&self) -> f64 {
        self.alias_decay_db
    }

    /// Input channels.
    pub fn n_in(&self) -> usize {
        self.b.dims()[1]
    }

    /// Output channels.
    pub fn n_out(&self) -> usize {
        self.c.dims()[0]
    }

    /// Warnings raised while building (e.g. det(A₀) < 0 fixed by negating a column).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The post_delay hook.
    pub fn post_delay(&self) -> &PostDelay {
        &self.post_delay
    }

    /// The trainable output EQ, if any.
    pub fn output_eq(&self) -> Option<&OutputEq> {
        self.output_eq.as_ref()
    }

    /// Adds a trainable output EQ (replacing the build's post_output, as a pyFDN hook module
    /// does) with `gain_db` (dB at the 10 command frequencies) on every output channel.
    pub fn with_output_eq(mut self, gain_db: &[f64; BANDS], train: bool) -> Result<Self> {
        if let Some(j) = gain_db.iter().position(|g| !g.is_finite()) {
            bail!("output EQ gain of band {j} must be a finite number of dB");
        }
        let n_out = self.n_out();
        let vals: Vec<f64> = gain_db
            .iter()
            .flat_map(|&g| std::iter::repeat_n(g, n_out))
            .collect();
        let t = Tensor::from_vec(vals, (BANDS, n_out), &Device::Cpu)?
            .to_dtype(self.w.dtype())?
            .to_device(self.w.device())?;
        self.output_eq = Some(OutputEq {
            gain_db: Var::from_tensor(&t)?,
            train,
        });
        self.post_output = None;
        self.op = FdnResponse::with_dtype(
            &FdnSpec {
                delays: self.delays.clone(),
                n_in: self.n_in(),
                n_out,
                nfft: self.nfft,
                alias_decay_db: self.alias_decay_db,
                post_delay: hook_of(&self.post_delay),
                post_matrix: self.post_matrix.clone(),
                post_output: Hook::TrainableSos { sections: SECTIONS },
                output: FdnOutput::Time,
            },
            self.w.dtype(),
        )?;
        Ok(self)
    }

    /// The output-EQ SOS `(11, 6, n_out)` for the current gains.
    fn output_eq_sos(&self, eq: &OutputEq) -> Result<Tensor> {
        let g = self.tracked(&eq.gain_db, eq.train);
        Ok(graphic_eq_sos(&g, self.fs)?)
    }

    /// Device of the parameters.
    pub fn device(&self) -> &Device {
        self.w.device()
    }

    fn tracked(&self, v: &Var, train: bool) -> Tensor {
        if train {
            v.as_tensor().clone()
        } else {
            v.as_tensor().detach()
        }
    }

    /// The realised feedback matrix A `(N, N)` (differentiable when the feedback trains).
    pub fn feedback(&self) -> Result<Tensor> {
        let w = self.tracked(&self.w, self.trainable.feedback);
        Ok(match self.matrix {
            MatrixKind::Orthogonal => orthogonal_map(&w)?,
            MatrixKind::Random => w,
        })
    }

    /// The attenuation SOS `(K, 6, N)` for the current RT parameters.
    fn attenuation_sos(&self, att: &Attenuation) -> Result<Tensor> {
        let rt = self.tracked(&att.rt, att.train);
        if att.design == AttenuationDesign::GraphicEq {
            let rt = match rt.dims() {
                // Per-line targets: per-line floors m_i/fs (§6.5).
                [BANDS, n] if *n == self.delays.len() => {
                    let f: Vec<f64> = self.delays.iter().map(|&m| m as f64 / self.fs).collect();
                    let f = Tensor::from_vec(f, (1, *n), &Device::Cpu)?
                        .to_dtype(rt.dtype())?
                        .to_device(rt.device())?;
                    let u = (rt.broadcast_div(&f)? - 1.0)?;
                    (softplus(&u)? + 1.0)?.broadcast_mul(&f)?
                }
                [BANDS] => soft_rt_floor(&rt, att.floor_s)?,
                d => bail!(
                    "graphic-EQ band RTs must have shape (10,) or (10, {}), got {d:?}",
                    self.delays.len()
                ),
            };
            return Ok(graphic_eq_attenuation(&rt, &self.delays, self.fs)?);
        }
        let rt = soft_rt_floor(&rt, att.floor_s)?;
        let dc = rt.narrow(0, 0, 1)?;
        let ny = rt.narrow(0, 1, 1)?;
        Ok(match att.design {
            AttenuationDesign::FirstOrderShelf => {
                let t = shelf_warp(CrossoverConvention::Pyfdn05, None, self.fs)?;
                shelf_sos(&dc, &ny, &self.delays, self.fs, t)?
            }
            AttenuationDesign::OnePole => one_pole_sos(&dc, &ny, &self.delays, self.fs)?,
            AttenuationDesign::GraphicEq => unreachable!("handled above"),
        })
    }

    /// Impulse response `(nfft, n_out, n_in)` together with the realised A.
    pub fn response_and_feedback(&self) -> Result<(Tensor, Tensor)> {
        let a = self.feedback()?;
        let b = self.tracked(&self.b, self.trainable.input_gain);
        let c = self.tracked(&self.c, self.trainable.output_gain);
        let d = self.tracked(&self.d, self.trainable.direct);
        let pd = match &self.post_delay {
            PostDelay::Attenuation(att) => Some(self.attenuation_sos(att)?),
            _ => None,
        };
        let po = match &self.output_eq {
            Some(eq) => Some(self.output_eq_sos(eq)?),
            None => None,
        };
        let h = self.op.forward(&FdnInputs {
            a: &a,
            b: &b,
            c: &c,
            d: &d,
            post_delay: pd.as_ref(),
            post_output: po.as_ref(),
        })?;
        Ok((h, a))
    }

    /// Impulse response `(nfft, n_out, n_in)` (FLAMO frequency model + anti-alias iFFT).
    pub fn response(&self) -> Result<Tensor> {
        Ok(self.response_and_feedback()?.0)
    }

    /// Named trainable variables (the optimiser's parameters).
    pub fn trainable_vars(&self) -> Vec<(String, Var)> {
        let mut out = Vec::new();
        let t = self.trainable;
        for (name, v, on) in [
            ("feedback", &self.w, t.feedback),
            ("input_gain", &self.b, t.input_gain),
            ("output_gain", &self.c, t.output_gain),
            ("direct", &self.d, t.direct),
        ] {
            if on {
                out.push((name.to_string(), v.clone()));
            }
        }
        if let PostDelay::Attenuation(att) = &self.post_delay {
            if att.train {
                out.push(("post_delay.rt".to_string(), att.rt.clone()));
            }
        }
        if let Some(eq) = self.output_eq.as_ref().filter(|eq| eq.train) {
            out.push(("post_output.gain_db".to_string(), eq.gain_db.clone()));
        }
        out
    }

    /// Values of every trainable variable, f64, in [`Self::trainable_vars`] order.
    pub fn snapshot(&self) -> Result<Vec<(String, Vec<f64>)>> {
        self.trainable_vars()
            .into_iter()
            .map(|(n, v)| {
                let vals = v
                    .as_tensor()
                    .to_device(&Device::Cpu)?
                    .to_dtype(DType::F64)?
                    .flatten_all()?
                    .to_vec1::<f64>()?;
                Ok((n, vals))
            })
            .collect()
    }

    /// Restores values captured by [`Self::snapshot`] (names and sizes must match).
    pub fn restore(&self, snap: &[(String, Vec<f64>)]) -> Result<()> {
        let vars = self.trainable_vars();
        for (name, vals) in snap {
            let (_, var) = vars
                .iter()
                .find(|(n, _)| n == name)
                .ok_or_else(|| anyhow!("snapshot has unknown parameter '{name}'"))?;
            if vals.len() != var.elem_count() {
                bail!(
                    "snapshot parameter '{name}' has {} values, the model {}",
                    vals.len(),
                    var.elem_count()
                );
            }
            let t = Tensor::from_vec(vals.clone(), var.shape(), &Device::Cpu)?
                .to_dtype(var.dtype())?
                .to_device(var.device())?;
            var.set(&t)?;
        }
        Ok(())
    }
}

/// Options of [`build_fdn`] (pyFDN `build_fdn`, FDN reference §7.1).
#[derive(Debug, Clone)]
pub struct BuildFdnOptions {
    /// Delay lengths (samples); `None` → sampled for `n` lines (coprime, range 400–1200).
    pub delays: Option<Vec<usize>>,
    /// Number of lines when `delays` is `None`.
    pub n: Option<usize>,
    /// Decay: flat or (DC, Nyquist) T60 in seconds; `None` = lossless.
    pub rt: Option<Rt>,
    /// Attenuation design realising `rt`.
    pub attenuation: AttenuationDesign,
    /// Whether the RT values train.
    pub train_rt: bool,
    /// Feedback parametrisation.
    pub matrix: MatrixKind,
    /// Initial A (`None` → Haar-random in SO(N) from the same generator).
    pub feedback: Option<Matrix>,
    /// Initial B `(N, n_in)` (`None` → ones/√N, one input).
    pub input_gain: Option<Matrix>,
    /// Initial C `(n_out, N)` (`None` → ones/√N, one output).
    pub output_gain: Option<Matrix>,
    /// Direct-path value filling D `(n_out, n_in)`.
    pub direct: f64,
    /// Which parameters train.
    pub trainable: Trainable,
    /// Sample rate, Hz.
    pub fs: f64,
    /// FFT length, samples.
    pub nfft: usize,
    /// Alias decay in dB; `None` → 60 when lossless, else 0 (pyFDN).
    pub alias_decay_db: Option<f64>,
    /// Generator seed (delays, then A).
    pub seed: u64,
    /// Device.
    pub device: Device,
    /// Dtype (f32 or f64).
    pub dtype: DType,
}

impl Default for BuildFdnOptions {
    fn default() -> Self {
        Self {
            delays: None,
            n: None,
            rt: Some(Rt::Flat(2.0)),
            attenuation: AttenuationDesign::FirstOrderShelf,
            train_rt: false,
            matrix: MatrixKind::Orthogonal,
            feedback: None,
            input_gain: None,
            output_gain: None,
            direct: 0.0,
            trainable: Trainable::default(),
            fs: 48000.0,
            nfft: 1 << 14,
            alias_decay_db: None,
            seed: 0,
            device: Device::Cpu,
            dtype: DType::F64,
        }
    }
}

/// Initial RT parameter values (seconds) of `design` for `rt`: `[dc, nyquist]`, or for the
/// graphic EQ 10 band RTs interpolated geometrically from the DC to the Nyquist RT.
pub fn initial_rt(design: AttenuationDesign, rt: Rt) -> Vec<f64> {
    let (dc, ny) = rt.endpoints();
    match design {
        AttenuationDesign::GraphicEq => (0..BANDS)
            .map(|j| dc * (ny / dc).powf(j as f64 / (BANDS - 1) as f64))
            .collect(),
        _ => vec![dc, ny],
    }
}

/// pyFDN `LOSSLESS_ALIAS_DECAY_DB`.
pub const LOSSLESS_ALIAS_DECAY_DB: f64 = 60.0;

/// pyFDN `build_fdn`: a trainable model from delays or N, an RT (or none), a matrix kind and
/// optional initial gains.
pub fn build_fdn(opts: &BuildFdnOptions) -> Result<FdnModel> {
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let delays: Vec<usize> = match (&opts.delays, opts.n) {
        (Some(d), _) => d.clone(),
        (None, Some(n)) => sample_delay_lengths_with(
            n,
            &DelayOptions {
                coprime: true,
                ..Default::default()
            },
            &mut rng,
        )?
        .into_iter()
        .map(|d| d as usize)
        .collect(),
        (None, None) => bail!("provide either delays or N"),
    };
    let n = delays.len();
    if n == 0 {
        bail!("an FDN needs at least one delay line");
    }
    let a = match &opts.feedback {
        Some(a) if a.shape() != (n, n) => {
            bail!("feedback must have shape ({n}, {n}), got {:?}", a.shape())
        }
        Some(a) => a.clone(),
        None => random_orthogonal(n, &mut rng),
    };
    let s = 1.0 / (n as f64).sqrt();
    let b = opts
        .input_gain
        .clone()
        .unwrap_or_else(|| Matrix::filled(n, 1, s));
    let c = opts
        .output_gain
        .clone()
        .unwrap_or_else(|| Matrix::filled(1, n, s));
    let d = Matrix::filled(c.rows(), b.cols(), opts.direct);
    let build = Build::new(BuildParts {
        a,
        b,
        c,
        d,
        delays,
        sample_rate: opts.fs,
        post_delay: None,
        post_matrix: None,
        post_output: None,
        output_mix: None,
        metadata: Default::default(),
    })?;
    let alias = opts.alias_decay_db.unwrap_or(if opts.rt.is_none() {
        LOSSLESS_ALIAS_DECAY_DB
    } else {
        0.0
    });
    let post_delay = match opts.rt {
        None => PostDelay::None,
        Some(rt) => {
            let (dc, ny) = rt.endpoints();
            for (name, v) in [("rt", dc), ("rt_nyquist", ny)] {
                if !(v.is_finite() && v > 0.0) {
                    bail!("{name} must be a positive number of seconds, got {v}");
                }
            }
            let floor_s = build.max_delay() as f64 / opts.fs;
            let init = initial_rt(opts.attenuation, rt);
            let t = Tensor::new(init.as_slice(), &Device::Cpu)?
                .to_dtype(opts.dtype)?
                .to_device(&opts.device)?;
            PostDelay::Attenuation(Attenuation {
                design: opts.attenuation,
                rt: Var::from_tensor(&t)?,
                floor_s,
                train: opts.train_rt,
            })
        }
    };
    model_from_parts(
        &build,
        opts.trainable,
        opts.matrix,
        post_delay,
        &ModelOptions {
            nfft: opts.nfft,
            alias_decay_db: alias,
            device: opts.device.clone(),
            dtype: opts.dtype,
        },
    )
}

/// pyFDN `trainable_from_build`: the build's A/B/C/D become variables (W = logm(A₀) for the
/// orthogonal map), its baked hooks stay frozen.
pub fn trainable_from_build(
    build: &Build,
    trainable: Trainable,
    matrix: MatrixKind,
    opts: &ModelOptions,
) -> Result<FdnModel> {
    let post_delay = build
        .post_delay()
        .cloned()
        .map_or(PostDelay::None, PostDelay::Frozen);
    model_from_parts(build, trainable, matrix, post_delay, opts)
}

/// As [`trainable_from_build`] with an explicit post_delay hook (replacing the build's).
pub fn model_from_parts(
    build: &Build,
    trainable: Trainable,
    matrix: MatrixKind,
    post_delay: PostDelay,
    opts: &ModelOptions,
) -> Result<FdnModel> {
    if !matches!(opts.dtype, DType::F32 | DType::F64) {
        bail!("dtype must be f32 or f64, got {:?}", opts.dtype);
    }
    let n = build.n();
    let mut warnings = Vec::new();
    let w = match matrix {
        MatrixKind::Random => build.a().clone(),
        MatrixKind::Orthogonal => {
            let mut a0 = build.a().clone();
            let eye = Matrix::identity(n);
            let ata = a0.transpose().matmul(&a0).context("A shape")?;
            if ata.max_abs_diff(&eye) > 1e-6 {
                bail!(
                    "the orthogonal parametrisation needs an orthogonal feedback matrix (‖AᵀA − I‖max = {:.3e}); use the random parametrisation",
                    ata.max_abs_diff(&eye)
                );
            }
            if determinant(&a0) < 0.0 {
                warnings.push(
                    "feedback matrix has det < 0: its last column was negated to reach SO(N)"
                        .to_string(),
                );
                for i in 0..n {
                    a0.set(i, n - 1, -a0.get(i, n - 1));
                }
            }
            let l = logm(&a0).ok_or_else(|| {
                anyhow!("cannot take the real logarithm of the feedback matrix (eigenvalue at −1?)")
            })?;
            // Keep only the strict upper triangle; the map uses W_u − W_uᵀ.
            let mut w = Matrix::zeros(n, n);
            for i in 0..n {
                for j in i + 1..n {
                    w.set(i, j, 0.5 * (l.get(i, j) - l.get(j, i)));
                }
            }
            w
        }
    };
    let post_output = build.post_output().cloned();
    let hook = hook_of(&post_delay);
    let op = FdnResponse::with_dtype(
        &FdnSpec {
            delays: build.delays().to_vec(),
            n_in: build.n_in(),
            n_out: build.n_out(),
            nfft: opts.nfft,
            alias_decay_db: opts.alias_decay_db,
            post_delay: hook,
            post_matrix: build.post_matrix().cloned(),
            post_output: post_output.clone().map_or(Hook::None, Hook::Frozen),
            output: FdnOutput::Time,
        },
        opts.dtype,
    )?;
    Ok(FdnModel {
        delays: build.delays().to_vec(),
        fs: build.sample_rate(),
        nfft: opts.nfft,
        alias_decay_db: opts.alias_decay_db,
        matrix,
        trainable,
        w: var_of(&w, opts)?,
        b: var_of(build.b(), opts)?,
        c: var_of(build.c(), opts)?,
        d: var_of(build.d(), opts)?,
        post_delay,
        post_matrix: build.post_matrix().cloned(),
        post_output,
        output_eq: None,
        op,
        warnings,
    })
}

/// The response-op hook for a post_delay.
fn hook_of(post_delay: &PostDelay) -> Hook {
    match post_delay {
        PostDelay::None => Hook::None,
        PostDelay::Frozen(bank) => Hook::Frozen(bank.clone()),
        // The op evaluates the designed SOS itself (no response tensor in the graph).
        PostDelay::Attenuation(att) => Hook::TrainableSos {
            sections: match att.design {
                AttenuationDesign::GraphicEq => SECTIONS,
                AttenuationDesign::FirstOrderShelf | AttenuationDesign::OnePole => 1,
            },
        },
    }
}

/// A `(K, 6, C)` coefficient tensor as an SOS bank.
fn bank_of(sos: &Tensor) -> Result<SosBank> {
    let (k, _, ch) = sos.dims3()?;
    let v = sos
        .to_device(&Device::Cpu)?
        .to_dtype(DType::F64)?
        .flatten_all()?
        .to_vec1::<f64>()?;
    Ok(SosBank::new(k, ch, v)?)
}

/// pyFDN `extract_build`: the realised parameters as a validated [`Build`] (A mapped, hooks baked
/// to SOS banks).
pub fn extract_build(model: &FdnModel) -> Result<Build> {
    let post_delay = match &model.post_delay {
        PostDelay::None => None,
        PostDelay::Frozen(b) => Some(b.clone()),
        PostDelay::Attenuation(att) => Some(bank_of(&model.attenuation_sos(att)?)?),
    };
    let post_output = match &model.output_eq {
        Some(eq) => Some(bank_of(&model.output_eq_sos(eq)?)?),
        None => model.post_output.clone(),
    };
    Ok(Build::new(BuildParts {
        a: matrix_of(&model.feedback()?)?,
        b: matrix_of(model.b.as_tensor())?,
        c: matrix_of(model.c.as_tensor())?,
        d: matrix_of(model.d.as_tensor())?,
        delays: model.delays.clone(),
        sample_rate: model.fs,
        post_delay,
        post_matrix: model.post_matrix.clone(),
        post_output,
        output_mix: None,
        metadata: Default::default(),
    })?)
}

/// Seed `with_decay`: a copy of `build` whose post_delay is the first-order shelf for `rt`.
pub fn with_decay(build: &Build, rt: impl Into<Rt>) -> Result<Build> {
    Ok(tailor::with_decay(build, rt)?)
}

#[cfg(test)]
mod geq_tests {
    use super::*;
    use tailor::response::{frequency_response, impulse_response_fft};

    const DELAYS: [usize; 4] = [31, 37, 41, 43];
    const NFFT: usize = 512;

    /// A graphic-EQ model (shared or per-line band RTs) with a trainable output EQ.
    fn geq_model(per_line: bool) -> FdnModel {
        let model = build_fdn(&BuildFdnOptions {
            delays: Some(DELAYS.to_vec()),
            rt: Some(Rt::Shelf {
                dc: 0.02,
                nyquist: 0.008,
            }),
            attenuation: AttenuationDesign::GraphicEq,
            train_rt: true,
            nfft: NFFT,
            alias_decay_db: Some(20.0),
            seed: 5,
            ..Default::default()
        })
        .unwrap();
        let model = if per_line {
            let build = extract_build(&model).unwrap();
            let rts: Vec<f64> = (0..BANDS * 4)
                .map(|k| 0.004 + 0.002 * (k % 7) as f64 + 0.001 * (k / 4) as f64)
                .collect();
            let t = Tensor::from_vec(rts, (BANDS, 4), &Device::Cpu).unwrap();
            model_from_parts(
                &build,
                Trainable::default(),
                MatrixKind::Orthogonal,
                PostDelay::Attenuation(Attenuation {
                    design: AttenuationDesign::GraphicEq,
                    rt: Var::from_tensor(&t).unwrap(),
                    floor_s: 43.0 / 48000.0,
                    train: true,
                }),
                &ModelOptions {
                    nfft: NFFT,
                    alias_decay_db: 20.0,
                    ..Default::default()
                },
            )
            .unwrap()
        } else {
            model
        };
        model
            .with_output_eq(
                &[3.0, 2.0, -1.0, 0.0, 1.5, -2.0, 0.5, -3.0, 2.5, -4.0],
                true,
            )
            .unwrap()
    }

    #[test]
    fn extracted_build_renders_the_model_response() {
        for per_line in [false, true] {
            let model = geq_model(per_line);
            let names: Vec<String> = model.trainable_vars().into_iter().map(|v| v.0).collect();
            assert!(names.contains(&"post_delay.rt".to_string()));
            assert!(names.contains(&"post_output.gain_db".to_string()));
            let build = extract_build(&model).unwrap();
            assert_eq!(build.post_delay().unwrap().sections(), 11);
            assert_eq!(build.post_output().unwrap().sections(), 11);
            let want = impulse_response_fft(&frequency_response(&build, NFFT, 20.0));
            let got = model
                .response()
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f64>()
                .unwrap();
            let err = (0..NFFT).fold(0.0f64, |e, n| e.max((got[n] - want.at(n, 0, 0)).abs()));
            assert!(err <= 1e-9, "per_line {per_line}: max |Δh| {err:e}");
            assert!(want.max_abs() > 1e-3);
        }
    }

    #[test]
    fn geq_hooks_gradient_matches_finite_differences() {
        let w: Vec<f64> = (0..NFFT)
            .map(|n| ((n * 37 % 101) as f64) / 101.0 - 0.5)
            .collect();
        let w = Tensor::from_vec(w, (NFFT, 1, 1), &Device::Cpu).unwrap();
        for per_line in [false, true] {
            let model = geq_model(per_line);
            let objective = |m: &FdnModel| -> Tensor {
                (m.response().unwrap() * &w).unwrap().sum_all().unwrap()
            };
            let vars = model.trainable_vars();
            let grads = objective(&model).backward().unwrap();
            for name in ["post_delay.rt", "post_output.gain_db"] {
                let var = &vars.iter().find(|(n, _)| n == name).unwrap().1;
                let g = grads
                    .get(var.as_tensor())
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f64>()
                    .unwrap();
                let x0 = var.flatten_all().unwrap().to_vec1::<f64>().unwrap();
                let scale = g.iter().fold(0.0f64, |a, v| a.max(v.abs()));
                assert!(scale > 0.0, "{name}: zero gradient");
                for i in (0..x0.len()).step_by(3) {
                    let h = if x0[i] == 0.0 {
                        1e-3
                    } else {
                        1e-3 * x0[i].abs()
                    };
                    let at = |d: f64| {
                        let mut x = x0.clone();
                        x[i] += d;
                        let t = Tensor::from_vec(x, var.shape(), &Device::Cpu).unwrap();
                        var.set(&t).unwrap();
                        objective(&model).to_scalar::<f64>().unwrap()
                    };
                    // Richardson-extrapolated central differences (truncation O(h⁴)).
                    let d1 = (at(h) - at(-h)) / (2.0 * h);
                    let d2 = (at(h / 2.0) - at(-h / 2.0)) / h;
                    let fd = (4.0 * d2 - d1) / 3.0;
                    let t0 = Tensor::from_vec(x0.clone(), var.shape(), &Device::Cpu).unwrap();
                    var.set(&t0).unwrap();
                    let rel = (fd - g[i]).abs() / scale;
                    assert!(
                        rel <= 1e-6,
                        "{name}[{i}] per_line {per_line}: {} vs {fd} ({rel:e})",
                        g[i]
                    );
                }
            }
        }
    }

    #[test]
    fn bad_geq_parameters_are_refused() {
        let model = geq_model(false);
        let e = model.with_output_eq(&[f64::NAN; BANDS], true).unwrap_err();
        assert!(e.to_string().contains("finite"), "{e}");
        let build = extract_build(&geq_model(false)).unwrap();
        let t = Tensor::ones((BANDS, 3), DType::F64, &Device::Cpu).unwrap();
        let model = model_from_parts(
            &build,
            Trainable::default(),
            MatrixKind::Orthogonal,
            PostDelay::Attenuation(Attenuation {
                design: AttenuationDesign::GraphicEq,
                rt: Var::from_tensor(&t).unwrap(),
                floor_s: 0.001,
                train: true,
            }),
            &ModelOptions {
                nfft: NFFT,
                ..Default::default()
            },
        )
        .unwrap();
        let e = model.response().unwrap_err();
        assert!(e.to_string().contains("band RTs"), "{e}");
    }
}
