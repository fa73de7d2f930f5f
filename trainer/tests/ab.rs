//! `tailor ab`: prepare (loudness match, determinism), scoring, tamper and bad-input errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tailor_trainer::ab::session::{append_answer, read_answers, Answer, Session};

fn tailor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tailor"))
        .args(args)
        .output()
        .expect("tailor runs")
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tailor-ab-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn rir() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../data/rir/meetingroom_to_hallway_290cm.wav")
        .display()
        .to_string()
}

fn ok(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn prepare(dir: &Path, preset: &str, seed: &str, trials: &str) -> Output {
    let out = dir.display().to_string();
    let reference = rir();
    let args = vec![
        "ab",
        "prepare",
        "--preset",
        preset,
        "--reference",
        &reference,
        "--trials",
        trials,
        "--seed",
        seed,
        "--tail",
        "1.0",
        "--out",
        &out,
    ];
    tailor(&args)
}

#[test]
fn prepare_matches_loudness_and_is_reproducible() {
    let root = scratch("prep");
    ok(&tailor(&[
        "demo",
        "--out",
        root.join("demo").to_str().unwrap(),
    ]));
    let preset = root.join("demo/demo_preset.json").display().to_string();
    let s1 = root.join("s1");
    ok(&prepare(&s1, &preset, "7", "6"));
    let session = Session::load(&s1).unwrap();
    assert_eq!(session.materials.len(), 2);
    assert_eq!(session.trials.len(), 6);
    for m in &session.materials {
        // Measure the written files again, independently of the session's record.
        for f in [&m.a, &m.b] {
            let a = tailor::wav::read_wav(&s1.join(f)).unwrap();
            let l = tailor::loudness::integrated_loudness(&a.channels, a.sample_rate).unwrap();
            assert!((l - session.target_lufs).abs() <= 0.05, "{f}: {l} LUFS");
        }
        assert!(
            (m.loudness_a_lufs - m.loudness_b_lufs).abs() <= 0.1,
            "{m:?}"
        );
    }
    // Same seed → byte-identical session, key and stimuli; another seed → another order.
    let s2 = root.join("s2");
    ok(&prepare(&s2, &preset, "7", "6"));
    assert_eq!(
        std::fs::read(s1.join("session.json")).unwrap(),
        std::fs::read(s2.join("session.json")).unwrap()
    );
    assert_eq!(
        std::fs::read(s1.join("key/answer_key.json")).unwrap(),
        std::fs::read(s2.join("key/answer_key.json")).unwrap()
    );
    let s3 = root.join("s3");
    ok(&prepare(&s3, &preset, "8", "6"));
    let a = std::fs::read(s1.join("key/answer_key.json")).unwrap();
    let b = std::fs::read(s3.join("key/answer_key.json")).unwrap();
    let t1 = Session::load(&s1).unwrap().trials;
    let t3 = Session::load(&s3).unwrap().trials;
    assert!(
        a != b || t1 != t3,
        "a different seed should change the session"
    );

    // Tampering: a changed stimulus or a changed key is detected by score.
    std::fs::write(
        s1.join("results.csv"),
        "listener,trial,answer,unix_ms\nann,1,A,0\n",
    )
    .unwrap();
    ok(&tailor(&["ab", "score", s1.to_str().unwrap()]));
    let mut bytes = std::fs::read(s1.join("synth_B.wav")).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 0x55;
    std::fs::write(s1.join("synth_B.wav"), bytes).unwrap();
    let o = tailor(&["ab", "score", s1.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("tampered with: synth_B.wav"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::write(
        s2.join("results.csv"),
        "listener,trial,answer,unix_ms\nann,1,A,0\n",
    )
    .unwrap();
    let key = s2.join("key/answer_key.json");
    let text = std::fs::read_to_string(&key).unwrap();
    let flipped = if text.contains("\"A\"") {
        text.replacen("\"A\"", "\"B\"", 1)
    } else {
        text.replacen("\"B\"", "\"A\"", 1)
    };
    std::fs::write(&key, flipped).unwrap();
    let o = tailor(&["ab", "score", s2.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("was tampered with"));
}

#[test]
fn score_gives_the_hand_computed_p_value() {
    let root = scratch("score");
    ok(&tailor(&[
        "demo",
        "--out",
        root.join("demo").to_str().unwrap(),
        "--preset",
        "colorless_N8_d1",
    ]));
    let s = root.join("s");
    ok(&prepare(
        &s,
        root.join("demo/demo_preset.json").to_str().unwrap(),
        "3",
        "12",
    ));
    let session = Session::load(&s).unwrap();
    assert_eq!(session.trials.len(), 12);
    let key: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s.join("key/answer_key.json")).unwrap()).unwrap();
    let truth: Vec<String> = key["x_is"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    // Listener "ann": 10 of 12 right (trials 3 and 7 wrong); "bob": all wrong on 4 trials, then
    // a second answer to trial 1 that would be right (ignored: first answers count).
    for (i, t) in truth.iter().enumerate() {
        let wrong = if t == "A" { "B" } else { "A" };
        let ans = if i == 2 || i == 6 { wrong } else { t.as_str() };
        append_answer(
            &s,
            &Answer {
                listener: "ann".into(),
                trial: i + 1,
                answer: ans.into(),
                unix_ms: 1,
            },
        )
        .unwrap();
        // Answers are on disk immediately.
        assert_eq!(read_answers(&s.join("results.csv")).unwrap().len(), i + 1);
    }
    for (i, t) in truth.iter().take(4).enumerate() {
        let wrong = if t == "A" { "B" } else { "A" };
        append_answer(
            &s,
            &Answer {
                listener: "bob".into(),
                trial: i + 1,
                answer: wrong.into(),
                unix_ms: 2,
            },
        )
        .unwrap();
    }
    append_answer(
        &s,
        &Answer {
            listener: "bob".into(),
            trial: 1,
            answer: truth[0].clone(),
            unix_ms: 3,
        },
    )
    .unwrap();
    let out = ok(&tailor(&["ab", "score", s.to_str().unwrap(), "--json"]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let ann = &v[0];
    assert_eq!(
        (
            ann["listener"].as_str(),
            ann["correct"].as_u64(),
            ann["total"].as_u64()
        ),
        (Some("ann"), Some(10), Some(12))
    );
    // P(X >= 10 | 12, 1/2) = (66 + 12 + 1) / 4096.
    assert!((ann["p_value"].as_f64().unwrap() - 79.0 / 4096.0).abs() < 1e-12);
    assert_eq!(ann["verdict"], "distinguishable at p < 0.05");
    let bob = &v[1];
    assert_eq!(
        (bob["correct"].as_u64(), bob["total"].as_u64()),
        (Some(0), Some(4))
    );
    assert_eq!(bob["p_value"].as_f64(), Some(1.0));
    assert_eq!(bob["verdict"], "not distinguishable at p < 0.05");
}

#[test]
fn bad_inputs_are_clear_errors() {
    let root = scratch("bad");
    let err = |o: Output| {
        assert_eq!(
            o.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&o.stdout)
        );
        String::from_utf8_lossy(&o.stderr).to_string()
    };
    let out = root.join("x").display().to_string();
    ok(&tailor(&[
        "demo",
        "--out",
        root.join("demo").to_str().unwrap(),
        "--preset",
        "colorless_N4_d1",
    ]));
    let preset = root.join("demo/demo_preset.json").display().to_string();
    let e = err(tailor(&[
        "ab",
        "prepare",
        "--preset",
        &preset,
        "--reference",
        "/no/such.wav",
        "--out",
        &out,
    ]));
    assert!(e.contains("/no/such.wav"), "{e}");
    let e = err(tailor(&[
        "ab",
        "prepare",
        "--preset",
        "nope",
        "--reference",
        &rir(),
        "--out",
        &out,
    ]));
    assert!(e.contains("neither a file nor a bundled preset"), "{e}");
    let e = err(tailor(&[
        "ab",
        "prepare",
        "--preset",
        "colorless_N4_d1",
        "--reference",
        &rir(),
        "--out",
        &out,
    ]));
    assert!(e.contains("is lossless"), "{e}");
    let e = err(tailor(&["ab", "score", root.to_str().unwrap()]));
    assert!(e.contains("not a session directory"), "{e}");
    let e = err(tailor(&["ab", "run", root.to_str().unwrap()]));
    assert!(e.contains("not a session directory"), "{e}");
    // A dry file at 44.1 kHz against a 48 kHz preset is resampled, not refused.
    let dry = root.join("dry44.wav");
    let tone: Vec<f64> = (0..44100)
        .map(|n| 0.3 * (n as f64 * 0.05).sin() * if n < 22050 { 1.0 } else { 0.0 })
        .collect();
    tailor::wav::write_wav(&dry, 44100, &[tone]).unwrap();
    let s = root.join("s44");
    let o = tailor(&[
        "ab",
        "prepare",
        "--preset",
        &preset,
        "--reference",
        &rir(),
        "--dry",
        dry.to_str().unwrap(),
        "--trials",
        "2",
        "--out",
        s.to_str().unwrap(),
    ]);
    ok(&o);
    let a = tailor::wav::read_wav(&s.join("dry44_A.wav")).unwrap();
    assert_eq!(a.sample_rate, 48000.0);
    assert_eq!(
        a.len(),
        48000 + 96000,
        "1 s of dry at 48 kHz plus the 2 s tail"
    );
}
