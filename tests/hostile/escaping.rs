//! Item 5: attacker strings (HTML, JavaScript, CSV formulas, control characters,
//! bidi overrides, megabyte lengths) planted in a message body, a process name and an
//! attachment file name are inert and readable in HTML, CSV, JSON and the terminal.

use std::ffi::OsStr;
use std::path::Path;

use rusqlite::Connection;

use crate::fixture::{chainline, Case, DATAUSAGE, SMS_DB};

const HOSTILE: [&str; 12] = [
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(1)>",
    "=HYPERLINK(\"http://evil.example/\",\"click\")",
    "+cmd|' /C calc'!A0",
    "@SUM(1)",
    "-2+3",
    "\tpadded=1+1",
    "invoice\u{202e}fdp.exe",
    "\u{1b}[31mred\u{1b}[0m\u{7}",
    "nul\0byte\u{1}\u{2}",
    "</script><!--<script>alert(2)</script>",
    "zero\u{200b}width\u{2066}isolate",
];

/// 1.5 MB, and a formula too.
fn megabyte() -> String {
    format!("={}", "M".repeat(1_500_000))
}

fn plant(case: &Case) {
    let du = Connection::open(case.backup_file(DATAUSAGE)).expect("DataUsage");
    let pks: Vec<i64> = du
        .prepare("SELECT Z_PK FROM ZPROCESS ORDER BY Z_PK")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("pks");
    let big = megabyte();
    let mut names: Vec<&str> = HOSTILE.to_vec();
    names.push(&big);
    assert!(pks.len() >= names.len());
    for (pk, s) in pks.iter().zip(&names) {
        // No `/` in the process name: the part after it would be read as a bundle id.
        let proc_name = s.replace('/', "\u{2215}");
        du.execute(
            "UPDATE ZPROCESS SET ZPROCNAME = ?1, ZBUNDLENAME = ?2 WHERE Z_PK = ?3",
            rusqlite::params![proc_name, s, pk],
        )
        .expect("process");
    }
    drop(du);

    let sms = Connection::open(case.backup_file(SMS_DB)).expect("sms.db");
    let ids: Vec<i64> = sms
        .prepare("SELECT ROWID FROM message ORDER BY ROWID")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("messages");
    for (id, s) in ids.iter().zip(&names) {
        sms.execute(
            "UPDATE message SET text = ?1 WHERE ROWID = ?2",
            rusqlite::params![s, id],
        )
        .expect("message");
    }
    let att: Vec<i64> = sms
        .prepare("SELECT ROWID FROM attachment ORDER BY ROWID")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("attachments");
    for (id, s) in att.iter().zip(&HOSTILE) {
        let name = s.replace('/', "_");
        sms.execute(
            "UPDATE attachment SET transfer_name = ?1, filename = ?2 WHERE ROWID = ?3",
            rusqlite::params![
                name,
                format!("~/Library/SMS/Attachments/ab/cd/0000-GUID/{name}"),
                id
            ],
        )
        .expect("attachment");
    }
}

fn assert_no_raw_controls(what: &str, text: &str) {
    for bad in ['\u{1b}', '\u{202e}', '\u{200b}', '\u{2066}', '\0', '\u{7}'] {
        assert!(
            !text.contains(bad),
            "{what}: raw {:?} reaches the terminal",
            bad
        );
    }
}

/// No field starts as a spreadsheet formula (csv_safe.rs is the one neutraliser).
fn assert_csv_inert(what: &str, bytes: &[u8]) -> Vec<String> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut fields = Vec::new();
    for rec in rdr.records() {
        for f in rec
            .unwrap_or_else(|e| panic!("{what}: not CSV: {e}"))
            .iter()
        {
            // mvt-csv keeps MVT's own MACB event names (`---B`, `M-C-`) as MVT writes
            // them, for diffing; they name no function and cannot run anything.
            let macb = f.len() == 4 && f.chars().all(|c| "MACB-".contains(c));
            assert!(
                macb || !matches!(
                    f.as_bytes().first(),
                    Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
                ),
                "{what}: formula cell {:?}",
                f.chars().take(60).collect::<String>()
            );
            fields.push(f.to_string());
        }
    }
    fields
}

