//! `chainline export`: Timesketch JSONL/CSV and MVT timeline.csv, on a case built in code.
//! Golden files live in tests/golden/; after an intended change, regenerate them with
//! `CHAINLINE_UPDATE_GOLDEN=1 cargo test --test export` and review the diff.

mod common;

use std::path::Path;

use chainline::annotations::Annotations;
use chrono::{DateTime, Utc};
use common::*;

fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("CHAINLINE_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        actual,
        expected,
        "{} differs; see the header of tests/export.rs",
        path.display()
    );
}

/// The fixture case with one analyst tag, so exports show annotation tags too.
fn tagged_case() -> (tempfile::TempDir, std::path::PathBuf) {
    let (dir, out) = case();
    let mut ann = Annotations::default();
    let added = DateTime::parse_from_rfc3339("2024-05-01T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    ann.add_tag(SMS_DB, "message:7", "suspicious", added);
    ann.save(&out).unwrap();
    (dir, out)
}

fn export(out: &Path, format: &str) -> (String, String) {
    let file = out.join(format!("export.{format}"));
    let o = chainline(
        &[
            "export",
            out.to_str().unwrap(),
            "--format",
            format,
            "-o",
            file.to_str().unwrap(),
        ],
        "",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    (std::fs::read_to_string(&file).unwrap(), stderr(&o))
}

#[test]
fn timesketch_jsonl_golden() {
    let (_dir, out) = tagged_case();
    let (text, err) = export(&out, "timesketch-jsonl");
    golden("small.timesketch.jsonl", &text);
    assert!(err.starts_with("wrote 8 rows to "), "{err}");
    assert!(
        err.ends_with("; skipped 1 row without a time (the format requires one)\n"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn timesketch_jsonl_rows_have_the_required_fields() {
    let (_dir, out) = tagged_case();
    let (text, _) = export(&out, "timesketch-jsonl");
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 8);
    for r in &rows {
        for field in ["message", "datetime", "timestamp_desc"] {
            assert!(
                r[field].as_str().is_some_and(|s| !s.is_empty()),
                "{field} missing in {r}"
            );
        }
        let dt = DateTime::parse_from_rfc3339(r["datetime"].as_str().unwrap()).unwrap();
        assert_eq!(r["timestamp"].as_i64(), Some(dt.timestamp_micros()));
    }
    let sms = rows.iter().find(|r| r["record"] == "message:7").unwrap();
    assert_eq!(sms["datetime"], "2023-03-01T10:00:00.000000+00:00");
    assert_eq!(sms["timestamp_desc"], "Message received");
    assert_eq!(
        sms["tag"],
        serde_json::json!(["imessage", "finding:F001", "suspicious"])
    );
    assert_eq!(sms["device"], "00008030-000A1B2C3D4E5F60");
}

#[test]
fn mvt_csv_golden() {
    let (_dir, out) = tagged_case();
    let (text, err) = export(&out, "mvt-csv");
    golden("small.mvt.csv", &text);
    assert!(
        err.contains("wrote 8 rows") && err.contains("skipped 1 row without a time"),
        "{err}"
    );
}

#[test]
fn csv_exports_neutralise_formulas() {
    let (_dir, out) = tagged_case();
    let (ts, _) = export(&out, "timesketch-csv");
    let (mvt, _) = export(&out, "mvt-csv");
    for text in [&ts, &mvt] {
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let mut cells: Vec<String> = Vec::new();
        for rec in r.records() {
            cells.extend(rec.unwrap().iter().map(str::to_string));
        }
        assert!(
            cells
                .iter()
                .any(|c| c == "'=HYPERLINK(\"http://evil.example/\",\"click\")"),
            "{text}"
        );
        assert!(!cells.iter().any(|c| c.starts_with('=')), "{text}");
    }
    // The Timesketch CSV keeps the tag list in a form its importer decodes.
    let mut r = csv::Reader::from_reader(ts.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(
        &header[..4],
        ["message", "datetime", "timestamp", "timestamp_desc"]
    );
    let tag_at = header.iter().position(|h| h == "tag").unwrap();
    let sms = r
        .records()
        .map(|x| x.unwrap())
        .find(|x| x.iter().any(|c| c == "message:7"))
        .unwrap();
    assert_eq!(&sms[tag_at], r#"["imessage","finding:F001","suspicious"]"#);
}

/// MVT's real timeline.csv for the shared test backup, loaded as `import` rows (plugin as
/// actor, event as kind, description as message) and exported again, gives back the
/// same lines: header, quoting, CRLF and time format are MVT's exactly.
#[test]
fn mvt_csv_round_trips_a_real_mvt_timeline() {
    let Some(shared) = chainline::shared_dir() else {
        eprintln!("skipping: no shared test data");
        return;
    };
    let original = shared.join("testdata/mvt_output/timeline.csv");
    let Ok(bytes) = std::fs::read(&original) else {
        eprintln!("skipping: {} absent", original.display());
        return;
    };
    let mut b = chainline::timeline::TimelineBuilder::new("");
    let mut r = csv::Reader::from_reader(bytes.as_slice());
    for (i, rec) in r.records().enumerate() {
        let rec = rec.unwrap();
        let ts = chainline::timeline::time::naive_as_utc(&rec[0]);
        assert!(ts.is_some(), "{:?}", &rec[0]);
        let kind: &'static str = Box::leak(rec[2].to_string().into_boxed_str());
        b.push(
            chainline::timeline::Event::new("import", kind, ts)
                .actor(&rec[1])
                .message(&rec[3])
                .at("timeline.csv", format!("line:{}", i + 2))
                .tag("mvt"),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let df = chainline::timeline::assemble(vec![b.finish().unwrap()]).unwrap();
    chainline::timeline::write_parquet(&df, &dir.path().join("timeline.parquet")).unwrap();
    let (text, _) = export(dir.path(), "mvt-csv");

    let original = String::from_utf8(bytes).unwrap();
    let (mine, theirs): (Vec<&str>, Vec<&str>) = (
        text.split_inclusive("\r\n").collect(),
        original.split_inclusive("\r\n").collect(),
    );
    assert_eq!(mine[0], theirs[0]);
    assert_eq!(mine.len(), theirs.len());
    let (mut a, mut b) = (mine[1..].to_vec(), theirs[1..].to_vec());
    a.sort_unstable();
    b.sort_unstable();
    assert!(
        a == b,
        "first difference: {:?}",
        a.iter().zip(&b).find(|(x, y)| x != y)
    );
}
