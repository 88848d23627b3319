//! DataUsage.sqlite and netusage.sqlite: which processes used the network, and when.
//!
//! Both are Core Data stores with the same two tables (`ZPROCESS`, `ZLIVEUSAGE`), so one
//! parser serves two sources. Times are Cocoa seconds (REAL). Tampering signs kept as
//! facts: `ZLIVEUSAGE` rows whose process row is gone (Pegasus deleted `ZPROCESS` rows and
//! left the usage, Amnesty Tech, "Forensic Methodology Report: How to catch NSO Group's
//! Pegasus", 2021) and gaps in the `Z_PK` sequences (MVT's "missing process" check; weak
//! on its own, real phones prune rows too). `Z_PRIMARYKEY.Z_MAX` is the highest key Core
//! Data ever handed out, so keys above the highest row were deleted as well.

use std::collections::BTreeSet;

use crate::evidence::{Evidence, Locator, Lookup};
use crate::timeline::{time, Event};

use super::schema::Table;
use super::{value_f64, value_i64, value_string, Parse, Source, SourceError};

/// One network-usage database family: `datausage` or `netusage`.
pub struct NetworkUsage {
    name: &'static str,
    locator: Locator,
}

impl NetworkUsage {
    /// WirelessDomain `DataUsage.sqlite` (backups and filesystem dumps).
    pub fn datausage() -> Self {
        NetworkUsage {
            name: "datausage",
            locator: Locator {
                backup: Some(("WirelessDomain", "Library/Databases/DataUsage.sqlite")),
                filesystem: &["private/var/wireless/Library/Databases/DataUsage.sqlite"],
                // Where a sysdiagnose carries it, when it does (docs/SOURCES.md).
                sysdiagnose: &["logs/Networking/DataUsage.sqlite"],
            },
        }
    }

    /// networkd's `netusage.sqlite` (filesystem dumps only; not in backups).
    pub fn netusage() -> Self {
        NetworkUsage {
            name: "netusage",
            locator: Locator {
                backup: None,
                filesystem: &[
                    "private/var/networkd/netusage.sqlite",
                    "private/var/networkd/db/netusage.sqlite",
                ],
                // Where a sysdiagnose carries it, when it does (docs/SOURCES.md).
                sysdiagnose: &["logs/Networking/netusage.sqlite"],
            },
        }
    }
}

impl Source for NetworkUsage {
    fn name(&self) -> &'static str {
        self.name
    }

    fn discover(&self, evidence: &Evidence) -> Vec<Lookup> {
        evidence.locate(&self.locator)
    }

    fn parse(&self, p: &mut Parse<'_>) -> Result<(), SourceError> {
        let db = p.evidence.open_sqlite(p.artifact)?;
        let conn = db.conn();
        let process = Table::read(conn, "ZPROCESS", "p");
        let live = Table::read(conn, "ZLIVEUSAGE", "l");
        // About one row a process and one a usage record.
        p.reserve(
            crate::evidence::row_count(conn, "ZPROCESS")
                + crate::evidence::row_count(conn, "ZLIVEUSAGE"),
        );
        let mut no_time = 0usize;
        if process.check(
            &[
                "Z_PK",
                "ZFIRSTTIMESTAMP",
                "ZTIMESTAMP",
                "ZBUNDLENAME",
                "ZPROCNAME",
            ],
            p,
        ) {
            let pks = self.processes(conn, &process, p, &mut no_time)?;
            report_gaps(conn, "ZPROCESS", "Process", &pks, p);
        }
        if live.check(
            &[
                "Z_PK",
                "ZHASPROCESS",
                "ZTIMESTAMP",
                "ZWIFIIN",
                "ZWIFIOUT",
                "ZWWANIN",
                "ZWWANOUT",
            ],
            p,
        ) {
            let pks = self.live_usage(conn, &live, &process, p, &mut no_time)?;
            report_gaps(conn, "ZLIVEUSAGE", "LiveUsage", &pks, p);
        }
        if no_time > 0 {
            p.warn(format!("{no_time} rows have no usable time (zero, NULL or implausible); kept without a time"));
        }
        Ok(())
    }
}

