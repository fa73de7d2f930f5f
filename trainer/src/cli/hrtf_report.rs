//! `tailor hrtf-report FILE.sofa [--against OTHER.sofa] [--direction AZ,EL] [--json] [--png OUT]`:
//! HRTF magnitude per ear and ILD for one direction, and LSD between two HRTF sets per direction
//! (hrtfpykit `hrtf_difference` semantics, 20 Hz–20 kHz) as an azimuth × elevation map.
//!
//! All numbers come from `tailor::hrtf`; this module only formats them. The PNG (drawn by
//! [`super::plots`], bundled font) is a map over azimuth and elevation in degrees with a title and
//! a colour scale in dB.

use super::plots::{self, draw_colour_bar, titled, viridis, write_png, FixedTicks};
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
                draw_map(
                    png,
                    &l.directions,
                    &values,
                    0.0,
                    "Log-spectral distance per direction (20 Hz–20 kHz, mean of both ears)",
                    "LSD (dB)",
                )?
            }
            None => draw_map(
                png,
                reference.directions(),
                &report.ild,
                f64::NAN,
                "Broad-band ILD per direction (positive = left ear louder)",
                "ILD (dB)",
            )?,
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

/// Draws a nearest-measurement map of `values` over azimuth 0–360° (x) × elevation −90–90° (y)
/// into a PNG at `path`: title, axes in degrees, a colour bar described by `unit` (e.g.
/// "LSD (dB)"); `floor` fixes the colour scale's minimum (NaN = data minimum). Errors: no
/// directions, a length mismatch, a drawing error.
fn draw_map(
    path: &Path,
    dirs: &[Direction],
    values: &[f64],
    floor: f64,
    title: &str,
    unit: &str,
) -> anyhow::Result<()> {
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
    // 2° × 2° cells (azimuth-major) holding the value of the nearest measured direction.
    let units: Vec<[f64; 3]> = dirs.iter().map(Direction::unit_vector).collect();
    let cells: Vec<f64> = (0..180)
        .flat_map(|ai| (0..90).map(move |ei| (ai, ei)))
        .map(|(ai, ei)| {
            let u = Direction::new(ai as f64 * 2.0 + 1.0, 89.0 - ei as f64 * 2.0).unit_vector();
            let dot = |k: usize| units[k][0] * u[0] + units[k][1] * u[1] + units[k][2] * u[2];
            let best = (0..units.len())
                .max_by(|&a, &b| dot(a).total_cmp(&dot(b)))
                .unwrap_or(0);
            values[best]
        })
        .collect();
    write_png(path, (1000, 520), |root| {
        let (w, _) = root.dim_in_pixel();
        let (map_area, bar_area) = root.split_horizontally(w - 110);
        let body = titled(&map_area, title)?;
        let x = FixedTicks::new(0.0..360.0, (0..=8).map(|k| f64::from(k) * 45.0).collect());
        let y = FixedTicks::new(
            -90.0..90.0,
            (0..=6).map(|k| f64::from(k) * 30.0 - 90.0).collect(),
        );
        let mut chart = ChartBuilder::on(&body)
            .margin(8)
            .margin_right(16)
            .x_label_area_size(52)
            .y_label_area_size(76)
            .build_cartesian_2d(x, y)
            .map_err(|e| anyhow::anyhow!("drawing: {e}"))?;
        let deg = |v: &f64| format!("{v:.0}");
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("azimuth (°, counter-clockwise from the front)")
            .y_desc("elevation (°)")
            .x_label_formatter(&deg)
            .y_label_formatter(&deg)
            .label_style((plots::FONT, plots::LABEL_PX))
            .axis_desc_style((plots::FONT, plots::DESC_PX))
            .draw()
            .map_err(|e| anyhow::anyhow!("drawing: {e}"))?;
        plots::paint(&chart, |px, py, w, h| {
            let ai = (px as usize * 180 / w.max(1) as usize).min(179);
            let ei = (py as usize * 90 / h.max(1) as usize).min(89);
            viridis((cells[ai * 90 + ei] - lo) / (hi - lo))
        })?;
        draw_colour_bar(&bar_area, lo, hi, unit)
    })
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
}
