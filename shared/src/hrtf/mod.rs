//! HRTF data: SOFA loading, HRTF magnitudes, direction lookup, resampling, datasets, binaural
//! rendering and diagnostics (LSD, ILD), following hrtfpykit 0.2.0's semantics
//! (`reference/hrtf.md`).
//!
//! * [`HrirSet`]: M directions × 2 ears × N samples of head-related impulse responses, read from a
//!   SOFA `SimpleFreeFieldHRIR` file ([`HrirSet::from_sofa_file`]) or built in memory
//!   ([`HrirSet::new`]); both paths run the same validation.
//! * [`HrtfSpectra`]: `rfft` of every HRIR (bins `k·fs/n`), magnitudes in dB.
//! * [`metrics`]: `hrtf_difference`-style LSD and ILD.
//! * [`dataset`]: HRTFSpec-like datasets over folders of SOFA files, batched into candle tensors.
//! * [`binaural`]: FDN output channels placed at virtual directions and rendered to two ears.

pub mod binaural;
pub mod dataset;
pub mod metrics;
mod resample;
pub mod ring;
mod sofa;
mod spectrum;

pub use spectrum::{rfft_frequencies, HrtfSpectra};

use std::path::Path;

/// The bundled MIT KEMAR (normal pinna) SOFA file, relative to the repository root.
pub const KEMAR_SOFA_PATH: &str = "data/hrtf/MIT_KEMAR_normal_pinna.sofa";

/// Errors of HRTF loading and processing (never a panic for bad input).
#[derive(Debug, thiserror::Error)]
pub enum HrtfError {
    /// The file could not be read.
    #[error("cannot read {path}: {cause}")]
    Io {
        /// File path.
        path: String,
        /// Underlying I/O error.
        cause: std::io::Error,
    },
    /// Not an HDF5 file (SOFA files are netCDF-4/HDF5).
    #[error("not a SOFA file: the HDF5 signature is missing")]
    NotHdf5,
    /// The file is shorter than its HDF5 superblock says.
    #[error("truncated SOFA file: {actual} bytes, but the HDF5 header says {expected}")]
    Truncated {
        /// Size in bytes recorded in the superblock.
        expected: u64,
        /// Actual size in bytes.
        actual: u64,
    },
    /// The HDF5 structure could not be parsed.
    #[error("malformed SOFA file: {0}")]
    Malformed(String),
    /// `Conventions`/`SOFAConventions` are not SOFA SimpleFreeFieldHRIR.
    #[error("SOFAConventions is not SimpleFreeFieldHRIR (got '{0}'); only time-domain HRIR files are supported")]
    WrongConvention(String),
    /// A required variable is missing or unreadable.
    #[error("SimpleFreeFieldHRIR requires variable '{0}', but it is missing or unreadable")]
    MissingVariable(&'static str),
    /// The receiver count R is not 2.
    #[error("expected 2 receivers (ears), got R = {0}")]
    ReceiverCount(usize),
    /// No measurements (M = 0).
    #[error("the file has no measurements (M = 0)")]
    NoMeasurements,
    /// Zero-length IRs (N = 0).
    #[error("zero-length HRIRs (N = 0)")]
    ZeroLengthIr,
    /// Every IR sample is zero.
    #[error("SimpleFreeFieldHRIR requires non empty 'Data.IR' (all samples are zero)")]
    AllZeroIr,
    /// Non-finite IR or position values.
    #[error("{0} contains NaN or infinite values")]
    NonFinite(&'static str),
    /// The sample rate is non-finite or outside the supported range ([`crate::limits`]).
    #[error("bad sample rate {0} Hz: the supported range is {min}–{max} Hz", min = crate::limits::MIN_SAMPLE_RATE_HZ, max = crate::limits::MAX_SAMPLE_RATE_HZ)]
    BadSampleRate(f64),
    /// Array sizes disagree with the declared dimensions.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// Unsupported coordinate system or units.
    #[error("unsupported coordinates: {0}")]
    Coordinates(String),
    /// Invalid argument (options, indices, FFT length …).
    #[error("{0}")]
    Invalid(String),
    /// The resampler failed.
    #[error("resampling failed: {0}")]
    Resample(String),
    /// A tensor operation failed (feature `grad`).
    #[cfg(feature = "grad")]
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Ear (receiver) index as in SOFA: 0 = left, 1 = right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ear {
    /// Receiver 0.
    Left,
    /// Receiver 1.
    Right,
}

impl Ear {
    /// Receiver index (0 = left, 1 = right).
    pub fn index(self) -> usize {
        match self {
            Ear::Left => 0,
            Ear::Right => 1,
        }
    }

    /// Both ears in file order.
    pub const BOTH: [Ear; 2] = [Ear::Left, Ear::Right];
}

/// A source direction: SOFA spherical coordinates (degrees, degrees, metres).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Direction {
    /// Azimuth in degrees, counter-clockwise from the front (90 = left), as stored in the file.
    pub azimuth_deg: f64,
    /// Elevation in degrees above the horizontal plane, in [−90, 90].
    pub elevation_deg: f64,
    /// Distance in metres.
    pub radius_m: f64,
}

impl Direction {
    /// A direction at `azimuth_deg`, `elevation_deg` (degrees) and radius 1 m.
    pub fn new(azimuth_deg: f64, elevation_deg: f64) -> Self {
        Self {
            azimuth_deg,
            elevation_deg,
            radius_m: 1.0,
        }
    }

    /// Unit vector (x front, y left, z up), dimensionless.
    pub fn unit_vector(&self) -> [f64; 3] {
        let (az, el) = (
            self.azimuth_deg.to_radians(),
            self.elevation_deg.to_radians(),
        );
        [el.cos() * az.cos(), el.cos() * az.sin(), el.sin()]
    }

    /// Great-circle angle to `other` in degrees (radius ignored), in [0, 180].
    pub fn angle_to(&self, other: &Direction) -> f64 {
        let (a, b) = (self.unit_vector(), other.unit_vector());
        let dot = a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
        dot.clamp(-1.0, 1.0).acos().to_degrees()
    }

    /// Direction of the cartesian point `(x, y, z)` in metres (az = atan2(y, x) mod 360,
    /// el = atan2(z, √(x²+y²))).
    pub fn from_cartesian(x: f64, y: f64, z: f64) -> Self {
        Self {
            azimuth_deg: y.atan2(x).to_degrees().rem_euclid(360.0),
            elevation_deg: z.atan2(x.hypot(y)).to_degrees(),
            radius_m: (x * x + y * y + z * z).sqrt(),
        }
    }
}

/// `n` directions evenly spaced on the horizontal plane (elevation 0°), azimuths `360·k/n`
/// degrees starting at the front: the default placement of FDN output channels.
pub fn default_ring(n: usize) -> Vec<Direction> {
    (0..n)
        .map(|k| Direction::new(360.0 * k as f64 / n as f64, 0.0))
        .collect()
}

/// Index of the direction of `directions` nearest to `dir` by great-circle angle (radius
/// ignored; ties → lowest index); `None` when `directions` is empty.
pub fn nearest_direction(directions: &[Direction], dir: &Direction) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, d) in directions.iter().enumerate() {
        let a = d.angle_to(dir);
        if best.is_none_or(|(_, b)| a < b) {
            best = Some((i, a));
        }
    }
    best.map(|(i, _)| i)
}

