//! `tailor bench engine`: throughput of the real-time FDN engine on a random stable FDN.

use anyhow::{bail, Context};
use std::time::Instant;
use tailor::engine::random::{random_build, RandomBuildSpec};
use tailor::engine::{Engine, EngineConfig, MatrixKind, SimdLevel};

/// Benchmarks.
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Render noise through a random N-line FDN (mono in, stereo out, first-order-shelf
    /// absorption RT 2 s at DC / 0.5 s at Nyquist, 48 kHz) and report output frames per second.
    Engine(EngineArgs),
}

/// Feedback-matrix choice for `tailor bench engine`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MatrixArg {
    /// Random orthogonal matrix, dense product.
    Dense,
    /// Householder reflection (O(N) product).
    Householder,
    /// Sylvester–Hadamard matrix (fast transform; N a power of two).
    Hadamard,
}

impl From<MatrixArg> for MatrixKind {
    fn from(m: MatrixArg) -> Self {
        match m {
            MatrixArg::Dense => MatrixKind::Dense,
            MatrixArg::Householder => MatrixKind::Householder,
            MatrixArg::Hadamard => MatrixKind::Hadamard,
        }
    }
}

/// Arguments of `tailor bench engine`.
#[derive(Debug, clap::Args)]
pub struct EngineArgs {
    /// Number of delay lines N.
    #[arg(long, default_value_t = 16)]
    pub n: usize,
    /// Seconds of audio rendered per timed run (at 48 kHz).
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Feedback-matrix kind.
    #[arg(long, value_enum, default_value_t = MatrixArg::Dense)]
    pub matrix: MatrixArg,
    /// Host block length in samples (buffers passed to `process`).
    #[arg(long, default_value_t = 512)]
    pub block: usize,
    /// Engine internal block length in samples.
    #[arg(long, default_value_t = 256)]
    pub max_block: usize,
    /// Timed runs; the fastest is reported.
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Use the portable kernels (no AVX2/FMA) to measure the SIMD gain.
    #[arg(long)]
    pub portable: bool,
    /// Random seed of the FDN and the noise.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs a benchmark.
pub fn run(cmd: &BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Engine(a) => engine(a),
    }
}

fn engine(args: &EngineArgs) -> anyhow::Result<()> {
    const FS: f64 = 48_000.0;
    if !(1..=1024).contains(&args.n) {
        bail!("--n must be between 1 and 1024 (got {})", args.n);
    }
    if !(args.seconds.is_finite() && args.seconds > 0.0 && args.seconds <= 600.0) {
        bail!("--seconds must be in (0, 600] (got {})", args.seconds);
    }
    if args.block == 0 || args.repeat == 0 {
        bail!("--block and --repeat must be positive");
    }
    let mut spec = RandomBuildSpec::new(args.n);
    spec.matrix = args.matrix.into();
    spec.seed = args.seed;
    spec.sample_rate = FS;
    let build = random_build(&spec)
        .map_err(anyhow::Error::msg)
        .context("building the random FDN")?;
    let mut cfg = EngineConfig::for_build(&build);
    cfg.max_block = args.max_block;
    if args.portable {
        cfg.simd = SimdLevel::Portable;
    }
    let mut engine = Engine::prepare(&build, &cfg)?;
    let frames = (args.seconds * FS).round() as usize;
    let mut rng = args.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let input: Vec<f32> = (0..frames)
        .map(|_| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect();
    let mut left = vec![0.0f32; frames];
    let mut right = vec![0.0f32; frames];
    let mut render = |engine: &mut Engine, len: usize| {
        let mut t = 0;
        while t < len {
            let b = args.block.min(len - t);
            engine.process(
                &[&input[t..t + b]],
                &mut [&mut left[t..t + b], &mut right[t..t + b]],
            );
            t += b;
        }
    };
    render(&mut engine, frames.min(FS as usize / 2));
    let mut runs = Vec::with_capacity(args.repeat);
    for _ in 0..args.repeat {
        engine.reset();
        let start = Instant::now();
        render(&mut engine, frames);
        runs.push(start.elapsed().as_secs_f64());
    }
    let best = runs.iter().copied().fold(f64::INFINITY, f64::min);
    let sps = frames as f64 / best;
    let energy: f64 = left
        .iter()
        .chain(&right)
        .map(|&v| f64::from(v).powi(2))
        .sum();
    if !(energy.is_finite() && energy > 0.0) {
        bail!("the rendered output is silent or not finite (energy {energy})");
    }
    if args.json {
        let v = serde_json::json!({
            "n": args.n,
            "matrix": engine.matrix_kind().name(),
            "simd": engine.simd_level().name(),
            "block": args.block,
            "max_block": engine.block_len(),
            "sample_rate": FS,
            "seconds": args.seconds,
            "frames": frames,
            "inputs": 1,
            "outputs": 2,
            "elapsed_s": best,
            "runs_s": runs,
            "samples_per_second": sps,
            "realtime_factor": sps / FS,
        });
        println!("{v}");
    } else {
        println!(
            "engine  N={} matrix={} simd={} block={} (internal {}), mono in, stereo out",
            args.n,
            engine.matrix_kind().name(),
            engine.simd_level().name(),
            args.block,
            engine.block_len()
        );
        println!(
            "render  {frames} frames ({:.1} s at 48 kHz) in {:.4} s (best of {})",
            args.seconds, best, args.repeat
        );
        println!(
            "speed   {:.2} M samples/s = {:.0}x real time at 48 kHz",
            sps / 1e6,
            sps / FS
        );
    }
    Ok(())
}
