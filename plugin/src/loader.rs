//! Background loading: presets and reference IRs are read, validated, converted to the session
//! rate and prepared for the engine on the loader thread, then queued through the engine's
//! lock-free swap. Failures only set the editor message; the current sound stays.

use crate::analysis::{self, Analysis};
use crate::fitting::Fits;
use crate::hrtf_view::{self, HrtfView};
use crate::mixer::Links;
use crate::presets::{
    default_preset, factory_name, factory_preset, read_preset_file, resolve, session_build,
    session_early_part,
};
use crate::state::{PersistedPreset, PresetSlot};
use crate::{binaural, reference};
use crossbeam_channel::{select, Receiver, Sender};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tailor::engine::SwapHandle;
use tailor::fx::longest_rt_seconds;
use tailor::{Build, Preset};

/// What the editor shows about the loaded preset.
#[derive(Debug, Clone, Default)]
pub struct Status {
    /// Name of the preset playing.
    pub preset_name: String,
    /// Metadata of the preset playing (pretty JSON).
    pub metadata: String,
    /// Longest reverberation time of the playing build in seconds (`None` = infinite).
    pub rt_seconds: Option<f64>,
    /// Last error (bad file, unstable preset…); the sound was left as it was.
    pub error: Option<String>,
    /// Last informational message (rate conversion, truncation…).
    pub info: Option<String>,
}

/// Engine side the loader swaps into (set on activation).
#[derive(Debug, Clone)]
pub struct Target {
    /// Swap handle of the active engine.
    pub swap: SwapHandle,
    /// Session sample rate in Hz.
    pub sample_rate: f64,
    /// Largest host block in samples (sizes the convolution partitions).
    pub max_block: usize,
    /// Channels to the audio thread's reference and binaural paths.
    pub links: Links,
}

/// State shared by the plugin, the loader thread and the editor.
#[derive(Debug, Default)]
pub struct Shared {
    /// Editor-facing status.
    pub status: Mutex<Status>,
    /// The active engine, if any.
    pub target: Mutex<Option<Target>>,
    /// Longest RT of the playing build as f32 bits (seconds; infinity = lossless).
    pub rt_bits: AtomicU32,
    /// Latest diagnostics for the editor.
    pub analysis: Mutex<Option<Arc<Analysis>>>,
    /// Set when the plugin is dropped: the loader thread exits.
    pub stop: AtomicBool,
    /// Preset-slot generation the playing sound was built from.
    pub applied_generation: AtomicU64,
    /// True while the editor is open (diagnostics are only computed then).
    pub editor_open: AtomicBool,
    /// HRTF diagnostics of the loaded SOFA set (computed while the editor is open).
    pub hrtf: Mutex<Option<Arc<HrtfView>>>,
    /// Held by the plugin's activation while it prepares a session and by the loader while it
    /// plays a restored state, so a state is never applied twice (main and loader threads
    /// only; never the audio thread).
    pub session: Mutex<()>,
    /// The room fits: where the latest stands (editor-facing) and the running one.
    pub fit: Fits,
}

impl Shared {
    /// Longest RT of the playing build in seconds (infinite for a lossless build).
    pub fn rt_seconds(&self) -> f32 {
        f32::from_bits(self.rt_bits.load(Ordering::Relaxed))
    }

    /// Records the build now playing.
    pub fn set_playing(&self, preset: &Preset, build: &Build) {
        let rt = longest_rt_seconds(build);
        self.rt_bits.store(
            rt.map_or(f32::INFINITY, |r| r as f32).to_bits(),
            Ordering::Relaxed,
        );
        if let Ok(mut s) = self.status.lock() {
            s.preset_name = preset.name().to_string();
            s.metadata = serde_json::to_string_pretty(preset.metadata()).unwrap_or_default();
            s.rt_seconds = rt;
        }
    }

    fn set_error(&self, msg: String) {
        if let Ok(mut s) = self.status.lock() {
            s.error = Some(msg);
        }
    }

    fn set_info(&self, msg: Option<String>) {
        if let Ok(mut s) = self.status.lock() {
            s.info = msg;
            s.error = None;
        }
    }
}

