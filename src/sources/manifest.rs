//! Manifest.db: file system times of every file and folder in a backup.
//!
//! One row per distinct time of each entry (MVT's convention), with the MACB letters
//! (Modified, Accessed — never recorded —, Changed, Born) in the message and as tags.
//! For folders under MediaDomain `Library/SMS/Attachments/` the row says whether the
//! manifest still lists a file below them: a modified, emptied attachment folder is the
//! Operation Triangulation trace (Kaspersky, triangle_check).

use crate::evidence::{is_file_id, leaves_root, Evidence, Lookup};
use crate::timeline::{time, Event};

use super::{Parse, Source, SourceError};

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
            // Group the three times by value: one row per distinct instant.
            let times = [
                (mb.last_modified, 'M'),
                (mb.last_status_change, 'C'),
                (mb.birth, 'B'),
            ];
            let mut distinct: Vec<i64> = times
                .iter()
                .filter_map(|(t, _)| *t)
                .filter(|t| *t != 0)
                .collect();
            distinct.sort_unstable();
            distinct.dedup();
            let target = format!("{domain}/{rel}");
            for t in distinct {
                let has = |l: char| times.iter().any(|(v, c)| *v == Some(t) && *c == l);
                let macb: String = [
                    ('M', has('M')),
                    ('A', false),
                    ('C', has('C')),
                    ('B', has('B')),
                ]
                .iter()
                .map(|(c, on)| if *on { *c } else { '-' })
                .collect();
                let kind = if has('M') {
                    "file_modified"
                } else if has('C') {
                    "file_changed"
                } else {
                    "file_created"
                };
                let size = if flags == 1 {
                    mb.size.map(|s| format!(", {s} bytes")).unwrap_or_default()
                } else {
                    String::new()
                };
                let ts = time::unix_seconds(t as f64);
                if ts.is_none() {
                    p.warn(format!("Files:{file_id}: time {t} is outside the plausible range; row kept without a time"));
                }
                let mut e = Event::new("manifest", kind, ts)
                    .actor(domain.clone())
                    .target(target.clone())
                    .message(format!("{macb} {what} {target}{size}{note}"))
                    .at("", format!("Files:{file_id}"))
                    .tag(format!("macb:{macb}"));
                for l in ['M', 'C', 'B'] {
                    if has(l) {
                        e = e.tag(l.to_string());
                    }
                }
                for t in &extra_tags {
                    e = e.tag(*t);
                }
                p.emit(e);
            }
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
