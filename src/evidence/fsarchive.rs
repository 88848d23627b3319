//! Archives an analyst is handed: a sysdiagnose `.tar.gz`, or a full filesystem
//! extraction as `.tar`/`.tar.gz`/`.tgz` (the usual output of agent- and checkm8-based
//! tools). Which one it is follows from what the archive holds, not from its name: a
//! member under `private/var/` makes it a filesystem dump.
//!
//! The archive is read once, as a stream, hashed as it goes. A sysdiagnose is small and
//! is unpacked whole into the private scratch folder. A filesystem dump can be many GB:
//! only the members the sources read (their databases, plists and logs, with `-wal`/
//! `-shm`; see [`wanted`]) are written to scratch, under their real paths so the sources
//! find them as in a folder dump, and only the headers of members in the subtrees whose
//! file times matter are kept ([`FILE_TIME_SUBTREES`]). Nothing else touches the disk.
//! Members whose path leaves the archive (`..`, absolute), links and devices are never
//! written.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use super::reader::Hashing;
use super::{Container, ContainerKind, DeviceInfo, Evidence, EvidenceError, MemberTimes, Warning};

/// The folders (and files) of a filesystem dump that sources read. A member is written
/// to scratch only when its path starts with one of these.
const EXTRACT_PREFIXES: [&str; 13] = [
    "private/var/mobile/Library/SMS/",
    "private/var/wireless/Library/Databases/",
    "private/var/networkd/",
    "private/var/mobile/Library/Preferences/",
    "private/var/mobile/Library/Caches/locationd/",
    "private/var/root/Library/Caches/locationd/",
    "private/var/mobile/Library/IdentityServices/",
    "private/var/mobile/Library/Safari/",
    "private/var/mobile/Library/TCC/",
    "private/var/db/diagnostics/shutdown",
    "private/var/mobile/Library/Logs/",
    "private/var/installd/Library/Logs/",
    "private/var/root/Library/Preferences/",
];

/// Subtrees whose members' times become `filesystem` rows (see sources/filetimes.rs).
pub const FILE_TIME_SUBTREES: [&str; 6] = [
    "private/var/mobile/Library/SMS/Attachments/",
    "private/var/mobile/Library/Preferences/",
    "private/var/root/Library/Preferences/",
    "private/var/preferences/",
    "private/var/tmp/",
    "private/var/db/com.apple.xpc.roleaccountd.staging/",
];

/// Most bytes written to scratch from one archive, and most member headers kept.
const MAX_EXTRACTED: u64 = 16 << 30;
const MAX_MEMBERS_KEPT: usize = 2_000_000;

/// Whether a source reads this dump path (PowerLog files anywhere under SystemGroup).
pub fn wanted(rel: &str) -> bool {
    if rel.starts_with("private/var/containers/Shared/SystemGroup/") {
        let n = rel.to_ascii_lowercase();
        return n.ends_with(".plsql") || n.ends_with(".plsql.gz") || n.contains(".plsql-");
    }
    EXTRACT_PREFIXES.iter().any(|p| rel.starts_with(p))
}

fn keeps_times(rel: &str) -> bool {
    FILE_TIME_SUBTREES
        .iter()
        .any(|p| rel.starts_with(p) || format!("{rel}/") == *p)
}

/// The member's path inside a filesystem dump (`private/var/...`), wherever the dump's
/// root sits in the archive (`./`, `filesystem1/`, a device folder).
fn dump_path(raw: &str) -> Option<String> {
    let raw = raw.trim_start_matches("./").trim_start_matches('/');
    let i = if raw.starts_with("private/var/") || raw == "private/var" {
        0
    } else {
        raw.find("/private/var/").map(|i| i + 1)?
    };
    Some(raw[i..].trim_end_matches('/').to_string())
}

