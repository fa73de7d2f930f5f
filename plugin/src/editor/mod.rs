//! The egui editor: preset browser and loader, parameters (A/B source and output mode
//! included), reference IR and SOFA choosers, diagnostics (FDN vs reference magnitude with LSD,
//! energy decay curves, decay-time bars) and, in binaural mode, the HRTF panel (magnitude per
//! ear, ILD, LSD-to-KEMAR map). Everything heavy is computed on the loader thread; the editor
//! only draws.

mod plot;

use crate::analysis::Analysis;
use crate::hrtf_view::HrtfView;
use crate::loader::{Request, Shared};
use crate::params::{OutputMode, TailorParams};
use crate::presets::{factory_count, factory_label};
use crossbeam_channel::Sender;
use egui::{Color32, RichText};
use nice_plug::context::gui::GuiContext;
use nice_plug_egui::widgets::ParamSlider;
use nice_plug_egui::{
    create_egui_editor, EguiEditor, EguiEditorState, EguiNiceSettings, RepaintNotifier,
};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Editor width in logical pixels.
pub const WIDTH: f64 = 980.0;
/// Editor height in logical pixels.
pub const HEIGHT: f64 = 900.0;

/// Colour of FDN curves.
pub const FDN_COLOR: Color32 = Color32::from_rgb(80, 170, 255);
/// Colour of reference curves.
pub const REF_COLOR: Color32 = Color32::from_rgb(255, 150, 60);
/// Colour of left-ear curves.
pub const LEFT_COLOR: Color32 = Color32::from_rgb(120, 220, 120);
/// Colour of right-ear curves.
pub const RIGHT_COLOR: Color32 = Color32::from_rgb(230, 110, 200);

/// The editor's initial size state.
pub fn default_state() -> Arc<EguiEditorState> {
    EguiEditorState::from_size(nice_plug::editor::dpi::LogicalSize::new(WIDTH, HEIGHT), 1.0)
}

/// The editor application state.
pub struct EditorApp {
    params: Arc<TailorParams>,
    shared: Arc<Shared>,
    loader: Sender<Request>,
    gui: Option<GuiContext>,
    preset_path: String,
    reference_path: String,
    sofa_path: String,
    room_path: String,
    /// The fitted room last put into the reference field.
    fit_shown: Option<String>,
    azimuth_deg: f64,
    elevation_deg: f64,
    factory: usize,
}

/// Creates the editor.
pub fn create(
    state: Arc<EguiEditorState>,
    params: Arc<TailorParams>,
    shared: Arc<Shared>,
    loader: Sender<Request>,
) -> Option<EguiEditor<EditorApp>> {
    let stored = params.preset.get();
    let app = EditorApp {
        params,
        shared,
        loader,
        gui: None,
        preset_path: stored.path.unwrap_or_default(),
        reference_path: stored.reference_path.unwrap_or_default(),
        sofa_path: stored.sofa_path.unwrap_or_default(),
        room_path: stored.room_ir.unwrap_or_default(),
        fit_shown: None,
        azimuth_deg: 90.0,
        elevation_deg: 0.0,
        factory: 0,
    };
    create_egui_editor(
        state,
        RepaintNotifier::new(),
        EguiNiceSettings::new().with_tile("Tailor Reverb"),
        app,
    )
}

impl EditorApp {
    fn send(&self, r: Request) {
        let _ = self.loader.try_send(r);
    }

    fn header(&mut self, ui: &mut egui::Ui) {
        let status = self
            .shared
            .status
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default();
        ui.horizontal(|ui| {
            ui.heading("Tailor Reverb");
            ui.separator();
            ui.label("playing");
            ui.label(RichText::new(&status.preset_name).strong());
            let rt = status
                .rt_seconds
                .map_or("∞".to_string(), |r| format!("{r:.2} s"));
            ui.label(format!("longest RT {rt}"));
        });
        if let Some(e) = &status.error {
            ui.colored_label(Color32::from_rgb(255, 90, 90), format!("⚠ {e}"));
        }
        if let Some(i) = &status.info {
            ui.colored_label(Color32::LIGHT_GRAY, i);
        }
        ui.collapsing("Preset metadata", |ui| {
            ui.monospace(&status.metadata);
        });
    }

