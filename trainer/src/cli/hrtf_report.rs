//! `tailor hrtf-report FILE.sofa [--against OTHER.sofa] [--direction AZ,EL] [--json] [--png OUT]`:
//! HRTF magnitude per ear and ILD for one direction, and LSD between two HRTF sets per direction
//! (hrtfpykit `hrtf_difference` semantics, 20 Hz–20 kHz) as an azimuth × elevation map.
//!
//! All numbers come from `tailor::hrtf`; this module only formats them. The PNG is drawn with
//! plotters' bitmap backend and no font support (so it builds without system fonts): labels are
//! drawn with a built-in 3×5 pixel digit font.

use anyhow::{bail, Context};
use plotters::prelude::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use tailor::hrtf::metrics::{ild_broadband, ild_spectrum, lsd, LsdMap, LsdOptions, Reduce};
use tailor::hrtf::{Direction, Ear, HrirSet, HrtfSpectra};

/// Magnitude floor ε (linear) for printed dB values and LSD.
const EPSILON: f64 = 1e-12;

/// Arguments of `tailor hrtf-report`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// SOFA SimpleFreeFieldHRIR file (the reference set).
    pub file: PathBuf,
    /// A second SOFA file on the same source grid: LSD per direction against FILE (its HRIRs are
    /// resampled to FILE's rate when the rates differ).
    #[arg(long)]
    pub against: Option<PathBuf>,
    /// Direction for the magnitude/ILD report: AZIMUTH,ELEVATION in degrees (nearest measurement).
    #[arg(long, value_parser = parse_direction, default_value = "90,0", allow_hyphen_values = true)]
    pub direction: Direction,
    /// Print a JSON document instead of text.
    #[arg(long)]
    pub json: bool,
    /// Write a PNG map over azimuth × elevation: LSD (with --against) or broad-band ILD.
    #[arg(long)]
    pub png: Option<PathBuf>,
}

/// Parses `AZ,EL` in degrees.
fn parse_direction(s: &str) -> Result<Direction, String> {
    let parts: Vec<&str> = s.split(',').collect();
    let num = |t: &str| {
        let v = t
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("'{t}' is not a number of degrees"))?;
        if v.is_finite() {
            Ok(v)
        } else {
            Err(format!("'{t}' is not finite"))
        }
    };
    match parts.as_slice() {
        [az, el] => {
            let el = num(el)?;
            if !(-90.0..=90.0).contains(&el) {
                return Err(format!("elevation {el} is outside [-90, 90] degrees"));
            }
            Ok(Direction::new(num(az)?, el))
        }
        _ => Err("expected AZIMUTH,ELEVATION in degrees, e.g. 90,0".into()),
    }
}

/// Everything the report shows, computed from the sets.
#[derive(Debug)]
pub struct Report {
    /// JSON document (also the source of the text output).
    pub json: Value,
    /// LSD map (with --against).
    pub lsd: Option<LsdMap>,
    /// Broad-band ILD per measurement, dB.
    pub ild: Vec<f64>,
}