/// A relative path with only normal components (no `..`, no root).
fn safe(rel: &str) -> bool {
    !rel.is_empty()
        && Path::new(rel)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

pub fn is_archive(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.ends_with(".tar.gz") || n.ends_with(".tgz") || n.ends_with(".tar") || n.ends_with(".zip")
}

/// Reads an archive given directly (`direct`: a failure is the run's error) or found in
/// a case folder (a failure is a warning), and adds the container it holds.
pub(super) fn open_archive(
    ev: &mut Evidence,
    archive: &Path,
    direct: bool,
) -> Result<(), EvidenceError> {
    if archive
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
    {
        return open_zip(ev, archive, direct);
    }
    let file = std::fs::File::open(archive).map_err(|e| EvidenceError::io(archive, e))?;
    let name = archive
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let named_sysdiagnose = name.to_ascii_lowercase().contains("sysdiagnose");
    let dir = tempfile::Builder::new()
        .prefix("archive-")
        .tempdir_in(ev.scratch())
        .map_err(|e| EvidenceError::io(ev.scratch(), e))?;
    let mut hashing = Hashing::new(std::io::BufReader::new(file));
    let mut r = Reading::default();
    {
        let stream: Box<dyn Read + '_> = if name.to_ascii_lowercase().ends_with(".tar") {
            Box::new(&mut hashing)
        } else {
            Box::new(flate2::read::GzDecoder::new(&mut hashing))
        };
        let mut tar = tar::Archive::new(stream);
        match tar.entries() {
            Err(e) => r.damage = Some(e.to_string()),
            Ok(entries) => {
                for (i, entry) in entries.enumerate() {
                    match entry {
                        Ok(mut e) => {
                            if let Err(msg) = r.member(&mut e, i + 1, dir.path(), named_sysdiagnose)
                            {
                                r.damage = Some(msg);
                                break;
                            }
                        }
                        Err(e) => {
                            r.damage = Some(e.to_string());
                            break;
                        }
                    }
                }
            }
        }
    }
    let (size, sha256) = hashing
        .finish()
        .map_err(|e| EvidenceError::io(archive, e))?;
    let shown = if name.is_empty() {
        "archive".into()
    } else {
        name.clone()
    };
    ev.inputs.insert(archive, &shown, size, sha256);
    ev.inputs.unpacked_into(dir.path(), archive);
    let read = r.written + r.members.len() + r.listed;
    if let Some(e) = &r.damage {
        let form = if name.to_ascii_lowercase().ends_with(".tar") {
            "tar"
        } else {
            "tar.gz"
        };
        let message = format!("not a readable {form} after {read} members: {e}");
        if read == 0 {
            if direct {
                return Err(EvidenceError::Invalid {
                    path: archive.to_path_buf(),
                    msg: message,
                });
            }
            ev.warnings.push(Warning::new(
                archive.to_string_lossy(),
                format!("{message}; nothing in it was analysed"),
            ));
            return Ok(());
        }
        ev.warnings.push(Warning::new(
            archive.to_string_lossy(),
            format!("{message}; the members after the damage are lost"),
        ));
    }
    if r.refused > 0 {
        ev.warnings.push(Warning::new(
            archive.to_string_lossy(),
            format!(
                "{} archive members skipped (links, devices, or paths leading out of the archive)",
                r.refused
            ),
        ));
    }
    if r.over_cap {
        ev.warnings.push(Warning::new(
            archive.to_string_lossy(),
            format!("more than {MAX_EXTRACTED} bytes of wanted members or {MAX_MEMBERS_KEPT} member headers: the rest were not extracted or listed"),
        ));
    }
    if !r.filesystem && r.written == 0 {
        ev.warnings.push(Warning::new(
            archive.to_string_lossy(),
            "holds neither a filesystem dump (no member under private/var/) nor a sysdiagnose; not analysed",
        ));
        return Ok(());
    }
    let container = if r.filesystem {
        Container {
            kind: ContainerKind::Filesystem,
            origin: archive.to_path_buf(),
            root: dir.path().to_path_buf(),
            device: DeviceInfo::default(),
            manifest: None,
            files: Vec::new(),
            encryption: None,
            members: r.members,
        }
    } else {
        // A sysdiagnose holds one top-level folder, sysdiagnose_<date>_<device>/.
        let mut root = dir.path().to_path_buf();
        if let Ok(rd) = std::fs::read_dir(dir.path()) {
            let subs: Vec<PathBuf> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
            if subs.len() == 1 && subs[0].is_dir() {
                root = subs[0].clone();
            }
        }
        Container {
            kind: ContainerKind::Sysdiagnose,
            origin: archive.to_path_buf(),
            root,
            device: DeviceInfo::default(),
            manifest: None,
            files: Vec::new(),
            encryption: None,
            members: Vec::new(),
        }
    };
    ev.containers.push(container);
    ev._unpacked.push(dir);
    Ok(())
}

