//! Item 1: evidence is read-only, SQLite databases with WAL files included.

use std::path::Path;

use crate::fixture::{add_manifest_entry, with_wal, Case, SMS_DB, SOURCES};

/// The baseline every other test damages: complete, no warning, nothing changed. It
/// keeps the other tests honest (their warnings come from the damage, not the case).
#[test]
fn the_pristine_case_is_complete_and_untouched() {
    let mut case = Case::new();
    let run = case.analyze();
    assert!(!run.partial(), "{:#}", run.json);
    assert!(run.warnings().is_empty(), "{:#?}", run.warnings());
    for a in run.artifacts() {
        assert_eq!(a["status"], "parsed", "{a:#}");
    }
    run.assert_others_parsed(&[]);
    assert_eq!(
        SOURCES.len(),
        run.json["rows_by_source"]
            .as_object()
            .map_or(0, |m| m.len())
    );
}

const WAL_ROW: &str =
    "CREATE TEMP TABLE t AS SELECT * FROM message WHERE ROWID = (SELECT max(ROWID) FROM message);
UPDATE t SET ROWID = ROWID + 1000, guid = 'wal-only-guid', text = 'only in the WAL';
INSERT INTO message SELECT * FROM t;";

/// sms.db in WAL mode inside a backup: the -wal and -shm are their own Manifest
/// entries under hashed names. The newest row (only in the WAL) is read; no byte of
/// the backup changes and no file appears beside any database.
#[test]
fn a_wal_mode_sms_db_in_a_backup_is_read_from_a_private_copy() {
    let mut case = Case::new();
    let sms = case.backup_file(SMS_DB);
    let (db, wal, shm) = with_wal(&sms, &case.tmp.path().join("staging"), WAL_ROW);
    std::fs::copy(&db, &sms).expect("db");
    let m = case.manifest_db();
    for (suffix, file) in [("-wal", &wal), ("-shm", &shm)] {
        let rel = format!("{}{suffix}", SMS_DB.1);
        let id = chainline::evidence::file_id(SMS_DB.0, &rel);
        add_manifest_entry(&m, &id, SMS_DB.0, &rel, 1);
        let to = case.backup().join(&id[..2]).join(&id);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("dir");
        std::fs::copy(file, &to).expect("companion");
    }
    drop(m);

    let run = case.analyze();
    let a = run.artifact("sms", "sms.db");
    assert_eq!(a.len(), 1);
    assert_eq!(a[0]["facts"]["wal"], true, "{:#}", a[0]);
    assert!(
        run.rows_of("sms")
            .iter()
            .any(|r| r.message.contains("only in the WAL")),
        "the row in the WAL was not read"
    );
    // The WAL was hashed as an input too.
    let inputs = run.json["inputs"].as_array().expect("inputs");
    assert!(inputs.iter().any(|i| i["logical"]
        .as_str()
        .is_some_and(|l| l.ends_with("sms.db-wal"))));
    run.assert_others_parsed(&[]);
}

/// A filesystem dump with sms.db and DataUsage.sqlite in WAL mode side by side with
/// their -wal and -shm: opening either in place would create or change files there.
#[test]
fn wal_mode_databases_in_a_filesystem_dump_are_read_from_private_copies() {
    let mut case = Case::new();
    let fs = case.root.join("fs_dump");
    let staging = case.tmp.path().join("staging");
    let place = |from: &Path, rel: &str, sql: &str, dir: &str| {
        let (db, wal, shm) = with_wal(from, &staging.join(dir), sql);
        let to = fs.join(rel);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("dirs");
        std::fs::copy(db, &to).expect("db");
        std::fs::copy(wal, format!("{}-wal", to.display())).expect("wal");
        std::fs::copy(shm, format!("{}-shm", to.display())).expect("shm");
    };
    place(
        &case.backup_file(SMS_DB),
        "private/var/mobile/Library/SMS/sms.db",
        WAL_ROW,
        "sms",
    );
    place(
        &case.backup_file(crate::fixture::DATAUSAGE),
        "private/var/wireless/Library/Databases/DataUsage.sqlite",
        "UPDATE ZPROCESS SET ZPROCNAME = 'walOnlyDaemon' WHERE Z_PK = (SELECT min(Z_PK) FROM ZPROCESS);",
        "du",
    );

    let run = case.analyze();
    let sms = run.rows_of("sms");
    assert!(sms.iter().any(|r| r
        .artifact
        .ends_with("private/var/mobile/Library/SMS/sms.db")
        && r.message.contains("only in the WAL")));
    assert!(run
        .rows_of("datausage")
        .iter()
        .any(|r| r.artifact.contains("private/var/wireless") && r.actor == "walOnlyDaemon"));
    for a in run.artifact("sms", "private/var") {
        assert_eq!(a["facts"]["wal"], true);
    }
    run.assert_others_parsed(&[]);
}
