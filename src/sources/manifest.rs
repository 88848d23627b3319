//! Manifest.db: file system times of every file and folder in a backup.
//!
//! One row per distinct time of each entry (MVT's convention), with the MACB letters
//! (Modified, Accessed — never recorded —, Changed, Born) in the message and as tags.
//! For folders under MediaDomain `Library/SMS/Attachments/` the row says whether the
//! manifest still lists a file below them: a modified, emptied attachment folder is the
//! Operation Triangulation trace (Kaspersky, triangle_check).

use crate::evidence::{is_file_id, leaves_root, Evidence, Lookup};
use crate::timeline::{time, Event};

use super::{Output, Parse, Source, SourceError};

pub struct Manifest;

pub const ATTACHMENTS_PREFIX: &str = "Library/SMS/Attachments/";

impl Source for Manifest {
    fn name(&self) -> &'static str {
        "manifest"
    }

    fn discover(&self, ev: &Evidence) -> Vec<Lookup> {
        ev.containers
            .iter()
            .filter_map(|c| c.manifest.as_ref())
            .map(|m| Lookup::Found(m.artifact.clone()))
            .collect()
    }

    fn parse(&self, p: &mut Parse<'_>) -> Result<(), SourceError> {
        let container = p.evidence.container(p.artifact.container);
        let Some(index) = container.manifest.as_ref() else {
            return Err(SourceError::Format("not a backup manifest".into()));
        };
        // Up to three rows an entry (modified, changed, born at different times).
        p.reserve(3 * index.entries.len());
        let mut undecodable = 0usize;
        let mut traversal: Vec<String> = Vec::new();
        let mut bad_ids: Vec<String> = Vec::new();
        for entry in &index.entries {
            let (file_id, domain, rel, flags) = (
                &entry.file_id,
                &entry.domain,
                &entry.relative_path,
                entry.flags,
            );
            let climbs = leaves_root(rel) || leaves_root(domain);
            let bad_id = !file_id.is_empty() && !is_file_id(file_id);
            if climbs {
                traversal.push(format!("Files:{}", file_id.escape_debug()));
            }
            if bad_id {
                bad_ids.push(format!("Files:{}", file_id.escape_debug()));
            }
            let Some(mb) = entry.file.as_ref() else {
                undecodable += 1;
                continue;
            };
            let what = match flags {
                1 => "file",
                2 => "directory",
                4 => "symlink",
                _ => "entry",
            };
            let mut extra_tags: Vec<&str> = Vec::new();
            let mut note = String::new();
            // Listed as evidence (a planted entry is itself suspicious), never resolved
            // to a file: see `ManifestIndex::lookup`.
            if climbs {
                extra_tags.push("path_traversal");
                note.push_str(", relativePath climbs out of the backup: never opened");
            }
            if bad_id {
                extra_tags.push("bad_file_id");
                note.push_str(", fileID is not a hex name: never opened");
            }
            if flags == 2
                && domain == "MediaDomain"
                && format!("{rel}/").starts_with(ATTACHMENTS_PREFIX)
                && rel.len() > ATTACHMENTS_PREFIX.len()
            {
                extra_tags.push("attachment_dir");
                let holds_file = index
                    .entries_under("MediaDomain", &format!("{rel}/"))
                    .any(|e| e.is_file());
                if holds_file {
                    note.push_str(", holds files");
                } else {
                    extra_tags.push("empty_dir");
                    note.push_str(", empty: no file listed below it");
                }
            }
            if flags == 1 && domain == "MediaDomain" && rel.starts_with(ATTACHMENTS_PREFIX) {
                extra_tags.push("attachment_file");
            }
            let size = if flags == 1 { mb.size } else { None };
            let times = [
                (mb.last_modified, 'M'),
                (None, 'A'),
                (mb.last_status_change, 'C'),
                (mb.birth, 'B'),
            ];
            let file = FileTimes {
                source: "manifest",
                actor: domain,
                target: &format!("{domain}/{rel}"),
                what,
                size,
                note: &note,
                record: &format!("Files:{file_id}"),
                tags: &extra_tags,
            };
            file.emit(times, p);
        }
        if !traversal.is_empty() {
            p.warn(format!(
                "{} entries have a relativePath that climbs out of the backup (..) or is absolute; listed with the path_traversal tag, their files never opened: {}",
                traversal.len(),
                traversal.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        if !bad_ids.is_empty() {
            p.warn(format!(
                "{} entries have a fileID that is not a hex name; listed with the bad_file_id tag, their files never opened: {}",
                bad_ids.len(),
                bad_ids.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        if undecodable > 0 {
            p.warn(format!("{undecodable} Manifest.db entries have no decodable MBFile blob; their times are unknown"));
        }
        Ok(())
    }
}

/// One file or folder and its times, as Manifest.db or a filesystem dump records them.
pub(super) struct FileTimes<'a> {
    pub source: &'static str,
    pub actor: &'a str,
    pub target: &'a str,
    /// `file`, `directory`, `symlink`, `entry`.
    pub what: &'a str,
    pub size: Option<i64>,
    /// Appended to the message (`, empty: no file listed below it`).
    pub note: &'a str,
    pub record: &'a str,
    pub tags: &'a [&'a str],
}

impl FileTimes<'_> {
    /// One row per distinct instant among the M, A, C, B times (MVT's convention), kind
    /// by M > C > B > A, the letters in the message and as tags.
    pub(super) fn emit(&self, times: [(Option<i64>, char); 4], p: &mut Output) {
        let mut distinct: Vec<i64> = times
            .iter()
            .filter_map(|(t, _)| *t)
            .filter(|t| *t != 0)
            .collect();
        distinct.sort_unstable();
        distinct.dedup();
        for t in distinct {
            let has = |l: char| times.iter().any(|(v, c)| *v == Some(t) && *c == l);
            let macb: String = ['M', 'A', 'C', 'B']
                .iter()
                .map(|&c| if has(c) { c } else { '-' })
                .collect();
            let kind = if has('M') {
                "file_modified"
            } else if has('C') {
                "file_changed"
            } else if has('B') {
                "file_created"
            } else {
                "file_accessed"
            };
            let size = self
                .size
                .map(|s| format!(", {s} bytes"))
                .unwrap_or_default();
            let ts = time::unix_seconds(t as f64);
            if ts.is_none() {
                p.warn(format!(
                    "{}: time {t} is outside the plausible range; row kept without a time",
                    self.record
                ));
            }
            let (what, target, note) = (self.what, self.target, self.note);
            let mut e = Event::new(self.source, kind, ts)
                .actor(self.actor.to_string())
                .target(target.to_string())
                .message(format!("{macb} {what} {target}{size}{note}"))
                .at("", self.record.to_string())
                .tag(format!("macb:{macb}"));
            for l in ['M', 'A', 'C', 'B'] {
                if has(l) {
                    e = e.tag(l.to_string());
                }
            }
            for t in self.tags {
                e = e.tag(*t);
            }
            p.emit(e);
        }
    }
}
