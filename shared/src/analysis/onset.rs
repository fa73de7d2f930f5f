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

/// Smallest DC offset removed, relative to the IR's peak.
pub const DC_OFFSET_RATIO: f64 = 1e-3;

/// The DC offset of a measured IR (a recording chain's offset): the mean of its last 10 % when
/// that exceeds [`DC_OFFSET_RATIO`] of the peak, else 0. The room analysis removes it before
/// fitting and `compare` before measuring, so room and fit are measured alike.
pub fn dc_offset(x: &[f64]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    let peak = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let tail = &x[x.len() - (x.len() / 10).max(1)..];
    let dc = tail.iter().sum::<f64>() / tail.len() as f64;
    if dc.is_finite() && dc.abs() > DC_OFFSET_RATIO * peak {
        dc
    } else {
        0.0
    }
}

/// `x` without its [`dc_offset`] (borrowed when there is none).
pub fn without_dc(x: &[f64]) -> std::borrow::Cow<'_, [f64]> {
    match dc_offset(x) {
        0.0 => std::borrow::Cow::Borrowed(x),
        dc => std::borrow::Cow::Owned(x.iter().map(|v| v - dc).collect()),
    }
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

    #[test]
    fn a_dc_offset_is_found_in_the_tail_and_small_ones_are_left() {
        let mut x: Vec<f64> = (0..1000).map(|n| (-(n as f64) / 50.0).exp()).collect();
        assert_eq!(dc_offset(&x), 0.0);
        assert!(matches!(without_dc(&x), std::borrow::Cow::Borrowed(_)));
        x.iter_mut().for_each(|v| *v += 0.01);
        // The tail still holds the decay's last 1e-8.
        assert!((dc_offset(&x) - 0.01).abs() < 1e-7, "{}", dc_offset(&x));
        let y = without_dc(&x);
        assert!(y[999].abs() < 1e-7);
        // Below 1e-3 of the peak: left alone.
        let z: Vec<f64> = x.iter().map(|v| v - 0.01 + 5e-4).collect();
        assert_eq!(dc_offset(&z), 0.0);
        assert_eq!(dc_offset(&[]), 0.0);
    }
}
