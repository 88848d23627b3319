//! Finding and opening evidence, read-only.
//!
//! [`Evidence::discover`] turns the paths an analyst gives into [`Container`]s
//! (backups, filesystem dumps, sysdiagnose archives, crash-report folders). Sources
//! then ask for logical artifacts through a [`Locator`] or a [`FileSet`] and get back
//! [`Artifact`]s pointing at physical files. Every byte read goes through
//! [`Evidence::read`] or [`Evidence::open_sqlite`], which hash the file into the
//! [`InputLog`]; SQLite files are copied (with their `-wal`/`-shm`) into a private
//! scratch folder before opening, so the evidence is never touched. Files of an
//! encrypted backup ([`crypto`]) are decrypted on the way: in memory, or into that
//! same scratch folder for SQLite.

mod backup;
pub mod bplist;
pub mod crypto;
mod discover;
mod fsarchive;
pub use fsarchive::FILE_TIME_SUBTREES;
mod inputs;
pub mod mbfile;
mod plistfile;
mod reader;
mod scratch;
mod sqlite;

pub use backup::{file_id, is_file_id, DeviceInfo, ManifestEntry, ManifestIndex};
pub use crypto::{Encryption, Unlock, UnlockMethod};
pub use discover::is_crash_report;
pub use inputs::{InputLog, InputRecord, PlainRecord};
pub use plistfile::{parse_plist, PlistError, MAX_PLIST_DEPTH, MAX_PLIST_VALUES};
pub use reader::{BytesLines, EvidenceReader, Line, LineSource, MAX_LINE, MAX_WHOLE_FILE};
pub use scratch::{install_interrupt_handler, Scratch};
pub use sqlite::{row_count, table_columns, KeptCopy, SqliteCopy};

use std::path::{Path, PathBuf};

use tempfile::TempDir;
use thiserror::Error;

use crypto::{CryptoError, FileKey};

#[derive(Debug, Error)]
pub enum EvidenceError {
    #[error("cannot read {path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no iPhone evidence found in {0} (looked for a backup with Manifest.db, a filesystem dump with private/var, a sysdiagnose folder or .tar.gz, and *.ips/*.crash reports)")]
    NoEvidence(PathBuf),
    #[error("encrypted backup {path}: {reason}")]
    Locked { path: PathBuf, reason: CryptoError },
    #[error("the output folder {out} lies inside the evidence {evidence}; choose an output folder outside the evidence")]
    OutputInsideEvidence { out: PathBuf, evidence: PathBuf },
    #[error("{path}: {msg}")]
    Invalid { path: PathBuf, msg: String },
    #[error("sqlite {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{path} is {size} bytes, over the {limit}-byte limit for files read whole; hashed but not parsed")]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
    #[error("{path} is not a regular file (a pipe, device or socket); not opened")]
    NotRegular { path: PathBuf },
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
    /// Files an analyst exported from the phone or a Mac, given directly or lying loose
    /// in a case folder (`App_Privacy_Report_*.ndjson`, `log show --style ndjson`).
    Exports,
}

/// Something discovery noticed about the evidence that is not one artifact's problem:
/// a link not followed, a name that is not UTF-8, an unreadable backup index, two
/// backups of one phone. Listed in run.json `warnings`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Warning {
    /// The file or folder concerned (lossy when its name is not UTF-8).
    pub artifact: String,
    /// What happened and what was lost.
    pub message: String,
}

impl Warning {
    pub fn new(artifact: impl Into<String>, message: impl Into<String>) -> Self {
        Warning {
            artifact: artifact.into(),
            message: message.into(),
        }
    }
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
    /// The keys of an encrypted backup.
    pub encryption: Option<Encryption>,
    /// A filesystem dump read from an archive: the times of the members under the
    /// subtrees whose file times matter (see `fsarchive`), read from the member headers.
    pub members: Vec<MemberTimes>,
}