/// Builds the report for `reference` (and `against`, on the same grid) at direction `dir`.
pub fn build_report(
    reference: &HrirSet,
    against: Option<&HrirSet>,
    dir: &Direction,
) -> anyhow::Result<Report> {
    let m = reference.nearest(dir);
    let d = reference.directions()[m];
    let against = match against {
        Some(a) if (a.sample_rate() - reference.sample_rate()).abs() > 1e-9 => Some(
            a.resampled(reference.sample_rate())
                .context("resampling --against to FILE's rate")?,
        ),
        Some(a) => Some(a.clone()),
        None => None,
    };
    let fft_len = reference
        .len()
        .max(against.as_ref().map_or(0, HrirSet::len));
    let spectra = reference.spectra(Some(fft_len))?;
    let freqs = spectra.frequencies();
    let ild = ild_broadband(reference, EPSILON);
    let mut doc = json!({
        "file_directions": reference.n_directions(),
        "ir_length": reference.len(),
        "sample_rate_hz": reference.sample_rate(),
        "fft_length": fft_len,
        "direction": {
            "requested_azimuth_deg": dir.azimuth_deg,
            "requested_elevation_deg": dir.elevation_deg,
            "index": m,
            "azimuth_deg": d.azimuth_deg,
            "elevation_deg": d.elevation_deg,
            "radius_m": d.radius_m,
        },
        "frequencies_hz": freqs,
        "magnitude_db": {
            "left": spectra.magnitude_db_floored(m, Ear::Left, EPSILON),
            "right": spectra.magnitude_db_floored(m, Ear::Right, EPSILON),
        },
        "ild_broadband_db": ild[m],
        "ild_db": ild_spectrum(&spectra, m, EPSILON),
    });
    let mut map = None;
    if let Some(other) = &against {
        let other_spectra: HrtfSpectra = other.spectra(Some(fft_len))?;
        let l = lsd(&spectra, &other_spectra, &LsdOptions::default())
            .context("LSD between FILE and --against")?;
        let per_position = l.per_position(Reduce::Mean);
        let per_direction: Vec<Value> = l
            .positions
            .iter()
            .enumerate()
            .map(|(p, &idx)| {
                let dd = l.directions[p];
                json!({
                    "index": idx,
                    "azimuth_deg": dd.azimuth_deg,
                    "elevation_deg": dd.elevation_deg,
                    "left_db": l.value(p, 0),
                    "right_db": l.value(p, 1),
                    "mean_db": per_position[p],
                })
            })
            .collect();
        let mean = l.reduce(Reduce::Mean);
        doc["mean_lsd_db"] = json!(mean);
        doc["lsd"] = json!({
            "metric": "lsd",
            "band_hz": [20.0, 20000.0],
            "epsilon": EPSILON,
            "mean_lsd_db": mean,
            "rms_lsd_db": l.reduce(Reduce::Rms),
            "mean_lsd_left_db": l.per_ear(Reduce::Mean)[0],
            "mean_lsd_right_db": l.per_ear(Reduce::Mean)[1],
            "lsd_at_direction_db": per_position[m],
            "per_direction": per_direction,
        });
        map = Some(l);
    }
    Ok(Report {
        json: doc,
        lsd: map,
        ild,
    })
}

fn load(path: &Path) -> anyhow::Result<HrirSet> {
    HrirSet::from_sofa_file(path).with_context(|| format!("loading {}", path.display()))
}

/// Runs the report.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let reference = load(&args.file)?;
    let against = args.against.as_deref().map(load).transpose()?;
    let report = build_report(&reference, against.as_ref(), &args.direction)?;
    if let Some(png) = &args.png {
        match &report.lsd {
            Some(l) => {
                let values = l.per_position(Reduce::Mean);
                draw_map(png, &l.directions, &values, 0.0)?
            }
            None => draw_map(png, reference.directions(), &report.ild, f64::NAN)?,
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.json)?);
        return Ok(());
    }
    print_text(&args.file, &report);
    if let Some(png) = &args.png {
        let what = if report.lsd.is_some() {
            "LSD"
        } else {
            "broad-band ILD"
        };
        println!(
            "wrote {} ({what} map, azimuth 0–360° × elevation −90–90°)",
            png.display()
        );
    }
    Ok(())
}

