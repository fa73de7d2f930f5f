//! A CLAP host built with clack-host loads Tailor Reverb's CLAP binary (the `libtailor_plugin.so`
//! cargo builds next to this test, or `$TAILOR_CLAP`, e.g. the bundled `Tailor Reverb.clap`),
//! and checks it against `tailor`'s offline rendering of the same preset.
//!
//! The test build has debug assertions, so nice-plug's `assert_process_allocs` aborts the test
//! process if the plugin allocates in `process`.

use clack_extensions::params::{
    HostParams, HostParamsImplMainThread, HostParamsImplShared, ParamClearFlags, ParamInfoBuffer,
    ParamInfoFlags, ParamRescanFlags, PluginParams,
};
use clack_extensions::state::PluginState;
use clack_host::events::event_types::ParamValueEvent;
use clack_host::events::Pckn;
use clack_host::prelude::*;
use std::cell::Cell;
use std::io::Cursor;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tailor::engine::EngineConfig;
use tailor::fx::{FxControls, Reverb, TONE_OPEN_HZ};
use tailor::mix::MixControls;
use tailor_plugin::presets;
use tailor_plugin::state::PersistedPreset;

struct TestHost;

struct Shared {
    state: OnceLock<Option<PluginState>>,
    params: OnceLock<Option<PluginParams>>,
}

impl<'a> SharedHandler<'a> for Shared {
    fn initializing(&self, instance: InitializingPluginHandle<'a>) {
        let _ = self.state.set(instance.get_extension());
        let _ = self.params.set(instance.get_extension());
    }
    fn request_restart(&self) {}
    fn request_process(&self) {}
    fn request_callback(&self) {}
}

impl HostParamsImplShared for Shared {
    fn request_flush(&self) {}
}

/// The host's main-thread side: counts the plugin's requests to rescan parameter values.
#[derive(Default)]
struct HostMain {
    value_rescans: Cell<u32>,
}

impl MainThreadHandler<'_> for HostMain {}

impl HostParamsImplMainThread for HostMain {
    fn rescan(&self, flags: ParamRescanFlags) {
        if flags.contains(ParamRescanFlags::VALUES) {
            self.value_rescans.set(self.value_rescans.get() + 1);
        }
    }
    fn clear(&self, _param_id: ClapId, _flags: ParamClearFlags) {}
}

impl HostHandlers for TestHost {
    type Shared<'a> = Shared;
    type MainThread<'a> = HostMain;
    type AudioProcessor<'a> = ();

    fn declare_extensions(builder: &mut HostExtensions<Self>, _shared: &Self::Shared<'_>) {
        builder.register::<HostParams>();
    }
}

fn plugin_path() -> PathBuf {
    if let Some(p) = std::env::var_os("TAILOR_CLAP") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("deps directory");
    for dir in [deps, deps.parent().unwrap_or(deps)] {
        let p = dir.join("libtailor_plugin.so");
        if p.exists() {
            return p;
        }
    }
    panic!("libtailor_plugin.so not found next to {}", exe.display());
}

fn entry() -> &'static PluginEntry {
    static ENTRY: OnceLock<PluginEntry> = OnceLock::new();
    ENTRY.get_or_init(|| {
        // SAFETY: the library is Tailor Reverb's CLAP binary built from this workspace.
        unsafe { PluginEntry::load(plugin_path()) }.expect("load the CLAP entry")
    })
}

struct Instance {
    inner: PluginInstance<TestHost>,
}

impl Instance {
    fn new() -> Self {
        let entry = entry();
        let factory = entry.get_plugin_factory().expect("plugin factory");
        let desc = factory
            .plugin_descriptors()
            .find(|d| d.id().map(|i| i.to_bytes()) == Some(b"io.github.tailor.reverb"))
            .expect("Tailor Reverb descriptor");
        assert_eq!(desc.name().unwrap().to_bytes(), b"Tailor Reverb");
        let info = HostInfo::new("tailor-e2e", "Tailor", "https://example.invalid", "0.1").unwrap();
        let inner = PluginInstance::<TestHost>::new(
            |_| Shared {
                state: OnceLock::new(),
                params: OnceLock::new(),
            },
            |_| HostMain::default(),
            entry,
            desc.id().unwrap(),
            &info,
        )
        .expect("instantiate");
        Self { inner }
    }

    fn state_ext(&mut self) -> PluginState {
        self.inner
            .access_shared_handler(|h| *h.state.get().unwrap())
            .expect("state extension")
    }

    fn load_state(&mut self, bytes: &[u8]) {
        let ext = self.state_ext();
        ext.load(&self.inner.plugin_handle(), &mut Cursor::new(bytes))
            .expect("state load");
    }

    /// Loads a state blob, returning whether the plugin accepted it.
    fn try_load_state(&mut self, bytes: &[u8]) -> bool {
        let ext = self.state_ext();
        ext.load(&self.inner.plugin_handle(), &mut Cursor::new(bytes))
            .is_ok()
    }

    fn save_state(&mut self) -> Vec<u8> {
        let ext = self.state_ext();
        let mut out = Vec::new();
        ext.save(&self.inner.plugin_handle(), &mut out)
            .expect("state save");
        out
    }

    /// The value the host reads for parameter `id` (normalised for continuous parameters).
    fn param_value(&mut self, id: ClapId) -> f64 {
        let ext = self
            .inner
            .access_shared_handler(|h| *h.params.get().unwrap())
            .expect("params extension");
        ext.get_value(&self.inner.plugin_handle(), id)
            .expect("param value")
    }