/// A `.zip` extraction: its central directory lists every member with its times, so
/// the members are listed first and only those sources read are decompressed. Member
/// times come from the extended-timestamp field (Unix UTC: modification, access,
/// creation) when the tool wrote it, else from the DOS time, a local time of unknown
/// zone read as UTC (run.json warns).
fn open_zip(ev: &mut Evidence, archive: &Path, direct: bool) -> Result<(), EvidenceError> {
    let fail = |ev: &mut Evidence, msg: String| -> Result<(), EvidenceError> {
        if direct {
            return Err(EvidenceError::Invalid {
                path: archive.to_path_buf(),
                msg,
            });
        }
        ev.warnings.push(Warning::new(
            archive.to_string_lossy(),
            format!("{msg}; nothing in it was analysed"),
        ));
        Ok(())
    };
    // The whole file is hashed as one input, in one streaming pass.
    let file = std::fs::File::open(archive).map_err(|e| EvidenceError::io(archive, e))?;
    let mut hashing = Hashing::new(std::io::BufReader::new(file));
    std::io::copy(&mut hashing, &mut std::io::sink()).map_err(|e| EvidenceError::io(archive, e))?;
    let (size, sha256) = hashing
        .finish()
        .map_err(|e| EvidenceError::io(archive, e))?;
    let name = archive
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "archive.zip".into());
    ev.inputs.insert(archive, &name, size, sha256);
    let file = std::fs::File::open(archive).map_err(|e| EvidenceError::io(archive, e))?;
    let mut zip = match zip::ZipArchive::new(std::io::BufReader::new(file)) {
        Ok(z) => z,
        Err(e) => return fail(ev, format!("not a readable zip: {e}")),
    };
    let dir = tempfile::Builder::new()
        .prefix("archive-")
        .tempdir_in(ev.scratch())
        .map_err(|e| EvidenceError::io(ev.scratch(), e))?;
    ev.inputs.unpacked_into(dir.path(), archive);
    let mut r = Reading::default();
    let mut dos_times = 0usize;
    for i in 0..zip.len() {
        let mut f = match zip.by_index(i) {
            Ok(f) => f,
            Err(e) => {
                r.damage = Some(format!("member {}: {e}", i + 1));
                continue;
            }
        };
        let raw = f.name().map(|n| n.into_owned()).unwrap_or_default();
        let Some(rel) = dump_path(&raw) else {
            r.listed += 1;
            continue;
        };
        r.filesystem = true;
        if !safe(&rel) || f.is_symlink() {
            r.refused += 1;
            continue;
        }
        let is_dir = f.is_dir();
        if keeps_times(&rel) {
            let mut t = MemberTimes {
                path: rel.clone(),
                is_dir,
                size: f.size(),
                mtime: None,
                atime: None,
                ctime: None,
                btime: None,
                index: i + 1,
            };
            for x in f.extra_data_fields() {
                if let zip::extra_fields::ExtraField::ExtendedTimestamp(ts) = x {
                    t.mtime = ts.mod_time().map(i64::from);
                    t.atime = ts.ac_time().map(i64::from);
                    t.btime = ts.cr_time().map(i64::from);
                }
            }
            if t.mtime.is_none() {
                t.mtime = f.last_modified().and_then(|d| {
                    let date = chrono::NaiveDate::from_ymd_opt(
                        d.year().into(),
                        d.month().into(),
                        d.day().into(),
                    )?;
                    let at =
                        date.and_hms_opt(d.hour().into(), d.minute().into(), d.second().into())?;
                    Some(at.and_utc().timestamp())
                });
                dos_times += 1;
            }
            if r.members.len() < MAX_MEMBERS_KEPT {
                r.members.push(t);
            } else {
                r.over_cap = true;
            }
        }
        if !is_dir && wanted(&rel) {
            let size = f.size();
            if r.bytes + size > MAX_EXTRACTED {
                r.over_cap = true;
                continue;
            }
            let dest = dir.path().join(&rel);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(|e| EvidenceError::io(parent, e))?;
            }
            let mut out = std::fs::File::create(&dest).map_err(|e| EvidenceError::io(&dest, e))?;
            // The declared size bounds what is written, whatever the data expands to.
            match std::io::copy(&mut Read::take(&mut f, size), &mut out) {
                Ok(n) => {
                    r.bytes += n;
                    r.written += 1;
                }
                Err(e) => r.damage = Some(format!("{raw}: {e}")),
            }
        } else {
            r.listed += 1;
        }
    }
    if !r.filesystem {
        return fail(
            ev,
            "a zip without members under private/var/: not a filesystem dump".into(),
        );
    }
    if let Some(e) = &r.damage {
        ev.warnings.push(Warning::new(
            archive.to_string_lossy(),
            format!("some members could not be read ({e}); the others were"),
        ));
    }
    if dos_times > 0 {
        ev.warnings.push(Warning::new(
            archive.to_string_lossy(),
            format!("{dos_times} members have only a DOS time (local time of the zipping machine, zone unknown): read as UTC"),
        ));
    }
    if r.refused > 0 {
        ev.warnings.push(Warning::new(
            archive.to_string_lossy(),
            format!(
                "{} archive members skipped (links, or paths leading out of the archive)",
                r.refused
            ),
        ));
    }
    ev.containers.push(Container {
        kind: ContainerKind::Filesystem,
        origin: archive.to_path_buf(),
        root: dir.path().to_path_buf(),
        device: DeviceInfo::default(),
        manifest: None,
        files: Vec::new(),
        encryption: None,
        members: r.members,
    });
    ev._unpacked.push(dir);
    Ok(())
}

