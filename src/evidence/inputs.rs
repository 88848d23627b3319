//! The record of every evidence file read: path, size, SHA-256 of the bytes on disk,
//! and for a file of an encrypted backup also of its plaintext.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct InputRecord {
    pub path: PathBuf,
    pub logical: String,
    pub size: u64,
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

#[derive(Debug, Default)]
pub struct InputLog {
    seen: Mutex<BTreeMap<PathBuf, InputRecord>>,
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
        let mut seen = match self.seen.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        seen.entry(path.to_path_buf())
            .or_insert_with(|| InputRecord {
                path: path.to_path_buf(),
                logical: logical.to_string(),
                size,
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

    /// All inputs, sorted by path.
    pub fn all(&self) -> Vec<InputRecord> {
        match self.seen.lock() {
            Ok(g) => g.values().cloned().collect(),
            Err(p) => p.into_inner().values().cloned().collect(),
        }
    }
}
