//! Structured-mutation fuzzing of every loader: seeded mutants of a valid preset, WAV and SOFA
//! file go through the entry points the CLI and the plugin use, and each must give `Ok` with
//! finite output or an `Err` — never a panic.
//!
//! Mutants are built from the structure of the input (JSON values and tokens, RIFF header fields
//! and chunks, SOFA attributes and dimensions), plus byte-level noise. `TAILOR_FUZZ_EXECS=N`
//! sets the mutants per loader (default below, sized for CI); `TAILOR_FUZZ_SEED=S` the seed.
//! A failing mutant is written to `$CARGO_TARGET_TMPDIR/fuzz-failures/` for replay.
//!
//! Long runs: `TAILOR_FUZZ_EXECS=200000 cargo test --release -p tailor --test fuzz_inputs`.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use tailor::analysis::bands::octave_band_decays;
use tailor::analysis::compare::compare_irs;
use tailor::analysis::echo::mixing_time_s;
use tailor::analysis::error::validate_ir;
use tailor::analysis::spectrum::spectral_flatness;
use tailor::analysis::summarize;
use tailor::hrtf::HrirSet;
use tailor::preset::Preset;
use tailor::response::{add_early_channels, TdRenderer};
use tailor::room::analysis::{analyse_room, design_start, SlopeChoice};

/// Mutants per loader in a plain `cargo test` run.
const DEFAULT_EXECS: usize = 2000;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn execs(default: usize) -> usize {
    std::env::var("TAILOR_FUZZ_EXECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn seed() -> u64 {
    std::env::var("TAILOR_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x7a11_0516)
}

/// Runs `check` on `count` mutants from `make`; a panic or a failed invariant is saved and
/// reported with its index. Returns (Ok count, Err count).
fn run_campaign(
    name: &str,
    count: usize,
    mut make: impl FnMut(&mut ChaCha8Rng) -> Vec<u8>,
    check: impl Fn(&[u8]) -> Result<bool, String>,
) -> (usize, usize) {
    // One line per panic (the SOFA parser's debug assertions fire on hostile HDF5 and are caught
    // by the loader), not a backtrace each.
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let line = info.to_string().replace('\n', " ");
            eprintln!("panic: {}", line.chars().take(160).collect::<String>());
        }))
    });
    let mut rng = ChaCha8Rng::seed_from_u64(seed() ^ fxhash(name));
    let (mut ok, mut err) = (0, 0);
    let mut failures = Vec::new();
    for i in 0..count {
        let input = make(&mut rng);
        match catch_unwind(AssertUnwindSafe(|| check(&input))) {
            Ok(Ok(true)) => ok += 1,
            Ok(Ok(false)) => err += 1,
            Ok(Err(why)) => failures.push((i, why, input)),
            Err(p) => {
                let msg = p
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                failures.push((i, format!("panic: {msg}"), input));
            }
        }
    }
    if !failures.is_empty() {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-failures");
        std::fs::create_dir_all(&dir).unwrap();
        let mut report = String::new();
        for (i, why, input) in failures.iter().take(20) {
            let f = dir.join(format!("{name}-{i}.bin"));
            std::fs::write(&f, input).unwrap();
            report.push_str(&format!("  #{i}: {why} ({})\n", f.display()));
        }
        panic!(
            "{name}: {} of {count} mutants failed (seed {}):\n{report}",
            failures.len(),
            seed()
        );
    }
    eprintln!("{name}: {count} mutants, {ok} accepted, {err} refused, 0 panics");
    (ok, err)
}

fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn all_finite(x: &[f64]) -> bool {
    x.iter().all(|v| v.is_finite())
}

// ---------------------------------------------------------------------------------------------
// Presets
// ---------------------------------------------------------------------------------------------