/// One archive member's path and times, as its tar header (and PAX records) give them.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberTimes {
    /// Path relative to the dump's root (`private/var/...`).
    pub path: String,
    pub is_dir: bool,
    pub size: u64,
    /// Unix seconds (PAX times may hold fractions; kept as whole seconds).
    pub mtime: Option<i64>,
    pub atime: Option<i64>,
    pub ctime: Option<i64>,
    pub btime: Option<i64>,
    /// Position of the member in the archive (1-based).
    pub index: usize,
}

/// A container that was recognised but could not be opened (an encrypted backup whose
/// password did not fit); the rest of the evidence is still analysed.
#[derive(Debug, Clone)]
pub struct FailedContainer {
    pub kind: ContainerKind,
    pub origin: PathBuf,
    pub error: String,
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
    /// Recognised but unopened containers (wrong or missing backup password).
    pub failed: Vec<FailedContainer>,
    pub inputs: InputLog,
    scratch: Scratch,
    /// The first backup that did not open, reported when nothing else did.
    first_locked: Option<EvidenceError>,
    /// What discovery could not use or noticed (run.json `warnings`).
    pub warnings: Vec<Warning>,
    /// Per container: the prefix of its logical paths when the case holds another
    /// container of the same kind (two backups, two sysdiagnoses), else `None`.
    labels: Vec<Option<String>>,
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
    /// Recognises the containers under each path, without secrets: an encrypted
    /// backup does not open (see [`Evidence::discover_with`]).
    pub fn discover(paths: &[PathBuf]) -> Result<Evidence, EvidenceError> {
        Self::discover_with(paths, &Unlock::default())
    }

    /// Recognises the containers under each path, opening encrypted backups with what
    /// `unlock` holds. Fails with a one-line reason when a path cannot be read or
    /// holds no evidence, or when the only evidence is a backup that did not open;
    /// a backup that does not open beside other evidence is listed in `failed`.
    pub fn discover_with(paths: &[PathBuf], unlock: &Unlock) -> Result<Evidence, EvidenceError> {
        let scratch = Scratch::new().map_err(|e| EvidenceError::io(&std::env::temp_dir(), e))?;
        let mut ev = Evidence {
            containers: Vec::new(),
            failed: Vec::new(),
            inputs: InputLog::default(),
            warnings: Vec::new(),
            labels: Vec::new(),
            scratch,
            first_locked: None,
            _unpacked: Vec::new(),
        };
        let keyring = crypto::Keyring::new(unlock);
        for p in paths {
            let before = (ev.containers.len(), ev.failed.len());
            discover::walk(&mut ev, p, &keyring)?;
            if (ev.containers.len(), ev.failed.len()) == before {
                return Err(EvidenceError::NoEvidence(p.clone()));
            }
        }
        if ev.containers.is_empty() {
            if let Some(e) = ev.first_locked.take() {
                return Err(e);
            }
        }
        discover::label_containers(&mut ev);
        Ok(ev)
    }

    /// The prefix that tells this container's logical paths from those of another
    /// container of the same kind in the case, if there is one.
    pub fn label(&self, container: usize) -> Option<&str> {
        self.labels.get(container).and_then(|l| l.as_deref())
    }

    /// A logical path as the timeline names it: `<label>/<logical>` when the
    /// container has a label.
    pub fn qualify(&self, container: usize, logical: &str) -> String {
        match self.label(container) {
            Some(l) => format!("{l}/{logical}"),
            None => logical.to_string(),
        }
    }