#[derive(Default)]
struct Reading {
    filesystem: bool,
    written: usize,
    /// Members looked at and neither written nor listed.
    listed: usize,
    refused: usize,
    bytes: u64,
    over_cap: bool,
    members: Vec<MemberTimes>,
    damage: Option<String>,
}

impl Reading {
    fn member<R: Read>(
        &mut self,
        e: &mut tar::Entry<'_, R>,
        index: usize,
        dir: &Path,
        named_sysdiagnose: bool,
    ) -> Result<(), String> {
        let kind = e.header().entry_type();
        let raw = e
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(rel) = dump_path(&raw) else {
            // Not under private/var: a sysdiagnose's content, or the rest of a full
            // dump (System/, usr/, ...), which no source reads.
            let first = raw.trim_start_matches("./").split('/').next().unwrap_or("");
            if !(named_sysdiagnose || first.to_ascii_lowercase().starts_with("sysdiagnose")) {
                self.listed += 1;
                return Ok(());
            }
            if !(kind.is_file() || kind.is_dir()) {
                self.refused += 1;
                return Ok(());
            }
            return match e.unpack_in(dir) {
                Ok(true) => {
                    self.written += 1;
                    Ok(())
                }
                Ok(false) => {
                    self.refused += 1;
                    Ok(())
                }
                Err(err) => Err(err.to_string()),
            };
        };
        self.filesystem = true;
        if !safe(&rel) {
            self.refused += 1;
            return Ok(());
        }
        if !(kind.is_file() || kind.is_dir()) {
            // Links are listed by their times like the others, never followed.
            if !kind.is_symlink() && !kind.is_hard_link() {
                self.refused += 1;
            }
        }
        if keeps_times(&rel) && (kind.is_file() || kind.is_dir()) {
            if self.members.len() < MAX_MEMBERS_KEPT {
                self.members
                    .push(times_of(e, rel.clone(), kind.is_dir(), index));
            } else {
                self.over_cap = true;
            }
        }
        if kind.is_file() && wanted(&rel) {
            let size = e.header().size().unwrap_or(0);
            if self.bytes + size > MAX_EXTRACTED {
                self.over_cap = true;
                return Ok(());
            }
            let dest = dir.join(&rel);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(|err| err.to_string())?;
            }
            let mut out = std::fs::File::create(&dest).map_err(|err| err.to_string())?;
            let n = std::io::copy(&mut Read::take(&mut *e, size), &mut out)
                .map_err(|err| err.to_string())?;
            if let Ok(Some(m)) = e.header().mtime().map(|m| i64::try_from(m).ok()) {
                let _ = filetime_set(&dest, m);
            }
            self.bytes += n;
            self.written += 1;
        } else {
            self.listed += 1;
        }
        Ok(())
    }
}

/// Keeps the member's modification time on its extracted copy (sources that report a
/// file's own time read it there).
fn filetime_set(path: &Path, mtime: i64) -> std::io::Result<()> {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime.max(0) as u64);
    std::fs::File::options()
        .write(true)
        .open(path)?
        .set_modified(t)
}

