//! `OUT/annotations.json`: what the analyst added by hand (tags on timeline rows, notes on
//! findings). The shell writes it, the report shows it; evidence and the timeline are
//! never changed by an annotation.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub const FILE_NAME: &str = "annotations.json";

#[derive(Debug, Error)]
pub enum AnnotationsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid annotations JSON: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A tag the analyst put on the timeline rows of one evidence record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub artifact: String,
    pub record: String,
    pub tag: String,
    /// RFC 3339 UTC.
    pub added: String,
}

/// A note the analyst wrote on a finding (`F001`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub finding: String,
    pub text: String,
    /// RFC 3339 UTC.
    pub added: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Annotations {
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub notes: Vec<Note>,
}

impl Annotations {
    /// Reads `out_dir/annotations.json`; a missing file is an empty set.
    pub fn load(out_dir: &Path) -> Result<Annotations, AnnotationsError> {
        let path = out_dir.join(FILE_NAME);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Annotations::default()),
            Err(source) => return Err(AnnotationsError::Read { path, source }),
        };
        serde_json::from_slice(&bytes).map_err(|source| AnnotationsError::Parse { path, source })
    }

    /// Writes `out_dir/annotations.json` through a temp file and a rename, so a crash
    /// mid-write never leaves a half file behind.
    pub fn save(&self, out_dir: &Path) -> Result<(), AnnotationsError> {
        let path = out_dir.join(FILE_NAME);
        let tmp = out_dir.join(format!(".{FILE_NAME}.tmp"));
        let write_err = |source| AnnotationsError::Write {
            path: path.clone(),
            source,
        };
        let json =
            serde_json::to_vec_pretty(self).map_err(|e| write_err(std::io::Error::other(e)))?;
        std::fs::write(&tmp, json).map_err(write_err)?;
        std::fs::rename(&tmp, &path).map_err(write_err)
    }

    /// Tags on one evidence record, in the order they were added.
    pub fn tags_for<'a>(
        &'a self,
        artifact: &'a str,
        record: &'a str,
    ) -> impl Iterator<Item = &'a Tag> + 'a {
        self.tags
            .iter()
            .filter(move |t| t.artifact == artifact && t.record == record)
    }

    /// Notes on one finding, in the order they were added.
    pub fn notes_for<'a>(&'a self, finding: &'a str) -> impl Iterator<Item = &'a Note> + 'a {
        self.notes.iter().filter(move |n| n.finding == finding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            Annotations::load(dir.path()).unwrap(),
            Annotations::default()
        );
    }

    #[test]
    fn round_trip_keeps_the_contract_shape() {
        let dir = tempfile::tempdir().unwrap();
        let a = Annotations {
            tags: vec![Tag {
                artifact: "HomeDomain/Library/SMS/sms.db".into(),
                record: "message:3".into(),
                tag: "lure".into(),
                added: "2024-01-02T03:04:05.000000Z".into(),
            }],
            notes: vec![Note {
                finding: "F001".into(),
                text: "seen by the victim".into(),
                added: "2024-01-02T03:04:06.000000Z".into(),
            }],
        };
        a.save(dir.path()).unwrap();
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join(FILE_NAME)).unwrap()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "tags": [{"artifact": "HomeDomain/Library/SMS/sms.db", "record": "message:3", "tag": "lure", "added": "2024-01-02T03:04:05.000000Z"}],
                "notes": [{"finding": "F001", "text": "seen by the victim", "added": "2024-01-02T03:04:06.000000Z"}]
            })
        );
        let back = Annotations::load(dir.path()).unwrap();
        assert_eq!(back, a);
        assert_eq!(
            back.tags_for("HomeDomain/Library/SMS/sms.db", "message:3")
                .count(),
            1
        );
        assert_eq!(back.notes_for("F002").count(), 0);
    }

    #[test]
    fn partial_file_loads_and_bad_json_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), r#"{"notes": []}"#).unwrap();
        assert_eq!(
            Annotations::load(dir.path()).unwrap(),
            Annotations::default()
        );
        std::fs::write(dir.path().join(FILE_NAME), "{").unwrap();
        assert!(matches!(
            Annotations::load(dir.path()),
            Err(AnnotationsError::Parse { .. })
        ));
    }
}
