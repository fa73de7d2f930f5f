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
