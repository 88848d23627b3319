//! Recognising containers under the paths an analyst gives.

use std::path::{Path, PathBuf};

use super::backup::{device_info, encrypted_manifest, is_backup_dir, ManifestIndex};
use super::crypto::{self, Keyring};
use super::{Container, ContainerKind, DeviceInfo, Evidence, EvidenceError, FailedContainer};

/// How deep a case folder is searched.
const MAX_DEPTH: usize = 8;

pub(super) fn walk(
    ev: &mut Evidence,
    path: &Path,
    keys: &Keyring<'_>,
) -> Result<(), EvidenceError> {
    let meta = std::fs::metadata(path).map_err(|e| EvidenceError::io(path, e))?;
    if meta.is_file() {
        return single_file(ev, path);
    }
    // Reading the folder up front turns a permission problem into a clear error.
    std::fs::read_dir(path).map_err(|e| EvidenceError::io(path, e))?;
    visit(ev, path, 0, keys)
}

fn single_file(ev: &mut Evidence, path: &Path) -> Result<(), EvidenceError> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if is_crash_report(name) {
        ev.containers.push(Container {
            kind: ContainerKind::CrashReports,
            origin: path.to_path_buf(),
            root: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
            device: DeviceInfo::default(),
            manifest: None,
            files: vec![path.to_path_buf()],
            encryption: None,
        });
        Ok(())
    } else if is_archive(name) {
        unpack_sysdiagnose(ev, path)
    } else {
        Err(EvidenceError::NoEvidence(path.to_path_buf()))
    }
}

fn visit(
    ev: &mut Evidence,
    dir: &Path,
    depth: usize,
    keys: &Keyring<'_>,
) -> Result<(), EvidenceError> {
    // Not exclusive: the folder is still looked at as any other.
    if is_mvt_output(dir) {
        ev.containers.push(plain(ContainerKind::MvtOutput, dir));
    }
    if is_backup_dir(dir) {
        return add_backup(ev, dir, keys);
    }
    if dir.join("private/var").is_dir() {
        ev.containers.push(plain(ContainerKind::Filesystem, dir));
        return Ok(());
    }
    if is_sysdiagnose_dir(dir) {
        ev.containers.push(plain(ContainerKind::Sysdiagnose, dir));
        return Ok(());
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    let mut has_reports = false;
    for p in &entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        // Never follow links out of the evidence.
        let Ok(m) = std::fs::symlink_metadata(p) else {
            continue;
        };
        if m.is_file() {
            if is_crash_report(name) {
                has_reports = true;
            } else if is_archive(name) && name.to_lowercase().contains("sysdiagnose") {
                unpack_sysdiagnose(ev, p)?;
            }
        }
    }
    if has_reports {
        let mut c = plain(ContainerKind::CrashReports, dir);
        c.files = entries
            .iter()
            .filter(|p| {
                p.is_file()
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(is_crash_report)
            })
            .cloned()
            .collect();
        ev.containers.push(c);
    }
    if depth < MAX_DEPTH {
        for p in &entries {
            if std::fs::symlink_metadata(p)
                .map(|m| m.is_dir())
                .unwrap_or(false)
            {
                visit(ev, p, depth + 1, keys)?;
            }
        }
    }
    Ok(())
}

fn plain(kind: ContainerKind, dir: &Path) -> Container {
    Container {
        kind,
        origin: dir.to_path_buf(),
        root: dir.to_path_buf(),
        device: DeviceInfo::default(),
        manifest: None,
        files: Vec::new(),
        encryption: None,
    }
}

