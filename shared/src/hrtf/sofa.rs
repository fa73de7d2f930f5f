//! SOFA SimpleFreeFieldHRIR reading on top of `sofar`'s pure-Rust HDF5 parser.
//!
//! `sofar::reader::Sofar` resamples to 48 kHz, normalises and converts positions to cartesian on
//! open; Tailor needs the file's values as stored (hrtfpykit semantics), so this module reads the
//! variables through `sofar::hdf` directly. The superblock's end-of-file address is checked first
//! (typed truncation error), and the parser runs under `catch_unwind` as a last resort against
//! panics on hostile input.

use super::{Direction, HrirSet, HrtfError};
use sofar::hdf::{self, DataObject, DataType};

const HDF5_SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

/// Variables read from the file, before validation.
struct RawSofa {
    conventions: Option<String>,
    sofa_conventions: Option<String>,
    ir: Option<(Vec<u64>, Vec<f64>)>,
    rate: Option<Vec<f64>>,
    positions: Option<RawPositions>,
}

/// `SourcePosition` as stored: dimensions, values, `Type` and `Units` attributes.
struct RawPositions {
    dims: Vec<u64>,
    values: Vec<f64>,
    kind: Option<String>,
    units: Option<String>,
}

/// Reads an HRIR set from SOFA bytes (see [`HrirSet::from_sofa_bytes`]).
pub(super) fn read(bytes: &[u8]) -> Result<HrirSet, HrtfError> {
    check_superblock(bytes)?;
    let raw = std::panic::catch_unwind(|| parse(bytes)).map_err(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        HrtfError::Malformed(format!("the HDF5 parser failed: {msg}"))
    })??;
    validate(raw)
}

/// Checks the HDF5 signature and that the file is as long as its superblock says.
fn check_superblock(bytes: &[u8]) -> Result<(), HrtfError> {
    if bytes.len() < 9 || &bytes[..8] != HDF5_SIGNATURE {
        return Err(HrtfError::NotHdf5);
    }
    let version = bytes[8];
    let (offsets_at, base_at) = match version {
        0 => (13, 24),
        1 => (13, 28),
        2 | 3 => (9, 12),
        v => {
            return Err(HrtfError::Malformed(format!(
                "unsupported HDF5 superblock version {v}"
            )))
        }
    };
    let o = match bytes.get(offsets_at).copied() {
        Some(o @ (2 | 4 | 8)) => o as usize,
        Some(o) => {
            return Err(HrtfError::Malformed(format!(
                "bad HDF5 offset size {o} bytes"
            )))
        }
        None => {
            return Err(HrtfError::Truncated {
                expected: offsets_at as u64 + 1,
                actual: bytes.len() as u64,
            })
        }
    };
    let read_addr = |at: usize| -> Option<u64> {
        let b = bytes.get(at..at + o)?;
        let mut v = [0u8; 8];
        v[..o].copy_from_slice(b);
        Some(u64::from_le_bytes(v))
    };
    let (Some(base), Some(eof)) = (read_addr(base_at), read_addr(base_at + 2 * o)) else {
        return Err(HrtfError::Truncated {
            expected: (base_at + 3 * o) as u64,
            actual: bytes.len() as u64,
        });
    };
    let expected = base.saturating_add(eof);
    if expected > bytes.len() as u64 {
        return Err(HrtfError::Truncated {
            expected,
            actual: bytes.len() as u64,
        });
    }
    Ok(())
}

