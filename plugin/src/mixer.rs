//! The plugin's wet sources on the audio thread: A/B between the FDN and the reference
//! convolution, stereo or binaural FDN output. It only crossfades between sources: it is the
//! [`WetStage`] of [`Reverb::process_with`], so pre-delay, dry/wet and output gain are the
//! reverb's one [`tailor::mix::Mix`], and every source hears the same pre-delayed input.
//!
//! * The reference path convolves the pre-delayed input ([`ReferenceConv`]). It runs whenever a
//!   reference is loaded, also while the FDN is heard, so switching A/B is an equal-power
//!   crossfade over `SMOOTHING_MS` between two running signals: no clicks, at the cost of the
//!   convolution's CPU while it is not heard.
//! * The binaural path renders the engine's ring outputs ([`crate::binaural`]) to two ears; the
//!   engine renders those rows and the renderer runs only while binaural output is selected or
//!   fading (stereo renders two rows of the engine's 18). Stereo ↔ binaural is the same kind
//!   of crossfade; a renderer starting mid-stream starts from silence with its input fading in
//!   over the same time, so its convolution does not start on a jump.
//! * New convolvers and renderers arrive through bounded channels (prepared on the loader
//!   thread) and replace the current one with an equal-power crossfade; the old one goes back
//!   through the `retired` channel to be dropped off the audio thread. Nothing here allocates,
//!   locks or panics.

use crate::binaural::{DIRECTIONS, ENGINE_OUTPUTS};
use crate::reference::ReferenceConv;
use crossbeam_channel::{Receiver, Sender};
use std::f32::consts::FRAC_PI_2;
use tailor::engine::Ramp;
use tailor::fx::{FxControls, Reverb, WetStage};
use tailor::hrtf::binaural::BinauralRenderer;

/// Queued updates per path (a new prepared object or `None` = remove).
pub const QUEUE: usize = 4;

/// An object the audio thread no longer uses, to be dropped on the loader thread.
#[derive(Debug)]
pub enum Retired {
    /// A replaced reference convolver.
    Reference(Box<ReferenceConv>),
    /// A replaced binaural renderer.
    Binaural(Box<BinauralRenderer>),
}

/// The control-side ends of the mixer's channels (kept in the loader's `Target`).
#[derive(Debug, Clone)]
pub struct Links {
    /// New reference convolver (`None` removes the reference).
    pub reference: Sender<Option<Box<ReferenceConv>>>,
    /// New binaural renderer (`None` removes it).
    pub binaural: Sender<Option<Box<BinauralRenderer>>>,
    /// Objects to drop.
    pub retired: Receiver<Retired>,
}

impl Links {
    /// Drops every retired object waiting; returns how many.
    pub fn collect_retired(&self) -> usize {
        self.retired.try_iter().count()
    }
}

/// Which paths the parameters ask for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Want {
    /// Hear the reference convolution instead of the FDN (when one is loaded).
    pub reference: bool,
    /// Binaural FDN output instead of stereo (when a renderer is loaded).
    pub binaural: bool,
}

struct Slot<T> {
    current: Option<Box<T>>,
    previous: Option<Box<T>>,
    fade: Ramp,
    rx: Receiver<Option<Box<T>>>,
}

impl<T> Slot<T> {
    fn new(rx: Receiver<Option<Box<T>>>, len: u32) -> Self {
        Self {
            current: None,
            previous: None,
            fade: Ramp::new(1.0, len),
            rx,
        }
    }

    /// Retires a faded-out object and takes a queued one (never both waiting at once).
    fn poll(&mut self, retire: &Sender<Retired>, wrap: fn(Box<T>) -> Retired, len: u32) {
        if self.fade.is_moving() {
            return;
        }
        if self.previous.is_some() {
            if retire.is_full() {
                return;
            }
            if let Some(p) = self.previous.take() {
                // The mixer holds a receiver, so the channel is never disconnected, and only
                // this thread sends: the send succeeds.
                let _ = retire.try_send(wrap(p));
            }
        }
        if let Ok(next) = self.rx.try_recv() {
            self.previous = std::mem::replace(&mut self.current, next);
            self.fade = Ramp::new(0.0, len);
            self.fade.set_target(1.0);
        }
    }
}