/// Numbers a hostile file would pick: zero, subnormal, tiny and huge, beyond f32, rates that broke
/// hound, counts at u16/u32 edges.
const HOSTILE_NUMBERS: &[f64] = &[
    0.0,
    -0.0,
    1e-320,
    1e-170,
    2e-170,
    1e-12,
    0.4,
    -1.0,
    0.999_999_9,
    1.000_001,
    2.0,
    7.0,
    1e6,
    1.5e6,
    1e39,
    1e200,
    1e201,
    1e300,
    1e308,
    -1e308,
    65535.0,
    65536.0,
    65537.0,
    4_294_967_296.0,
    9_007_199_254_740_993.0,
    1500.0,
];

fn hostile_value(rng: &mut ChaCha8Rng, old: &Value) -> Value {
    match rng.random_range(0..12) {
        0..=4 => {
            let v = HOSTILE_NUMBERS[rng.random_range(0..HOSTILE_NUMBERS.len())];
            serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
        }
        5 => match old.as_f64() {
            Some(x) => serde_json::Number::from_f64(x * 10f64.powi(rng.random_range(-30..30)))
                .map_or(Value::Null, Value::Number),
            None => Value::Null,
        },
        6 => Value::Null,
        7 => Value::Bool(rng.random_bool(0.5)),
        8 => Value::String(["NaN", "", "x", "Infinity", "\u{a0}"][rng.random_range(0..5)].into()),
        9 => Value::Array(vec![]),
        10 => Value::Object(Default::default()),
        _ => {
            let mut v = old.clone();
            for _ in 0..rng.random_range(1..40) {
                v = Value::Array(vec![v]);
            }
            v
        }
    }
}

/// A random node of `v` (walks down from the root, stopping at random).
fn random_node<'a>(rng: &mut ChaCha8Rng, v: &'a mut Value) -> &'a mut Value {
    let stop = rng.random_bool(0.15);
    let len = match v {
        Value::Array(a) => a.len(),
        Value::Object(o) => o.len(),
        _ => 0,
    };
    if stop || len == 0 {
        return v;
    }
    let k = rng.random_range(0..len);
    match v {
        Value::Array(a) => random_node(rng, &mut a[k]),
        Value::Object(o) => {
            let key = o.keys().nth(k).cloned().unwrap();
            random_node(rng, o.get_mut(&key).unwrap())
        }
        _ => unreachable!(),
    }
}

/// One structural mutation of a JSON document.
fn mutate_value(rng: &mut ChaCha8Rng, doc: &mut Value) {
    let node = random_node(rng, doc);
    match rng.random_range(0..6) {
        0..=2 => {
            let old = node.clone();
            *node = hostile_value(rng, &old);
        }
        3 => match node {
            Value::Array(a) if !a.is_empty() => {
                let i = rng.random_range(0..a.len());
                if rng.random_bool(0.5) {
                    a.remove(i);
                } else {
                    let copy = a[i].clone();
                    for _ in 0..rng.random_range(1..4) {
                        a.insert(i, copy.clone());
                    }
                }
            }
            Value::Object(o) if !o.is_empty() => {
                let key = o.keys().nth(rng.random_range(0..o.len())).cloned().unwrap();
                o.remove(&key);
            }
            _ => {}
        },
        4 => {
            if let Value::Object(o) = node {
                o.insert("unexpected\u{201c}".into(), Value::from(1));
            }
        }
        _ => {
            // Scale every number below this node (a whole matrix or SOS cascade at once).
            let f = HOSTILE_NUMBERS[rng.random_range(0..HOSTILE_NUMBERS.len())];
            scale_numbers(node, f);
        }
    }
}

