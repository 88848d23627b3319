//! PowerLog (`*.PLSQL`): process launches, per-process traffic intervals, coalition
//! intervals and application state changes, as the battery daemon recorded them.
//!
//! A sysdiagnose carries it under `logs/powerlogs/` (often gzipped); a filesystem dump
//! has `CurrentPowerlog.PLSQL` and its `Archives/*.PLSQL.gz` in the BatteryLife folder
//! of a shared system-group container. Tables and columns vary by iOS version: each
//! query names only the columns that exist; a missing table is a fact, not an error.
//!
//! Clock: `timestamp` columns are Unix seconds of the device's system clock.
//! `PLStorageOperator_EventForward_TimeOffset` records, from its own `timestamp` on,
//! the `system` offset in force; each row gets the offset of the last offset record at
//! or before its raw time, added to it (see docs/SOURCES.md for how the real file
//! supports this), and is tagged `clock_offset:<seconds>`.

use std::fmt::Write as _;
use std::io::{Read, Write};

use chrono::{DateTime, Utc};

use crate::evidence::{Evidence, FileSet, Lookup};
use crate::timeline::{time, Event};

use super::schema::Table;
use super::{value_f64, value_i64, value_string, Parse, Source, SourceError};

pub struct PowerLog;

/// A gzipped PowerLog is decompressed into the scratch folder up to this size.
pub const MAX_DECOMPRESSED: u64 = 2 << 30;

pub const LAUNCHES: &str = "PLProcessMonitorAgent_EventForward_ProcessID";
pub const TRAFFIC: &str = "PLProcessNetworkAgent_EventInterval_UsageDiff";
pub const COALITIONS: &str = "PLCoalitionAgent_EventInterval_CoalitionInterval";
pub const APPS: &str = "PLApplicationAgent_EventForward_Application";
pub const OFFSETS: &str = "PLStorageOperator_EventForward_TimeOffset";

pub const FILES: FileSet = FileSet {
    backup: None,
    filesystem: &["private/var/containers/Shared/SystemGroup"],
    sysdiagnose: &["logs/powerlogs"],
    crash_folders: false,
    name: is_powerlog,
};

/// `*.PLSQL` and `*.PLSQL.gz`.
fn is_powerlog(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.ends_with(".plsql") || n.ends_with(".plsql.gz")
}

fn is_gz(logical: &str) -> bool {
    logical.to_ascii_lowercase().ends_with(".gz")
}

impl Source for PowerLog {
    fn name(&self) -> &'static str {
        "powerlog"
    }

    fn discover(&self, ev: &Evidence) -> Vec<Lookup> {
        // In a filesystem dump only the BatteryLife folder of a system-group container
        // (`SystemGroup/<UUID>/Library/BatteryLife/`) holds PowerLogs.
        ev.files(&FILES)
            .into_iter()
            .filter(|l| {
                let logical = match l {
                    Lookup::Found(a) => a.logical.as_str(),
                    Lookup::Missing { logical, .. } => logical.as_str(),
                };
                logical.contains("logs/powerlogs/") || logical.contains("/Library/BatteryLife/")
            })
            .collect()
    }

    fn parse(&self, p: &mut Parse<'_>) -> Result<(), SourceError> {
        if is_gz(&p.artifact.logical) {
            let dir = tempfile::Builder::new()
                .prefix("powerlog-")
                .tempdir_in(p.evidence.scratch())
                .map_err(|e| SourceError::Format(format!("scratch folder: {e}")))?;
            let path = dir.path().join("powerlog.PLSQL");
            gunzip_capped(p, &path)?;
            let conn = rusqlite::Connection::open_with_flags(
                &path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            conn.execute_batch("PRAGMA query_only = 1;")?;
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })?;
            parse_db(&conn, p)
        } else {
            let db = p.evidence.open_sqlite(p.artifact)?;
            parse_db(db.conn(), p)
        }
    }
}

