//! Item 3, file by file: truncated and corrupt SQLite, garbage and deeply nested
//! plists, binary garbage and endless lines in logs, crash reports with broken JSON,
//! empty files. Each is named in run.json with what was lost; the rest is analysed.

use std::io::Write;

use crate::fixture::{Case, ADDAILY, CLIENTS, DATAUSAGE, SMS_DB};

/// Bytes that are no format at all (NULs, high bytes, no line ends), from a fixed
/// pattern so the test is reproducible.
fn garbage(n: usize) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let b = (x >> 24) as u8;
            if b == b'\n' {
                0
            } else {
                b
            }
        })
        .collect()
}

#[test]
fn a_truncated_sms_db_costs_only_its_own_rows() {
    let mut case = Case::new();
    let p = case.backup_file(SMS_DB);
    let mut bytes = std::fs::read(&p).expect("sms.db");
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&p, bytes).expect("write");
    let run = case.analyze();
    run.assert_artifact_reports("sms", "sms.db", &["malformed"]);
    run.assert_others_parsed(&["sms"]);
}

#[test]
fn a_corrupt_datausage_costs_only_its_own_rows() {
    let mut case = Case::new();
    let p = case.backup_file(DATAUSAGE);
    let mut bytes = std::fs::read(&p).expect("DataUsage");
    // The header page stays; every table page after it is garbage.
    let junk = garbage(bytes.len() - 4096);
    bytes[4096..].copy_from_slice(&junk);
    std::fs::write(&p, bytes).expect("write");
    let run = case.analyze();
    run.assert_artifact_reports("datausage", "DataUsage.sqlite", &["sqlite"]);
    run.assert_others_parsed(&["datausage"]);
}

#[test]
fn a_truncated_manifest_db_costs_the_backup_not_the_case() {
    let mut case = Case::new();
    let p = case.backup().join("Manifest.db");
    let mut bytes = std::fs::read(&p).expect("Manifest.db");
    bytes.truncate(bytes.len() / 3);
    std::fs::write(&p, bytes).expect("write");
    let run = case.analyze();
    run.assert_warning("Manifest.db", "backup index unreadable");
    run.assert_warning("Manifest.db", "nothing in it was analysed");
    // The sysdiagnose and the crash folder are still read.
    assert!(run.rows("shutdown") > 0 && run.rows("crash") > 0);
}

#[test]
fn a_manifest_db_of_garbage_costs_the_backup_not_the_case() {
    let mut case = Case::new();
    let p = case.backup().join("Manifest.db");
    let len = std::fs::metadata(&p).expect("Manifest.db").len() as usize;
    std::fs::write(&p, garbage(len)).expect("write");
    let run = case.analyze();
    // Manifest.plist declares the backup unencrypted: this is damage, not encryption.
    run.assert_warning("Manifest.db", "backup index unreadable");
    assert!(run.rows("shutdown") > 0 && run.rows("crash") > 0);
}

#[test]
fn a_garbage_plist_costs_only_its_own_rows() {
    let mut case = Case::new();
    let mut bytes = b"bplist00".to_vec();
    bytes.extend(garbage(5000));
    std::fs::write(case.backup_file(ADDAILY), bytes).expect("write");
    let run = case.analyze();
    run.assert_artifact_reports("addaily", "addaily.plist", &["plist"]);
    run.assert_others_parsed(&["addaily"]);
}

/// Built recursively, a plist nested this deep overflows the stack and aborts the
/// process (no panic to catch): it must be refused before it is built.
#[test]
fn a_deeply_nested_plist_is_refused_without_crashing() {
    let mut case = Case::new();
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\"><dict><key>com.example.deep</key>",
    );
    s.push_str(&"<array>".repeat(200_000));
    s.push_str(&"</array>".repeat(200_000));
    s.push_str("</dict></plist>");
    std::fs::write(case.backup_file(CLIENTS), s).expect("write");
    let run = case.analyze();
    run.assert_artifact_reports(
        "locationd",
        "clients.plist",
        &["nested more than 256 levels"],
    );
    run.assert_others_parsed(&["locationd"]);
}

