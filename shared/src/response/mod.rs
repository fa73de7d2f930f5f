//! Responses of a build: H(z) on the FFT grid (FLAMO's model), the alias-compensated time IR, and
//! the exact time-domain recursion (pyFDN's `build_to_impz`). All in `f64`.

mod freq;
mod time;

pub use freq::{alias_factor, frequency_response, transfer_at, FreqResponse};
pub use time::{
    add_early, add_early_channels, impulse_response, impulse_response_channels,
    impulse_response_fft, preset_impulse_response, TdRenderer, TimeResponse,
};
