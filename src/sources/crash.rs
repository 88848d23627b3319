//! Crash reports: one `crash` row per report.
//!
//! Three shapes, one row: iOS 15+ `.ips` (a one-line JSON header, then a second JSON
//! document; Apple, "Interpreting the JSON format of a crash report": bug_type 309 is
//! a crash), older `.ips` (bug_type 109: the JSON header, then the classic text
//! report) and `.crash` text (`Process:`, `Path:`, `Date/Time:`, `Exception Type:`,
//! `Thread N Crashed:`). Times carry their own UTC offset. Other `.ips` kinds
//! (jetsam, stackshots, analytics) are not crashes: they are counted, not parsed.
//! FORCEDENTRY crashed `IMTranscoderAgent` within seconds of each message (Citizen
//! Lab), so the row names the images on the faulting thread.

use serde_json::Value;

use crate::evidence::{is_crash_report, Evidence, FileSet, Lookup};
use crate::timeline::{time, Event};

use super::{Output, Parse, Source, SourceError};

pub struct CrashReport;

pub const FILES: FileSet = FileSet {
    backup: None,
    filesystem: &["private/var/mobile/Library/Logs/CrashReporter"],
    // `crashes_and_spins/` holds most of them, but reports sit elsewhere too.
    sysdiagnose: &[""],
    crash_folders: true,
    name: is_crash_report,
};

/// The bug types that are crash reports: 309 (JSON, iOS 15+) and 109 (text body).
const CRASH_BUG_TYPES: [&str; 2] = ["309", "109"];

/// How many frames of the faulting thread the message names.
const TOP_FRAMES: usize = 5;

impl Source for CrashReport {
    fn name(&self) -> &'static str {
        "crash"
    }

    fn discover(&self, ev: &Evidence) -> Vec<Lookup> {
        ev.files(&FILES)
    }

    fn parse(&self, p: &mut Parse<'_>) -> Result<(), SourceError> {
        let bytes = p.evidence.read(p.artifact)?;
        parse_bytes(&bytes, p)
    }
}

/// Parses the bytes of one crash report (`.ips` of any shape, or `.crash` text):
/// one `crash` row, or only facts for a report that is not a crash.
pub fn parse_bytes(bytes: &[u8], p: &mut Output) -> Result<(), SourceError> {
    let report = Report::read(bytes, p);
    match report.bug_type.as_deref() {
        Some(b) if !CRASH_BUG_TYPES.contains(&b) => {
            p.facts.insert("not_a_crash".into(), 1.into());
            p.facts.insert("bug_type".into(), b.into());
            return Ok(());
        }
        None if !report.looks_like_crash() => {
            return Err(SourceError::Format(
                "neither a crash report header nor a crash report body".into(),
            ));
        }
        _ => {}
    }
    let row = report.event(p);
    p.emit(row);
    Ok(())
}

/// What one report says, whichever shape it came in.
#[derive(Debug, Default)]
struct Report {
    bug_type: Option<String>,
    name: Option<String>,
    path: Option<String>,
    pid: Option<String>,
    os_version: Option<String>,
    incident: Option<String>,
    /// captureTime, header timestamp, Date/Time: in that order of preference.
    capture_time: Option<String>,
    header_time: Option<String>,
    text_time: Option<String>,
    exception: Option<String>,
    signal: Option<String>,
    subtype: Option<String>,
    thread: Option<String>,
    images: Vec<String>,
}

