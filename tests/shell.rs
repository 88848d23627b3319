//! `chainline shell` driven through stdin, and `chainline query`, on a case built in code.

mod common;

use common::*;

/// The `ref` cells (artifact#record) of a table printed by the shell, in order.
fn refs(table: &str) -> Vec<String> {
    let mut lines = table
        .lines()
        .skip_while(|l| !l.starts_with("ts "))
        .peekable();
    let header = lines.next().unwrap_or_default();
    let cols: Vec<&str> = header.split('|').map(str::trim).collect();
    let at = cols.iter().position(|c| *c == "ref").expect("ref column");
    lines
        .skip(1)
        .take_while(|l| !l.starts_with('('))
        .map(|l| l.split('|').nth(at).unwrap_or("").trim().to_string())
        .collect()
}

#[test]
fn around_a_finding_lists_exactly_the_rows_in_the_window() {
    let (_dir, out) = case();
    let o = shell(&out, ".around F001 5m\n");
    let text = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        text.starts_with(
            "around F001 (2023-03-01T10:00:00.000000Z .. 2023-03-01T10:04:00.000000Z) ±5m: \
             2023-03-01T09:55:00.000000Z .. 2023-03-01T10:09:00.000000Z\n"
        ),
        "{text}"
    );
    // 09:54:59 and 10:09:01 fall one second outside; the row without a time never matches.
    assert_eq!(
        refs(&text),
        vec![
            "HomeDomain/Library/Preferences/com.apple.identityservices.idstatuscache.plist#key:com.apple.madrid/mailto:attacker@example.com",
            "HomeDomain/Library/SMS/sms.db#message:7",
            "WirelessDomain/Library/Databases/DataUsage.sqlite#ZLIVEUSAGE:12",
            "IMTranscoderAgent-2023-03-01-100400.ips#file",
            "HomeDomain/Library/TCC/TCC.db#access:5",
        ]
    );
    assert!(text.ends_with("(5 rows)\n"), "{text}");
}

#[test]
fn around_a_time_takes_a_window_and_the_display_zone() {
    let (_dir, out) = case();
    // 11:01:00 in Paris (UTC+1 in March) is 10:01:00 UTC: ±90s reaches 10:00:00 .. 10:02:30.
    let o = chainline(
        &["shell", out.to_str().unwrap(), "--tz", "Europe/Paris"],
        ".around 2023-03-01 11:01:00 90s\n",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert_eq!(
        refs(&text),
        vec![
            "HomeDomain/Library/SMS/sms.db#message:7",
            "WirelessDomain/Library/Databases/DataUsage.sqlite#ZLIVEUSAGE:12"
        ]
    );
    assert!(
        text.contains("2023-03-01T11:00:00.000000+01:00"),
        "times shown in Paris time: {text}"
    );
    // The default window is ±15 minutes: 09:46 .. 10:16 holds all but the 09:00 row.
    let o = shell(&out, ".around 2023-03-01T10:01:00Z\n");
    assert_eq!(refs(&stdout(&o)).len(), 7, "{}", stdout(&o));
}

#[test]
fn around_rejects_what_is_neither_finding_nor_time() {
    let (_dir, out) = case();
    let o = shell(&out, ".around F009\n.around yesterday\n");
    assert!(!o.status.success());
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 2, "{err}");
    assert!(
        err.lines()
            .all(|l| l.starts_with("error: ") && l.contains("neither a finding id")),
        "{err}"
    );
}

#[test]
fn search_ignores_case_and_looks_at_message_actor_and_target() {
    let (_dir, out) = case();
    for (text, want) in [
        (
            ".search hyperlink",
            "HomeDomain/Library/SMS/sms.db#message:7",
        ),
        (
            ".search backupagent",
            "WirelessDomain/Library/Databases/DataUsage.sqlite#ZLIVEUSAGE:12",
        ),
        (
            ".search \"NEWS.example\"",
            "HomeDomain/Library/Safari/History.db#history_visits:33",
        ),
    ] {
        let o = shell(&out, &format!("{text}\n"));
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(refs(&stdout(&o)), vec![want], "{text}");
    }
}

