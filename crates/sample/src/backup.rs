//! The iTunes/Finder backup folder `<UDID>/`: `Info.plist`, `Manifest.plist`,
//! `Status.plist`, `Manifest.db` and every present file under `<id[0:2]>/<id>`.
//!
//! Manifest.db lists every artifact, every SMS attachment (present or not), the benign
//! files of [`super::life`] and a folder row for every parent folder. A folder's
//! Birth is its oldest child's, its M and C the last time a child was created in it.

use std::collections::BTreeMap;
use std::path::Path;

use plist::{Dictionary, Value};
use rand::Rng as _;
use rusqlite::{params, Connection};

use super::model::{Truth, World};
use super::{
    clock, datausage, io_err, plists, rng_for, safari, sms, sql_err, tcc, Case, SampleError,
};
use chainline::evidence::file_id;
use chainline::evidence::mbfile::{self, MbFile};

/// Every artifact file the backup holds, by domain and relative path.
pub const ARTIFACTS: &[(&str, &str)] = &[
    ("HomeDomain", "Library/SMS/sms.db"),
    ("WirelessDomain", "Library/Databases/DataUsage.sqlite"),
    ("HomeDomain", "Library/TCC/TCC.db"),
    ("HomeDomain", "Library/Safari/History.db"),
    (
        "HomeDomain",
        "Library/Preferences/com.apple.osanalytics.addaily.plist",
    ),
    ("RootDomain", "Library/Caches/locationd/clients.plist"),
    (
        "HomeDomain",
        "Library/Preferences/com.apple.identityservices.idstatuscache.plist",
    ),
    ("RootDomain", "Library/Preferences/com.apple.ImageIO.plist"),
    (
        "HomeDomain",
        "Library/Preferences/com.apple.locationd.StatusBarIconManager.plist",
    ),
    (
        "HomeDomain",
        "Library/Preferences/com.apple.imservice.ids.FaceTime.plist",
    ),
];

/// Creates a fresh SQLite file the way the artifacts are shipped here: rollback
/// journal (no WAL, so one file holds every row and the bytes are reproducible).
pub(super) fn create_db(path: &Path) -> Result<Connection, SampleError> {
    if path.exists() {
        std::fs::remove_file(path).map_err(io_err(path))?;
    }
    let conn = Connection::open(path).map_err(sql_err(path))?;
    // Cache size and synchronous only speed up writing; neither is stored in the file.
    conn.execute_batch(
        "PRAGMA journal_mode = DELETE; PRAGMA page_size = 4096; PRAGMA foreign_keys = OFF;
         PRAGMA cache_size = -131072; PRAGMA synchronous = OFF; PRAGMA temp_store = MEMORY;",
    )
    .map_err(sql_err(path))?;
    Ok(conn)
}

/// Compacts and closes a database written by [`create_db`].
pub(super) fn finish_db(conn: Connection, path: &Path) -> Result<(), SampleError> {
    conn.execute_batch("VACUUM;").map_err(sql_err(path))?;
    conn.close().map_err(|(_, e)| SampleError::Sqlite {
        path: path.to_path_buf(),
        source: e,
    })
}

struct Entry {
    flags: i64,
    birth: i64,
    modified: i64,
    changed: i64,
    size: i64,
    mark: Option<super::model::Mark>,
    /// Folders listed only because something below them is.
    derived: bool,
}

fn stored_at(dir: &Path, domain: &str, path: &str) -> std::path::PathBuf {
    let id = file_id(domain, path);
    dir.join(&id[..2]).join(id)
}