    /// Files dropped on the editor: a preset (.json) or an HRTF set (.sofa) load as if typed
    /// into their field; a room IR (.wav) is fitted (and becomes the A/B reference).
    fn dropped_files(&mut self, ctx: &egui::Context) {
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .collect()
        });
        for path in dropped {
            let text = path.display().to_string();
            match request_for_drop(&path) {
                Some(r @ Request::File(_)) => {
                    self.preset_path = text;
                    self.send(r);
                }
                Some(r @ Request::Fit(_)) => {
                    self.room_path = text;
                    self.send(r);
                }
                Some(r @ Request::Sofa(_)) => {
                    self.sofa_path = text;
                    self.send(r);
                }
                _ => {}
            }
        }
    }

    /// The room fit: path, "Fit room", and while it runs its stage, a progress bar and
    /// "Cancel"; afterwards how it ended.
    fn fit_row(&mut self, ui: &mut egui::Ui) {
        let fit = self.shared.fit.status();
        ui.horizontal(|ui| {
            ui.label("Room IR to fit");
            ui.add_enabled(
                !fit.running,
                egui::TextEdit::singleline(&mut self.room_path)
                    .hint_text("a measured room impulse response (.wav)")
                    .desired_width(560.0),
            );
            if fit.running {
                if ui.button("Cancel").clicked() {
                    self.send(Request::CancelFit);
                }
            } else if ui.button("Fit room").clicked() && !self.room_path.trim().is_empty() {
                self.send(Request::Fit(self.room_path.trim().into()));
            }
        });
        if fit.running {
            ui.add(
                egui::ProgressBar::new(fit.fraction)
                    .show_percentage()
                    .text(format!("fitting {} — {}", short_name(&fit.room), fit.stage)),
            );
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(100));
        } else {
            match &fit.outcome {
                Some(Ok(name)) => {
                    // The fitted room became the reference: show it in its field, once.
                    if self.fit_shown.as_deref() != Some(fit.room.as_str()) {
                        self.reference_path.clone_from(&fit.room);
                        self.fit_shown = Some(fit.room.clone());
                    }
                    ui.colored_label(
                        Color32::LIGHT_GREEN,
                        format!(
                            "fitted {} — playing \"{name}\"; the room is the A/B reference",
                            short_name(&fit.room)
                        ),
                    );
                }
                Some(Err(why)) => {
                    ui.colored_label(
                        Color32::from_rgb(255, 90, 90),
                        format!(
                            "fit of {}: {why}; the sound was kept",
                            short_name(&fit.room)
                        ),
                    );
                }
                None => {}
            }
        }
    }

    /// What the factory chooser shows: the chosen entry when it is what plays (its name), else
    /// an invitation, so the chooser never reads as the playing preset when a file or a fit
    /// plays.
    fn factory_choice(&self) -> String {
        let label = factory_label(self.factory);
        let playing = self
            .shared
            .status
            .lock()
            .map(|s| s.preset_name == label)
            .unwrap_or(false);
        if playing {
            label
        } else {
            "choose a factory preset…".into()
        }
    }

    fn loaders(&mut self, ui: &mut egui::Ui) {
        self.dropped_files(ui.ctx());
        ui.label("Drop a room IR (.wav) to fit it, a preset (.json) or an HRTF set (.sofa) on the window, or type a path:");
        self.fit_row(ui);
        ui.horizontal(|ui| {
            ui.label("Factory");
            egui::ComboBox::from_id_salt("factory")
                .selected_text(self.factory_choice())
                .show_ui(ui, |ui| {
                    for i in 0..factory_count() {
                        ui.selectable_value(&mut self.factory, i, factory_label(i));
                    }
                });
            if ui.button("Load").clicked() {
                self.send(Request::Factory(self.factory));
            }
            if ui.button("Default").clicked() {
                self.send(Request::Default);
            }
        });
        ui.horizontal(|ui| {
            ui.label("Preset file");
            ui.add(egui::TextEdit::singleline(&mut self.preset_path).desired_width(560.0));
            if ui.button("Load preset").clicked() && !self.preset_path.trim().is_empty() {
                self.send(Request::File(self.preset_path.trim().into()));
            }
        });
        ui.horizontal(|ui| {
            ui.label("Reference IR");
            ui.add(egui::TextEdit::singleline(&mut self.reference_path).desired_width(560.0));
            if ui.button("Set").clicked() && !self.reference_path.trim().is_empty() {
                self.send(Request::Reference(self.reference_path.trim().into()));
            }
            if ui.button("Clear").clicked() {
                self.reference_path.clear();
                self.send(Request::ClearReference);
            }
        });
        ui.horizontal(|ui| {
            ui.label("HRTF (SOFA)");
            ui.add(
                egui::TextEdit::singleline(&mut self.sofa_path)
                    .hint_text("built-in MIT KEMAR")
                    .desired_width(560.0),
            );
            if ui.button("Load SOFA").clicked() && !self.sofa_path.trim().is_empty() {
                self.send(Request::Sofa(Some(self.sofa_path.trim().into())));
            }
            if ui.button("KEMAR").clicked() {
                self.sofa_path.clear();
                self.send(Request::Sofa(None));
            }
        });
    }

    fn sliders(&self, ui: &mut egui::Ui) {
        let Some(gui) = &self.gui else {
            return;
        };
        let setter = gui.param_setter();
        let p = &self.params;
        egui::Grid::new("params").num_columns(4).show(ui, |ui| {
            ui.label("Mix");
            ui.add(ParamSlider::for_param(&p.mix, &setter));
            ui.label("Pre-delay");
            ui.add(ParamSlider::for_param(&p.predelay_ms, &setter));
            ui.end_row();
            ui.label("Decay");
            ui.add(ParamSlider::for_param(&p.decay_scale, &setter));
            ui.label("Tone");
            ui.add(ParamSlider::for_param(&p.tone_hz, &setter));
            ui.end_row();
            ui.label("Width");
            ui.add(ParamSlider::for_param(&p.width, &setter));
            ui.label("Output");
            ui.add(ParamSlider::for_param(&p.output_gain_db, &setter));
            ui.end_row();
            ui.label("A/B source");
            ui.add(ParamSlider::for_param(&p.ab_source, &setter));
            ui.label("Output mode");
            ui.add(ParamSlider::for_param(&p.output_mode, &setter));
            ui.end_row();
        });
    }

    fn diagnostics(&self, ui: &mut egui::Ui, a: &Analysis) {
        let lsd = a.lsd_db.map_or("— (set a reference IR)".to_string(), |d| {
            format!("{d:.2} dB")
        });
        ui.label(format!(
            "Magnitude response (1/3-octave smoothed, energy-normalised over 1 s) · LSD 20 Hz–20 kHz: {lsd}"
        ));
        let mut series = vec![plot::Series::new(&a.fdn.magnitude, FDN_COLOR, "FDN")];
        if let Some(r) = &a.reference {
            series.push(plot::Series::new(&r.magnitude, REF_COLOR, "reference"));
        }
        plot::lines(ui, "mag", &series, true, [940.0, 180.0], "Hz", "dB");
        ui.horizontal(|ui| {
            ui.vertical(|ui| {
                ui.label("Energy decay curves");
                let mut series = vec![plot::Series::new(&a.fdn.edc, FDN_COLOR, "FDN")];
                if let Some(r) = &a.reference {
                    series.push(plot::Series::new(&r.edc, REF_COLOR, "reference"));
                }
                plot::lines(ui, "edc", &series, false, [600.0, 180.0], "s", "dB");
            });
            ui.vertical(|ui| {
                ui.label("Decay times (broadband)");
                let t = |v: Option<f64>| v.unwrap_or(0.0);
                let mut groups = vec![(
                    "FDN",
                    FDN_COLOR,
                    vec![t(a.fdn.times.edt), t(a.fdn.times.t20), t(a.fdn.times.t30)],
                )];
                if let Some(r) = &a.reference {
                    groups.push((
                        "reference",
                        REF_COLOR,
                        vec![t(r.times.edt), t(r.times.t20), t(r.times.t30)],
                    ));
                }
                plot::bars(ui, &["EDT", "T20", "T30"], &groups, [320.0, 180.0]);
            });
        });
        ui.label("Octave-band RT60 (T30, as `tailor compare` measures it; 0 = not measurable)");
        let bands = |v: &[Option<f64>]| v.iter().map(|x| x.unwrap_or(0.0)).collect::<Vec<_>>();
        let mut groups = vec![("FDN", FDN_COLOR, bands(&a.fdn.band_rt))];
        if let Some(r) = &a.reference {
            groups.push(("reference", REF_COLOR, bands(&r.band_rt)));
        }
        plot::bars(
            ui,
            &["125", "250", "500", "1k", "2k", "4k", "8k"],
            &groups,
            [940.0, 160.0],
        );
    }
}