#[test]
fn tags_persist_and_show_in_later_queries() {
    let (_dir, out) = case();
    let o = shell(
        &out,
        ".tag HomeDomain/Library/SMS/sms.db#message:7 suspicious\n",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "tagged 1 row HomeDomain/Library/SMS/sms.db#message:7 with suspicious\n"
    );

    let ann: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("annotations.json")).unwrap()).unwrap();
    let tag = &ann["tags"][0];
    assert_eq!(
        (
            tag["artifact"].as_str(),
            tag["record"].as_str(),
            tag["tag"].as_str()
        ),
        (Some(SMS_DB), Some("message:7"), Some("suspicious"))
    );
    assert!(
        tag["added"]
            .as_str()
            .is_some_and(|a| a.ends_with('Z') && a.len() == 27),
        "{tag}"
    );
    assert_eq!(ann["notes"], serde_json::json!([]));

    // A later, separate process sees the tag next to the source's own tags.
    let q = chainline(
        &[
            "query",
            out.to_str().unwrap(),
            "SELECT record, tags FROM timeline WHERE array_contains(tags, 'suspicious')",
            "--format",
            "json",
        ],
        "",
    );
    assert!(q.status.success(), "{}", stderr(&q));
    let rows: serde_json::Value = serde_json::from_slice(&q.stdout).unwrap();
    assert_eq!(
        rows,
        serde_json::json!([{"record": "message:7", "tags": ["imessage", "finding:F001", "suspicious"]}])
    );

    // Tagging twice adds nothing; untag removes it again.
    let o = shell(
        &out,
        ".tag HomeDomain/Library/SMS/sms.db#message:7 suspicious\n.untag HomeDomain/Library/SMS/sms.db#message:7\n\
         SELECT COUNT(*) AS n FROM timeline WHERE array_contains(tags, 'suspicious');\n",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.starts_with("HomeDomain/Library/SMS/sms.db#message:7 already has tag suspicious\nremoved 1 tag from "), "{text}");
    assert!(text.ends_with("n\n-\n0\n(1 row)\n"), "{text}");
}

#[test]
fn tag_refuses_a_ref_with_no_row() {
    let (_dir, out) = case();
    let o = shell(
        &out,
        ".tag HomeDomain/Library/SMS/sms.db#message:99 suspicious\n.tag nohash x\n",
    );
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("no timeline row has artifact \"HomeDomain/Library/SMS/sms.db\" and record \"message:99\""), "{err}");
    assert!(err.contains("\"nohash\" is not a row ref"), "{err}");
    assert!(!out.join("annotations.json").exists());
}

#[test]
fn notes_persist() {
    let (_dir, out) = case();
    let o = shell(
        &out,
        ".note F001 sender also seen in case 12\n.note F404 nothing\n",
    );
    assert!(!o.status.success(), "the unknown finding fails");
    assert_eq!(stdout(&o), "note added to F001 (1 on it)\n");
    assert_eq!(stderr(&o), "error: no finding F404 (see .findings)\n");

    let ann = chainline::annotations::Annotations::load(&out).unwrap();
    assert_eq!(ann.notes.len(), 1);
    assert_eq!(
        (ann.notes[0].finding.as_str(), ann.notes[0].text.as_str()),
        ("F001", "sender also seen in case 12")
    );

    let o = shell(&out, ".notes\n");
    let text = stdout(&o);
    assert!(
        text.contains("F001")
            && text.contains("sender also seen in case 12")
            && text.ends_with("(1 row)\n"),
        "{text}"
    );
}

#[test]
fn multi_line_sql_and_dot_commands_in_one_script() {
    let (_dir, out) = case();
    let script = "SELECT source,\n       COUNT(*) AS n\nFROM timeline\nGROUP BY source\nORDER BY n DESC, source;\n.tables\n.findings\n";
    let o = shell(&out, script);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.starts_with("source    | n\n----------+--\nsms       | 2\ncrash     | 1\n"),
        "{text}"
    );
    assert!(
        text.contains("timeline         9 rows\nfindings         1 row\nfinding_events   3 rows\n"),
        "{text}"
    );
    assert!(
        text.contains("F001 | high     |  0.82 | 2023-03-01T10:00:00.000000Z"),
        "{text}"
    );
    assert!(text.contains("TestSpy"), "{text}");
}

#[test]
fn a_failing_command_does_not_stop_the_script() {
    let (_dir, out) = case();
    let o = shell(
        &out,
        "SELEC nonsense;\n.bogus\nSELECT 1 AS one;\n.quit\nSELECT 2 AS two;\n",
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "one\n---\n  1\n(1 row)\n");
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 2, "{err}");
    assert!(
        err.lines()
            .nth(1)
            .unwrap()
            .contains("unknown command .bogus"),
        "{err}"
    );
}