fn scale_numbers(v: &mut Value, f: f64) {
    match v {
        Value::Number(n) => {
            if let Some(x) = n.as_f64() {
                if let Some(m) = serde_json::Number::from_f64(x * f) {
                    *n = m;
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| scale_numbers(x, f)),
        Value::Object(o) => o.values_mut().for_each(|x| scale_numbers(x, f)),
        _ => {}
    }
}

/// Text-level mutations: non-JSON tokens pyFDN writes (NaN, Infinity), non-ASCII bytes outside
/// strings, truncation, byte noise.
fn mutate_text(rng: &mut ChaCha8Rng, text: &mut Vec<u8>) {
    let at = |rng: &mut ChaCha8Rng, t: &Vec<u8>| rng.random_range(0..=t.len());
    match rng.random_range(0..9) {
        0 => {
            // Replace one number token with NaN / Infinity / -Infinity.
            let starts: Vec<usize> = (1..text.len())
                .filter(|&i| {
                    text[i].is_ascii_digit() && matches!(text[i - 1], b' ' | b'[' | b':' | b',')
                })
                .collect();
            if let Some(&i) = starts.get(rng.random_range(0..starts.len().max(1))) {
                let end = (i..text.len())
                    .find(|&j| !matches!(text[j], b'0'..=b'9' | b'.' | b'e' | b'E' | b'-' | b'+'))
                    .unwrap_or(text.len());
                let tok: &[u8] = [&b"NaN"[..], b"Infinity", b"-Infinity"][rng.random_range(0..3)];
                text.splice(i..end, tok.iter().copied());
            }
        }
        1 => {
            text.splice(0..0, "\u{feff}".bytes());
        }
        2 => {
            let i = at(rng, text);
            let c = [
                "\u{a0}",
                "\u{201c}",
                "\u{201d}",
                "\u{feff}",
                "é",
                "\u{1f600}",
            ][rng.random_range(0..6)];
            text.splice(i..i, c.bytes());
        }
        3 => {
            let i = at(rng, text);
            text.truncate(i);
        }
        4 => {
            for _ in 0..rng.random_range(1..8) {
                if !text.is_empty() {
                    let i = rng.random_range(0..text.len());
                    text[i] ^= 1 << rng.random_range(0..8);
                }
            }
        }
        5 => {
            let i = at(rng, text);
            let depth = rng.random_range(1..3000);
            let nest: Vec<u8> = std::iter::repeat_n(b'[', depth).collect();
            text.splice(i..i, nest);
        }
        6 => {
            let i = at(rng, text);
            text.splice(i..i, [0xff, 0xfe, 0x80]);
        }
        _ => {
            let i = at(rng, text);
            let b: u8 = rng.random();
            text.insert(i, b);
        }
    }
}

/// Loads a preset as `tailor preset check`, `tailor render` and the plugin do; when it is
/// accepted and stable, renders 4096 samples (FDN + early FIR) and requires them finite and the
/// written JSON to load again.
fn check_preset(bytes: &[u8]) -> Result<bool, String> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Ok(false);
    };
    let Ok(preset) = Preset::from_json_str(text) else {
        return Ok(false);
    };
    let build = preset.build();
    let Ok(stability) = build.check_stable() else {
        return Ok(false);
    };
    if !(stability.loop_gain_bound.is_finite() && stability.is_stable()) {
        return Err(format!(
            "check_stable said stable with bound {}",
            stability.loop_gain_bound
        ));
    }
    let mut r = TdRenderer::new(build);
    let mut u = vec![0.0; build.n_in()];
    let mut y = vec![0.0; build.n_out()];
    let len = 4096;
    let mut out = vec![Vec::with_capacity(len); build.n_out()];
    for n in 0..len {
        u[0] = if n == 0 { 1.0 } else { 0.0 };
        r.tick(&u, &mut y);
        for (ch, v) in out.iter_mut().zip(&y) {
            ch.push(*v);
        }
    }
    if !out.iter().all(|c| all_finite(c)) {
        return Err("a stable preset rendered non-finite samples".into());
    }
    if let Some(e) = preset.early() {
        add_early_channels(&mut out, e, 0, build.sample_rate())
            .map_err(|e| format!("early FIR refused after load: {e}"))?;
        if !out.iter().all(|c| all_finite(c)) {
            return Err("early reflections rendered non-finite samples".into());
        }
    }
    Preset::from_json_str(&preset.to_json_string())
        .map_err(|e| format!("the preset's own JSON is refused: {e}"))?;
    Ok(true)
}

