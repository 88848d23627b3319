//! Item 3, the shape of the evidence: symlink loops and links out of it, path
//! traversal in Manifest.db and sms.db, names that are not UTF-8, pipes, a damaged
//! archive, two backups of the same phone.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::Path;

use rusqlite::Connection;

use crate::fixture::{add_manifest_entry, Case, ADDAILY, IDSTATUS, SMS_DB};

/// No input may lie outside the case folder (an archive member names its archive),
/// and none may be the planted `bait`.
fn assert_inputs_inside(run: &crate::fixture::Run, case: &Path, bait: &str) {
    for i in run.json["inputs"].as_array().expect("inputs") {
        let p = i["path"].as_str().expect("path");
        let on_disk = p.split_once("!/").map_or(p, |(a, _)| a);
        assert!(
            Path::new(on_disk).starts_with(case) && !on_disk.contains(".."),
            "read outside the evidence: {p}"
        );
        assert!(!p.ends_with(bait), "the bait {bait} was read: {p}");
    }
}

#[test]
fn symlink_loops_and_links_out_of_the_evidence_are_not_followed() {
    let mut case = Case::new();
    let root = case.root.clone();
    // Loops: a folder linking to its parent, a link to itself, two links to each other.
    symlink(&root, root.join("loop")).expect("link");
    symlink("self", root.join("self")).expect("link");
    symlink("b", root.join("a")).expect("link");
    symlink("a", root.join("b")).expect("link");
    std::fs::create_dir_all(root.join("deep/er")).expect("dir");
    symlink("../..", root.join("deep/er/up")).expect("link");
    // A crash report that is a link to a file outside the case.
    let secret = case.tmp.path().join("secret.txt");
    std::fs::write(&secret, "examiner's own file").expect("secret");
    symlink(&secret, case.crashes().join("evil.ips")).expect("link");
    // A backup file replaced by a link out of the evidence.
    let addaily = case.backup_file(ADDAILY);
    std::fs::remove_file(&addaily).expect("rm");
    symlink(&secret, &addaily).expect("link");

    let run = case.analyze();
    run.assert_warning("loop", "symbolic link");
    run.assert_warning("self", "not followed");
    run.assert_warning("evil.ips", "not followed");
    run.assert_artifact_reports(
        "addaily",
        "addaily.plist",
        &["outside the evidence; not followed"],
    );
    assert_inputs_inside(&run, &root, "secret.txt");
    run.assert_others_parsed(&["addaily"]);
}

#[test]
fn a_pipe_named_like_evidence_is_not_opened() {
    let mut case = Case::new();
    let sysdiagnose = case.unpack_sysdiagnose();
    let log = case.shutdown_log(&sysdiagnose);
    std::fs::remove_file(&log).expect("rm");
    let status = std::process::Command::new("mkfifo")
        .arg(&log)
        .status()
        .expect("mkfifo");
    assert!(status.success());
    // Opening the pipe would block the run for ever.
    let run = case.analyze();
    run.assert_artifact_reports("shutdown", "shutdown.log", &["not a regular file"]);
    run.assert_others_parsed(&["shutdown"]);
}

#[test]
fn path_traversal_in_manifest_db_is_listed_flagged_and_never_resolved() {
    let mut case = Case::new();
    // A planted file outside the backup that a naive reader would open.
    std::fs::write(case.root.join("passwd"), "root:x:0:0").expect("bait");
    let m = case.manifest_db();
    let rel = "../../passwd";
    add_manifest_entry(
        &m,
        &chainline::evidence::file_id("HomeDomain", rel),
        "HomeDomain",
        rel,
        1,
    );
    // A fileID is a file name inside the backup: one that climbs out must not be used.
    m.execute(
        "UPDATE Files SET fileID = '../../passwd' WHERE domain = ?1 AND relativePath = ?2",
        [IDSTATUS.0, IDSTATUS.1],
    )
    .expect("update");
    drop(m);

    let run = case.analyze();
    let flagged: Vec<_> = run
        .rows_of("manifest")
        .into_iter()
        .filter(|r| r.target == "HomeDomain/../../passwd")
        .collect();
    assert!(
        !flagged.is_empty(),
        "the planted entry is evidence and must be listed"
    );
    assert!(flagged
        .iter()
        .all(|r| r.tags.iter().any(|t| t == "path_traversal")));
    assert!(run
        .rows_of("manifest")
        .iter()
        .any(|r| r.tags.iter().any(|t| t == "bad_file_id")));
    run.assert_artifact_reports(
        "manifest",
        "Manifest.db",
        &["climbs out of the backup", "not a hex name"],
    );
    run.assert_artifact_reports(
        "idstatus",
        "idstatuscache.plist",
        &["not a hex name; never resolved"],
    );
    assert_inputs_inside(&run, &case.root, "passwd");
    run.assert_others_parsed(&[]);
}

