//! The audio side never allocates: `process` of the reverb (engine, mix, tone; with control
//! changes, odd block lengths and an oversized block), `reset`, and a whole preset swap
//! (receive, crossfade, retire) run with zero heap allocations, counted by a
//! `#[global_allocator]` on the audio thread.

mod engine_common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use tailor::engine::{Engine, EngineConfig};
use tailor::fx::Reverb;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    if COUNTING.with(Cell::get) {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
    }
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note();
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Serialises the tests of this file: the allocation counter is global.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `f` and returns how many allocations/frees it made on this thread.
fn counted(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.load(Ordering::SeqCst) - before
}

#[test]
fn audio_side_never_allocates() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let presets = engine_common::colorless_with_decay();
    let (a, b) = (&presets[6].1, &presets[2].1);
    let mut cfg = EngineConfig::new(a.sample_rate(), 2, 2);
    cfg.max_block = 128;
    let mut engine = Reverb::prepare(a, &cfg).unwrap();
    let handle = engine.swap_handle();
    let noise_l = engine_common::noise(48_000, 1);
    let noise_r = engine_common::noise(48_000, 2);
    let mut out_l = vec![0.0f32; 48_000];
    let mut out_r = vec![0.0f32; 48_000];

    // The counter works (this closure allocates).
    assert!(counted(|| drop(std::hint::black_box(vec![1u8; 10]))) > 0);

    let n = counted(|| {
        let mut t = 0;
        for (k, len) in [1usize, 7, 64, 511, 512, 3000]
            .iter()
            .cycle()
            .take(40)
            .enumerate()
        {
            if t + len > 48_000 {
                break;
            }
            let mut c = engine.controls();
            match k % 6 {
                0 => c.decay_scale = 0.5 + k as f32 * 0.05,
                1 => c.mix.predelay_ms = k as f32,
                2 => (c.mix.dry, c.mix.wet) = (0.7, 0.3),
                3 => c.mix.output_gain_db = -3.0,
                4 => (c.tone_hz, c.width) = (2_000.0, 0.5),
                _ => {}
            }
            engine.set_controls(&c);
            engine.process(
                &[&noise_l[t..t + len], &noise_r[t..t + len]],
                &mut [&mut out_l[t..t + len], &mut out_r[t..t + len]],
            );
            t += len;
        }
        // One call far longer than the internal block.
        engine.process(&[&noise_l, &noise_r], &mut [&mut out_l, &mut out_r]);
        engine.reset();
    });
    assert_eq!(n, 0, "process/reset allocated {n} times");

    // A swap: prepared and queued off the audio thread, taken, crossfaded and retired on it.
    let state = handle.prepare(b).unwrap();
    handle.send(state).unwrap();
    let before = engine.engine().swaps_completed();
    let n = counted(|| {
        for blk in 0..20 {
            let t = blk * 480;
            engine.process(
                &[&noise_l[t..t + 480], &noise_r[t..t + 480]],
                &mut [&mut out_l[t..t + 480], &mut out_r[t..t + 480]],
            );
        }
    });
    assert_eq!(
        n, 0,
        "the swap allocated or freed {n} times on the audio side"
    );
    assert_eq!(engine.engine().swaps_completed(), before + 1);
    assert!(!engine.engine().is_crossfading());
    assert_eq!(
        handle.collect_retired(),
        1,
        "the old state came back for dropping"
    );
    assert!(out_l.iter().chain(&out_r).all(|v| v.is_finite()));
}

/// A preset with an early-reflections FIR (the convolver runs inside the state): `process`,
/// `reset` and a swap to another preset with an FIR stay allocation-free.
#[test]
fn early_reflections_never_allocate() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    use tailor::preset::{EarlyReflections, Preset};
    let presets = engine_common::colorless_with_decay();
    let with_fir = |b: &tailor::Build, len: usize, seed: u64| {
        let mut p = Preset::from_build(b.clone(), "early");
        let h: Vec<f64> = engine_common::noise(len, seed)
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        let fir = vec![vec![h; b.n_in()]; b.n_out()];
        p.set_early(Some(EarlyReflections::new(b.sample_rate(), fir).unwrap()))
            .unwrap();
        p
    };
    let a = with_fir(&presets[6].1, 5_760, 3);
    let b = with_fir(&presets[2].1, 3_000, 4);
    let mut cfg = EngineConfig::new(a.build().sample_rate(), 2, 2);
    cfg.max_block = 128;
    let mut engine = Engine::prepare_preset(&a, &cfg).unwrap();
    assert!(engine.has_early());
    let handle = engine.swap_handle();
    let noise_l = engine_common::noise(48_000, 1);
    let noise_r = engine_common::noise(48_000, 2);
    let mut out_l = vec![0.0f32; 48_000];
    let mut out_r = vec![0.0f32; 48_000];
    let n = counted(|| {
        let mut t = 0;
        for len in [1usize, 7, 64, 511, 512, 3000].iter().cycle().take(30) {
            if t + len > 48_000 {
                break;
            }
            engine.process(
                &[&noise_l[t..t + len], &noise_r[t..t + len]],
                &mut [&mut out_l[t..t + len], &mut out_r[t..t + len]],
            );
            t += len;
        }
        engine.process(&[&noise_l, &noise_r], &mut [&mut out_l, &mut out_r]);
        engine.reset();
    });
    assert_eq!(n, 0, "process/reset with an early FIR allocated {n} times");

    handle.send(handle.prepare_preset(&b).unwrap()).unwrap();
    let before = engine.swaps_completed();
    let n = counted(|| {
        for blk in 0..20 {
            let t = blk * 480;
            engine.process(
                &[&noise_l[t..t + 480], &noise_r[t..t + 480]],
                &mut [&mut out_l[t..t + 480], &mut out_r[t..t + 480]],
            );
        }
    });
    assert_eq!(n, 0, "a swap with early FIRs allocated {n} times");
    assert_eq!(engine.swaps_completed(), before + 1);
    assert!(engine.has_early());
    assert_eq!(handle.collect_retired(), 1);
    assert!(out_l.iter().chain(&out_r).all(|v| v.is_finite()));
}
