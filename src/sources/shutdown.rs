//! shutdown.log: the processes still running when the phone shut down.
//!
//! logd appends to `private/var/db/diagnostics/shutdown.log` at every shutdown: zero or
//! more delay notices (`After 1.23s, these clients are still here:`), each followed by
//! the `remaining client pid: <pid> (<path>)` lines it waited for, then the closing
//! `SIGTERM: [<Unix seconds>]` line of that reboot. Clients therefore belong to the
//! next SIGTERM. Kaspersky's iShutdown write-up (Securelist, January 2024) found
//! Pegasus, Reign and Predator running from `/private/var/db/` and `/private/var/tmp/`
//! there, and flags reboots delayed by 3 or more notices.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::evidence::{BytesLines, Evidence, FileSet, LineSource, Lookup, MAX_LINE};
use crate::timeline::{time, Event};

use super::{Output, Parse, Source, SourceError};

pub struct ShutdownLog;

pub const FILES: FileSet = FileSet {
    backup: None,
    filesystem: &["private/var/db/diagnostics"],
    sysdiagnose: &["system_logs.logarchive/Extra"],
    crash_folders: false,
    name: is_shutdown_log,
};

/// `shutdown.log` and its rotated copies (`shutdown.0.log`, ...).
fn is_shutdown_log(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n == "shutdown.log" || (n.starts_with("shutdown.") && n.ends_with(".log"))
}

const DELAY_MARK: &str = "these clients are still here";
const CLIENT_PREFIX: &str = "remaining client pid:";
const SIGTERM_PREFIX: &str = "SIGTERM:";

impl Source for ShutdownLog {
    fn name(&self) -> &'static str {
        "shutdown"
    }

    fn discover(&self, ev: &Evidence) -> Vec<Lookup> {
        ev.files(&FILES)
    }

    fn parse(&self, p: &mut Parse<'_>) -> Result<(), SourceError> {
        // Streamed line by line with a cap on the line length: the log can be huge,
        // or one endless line of garbage, and memory stays bounded either way.
        let mut reader = p.evidence.open(p.artifact)?;
        parse_lines(&mut reader, p)
    }
}

/// Parses the bytes of one shutdown.log (or a rotated copy) into `reboot` and
/// `shutdown_client` rows (tests and the fuzz target; analysis streams the file).
pub fn parse_bytes(bytes: &[u8], p: &mut Output) -> Result<(), SourceError> {
    parse_lines(&mut BytesLines::new(bytes), p)
}

/// Parses shutdown.log line by line, lines capped at [`MAX_LINE`] bytes.
pub fn parse_lines(reader: &mut impl LineSource, p: &mut Output) -> Result<(), SourceError> {
    let mut log = Reader::default();
    let mut buf = Vec::new();
    let mut n = 0usize;
    let (mut long_lines, mut cut_bytes, mut binary_lines) = (0usize, 0u64, 0usize);
    let mut blank = true;
    loop {
        let line = match reader.read_line(&mut buf, MAX_LINE) {
            Ok(Some(l)) => l,
            Ok(None) => break,
            Err(e) => {
                log.finish(p);
                return Err(SourceError::Format(format!(
                    "reading line {}: {e}; rows before it kept",
                    n + 1
                )));
            }
        };
        n += 1;
        if line.cut > 0 {
            long_lines += 1;
            cut_bytes += line.cut;
        }
        blank &= line.cut == 0 && buf.iter().all(u8::is_ascii_whitespace);
        if buf.contains(&0) || std::str::from_utf8(&buf).is_err() {
            binary_lines += 1;
        }
        let text = String::from_utf8_lossy(&buf);
        log.line(n, text.trim(), p);
    }
    if blank {
        // iOS 26 rotates or overwrites the file, and an emptied log on a phone that
        // has rebooted is itself suspicious on older iOS (Kaspersky, iShutdown).
        p.warn("shutdown.log is empty");
        p.facts.insert("empty".into(), true.into());
        return Ok(());
    }
    if long_lines > 0 {
        p.warn(format!(
            "{long_lines} lines longer than {MAX_LINE} bytes were cut to that length ({cut_bytes} bytes not read as text); a client or SIGTERM past the cut is lost"
        ));
    }
    if binary_lines > 0 {
        p.warn(format!(
            "{binary_lines} lines hold binary data or bytes that are not UTF-8; read lossily, nothing in them but text is used"
        ));
    }
    log.finish(p);
    p.facts.insert("lines".into(), n.into());
    p.facts.insert("bytes".into(), reader.position().into());
    Ok(())
}