/// Who a `ZPROCNAME` names. Real databases hold three forms (checked on the MVT iOS 14.3
/// backup and an iOS 16 DataUsage.sqlite): `<process>/<bundle id>`
/// (`IMTransferAgent/com.apple.datausage.messages`), `<app container UUID>/<bundle id>`
/// for apps (`1FB47783-…/com.apple.Translate`: the UUID is shared by every app, so it is
/// kept as a tag and the bundle id names the actor) and a plain name
/// (`CumulativeUsageTracker`, daemons in netusage.sqlite). Daemon names are cut at 16
/// bytes by the kernel; they are kept as written.
struct ProcName {
    actor: String,
    target: String,
    /// `ZBUNDLENAME` is empty: the process is no app (Amnesty's Pegasus signal when new).
    no_bundle: bool,
    app_uuid: Option<String>,
}

fn proc_name(procname: Option<&str>, bundle: Option<&str>) -> ProcName {
    let procname = procname.unwrap_or("");
    let (name, after) = match procname.split_once('/') {
        Some((n, a)) => (n, a),
        None => (procname, ""),
    };
    let bundle = bundle.map(str::trim).filter(|b| !b.is_empty());
    let target = bundle.unwrap_or(after).to_string();
    let app_uuid = crate::timeline::is_uuid(name).then(|| name.to_string());
    let actor = match (&app_uuid, target.is_empty()) {
        (Some(_), false) => target.clone(),
        _ => name.to_string(),
    };
    ProcName {
        actor,
        target,
        no_bundle: bundle.is_none(),
        app_uuid,
    }
}

impl ProcName {
    fn tag(&self, mut e: Event) -> Event {
        if self.no_bundle {
            e = e.tag("no_bundle_id");
        }
        if let Some(u) = &self.app_uuid {
            e = e.tag(format!("app_uuid:{u}"));
        }
        e
    }
}

impl NetworkUsage {
    fn processes(
        &self,
        conn: &rusqlite::Connection,
        t: &Table,
        p: &mut Parse<'_>,
        no_time: &mut usize,
    ) -> Result<Vec<i64>, SourceError> {
        let sql = format!(
            "SELECT {pk}, {first}, {last}, {bundle}, {name} FROM {src} ORDER BY {pk}",
            pk = t.col("Z_PK"),
            first = t.col("ZFIRSTTIMESTAMP"),
            last = t.col("ZTIMESTAMP"),
            bundle = t.col("ZBUNDLENAME"),
            name = t.col("ZPROCNAME"),
            src = t.source(),
        );
        let mut stmt = conn.prepare(&sql)?;
        let mut rows = stmt.query([])?;
        let mut pks = Vec::new();
        while let Some(r) = rows.next()? {
            let pk = value_i64(r.get_ref(0)?);
            let first = value_f64(r.get_ref(1)?).and_then(time::cocoa_seconds);
            let last = value_f64(r.get_ref(2)?).and_then(time::cocoa_seconds);
            let bundle = value_string(r.get_ref(3)?);
            let procname = value_string(r.get_ref(4)?);
            let who_is = proc_name(procname.as_deref(), bundle.as_deref());
            let pk_s = pk.map(|k| k.to_string()).unwrap_or_default();
            pks.extend(pk);
            let full = procname.as_deref().unwrap_or("");
            let who = match (who_is.target.is_empty(), full.ends_with(&who_is.target)) {
                (true, _) | (false, true) => full.to_string(),
                (false, false) => format!("{full} ({})", who_is.target),
            };
            // ZPROCESS keeps one row per process: the first and the latest time its
            // usage was recorded, not each use.
            for (kind, ts, what) in [
                ("process_first_seen", first, "first recorded"),
                ("process_last_seen", last, "last recorded"),
            ] {
                if ts.is_none() {
                    *no_time += 1;
                }
                let e = Event::new(self.name, kind, ts)
                    .actor(who_is.actor.clone())
                    .target(who_is.target.clone())
                    .message(format!("network use by {who} {what}"))
                    .at("", format!("ZPROCESS:{pk_s}"));
                p.emit(who_is.tag(e));
            }
        }
        Ok(pks)
    }