/// Writes the backup under `root/<UDID>/`; returns the number of Manifest.db rows.
pub fn write(
    w: &World,
    case: Case,
    seed: u64,
    root: &Path,
    truths: &mut Vec<Truth>,
) -> Result<usize, SampleError> {
    let d = &w.device;
    let dir = root.join(&d.udid);
    std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    let mut entries: BTreeMap<(String, String), Entry> = BTreeMap::new();

    for (domain, path) in ARTIFACTS {
        let dest = stored_at(&dir, domain, path);
        let parent = dest.parent().unwrap_or(&dir).to_path_buf();
        std::fs::create_dir_all(&parent).map_err(io_err(&parent))?;
        match *path {
            "Library/SMS/sms.db" => sms::write(w, &dest, truths)?,
            "Library/Databases/DataUsage.sqlite" => datausage::write(w, case, seed, &dest, truths)?,
            "Library/TCC/TCC.db" => tcc::write(w, &dest)?,
            "Library/Safari/History.db" => safari::write(w, &dest)?,
            _ => {
                let bytes = plists::bytes(w, domain, path, truths)
                    .map_err(|e| SampleError::Plist(dest.clone(), e))?;
                std::fs::write(&dest, bytes).map_err(io_err(&dest))?;
            }
        }
        let size = std::fs::metadata(&dest).map_err(io_err(&dest))?.len() as i64;
        let times = w
            .prefs
            .iter()
            .find(|(dm, p, _)| dm == domain && p == path)
            .map(|(_, _, t)| t.clone());
        let (birth, modified, changed, mark) = match times {
            Some(t) => (t.birth, t.modified, t.changed, t.mark),
            None => {
                let t = clock::unix_secs(d.backup) - 60;
                (t, t, t, None)
            }
        };
        entries.insert(
            (domain.to_string(), path.to_string()),
            Entry {
                flags: 1,
                birth,
                modified,
                changed,
                size,
                mark,
                derived: false,
            },
        );
    }

    for a in w.attachments.iter().filter(|a| !a.deleted) {
        let rel = a.relative_path();
        if a.present {
            let dest = stored_at(&dir, "MediaDomain", &rel);
            let parent = dest.parent().unwrap_or(&dir).to_path_buf();
            std::fs::create_dir_all(&parent).map_err(io_err(&parent))?;
            std::fs::write(&dest, &a.content).map_err(io_err(&dest))?;
        }
        let t = clock::unix_secs(a.us);
        entries.insert(
            ("MediaDomain".into(), rel),
            Entry {
                flags: 1,
                birth: t,
                modified: t,
                changed: t,
                size: a.size,
                mark: None,
                derived: false,
            },
        );
    }

    for f in &w.files {
        entries.insert(
            (f.domain.clone(), f.path.clone()),
            Entry {
                flags: f.flags,
                birth: f.birth,
                modified: f.modified,
                changed: f.changed,
                size: f.size,
                mark: f.mark.clone(),
                derived: false,
            },
        );
    }

    derive_folders(&mut entries);
    write_manifest_db(case, seed, &dir, &entries, truths)?;
    write_plists(w, case, seed, &dir)?;
    Ok(entries.len())
}

/// Adds a row for every parent folder (and each domain's root, relativePath "") and
/// times the derived ones from their children, deepest first.
fn derive_folders(entries: &mut BTreeMap<(String, String), Entry>) {
    let mut missing: Vec<(String, String)> = Vec::new();
    for (domain, path) in entries.keys() {
        let mut p = path.as_str();
        while !p.is_empty() {
            p = p.rfind('/').map(|i| &p[..i]).unwrap_or("");
            let key = (domain.clone(), p.to_string());
            if entries.contains_key(&key) {
                break;
            }
            missing.push(key);
        }
    }
    for key in missing {
        entries.entry(key).or_insert(Entry {
            flags: 2,
            birth: i64::MAX,
            modified: i64::MIN,
            changed: i64::MIN,
            size: 64,
            mark: None,
            derived: true,
        });
    }
    let mut keys: Vec<(String, String)> = entries.keys().cloned().collect();
    keys.sort_by_key(|(d, p)| {
        (
            std::cmp::Reverse(if p.is_empty() {
                0
            } else {
                p.matches('/').count() + 1
            }),
            d.clone(),
            p.clone(),
        )
    });
    for key in keys {
        let (domain, path) = &key;
        if path.is_empty() {
            continue;
        }
        let birth = entries.get(&key).map(|e| e.birth).unwrap_or(0);
        let parent = (
            domain.clone(),
            path.rfind('/')
                .map(|i| path[..i].to_string())
                .unwrap_or_default(),
        );
        if let Some(p) = entries.get_mut(&parent) {
            if p.derived {
                p.birth = p.birth.min(birth);
                p.modified = p.modified.max(birth);
                p.changed = p.modified;
            }
        }
    }
}