#[test]
fn garbage_info_and_manifest_plists_cost_the_device_identity_only() {
    let mut case = Case::new();
    let b = case.backup();
    std::fs::write(b.join("Info.plist"), garbage(3000)).expect("write");
    std::fs::write(
        b.join("Manifest.plist"),
        b"<?xml version=\"1.0\"?><plist><dict><key>IsEnc",
    )
    .expect("write");
    let run = case.analyze();
    run.assert_warning(
        "Info.plist",
        "device's UDID, name, model and iOS version are unknown",
    );
    run.assert_warning("Manifest.plist", "not a readable plist");
    run.assert_others_parsed(&[]);
    // The UDID still comes from the backup folder's name.
    let udid = b
        .file_name()
        .expect("name")
        .to_string_lossy()
        .to_lowercase();
    assert_eq!(
        run.json["containers"][1]["device"]["udid"].as_str(),
        Some(udid.as_str())
    );
}

fn reboots(run: &crate::fixture::Run) -> usize {
    run.rows_of("shutdown")
        .iter()
        .filter(|r| r.message.starts_with("reboot"))
        .count()
}

#[test]
fn binary_garbage_in_shutdown_log_costs_nothing_but_its_lines() {
    let mut case = Case::new();
    let sysdiagnose = case.unpack_sysdiagnose();
    let log = case.shutdown_log(&sysdiagnose);
    let clean = std::fs::read(&log).expect("log");
    let expected = clean
        .split(|&b| b == b'\n')
        .filter(|l| l.starts_with(b"SIGTERM:"))
        .count();
    assert!(expected > 1);
    let mid = clean.len() / 2;
    let cut = mid
        + clean[mid..]
            .iter()
            .position(|&b| b == b'\n')
            .expect("a line end")
        + 1;
    let mut bytes = clean[..cut].to_vec();
    bytes.extend(garbage(20_000));
    bytes.push(b'\n');
    bytes.extend(b"remaining client pid: \xff\xfe (\x00\x01)\n");
    bytes.extend(&clean[cut..]);
    std::fs::write(&log, bytes).expect("write");

    let run = case.analyze();
    run.assert_artifact_reports("shutdown", "shutdown.log", &["binary data"]);
    assert_eq!(reboots(&run), expected, "reboots lost around the garbage");
    run.assert_others_parsed(&[]);
}

#[test]
fn an_endless_line_in_shutdown_log_is_cut_and_the_rest_read() {
    let mut case = Case::new();
    let sysdiagnose = case.unpack_sysdiagnose();
    let log = case.shutdown_log(&sysdiagnose);
    let clean = std::fs::read(&log).expect("log");
    let expected = clean
        .split(|&b| b == b'\n')
        .filter(|l| l.starts_with(b"SIGTERM:"))
        .count();
    let mut f = std::fs::File::create(&log).expect("create");
    f.write_all(b"remaining client pid: 7 (/private/var/tmp/")
        .expect("w");
    f.write_all(&vec![b'A'; 3 << 20]).expect("w");
    f.write_all(b")\n").expect("w");
    f.write_all(&clean).expect("w");
    drop(f);

    let run = case.analyze();
    run.assert_artifact_reports(
        "shutdown",
        "shutdown.log",
        &["longer than 65536 bytes were cut"],
    );
    assert_eq!(reboots(&run), expected);
    run.assert_others_parsed(&[]);
}

#[test]
fn crash_reports_with_broken_json_are_named_and_the_others_read() {
    let mut case = Case::new();
    let before = case.analyze().rows("crash");
    let dir = case.crashes();
    let header = r#"{"app_name":"IMTranscoderAgent","timestamp":"2022-09-13 12:02:03.45 +0300","bug_type":"309","os_version":"iPhone OS 15.7 (19H12)","incident_id":"0B5C0C2E-0000-4000-8000-000000000001"}"#;
    std::fs::write(
        dir.join("broken-body.ips"),
        format!(
            "{header}\n{{\"procName\": \"IMTranscoderAgent\", \"threads\": [{{\"frames\": [1, 2"
        ),
    )
    .expect("write");
    std::fs::write(
        dir.join("broken-header.ips"),
        "{\"bug_type\": \"309\", \"timest\ngarbage\n",
    )
    .expect("write");
    let mut deep = format!("{header}\n{{\"threads\": ");
    deep.push_str(&"[".repeat(100_000));
    std::fs::write(dir.join("deep.ips"), deep).expect("write");

    let run = case.analyze();
    run.assert_artifact_reports("crash", "broken-body.ips", &["not readable JSON"]);
    run.assert_artifact_reports("crash", "broken-header.ips", &["neither a crash report"]);
    run.assert_artifact_reports(
        "crash",
        "deep.ips",
        &["not readable JSON", "recursion limit"],
    );
    // The header alone still gives a row for the two with a readable header.
    assert_eq!(run.rows("crash"), before + 2);
    run.assert_others_parsed(&[]);
}

