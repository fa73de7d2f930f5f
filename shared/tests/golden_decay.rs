//! The decay designs against the SOS banks pyFDN 0.5 itself baked into the golden builds.

use serde_json::Value;
use tailor::decay::{decay_to_first_order_shelf, decay_to_one_pole, first_order_absorption};
use tailor::preset::{Limits, Preset};

fn golden_builds() -> Vec<(String, Preset)> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/golden/fdn_response.json"
    ))
    .unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                Preset::from_json_value(&c["params"]["preset"], &Limits::default()).unwrap(),
            )
        })
        .collect()
}

fn assert_bank_close(a: &tailor::sos::SosBank, b: &tailor::sos::SosBank) {
    assert_eq!((a.sections(), a.channels()), (b.sections(), b.channels()));
    for k in 0..a.sections() {
        for c in 0..a.channels() {
            for (x, y) in a.section(k, c).iter().zip(b.section(k, c)) {
                assert!((x - y).abs() <= 1e-14, "{x} vs {y}");
            }
        }
    }
}

#[test]
fn first_order_shelf_matches_pyfdn() {
    let (_, p) = golden_builds()
        .into_iter()
        .find(|(n, _)| n.contains("first_order_shelf_rt2.0_0.5"))
        .unwrap();
    let b = p.build();
    let ours = decay_to_first_order_shelf(2.0, 0.5, None, b.delays(), b.sample_rate()).unwrap();
    assert_bank_close(&ours, b.post_delay().unwrap());
    // The seed name gives the same bank at the default crossover.
    let seed = first_order_absorption(2.0, 0.5, b.delays(), b.sample_rate(), None).unwrap();
    assert_bank_close(&seed, b.post_delay().unwrap());
    // with_decay replaces post_delay with exactly this bank.
    let replaced = tailor::with_decay(b, (2.0, 0.5)).unwrap();
    assert_bank_close(replaced.post_delay().unwrap(), b.post_delay().unwrap());
}

#[test]
fn one_pole_matches_pyfdn() {
    let (_, p) = golden_builds()
        .into_iter()
        .find(|(n, _)| n.contains("one_pole_rt1.0_0.3"))
        .unwrap();
    let b = p.build();
    let ours = decay_to_one_pole(1.0, 0.3, b.delays(), b.sample_rate()).unwrap();
    assert_bank_close(&ours, b.post_delay().unwrap());
}
