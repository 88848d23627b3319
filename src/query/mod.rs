//! SQL over a finished analysis.
//!
//! A [`Case`] opens an output folder and registers three tables with Polars SQL:
//! `timeline` (timeline.parquet, with the analyst's tags from annotations.json merged
//! into `tags`), `findings` and `finding_events`. Results are shown by [`Render`] in
//! the analyst's [`Zone`]; stored values stay UTC.

pub mod csv_safe;
mod load;
mod render;
mod zone;

pub use render::{cells, invisible_or_control, rows_of, terminal_safe, Cell, Format, Render};
pub use zone::{UnknownZone, Zone};

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use polars::prelude::*;
use polars::sql::SQLContext;

use crate::annotations::{Annotations, AnnotationsError};

/// The tables every case has.
pub const TABLES: [&str; 3] = ["timeline", "findings", "finding_events"];

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// Bad SQL, an unknown table or column: one line, ready to show.
    #[error("{0}")]
    Sql(String),
    #[error("no timeline.parquet at {0} (give the output folder of `chainline analyze` or a timeline.parquet)")]
    NoTimeline(PathBuf),
    #[error("reading {path}: {message}")]
    Load { path: PathBuf, message: String },
    #[error(transparent)]
    Annotations(#[from] AnnotationsError),
}

impl QueryError {
    fn load(path: &Path, e: impl std::fmt::Display) -> Self {
        QueryError::Load {
            path: path.to_path_buf(),
            message: one_line(&e.to_string()),
        }
    }
    fn sql(e: PolarsError) -> Self {
        QueryError::Sql(one_line(&e.to_string()))
    }
}

/// Polars errors may carry the query plan on following lines; the first line says it.
fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("unknown error")
        .to_string()
}

/// The stored timeline: scanned per query, or held in memory.
enum Stored {
    Scan(Box<LazyFrame>),
    Memory(DataFrame),
}

/// A first and a last time.
pub type Span = (DateTime<Utc>, DateTime<Utc>);

/// One opened analysis, ready for SQL.
pub struct Case {
    out: PathBuf,
    timeline_path: PathBuf,
    /// The timeline as stored, without annotation tags.
    base: Stored,
    /// The timeline as queried (annotation tags merged).
    timeline: LazyFrame,
    findings: DataFrame,
    ctx: SQLContext,
}

/// Runs one SQL statement over an output folder (or a timeline.parquet).
pub fn query(path: &Path, sql: &str) -> Result<DataFrame, QueryError> {
    Case::open(path)?.sql(sql)
}

impl Case {
    /// Opens a case for one-off queries: the timeline is scanned from Parquet, so a
    /// query reads only the columns and row groups it needs (all of them once the
    /// analyst has tagged rows: the tags are merged in memory).
    pub fn open(path: &Path) -> Result<Case, QueryError> {
        let (out, timeline_path) = load::locate(path)?;
        let base = Stored::Scan(Box::new(load::scan_timeline(&timeline_path)?));
        Self::with_base(out, timeline_path, base)
    }

    /// Opens a case for many queries (the shell): the timeline is read into memory once.
    pub fn open_in_memory(path: &Path) -> Result<Case, QueryError> {
        let (out, timeline_path) = load::locate(path)?;
        let base = Stored::Memory(load::read_timeline(&timeline_path)?);
        Self::with_base(out, timeline_path, base)
    }

    fn with_base(out: PathBuf, timeline_path: PathBuf, base: Stored) -> Result<Case, QueryError> {
        let (findings, events) = load::findings(&out)?;
        let ctx = SQLContext::new();
        ctx.register("findings", findings.clone().lazy());
        ctx.register("finding_events", events.lazy());
        let timeline = match &base {
            Stored::Scan(lf) => (**lf).clone(),
            Stored::Memory(df) => df.clone().lazy(),
        };
        let mut case = Case {
            out,
            timeline_path,
            base,
            timeline,
            findings,
            ctx,
        };
        case.reload_annotations()?;
        Ok(case)
    }

    /// The folder holding findings and annotations.
    pub fn out_dir(&self) -> &Path {
        &self.out
    }

    pub fn timeline_path(&self) -> &Path {
        &self.timeline_path
    }

