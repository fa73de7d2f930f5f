//! Across crates: a bundled preset gets decay, is written as pyFDN JSON, read back, and renders
//! the same impulse response as before the round trip (data flow: preset JSON -> render).

use tailor::preset::{bundled_preset, Preset};
use tailor::response::impulse_response;

#[test]
fn preset_json_round_trip_renders_identically() {
    for name in [
        "colorless_N4_d1",
        "colorless_N16_d2",
        "colorless_init_N8_d2",
    ] {
        let p = bundled_preset(name).unwrap();
        let b = tailor::with_decay(p.build(), (1.5, 0.4)).unwrap();
        let mut doc = p.clone();
        doc.set_build(b.clone());
        let text = doc.to_json_string();
        let back = Preset::from_json_str(&text).unwrap();
        let a = impulse_response(&b, 24_000);
        let c = impulse_response(back.build(), 24_000);
        assert_eq!(a, c, "{name}: rendering changed after the JSON round trip");
        // And the IR decays: last 100 ms are > 40 dB below the first 100 ms.
        let e = |s: &[f64]| s.iter().map(|v| v * v).sum::<f64>();
        let first = e(&a.data[..4800]);
        let last = e(&a.data[24_000 - 4800..]);
        assert!(
            10.0 * (first / last).log10() > 10.0,
            "{name}: {first} {last}"
        );
    }
}