fn preset_campaign(name: &str, path: &Path, count: usize) {
    let text = std::fs::read_to_string(path).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        check_preset(text.as_bytes()),
        Ok(true),
        "the seed preset must load"
    );
    let (ok, err) = run_campaign(
        name,
        count,
        |rng| {
            let mut d = doc.clone();
            for _ in 0..rng.random_range(0..4) {
                mutate_value(rng, &mut d);
            }
            let mut t = if rng.random_bool(0.5) {
                serde_json::to_vec_pretty(&d).unwrap()
            } else {
                serde_json::to_vec(&d).unwrap()
            };
            if rng.random_bool(0.5) {
                for _ in 0..rng.random_range(1..3) {
                    mutate_text(rng, &mut t);
                }
            }
            t
        },
        check_preset,
    );
    // The campaign must reach both sides of the validator, or it tests nothing.
    assert!(
        ok > count / 50 && err > count / 50,
        "{name}: {ok} accepted, {err} refused"
    );
}

#[test]
fn fuzz_bundled_preset() {
    preset_campaign(
        "preset-colorless",
        &repo().join("data/presets/colorless_FDN/colorless_N16_d1.json"),
        execs(DEFAULT_EXECS),
    );
}

#[test]
fn fuzz_fitted_preset() {
    preset_campaign(
        "preset-fitted",
        &repo().join("data/presets/fitted/meetingroom_fit.json"),
        execs(DEFAULT_EXECS) / 2,
    );
}

// ---------------------------------------------------------------------------------------------
// WAV
// ---------------------------------------------------------------------------------------------

