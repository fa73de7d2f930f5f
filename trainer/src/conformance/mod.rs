//! `tailor conformance DIR`: checks every golden JSON file it understands in a directory.
//!
//! A file is dispatched to a family by its file stem (e.g. `fdn_response`) or, failing that, by
//! its `source.function` text, so renamed files and files generated with other seeds and shapes
//! are checked the same way. Each case yields one or more [`Comparison`]s; a case passes when all
//! do. Relative errors are relative to the largest magnitude of the expected array
//! (`max|got − want| / max|want|`), which is how the issues state their tolerances.

mod auralflow_component_loss;
mod auralflow_kl_div_loss;
mod autograd_inputs;
mod drdmannturb_loss_aggregator;
mod fdn_loss_common;
mod fdn_response;
mod flamo_mel_mss_loss;
mod flamo_mss_loss;
mod hrtf_loss;
mod pyfdn_colorless_loss;
mod pyfdn_sparsity;
mod pyfdn_train_objective;
mod sample_delay_lengths;

use anyhow::{Context, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// One checked quantity of a case.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// What was compared (e.g. "freq_response", "grad[prediction]").
    pub what: String,
    /// Largest absolute difference.
    pub max_abs: f64,
    /// Largest absolute difference over the largest expected magnitude.
    pub max_rel: f64,
    /// Relative tolerance applied.
    pub tolerance: f64,
    /// Whether it passed.
    pub passed: bool,
    /// Extra text (e.g. why a property failed).
    pub note: Option<String>,
}

impl Comparison {
    /// Compares real arrays with a tolerance relative to `max|want|`.
    pub fn real(what: impl Into<String>, got: &[f64], want: &[f64], tolerance: f64) -> Self {
        let what = what.into();
        if got.len() != want.len() {
            return Self::failed(
                what,
                format!("length {} vs expected {}", got.len(), want.len()),
            );
        }
        let mut max_abs: f64 = 0.0;
        let mut scale: f64 = 0.0;
        let mut bad_nan = false;
        for (g, w) in got.iter().zip(want) {
            if w.is_nan() || g.is_nan() {
                bad_nan |= w.is_nan() != g.is_nan();
                continue;
            }
            if w.is_infinite() || g.is_infinite() {
                bad_nan |= w != g;
                continue;
            }
            max_abs = max_abs.max((g - w).abs());
            scale = scale.max(w.abs());
        }
        let max_rel = if scale > 0.0 {
            max_abs / scale
        } else {
            max_abs
        };
        Self {
            passed: !bad_nan && max_rel <= tolerance,
            note: bad_nan.then(|| "NaN/Inf pattern differs".to_string()),
            what,
            max_abs,
            max_rel,
            tolerance,
        }
    }

    /// Compares complex arrays (as magnitudes of differences) relative to `max|want|`.
    pub fn complex(
        what: impl Into<String>,
        got: &[num_complex::Complex64],
        want: &[num_complex::Complex64],
        tolerance: f64,
    ) -> Self {
        let what = what.into();
        if got.len() != want.len() {
            return Self::failed(
                what,
                format!("length {} vs expected {}", got.len(), want.len()),
            );
        }
        let max_abs = got
            .iter()
            .zip(want)
            .map(|(g, w)| (g - w).norm())
            .fold(0.0, f64::max);
        let scale = want.iter().map(|w| w.norm()).fold(0.0, f64::max);
        let max_rel = if scale > 0.0 {
            max_abs / scale
        } else {
            max_abs
        };
        Self {
            passed: max_rel <= tolerance,
            what,
            max_abs,
            max_rel,
            tolerance,
            note: None,
        }
    }

    /// An exact (pass/fail) check.
    pub fn exact(what: impl Into<String>, ok: bool, note: Option<String>) -> Self {
        Self {
            what: what.into(),
            max_abs: if ok { 0.0 } else { f64::NAN },
            max_rel: if ok { 0.0 } else { f64::NAN },
            tolerance: 0.0,
            passed: ok,
            note,
        }
    }

    /// A failed comparison with a reason.
    pub fn failed(what: impl Into<String>, note: String) -> Self {
        Self::exact(what, false, Some(note))
    }
}

