//! The committed sample cases: regenerated from the default seed they must come out
//! byte-for-byte identical, and every row TRUTH.json names must exist in the evidence
//! with exactly the time TRUTH.json gives, read back through chainline's clock module.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use chainline::evidence::file_id;
use chainline::timeline::time;
use chainline_sample::{self as sample, Case, Options};
use sha2::{Digest, Sha256};

fn committed(case: Case) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sample_cases")
        .join(case.name())
}

/// Relative path → SHA-256 of every file under `dir`.
fn digests(dir: &Path) -> BTreeMap<String, String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e
                .path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let bytes = std::fs::read(e.path()).unwrap();
            (rel, hex::encode(Sha256::digest(&bytes)))
        })
        .collect()
}

#[test]
fn committed_cases_regenerate_byte_for_byte() {
    for case in Case::ALL {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join(case.name());
        sample::generate(case, &out, &Options::default()).unwrap();
        let want = digests(&committed(case));
        let got = digests(&out);
        assert!(
            want.len() > 20,
            "{case}: sample_cases/{case} is missing or nearly empty"
        );
        let only_committed: Vec<_> = want.keys().filter(|k| !got.contains_key(*k)).collect();
        let only_generated: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).collect();
        assert!(only_committed.is_empty() && only_generated.is_empty(), "{case}: file sets differ: committed only {only_committed:?}, generated only {only_generated:?}");
        let differ: Vec<_> = want
            .iter()
            .filter(|(k, v)| got.get(*k) != Some(v))
            .map(|(k, _)| k)
            .collect();
        assert!(differ.is_empty(), "{case}: regenerated files differ from sample_cases (regenerate with `make samples` if the change is intended): {differ:?}");
        // The archive is compared as bytes too, not only through its hash.
        let tgz = |d: &Path| {
            let p = std::fs::read_dir(d)
                .unwrap()
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.to_string_lossy().ends_with(".tar.gz"))
                .unwrap();
            std::fs::read(p).unwrap()
        };
        assert_eq!(
            tgz(&committed(case)),
            tgz(&out),
            "{case}: sysdiagnose archive bytes differ"
        );
    }
}

#[test]
fn another_seed_gives_another_phone_with_the_same_story() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("clean");
    let summary = sample::generate(
        Case::Clean,
        &out,
        &Options {
            seed: 7,
            scale: 0.002,
        },
    )
    .unwrap();
    let udid = |dir: &Path| {
        std::fs::read_dir(dir.join("backup"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .file_name()
    };
    assert_ne!(
        udid(&out),
        udid(&committed(Case::Clean)),
        "the UDID comes from the seed"
    );
    // The planted rows do not depend on the seed or the scale; their row numbers do.
    let rows: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(out.join("TRUTH.json")).unwrap()).unwrap();
    assert_eq!(rows.len(), truth(Case::Clean).len());
    assert_eq!(summary.planted, rows.len());
    assert!(
        summary.messages < 400,
        "scale 0.002 is a small phone, got {} messages",
        summary.messages
    );
}

#[test]
fn generating_into_a_non_empty_folder_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("notes.txt"), "mine").unwrap();
    let err = sample::generate(Case::Clean, tmp.path(), &Options::default()).unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
    assert!(
        sample::clear(tmp.path()).is_err(),
        "a folder without TRUTH.json is not ours to clear"
    );
    assert!(tmp.path().join("notes.txt").is_file());
}

// ------------------------------------------------------------------ TRUTH.json

struct CaseFiles {
    backup: PathBuf,
    sysdiagnose: BTreeMap<String, Vec<u8>>,
}

fn open_case(case: Case) -> CaseFiles {
    let dir = committed(case);
    let backup = std::fs::read_dir(dir.join("backup"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .next()
        .unwrap();
    let tgz = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".tar.gz"))
        .unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(
        std::fs::File::open(tgz).unwrap(),
    ));
    let mut sysdiagnose = BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        // Strip the top folder: logical paths are `sysdiagnose/<path inside>`.
        let inside = path.split_once('/').map(|x| x.1.to_string()).unwrap();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        sysdiagnose.insert(inside, bytes);
    }
    CaseFiles {
        backup,
        sysdiagnose,
    }
}

/// A private copy of a backup file (evidence is never opened in place).
fn backup_file(c: &CaseFiles, logical: &str, scratch: &Path) -> PathBuf {
    let (domain, rel) = logical.split_once('/').unwrap();
    let id = file_id(domain, rel);
    let src = c.backup.join(&id[..2]).join(&id);
    let dst = scratch.join(id);
    std::fs::copy(&src, &dst)
        .unwrap_or_else(|e| panic!("{logical} ({}) missing: {e}", src.display()));
    dst
}

