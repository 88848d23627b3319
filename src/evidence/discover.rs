//! Recognising containers under the paths an analyst gives.

use std::path::{Path, PathBuf};

use super::backup::{device_info, encrypted_manifest, is_backup_dir, ManifestIndex};
use super::crypto::{self, Keyring};
use super::fsarchive::is_archive;
use super::{
    Container, ContainerKind, DeviceInfo, Evidence, EvidenceError, FailedContainer, Warning,
};

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
    let name = lossy_name(path);
    let name = name.as_str();
    if is_crash_report(name) {
        ev.containers.push(Container {
            kind: ContainerKind::CrashReports,
            origin: path.to_path_buf(),
            root: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
            device: DeviceInfo::default(),
            manifest: None,
            files: vec![path.to_path_buf()],
            encryption: None,
            members: Vec::new(),
        });
        Ok(())
    } else if is_archive(name) {
        super::fsarchive::open_archive(ev, path, true)
    } else if is_export(name) {
        let mut c = plain(
            ContainerKind::Exports,
            path.parent().unwrap_or(Path::new(".")),
        );
        c.origin = path.to_path_buf();
        c.files = vec![path.to_path_buf()];
        ev.containers.push(c);
        Ok(())
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
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            ev.warnings.push(Warning::new(
                dir.to_string_lossy(),
                format!("folder not readable ({e}); nothing below it was searched"),
            ));
            return Ok(());
        }
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    let mut reports = Vec::new();
    let mut exports = Vec::new();
    let mut subdirs = Vec::new();
    for p in &entries {
        let name = lossy_name(p);
        if p.file_name().is_some_and(|n| n.to_str().is_none()) {
            ev.warnings.push(Warning::new(
                p.to_string_lossy(),
                format!("file name is not UTF-8; shown as {name:?} and read under its real name"),
            ));
        }
        // Never follow links: a loop, or a way out of the evidence.
        let Ok(m) = std::fs::symlink_metadata(p) else {
            continue;
        };
        let ft = m.file_type();
        if ft.is_symlink() {
            let target = std::fs::read_link(p)
                .map(|t| t.to_string_lossy().into_owned())
                .unwrap_or_default();
            ev.warnings.push(Warning::new(
                p.to_string_lossy(),
                format!("symbolic link to {target:?} not followed; whatever it points to was not analysed"),
            ));
        } else if ft.is_dir() {
            subdirs.push(p);
        } else if !ft.is_file() {
            if is_crash_report(&name) || is_archive(&name) {
                ev.warnings.push(Warning::new(
                    p.to_string_lossy(),
                    "not a regular file (a pipe, device or socket); not opened",
                ));
            }
        } else if is_crash_report(&name) {
            reports.push(p.clone());
        } else if is_export(&name) {
            exports.push(p.clone());
        } else if is_archive(&name) {
            // A sysdiagnose or a filesystem dump: told apart by what it holds.
            super::fsarchive::open_archive(ev, p, false)?;
        }
    }
    if !reports.is_empty() {
        let mut c = plain(ContainerKind::CrashReports, dir);
        c.files = reports;
        ev.containers.push(c);
    }
    if !exports.is_empty() {
        let mut c = plain(ContainerKind::Exports, dir);
        c.files = exports;
        ev.containers.push(c);
    }
    if depth < MAX_DEPTH {
        for p in subdirs {
            visit(ev, p, depth + 1, keys)?;
        }
    } else if !subdirs.is_empty() {
        ev.warnings.push(Warning::new(
            dir.to_string_lossy(),
            format!(
                "{} folders below this one are more than {MAX_DEPTH} levels deep in the case and were not searched",
                subdirs.len()
            ),
        ));
    }
    Ok(())
}

/// A file name for recognising and showing it: lossy when it is not UTF-8.
fn lossy_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
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
        members: Vec::new(),
    }
}

