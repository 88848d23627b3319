//! TCC.db: privacy permissions (camera, microphone, photos, ...) granted or refused to
//! each app, with the time each decision last changed.
//!
//! Three schema generations exist (as handled by MVT's `tcc` module): current iOS has
//! `auth_value` (0 denied, 1 unknown, 2 allowed, 3 limited) and `auth_reason`; iOS 12-13
//! have `allowed` (0/1) and `prompt_count` with `last_modified`; the oldest have no
//! `last_modified` at all, so their rows are kept without a time. `last_modified` is
//! Unix seconds.

use crate::evidence::{Evidence, Locator, Lookup};
use crate::timeline::{time, Event};

use super::schema::Table;
use super::{value_f64, value_i64, value_string, Parse, Source, SourceError};

pub struct Tcc;

const TCC_DB: Locator = Locator {
    backup: Some(("HomeDomain", "Library/TCC/TCC.db")),
    filesystem: &["private/var/mobile/Library/TCC/TCC.db"],
    sysdiagnose: &[],
};

fn auth_value(v: Option<i64>) -> &'static str {
    match v {
        Some(0) => "denied",
        Some(2) => "allowed",
        Some(3) => "limited",
        _ => "unknown",
    }
}

fn allowed_value(v: Option<i64>) -> &'static str {
    match v {
        Some(0) => "denied",
        Some(1) => "allowed",
        _ => "unknown",
    }
}

/// `auth_reason` codes as MVT names them.
fn auth_reason(v: i64) -> Option<&'static str> {
    Some(match v {
        1 => "error",
        2 => "user consent",
        3 => "user set",
        4 => "system set",
        5 => "service policy",
        6 => "MDM policy",
        7 => "override policy",
        8 => "missing usage string",
        9 => "prompt timeout",
        10 => "preflight unknown",
        11 => "entitled",
        12 => "app type policy",
        _ => return None,
    })
}

