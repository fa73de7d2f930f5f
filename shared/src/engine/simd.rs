//! SIMD support: lane width, fused multiply-add selection and run-time CPU dispatch.
//!
//! The kernels are plain Rust on fixed-size `[f32; LANES]` arrays that LLVM vectorises. Each
//! chunk render is compiled twice: a portable build (baseline target, e.g. SSE2 on x86-64, where
//! `fmadd` is `a * b + c`) and, on x86-64, an AVX2 + FMA build selected at run time, where
//! `fmadd` is a fused `vfmadd`. The criterion bench `engine` compares both against a scalar
//! per-sample reference.

/// Lines processed together by the per-line filters (one AVX register of `f32`).
pub const LANES: usize = 8;

/// Which compiled kernel set the engine runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimdLevel {
    /// Baseline target features only (SSE2 on x86-64, NEON on aarch64); no fused multiply-add.
    Portable,
    /// x86-64 AVX2 + FMA kernels (chosen at run time when the CPU has them).
    Avx2Fma,
}

impl SimdLevel {
    /// The best level this CPU supports.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return SimdLevel::Avx2Fma;
            }
        }
        SimdLevel::Portable
    }

    /// `requested` if this CPU supports it, otherwise [`SimdLevel::Portable`].
    pub fn supported_or_portable(requested: SimdLevel) -> Self {
        match requested {
            SimdLevel::Portable => SimdLevel::Portable,
            SimdLevel::Avx2Fma => Self::detect(),
        }
    }

    /// Short name for reports ("portable", "avx2+fma").
    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Portable => "portable",
            SimdLevel::Avx2Fma => "avx2+fma",
        }
    }
}

/// `a · b + c`, fused when `FMA` (only instantiated with `FMA = true` inside FMA-enabled code).
#[inline(always)]
pub fn fmadd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// Rounds `x` up to a multiple of `m` (`m > 0`).
#[inline]
pub fn round_up(x: usize, m: usize) -> usize {
    x.div_ceil(m) * m
}

/// Sets flush-to-zero and denormals-are-zero for the current thread while alive (x86-64 SSE
/// control register; restored on drop). Elsewhere it does nothing and the filters flush their
/// tiny states instead.
#[derive(Debug)]
pub struct DenormalGuard {
    #[cfg(target_arch = "x86_64")]
    saved: u32,
}

impl DenormalGuard {
    /// FTZ (bit 15) and DAZ (bit 6) of MXCSR.
    #[cfg(target_arch = "x86_64")]
    const FTZ_DAZ: u32 = 0x8040;

    /// Enables FTZ/DAZ until the guard is dropped.
    #[allow(deprecated)]
    pub fn new() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: reading and writing MXCSR is always valid on x86-64 (SSE is baseline);
            // only the FTZ/DAZ mode bits are changed, and they are restored on drop.
            let saved = unsafe { std::arch::x86_64::_mm_getcsr() };
            unsafe { std::arch::x86_64::_mm_setcsr(saved | Self::FTZ_DAZ) };
            Self { saved }
        }
        #[cfg(not(target_arch = "x86_64"))]
        Self {}
    }
}

impl Default for DenormalGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for DenormalGuard {
    #[allow(deprecated)]
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: restores the value read in `new`.
        unsafe {
            std::arch::x86_64::_mm_setcsr(self.saved)
        };
    }
}
