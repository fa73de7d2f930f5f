//! PNG figures for people: line plots (EDCs, loss curves), grouped bar charts (band RTs), band
//! levels over a log frequency axis and spectrogram heat maps (time in s, log frequency in Hz,
//! colour scale in dB), each with a title, axis descriptions with units, tick labels and — where
//! more than one series is drawn — a legend.
//!
//! Text is drawn with DejaVu Sans (`trainer/assets/fonts`, licence beside it), compiled into the
//! binary and rasterised with `ab_glyph` (pure Rust: no system font libraries). Plotters measures
//! text with its `ab_glyph` feature (the font registered once by [`ensure_font`]); the PNG
//! backend is wrapped in [`TextBackend`], which draws each glyph at its pen position with its
//! side bearing and kerning (plotters 0.3.7's own ab_glyph drawing drops the bearings, so
//! letters sit unevenly: "tim e").
//!
//! Every `draw_*` function draws into a plotters drawing area, so one figure is either a PNG of
//! its own ([`write_png`], [`line_plot`], [`spectrogram_png`]) or a panel of a larger image (the fit's summary). Non-finite
//! values are skipped; data with nothing to draw is an error, never a panic.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use anyhow::{anyhow, Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters_backend::{BackendColor, BackendCoord, BackendTextStyle, DrawingErrorKind};
use std::path::Path;
use std::sync::OnceLock;
use tailor::analysis::spectrogram::Spectrogram;

/// A plotters drawing area in pixel coordinates.
pub type Area<DB> = DrawingArea<DB, Shift>;

/// The font family every text style here uses (registered by [`ensure_font`]).
pub const FONT: &str = "sans-serif";
/// Title size, pixels.
pub const TITLE_PX: u32 = 22;
/// Axis description size, pixels.
pub const DESC_PX: u32 = 17;
/// Tick label and legend size, pixels.
pub const LABEL_PX: u32 = 15;
/// Height of the strip above a plot that holds its title, pixels.
pub const TITLE_STRIP_PX: u32 = 34;
/// Series colours in order: blue, orange, green, purple (distinguishable with the common
/// colour-vision deficiencies in the first two, which carry room vs fit).
pub const PALETTE: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(230, 97, 1),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
];

const FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// The bundled font, parsed once; `None` if it cannot be read.
fn bundled_font() -> Option<&'static FontRef<'static>> {
    static PARSED: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    PARSED
        .get_or_init(|| FontRef::try_from_slice(FONT_BYTES).ok())
        .as_ref()
}

/// Registers the bundled DejaVu Sans as [`FONT`] with plotters (which measures legend text with
/// it), once per process; every draw function calls it first. Errors: the font cannot be read.
pub fn ensure_font() -> Result<()> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES)
                .ok()
                .and(bundled_font())
                .map(|_| ())
                .ok_or_else(|| "the bundled font DejaVuSans.ttf could not be read".to_string())
        })
        .clone()
        .map_err(|e| anyhow!(e))
}

/// The text could not be drawn: the bundled font is unreadable.
#[derive(Debug)]
pub struct NoFont;

impl std::fmt::Display for NoFont {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the bundled font DejaVuSans.ttf could not be read")
    }
}

impl std::error::Error for NoFont {}

/// One line of text laid out at `px` pixels: glyph outlines positioned from the top-left of its
/// box (baseline at the font's ascent), box width and height in pixels.
struct TextLayout {
    glyphs: Vec<ab_glyph::OutlinedGlyph>,
    width: i32,
    height: i32,
}

impl TextLayout {
    fn new(font: &FontRef<'static>, px: f64, text: &str) -> Self {
        let scale = PxScale::from(px.max(1.0) as f32);
        let scaled = font.as_scaled(scale);
        let mut pen = 0.0f32;
        let mut prev = None;
        let mut glyphs = Vec::new();
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(p) = prev {
                pen += scaled.kern(p, id);
            }
            let glyph = id.with_scale_and_position(scale, ab_glyph::point(pen, scaled.ascent()));
            glyphs.extend(font.outline_glyph(glyph));
            pen += scaled.h_advance(id);
            prev = Some(id);
        }
        TextLayout {
            glyphs,
            width: pen.ceil() as i32,
            height: (scaled.ascent() - scaled.descent()).ceil() as i32,
        }
    }
}

/// A plotters backend that draws text with the bundled font itself ([`TextLayout`]: bearings
/// and kerning kept, anti-aliased) and passes everything else to `B`.
pub struct TextBackend<B: DrawingBackend> {
    inner: B,
}

impl<B: DrawingBackend> TextBackend<B> {
    /// Wraps `inner`.
    pub fn new(inner: B) -> Self {
        TextBackend { inner }
    }
}