#[test]
fn query_bad_sql_is_one_line_and_non_zero() {
    let (_dir, out) = case();
    for sql in [
        "SELEC * FROM timeline",
        "SELECT nope FROM timeline",
        "SELECT * FROM nowhere",
        "",
    ] {
        let o = chainline(&["query", out.to_str().unwrap(), sql], "");
        assert_eq!(o.status.code(), Some(2), "{sql}");
        assert!(o.stdout.is_empty(), "{sql}");
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{sql}: {err}");
        assert!(
            err.starts_with("error: ") && !err.contains("panicked"),
            "{sql}: {err}"
        );
    }
}

#[test]
fn query_time_zone_changes_display_not_values() {
    let (_dir, out) = case();
    let sql = "SELECT ts, record FROM timeline WHERE ts >= '2023-03-01 10:00:00' AND ts < '2023-03-01 10:02:00' ORDER BY ts";
    let o = chainline(
        &[
            "query",
            out.to_str().unwrap(),
            sql,
            "--format",
            "csv",
            "--tz",
            "Europe/Paris",
        ],
        "",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "ts,record\n2023-03-01T11:00:00.000000+01:00,message:7\n2023-03-01T11:01:30.000000+01:00,ZLIVEUSAGE:12\n"
    );
    let o = chainline(
        &["query", out.to_str().unwrap(), sql, "--format", "csv"],
        "",
    );
    assert_eq!(
        stdout(&o),
        "ts,record\n2023-03-01T10:00:00.000000Z,message:7\n2023-03-01T10:01:30.000000Z,ZLIVEUSAGE:12\n"
    );
    let o = chainline(
        &["query", out.to_str().unwrap(), sql, "--tz", "Mars/Olympus"],
        "",
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o).lines().count(), 1);
    assert!(
        stderr(&o).contains("unknown time zone \"Mars/Olympus\""),
        "{}",
        stderr(&o)
    );
}

#[test]
fn query_csv_neutralises_formulas() {
    let (_dir, out) = case();
    let o = chainline(&["query", out.to_str().unwrap(), "SELECT message, bytes_in FROM timeline WHERE record IN ('message:7', 'ZLIVEUSAGE:12') ORDER BY ts", "--format", "csv"], "");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "message,bytes_in\n\
         \"'=HYPERLINK(\"\"http://evil.example/\"\",\"\"click\"\")\",\n\
         \"BackupAgent: 1200000 bytes in, 3000 out\",1200000\n"
    );
}

#[test]
fn findings_tables_come_from_findings_json_or_are_empty() {
    let (_dir, out) = case();
    let sql = "SELECT f.id, f.malware, e.record, e.role, e.offset_s FROM findings f JOIN finding_events e ON e.finding_id = f.id ORDER BY e.offset_s";
    let o = chainline(
        &["query", out.to_str().unwrap(), sql, "--format", "csv"],
        "",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "id,malware,record,role,offset_s\nF001,TestSpy,message:7,trigger,0.0\nF001,TestSpy,ZLIVEUSAGE:12,follow_up,90.0\nF001,TestSpy,file,follow_up,240.0\n"
    );

    // No findings.json at all: the tables exist, empty, with their columns. The
    // timeline file may also be named directly.
    std::fs::remove_file(out.join("findings.json")).unwrap();
    let tl = out.join("timeline.parquet");
    let o = chainline(
        &[
            "query",
            tl.to_str().unwrap(),
            "SELECT id, \"end\", malware FROM findings",
            "--format",
            "csv",
        ],
        "",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "id,end,malware\n");
    let o = chainline(
        &[
            "query",
            tl.to_str().unwrap(),
            "SELECT COUNT(*) AS n FROM finding_events WHERE role = 'trigger'",
            "--format",
            "csv",
        ],
        "",
    );
    assert_eq!(stdout(&o), "n\n0\n");
}

#[test]
fn schema_and_tz_commands() {
    let (_dir, out) = case();
    let o = shell(&out, ".schema timeline\n.tz Asia/Tokyo\nSELECT ts FROM timeline WHERE record = 'message:7';\n.tz Nowhere/Else\n.tz\n");
    let text = stdout(&o);
    assert!(
        text.starts_with("timeline\n  ts             datetime[μs, UTC]\n  source         str\n"),
        "{text}"
    );
    assert!(text.contains("  tags           list[str]\n"), "{text}");
    assert!(text.contains("times shown in Asia/Tokyo\nts\n--------------------------------\n2023-03-01T19:00:00.000000+09:00\n"), "{text}");
    assert!(
        text.ends_with("times shown in Asia/Tokyo\n"),
        "an unknown zone leaves the zone as it was: {text}"
    );
    assert!(stderr(&o).contains("unknown time zone \"Nowhere/Else\""));
}

