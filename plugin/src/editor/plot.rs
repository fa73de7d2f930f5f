//! Minimal line and bar plots drawn with egui's painter.

use egui::{Align2, Color32, FontId, Pos2, Rect, Sense, Shape, Stroke, Vec2};

/// One curve: points (x, y), colour and legend name.
pub struct Series<'a> {
    /// Points (x, y).
    pub points: &'a [[f64; 2]],
    /// Line colour.
    pub color: Color32,
    /// Legend name.
    pub name: &'a str,
}

impl<'a> Series<'a> {
    /// A series.
    pub fn new(points: &'a [[f64; 2]], color: Color32, name: &'a str) -> Self {
        Self {
            points,
            color,
            name,
        }
    }
}

fn frame(ui: &mut egui::Ui, size: [f32; 2]) -> (Rect, egui::Painter) {
    let (rect, _) = ui.allocate_exact_size(Vec2::new(size[0], size[1]), Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, Color32::from_gray(24));
    (rect.shrink2(Vec2::new(36.0, 14.0)), painter)
}

/// Line plot of `series` (log x when `log_x`), with axis labels and a legend.
pub fn lines(
    ui: &mut egui::Ui,
    _id: &str,
    series: &[Series<'_>],
    log_x: bool,
    size: [f32; 2],
    x_unit: &str,
    y_unit: &str,
) {
    let (r, painter) = frame(ui, size);
    let fx = |x: f64| if log_x { x.max(1e-9).log10() } else { x };
    let mut xr = (f64::INFINITY, f64::NEG_INFINITY);
    let mut yr = (f64::INFINITY, f64::NEG_INFINITY);
    for s in series {
        for p in s.points {
            if p[0].is_finite() && p[1].is_finite() {
                xr = (xr.0.min(fx(p[0])), xr.1.max(fx(p[0])));
                yr = (yr.0.min(p[1]), yr.1.max(p[1]));
            }
        }
    }
    if xr.0.is_infinite() || xr.0 >= xr.1 {
        return;
    }
    let yr = (yr.0.max(yr.1 - 80.0), yr.1 + 3.0);
    let (yr0, yr1) = if yr.0 < yr.1 {
        yr
    } else {
        (yr.0 - 1.0, yr.1 + 1.0)
    };
    let to = |x: f64, y: f64| {
        Pos2::new(
            r.left() + ((fx(x) - xr.0) / (xr.1 - xr.0)) as f32 * r.width(),
            r.bottom() - ((y.clamp(yr0, yr1) - yr0) / (yr1 - yr0)) as f32 * r.height(),
        )
    };
    let grid = Stroke::new(0.5, Color32::from_gray(60));
    let font = FontId::proportional(10.0);
    for k in 0..=4 {
        let y = yr0 + (yr1 - yr0) * k as f64 / 4.0;
        let p = to(if log_x { 10f64.powf(xr.0) } else { xr.0 }, y);
        painter.line_segment([Pos2::new(r.left(), p.y), Pos2::new(r.right(), p.y)], grid);
        painter.text(
            Pos2::new(r.left() - 4.0, p.y),
            Align2::RIGHT_CENTER,
            format!("{y:.0}"),
            font.clone(),
            Color32::GRAY,
        );
    }
    for k in 0..=4 {
        let xv = xr.0 + (xr.1 - xr.0) * k as f64 / 4.0;
        let x = if log_x { 10f64.powf(xv) } else { xv };
        let p = to(x, yr0);
        painter.line_segment([Pos2::new(p.x, r.top()), Pos2::new(p.x, r.bottom())], grid);
        let label = if log_x && x >= 1000.0 {
            format!("{:.1}k", x / 1000.0)
        } else if log_x {
            format!("{x:.0}")
        } else {
            format!("{x:.2}")
        };
        painter.text(
            Pos2::new(p.x, r.bottom() + 2.0),
            Align2::CENTER_TOP,
            label,
            font.clone(),
            Color32::GRAY,
        );
    }
    painter.text(
        r.right_top(),
        Align2::RIGHT_TOP,
        format!("{x_unit} / {y_unit}"),
        font.clone(),
        Color32::GRAY,
    );
    for (i, s) in series.iter().enumerate() {
        let pts: Vec<Pos2> = s
            .points
            .iter()
            .filter(|p| p[0].is_finite() && p[1].is_finite())
            .map(|p| to(p[0], p[1]))
            .collect();
        painter.add(Shape::line(pts, Stroke::new(1.5, s.color)));
        painter.text(
            Pos2::new(r.left() + 6.0, r.top() + 4.0 + 12.0 * i as f32),
            Align2::LEFT_TOP,
            s.name,
            font.clone(),
            s.color,
        );
    }
}

/// Grouped bar chart: one bar per (group, label), heights in seconds.
pub fn bars(
    ui: &mut egui::Ui,
    labels: &[&str],
    groups: &[(&str, Color32, Vec<f64>)],
    size: [f32; 2],
) {
    let (r, painter) = frame(ui, size);
    let max = groups
        .iter()
        .flat_map(|g| g.2.iter().copied())
        .fold(0.1f64, f64::max)
        * 1.15;
    let font = FontId::proportional(10.0);
    let slot = r.width() / labels.len() as f32;
    let bw = slot / (groups.len() as f32 + 1.0);
    for (li, label) in labels.iter().enumerate() {
        let x0 = r.left() + slot * li as f32;
        painter.text(
            Pos2::new(x0 + slot / 2.0, r.bottom() + 2.0),
            Align2::CENTER_TOP,
            *label,
            font.clone(),
            Color32::GRAY,
        );
        for (gi, (_, color, v)) in groups.iter().enumerate() {
            let h = (v[li] / max) as f32 * r.height();
            let left = x0 + bw * (gi as f32 + 0.5);
            let bar = Rect::from_min_max(
                Pos2::new(left, r.bottom() - h),
                Pos2::new(left + bw * 0.9, r.bottom()),
            );
            painter.rect_filled(bar, 1.0, *color);
            painter.text(
                Pos2::new(left + bw * 0.45, bar.top() - 2.0),
                Align2::CENTER_BOTTOM,
                format!("{:.2}", v[li]),
                font.clone(),
                Color32::WHITE,
            );
        }
    }
    for (gi, (name, color, _)) in groups.iter().enumerate() {
        painter.text(
            Pos2::new(r.right(), r.top() + 12.0 * gi as f32),
            Align2::RIGHT_TOP,
            *name,
            font.clone(),
            *color,
        );
    }
    painter.text(
        Pos2::new(r.left() - 4.0, r.top()),
        Align2::RIGHT_TOP,
        format!("{max:.1} s"),
        font,
        Color32::GRAY,
    );
}

/// Colour of a value on a dark-blue → yellow → red scale (`t` in 0–1).
pub fn heat(t: f64) -> Color32 {
    let t = t.clamp(0.0, 1.0) as f32;
    let (r, g, b) = if t < 0.5 {
        let u = t * 2.0;
        (40.0 + 215.0 * u, 60.0 + 160.0 * u, 140.0 - 100.0 * u)
    } else {
        let u = (t - 0.5) * 2.0;
        (255.0, 220.0 - 170.0 * u, 40.0)
    };
    Color32::from_rgb(r as u8, g as u8, b as u8)
}

/// Map of `values` (dB) at `directions` (azimuth°, elevation°) over azimuth 0–360° × elevation
/// −90–90°, coloured from 0 to the largest value; `selected` is marked. Returns the azimuth and
/// elevation clicked, if any.
pub fn direction_map(
    ui: &mut egui::Ui,
    directions: &[(f64, f64)],
    values: &[f64],
    selected: Option<(f64, f64)>,
    size: [f32; 2],
) -> Option<(f64, f64)> {
    let (rect, resp) = ui.allocate_exact_size(Vec2::new(size[0], size[1]), Sense::click());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, Color32::from_gray(24));
    let r = rect.shrink2(Vec2::new(36.0, 14.0));
    let to = |az: f64, el: f64| {
        Pos2::new(
            r.left() + (az.rem_euclid(360.0) / 360.0) as f32 * r.width(),
            r.bottom() - ((el.clamp(-90.0, 90.0) + 90.0) / 180.0) as f32 * r.height(),
        )
    };
    let max = values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let font = FontId::proportional(10.0);
    for (&(az, el), &v) in directions.iter().zip(values) {
        let t = if max > 0.0 { v / max } else { 0.0 };
        painter.circle_filled(to(az, el), 3.0, heat(t));
    }
    if let Some((az, el)) = selected {
        painter.circle_stroke(to(az, el), 6.0, Stroke::new(1.5, Color32::WHITE));
    }
    for (az, label) in [(0.0, "0°"), (90.0, "90°"), (180.0, "180°"), (270.0, "270°")] {
        painter.text(
            Pos2::new(to(az, -90.0).x, r.bottom() + 2.0),
            Align2::CENTER_TOP,
            label,
            font.clone(),
            Color32::GRAY,
        );
    }
    for (el, label) in [(-90.0, "-90°"), (0.0, "0°"), (90.0, "90°")] {
        painter.text(
            Pos2::new(r.left() - 4.0, to(0.0, el).y),
            Align2::RIGHT_CENTER,
            label,
            font.clone(),
            Color32::GRAY,
        );
    }
    painter.text(
        r.right_top(),
        Align2::RIGHT_TOP,
        format!("azimuth / elevation · 0 … {max:.1} dB"),
        font,
        Color32::GRAY,
    );
    let pos = resp.interact_pointer_pos().filter(|_| resp.clicked())?;
    let az = f64::from((pos.x - r.left()) / r.width()) * 360.0;
    let el = f64::from((r.bottom() - pos.y) / r.height()) * 180.0 - 90.0;
    Some((az.clamp(0.0, 360.0), el.clamp(-90.0, 90.0)))
}