fn print_text(file: &Path, r: &Report) {
    let j = &r.json;
    let d = &j["direction"];
    println!(
        "{}: {} directions, {} samples at {} Hz",
        file.display(),
        j["file_directions"],
        j["ir_length"],
        j["sample_rate_hz"].as_f64().unwrap_or(f64::NAN)
    );
    println!(
        "direction #{}: azimuth {:.2}°, elevation {:.2}° (nearest to {},{})",
        d["index"],
        d["azimuth_deg"].as_f64().unwrap_or(f64::NAN),
        d["elevation_deg"].as_f64().unwrap_or(f64::NAN),
        d["requested_azimuth_deg"],
        d["requested_elevation_deg"]
    );
    println!(
        "broad-band ILD: {:+.2} dB (positive = left louder)",
        j["ild_broadband_db"].as_f64().unwrap_or(f64::NAN)
    );
    let freqs: Vec<f64> = serde_json::from_value(j["frequencies_hz"].clone()).unwrap_or_default();
    let col = |key: &str, ear: &str| -> Vec<f64> {
        let v = if ear.is_empty() {
            j[key].clone()
        } else {
            j[key][ear].clone()
        };
        serde_json::from_value(v).unwrap_or_default()
    };
    let (left, right, ild) = (
        col("magnitude_db", "left"),
        col("magnitude_db", "right"),
        col("ild_db", ""),
    );
    println!("  freq (Hz)   left (dB)  right (dB)    ILD (dB)");
    for f in [125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0] {
        let Some(k) =
            (0..freqs.len()).min_by(|&a, &b| (freqs[a] - f).abs().total_cmp(&(freqs[b] - f).abs()))
        else {
            continue;
        };
        println!(
            "  {:>9.1} {:>11.2} {:>11.2} {:>11.2}",
            freqs[k], left[k], right[k], ild[k]
        );
    }
    if let Some(l) = &j.get("lsd") {
        println!(
            "LSD (20 Hz–20 kHz): mean {:.3} dB, rms {:.3} dB (left {:.3}, right {:.3}); at this direction {:.3} dB",
            l["mean_lsd_db"].as_f64().unwrap_or(f64::NAN),
            l["rms_lsd_db"].as_f64().unwrap_or(f64::NAN),
            l["mean_lsd_left_db"].as_f64().unwrap_or(f64::NAN),
            l["mean_lsd_right_db"].as_f64().unwrap_or(f64::NAN),
            l["lsd_at_direction_db"].as_f64().unwrap_or(f64::NAN),
        );
    }
}

/// 3×5 pixel glyphs (rows top to bottom, 3 bits each, MSB = left) for the map's labels.
fn glyph(c: char) -> Option<[u8; 5]> {
    Some(match c {
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 7, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 1, 1],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        '-' => [0, 0, 7, 0, 0],
        '.' => [0, 0, 0, 0, 2],
        _ => return None,
    })
}

/// Draws `text` (digits, '-', '.') with its top-left corner at `(x, y)` pixels, `scale` px/dot.
fn draw_label<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    x: i32,
    y: i32,
    text: &str,
    scale: i32,
) -> anyhow::Result<()> {
    for (i, c) in text.chars().enumerate() {
        let Some(rows) = glyph(c) else { continue };
        let x0 = x + i as i32 * 4 * scale;
        for (r, bits) in rows.iter().enumerate() {
            for col in 0..3 {
                if bits & (4 >> col) != 0 {
                    let (px, py) = (x0 + col * scale, y + r as i32 * scale);
                    area.draw(&Rectangle::new(
                        [(px, py), (px + scale, py + scale)],
                        BLACK.filled(),
                    ))
                    .map_err(|e| anyhow::anyhow!("drawing: {e}"))?;
                }
            }
        }
    }
    Ok(())
}

