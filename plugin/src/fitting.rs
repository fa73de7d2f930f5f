//! Fitting a room in the plugin: a dropped (or typed) room IR is fitted by
//! [`tailor::room::fit`] on its own thread (never the audio thread, nor the loader, which stays
//! free for other requests). The editor follows the stage and progress through [`FitStatus`] and
//! can cancel. The result goes to whoever started the fit ([`Fits::start`]'s `done`): the
//! loader swaps the fitted preset in (the engine's crossfading swap), keeps its JSON in the
//! plugin state (so a reopened project never refits) and makes the room IR the A/B reference. A
//! failed or cancelled fit leaves the sound as it was.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use tailor::ir::{load, IrPolicy};
use tailor::room::{FitError, FitOptions, Progress, Stage};

/// What the plugin writes as the fitted preset's `fitted_by`.
pub const FITTED_BY: &str = "Tailor Reverb plugin";

/// Where a fit stands, for the editor.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FitStatus {
    /// A fit is running.
    pub running: bool,
    /// The room IR being (or last) fitted.
    pub room: String,
    /// The running stage, in words.
    pub stage: String,
    /// Progress of the whole fit, 0 … 1.
    pub fraction: f32,
    /// How the last fit ended: `Ok` names the fitted preset, `Err` says why it failed.
    pub outcome: Option<Result<String, String>>,
}

/// A running fit: its cancel flag and thread.
#[derive(Debug)]
struct FitJob {
    cancel: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FitJob {
    /// Asks the fit to stop and waits for its thread (the fit checks between its steps).
    fn cancel_and_join(mut self) {
        self.cancel.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Share of the whole fit at which each stage starts (the design's renders take most of it).
fn stage_start(stage: Stage) -> f32 {
    match stage {
        Stage::Design => 0.0,
        Stage::Refine => 0.8,
        Stage::Polish => 0.8,
        Stage::Stereo => 0.9,
        Stage::Check => 0.97,
    }
}

/// Progress into the editor's [`FitStatus`]; cancelled by the job's flag.
struct Report<'a> {
    status: &'a Mutex<FitStatus>,
    cancel: &'a AtomicBool,
    stage: Stage,
    steps: usize,
}

impl Report<'_> {
    fn update(&self, f: impl FnOnce(&mut FitStatus)) {
        if let Ok(mut s) = self.status.lock() {
            f(&mut s);
        }
    }
}

impl Progress for Report<'_> {
    fn stage(&mut self, stage: Stage, steps: usize) {
        self.stage = stage;
        self.steps = steps;
        self.update(|s| {
            s.stage = stage.describe().to_string();
            s.fraction = stage_start(stage);
        });
    }

    fn step(&mut self, done: usize, note: &str) {
        let (from, to) = match self.stage {
            Stage::Design => (0.0, 0.8),
            s => (stage_start(s), stage_start(s)),
        };
        let within = if self.steps > 0 {
            (done as f32 / self.steps as f32).min(1.0)
        } else {
            0.0
        };
        let stage = format!("{}: {note}", self.stage.describe());
        self.update(|s| {
            s.stage = stage;
            s.fraction = from + (to - from) * within;
        });
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Acquire)
    }
}

/// Fits the room IR at `path`: the preset JSON (validated as the engine validates it), or why
/// not.
pub fn fit_room(path: &Path, progress: &mut dyn Progress) -> Result<String, String> {
    let ir = load(path, &IrPolicy::ROOM).map_err(|e| e.to_string())?;
    let opts = FitOptions {
        name: path
            .file_stem()
            .map_or_else(|| "room".into(), |s| s.to_string_lossy().into_owned()),
        source: path.display().to_string(),
        fitted_by: FITTED_BY.into(),
        ..FitOptions::default()
    };
    match tailor::room::fit(&ir.channels, ir.sample_rate, &opts, progress, None) {
        Ok(r) => Ok(r.preset.to_json_string()),
        Err(FitError::Cancelled) => Err("cancelled".into()),
        Err(e) => Err(format!("cannot fit {}: {e}", path.display())),
    }
}