    fn live_usage(
        &self,
        conn: &rusqlite::Connection,
        l: &Table,
        process: &Table,
        p: &mut Parse<'_>,
        no_time: &mut usize,
    ) -> Result<Vec<i64>, SourceError> {
        let join = process.has("Z_PK");
        let sql = format!(
            "SELECT {pk}, {has}, {ts}, {wifi_in}, {wifi_out}, {wwan_in}, {wwan_out}, {ppk}, {name}, {bundle}, {kind}
             FROM {src} {join} ORDER BY {pk}",
            pk = l.col("Z_PK"),
            has = l.col("ZHASPROCESS"),
            ts = l.col("ZTIMESTAMP"),
            wifi_in = l.col("ZWIFIIN"),
            wifi_out = l.col("ZWIFIOUT"),
            wwan_in = l.col("ZWWANIN"),
            wwan_out = l.col("ZWWANOUT"),
            kind = l.col("ZKIND"),
            ppk = if join { process.col("Z_PK") } else { "NULL".into() },
            name = if join { process.col("ZPROCNAME") } else { "NULL".into() },
            bundle = if join { process.col("ZBUNDLENAME") } else { "NULL".into() },
            src = l.source(),
            join = if join { format!("LEFT JOIN {} ON {} = {}", process.source(), process.col("Z_PK"), l.col("ZHASPROCESS")) } else { String::new() },
        );
        let mut stmt = conn.prepare(&sql)?;
        let mut rows = stmt.query([])?;
        let mut pks = Vec::new();
        let mut orphans: Vec<i64> = Vec::new();
        while let Some(r) = rows.next()? {
            let pk = value_i64(r.get_ref(0)?);
            let has = value_i64(r.get_ref(1)?);
            let ts = value_f64(r.get_ref(2)?).and_then(time::cocoa_seconds);
            let counter =
                |i: usize| -> rusqlite::Result<Option<f64>> { Ok(value_f64(r.get_ref(i)?)) };
            let (wifi_in, wifi_out, wwan_in, wwan_out) =
                (counter(3)?, counter(4)?, counter(5)?, counter(6)?);
            let process_pk = value_i64(r.get_ref(7)?);
            let procname = value_string(r.get_ref(8)?);
            let bundle = value_string(r.get_ref(9)?);
            let zkind = value_i64(r.get_ref(10)?);
            pks.extend(pk);
            if ts.is_none() {
                *no_time += 1;
            }
            let sum = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (None, None) => None,
                (a, b) => Some((a.unwrap_or(0.0) + b.unwrap_or(0.0)).round() as i64),
            };
            let (bytes_in, bytes_out) = (sum(wifi_in, wwan_in), sum(wifi_out, wwan_out));
            let pk_s = pk.map(|k| k.to_string()).unwrap_or_default();
            // A ZLIVEUSAGE row is a set of counters updated in place; ZTIMESTAMP is when
            // they were last updated, not when a transfer started (real phones keep a few
            // rows per process for weeks: 887 rows for 371 processes on an iOS 16 phone).
            let counters = format!(
                "in {} B, out {} B",
                bytes_in.unwrap_or(0),
                bytes_out.unwrap_or(0)
            );
            let mut e = if process_pk.is_none() {
                pks_push_orphan(&mut orphans, has);
                let what = has
                    .map(|h| format!("process Z_PK {h}, which has no ZPROCESS row"))
                    .unwrap_or_else(|| "no process".into());
                Event::new(self.name, "network_usage", ts)
                    .message(format!(
                        "network counters of {what} last updated: {counters}"
                    ))
                    .tag("orphan")
            } else {
                let who_is = proc_name(procname.as_deref(), bundle.as_deref());
                let full = procname.as_deref().unwrap_or("");
                let e = Event::new(self.name, "network_usage", ts)
                    .actor(who_is.actor.clone())
                    .target(who_is.target.clone())
                    .message(format!(
                        "network counters of {full} last updated: {counters}"
                    ));
                who_is.tag(e)
            };
            if let Some(k) = zkind {
                e = e.tag(format!("zkind:{k}"));
            }
            e = e.bytes(bytes_in, bytes_out);
            e.record = format!("ZLIVEUSAGE:{pk_s}");
            p.emit(e);
        }
        // Facts, not warnings: every row was read. Orphans are Amnesty's sign of a
        // deleted process record; the rows carry the `orphan` tag for the rules.
        if !orphans.is_empty() {
            p.facts
                .insert("zliveusage_orphans".into(), serde_json::json!(orphans));
        }
        Ok(pks)
    }
}