impl<B: DrawingBackend> DrawingBackend for TextBackend<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: plotters_backend::BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: plotters_backend::BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: plotters_backend::BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_path(path, style)
    }

    fn draw_circle<S: plotters_backend::BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: plotters_backend::BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.fill_polygon(vert, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.blit_bitmap(pos, size, src)
    }

    fn estimate_text_size<TStyle: BackendTextStyle>(
        &self,
        text: &str,
        style: &TStyle,
    ) -> Result<(u32, u32), DrawingErrorKind<B::ErrorType>> {
        let font = bundled_font().ok_or_else(|| DrawingErrorKind::FontError(Box::new(NoFont)))?;
        let l = TextLayout::new(font, style.size(), text);
        Ok((l.width.max(0) as u32, l.height.max(0) as u32))
    }

    fn draw_text<TStyle: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &TStyle,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        let color = style.color();
        if color.alpha == 0.0 || text.is_empty() {
            return Ok(());
        }
        let font = bundled_font().ok_or_else(|| DrawingErrorKind::FontError(Box::new(NoFont)))?;
        let l = TextLayout::new(font, style.size(), text);
        let anchor = style.anchor();
        let dx = match anchor.h_pos {
            HPos::Left => 0,
            HPos::Center => -l.width / 2,
            HPos::Right => -l.width,
        };
        let dy = match anchor.v_pos {
            VPos::Top => 0,
            VPos::Center => -l.height / 2,
            VPos::Bottom => -l.height,
        };
        let trans = style.transform();
        let (w, h) = self.get_size();
        let mut result = Ok(());
        for g in &l.glyphs {
            let b = g.px_bounds();
            let (x0, y0) = (b.min.x as i32, b.min.y as i32);
            g.draw(|x, y, coverage| {
                if result.is_err() || coverage <= 0.0 {
                    return;
                }
                let (x, y) = trans.transform(x0 + x as i32 + dx, y0 + y as i32 + dy);
                let (x, y) = (pos.0 + x, pos.1 + y);
                if x >= 0 && y >= 0 && x < w as i32 && y < h as i32 {
                    let c = BackendColor {
                        alpha: color.alpha * f64::from(coverage.min(1.0)),
                        rgb: color.rgb,
                    };
                    result = self.inner.draw_pixel((x, y), c);
                }
            });
        }
        result
    }
}

/// The PNG backend of this module: plotters' bitmap backend with [`TextBackend`]'s text.
pub type Png<'a> = TextBackend<BitMapBackend<'a>>;

/// A drawing error as an `anyhow` error.
fn de(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("drawing: {e}")
}

/// Text style of `px` pixels in [`FONT`], black unless coloured later.
fn font(px: u32) -> TextStyle<'static> {
    (FONT, px).into_font().color(&BLACK)
}

/// Draws `draw` on a white RGB image of `size` pixels in memory (`width·height·3` bytes).
pub fn render_rgb(
    size: (u32, u32),
    draw: impl FnOnce(&Area<Png>) -> Result<()>,
) -> Result<Vec<u8>> {
    ensure_font()?;
    let (w, h) = size;
    let mut buf = vec![255u8; w as usize * h as usize * 3];
    {
        let root = TextBackend::new(BitMapBackend::with_buffer(&mut buf, size)).into_drawing_area();
        root.fill(&WHITE).map_err(de)?;
        draw(&root)?;
        root.present().map_err(de)?;
    }
    Ok(buf)
}

/// A white PNG of `size` pixels at `path`, drawn by `draw` in memory first: nothing is written
/// when drawing fails. Errors name the file.
pub fn write_png(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&Area<Png>) -> Result<()>,
) -> Result<()> {
    render_rgb(size, draw)
        .and_then(|buf| {
            image::save_buffer_with_format(
                path,
                &buf,
                size.0,
                size.1,
                image::ColorType::Rgb8,
                image::ImageFormat::Png,
            )
            .map_err(anyhow::Error::from)
        })
        .with_context(|| format!("plot {}", path.display()))
}

/// Draws one panel of a larger image with `draw`; when that fails (e.g. nothing finite to
/// plot) the panel is blanked and says so under `title` instead, so one empty figure never
/// costs the others.
pub fn panel<DB: DrawingBackend>(
    area: &Area<DB>,
    title: &str,
    draw: impl FnOnce(&Area<DB>) -> Result<()>,
) -> Result<()> {
    let Err(e) = draw(area) else {
        return Ok(());
    };
    area.fill(&WHITE).map_err(de)?;
    let body = titled(area, title)?;
    let (w, h) = body.dim_in_pixel();
    body.draw(&Text::new(
        format!("nothing to plot: {e:#}"),
        (w as i32 / 2, h as i32 / 3),
        font(LABEL_PX)
            .color(&RGBColor(110, 110, 110))
            .pos(Pos::new(HPos::Center, VPos::Center)),
    ))
    .map_err(de)
}

/// Draws `title` centred in a strip of [`TITLE_STRIP_PX`] at the top of `area` (an empty title
/// leaves the strip blank) and returns the area below it.
pub fn titled<DB: DrawingBackend>(area: &Area<DB>, title: &str) -> Result<Area<DB>> {
    heading(area, title, TITLE_PX, TITLE_STRIP_PX)
}

/// Draws `title` at `px` pixels centred in a strip `strip_px` high at the top of `area` and
/// returns the area below it.
pub fn heading<DB: DrawingBackend>(
    area: &Area<DB>,
    title: &str,
    px: u32,
    strip_px: u32,
) -> Result<Area<DB>> {
    ensure_font()?;
    let (top, body) = area.split_vertically(strip_px);
    if !title.is_empty() {
        let (w, h) = top.dim_in_pixel();
        top.draw(&Text::new(
            title.to_string(),
            (w as i32 / 2, h as i32 / 2),
            font(px).pos(Pos::new(HPos::Center, VPos::Center)),
        ))
        .map_err(de)?;
    }
    Ok(body)
}

