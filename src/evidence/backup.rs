//! iTunes/Finder backups: Info.plist, Manifest.plist and the Manifest.db index (of an
//! encrypted backup too, once [`super::crypto`] has its keys).

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha1::{Digest, Sha1};

use super::crypto::Encryption;
use super::mbfile::{self, MbFile};
use super::sqlite::{KeptCopy, SqliteCopy};
use super::{leaves_root, probe, Artifact, Evidence, EvidenceError, Lookup, Probe, Warning};

/// What the evidence says about the phone.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct DeviceInfo {
    pub udid: Option<String>,
    pub name: Option<String>,
    pub product_type: Option<String>,
    pub ios_version: Option<String>,
    pub build: Option<String>,
    pub serial: Option<String>,
    pub last_backup: Option<String>,
}

/// One row of Manifest.db `Files`.
#[derive(Debug, Clone)]
pub struct ManifestEntry {
    pub file_id: String,
    pub domain: String,
    pub relative_path: String,
    pub flags: i64,
    /// The decoded `file` blob; `None` when it is missing or cannot be decoded.
    pub file: Option<MbFile>,
}

impl ManifestEntry {
    pub fn is_file(&self) -> bool {
        self.flags == 1
    }
    pub fn is_dir(&self) -> bool {
        self.flags == 2
    }
}

/// The backup's file index, read once from a private copy of Manifest.db.
#[derive(Debug)]
pub struct ManifestIndex {
    /// Sorted by (domain, relativePath).
    pub entries: Vec<ManifestEntry>,
    /// The private copy of Manifest.db (for sources that read the MBFile blobs).
    pub copy: KeptCopy,
    pub artifact: Artifact,
}

impl ManifestIndex {
    pub(super) fn load(
        ev: &Evidence,
        root: &Path,
        container: usize,
        encryption: Option<&Encryption>,
    ) -> Result<ManifestIndex, EvidenceError> {
        let artifact = Artifact {
            logical: "Manifest.db".into(),
            path: root.join("Manifest.db"),
            container,
            backup: None,
        };
        if let Probe::Refused(reason) = probe(root, &artifact.path) {
            return Err(EvidenceError::Invalid {
                path: artifact.path.clone(),
                msg: reason,
            });
        }
        let copy = match encryption.and_then(|e| e.manifest_key.as_ref()) {
            Some(key) => {
                let copy = SqliteCopy::open_keyed(ev, &artifact, &[], Some(key));
                // The class keys unwrapped, so a Manifest.db that is not SQLite now is damaged.
                copy.map_err(|e| EvidenceError::Invalid {
                    path: artifact.path.clone(),
                    msg: format!("did not decrypt to a SQLite database ({e})"),
                })?
            }
            None => ev.open_sqlite(&artifact)?,
        };
        let sql_err = |e| EvidenceError::Sqlite {
            path: artifact.path.clone(),
            source: e,
        };
        // One pass over `Files`, blobs included: the manifest source reads the decoded
        // times from here instead of querying the table again. The rows are read here
        // and their MBFile blobs decoded on another thread as they come, in batches.
        const BATCH: usize = 4096;
        type Raw = (ManifestEntry, Option<Vec<u8>>);
        let (send, receive) = std::sync::mpsc::sync_channel::<Vec<Raw>>(4);
        let (read, entries) = std::thread::scope(|s| {
            let decoder = s.spawn(move || {
                let mut entries = Vec::new();
                for batch in receive {
                    entries.extend(batch.into_iter().map(|(mut e, blob)| {
                        e.file = blob.and_then(|b| mbfile::decode(&b).ok());
                        e
                    }));
                }
                entries
            });
            let read = (|| -> Result<(), EvidenceError> {
                let mut stmt = copy
                    .conn()
                    .prepare("SELECT fileID, domain, relativePath, flags, file FROM Files")
                    .map_err(sql_err)?;
                let mut rows = stmt.query([]).map_err(sql_err)?;
                let mut batch = Vec::with_capacity(BATCH);
                while let Some(r) = rows.next().map_err(sql_err)? {
                    let text = |i: usize| -> String {
                        r.get::<_, Option<String>>(i)
                            .ok()
                            .flatten()
                            .unwrap_or_default()
                    };
                    let blob = match r.get_ref(4) {
                        Ok(rusqlite::types::ValueRef::Blob(b)) => Some(b.to_vec()),
                        _ => None,
                    };
                    let entry = ManifestEntry {
                        file_id: text(0),
                        domain: text(1),
                        relative_path: text(2),
                        flags: r.get::<_, Option<i64>>(3).ok().flatten().unwrap_or(0),
                        file: None,
                    };
                    batch.push((entry, blob));
                    if batch.len() == BATCH {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                        if send.send(full).is_err() {
                            break;
                        }
                    }
                }
                let _ = send.send(batch);
                Ok(())
            })();
            drop(send);
            (read, decoder.join().ok())
        });
        read?;
        // A decoder that panicked (a bug on hostile bytes) costs this backup's index,
        // reported as unreadable, not the run.
        let mut entries = entries.ok_or_else(|| EvidenceError::Invalid {
            path: artifact.path.clone(),
            msg: "internal error while decoding the MBFile blobs".into(),
        })?;
        entries.sort_by(|a, b| {
            (a.domain.as_str(), a.relative_path.as_str())
                .cmp(&(b.domain.as_str(), b.relative_path.as_str()))
        });
        Ok(ManifestIndex {
            entries,
            copy: copy.keep(),
            artifact,
        })
    }