fn zero(x: &mut [f32]) {
    x.iter_mut().for_each(|v| *v = 0.0);
}

/// Renders a slot into `out` (2 rows of `mb`, first `b` used), crossfading from the previous
/// object while a swap is in progress.
#[allow(clippy::too_many_arguments)]
fn render_slot<T>(
    slot: &mut Slot<T>,
    b: usize,
    mb: usize,
    out: &mut [f32],
    tmp: &mut [f32],
    fade: &mut [f32],
    mut run: impl FnMut(&mut T, &mut [f32], &mut [f32]),
) {
    {
        let (o0, o1) = out.split_at_mut(mb);
        match slot.current.as_deref_mut() {
            Some(c) => run(c, &mut o0[..b], &mut o1[..b]),
            None => {
                zero(&mut o0[..b]);
                zero(&mut o1[..b]);
            }
        }
    }
    if !slot.fade.is_moving() {
        return;
    }
    slot.fade.fill(&mut fade[..b]);
    {
        let (t0, t1) = tmp.split_at_mut(mb);
        match slot.previous.as_deref_mut() {
            Some(p) => run(p, &mut t0[..b], &mut t1[..b]),
            None => {
                zero(&mut t0[..b]);
                zero(&mut t1[..b]);
            }
        }
    }
    for ch in 0..2 {
        let o = &mut out[ch * mb..ch * mb + b];
        let p = &tmp[ch * mb..ch * mb + b];
        for ((y, &q), &f) in o.iter_mut().zip(p).zip(&fade[..b]) {
            let a = f * FRAC_PI_2;
            *y = a.sin() * *y + a.cos() * q;
        }
    }
}

/// Equal-power gains (out, in) of a crossfade position `f` (0 → 1); exact 1/0 at the ends.
fn pair(f: f32, moving: bool) -> (f32, f32) {
    if moving {
        let a = f * FRAC_PI_2;
        (a.cos(), a.sin())
    } else {
        (1.0 - f, f)
    }
}

/// The mixer (see the module docs).
pub struct Mixer {
    mb: usize,
    fade_len: u32,
    reference: Slot<ReferenceConv>,
    binaural: Slot<BinauralRenderer>,
    retire: Sender<Retired>,
    _retired: Receiver<Retired>,
    ab: Ramp,
    mode: Ramp,
    /// Gain of the ring signals into the binaural renderer: 0 → 1 over the fade when the
    /// renderer starts mid-stream, so its convolution does not start on a jump.
    bin_in: Ramp,
    binaural_running: bool,
    ref_buf: Vec<f32>,
    bin_buf: Vec<f32>,
    tmp: Vec<f32>,
    g_fade: Vec<f32>,
    g_ab: Vec<f32>,
    g_mode: Vec<f32>,
}

impl std::fmt::Debug for Mixer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mixer")
            .field("max_block", &self.mb)
            .field("reference", &self.reference.current.is_some())
            .field("binaural", &self.binaural.current.is_some())
            .finish()
    }
}

impl Mixer {
    /// A mixer for the blocks of a reverb whose `max_block` is `max_block` samples at `fs` Hz,
    /// crossfading over `smoothing_ms`, with no source but the FDN. Returns it with the
    /// control-side [`Links`].
    pub fn new(fs: f64, max_block: usize, smoothing_ms: f64) -> (Self, Links) {
        let mb = max_block.max(1);
        let len = (smoothing_ms * fs / 1000.0).round().max(0.0) as u32;
        let (ref_tx, ref_rx) = crossbeam_channel::bounded(QUEUE);
        let (bin_tx, bin_rx) = crossbeam_channel::bounded(QUEUE);
        let (ret_tx, ret_rx) = crossbeam_channel::bounded(2 * QUEUE);
        let m = Self {
            mb,
            fade_len: len,
            reference: Slot::new(ref_rx, len),
            binaural: Slot::new(bin_rx, len),
            retire: ret_tx,
            _retired: ret_rx.clone(),
            ab: Ramp::new(0.0, len),
            mode: Ramp::new(0.0, len),
            bin_in: Ramp::new(1.0, len),
            binaural_running: false,
            ref_buf: vec![0.0; 2 * mb],
            bin_buf: vec![0.0; 2 * mb],
            tmp: vec![0.0; 2 * mb],
            g_fade: vec![0.0; mb],
            g_ab: vec![0.0; mb],
            g_mode: vec![0.0; mb],
        };
        let links = Links {
            reference: ref_tx,
            binaural: bin_tx,
            retired: ret_rx,
        };
        (m, links)
    }