/// Draws lines of text from the top-left of `area`, the first one larger as a heading.
pub fn draw_text_block<DB: DrawingBackend>(area: &Area<DB>, lines: &[String]) -> Result<()> {
    ensure_font()?;
    let mut y = 12;
    for (i, line) in lines.iter().enumerate() {
        let px = if i == 0 { TITLE_PX - 2 } else { DESC_PX };
        area.draw(&Text::new(line.clone(), (16, y), font(px)))
            .map_err(de)?;
        y += px as i32 + 12;
    }
    Ok(())
}

/// Tick label formatter for a linear axis from `lo` to `hi` with at most `n` labels: as many
/// decimals as plotters' tick values there need, scientific notation ("1.8312e-3") where that
/// would take more than 4 decimals or the values reach 10⁶; never "-0".
fn tick_format(lo: f64, hi: f64, n: usize) -> impl Fn(&f64) -> String {
    use plotters::coord::ranged1d::Ranged;
    let ticks = if lo.is_finite() && hi.is_finite() && hi > lo {
        plotters::coord::types::RangedCoordf64::from(lo..hi).key_points(n)
    } else {
        Vec::new()
    };
    let mag = lo.abs().max(hi.abs());
    let tol = 1e-9 * mag.max(f64::MIN_POSITIVE);
    let exact = |d: usize| {
        let scale = 10f64.powi(d as i32);
        ticks
            .iter()
            .all(|v| ((v * scale).round() / scale - v).abs() <= tol)
    };
    let decimals = (0..=12).find(|&d| exact(d)).unwrap_or(12);
    let scientific = decimals > 4 || mag >= 1e6;
    let digits = if scientific {
        let step = ticks
            .windows(2)
            .map(|w| w[1] - w[0])
            .fold(f64::INFINITY, f64::min);
        let digits = mag.log10().floor() - step.log10().floor();
        if digits.is_finite() {
            digits.clamp(0.0, 8.0) as usize
        } else {
            3
        }
    } else {
        decimals
    };
    move |v: &f64| {
        let s = if scientific {
            format!("{v:.digits$e}")
        } else {
            format!("{v:.digits$}")
        };
        match s.strip_prefix('-') {
            Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
            _ => s,
        }
    }
}

/// Width in pixels of a y label area that holds `labels` (tick labels at [`LABEL_PX`]) and the
/// rotated axis description beside them.
fn y_label_area_px(labels: &[String]) -> u32 {
    let widest = bundled_font().map_or(0, |f| {
        labels
            .iter()
            .map(|l| TextLayout::new(f, f64::from(LABEL_PX), l).width)
            .max()
            .unwrap_or(0)
    });
    (widest.max(0) as u32 + DESC_PX + 30).max(64)
}

/// The y label area width for an axis from `lo` to `hi` labelled by `fmt`.
fn y_area_for(lo: f64, hi: f64, fmt: &impl Fn(&f64) -> String) -> u32 {
    y_label_area_px(&[fmt(&lo), fmt(&hi), fmt(&(0.5 * (lo + hi)))])
}

/// A frequency in Hz as a short tick label: "31.5", "125", "1k", "12.5k".
pub fn hz_label(f: f64) -> String {
    let trim = |v: f64| {
        let s = format!("{v:.1}");
        s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
    };
    if f >= 1000.0 {
        format!("{}k", trim(f / 1000.0))
    } else {
        trim(f)
    }
}

/// A band name for a centre frequency in Hz: "125 Hz", "1 kHz", "12.5 kHz".
pub fn band_name(fc_hz: f64) -> String {
    let l = hz_label(fc_hz);
    match l.strip_suffix('k') {
        Some(k) => format!("{k} kHz"),
        None => format!("{l} Hz"),
    }
}

/// The data range `[lo, hi]` widened by 4 % on each side (±1 around a single value).
fn padded(lo: f64, hi: f64) -> (f64, f64) {
    if hi > lo {
        let pad = 0.04 * (hi - lo);
        (lo - pad, hi + pad)
    } else {
        (lo - 1.0, hi + 1.0)
    }
}

/// Draws the legend of the series labelled so far in the upper right corner (every plot here
/// leaves room for it there).
fn legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
) -> Result<()> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .margin(10)
        .label_font(font(LABEL_PX))
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(150, 150, 150))
        .draw()
        .map_err(de)
}

/// A linear axis over `range` with ticks (and grid lines) exactly at `ticks`.
pub struct FixedTicks {
    inner: plotters::coord::types::RangedCoordf64,
    ticks: Vec<f64>,
}

impl FixedTicks {
    /// A linear axis over `range` with ticks at `ticks` (values outside the range are not drawn).
    pub fn new(range: std::ops::Range<f64>, ticks: Vec<f64>) -> Self {
        FixedTicks {
            inner: range.into(),
            ticks,
        }
    }
}

impl plotters::coord::ranged1d::Ranged for FixedTicks {
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: plotters::coord::ranged1d::KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // Ticks only on the bold (labelled) points, no light grid lines in between.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.inner.range()
    }
}

