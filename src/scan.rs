//! `chainline scan FILE|DIR`: the inspector alone over files on disk.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::inspect::{inspect, Limits, Report};

/// One scanned file.
#[derive(Debug, serde::Serialize)]
pub struct Scanned {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
    #[serde(flatten)]
    pub report: Report,
}

/// What a scan found over all files.
#[derive(Debug, Default)]
pub struct Summary {
    pub files: usize,
    pub bytes: u64,
    pub flagged: usize,
    pub errors: Vec<String>,
}

/// The files under the inputs (folders walked without following links), sorted.
fn files(inputs: &[PathBuf], errors: &mut Vec<String>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for input in inputs {
        for entry in walkdir::WalkDir::new(input).sort_by_file_name() {
            match entry {
                Ok(e) if e.file_type().is_file() => out.push(e.into_path()),
                Ok(_) => {}
                Err(e) => errors.push(format!("{}: {e}", input.display())),
            }
        }
    }
    out
}

fn read_capped(path: &Path, cap: usize) -> std::io::Result<(Vec<u8>, u64)> {
    let f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let mut buf = Vec::with_capacity((len as usize).min(cap));
    f.take(cap as u64).read_to_end(&mut buf)?;
    Ok((buf, len))
}

/// Inspect one file: `Err` names what could not be read.
pub fn scan_file(path: &Path, limits: &Limits) -> Result<Scanned, String> {
    let (bytes, len) =
        read_capped(path, limits.max_bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let mut report = inspect(&bytes, name.as_deref(), limits);
    if len > bytes.len() as u64 {
        report.notes.push(format!(
            "only the first {} of {len} bytes inspected",
            bytes.len()
        ));
    }
    Ok(Scanned {
        path: path.display().to_string(),
        sha256: hex::encode(Sha256::digest(&bytes)),
        bytes: len,
        report,
    })
}

/// Scan the inputs; write one line per finding (or one JSON array) to `out`.
pub fn run(inputs: &[PathBuf], json: bool, out: &mut dyn Write) -> anyhow::Result<Summary> {
    let limits = Limits::default();
    let mut summary = Summary::default();
    for input in inputs {
        if !input.exists() {
            anyhow::bail!("{} does not exist", input.display());
        }
    }
    let paths = files(inputs, &mut summary.errors);
    let results: Vec<Result<Scanned, String>> =
        paths.par_iter().map(|p| scan_file(p, &limits)).collect();
    let mut scanned = Vec::new();
    for r in results {
        match r {
            Ok(s) => {
                summary.files += 1;
                summary.bytes += s.bytes;
                if !s.report.findings.is_empty() {
                    summary.flagged += 1;
                }
                scanned.push(s);
            }
            Err(e) => summary.errors.push(e),
        }
    }
    if json {
        let flagged: Vec<&Scanned> = scanned
            .iter()
            .filter(|s| !s.report.findings.is_empty())
            .collect();
        serde_json::to_writer_pretty(&mut *out, &flagged)?;
        writeln!(out)?;
    } else {
        let safe = crate::query::terminal_safe;
        for s in &scanned {
            for f in &s.report.findings {
                let within = if f.within.is_empty() {
                    String::new()
                } else {
                    format!(" in {}", safe(&f.within))
                };
                writeln!(
                    out,
                    "{}: {} at offset {}{within}: {} (sha256 {})",
                    safe(&s.path),
                    f.check,
                    f.offset,
                    f.explanation,
                    s.sha256
                )?;
            }
        }
    }
    Ok(summary)
}
