//! HRTF datasets in the spirit of hrtfpykit's `HRTFSpec` (hrtf.md §4): which signal to read
//! (HRIR, or HRTF magnitude linear/dB), which ears, and what one row is (a subject or a
//! subject × position), over in-memory sets or a folder of SOFA files; rows batch into candle
//! tensors (feature `grad`).
//!
//! HUTUBS (96 subjects `pp1` … `pp96`, measured and simulated SimpleFreeFieldHRIR files named
//! `ppN_HRIRs_measured.sofa` / `ppN_HRIRs_simulated.sofa`) is not downloaded by Tailor: get it from
//! the HUTUBS page on TU Berlin's DepositOnce repository (doi:10.14279/depositonce-8487) or from
//! the SOFA conventions database mirror (sofacoustics.org, `data/database/hutubs/`), unpack the
//! SOFA files into one folder and open it with [`HrtfDataset::from_folder`] (optionally
//! restricted to one variant with a file-name filter such as `"measured"`).

use super::metrics::{select_bins, EarSelection, FrequencySelection};
use super::{HrirSet, HrtfError, HrtfSpectra};
#[cfg(feature = "grad")]
use candle_core::{Device, Tensor};
use std::path::{Path, PathBuf};

/// Signal domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Domain {
    /// Head-related impulse responses.
    #[default]
    Time,
    /// Head-related transfer functions (`rfft` of the HRIRs).
    Frequency,
}

/// Signal read from each HRIR/HRTF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Signal {
    /// HRIR samples (linear amplitude); time domain only.
    #[default]
    Ir,
    /// `|TF|` (linear); frequency domain only.
    TfMagnitude,
    /// `20·log10|TF|` in dB, no floor (−inf for exact zeros); frequency domain only.
    TfMagnitudeDb,
}

/// What one dataset row is (rows nest subject → position).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IndexBy {
    /// One row per subject: value `(M, [ears,] L)`.
    #[default]
    Subject,
    /// One row per subject × position: value `([ears,] L)`.
    Position,
}

/// Dataset specification (hrtfpykit `HRTFSpec` subset).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HrtfSpec {
    /// Time (HRIR) or frequency (HRTF).
    pub domain: Domain,
    /// Signal; must match the domain.
    pub signal: Signal,
    /// Ears; a single ear drops the ear axis, both keep it in file order (left, right).
    pub ears: EarSelection,
    /// Row definition.
    pub index_by: IndexBy,
    /// FFT length for the frequency domain (None = IR length N), ≥ 2.
    pub fft_len: Option<usize>,
    /// Keep only bins inside these inclusive `[lo, hi]` bands in Hz (frequency domain only;
    /// None = all bins). E.g. `[(20, 20000)]` drops DC and, at 44.1 kHz, the Nyquist bin, whose
    /// magnitude can be exactly 0 (−inf dB).
    pub frequency_bands: Option<Vec<(f64, f64)>>,
}

impl HrtfSpec {
    /// Checks domain/signal consistency (hrtfpykit's ValueErrors).
    pub fn validate(&self) -> Result<(), HrtfError> {
        if self.frequency_bands.is_some() && self.domain != Domain::Frequency {
            return Err(HrtfError::Invalid(
                "frequency_bands requires domain 'frequency'".into(),
            ));
        }
        match (self.domain, self.signal) {
            (Domain::Time, Signal::Ir) => Ok(()),
            (Domain::Time, _) => Err(HrtfError::Invalid(
                "domain 'time' requires signal 'ir'".into(),
            )),
            (Domain::Frequency, Signal::Ir) => Err(HrtfError::Invalid(
                "domain 'frequency' requires a tf_* signal (tf_magnitude, tf_magnitude_db)".into(),
            )),
            (Domain::Frequency, _) => match self.fft_len {
                Some(n) if n < 2 => Err(HrtfError::Invalid(
                    "FFT length must contain at least two points.".into(),
                )),
                _ => Ok(()),
            },
        }
    }
}

