//! Room fitting: turning a measured room IR into an FDN design (grouped FDN for coupled rooms,
//! early-reflection FIR). The analysis it stands on lives in [`crate::analysis`].

pub mod analysis;
pub mod design;
pub mod early;
pub mod fit;
pub mod grouped;
pub mod stereo;

pub use fit::{
    draw_merit, draws_for, fit, FitOptions, FitReport, Layout, Progress, Refine, Silent, Stage,
    DEFAULT_DRAWS, DRAW_BUDGET_SAMPLES,
};

use analysis::{analyse_room, design_start, RoomAnalysis, RoomError, SlopeChoice};
use design::{design, Design, DesignError, DesignOptions};
use std::ops::ControlFlow;

/// Slope counts `--slopes auto` tries.
pub const AUTO_SLOPE_COUNTS: [usize; 3] = [1, 2, 3];

/// Why a room could not be designed.
#[derive(Debug, thiserror::Error)]
pub enum FitError {
    /// The IR could not be analysed.
    #[error(transparent)]
    Room(#[from] RoomError),
    /// No design could be made.
    #[error(transparent)]
    Design(#[from] DesignError),
    /// The input cannot be fitted as asked (channels, layout, options).
    #[error("{0}")]
    Input(String),
    /// The caller's refinement stage failed.
    #[error("refining the design: {0}")]
    Refine(String),
    /// The fitted preset failed the validation the engine applies (nothing to write).
    #[error("the fitted preset failed validation: {0}")]
    Invalid(String),
    /// Measuring the fitted preset against the room failed.
    #[error("measuring the fit: {0}")]
    Measure(String),
    /// The caller cancelled the fit.
    #[error("the fit was cancelled")]
    Cancelled,
}

/// The analysis and closed-loop design the fit keeps, and the score of every slope count tried.
#[derive(Debug, Clone)]
pub struct RoomDesign {
    /// Analysis with the kept slope count.
    pub analysis: RoomAnalysis,
    /// The kept design.
    pub design: Design,
    /// `(slope count, best score)` of every count designed, in the order tried.
    pub candidates: Vec<(usize, f64)>,
}

/// The early window `(fade start, fade end)` in samples of an analysed room: the measured IR is
/// kept up to its mixing time, crossfaded into the FDN over the last quarter (at least 5 ms).
pub fn early_window(a: &RoomAnalysis) -> (usize, usize) {
    let end = (a.early_end_s * a.fs).round() as usize;
    let fade = (end / 4).max((0.005 * a.fs) as usize).min(end);
    (end - fade, end)
}

/// Analyses `ir` (at `fs` Hz) and designs its FDN with `opts` (its `early` replaced by
/// [`early_window`] when `with_early`), choosing the slope count by result: with
/// [`SlopeChoice::Auto`] each count of [`AUTO_SLOPE_COUNTS`] that the analysis can fit (and
/// `opts.n` lines can hold) goes through the whole closed loop, and the one whose *measured*
/// score is lowest is kept (a tie keeps fewer slopes). A slope count is a model choice that only
/// the rendered result can judge: an EDC curved by a bump or by noise can look like two slopes to
/// the fitter yet design worse than one, so `auto` is never worse than `--slopes 1` on the
/// score. `progress(candidate, iteration, score)` follows every design iteration; its
/// `ControlFlow::Break` cancels the design ([`FitError::Cancelled`]).
pub fn design_room(
    ir: &[f64],
    fs: f64,
    slopes: SlopeChoice,
    opts: &DesignOptions,
    with_early: bool,
    mut progress: impl FnMut(usize, usize, f64) -> ControlFlow<()>,
) -> Result<RoomDesign, FitError> {
    let counts: Vec<SlopeChoice> = match slopes {
        SlopeChoice::Auto => AUTO_SLOPE_COUNTS
            .iter()
            .filter(|&&k| k <= opts.n)
            .map(|&k| SlopeChoice::Fixed(k))
            .collect(),
        fixed => vec![fixed],
    };
    let mut best: Option<(RoomAnalysis, Design)> = None;
    let mut candidates = Vec::new();
    let mut first_error = None;
    for (c, &choice) in counts.iter().enumerate() {
        let a = match analyse_room(ir, fs, choice) {
            Ok(a) => a,
            // Input problems hold for every count: report them at once.
            Err(e @ (RoomError::Input(_) | RoomError::NoiseFloor { .. })) => return Err(e.into()),
            Err(e) => {
                first_error.get_or_insert(FitError::from(e));
                continue;
            }
        };
        // A count the analysis could not resolve (3 asked, 2 found) would repeat a design.
        if a.n_slopes() > opts.n || candidates.iter().any(|&(k, _)| k == a.n_slopes()) {
            continue;
        }
        let o = DesignOptions {
            early: if with_early {
                Some(early_window(&a))
            } else {
                None
            },
            ..opts.clone()
        };
        let d = match design(&a.ir, fs, &design_start(&a), &o, |it, s| progress(c, it, s)) {
            Ok(d) => d,
            Err(DesignError::Cancelled) => return Err(FitError::Cancelled),
            Err(e) => {
                first_error.get_or_insert(FitError::from(e));
                continue;
            }
        };
        candidates.push((a.n_slopes(), d.best.score));
        if best
            .as_ref()
            .is_none_or(|(_, b)| d.best.score < b.best.score)
        {
            best = Some((a, d));
        }
    }
    match best {
        Some((analysis, design)) => Ok(RoomDesign {
            analysis,
            design,
            candidates,
        }),
        None => Err(first_error.unwrap_or_else(|| {
            FitError::Design(DesignError::Target(format!(
                "no slope count fits in {} delay lines",
                opts.n
            )))
        })),
    }
}