/// An attachment path in sms.db that climbs out of a filesystem dump.
#[test]
fn path_traversal_in_an_attachment_path_is_not_followed() {
    let mut case = Case::new();
    let fs = case.root.join("fs_dump");
    let db = fs.join("private/var/mobile/Library/SMS/sms.db");
    std::fs::create_dir_all(db.parent().expect("parent")).expect("dirs");
    std::fs::copy(case.backup_file(SMS_DB), &db).expect("copy");
    std::fs::write(case.root.join("bait.jpg"), b"\xff\xd8\xff not yours").expect("bait");
    let conn = Connection::open(&db).expect("sms.db");
    conn.execute(
        "UPDATE attachment SET filename = '~/Library/SMS/Attachments/../../../../../../../bait.jpg' WHERE ROWID = (SELECT min(ROWID) FROM attachment)",
        [],
    )
    .expect("update");
    drop(conn);

    let run = case.analyze();
    run.assert_artifact_reports(
        "sms",
        "private/var/mobile/Library/SMS/sms.db",
        &["climbs out of its folder"],
    );
    let rows = run.rows_of("sms");
    let planted: Vec<_> = rows
        .iter()
        .filter(|r| r.target.ends_with("bait.jpg"))
        .collect();
    assert!(!planted.is_empty());
    for r in planted {
        assert!(r.tags.iter().any(|t| t == "path_traversal"), "{r:?}");
        assert!(r.tags.iter().any(|t| t == "file_missing"), "{r:?}");
    }
    assert_inputs_inside(&run, &case.root, "bait.jpg");
}

#[test]
fn names_that_are_not_utf8_are_reported_lossily_and_still_read() {
    let mut case = Case::new();
    let before = case.analyze().rows("crash");
    let report = std::fs::read_dir(case.crashes())
        .expect("crashes")
        .map(|e| e.expect("entry").path())
        .next()
        .expect("a crash report");
    let name = std::ffi::OsStr::from_bytes(b"Bad\xff\xfeName-2022-09-13-100000.crash");
    std::fs::copy(&report, case.crashes().join(name)).expect("copy");
    let dir = std::ffi::OsStr::from_bytes(b"more\xc3\x28");
    std::fs::create_dir(case.root.join(dir)).expect("dir");
    std::fs::copy(
        &report,
        case.root.join(dir).join("Other-2022-09-13-100001.crash"),
    )
    .expect("copy");

    let run = case.analyze();
    run.assert_warning("Bad\u{fffd}\u{fffd}Name", "not UTF-8");
    assert_eq!(run.rows("crash"), before + 2, "both copies are read");
    assert!(run
        .artifact("crash", "Bad\u{fffd}\u{fffd}Name")
        .iter()
        .all(|a| a["status"] == "parsed"));
    run.assert_others_parsed(&[]);
}

#[test]
fn a_truncated_sysdiagnose_archive_keeps_what_it_holds_and_says_what_was_lost() {
    let mut case = Case::new();
    let archive = case.archive();
    let bytes = std::fs::read(&archive).expect("archive");
    std::fs::write(&archive, &bytes[..bytes.len() / 2]).expect("truncate");
    let run = case.analyze();
    let name = archive
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    run.assert_warning(&name, "not a readable tar.gz");
    run.assert_others_parsed(&["shutdown", "ps", "powerlog"]); // written last, in the lost half
}

#[test]
fn two_backups_of_the_same_device_are_both_analysed_and_told_apart() {
    let mut case = Case::new();
    let one = case.analyze().rows("sms");
    let first = case.backup();
    let second = first.with_file_name(format!(
        "{}-20220920-183000",
        first.file_name().expect("name").to_string_lossy()
    ));
    for e in walkdir::WalkDir::new(&first) {
        let e = e.expect("entry");
        let to = second.join(e.path().strip_prefix(&first).expect("inside"));
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&to).expect("dir");
        } else {
            std::fs::copy(e.path(), &to).expect("copy");
        }
    }
    let run = case.analyze();
    let udid = run.json["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .find(|c| c["kind"] == "backup")
        .and_then(|c| c["device"]["udid"].as_str())
        .expect("udid")
        .to_string();
    run.assert_warning(
        &second.to_string_lossy(),
        &format!("2 backups of the same device {udid}"),
    );
    run.assert_warning(&first.to_string_lossy(), "all analysed");
    assert_eq!(run.rows("sms"), 2 * one, "both backups are read");
    let labels: Vec<&str> = run.json["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .filter(|c| c["kind"] == "backup")
        .filter_map(|c| c["label"].as_str())
        .collect();
    assert_eq!(labels.len(), 2, "{:#}", run.json["containers"]);
    let artifacts: std::collections::BTreeSet<String> =
        run.rows_of("sms").into_iter().map(|r| r.artifact).collect();
    let want: std::collections::BTreeSet<String> = labels
        .iter()
        .map(|l| format!("{l}/HomeDomain/Library/SMS/sms.db"))
        .collect();
    assert_eq!(artifacts, want, "rows must say which backup they came from");
    run.assert_others_parsed(&[]);
}