/// Adds a backup. An encrypted one that does not open (wrong or missing password) is
/// listed in `ev.failed` and the walk goes on.
fn add_backup(ev: &mut Evidence, dir: &Path, keys: &Keyring<'_>) -> Result<(), EvidenceError> {
    let encryption = match encrypted_manifest(ev, dir) {
        // A Manifest.db that is not SQLite in a backup that does not say it is
        // encrypted is damaged: the index load below reports it, the case goes on.
        Err(EvidenceError::Invalid { .. }) | Ok(None) => None,
        Err(e) => return Err(e),
        Ok(Some(manifest)) => match crypto::open(dir, &manifest, keys) {
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
    // A damaged index costs this backup's files, not the rest of the case.
    let manifest = match ManifestIndex::load(ev, dir, idx, encryption.as_ref()) {
        Ok(m) => Some(m),
        Err(e) => {
            ev.warnings.push(Warning::new(
                dir.join("Manifest.db").to_string_lossy(),
                format!("backup index unreadable ({e}): no file of this backup can be located, so nothing in it was analysed"),
            ));
            None
        }
    };
    let device = device_info(ev, dir);
    ev.containers.push(Container {
        kind: ContainerKind::Backup,
        origin: dir.to_path_buf(),
        root: dir.to_path_buf(),
        device,
        manifest,
        files: Vec::new(),
        encryption,
        members: Vec::new(),
    });
    Ok(())
}

/// Gives containers of the same kind a label each (their folder or file name) that
/// prefixes their logical paths, so their rows stay apart; warns when two backups
/// are of the same phone.
pub(super) fn label_containers(ev: &mut Evidence) {
    ev.labels = vec![None; ev.containers.len()];
    let kinds = [
        ContainerKind::Backup,
        ContainerKind::Filesystem,
        ContainerKind::Sysdiagnose,
        ContainerKind::CrashReports,
        ContainerKind::MvtOutput,
    ];
    for kind in kinds {
        let same: Vec<usize> = (0..ev.containers.len())
            .filter(|&i| ev.containers[i].kind == kind)
            .collect();
        if same.len() < 2 {
            continue;
        }
        let mut used: Vec<String> = Vec::new();
        for &i in &same {
            let base = match lossy_name(&ev.containers[i].origin) {
                n if n.is_empty() || n == "." || n == ".." => "evidence".to_string(),
                n => n,
            };
            let mut label = base.clone();
            let mut k = 2;
            while used.contains(&label) {
                label = format!("{base}~{k}");
                k += 1;
            }
            used.push(label.clone());
            if kind == ContainerKind::Backup {
                // Files read while discovering (Info.plist, Manifest.db) get it too.
                let root = ev.containers[i].root.clone();
                ev.inputs.prefix_logical(&root, &label);
                if let Some(m) = ev.containers[i].manifest.as_mut() {
                    m.artifact.logical = format!("{label}/{}", m.artifact.logical);
                }
            }
            ev.labels[i] = Some(label);
        }
    }
    let mut by_udid: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
    for (i, c) in ev.containers.iter().enumerate() {
        if let (ContainerKind::Backup, Some(u)) = (c.kind, c.device.udid.as_deref()) {
            by_udid.entry(u).or_default().push(i);
        }
    }
    let mut warnings = Vec::new();
    for (udid, list) in by_udid.into_iter().filter(|(_, l)| l.len() > 1) {
        let named: Vec<String> = list
            .iter()
            .map(|&i| {
                format!(
                    "{} (rows under {}/)",
                    ev.containers[i].origin.to_string_lossy(),
                    ev.labels[i].as_deref().unwrap_or("")
                )
            })
            .collect();
        warnings.push(Warning::new(
            named.join(", "),
            format!(
                "{} backups of the same device {udid}: all analysed; their rows are told apart by the artifact prefix, and the same event may appear once per backup",
                list.len()
            ),
        ));
    }
    ev.warnings.extend(warnings);
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

/// Newline-delimited JSON exports: the App Privacy Report (`App_Privacy_Report_*.ndjson`)
/// and `log show --style ndjson`. Each source checks the name again for its own kind.
fn is_export(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with(".ndjson")
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