/// A set of HRIRs: `M` directions × 2 ears × `N` samples at one sample rate.
#[derive(Debug, Clone, PartialEq)]
pub struct HrirSet {
    ir: Vec<f64>,
    directions: Vec<Direction>,
    len: usize,
    sample_rate: f64,
}

impl HrirSet {
    /// Builds a set from row-major IRs `(M, 2, N)` (linear amplitude), one direction per
    /// measurement, `len` = N samples per IR and `sample_rate` in Hz. Validates like the SOFA
    /// reader: M > 0, N > 0, sizes consistent, finite values, not all zero, rate within
    /// [`crate::limits`].
    pub fn new(
        ir: Vec<f64>,
        directions: Vec<Direction>,
        len: usize,
        sample_rate: f64,
    ) -> Result<Self, HrtfError> {
        if crate::limits::check_sample_rate("HRIR set", sample_rate).is_err() {
            return Err(HrtfError::BadSampleRate(sample_rate));
        }
        if directions.is_empty() {
            return Err(HrtfError::NoMeasurements);
        }
        if len == 0 {
            return Err(HrtfError::ZeroLengthIr);
        }
        let want = directions.len() * 2 * len;
        if ir.len() != want {
            return Err(HrtfError::Shape(format!(
                "Data.IR has {} values, expected M·R·N = {}·2·{} = {want}",
                ir.len(),
                directions.len(),
                len
            )));
        }
        if ir.iter().any(|v| !v.is_finite()) {
            return Err(HrtfError::NonFinite("Data.IR"));
        }
        if directions.iter().any(|d| {
            !(d.azimuth_deg.is_finite() && d.elevation_deg.is_finite() && d.radius_m.is_finite())
        }) {
            return Err(HrtfError::NonFinite("SourcePosition"));
        }
        if ir.iter().all(|&v| v == 0.0) {
            return Err(HrtfError::AllZeroIr);
        }
        Ok(Self {
            ir,
            directions,
            len,
            sample_rate,
        })
    }

