//! How big and how fast the report is on a 500,000-row timeline. Not a timed assert:
//! it prints the numbers. Run with
//! `cargo test --test report_size -- --ignored --nocapture` (add `--release` for
//! representative render times); with chromium present it also loads the page and
//! prints the browser's parse, first-render and filter times.

#[path = "report_common/mod.rs"]
mod common;

use std::path::Path;
use std::time::Instant;

use chainline::timeline::{self, Event, TimelineBuilder};
use chrono::{DateTime, Utc};

const ROWS: usize = 500_000;

/// splitmix64: a fixed, dependency-free stream so every run builds the same timeline.
struct Stream(u64);

impl Stream {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn hex(&mut self, len: usize) -> String {
        let mut s = String::new();
        while s.len() < len {
            s.push_str(&format!("{:016x}", self.next()));
        }
        s.truncate(len);
        s
    }
    fn words(&mut self, n: usize) -> String {
        const W: [&str; 16] = [
            "see", "you", "at", "the", "office", "tomorrow", "ok", "thanks", "call", "me", "when",
            "free", "lunch", "photo", "sent", "home",
        ];
        (0..n)
            .map(|_| W[self.below(16) as usize])
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A realistic mix: half Manifest.db file times, then data usage, messages, web
/// visits and the small sources, over two years.
fn synthetic(rows: usize) -> Vec<Event> {
    let mut r = Stream(7);
    let start = 1_600_000_000i64;
    let span = 2 * 365 * 86_400i64;
    let procs: Vec<String> = (0..300).map(|i| format!("proc{i}d")).collect();
    let files: Vec<(String, String)> = (0..rows / 6)
        .map(|i| {
            (
                format!(
                    "HomeDomain/Library/Caches/com.example.app{}/f{i}.plist",
                    i % 500
                ),
                r.hex(40),
            )
        })
        .collect();
    let handles: Vec<String> = (0..200).map(|i| format!("+1555{i:07}")).collect();
    let mut out = Vec::with_capacity(rows);
    for i in 0..rows {
        let ts = DateTime::<Utc>::from_timestamp(
            start + r.below(span as u64) as i64,
            (r.below(1_000_000) * 1000) as u32,
        );
        let pick = r.below(100);
        let e = if pick < 50 {
            let (path, id) = &files[r.below(files.len() as u64) as usize];
            Event::new("manifest", "file_modified", ts)
                .actor("HomeDomain")
                .target(path.clone())
                .message(format!("M-C- file {path}, {} bytes", r.below(100_000)))
                .at("Manifest.db", format!("Files:{id}"))
                .tag("macb:M-C-")
                .tag("M")
                .tag("C")
        } else if pick < 70 {
            let p = &procs[r.below(procs.len() as u64) as usize];
            Event::new("datausage", "network_usage", ts)
                .actor(p.clone())
                .target(format!("com.apple.{p}"))
                .message(format!(
                    "{p} used the network (WWAN in {} B)",
                    r.below(10_000_000)
                ))
                .bytes(
                    Some(r.below(10_000_000) as i64),
                    Some(r.below(100_000) as i64),
                )
                .at(
                    "WirelessDomain/Library/Databases/DataUsage.sqlite",
                    format!("ZLIVEUSAGE:{i}"),
                )
        } else if pick < 80 {
            let h = &handles[r.below(handles.len() as u64) as usize];
            let n = 3 + r.below(15) as usize;
            Event::new("sms", "message_received", ts)
                .actor(h.clone())
                .target(h.clone())
                .message(r.words(n))
                .at("HomeDomain/Library/SMS/sms.db", format!("message:{i}"))
                .tag("imessage")
        } else if pick < 85 {
            let url = format!("https://www.example{}.com/{}", r.below(2000), r.hex(12));
            Event::new("safari", "web_visit", ts)
                .actor("Safari")
                .target(url.clone())
                .message(format!("visit {url}"))
                .at(
                    "HomeDomain/Library/Safari/History.db",
                    format!("history_visits:{i}"),
                )
        } else {
            let p = &procs[r.below(procs.len() as u64) as usize];
            Event::new("tcc", "permission_changed", ts)
                .actor(p.clone())
                .target("kTCCServiceCamera")
                .message(format!("{p}: kTCCServiceCamera allowed"))
                .at("HomeDomain/Library/TCC/TCC.db", format!("access:{i}"))
                .tag("auth:allowed")
        };
        out.push(e);
    }
    out
}

#[test]
#[ignore = "builds a 500,000-row timeline; run explicitly to measure"]
fn report_on_500k_rows() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let t = Instant::now();
    let mut b = TimelineBuilder::new(common::UDID);
    for e in common::events()
        .into_iter()
        .chain(synthetic(ROWS - common::events().len()))
    {
        b.push(e);
    }
    let tl = timeline::assemble(vec![b.finish().unwrap()]).unwrap();
    timeline::write_parquet(&tl, &out.join("timeline.parquet")).unwrap();
    std::fs::write(
        out.join("findings.json"),
        serde_json::to_vec(&common::findings()).unwrap(),
    )
    .unwrap();
    std::fs::write(
        out.join("run.json"),
        serde_json::to_vec(&common::run_log(&tl)).unwrap(),
    )
    .unwrap();
    println!(
        "built {} rows in {:.1} s",
        tl.height(),
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let report = chainline::report::render(out).unwrap();
    let size = std::fs::metadata(&report).unwrap().len();
    println!(
        "rendered in {:.1} s: {} ({:.1} MB)",
        t.elapsed().as_secs_f64(),
        report.display(),
        size as f64 / 1e6
    );
    if let Some(keep) = std::env::var_os("REPORT_SIZE_KEEP") {
        std::fs::copy(&report, &keep).unwrap();
    }
    assert!(size < 50_000_000, "report weighs {size} bytes");

    let browser = Path::new("/usr/bin/chromium");
    if !browser.is_file() {
        println!("no chromium: browser timings skipped");
        return;
    }
    let t = Instant::now();
    let output = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", out.join("profile").display()))
        .args(["--virtual-time-budget=60000", "--dump-dom"])
        .arg(format!(
            "file://{}#selftest&source=sms&q=proc42d",
            report.display()
        ))
        .stderr(std::process::Stdio::null())
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&output.stdout);
    let verdict = dom.find("id=\"selftest\"").and_then(|a| {
        let s = a + dom[a..].find('>')? + 1;
        Some(dom[s..s + dom[s..].find("</pre>")?].to_string())
    });
    println!(
        "chromium load + self-test: {:.1} s wall; page says {}",
        t.elapsed().as_secs_f64(),
        verdict.unwrap_or_else(|| "nothing".into())
    );
}
