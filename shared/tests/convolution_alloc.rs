//! Proves that the convolution engine and the binaural renderer do not allocate while
//! processing: a counting global allocator records allocations made by this test's thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use tailor::convolution::{Convolver, MimoConvolver};
use tailor::hrtf::binaural::BinauralRenderer;
use tailor::hrtf::HrirSet;

struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCS.with(Cell::get);
    f();
    ALLOCS.with(Cell::get) - before
}

#[test]
fn processing_does_not_allocate() {
    // Sanity: the counter sees allocations at all.
    assert!(allocations_during(|| drop(std::hint::black_box(vec![1u8; 64]))) > 0);

    let ir: Vec<f32> = (0..2000)
        .map(|i| ((i * 7919) % 97) as f32 / 97.0 - 0.5)
        .collect();
    let x: Vec<f32> = (0..4096)
        .map(|i| ((i * 31) % 17) as f32 / 17.0 - 0.5)
        .collect();
    let mut y = vec![0.0f32; 4096];
    let mut conv = Convolver::new(&ir, 128);
    let n = allocations_during(|| {
        let mut at = 0;
        for len in [128usize, 1, 77, 300, 128, 1000, 5].iter().cycle().take(40) {
            if at + len > x.len() {
                break;
            }
            conv.process(&x[at..at + len], &mut y[at..at + len]);
            at += len;
        }
        conv.reset();
    });
    assert_eq!(n, 0, "Convolver::process allocated {n} time(s)");
    assert!(y.iter().any(|&v| v != 0.0));

    let irs = [ir.as_slice(), &ir[..300], &ir[1000..]];
    let mut mimo = MimoConvolver::new(&[vec![irs[0], irs[1]], vec![irs[2], irs[0]]], 64).unwrap();
    let (mut a, mut b) = (vec![0.0f32; 512], vec![0.0f32; 512]);
    let n = allocations_during(|| {
        mimo.process(&[&x[..512], &x[512..1024]], &mut [&mut a[..], &mut b[..]]);
    });
    assert_eq!(n, 0, "MimoConvolver::process allocated {n} time(s)");

    let set = HrirSet::kemar().unwrap();
    let mut bin = BinauralRenderer::with_default_ring(&set, 8, 44100.0, 256).unwrap();
    let chans: Vec<&[f32]> = (0..8).map(|c| &x[c * 256..c * 256 + 512]).collect();
    let (mut l, mut r) = (vec![0.0f32; 512], vec![0.0f32; 512]);
    let n = allocations_during(|| {
        for _ in 0..4 {
            bin.process(&chans, &mut l, &mut r);
        }
        bin.reset();
    });
    assert_eq!(n, 0, "BinauralRenderer::process allocated {n} time(s)");
    assert!(l.iter().any(|&v| v != 0.0) && r.iter().any(|&v| v != 0.0));
}
