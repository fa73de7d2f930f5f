//! `tailor-reverb`: Tailor Reverb as a standalone app (JACK or ALSA through cpal; see `--help`).

fn main() {
    nice_plug::prelude::nice_export_standalone::<tailor_plugin::TailorReverb>();
}
