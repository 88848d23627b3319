//! The analyst's own marks on a case: tags on timeline rows and notes on findings.
//!
//! Stored beside the analysis as `OUT/annotations.json`, never in the timeline itself,
//! so re-running `analyze` does not lose them and the evidence-derived columns stay
//! exactly what the sources produced. The shell writes this file; the report reads it.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::timeline::time;

pub const FILE_NAME: &str = "annotations.json";

#[derive(Debug, thiserror::Error)]
pub enum AnnotationsError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid annotations JSON: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Annotations {
    #[serde(default)]
    pub tags: Vec<TagMark>,
    #[serde(default)]
    pub notes: Vec<Note>,
}

/// A tag the analyst put on every timeline row with this `artifact` + `record`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagMark {
    pub artifact: String,
    pub record: String,
    pub tag: String,
    #[serde(with = "rfc3339")]
    pub added: DateTime<Utc>,
}

/// A free-text note on a finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub finding: String,
    pub text: String,
    #[serde(with = "rfc3339")]
    pub added: DateTime<Utc>,
}

impl Annotations {
    pub fn path(out: &Path) -> PathBuf {
        out.join(FILE_NAME)
    }

    /// Reads `OUT/annotations.json`; a missing file is an empty set of annotations.
    pub fn load(out: &Path) -> Result<Self, AnnotationsError> {
        let path = Self::path(out);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => return Err(AnnotationsError::Read { path, source }),
        };
        serde_json::from_slice(&bytes).map_err(|source| AnnotationsError::Parse { path, source })
    }

    /// Writes `OUT/annotations.json` atomically: a temp file in the same folder, then a
    /// rename, so a reader (the report, another shell) never sees half a file.
    pub fn save(&self, out: &Path) -> Result<(), AnnotationsError> {
        let path = Self::path(out);
        let werr = |source| AnnotationsError::Write {
            path: path.clone(),
            source,
        };
        let json = serde_json::to_vec_pretty(self).map_err(|e| werr(e.into()))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".annotations")
            .suffix(".tmp")
            .tempfile_in(out)
            .map_err(werr)?;
        tmp.write_all(&json).map_err(werr)?;
        tmp.write_all(b"\n").map_err(werr)?;
        tmp.as_file().sync_all().map_err(werr)?;
        tmp.persist(&path).map_err(|e| werr(e.error))?;
        Ok(())
    }

    /// Adds a tag; returns false when the same tag is already on that row.
    pub fn add_tag(
        &mut self,
        artifact: &str,
        record: &str,
        tag: &str,
        added: DateTime<Utc>,
    ) -> bool {
        if self
            .tags
            .iter()
            .any(|t| t.artifact == artifact && t.record == record && t.tag == tag)
        {
            return false;
        }
        self.tags.push(TagMark {
            artifact: artifact.into(),
            record: record.into(),
            tag: tag.into(),
            added,
        });
        true
    }

    /// Removes one tag (or, with `None`, every tag) from a row; returns how many went.
    pub fn remove_tag(&mut self, artifact: &str, record: &str, tag: Option<&str>) -> usize {
        let before = self.tags.len();
        self.tags.retain(|t| {
            !(t.artifact == artifact && t.record == record && tag.is_none_or(|g| g == t.tag))
        });
        before - self.tags.len()
    }

    pub fn add_note(&mut self, finding: &str, text: &str, added: DateTime<Utc>) {
        self.notes.push(Note {
            finding: finding.into(),
            text: text.into(),
            added,
        });
    }

    /// Tags the analyst put on one evidence record, in the order they were added.
    pub fn tags_for<'a>(
        &'a self,
        artifact: &'a str,
        record: &'a str,
    ) -> impl Iterator<Item = &'a TagMark> + 'a {
        self.tags
            .iter()
            .filter(move |t| t.artifact == artifact && t.record == record)
    }

    pub fn notes_for<'a>(&'a self, finding: &'a str) -> impl Iterator<Item = &'a Note> + 'a {
        self.notes.iter().filter(move |n| n.finding == finding)
    }
}

/// `added` is written the one way chainline writes times (microseconds, `Z`) and read
/// from any RFC 3339 form, so a hand-edited file still loads.
mod rfc3339 {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&time::rfc3339(t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| serde::de::Error::custom(format!("`added` {s:?} is not RFC 3339: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

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
        let mut a = Annotations::default();
        assert!(a.add_tag(
            "HomeDomain/Library/SMS/sms.db",
            "message:3",
            "suspicious",
            at("2024-05-01T10:00:00Z")
        ));
        assert!(!a.add_tag(
            "HomeDomain/Library/SMS/sms.db",
            "message:3",
            "suspicious",
            at("2024-05-01T10:01:00Z")
        ));
        a.add_note(
            "F001",
            "sender seen in another case",
            at("2024-05-01T10:02:03.5Z"),
        );
        a.save(dir.path()).unwrap();

        let text = std::fs::read_to_string(dir.path().join("annotations.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "tags": [{"artifact": "HomeDomain/Library/SMS/sms.db", "record": "message:3",
                          "tag": "suspicious", "added": "2024-05-01T10:00:00.000000Z"}],
                "notes": [{"finding": "F001", "text": "sender seen in another case",
                           "added": "2024-05-01T10:02:03.500000Z"}]
            })
        );
        assert_eq!(Annotations::load(dir.path()).unwrap(), a);
        // No temp file left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("annotations.json")]);
    }

    #[test]
    fn remove_one_or_all_tags_of_a_row() {
        let mut a = Annotations::default();
        let t = at("2024-05-01T10:00:00Z");
        a.add_tag("a.db", "x:1", "one", t);
        a.add_tag("a.db", "x:1", "two", t);
        a.add_tag("a.db", "x:2", "one", t);
        assert_eq!(a.remove_tag("a.db", "x:1", Some("two")), 1);
        assert_eq!(a.remove_tag("a.db", "x:1", Some("two")), 0);
        assert_eq!(a.remove_tag("a.db", "x:1", None), 1);
        assert_eq!(a.tags.len(), 1);
        assert_eq!(a.tags[0].record, "x:2");
    }

    #[test]
    fn bad_json_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("annotations.json"), "{not json").unwrap();
        let e = Annotations::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("annotations.json"), "{e}");
    }
}
