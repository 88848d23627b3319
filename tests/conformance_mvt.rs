//! Conformance against the real MVT iOS 14.3 test backup and MVT's own output for it:
//! sms, DataUsage, TCC and Safari History. Skips cleanly when ../shared is absent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chainline::timeline::{self, time};
use sha2::{Digest, Sha256};

struct Row {
    ts: String,
    source: String,
    kind: String,
    actor: String,
    target: String,
    bytes_in: Option<i64>,
    bytes_out: Option<i64>,
    record: String,
    tags: Vec<String>,
}

fn read_rows(path: &Path) -> Vec<Row> {
    let df = timeline::read_parquet(path).unwrap();
    let s = |n: &str| df.column(n).unwrap().str().unwrap().clone();
    let i = |n: &str| df.column(n).unwrap().i64().unwrap().clone();
    let ts = df
        .column("ts")
        .unwrap()
        .datetime()
        .unwrap()
        .physical()
        .clone();
    let (source, kind, actor, target, record) =
        (s("source"), s("kind"), s("actor"), s("target"), s("record"));
    let (bin, bout) = (i("bytes_in"), i("bytes_out"));
    let tags = df.column("tags").unwrap().list().unwrap().clone();
    (0..df.height())
        .map(|k| Row {
            // MVT's format: "YYYY-MM-DD HH:MM:SS.ffffff", UTC.
            ts: ts
                .get(k)
                .and_then(time::from_micros)
                .map(|t| t.format("%Y-%m-%d %H:%M:%S%.6f").to_string())
                .unwrap_or_default(),
            source: source.get(k).unwrap_or("").into(),
            kind: kind.get(k).unwrap_or("").into(),
            actor: actor.get(k).unwrap_or("").into(),
            target: target.get(k).unwrap_or("").into(),
            bytes_in: bin.get(k),
            bytes_out: bout.get(k),
            record: record.get(k).unwrap_or("").into(),
            tags: tags
                .get_as_series(k)
                .map(|s| {
                    s.str()
                        .unwrap()
                        .iter()
                        .map(|t| t.unwrap_or("").to_string())
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

/// Relative path → SHA-256 of every file in the folder.
fn listing(dir: &Path) -> BTreeMap<PathBuf, String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| !e.file_type().is_dir())
        .map(|e| {
            let rel = e.path().strip_prefix(dir).unwrap().to_path_buf();
            let hash = std::fs::read(e.path())
                .map(|b| hex::encode(Sha256::digest(&b)))
                .unwrap_or_else(|_| "unreadable".into());
            (rel, hash)
        })
        .collect()
}

fn mvt_json(shared: &Path, name: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(shared.join("testdata/mvt_output").join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn sec(ts: &str) -> &str {
    ts.split('.').next().unwrap_or(ts)
}

#[test]
fn mvt_backup_sms_datausage_tcc_safari() {
    let Some(shared) = chainline::shared_dir() else {
        eprintln!("skipping: no shared test data (../shared)");
        return;
    };
    let backup = shared.join("testdata/mvt_ios_backup");
    if !backup.is_dir() {
        eprintln!("skipping: {} absent", backup.display());
        return;
    }
    let before = listing(&backup);
    let out = tempfile::tempdir().unwrap();
    let opts = chainline::analyze::Options {
        inputs: vec![backup.clone()],
        out: out.path().join("out"),
        quiet: true,
        ..Default::default()
    };
    chainline::analyze::run(&opts).unwrap();
    assert_eq!(
        listing(&backup),
        before,
        "the backup folder changed during the run"
    );

    let rows = read_rows(&out.path().join("out/timeline.parquet"));
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("out/run.json")).unwrap()).unwrap();
    let artifacts = run["artifacts"].as_array().unwrap();
    let artifact = |source: &str| -> &serde_json::Value {
        let found: Vec<&serde_json::Value> =
            artifacts.iter().filter(|a| a["source"] == source).collect();
        assert_eq!(found.len(), 1, "{source}: {found:?}");
        found[0]
    };
    let of = |source: &str| -> Vec<&Row> { rows.iter().filter(|r| r.source == source).collect() };

    // sms: one received message from handle "apple", and when it was read. No attachment
    // table in this sms.db: a warning, not a failure.
    let sms = of("sms");
    let sms_rows: Vec<(&str, &str, &str, &str)> = sms
        .iter()
        .map(|r| {
            (
                r.kind.as_str(),
                r.ts.as_str(),
                r.actor.as_str(),
                r.record.as_str(),
            )
        })
        .collect();
    // The file holds only ROWID 3 (README): keys 1–2 were stored and deleted, which
    // chainline reports as a gap ending at message 3.
    assert_eq!(
        sms_rows,
        vec![
            (
                "messages_deleted",
                "2019-08-29 23:13:30.539788",
                "",
                "message:1-2"
            ),
            (
                "message_received",
                "2019-08-29 23:13:30.539788",
                "apple",
                "message:3"
            ),
            (
                "message_read",
                "2019-08-29 23:13:30.539900",
                "apple",
                "message:3"
            ),
        ]
    );
    let a = artifact("sms");
    assert_eq!(a["artifact"], "HomeDomain/Library/SMS/sms.db");
    assert_eq!(a["status"], "partial");
    assert!(a["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w == "table attachment not found: no attachment rows"));

    // DataUsage: 40 processes (two rows each), 10 usage rows, Z_PK 5 missing.
    let du = of("datausage");
    let procs: std::collections::BTreeSet<&str> = du
        .iter()
        .filter(|r| r.record.starts_with("ZPROCESS:"))
        .map(|r| r.record.as_str())
        .collect();
    let live: Vec<&&Row> = du
        .iter()
        .filter(|r| r.record.starts_with("ZLIVEUSAGE:"))
        .collect();
    assert_eq!(procs.len(), 40);
    assert_eq!(
        du.iter().filter(|r| r.kind == "process_first_seen").count(),
        40
    );
    assert_eq!(
        du.iter().filter(|r| r.kind == "process_last_seen").count(),
        40
    );
    assert_eq!(live.len(), 10);
    assert!(live
        .iter()
        .all(|r| r.kind == "network_usage" && !r.tags.contains(&"orphan".to_string())));
    // .GlobalPreferences.plist has LDMGlobalEnabled = true (README: Lockdown Mode enabled;
    // MVT's informational alert): one settings row, the fact, and the report says so.
    let settings = of("settings");
    assert_eq!(settings.len(), 1);
    assert_eq!(
        (settings[0].kind.as_str(), settings[0].target.as_str()),
        ("lockdown_mode", "enabled")
    );
    assert_eq!(artifact("settings")["facts"]["lockdown_mode"], true);
    let report = std::fs::read_to_string(out.path().join("out/report.html")).unwrap();
    assert!(report.contains("<th>Lockdown Mode</th><td>enabled"));
    // 31 of the 40 ZPROCNAMEs are `<UUID>/<bundle id>` (sqlite3: SELECT count(*) FROM
    // ZPROCESS WHERE ZPROCNAME LIKE '________-____-____-____-____________/%'): each is
    // named by its bundle id, and no actor is a bare UUID.
    assert!(
        du.iter().all(|r| !uuid_shaped(&r.actor)),
        "a bare UUID as actor"
    );
    let apps: std::collections::BTreeSet<&str> = du
        .iter()
        .filter(|r| {
            r.kind == "process_first_seen" && r.tags.iter().any(|t| t.starts_with("app_uuid:"))
        })
        .map(|r| r.actor.as_str())
        .collect();
    assert_eq!(apps.len(), 31);
    assert!(apps.contains("com.apple.facetime") && apps.contains("com.apple.mobilecal"));
    let a = artifact("datausage");
    assert_eq!(
        a["artifact"],
        "WirelessDomain/Library/Databases/DataUsage.sqlite"
    );
    assert_eq!(a["facts"]["zprocess_missing_pks"], serde_json::json!([5]));
    assert!(a["error"].is_null());
    let cut = du
        .iter()
        .find(|r| r.actor == "CumulativeUsageTracker" && r.kind == "process_first_seen")
        .unwrap();
    assert_eq!(cut.tags, vec!["no_bundle_id".to_string()]);
    let first = du
        .iter()
        .filter(|r| r.kind == "process_first_seen")
        .map(|r| r.ts.as_str())
        .min()
        .unwrap();
    assert_eq!(sec(first), "2019-08-27 15:08:09");

    // TCC: 11 permission rows, current schema.
    let tcc = of("tcc");
    assert_eq!(tcc.len(), 11);
    assert!(tcc
        .iter()
        .any(|r| r.actor == "Launch" && r.target == "kTCCServiceLiverpool"));
    assert!(artifact("tcc")["error"].is_null());

    // Safari History.db: listed in Manifest.db, absent from the folder.
    let a = artifact("safari");
    assert_eq!(a["artifact"], "HomeDomain/Library/Safari/History.db");
    assert_eq!(a["status"], "missing");
    assert!(of("safari").is_empty());

    // Every MVT record of these artifacts is accounted for.
    for m in mvt_json(&shared, "sms.json") {
        let rec = format!("message:{}", m["ROWID"]);
        let kind = if m["direction"] == "sent" {
            "message_sent"
        } else {
            "message_received"
        };
        let row = sms
            .iter()
            .find(|r| r.record == rec && r.kind == kind)
            .unwrap_or_else(|| panic!("MVT message {rec} missing"));
        assert_eq!(row.actor, m["phone_number"].as_str().unwrap());
        // MVT truncates nanosecond message times to whole seconds.
        assert_eq!(sec(&row.ts), sec(m["isodate"].as_str().unwrap()));
        if let Some(read) = m["isodate_read"].as_str() {
            let r = sms
                .iter()
                .find(|r| r.record == rec && r.kind == "message_read")
                .unwrap();
            assert_eq!(sec(&r.ts), sec(read));
        }
    }
    let mut missing_in_mvt = Vec::new();
    for m in mvt_json(&shared, "datausage.json") {
        let pid = m["proc_id"].as_i64().unwrap();
        let name = m["proc_name"].as_str().unwrap_or("");
        if name.starts_with("MISSING") {
            missing_in_mvt.push(pid);
            continue;
        }
        let rec = format!("ZPROCESS:{pid}");
        let find = |kind: &str| {
            du.iter()
                .find(|r| r.record == rec && r.kind == kind)
                .unwrap_or_else(|| panic!("{rec} {kind} missing"))
        };
        assert_eq!(
            find("process_first_seen").ts,
            m["first_isodate"].as_str().unwrap(),
            "{rec}"
        );
        assert_eq!(
            find("process_last_seen").ts,
            m["isodate"].as_str().unwrap(),
            "{rec}"
        );
        // `<UUID>/<bundle id>` names an app by its bundle id (MVT keeps the raw name).
        let expected_actor = match name.split_once('/') {
            Some((head, bundle)) if uuid_shaped(head) => bundle,
            Some((head, _)) => head,
            None => name,
        };
        assert_eq!(find("process_first_seen").actor, expected_actor, "{rec}");
        if let Some(lid) = m["live_id"].as_i64() {
            let lrec = format!("ZLIVEUSAGE:{lid}");
            let l = du
                .iter()
                .find(|r| r.record == lrec)
                .unwrap_or_else(|| panic!("{lrec} missing"));
            assert_eq!(l.ts, m["live_isodate"].as_str().unwrap(), "{lrec}");
            let sum = |a: &str, b: &str| {
                (m[a].as_f64().unwrap_or(0.0) + m[b].as_f64().unwrap_or(0.0)).round() as i64
            };
            assert_eq!(l.bytes_in, Some(sum("wifi_in", "wwan_in")), "{lrec}");
            assert_eq!(l.bytes_out, Some(sum("wifi_out", "wwan_out")), "{lrec}");
            assert_eq!(l.actor, expected_actor, "{lrec}");
        }
    }
    assert_eq!(
        serde_json::json!(missing_in_mvt),
        artifact("datausage")["facts"]["zprocess_missing_pks"]
    );
    for m in mvt_json(&shared, "tcc.json") {
        let (client, service) = (
            m["client"].as_str().unwrap(),
            m["service"].as_str().unwrap(),
        );
        let row = tcc
            .iter()
            .find(|r| r.actor == client && r.target == service)
            .unwrap_or_else(|| panic!("TCC {client} {service} missing"));
        assert_eq!(row.ts, m["last_modified"].as_str().unwrap());
        assert!(
            row.tags
                .contains(&format!("auth:{}", m["auth_value"].as_str().unwrap())),
            "{client} {service}: {:?}",
            row.tags
        );
        assert!(row.record.starts_with("access:"));
    }
    // Nothing here is sent traffic without a process, and nothing lacks a time.
    assert!(du
        .iter()
        .chain(sms.iter())
        .chain(tcc.iter())
        .all(|r| !r.ts.is_empty() && r.bytes_out.is_none_or(|b| b >= 0)));
}

/// 8-4-4-4-12 hex digits, written here independently of chainline's own check.
fn uuid_shaped(s: &str) -> bool {
    let lens: Vec<usize> = s.split('-').map(str::len).collect();
    lens == [8, 4, 4, 4, 12] && s.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
}