impl EditorApp {
    fn hrtf_panel(&mut self, ui: &mut egui::Ui, v: &HrtfView) {
        ui.label(
            RichText::new(format!(
                "HRTF: {} ({} directions, {} Hz)",
                v.name,
                v.directions.len(),
                v.sample_rate
            ))
            .strong(),
        );
        ui.horizontal(|ui| {
            ui.label("Azimuth");
            ui.add(egui::Slider::new(&mut self.azimuth_deg, 0.0..=360.0).suffix("°"));
            ui.label("Elevation");
            ui.add(egui::Slider::new(&mut self.elevation_deg, -90.0..=90.0).suffix("°"));
        });
        let Some(m) = v.nearest(self.azimuth_deg, self.elevation_deg) else {
            return;
        };
        let d = v.directions[m];
        let lsd_here = v
            .lsd_db
            .as_ref()
            .and_then(|l| l.get(m))
            .map_or("—".to_string(), |x| format!("{x:.2} dB"));
        ui.label(format!(
            "Nearest measurement #{m}: azimuth {:.1}°, elevation {:.1}° · LSD to KEMAR here {lsd_here}",
            d.azimuth_deg, d.elevation_deg
        ));
        ui.horizontal(|ui| {
            ui.vertical(|ui| {
                ui.label("Magnitude per ear (dB)");
                let series = [
                    plot::Series::new(&v.magnitude[m][0], LEFT_COLOR, "left"),
                    plot::Series::new(&v.magnitude[m][1], RIGHT_COLOR, "right"),
                ];
                plot::lines(ui, "hrtf_mag", &series, true, [460.0, 170.0], "Hz", "dB");
            });
            ui.vertical(|ui| {
                ui.label("Interaural level difference (dB, + = left louder)");
                let series = [plot::Series::new(&v.ild[m], FDN_COLOR, "ILD")];
                plot::lines(ui, "hrtf_ild", &series, true, [460.0, 170.0], "Hz", "dB");
            });
        });
        match (&v.lsd_db, v.lsd_mean_db) {
            (Some(per), Some(mean)) => {
                ui.label(format!(
                    "LSD to KEMAR per direction, 20 Hz–20 kHz (mean of both ears) · mean {mean:.2} dB · click to pick a direction"
                ));
                let dirs: Vec<(f64, f64)> = v
                    .directions
                    .iter()
                    .map(|d| (d.azimuth_deg, d.elevation_deg))
                    .collect();
                if let Some((az, el)) = plot::direction_map(
                    ui,
                    &dirs,
                    per,
                    Some((d.azimuth_deg, d.elevation_deg)),
                    [940.0, 200.0],
                ) {
                    self.azimuth_deg = az;
                    self.elevation_deg = el;
                }
            }
            _ => {
                let why = v.lsd_error.as_deref().unwrap_or("not computed");
                ui.label(format!("LSD to KEMAR unavailable: {why}"));
            }
        }
    }
}

