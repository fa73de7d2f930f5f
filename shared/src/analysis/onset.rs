//! Onset detection and alignment of two impulse responses.

use super::error::{validate_ir, AnalysisError};

/// Level below the absolute peak, in dB, that marks the onset (20 dB).
pub const ONSET_THRESHOLD_DB: f64 = 20.0;

/// Onset sample: the first sample whose magnitude is within 20 dB of the absolute peak
/// (`|x[n]| ≥ peak·10^(−20/20)`). `None` for an empty, silent or non-finite signal.
pub fn onset_index(x: &[f64]) -> Option<usize> {
    if x.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let peak = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if peak <= 0.0 {
        return None;
    }
    let threshold = peak * 10f64.powf(-ONSET_THRESHOLD_DB / 20.0);
    x.iter().position(|v| v.abs() >= threshold)
}

/// Both IRs from their onsets ([`onset_index`]), cut to the shorter remaining length (samples).
/// Errors name the input ("A" or "B") that is empty, non-finite or silent.
pub fn align_pair<'a>(a: &'a [f64], b: &'a [f64]) -> Result<(&'a [f64], &'a [f64]), AnalysisError> {
    validate_ir(a, "A")?;
    validate_ir(b, "B")?;
    let (oa, ob) = (
        onset_index(a).ok_or_else(|| AnalysisError::Silent { what: "A".into() })?,
        onset_index(b).ok_or_else(|| AnalysisError::Silent { what: "B".into() })?,
    );
    let n = (a.len() - oa).min(b.len() - ob);
    Ok((&a[oa..oa + n], &b[ob..ob + n]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn onset_is_first_sample_within_20_db_of_peak() {
        // Peak 1.0 at 5; 0.09 at 2 is below −20 dB (0.1), 0.1 at 3 is exactly −20 dB.
        let x = [0.0, 0.05, 0.09, 0.1, 0.5, -1.0, 0.2];
        assert_eq!(onset_index(&x), Some(3));
        assert_eq!(onset_index(&[0.0; 4]), None);
        assert_eq!(onset_index(&[]), None);
        assert_eq!(onset_index(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn align_pair_cuts_to_the_shorter_tail() {
        let a = [0.0, 0.0, 1.0, 0.5, 0.25, 0.1];
        let b = [0.0, 2.0, 1.0, 0.5];
        let (x, y) = align_pair(&a, &b).unwrap();
        assert_eq!(x, &[1.0, 0.5, 0.25]);
        assert_eq!(y, &[2.0, 1.0, 0.5]);
        let e = align_pair(&a, &[0.0, 0.0]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "B: impulse response is silent (all samples are zero)"
        );
    }
}
