//! Small PNG line plots (plotters bitmap backend, built without font support to keep the build
//! light: no text is drawn — series 1 is blue, 2 red, 3 green, 4 magenta; the y range is the data
//! range and the x axis runs from 0 to the last index × x_scale).

use anyhow::{anyhow, Result};
use plotters::prelude::*;
use std::path::Path;

/// Draws one or more series against `index·x_scale` into a 900×500 PNG; non-finite points are
/// skipped.
pub fn line_plot(path: &Path, series: &[(&str, Vec<f64>)], x_scale: f64) -> Result<()> {
    let err = |e: &dyn std::fmt::Display| anyhow!("plot {}: {e}", path.display());
    let finite = || {
        series
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .filter(|v| v.is_finite())
    };
    let (mut lo, mut hi) = finite().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if !lo.is_finite() {
        return Err(anyhow!("plot {}: no finite values", path.display()));
    }
    if hi <= lo {
        hi = lo + 1.0;
        lo -= 1.0;
    }
    let n = series
        .iter()
        .map(|(_, v)| v.len())
        .max()
        .unwrap_or(1)
        .max(2);
    let x_max = (n - 1) as f64 * x_scale;
    let root = BitMapBackend::new(path, (900, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .margin(12)
        .build_cartesian_2d(0.0..x_max, lo..hi)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(0)
        .draw()
        .map_err(|e| err(&e))?;
    let colors = [BLUE, RED, GREEN, MAGENTA];
    for (k, (_, v)) in series.iter().enumerate() {
        let color = colors[k % colors.len()];
        // At most ~4000 points per series keeps plotting fast for long EDCs.
        let stride = (v.len() / 4000).max(1);
        chart
            .draw_series(LineSeries::new(
                v.iter()
                    .enumerate()
                    .step_by(stride)
                    .filter(|(_, y)| y.is_finite())
                    .map(|(i, &y)| (i as f64 * x_scale, y)),
                color,
            ))
            .map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// Grouped bar chart into a 900×500 PNG: one group per category, one bar per series (colours as
/// in [`line_plot`]); `None` values are left out. The y axis starts at 0.
pub fn bar_plot(path: &Path, series: &[(&str, Vec<Option<f64>>)]) -> Result<()> {
    let err = |e: &dyn std::fmt::Display| anyhow!("plot {}: {e}", path.display());
    let cats = series.iter().map(|(_, v)| v.len()).max().unwrap_or(0);
    let hi = series
        .iter()
        .flat_map(|(_, v)| v.iter().flatten().copied())
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    if cats == 0 || hi <= 0.0 {
        return Err(anyhow!(
            "plot {}: no positive finite values",
            path.display()
        ));
    }
    let root = BitMapBackend::new(path, (900, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .margin(12)
        .build_cartesian_2d(0.0..cats as f64, 0.0..hi * 1.1)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(0)
        .draw()
        .map_err(|e| err(&e))?;
    let colors = [BLUE, RED, GREEN, MAGENTA];
    let width = 0.8 / series.len().max(1) as f64;
    for (k, (_, v)) in series.iter().enumerate() {
        let color = colors[k % colors.len()];
        chart
            .draw_series(v.iter().enumerate().filter_map(|(i, y)| {
                let y = (*y)?;
                let x0 = i as f64 + 0.1 + k as f64 * width;
                Some(Rectangle::new(
                    [(x0, 0.0), (x0 + width * 0.9, y)],
                    color.filled(),
                ))
            }))
            .map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// Heat map of `frames × bins` dB values (frame-major) into a PNG, time left→right, frequency
/// bottom→top (first `max_bins` bins), colours from dark (≤ `floor_db` below the maximum) to
/// yellow (the maximum). Two maps side by side when `right` is given (e.g. target | fit).
pub fn heatmap(
    path: &Path,
    left: (&[f64], usize, usize),
    right: Option<(&[f64], usize, usize)>,
    max_bins: usize,
    floor_db: f64,
) -> Result<()> {
    let err = |e: &dyn std::fmt::Display| anyhow!("plot {}: {e}", path.display());
    let maps: Vec<(&[f64], usize, usize)> = std::iter::once(left).chain(right).collect();
    let top = maps
        .iter()
        .flat_map(|(v, _, _)| v.iter().copied())
        .filter(|v| v.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    if !top.is_finite() {
        return Err(anyhow!("plot {}: no finite values", path.display()));
    }
    let (w, h) = (450u32, 400u32);
    let root = BitMapBackend::new(path, (w * maps.len() as u32, h)).into_drawing_area();
    root.fill(&BLACK).map_err(|e| err(&e))?;
    let panels = root.split_evenly((1, maps.len()));
    for (panel, (v, frames, bins)) in panels.iter().zip(&maps) {
        let shown = (*bins).min(max_bins).max(1);
        let frames = (*frames).max(1);
        for px in 0..w {
            let f = (px as usize * frames / w as usize).min(frames - 1);
            for py in 0..h {
                let b = ((h - 1 - py) as usize * shown / h as usize).min(shown - 1);
                let db = v.get(f * bins + b).copied().unwrap_or(f64::NEG_INFINITY);
                let x = ((db - top) / floor_db.abs().max(1e-9) + 1.0).clamp(0.0, 1.0);
                let c = RGBColor(
                    (255.0 * x.sqrt()) as u8,
                    (255.0 * x * x) as u8,
                    (255.0 * (1.0 - x) * x * 2.0).min(255.0) as u8,
                );
                panel
                    .draw_pixel((px as i32, py as i32), &c)
                    .map_err(|e| err(&e))?;
            }
        }
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