fn times_of<R: Read>(
    e: &mut tar::Entry<'_, R>,
    path: String,
    is_dir: bool,
    index: usize,
) -> MemberTimes {
    let h = e.header();
    let mut t = MemberTimes {
        path,
        is_dir,
        size: h.size().unwrap_or(0),
        mtime: h.mtime().ok().and_then(|m| i64::try_from(m).ok()),
        atime: None,
        ctime: None,
        btime: None,
        index,
    };
    if let Some(g) = h.as_gnu() {
        t.atime = g
            .atime()
            .ok()
            .and_then(|v| i64::try_from(v).ok())
            .filter(|v| *v > 0);
        t.ctime = g
            .ctime()
            .ok()
            .and_then(|v| i64::try_from(v).ok())
            .filter(|v| *v > 0);
    }
    // PAX records (POSIX tar, libarchive/bsdtar, GNU tar --format=posix) carry
    // fractional times and, from libarchive, the birth time.
    if let Ok(Some(pax)) = e.pax_extensions() {
        for ext in pax.flatten() {
            let (Ok(k), Ok(v)) = (ext.key(), ext.value()) else {
                continue;
            };
            let secs = v.split('.').next().and_then(|s| s.parse::<i64>().ok());
            match k {
                "mtime" => t.mtime = secs.or(t.mtime),
                "atime" => t.atime = secs,
                "ctime" => t.ctime = secs,
                "LIBARCHIVE.creationtime" => t.btime = secs,
                _ => {}
            }
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_paths_wherever_the_root_sits() {
        assert_eq!(
            dump_path("./private/var/mobile/Library/SMS/sms.db").as_deref(),
            Some("private/var/mobile/Library/SMS/sms.db")
        );
        assert_eq!(
            dump_path("filesystem1/private/var/tmp/x/").as_deref(),
            Some("private/var/tmp/x")
        );
        assert_eq!(
            dump_path("/private/var/db/a").as_deref(),
            Some("private/var/db/a")
        );
        assert_eq!(dump_path("System/Library/x"), None);
        assert_eq!(dump_path("sysdiagnose_x/ps.txt"), None);
    }

    #[test]
    fn what_is_extracted() {
        // Every file path a source looks up in a filesystem dump.
        for p in [
            "private/var/mobile/Library/SMS/sms.db",
            "private/var/mobile/Library/SMS/sms.db-wal",
            "private/var/mobile/Library/SMS/Attachments/65/05/G/IMG.HEIC",
            "private/var/wireless/Library/Databases/DataUsage.sqlite",
            "private/var/networkd/netusage.sqlite",
            "private/var/networkd/db/netusage.sqlite",
            "private/var/mobile/Library/Preferences/com.apple.osanalytics.addaily.plist",
            "private/var/mobile/Library/Preferences/com.apple.identityservices.idstatuscache.plist",
            "private/var/mobile/Library/IdentityServices/idstatuscache.plist",
            "private/var/root/Library/Caches/locationd/clients.plist",
            "private/var/mobile/Library/Caches/locationd/clients.plist",
            "private/var/mobile/Library/Safari/History.db",
            "private/var/mobile/Library/TCC/TCC.db",
            "private/var/db/diagnostics/shutdown.log",
            "private/var/mobile/Library/Logs/CrashReporter/x.ips",
            "private/var/containers/Shared/SystemGroup/ABC/Library/BatteryLife/CurrentPowerlog.PLSQL",
            "private/var/containers/Shared/SystemGroup/ABC/Library/BatteryLife/Archives/a.PLSQL.gz",
            "private/var/installd/Library/Logs/MobileInstallation/mobile_installation.log.0",
        ] {
            assert!(wanted(p), "{p}");
        }
        for p in [
            "private/var/db/diagnostics/Persist/0000000000000001.tracev3",
            "private/var/containers/Shared/SystemGroup/ABC/Library/Caches/big.bin",
            "private/var/mobile/Media/DCIM/100APPLE/IMG_0001.HEIC",
        ] {
            assert!(!wanted(p), "{p}");
        }
        assert!(keeps_times("private/var/mobile/Library/SMS/Attachments/65"));
        assert!(keeps_times("private/var/tmp"));
        assert!(!keeps_times("private/var/mobile/Media/DCIM/x"));
        assert!(!safe("private/var/../../etc/passwd"));
        assert!(safe("private/var/tmp/a"));
    }
}
