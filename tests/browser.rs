//! The report in a real browser (Debian's headless chromium): it renders without a
//! console error or CSP violation, the explorer filters, and script in a message does
//! not run. The page carries its own self-test (report.js, `#selftest`), which writes a
//! JSON verdict into `<pre id="selftest">`; chromium's `--dump-dom` hands it back.
//!
//! Skips when chromium is absent, unless `CI` is set: then a missing browser fails.

#[path = "report_common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";

fn chromium() -> Option<PathBuf> {
    let p = PathBuf::from(std::env::var_os("CHROMIUM").unwrap_or_else(|| CHROMIUM.into()));
    if p.is_file() {
        return Some(p);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "{} not found and CI is set: install chromium (apt-get install -y chromium)",
            p.display()
        );
    }
    eprintln!(
        "skipped: {} not found (install chromium to run the browser test)",
        p.display()
    );
    None
}

/// Runs chromium headless on `url` with the extra flags; returns stdout.
fn run(browser: &Path, profile: &Path, extra: &[&str], url: &str) -> String {
    let out_file = profile.join("stdout.txt");
    let stdout = std::fs::File::create(&out_file).unwrap();
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!(
            "--user-data-dir={}",
            profile.join("profile").display()
        ))
        .args(extra)
        .arg(url)
        .stdout(stdout)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "chromium exited with {status}");
            break;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("chromium did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::fs::read_to_string(out_file).unwrap()
}

fn file_url(p: &Path) -> String {
    format!("file://{}", p.display())
}

/// The text of `<pre id="selftest">` in a serialised DOM.
fn verdict(dom: &str) -> serde_json::Value {
    let at = dom
        .find("id=\"selftest\"")
        .unwrap_or_else(|| panic!("no self-test element in:\n{}", &dom[..dom.len().min(2000)]));
    let start = at + dom[at..].find('>').unwrap() + 1;
    let end = start + dom[start..].find("</pre>").unwrap();
    let text = dom[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("self-test verdict is not JSON ({e}): {text:?}"))
}

#[test]
fn report_runs_in_chromium() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    common::write_case(dir.path());
    let report = chainline::report::render(dir.path()).unwrap();

    // The needle is percent-encoded in the URL; the page decodes it.
    let url = format!(
        "{}#selftest&source=sms&q=__pwned&text=%3Cscript%3Ewindow.__pwned%3D1%3C%2Fscript%3E",
        file_url(&report)
    );
    let dom = run(
        &browser,
        dir.path(),
        &["--virtual-time-budget=5000", "--dump-dom"],
        &url,
    );
    let v = verdict(&dom);
    eprintln!("self-test: {v}");
    assert_eq!(
        v["errors"],
        serde_json::json!([]),
        "console errors or CSP violations"
    );
    assert_eq!(v["pwned"], false, "script from the evidence ran");
    assert_eq!(v["rows"], 13);
    assert_eq!(v["all"]["matches"], 13);
    // Filter by source: the four sms rows, and only them.
    assert_eq!(v["source"]["expected"], 4);
    assert_eq!(v["source"]["matches"], 4);
    assert_eq!(v["source"]["rendered"], 4);
    assert_eq!(v["source"]["all_rows_match"], true);
    // Text search finds the message and the crash named like markup, shown as text.
    assert_eq!(v["search"]["matches"], 2);
    assert_eq!(v["search"]["messages"][0], common::PWN_MESSAGE);
    assert_eq!(
        v["search"]["messages"][1],
        format!("{} crashed (EXC_BAD_ACCESS)", common::PWN_PROCESS)
    );
    // The message shows as text in the evidence table, both context tables and the explorer.
    assert_eq!(v["text"]["cells"], 4);
    assert_eq!(v["ok"], true);

    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-screenshot.png");
    let _ = std::fs::remove_file(&shot);
    run(
        &browser,
        dir.path(),
        &[
            "--virtual-time-budget=3000",
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,2000",
        ],
        &file_url(&report),
    );
    assert!(
        std::fs::metadata(&shot)
            .map(|m| m.len() > 10_000)
            .unwrap_or(false),
        "no screenshot at {}",
        shot.display()
    );
    println!("screenshot: {}", shot.display());
    eprintln!("screenshot: {}", shot.display());
}