    /// (name, CLAP id, min, max, default, automatable) of every parameter.
    fn param_infos(&mut self) -> Vec<(String, ClapId, f64, f64, f64, bool)> {
        let ext = self
            .inner
            .access_shared_handler(|h| *h.params.get().unwrap())
            .expect("params extension");
        let handle = self.inner.plugin_handle();
        (0..ext.count(&handle))
            .map(|i| {
                let mut buf = ParamInfoBuffer::new();
                let info = ext.get_info(&handle, i, &mut buf).expect("param info");
                (
                    String::from_utf8_lossy(info.name).to_string(),
                    info.id,
                    info.min_value,
                    info.max_value,
                    info.default_value,
                    info.flags.contains(ParamInfoFlags::IS_AUTOMATABLE),
                )
            })
            .collect()
    }

    /// (name, CLAP id, min, max) of every parameter.
    fn params(&mut self) -> Vec<(String, ClapId, f64, f64)> {
        self.param_infos()
            .into_iter()
            .map(|(name, id, min, max, _, _)| (name, id, min, max))
            .collect()
    }

    /// Every automatable parameter: (name, CLAP id, min, max, default) as the host sends them.
    fn automatable_params(&mut self) -> Vec<(String, ClapId, f64, f64, f64)> {
        self.param_infos()
            .into_iter()
            .filter(|p| p.5)
            .map(|(name, id, min, max, default, _)| (name, id, min, max, default))
            .collect()
    }

    /// Activates at `fs`, processes `input` (planar stereo) in blocks cycling through `blocks`,
    /// sending `events` (block index, param id, value) at the start of their block; returns the
    /// output and the time spent inside `process`.
    fn render(
        &mut self,
        fs: f64,
        input: &[Vec<f32>; 2],
        blocks: &[usize],
        events: &[(usize, ClapId, f64)],
    ) -> ([Vec<f32>; 2], Busy) {
        self.render_with_resets(fs, input, blocks, events, &[])
    }

    /// Like [`Instance::render`], calling the plugin's `reset` before the blocks in `resets`.
    fn render_with_resets(
        &mut self,
        fs: f64,
        input: &[Vec<f32>; 2],
        blocks: &[usize],
        events: &[(usize, ClapId, f64)],
        resets: &[usize],
    ) -> ([Vec<f32>; 2], Busy) {
        let max = *blocks.iter().max().unwrap();
        let config = PluginAudioConfiguration {
            sample_rate: fs,
            min_frames_count: 1,
            max_frames_count: max as u32,
        };
        let processor = self.inner.activate(|_, _| (), config).expect("activate");
        let n = input[0].len();
        let (out, busy, processor) = std::thread::scope(|s| {
            s.spawn(|| {
                let mut p = processor.start_processing().expect("start processing");
                let mut ins = AudioPorts::with_capacity(2, 1);
                let mut outs = AudioPorts::with_capacity(2, 1);
                let mut ib = [vec![0.0f32; max], vec![0.0f32; max]];
                let mut ob = [vec![0.0f32; max], vec![0.0f32; max]];
                let mut out = [vec![0.0f32; n], vec![0.0f32; n]];
                let mut out_events = EventBuffer::new();
                let mut in_events = EventBuffer::new();
                let mut busy = Duration::ZERO;
                let mut calls = Vec::with_capacity(n / blocks.iter().min().unwrap() + 1);
                let (mut pos, mut k) = (0, 0);
                while pos < n {
                    let len = blocks[k % blocks.len()].min(n - pos);
                    if resets.contains(&k) {
                        p.reset();
                    }
                    for c in 0..2 {
                        ib[c][..len].copy_from_slice(&input[c][pos..pos + len]);
                    }
                    in_events.clear();
                    for &(_, id, v) in events.iter().filter(|e| e.0 == k) {
                        in_events.push(&ParamValueEvent::new(0, id, Pckn::match_all(), v));
                    }
                    let input_audio = ins.with_input_buffers([AudioPortBuffer {
                        latency: 0,
                        channels: AudioPortBufferType::f32_input_only(
                            ib.iter_mut().map(|b| InputChannel::variable(&mut b[..len])),
                        ),
                    }]);
                    let mut output_audio = outs.with_output_buffers([AudioPortBuffer {
                        latency: 0,
                        channels: AudioPortBufferType::f32_output_only(
                            ob.iter_mut().map(|b| &mut b[..len]),
                        ),
                    }]);
                    let t = Instant::now();
                    p.process(
                        &input_audio,
                        &mut output_audio,
                        &InputEvents::from_buffer(&in_events),
                        &mut OutputEvents::from_buffer(&mut out_events),
                        None,
                        None,
                    )
                    .expect("process");
                    let took = t.elapsed();
                    busy += took;
                    calls.push(took);
                    out_events.clear();
                    for c in 0..2 {
                        out[c][pos..pos + len].copy_from_slice(&ob[c][..len]);
                    }
                    pos += len;
                    k += 1;
                }
                calls.sort_unstable();
                let busy = Busy {
                    total_s: busy.as_secs_f64(),
                    median_call_s: calls
                        .get(calls.len() / 2)
                        .map_or(0.0, Duration::as_secs_f64),
                    calls: calls.len(),
                };
                (out, busy, p.stop_processing())
            })
            .join()
            .expect("audio thread")
        });
        self.inner.deactivate(processor);
        (out, busy)
    }
}

/// Time spent inside the plugin's `process` during one render.
struct Busy {
    /// All calls together, in seconds.
    total_s: f64,
    /// The median call, in seconds (robust to the thread being preempted by other work).
    median_call_s: f64,
    /// Number of `process` calls.
    calls: usize,
}

fn noise(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.5
        })
        .collect()
}