fn rfc(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    time::rfc3339(&t.expect("a usable time"))
}

/// The time a SQLite record carries, as chainline's timeline would show it.
fn sqlite_time(db: &Path, record: &str) -> String {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let (table, key) = record.split_once(':').unwrap();
    match table {
        "message" => rfc(time::cocoa_auto_i64(
            conn.query_row("SELECT date FROM message WHERE ROWID = ?1", [key], |r| {
                r.get(0)
            })
            .unwrap(),
        )),
        "attachment" => rfc(time::cocoa_auto_i64(
            conn.query_row(
                "SELECT created_date FROM attachment WHERE ROWID = ?1",
                [key],
                |r| r.get(0),
            )
            .unwrap(),
        )),
        "ZPROCESS" => rfc(time::cocoa_seconds(
            conn.query_row(
                "SELECT ZFIRSTTIMESTAMP FROM ZPROCESS WHERE Z_PK = ?1",
                [key],
                |r| r.get(0),
            )
            .unwrap(),
        )),
        "ZLIVEUSAGE" => rfc(time::cocoa_seconds(
            conn.query_row(
                "SELECT ZTIMESTAMP FROM ZLIVEUSAGE WHERE Z_PK = ?1",
                [key],
                |r| r.get(0),
            )
            .unwrap(),
        )),
        "Files" => {
            let blob: Vec<u8> = conn
                .query_row("SELECT file FROM Files WHERE fileID = ?1", [key], |r| {
                    r.get(0)
                })
                .unwrap();
            let mb = chainline::evidence::mbfile::decode(&blob).unwrap();
            rfc(time::unix_seconds(mb.last_modified.unwrap() as f64))
        }
        // PowerLog: Unix seconds plus the `system` offset recorded in force at that time.
        pl if pl.starts_with("PL") => {
            let raw: f64 = conn
                .query_row(
                    &format!("SELECT timestamp FROM \"{pl}\" WHERE ID = ?1"),
                    [key],
                    |r| r.get(0),
                )
                .unwrap();
            let mut offsets: Vec<(f64, f64)> = conn
                .prepare("SELECT timestamp, system FROM PLStorageOperator_EventForward_TimeOffset")
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            offsets.sort_by(|a, b| a.0.total_cmp(&b.0));
            let off = offsets
                .iter()
                .rev()
                .find(|(t, _)| *t <= raw)
                .map_or(0.0, |(_, o)| *o);
            rfc(time::unix_seconds(raw + off))
        }
        other => panic!("unexpected table {other}"),
    }
}

/// Follows `a/b/c` through nested dictionaries whose keys may themselves hold '/'.
fn plist_at<'a>(v: &'a plist::Value, path: &str) -> Option<&'a plist::Value> {
    if path.is_empty() {
        return Some(v);
    }
    let d = v.as_dictionary()?;
    if let Some(found) = d.get(path) {
        return Some(found);
    }
    path.match_indices('/').find_map(|(i, _)| {
        d.get(&path[..i])
            .and_then(|inner| plist_at(inner, &path[i + 1..]))
    })
}

fn plist_time(file: &Path, record: &str) -> String {
    let v = plist::Value::from_file(file).unwrap();
    let at = plist_at(&v, record.strip_prefix("key:").unwrap())
        .unwrap_or_else(|| panic!("{record} not in {}", file.display()));
    match at {
        plist::Value::Real(r) => rfc(time::cocoa_seconds(*r)),
        plist::Value::Array(a) => rfc(a
            .first()
            .and_then(|d| d.as_date())
            .and_then(|d| time::plist_date(&d))),
        plist::Value::Dictionary(d) => rfc(time::cocoa_seconds(
            d.get("LookupDate").and_then(|v| v.as_real()).unwrap(),
        )),
        other => panic!("{record}: unexpected {other:?}"),
    }
}

fn shutdown_time(log: &str, record: &str) -> String {
    let n: usize = record.strip_prefix("line:").unwrap().parse().unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert!(n >= 1 && n <= lines.len());
    // A client line belongs to the next SIGTERM.
    let sigterm = lines[n - 1..]
        .iter()
        .find(|l| l.starts_with("SIGTERM: ["))
        .unwrap();
    let secs: f64 = sigterm
        .trim_start_matches("SIGTERM: [")
        .trim_end_matches(']')
        .parse()
        .unwrap();
    rfc(time::unix_seconds(secs))
}

fn crash_time(ips: &[u8]) -> String {
    let text = String::from_utf8_lossy(ips);
    let header: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(header["bug_type"], "309");
    let body: serde_json::Value = serde_json::from_str(text.split_once('\n').unwrap().1).unwrap();
    assert!(body["procPath"].as_str().is_some() && body["exception"]["type"].as_str().is_some());
    rfc(time::with_offset(header["timestamp"].as_str().unwrap()))
}