    pub fn get(&self, domain: &str, relative: &str) -> Option<&ManifestEntry> {
        let i = self.entries.partition_point(|e| {
            (e.domain.as_str(), e.relative_path.as_str()) < (domain, relative)
        });
        self.entries
            .get(i)
            .filter(|e| e.domain == domain && e.relative_path == relative)
    }

    /// Entries of a domain whose path starts with `prefix` (sorted by path).
    pub fn entries_under<'a>(
        &'a self,
        domain: &'a str,
        prefix: &'a str,
    ) -> impl Iterator<Item = &'a ManifestEntry> + 'a {
        // Entries are sorted by (domain, relativePath): binary search the start.
        let start = self
            .entries
            .partition_point(|e| (e.domain.as_str(), e.relative_path.as_str()) < (domain, prefix));
        self.entries[start..]
            .iter()
            .take_while(move |e| e.domain == domain && e.relative_path.starts_with(prefix))
    }

    /// Resolves a logical file: `None` when the manifest does not list it,
    /// `Missing` when listed but absent from the folder.
    pub fn lookup(
        &self,
        container: usize,
        root: &Path,
        domain: &str,
        relative: &str,
    ) -> Option<Lookup> {
        let e = self.get(domain, relative)?;
        let logical = format!("{domain}/{relative}");
        let missing = |reason: String| {
            Some(Lookup::Missing {
                logical: logical.clone(),
                container,
                reason,
            })
        };
        if leaves_root(relative) || leaves_root(domain) {
            return missing(
                "its relativePath climbs out of the backup (..); never resolved".into(),
            );
        }
        let id = if e.file_id.is_empty() {
            file_id(domain, relative)
        } else if is_file_id(&e.file_id) {
            e.file_id.clone()
        } else {
            // The fileID names the file on disk: anything but hex could point anywhere.
            return missing(format!(
                "its fileID {:?} is not a hex name; never resolved",
                e.file_id
            ));
        };
        let backup = Some((domain.to_string(), relative.to_string()));
        // Pre-iOS 10 backups keep files flat in the backup root.
        let mut refused = None;
        for path in [root.join(&id[..2]).join(&id), root.join(&id)] {
            match probe(root, &path) {
                Probe::File => {
                    return Some(Lookup::Found(Artifact {
                        logical,
                        path,
                        container,
                        backup,
                    }))
                }
                Probe::Absent => {}
                Probe::Refused(r) => {
                    refused.get_or_insert(format!("stored as {id}, which {r}"));
                }
            }
        }
        missing(refused.unwrap_or_else(|| {
            format!("listed in Manifest.db as {id} but not in the backup folder")
        }))
    }
}

