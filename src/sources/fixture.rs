//! Test evidence built in code: a backup folder (Manifest.db + hashed file names) or a
//! filesystem dump, and a runner that parses it with one source and returns its rows in
//! a form tests can compare exactly.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::evidence::{Evidence, Lookup};

use super::{Parse, Source};

/// An unencrypted backup folder with the real Manifest.db schema.
pub struct Backup {
    pub dir: tempfile::TempDir,
}

impl Backup {
    pub fn new() -> Backup {
        let dir = tempfile::tempdir().unwrap();
        let conn = rusqlite::Connection::open(dir.path().join("Manifest.db")).unwrap();
        conn.execute_batch(
            "CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, flags INTEGER, file BLOB);
             CREATE INDEX FilesDomainIdx ON Files(domain);
             CREATE INDEX FilesRelativePathIdx ON Files(relativePath);
             CREATE INDEX FilesFlagsIdx ON Files(flags);
             CREATE TABLE Properties (key TEXT PRIMARY KEY, value BLOB);",
        )
        .unwrap();
        Backup { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Lists a file in Manifest.db without storing it (as in a trimmed backup).
    pub fn list(&self, domain: &str, rel: &str, flags: i64) -> String {
        use sha1::Digest;
        let id = hex::encode(sha1::Sha1::digest(format!("{domain}-{rel}").as_bytes()));
        let conn = rusqlite::Connection::open(self.dir.path().join("Manifest.db")).unwrap();
        conn.execute("INSERT INTO Files (fileID, domain, relativePath, flags, file) VALUES (?1, ?2, ?3, ?4, NULL)", rusqlite::params![id, domain, rel, flags])
            .unwrap();
        id
    }

    /// Lists a file and stores its bytes under the hashed name.
    pub fn add(&self, domain: &str, rel: &str, bytes: &[u8]) {
        let id = self.list(domain, rel, 1);
        let sub = self.dir.path().join(&id[..2]);
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(&id), bytes).unwrap();
    }
}

/// A filesystem dump: `files` are (path under the root, bytes).
pub fn filesystem(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("private/var")).unwrap();
    for (p, b) in files {
        let path = dir.path().join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b).unwrap();
    }
    dir
}

/// Builds a SQLite file with `sql` and returns its bytes.
pub fn sqlite_bytes(sql: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(sql).unwrap();
    }
    std::fs::read(path).unwrap()
}

/// One timeline row, flattened for comparison (`ts` as RFC 3339 or "").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub ts: String,
    pub source: String,
    pub kind: String,
    pub actor: String,
    pub target: String,
    pub message: String,
    pub bytes_in: Option<i64>,
    pub bytes_out: Option<i64>,
    pub artifact: String,
    pub record: String,
    pub tags: Vec<String>,
}

/// What parsing one artifact gave.
#[derive(Debug)]
pub struct Outcome {
    pub artifact: String,
    pub rows: Vec<Row>,
    pub warnings: Vec<String>,
    pub facts: serde_json::Map<String, serde_json::Value>,
    pub error: Option<String>,
}

/// What a source found in some evidence: parsed artifacts and missing ones.
#[derive(Debug, Default)]
pub struct Run {
    pub parsed: Vec<Outcome>,
    pub missing: Vec<(String, String)>,
}

impl Run {
    pub fn only(&self) -> &Outcome {
        assert_eq!(
            self.parsed.len(),
            1,
            "expected one parsed artifact: {:?}",
            self.parsed.iter().map(|o| &o.artifact).collect::<Vec<_>>()
        );
        &self.parsed[0]
    }
}

pub fn run(source: &dyn Source, root: &Path) -> Run {
    let ev = Evidence::discover(&[root.to_path_buf()]).unwrap();
    let mut out = Run::default();
    for l in source.discover(&ev) {
        match l {
            Lookup::Found(art) => {
                let mut p = Parse::new(&ev, &art);
                let result = source.parse(&mut p);
                let (builder, warnings, facts) = p.into_parts();
                let df = builder.finish().unwrap();
                out.parsed.push(Outcome {
                    artifact: art.logical.clone(),
                    rows: rows_of(&df),
                    warnings,
                    facts,
                    error: result.err().map(|e| e.to_string()),
                });
            }
            Lookup::Missing {
                logical, reason, ..
            } => out.missing.push((logical, reason)),
        }
    }
    out
}

/// Reads a timeline frame back into rows (shared with the conformance tests' needs).
pub fn rows_of(df: &DataFrame) -> Vec<Row> {
    let s = |name: &str| df.column(name).unwrap().str().unwrap().clone();
    let i = |name: &str| df.column(name).unwrap().i64().unwrap().clone();
    let ts = df
        .column("ts")
        .unwrap()
        .datetime()
        .unwrap()
        .physical()
        .clone();
    let (source, kind, actor, target, message, artifact, record) = (
        s("source"),
        s("kind"),
        s("actor"),
        s("target"),
        s("message"),
        s("artifact"),
        s("record"),
    );
    let (bin, bout) = (i("bytes_in"), i("bytes_out"));
    let tags = df.column("tags").unwrap().list().unwrap().clone();
    (0..df.height())
        .map(|k| Row {
            ts: ts
                .get(k)
                .and_then(crate::timeline::time::from_micros)
                .map(|t| crate::timeline::time::rfc3339(&t))
                .unwrap_or_default(),
            source: source.get(k).unwrap_or("").to_string(),
            kind: kind.get(k).unwrap_or("").to_string(),
            actor: actor.get(k).unwrap_or("").to_string(),
            target: target.get(k).unwrap_or("").to_string(),
            message: message.get(k).unwrap_or("").to_string(),
            bytes_in: bin.get(k),
            bytes_out: bout.get(k),
            artifact: artifact.get(k).unwrap_or("").to_string(),
            record: record.get(k).unwrap_or("").to_string(),
            tags: tags
                .get_as_series(k)
                .map(|s| {
                    s.str()
                        .unwrap()
                        .iter()
                        .map(|t| t.unwrap_or("").to_string())
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

/// Every file under `dir` with its bytes: compare before and after a run to show the
/// evidence was not touched.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path().strip_prefix(dir).unwrap().to_path_buf(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// (kind, ts, actor, target, record, tags) of each row: the part tests assert exactly.
pub fn brief(rows: &[Row]) -> Vec<(String, String, String, String, String, Vec<String>)> {
    rows.iter()
        .map(|r| {
            (
                r.kind.clone(),
                r.ts.clone(),
                r.actor.clone(),
                r.target.clone(),
                r.record.clone(),
                r.tags.clone(),
            )
        })
        .collect()
}

/// Shorthand for building expected `brief` tuples.
pub fn b(
    kind: &str,
    ts: &str,
    actor: &str,
    target: &str,
    record: &str,
    tags: &[&str],
) -> (String, String, String, String, String, Vec<String>) {
    (
        kind.into(),
        ts.into(),
        actor.into(),
        target.into(),
        record.into(),
        tags.iter().map(|t| t.to_string()).collect(),
    )
}

/// One text column of a built frame, nulls as "" (unit tests of the bytes parsers).
pub fn texts(df: &DataFrame, column: &str) -> Vec<String> {
    df.column(column)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.unwrap_or("").to_string())
        .collect()
}

/// Row `i`'s time as RFC 3339 with `+00:00`, or None.
pub fn ts_at(df: &DataFrame, i: usize) -> Option<String> {
    let us = df
        .column("ts")
        .unwrap()
        .datetime()
        .unwrap()
        .physical()
        .get(i)?;
    crate::timeline::time::from_micros(us).map(|t| t.to_rfc3339())
}
