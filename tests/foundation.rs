//! The foundation's promises: clear one-line errors, untouched evidence, the exact
//! timeline schema, and rows that lead back to their evidence row.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use chainline::evidence::{file_id, mbfile};
use rusqlite::Connection;
use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_chainline");

/// A minimal but real backup: Manifest.db with NSKeyedArchiver MBFile blobs, Info.plist,
/// Manifest.plist, and files stored under their hashed names.
/// Manifest.db is written in WAL mode and its last entry is left in `Manifest.db-wal`
/// (copied while the writer is still open), as on a real device.
fn make_backup(dir: &Path, encrypted: bool) {
    std::fs::create_dir_all(dir).unwrap();
    let staging = tempfile::tempdir().unwrap();
    let db = Connection::open(staging.path().join("Manifest.db")).unwrap();
    db.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;
         CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, flags INTEGER, file BLOB);
         CREATE TABLE Properties (key TEXT PRIMARY KEY, value BLOB);",
    )
    .unwrap();
    // (domain, relativePath, flags, MBFile blob, mtime)
    type Entry<'a> = (&'a str, &'a str, i64, Option<&'a [u8]>, i64);
    let entries: [Entry; 4] = [
        (
            "MediaDomain",
            "Library/SMS/Attachments/65",
            2,
            None,
            1_663_063_494,
        ),
        (
            "MediaDomain",
            "Library/SMS/Attachments/65/05",
            2,
            None,
            1_663_063_494,
        ),
        (
            "HomeDomain",
            "Library/Preferences/com.apple.example.plist",
            1,
            Some(b"bplist00"),
            1_663_063_500,
        ),
        (
            "HomeDomain",
            "Library/Listed/But/Missing.db",
            1,
            None,
            1_600_000_000,
        ),
    ];
    for (i, (domain, rel, flags, content, t)) in entries.into_iter().enumerate() {
        if i == entries.len() - 1 {
            // Everything so far goes into the main file; the last row stays in the WAL.
            db.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
                .unwrap();
        }
        let id = file_id(domain, rel);
        let blob = mbfile::encode(&mbfile::MbFile {
            last_modified: Some(t),
            last_status_change: Some(t),
            birth: Some(t - 100),
            size: Some(content.map_or(0, |c| c.len() as i64)),
            mode: Some(if flags == 2 { 0o40755 } else { 0o100644 }),
            relative_path: Some(rel.to_string()),
            ..Default::default()
        });
        db.execute(
            "INSERT INTO Files VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![id, domain, rel, flags, blob],
        )
        .unwrap();
        if let Some(c) = content {
            std::fs::create_dir_all(dir.join(&id[..2])).unwrap();
            std::fs::write(dir.join(&id[..2]).join(&id), c).unwrap();
        }
    }
    for f in ["Manifest.db", "Manifest.db-wal"] {
        std::fs::copy(staging.path().join(f), dir.join(f)).unwrap();
    }
    drop(db);
    let mut info = plist::Dictionary::new();
    info.insert(
        "Unique Identifier".into(),
        "00008030-001A2B3C4D5E6F70".to_string().into(),
    );
    info.insert("Product Version".into(), "15.7".to_string().into());
    plist::Value::Dictionary(info)
        .to_file_xml(dir.join("Info.plist"))
        .unwrap();
    let mut manifest = plist::Dictionary::new();
    manifest.insert("IsEncrypted".into(), plist::Value::Boolean(encrypted));
    plist::Value::Dictionary(manifest)
        .to_file_xml(dir.join("Manifest.plist"))
        .unwrap();
}

/// Every file below `dir` with its SHA-256, plus the listing itself.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| {
            let h = if e.file_type().is_file() {
                hex::encode(Sha256::digest(std::fs::read(e.path()).unwrap()))
            } else {
                "dir".into()
            };
            (e.path().to_path_buf(), h)
        })
        .collect()
}