/// Viridis-like colour for `t` in [0, 1].
fn colour(t: f64) -> RGBColor {
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

/// Draws a nearest-measurement map of `values` over azimuth 0–360° (x) × elevation −90–90° (y)
/// with a colour bar; `floor` fixes the colour scale's minimum (NaN = data minimum).
fn draw_map(path: &Path, dirs: &[Direction], values: &[f64], floor: f64) -> anyhow::Result<()> {
    if dirs.is_empty() || dirs.len() != values.len() {
        bail!("nothing to draw");
    }
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let lo = if floor.is_finite() {
        floor
    } else {
        finite.iter().copied().fold(f64::INFINITY, f64::min)
    };
    let mut hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let lo = if lo.is_finite() { lo } else { 0.0 };
    if !hi.is_finite() || hi <= lo {
        hi = lo + 1.0;
    }
    let (w, h) = (880u32, 440u32);
    let (x0, y0, pw, ph) = (50i32, 20i32, 720i32, 360i32);
    let root = BitMapBackend::new(path, (w, h)).into_drawing_area();
    let err = |e: DrawingAreaErrorKind<_>| anyhow::anyhow!("drawing {}: {e}", path.display());
    root.fill(&WHITE).map_err(err)?;
    let units: Vec<[f64; 3]> = dirs.iter().map(Direction::unit_vector).collect();
    // 2° × 2° cells coloured by the nearest measured direction.
    for ai in 0..180 {
        for ei in 0..90 {
            let cell = Direction::new(ai as f64 * 2.0 + 1.0, 89.0 - ei as f64 * 2.0);
            let u = cell.unit_vector();
            let best = (0..units.len())
                .max_by(|&a, &b| {
                    let da = units[a][0] * u[0] + units[a][1] * u[1] + units[a][2] * u[2];
                    let db = units[b][0] * u[0] + units[b][1] * u[1] + units[b][2] * u[2];
                    da.total_cmp(&db)
                })
                .unwrap_or(0);
            let c = colour((values[best] - lo) / (hi - lo));
            let (px, py) = (x0 + ai * 4, y0 + ei * 4);
            root.draw(&Rectangle::new([(px, py), (px + 4, py + 4)], c.filled()))
                .map_err(err)?;
        }
    }
    root.draw(&Rectangle::new([(x0, y0), (x0 + pw, y0 + ph)], BLACK))
        .map_err(err)?;
    // Ticks: azimuth every 90°, elevation every 45°.
    for k in 0..=4 {
        let x = x0 + k * pw / 4;
        root.draw(&PathElement::new(
            vec![(x, y0 + ph), (x, y0 + ph + 6)],
            BLACK,
        ))
        .map_err(err)?;
        draw_label(&root, x - 8, y0 + ph + 10, &format!("{}", k * 90), 2)?;
    }
    for k in 0..=4 {
        let y = y0 + k * ph / 4;
        root.draw(&PathElement::new(vec![(x0 - 6, y), (x0, y)], BLACK))
            .map_err(err)?;
        let label = format!("{}", 90 - k * 45);
        draw_label(&root, x0 - 10 - 8 * label.len() as i32, y - 5, &label, 2)?;
    }
    // Colour bar with min/max labels.
    let (bx, bw) = (x0 + pw + 12, 14);
    for i in 0..ph {
        let t = 1.0 - i as f64 / (ph - 1) as f64;
        root.draw(&Rectangle::new(
            [(bx, y0 + i), (bx + bw, y0 + i + 1)],
            colour(t).filled(),
        ))
        .map_err(err)?;
    }
    draw_label(&root, bx + bw + 4, y0 + ph - 10, &format!("{lo:.1}"), 2)?;
    draw_label(&root, bx + bw + 4, y0, &format!("{hi:.1}"), 2)?;
    root.present().map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_against_a_louder_copy_has_6_db_mean_lsd() {
        let k = HrirSet::kemar().unwrap();
        let louder = k.scaled(10f64.powf(6.0 / 20.0)).unwrap();
        let r = build_report(&k, Some(&louder), &Direction::new(90.0, 0.0)).unwrap();
        assert!((r.json["mean_lsd_db"].as_f64().unwrap() - 6.0).abs() < 1e-9);
        let per = r.json["lsd"]["per_direction"].as_array().unwrap();
        assert_eq!(per.len(), 710);
        assert_eq!(r.json["direction"]["index"], 278);
        assert!(r.json["ild_broadband_db"].as_f64().unwrap() > 5.0);
        assert_eq!(
            r.json["magnitude_db"]["left"].as_array().unwrap().len(),
            257
        );
    }

    #[test]
    fn direction_parser() {
        let d = parse_direction("-30, 10.5").unwrap();
        assert_eq!((d.azimuth_deg, d.elevation_deg), (-30.0, 10.5));
        assert!(parse_direction("30").is_err());
        assert!(parse_direction("0,91").is_err());
        assert!(parse_direction("x,0").is_err());
    }

    #[test]
    fn colour_map_ends() {
        assert_eq!(colour(0.0), RGBColor(68, 1, 84));
        assert_eq!(colour(1.0), RGBColor(253, 231, 37));
        assert_eq!(colour(f64::NAN), colour(0.0));
    }
}
