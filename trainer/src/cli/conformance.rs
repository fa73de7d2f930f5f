//! `tailor conformance DIR`.

use crate::conformance::{check_file, golden_files};
use std::path::PathBuf;

/// Arguments of `tailor conformance`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory holding golden JSON files (e.g. data/golden).
    pub dir: PathBuf,
    /// Print every comparison, not only one line per case.
    #[arg(long)]
    pub verbose: bool,
}

/// Prints one line per case and `N passed, M failed`; exit code 1 on any failure.
pub fn run(args: &Args) -> anyhow::Result<i32> {
    let files = golden_files(&args.dir)?;
    let (mut passed, mut failed, mut skipped) = (0usize, 0usize, 0usize);
    for file in &files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let reports = match check_file(file) {
            Ok(Some(r)) => r,
            Ok(None) => {
                println!("SKIP {name}: no family understands this file");
                skipped += 1;
                continue;
            }
            Err(e) => {
                println!("FAIL {name}: {e:#}");
                failed += 1;
                continue;
            }
        };
        for r in reports {
            let ok = r.passed();
            let tag = if ok { "PASS" } else { "FAIL" };
            if let Some(err) = &r.error {
                println!("{tag} {}/{}: {err}", r.family, r.case);
            } else {
                let max_abs = r.comparisons.iter().map(|c| c.max_abs).fold(0.0, f64::max);
                let max_rel = r.comparisons.iter().map(|c| c.max_rel).fold(0.0, f64::max);
                println!(
                    "{tag} {}/{}: max_abs={max_abs:.3e} max_rel={max_rel:.3e}",
                    r.family, r.case
                );
                for c in r.comparisons.iter().filter(|c| args.verbose || !c.passed) {
                    println!(
                        "    {} {}: max_abs={:.3e} max_rel={:.3e} tol={:.1e}{}",
                        if c.passed { "ok  " } else { "FAIL" },
                        c.what,
                        c.max_abs,
                        c.max_rel,
                        c.tolerance,
                        c.note
                            .as_deref()
                            .map(|n| format!(" ({n})"))
                            .unwrap_or_default()
                    );
                }
            }
            if ok {
                passed += 1;
            } else {
                failed += 1;
            }
        }
    }
    if skipped > 0 {
        println!("({skipped} file(s) skipped)");
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed > 0 || passed == 0 { 1 } else { 0 })
}