/// One client listed before a SIGTERM, once per distinct pid + path.
struct Client {
    pid: String,
    path: String,
    first_line: usize,
    /// How many delay notices listed it.
    listed: u32,
    /// The last notice that listed it (1-based), so a repeat in one notice counts once.
    last_notice: u32,
}

/// The state between two SIGTERM lines.
#[derive(Default)]
struct Reader {
    notices: u32,
    /// The largest `After N s`: the notices count from the start of the shutdown.
    total_delay: f64,
    clients: Vec<Client>,
    seen: HashMap<(String, String), usize>,
    reboots: usize,
    client_rows: usize,
    most_notices: u32,
}

impl Reader {
    fn line(&mut self, n: usize, line: &str, p: &mut Output) {
        if line.starts_with("After ") && line.contains(DELAY_MARK) {
            self.notices += 1;
            match delay_seconds(line) {
                Some(d) => self.total_delay = self.total_delay.max(d),
                None => p.warn(format!(
                    "line:{n}: delay notice without a readable number of seconds"
                )),
            }
        } else if let Some(rest) = line.strip_prefix(CLIENT_PREFIX) {
            match client(rest) {
                Some((pid, path)) => self.client(n, pid, path),
                None => p.warn(format!("line:{n}: unreadable remaining client line")),
            }
        } else if let Some(rest) = line.strip_prefix(SIGTERM_PREFIX) {
            let ts = sigterm_time(rest);
            if ts.is_none() {
                p.warn(format!(
                    "line:{n}: SIGTERM line without a readable time; reboot kept without a time"
                ));
            }
            self.reboot(ts, n, p);
        }
    }

    fn client(&mut self, n: usize, pid: &str, path: &str) {
        let key = (pid.to_string(), path.to_string());
        let i = match self.seen.get(&key) {
            Some(&i) => i,
            None => {
                self.clients.push(Client {
                    pid: key.0.clone(),
                    path: key.1.clone(),
                    first_line: n,
                    listed: 0,
                    last_notice: 0,
                });
                self.seen.insert(key, self.clients.len() - 1);
                self.clients.len() - 1
            }
        };
        if let Some(c) = self.clients.get_mut(i) {
            if self.notices > 0 && c.last_notice != self.notices {
                c.listed += 1;
                c.last_notice = self.notices;
            }
        }
    }

    fn reboot(&mut self, ts: Option<DateTime<Utc>>, n: usize, p: &mut Output) {
        let message = if self.notices == 0 {
            "reboot (SIGTERM) with no delay notice".to_string()
        } else {
            let plural = if self.notices == 1 { "" } else { "s" };
            format!(
                "reboot (SIGTERM) after {} delay notice{plural}, total delay {:.2} s",
                self.notices, self.total_delay
            )
        };
        p.emit(
            Event::new("shutdown", "reboot", ts)
                .message(message)
                .at("", format!("line:{n}"))
                .tag(format!("delays:{}", self.notices)),
        );
        self.reboots += 1;
        self.emit_clients(ts, p);
    }

    fn emit_clients(&mut self, ts: Option<DateTime<Utc>>, p: &mut Output) {
        for c in self.clients.drain(..) {
            p.emit(
                Event::new("shutdown", "shutdown_client", ts)
                    .actor(executable(&c.path))
                    .target(c.pid.clone())
                    .message(format!(
                        "pid {} ({}) still running at shutdown: listed in {} of {} delay notices, total delay {:.2} s",
                        c.pid, c.path, c.listed, self.notices, self.total_delay
                    ))
                    .at("", format!("line:{}", c.first_line))
                    .tag(format!("delays:{}", self.notices)),
            );
            self.client_rows += 1;
        }
        self.seen.clear();
        self.most_notices = self.most_notices.max(self.notices);
        self.notices = 0;
        self.total_delay = 0.0;
    }