    /// Reads a SOFA SimpleFreeFieldHRIR file (see [`HrirSet::from_sofa_bytes`]).
    pub fn from_sofa_file(path: impl AsRef<Path>) -> Result<Self, HrtfError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| HrtfError::Io {
            path: path.display().to_string(),
            cause: source,
        })?;
        Self::from_sofa_bytes(&bytes)
    }

    /// Parses SOFA SimpleFreeFieldHRIR bytes with `sofar`'s HDF5 reader: `Data.IR` (M × R × N,
    /// read as stored, `Data.Delay` ignored), the first `Data.SamplingRate` value, and
    /// `SourcePosition` (spherical kept as stored, cartesian converted). Typed errors for
    /// truncation, wrong convention, R ≠ 2, N = 0, all-zero IRs and bad rates.
    pub fn from_sofa_bytes(bytes: &[u8]) -> Result<Self, HrtfError> {
        sofa::read(bytes)
    }

    /// The bundled MIT KEMAR set, found from the crate directory (tests, examples, CLI in-tree).
    pub fn kemar() -> Result<Self, HrtfError> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(KEMAR_SOFA_PATH);
        Self::from_sofa_file(path)
    }

    /// Number of directions M.
    pub fn n_directions(&self) -> usize {
        self.directions.len()
    }

    /// IR length N in samples.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false (a valid set has N > 0); present for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Sample rate in Hz.
    pub fn sample_rate(&self) -> f64 {
        self.sample_rate
    }

    /// Source directions, one per measurement.
    pub fn directions(&self) -> &[Direction] {
        &self.directions
    }

    /// All IR samples, row-major `(M, 2, N)`, linear amplitude.
    pub fn ir(&self) -> &[f64] {
        &self.ir
    }

    /// The HRIR of measurement `m` at `ear` (N samples); panics if `m ≥ M`.
    pub fn hrir(&self, m: usize, ear: Ear) -> &[f64] {
        let at = (m * 2 + ear.index()) * self.len;
        &self.ir[at..at + self.len]
    }

    /// Index of the measurement nearest to `dir` by great-circle angle (radius ignored; ties →
    /// lowest index).
    pub fn nearest(&self, dir: &Direction) -> usize {
        nearest_direction(&self.directions, dir).unwrap_or(0)
    }

    /// Indices of the horizontal-plane measurements: elevation equal (1e-8) to the existing
    /// elevation nearest to `elevation_deg` (hrtfpykit's plane selection).
    pub fn horizontal_plane(&self, elevation_deg: f64) -> Vec<usize> {
        let nearest = self
            .directions
            .iter()
            .map(|d| d.elevation_deg)
            .min_by(|a, b| {
                (a - elevation_deg)
                    .abs()
                    .total_cmp(&(b - elevation_deg).abs())
            })
            .unwrap_or(elevation_deg);
        (0..self.directions.len())
            .filter(|&i| (self.directions[i].elevation_deg - nearest).abs() <= 1e-8)
            .collect()
    }

    /// `rfft` of every HRIR with `fft_len` points (None = N; zero-padded or truncated), bins
    /// `k·fs/fft_len` Hz; `fft_len` must be ≥ 2.
    pub fn spectra(&self, fft_len: Option<usize>) -> Result<HrtfSpectra, HrtfError> {
        HrtfSpectra::from_hrirs(self, fft_len.unwrap_or(self.len))
    }

    /// A copy resampled to `rate` Hz with rubato's FFT resampler (both rates must be whole Hz);
    /// IR length becomes `ceil(N·rate/fs)` and taps are scaled by `fs/rate` so the transfer
    /// function keeps its magnitude. Returns a clone when the rates are equal.
    pub fn resampled(&self, rate: f64) -> Result<Self, HrtfError> {
        resample::resample(self, rate)
    }

    /// This set put on the grid of `set`: resampled to its rate ([`HrirSet::resampled`]), each
    /// of `set`'s directions taking the nearest measurement here ([`HrirSet::nearest`]), so
    /// [`metrics::lsd`] can compare the two. The IR length is this set's (after resampling).
    pub fn on_grid_of(&self, set: &HrirSet) -> Result<Self, HrtfError> {
        let r = self.resampled(set.sample_rate())?;
        let mut ir = Vec::with_capacity(set.n_directions() * 2 * r.len());
        for d in set.directions() {
            let m = r.nearest(d);
            for ear in Ear::BOTH {
                ir.extend_from_slice(r.hrir(m, ear));
            }
        }
        Self::new(ir, set.directions().to_vec(), r.len(), set.sample_rate())
    }

    /// A copy with every IR scaled by `gain` (linear).
    pub fn scaled(&self, gain: f64) -> Result<Self, HrtfError> {
        Self::new(
            self.ir.iter().map(|v| v * gain).collect(),
            self.directions.clone(),
            self.len,
            self.sample_rate,
        )
    }

    /// A copy in which `f(m, ear, ir)` rewrote every HRIR in place (same shape, rate, grid).
    pub fn map_hrirs(&self, mut f: impl FnMut(usize, Ear, &mut [f64])) -> Result<Self, HrtfError> {
        let mut ir = self.ir.clone();
        for (k, chunk) in ir.chunks_mut(self.len).enumerate() {
            let ear = if k % 2 == 0 { Ear::Left } else { Ear::Right };
            f(k / 2, ear, chunk);
        }
        Self::new(ir, self.directions.clone(), self.len, self.sample_rate)
    }
}
