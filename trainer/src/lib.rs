//! Tailor's trainer library: golden-vector conformance and the `tailor` CLI commands.

pub mod ab;
pub mod cli;
pub mod conformance;
pub mod golden;
pub mod train;

/// Fixes the worker-thread count candle reads (`RAYON_NUM_THREADS`) to this machine's available
/// parallelism, unless the user already set it. Call once at start-up, before any thread exists.
///
/// Why: candle-core 0.11 asks for its thread count on every matrix product and, without this
/// variable, recounts the physical cores from `/proc/cpuinfo` each time — ~60 µs per product,
/// which was a third of a colorless training step (the feedback matrix exponential and its
/// backward are ~50 small products). The value chosen is what rayon would use anyway.
///
/// It also runs candle's element-wise maps on the calling thread (`CANDLE_NUM_THREADS=1`, unless
/// set): candle-core 0.11 splits every map over ≥ 64 Ki elements across its own barrier pool,
/// whose threads spin-wait beside rayon's. A training step has only a few such maps (the
/// 2^17-sample response and its gradient), all its heavy work is in the rayon-parallel custom
/// ops, and on a 2-core machine the spinning took ~20 % of the CPU of a 2^17 MatchSpectrogram
/// step.
pub fn pin_thread_count() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    }
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
}

/// Lets a closed pipe end the tool quietly, as Unix tools do (`tailor … | head`).
///
/// Rust ignores SIGPIPE, so a write to a closed stdout fails and `println!` panics; restoring
/// the default action makes the process end silently when the reader goes away.
pub fn quiet_broken_pipe() {
    #[cfg(unix)]
    // SAFETY: sets the default disposition of one signal; called first thing in `main`.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Keeps freed training buffers in the process instead of returning them to the kernel (glibc
/// only; elsewhere a no-op). Call once at start-up.
///
/// Why: a training step allocates and frees spectra and responses of several MB; glibc serves
/// those with fresh `mmap`s (or trims the heap) and the next step page-faults every page back in
/// — a quarter of a 2^17-sample MatchSpectrogram step. Raising the mmap threshold to its maximum
/// (32 MB) and the trim threshold to 1 GB lets the same pages serve every step.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning parameters; called before other threads.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}