/// Streams the gzipped artifact (hashed as it is read) into `path`, refusing more than
/// [`MAX_DECOMPRESSED`] bytes of output.
fn gunzip_capped(p: &mut Parse<'_>, path: &std::path::Path) -> Result<(), SourceError> {
    let reader = p.evidence.open(p.artifact)?;
    let mut gz = flate2::read::MultiGzDecoder::new(reader);
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(path)
            .map_err(|e| SourceError::Format(format!("scratch copy: {e}")))?,
    );
    gunzip_into(&mut gz, &mut out, MAX_DECOMPRESSED)
        .map_err(|e| SourceError::Format(format!("{}: {e}", p.artifact.logical)))?;
    out.flush()
        .map_err(|e| SourceError::Format(format!("scratch copy: {e}")))?;
    drop(out);
    gz.into_inner()
        .finish()
        .map_err(|e| SourceError::Format(format!("{}: {e}", p.artifact.logical)))?;
    Ok(())
}

/// Copies a decoder's output into `out`, refusing more than `cap` bytes. Returns the
/// bytes written, or what went wrong in words.
fn gunzip_into(gz: &mut impl Read, out: &mut impl Write, cap: u64) -> Result<u64, String> {
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = match gz.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("gzip stream unreadable after {total} bytes: {e}")),
        };
        if n == 0 {
            return Ok(total);
        }
        total += n as u64;
        if total > cap {
            return Err(format!("decompresses to more than {cap} bytes; not read"));
        }
        out.write_all(&buf[..n])
            .map_err(|e| format!("scratch copy: {e}"))?;
    }
}

/// The `system` clock offsets PowerLog recorded: (raw time from which it holds, seconds).
/// Each offset's row tag is formatted once, not once a row.
#[derive(Debug, Default)]
pub struct Offsets(Vec<(f64, f64)>, Vec<String>);

impl Offsets {
    pub fn new(mut v: Vec<(f64, f64)>) -> Self {
        v.retain(|(t, o)| t.is_finite() && o.is_finite());
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        let tags = v
            .iter()
            .map(|(_, o)| format!("clock_offset:{o:.3}"))
            .collect();
        Offsets(v, tags)
    }

    /// Index of the offset in force at raw time `t`: the last record at or before it.
    fn index(&self, t: f64) -> Option<usize> {
        self.0
            .partition_point(|(from, _)| *from <= t)
            .checked_sub(1)
    }

    /// The offset in force at raw time `t`.
    pub fn at(&self, t: f64) -> Option<f64> {
        self.index(t).map(|i| self.0[i].1)
    }

    /// Raw PowerLog seconds → UTC, with the offset applied when one is in force (its index).
    fn time(&self, raw: Option<f64>) -> (Option<DateTime<Utc>>, Option<usize>) {
        let Some(t) = raw else {
            return (None, None);
        };
        match self.index(t) {
            Some(i) => (time::unix_seconds(t + self.0[i].1), Some(i)),
            None => (time::unix_seconds(t), None),
        }
    }

    fn tag(&self, e: Event, i: Option<usize>) -> Event {
        match i.and_then(|i| self.1.get(i)) {
            Some(t) => e.tag(t.clone()),
            None => e,
        }
    }
}

fn read_offsets(conn: &rusqlite::Connection, p: &mut Parse<'_>) -> Offsets {
    let t = Table::read(conn, OFFSETS, "o");
    if !t.exists() || !t.has("timestamp") || !t.has("system") {
        p.facts.insert(
            "clock_offsets".into(),
            serde_json::Value::String(format!("{OFFSETS} absent: times are the raw system clock")),
        );
        return Offsets::default();
    }
    let sql = format!(
        "SELECT {}, {} FROM {}",
        t.col("timestamp"),
        t.col("system"),
        t.source()
    );
    let mut v = Vec::new();
    let res = (|| -> rusqlite::Result<()> {
        let mut stmt = conn.prepare(&sql)?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            if let (Some(ts), Some(o)) = (value_f64(r.get_ref(0)?), value_f64(r.get_ref(1)?)) {
                v.push((ts, o));
            }
        }
        Ok(())
    })();
    if let Err(e) = res {
        p.warn(format!(
            "{OFFSETS}: unreadable ({e}); times kept on the raw system clock"
        ));
    }
    p.facts
        .insert("clock_offsets".into(), serde_json::json!(v.len()));
    Offsets::new(v)
}