fn parse(bytes: &[u8]) -> Result<RawSofa, HrtfError> {
    let parsed = hdf::parse_with_children(bytes)
        .map_err(|e| HrtfError::Malformed(format!("HDF5 structure: {e}")))?;
    let attr = |name: &str| {
        parsed
            .root
            .parsed_attributes
            .iter()
            .find(|a| a.name == name)
            .and_then(|a| a.value.clone())
    };
    let conventions = attr("Conventions");
    let sofa_conventions = attr("SOFAConventions");
    let child = |name: &str| -> Result<Option<DataObject>, HrtfError> {
        match parsed.get_child(name) {
            None => Ok(None),
            Some(Ok(obj)) => Ok(Some(obj)),
            Some(Err(e)) => Err(HrtfError::Malformed(format!("variable '{name}': {e}"))),
        }
    };
    // Check the convention before reading the (large) data arrays.
    if conventions.as_deref() != Some("SOFA")
        || sofa_conventions.as_deref() != Some("SimpleFreeFieldHRIR")
    {
        return Ok(RawSofa {
            conventions,
            sofa_conventions,
            ir: None,
            rate: None,
            positions: None,
        });
    }
    let ir = child("Data.IR")?
        .map(|o| Ok::<_, HrtfError>((dims(&o), values(&o, "Data.IR")?)))
        .transpose()?;
    let rate = child("Data.SamplingRate")?
        .map(|o| values(&o, "Data.SamplingRate"))
        .transpose()?;
    let positions = child("SourcePosition")?
        .map(|o| {
            let a = |n: &str| {
                o.parsed_attributes
                    .iter()
                    .find(|a| a.name == n)
                    .and_then(|a| a.value.clone())
            };
            Ok::<_, HrtfError>(RawPositions {
                dims: dims(&o),
                values: values(&o, "SourcePosition")?,
                kind: a("Type"),
                units: a("Units"),
            })
        })
        .transpose()?;
    Ok(RawSofa {
        conventions,
        sofa_conventions,
        ir,
        rate,
        positions,
    })
}

fn dims(o: &DataObject) -> Vec<u64> {
    o.ds.dimension_size
        .iter()
        .take(o.ds.dimensionality as usize)
        .copied()
        .collect()
}

/// Converts a numeric HDF5 dataset to f64 (float 32/64, integers 8–64 bit, either byte order).
fn values(o: &DataObject, name: &'static str) -> Result<Vec<f64>, HrtfError> {
    let dt: &DataType = &o.dt;
    let class = dt.class_and_version & 0x0F;
    let big_endian = dt.class_bit_field & 1 == 1;
    let size = dt.size as usize;
    let bad = || HrtfError::Malformed(format!("variable '{name}' has an unsupported data type"));
    if size == 0 || !o.data.len().is_multiple_of(size) {
        return Err(HrtfError::Shape(format!(
            "variable '{name}': {} bytes is not a whole number of {size}-byte values",
            o.data.len()
        )));
    }
    let word = |c: &[u8]| -> u64 {
        let mut v = [0u8; 8];
        if big_endian {
            v[8 - size..].copy_from_slice(c);
            u64::from_be_bytes(v)
        } else {
            v[..size].copy_from_slice(c);
            u64::from_le_bytes(v)
        }
    };
    let chunks = o.data.chunks_exact(size);
    match (class, size) {
        (1, 8) => Ok(chunks.map(|c| f64::from_bits(word(c))).collect()),
        (1, 4) => Ok(chunks
            .map(|c| f32::from_bits(word(c) as u32) as f64)
            .collect()),
        (0, 1 | 2 | 4 | 8) => {
            let signed = dt.class_bit_field & 0b1000 != 0;
            let bits = 8 * size as u32;
            Ok(chunks
                .map(|c| {
                    let w = word(c);
                    if signed && bits < 64 {
                        let shift = 64 - bits;
                        (((w << shift) as i64) >> shift) as f64
                    } else if signed {
                        w as i64 as f64
                    } else {
                        w as f64
                    }
                })
                .collect())
        }
        _ => Err(bad()),
    }
}