fn truth(case: Case) -> Vec<serde_json::Value> {
    serde_json::from_slice(&std::fs::read(committed(case).join("TRUTH.json")).unwrap()).unwrap()
}

#[test]
fn every_planted_row_exists_with_its_time() {
    for case in Case::ALL {
        let c = open_case(case);
        let scratch = tempfile::tempdir().unwrap();
        let rows = truth(case);
        assert!(!rows.is_empty(), "{case}: TRUTH.json is empty");
        for row in rows {
            let artifact = row["artifact"].as_str().unwrap();
            let record = row["record"].as_str().unwrap();
            let want = row["ts"].as_str().unwrap();
            let got = if artifact == "Manifest.db" {
                let dst = scratch.path().join("Manifest.db");
                std::fs::copy(c.backup.join("Manifest.db"), &dst).unwrap();
                sqlite_time(&dst, record)
            } else if let Some(inside) = artifact.strip_prefix("sysdiagnose/") {
                let bytes = c
                    .sysdiagnose
                    .get(inside)
                    .unwrap_or_else(|| panic!("{case}: {artifact} not in the archive"));
                if record == "file" {
                    crash_time(bytes)
                } else if inside.ends_with(".PLSQL") {
                    let db = scratch.path().join("powerlog.PLSQL");
                    std::fs::write(&db, bytes).unwrap();
                    sqlite_time(&db, record)
                } else {
                    shutdown_time(&String::from_utf8_lossy(bytes), record)
                }
            } else {
                let file = backup_file(&c, artifact, scratch.path());
                if record.starts_with("key:") {
                    plist_time(&file, record)
                } else {
                    sqlite_time(&file, record)
                }
            };
            assert_eq!(got, want, "{case}: {artifact} {record}");
        }
    }
}

fn sms_db(case: Case, scratch: &Path) -> rusqlite::Connection {
    let c = open_case(case);
    rusqlite::Connection::open(backup_file(&c, "HomeDomain/Library/SMS/sms.db", scratch)).unwrap()
}

