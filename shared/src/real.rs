//! The scalar types the training ops compute in: `f64` (exact, the default) and `f32` (pyFDN's
//! default precision, about twice the SIMD throughput).
//!
//! Every custom op (FDN response, SOS hooks, rfft/irfft, STFT, fused MSS) is written once,
//! generic over [`Real`], and picks the instance from its input's dtype at the op boundary with
//! [`by_dtype!`](crate::by_dtype) — the candle-core way, no f32 twins of the math. Sums that
//! need it (loss norms, gradient totals over bins and blocks) accumulate in f64 either way.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, DType, Device, Layout, Tensor, WithDType};
use num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::num_traits::Float;
use std::borrow::Cow;
use std::fmt::Debug;
use std::ops::{Index, IndexMut};
use std::sync::{Arc, Mutex, OnceLock};

/// A floating-point scalar the custom ops compute in (`f32` or `f64`).
pub trait Real: WithDType + rustfft::FftNum + Float + Default + Debug {
    /// [`Self::L`] values, one per SIMD lane of the FDN kernel (one bin each).
    type Lane: Copy + Send + Sync + Debug + Index<usize, Output = Self> + IndexMut<usize>;
    /// Bins per SIMD group of the FDN kernel (two AVX registers: 8 × f64, 16 × f32).
    const L: usize;
    /// A lane of `v` in every slot.
    fn splat(v: Self) -> Self::Lane;
    /// `v` rounded to this type.
    fn of(v: f64) -> Self;
    /// This value as f64 (exact).
    fn wide(self) -> f64;
    /// The cached forward real FFT plan of length `n`.
    fn plan_rfft(n: usize) -> Arc<dyn RealToComplex<Self>>;
    /// The cached inverse real FFT plan of length `n`.
    fn plan_irfft(n: usize) -> Arc<dyn ComplexToReal<Self>>;
}

/// Real FFT plans of one scalar type (rustfft plans are pure functions of the length).
///
/// A memo, not state: planning a 2^14-point transform costs as much as running it ~5 times
/// (twiddle tables), and the rfft/irfft ops are created anew on every training step.
fn planned<T: Real, P>(
    planner: &Mutex<RealFftPlanner<T>>,
    plan: impl FnOnce(&mut RealFftPlanner<T>) -> P,
) -> P {
    let mut planner = planner.lock().unwrap_or_else(|e| e.into_inner());
    plan(&mut planner)
}

macro_rules! real_impl {
    ($t:ty, $lanes:expr) => {
        impl Real for $t {
            type Lane = [$t; $lanes];
            const L: usize = $lanes;
            #[inline(always)]
            fn splat(v: Self) -> Self::Lane {
                [v; $lanes]
            }
            #[inline(always)]
            fn of(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn wide(self) -> f64 {
                f64::from(self)
            }
            fn plan_rfft(n: usize) -> Arc<dyn RealToComplex<Self>> {
                planned(planner_of::<$t>(), |p| p.plan_fft_forward(n))
            }
            fn plan_irfft(n: usize) -> Arc<dyn ComplexToReal<Self>> {
                planned(planner_of::<$t>(), |p| p.plan_fft_inverse(n))
            }
        }
    };
}

/// The process-wide real FFT planner of `T` (one static per type).
fn planner_of<T: PlannerSlot>() -> &'static Mutex<RealFftPlanner<T>> {
    T::slot().get_or_init(|| Mutex::new(RealFftPlanner::new()))
}

/// Where the real FFT planner of each type lives.
trait PlannerSlot: Real {
    fn slot() -> &'static OnceLock<Mutex<RealFftPlanner<Self>>>;
}

impl PlannerSlot for f32 {
    fn slot() -> &'static OnceLock<Mutex<RealFftPlanner<f32>>> {
        static S: OnceLock<Mutex<RealFftPlanner<f32>>> = OnceLock::new();
        &S
    }
}

impl PlannerSlot for f64 {
    fn slot() -> &'static OnceLock<Mutex<RealFftPlanner<f64>>> {
        static S: OnceLock<Mutex<RealFftPlanner<f64>>> = OnceLock::new();
        &S
    }
}

real_impl!(f32, 16);
real_impl!(f64, 8);

/// Runs `$body` with the type alias `$T` bound to `f32` or `f64` as `$dtype` says (any other
/// dtype is a candle error naming `$what`).
#[macro_export]
macro_rules! by_dtype {
    ($dtype:expr, $what:expr, $T:ident => $body:expr) => {
        match $dtype {
            candle_core::DType::F32 => {
                type $T = f32;
                #[allow(unused_imports)]
                use $crate::real::scope::*;
                $body
            }
            candle_core::DType::F64 => {
                type $T = f64;
                #[allow(unused_imports)]
                use $crate::real::scope::*;
                $body
            }
            other => candle_core::bail!("{} supports f32/f64 tensors, got {other:?}", $what),
        }
    };
}

/// The traits whose methods a [`by_dtype!`](crate::by_dtype) body calls on its concrete type.
pub mod scope {
    pub use super::Real;
    pub use candle_core::WithDType;
    pub use rustfft::num_traits::{Float, One, Zero};
}

/// The contiguous values of a CPU storage as `T` (borrowed when the dtype already is `T`).
pub(crate) fn storage_as<'a, T: Real>(
    storage: &'a CpuStorage,
    layout: &Layout,
) -> candle_core::Result<Cow<'a, [T]>> {
    let (start, end) = layout
        .contiguous_offsets()
        .ok_or_else(|| candle_core::Error::Msg("custom op needs a contiguous input".into()))?;
    if storage.dtype() == T::DTYPE {
        return Ok(Cow::Borrowed(
            &T::cpu_storage_as_slice(storage)?[start..end],
        ));
    }
    Ok(Cow::Owned(match storage {
        CpuStorage::F64(v) => v[start..end].iter().map(|&x| T::of(x)).collect(),
        CpuStorage::F32(v) => v[start..end].iter().map(|&x| T::of(f64::from(x))).collect(),
        other => candle_core::bail!("custom op supports f32/f64, got {:?}", other.dtype()),
    }))
}

/// `T` values as a CPU storage of `dtype` (f32 or f64).
pub(crate) fn storage_from<T: Real>(data: Vec<T>, dtype: DType) -> candle_core::Result<CpuStorage> {
    Ok(match dtype {
        d if d == T::DTYPE => T::to_cpu_storage_owned(data),
        DType::F64 => CpuStorage::F64(data.into_iter().map(T::wide).collect()),
        DType::F32 => CpuStorage::F32(data.into_iter().map(|x| x.wide() as f32).collect()),
        other => candle_core::bail!("custom op supports f32/f64, got {other:?}"),
    })
}

/// Any tensor as contiguous `T` values on the CPU.
pub(crate) fn tensor_as<T: Real>(t: &Tensor) -> candle_core::Result<Vec<T>> {
    t.to_device(&Device::Cpu)?
        .to_dtype(T::DTYPE)?
        .flatten_all()?
        .to_vec1::<T>()
}

/// A gradient `data` of `T` values shaped like `arg` (its dtype and device).
pub(crate) fn grad_like<T: Real>(data: Vec<T>, arg: &Tensor) -> candle_core::Result<Tensor> {
    Tensor::from_vec(data, arg.shape(), &Device::Cpu)?
        .to_dtype(arg.dtype())?
        .to_device(arg.device())
}

/// Complex zero of `T`.
#[inline(always)]
pub(crate) fn czero<T: Real>() -> Complex<T> {
    Complex::new(T::zero(), T::zero())
}