    /// True when a reference convolver is installed.
    pub fn has_reference(&self) -> bool {
        self.reference.current.is_some()
    }

    /// True when a binaural renderer is installed.
    pub fn has_binaural(&self) -> bool {
        self.binaural.current.is_some()
    }

    /// Jumps the A/B and output-mode crossfades to what `want` asks for (given what is loaded).
    pub fn snap_paths(&mut self, want: Want) {
        self.poll();
        self.set_paths(want);
        self.ab.snap();
        self.mode.snap();
        self.reference.fade.snap();
        self.binaural.fade.snap();
        self.bin_in.snap();
        // A fresh render in binaural mode plays binaural from its first sample.
        if self.mode.value() > 0.0 && !self.binaural_running {
            self.start_binaural();
            self.bin_in.snap();
        }
    }

    /// Starts the binaural renderers from silence, their input fading in.
    fn start_binaural(&mut self) {
        for s in [&mut self.binaural.current, &mut self.binaural.previous] {
            if let Some(r) = s.as_deref_mut() {
                r.reset();
            }
        }
        self.bin_in = Ramp::new(0.0, self.fade_len);
        self.bin_in.set_target(1.0);
        self.binaural_running = true;
    }

    /// Sets `reverb` to `controls` and the paths to what `want` asks for (given what is
    /// loaded), all without a glide: the start of a fresh render. Allocation-free.
    pub fn snap_to(&mut self, reverb: &mut Reverb, controls: &FxControls, want: Want) {
        reverb.set_controls(controls);
        reverb.snap_controls();
        self.snap_paths(want);
    }

    /// Clears the sources' audio state (the reverb's is [`Reverb::reset`]). Allocation-free.
    pub fn reset(&mut self) {
        for s in [&mut self.reference.current, &mut self.reference.previous] {
            if let Some(c) = s.as_deref_mut() {
                c.reset();
            }
        }
        for s in [&mut self.binaural.current, &mut self.binaural.previous] {
            if let Some(c) = s.as_deref_mut() {
                c.reset();
            }
        }
        for r in [&mut self.ab, &mut self.mode, &mut self.bin_in] {
            r.snap();
        }
    }

    fn poll(&mut self) {
        let len = self.fade_len;
        self.reference.poll(&self.retire, Retired::Reference, len);
        self.binaural.poll(&self.retire, Retired::Binaural, len);
    }

    fn set_paths(&mut self, want: Want) {
        let r = want.reference && self.reference.current.is_some();
        let b = want.binaural && self.binaural.current.is_some();
        self.ab.set_target(if r { 1.0 } else { 0.0 });
        self.mode.set_target(if b { 1.0 } else { 0.0 });
    }

    /// Renders planar `inputs` (1 or 2 channels) into the two `outputs` through `reverb` with
    /// `controls`, the sources `want` asks for crossfaded in before the reverb's mix. Any
    /// length; never allocates, locks or panics.
    pub fn process(
        &mut self,
        reverb: &mut Reverb,
        controls: &FxControls,
        want: Want,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
    ) {
        reverb.set_controls(controls);
        self.poll();
        self.set_paths(want);
        reverb.process_with(inputs, outputs, self);
    }

    /// True while the ring rows are needed: binaural output heard or fading.
    fn binaural_wanted(&self) -> bool {
        self.mode.is_moving() || self.mode.value() > 0.0 || self.mode.target() > 0.0
    }
}