/// Adds a backup. An encrypted one that does not open (wrong or missing password) is
/// listed in `ev.failed` and the walk goes on.
fn add_backup(ev: &mut Evidence, dir: &Path, keys: &Keyring<'_>) -> Result<(), EvidenceError> {
    let encryption = match encrypted_manifest(ev, dir)? {
        None => None,
        Some(manifest) => match crypto::open(dir, &manifest, keys) {
            Ok(e) => Some(e),
            Err(reason) => {
                let e = EvidenceError::Locked {
                    path: dir.to_path_buf(),
                    reason,
                };
                ev.failed.push(FailedContainer {
                    kind: ContainerKind::Backup,
                    origin: dir.to_path_buf(),
                    error: e.to_string(),
                });
                ev.first_locked.get_or_insert(e);
                return Ok(());
            }
        },
    };
    let idx = ev.containers.len();
    let manifest = ManifestIndex::load(ev, dir, idx, encryption.as_ref())?;
    let device = device_info(ev, dir);
    ev.containers.push(Container {
        kind: ContainerKind::Backup,
        origin: dir.to_path_buf(),
        root: dir.to_path_buf(),
        device,
        manifest: Some(manifest),
        files: Vec::new(),
        encryption,
    });
    Ok(())
}

pub fn is_crash_report(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.ends_with(".ips")
        || n.ends_with(".crash")
        || n.ends_with(".ips.synced")
        || n.ends_with(".ips.beta")
}

/// MVT's `timeline.csv` header, written by every `mvt-ios check-*` command.
const MVT_TIMELINE_HEADER: &str = "\"UTC Timestamp\",\"Plugin\",\"Event\",\"Description\"";

/// A folder holding a `timeline.csv` whose first line is MVT's header. Only the first
/// line is read: other CSV files named timeline.csv (chainline's own exports) differ.
fn is_mvt_output(dir: &Path) -> bool {
    let path = dir.join("timeline.csv");
    // Never follow a link out of the evidence.
    if !std::fs::symlink_metadata(&path)
        .map(|m| m.is_file())
        .unwrap_or(false)
    {
        return false;
    }
    let Ok(f) = std::fs::File::open(&path) else {
        return false;
    };
    let mut first = Vec::new();
    let mut reader = std::io::BufReader::new(std::io::Read::take(f, 256));
    if std::io::BufRead::read_until(&mut reader, b'\n', &mut first).is_err() {
        return false;
    }
    let line = String::from_utf8_lossy(&first);
    line.trim_start_matches('\u{feff}').trim_end() == MVT_TIMELINE_HEADER
}

fn is_archive(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.ends_with(".tar.gz") || n.ends_with(".tgz")
}

fn is_sysdiagnose_dir(dir: &Path) -> bool {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_lowercase();
    name.starts_with("sysdiagnose")
        || dir.join("system_logs.logarchive").is_dir()
        || dir.join("crashes_and_spins").is_dir()
}

/// Unpacks a sysdiagnose archive into a private temp folder (never next to the
/// evidence). `unpack_in` refuses entries that would land outside that folder.
fn unpack_sysdiagnose(ev: &mut Evidence, archive: &Path) -> Result<(), EvidenceError> {
    let bytes = std::fs::read(archive).map_err(|e| EvidenceError::io(archive, e))?;
    let name = archive
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("sysdiagnose")
        .to_string();
    ev.inputs.record(archive, &name, &bytes);
    let dir = tempfile::Builder::new()
        .prefix("sysdiagnose-")
        .tempdir_in(ev.scratch())
        .map_err(|e| EvidenceError::io(ev.scratch(), e))?;
    let gz = flate2::read::GzDecoder::new(std::io::Cursor::new(bytes));
    let mut tar = tar::Archive::new(gz);
    let bad = |e: std::io::Error| EvidenceError::Invalid {
        path: archive.to_path_buf(),
        msg: format!("not a readable tar.gz: {e}"),
    };
    for entry in tar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let kind = entry.header().entry_type();
        if kind.is_file() || kind.is_dir() {
            entry.unpack_in(dir.path()).map_err(bad)?;
        }
    }
    // Archives hold one top-level folder, sysdiagnose_<date>_<device>/.
    let mut root = dir.path().to_path_buf();
    if let Ok(rd) = std::fs::read_dir(dir.path()) {
        let subs: Vec<PathBuf> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
        if subs.len() == 1 && subs[0].is_dir() {
            root = subs[0].clone();
        }
    }
    ev.containers.push(Container {
        kind: ContainerKind::Sysdiagnose,
        origin: archive.to_path_buf(),
        root,
        device: DeviceInfo::default(),
        manifest: None,
        files: Vec::new(),
        encryption: None,
    });
    ev._unpacked.push(dir);
    Ok(())
}