#[test]
fn triangulation_leaves_only_gaps_and_an_empty_folder() {
    let scratch = tempfile::tempdir().unwrap();
    let c = open_case(Case::Triangulation);
    let manifest = scratch.path().join("Manifest.db");
    std::fs::copy(c.backup.join("Manifest.db"), &manifest).unwrap();
    let m = rusqlite::Connection::open(&manifest).unwrap();
    let below: i64 = m
        .query_row("SELECT count(*) FROM Files WHERE domain = 'MediaDomain' AND relativePath LIKE 'Library/SMS/Attachments/65/%' AND flags = 1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(below, 0, "nothing may be listed below the emptied folder");
    let dirs: i64 = m
        .query_row("SELECT count(*) FROM Files WHERE domain = 'MediaDomain' AND relativePath IN ('Library/SMS/Attachments/65', 'Library/SMS/Attachments/65/05') AND flags = 2", [], |r| r.get(0))
        .unwrap();
    assert_eq!(dirs, 2);

    let sms = sms_db(Case::Triangulation, scratch.path());
    let (rows, seq): (i64, i64) = sms
        .query_row("SELECT (SELECT count(*) FROM message), (SELECT seq FROM sqlite_sequence WHERE name = 'message')", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!(
        seq - rows,
        1,
        "the deleted watchface message leaves one ROWID gap"
    );
    let watchface: i64 = sms
        .query_row(
            "SELECT count(*) FROM attachment WHERE uti = 'com.apple.watchface'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(watchface, 0);
    // Text only in attributedBody, and outgoing group rows with handle_id 0, both occur.
    let (null_text, zero_handle): (i64, i64) = sms
        .query_row("SELECT (SELECT count(*) FROM message WHERE text IS NULL AND attributedBody IS NOT NULL), (SELECT count(*) FROM message WHERE handle_id = 0 AND is_from_me = 1)", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert!(null_text > 0 && zero_handle > 0);
}

#[test]
fn forcedentry_gifs_are_pdf_and_psd() {
    let scratch = tempfile::tempdir().unwrap();
    let c = open_case(Case::Forcedentry);
    let sms = sms_db(Case::Forcedentry, scratch.path());
    let mut stmt = sms
        .prepare("SELECT a.filename FROM attachment a JOIN message_attachment_join j ON j.attachment_id = a.ROWID JOIN message m ON m.ROWID = j.message_id JOIN handle h ON h.ROWID = m.handle_id WHERE h.id = 'bogaardlisa803@gmail.com' ORDER BY a.ROWID")
        .unwrap();
    let names: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(names.len(), 2);
    let mut magics = Vec::new();
    for name in names {
        let rel = name.strip_prefix("~/").unwrap();
        let file_name = rel.rsplit('/').next().unwrap();
        assert!(
            file_name.len() == 14 && file_name.ends_with(".gif"),
            "{file_name}"
        );
        let bytes = std::fs::read(backup_file(
            &c,
            &format!("MediaDomain/{rel}"),
            scratch.path(),
        ))
        .unwrap();
        magics.push(bytes[..4].to_vec());
        if bytes.starts_with(b"%PDF-1.") {
            assert!(bytes.windows(12).any(|w| w == b"/JBIG2Decode"));
        }
    }
    assert_eq!(magics, vec![b"8BPS".to_vec(), b"%PDF".to_vec()]);
    let log = String::from_utf8_lossy(&c.sysdiagnose["system_logs.logarchive/Extra/shutdown.log"])
        .into_owned();
    assert!(
        log.starts_with("After "),
        "real shutdown logs open with a delay notice"
    );
    assert!(log.contains(
        "remaining client pid: 1875 (/private/var/db/com.apple.xpc.roleaccountd.staging/rolexd)"
    ));
}

#[test]
fn clean_has_only_near_misses_and_short_shutdowns() {
    for row in truth(Case::Clean) {
        assert_eq!(row["role"], "near_miss", "{row}");
    }
    let c = open_case(Case::Clean);
    let log = String::from_utf8_lossy(&c.sysdiagnose["system_logs.logarchive/Extra/shutdown.log"])
        .into_owned();
    let mut delays = 0;
    for line in log.lines() {
        if line.starts_with("After ") {
            delays += 1;
        } else if line.starts_with("SIGTERM: [") {
            assert!(
                (1..=2).contains(&delays),
                "a clean reboot has 1-2 delay notices, got {delays}"
            );
            delays = 0;
        } else {
            let path = line
                .split_once('(')
                .map(|x| x.1.trim_end_matches(')'))
                .unwrap();
            assert!(
                path.starts_with("/System/") || path.starts_with("/usr/"),
                "{path}"
            );
        }
    }
    let scratch = tempfile::tempdir().unwrap();
    let du = rusqlite::Connection::open(backup_file(
        &c,
        "WirelessDomain/Library/Databases/DataUsage.sqlite",
        scratch.path(),
    ))
    .unwrap();
    let backup_agent: i64 = du
        .query_row(
            "SELECT count(*) FROM ZPROCESS WHERE ZPROCNAME = 'BackupAgent'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let orphans: i64 = du
        .query_row(
            "SELECT count(*) FROM ZLIVEUSAGE WHERE ZHASPROCESS NOT IN (SELECT Z_PK FROM ZPROCESS)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!((backup_agent, orphans), (0, 0));
}

/// The sample sysdiagnose's ps.txt and mobile_installation.log follow the grammar of the
/// real files: ps's header columns as BSD ps prints them for sysdiagnose, and installd's
/// entry header, checked against plaso's real mobile_installation.log first so the
/// pattern is the real one.
#[test]
fn sample_sysdiagnose_logs_have_the_real_grammar() {
    let entry = regex::Regex::new(
        r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 1-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9] 20[0-9]{2} \[[0-9]+\] <(notice|err|debug|info|warning)> \(0x[0-9a-f]+\) \S.*$",
    )
    .unwrap();
    if let Some(shared) = chainline::shared_dir() {
        let real = shared.join("testdata/plaso_ios/ios_sysdiag.log");
        if let Ok(text) = std::fs::read_to_string(real) {
            // 28 of its lines start an entry (the rest continue one).
            assert_eq!(text.lines().filter(|l| entry.is_match(l)).count(), 28);
        }
    }
    for case in [Case::Triangulation, Case::Forcedentry, Case::Clean] {
        let c = open_case(case);
        let log = String::from_utf8(
            c.sysdiagnose["logs/MobileInstallation/mobile_installation.log"].clone(),
        )
        .unwrap();
        assert!(log.lines().count() >= 2, "{case:?}");
        for l in log.lines() {
            assert!(entry.is_match(l), "{case:?}: {l}");
        }
        let ps = String::from_utf8(c.sysdiagnose["ps.txt"].clone()).unwrap();
        let header: Vec<&str> = ps.lines().next().unwrap().split_whitespace().collect();
        assert_eq!(
            header,
            [
                "USER", "UID", "PRSNA", "PID", "PPID", "F", "%CPU", "%MEM", "PRI", "NI", "VSZ",
                "RSS", "WCHAN", "TT", "STAT", "STARTED", "TIME", "COMMAND"
            ]
        );
    }
}