fn iso(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| time::rfc3339(&t)).unwrap_or_else(|| "?".into())
}

/// Trimmed, `None` when empty; no new allocation when there was nothing to trim.
fn nonempty(s: Option<String>) -> Option<String> {
    let s = s?;
    let t = s.trim();
    if t.is_empty() {
        None
    } else if t.len() == s.len() {
        Some(s)
    } else {
        Some(t.to_string())
    }
}

/// Reads the four tables of one PowerLog database.
pub fn parse_db(conn: &rusqlite::Connection, p: &mut Parse<'_>) -> Result<(), SourceError> {
    let offsets = read_offsets(conn, p);
    let mut missing = Vec::new();
    let mut before_offsets = 0usize;
    let mut no_time = 0usize;
    let tables = [LAUNCHES, TRAFFIC, COALITIONS, APPS];
    let mut total = 0;
    for t in tables {
        total += crate::evidence::row_count(conn, t);
    }
    p.reserve(total);
    for name in tables {
        let t = Table::read(conn, name, "t");
        if !t.exists() {
            missing.push(name);
            continue;
        }
        let mut ctx = Ctx {
            offsets: &offsets,
            before_offsets: &mut before_offsets,
            no_time: &mut no_time,
        };
        let res = match name {
            LAUNCHES => launches(conn, &t, p, &mut ctx),
            TRAFFIC => traffic(conn, &t, p, &mut ctx),
            COALITIONS => coalitions(conn, &t, p, &mut ctx),
            _ => apps(conn, &t, p, &mut ctx),
        };
        if let Err(e) = res {
            p.warn(format!(
                "{name}: read stopped ({e}); rows after that point lost"
            ));
        }
    }
    if !missing.is_empty() {
        p.facts
            .insert("missing_tables".into(), serde_json::json!(missing));
    }
    if before_offsets > 0 && !offsets.0.is_empty() {
        p.facts.insert(
            "rows_before_first_clock_offset".into(),
            serde_json::json!(before_offsets),
        );
    }
    if no_time > 0 {
        p.warn(format!(
            "{no_time} rows have no usable time (NULL, zero or implausible); kept without a time"
        ));
    }
    Ok(())
}

struct Ctx<'a> {
    offsets: &'a Offsets,
    before_offsets: &'a mut usize,
    no_time: &'a mut usize,
}

impl Ctx<'_> {
    fn time(&mut self, raw: Option<f64>) -> (Option<DateTime<Utc>>, Option<usize>) {
        let (t, o) = self.offsets.time(raw);
        if t.is_none() {
            *self.no_time += 1;
        } else if o.is_none() {
            *self.before_offsets += 1;
        }
        (t, o)
    }
}

fn select(t: &Table, cols: &[&str]) -> String {
    let cols: Vec<String> = cols.iter().map(|c| t.col(c)).collect();
    format!("SELECT {} FROM {}", cols.join(", "), t.source())
}

fn launches(
    conn: &rusqlite::Connection,
    t: &Table,
    p: &mut Parse<'_>,
    ctx: &mut Ctx<'_>,
) -> rusqlite::Result<()> {
    let sql = select(
        t,
        &[
            "ID",
            "timestamp",
            "ProcessName",
            "BundleID",
            "PID",
            "CoalitionID",
        ],
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let id = value_i64(r.get_ref(0)?);
        let (ts, off) = ctx.time(value_f64(r.get_ref(1)?));
        let name = nonempty(value_string(r.get_ref(2)?)).unwrap_or_default();
        let bundle = nonempty(value_string(r.get_ref(3)?));
        let pid = value_i64(r.get_ref(4)?);
        let coalition = value_i64(r.get_ref(5)?);
        let mut msg = String::with_capacity(name.len() + 48);
        let _ = write!(msg, "launch of {name}");
        if let Some(pid) = pid {
            let _ = write!(msg, " pid {pid}");
        }
        if let Some(b) = &bundle {
            let _ = write!(msg, " ({b})");
        }
        if let Some(c) = coalition {
            let _ = write!(msg, ", coalition {c}");
        }
        let mut e = Event::new("powerlog", "process_launch", ts)
            .actor(name)
            .target(bundle.clone().unwrap_or_default())
            .message(msg)
            .at("", format!("{LAUNCHES}:{}", opt(id)));
        if let Some(pid) = pid {
            e = e.tag(format!("pid:{pid}"));
        }
        if let Some(c) = coalition {
            e = e.tag(format!("coalition:{c}"));
        }
        if bundle.is_none() {
            e = e.tag("no_bundle_id");
        }
        p.emit(ctx.offsets.tag(e, off));
    }
    Ok(())
}