fn run(args: &[&str]) -> (bool, String, String) {
    let o = Command::new(BIN).args(args).output().unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn assert_one_line_error(stderr: &str, needle: &str) {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(lines[0].contains(needle), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn folder_without_evidence_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("notes.txt"), "nothing here").unwrap();
    let out = tmp
        .path()
        .join("..")
        .join(format!("out-{}", std::process::id()));
    let (ok, _, err) = run(&[
        "analyze",
        "-q",
        tmp.path().to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert_one_line_error(&err, "no iPhone evidence found");
}

#[test]
fn unreadable_path_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("does-not-exist");
    let (ok, _, err) = run(&[
        "analyze",
        "-q",
        missing.to_str().unwrap(),
        "-o",
        tmp.path().join("out").to_str().unwrap(),
    ]);
    assert!(!ok);
    assert_one_line_error(&err, "cannot read");
}

#[test]
fn encrypted_backup_is_refused_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let backup = tmp.path().join("evidence/backup");
    make_backup(&backup, true);
    let before = snapshot(&backup);
    let (ok, _, err) = run(&[
        "analyze",
        "-q",
        backup.to_str().unwrap(),
        "-o",
        tmp.path().join("out").to_str().unwrap(),
    ]);
    assert!(!ok);
    assert_one_line_error(&err, "encrypted backup");
    assert_eq!(before, snapshot(&backup));
}

#[test]
fn output_inside_the_evidence_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let backup = tmp.path().join("backup");
    make_backup(&backup, false);
    let (ok, _, err) = run(&[
        "analyze",
        "-q",
        backup.to_str().unwrap(),
        "-o",
        backup.join("out").to_str().unwrap(),
    ]);
    assert!(!ok);
    assert_one_line_error(&err, "inside the evidence");
    assert!(!backup.join("out").exists());
}

#[test]
fn analyze_writes_outputs_leaves_evidence_untouched_and_rows_lead_back() {
    let tmp = tempfile::tempdir().unwrap();
    let backup = tmp.path().join("evidence/00008030-001A2B3C4D5E6F70");
    make_backup(&backup, false);
    // The WAL beside Manifest.db must be read from a copy, never checkpointed in place.
    assert!(
        std::fs::metadata(backup.join("Manifest.db-wal"))
            .unwrap()
            .len()
            > 0
    );
    let before = snapshot(&tmp.path().join("evidence"));
    let out = tmp.path().join("out");
    let (ok, stdout, err) = run(&[
        "analyze",
        "-q",
        tmp.path().join("evidence").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(stdout.trim().ends_with("report.html"));
    assert_eq!(
        before,
        snapshot(&tmp.path().join("evidence")),
        "evidence changed"
    );
    for f in [
        "timeline.parquet",
        "findings.json",
        "report.html",
        "run.json",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }

    let df = chainline::timeline::read_parquet(&out.join("timeline.parquet")).unwrap();
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(names, chainline::timeline::COLUMNS);
    let ts = df.column("ts").unwrap();
    assert_eq!(
        ts.dtype(),
        &polars::prelude::DataType::Datetime(
            polars::prelude::TimeUnit::Microseconds,
            Some(polars::prelude::TimeZone::UTC)
        )
    );
    assert_eq!(
        df.column("device").unwrap().str().unwrap().get(0),
        Some("00008030-001a2b3c4d5e6f70")
    );

    // Every row's artifact + record resolves to a real Manifest.db row.
    let db = Connection::open_with_flags(
        backup.join("Manifest.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let arts = df.column("artifact").unwrap().str().unwrap().clone();
    let recs = df.column("record").unwrap().str().unwrap().clone();
    for (a, r) in arts.iter().zip(recs.iter()) {
        assert_eq!(a, Some("Manifest.db"));
        let id = r
            .unwrap()
            .strip_prefix("Files:")
            .expect("Files:<fileID> locator");
        let n: i64 = db
            .query_row("SELECT count(*) FROM Files WHERE fileID = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(n, 1, "record {id} does not resolve");
    }

    // The emptied attachment folder is recognised; times are exact UTC.
    let msgs = df.column("message").unwrap().str().unwrap().clone();
    let empty_dir_rows = msgs
        .iter()
        .flatten()
        .filter(|m| m.contains("Attachments/65/05") && m.contains("empty"))
        .count();
    assert_eq!(empty_dir_rows, 2, "M+C row and B row of 65/05");
    // The entry that lives only in the WAL is in the timeline.
    assert!(
        msgs.iter()
            .flatten()
            .any(|m| m.contains("Library/Listed/But/Missing.db")),
        "WAL row lost"
    );
    let run_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(run_json["time_span"][1], "2022-09-13T10:05:00.000000Z");
    let inputs = run_json["inputs"].as_array().unwrap();
    assert!(inputs
        .iter()
        .any(|i| i["logical"] == "Manifest.db" && i["sha256"].as_str().unwrap().len() == 64));
}