    fn qualified(&self, l: Lookup) -> Lookup {
        match l {
            Lookup::Found(mut a) => {
                a.logical = self.qualify(a.container, &a.logical);
                Lookup::Found(a)
            }
            Lookup::Missing {
                logical,
                container,
                reason,
            } => Lookup::Missing {
                logical: self.qualify(container, &logical),
                container,
                reason,
            },
        }
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
                    if let Some(l) = first_file(&c.root, loc.filesystem, "", i) {
                        out.push(l);
                    }
                }
                ContainerKind::Sysdiagnose => {
                    if let Some(l) = first_file(&c.root, loc.sysdiagnose, "sysdiagnose/", i) {
                        out.push(l);
                    }
                }
                ContainerKind::CrashReports | ContainerKind::MvtOutput | ContainerKind::Exports => {
                }
            }
        }
        out.into_iter().map(|l| self.qualified(l)).collect()
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
                            let name = f
                                .file_name()
                                .map(|n| n.to_string_lossy().into_owned())
                                .unwrap_or_default();
                            if (set.name)(&name) {
                                out.push(Lookup::Found(Artifact {
                                    logical: name,
                                    path: f.clone(),
                                    container: i,
                                    backup: None,
                                }));
                            }
                        }
                    }
                }
                ContainerKind::MvtOutput | ContainerKind::Exports => {}
            }
        }
        out.into_iter().map(|l| self.qualified(l)).collect()
    }

    /// Exported files (see [`ContainerKind::Exports`]) whose name `accept`s. Their
    /// logical name is the file name.
    pub fn exports(&self, accept: fn(&str) -> bool) -> Vec<Lookup> {
        let mut out = Vec::new();
        for (i, c) in self.containers.iter().enumerate() {
            if c.kind != ContainerKind::Exports {
                continue;
            }
            for f in &c.files {
                let name = f
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if accept(&name) {
                    out.push(self.qualified(Lookup::Found(Artifact {
                        logical: name,
                        path: f.clone(),
                        container: i,
                        backup: None,
                    })));
                }
            }
        }
        out
    }

    /// Resolves a file in the same container as `art` (e.g. an SMS attachment named by
    /// sms.db). `backup` is a domain + relativePath, `fs` a filesystem path.
    /// A path the evidence names (an attachment path in sms.db) that climbs out of its
    /// container is never resolved: `Missing`, with the reason.
    pub fn sibling(&self, container: usize, backup: (&str, &str), fs: &str) -> Option<Lookup> {
        let c = self.containers.get(container)?;
        let found = match c.kind {
            ContainerKind::Backup => c
                .manifest
                .as_ref()?
                .lookup(container, &c.root, backup.0, backup.1),
            ContainerKind::Filesystem => {
                let rel = fs.trim_start_matches('/');
                let probed = if leaves_root(rel) {
                    Probe::Refused("the path climbs out of the evidence (..); not followed".into())
                } else {
                    probe(&c.root, &c.root.join(rel))
                };
                match probed {
                    Probe::File => Some(Lookup::Found(Artifact {
                        logical: rel.to_string(),
                        path: c.root.join(rel),
                        container,
                        backup: None,
                    })),
                    Probe::Absent => None,
                    Probe::Refused(reason) => Some(Lookup::Missing {
                        logical: rel.to_string(),
                        container,
                        reason,
                    }),
                }
            }
            _ => None,
        };
        found.map(|l| self.qualified(l))
    }

    /// Reads a whole evidence file, hashing it into the input log; a file of an
    /// encrypted backup comes back decrypted. Files over
    /// [`MAX_WHOLE_FILE`] are hashed (streamed) but refused: read them with
    /// [`Evidence::open`] if they can be parsed as a stream.
    pub fn read(&self, art: &Artifact) -> Result<Vec<u8>, EvidenceError> {
        use std::io::Read;
        let mut r = self.open(art)?;
        let size = std::fs::metadata(&art.path).map(|m| m.len()).unwrap_or(0);
        if size > MAX_WHOLE_FILE {
            r.finish().map_err(|e| EvidenceError::io(&art.path, e))?;
            return Err(EvidenceError::TooLarge {
                path: art.path.clone(),
                size,
                limit: MAX_WHOLE_FILE,
            });
        }
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        // `take` guards against a file that grows while it is read.
        (&mut r)
            .take(MAX_WHOLE_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| EvidenceError::io(&art.path, e))?;
        if bytes.len() as u64 > MAX_WHOLE_FILE {
            r.finish().map_err(|e| EvidenceError::io(&art.path, e))?;
            return Err(EvidenceError::TooLarge {
                path: art.path.clone(),
                size: bytes.len() as u64,
                limit: MAX_WHOLE_FILE,
            });
        }
        r.finish().map_err(|e| EvidenceError::io(&art.path, e))?;
        // A file of an encrypted backup comes back decrypted (the log keeps both hashes).
        let Some((key, size)) = self.file_key(art)? else {
            return Ok(bytes);
        };
        let mut plain = Vec::with_capacity(bytes.len());
        let d = crypto::decrypt_stream(&key, size, bytes.as_slice(), &mut plain)
            .map_err(|e| EvidenceError::io(&art.path, e))?;
        self.inputs.record_plain(&art.path, &d);
        Ok(plain)
    }

    /// The key and recorded size of a file of an encrypted backup; `None` for
    /// everything stored in the clear.
    pub(crate) fn file_key(
        &self,
        art: &Artifact,
    ) -> Result<Option<(FileKey, Option<u64>)>, EvidenceError> {
        let Some(c) = self.containers.get(art.container) else {
            return Ok(None);
        };
        let (Some(enc), Some(m), Some((domain, rel))) = (&c.encryption, &c.manifest, &art.backup)
        else {
            return Ok(None);
        };
        let Some(entry) = m.get(domain, rel) else {
            return Ok(None);
        };
        let Some(wrapped) = entry.file.as_ref().and_then(|f| f.encryption_key.as_ref()) else {
            // An empty file needs no key; bytes without one would be read as ciphertext.
            if std::fs::metadata(&art.path).is_ok_and(|m| m.len() > 0) {
                return Err(EvidenceError::Invalid {
                    path: art.path.clone(),
                    msg: format!(
                        "{} has no EncryptionKey in Manifest.db, so it cannot be decrypted",
                        art.logical
                    ),
                });
            }
            return Ok(None);
        };
        let key = enc
            .keys
            .unwrap_file_key(wrapped)
            .map_err(|e| EvidenceError::Invalid {
                path: art.path.clone(),
                msg: format!("cannot decrypt {}: {e}", art.logical),
            })?;
        let size = entry
            .file
            .as_ref()
            .and_then(|f| f.size)
            .and_then(|s| u64::try_from(s).ok());
        Ok(Some((key, size)))
    }

    /// The first `n` bytes of an evidence file (to tell its type by magic numbers);
    /// the rest is streamed through the hasher, so the input log holds the whole file
    /// and memory holds `n` bytes whatever its size.
    pub fn read_head(&self, art: &Artifact, n: usize) -> Result<Vec<u8>, EvidenceError> {
        use std::io::Read;
        // Ciphertext says nothing about the type: decrypt (whole, within the read cap).
        if self.file_key(art)?.is_some() {
            let mut plain = self.read(art)?;
            plain.truncate(n);
            return Ok(plain);
        }
        let mut r = self.open(art)?;
        let mut head = Vec::with_capacity(n);
        (&mut r)
            .take(n as u64)
            .read_to_end(&mut head)
            .map_err(|e| EvidenceError::io(&art.path, e))?;
        r.finish().map_err(|e| EvidenceError::io(&art.path, e))?;
        Ok(head)
    }

    /// Opens an evidence file as a hashed stream (for logs and other files that may
    /// be too large to hold).
    pub fn open<'a>(&'a self, art: &'a Artifact) -> Result<EvidenceReader<'a>, EvidenceError> {
        let meta = std::fs::metadata(&art.path).map_err(|e| EvidenceError::io(&art.path, e))?;
        if !meta.is_file() {
            return Err(EvidenceError::NotRegular {
                path: art.path.clone(),
            });
        }
        let f = std::fs::File::open(&art.path).map_err(|e| EvidenceError::io(&art.path, e))?;
        Ok(EvidenceReader::new(self, art, f))
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
                        Some(l @ Lookup::Found(_)) => match self.qualified(l) {
                            Lookup::Found(a) => Some(a),
                            Lookup::Missing { .. } => None,
                        },
                        _ => None,
                    }
                }),
                _ => {
                    let mut p = art.path.clone().into_os_string();
                    p.push(suffix);
                    let p = PathBuf::from(p);
                    let root = self
                        .containers
                        .get(art.container)
                        .map(|c| c.root.as_path())
                        .unwrap_or(Path::new("/"));
                    matches!(probe(root, &p), Probe::File).then(|| Artifact {
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
    // Links are not followed (a loop, or a way out of the evidence); one whose name
    // fits is reported as missing, with the reason.
    let mut found: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| !e.file_type().is_dir())
        .filter(|e| accept(&e.file_name().to_string_lossy()))
        .map(|e| e.into_path())
        .collect();
    found.sort();
    for p in found {
        let rel = p
            .strip_prefix(root)
            .unwrap_or(&p)
            .to_string_lossy()
            .into_owned();
        let logical = format!("{prefix}{rel}");
        match probe(root, &p) {
            Probe::File => out.push(Lookup::Found(Artifact {
                logical,
                path: p,
                container,
                backup: None,
            })),
            Probe::Absent => {}
            Probe::Refused(reason) => out.push(Lookup::Missing {
                logical,
                container,
                reason,
            }),
        }
    }
}

/// The first of `paths` (relative to `root`) that is a file inside the container.
fn first_file(root: &Path, paths: &[&str], prefix: &str, container: usize) -> Option<Lookup> {
    let mut refused = None;
    for p in paths {
        let logical = format!("{prefix}{p}");
        match probe(root, &root.join(p)) {
            Probe::File => {
                return Some(Lookup::Found(Artifact {
                    logical,
                    path: root.join(p),
                    container,
                    backup: None,
                }))
            }
            Probe::Absent => {}
            Probe::Refused(reason) => {
                refused.get_or_insert(Lookup::Missing {
                    logical,
                    container,
                    reason,
                });
            }
        }
    }
    refused
}

/// What is at a path inside a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Probe {
    /// A regular file inside the container (possibly through a link that stays inside).
    File,
    /// Nothing, or a folder.
    Absent,
    /// Something that must not be opened, and why: a link out of the evidence, a
    /// broken or looping link, a pipe or device.
    Refused(String),
}

