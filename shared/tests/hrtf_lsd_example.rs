//! Runs the `hrtf_lsd` example's training function for a few epochs and checks that the LSD
//! drops (CI guard for the example).

#[allow(dead_code)]
#[path = "../examples/hrtf_lsd.rs"]
mod example;

#[test]
fn hrtf_lsd_example_training_decreases_lsd() {
    let stats = example::train(6, 7).expect("training runs");
    assert_eq!(stats.len(), 6);
    let (first, last) = (stats[0], stats[5]);
    assert!(first.train_lsd_db.is_finite() && last.train_lsd_db.is_finite());
    assert!(
        last.train_lsd_db < 0.8 * first.train_lsd_db,
        "train LSD {:.3} → {:.3} dB",
        first.train_lsd_db,
        last.train_lsd_db
    );
    assert!(
        last.held_out_lsd_db < first.held_out_lsd_db,
        "held-out LSD {:.3} → {:.3} dB",
        first.held_out_lsd_db,
        last.held_out_lsd_db
    );
}