/// A nice-plug CLAP state blob (u64 little-endian length, then JSON) with parameter plain values
/// and a preset.
fn state_blob(params: &[(&str, f32)], preset: &PersistedPreset) -> Vec<u8> {
    let p: Vec<(&str, serde_json::Value)> = params
        .iter()
        .map(|(id, v)| (*id, serde_json::json!({ "f32": v })))
        .collect();
    state_blob_values(&p, preset)
}

/// Like [`state_blob`] with nice-plug's tagged parameter values (`{"f32": 0.5}`,
/// `{"bool": true}`, `{"string": "binaural"}`).
fn state_blob_values(params: &[(&str, serde_json::Value)], preset: &PersistedPreset) -> Vec<u8> {
    let mut p = serde_json::Map::new();
    for (id, v) in params {
        p.insert((*id).into(), v.clone());
    }
    let fields = serde_json::json!({ "preset": serde_json::to_string(preset).unwrap() });
    let json = serde_json::to_vec(
        &serde_json::json!({ "version": "0.1.0", "params": p, "fields": fields }),
    )
    .unwrap();
    let mut blob = (json.len() as u64).to_le_bytes().to_vec();
    blob.extend_from_slice(&json);
    blob
}

fn test_preset() -> PersistedPreset {
    let preset = presets::factory_preset(2).unwrap(); // colorless_N8_d1, 1.2 s
    PersistedPreset {
        path: Some("/moved/away/room.json".into()),
        json: Some(preset.to_json_string()),
        factory: None,
        ..PersistedPreset::default()
    }
}

const MIX: f32 = 0.45;
const PREDELAY_MS: f32 = 12.0;
const DECAY: f32 = 1.3;
const GAIN_DB: f32 = -3.0;
const BLOCKS: &[usize] = &[1, 4096, 7, 128, 1000, 3, 64, 2048, 511, 4096, 256, 33];

fn offline(fs: f64, input: &[Vec<f32>; 2], change: Option<(usize, f32)>) -> [Vec<f32>; 2] {
    let preset = presets::resolve(&test_preset()).unwrap();
    let build = presets::session_build(&preset, fs).unwrap();
    let mut cfg = EngineConfig::new(fs, 2, 2);
    cfg.smoothing_ms = tailor_plugin::params::SMOOTHING_MS;
    cfg.max_predelay_ms = tailor_plugin::MAX_PREDELAY_MS;
    let mut r = Reverb::prepare(&build, &cfg).unwrap();
    let controls = |mix: f32| FxControls {
        decay_scale: DECAY,
        mix: MixControls {
            predelay_ms: PREDELAY_MS,
            dry: 1.0 - mix,
            wet: mix,
            output_gain_db: GAIN_DB,
        },
        tone_hz: TONE_OPEN_HZ,
        width: 1.0,
    };
    r.set_controls(&controls(MIX));
    r.snap_controls();
    let n = input[0].len();
    let mut out = [vec![0.0; n], vec![0.0; n]];
    let at = change.map_or(n, |c| c.0);
    let (a, b) = out.split_at_mut(1);
    r.process(
        &[&input[0][..at], &input[1][..at]],
        &mut [&mut a[0][..at], &mut b[0][..at]],
    );
    if let Some((_, mix)) = change {
        r.set_controls(&controls(mix));
        r.process(
            &[&input[0][at..], &input[1][at..]],
            &mut [&mut a[0][at..], &mut b[0][at..]],
        );
    }
    out
}

fn max_rel_error(got: &[Vec<f32>; 2], want: &[Vec<f32>; 2]) -> f64 {
    let peak = want
        .iter()
        .flatten()
        .fold(0.0f64, |m, v| m.max(f64::from(v.abs())));
    assert!(peak > 1e-3, "reference is silent");
    let err = got
        .iter()
        .flatten()
        .zip(want.iter().flatten())
        .fold(0.0f64, |m, (a, b)| m.max(f64::from((a - b).abs())));
    err / peak
}

fn start_of_block(k: usize) -> usize {
    (0..k).map(|i| BLOCKS[i % BLOCKS.len()]).sum()
}

#[test]
fn renders_the_offline_engine_output_at_44k1_and_48k() {
    for fs in [44_100.0, 48_000.0] {
        let n = (10.0 * fs) as usize;
        let input = [noise(n, 1), noise(n, 2)];
        let mut inst = Instance::new();
        let params = inst.params();
        let names: Vec<&str> = params.iter().map(|p| p.0.as_str()).collect();
        for want in [
            "Mix",
            "Pre-delay",
            "Decay",
            "Tone",
            "Output",
            "Width",
            "Bypass",
        ] {
            assert!(names.contains(&want), "missing parameter {want}: {names:?}");
        }
        let mix_id = params.iter().find(|p| p.0 == "Mix").unwrap().1;
        inst.load_state(&state_blob(
            &[
                ("mix", MIX),
                ("predelay", PREDELAY_MS),
                ("decay", DECAY),
                ("gain", GAIN_DB),
            ],
            &test_preset(),
        ));
        // Mix (linear 0–1, so normalised = plain) moves to 0.8 at the start of block 40.
        let k = 40;
        let (got, _) = inst.render(fs, &input, BLOCKS, &[(k, mix_id, 0.8)]);
        let want = offline(fs, &input, Some((start_of_block(k), 0.8)));
        let err = max_rel_error(&got, &want);
        eprintln!("{fs} Hz: max |plugin − offline| / peak = {err:e}");
        assert!(err <= 1e-5, "{fs} Hz: relative error {err:e}");
    }
}