/// Title, axis descriptions (with units) and x scale of a line plot.
#[derive(Debug, Clone)]
pub struct LineSpec<'a> {
    /// Title above the plot.
    pub title: &'a str,
    /// x axis description with its unit, e.g. "time (s)".
    pub x_desc: &'a str,
    /// y axis description with its unit, e.g. "energy decay (dB)".
    pub y_desc: &'a str,
    /// x of point `i` is `i·x_scale` (1/fs in s for time, 1 for steps).
    pub x_scale: f64,
    /// Lowest y shown: points below it are left out (the line breaks there); `None`: the data's
    /// minimum.
    pub y_min: Option<f64>,
}

/// Draws `series` (name, values; point `i` at x = `i·x_scale`) as lines into `area` with the
/// title, axes and legend of `spec`; non-finite points and points below `spec.y_min` are skipped
/// (the line breaks there). Errors: nothing finite to draw, a non-finite x range.
pub fn draw_lines<DB: DrawingBackend>(
    area: &Area<DB>,
    spec: &LineSpec,
    series: &[(&str, &[f64])],
) -> Result<()> {
    let y_min = spec.y_min.unwrap_or(f64::NEG_INFINITY);
    let keep = |y: f64| y.is_finite() && y >= y_min;
    let (lo, hi) = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .filter(|&y| keep(y))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return Err(anyhow!("'{}': no finite values to plot", spec.title));
    }
    let (lo, hi) = padded(lo, hi);
    let n = series
        .iter()
        .map(|(_, v)| v.len())
        .max()
        .unwrap_or(0)
        .max(2);
    let x_max = (n - 1) as f64 * spec.x_scale;
    if !(x_max.is_finite() && x_max > 0.0) {
        return Err(anyhow!("'{}': bad x scale {}", spec.title, spec.x_scale));
    }
    let body = titled(area, spec.title)?;
    let (fx, fy) = (tick_format(0.0, x_max, 8), tick_format(lo, hi, 8));
    let mut chart = ChartBuilder::on(&body)
        .margin(8)
        .margin_right(24)
        .x_label_area_size(52)
        .y_label_area_size(y_area_for(lo, hi, &fy))
        .build_cartesian_2d(0.0..x_max, lo..hi)
        .map_err(de)?;
    chart
        .configure_mesh()
        .x_desc(spec.x_desc)
        .y_desc(spec.y_desc)
        .x_labels(8)
        .y_labels(8)
        .x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .label_style(font(LABEL_PX))
        .axis_desc_style(font(DESC_PX))
        .bold_line_style(RGBColor(215, 215, 215))
        .light_line_style(RGBColor(240, 240, 240))
        .max_light_lines(1)
        .draw()
        .map_err(de)?;
    for (k, (name, v)) in series.iter().enumerate() {
        let style = PALETTE[k % PALETTE.len()].stroke_width(2);
        chart
            .draw_series(LineSeries::new(std::iter::empty::<(f64, f64)>(), style))
            .map_err(de)?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
        // At most ~4000 points per series keeps plotting fast for long EDCs.
        let stride = (v.len() / 4000).max(1);
        let mut segment = Vec::new();
        for (i, &y) in v.iter().enumerate().step_by(stride) {
            if keep(y) {
                segment.push((i as f64 * spec.x_scale, y));
            } else if !segment.is_empty() {
                chart
                    .draw_series(LineSeries::new(std::mem::take(&mut segment), style))
                    .map_err(de)?;
            }
        }
        chart
            .draw_series(LineSeries::new(segment, style))
            .map_err(de)?;
    }
    if series.len() > 1 {
        legend(&mut chart)?;
    }
    Ok(())
}

/// [`draw_lines`] into a 900×500 PNG at `path`.
pub fn line_plot(path: &Path, spec: &LineSpec, series: &[(&str, &[f64])]) -> Result<()> {
    write_png(path, (900, 500), |a| draw_lines(a, spec, series))
}

/// Title and axis descriptions (with units) of a bar or band plot.
#[derive(Debug, Clone, Copy)]
pub struct AxesSpec<'a> {
    /// Title above the plot.
    pub title: &'a str,
    /// x axis description with its unit, e.g. "octave band (Hz)".
    pub x_desc: &'a str,
    /// y axis description with its unit, e.g. "RT (s)".
    pub y_desc: &'a str,
}