/// Requests from the editor.
#[derive(Debug, Clone)]
pub enum Request {
    /// Load a preset JSON file.
    File(PathBuf),
    /// Load factory entry `i`.
    Factory(usize),
    /// Play the built-in default.
    Default,
    /// Use a WAV file as the reference impulse response.
    Reference(PathBuf),
    /// Forget the reference.
    ClearReference,
    /// Recompute the diagnostics for the current preset and reference.
    Analyse,
    /// Use a SOFA file for binaural output (`None` = built-in KEMAR).
    Sofa(Option<PathBuf>),
    /// A new session started (its reference and binaural paths are prepared): analyse.
    Session,
    /// Fit the room IR (WAV) at this path on a background thread; when done its preset plays.
    Fit(PathBuf),
    /// Cancel the running fit (the sound stays as it is).
    CancelFit,
    /// A fit finished: the room IR and the fitted preset's JSON (sent by the fit thread).
    Fitted {
        /// The room IR.
        room: PathBuf,
        /// The fitted preset document.
        json: String,
    },
    /// A fit failed: why (sent by the fit thread).
    FitFailed(String),
}

/// The loader thread handle (dropping it stops and joins the thread).
#[derive(Debug)]
pub struct Loader {
    tx: Sender<Request>,
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Loader {
    /// Starts the loader thread for `slot` and `shared`.
    pub fn spawn(slot: Arc<PresetSlot>, shared: Arc<Shared>) -> Self {
        let (tx, rx) = crossbeam_channel::bounded::<Request>(16);
        let (state_tx, state_rx) = crossbeam_channel::bounded::<()>(4);
        slot.set_notifier(state_tx);
        let (sh, own) = (shared.clone(), tx.clone());
        let thread = std::thread::Builder::new()
            .name("tailor-loader".into())
            .spawn(move || run(slot, sh, own, rx, state_rx))
            .ok();
        Self { tx, shared, thread }
    }

    /// Queues a request (dropped when 16 are already waiting); returns whether it was queued.
    pub fn request(&self, r: Request) -> bool {
        self.tx.try_send(r).is_ok()
    }

    /// A sender for the editor.
    pub fn sender(&self) -> Sender<Request> {
        self.tx.clone()
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // A running fit stops at its next step; its thread ends before the plugin (and its
        // code) goes away.
        self.shared.fit.cancel();
    }
}

fn target(shared: &Shared) -> Option<Target> {
    shared.target.lock().ok().and_then(|t| t.clone())
}

/// Swaps `preset` in when an engine is active; records it as playing either way.
fn apply(shared: &Shared, preset: &Preset) -> Result<(), String> {
    match target(shared) {
        Some(t) => {
            let build = session_build(preset, t.sample_rate)?;
            let early = session_early_part(preset, t.sample_rate)?
                .map(|e| binaural::engine_early(&e, build.n_outputs()))
                .transpose()?;
            let state = t
                .swap
                .prepare_with_early(&binaural::engine_build(&build)?, early.as_ref())
                .map_err(|e| e.to_string())?;
            t.swap.collect_retired();
            let mut state = state;
            for _ in 0..200 {
                match t.swap.send(state) {
                    Ok(()) => {
                        shared.set_playing(preset, &build);
                        return Ok(());
                    }
                    Err(s) => {
                        state = s;
                        std::thread::sleep(Duration::from_millis(10));
                        t.swap.collect_retired();
                    }
                }
            }
            Err("the audio thread is not running; try again".into())
        }
        None => {
            let build = session_build(preset, preset.build().sample_rate())?;
            shared.set_playing(preset, &build);
            Ok(())
        }
    }
}

fn session_rate(shared: &Shared) -> f64 {
    target(shared).map_or(48_000.0, |t| t.sample_rate)
}

fn analyse(slot: &PresetSlot, shared: &Shared) {
    if !shared.editor_open.load(Ordering::Acquire) {
        return;
    }
    let stored = slot.get();
    let preset = resolve(&stored).unwrap_or_else(|_| default_preset());
    let fs = target(shared).map_or(preset.build().sample_rate(), |t| t.sample_rate);
    let (a, msg) = analysis::analyse(&preset, stored.reference_path.as_deref(), fs);
    // With the reference in the views, the message is only a note (resampled, cut) that the
    // reference's loading already showed; without it, it says why.
    let failed = a.reference.is_none();
    if let Ok(mut g) = shared.analysis.lock() {
        *g = Some(Arc::new(a));
    }
    if let (Some(m), true) = (msg, failed) {
        shared.set_error(m);
    }
}

/// Sends `value` to the audio thread, retrying while its queue is full (up to 2 s).
fn send_retrying<T>(t: &Target, tx: &crossbeam_channel::Sender<T>, value: T) -> Result<(), String> {
    let mut value = value;
    for _ in 0..200 {
        match tx.try_send(value) {
            Ok(()) => return Ok(()),
            Err(e) => {
                value = e.into_inner();
                std::thread::sleep(Duration::from_millis(10));
                t.links.collect_retired();
            }
        }
    }
    Err("the audio thread is not running; try again".into())
}

/// Prepares the reference convolver of `stored` (loudness-matched to its preset) and hands it
/// to the audio thread (`None` when no reference is set); without an engine only validates the
/// file. Returns the informational note (truncation, resampling).
fn push_reference(shared: &Shared, stored: &PersistedPreset) -> Result<Option<String>, String> {
    let Some(t) = target(shared) else {
        return match &stored.reference_path {
            Some(p) => reference::read_ir(Path::new(p), session_rate(shared)).map(|ir| ir.note),
            None => Ok(None),
        };
    };
    let Some(path) = &stored.reference_path else {
        send_retrying(&t, &t.links.reference, None)?;
        return Ok(None);
    };
    let preset = resolve(stored).unwrap_or_else(|_| default_preset());
    let build = session_build(&preset, t.sample_rate)?;
    let early = session_early_part(&preset, t.sample_rate)?;
    let (conv, note) = reference::prepare(Path::new(path), &build, early.as_ref(), t.max_block)?;
    send_retrying(&t, &t.links.reference, Some(Box::new(conv)))?;
    Ok(note)
}

/// Loads the SOFA set of `stored` (built-in KEMAR when none) and hands its binaural renderer to
/// the audio thread; without an engine only validates the file. Refreshes the HRTF diagnostics
/// while the editor is open.
fn push_binaural(shared: &Shared, stored: &PersistedPreset) -> Result<(), String> {
    let set = binaural::load_set(stored.sofa_path.as_deref())?;
    if let Some(t) = target(shared) {
        let r = binaural::renderer(&set, t.sample_rate, t.max_block)?;
        send_retrying(&t, &t.links.binaural, Some(Box::new(r)))?;
    }
    if let Ok(mut h) = shared.hrtf.lock() {
        *h = None;
    }
    analyse_hrtf(shared, stored.sofa_path.as_deref(), &set);
    Ok(())
}

/// Computes the HRTF diagnostics of `set` against KEMAR (only while the editor is open).
fn analyse_hrtf(shared: &Shared, sofa_path: Option<&str>, set: &tailor::hrtf::HrirSet) {
    if !shared.editor_open.load(Ordering::Acquire) {
        return;
    }
    let name = sofa_path.unwrap_or(binaural::KEMAR_NAME);
    let kemar = match sofa_path {
        None => Ok(set.clone()),
        Some(_) => binaural::load_set(None),
    };
    let view = kemar.and_then(|k| hrtf_view::compute(name, set, &k));
    match view {
        Ok(v) => {
            if let Ok(mut h) = shared.hrtf.lock() {
                *h = Some(Arc::new(v));
            }
        }
        Err(e) => shared.set_error(format!("HRTF diagnostics: {e}")),
    }
}

/// Refreshes the reference path after the preset changed (its loudness match depends on it).
fn refresh_reference(slot: &PresetSlot, shared: &Shared) {
    match push_reference(shared, &slot.get()) {
        Ok(note) => {
            if note.is_some() {
                shared.set_info(note);
            }
        }
        Err(e) => shared.set_error(format!("reference: {e}")),
    }
}

fn handle(slot: &PresetSlot, shared: &Arc<Shared>, own: &Sender<Request>, r: Request) {
    let mut stored = slot.get();
    let mut note = None;
    let result = match r {
        Request::Fit(room) => {
            start_fit(shared, own, room);
            return;
        }
        Request::CancelFit => {
            shared.fit.cancel();
            return;
        }
        Request::FitFailed(why) => {
            shared.fit.finish(Err(why));
            return;
        }
        Request::Fitted { room, json } => {
            let played = Preset::from_json_str(&json)
                .map_err(|e| format!("the fitted preset: {e}"))
                .and_then(|preset| {
                    apply(shared, &preset)?;
                    Ok(preset.name().to_string())
                });
            let room_text = room.display().to_string();
            if played.is_ok() {
                stored.path = None;
                stored.json = Some(json);
                stored.factory = None;
                stored.reference_path = Some(room_text.clone());
                stored.room_ir = Some(room_text);
            }
            shared.fit.finish(played.clone());
            played.map(|_| ())
        }
        Request::File(path) => read_preset_file(&path).and_then(|(preset, text)| {
            apply(shared, &preset)?;
            stored.path = Some(path.display().to_string());
            stored.json = Some(text);
            stored.factory = None;
            Ok(())
        }),
        Request::Factory(i) => factory_preset(i).and_then(|preset| {
            apply(shared, &preset)?;
            stored.path = None;
            stored.json = None;
            stored.factory = Some(factory_name(i).to_string());
            Ok(())
        }),
        Request::Default => apply(shared, &default_preset()).map(|()| {
            stored = PersistedPreset {
                reference_path: stored.reference_path.clone(),
                sofa_path: stored.sofa_path.clone(),
                ..PersistedPreset::default()
            };
        }),
        Request::Reference(path) => {
            let mut next = stored.clone();
            next.reference_path = Some(path.display().to_string());
            push_reference(shared, &next)
                .map(|n| {
                    note = n;
                    stored = next;
                })
                .map_err(|e| format!("reference: {e}"))
        }
        Request::ClearReference => {
            stored.reference_path = None;
            push_reference(shared, &stored).map(|_| ())
        }
        Request::Sofa(path) => {
            let mut next = stored.clone();
            next.sofa_path = path.map(|p| p.display().to_string());
            push_binaural(shared, &next).map(|()| stored = next)
        }
        // Activation prepared the reference and binaural paths itself; only the diagnostics
        // are left.
        Request::Session | Request::Analyse => {
            fit_if_asked(slot, shared, own);
            analyse(slot, shared);
            // The HRTF diagnostics are only computed for an open editor: with it closed, parsing
            // the SOFA set on every activation would only burn the loader's time.
            let missing = shared.editor_open.load(Ordering::Acquire)
                && shared.hrtf.lock().map(|h| h.is_none()).unwrap_or(false);
            if missing {
                if let Ok(set) = binaural::load_set(stored.sofa_path.as_deref()) {
                    analyse_hrtf(shared, stored.sofa_path.as_deref(), &set);
                }
            }
            return;
        }
    };
    match result {
        Ok(()) => {
            let preset_changed =
                stored.json != slot.get().json || stored.factory != slot.get().factory;
            slot.store(stored);
            shared
                .applied_generation
                .store(slot.generation(), Ordering::Release);
            shared.set_info(note);
            if preset_changed {
                refresh_reference(slot, shared);
            }
            analyse(slot, shared);
        }
        Err(e) => shared.set_error(e),
    }
}

/// Plays a state the host restored (when it is newer than what plays): its preset, reference
/// and SOFA set, or the default with a message when the preset is refused.
fn apply_restored(slot: &PresetSlot, shared: &Arc<Shared>, own: &Sender<Request>) {
    // Whoever plays the state (an activation or this), a room it asks to fit is fitted.
    fit_if_asked(slot, shared, own);
    // An activation running meanwhile prepares the same state; wait for it and skip when it did.
    let _session = shared
        .session
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let generation = slot.generation();
    if generation == shared.applied_generation.load(Ordering::Acquire) {
        return;
    }
    let stored = slot.get();
    match resolve(&stored).and_then(|p| apply(shared, &p)) {
        Ok(()) => {
            shared
                .applied_generation
                .store(generation, Ordering::Release);
            shared.set_info(None);
            refresh_reference(slot, shared);
            if let Err(e) = push_binaural(shared, &stored) {
                shared.set_error(format!("saved state: {e}"));
            }
            analyse(slot, shared);
        }
        Err(e) => restore_default(slot, shared, &stored, &e),
    }
}

/// Starts the fit a state asks for: it names a room IR (`room_ir`) and holds no preset (the
/// default plays meanwhile). Once per room: a fit of that room running or ended (fitted, failed
/// or cancelled) is not started again; "Fit room" in the editor always starts one.
fn fit_if_asked(slot: &PresetSlot, shared: &Arc<Shared>, own: &Sender<Request>) {
    let stored = slot.get();
    let (None, None, Some(room)) = (&stored.json, &stored.factory, &stored.room_ir) else {
        return;
    };
    let f = shared.fit.status();
    let seen = f.room == *room && (f.running || f.outcome.is_some());
    if !seen {
        start_fit(shared, own, PathBuf::from(room));
    }
}

/// Starts fitting `room`; the result comes back to the loader as [`Request::Fitted`] or
/// [`Request::FitFailed`].
fn start_fit(shared: &Arc<Shared>, own: &Sender<Request>, room: PathBuf) {
    let (sh, tx) = (shared.clone(), own.clone());
    shared.fit.start(room, move |room, result| {
        let mut r = match result {
            Ok(json) => Request::Fitted { room, json },
            Err(why) => Request::FitFailed(why),
        };
        // The loader drains its queue every 50 ms; give up only when the plugin closes.
        while !sh.stop.load(Ordering::Acquire) {
            match tx.send_timeout(r, Duration::from_millis(100)) {
                Ok(()) => return,
                Err(e) => r = e.into_inner(),
            }
        }
    });
}

/// A restored state whose preset is refused (garbage, unstable, unknown factory name): the
/// default plays and is stored in its place (keeping the reference and SOFA paths), and the
/// editor says why.
fn restore_default(slot: &PresetSlot, shared: &Shared, stored: &PersistedPreset, why: &str) {
    let fallback = PersistedPreset {
        reference_path: stored.reference_path.clone(),
        sofa_path: stored.sofa_path.clone(),
        ..PersistedPreset::default()
    };
    match apply(shared, &default_preset()) {
        Ok(()) => {
            slot.store(fallback);
            shared
                .applied_generation
                .store(slot.generation(), Ordering::Release);
            shared.set_error(format!("saved state: {why}; playing the default preset"));
            analyse(slot, shared);
        }
        Err(e) => shared.set_error(format!("saved state: {why}; the default failed too: {e}")),
    }
}

fn run(
    slot: Arc<PresetSlot>,
    shared: Arc<Shared>,
    own: Sender<Request>,
    rx: Receiver<Request>,
    state_rx: Receiver<()>,
) {
    while !shared.stop.load(Ordering::Acquire) {
        select! {
            recv(rx) -> r => match r {
                Ok(r) => handle(&slot, &shared, &own, r),
                Err(_) => return,
            },
            recv(state_rx) -> s => {
                if s.is_ok() {
                    apply_restored(&slot, &shared, &own);
                }
            },
            default(Duration::from_millis(50)) => {
                if let Some(t) = target(&shared) {
                    t.swap.collect_retired();
                    t.links.collect_retired();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::read_reference;
    use crate::presets::{factory_count, factory_label, FACTORY};
    use nice_plug::params::persist::PersistentField;
    use tailor::wav::write_wav;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tailor-plugin-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d.join(name)
    }

    #[test]
    fn corrupt_and_unstable_presets_are_refused_with_a_message() {
        let p = tmp("corrupt.json");
        std::fs::write(&p, "{\"build\": [1, 2").unwrap();
        assert!(read_preset_file(&p).is_err());
        assert!(read_preset_file(&tmp("missing.json")).is_err());
        let good = default_preset();
        let mut parts = good.build().parts().clone();
        parts.a.as_mut_slice().iter_mut().for_each(|v| *v *= 1.5);
        parts.post_delay = None;
        let unstable = Preset::from_build(Build::new(parts).unwrap(), "unstable");
        let e = session_build(&unstable, 48_000.0).unwrap_err();
        assert!(e.contains("refused"), "{e}");
    }

    #[test]
    fn factory_bank_and_default_prepare_at_both_rates() {
        for fs in [44_100.0, 48_000.0] {
            let b = session_build(&default_preset(), fs).unwrap();
            assert_eq!((b.sample_rate(), b.n_out()), (fs, 2));
            for (i, &(_, want)) in FACTORY.iter().enumerate() {
                let p = factory_preset(i).unwrap();
                let rt = longest_rt_seconds(&session_build(&p, fs).unwrap()).unwrap();
                assert!((rt - want).abs() / want < 0.05, "{i}: {rt}");
            }
        }
    }

    #[test]
    fn fitted_rooms_in_the_factory_bank_play_whole_at_both_rates() {
        for i in FACTORY.len()..factory_count() {
            let p = factory_preset(i).unwrap();
            assert!(p.early().is_some(), "{}: no early part", factory_label(i));
            for fs in [44_100.0, 48_000.0] {
                let b = session_build(&p, fs).unwrap();
                let e = session_early_part(&p, fs).unwrap().expect("early part");
                assert_eq!((e.n_out(), e.sample_rate()), (b.n_out(), fs));
                let full = crate::binaural::engine_build(&b).unwrap();
                let e = crate::binaural::engine_early(&e, b.n_out()).unwrap();
                assert_eq!(e.n_out(), full.n_out());
            }
            let name = factory_name(i);
            let stored = PersistedPreset {
                factory: Some(name.to_string()),
                ..PersistedPreset::default()
            };
            assert_eq!(resolve(&stored).unwrap().name(), p.name());
        }
    }

    /// A loader side wired to a prepared engine and mixer at 48 kHz, as after activation.
    fn session() -> (PresetSlot, Arc<Shared>, crate::mixer::Mixer, Links) {
        let build = session_build(&default_preset(), 48_000.0).unwrap();
        let full = crate::binaural::engine_build(&build).unwrap();
        let cfg = tailor::engine::EngineConfig::new(48_000.0, 2, crate::binaural::ENGINE_OUTPUTS);
        let reverb = tailor::fx::Reverb::prepare(&full, &cfg).unwrap();
        let (mixer, links) = crate::mixer::Mixer::new(48_000.0, 512, 20.0);
        let shared = Arc::new(Shared::default());
        *shared.target.lock().unwrap() = Some(Target {
            swap: reverb.swap_handle(),
            sample_rate: 48_000.0,
            max_block: 512,
            links: links.clone(),
        });
        (PresetSlot::default(), shared, mixer, links)
    }

    /// A sender for the loader's own requests (the fit threads'); nothing fits in these tests.
    fn own() -> Sender<Request> {
        crossbeam_channel::bounded(16).0
    }

    fn error(shared: &Shared) -> Option<String> {
        shared.status.lock().unwrap().error.clone()
    }

    #[test]
    fn reference_and_sofa_reach_the_audio_side_and_bad_files_keep_the_sound() {
        let (slot, shared, mut mixer, links) = session();
        let ir = tmp("room.wav");
        let h: Vec<f64> = (0..4_800).map(|i| (-(i as f64) / 500.0).exp()).collect();
        write_wav(&ir, 48_000, &[h]).unwrap();
        handle(&slot, &shared, &own(), Request::Reference(ir.clone()));
        assert_eq!(error(&shared), None);
        assert_eq!(slot.get().reference_path, Some(ir.display().to_string()));
        assert_eq!(links.reference.len(), 1);
        mixer.snap_paths(crate::mixer::Want::default());
        assert!(mixer.has_reference());
        // A 0-byte WAV: a message, nothing sent, the stored path unchanged.
        let empty = tmp("empty_ab.wav");
        std::fs::write(&empty, b"").unwrap();
        handle(&slot, &shared, &own(), Request::Reference(empty));
        assert!(error(&shared).unwrap().contains("reference"));
        assert!(links.reference.is_empty());
        assert_eq!(slot.get().reference_path, Some(ir.display().to_string()));
        // A malformed SOFA: a message, nothing sent, KEMAR kept.
        let bad = tmp("bad.sofa");
        std::fs::write(&bad, b"\x89HDF\r\n garbage").unwrap();
        handle(&slot, &shared, &own(), Request::Sofa(Some(bad)));
        assert!(error(&shared).unwrap().contains("SOFA"));
        assert!(links.binaural.is_empty());
        assert_eq!(slot.get().sofa_path, None);
        handle(&slot, &shared, &own(), Request::Sofa(None));
        assert_eq!(error(&shared), None);
        assert_eq!(links.binaural.len(), 1);
        handle(&slot, &shared, &own(), Request::ClearReference);
        assert_eq!(slot.get().reference_path, None);
        assert_eq!(links.reference.len(), 1);
    }

    fn playing(shared: &Shared) -> String {
        shared.status.lock().unwrap().preset_name.clone()
    }

    #[test]
    fn hostile_preset_files_give_messages_and_keep_the_sound() {
        // No engine: the loader validates and converts exactly as for one (`session_build`).
        let (slot, shared) = (PresetSlot::default(), Arc::new(Shared::default()));
        let fitted = factory_preset(factory_count() - 1).unwrap();
        let good = tmp("fitted.json");
        std::fs::write(&good, format!("\u{feff}{}", fitted.to_json_string())).unwrap();
        handle(&slot, &shared, &own(), Request::File(good));
        assert_eq!(error(&shared), None, "a BOM before valid JSON is fine");
        assert_eq!(playing(&shared), fitted.name());
        let mut doc: serde_json::Value = serde_json::from_str(&fitted.to_json_string()).unwrap();
        let n = fitted.build().n();
        doc["build"]["post_delay"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!([
                vec![2e-170; n],
                vec![0.0; n],
                vec![0.0; n],
                vec![1e-170; n],
                vec![0.0; n],
                vec![0.0; n]
            ]));
        let text = doc.to_string();
        let mut fast = doc.clone();
        fast["build"]["sample_rate"] = serde_json::json!(1e300);
        for (name, bad) in [
            ("growing.json", text.clone()),
            ("nbsp.json", text.replacen('{', "{\u{a0}", 1)),
            ("rate.json", fast.to_string()),
        ] {
            let p = tmp(name);
            std::fs::write(&p, bad).unwrap();
            handle(&slot, &shared, &own(), Request::File(p));
            let e = error(&shared).unwrap_or_default();
            assert!(!e.is_empty(), "{name}: accepted");
            assert_eq!(
                playing(&shared),
                fitted.name(),
                "{name}: the sound changed ({e})"
            );
        }
    }

    #[test]
    fn a_garbage_state_restores_the_default() {
        let (slot, shared) = (PresetSlot::default(), Arc::new(Shared::default()));
        handle(&slot, &shared, &own(), Request::Factory(1));
        assert_ne!(playing(&shared), default_preset().name());
        for json in [
            "{\"build\": [1, 2",
            "\u{1}\u{ff}garbage",
            "{\"metadata\": {}, \"build\": {}}",
        ] {
            PersistentField::set(
                &slot,
                PersistedPreset {
                    json: Some(json.to_string()),
                    reference_path: Some("/no/such/room.wav".into()),
                    ..PersistedPreset::default()
                },
            );
            apply_restored(&slot, &shared, &own());
            assert_eq!(playing(&shared), default_preset().name(), "{json}");
            assert!(error(&shared).unwrap().contains("saved state"));
            assert_eq!(slot.get().json, None, "the refused JSON is not kept");
            handle(&slot, &shared, &own(), Request::Factory(1));
        }
    }

    #[test]
    fn bad_reference_files_give_messages_or_resampling() {
        let empty = tmp("empty.wav");
        std::fs::write(&empty, b"").unwrap();
        assert!(read_reference(&empty, 44_100.0).is_err());
        let long = tmp("five_minutes.wav");
        write_wav(&long, 8_000, &[vec![0.01; 8_000 * 300]]).unwrap();
        let (x, note) = read_reference(&long, 8_000.0).unwrap();
        assert_eq!(x.len(), 8_000 * 20);
        assert!(note.unwrap().contains("first 20 s"));
        let hi = tmp("ir96k.wav");
        let ir: Vec<f64> = (0..96_000)
            .map(|i| (-(i as f64) / 9_600.0).exp() * 0.5)
            .collect();
        write_wav(&hi, 96_000, &[ir.clone(), ir]).unwrap();
        let (y, note) = read_reference(&hi, 44_100.0).unwrap();
        assert!((y.len() as f64 - 44_100.0).abs() < 200.0, "{}", y.len());
        assert!(note
            .unwrap()
            .contains("resampled from 96000 Hz to 44100 Hz"));
        assert!(y.iter().all(|v| v.is_finite()));
    }
}