fn opt(v: Option<i64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn sum(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
    }
}

fn traffic(
    conn: &rusqlite::Connection,
    t: &Table,
    p: &mut Parse<'_>,
    ctx: &mut Ctx<'_>,
) -> rusqlite::Result<()> {
    let sql = select(
        t,
        &[
            "ID",
            "timestamp",
            "timestampEnd",
            "ProcessName",
            "BundleName",
            "CellIn",
            "CellOut",
            "WifiIn",
            "WifiOut",
        ],
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let id = value_i64(r.get_ref(0)?);
        let (ts, off) = ctx.time(value_f64(r.get_ref(1)?));
        let (end, _) = ctx.offsets.time(value_f64(r.get_ref(2)?));
        let end = end.map(|t| time::rfc3339(&t));
        let name = nonempty(value_string(r.get_ref(3)?)).unwrap_or_default();
        let bundle = nonempty(value_string(r.get_ref(4)?));
        let [cell_in, cell_out, wifi_in, wifi_out] =
            [5, 6, 7, 8].map(|i| r.get_ref(i).ok().and_then(value_i64));
        let msg = format!(
            "traffic of {name} {} → {}: wifi in {} out {}, cell in {} out {}",
            iso(ts),
            end.as_deref().unwrap_or("?"),
            opt(wifi_in),
            opt(wifi_out),
            opt(cell_in),
            opt(cell_out),
        );
        let mut e = Event::new("powerlog", "network_interval", ts)
            .actor(name)
            .target(bundle.clone().unwrap_or_default())
            .message(msg)
            .bytes(sum(cell_in, wifi_in), sum(cell_out, wifi_out))
            .at("", format!("{TRAFFIC}:{}", opt(id)));
        if let Some(end) = end {
            e = e.tag(format!("end:{end}"));
        }
        if bundle.is_none() {
            e = e.tag("no_bundle_id");
        }
        p.emit(ctx.offsets.tag(e, off));
    }
    Ok(())
}

fn coalitions(
    conn: &rusqlite::Connection,
    t: &Table,
    p: &mut Parse<'_>,
    ctx: &mut Ctx<'_>,
) -> rusqlite::Result<()> {
    let sql = select(
        t,
        &[
            "ID",
            "timestamp",
            "timestampEnd",
            "LaunchdName",
            "BundleId",
            "LaunchdCoalitionId",
            "tasks_started",
            "tasks_exited",
            "cpu_time",
            "bytesread",
            "byteswritten",
        ],
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let id = value_i64(r.get_ref(0)?);
        let (ts, off) = ctx.time(value_f64(r.get_ref(1)?));
        let (end, _) = ctx.offsets.time(value_f64(r.get_ref(2)?));
        let end = end.map(|t| time::rfc3339(&t));
        let name = nonempty(value_string(r.get_ref(3)?)).unwrap_or_default();
        let bundle = nonempty(value_string(r.get_ref(4)?));
        let coalition = value_i64(r.get_ref(5)?);
        let [started, exited, cpu, read, written] =
            [6, 7, 8, 9, 10].map(|i| r.get_ref(i).ok().and_then(value_f64));
        let f = |v: Option<f64>| v.map(|v| format!("{v}")).unwrap_or_else(|| "?".into());
        let msg = format!(
            "coalition {name} {} → {}: tasks started {} exited {}, cpu {} s, disk read {} written {}",
            iso(ts),
            end.as_deref().unwrap_or("?"),
            f(started),
            f(exited),
            f(cpu),
            f(read),
            f(written),
        );
        let mut e = Event::new("powerlog", "coalition_interval", ts)
            .actor(name)
            .target(bundle.unwrap_or_default())
            .message(msg)
            .at("", format!("{COALITIONS}:{}", opt(id)));
        if let Some(c) = coalition {
            e = e.tag(format!("coalition:{c}"));
        }
        if let Some(end) = end {
            e = e.tag(format!("end:{end}"));
        }
        p.emit(ctx.offsets.tag(e, off));
    }
    Ok(())
}