/// A canonical WAV (`fmt ` + `data`) of `frames` interleaved samples.
fn wav_bytes(samples: &[f64], channels: u16, rate: u32, format: (u16, u16)) -> Vec<u8> {
    let (tag, bits) = format;
    let mut data = Vec::new();
    for &x in samples {
        match (tag, bits) {
            (3, 32) => data.extend_from_slice(&(x as f32).to_le_bytes()),
            (1, 16) => {
                data.extend_from_slice(&((x.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes())
            }
            (1, 24) => data
                .extend_from_slice(&((x.clamp(-1.0, 1.0) * 8_388_607.0) as i32).to_le_bytes()[..3]),
            _ => unreachable!(),
        }
    }
    let block = channels * bits / 8;
    let mut w = Vec::new();
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&tag.to_le_bytes());
    w.extend_from_slice(&channels.to_le_bytes());
    w.extend_from_slice(&rate.to_le_bytes());
    w.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
    w.extend_from_slice(&block.to_le_bytes());
    w.extend_from_slice(&bits.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&(data.len() as u32).to_le_bytes());
    w.extend_from_slice(&data);
    w
}

/// A chunk with `len` body bytes, padded to even length when `pad`.
fn chunk(id: &[u8; 4], len: usize, pad: bool) -> Vec<u8> {
    let mut c = id.to_vec();
    c.extend_from_slice(&(len as u32).to_le_bytes());
    c.extend(std::iter::repeat_n(b'x', len));
    if pad && len % 2 == 1 {
        c.push(0);
    }
    c
}

fn mutate_wav(rng: &mut ChaCha8Rng, w: &mut Vec<u8>) {
    // Header writes land only where the (possibly truncated) file still has the bytes.
    let put_u32 = |w: &mut Vec<u8>, at: usize, v: u32| {
        if let Some(b) = w.get_mut(at..at + 4) {
            b.copy_from_slice(&v.to_le_bytes());
        }
    };
    let put_u16 = |w: &mut Vec<u8>, at: usize, v: u16| {
        if let Some(b) = w.get_mut(at..at + 2) {
            b.copy_from_slice(&v.to_le_bytes());
        }
    };
    let u16s = [
        0u16, 1, 2, 3, 7, 8, 12, 17, 24, 31, 32, 33, 64, 65, 255, 0xfffe, 0xffff,
    ];
    let u32s = [
        0u32,
        1,
        2,
        100,
        111,
        4000,
        7999,
        8000,
        22050,
        44100,
        96000,
        384_000,
        384_001,
        1 << 31,
        u32::MAX,
    ];
    match rng.random_range(0..11) {
        0 => put_u16(w, 20, [0u16, 1, 2, 3, 6, 0xfffe][rng.random_range(0..6)]),
        1 => put_u16(w, 22, u16s[rng.random_range(0..u16s.len())]),
        2 => put_u32(w, 24, u32s[rng.random_range(0..u32s.len())]),
        3 => put_u16(w, 32, u16s[rng.random_range(0..u16s.len())]),
        4 => put_u16(w, 34, u16s[rng.random_range(0..u16s.len())]),
        5 => {
            // Chunk size claims: RIFF, fmt, data.
            let at = [4usize, 16, 40][rng.random_range(0..3)];
            put_u32(w, at, u32s[rng.random_range(0..u32s.len())]);
        }
        6 => {
            // Metadata chunks, odd-sized, padded or not, before fmt, between fmt and data, after data.
            let c = chunk(
                [b"LIST", b"bext", b"junk", b"fact"][rng.random_range(0..4)],
                rng.random_range(0..9),
                rng.random_bool(0.7),
            );
            let at = [12usize, 36, w.len()][rng.random_range(0..3)];
            w.splice(at..at, c);
        }
        7 => {
            // Hostile float samples (NaN, inf, huge, subnormal) in the data.
            let n = (w.len() - 44) / 4;
            if n > 0 {
                let i = 44 + 4 * rng.random_range(0..n);
                let v = [
                    f32::NAN,
                    f32::INFINITY,
                    -f32::INFINITY,
                    1e30,
                    -1e30,
                    1e-44,
                    f32::MAX,
                ][rng.random_range(0..7)];
                w[i..i + 4].copy_from_slice(&v.to_le_bytes());
            }
        }
        8 => {
            let i = rng.random_range(0..=w.len());
            w.truncate(i);
        }
        9 => {
            for _ in 0..rng.random_range(1..6) {
                let i = rng.random_range(0..w.len().clamp(1, 64));
                if i < w.len() {
                    w[i] ^= 1 << rng.random_range(0..8);
                }
            }
        }
        _ => {
            // Swap the fmt and data chunks.
            if w.len() >= 44 && &w[36..40] == b"data" {
                let fmt = w[12..36].to_vec();
                let rest = w[36..].to_vec();
                w.truncate(12);
                w.extend(rest);
                w.extend(fmt);
            }
        }
    }
}

/// Reads a WAV as `tailor analyze`/`compare`/`fit` do and, when accepted, runs the analyses
/// those commands print, requiring finite figures; `fit` runs on one mutant in `fit_every`.
fn check_wav(bytes: &[u8], reference: &[f64], fit: bool) -> Result<bool, String> {
    let Ok(audio) = tailor::wav::read_wav_bytes(bytes, "mutant.wav") else {
        return Ok(false);
    };
    if tailor::wav::check_ir_length(&audio, "mutant.wav", tailor::limits::MAX_IR_SECONDS).is_err() {
        return Ok(false);
    }
    let fs = audio.sample_rate;
    if audio.channels.is_empty() || audio.channels.iter().any(|c| c.len() != audio.len()) {
        return Err("channels of unequal length".into());
    }
    if !audio.channels.iter().all(|c| all_finite(c)) {
        return Err("non-finite sample accepted".into());
    }
    let ir = &audio.channels[0];
    if validate_ir(ir, "mutant.wav").is_err() {
        return Ok(false);
    }
    let s = summarize(ir, fs);
    let finite_opt = |x: Option<f64>| x.is_none_or(f64::is_finite);
    if !(s.peak.is_finite() && finite_opt(s.t30_s) && finite_opt(s.edt_s)) {
        return Err(format!("summary not finite: {s:?}"));
    }
    for b in octave_band_decays(ir, fs) {
        if !(finite_opt(b.t30_s) && finite_opt(b.edt_s) && finite_opt(b.t20_s)) {
            return Err(format!("band decay not finite: {b:?}"));
        }
    }
    if let Ok(Some(t)) = mixing_time_s(ir, fs) {
        if !t.is_finite() {
            return Err("mixing time not finite".into());
        }
    }
    if let Ok(f) = spectral_flatness(ir, fs) {
        if !f.ratio.is_finite() {
            return Err("flatness not finite".into());
        }
    }
    if let Ok(c) = compare_irs(reference, ir, fs) {
        if !c.mel_lsd_db.is_finite() || !c.edc_error_db.is_finite() {
            return Err(format!("comparison not finite: {c:?}"));
        }
    }
    if fit {
        if let Ok(a) = analyse_room(ir, fs, SlopeChoice::Auto) {
            let start = design_start(&a);
            if !start
                .rt_s
                .iter()
                .flatten()
                .all(|t| t.is_finite() && *t > 0.0)
            {
                return Err("design start RTs not finite".into());
            }
        }
    }
    Ok(true)
}

#[test]
fn fuzz_wav_reader_and_analyses() {
    let room =
        tailor::wav::read_wav(&repo().join("data/rir/meetingroom_to_hallway_290cm.wav")).unwrap();
    let fs = room.sample_rate as u32;
    // 0.3 s of the room: long enough to decay 30 dB, short enough for thousands of analyses.
    let ir: Vec<f64> = room.channels[0][..(0.3 * room.sample_rate) as usize].to_vec();
    let stereo: Vec<f64> = ir.iter().flat_map(|&x| [x, -0.5 * x]).collect();
    let seeds = [
        wav_bytes(&ir, 1, fs, (3, 32)),
        wav_bytes(&ir, 1, fs, (1, 16)),
        wav_bytes(&stereo, 2, fs, (1, 24)),
    ];
    for s in &seeds {
        assert_eq!(
            check_wav(s, &ir, true),
            Ok(true),
            "seed WAVs must be accepted"
        );
    }
    let count = execs(DEFAULT_EXECS);
    let (ok, err) = run_campaign(
        "wav",
        count,
        |rng| {
            let mut w = seeds[rng.random_range(0..seeds.len())].clone();
            for _ in 0..rng.random_range(1..4) {
                mutate_wav(rng, &mut w);
            }
            w
        },
        // `fit` (the slowest analysis) on one mutant in 16.
        |bytes| check_wav(bytes, &ir, fxhash_bytes(bytes).is_multiple_of(16)),
    );
    assert!(
        ok > count / 50 && err > count / 50,
        "wav: {ok} accepted, {err} refused"
    );
}

fn fxhash_bytes(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325, |h, &x| {
        (h ^ u64::from(x)).wrapping_mul(0x100_0000_01b3)
    })
}

