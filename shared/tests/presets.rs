//! The 16 bundled pyFDN presets: parse, round-trip, documented properties.

use serde_json::Value;
use tailor::delays::pairwise_coprime;
use tailor::preset::{bundled_preset, Preset, BUNDLED_PRESETS};

#[test]
fn all_bundled_presets_round_trip_exactly() {
    assert_eq!(BUNDLED_PRESETS.len(), 16);
    for (name, text) in BUNDLED_PRESETS {
        let p = Preset::from_json_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let written = p.to_json_string();
        let back = Preset::from_json_str(&written).unwrap();
        assert_eq!(p, back, "{name}: write→read changed the preset");
        // Every number of the original build survives unchanged (ryu shortest repr + exact parse).
        let orig: Value = serde_json::from_str(text).unwrap();
        let ours: Value = serde_json::from_str(&written).unwrap();
        for key in [
            "feedback_matrix",
            "input_matrix",
            "output_matrix",
            "direct_matrix",
            "sample_rate",
        ] {
            assert_eq!(
                orig["build"][key], ours["build"][key],
                "{name}: build.{key}"
            );
        }
        assert_eq!(orig["metadata"], ours["metadata"], "{name}: metadata");
        assert_eq!(orig["design"], ours["design"], "{name}: design");
        assert!(written.ends_with('\n'));
    }
}

#[test]
fn bundled_presets_match_the_reference_table() {
    // fdn.md §2.3: SISO, D = 0, fs 48 kHz, no hooks, lossless, delays per the table.
    let n8d1 = bundled_preset("colorless_N8_d1.json").unwrap();
    assert_eq!(
        n8d1.build().delays(),
        &[809, 877, 937, 1049, 1151, 1249, 1373, 1499]
    );
    let n4d2 = bundled_preset("colorless_init_N4_d2").unwrap();
    assert_eq!(n4d2.build().delays(), &[797, 839, 2381, 2999]);
    for (name, _) in BUNDLED_PRESETS {
        let p = bundled_preset(name).unwrap();
        let b = p.build();
        assert_eq!((b.n_in(), b.n_out()), (1, 1), "{name}");
        assert_eq!(b.d().as_slice(), &[0.0]);
        assert_eq!(b.sample_rate(), 48000.0);
        assert!(b.post_delay().is_none() && b.post_matrix().is_none() && b.post_output().is_none());
        let s = b.check_stable().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(s.is_lossless(), "{name}: bound {}", s.loop_gain_bound);
        let d: Vec<u64> = b.delays().iter().map(|&x| x as u64).collect();
        assert_eq!(pairwise_coprime(&d), !name.ends_with("N16_d2"), "{name}");
    }
    let e = bundled_preset("colorless_N5_d1").unwrap_err().to_string();
    assert!(
        e.contains("Unknown FDN preset 'colorless_N5_d1'") && e.contains("colorless_N16_d2"),
        "{e}"
    );
}

#[test]
fn with_decay_makes_a_lossless_preset_stable_and_round_trips() {
    let p = bundled_preset("colorless_N16_d1").unwrap();
    let b = tailor::with_decay(p.build(), (2.0, 0.5)).unwrap();
    let s = b.check_stable().unwrap();
    assert!(!s.is_lossless() && s.loop_gain_bound < 1.0);
    // Largest in-loop gain is the DC gain of the longest line for RT 2 s.
    let expect = tailor::decay::delay_gain(2.0, 241.0, 48000.0);
    assert!(
        (s.max_filter_gain - expect).abs() < 1e-12,
        "{} vs {expect}",
        s.max_filter_gain
    );
    let mut doc = p.clone();
    doc.set_build(b);
    assert_eq!(Preset::from_json_str(&doc.to_json_string()).unwrap(), doc);
}
