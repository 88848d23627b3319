//! The record of every evidence file read: path, size, modification time, SHA-256 of
//! the bytes on disk, and for a file of an encrypted backup also of its plaintext.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};

/// One evidence file as chain of custody needs it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct InputRecord {
    /// Where the file is: its path on disk, or `<archive>!/<member>` for a file read
    /// from inside an archive (a sysdiagnose `.tar.gz`). Names that are not UTF-8 are
    /// written lossily (U+FFFD).
    #[serde(serialize_with = "lossy_path")]
    pub path: PathBuf,
    pub logical: String,
    pub size: u64,
    /// Last modification time in UTC, RFC 3339 (for an archive member, the time its
    /// tar header records); `None` when the file system gives none.
    #[serde(default)]
    pub mtime: Option<String>,
    pub sha256: String,
    /// The decrypted content of a file of an encrypted backup (`size`/`sha256` above
    /// are always the evidence as it is on disk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plaintext: Option<PlainRecord>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct PlainRecord {
    pub size: u64,
    pub sha256: String,
    /// A size that did not fit what the backup recorded, and what was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Serde refuses paths that are not UTF-8; evidence file names may be anything.
pub(crate) fn lossy_path<S: Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&p.to_string_lossy())
}

#[derive(Debug, Default)]
pub struct InputLog {
    seen: Mutex<BTreeMap<PathBuf, InputRecord>>,
    /// Private folders an archive was unpacked into, and the archive they came from.
    unpacked: Mutex<Vec<(PathBuf, PathBuf)>>,
}

impl InputLog {
    pub fn record(&self, path: &Path, logical: &str, bytes: &[u8]) {
        if self.contains(path) {
            return;
        }
        // Hash outside the lock: sources run in parallel.
        let sha256 = hex::encode(Sha256::digest(bytes));
        self.insert(path, logical, bytes.len() as u64, sha256);
    }

    pub fn contains(&self, path: &Path) -> bool {
        match self.seen.lock() {
            Ok(g) => g.contains_key(path),
            Err(p) => p.into_inner().contains_key(path),
        }
    }

    /// Records a file hashed elsewhere (e.g. while it was streamed into a copy).
    pub fn insert(&self, path: &Path, logical: &str, size: u64, sha256: String) {
        let mtime = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .map(|t| crate::timeline::time::rfc3339(&chrono::DateTime::<chrono::Utc>::from(t)));
        let shown = self.shown_path(path);
        let mut seen = match self.seen.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        seen.entry(path.to_path_buf())
            .or_insert_with(|| InputRecord {
                path: shown,
                logical: logical.to_string(),
                size,
                mtime,
                sha256,
                plaintext: None,
            });
    }

    /// Adds the plaintext of a decrypted file to its record.
    pub fn record_plain(&self, path: &Path, d: &crate::evidence::crypto::Decrypted) {
        let mut seen = match self.seen.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if let Some(r) = seen.get_mut(path) {
            r.plaintext.get_or_insert_with(|| PlainRecord {
                size: d.plain_size,
                sha256: d.plain_sha256.clone(),
                note: d.note.clone(),
            });
        }
    }

    /// Says that files under `dir` (a private temp folder) were unpacked from `archive`,
    /// so they are recorded as `<archive>!/<member>` rather than by their temp path.
    pub fn unpacked_into(&self, dir: &Path, archive: &Path) {
        let mut u = match self.unpacked.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        u.push((dir.to_path_buf(), archive.to_path_buf()));
    }

    /// The path run.json and the report give for a file: itself, or
    /// `<archive>!/<member>` for a file unpacked from an archive.
    pub fn shown_path(&self, path: &Path) -> PathBuf {
        let u = match self.unpacked.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        for (dir, archive) in u.iter() {
            if let Ok(member) = path.strip_prefix(dir) {
                let mut s = archive.clone().into_os_string();
                s.push("!/");
                s.push(member.as_os_str());
                return PathBuf::from(s);
            }
        }
        path.to_path_buf()
    }

    /// Gives every file recorded below `root` the logical name `<label>/<logical>`
    /// (containers of the same kind in one case are told apart by a label).
    pub(crate) fn prefix_logical(&self, root: &Path, label: &str) {
        let mut seen = match self.seen.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        for (path, r) in seen.iter_mut() {
            if path.starts_with(root) && !r.logical.starts_with(&format!("{label}/")) {
                r.logical = format!("{label}/{}", r.logical);
            }
        }
    }

    /// All inputs, sorted by path.
    pub fn all(&self) -> Vec<InputRecord> {
        match self.seen.lock() {
            Ok(g) => g.values().cloned().collect(),
            Err(p) => p.into_inner().values().cloned().collect(),
        }
    }
}