impl Report {
    fn read(bytes: &[u8], p: &mut Output) -> Report {
        let mut r = Report::default();
        let (first, rest) = match bytes.iter().position(|&b| b == b'\n') {
            Some(i) => (&bytes[..i], &bytes[i + 1..]),
            None => (bytes, &bytes[bytes.len()..]),
        };
        let mut body = bytes;
        if first.trim_ascii_start().starts_with(b"{") {
            if let Ok(h) = serde_json::from_slice::<Value>(first) {
                r.header(&h);
                body = rest;
            } else if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
                // One JSON document with no header line.
                r.json_body(&v);
                return r;
            } else {
                p.warn("first line is not a readable JSON header; read as text");
            }
        }
        if body.trim_ascii_start().starts_with(b"{") {
            match serde_json::from_slice::<Value>(body) {
                Ok(v) => r.json_body(&v),
                Err(e) => p.warn(format!(
                    "crash report body is not readable JSON ({e}); only the header is used"
                )),
            }
        } else {
            r.text_body(&String::from_utf8_lossy(body));
        }
        r
    }

    fn header(&mut self, h: &Value) {
        self.bug_type = match h.get("bug_type") {
            Some(Value::String(s)) => Some(s.trim().to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        self.name = text(h, "app_name").or_else(|| text(h, "name"));
        self.os_version = text(h, "os_version");
        self.incident = text(h, "incident_id");
        self.header_time = text(h, "timestamp");
    }

    fn json_body(&mut self, b: &Value) {
        if let Some(n) = text(b, "procName") {
            self.name = Some(n);
        }
        self.path = text(b, "procPath").or(self.path.take());
        self.pid = b.get("pid").and_then(Value::as_i64).map(|p| p.to_string());
        self.capture_time = text(b, "captureTime");
        if let Some(e) = b.get("exception") {
            self.exception = text(e, "type");
            self.signal = text(e, "signal");
            self.subtype = text(e, "subtype");
        }
        let threads = b.get("threads").and_then(Value::as_array);
        let faulting = b
            .get("faultingThread")
            .and_then(Value::as_u64)
            .and_then(|i| usize::try_from(i).ok())
            .or_else(|| {
                threads?
                    .iter()
                    .position(|t| t.get("triggered").and_then(Value::as_bool) == Some(true))
            });
        let images = b.get("usedImages").and_then(Value::as_array);
        if let (Some(i), Some(threads)) = (faulting, threads) {
            self.thread = Some(i.to_string());
            let frames = threads
                .get(i)
                .and_then(|t| t.get("frames"))
                .and_then(Value::as_array);
            for f in frames.into_iter().flatten() {
                let image = f
                    .get("imageIndex")
                    .and_then(Value::as_u64)
                    .and_then(|k| images?.get(usize::try_from(k).ok()?))
                    .and_then(|img| {
                        text(img, "name")
                            .or_else(|| text(img, "path").map(|p| basename(&p).to_string()))
                    })
                    .unwrap_or_else(|| "???".into());
                self.push_image(image);
                if self.images.len() >= TOP_FRAMES {
                    break;
                }
            }
        }
    }

    fn text_body(&mut self, body: &str) {
        let mut lines = body.lines();
        while let Some(line) = lines.next() {
            let line = line.trim_end();
            if let Some(v) = field(line, "Process:") {
                // `MobileSafari [1234]`; the body names the process, the header the app.
                match v.rsplit_once('[') {
                    Some((name, pid)) => {
                        self.name = Some(name.trim().to_string());
                        let pid = pid.trim_end_matches(']').trim();
                        if !pid.is_empty() {
                            self.pid = Some(pid.to_string());
                        }
                    }
                    None => self.name = Some(v.to_string()),
                }
            } else if let Some(v) = field(line, "Path:") {
                self.path = Some(v.to_string());
            } else if let Some(v) = field(line, "Date/Time:") {
                self.text_time = Some(v.to_string());
            } else if let Some(v) = field(line, "Exception Type:") {
                // `EXC_BAD_ACCESS (SIGSEGV)`
                match v.split_once('(') {
                    Some((t, sig)) => {
                        self.exception = Some(t.trim().to_string());
                        self.signal = Some(sig.trim_end_matches(')').trim().to_string());
                    }
                    None => self.exception = Some(v.to_string()),
                }
            } else if let Some(v) = field(line, "OS Version:") {
                self.os_version.get_or_insert_with(|| v.to_string());
            } else if let Some(v) = field(line, "Incident Identifier:") {
                self.incident.get_or_insert_with(|| v.to_string());
            } else if let Some(v) = field(line, "Exception Subtype:") {
                self.subtype = Some(v.to_string());
            } else if let Some(n) = crashed_thread(line) {
                if self.thread.is_some() {
                    continue;
                }
                self.thread = Some(n.to_string());
                for frame in lines.by_ref() {
                    let frame = frame.trim();
                    if frame.is_empty() {
                        break;
                    }
                    if let Some(image) = frame_image(frame) {
                        self.push_image(image.to_string());
                    }
                    if self.images.len() >= TOP_FRAMES {
                        break;
                    }
                }
            }
        }
    }

    /// Consecutive frames in one image are named once.
    fn push_image(&mut self, image: String) {
        if self.images.last() != Some(&image) {
            self.images.push(image);
        }
    }

    fn looks_like_crash(&self) -> bool {
        self.exception.is_some()
            || (self.name.is_some() && (self.text_time.is_some() || self.capture_time.is_some()))
    }

    fn event(&self, p: &mut Output) -> Event {
        let (ts, when) = [&self.capture_time, &self.header_time, &self.text_time]
            .iter()
            .find_map(|t| t.as_deref().map(|s| (time::with_offset(s), s)))
            .map(|(ts, s)| (ts, Some(s)))
            .unwrap_or((None, None));
        if ts.is_none() {
            p.warn(match when {
                Some(s) => format!("crash time {s:?} is unreadable; row kept without a time"),
                None => "crash report carries no time; row kept without a time".to_string(),
            });
        }
        let name = self.name.clone().unwrap_or_default();
        let mut msg = name.clone();
        if let Some(pid) = &self.pid {
            msg.push_str(&format!(" [{pid}]"));
        }
        msg.push_str(" crashed");
        if let Some(e) = &self.exception {
            msg.push_str(&format!(": {e}"));
            if let Some(s) = &self.signal {
                msg.push_str(&format!(" ({s})"));
            }
            if let Some(s) = &self.subtype {
                msg.push_str(&format!(" {s}"));
            }
        }
        if !self.images.is_empty() {
            let thread = self.thread.as_deref().unwrap_or("?");
            msg.push_str(&format!(
                "; faulting thread {thread}: {}",
                self.images.join(" < ")
            ));
        }
        if let Some(v) = &self.os_version {
            msg.push_str(&format!("; {v}"));
        }
        if let Some(i) = &self.incident {
            msg.push_str(&format!("; incident {i}"));
        }
        let mut e = Event::new("crash", "crash", ts)
            .actor(name)
            .target(self.path.clone().unwrap_or_default())
            .message(msg)
            .at("", "file");
        if let Some(b) = &self.bug_type {
            e = e.tag(format!("bug_type:{b}"));
        }
        if let Some(x) = &self.exception {
            e = e.tag(format!("exception:{x}"));
        }
        e
    }
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `Path:            /usr/libexec/foo` → `/usr/libexec/foo`.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.strip_prefix(key)
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// `Thread 3 Crashed:` (optionally `Thread 3 name:` is on the line before).
fn crashed_thread(line: &str) -> Option<u32> {
    line.strip_prefix("Thread ")?
        .strip_suffix(" Crashed:")?
        .trim()
        .parse()
        .ok()
}

/// `0   libobjc.A.dylib   \t0x000000019c0b1b20 objc_msgSend + 32` → `libobjc.A.dylib`.
/// Image names may contain spaces (app names): the name runs to the address.
fn frame_image(frame: &str) -> Option<&str> {
    let digits = frame.find(|c: char| !c.is_ascii_digit())?;
    if digits == 0 {
        return None;
    }
    let rest = frame.get(digits..)?.trim_start();
    let end = rest.find("\t0x").or_else(|| rest.find(" 0x"))?;
    Some(rest.get(..end)?.trim()).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_threads() {
        assert_eq!(
            frame_image("0   libobjc.A.dylib               \t0x000000019c0b1b20 objc_msgSend + 32"),
            Some("libobjc.A.dylib")
        );
        assert_eq!(
            frame_image("12  My App                        0x0000000100004000 0x100000000 + 16384"),
            Some("My App")
        );
        assert_eq!(frame_image("Binary Images:"), None);
        assert_eq!(crashed_thread("Thread 3 Crashed:"), Some(3));
        assert_eq!(crashed_thread("Thread 3 name:  Dispatch queue"), None);
    }

    #[test]
    fn offsets() {
        assert_eq!(
            time::with_offset("2022-09-13 12:02:03.4567 +0200")
                .map(|t| time::rfc3339(&t))
                .as_deref(),
            Some("2022-09-13T10:02:03.456700Z")
        );
    }
}
