//! The HTML report: a golden snapshot of a small case, escaping of attacker text,
//! the explorer cap, and `analyze` writing the same page as `report`.

#[path = "report_common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};

fn snapshot_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/report.html")
}

fn rendered_case() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    common::write_case(dir.path());
    let path = chainline::report::render(dir.path()).unwrap();
    assert_eq!(path, dir.path().join("report.html"));
    let html = std::fs::read_to_string(&path).unwrap();
    (dir, html)
}

/// Compares with tests/snapshots/report.html; `UPDATE_SNAPSHOTS=1` rewrites it.
#[test]
fn report_matches_snapshot() {
    let (dir, html) = rendered_case();
    let got = common::normalised(&html, dir.path());
    let path = snapshot_path();
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &got).unwrap();
        eprintln!("wrote {}", path.display());
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with UPDATE_SNAPSHOTS=1 to create it, then review it",
            path.display()
        )
    });
    if got != want {
        let actual = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report.snapshot.actual.html");
        std::fs::write(&actual, &got).unwrap();
        let line = got
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| got.lines().count().min(want.lines().count()));
        panic!(
            "report differs from {} at line {}:\n  got:  {}\n  want: {}\nwhole output in {}; if the change is intended, rerun with UPDATE_SNAPSHOTS=1 and review the diff",
            path.display(),
            line + 1,
            got.lines().nth(line).unwrap_or("<end>"),
            want.lines().nth(line).unwrap_or("<end>"),
            actual.display()
        );
    }
}

#[test]
fn rendering_twice_gives_the_same_page() {
    let (dir, first) = rendered_case();
    chainline::report::render(dir.path()).unwrap();
    let second = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert_eq!(
        common::normalised(&first, dir.path()),
        common::normalised(&second, dir.path())
    );
}

#[test]
fn attacker_text_is_escaped_everywhere() {
    let (_dir, html) = rendered_case();
    // Never as markup.
    assert!(!html.contains(common::PWN_MESSAGE));
    assert!(!html.contains(common::PWN_PROCESS));
    assert!(!html.contains("lure <b>") && !html.contains("<i>not markup"));
    // As text in the HTML tables (tera escapes `/` too).
    assert!(html.contains("&lt;script&gt;window.__pwned=1&lt;&#x2F;script&gt;"));
    assert!(html.contains("&lt;img src=x onerror=window.__pwned=2&gt;"));
    assert!(html.contains("lure &lt;b&gt;"));
    assert!(
        html.contains("The owner saw no message at that time. &lt;i&gt;not markup&lt;&#x2F;i&gt;")
    );
    // In the JSON block, with no character that could end it.
    let block = payload_block(&html);
    // (the digit travels in the numbers list: U+0003 marks its place)
    assert!(block.contains(r"\u003cscript\u003ewindow.__pwned=\u0003\u003c/script\u003e"));
    assert!(block.contains(r"\u2028separator \u0026 \u003c/script\u003e end"));
    assert!(!block.contains(['<', '>', '&', '\u{2028}']));
    // Exactly three scripts: the error recorder, the data block and the explorer.
    assert_eq!(html.matches("<script").count(), 3);
}

#[test]
fn page_makes_no_request() {
    let (_dir, html) = rendered_case();
    assert!(html.contains("content=\"default-src 'none'; script-src 'sha256-"));
    for bad in [
        "src=\"http",
        "href=\"http",
        "src=\"//",
        "href=\"//",
        "@import",
        "url(",
        "<link",
        "<iframe",
        "<img",
        "<object",
    ] {
        assert!(!html.contains(bad), "{bad} in the page");
    }
}