#[test]
fn findings_parquet_pair_wins_over_findings_json() {
    use polars::prelude::*;
    let (_dir, out) = case();
    let f =
        df!("id" => ["F777"], "rule" => ["r"], "title" => ["from parquet"], "severity" => ["low"],
        "score" => [0.1f64], "explanation" => [""], "malware" => [""])
        .unwrap();
    let e =
        df!("finding_id" => ["F777"], "record" => ["message:7"], "role" => ["trigger"]).unwrap();
    chainline::timeline::write_parquet(&f, &out.join("findings.parquet")).unwrap();
    chainline::timeline::write_parquet(&e, &out.join("finding_events.parquet")).unwrap();
    let o = chainline(
        &["query", out.to_str().unwrap(), "SELECT f.id, f.title, e.record FROM findings f JOIN finding_events e ON e.finding_id = f.id", "--format", "csv"],
        "",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "id,title,record\nF777,from parquet,message:7\n");
}

#[test]
fn export_from_the_shell() {
    let (dir, out) = case();
    let result = dir.path().join("result.csv");
    let mvt = dir.path().join("mvt.csv");
    let script = format!(
        ".export csv {}\nSELECT record, message FROM timeline WHERE source = 'sms' ORDER BY record;\n.export csv {}\n.export mvt-csv {}\n",
        result.display(),
        result.display(),
        mvt.display()
    );
    let o = shell(&out, &script);
    assert_eq!(
        o.status.code(),
        Some(1),
        "the first export has no result yet"
    );
    assert!(
        stderr(&o).contains("no result to export yet"),
        "{}",
        stderr(&o)
    );
    let text = stdout(&o);
    assert!(
        text.contains(&format!("wrote 2 rows to {}\n", result.display())),
        "{text}"
    );
    assert!(
        text.ends_with(&format!(
            "wrote 8 rows to {}; skipped 1 row without a time (the format requires one)\n",
            mvt.display()
        )),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(&result).unwrap(),
        "record,message\nmessage:7,\"'=HYPERLINK(\"\"http://evil.example/\"\",\"\"click\"\")\"\nmessage:8,a message whose date is zero\n"
    );
    assert!(std::fs::read_to_string(&mvt)
        .unwrap()
        .starts_with("\"UTC Timestamp\",\"Plugin\",\"Event\",\"Description\"\r\n"));
}

#[test]
fn annotation_tags_merge_without_duplicates_on_every_row_of_a_ref() {
    let (_dir, out) = case();
    let mut ann = chainline::annotations::Annotations::default();
    let added = chrono::Utc::now();
    ann.add_tag(SMS_DB, "message:7", "imessage", added); // the source's own tag already
    ann.add_tag(SMS_DB, "message:7", "reviewed", added);
    ann.add_tag("HomeDomain/Library/TCC/TCC.db", "access:5", "benign", added);
    ann.add_tag("Nowhere.db", "x:1", "orphan", added); // matches no row: harmless
    ann.save(&out).unwrap();
    let o = chainline(
        &[
            "query",
            out.to_str().unwrap(),
            "SELECT record, tags FROM timeline",
            "--format",
            "json",
        ],
        "",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let tags = |record: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["record"] == record)
            .unwrap()["tags"]
            .clone()
    };
    assert_eq!(
        tags("message:7"),
        serde_json::json!(["imessage", "finding:F001", "reviewed"])
    );
    assert_eq!(
        tags("access:5"),
        serde_json::json!(["auth:allowed", "benign"])
    );
    assert_eq!(tags("message:8"), serde_json::json!(["sms"]));
    assert_eq!(tags("Files:0a1b"), serde_json::json!(["macb:---B", "B"]));
    // Order and row count are those of the stored timeline.
    let records: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["record"].as_str().unwrap())
        .collect();
    assert_eq!(
        records,
        [
            "Files:0a1b",
            "line:40",
            "key:com.apple.madrid/mailto:attacker@example.com",
            "message:7",
            "ZLIVEUSAGE:12",
            "file",
            "access:5",
            "history_visits:33",
            "message:8"
        ]
    );
}