#[test]
fn state_save_and_load_reproduce_the_output() {
    let fs = 48_000.0;
    let n = 96_000;
    let input = [noise(n, 3), noise(n, 4)];
    let mut a = Instance::new();
    a.load_state(&state_blob(
        &[
            ("mix", MIX),
            ("decay", DECAY),
            ("width", 0.6),
            ("tone", 4_000.0),
        ],
        &test_preset(),
    ));
    let saved = a.save_state();
    let text = String::from_utf8(saved[8..].to_vec()).expect("JSON state");
    assert!(
        text.contains("pyfdn-fdn-build"),
        "preset not stored in the state"
    );
    let (out_a, _) = a.render(fs, &input, &[512], &[]);
    let mut b = Instance::new();
    b.load_state(&saved);
    let (out_b, _) = b.render(fs, &input, &[77, 1024], &[]);
    assert!(max_rel_error(&out_b, &out_a) <= 1e-5);
    assert!(out_a[0] != out_a[1], "width 0.6 should still be stereo");
}

#[test]
fn a_corrupt_preset_in_the_state_plays_the_default() {
    let fs = 44_100.0;
    let n = 44_100;
    let input = [noise(n, 5), noise(n, 6)];
    let mut inst = Instance::new();
    let bad = PersistedPreset {
        json: Some("{\"build\": {\"format\": \"pyfdn-fdn-build\", \"delays\": [1, ".into()),
        ..PersistedPreset::default()
    };
    inst.load_state(&state_blob(&[("mix", 1.0)], &bad));
    let (out, _) = inst.render(fs, &input, &[256], &[]);
    let tail: f32 = out[0][n / 2..].iter().map(|v| v * v).sum();
    assert!(out.iter().flatten().all(|v| v.is_finite()));
    assert!(tail > 1e-3, "the default reverb should still play");
}

#[test]
fn garbage_state_blobs_never_crash_and_the_reverb_keeps_playing() {
    let fs = 44_100.0;
    let n = 22_050;
    let input = [noise(n, 9), noise(n, 10)];
    let good = state_blob(&[("mix", 1.0)], &PersistedPreset::default());
    let mut blobs: Vec<Vec<u8>> = vec![
        Vec::new(),
        vec![0xff; 8],
        u64::MAX.to_le_bytes().to_vec(),
        b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!".to_vec(),
        good[..good.len() / 2].to_vec(),
    ];
    // Bit flips and a BOM inside the JSON of a valid blob.
    for i in (8..good.len()).step_by(good.len() / 7) {
        let mut b = good.clone();
        b[i] ^= 0x80;
        blobs.push(b);
    }
    let mut bom = good[..8].to_vec();
    bom.extend_from_slice("\u{feff}".as_bytes());
    bom.extend_from_slice(&good[8..]);
    blobs.push(bom);
    for (k, blob) in blobs.iter().enumerate() {
        let mut inst = Instance::new();
        let _accepted = inst.try_load_state(blob);
        let (out, _) = inst.render(fs, &input, &[256], &[]);
        assert!(out.iter().flatten().all(|v| v.is_finite()), "blob {k}");
        let tail: f32 = out[0][n / 2..].iter().map(|v| v * v).sum();
        assert!(tail > 1e-4, "blob {k}: the reverb should still play");
    }
}

/// The CPU load of the default preset (N = 16, stereo): a measurement printed, not an assert
/// (speed is no pass/fail criterion on a shared machine).
#[test]
fn cpu_n16_stereo_48k_128_frame_blocks() {
    let fs = 48_000.0;
    let n = 10 * 48_000;
    let input = [noise(n, 7), noise(n, 8)];
    let mut inst = Instance::new();
    inst.load_state(&state_blob(&[("mix", 0.5)], &PersistedPreset::default()));
    let (out, busy) = inst.render(fs, &input, &[128], &[]);
    assert!(out.iter().flatten().all(|v| v.is_finite()));
    let seconds = n as f64 / fs;
    let pct = 100.0 * busy.total_s / seconds;
    // The median call times the calls: the load without the calls another process preempted.
    let typical = 100.0 * busy.median_call_s * busy.calls as f64 / seconds;
    eprintln!(
        "CPU: {pct:.3} % of one core, {typical:.3} % from the median call \
         (N=16 stereo, 48 kHz, 128-frame blocks)"
    );
}

/// Parameter values for [`state_blob_values`].
type StateParams<'a> = Vec<(&'a str, serde_json::Value)>;

/// Subnormal noise (|x| < 2.5e-39) for `n` samples.
fn subnormal_noise(n: usize, seed: u64) -> Vec<f32> {
    noise(n, seed).into_iter().map(|v| v * 1e-38).collect()
}