impl WetStage for Mixer {
    fn rows(&self) -> usize {
        if self.binaural_wanted() {
            ENGINE_OUTPUTS
        } else {
            2
        }
    }

    fn process(&mut self, input: &[&[f32]], wet: &mut [&mut [f32]], mixed: usize) {
        let mb = self.mb;
        let b = wet.first().map_or(0, |w| w.len()).min(mb);
        if b == 0 || input.is_empty() {
            return;
        }
        // Reference path: the convolution of the pre-delayed input (also while the FDN is
        // heard).
        let ref_live = self.reference.current.is_some() || self.reference.previous.is_some();
        if ref_live {
            let ins = [&input[0][..b], &input[1 % input.len()][..b]];
            render_slot(
                &mut self.reference,
                b,
                mb,
                &mut self.ref_buf,
                &mut self.tmp,
                &mut self.g_fade,
                |c, l, r| c.process(ins, [l, r]),
            );
        } else {
            zero(&mut self.ref_buf);
        }
        // Binaural path: the ring outputs through the HRIRs.
        if self.binaural_wanted() && wet.len() >= ENGINE_OUTPUTS {
            if !self.binaural_running {
                self.start_binaural();
            }
            if self.bin_in.is_moving() {
                self.bin_in.fill(&mut self.g_fade[..b]);
                for row in wet.iter_mut().skip(2) {
                    for (v, &g) in row[..b].iter_mut().zip(&self.g_fade[..b]) {
                        *v *= g;
                    }
                }
            }
            let ring: [&[f32]; DIRECTIONS] = std::array::from_fn(|k| &wet[2 + k][..b]);
            render_slot(
                &mut self.binaural,
                b,
                mb,
                &mut self.bin_buf,
                &mut self.tmp,
                &mut self.g_fade,
                |r, l, rr| r.process(&ring, l, rr),
            );
        } else {
            self.binaural_running = false;
        }
        // The crossfades into the mixed rows.
        let ab_moving = self.ab.is_moving();
        let ab_on = ab_moving || self.ab.value() > 0.0;
        self.ab.fill(&mut self.g_ab[..b]);
        let mode_moving = self.mode.is_moving();
        let mode_on = mode_moving || self.mode.value() > 0.0;
        self.mode.fill(&mut self.g_mode[..b]);
        if !(ab_on || mode_on) {
            return;
        }
        for (o, row) in wet.iter_mut().enumerate().take(mixed.min(2)) {
            let bin = &self.bin_buf[o * mb..o * mb + b];
            let rf = &self.ref_buf[o * mb..o * mb + b];
            for (t, v) in row[..b].iter_mut().enumerate() {
                if mode_on {
                    let (s, bn) = pair(self.g_mode[t], mode_moving);
                    *v = s * *v + bn * bin[t];
                }
                if ab_on {
                    let (f, r) = pair(self.g_ab[t], ab_moving);
                    *v = f * *v + r * rf[t];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::{fdn_energy, matching_gain, ReferenceConv, ReferenceIr};
    use tailor::convolution::direct_convolution;
    use tailor::engine::EngineConfig;
    use tailor::mix::MixControls;

    const FS: f64 = 48_000.0;
    const MB: usize = 256;

    fn controls(mix: f32) -> FxControls {
        FxControls {
            mix: MixControls {
                dry: 1.0 - mix,
                wet: mix,
                ..MixControls::default()
            },
            ..FxControls::default()
        }
    }

    fn session() -> (tailor::Build, Reverb) {
        let p = crate::presets::default_preset();
        let stereo = crate::presets::session_build(&p, FS).unwrap();
        let full = crate::binaural::engine_build(&stereo).unwrap();
        let mut cfg = EngineConfig::new(FS, 2, ENGINE_OUTPUTS);
        cfg.max_block = MB;
        let mut r = Reverb::prepare(&full, &cfg).unwrap();
        r.set_controls(&controls(1.0));
        r.snap_controls();
        (stereo, r)
    }

    fn test_ir() -> Vec<f64> {
        (0..2_000)
            .map(|i| (-(i as f64) / 300.0).exp() * (((i * 7_919) % 17) as f64 - 8.0) / 8.0)
            .collect()
    }

    /// Renders `x` (both inputs) in blocks of `block`, calling `want(k)` for block k.
    fn render(
        m: &mut Mixer,
        r: &mut Reverb,
        c: &FxControls,
        x: &[f32],
        block: usize,
        want: impl Fn(usize) -> Want,
    ) -> [Vec<f32>; 2] {
        let mut y = [vec![0.0f32; x.len()], vec![0.0f32; x.len()]];
        nice_assert_no_alloc::assert_no_alloc(|| {
            let (l, rr) = y.split_at_mut(1);
            for (k, ((xi, yl), yr)) in x
                .chunks(block)
                .zip(l[0].chunks_mut(block))
                .zip(rr[0].chunks_mut(block))
                .enumerate()
            {
                m.process(r, c, want(k), &[xi, xi], &mut [yl, yr]);
            }
        });
        y
    }

    fn noise(n: usize) -> Vec<f32> {
        let mut s = 0x2545_f491_4f6c_dd1du64;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }

    #[test]
    fn the_reference_hears_the_pre_delay_and_goes_through_the_one_mix() {
        let (stereo, mut reverb) = session();
        let ir = ReferenceIr {
            channels: vec![test_ir()],
            sample_rate: FS,
            note: None,
        };
        let gain = matching_gain(&ir, fdn_energy(&stereo)).unwrap();
        // Mix 0.7, 5 ms pre-delay (240 samples), −6 dB: the reverb's mix, with the reference
        // in place of the FDN.
        let mut c = controls(0.7);
        c.mix.predelay_ms = 5.0;
        c.mix.output_gain_db = -6.0;
        let (mut m, links) = Mixer::new(FS, MB, 20.0);
        links
            .reference
            .send(Some(Box::new(ReferenceConv::new(&ir, gain, MB))))
            .unwrap();
        let want = Want {
            reference: true,
            binaural: false,
        };
        m.snap_to(&mut reverb, &c, want);
        assert!(m.has_reference());
        let x = noise(6_000);
        let y = render(&mut m, &mut reverb, &c, &x, 100, |_| want);
        let x64: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
        let mut delayed = vec![0.0; 240];
        delayed.extend_from_slice(&x64[..x64.len() - 240]);
        let conv = direct_convolution(&delayed, &ir.channels[0]);
        let g = f64::from(tailor::mix::db_to_linear(-6.0));
        let want_y: Vec<f64> = x64
            .iter()
            .zip(&conv)
            .map(|(x, w)| g * (0.3 * x + 0.7 * gain * w))
            .collect();
        let peak = want_y.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        for ch in &y {
            let err = ch
                .iter()
                .zip(&want_y)
                .fold(0.0f64, |a, (got, w)| a.max((f64::from(*got) - w).abs()));
            assert!(err / peak < 1e-4, "relative error {}", err / peak);
        }
    }

    fn largest_step(y: &[f32]) -> f32 {
        y.windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0, f32::max)
    }

    /// A 100 Hz sine, mix 1, A/B switched every 100 ms after 1 s (or never); returns the largest
    /// step of the left output after 1 s.
    fn ab_steps(smoothing_ms: f64, switch: bool, start_ref: bool) -> f32 {
        let (stereo, mut reverb) = session();
        let ir = ReferenceIr {
            channels: vec![test_ir()],
            sample_rate: FS,
            note: None,
        };
        let gain = matching_gain(&ir, fdn_energy(&stereo)).unwrap();
        let c = controls(1.0);
        let (mut m, links) = Mixer::new(FS, MB, smoothing_ms);
        links
            .reference
            .send(Some(Box::new(ReferenceConv::new(&ir, gain, MB))))
            .unwrap();
        m.snap_paths(Want {
            reference: start_ref,
            binaural: false,
        });
        let x: Vec<f32> = (0..144_000)
            .map(|n| (2.0 * std::f32::consts::PI * 100.0 * n as f32 / 48_000.0).sin() * 0.5)
            .collect();
        let block = 480;
        let y = render(&mut m, &mut reverb, &c, &x, block, |k| Want {
            reference: if switch && k >= 100 {
                (k / 10) % 2 == 1
            } else {
                start_ref
            },
            binaural: false,
        });
        assert!(y.iter().flatten().all(|v| v.is_finite()));
        largest_step(&y[0][48_000..])
    }

    #[test]
    fn ab_switching_does_not_click() {
        let own = ab_steps(20.0, false, false).max(ab_steps(20.0, false, true));
        let step = ab_steps(20.0, true, false);
        assert!(step <= 2.0 * own, "step {step} vs the signals' own {own}");
        // Without the crossfade the same switching clicks: the check above can fail.
        let hard = ab_steps(0.0, true, false);
        assert!(hard > 2.0 * own, "unsmoothed step {hard} vs {own}");
    }

    #[test]
    fn a_new_reference_crossfades_in_and_the_old_one_is_retired() {
        let (stereo, mut reverb) = session();
        let ir = ReferenceIr {
            channels: vec![test_ir()],
            sample_rate: FS,
            note: None,
        };
        let gain = matching_gain(&ir, fdn_energy(&stereo)).unwrap();
        let c = controls(1.0);
        let (mut m, links) = Mixer::new(FS, MB, 20.0);
        let want = Want {
            reference: true,
            binaural: false,
        };
        links
            .reference
            .send(Some(Box::new(ReferenceConv::new(&ir, gain, MB))))
            .unwrap();
        m.snap_paths(want);
        let x: Vec<f32> = (0..96_000)
            .map(|n| (2.0 * std::f32::consts::PI * 100.0 * n as f32 / 48_000.0).sin() * 0.5)
            .collect();
        let own = largest_step(&render(&mut m, &mut reverb, &c, &x, 480, |_| want)[0][48_000..]);
        // The same IR polarity-inverted: an abrupt swap would jump by twice the amplitude.
        links
            .reference
            .send(Some(Box::new(ReferenceConv::new(&ir, -gain, MB))))
            .unwrap();
        let y = render(&mut m, &mut reverb, &c, &x, 480, |_| want);
        let step = largest_step(&y[0]);
        assert!(step <= 2.0 * own, "step {step} vs the signal's own {own}");
        assert_eq!(links.collect_retired(), 1);
        assert!(m.has_reference());
    }

    #[test]
    fn binaural_output_is_finite_two_eared_and_allocation_free() {
        let (_, mut reverb) = session();
        let c = controls(1.0);
        let (mut m, links) = Mixer::new(FS, MB, 20.0);
        let set = crate::binaural::load_set(None).unwrap();
        let r = crate::binaural::renderer(&set, FS, MB).unwrap();
        links.binaural.send(Some(Box::new(r))).unwrap();
        let x = noise(24_000);
        let stereo = render(&mut m, &mut reverb, &c, &x, 333, |_| Want::default());
        let want = Want {
            reference: false,
            binaural: true,
        };
        let y = render(&mut m, &mut reverb, &c, &x, 333, |_| want);
        assert!(m.has_binaural());
        assert!(y.iter().flatten().all(|v| v.is_finite()));
        let e = |v: &[f32]| v[12_000..].iter().map(|s| f64::from(s * s)).sum::<f64>();
        let (l, r) = (e(&y[0]), e(&y[1]));
        assert!(l > 1e-3 && r > 1e-3, "ears {l} {r}");
        let diff: f64 = y[0][12_000..]
            .iter()
            .zip(&y[1][12_000..])
            .map(|(a, b)| f64::from((a - b) * (a - b)))
            .sum();
        assert!(
            diff > 0.05 * (l + r),
            "ears too similar: {diff} vs {l} + {r}"
        );
        // Unit-energy HRIRs keep the level near the stereo output's (within 6 dB).
        let s = e(&stereo[0]) + e(&stereo[1]);
        let ratio_db = 10.0 * ((l + r) / s).log10();
        assert!(ratio_db.abs() < 6.0, "binaural vs stereo {ratio_db:.1} dB");
    }
}