/// The plugin's room fits: where the latest stands (for the editor) and the running one.
#[derive(Debug, Default)]
pub struct Fits {
    status: Arc<Mutex<FitStatus>>,
    job: Mutex<Option<FitJob>>,
}

impl Fits {
    /// Where the latest fit stands.
    pub fn status(&self) -> FitStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Starts fitting `room` on a new thread (a fit already running is cancelled first); a fit
    /// that is not cancelled hands the room and its outcome (the preset JSON, or why not) to
    /// `done` on that thread, and the owner reports how it ended with [`Fits::finish`].
    pub fn start(
        &self,
        room: PathBuf,
        done: impl FnOnce(PathBuf, Result<String, String>) + Send + 'static,
    ) {
        self.cancel();
        let cancel = Arc::new(AtomicBool::new(false));
        if let Ok(mut s) = self.status.lock() {
            *s = FitStatus {
                running: true,
                room: room.display().to_string(),
                stage: "reading the room IR".into(),
                fraction: 0.0,
                outcome: None,
            };
        }
        let (status, flag) = (self.status.clone(), cancel.clone());
        let thread = std::thread::Builder::new()
            .name("tailor-fit".into())
            .spawn(move || {
                let mut report = Report {
                    status: &status,
                    cancel: &flag,
                    stage: Stage::Design,
                    steps: 0,
                };
                // A panic in the fit must not leave the editor saying "running" for ever: it
                // ends the fit with a reason like any other failure.
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    fit_room(&room, &mut report)
                }))
                .unwrap_or_else(|p| {
                    let why = p
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| p.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown".into());
                    Err(format!("the fit stopped on an internal error: {why}"))
                });
                if !flag.load(Ordering::Acquire) {
                    done(room, result);
                }
            });
        match thread {
            Ok(t) => {
                if let Ok(mut j) = self.job.lock() {
                    *j = Some(FitJob {
                        cancel,
                        thread: Some(t),
                    });
                }
            }
            Err(e) => self.finish(Err(format!("cannot start the fit: {e}"))),
        }
    }

    /// Cancels the running fit, if any, and waits for its thread.
    pub fn cancel(&self) {
        let job = self.job.lock().ok().and_then(|mut j| j.take());
        if let Some(job) = job {
            job.cancel_and_join();
            if let Ok(mut s) = self.status.lock() {
                if s.running {
                    s.running = false;
                    s.outcome = Some(Err("cancelled".into()));
                }
            }
        }
    }

    /// Records how the fit ended (its thread has handed its result over and is ending).
    pub fn finish(&self, outcome: Result<String, String>) {
        if let Ok(mut j) = self.job.lock() {
            if let Some(mut job) = j.take() {
                if let Some(t) = job.thread.take() {
                    let _ = t.join();
                }
            }
        }
        if let Ok(mut s) = self.status.lock() {
            s.running = false;
            s.fraction = if outcome.is_ok() { 1.0 } else { s.fraction };
            s.stage.clear();
            s.outcome = Some(outcome);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cancels at once.
    struct Stop;

    impl Progress for Stop {
        fn stage(&mut self, _: Stage, _: usize) {}
        fn step(&mut self, _: usize, _: &str) {}
        fn cancelled(&self) -> bool {
            true
        }
    }

    #[test]
    fn a_missing_file_and_a_cancelled_fit_are_reasons_not_panics() {
        let e = fit_room(Path::new("/no/such/room.wav"), &mut Stop).unwrap_err();
        assert!(e.contains("room.wav"), "{e}");
        let p = std::env::temp_dir().join(format!("tailor-fitting-{}.wav", std::process::id()));
        let ir: Vec<f64> = (0..16_000)
            .map(|i| (-(i as f64) / 1500.0).exp() * if i % 3 == 0 { 1.0 } else { -0.7 })
            .collect();
        tailor::wav::write_wav(&p, 16_000, &[ir]).unwrap();
        assert_eq!(fit_room(&p, &mut Stop).unwrap_err(), "cancelled");
        let _ = std::fs::remove_file(&p);
    }
}