fn write_manifest_db(
    case: Case,
    seed: u64,
    dir: &Path,
    entries: &BTreeMap<(String, String), Entry>,
    truths: &mut Vec<Truth>,
) -> Result<(), SampleError> {
    let path = dir.join("Manifest.db");
    let mut conn = create_db(&path)?;
    let e = sql_err(&path);
    conn.execute_batch(
        "CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, flags INTEGER, file BLOB);
         CREATE INDEX FilesDomainIdx ON Files(domain);
         CREATE INDEX FilesRelativePathIdx ON Files(relativePath);
         CREATE INDEX FilesFlagsIdx ON Files(flags);
         CREATE TABLE Properties (key TEXT PRIMARY KEY, value BLOB);",
    )
    .map_err(&e)?;
    let mut rng = rng_for(seed, case, "manifest");
    let mut inode: i64 = rng.random_range(100_000..900_000);
    let tx = conn.transaction().map_err(&e)?;
    {
        let mut stmt = tx
            .prepare("INSERT INTO Files (fileID, domain, relativePath, flags, file) VALUES (?1, ?2, ?3, ?4, ?5)")
            .map_err(&e)?;
        for ((domain, rel), en) in entries {
            let id = file_id(domain, rel);
            // RootDomain belongs to root, WirelessDomain to _wireless, the rest to mobile.
            let owner = match domain.as_str() {
                "RootDomain" => 0,
                "WirelessDomain" => 25,
                _ => 501,
            };
            inode += rng.random_range(1..40);
            let mb = MbFile {
                last_modified: Some(en.modified),
                last_status_change: Some(en.changed),
                birth: Some(en.birth),
                size: Some(if en.flags == 1 { en.size } else { 0 }),
                mode: Some(match en.flags {
                    2 => 0o40755,
                    4 => 0o120755,
                    _ => 0o100644,
                }),
                inode: Some(inode),
                user_id: Some(owner),
                group_id: Some(owner),
                protection_class: Some(if en.flags == 1 { 3 } else { 0 }),
                relative_path: Some(rel.clone()),
                encryption_key: None,
            };
            stmt.execute(params![id, domain, rel, en.flags, mbfile::encode(&mb)])
                .map_err(&e)?;
            if let Some(mark) = &en.mark {
                truths.push(Truth::new(
                    "Manifest.db",
                    format!("Files:{id}"),
                    en.modified * clock::SEC,
                    mark,
                ));
            }
        }
    }
    tx.commit().map_err(&e)?;
    finish_db(conn, &path)
}