#[test]
fn empty_files_are_named_and_the_rest_read() {
    let mut case = Case::new();
    for f in [SMS_DB, DATAUSAGE, ADDAILY] {
        std::fs::write(case.backup_file(f), b"").expect("empty");
    }
    let sysdiagnose = case.unpack_sysdiagnose();
    std::fs::write(case.shutdown_log(&sysdiagnose), b"").expect("empty");
    std::fs::write(case.crashes().join("empty.ips"), b"").expect("empty");

    let run = case.analyze();
    run.assert_artifact_reports("sms", "sms.db", &["table message not found"]);
    run.assert_artifact_reports("datausage", "DataUsage.sqlite", &["ZPROCESS"]);
    run.assert_artifact_reports("addaily", "addaily.plist", &["plist"]);
    run.assert_artifact_reports("shutdown", "shutdown.log", &["empty"]);
    run.assert_artifact_reports("crash", "empty.ips", &["neither a crash report"]);
    run.assert_others_parsed(&["sms", "datausage", "addaily", "shutdown"]);
}

/// An MVT timeline.csv (attacker text in every description) with an endless line
/// and a quote that never closes: both are bounded, named, and the good rows kept.
#[test]
fn an_mvt_timeline_with_an_endless_line_and_an_open_quote_is_bounded() {
    let mut case = Case::new();
    let dir = case.root.join("mvt");
    std::fs::create_dir_all(&dir).expect("mvt");
    let mut f = std::fs::File::create(dir.join("timeline.csv")).expect("csv");
    let row = |t: &str, d: &str| format!("\"{t}\",\"SMS\",\"sms_received\",\"{d}\"\n");
    f.write_all(b"\"UTC Timestamp\",\"Plugin\",\"Event\",\"Description\"\n")
        .expect("w");
    f.write_all(row("2022-09-13 10:00:00.000000", "first").as_bytes())
        .expect("w");
    f.write_all(b"\"2022-09-13 10:00:01.000000\",\"SMS\",\"sms_received\",\"")
        .expect("w");
    f.write_all(&vec![b'A'; 1 << 20]).expect("w");
    f.write_all(b"\"\n").expect("w");
    f.write_all(b"\"2022-09-13 10:00:02.000000\",\"SMS\",\"sms_received\",\"never closed\n")
        .expect("w");
    for _ in 0..15_000 {
        f.write_all(&[b'B'; 99]).expect("w");
        f.write_all(b"\n").expect("w");
    }
    f.write_all(row("2022-09-13 10:00:03.000000", "last").as_bytes())
        .expect("w");
    drop(f);

    let run = case.analyze();
    run.assert_artifact_reports(
        "import",
        "timeline.csv",
        &["longer than 65536 bytes", "runs past 1048576 bytes"],
    );
    let msgs: Vec<String> = run
        .rows_of("import")
        .into_iter()
        .map(|r| r.message)
        .collect();
    assert!(msgs.iter().any(|m| m == "first"));
    assert!(msgs.iter().any(|m| m == "last"));
    assert!(msgs
        .iter()
        .any(|m| m.starts_with("AAAA") && m.len() <= 65536));
    run.assert_others_parsed(&[]);
}

/// Plists are parsed whole: one over the 64 MiB limit is hashed (streamed) and refused.
#[test]
fn a_plist_over_the_whole_file_limit_is_hashed_not_parsed() {
    let mut case = Case::new();
    let p = case.backup_file(ADDAILY);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .expect("plist");
    // Sparse: the real plist, then zeros up to 65 MiB.
    f.set_len(65 << 20).expect("grow");
    drop(f);
    let run = case.analyze();
    run.assert_artifact_reports(
        "addaily",
        "addaily.plist",
        &["over the 67108864-byte limit"],
    );
    let input = run.json["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .find(|i| {
            i["logical"]
                .as_str()
                .is_some_and(|l| l.ends_with("addaily.plist"))
        })
        .expect("the refused file is still an input")
        .clone();
    assert_eq!(input["size"].as_u64(), Some(65 << 20));
    assert_eq!(
        input["sha256"].as_str(),
        Some(crate::fixture::hash_file(&p).as_str())
    );
    run.assert_others_parsed(&["addaily"]);
}