/// Draws a grouped bar chart into `area`: one group per category (labelled below the axis), one
/// bar per series with its value printed above it, a legend for more than one series; `None`
/// and non-finite values are left out ("n/a" where a category has none). The y axis starts at 0. Errors: no positive finite value.
pub fn draw_bars<DB: DrawingBackend>(
    area: &Area<DB>,
    spec: &AxesSpec,
    categories: &[String],
    series: &[(&str, Vec<Option<f64>>)],
) -> Result<()> {
    let value = |v: &Option<f64>| v.filter(|y| y.is_finite() && *y >= 0.0);
    let cats = categories.len();
    let hi = series
        .iter()
        .flat_map(|(_, v)| v.iter().filter_map(value))
        .fold(0.0f64, f64::max);
    if cats == 0 || hi <= 0.0 {
        return Err(anyhow!("'{}': no positive finite values", spec.title));
    }
    let body = titled(area, spec.title)?;
    let x_range = FixedTicks::new(
        -0.5..cats as f64 - 0.5,
        (0..cats).map(|i| i as f64).collect(),
    );
    // Headroom above the tallest bar for its value and the legend.
    let fy = tick_format(0.0, hi * 1.3, 8);
    let mut chart = ChartBuilder::on(&body)
        .margin(8)
        .margin_right(24)
        .x_label_area_size(52)
        .y_label_area_size(y_area_for(0.0, hi * 1.3, &fy))
        .build_cartesian_2d(x_range, 0.0..hi * 1.3)
        .map_err(de)?;
    let fx = |x: &f64| {
        let i = x.round();
        if i >= 0.0 && (x - i).abs() < 1e-6 {
            categories.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc(spec.x_desc)
        .y_desc(spec.y_desc)
        .y_labels(8)
        .x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .label_style(font(LABEL_PX))
        .axis_desc_style(font(DESC_PX))
        .bold_line_style(RGBColor(215, 215, 215))
        .light_line_style(RGBColor(240, 240, 240))
        .max_light_lines(1)
        .draw()
        .map_err(de)?;
    let width = 0.8 / series.len().max(1) as f64;
    let (w, _) = chart.plotting_area().dim_in_pixel();
    // Values above the bars only where a bar is wide enough for "0.00".
    let bar_px = f64::from(w) / cats as f64 * width;
    let value_px = (bar_px / 2.6).min(f64::from(LABEL_PX)) as u32;
    let decimals = if hi < 10.0 { 2 } else { 1 };
    for (k, (name, v)) in series.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let bars = v.iter().take(cats).enumerate().filter_map(|(i, y)| {
            let y = value(y)?;
            let x0 = i as f64 - 0.4 + k as f64 * width;
            Some(Rectangle::new(
                [(x0 + 0.05 * width, 0.0), (x0 + 0.95 * width, y)],
                color.filled(),
            ))
        });
        chart
            .draw_series(bars)
            .map_err(de)?
            .label(*name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled()));
        if value_px >= 9 {
            let labels = v.iter().take(cats).enumerate().filter_map(|(i, y)| {
                let y = value(y)?;
                let x = i as f64 - 0.4 + (k as f64 + 0.5) * width;
                Some(
                    EmptyElement::at((x, y))
                        + Text::new(
                            format!("{y:.decimals$}"),
                            (0, -3),
                            font(value_px).pos(Pos::new(HPos::Center, VPos::Bottom)),
                        ),
                )
            });
            chart.draw_series(labels).map_err(de)?;
        }
    }
    // A category without any value (e.g. a band above Nyquist) says so.
    let empty = (0..cats).filter(|&i| {
        series
            .iter()
            .all(|(_, v)| v.get(i).and_then(value).is_none())
    });
    chart
        .draw_series(empty.map(|i| {
            EmptyElement::at((i as f64, 0.0))
                + Text::new(
                    "n/a",
                    (0, -4),
                    font(LABEL_PX)
                        .color(&RGBColor(110, 110, 110))
                        .pos(Pos::new(HPos::Center, VPos::Bottom)),
                )
        }))
        .map_err(de)?;
    if series.len() > 1 {
        legend(&mut chart)?;
    }
    Ok(())
}

/// Octave-band centres in Hz used as ticks of log frequency axes (the ones in range are drawn).
const FREQ_TICKS_HZ: [f64; 13] = [
    16.0, 31.5, 63.0, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0, 31500.0,
    63000.0,
];

/// Draws per-band values over a log frequency axis into `area`: one line with a marker per band
/// for each series (`values[i]` belongs to `bands_hz[i]`; the line breaks at `None`), octave
/// ticks labelled in Hz, a legend for more than one series. Errors: no band with a positive
/// finite centre and a finite value.
pub fn draw_band_levels<DB: DrawingBackend>(
    area: &Area<DB>,
    spec: &AxesSpec,
    bands_hz: &[f64],
    series: &[(&str, Vec<Option<f64>>)],
) -> Result<()> {
    let points = |v: &[Option<f64>]| -> Vec<Option<(f64, f64)>> {
        bands_hz
            .iter()
            .zip(v)
            .map(|(&f, y)| {
                y.filter(|y| y.is_finite() && f.is_finite() && f > 0.0)
                    .map(|y| (f, y))
            })
            .collect()
    };
    let all: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|(_, v)| points(v))
        .flatten()
        .collect();
    if all.is_empty() {
        return Err(anyhow!("'{}': no finite band values", spec.title));
    }
    let fold = |g: fn(&(f64, f64)) -> f64| {
        all.iter()
            .map(g)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            })
    };
    let (f_lo, f_hi) = fold(|p| p.0);
    let (y_lo, y_hi) = fold(|p| p.1);
    let (f_lo, f_hi) = (f_lo / 1.25, f_hi * 1.25);
    let (y_lo, y_hi) = padded(y_lo, y_hi);
    // Room for the legend above the data.
    let y_hi = y_hi + 0.25 * (y_hi - y_lo);
    let ticks: Vec<f64> = FREQ_TICKS_HZ
        .iter()
        .copied()
        .filter(|f| (f_lo..=f_hi).contains(f))
        .collect();
    let body = titled(area, spec.title)?;
    let fy = tick_format(y_lo, y_hi, 8);
    let mut chart = ChartBuilder::on(&body)
        .margin(8)
        .margin_right(24)
        .x_label_area_size(52)
        .y_label_area_size(y_area_for(y_lo, y_hi, &fy))
        .build_cartesian_2d((f_lo..f_hi).log_scale().with_key_points(ticks), y_lo..y_hi)
        .map_err(de)?;
    let fx = |f: &f64| hz_label(*f);
    chart
        .configure_mesh()
        .x_desc(spec.x_desc)
        .y_desc(spec.y_desc)
        .y_labels(8)
        .x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .label_style(font(LABEL_PX))
        .axis_desc_style(font(DESC_PX))
        .bold_line_style(RGBColor(215, 215, 215))
        .light_line_style(RGBColor(240, 240, 240))
        .max_light_lines(1)
        .draw()
        .map_err(de)?;
    for (k, (name, v)) in series.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let style = color.stroke_width(2);
        let pts = points(v);
        chart
            .draw_series(
                pts.iter()
                    .flatten()
                    .map(|&p| Circle::new(p, 4, color.filled())),
            )
            .map_err(de)?
            .label(*name)
            .legend(move |(x, y)| {
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(0, 0), (24, 0)], style)
                    + Circle::new((12, 0), 4, color.filled())
            });
        for run in pts.split(Option::is_none) {
            chart
                .draw_series(LineSeries::new(run.iter().flatten().copied(), style))
                .map_err(de)?;
        }
    }
    if series.len() > 1 {
        legend(&mut chart)?;
    }
    Ok(())
}

