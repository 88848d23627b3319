//! Finding and opening evidence, read-only.
//!
//! [`Evidence::discover`] turns the paths an analyst gives into [`Container`]s
//! (backups, filesystem dumps, sysdiagnose archives, crash-report folders). Sources
//! then ask for logical artifacts through a [`Locator`] or a [`FileSet`] and get back
//! [`Artifact`]s pointing at physical files. Every byte read goes through
//! [`Evidence::read`] or [`Evidence::open_sqlite`], which hash the file into the
//! [`InputLog`]; SQLite files are copied (with their `-wal`/`-shm`) into a private
//! scratch folder before opening, so the evidence is never touched.

mod backup;
pub mod bounded_plist;
mod discover;
mod inputs;
pub mod mbfile;
mod sqlite;

pub use backup::{file_id, DeviceInfo, ManifestEntry, ManifestIndex};
pub use discover::is_crash_report;
pub use inputs::{InputLog, InputRecord};
pub use sqlite::{table_columns, KeptCopy, SqliteCopy};

use std::path::{Path, PathBuf};

use tempfile::TempDir;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum EvidenceError {
    #[error("cannot read {path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no iPhone evidence found in {0} (looked for a backup with Manifest.db, a filesystem dump with private/var, a sysdiagnose folder or .tar.gz, and *.ips/*.crash reports)")]
    NoEvidence(PathBuf),
    #[error("{0} is an encrypted backup; chainline cannot decrypt backups yet: make an unencrypted backup or decrypt it first (e.g. mvt-ios decrypt-backup)")]
    Encrypted(PathBuf),
    #[error("the output folder {out} lies inside the evidence {evidence}; choose an output folder outside the evidence")]
    OutputInsideEvidence { out: PathBuf, evidence: PathBuf },
    #[error("{path}: {msg}")]
    Invalid { path: PathBuf, msg: String },
    #[error("sqlite {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
}

impl EvidenceError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        EvidenceError::Unreadable {
            path: path.to_path_buf(),
            source,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContainerKind {
    Backup,
    Filesystem,
    Sysdiagnose,
    CrashReports,
    /// A folder written by MVT (`mvt-ios check-backup`/`check-fs`) holding its `timeline.csv`.
    MvtOutput,
}

/// One body of evidence: a backup, a filesystem dump, a sysdiagnose, a crash folder.
#[derive(Debug)]
pub struct Container {
    pub kind: ContainerKind,
    /// What the analyst pointed at (the archive for an unpacked sysdiagnose).
    pub origin: PathBuf,
    /// Where its files are read from (a private temp folder for an unpacked archive).
    pub root: PathBuf,
    pub device: DeviceInfo,
    pub manifest: Option<ManifestIndex>,
    /// Single crash-report files given directly.
    pub files: Vec<PathBuf>,
}

/// A logical evidence file resolved to its physical location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Backup: `Domain/relativePath`; elsewhere the path inside the container.
    pub logical: String,
    pub path: PathBuf,
    pub container: usize,
    /// Backup domain and relative path when the artifact came from a backup.
    pub backup: Option<(String, String)>,
}

/// The outcome of looking for one artifact in one container.
#[derive(Debug, Clone)]
pub enum Lookup {
    Found(Artifact),
    /// Listed (in Manifest.db) but not on disk, or expected and absent.
    Missing {
        logical: String,
        container: usize,
        reason: String,
    },
}

/// Where one logical file lives in each kind of container.
#[derive(Debug, Clone, Copy)]
pub struct Locator {
    /// Backup domain and relativePath.
    pub backup: Option<(&'static str, &'static str)>,
    /// Paths relative to a filesystem dump's root (first that exists wins).
    pub filesystem: &'static [&'static str],
    /// Paths relative to a sysdiagnose root.
    pub sysdiagnose: &'static [&'static str],
}

/// A family of files chosen by name under some folders (crash reports, rotated logs).
#[derive(Debug, Clone, Copy)]
pub struct FileSet {
    /// Backup domain and folder prefix.
    pub backup: Option<(&'static str, &'static str)>,
    pub filesystem: &'static [&'static str],
    /// Folders in a sysdiagnose; `""` is the whole archive.
    pub sysdiagnose: &'static [&'static str],
    /// Whether crash-report folders given directly count.
    pub crash_folders: bool,
    /// Accepts a file name.
    pub name: fn(&str) -> bool,
}

