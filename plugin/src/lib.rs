//! Tailor Reverb: trained FDN reverbs as a CLAP/VST3 plugin and a standalone app (nice-plug).
//!
//! All DSP runs in `tailor` ([`tailor::fx::Reverb`] around the real-time engine, partitioned
//! convolution, HRTF rendering); this crate adds parameters, persisted state, background
//! loading, the A/B and binaural mixer ([`mixer`]) and the egui editor. The audio thread never
//! allocates, locks or panics: presets arrive through the engine's lock-free swap, reference
//! convolvers and binaural renderers through the mixer's bounded channels.

pub mod analysis;
pub mod binaural;
pub mod editor;
pub mod fitting;
pub mod hrtf_view;
pub mod loader;
pub mod mixer;
pub mod params;
pub mod presets;
pub mod reference;
pub mod state;

use loader::{Loader, Request, Shared, Target};
use mixer::Mixer;
use nice_plug::prelude::*;
use params::{TailorParams, SMOOTHING_MS};
use std::num::NonZeroU32;
use std::sync::Arc;
use tailor::engine::{flush_subnormals, DenormalGuard, EngineConfig, Ramp};
use tailor::fx::Reverb;

/// Longest accepted pre-delay in milliseconds (memory is reserved for it).
pub const MAX_PREDELAY_MS: f64 = 500.0;

/// The Tailor Reverb plugin instance.
pub struct TailorReverb {
    params: Arc<TailorParams>,
    shared: Arc<Shared>,
    loader: Loader,
    editor_state: Arc<nice_plug_egui::EguiEditorState>,
    reverb: Option<Reverb>,
    mixer: Option<Mixer>,
    inputs: Vec<Vec<f32>>,
    bypass: Ramp,
    bypassed: bool,
    /// The HRTF set last loaded by `activate` and its SOFA path (`None` = built-in KEMAR), so
    /// repeated activations do not parse it again.
    hrirs: Option<(Option<String>, tailor::hrtf::HrirSet)>,
    /// Set by `activate`/`reset`: the next block snaps every control to the parameters (also
    /// to values arriving with that block) instead of gliding.
    fresh: bool,
    sample_rate: f32,
}

impl Default for TailorReverb {
    fn default() -> Self {
        let params = Arc::new(TailorParams::default());
        let shared = Arc::new(Shared::default());
        let loader = Loader::spawn(params.preset.clone(), shared.clone());
        Self {
            params,
            shared,
            loader,
            editor_state: editor::default_state(),
            reverb: None,
            mixer: None,
            inputs: Vec::new(),
            bypass: Ramp::new(0.0, 0),
            bypassed: false,
            hrirs: None,
            fresh: true,
            sample_rate: 48_000.0,
        }
    }
}

impl TailorReverb {
    fn tail_samples(&self) -> Option<u32> {
        let rt = self.shared.rt_seconds();
        if !rt.is_finite() {
            return None;
        }
        let secs = rt * self.params.decay_scale.value()
            + self.params.predelay_ms.value() / 1000.0
            + SMOOTHING_MS as f32 / 1000.0;
        Some((secs * self.sample_rate).min(u32::MAX as f32 / 2.0) as u32)
    }
}