impl Source for Tcc {
    fn name(&self) -> &'static str {
        "tcc"
    }

    fn discover(&self, evidence: &Evidence) -> Vec<Lookup> {
        evidence.locate(&TCC_DB)
    }

    fn parse(&self, p: &mut Parse<'_>) -> Result<(), SourceError> {
        let db = p.evidence.open_sqlite(p.artifact)?;
        let conn = db.conn();
        let t = Table::read(conn, "access", "a");
        if !t.exists() {
            p.warn("table access not found");
            return Ok(());
        }
        let current = t.has("auth_value");
        let needed: &[&str] = if current {
            &["service", "client", "auth_value", "last_modified"]
        } else {
            &["service", "client", "allowed"]
        };
        t.check(needed, p);
        if !current && !t.has("last_modified") {
            p.warn("access table predates last_modified (oldest TCC.db schema): permission rows have no time");
        }
        let sql = format!(
            "SELECT a.rowid, {service}, {client}, {value}, {reason}, {prompts}, {modified} FROM {src} ORDER BY a.rowid",
            service = t.col("service"),
            client = t.col("client"),
            value = if current { t.col("auth_value") } else { t.col("allowed") },
            reason = t.col("auth_reason"),
            prompts = t.col("prompt_count"),
            modified = t.col("last_modified"),
            src = t.source(),
        );
        let mut stmt = conn.prepare(&sql)?;
        let mut rows = stmt.query([])?;
        let mut implausible = 0usize;
        while let Some(r) = rows.next()? {
            let rowid = value_i64(r.get_ref(0)?).unwrap_or_default();
            let service = value_string(r.get_ref(1)?).unwrap_or_default();
            let client = value_string(r.get_ref(2)?).unwrap_or_default();
            let value = value_i64(r.get_ref(3)?);
            let reason = value_i64(r.get_ref(4)?);
            let prompts = value_i64(r.get_ref(5)?);
            let modified_raw = value_f64(r.get_ref(6)?);
            let ts = modified_raw.and_then(time::unix_seconds);
            if ts.is_none() && modified_raw.is_some_and(|v| v != 0.0) {
                implausible += 1;
            }
            let auth = if current {
                auth_value(value)
            } else {
                allowed_value(value)
            };
            let mut message = format!("{service} {auth} for {client}");
            if let Some(why) = reason.and_then(auth_reason) {
                message.push_str(&format!(" ({why})"));
            }
            if let Some(n) = prompts {
                message.push_str(&format!(", prompted {n} times"));
            }
            p.emit(
                Event::new("tcc", "permission_changed", ts)
                    .actor(client)
                    .target(service)
                    .message(message)
                    .at("", format!("access:{rowid}"))
                    .tag(format!("auth:{auth}")),
            );
        }
        if implausible > 0 {
            p.warn(format!("{implausible} last_modified values are outside the plausible range; rows kept without a time"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{b, brief, filesystem, run, snapshot, sqlite_bytes, Backup};
    use super::*;

    /// TCC.db `access` as iOS 14.3 writes it (schema of the MVT test backup's file).
    const CURRENT: &str = "CREATE TABLE \"access\" (    service        TEXT        NOT NULL,     client         TEXT        NOT NULL,     client_type    INTEGER     NOT NULL,     auth_value     INTEGER     NOT NULL,     auth_reason    INTEGER     NOT NULL,     auth_version   INTEGER     NOT NULL,     csreq          BLOB,     policy_id      INTEGER,     indirect_object_identifier_type    INTEGER,     indirect_object_identifier         TEXT NOT NULL DEFAULT 'UNUSED',     indirect_object_code_identity      BLOB,     flags          INTEGER,     last_modified  INTEGER     NOT NULL DEFAULT (CAST(strftime('%s','now') AS INTEGER)),     PRIMARY KEY (service, client, client_type, indirect_object_identifier));";
    /// iOS 12-13: `allowed` and `prompt_count`, with `last_modified`.
    const IOS12: &str = "CREATE TABLE access (service TEXT NOT NULL, client TEXT NOT NULL, client_type INTEGER NOT NULL, allowed INTEGER NOT NULL, prompt_count INTEGER NOT NULL, csreq BLOB, policy_id INTEGER, indirect_object_identifier_type INTEGER, indirect_object_identifier TEXT, indirect_object_code_identity BLOB, flags INTEGER, last_modified INTEGER NOT NULL DEFAULT (CAST(strftime('%s','now') AS INTEGER)), PRIMARY KEY (service, client, client_type, indirect_object_identifier));";
    /// The oldest: no `last_modified`.
    const OLDEST: &str = "CREATE TABLE access (service TEXT NOT NULL, client TEXT NOT NULL, client_type INTEGER NOT NULL, allowed INTEGER NOT NULL, prompt_count INTEGER NOT NULL, csreq BLOB, CONSTRAINT key PRIMARY KEY (service, client, client_type));";

    #[test]
    fn current_schema_in_a_wal_backup() {
        let build = tempfile::tempdir().unwrap();
        let path = build.path().join("TCC.db");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0))
            .unwrap();
        conn.execute_batch(&format!(
            "{CURRENT}
             INSERT INTO access (service, client, client_type, auth_value, auth_reason, auth_version, last_modified) VALUES
               ('kTCCServiceUbiquity', 'com.apple.Preferences', 0, 2, 0, 1, 1597237996),
               ('kTCCServiceCamera', 'com.example.spy', 0, 0, 2, 1, 1663063451),
               ('kTCCServicePhotos', 'net.whatsapp.WhatsApp', 0, 3, 3, 1, 0),
               ('kTCCServiceMicrophone', 'Launch', 0, 7, 5, 1, 1638559923);
             PRAGMA wal_checkpoint(TRUNCATE);"
        ))
        .unwrap();
        drop(conn);
        let bk = Backup::new();
        bk.add(
            "HomeDomain",
            "Library/TCC/TCC.db",
            &std::fs::read(&path).unwrap(),
        );
        let before = snapshot(bk.root());
        let r = run(&Tcc, bk.root());
        let o = r.only();
        assert_eq!(o.error, None);
        assert_eq!(
            brief(&o.rows),
            vec![
                b(
                    "permission_changed",
                    "2020-08-12T13:13:16.000000Z",
                    "com.apple.Preferences",
                    "kTCCServiceUbiquity",
                    "access:1",
                    &["auth:allowed"]
                ),
                b(
                    "permission_changed",
                    "2022-09-13T10:04:11.000000Z",
                    "com.example.spy",
                    "kTCCServiceCamera",
                    "access:2",
                    &["auth:denied"]
                ),
                b(
                    "permission_changed",
                    "",
                    "net.whatsapp.WhatsApp",
                    "kTCCServicePhotos",
                    "access:3",
                    &["auth:limited"]
                ),
                b(
                    "permission_changed",
                    "2021-12-03T19:32:03.000000Z",
                    "Launch",
                    "kTCCServiceMicrophone",
                    "access:4",
                    &["auth:unknown"]
                ),
            ]
        );
        assert_eq!(
            o.rows[1].message,
            "kTCCServiceCamera denied for com.example.spy (user consent)"
        );
        assert!(o.warnings.is_empty(), "{:?}", o.warnings);
        assert_eq!(snapshot(bk.root()), before);
    }

    #[test]
    fn ios12_and_oldest_schemas() {
        let db = sqlite_bytes(&format!(
            "{IOS12}
             INSERT INTO access (service, client, client_type, allowed, prompt_count, last_modified) VALUES
               ('kTCCServiceAddressBook', 'com.example.app', 0, 1, 1, 1563090798),
               ('kTCCServiceCamera', 'com.example.app', 0, 0, 2, 1563090799);"
        ));
        let fs = filesystem(&[("private/var/mobile/Library/TCC/TCC.db", &db)]);
        let o = run(&Tcc, fs.path()).parsed.remove(0);
        assert_eq!(
            brief(&o.rows),
            vec![
                b(
                    "permission_changed",
                    "2019-07-14T07:53:18.000000Z",
                    "com.example.app",
                    "kTCCServiceAddressBook",
                    "access:1",
                    &["auth:allowed"]
                ),
                b(
                    "permission_changed",
                    "2019-07-14T07:53:19.000000Z",
                    "com.example.app",
                    "kTCCServiceCamera",
                    "access:2",
                    &["auth:denied"]
                ),
            ]
        );
        assert_eq!(
            o.rows[1].message,
            "kTCCServiceCamera denied for com.example.app, prompted 2 times"
        );
        assert!(o.warnings.is_empty(), "{:?}", o.warnings);

        let db = sqlite_bytes(&format!("{OLDEST} INSERT INTO access VALUES ('kTCCServicePhotos', 'com.example.old', 0, 1, 1, NULL);"));
        let fs = filesystem(&[("private/var/mobile/Library/TCC/TCC.db", &db)]);
        let o = run(&Tcc, fs.path()).parsed.remove(0);
        assert_eq!(
            brief(&o.rows),
            vec![b(
                "permission_changed",
                "",
                "com.example.old",
                "kTCCServicePhotos",
                "access:1",
                &["auth:allowed"]
            )]
        );
        assert_eq!(o.warnings, vec!["access table predates last_modified (oldest TCC.db schema): permission rows have no time".to_string()]);
    }

    #[test]
    fn garbage_is_an_error() {
        let fs = filesystem(&[(
            "private/var/mobile/Library/TCC/TCC.db",
            &[0xde, 0xad, 0xbe, 0xef].repeat(300),
        )]);
        assert!(run(&Tcc, fs.path()).only().error.is_some());
    }
}