fn apps(
    conn: &rusqlite::Connection,
    t: &Table,
    p: &mut Parse<'_>,
    ctx: &mut Ctx<'_>,
) -> rusqlite::Result<()> {
    let sql = select(
        t,
        &["ID", "timestamp", "Identifier", "pid", "State", "Reason"],
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let id = value_i64(r.get_ref(0)?);
        let (ts, off) = ctx.time(value_f64(r.get_ref(1)?));
        let ident = nonempty(value_string(r.get_ref(2)?)).unwrap_or_default();
        let pid = value_i64(r.get_ref(3)?);
        let state = value_i64(r.get_ref(4)?);
        let reason = value_i64(r.get_ref(5)?);
        let msg = format!(
            "{ident} pid {} state {} reason {}",
            opt(pid),
            opt(state),
            opt(reason)
        );
        let mut e = Event::new("powerlog", "app_state", ts)
            .actor(ident.clone())
            .target(ident)
            .message(msg)
            .at("", format!("{APPS}:{}", opt(id)));
        if let Some(pid) = pid {
            e = e.tag(format!("pid:{pid}"));
        }
        if let Some(s) = state {
            e = e.tag(format!("state:{s}"));
        }
        if let Some(r) = reason {
            e = e.tag(format!("reason:{r}"));
        }
        p.emit(ctx.offsets.tag(e, off));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_in_force_is_the_last_at_or_before() {
        let o = Offsets::new(vec![(100.0, -10.0), (50.0, -5.0), (f64::NAN, 1.0)]);
        assert_eq!(o.at(49.0), None);
        assert_eq!(o.at(50.0), Some(-5.0));
        assert_eq!(o.at(99.9), Some(-5.0));
        assert_eq!(o.at(100.0), Some(-10.0));
        assert_eq!(o.at(1e12), Some(-10.0));
    }

    #[test]
    fn decompression_is_capped_and_truncation_named() {
        use std::io::Write as _;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&vec![0u8; 100_000]).unwrap();
        let gz = enc.finish().unwrap();
        let mut out = Vec::new();
        let r = gunzip_into(
            &mut flate2::read::MultiGzDecoder::new(&gz[..]),
            &mut out,
            100_000,
        );
        assert_eq!(r, Ok(100_000));
        let mut out = Vec::new();
        let r = gunzip_into(
            &mut flate2::read::MultiGzDecoder::new(&gz[..]),
            &mut out,
            99_999,
        );
        assert_eq!(
            r,
            Err("decompresses to more than 99999 bytes; not read".to_string())
        );
        assert!(out.len() < 100_000);
        let mut out = Vec::new();
        let r = gunzip_into(
            &mut flate2::read::MultiGzDecoder::new(&gz[..gz.len() / 2]),
            &mut out,
            1 << 20,
        );
        assert!(r.unwrap_err().starts_with("gzip stream unreadable after"));
    }

    #[test]
    fn names() {
        assert!(is_powerlog("powerlog_2021-12-16_05-54_84E2141B.PLSQL"));
        assert!(is_powerlog("CurrentPowerlog.PLSQL"));
        assert!(is_powerlog("powerlog_2021-12-15.PLSQL.gz"));
        assert!(!is_powerlog("CurrentPowerlog.PLSQL-wal"));
        assert!(!is_powerlog("powerlog.sqlite"));
    }
}