/// One subject of a dataset.
#[derive(Debug, Clone)]
pub struct Subject {
    /// Subject id (HUTUBS `ppN`, or the file stem).
    pub id: String,
    /// Source file, if loaded from disk.
    pub path: Option<PathBuf>,
    /// The subject's HRIRs.
    pub set: HrirSet,
    spectra: Option<HrtfSpectra>,
    /// Selected frequency bins (frequency domain).
    bins: Vec<usize>,
}

/// One dataset row.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Subject id.
    pub subject: String,
    /// Measurement index (IndexBy::Position rows only).
    pub position: Option<usize>,
    /// Value shape (row-major).
    pub shape: Vec<usize>,
    /// Values (f32, row-major).
    pub values: Vec<f32>,
}

/// A dataset of HRTF subjects read according to an [`HrtfSpec`].
#[derive(Debug, Clone)]
pub struct HrtfDataset {
    spec: HrtfSpec,
    subjects: Vec<Subject>,
    /// First row of each subject (IndexBy::Position), plus the total at the end.
    offsets: Vec<usize>,
}

/// The HUTUBS subject number of a file name `ppN_*.sofa` (case-insensitive), if it has one.
pub fn hutubs_subject(file_name: &str) -> Option<u32> {
    let lower = file_name.to_ascii_lowercase();
    let rest = lower.strip_prefix("pp")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    if digits.is_empty() || !rest[digits.len()..].starts_with('_') {
        return None;
    }
    digits.parse().ok()
}

impl HrtfDataset {
    /// A dataset over in-memory subjects `(id, set)`.
    pub fn from_sets(subjects: Vec<(String, HrirSet)>, spec: HrtfSpec) -> Result<Self, HrtfError> {
        spec.validate()?;
        let subjects = subjects
            .into_iter()
            .map(|(id, set)| Subject {
                id,
                path: None,
                set,
                spectra: None,
                bins: Vec::new(),
            })
            .collect();
        Self::build(subjects, spec)
    }

    /// A dataset over every `*.sofa` file in `dir` whose name contains `name_filter` (if given).
    /// HUTUBS files `ppN_*` get id `ppN` and are ordered by N; other files use their stem and
    /// follow in name order.
    pub fn from_folder(
        dir: impl AsRef<Path>,
        spec: HrtfSpec,
        name_filter: Option<&str>,
    ) -> Result<Self, HrtfError> {
        spec.validate()?;
        let dir = dir.as_ref();
        let io = |source| HrtfError::Io {
            path: dir.display().to_string(),
            cause: source,
        };
        let mut files: Vec<(Option<u32>, String, PathBuf)> = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .map(str::to_string)
            else {
                continue;
            };
            if !name.to_ascii_lowercase().ends_with(".sofa")
                || name_filter.is_some_and(|f| !name.contains(f))
            {
                continue;
            }
            files.push((hutubs_subject(&name), name, path));
        }
        files.sort_by(|a, b| match (a.0, b.0) {
            (Some(x), Some(y)) => x.cmp(&y).then_with(|| a.1.cmp(&b.1)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.1.cmp(&b.1),
        });
        if files.is_empty() {
            return Err(HrtfError::Invalid(format!(
                "no matching .sofa files in {}",
                dir.display()
            )));
        }
        let mut subjects = Vec::with_capacity(files.len());
        for (num, name, path) in files {
            let set = HrirSet::from_sofa_file(&path)?;
            let id = match num {
                Some(n) => format!("pp{n}"),
                None => name[..name.len() - 5].to_string(),
            };
            subjects.push(Subject {
                id,
                path: Some(path),
                set,
                spectra: None,
                bins: Vec::new(),
            });
        }
        Self::build(subjects, spec)
    }