pub struct Evidence {
    pub containers: Vec<Container>,
    pub inputs: InputLog,
    scratch: TempDir,
    /// Unpacked archives, kept alive for the run.
    _unpacked: Vec<TempDir>,
}

impl std::fmt::Debug for Evidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evidence")
            .field("containers", &self.containers)
            .finish()
    }
}

impl Evidence {
    /// Recognises the containers under each path. Fails with a one-line reason when a
    /// path cannot be read, holds no evidence, or is an encrypted backup.
    pub fn discover(paths: &[PathBuf]) -> Result<Evidence, EvidenceError> {
        let scratch = tempfile::Builder::new()
            .prefix("chainline-")
            .tempdir()
            .map_err(|e| EvidenceError::io(&std::env::temp_dir(), e))?;
        let mut ev = Evidence {
            containers: Vec::new(),
            inputs: InputLog::default(),
            scratch,
            _unpacked: Vec::new(),
        };
        for p in paths {
            let before = ev.containers.len();
            discover::walk(&mut ev, p)?;
            if ev.containers.len() == before {
                return Err(EvidenceError::NoEvidence(p.clone()));
            }
        }
        Ok(ev)
    }

    /// The private scratch folder (temp copies of SQLite files, unpacked archives).
    pub fn scratch(&self) -> &Path {
        self.scratch.path()
    }

    pub fn container(&self, i: usize) -> &Container {
        &self.containers[i]
    }

    /// The device UDID of the container an artifact came from ("" when unknown).
    pub fn device_of(&self, art: &Artifact) -> &str {
        self.containers
            .get(art.container)
            .and_then(|c| c.device.udid.as_deref())
            .unwrap_or("")
    }

    /// Looks a logical file up in every container.
    pub fn locate(&self, loc: &Locator) -> Vec<Lookup> {
        let mut out = Vec::new();
        for (i, c) in self.containers.iter().enumerate() {
            match c.kind {
                ContainerKind::Backup => {
                    if let (Some((domain, rel)), Some(m)) = (loc.backup, &c.manifest) {
                        if let Some(l) = m.lookup(i, &c.root, domain, rel) {
                            out.push(l);
                        }
                    }
                }
                ContainerKind::Filesystem => {
                    if let Some(p) = loc.filesystem.iter().find(|p| c.root.join(p).is_file()) {
                        out.push(Lookup::Found(Artifact {
                            logical: (*p).to_string(),
                            path: c.root.join(p),
                            container: i,
                            backup: None,
                        }));
                    }
                }
                ContainerKind::Sysdiagnose => {
                    if let Some(p) = loc.sysdiagnose.iter().find(|p| c.root.join(p).is_file()) {
                        out.push(Lookup::Found(Artifact {
                            logical: format!("sysdiagnose/{p}"),
                            path: c.root.join(p),
                            container: i,
                            backup: None,
                        }));
                    }
                }
                ContainerKind::CrashReports | ContainerKind::MvtOutput => {}
            }
        }
        out
    }

    /// Every file of a family, in every container, in a stable order.
    pub fn files(&self, set: &FileSet) -> Vec<Lookup> {
        let mut out = Vec::new();
        for (i, c) in self.containers.iter().enumerate() {
            match c.kind {
                ContainerKind::Backup => {
                    if let (Some((domain, prefix)), Some(m)) = (set.backup, &c.manifest) {
                        for e in m.entries_under(domain, prefix) {
                            let name = e.relative_path.rsplit('/').next().unwrap_or("");
                            if e.is_file() && (set.name)(name) {
                                if let Some(l) = m.lookup(i, &c.root, domain, &e.relative_path) {
                                    out.push(l);
                                }
                            }
                        }
                    }
                }
                ContainerKind::Filesystem => {
                    for d in set.filesystem {
                        list_files(&c.root, &c.root.join(d), set.name, i, "", &mut out);
                    }
                }
                ContainerKind::Sysdiagnose => {
                    for d in set.sysdiagnose {
                        list_files(
                            &c.root,
                            &c.root.join(d),
                            set.name,
                            i,
                            "sysdiagnose/",
                            &mut out,
                        );
                    }
                }
                ContainerKind::CrashReports => {
                    if set.crash_folders {
                        if c.files.is_empty() {
                            list_files(&c.root, &c.root, set.name, i, "", &mut out);
                        }
                        for f in &c.files {
                            let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
                            if (set.name)(name) {
                                out.push(Lookup::Found(Artifact {
                                    logical: name.to_string(),
                                    path: f.clone(),
                                    container: i,
                                    backup: None,
                                }));
                            }
                        }
                    }
                }
                ContainerKind::MvtOutput => {}
            }
        }
        out
    }

