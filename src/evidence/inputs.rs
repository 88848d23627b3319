//! The record of every evidence file read: path, size, SHA-256.

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
}

#[derive(Debug, Default)]
pub struct InputLog {
    seen: Mutex<BTreeMap<PathBuf, InputRecord>>,
}

impl InputLog {
    pub fn record(&self, path: &Path, logical: &str, bytes: &[u8]) {
        let mut seen = match self.seen.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if seen.contains_key(path) {
            return;
        }
        let sha256 = hex::encode(Sha256::digest(bytes));
        seen.insert(
            path.to_path_buf(),
            InputRecord {
                path: path.to_path_buf(),
                logical: logical.to_string(),
                size: bytes.len() as u64,
                sha256,
            },
        );
    }

    /// All inputs, sorted by path.
    pub fn all(&self) -> Vec<InputRecord> {
        match self.seen.lock() {
            Ok(g) => g.values().cloned().collect(),
            Err(p) => p.into_inner().values().cloned().collect(),
        }
    }
}