fn write_plists(w: &World, case: Case, seed: u64, dir: &Path) -> Result<(), SampleError> {
    let d = &w.device;
    let mut rng = rng_for(seed, case, "backup-plists");
    let s = |v: &str| Value::String(v.to_string());
    let apps: Vec<&str> = [
        "net.whatsapp.WhatsApp",
        "com.burbn.instagram",
        "com.spotify.client",
        "ph.telegra.Telegraph",
        "org.whispersystems.signal",
        "com.google.Gmail",
        "com.google.chrome.ios",
        "com.netflix.Netflix",
    ]
    .to_vec();

    let mut info = Dictionary::new();
    info.insert("Build Version".into(), s(d.build));
    info.insert("Device Name".into(), s(&d.name));
    info.insert("Display Name".into(), s(&d.name));
    info.insert(
        "GUID".into(),
        s(&(0..32)
            .map(|_| format!("{:X}", rng.random_range(0..16u8)))
            .collect::<String>()),
    );
    info.insert("ICCID".into(), s(&d.iccid));
    info.insert("IMEI".into(), s(&d.imei));
    info.insert(
        "Installed Applications".into(),
        Value::Array(apps.iter().map(|a| s(a)).collect()),
    );
    info.insert(
        "Last Backup Date".into(),
        Value::Date(clock::plist_date(d.backup - d.backup % clock::SEC)),
    );
    info.insert("Phone Number".into(), s(&d.phone));
    info.insert("Product Name".into(), s(d.product_name));
    info.insert("Product Type".into(), s(d.product_type));
    info.insert("Product Version".into(), s(d.version));
    info.insert("Serial Number".into(), s(&d.serial));
    info.insert("Target Identifier".into(), s(&d.udid));
    info.insert("Target Type".into(), s("Device"));
    info.insert("Unique Identifier".into(), s(&d.udid.to_uppercase()));
    info.insert("iTunes Version".into(), s("12.12.4.1"));
    let p = dir.join("Info.plist");
    Value::Dictionary(info)
        .to_file_xml(&p)
        .map_err(|e| SampleError::Plist(p.clone(), e))?;

    // An unencrypted backup still carries a key bag (tag, length, value blocks).
    let mut keybag = Vec::new();
    let mut block = |tag: &[u8; 4], value: &[u8]| {
        keybag.extend_from_slice(tag);
        keybag.extend_from_slice(&(value.len() as u32).to_be_bytes());
        keybag.extend_from_slice(value);
    };
    let uuid: [u8; 16] = rng.random();
    let salt: [u8; 20] = rng.random();
    block(b"VERS", &4u32.to_be_bytes());
    block(b"TYPE", &1u32.to_be_bytes());
    block(b"UUID", &uuid);
    block(b"WRAP", &0u32.to_be_bytes());
    block(b"SALT", &salt);
    block(b"ITER", &10_000u32.to_be_bytes());
    let mut lockdown = Dictionary::new();
    lockdown.insert("BuildVersion".into(), s(d.build));
    lockdown.insert("DeviceName".into(), s(&d.name));
    lockdown.insert("ProductType".into(), s(d.product_type));
    lockdown.insert("ProductVersion".into(), s(d.version));
    lockdown.insert("SerialNumber".into(), s(&d.serial));
    lockdown.insert("UniqueDeviceID".into(), s(&d.udid));
    let mut applications = Dictionary::new();
    for a in &apps {
        let mut app = Dictionary::new();
        app.insert("CFBundleIdentifier".into(), s(a));
        app.insert(
            "CFBundleVersion".into(),
            s(&format!(
                "{}.{}",
                rng.random_range(1..400),
                rng.random_range(0..20)
            )),
        );
        app.insert("ContainerContentClass".into(), s("Data/Application"));
        applications.insert(a.to_string(), Value::Dictionary(app));
    }
    let mut manifest = Dictionary::new();
    manifest.insert("BackupKeyBag".into(), Value::Data(keybag));
    manifest.insert("Lockdown".into(), Value::Dictionary(lockdown));
    manifest.insert("SystemDomainsVersion".into(), s("24.0"));
    manifest.insert("Version".into(), s("10.0"));
    manifest.insert(
        "Date".into(),
        Value::Date(clock::plist_date(d.backup - d.backup % clock::SEC)),
    );
    manifest.insert("IsEncrypted".into(), Value::Boolean(false));
    manifest.insert("WasPasscodeSet".into(), Value::Boolean(true));
    manifest.insert("Applications".into(), Value::Dictionary(applications));
    let p = dir.join("Manifest.plist");
    Value::Dictionary(manifest)
        .to_file_binary(&p)
        .map_err(|e| SampleError::Plist(p.clone(), e))?;

    let mut status = Dictionary::new();
    status.insert("BackupState".into(), s("new"));
    status.insert(
        "Date".into(),
        Value::Date(clock::plist_date(
            d.backup - d.backup % clock::SEC + 94 * clock::SEC,
        )),
    );
    status.insert("IsFullBackup".into(), Value::Boolean(false));
    status.insert("SnapshotState".into(), s("finished"));
    status.insert("UUID".into(), s(&super::life::guid(&mut rng)));
    status.insert("Version".into(), s("3.3"));
    let p = dir.join("Status.plist");
    Value::Dictionary(status)
        .to_file_binary(&p)
        .map_err(|e| SampleError::Plist(p.clone(), e))
}