    /// Re-reads annotations.json and merges its tags into the `timeline` table again.
    pub fn reload_annotations(&mut self) -> Result<(), QueryError> {
        let ann = Annotations::load(&self.out)?;
        let failed = |e: PolarsError| QueryError::load(&self.timeline_path, e);
        let merged = match (&self.base, ann.tags.is_empty()) {
            (Stored::Scan(lf), true) => (**lf).clone(),
            (Stored::Scan(lf), false) => {
                let df = (**lf).clone().collect().map_err(failed)?;
                load::with_annotation_tags(&df, &ann)
                    .map_err(failed)?
                    .lazy()
            }
            (Stored::Memory(df), _) => load::with_annotation_tags(df, &ann).map_err(failed)?.lazy(),
        };
        self.ctx.register("timeline", merged.clone());
        self.timeline = merged;
        Ok(())
    }

    /// The `timeline` table as queried.
    pub fn timeline(&self) -> LazyFrame {
        self.timeline.clone()
    }

    pub fn findings(&self) -> &DataFrame {
        &self.findings
    }

    /// Runs one SQL statement (a trailing `;` is allowed).
    pub fn sql(&mut self, sql: &str) -> Result<DataFrame, QueryError> {
        let sql = sql
            .trim()
            .trim_end_matches(|c: char| c == ';' || c.is_whitespace());
        if sql.is_empty() {
            return Err(QueryError::Sql("empty query".into()));
        }
        // A query-engine panic on some corner of SQL must not end a shell session.
        let ctx = &mut self.ctx;
        let run = std::panic::AssertUnwindSafe(|| ctx.execute(sql).and_then(LazyFrame::collect));
        match std::panic::catch_unwind(run) {
            Ok(result) => result.map_err(QueryError::sql),
            Err(payload) => {
                let what = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Err(QueryError::Sql(format!(
                    "the query engine failed on this statement: {}",
                    one_line(&what)
                )))
            }
        }
    }

    /// Every table name, the built-in ones first.
    pub fn tables(&self) -> Vec<String> {
        let mut names: Vec<String> = TABLES.iter().map(|s| s.to_string()).collect();
        let mut extra: Vec<String> = self
            .ctx
            .get_tables()
            .into_iter()
            .filter(|t| !names.contains(t))
            .collect();
        extra.sort();
        names.extend(extra);
        names
    }

    /// Column names and types of a table.
    pub fn schema(&mut self, table: &str) -> Result<Vec<(String, DataType)>, QueryError> {
        let quoted = format!("\"{}\"", table.replace('"', "\"\""));
        let schema = self
            .ctx
            .execute(&format!("SELECT * FROM {quoted} LIMIT 0"))
            .and_then(|mut lf| lf.collect_schema())
            .map_err(QueryError::sql)?;
        Ok(schema
            .iter()
            .map(|(n, t)| (n.to_string(), t.clone()))
            .collect())
    }

    /// A finding's first and last event time, when the finding exists and has them.
    pub fn finding_span(&self, id: &str) -> Result<Option<Span>, QueryError> {
        let hit = self
            .findings
            .clone()
            .lazy()
            .filter(col("id").eq(lit(id)))
            .select([col("start"), col("end")])
            .limit(1)
            .collect()
            .map_err(QueryError::sql)?;
        let Ok(cols) = rows_of(&hit) else {
            return Ok(None);
        };
        let time = |c: Option<&Vec<Cell>>| match c.and_then(|v| v.first()) {
            Some(Cell::Time(t)) => Some(*t),
            // A detector that wrote its Parquet times as text.
            Some(Cell::Str(s)) => DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.with_timezone(&Utc)),
            _ => None,
        };
        Ok(match (time(cols.first()), time(cols.get(1))) {
            (Some(s), Some(e)) => Some((s.min(e), s.max(e))),
            (Some(s), None) => Some((s, s)),
            _ => None,
        })
    }

    /// Whether a finding with this id exists.
    pub fn has_finding(&self, id: &str) -> bool {
        self.findings
            .column("id")
            .ok()
            .and_then(|c| c.str().ok().map(|s| s.iter().any(|v| v == Some(id))))
            .unwrap_or(false)
    }
}
