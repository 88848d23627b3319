//! Artifact parsers. One file per artifact, one trait, one registry.
//!
//! A [`Source`] says which evidence files it reads ([`Source::discover`]) and turns
//! one of them into timeline rows ([`Source::parse`]). Problems that spoil one row or
//! one table are warnings pushed to [`Parse::warn`]; an error returned from `parse`
//! marks only that artifact as failed. Every other artifact still runs.

pub mod addaily;
// The file-type sniffer lives with the inspector below the sources; the old path stays.
pub use crate::inspect::filetype as attachment_type;
pub mod crash;
pub mod datausage;
pub mod filetimes;
#[cfg(test)]
pub(crate) mod fixture;
pub mod globalprefs;
pub mod idstatus;
pub mod import;
pub mod installlog;
pub mod locationd;
pub mod lockdownd;
pub mod manifest;
pub mod powerlog;
pub mod privacyreport;
pub mod ps;
pub mod safari;
pub mod schema;
pub mod shutdown;
pub mod sms;
mod sms_deletions;
pub mod tcc;
pub mod textlog;
pub mod typedstream;
pub mod unifiedlog;

use thiserror::Error;

use crate::evidence::{Artifact, Evidence, EvidenceError, Lookup};
use crate::timeline::{Event, TimelineBuilder};

#[derive(Debug, Error)]
pub enum SourceError {
    #[error(transparent)]
    Evidence(#[from] EvidenceError),
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("plist: {0}")]
    Plist(#[from] plist::Error),
    #[error("plist: {0}")]
    PlistFile(#[from] crate::evidence::PlistError),
    #[error("{0}")]
    Format(String),
}

/// Warnings kept word for word per artifact; the rest are counted.
pub const MAX_WARNINGS: usize = 100;

/// What parsing one artifact yields: rows, warnings and facts. The bytes parsers
/// (`shutdown::parse_bytes`, `crash::parse_bytes`, ...) write here and need no
/// evidence at all, so tests and the fuzz targets can run them on bytes alone.
pub struct Output {
    /// The artifact's logical name, the default `artifact` of every row.
    logical: String,
    rows: TimelineBuilder,
    warnings: Vec<String>,
    more_warnings: usize,
    /// Source-specific facts for run.json (e.g. Z_PK gaps), as key → value.
    pub facts: serde_json::Map<String, serde_json::Value>,
}

impl Output {
    pub fn new(device: impl Into<String>, logical: impl Into<String>) -> Self {
        Output {
            logical: logical.into(),
            rows: TimelineBuilder::new(device),
            warnings: Vec::new(),
            more_warnings: 0,
            facts: Default::default(),
        }
    }

    /// Adds a row; `artifact` defaults to the artifact being parsed.
    pub fn emit(&mut self, mut e: Event) {
        if e.artifact.is_empty() {
            e.artifact = self.logical.clone();
        }
        self.rows.push(e);
    }

    /// Room for about `rows` more rows (an estimate; see [`TimelineBuilder::reserve`]).
    pub fn reserve(&mut self, rows: usize) {
        self.rows.reserve(rows);
    }

    /// Records a problem. Past [`MAX_WARNINGS`] they are only counted: a hostile file
    /// with a bad line in every line must not fill memory or run.json.
    pub fn warn(&mut self, w: impl Into<String>) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(w.into());
        } else {
            self.more_warnings += 1;
        }
    }

    pub fn rows(&self) -> usize {
        self.rows.len()
    }

    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub fn into_parts(
        self,
    ) -> (
        TimelineBuilder,
        Vec<String>,
        serde_json::Map<String, serde_json::Value>,
    ) {
        let mut warnings = self.warnings;
        if self.more_warnings > 0 {
            warnings.push(format!(
                "{} more warnings like the ones above (only the first {MAX_WARNINGS} are listed)",
                self.more_warnings
            ));
        }
        (self.rows, warnings, self.facts)
    }
}

/// What a source writes while parsing one artifact: an [`Output`] (through `Deref`)
/// plus the evidence the artifact is read from.
pub struct Parse<'a> {
    pub evidence: &'a Evidence,
    pub artifact: &'a Artifact,
    out: Output,
}

impl<'a> Parse<'a> {
    pub fn new(evidence: &'a Evidence, artifact: &'a Artifact) -> Self {
        let device = evidence.device_of(artifact).to_string();
        Parse {
            evidence,
            artifact,
            out: Output::new(device, artifact.logical.clone()),
        }
    }

    pub fn into_parts(
        self,
    ) -> (
        TimelineBuilder,
        Vec<String>,
        serde_json::Map<String, serde_json::Value>,
    ) {
        self.out.into_parts()
    }
}

impl std::ops::Deref for Parse<'_> {
    type Target = Output;

    fn deref(&self) -> &Output {
        &self.out
    }
}

impl std::ops::DerefMut for Parse<'_> {
    fn deref_mut(&mut self) -> &mut Output {
        &mut self.out
    }
}

pub trait Source: Send + Sync {
    /// The `source` column value, e.g. `sms`.
    fn name(&self) -> &'static str;
    /// The evidence files this source reads, found or missing.
    fn discover(&self, evidence: &Evidence) -> Vec<Lookup>;
    /// Turns one artifact into rows.
    fn parse(&self, p: &mut Parse<'_>) -> Result<(), SourceError>;
}

/// Every source chainline runs, in report order.
pub fn registry() -> Vec<Box<dyn Source>> {
    vec![
        Box::new(manifest::Manifest),
        Box::new(filetimes::FileSystemTimes),
        Box::new(sms::Sms),
        Box::new(datausage::NetworkUsage::datausage()),
        Box::new(datausage::NetworkUsage::netusage()),
        Box::new(tcc::Tcc),
        Box::new(safari::Safari),
        Box::new(shutdown::ShutdownLog),
        Box::new(crash::CrashReport),
        Box::new(addaily::AdDaily),
        Box::new(locationd::LocationdClients),
        Box::new(idstatus::IdStatusCache),
        Box::new(import::MvtTimeline),
        Box::new(powerlog::PowerLog),
        Box::new(ps::ProcessList),
        Box::new(installlog::InstallLog),
        Box::new(lockdownd::LockdownLog),
        Box::new(privacyreport::PrivacyReport),
        Box::new(globalprefs::GlobalPreferences),
        Box::new(unifiedlog::UnifiedLog),
    ]
}

/// Reads a column that may hold an integer, a real, text or NULL as f64.
pub fn value_f64(v: rusqlite::types::ValueRef<'_>) -> Option<f64> {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Integer(i) => Some(i as f64),
        ValueRef::Real(f) => Some(f),
        ValueRef::Text(t) => std::str::from_utf8(t).ok()?.trim().parse().ok(),
        _ => None,
    }
}

/// Reads a column as i64 (reals truncated), NULL/blob as None.
pub fn value_i64(v: rusqlite::types::ValueRef<'_>) -> Option<i64> {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Integer(i) => Some(i),
        ValueRef::Real(f) if f.is_finite() => Some(f as i64),
        ValueRef::Text(t) => std::str::from_utf8(t).ok()?.trim().parse().ok(),
        _ => None,
    }
}

/// Reads a column as text; numbers are formatted, blobs decoded lossily.
pub fn value_string(v: rusqlite::types::ValueRef<'_>) -> Option<String> {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Null => None,
    }
}