/// Result of one case.
#[derive(Debug, Clone)]
pub struct CaseReport {
    /// Family name.
    pub family: &'static str,
    /// File the case came from.
    pub file: PathBuf,
    /// Case name.
    pub case: String,
    /// Its comparisons (empty with `error` set when the case could not be evaluated).
    pub comparisons: Vec<Comparison>,
    /// Why the case could not be evaluated.
    pub error: Option<String>,
}

impl CaseReport {
    /// True when the case evaluated and every comparison passed.
    pub fn passed(&self) -> bool {
        self.error.is_none()
            && !self.comparisons.is_empty()
            && self.comparisons.iter().all(|c| c.passed)
    }
}

/// A family of golden files: how to recognise them and check one case.
pub struct Family {
    /// Family name (also the canonical file stem).
    pub name: &'static str,
    /// Substring of `source.function` that identifies the family.
    pub source_hint: &'static str,
    /// Checks one case object.
    pub check: fn(&Value) -> Result<Vec<Comparison>>,
}

/// Every family the conformance command understands.
pub fn families() -> Vec<Family> {
    vec![
        Family {
            name: "fdn_response",
            source_hint: "build_to_impz",
            check: fdn_response::check,
        },
        Family {
            name: "sample_delay_lengths",
            source_hint: "sample_delay_lengths",
            check: sample_delay_lengths::check,
        },
        Family {
            name: "hrtf_loss",
            source_hint: "hrtf_loss",
            check: hrtf_loss::check,
        },
        Family {
            name: "auralflow_component_loss",
            source_hint: "component_loss",
            check: auralflow_component_loss::check,
        },
        Family {
            name: "auralflow_kl_div_loss",
            source_hint: "kl_div_loss",
            check: auralflow_kl_div_loss::check,
        },
        Family {
            name: "drdmannturb_loss_aggregator",
            source_hint: "LossAggregator",
            check: drdmannturb_loss_aggregator::check,
        },
        // The objective's source text mentions FlatMagnitude and Sparsity too: keep it first.
        Family {
            name: "pyfdn_train_objective",
            source_hint: "pyFDN.build_fdn",
            check: pyfdn_train_objective::check,
        },
        Family {
            name: "pyfdn_colorless_loss",
            source_hint: "pyFDN.FlatMagnitude",
            check: pyfdn_colorless_loss::check,
        },
        Family {
            name: "pyfdn_sparsity",
            source_hint: "pyFDN.Sparsity",
            check: pyfdn_sparsity::check,
        },
        Family {
            name: "flamo_mss_loss",
            source_hint: "flamo.optimize.loss.mss_loss",
            check: flamo_mss_loss::check,
        },
        Family {
            name: "flamo_mel_mss_loss",
            source_hint: "flamo.optimize.loss.mel_mss_loss",
            check: flamo_mel_mss_loss::check,
        },
    ]
}

/// Finds the family for a file from its stem or its `source.function`.
pub fn family_for(path: &Path, doc: &Value) -> Option<Family> {
    let stem = path.file_stem()?.to_str()?.to_string();
    let function = doc
        .pointer("/source/function")
        .and_then(Value::as_str)
        .unwrap_or("");
    let all = families();
    if let Some(i) = all
        .iter()
        .position(|f| stem == f.name || stem.starts_with(&format!("{}_", f.name)))
    {
        return all.into_iter().nth(i);
    }
    all.into_iter()
        .find(|f| !function.is_empty() && function.contains(f.source_hint))
}

/// Runs every case of one golden file; `None` when no family understands it.
pub fn check_file(path: &Path) -> Result<Option<Vec<CaseReport>>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let doc: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let Some(family) = family_for(path, &doc) else {
        return Ok(None);
    };
    let cases = doc
        .get("cases")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let reports = cases
        .iter()
        .enumerate()
        .map(|(i, case)| {
            let name = case
                .get("name")
                .and_then(Value::as_str)
                .map_or_else(|| format!("case{i}"), str::to_string);
            let (comparisons, error) = match (family.check)(case) {
                Ok(c) => (c, None),
                Err(e) => (Vec::new(), Some(format!("{e:#}"))),
            };
            CaseReport {
                family: family.name,
                file: path.to_path_buf(),
                case: name,
                comparisons,
                error,
            }
        })
        .collect();
    Ok(Some(reports))
}

/// Every `*.json` file in `dir`, sorted.
pub fn golden_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    Ok(files)
}