fn validate(raw: RawSofa) -> Result<HrirSet, HrtfError> {
    if raw.conventions.as_deref() != Some("SOFA") {
        return Err(HrtfError::WrongConvention(format!(
            "Conventions = {}",
            raw.conventions.as_deref().unwrap_or("<missing>")
        )));
    }
    match raw.sofa_conventions.as_deref() {
        Some("SimpleFreeFieldHRIR") => {}
        other => {
            return Err(HrtfError::WrongConvention(
                other.unwrap_or("<missing>").to_string(),
            ))
        }
    }
    let (ir_dims, ir) = raw.ir.ok_or(HrtfError::MissingVariable("Data.IR"))?;
    if ir_dims.len() != 3 {
        return Err(HrtfError::Shape(format!(
            "Data.IR must be M × R × N, got {} dimension(s) {ir_dims:?}",
            ir_dims.len()
        )));
    }
    let (m, r, n) = (
        ir_dims[0] as usize,
        ir_dims[1] as usize,
        ir_dims[2] as usize,
    );
    if r != 2 {
        return Err(HrtfError::ReceiverCount(r));
    }
    if m == 0 {
        return Err(HrtfError::NoMeasurements);
    }
    if n == 0 || ir.is_empty() {
        return Err(HrtfError::ZeroLengthIr);
    }
    let rate_values = raw
        .rate
        .ok_or(HrtfError::MissingVariable("Data.SamplingRate"))?;
    let rate = *rate_values
        .first()
        .ok_or(HrtfError::MissingVariable("Data.SamplingRate"))?;
    if crate::limits::check_sample_rate("Data.SamplingRate", rate).is_err() {
        return Err(HrtfError::BadSampleRate(rate));
    }
    let RawPositions {
        dims: p_dims,
        values: p,
        kind,
        units,
    } = raw
        .positions
        .ok_or(HrtfError::MissingVariable("SourcePosition"))?;
    let rows = p.len() / 3;
    if !p.len().is_multiple_of(3) || !(rows == m || rows == 1) {
        return Err(HrtfError::Shape(format!(
            "SourcePosition {p_dims:?} must be M × 3 (M = {m}) or 1 × 3"
        )));
    }
    let kind = kind.unwrap_or_else(|| "spherical".into()).to_lowercase();
    let angle_unit = spherical_angle_unit(&units.unwrap_or_default())?;
    let directions: Vec<Direction> = (0..m)
        .map(|i| {
            let row = if rows == 1 { 0 } else { i };
            let (a, b, c) = (p[3 * row], p[3 * row + 1], p[3 * row + 2]);
            match kind.as_str() {
                "cartesian" => Ok(Direction::from_cartesian(a, b, c)),
                "spherical" => {
                    let (a, b) = match angle_unit {
                        AngleUnit::Radian => (a.to_degrees(), b.to_degrees()),
                        AngleUnit::Degree => (a, b),
                    };
                    Ok(Direction {
                        azimuth_deg: a,
                        elevation_deg: b,
                        radius_m: c,
                    })
                }
                other => Err(HrtfError::Coordinates(format!(
                    "SourcePosition type '{other}'"
                ))),
            }
        })
        .collect::<Result<_, _>>()?;
    HrirSet::new(ir, directions, n, rate)
}

/// Angle unit of spherical SOFA positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AngleUnit {
    Degree,
    Radian,
}

/// The angle unit of a spherical `SourcePosition`'s `Units` attribute (e.g. "degree, degree,
/// metre"): its comma- or space-separated names matched exactly (case-insensitive), the first
/// two (azimuth, elevation) agreeing; an empty attribute means degrees (SOFA's default).
fn spherical_angle_unit(units: &str) -> Result<AngleUnit, HrtfError> {
    let names: Vec<String> = units
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
        .collect();
    let unit = |name: &str| match name {
        "degree" | "degrees" | "deg" => Some(AngleUnit::Degree),
        "radian" | "radians" | "rad" => Some(AngleUnit::Radian),
        _ => None,
    };
    let bad = || {
        HrtfError::Coordinates(format!(
            "SourcePosition units '{units}': azimuth and elevation must both be in degree or radian"
        ))
    };
    match names.as_slice() {
        [] => Ok(AngleUnit::Degree),
        [one] => unit(one).ok_or_else(bad),
        [az, el, ..] => match (unit(az), unit(el)) {
            (Some(a), Some(e)) if a == e => Ok(a),
            _ => Err(bad()),
        },
    }
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn angle_units_match_exactly() {
        assert_eq!(
            spherical_angle_unit("degree, degree, metre").unwrap(),
            AngleUnit::Degree
        );
        assert_eq!(
            spherical_angle_unit("Radian,radian,meter").unwrap(),
            AngleUnit::Radian
        );
        assert_eq!(spherical_angle_unit("").unwrap(), AngleUnit::Degree);
        for bad in [
            "gradians, gradians, metre",
            "degree, radian, metre",
            "milliradian",
        ] {
            let e = spherical_angle_unit(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }
}