/// A Manifest.db fileID as iOS writes it: lowercase hex SHA-1 (40 digits). Other
/// lengths of plain hex are accepted; nothing else is ever joined to a path.
pub fn is_file_id(id: &str) -> bool {
    id.len() >= 2 && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The backup's name for a file: lowercase hex SHA-1 of `"<domain>-<relativePath>"`.
pub fn file_id(domain: &str, relative: &str) -> String {
    let mut h = Sha1::new();
    h.update(domain.as_bytes());
    h.update(b"-");
    h.update(relative.as_bytes());
    hex::encode(h.finalize())
}

pub(super) fn is_backup_dir(dir: &Path) -> bool {
    dir.join("Manifest.db").is_file()
        || (dir.join("Manifest.plist").is_file() && dir.join("Info.plist").is_file())
}

/// Manifest.plist, when the backup is encrypted: `IsEncrypted`, or a `ManifestKey`
/// beside a Manifest.db that is not plain SQLite. A Manifest.db that is not SQLite in
/// a backup that does not say it is encrypted is refused.
pub(super) fn encrypted_manifest(
    ev: &mut Evidence,
    dir: &Path,
) -> Result<Option<plist::Dictionary>, EvidenceError> {
    let mp = dir.join("Manifest.plist");
    let mut manifest = None;
    if matches!(probe(dir, &mp), Probe::File) {
        let bytes = std::fs::read(&mp).map_err(|e| EvidenceError::io(&mp, e))?;
        ev.inputs.record(&mp, "Manifest.plist", &bytes);
        match super::parse_plist(&bytes) {
            Ok(v) => manifest = v.into_dictionary(),
            Err(e) => ev.warnings.push(Warning::new(
                mp.to_string_lossy(),
                format!("Manifest.plist is not a readable plist ({e}); whether the backup is encrypted is judged from Manifest.db alone"),
            )),
        }
    }
    let says = |k: &str| manifest.as_ref().and_then(|d| d.get(k));
    if says("IsEncrypted").and_then(|b| b.as_boolean()) == Some(true) {
        return Ok(manifest);
    }
    let db = dir.join("Manifest.db");
    let mut head = [0u8; 16];
    let n = std::fs::File::open(&db)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .map_err(|e| EvidenceError::io(&db, e))?;
    if n < 16 || &head != b"SQLite format 3\0" {
        if says("ManifestKey").is_some() {
            return Ok(manifest);
        }
        return Err(EvidenceError::Invalid {
            path: db,
            msg: "not a SQLite database, and Manifest.plist does not say the backup is encrypted"
                .into(),
        });
    }
    Ok(None)
}

pub(super) fn device_info(ev: &mut Evidence, dir: &Path) -> DeviceInfo {
    let mut info = DeviceInfo::default();
    let p: PathBuf = dir.join("Info.plist");
    let lost = "the device's UDID, name, model and iOS version are unknown (the UDID is taken from the folder name if it is one)";
    let parsed = match probe(dir, &p) {
        Probe::File => match std::fs::read(&p) {
            Ok(bytes) => {
                ev.inputs.record(&p, "Info.plist", &bytes);
                super::parse_plist(&bytes).map_err(|e| format!("not a readable plist ({e})"))
            }
            Err(e) => Err(format!("unreadable ({e})")),
        },
        Probe::Absent => Err("absent".to_string()),
        Probe::Refused(r) => Err(r),
    };
    let v = match parsed {
        Ok(v) => Some(v),
        Err(why) => {
            ev.warnings.push(Warning::new(
                p.to_string_lossy(),
                format!("Info.plist {why}: {lost}"),
            ));
            None
        }
    };
    if let Some(d) = v.as_ref().and_then(|v| v.as_dictionary()) {
        device_fields(&mut info, d);
    } else if v.is_some() {
        ev.warnings.push(Warning::new(
            p.to_string_lossy(),
            format!("Info.plist is not a dictionary: {lost}"),
        ));
    }
    if info.udid.is_none() {
        // Backups are stored in a folder named by the UDID.
        info.udid = dir
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| n.len() >= 24 && n.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
            .map(|n| n.to_lowercase());
    }
    info
}

fn device_fields(info: &mut DeviceInfo, d: &plist::Dictionary) {
    let s = |k: &str| d.get(k).and_then(|v| v.as_string()).map(str::to_string);
    info.udid = s("Unique Identifier")
        .or_else(|| s("Target Identifier"))
        .map(|u| u.to_lowercase());
    info.name = s("Device Name");
    info.product_type = s("Product Type");
    info.ios_version = s("Product Version");
    info.build = s("Build Version");
    info.serial = s("Serial Number");
    info.last_backup = d
        .get("Last Backup Date")
        .and_then(|v| v.as_date())
        .and_then(|d| crate::timeline::time::plist_date(&d))
        .map(|t| crate::timeline::time::rfc3339(&t));
}

#[cfg(test)]
mod tests {
    #[test]
    fn file_id_is_sha1_of_domain_dash_path() {
        // sms.db in the real MVT test backup is stored as 3d/3d0d7e5f...
        assert_eq!(
            super::file_id("HomeDomain", "Library/SMS/sms.db"),
            "3d0d7e5fb2ce288813306e4d4636395e047a3d28"
        );
    }
}