    fn build(mut subjects: Vec<Subject>, spec: HrtfSpec) -> Result<Self, HrtfError> {
        if subjects.is_empty() {
            return Err(HrtfError::Invalid(
                "a dataset needs at least one subject".into(),
            ));
        }
        if spec.domain == Domain::Frequency {
            for s in &mut subjects {
                let spectra = s.set.spectra(spec.fft_len)?;
                s.bins = match &spec.frequency_bands {
                    None => (0..spectra.n_bins()).collect(),
                    Some(bands) => select_bins(
                        &spectra.frequencies(),
                        &FrequencySelection::Bands(bands.clone()),
                    )?,
                };
                s.spectra = Some(spectra);
            }
        }
        let mut offsets = vec![0];
        for s in &subjects {
            let rows = match spec.index_by {
                IndexBy::Subject => 1,
                IndexBy::Position => s.set.n_directions(),
            };
            offsets.push(offsets.last().copied().unwrap_or(0) + rows);
        }
        Ok(Self {
            spec,
            subjects,
            offsets,
        })
    }

    /// The specification.
    pub fn spec(&self) -> &HrtfSpec {
        &self.spec
    }

    /// The subjects in row order.
    pub fn subjects(&self) -> &[Subject] {
        &self.subjects
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.offsets.last().copied().unwrap_or(0)
    }

    /// True when there are no rows (never for a built dataset).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i` (subject, position, value).
    pub fn get(&self, i: usize) -> Result<Sample, HrtfError> {
        if i >= self.len() {
            return Err(HrtfError::Invalid(format!(
                "row {i} out of range ({} rows)",
                self.len()
            )));
        }
        let s = self.offsets.partition_point(|&o| o <= i) - 1;
        let subject = &self.subjects[s];
        let ears = self.spec.ears.ears();
        let (positions, position): (Vec<usize>, Option<usize>) = match self.spec.index_by {
            IndexBy::Subject => ((0..subject.set.n_directions()).collect(), None),
            IndexBy::Position => {
                let p = i - self.offsets[s];
                (vec![p], Some(p))
            }
        };
        let mut values = Vec::new();
        let mut len = 0;
        for &m in &positions {
            for &ear in &ears {
                let row: Vec<f64> = match (self.spec.signal, &subject.spectra) {
                    (Signal::Ir, _) => subject.set.hrir(m, ear).to_vec(),
                    (Signal::TfMagnitude, Some(sp)) => {
                        let tf = sp.tf(m, ear);
                        subject.bins.iter().map(|&k| tf[k].norm()).collect()
                    }
                    (Signal::TfMagnitudeDb, Some(sp)) => {
                        let tf = sp.tf(m, ear);
                        subject
                            .bins
                            .iter()
                            .map(|&k| 20.0 * tf[k].norm().log10())
                            .collect()
                    }
                    (_, None) => {
                        return Err(HrtfError::Invalid("spectra were not computed".into()))
                    }
                };
                len = row.len();
                values.extend(row.into_iter().map(|v| v as f32));
            }
        }
        let mut shape = Vec::new();
        if self.spec.index_by == IndexBy::Subject {
            shape.push(positions.len());
        }
        if ears.len() > 1 {
            shape.push(ears.len());
        }
        shape.push(len);
        Ok(Sample {
            subject: subject.id.clone(),
            position,
            shape,
            values,
        })
    }

    /// Stacks rows `indices` into an f32 tensor `(B, …value shape)` on `device`; all rows must
    /// share one shape (same grid and IR length across subjects). Feature `grad`.
    #[cfg(feature = "grad")]
    pub fn batch(&self, indices: &[usize], device: &Device) -> Result<Tensor, HrtfError> {
        if indices.is_empty() {
            return Err(HrtfError::Invalid("an empty batch".into()));
        }
        let mut shape: Option<Vec<usize>> = None;
        let mut data = Vec::new();
        for &i in indices {
            let s = self.get(i)?;
            match &shape {
                None => shape = Some(s.shape.clone()),
                Some(sh) if *sh != s.shape => {
                    return Err(HrtfError::Shape(format!(
                    "row {i} has shape {:?}, the batch has {sh:?} (ragged rows cannot be stacked)",
                    s.shape
                )))
                }
                Some(_) => {}
            }
            data.extend(s.values);
        }
        let mut dims = vec![indices.len()];
        dims.extend(shape.unwrap_or_default());
        Ok(Tensor::from_vec(data, dims, device)?)
    }
}
