//! File-system times of a filesystem dump: the same rows Manifest.db gives for a backup
//! (kinds, MACB tags, `attachment_dir` / `empty_dir` / `attachment_file`), so the same
//! rules apply to either.
//!
//! Only the subtrees whose times carry a published trace are read
//! (`FILE_TIME_SUBTREES`: SMS attachment folders — an emptied one is Triangulation's
//! clean-up —, preference plists — the ImageIO, StatusBarIconManager, FaceTime ones —,
//! `private/var/tmp/` and the roleaccountd staging folder — Predator and Reign); a dump
//! holds hundreds of thousands of other files whose times would bury them.
//!
//! Where the times come from:
//! - an archive: each member's tar header (mtime) and, where the tool wrote them, PAX or
//!   GNU records (atime, ctime, libarchive's birth time) — the phone's own times;
//! - a folder: the copy's modification time only. Copying (or extracting) a dump keeps
//!   mtime when the tool preserves it, but the copy's change, birth and access times are
//!   those of the copy on the analyst's machine, not the phone's, so they are not used.

use std::collections::BTreeSet;
use std::path::Path;

use crate::evidence::{Artifact, ContainerKind, Evidence, Lookup, MemberTimes, FILE_TIME_SUBTREES};

use super::manifest::FileTimes;
use super::{Parse, Source, SourceError};

pub struct FileSystemTimes;

const ATTACHMENTS: &str = "private/var/mobile/Library/SMS/Attachments/";

/// Most entries read from one folder dump's subtrees.
const MAX_ENTRIES: usize = 2_000_000;

impl Source for FileSystemTimes {
    fn name(&self) -> &'static str {
        "filesystem"
    }

    fn discover(&self, ev: &Evidence) -> Vec<Lookup> {
        ev.containers
            .iter()
            .enumerate()
            .filter(|(_, c)| c.kind == ContainerKind::Filesystem)
            .map(|(i, c)| {
                Lookup::Found(Artifact {
                    logical: ev.qualify(i, "private/var"),
                    path: c.root.clone(),
                    container: i,
                    backup: None,
                })
            })
            .collect()
    }

    fn parse(&self, p: &mut Parse<'_>) -> Result<(), SourceError> {
        let c = p.evidence.container(p.artifact.container);
        // A dump read from an archive has its origin (the archive) apart from its root.
        let from_archive = c.origin != c.root;
        let entries = if from_archive {
            c.members.clone()
        } else {
            walk(&c.root, p)
        };
        p.facts.insert(
            "times_from".into(),
            if from_archive {
                "archive member headers"
            } else {
                "folder copy (modification times only)"
            }
            .into(),
        );
        p.reserve(entries.len() * 2);
        // Attachment folders that hold a file somewhere below them.
        let mut holding: BTreeSet<&str> = BTreeSet::new();
        for e in entries
            .iter()
            .filter(|e| !e.is_dir && e.path.starts_with(ATTACHMENTS))
        {
            let mut path = e.path.as_str();
            while let Some((parent, _)) = path.rsplit_once('/') {
                if parent.len() < ATTACHMENTS.len() - 1 {
                    break;
                }
                holding.insert(parent);
                path = parent;
            }
        }
        let prefix = p
            .artifact
            .logical
            .strip_suffix("private/var")
            .unwrap_or("")
            .to_string();
        for e in &entries {
            let mut tags: Vec<&str> = Vec::new();
            let mut note = String::new();
            let in_attachments = e.path.starts_with(ATTACHMENTS);
            if e.is_dir && in_attachments && e.path.len() >= ATTACHMENTS.len() {
                tags.push("attachment_dir");
                if holding.contains(e.path.as_str()) {
                    note.push_str(", holds files");
                } else {
                    tags.push("empty_dir");
                    note.push_str(", empty: no file below it");
                }
            }
            if !e.is_dir && in_attachments {
                tags.push("attachment_file");
            }
            let target = format!("{prefix}{}", e.path);
            let record = if from_archive {
                format!("member:{}", e.index)
            } else {
                "stat".to_string()
            };
            let row = FileTimes {
                source: "filesystem",
                actor: "",
                target: &target,
                what: if e.is_dir { "directory" } else { "file" },
                size: (!e.is_dir).then_some(e.size as i64),
                note: &note,
                record: &record,
                tags: &tags,
            };
            row.emit(
                [
                    (e.mtime, 'M'),
                    (e.atime, 'A'),
                    (e.ctime, 'C'),
                    (e.btime, 'B'),
                ],
                p,
            );
        }
        Ok(())
    }
}

/// The subtrees of a folder dump, links never followed, modification times only.
fn walk(root: &Path, p: &mut Parse<'_>) -> Vec<MemberTimes> {
    let mut out = Vec::new();
    let mut unreadable = 0usize;
    for sub in FILE_TIME_SUBTREES {
        let dir = root.join(sub.trim_end_matches('/'));
        if !dir.is_dir() {
            continue;
        }
        for entry in walkdir::WalkDir::new(&dir).follow_links(false) {
            let Ok(entry) = entry else {
                unreadable += 1;
                continue;
            };
            if out.len() >= MAX_ENTRIES {
                p.warn(format!(
                    "more than {MAX_ENTRIES} entries: the rest were not read"
                ));
                return out;
            }
            let Ok(meta) = entry.path().symlink_metadata() else {
                unreadable += 1;
                continue;
            };
            let Ok(rel) = entry.path().strip_prefix(root) else {
                continue;
            };
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_secs() as i64);
            out.push(MemberTimes {
                path: rel.to_string_lossy().into_owned(),
                is_dir: meta.is_dir(),
                size: meta.len(),
                mtime,
                atime: None,
                ctime: None,
                btime: None,
                index: out.len() + 1,
            });
        }
    }
    if unreadable > 0 {
        p.warn(format!(
            "{unreadable} entries could not be read; their times are unknown"
        ));
    }
    out
}
