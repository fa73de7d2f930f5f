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

/// Sets flush-to-zero and denormals-are-zero for the current thread while alive (x86-64: the
/// FTZ and DAZ bits of MXCSR; aarch64: the FZ bit of FPCR, which flushes both inputs and
/// results); the previous mode is restored on drop. Elsewhere it does nothing and the filters
/// flush their tiny states instead ([`flush_subnormals`] cleans outputs on every target).
#[derive(Debug)]
pub struct DenormalGuard {
    #[cfg(target_arch = "x86_64")]
    saved: u32,
    #[cfg(target_arch = "aarch64")]
    saved: u64,
}

impl DenormalGuard {
    /// FTZ (bit 15) and DAZ (bit 6) of MXCSR.
    #[cfg(target_arch = "x86_64")]
    const FTZ_DAZ: u32 = 0x8040;

    /// FZ (bit 24) of FPCR.
    #[cfg(target_arch = "aarch64")]
    const FZ: u64 = 1 << 24;

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
        #[cfg(target_arch = "aarch64")]
        {
            let saved: u64;
            // SAFETY: FPCR is readable and writable at EL0 on aarch64; only the FZ mode bit is
            // changed, and it is restored on drop.
            unsafe {
                std::arch::asm!("mrs {}, fpcr", out(reg) saved);
                std::arch::asm!("msr fpcr, {}", in(reg) saved | Self::FZ);
            }
            Self { saved }
        }
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        Self {}
    }
}

/// Replaces every subnormal sample of `x` with 0 (an output stage: hosts and later plugins
/// never see subnormals, whatever the floating-point mode). Allocation-free.
#[inline]
pub fn flush_subnormals(x: &mut [f32]) {
    for v in x.iter_mut() {
        if v.abs() < f32::MIN_POSITIVE {
            *v = 0.0;
        }
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
        #[cfg(target_arch = "aarch64")]
        // SAFETY: restores the value read in `new`.
        unsafe {
            std::arch::asm!("msr fpcr, {}", in(reg) self.saved)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hint::black_box;

    #[test]
    fn flush_subnormals_zeroes_only_subnormals() {
        let tiny = f32::from_bits(1);
        let mut x = [
            tiny,
            -tiny,
            -5.08e-39,
            2.66e-44,
            f32::MIN_POSITIVE,
            -f32::MIN_POSITIVE,
            0.25,
            -1.0,
            0.0,
        ];
        flush_subnormals(&mut x);
        assert_eq!(
            x,
            [
                0.0,
                0.0,
                0.0,
                0.0,
                f32::MIN_POSITIVE,
                -f32::MIN_POSITIVE,
                0.25,
                -1.0,
                0.0
            ]
        );
        assert!(x.iter().all(|v| !v.is_subnormal()));
    }

    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    #[test]
    fn the_guard_flushes_results_and_restores_the_mode() {
        let half = || black_box(f32::MIN_POSITIVE) * black_box(0.5);
        assert!(half().is_subnormal(), "the test thread starts without FTZ");
        {
            let _g = DenormalGuard::new();
            assert_eq!(half(), 0.0);
            {
                let _inner = DenormalGuard::new();
                assert_eq!(half(), 0.0);
            }
            assert_eq!(half(), 0.0, "a nested guard restores FTZ on");
        }
        assert!(
            half().is_subnormal(),
            "the mode is restored after the guard"
        );
    }
}