impl nice_plug_egui::NiceEguiApp for EditorApp {
    fn build(
        &mut self,
        _egui_ctx: egui::Context,
        nice_gui_ctx: GuiContext,
        _frame: &mut nice_plug_egui::Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        self.gui = Some(nice_gui_ctx);
        self.shared.editor_open.store(true, Ordering::Release);
        self.send(Request::Analyse);
        Ok(())
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut nice_plug_egui::Frame) {
        // The loader and a fit update the status and the diagnostics off this thread: look
        // again twice a second even without input.
        ui.ctx()
            .request_repaint_after(std::time::Duration::from_millis(500));
        egui::ScrollArea::vertical().show(ui, |ui| {
            self.header(ui);
            ui.separator();
            self.loaders(ui);
            ui.separator();
            self.sliders(ui);
            ui.separator();
            let analysis = self.shared.analysis.lock().ok().and_then(|a| a.clone());
            match analysis {
                Some(a) => self.diagnostics(ui, &a),
                None => {
                    ui.label("Computing diagnostics…");
                }
            }
            if self.params.output_mode.value() == OutputMode::Binaural {
                ui.separator();
                let hrtf = self.shared.hrtf.lock().ok().and_then(|h| h.clone());
                match hrtf {
                    Some(v) => self.hrtf_panel(ui, &v),
                    None => {
                        ui.label("Computing HRTF diagnostics…");
                    }
                }
            }
        });
    }

    fn editor_closed(&mut self) {
        self.gui = None;
        self.shared.editor_open.store(false, Ordering::Release);
    }
}

/// The file name of `path` (the whole text when it has none).
fn short_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map_or_else(|| path.to_string(), |n| n.to_string_lossy().into_owned())
}

/// The loader request for a file dropped on the editor, by extension (case-insensitive):
/// `.json` → preset, `.wav` → fit the room, `.sofa` → HRTF set; anything else is ignored.
pub fn request_for_drop(path: &Path) -> Option<Request> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "json" => Some(Request::File(path.to_path_buf())),
        "wav" | "wave" => Some(Request::Fit(path.to_path_buf())),
        "sofa" => Some(Request::Sofa(Some(path.to_path_buf()))),
        _ => None,
    }
}

#[cfg(test)]
mod drop_tests {
    use super::*;

    #[test]
    fn dropped_files_map_to_their_loader_requests() {
        let r = |p: &str| request_for_drop(Path::new(p));
        assert!(matches!(r("/x/room.JSON"), Some(Request::File(_))));
        assert!(matches!(r("ir.wav"), Some(Request::Fit(_))));
        assert!(matches!(r("kemar.sofa"), Some(Request::Sofa(Some(_)))));
        assert!(r("notes.txt").is_none());
        assert!(r("no_extension").is_none());
    }
}