    /// Resolves a file in the same container as `art` (e.g. an SMS attachment named by
    /// sms.db). `backup` is a domain + relativePath, `fs` a filesystem path.
    pub fn sibling(&self, container: usize, backup: (&str, &str), fs: &str) -> Option<Lookup> {
        let c = self.containers.get(container)?;
        match c.kind {
            ContainerKind::Backup => c
                .manifest
                .as_ref()?
                .lookup(container, &c.root, backup.0, backup.1),
            ContainerKind::Filesystem => {
                let p = c.root.join(fs.trim_start_matches('/'));
                p.is_file().then(|| {
                    Lookup::Found(Artifact {
                        logical: fs.trim_start_matches('/').to_string(),
                        path: p,
                        container,
                        backup: None,
                    })
                })
            }
            _ => None,
        }
    }

    /// Reads a whole evidence file, hashing it into the input log.
    pub fn read(&self, art: &Artifact) -> Result<Vec<u8>, EvidenceError> {
        let bytes = std::fs::read(&art.path).map_err(|e| EvidenceError::io(&art.path, e))?;
        self.inputs.record(&art.path, &art.logical, &bytes);
        Ok(bytes)
    }

    /// Copies a SQLite artifact and its `-wal`/`-shm` companions into the scratch
    /// folder and opens the copy. The evidence file is only ever read.
    pub fn open_sqlite(&self, art: &Artifact) -> Result<SqliteCopy, EvidenceError> {
        let companions = self.companions(art);
        SqliteCopy::open(self, art, &companions)
    }

    /// `-wal` and `-shm` files that belong with a SQLite artifact.
    fn companions(&self, art: &Artifact) -> Vec<(String, Artifact)> {
        let mut out = Vec::new();
        for suffix in ["-wal", "-shm"] {
            let found = match (&art.backup, self.containers.get(art.container)) {
                (Some((domain, rel)), Some(c)) => c.manifest.as_ref().and_then(|m| {
                    match m.lookup(art.container, &c.root, domain, &format!("{rel}{suffix}")) {
                        Some(Lookup::Found(a)) => Some(a),
                        _ => None,
                    }
                }),
                _ => {
                    let mut p = art.path.clone().into_os_string();
                    p.push(suffix);
                    let p = PathBuf::from(p);
                    p.is_file().then(|| Artifact {
                        logical: format!("{}{suffix}", art.logical),
                        path: p,
                        container: art.container,
                        backup: None,
                    })
                }
            };
            if let Some(a) = found {
                out.push((suffix.to_string(), a));
            }
        }
        out
    }
}

fn list_files(
    root: &Path,
    dir: &Path,
    accept: fn(&str) -> bool,
    container: usize,
    prefix: &str,
    out: &mut Vec<Lookup>,
) {
    if !dir.is_dir() {
        return;
    }
    let mut found: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter(|e| e.file_name().to_str().is_some_and(accept))
        .map(|e| e.into_path())
        .collect();
    found.sort();
    for p in found {
        let rel = p
            .strip_prefix(root)
            .unwrap_or(&p)
            .to_string_lossy()
            .into_owned();
        out.push(Lookup::Found(Artifact {
            logical: format!("{prefix}{rel}"),
            path: p,
            container,
            backup: None,
        }));
    }
}