/// Viridis colour for `t` in [0, 1] (dark violet → yellow); NaN gives the dark end.
pub fn viridis(t: f64) -> RGBColor {
    const STOPS: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    } * 4.0;
    let i = (t.floor() as usize).min(3);
    let f = t - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |x: f64, y: f64| (x + (y - x) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Bottom (x axis) label area of heat maps and their colour bar, pixels.
const HEAT_X_AREA_PX: u32 = 52;

/// Fills the plotting area of `chart` pixel by pixel with `colour(px, py, w, h)` (pixels from
/// its top-left corner, `w × h` its size).
pub fn paint<DB: DrawingBackend, CT: plotters::coord::CoordTranslate>(
    chart: &ChartContext<'_, DB, CT>,
    mut colour: impl FnMut(u32, u32, u32, u32) -> RGBColor,
) -> Result<()> {
    let area = chart.plotting_area().strip_coord_spec();
    let (w, h) = area.dim_in_pixel();
    for px in 0..w {
        for py in 0..h {
            area.draw_pixel((px as i32, py as i32), &colour(px, py, w, h))
                .map_err(de)?;
        }
    }
    Ok(())
}

/// Draws a vertical colour bar for values `lo..hi` (viridis, [`viridis`]) with ticks and the
/// description `desc` (e.g. "level (dB re max)") into `area`, aligned with heat maps drawn by
/// this module beside it (same title strip and bottom label area).
pub fn draw_colour_bar<DB: DrawingBackend>(
    area: &Area<DB>,
    lo: f64,
    hi: f64,
    desc: &str,
) -> Result<()> {
    if !(lo.is_finite() && hi.is_finite() && hi > lo) {
        return Err(anyhow!("colour bar: bad range {lo}..{hi}"));
    }
    let body = titled(area, "")?;
    let fy = tick_format(lo, hi, 8);
    let mut chart = ChartBuilder::on(&body)
        .margin(8)
        .margin_right(8)
        .x_label_area_size(HEAT_X_AREA_PX)
        .right_y_label_area_size(y_area_for(lo, hi, &fy))
        .build_cartesian_2d(0.0..1.0, lo..hi)
        .map_err(de)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_desc(desc)
        .y_labels(8)
        .y_label_formatter(&fy)
        .label_style(font(LABEL_PX))
        .axis_desc_style(font(DESC_PX))
        .draw()
        .map_err(de)?;
    paint(&chart, |_, py, _, h| {
        viridis(1.0 - (f64::from(py) + 0.5) / f64::from(h.max(1)))
    })
}

/// STFT length in samples for a plotted spectrogram at `fs` Hz: the power of two nearest above
/// ~42 ms (2048 at 44.1/48 kHz, 4096 at 96 kHz), at least 64; use a hop of 1/8 of it.
pub fn spectrogram_fft_len(fs: f64) -> usize {
    ((fs / 24.0) as usize).max(64).next_power_of_two()
}

/// Lowest frequency a spectrogram shows, Hz.
const SPECTROGRAM_FMIN_HZ: f64 = 20.0;

/// Draws spectrograms side by side (each titled with its name) with time in s, frequency in Hz on
/// a log axis (from 20 Hz or the first bin up to Nyquist, linear interpolation between bins) and
/// one viridis colour scale for all: the largest value over all maps is 0 dB and the scale ends
/// `range_db` below it; a colour bar on the right. Errors: no map, no finite value, a bad bin
/// spacing or hop.
pub fn draw_spectrograms<DB: DrawingBackend>(
    area: &Area<DB>,
    maps: &[(&str, &Spectrogram)],
    range_db: f64,
) -> Result<()> {
    let top = maps
        .iter()
        .flat_map(|(_, s)| s.db.iter().copied())
        .filter(|v| v.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    if maps.is_empty() || !top.is_finite() {
        return Err(anyhow!("spectrogram: no finite values"));
    }
    let range_db = if range_db.is_finite() && range_db > 0.0 {
        range_db
    } else {
        90.0
    };
    let t_max = maps
        .iter()
        .map(|(_, s)| s.frames as f64 * s.hop_s)
        .fold(0.0, f64::max);
    let bad = |s: &Spectrogram| {
        !(s.bin_hz.is_finite() && s.bin_hz > 0.0 && s.hop_s.is_finite() && s.hop_s > 0.0)
            || s.bins < 3
            || s.frames == 0
            || s.db.len() < s.frames * s.bins
    };
    if !(t_max.is_finite() && t_max > 0.0) || maps.iter().any(|(_, s)| bad(s)) {
        return Err(anyhow!("spectrogram: bad frame or bin spacing"));
    }
    let f_hi = maps
        .iter()
        .map(|(_, s)| (s.bins - 1) as f64 * s.bin_hz)
        .fold(f64::INFINITY, f64::min);
    let f_lo = maps
        .iter()
        .map(|(_, s)| s.bin_hz)
        .fold(SPECTROGRAM_FMIN_HZ, f64::max);
    if f_lo >= f_hi {
        return Err(anyhow!("spectrogram: too few frequency bins"));
    }
    let (w, _) = area.dim_in_pixel();
    let bar_px = 110.min(w / 4);
    let (maps_area, bar_area) = area.split_horizontally(w - bar_px);
    let panels = maps_area.split_evenly((1, maps.len()));
    let ticks: Vec<f64> = FREQ_TICKS_HZ
        .iter()
        .copied()
        .filter(|f| (f_lo..=f_hi).contains(f))
        .collect();
    for (panel, (name, s)) in panels.iter().zip(maps) {
        let body = titled(panel, name)?;
        let mut chart = ChartBuilder::on(&body)
            .margin(8)
            .margin_right(16)
            .x_label_area_size(HEAT_X_AREA_PX)
            .y_label_area_size(76)
            .build_cartesian_2d(
                0.0..t_max,
                (f_lo..f_hi).log_scale().with_key_points(ticks.clone()),
            )
            .map_err(de)?;
        let fx = tick_format(0.0, t_max, 6);
        let fy = |f: &f64| hz_label(*f);
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("time (s)")
            .y_desc("frequency (Hz)")
            .x_labels(6)
            .x_label_formatter(&fx)
            .y_label_formatter(&fy)
            .label_style(font(LABEL_PX))
            .axis_desc_style(font(DESC_PX))
            .draw()
            .map_err(de)?;
        let ratio = (f_hi / f_lo).ln();
        paint(&chart, |px, py, w, h| {
            let t = (f64::from(px) + 0.5) / f64::from(w) * t_max;
            let frame = ((t / s.hop_s) as usize).min(s.frames.saturating_sub(1));
            let f = f_lo * (ratio * (1.0 - (f64::from(py) + 0.5) / f64::from(h))).exp();
            let pos = f / s.bin_hz;
            let b = (pos.floor() as usize).min(s.bins - 2);
            let frac = (pos - b as f64).clamp(0.0, 1.0);
            let row = &s.db[frame * s.bins..(frame + 1) * s.bins];
            let db = row[b] + (row[b + 1] - row[b]) * frac;
            viridis((db - top) / range_db + 1.0)
        })?;
    }
    draw_colour_bar(&bar_area, -range_db, 0.0, "level (dB re max)")
}

/// [`draw_spectrograms`] into a PNG at `path`, 480 px wide per map (+ the colour bar), 460 high.
pub fn spectrogram_png(path: &Path, maps: &[(&str, &Spectrogram)], range_db: f64) -> Result<()> {
    let w = 480 * maps.len().max(1) as u32 + 110;
    write_png(path, (w, 460), |a| draw_spectrograms(a, maps, range_db))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Renders `draw` into a `w × h` RGB buffer.
    fn render(size: (u32, u32), draw: impl FnOnce(&Area<Png>) -> Result<()>) -> Vec<u8> {
        render_rgb(size, draw).unwrap()
    }

    /// Pixels darker than mid-grey in rows `y0..y1`, columns `x0..x1` of a `w`-wide RGB image.
    fn dark(buf: &[u8], w: u32, (x0, x1): (u32, u32), (y0, y1): (u32, u32)) -> usize {
        (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| ((y * w + x) * 3) as usize))
            .filter(|&i| buf[i..i + 3].iter().map(|&c| u32::from(c)).sum::<u32>() < 3 * 100)
            .count()
    }

    fn spec(title: &str) -> LineSpec<'_> {
        LineSpec {
            title,
            x_desc: "time (s)",
            y_desc: "energy decay (dB)",
            x_scale: 1e-3,
            y_min: Some(-80.0),
        }
    }

    fn decays() -> [Vec<f64>; 2] {
        let line = |rate: f64| (0..1000).map(|i| -rate * i as f64 / 1000.0).collect();
        [line(60.0), line(50.0)]
    }

    /// The title strip, the tick labels left of and below the plot and the legend carry text;
    /// without a title the strip stays blank (so the text is what the pixels show).
    #[test]
    fn line_plot_draws_title_ticks_and_legend_text() {
        let (w, h) = (900, 500);
        let [room, fit] = decays();
        let series = [("room", &room[..]), ("fit", &fit[..])];
        let with = render((w, h), |a| draw_lines(a, &spec("EDC room vs fit"), &series));
        let without = render((w, h), |a| draw_lines(a, &spec(""), &series));
        let title_strip = ((0, w), (0, TITLE_STRIP_PX));
        assert!(dark(&with, w, title_strip.0, title_strip.1) > 100);
        assert_eq!(dark(&without, w, title_strip.0, title_strip.1), 0);
        // Tick labels and the y description: the 60 px left of the y axis, below the title.
        assert!(dark(&without, w, (0, 60), (TITLE_STRIP_PX, h - 60)) > 200);
        // Tick labels and the x description: the strip below the x axis.
        assert!(dark(&without, w, (90, w), (h - 45, h)) > 200);
        // Legend text in the upper right of the plot (lines are coloured, not dark).
        assert!(dark(&without, w, (w - 200, w), (TITLE_STRIP_PX, 140)) > 50);
    }

    #[test]
    fn plots_refuse_empty_or_non_finite_data_without_panicking() {
        let dir = std::env::temp_dir().join(format!("tailor-plots-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.png");
        let nan = [f64::NAN; 10];
        assert!(line_plot(&p, &spec("t"), &[("a", &nan)]).is_err());
        assert!(line_plot(&p, &spec("t"), &[]).is_err());
        let bars: Vec<(&str, Vec<Option<f64>>)> = vec![("a", vec![None, Some(f64::NAN)])];
        let axes = AxesSpec {
            title: "t",
            x_desc: "x",
            y_desc: "y",
        };
        let cats = ["a".to_string(), "b".to_string()];
        let size = (900, 500);
        assert!(write_png(&p, size, |a| draw_bars(a, &axes, &cats, &bars)).is_err());
        assert!(write_png(&p, size, |a| draw_band_levels(a, &axes, &[1e2, 2e2], &bars)).is_err());
        let s = Spectrogram {
            db: vec![f64::NAN; 30],
            frames: 3,
            bins: 10,
            hop_s: 0.01,
            bin_hz: 100.0,
        };
        assert!(spectrogram_png(&p, &[("room", &s)], 90.0).is_err());
        let good = Spectrogram {
            db: vec![0.0; 30],
            ..s.clone()
        };
        let no_frames = Spectrogram {
            db: Vec::new(),
            frames: 0,
            ..s.clone()
        };
        assert!(spectrogram_png(&p, &[("room", &good), ("fit", &no_frames)], 90.0).is_err());
        // A failed figure writes no file; as a panel it says why instead.
        assert!(!p.exists());
        let img = render((600, 400), |a| {
            panel(a, "RT", |a| draw_bars(a, &axes, &cats, &bars))
        });
        assert!(dark(&img, 600, (0, 600), (0, TITLE_STRIP_PX)) > 20);
        let ink = img[(600 * 3 * TITLE_STRIP_PX) as usize..]
            .iter()
            .filter(|&&c| c < 200)
            .count();
        assert!(ink > 100, "{ink}");
        // Partly bad data draws what is finite.
        let some = [1.0, f64::NAN, f64::INFINITY, 2.0, 3.0];
        line_plot(&p, &spec("t"), &[("a", &some)]).unwrap();
        let bars = vec![
            ("a", vec![Some(1.0), None]),
            ("b", vec![Some(f64::NAN), Some(2.0)]),
        ];
        write_png(&p, size, |a| draw_bars(a, &axes, &cats, &bars)).unwrap();
        write_png(&p, size, |a| {
            draw_band_levels(a, &axes, &[1e2, -1.0], &bars)
        })
        .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn spectrogram_heat_map_has_its_axes_and_colour_bar() {
        let fs = 8000.0;
        let x: Vec<f64> = (0..8000)
            .map(|n| (-(n as f64) / 800.0).exp() * (n as f64 * 0.9).sin())
            .collect();
        let s = tailor::analysis::spectrogram::spectrogram_db(&x, fs, 256, 64);
        let (w, h) = (480 * 2 + 110, 460);
        let img = render((w, h), |a| {
            draw_spectrograms(a, &[("room", &s), ("fit", &s)], 80.0)
        });
        // Titles, the frequency ticks left of each map, the colour bar's dB ticks.
        assert!(dark(&img, w, (0, 480), (0, TITLE_STRIP_PX)) > 50);
        assert!(dark(&img, w, (0, 60), (TITLE_STRIP_PX, h - 60)) > 200);
        assert!(dark(&img, w, (w - 80, w), (TITLE_STRIP_PX, h - 60)) > 200);
    }

    #[test]
    fn labels_and_colours() {
        assert_eq!(hz_label(31.5), "31.5");
        assert_eq!(hz_label(125.0), "125");
        assert_eq!(hz_label(1000.0), "1k");
        assert_eq!(hz_label(12500.0), "12.5k");
        assert_eq!(band_name(8000.0), "8 kHz");
        assert_eq!(band_name(250.0), "250 Hz");
        assert_eq!(tick_format(0.0, 1.0, 8)(&-0.0001), "0.0");
        assert_eq!(tick_format(-80.0, 0.0, 8)(&-20.0), "-20");
        assert_eq!(tick_format(0.0, 0.6, 8)(&0.3), "0.3");
        assert_eq!(tick_format(0.0, 1.42, 8)(&0.4), "0.4");
        // A loss that moves in its 4th significant digit keeps its ticks apart.
        let f = tick_format(0.0018288, 0.0018313, 8);
        assert_eq!(f(&0.0018295), "1.8295e-3");
        assert_ne!(f(&0.0018300), f(&0.0018305));
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
    }
}
