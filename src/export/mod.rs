//! The timeline in other tools' formats: Timesketch (JSONL, CSV) and MVT's timeline.csv.
//!
//! Exports read the `timeline` table of a [`Case`], so the analyst's tags from
//! annotations.json travel with the rows. Every CSV cell of evidence text goes through
//! [`csv_safe::neutralise`].

// CSV neutralisation lives with the query layer below (its CSV output uses it too).
pub use crate::query::csv_safe;
mod mvt;
mod timesketch;

use std::io::{self, BufWriter, Write};
use std::path::Path;

use chrono::{DateTime, Utc};
use polars::prelude::*;

use crate::query::{cells, Case, Cell, QueryError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// One JSON object per line for Timesketch's importer.
    TimesketchJsonl,
    /// CSV with a header for Timesketch's importer.
    TimesketchCsv,
    /// MVT's timeline.csv layout, for diffing against `mvt-ios check-backup`.
    MvtCsv,
}

impl ExportFormat {
    pub fn parse(s: &str) -> Option<Self> {
        <Self as clap::ValueEnum>::from_str(s, true).ok()
    }
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exported {
    pub rows: usize,
    /// Rows left out because they have no time: both Timesketch and MVT need one.
    pub skipped_without_time: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error("reading the timeline: {0}")]
    Polars(#[from] PolarsError),
    #[error("writing {path}: {source}")]
    Write { path: String, source: io::Error },
}

/// One timeline row, typed, as exporters see it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    pub ts: Option<DateTime<Utc>>,
    pub source: String,
    pub kind: String,
    pub actor: String,
    pub target: String,
    pub message: String,
    pub bytes_in: Option<i64>,
    pub bytes_out: Option<i64>,
    pub artifact: String,
    pub record: String,
    pub device: String,
    pub tags: Vec<String>,
}

/// Writes the case's timeline to `file` in `format`.
pub fn export_file(
    case: &Case,
    format: ExportFormat,
    file: &Path,
) -> Result<Exported, ExportError> {
    let werr = |source| ExportError::Write {
        path: file.display().to_string(),
        source,
    };
    let f = std::fs::File::create(file).map_err(werr)?;
    let mut w = BufWriter::new(f);
    let done = export(case, format, &mut w).map_err(|e| match e {
        ExportError::Write { source, .. } => werr(source),
        other => other,
    })?;
    w.flush().map_err(werr)?;
    Ok(done)
}

/// Writes the case's timeline to `w` in `format`.
pub fn export(
    case: &Case,
    format: ExportFormat,
    w: &mut dyn Write,
) -> Result<Exported, ExportError> {
    let df = case.timeline().collect()?;
    let werr = |source| ExportError::Write {
        path: "output".into(),
        source,
    };
    match format {
        ExportFormat::TimesketchJsonl => timesketch::jsonl(&df, w),
        ExportFormat::TimesketchCsv => timesketch::csv(&df, w),
        ExportFormat::MvtCsv => mvt::csv(&df, w),
    }
    .map_err(|e| match e {
        RowError::Io(e) => werr(e),
        RowError::Polars(e) => ExportError::Polars(e),
    })
}

#[derive(Debug)]
enum RowError {
    Io(io::Error),
    Polars(PolarsError),
}

impl From<io::Error> for RowError {
    fn from(e: io::Error) -> Self {
        RowError::Io(e)
    }
}
impl From<csv::Error> for RowError {
    fn from(e: csv::Error) -> Self {
        RowError::Io(e.into())
    }
}
impl From<PolarsError> for RowError {
    fn from(e: PolarsError) -> Self {
        RowError::Polars(e)
    }
}

const CHUNK_ROWS: usize = 20_000;

/// Calls `f` with every row of a timeline frame, a slice at a time. A column an older
/// timeline lacks reads as empty.
fn each_row(
    df: &DataFrame,
    mut f: impl FnMut(Row) -> Result<(), RowError>,
) -> Result<(), RowError> {
    for offset in (0..df.height()).step_by(CHUNK_ROWS) {
        let chunk = df.slice(offset as i64, CHUNK_ROWS);
        let column = |name: &str| -> PolarsResult<Vec<Cell>> {
            match chunk.column(name) {
                Ok(c) => cells(c.as_materialized_series()),
                Err(_) => Ok(vec![Cell::Null; chunk.height()]),
            }
        };
        let [ts, source, kind, actor, target, message, bytes_in, bytes_out, artifact, record, device, tags] =
            crate::timeline::COLUMNS.map(column);
        let (ts, source, kind, actor, target, message) =
            (ts?, source?, kind?, actor?, target?, message?);
        let (bytes_in, bytes_out, artifact, record, device, tags) =
            (bytes_in?, bytes_out?, artifact?, record?, device?, tags?);
        for i in 0..chunk.height() {
            let text = |v: &[Cell]| match v.get(i) {
                Some(Cell::Str(s)) => s.clone(),
                _ => String::new(),
            };
            let int = |v: &[Cell]| match v.get(i) {
                Some(Cell::Int(n)) => Some(*n),
                _ => None,
            };
            f(Row {
                ts: match ts.get(i) {
                    Some(Cell::Time(t)) => Some(*t),
                    _ => None,
                },
                source: text(&source),
                kind: text(&kind),
                actor: text(&actor),
                target: text(&target),
                message: text(&message),
                bytes_in: int(&bytes_in),
                bytes_out: int(&bytes_out),
                artifact: text(&artifact),
                record: text(&record),
                device: text(&device),
                tags: match tags.get(i) {
                    Some(Cell::List(items)) => items
                        .iter()
                        .filter_map(|c| match c {
                            Cell::Str(s) => Some(s.clone()),
                            _ => None,
                        })
                        .collect(),
                    _ => Vec::new(),
                },
            })?;
        }
    }
    Ok(())
}