// ---------------------------------------------------------------------------------------------
// SOFA
// ---------------------------------------------------------------------------------------------

/// Every offset of `needle` in `hay`.
fn find_all(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    hay.windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect()
}

/// Loads a SOFA set as `tailor hrtf-report` and the plugin's binaural view do; when accepted,
/// requires finite spectra.
fn check_sofa(bytes: &[u8]) -> Result<bool, String> {
    let Ok(set) = HrirSet::from_sofa_bytes(bytes) else {
        return Ok(false);
    };
    if !all_finite(set.ir()) || !set.sample_rate().is_finite() {
        return Err("non-finite HRIR set accepted".into());
    }
    let dirs = set.directions();
    if dirs
        .iter()
        .any(|d| !(d.azimuth_deg.is_finite() && d.elevation_deg.is_finite()))
    {
        return Err("non-finite direction accepted".into());
    }
    let _ = set.nearest(&tailor::hrtf::Direction::new(30.0, 0.0));
    if let Ok(spec) = set.spectra(Some(256)) {
        let _ = spec;
    }
    Ok(true)
}

#[test]
fn fuzz_sofa_reader() {
    let kemar = std::fs::read(repo().join("data/hrtf/MIT_KEMAR_normal_pinna.sofa")).unwrap();
    assert_eq!(check_sofa(&kemar), Ok(true));
    let set = HrirSet::from_sofa_bytes(&kemar).unwrap();
    // Structure to aim at: the rate as stored (f64), the IR and position dimensions, the
    // attribute strings.
    let rate_at = find_all(&kemar, &set.sample_rate().to_le_bytes());
    let m = set.n_directions() as u64;
    let n = set.len() as u64;
    let dim_at: Vec<usize> = [m, n, 2, 3]
        .iter()
        .flat_map(|d| {
            let mut v = find_all(&kemar, &d.to_le_bytes());
            v.extend(find_all(&kemar, &(*d as u32).to_le_bytes()));
            v
        })
        .filter(|&i| i < 64 * 1024)
        .collect();
    let strings: Vec<(usize, usize)> = [
        "degree",
        "metre",
        "spherical",
        "SimpleFreeFieldHRIR",
        "SOFA",
    ]
    .iter()
    .flat_map(|s| {
        find_all(&kemar, s.as_bytes())
            .into_iter()
            .map(|i| (i, s.len()))
    })
    .collect();
    // (The KEMAR rate is stored compressed, so `rate_at` may be empty; the rate limits are also
    // checked through `HrirSet::new` in tests/hrtf.rs.)
    assert!(!dim_at.is_empty() && !strings.is_empty());
    // Metadata lives in the first blocks of the file; the IR data after it.
    let meta = kemar.len().min(64 * 1024);
    let count = execs(DEFAULT_EXECS) / 10;
    let (ok, err) = run_campaign(
        "sofa",
        count,
        |rng| {
            let mut b = kemar.clone();
            for _ in 0..rng.random_range(1..4) {
                match rng.random_range(0..5) {
                    0 if !rate_at.is_empty() => {
                        let i = rate_at[rng.random_range(0..rate_at.len())];
                        let v = [
                            0.0,
                            1.5,
                            -44100.0,
                            f64::NAN,
                            f64::INFINITY,
                            1e300,
                            7999.0,
                            8000.0,
                            96000.0,
                            5e5,
                        ][rng.random_range(0..10)];
                        b[i..i + 8].copy_from_slice(&v.to_le_bytes());
                    }
                    1 => {
                        let i = dim_at[rng.random_range(0..dim_at.len())];
                        let v: u32 = [0, 1, 3, 4, 1 << 20, u32::MAX][rng.random_range(0..6)];
                        b[i..i + 4].copy_from_slice(&v.to_le_bytes());
                    }
                    2 => {
                        let (i, len) = strings[rng.random_range(0..strings.len())];
                        let alt: &[u8] = [
                            &b"radian"[..],
                            b"gradia",
                            b"DEGREE",
                            b"degrees",
                            b"\xff\xfe",
                            b"cartesian",
                            b"x",
                        ][rng.random_range(0..7)];
                        for k in 0..len {
                            b[i + k] = *alt.get(k).unwrap_or(&b' ');
                        }
                    }
                    3 => {
                        for _ in 0..rng.random_range(1..8) {
                            let i = rng.random_range(0..meta);
                            b[i] ^= 1 << rng.random_range(0..8);
                        }
                    }
                    4 => {
                        let i = rng.random_range(0..meta);
                        let v: u64 = [0, u64::MAX, 1 << 40, 0xffff_ffff][rng.random_range(0..4)];
                        let end = (i + 8).min(b.len());
                        b[i..end].copy_from_slice(&v.to_le_bytes()[..end - i]);
                    }
                    _ => {}
                }
            }
            // Truncation last, so the offsets above stay inside the file.
            if rng.random_bool(0.15) {
                let i = rng.random_range(0..b.len());
                b.truncate(i);
            }
            b
        },
        check_sofa,
    );
    assert!(ok > 0 && err > 0, "sofa: {ok} accepted, {err} refused");
}