impl Plugin for TailorReverb {
    const NAME: &'static str = "Tailor Reverb";
    const VENDOR: &'static str = "Tailor";
    const URL: &'static str = "https://github.com/tailor-fdn/tailor";
    const EMAIL: &'static str = "tailor@example.invalid";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(2),
            main_output_channels: NonZeroU32::new(2),
            ..AudioIOLayout::const_default()
        },
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(1),
            main_output_channels: NonZeroU32::new(2),
            ..AudioIOLayout::const_default()
        },
    ];

    type Editor = nice_plug_egui::EguiEditor<editor::EditorApp>;
    type SysExMessage = ();
    type BackgroundTask = ();

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn editor(&mut self, _async_executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        editor::create(
            self.editor_state.clone(),
            self.params.clone(),
            self.shared.clone(),
            self.loader.sender(),
        )
    }

    fn activate(
        &mut self,
        audio_io_layout: &AudioIOLayout,
        buffer_config: &BufferConfig,
        context: &mut impl ActivateContext<Self>,
    ) -> bool {
        // Everything the current state asks for (preset, reference, binaural renderer) is
        // prepared here, so the first sample already plays it (offline bounces included). The
        // loader waits for this to finish before it plays a state restored meanwhile.
        let shared = self.shared.clone();
        let _session = shared
            .session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let fs = f64::from(buffer_config.sample_rate);
        let n_in = audio_io_layout
            .main_input_channels
            .map_or(2, NonZeroU32::get) as usize;
        let generation = self.params.preset.generation();
        let stored = self.params.preset.get();
        let engine_build = |p: &tailor::Preset| {
            presets::session_build(p, fs).and_then(|b| binaural::engine_build(&b).map(|e| (b, e)))
        };
        let (preset, (build, full), error) =
            match presets::resolve(&stored).and_then(|p| engine_build(&p).map(|b| (p, b))) {
                Ok((p, b)) => (p, b, None),
                Err(e) => {
                    let p = presets::default_preset();
                    match engine_build(&p) {
                        Ok(b) => (p, b, Some(format!("saved preset: {e}"))),
                        Err(e) => return self.activate_dry(&e),
                    }
                }
            };
        let mut config = EngineConfig::new(fs, n_in, binaural::ENGINE_OUTPUTS);
        config.smoothing_ms = SMOOTHING_MS;
        config.max_predelay_ms = MAX_PREDELAY_MS;
        let max = buffer_config.max_buffer_size.max(1) as usize;
        // The reverb's blocks are the host's (its sources are prepared for them).
        config.max_block = max.min(tailor::engine::MAX_BLOCK_LIMIT);
        let (early_part, early, error) =
            match presets::session_early_part(&preset, fs).and_then(|part| {
                let e = part
                    .as_ref()
                    .map(|e| binaural::engine_early(e, build.n_outputs()))
                    .transpose()?;
                Ok((part, e))
            }) {
                Ok((part, e)) => (part, e, error),
                Err(e) => (None, None, error.or(Some(e))),
            };
        let mut reverb = match Reverb::prepare_with_early(&full, early.as_ref(), &config) {
            Ok(r) => r,
            Err(e) => return self.activate_dry(&e.to_string()),
        };
        let controls = self.params.fx_controls();
        reverb.set_controls(&controls);
        reverb.snap_controls();
        let (mut mixer, links) = Mixer::new(fs, config.max_block, SMOOTHING_MS);
        let mut errors: Vec<String> = error.into_iter().collect();
        if self.hrirs.as_ref().map(|h| &h.0) != Some(&stored.sofa_path) {
            self.hrirs = binaural::load_set(stored.sofa_path.as_deref())
                .map_err(|e| errors.push(e))
                .ok()
                .map(|set| (stored.sofa_path.clone(), set));
        }
        match self
            .hrirs
            .as_ref()
            .ok_or_else(|| "no HRTF set".to_string())
            .and_then(|(_, set)| binaural::renderer(set, fs, max))
        {
            // The channel is new and empty: the send succeeds.
            Ok(r) => drop(links.binaural.try_send(Some(Box::new(r)))),
            Err(e) => errors.push(e),
        }
        if let Some(path) = &stored.reference_path {
            match reference::prepare(std::path::Path::new(path), &build, early_part.as_ref(), max) {
                Ok((conv, note)) => {
                    drop(links.reference.try_send(Some(Box::new(conv))));
                    if let (Some(n), Ok(mut st)) = (note, self.shared.status.lock()) {
                        st.info = Some(n);
                    }
                }
                Err(e) => errors.push(format!("reference: {e}")),
            }
        }
        mixer.snap_paths(self.params.want());
        if let Ok(mut t) = self.shared.target.lock() {
            *t = Some(Target {
                swap: reverb.swap_handle(),
                sample_rate: fs,
                max_block: max,
                links,
            });
        }
        self.shared.set_playing(&preset, &build);
        self.shared
            .applied_generation
            .store(generation, std::sync::atomic::Ordering::Release);
        if !errors.is_empty() {
            if let Ok(mut s) = self.shared.status.lock() {
                s.error = Some(errors.join("; "));
            }
        }
        self.inputs = vec![vec![0.0; max]; n_in];
        self.sample_rate = buffer_config.sample_rate;
        let smooth = (SMOOTHING_MS * fs / 1000.0).round() as u32;
        let b = if self.params.bypass.value() { 1.0 } else { 0.0 };
        self.bypass = Ramp::new(b, smooth);
        self.bypassed = false;
        self.fresh = true;
        self.reverb = Some(reverb);
        self.mixer = Some(mixer);
        context.set_latency_samples(0);
        self.loader.request(Request::Session);
        true
    }

    fn deactivate(&mut self) {
        if let Ok(mut t) = self.shared.target.lock() {
            *t = None;
        }
        self.reverb = None;
        self.mixer = None;
    }

    fn reset(&mut self) {
        if let Some(r) = self.reverb.as_mut() {
            r.reset();
        }
        if let Some(m) = self.mixer.as_mut() {
            m.reset();
        }
        self.bypass.snap();
        self.fresh = true;
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        _aux: &mut AuxiliaryBuffers,
        _context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        let _guard = DenormalGuard::new();
        self.render(buffer);
        // Output stage: no path (dry, bypass, wet, reference, binaural) emits a subnormal.
        for ch in buffer.as_slice() {
            flush_subnormals(ch);
        }
        match self.tail_samples() {
            Some(t) => ProcessStatus::Tail(t),
            None => ProcessStatus::KeepAlive,
        }
    }
}