#[test]
fn attacker_strings_are_inert_in_html_csv_json_and_the_terminal() {
    let mut case = Case::new();
    plant(&case);
    let run = case.analyze();
    let big = megabyte();
    assert_no_raw_controls("analyze progress", &run.stderr());

    // Parquet keeps the whole value.
    let du = run.rows_of("datausage");
    assert!(
        du.iter().any(|r| r.actor == big),
        "the 1.5 MB process name was not kept whole"
    );
    assert!(du.iter().any(|r| r.target == "<script>alert(1)</script>"));
    let sms = run.rows_of("sms");
    assert!(sms
        .iter()
        .any(|r| r.message.contains("invoice\u{202e}fdp.exe")));
    assert!(sms
        .iter()
        .any(|r| r.target.ends_with("invoice\u{202e}fdp.exe")));

    // HTML: nothing from the data is markup, no control or bidi character is raw, the
    // megabyte value is shortened, and the explorer's JSON block cannot be closed.
    let html = std::fs::read_to_string(run.out.join("report.html")).expect("report");
    for bad in [
        "<script>alert",
        "<img src=x",
        "<!--<script",
        "onerror=alert(1)>",
    ] {
        assert!(!html.contains(bad), "raw {bad:?} in the report");
    }
    for bad in ['\u{1b}', '\u{202e}', '\u{200b}', '\u{2066}', '\0'] {
        assert!(!html.contains(bad), "raw {bad:?} in the report");
    }
    assert!(
        !html.contains(&"M".repeat(10_000)),
        "the megabyte value is copied whole"
    );
    assert!(html.contains("more bytes, whole in timeline.parquet"));
    assert!(
        html.len() < 1_000_000,
        "report grew to {} bytes",
        html.len()
    );
    let start = html
        .find("<script type=\"application/json\" id=\"timeline-data\">")
        .expect("payload")
        + "<script type=\"application/json\" id=\"timeline-data\">".len();
    let end = start + html[start..].find("</script>").expect("payload end");
    let payload = &html[start..end];
    assert!(!payload.contains('<'), "a < inside the JSON block");
    assert!(
        payload.contains("\\u003cscript\\u003ealert(1)"),
        "the planted text is missing"
    );
    serde_json::from_str::<serde_json::Value>(payload).expect("payload is JSON");
    // The script shows text with textContent: invisible characters arrive as escapes.
    assert!(
        payload.contains("invoice\\\\u{202e}fdp.exe"),
        "the bidi override is not shown as an escape"
    );

    let out = run.out.as_os_str();
    let sql = "SELECT actor, target, message FROM timeline WHERE source IN ('datausage', 'sms')";

    // Terminal table: escapes shown, long cells cut.
    let table = chainline(&[OsStr::new("query"), out, OsStr::new(sql)]);
    assert!(table.status.success());
    let text = String::from_utf8(table.stdout).expect("UTF-8");
    assert_no_raw_controls("query table", &text);
    assert!(
        text.contains("\\u{202e}") && text.contains("\\u{1b}"),
        "escapes not shown"
    );
    assert!(
        text.lines().all(|l| l.chars().count() < 1000),
        "an uncut cell"
    );

    // CSV (query, exports, shell): no formula; the data is whole.
    let csv = chainline(&[
        OsStr::new("query"),
        out,
        OsStr::new(sql),
        OsStr::new("--format"),
        OsStr::new("csv"),
    ]);
    assert!(csv.status.success());
    let fields = assert_csv_inert("query csv", &csv.stdout);
    assert!(
        fields.iter().any(|f| f == &format!("'{big}")),
        "CSV lost the long value"
    );
    assert!(fields
        .iter()
        .any(|f| f == "'=HYPERLINK(\"http://evil.example/\",\"click\")"));

    let dir = case.tmp.path();
    for (format, file) in [
        ("timesketch-csv", "ts.csv"),
        ("mvt-csv", "mvt.csv"),
        ("timesketch-jsonl", "ts.jsonl"),
    ] {
        let path = dir.join(file);
        let o = chainline(&[
            OsStr::new("export"),
            out,
            OsStr::new("--format"),
            OsStr::new(format),
            OsStr::new("-o"),
            path.as_os_str(),
        ]);
        assert!(
            o.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let bytes = std::fs::read(&path).expect("export");
        if format.ends_with("jsonl") {
            for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                serde_json::from_slice::<serde_json::Value>(line).expect("JSONL line");
            }
        } else {
            assert_csv_inert(format, &bytes);
        }
    }

    let shell_csv = dir.join("shell.csv");
    let script = format!("{sql};\n.export csv {}\n", shell_csv.display());
    let o = shell(&run.out, &script);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_no_raw_controls("shell", &String::from_utf8_lossy(&o.stdout));
    assert_csv_inert(
        "shell .export",
        &std::fs::read(&shell_csv).expect("shell csv"),
    );

    // JSON outputs are valid JSON and keep the data whole.
    let json = chainline(&[
        OsStr::new("query"),
        out,
        OsStr::new(sql),
        OsStr::new("--format"),
        OsStr::new("json"),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("query json");
    assert!(v
        .as_array()
        .expect("rows")
        .iter()
        .any(|r| r["actor"].as_str() == Some(big.as_str())));
    for f in ["findings.json", "run.json"] {
        serde_json::from_slice::<serde_json::Value>(&std::fs::read(run.out.join(f)).expect(f))
            .expect(f);
    }
}

fn shell(out: &Path, script: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(crate::fixture::BIN)
        .arg("shell")
        .arg(out)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("shell");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("script");
    child.wait_with_output().expect("shell output")
}