#[test]
fn subnormal_input_and_long_silence_never_give_subnormal_output() {
    let fs = 44_100.0;
    let sec = |s: f64| (s * fs) as usize;
    // 0.5 s of subnormal input, 0.5 s of noise, then 30 s of silence (the tail dies out).
    let input: [Vec<f32>; 2] = std::array::from_fn(|c| {
        let mut x = subnormal_noise(sec(0.5), 11 + c as u64);
        x.extend(noise(sec(0.5), 13 + c as u64));
        x.resize(sec(31.0), 0.0);
        x
    });
    assert!(input[0][..100].iter().any(|v| v.is_subnormal()));
    let ir = std::env::temp_dir().join(format!("tailor-e2e-{}-ir.wav", std::process::id()));
    let h: Vec<f64> = (0..4_410)
        .map(|i| (-(i as f64) / 400.0).exp() * if i % 3 == 0 { 0.5 } else { -0.3 })
        .collect();
    tailor::wav::write_wav(&ir, 44_100, &[h]).unwrap();
    let with_ir = PersistedPreset {
        reference_path: Some(ir.display().to_string()),
        ..PersistedPreset::default()
    };
    let f = |v: f32| serde_json::json!({ "f32": v });
    let cases: Vec<(&str, StateParams, PersistedPreset)> = vec![
        ("default mix", vec![], PersistedPreset::default()),
        (
            "wet, tone 200 Hz",
            vec![("mix", f(1.0)), ("tone", f(200.0))],
            PersistedPreset::default(),
        ),
        (
            "bypass",
            vec![("bypass", serde_json::json!({ "bool": true }))],
            PersistedPreset::default(),
        ),
        (
            "binaural",
            vec![
                ("mix", f(0.5)),
                ("output_mode", serde_json::json!({ "string": "binaural" })),
            ],
            PersistedPreset::default(),
        ),
        (
            "reference",
            vec![
                ("mix", f(0.7)),
                ("ab_source", serde_json::json!({ "string": "reference" })),
            ],
            with_ir,
        ),
    ];
    let mut counts = Vec::new();
    for (name, params, preset) in cases {
        let mut inst = Instance::new();
        inst.load_state(&state_blob_values(&params, &preset));
        let (out, _) = inst.render(fs, &input, &[512, 1000, 37], &[]);
        let subnormal = out.iter().flatten().filter(|v| v.is_subnormal()).count();
        let loud = out.iter().flatten().filter(|v| v.abs() > 1e-3).count();
        eprintln!("{name}: {subnormal} subnormal outputs, {loud} above -60 dBFS");
        assert!(loud > 1_000, "{name}: the plugin should play");
        counts.push((name, subnormal));
    }
    let _ = std::fs::remove_file(ir);
    assert!(
        counts.iter().all(|c| c.1 == 0),
        "subnormal outputs: {counts:?}"
    );
}

/// The plugin's mixer rendering `input` with the test controls at mix 1, binaural (with the
/// renderer installed before the first sample) or stereo, in blocks cycling through `blocks`.
fn mixer_render(fs: f64, input: &[Vec<f32>; 2], blocks: &[usize], bin: bool) -> [Vec<f32>; 2] {
    use tailor_plugin::binaural;
    use tailor_plugin::mixer::{Mixer, Want};
    let preset = presets::resolve(&test_preset()).unwrap();
    let build = presets::session_build(&preset, fs).unwrap();
    let full = binaural::engine_build(&build).unwrap();
    let mut cfg = EngineConfig::new(fs, 2, binaural::ENGINE_OUTPUTS);
    cfg.smoothing_ms = tailor_plugin::params::SMOOTHING_MS;
    cfg.max_predelay_ms = tailor_plugin::MAX_PREDELAY_MS;
    let max = *blocks.iter().max().unwrap();
    // As the plugin prepares it: the reverb's blocks are the host's.
    cfg.max_block = max;
    let mut reverb = Reverb::prepare(&full, &cfg).unwrap();
    let controls = FxControls {
        decay_scale: DECAY,
        mix: MixControls {
            predelay_ms: PREDELAY_MS,
            dry: 0.0,
            wet: 1.0,
            output_gain_db: GAIN_DB,
        },
        tone_hz: TONE_OPEN_HZ,
        width: 1.0,
    };
    let (mut mixer, links) = Mixer::new(fs, max, tailor_plugin::params::SMOOTHING_MS);
    let set = binaural::load_set(None).unwrap();
    let r = binaural::renderer(&set, fs, max).unwrap();
    links.binaural.send(Some(Box::new(r))).unwrap();
    let want = Want {
        reference: false,
        binaural: bin,
    };
    mixer.snap_to(&mut reverb, &controls, want);
    assert!(mixer.has_binaural());
    let n = input[0].len();
    let mut out = [vec![0.0f32; n], vec![0.0f32; n]];
    let (mut pos, mut k) = (0, 0);
    while pos < n {
        let len = blocks[k % blocks.len()].min(n - pos);
        let (a, b) = out.split_at_mut(1);
        mixer.process(
            &mut reverb,
            &controls,
            want,
            &[&input[0][pos..pos + len], &input[1][pos..pos + len]],
            &mut [&mut a[0][pos..pos + len], &mut b[0][pos..pos + len]],
        );
        pos += len;
        k += 1;
    }
    out
}

#[test]
fn a_binaural_render_right_after_activation_is_binaural_from_the_first_sample() {
    let fs = 48_000.0;
    let n = 24_000;
    let input = [noise(n, 21), noise(n, 22)];
    let blocks = [256, 1000, 77];
    let mut inst = Instance::new();
    inst.load_state(&state_blob_values(
        &[
            ("mix", serde_json::json!({ "f32": 1.0 })),
            ("predelay", serde_json::json!({ "f32": PREDELAY_MS })),
            ("decay", serde_json::json!({ "f32": DECAY })),
            ("gain", serde_json::json!({ "f32": GAIN_DB })),
            ("output_mode", serde_json::json!({ "string": "binaural" })),
        ],
        &test_preset(),
    ));
    // An offline bounce: the whole render right after activation, as fast as it goes.
    let (got, _) = inst.render(fs, &input, &blocks, &[]);
    let want = mixer_render(fs, &input, &blocks, true);
    // Binaural and stereo differ from the first sound on (after the 12 ms pre-delay), so the
    // comparison can fail.
    let first = 2_048;
    let head = |y: &[Vec<f32>; 2]| [y[0][..first].to_vec(), y[1][..first].to_vec()];
    let stereo = mixer_render(fs, &input, &blocks, false);
    assert!(max_rel_error(&head(&stereo), &head(&want)) > 1e-2);
    let err_head = max_rel_error(&head(&got), &head(&want));
    let err = max_rel_error(&got, &want);
    eprintln!("binaural right after activation vs a ready renderer: first 43 ms {err_head:e}, all {err:e}");
    assert!(err_head <= 1e-5, "first 43 ms: relative error {err_head:e}");
    assert!(err <= 1e-5, "relative error {err:e}");
}