/// Looks at `path` without trusting it: links are resolved and must stay inside
/// `root`; only regular files are accepted (opening a pipe would hang the run).
pub(crate) fn probe(root: &Path, path: &Path) -> Probe {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Probe::Absent;
    };
    let ft = meta.file_type();
    if ft.is_dir() {
        return Probe::Absent;
    }
    if !ft.is_file() && !ft.is_symlink() {
        return Probe::Refused("not a regular file (a pipe, device or socket); not opened".into());
    }
    let (Ok(real), Ok(real_root)) = (std::fs::canonicalize(path), std::fs::canonicalize(root))
    else {
        return Probe::Refused("a broken or looping symbolic link; not followed".into());
    };
    if !real.starts_with(&real_root) {
        return Probe::Refused(format!(
            "resolves to {}, outside the evidence; not followed",
            real.display()
        ));
    }
    match std::fs::metadata(&real) {
        Ok(m) if m.is_file() => Probe::File,
        Ok(m) if m.is_dir() => Probe::Absent,
        Ok(_) => Probe::Refused("links to something that is not a regular file; not opened".into()),
        Err(_) => Probe::Refused("a broken or looping symbolic link; not followed".into()),
    }
}

/// Whether a relative path the evidence gives (a Manifest.db relativePath, an
/// attachment path in sms.db) could leave the folder it is joined to: a `..`
/// component, an absolute path, a NUL byte.
pub fn leaves_root(rel: &str) -> bool {
    rel.starts_with('/')
        || rel.starts_with('\\')
        || rel.contains('\0')
        || rel.split(['/', '\\']).any(|c| c == "..")
}
