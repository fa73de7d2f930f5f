//! Host-visible parameters (stable ids; never rename an id) and the persisted preset state.
//!
//! Parameters are not smoothed by nice-plug: their targets go to the engine and the mixer, which
//! glide or crossfade every change over `SMOOTHING_MS` (the click test in
//! `tests/tests/clap_host.rs` jumps each parameter between its ends).

use crate::state::PresetSlot;
use nice_plug::prelude::*;
use std::sync::Arc;
use tailor::fx::{TONE_MIN_HZ, TONE_OPEN_HZ};

/// Glide or crossfade time of every control in milliseconds.
pub const SMOOTHING_MS: f64 = 20.0;

/// What the wet signal plays (A/B comparison).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbSource {
    /// The trained FDN.
    #[id = "fdn"]
    #[name = "FDN"]
    Fdn,
    /// The reference IR by convolution, loudness-matched to the FDN.
    #[id = "reference"]
    #[name = "Reference convolution"]
    Reference,
}

/// How the FDN reaches the two output channels.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// The preset's stereo outputs.
    #[id = "stereo"]
    #[name = "Stereo"]
    Stereo,
    /// Delay lines on a ring of virtual directions rendered through HRIRs to two ears.
    #[id = "binaural"]
    #[name = "Binaural"]
    Binaural,
}

/// All parameters and persisted fields of Tailor Reverb.
#[derive(Params)]
pub struct TailorParams {
    /// Preset document, its path and the reference-IR path (saved with the project).
    #[persist = "preset"]
    pub preset: Arc<PresetSlot>,
    /// Dry/wet balance (0 = dry, 1 = wet).
    #[id = "mix"]
    pub mix: FloatParam,
    /// Pre-delay of the reverb in milliseconds (a change crossfades the old and the new delay).
    #[id = "predelay"]
    pub predelay_ms: FloatParam,
    /// Multiplier of every band's reverberation time (×).
    #[id = "decay"]
    pub decay_scale: FloatParam,
    /// Wet high-cut (damping/tone) in Hz; 20 kHz is open.
    #[id = "tone"]
    pub tone_hz: FloatParam,
    /// Output gain in dB.
    #[id = "gain"]
    pub output_gain_db: FloatParam,
    /// Stereo width of the reverb (0 = mono, 1 = as trained, 2 = wide).
    #[id = "width"]
    pub width: FloatParam,
    /// Host bypass: the input passes unchanged (crossfaded).
    #[id = "bypass"]
    pub bypass: BoolParam,
    /// A/B source: FDN or reference convolution (equal-power crossfade over `SMOOTHING_MS`).
    #[id = "ab_source"]
    pub ab_source: EnumParam<AbSource>,
    /// Output mode: stereo or binaural (equal-power crossfade over `SMOOTHING_MS`).
    #[id = "output_mode"]
    pub output_mode: EnumParam<OutputMode>,
}

impl Default for TailorParams {
    fn default() -> Self {
        Self {
            preset: Arc::new(PresetSlot::default()),
            mix: FloatParam::new("Mix", 0.35, FloatRange::Linear { min: 0.0, max: 1.0 })
                .with_unit(" %")
                .with_value_to_string(formatters::v2s_f32_percentage(0))
                .with_string_to_value(formatters::s2v_f32_percentage()),
            predelay_ms: FloatParam::new(
                "Pre-delay",
                0.0,
                FloatRange::Skewed {
                    min: 0.0,
                    max: 500.0,
                    factor: FloatRange::skew_factor(-1.5),
                },
            )
            .with_unit(" ms")
            .with_value_to_string(formatters::v2s_f32_rounded(1)),
            decay_scale: FloatParam::new(
                "Decay",
                1.0,
                FloatRange::Skewed {
                    min: 0.1,
                    max: 10.0,
                    factor: FloatRange::skew_factor(-1.8),
                },
            )
            .with_unit(" x")
            .with_value_to_string(formatters::v2s_f32_rounded(2)),
            tone_hz: FloatParam::new(
                "Tone",
                TONE_OPEN_HZ,
                FloatRange::Skewed {
                    min: TONE_MIN_HZ,
                    max: TONE_OPEN_HZ,
                    factor: FloatRange::skew_factor(-2.0),
                },
            )
            .with_value_to_string(formatters::v2s_f32_hz_then_khz(1))
            .with_string_to_value(formatters::s2v_f32_hz_then_khz()),
            output_gain_db: FloatParam::new(
                "Output",
                0.0,
                FloatRange::Linear {
                    min: -36.0,
                    max: 12.0,
                },
            )
            .with_unit(" dB")
            .with_value_to_string(formatters::v2s_f32_rounded(1)),
            width: FloatParam::new("Width", 1.0, FloatRange::Linear { min: 0.0, max: 2.0 })
                .with_unit(" %")
                .with_value_to_string(formatters::v2s_f32_percentage(0))
                .with_string_to_value(formatters::s2v_f32_percentage()),
            bypass: BoolParam::new("Bypass", false).make_bypass(),
            ab_source: EnumParam::new("A/B source", AbSource::Fdn),
            output_mode: EnumParam::new("Output mode", OutputMode::Stereo),
        }
    }
}

impl TailorParams {
    /// The paths the A/B and output-mode parameters ask for.
    pub fn want(&self) -> crate::mixer::Want {
        crate::mixer::Want {
            reference: self.ab_source.value() == AbSource::Reference,
            binaural: self.output_mode.value() == OutputMode::Binaural,
        }
    }

    /// The effect controls the parameters currently ask for.
    pub fn fx_controls(&self) -> tailor::fx::FxControls {
        let mix = self.mix.value();
        tailor::fx::FxControls {
            decay_scale: self.decay_scale.value(),
            mix: tailor::mix::MixControls {
                predelay_ms: self.predelay_ms.value(),
                dry: 1.0 - mix,
                wet: mix,
                output_gain_db: self.output_gain_db.value(),
            },
            tone_hz: self.tone_hz.value(),
            width: self.width.value(),
        }
    }
}