/// An instance loaded with the test state (mix 0.45, 0 dB) and the CLAP ids of Mix and Output;
/// renders at 48 kHz in 480-sample blocks.
struct GlideCase {
    inst: Instance,
    mix: ClapId,
    gain: ClapId,
}

const GLIDE_BASE: [(&str, f32); 3] = [("mix", MIX), ("predelay", PREDELAY_MS), ("decay", DECAY)];

impl GlideCase {
    fn new() -> Self {
        let mut inst = Instance::new();
        let params = inst.params();
        let id = |name: &str| params.iter().find(|p| p.0 == name).unwrap().1;
        let (mix, gain) = (id("Mix"), id("Output"));
        inst.load_state(&state_blob(&GLIDE_BASE, &test_preset()));
        Self { inst, mix, gain }
    }

    /// Events setting mix 0.9 and −9 dB at the start of block `k` (both are linear, so their
    /// normalised CLAP values are (plain − min) / range).
    fn to_new(&self, k: usize) -> [(usize, ClapId, f64); 2] {
        [(k, self.mix, 0.9), (k, self.gain, (-9.0 + 36.0) / 48.0)]
    }

    /// An instance whose state already holds mix 0.9 and −9 dB, rendering `input`.
    fn settled(input: &[Vec<f32>; 2]) -> [Vec<f32>; 2] {
        let mut s = Instance::new();
        let mut p = GLIDE_BASE.to_vec();
        p[0].1 = 0.9;
        p.push(("gain", -9.0));
        s.load_state(&state_blob(&p, &test_preset()));
        s.render(48_000.0, input, &[480], &[]).0
    }
}

/// The first 20 ms at 48 kHz.
fn first_20_ms(y: &[Vec<f32>; 2]) -> [Vec<f32>; 2] {
    [y[0][..960].to_vec(), y[1][..960].to_vec()]
}

#[test]
fn new_values_with_the_first_block_after_activation_do_not_glide() {
    let mut c = GlideCase::new();
    let n = 24_000;
    let input = [noise(n, 31), noise(n, 32)];
    let events = c.to_new(0);
    let (got, _) = c.inst.render(48_000.0, &input, &[480], &events);
    let want = GlideCase::settled(&input);
    let err = max_rel_error(&first_20_ms(&got), &first_20_ms(&want));
    eprintln!("first 20 ms after activation vs settled: {err:e}");
    assert!(err <= 1e-5, "relative error {err:e}");
    assert!(max_rel_error(&got, &want) <= 1e-5);
}

#[test]
fn new_values_with_the_first_block_after_a_reset_do_not_glide() {
    let mut c = GlideCase::new();
    let n = 72_000;
    let input = [noise(n, 33), noise(n, 34)];
    // A change while running (it glides), then a reset and new values with the next block.
    let k = 50;
    let mut events = vec![(10, c.mix, 0.2), (10, c.gain, 0.5)];
    events.extend(c.to_new(k));
    let (got, _) = c
        .inst
        .render_with_resets(48_000.0, &input, &[480], &events, &[k]);
    let after: [Vec<f32>; 2] = std::array::from_fn(|ch| got[ch][k * 480..].to_vec());
    let rest: [Vec<f32>; 2] = std::array::from_fn(|ch| input[ch][k * 480..].to_vec());
    let want = GlideCase::settled(&rest);
    let err = max_rel_error(&first_20_ms(&after), &first_20_ms(&want));
    eprintln!("first 20 ms after a reset vs settled: {err:e}");
    assert!(err <= 1e-5, "relative error {err:e}");
    assert!(max_rel_error(&after, &want) <= 1e-5);
}

#[test]
fn an_unsupported_sample_rate_still_activates_and_passes_the_input_dry() {
    for fs in [768_000.0, 1_234.567_8] {
        let input = [noise(3_000, 41), noise(3_000, 42)];
        let mut inst = Instance::new();
        let (out, _) = inst.render(fs, &input, &[512, 77], &[]);
        assert!(out == input, "{fs} Hz: not the dry input");
    }
}

#[test]
fn a_state_load_tells_the_host_to_rescan_and_shows_the_restored_values() {
    let mut inst = Instance::new();
    let params = inst.params();
    let id = |name: &str| params.iter().find(|p| p.0 == name).unwrap().1;
    let (mix, gain) = (id("Mix"), id("Output"));
    assert!((inst.param_value(mix) - 0.35).abs() < 1e-6, "default mix");
    inst.load_state(&state_blob(
        &[("mix", 0.8), ("gain", -9.0)],
        &PersistedPreset::default(),
    ));
    // nice-plug asks for the rescan on the main thread (now, or through on_main_thread).
    inst.inner.call_on_main_thread_callback();
    let rescans = inst.inner.access_handler(|h| h.value_rescans.get());
    assert!(
        rescans >= 1,
        "no CLAP_PARAM_RESCAN_VALUES after a state load"
    );
    // Mix and Output are linear: normalised = (plain − min) / range.
    assert!((inst.param_value(mix) - 0.8).abs() < 1e-6);
    assert!((inst.param_value(gain) - (-9.0 + 36.0) / 48.0).abs() < 1e-6);
}