#[test]
fn sections_show_the_case() {
    let (_dir, html) = rendered_case();
    for want in [
        "2 findings — the most serious is CRITICAL.",
        "iPhone12,1",
        "iOS 15.7 (19H12)",
        &"3d".repeat(32),
        "id=\"chain-F001\"",
        "ZLIVEUSAGE:12",
        "rule window 5 min",
        "The owner saw no message",
        "Operation Triangulation",
        "not UTF-8 at byte 12",
        "listed in Manifest.db but not present",
        "imessage_zero_click",
        "iocs&#x2F;operation_triangulation.stix2",
        "This page holds <b>13</b> of the timeline’s <b>13</b> rows",
    ] {
        assert!(html.contains(want), "missing {want:?}");
    }
    // Most serious finding first.
    assert!(html.find("id=\"chain-F001\"").unwrap() < html.find("id=\"chain-F002\"").unwrap());
}

#[test]
fn explorer_cap_keeps_the_chain_and_says_what_it_left_out() {
    let dir = tempfile::tempdir().unwrap();
    common::write_case(dir.path());
    chainline::report::render_with(dir.path(), &chainline::report::Options { explorer_cap: 8 })
        .unwrap();
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(
        html.contains("This page holds <b>8</b> of the timeline’s <b>13</b> rows"),
        "cap not stated"
    );
    // The five rows left out are the ones outside every chain's ±15 min window:
    // three earlier days, the later message and the untimed row.
    assert!(html.contains("Left out: 5 rows between 2022-09-10 18:30:00.000000 and 2022-09-14 08:30:00.000000 UTC (1 without a time)"), "left-out note");
    let block = payload_block(&html);
    assert!(block.contains("\"n\":8,\"total\":13"));
    assert!(block.contains("BackupAgent") && !block.contains("MobileSafari"));
}

/// A row the analyst tagged is kept under the cap like a chain's rows.
#[test]
fn explorer_cap_keeps_rows_the_analyst_tagged() {
    let dir = tempfile::tempdir().unwrap();
    common::write_case(dir.path());
    let embeds_the_later_message = |dir: &Path| {
        chainline::report::render_with(dir, &chainline::report::Options { explorer_cap: 8 })
            .unwrap();
        let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
        assert!(
            !html.contains("annotations.json is not valid"),
            "annotations unread"
        );
        let block = payload_block(&html);
        assert!(block.contains("\"n\":8,\"total\":13"));
        // The message sent days after the chain, to +15555550100 (as is message 1, an
        // earlier row left out either way); the tag is listed only for an embedded row.
        let kept = block.contains("\"+15555550100\"");
        assert_eq!(kept, block.contains("look-again"));
        kept
    };
    assert!(!embeds_the_later_message(dir.path()), "kept without a tag");
    std::fs::write(
        dir.path().join("annotations.json"),
        format!(
            r#"{{"tags": [{{"artifact": "{}", "record": "message:4", "tag": "look-again",
                "added": "2024-01-01T00:00:00Z"}}]}}"#,
            common::SMS_DB
        ),
    )
    .unwrap();
    assert!(embeds_the_later_message(dir.path()), "tagged row left out");
}

#[test]
fn missing_findings_is_shown_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    common::write_case(dir.path());
    std::fs::remove_file(dir.path().join("findings.json")).unwrap();
    std::fs::write(dir.path().join("annotations.json"), "{not json").unwrap();
    chainline::report::render(dir.path()).unwrap();
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("findings.json is missing"));
    assert!(html.contains("annotations.json is not valid annotations JSON"));
    assert!(html.contains("No exploit chain or indicator match was found"));
}

#[test]
fn report_needs_a_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    let err = chainline::report::render(dir.path()).unwrap_err();
    assert!(format!("{err:#}").contains("timeline.parquet"), "{err:#}");
}

