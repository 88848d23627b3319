//! iTunes/Finder backups: Info.plist, Manifest.plist and the Manifest.db index.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha1::{Digest, Sha1};

use super::sqlite::KeptCopy;
use super::{Artifact, Evidence, EvidenceError, Lookup};

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
    pub entries: Vec<ManifestEntry>,
    by_path: HashMap<(String, String), usize>,
    /// The private copy of Manifest.db (for sources that read the MBFile blobs).
    pub copy: KeptCopy,
    pub artifact: Artifact,
}

impl ManifestIndex {
    pub(super) fn load(
        ev: &Evidence,
        root: &Path,
        container: usize,
    ) -> Result<ManifestIndex, EvidenceError> {
        let artifact = Artifact {
            logical: "Manifest.db".into(),
            path: root.join("Manifest.db"),
            container,
            backup: None,
        };
        let copy = ev.open_sqlite(&artifact)?;
        let sql_err = |e| EvidenceError::Sqlite {
            path: artifact.path.clone(),
            source: e,
        };
        let mut entries = Vec::new();
        {
            let mut stmt = copy
                .conn()
                .prepare("SELECT fileID, domain, relativePath, flags FROM Files ORDER BY domain, relativePath")
                .map_err(sql_err)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(ManifestEntry {
                        file_id: r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                        domain: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                        relative_path: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                        flags: r.get::<_, Option<i64>>(3)?.unwrap_or(0),
                    })
                })
                .map_err(sql_err)?;
            for r in rows {
                entries.push(r.map_err(sql_err)?);
            }
        }
        let by_path = entries
            .iter()
            .enumerate()
            .map(|(i, e)| ((e.domain.clone(), e.relative_path.clone()), i))
            .collect();
        Ok(ManifestIndex {
            entries,
            by_path,
            copy: copy.keep(),
            artifact,
        })
    }

    pub fn get(&self, domain: &str, relative: &str) -> Option<&ManifestEntry> {
        self.by_path
            .get(&(domain.to_string(), relative.to_string()))
            .map(|&i| &self.entries[i])
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
        let id = if e.file_id.len() >= 2 {
            e.file_id.clone()
        } else {
            file_id(domain, relative)
        };
        let path = root.join(&id[..2]).join(&id);
        let backup = Some((domain.to_string(), relative.to_string()));
        if path.is_file() {
            Some(Lookup::Found(Artifact {
                logical,
                path,
                container,
                backup,
            }))
        } else if root.join(&id).is_file() {
            // Pre-iOS 10 backups keep files flat in the backup root.
            Some(Lookup::Found(Artifact {
                logical,
                path: root.join(&id),
                container,
                backup,
            }))
        } else {
            Some(Lookup::Missing {
                logical,
                container,
                reason: format!("listed in Manifest.db as {id} but not in the backup folder"),
            })
        }
    }
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

/// Refuses encrypted backups: Manifest.plist `IsEncrypted`, or a Manifest.db that is
/// not plain SQLite.
pub(super) fn check_not_encrypted(ev: &Evidence, dir: &Path) -> Result<(), EvidenceError> {
    let mp = dir.join("Manifest.plist");
    if mp.is_file() {
        let bytes = std::fs::read(&mp).map_err(|e| EvidenceError::io(&mp, e))?;
        ev.inputs.record(&mp, "Manifest.plist", &bytes);
        if let Ok(v) = super::bounded_plist::read(&bytes) {
            if v.as_dictionary()
                .and_then(|d| d.get("IsEncrypted"))
                .and_then(|b| b.as_boolean())
                == Some(true)
            {
                return Err(EvidenceError::Encrypted(dir.to_path_buf()));
            }
        }
    }
    let db = dir.join("Manifest.db");
    let mut head = [0u8; 16];
    let n = std::fs::File::open(&db)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .map_err(|e| EvidenceError::io(&db, e))?;
    if n < 16 || &head != b"SQLite format 3\0" {
        return Err(EvidenceError::Encrypted(dir.to_path_buf()));
    }
    Ok(())
}

pub(super) fn device_info(ev: &Evidence, dir: &Path) -> DeviceInfo {
    let mut info = DeviceInfo::default();
    let p: PathBuf = dir.join("Info.plist");
    let Ok(bytes) = std::fs::read(&p) else {
        return info;
    };
    ev.inputs.record(&p, "Info.plist", &bytes);
    let Ok(v) = super::bounded_plist::read(&bytes) else {
        return info;
    };
    let Some(d) = v.as_dictionary() else {
        return info;
    };
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