/// St Andrew's stereo church fitted by the library pipeline (a short design of the channels'
/// mean, then the stereo image of `tailor::room::stereo`), and the late coherence per octave band
/// of the preset's own response.
fn fitted_stereo_church() -> (tailor::Preset, Vec<Option<f64>>) {
    use tailor::room::analysis::SlopeChoice;
    use tailor::room::design::DesignOptions;
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../data/rooms/st_andrews_church_stereo.wav");
    let audio = tailor::ir::load(&path, &tailor::ir::IrPolicy::ROOM).unwrap();
    let fs = audio.sample_rate;
    let mid = tailor::room::stereo::decay_target(&audio.channels[..2]);
    let opts = DesignOptions {
        iterations: 6,
        ..DesignOptions::default()
    };
    let room =
        tailor::room::design_room(&mid, fs, SlopeChoice::Fixed(1), &opts, true, |_, _, _| {
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    let early = Some(tailor::room::early_window(&room.analysis));
    let targets: Vec<Vec<Vec<f64>>> = vec![audio.channels[..2]
        .iter()
        .map(|c| room.analysis.conditioned(c))
        .collect()];
    let st =
        tailor::room::stereo::design_stereo(&targets, fs, early, &room.design.best, &[]).unwrap();
    let mut preset = tailor::Preset::from_build(st.build.clone(), "fit: St Andrew's (test)");
    let fir = st.early_fir.clone();
    preset
        .set_early(Some(
            tailor::preset::EarlyReflections::new(fs, fir).unwrap(),
        ))
        .unwrap();
    (preset, st.comparisons[0].coherence_b.clone())
}

#[test]
fn a_fitted_stereo_preset_plays_its_own_stereo_image() {
    let (preset, coherence) = fitted_stereo_church();
    assert_eq!(preset.build().n_outputs(), 2);
    let persisted = PersistedPreset {
        json: Some(preset.to_json_string()),
        ..PersistedPreset::default()
    };
    let mut inst = Instance::new();
    inst.load_state(&state_blob(
        &[
            ("mix", 1.0),
            ("predelay", 0.0),
            ("decay", 1.0),
            ("gain", 0.0),
            ("width", 1.0),
            ("tone", TONE_OPEN_HZ),
        ],
        &persisted,
    ));
    let fs = 48_000.0;
    let n = (2.0 * fs) as usize;
    let mut impulse = vec![0.0f32; n];
    impulse[0] = 1.0;
    let (out, _) = inst.render(fs, &[impulse.clone(), impulse], &[128, 77, 512], &[]);
    assert!(out.iter().flatten().all(|v| v.is_finite()));
    let (l, r): (Vec<f64>, Vec<f64>) = (
        out[0].iter().map(|&v| f64::from(v)).collect(),
        out[1].iter().map(|&v| f64::from(v)).collect(),
    );
    assert!(l != r, "the two outputs must differ");
    // The plugin's outputs carry the preset's coherence: correlated lows, decorrelated highs.
    let got = tailor::analysis::coherence::late_coherence(&l, &r, fs).unwrap();
    for (k, (g, want)) in got.iter().zip(&coherence).enumerate() {
        let (g, want) = (g.unwrap(), want.unwrap());
        assert!(
            (g - want).abs() < 0.05,
            "band {k}: plugin {g:.3}, preset {want:.3}"
        );
    }
    assert!(got[0].unwrap() > 0.7 && got[6].unwrap() < 0.1, "{got:?}");
}

/// The preset part of a saved state blob (u64 length, then nice-plug's JSON).
fn persisted_of(blob: &[u8]) -> PersistedPreset {
    let doc: serde_json::Value = serde_json::from_slice(&blob[8..]).expect("state JSON");
    serde_json::from_str(doc["fields"]["preset"].as_str().expect("preset field")).unwrap()
}

#[test]
fn a_state_naming_a_room_ir_fits_it_in_the_background_and_plays_that_room() {
    // A measured room (Arni, 44.1 kHz; see data/rooms/ATTRIBUTION.md).
    let room = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../data/rooms/arni_variable_room.wav")
        .canonicalize()
        .unwrap();
    let target = tailor::wav::read_wav(&room).unwrap();
    let fs = target.sample_rate;
    let params = [
        ("mix", 1.0),
        ("gain", 0.0),
        ("width", 1.0),
        ("tone", TONE_OPEN_HZ),
    ];
    let asked = PersistedPreset {
        room_ir: Some(room.display().to_string()),
        ..PersistedPreset::default()
    };
    let mut inst = Instance::new();
    inst.load_state(&state_blob(&params, &asked));
    // The fit runs on its own thread while the audio thread keeps processing (the plugin is
    // built with `assert_process_allocs`: an allocation in `process` aborts the test).
    let input = [noise(2 * fs as usize, 7), noise(2 * fs as usize, 8)];
    let started = Instant::now();
    let fitted = loop {
        let (out, _) = inst.render(fs, &input, &[128, 61, 512], &[]);
        assert!(out.iter().flatten().all(|v| v.is_finite()));
        // A host plays in real time: leave the fit its share of the cores.
        std::thread::sleep(Duration::from_millis(500));
        let p = persisted_of(&inst.save_state());
        if p.json.is_some() {
            break p;
        }
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "no fitted preset after 15 minutes"
        );
    };
    eprintln!("fitted in {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(fitted.room_ir, asked.room_ir);
    assert_eq!(
        fitted.reference_path, asked.room_ir,
        "the room is the A/B reference"
    );
    let preset = tailor::Preset::from_json_str(fitted.json.as_deref().unwrap()).unwrap();
    assert_eq!(preset.name(), "fit: arni_variable_room");
    // The plugin's impulse response has the room's octave-band RTs (ISO 3382-1 estimator).
    let n = target.len();
    let mut impulse = vec![0.0f32; n];
    impulse[0] = 1.0;
    let (out, _) = inst.render(fs, &[impulse.clone(), impulse.clone()], &[256], &[]);
    let got: Vec<f64> = out[0].iter().map(|&v| f64::from(v)).collect();
    let c = tailor::analysis::compare::compare_irs(&target.channels[0], &got, fs).unwrap();
    for ((f, a), b) in c.bands_hz.iter().zip(&c.rt_a_s).zip(&c.rt_b_s) {
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(
            (b / a - 1.0).abs() <= 0.05,
            "{f} Hz: room {a:.3} s, plugin {b:.3} s"
        );
    }
    // The state round-trips with the fitted preset: a reopened project plays it, never refits.
    let saved = inst.save_state();
    let mut again = Instance::new();
    again.load_state(&saved);
    assert_eq!(persisted_of(&again.save_state()), fitted);
    let (out2, _) = again.render(fs, &[impulse.clone(), impulse], &[256], &[]);
    assert!(
        max_rel_error(&out2, &out) < 1e-4,
        "the reopened state plays differently"
    );
}

/// Largest sample-to-sample step |y[n] − y[n−1]| of either channel over `range`.
fn largest_step(y: &[Vec<f32>; 2], range: std::ops::Range<usize>) -> f32 {
    y.iter()
        .flat_map(|ch| ch[range.start - 1..range.end].windows(2))
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0, f32::max)
}

/// The click test: every automatable parameter jumps between its ends (min → max and max →
/// min, one CLAP event) after 1.5 s of a steady 220 Hz sine through the reverb (default preset,
/// a reference IR loaded so the A/B switch has something to switch to), the other parameters at
/// their defaults and again fully wet.
///
/// Metric: the largest sample-to-sample step of the output in the 100 ms from the jump on,
/// over the largest step in the same 100 ms of two steady renders that hold the parameter at
/// its old and at its new value from the start. A click is a step neither steady signal makes
/// at that moment; a jump to a louder setting (output +12 dB) may legitimately step as far as
/// the louder signal does, which a window before the jump alone would call a click. A low sine
/// makes the metric sensitive: its own steps are small (2π · 220 / 48 000 of its amplitude),
/// while any discontinuity or pitch glide steps far more. Every ratio must be at most 2.
#[test]
fn every_parameter_jump_between_its_ends_stays_click_free() {
    let fs = 48_000.0;
    let block = 256;
    let n = (1.8 * fs) as usize;
    let k = (1.5 * fs) as usize / block;
    let (jump, window) = (k * block, (0.1 * fs) as usize);
    let sine = |phase: f32| -> Vec<f32> {
        (0..n)
            .map(|t| {
                0.25 * (2.0 * std::f32::consts::PI * 220.0 * t as f32 / 48_000.0 + phase).sin()
            })
            .collect()
    };
    let input = [sine(0.0), sine(1.0)];
    let ir = std::env::temp_dir().join(format!("tailor-e2e-{}-click-ir.wav", std::process::id()));
    let h: Vec<f64> = noise(14_400, 51)
        .iter()
        .enumerate()
        .map(|(i, &v)| f64::from(v) * (-(i as f64) / 2_400.0).exp())
        .collect();
    tailor::wav::write_wav(&ir, 48_000, &[h]).unwrap();
    let mut inst = Instance::new();
    inst.load_state(&state_blob(
        &[],
        &PersistedPreset {
            reference_path: Some(ir.display().to_string()),
            ..PersistedPreset::default()
        },
    ));
    let params = inst.automatable_params();
    assert!(params.len() >= 9, "{params:?}");
    let mix = params.iter().find(|p| p.0 == "Mix").unwrap().1;
    let span = jump..jump + window;
    let mut worst: Vec<(String, f32)> = Vec::new();
    // Two settings of the other parameters: the defaults (mix 35 %, where the dry sine is most
    // of the output) and fully wet (where every step of the reverb shows).
    for (base, wet) in [("default", None), ("wet", Some(1.0))] {
        // Every render starts from the base, the parameter under test at `start`.
        let mut render = |id: ClapId, start: f64, to: Option<f64>| {
            let mut events: Vec<(usize, ClapId, f64)> = params
                .iter()
                .map(|p| (0, p.1, if p.1 == mix { wet.unwrap_or(p.4) } else { p.4 }))
                .collect();
            events.retain(|e| e.1 != id);
            events.push((0, id, start));
            events.extend(to.map(|v| (k, id, v)));
            inst.render(fs, &input, &[block], &events).0
        };
        for (name, id, min, max, _) in params.iter().cloned() {
            if wet.is_some() && id == mix {
                continue;
            }
            let held_min = render(id, min, None);
            let held_max = render(id, max, None);
            for (from, to, dir) in [(min, max, "min → max"), (max, min, "max → min")] {
                let got = render(id, from, Some(to));
                assert!(got.iter().flatten().all(|v| v.is_finite()));
                let steady = largest_step(&held_min, span.clone())
                    .max(largest_step(&held_max, span.clone()));
                assert!(steady > 1e-4, "{name}: the steady output is silent");
                let ratio = largest_step(&got, span.clone()) / steady;
                eprintln!("{base}: {name} {dir}: largest step {ratio:.2} × the steady signals'");
                worst.push((format!("{base}: {name} {dir}"), ratio));
            }
        }
    }
    let _ = std::fs::remove_file(ir);
    let clicks: Vec<_> = worst.iter().filter(|w| w.1 > 2.0).collect();
    assert!(clicks.is_empty(), "parameter jumps that click: {clicks:?}");
}