impl TailorReverb {
    /// Activation where no reverb can be prepared (e.g. a sample rate outside the supported
    /// range): the plugin still activates, passes its input through dry and says why.
    fn activate_dry(&mut self, why: &str) -> bool {
        if let Ok(mut t) = self.shared.target.lock() {
            *t = None;
        }
        if let Ok(mut s) = self.shared.status.lock() {
            s.error = Some(format!("{why}; the input passes through dry"));
        }
        self.reverb = None;
        self.mixer = None;
        true
    }

    /// Renders one host buffer (see [`Plugin::process`]).
    fn render(&mut self, buffer: &mut Buffer) {
        let (Some(reverb), Some(mixer)) = (self.reverb.as_mut(), self.mixer.as_mut()) else {
            return;
        };
        let controls = self.params.fx_controls();
        let want = self.params.want();
        let bypass = if self.params.bypass.value() { 1.0 } else { 0.0 };
        self.bypass.set_target(bypass);
        if self.fresh {
            // A fresh render starts at the parameters' values; only later changes glide.
            mixer.snap_to(reverb, &controls, want);
            self.bypass.snap();
            self.fresh = false;
        }
        let frames = buffer.samples();
        let chans = buffer.as_slice();
        let n_in = self.inputs.len();
        let cap = self.inputs.first().map_or(0, Vec::len);
        let mut start = 0;
        while start < frames && cap > 0 {
            let len = (frames - start).min(cap);
            for (c, inb) in self.inputs.iter_mut().enumerate() {
                match chans.get(c) {
                    Some(ch) => inb[..len].copy_from_slice(&ch[start..start + len]),
                    None => inb[..len].iter_mut().for_each(|v| *v = 0.0),
                }
            }
            let full_bypass = !self.bypass.is_moving() && self.bypass.value() >= 1.0;
            if full_bypass {
                if !self.bypassed {
                    reverb.reset();
                    mixer.reset();
                    self.bypassed = true;
                }
                for (o, ch) in chans.iter_mut().enumerate() {
                    ch[start..start + len].copy_from_slice(&self.inputs[o % n_in][..len]);
                }
            } else {
                if self.bypassed {
                    // The reverb was reset while bypassed: its input fades in.
                    reverb.fade_in_input();
                }
                self.bypassed = false;
                let ins: [&[f32]; 2] = [&self.inputs[0][..len], &self.inputs[1 % n_in][..len]];
                let mut outs: [&mut [f32]; 2] = Default::default();
                let mut it = chans.iter_mut();
                for slot in outs.iter_mut() {
                    if let Some(ch) = it.next() {
                        *slot = &mut ch[start..start + len];
                    }
                }
                mixer.process(reverb, &controls, want, &ins[..n_in.min(2)], &mut outs);
                if self.bypass.is_moving() || self.bypass.value() > 0.0 {
                    for t in 0..len {
                        let b = self.bypass.tick();
                        for (o, out) in outs.iter_mut().enumerate() {
                            if let Some(y) = out.get_mut(t) {
                                *y += b * (self.inputs[o % n_in][t] - *y);
                            }
                        }
                    }
                }
            }
            start += len;
        }
    }
}

impl ClapPlugin for TailorReverb {
    const CLAP_ID: &'static str = "io.github.tailor.reverb";
    const CLAP_DESCRIPTION: Option<&'static str> =
        Some("Feedback-delay-network reverb playing presets trained with Tailor");
    const CLAP_MANUAL_URL: Option<&'static str> = None;
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] = &[
        ClapFeature::AudioEffect,
        ClapFeature::Reverb,
        ClapFeature::Stereo,
        ClapFeature::Mono,
    ];
}

impl Vst3Plugin for TailorReverb {
    const VST3_CLASS_ID: [u8; 16] = *b"TailorReverbFdn1";
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] =
        &[Vst3SubCategory::Fx, Vst3SubCategory::Reverb];
}

nice_export_clap!(TailorReverb);
nice_export_vst3!(TailorReverb);