/// `analyze` and `report` write the same page from the same OUT.
#[test]
fn analyze_and_report_render_the_same_page() {
    let Some(shared) = chainline::shared_dir() else {
        eprintln!("skipped: no shared test data");
        return;
    };
    let backup = shared.join("testdata/mvt_ios_backup");
    if !backup.is_dir() {
        eprintln!("skipped: {} is absent", backup.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let opts = chainline::analyze::Options {
        inputs: vec![backup],
        out: out.clone(),
        quiet: true,
        ..Default::default()
    };
    chainline::analyze::run(&opts).unwrap();
    let from_analyze = std::fs::read_to_string(out.join("report.html")).unwrap();
    chainline::report::render(&out).unwrap();
    let from_report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(
        common::normalised(&from_analyze, &out),
        common::normalised(&from_report, &out)
    );
    assert!(from_report.contains("iPhone9,3"));
}

/// An empty timeline and a finding with no events still give a page.
#[test]
fn empty_timeline_renders() {
    let dir = tempfile::tempdir().unwrap();
    let tl = chainline::timeline::empty().unwrap();
    chainline::timeline::write_parquet(&tl, &dir.path().join("timeline.parquet")).unwrap();
    let findings = serde_json::json!({"findings": [{"id": "F001", "rule": "r", "title": "odd", "severity": "low",
        "start": "2022-09-13T10:04:01.500000Z", "end": "2022-09-13T10:04:01.500000Z", "explanation": "", "events": [], "iocs": []}]});
    std::fs::write(dir.path().join("findings.json"), findings.to_string()).unwrap();
    std::fs::write(
        dir.path().join("run.json"),
        serde_json::to_vec(&common::run_log(&tl)).unwrap(),
    )
    .unwrap();
    chainline::report::render(dir.path()).unwrap();
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("1 finding — the most serious is LOW."));
    assert!(html.contains("No row has a time, so there is nothing to draw."));
    assert!(html.contains("This page holds <b>0</b> of the timeline’s <b>0</b> rows"));
}

/// The page's explorer payload: the text of its JSON data block.
fn payload_block(html: &str) -> &str {
    const OPEN: &str = r#"<script type="application/json" id="timeline-data">"#;
    let start = html.find(OPEN).expect("payload block") + OPEN.len();
    let end = start + html[start..].find("</script>").expect("payload end");
    &html[start..end]
}

/// The page's explorer payload, parsed.
fn payload(html: &str) -> serde_json::Value {
    serde_json::from_str(payload_block(html)).unwrap()
}

/// A case folder holding two phones' rows names each row's phone; one phone is named
/// once (tests/snapshots/report.html).
#[test]
fn explorer_names_each_rows_phone_when_there_are_two() {
    let dir = tempfile::tempdir().unwrap();
    let mut frames = Vec::new();
    for (device, events) in [
        (common::UDID, common::events()),
        (
            "second-phone",
            common::events().into_iter().take(3).collect(),
        ),
    ] {
        let mut b = chainline::timeline::TimelineBuilder::new(device);
        for e in events {
            b.push(e);
        }
        frames.push(b.finish().unwrap());
    }
    let tl = chainline::timeline::assemble(frames).unwrap();
    chainline::timeline::write_parquet(&tl, &dir.path().join("timeline.parquet")).unwrap();
    std::fs::write(dir.path().join("findings.json"), r#"{"findings": []}"#).unwrap();
    std::fs::write(
        dir.path().join("run.json"),
        serde_json::to_vec(&common::run_log(&tl)).unwrap(),
    )
    .unwrap();
    chainline::report::render(dir.path()).unwrap();
    let p = payload(&std::fs::read_to_string(dir.path().join("report.html")).unwrap());

    let n = p["n"].as_u64().unwrap() as usize;
    assert_eq!(n, common::events().len() + 3);
    let dict = p["device"]["d"].as_array().unwrap();
    let shown: Vec<&str> = p["device"]["m"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| match v {
            serde_json::Value::Number(i) => dict[i.as_u64().unwrap() as usize].as_str().unwrap(),
            other => other.as_str().unwrap(),
        })
        .collect();
    assert_eq!(shown.len(), n);
    let count = |d: &str| shown.iter().filter(|s| **s == d).count();
    assert_eq!(count("second-phone"), 3);
    assert_eq!(count(common::UDID), n - 3);

    // The same timeline from one phone: a single name.
    let one = rendered_case().1;
    assert_eq!(payload(&one)["device"], common::UDID);
}