    fn finish(mut self, p: &mut Output) {
        if !self.clients.is_empty() {
            p.warn(format!(
                "{} remaining clients after the last SIGTERM line (from line:{}): their shutdown has no logged time; rows kept without a time",
                self.clients.len(),
                self.clients.first().map(|c| c.first_line).unwrap_or(0)
            ));
            self.emit_clients(None, p);
        }
        p.facts.insert("reboots".into(), self.reboots.into());
        p.facts.insert("clients".into(), self.client_rows.into());
        p.facts
            .insert("most_delay_notices".into(), self.most_notices.into());
    }
}

/// `After 3.12s, these clients are still here:` → 3.12.
fn delay_seconds(line: &str) -> Option<f64> {
    let rest = line.strip_prefix("After ")?;
    let num = rest
        .split(|c: char| c == 's' || c == ',' || c.is_whitespace())
        .next()?;
    num.parse::<f64>()
        .ok()
        .filter(|d| d.is_finite() && *d >= 0.0)
}

/// `1142 (/usr/libexec/nfcd)` → ("1142", "/usr/libexec/nfcd"). The path runs to the
/// last `)`: app paths may hold parentheses themselves.
fn client(rest: &str) -> Option<(&str, &str)> {
    let rest = rest.trim();
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let pid = rest.get(..digits).filter(|d| !d.is_empty())?;
    let tail = rest.get(digits..)?.trim();
    let path = tail.strip_prefix('(')?;
    let close = path.rfind(')')?;
    Some((pid, path.get(..close)?))
}

/// `[1699999999] All buffers flushed` → that Unix time.
fn sigterm_time(rest: &str) -> Option<DateTime<Utc>> {
    let inner = rest.trim().strip_prefix('[')?;
    let close = inner.find(']')?;
    let v: f64 = inner.get(..close)?.trim().parse().ok()?;
    time::unix_seconds(v)
}

/// Recent iOS writes each client as `<path>/<UUID of the binary>` (logd formats
/// `%s/%s` with the Mach-O UUID); the actor is the executable, so a trailing
/// UUID-shaped component is dropped. The message keeps the path as written.
fn executable(path: &str) -> &str {
    match path.rsplit_once('/') {
        Some((head, last)) if crate::timeline::is_uuid(last) && !head.is_empty() => head,
        _ => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_lines() {
        assert_eq!(
            client(" 1142 (/usr/libexec/nfcd)"),
            Some(("1142", "/usr/libexec/nfcd"))
        );
        assert_eq!(
            client("7 (/var/containers/Bundle/Application/X/My (1).app/My)"),
            Some(("7", "/var/containers/Bundle/Application/X/My (1).app/My"))
        );
        assert_eq!(client("abc (/x)"), None);
        assert_eq!(client("12 /x"), None);
        assert_eq!(client(""), None);
    }

    #[test]
    fn uuid_component_is_stripped_for_the_actor_only() {
        assert_eq!(
            executable("/usr/libexec/locationd/1024C867-0265-374A-AF6A-98390BD24D5D"),
            "/usr/libexec/locationd"
        );
        assert_eq!(
            executable("/usr/libexec/locationd"),
            "/usr/libexec/locationd"
        );
        assert_eq!(
            executable("/1024C867-0265-374A-AF6A-98390BD24D5D"),
            "/1024C867-0265-374A-AF6A-98390BD24D5D"
        );
        assert_eq!(
            executable("/x/1024C867-0265-374A-AF6A-98390BD24D5"),
            "/x/1024C867-0265-374A-AF6A-98390BD24D5"
        );
    }

    #[test]
    fn delays_and_sigterm() {
        assert_eq!(
            delay_seconds("After 3.12s, these clients are still here:"),
            Some(3.12)
        );
        assert_eq!(
            delay_seconds("After s, these clients are still here:"),
            None
        );
        assert_eq!(
            sigterm_time(" [1663063451] All buffers flushed")
                .map(|t| time::rfc3339(&t))
                .as_deref(),
            Some("2022-09-13T10:04:11.000000Z")
        );
        assert_eq!(sigterm_time(" [16630x]"), None);
        assert_eq!(sigterm_time(" [1663063451"), None);
    }
}