fn pks_push_orphan(orphans: &mut Vec<i64>, has: Option<i64>) {
    if let Some(h) = has {
        if !orphans.contains(&h) {
            orphans.push(h);
        }
    }
}

/// Z_PK gaps below the highest key, and keys above it that Core Data handed out
/// (`Z_PRIMARYKEY.Z_MAX`) but no row holds any more.
fn report_gaps(
    conn: &rusqlite::Connection,
    table: &str,
    entity: &str,
    pks: &[i64],
    p: &mut Parse<'_>,
) {
    let key = table.to_ascii_lowercase();
    let present: BTreeSet<i64> = pks.iter().copied().collect();
    let max = present.iter().next_back().copied().unwrap_or(0);
    // Core Data numbers rows from 1; a long run is not enumerated past this many.
    const MAX_LISTED: usize = 1000;
    let missing: Vec<i64> = (1..max)
        .filter(|k| !present.contains(k))
        .take(MAX_LISTED)
        .collect();
    // Gaps and a Z_MAX above the highest row are facts, not warnings or tampering:
    // real phones rotate rows away (an iOS 16 phone: LiveUsage Z_MAX 1,766 for 887
    // rows). MVT's "missing process" check reports the same gaps as a low alert.
    if !missing.is_empty() {
        p.facts
            .insert(format!("{key}_missing_pks"), serde_json::json!(missing));
    }
    let z_max: Option<i64> = conn
        .query_row(
            "SELECT Z_MAX FROM Z_PRIMARYKEY WHERE Z_NAME = ?1",
            [entity],
            |r| r.get::<_, Option<i64>>(0),
        )
        .ok()
        .flatten();
    if let Some(z_max) = z_max {
        p.facts.insert(format!("{key}_z_max"), z_max.into());
        if z_max > max {
            let after: Vec<i64> = (max + 1..=z_max).take(MAX_LISTED).collect();
            p.facts
                .insert(format!("{key}_deleted_after_max"), serde_json::json!(after));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{b, brief, filesystem, run, snapshot, sqlite_bytes, Backup};
    use super::*;

    /// DataUsage.sqlite as iOS 14.3 writes it (schema of the MVT test backup's file; the
    /// tables this source does not read are left out).
    const SCHEMA: &str = "
        CREATE TABLE ZLIVEUSAGE ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZKIND INTEGER, ZMETADATA INTEGER, ZTAG INTEGER, ZHASPROCESS INTEGER, ZBILLCYCLEEND TIMESTAMP, ZTIMESTAMP TIMESTAMP, ZWIFIIN FLOAT, ZWIFIOUT FLOAT, ZWWANIN FLOAT, ZWWANOUT FLOAT );
        CREATE TABLE ZPROCESS ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZFIRSTTIMESTAMP TIMESTAMP, ZTIMESTAMP TIMESTAMP, ZBUNDLENAME VARCHAR, ZPROCNAME VARCHAR );
        CREATE TABLE Z_PRIMARYKEY (Z_ENT INTEGER PRIMARY KEY, Z_NAME VARCHAR, Z_SUPER INTEGER, Z_MAX INTEGER);
        CREATE TABLE Z_METADATA (Z_VERSION INTEGER PRIMARY KEY, Z_UUID VARCHAR(255), Z_PLIST BLOB);
        CREATE INDEX ZLIVEUSAGE_ZHASPROCESS_INDEX ON ZLIVEUSAGE (ZHASPROCESS);
    ";

    /// The Operation Triangulation excerpt (Kaspersky, 2023): IMTransferAgent downloads,
    /// then BackupAgent (no bundle id) talks; plus a usage row whose process was deleted.
    fn triangulation_db() -> Vec<u8> {
        sqlite_bytes(&format!(
            "{SCHEMA}
             INSERT INTO Z_PRIMARYKEY VALUES (5, 'LiveUsage', 0, 4), (7, 'Process', 0, 6);
             -- 2022-09-13 10:04:11.89 UTC = Cocoa 684756251.89
             INSERT INTO ZPROCESS VALUES (1, 7, 1, 684756251.89, 684756251.89, 'com.apple.datausage.messages', 'IMTransferAgent/com.apple.datausage.messages');
             INSERT INTO ZPROCESS VALUES (3, 7, 1, 684756314.74, 684756320.5, NULL, 'BackupAgent');
             INSERT INTO ZPROCESS VALUES (4, 7, 1, 0, NULL, '', 'IMRemoteURLConne/com.apple.datausage.messages');
             INSERT INTO ZLIVEUSAGE (Z_PK, Z_ENT, Z_OPT, ZKIND, ZHASPROCESS, ZTIMESTAMP, ZWIFIIN, ZWIFIOUT, ZWWANIN, ZWWANOUT) VALUES
               (1, 5, 1, 0, 1, 684756251.89, 0.0, 0.0, 76000000.0, 12000.0),
               (2, 5, 1, 0, 3, 684756314.74, 1500.5, 20.0, 100.0, 0.0),
               (4, 5, 1, 0, 9, 684756400.0, NULL, NULL, 5.0, 7.0);"
        ))
    }

    #[test]
    fn backup_datausage_rows_orphans_and_gaps() {
        let bk = Backup::new();
        bk.add(
            "WirelessDomain",
            "Library/Databases/DataUsage.sqlite",
            &triangulation_db(),
        );
        let before = snapshot(bk.root());
        let r = run(&NetworkUsage::datausage(), bk.root());
        let o = r.only();
        assert_eq!(
            o.artifact,
            "WirelessDomain/Library/Databases/DataUsage.sqlite"
        );
        assert_eq!(o.error, None);
        assert_eq!(
            brief(&o.rows),
            vec![
                b(
                    "process_first_seen",
                    "2022-09-13T10:04:11.890000Z",
                    "IMTransferAgent",
                    "com.apple.datausage.messages",
                    "ZPROCESS:1",
                    &[]
                ),
                b(
                    "process_last_seen",
                    "2022-09-13T10:04:11.890000Z",
                    "IMTransferAgent",
                    "com.apple.datausage.messages",
                    "ZPROCESS:1",
                    &[]
                ),
                b(
                    "process_first_seen",
                    "2022-09-13T10:05:14.740000Z",
                    "BackupAgent",
                    "",
                    "ZPROCESS:3",
                    &["no_bundle_id"]
                ),
                b(
                    "process_last_seen",
                    "2022-09-13T10:05:20.500000Z",
                    "BackupAgent",
                    "",
                    "ZPROCESS:3",
                    &["no_bundle_id"]
                ),
                b(
                    "process_first_seen",
                    "",
                    "IMRemoteURLConne",
                    "com.apple.datausage.messages",
                    "ZPROCESS:4",
                    &["no_bundle_id"]
                ),
                b(
                    "process_last_seen",
                    "",
                    "IMRemoteURLConne",
                    "com.apple.datausage.messages",
                    "ZPROCESS:4",
                    &["no_bundle_id"]
                ),
                b(
                    "network_usage",
                    "2022-09-13T10:04:11.890000Z",
                    "IMTransferAgent",
                    "com.apple.datausage.messages",
                    "ZLIVEUSAGE:1",
                    &["zkind:0"]
                ),
                b(
                    "network_usage",
                    "2022-09-13T10:05:14.740000Z",
                    "BackupAgent",
                    "",
                    "ZLIVEUSAGE:2",
                    &["no_bundle_id", "zkind:0"]
                ),
                b(
                    "network_usage",
                    "2022-09-13T10:06:40.000000Z",
                    "",
                    "",
                    "ZLIVEUSAGE:4",
                    &["orphan", "zkind:0"]
                ),
            ]
        );
        let bytes: Vec<(Option<i64>, Option<i64>)> = o
            .rows
            .iter()
            .filter(|r| r.kind == "network_usage")
            .map(|r| (r.bytes_in, r.bytes_out))
            .collect();
        assert_eq!(
            bytes,
            vec![
                (Some(76_000_000), Some(12_000)),
                (Some(1_601), Some(20)),
                (Some(5), Some(7))
            ]
        );
        assert!(o.rows.iter().all(|r| r.source == "datausage"));
        assert_eq!(
            o.rows[0].message,
            "network use by IMTransferAgent/com.apple.datausage.messages first recorded"
        );
        assert_eq!(
            o.rows[8].message,
            "network counters of process Z_PK 9, which has no ZPROCESS row last updated: in 5 B, out 7 B"
        );
        let facts = serde_json::Value::Object(o.facts.clone());
        assert_eq!(
            facts,
            serde_json::json!({
                "zprocess_missing_pks": [2], "zprocess_z_max": 6, "zprocess_deleted_after_max": [5, 6],
                "zliveusage_orphans": [9], "zliveusage_missing_pks": [3], "zliveusage_z_max": 4,
            })
        );
        assert_eq!(
            o.warnings,
            vec![
                "2 rows have no usable time (zero, NULL or implausible); kept without a time"
                    .to_string(),
            ]
        );
        assert_eq!(snapshot(bk.root()), before);
    }

    #[test]
    fn netusage_without_wifi_columns() {
        // Newer netusage.sqlite lacks the Wi-Fi counters: select what exists.
        let db = sqlite_bytes(
            "CREATE TABLE ZPROCESS ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZFIRSTTIMESTAMP TIMESTAMP, ZTIMESTAMP TIMESTAMP, ZBUNDLENAME VARCHAR, ZPROCNAME VARCHAR );
             CREATE TABLE ZLIVEUSAGE ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZKIND INTEGER, ZHASPROCESS INTEGER, ZTIMESTAMP TIMESTAMP, ZWWANIN FLOAT, ZWWANOUT FLOAT );
             INSERT INTO ZPROCESS VALUES (1, 7, 1, 700000000.123456, 700000100.5, NULL, 'bh');
             INSERT INTO ZLIVEUSAGE VALUES (1, 5, 1, 0, 1, 700000050.25, 300.0, 200.0);",
        );
        let fs = filesystem(&[("private/var/networkd/db/netusage.sqlite", &db)]);
        let r = run(&NetworkUsage::netusage(), fs.path());
        let o = r.only();
        assert_eq!(o.artifact, "private/var/networkd/db/netusage.sqlite");
        assert_eq!(
            brief(&o.rows),
            vec![
                b(
                    "process_first_seen",
                    "2023-03-08T20:26:40.123456Z",
                    "bh",
                    "",
                    "ZPROCESS:1",
                    &["no_bundle_id"]
                ),
                b(
                    "process_last_seen",
                    "2023-03-08T20:28:20.500000Z",
                    "bh",
                    "",
                    "ZPROCESS:1",
                    &["no_bundle_id"]
                ),
                b(
                    "network_usage",
                    "2023-03-08T20:27:30.250000Z",
                    "bh",
                    "",
                    "ZLIVEUSAGE:1",
                    &["no_bundle_id", "zkind:0"]
                ),
            ]
        );
        assert!(o.rows.iter().all(|r| r.source == "netusage"));
        assert_eq!(
            (o.rows[2].bytes_in, o.rows[2].bytes_out),
            (Some(300), Some(200))
        );
        assert_eq!(
            o.warnings,
            vec!["table ZLIVEUSAGE lacks columns ZWIFIIN, ZWIFIOUT".to_string()]
        );
        // DataUsage is not looked for in netusage's places.
        assert!(run(&NetworkUsage::datausage(), fs.path()).parsed.is_empty());
    }

    #[test]
    fn missing_tables_are_warnings_garbage_is_an_error() {
        let db = sqlite_bytes("CREATE TABLE ZOTHER (Z_PK INTEGER PRIMARY KEY);");
        let fs = filesystem(&[(
            "private/var/wireless/Library/Databases/DataUsage.sqlite",
            &db,
        )]);
        let r = run(&NetworkUsage::datausage(), fs.path());
        let o = r.only();
        assert_eq!(o.error, None);
        assert!(o.rows.is_empty());
        assert_eq!(
            o.warnings,
            vec![
                "table ZPROCESS not found".to_string(),
                "table ZLIVEUSAGE not found".to_string()
            ]
        );

        let fs = filesystem(&[(
            "private/var/wireless/Library/Databases/DataUsage.sqlite",
            b"\x00\x01garbage, not SQLite",
        )]);
        assert!(run(&NetworkUsage::datausage(), fs.path())
            .only()
            .error
            .is_some());
    }

    #[test]
    fn the_three_procname_forms() {
        // <process>/<bundle>: the bundle column wins over the part after the slash.
        let n = proc_name(Some("IMTransferAgent/com.apple.datausage.messages"), None);
        assert_eq!(
            (n.actor.as_str(), n.target.as_str(), n.no_bundle),
            ("IMTransferAgent", "com.apple.datausage.messages", true)
        );
        let n = proc_name(Some("a/b/c"), Some("x.y"));
        assert_eq!(
            (n.actor.as_str(), n.target.as_str(), n.no_bundle),
            ("a", "x.y", false)
        );
        // <UUID>/<bundle>: the app is named by its bundle id, the UUID kept aside.
        let n = proc_name(
            Some("1FB47783-A2FE-47D9-B256-DF50EF44BBA4/com.apple.Translate"),
            Some("com.apple.Translate"),
        );
        assert_eq!(n.actor, "com.apple.Translate");
        assert_eq!(
            n.app_uuid.as_deref(),
            Some("1FB47783-A2FE-47D9-B256-DF50EF44BBA4")
        );
        // A UUID with nothing after it stays the actor (nothing better names it).
        let n = proc_name(Some("1FB47783-A2FE-47D9-B256-DF50EF44BBA4"), None);
        assert_eq!(n.actor, "1FB47783-A2FE-47D9-B256-DF50EF44BBA4");
        // Plain names.
        let n = proc_name(Some("CumulativeUsageTracker"), None);
        assert_eq!(
            (n.actor.as_str(), n.target.as_str()),
            ("CumulativeUsageTracker", "")
        );
        let n = proc_name(None, None);
        assert_eq!(
            (n.actor.as_str(), n.target.as_str(), n.no_bundle),
            ("", "", true)
        );
    }
}
