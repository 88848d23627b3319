//! PowerLog (`*.PLSQL`): which processes started, which used the network and how much,
//! per interval — the process and network activity a backup does not keep.
//!
//! powerd's PowerLog is a SQLite database of several hundred tables, one per agent and
//! event type; the set changes with every iOS version, so each table is read only when
//! it exists and a missing one is a fact, not an error. A sysdiagnose carries it under
//! `logs/powerlogs/` (`powerlog_<date>_<id>.PLSQL`, sometimes gzip-compressed); a
//! filesystem dump under `private/var/containers/Shared/SystemGroup/<group>/Library/
//! BatteryLife/` (`CurrentPowerlog.PLSQL` and `Archives/*.PLSQL.gz`).
//!
//! Clock: `timestamp` columns are Unix seconds of the device's system clock as PowerLog
//! kept it; `PLStorageOperator_EventForward_TimeOffset` records, from its `timestamp` on,
//! the `system` offset to add (the published PowerLog queries, e.g. the APOLLO modules,
//! add it). Checked on a real file (plaso's `powerlog_2021-12-16_05-54_…PLSQL`): its
//! newest row is 11:05:08 raw, 10:54:36 with the −631.9 s offset in force, and the file is
//! named 05:54 local time on a phone at UTC−5 in December. Each row gets the offset in
//! force at its raw time (the first recorded one before that), and a `clock_offset:<s>`
//! tag saying so.

use chrono::Duration;

use crate::evidence::{Evidence, FileSet, Lookup};
use crate::timeline::{time, Event};

use super::schema::Table;
use super::{value_f64, value_i64, value_string, Parse, Source, SourceError};

pub struct PowerLog;

pub const FILES: FileSet = FileSet {
    backup: None,
    filesystem: &["private/var/containers/Shared/SystemGroup"],
    sysdiagnose: &["logs/powerlogs"],
    crash_folders: false,
    name: is_powerlog,
};

/// `CurrentPowerlog.PLSQL`, `powerlog_<date>_<id>.PLSQL` and their `.gz` archives.
fn is_powerlog(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.ends_with(".plsql") || n.ends_with(".plsql.gz")
}

const LAUNCHES: &str = "PLProcessMonitorAgent_EventForward_ProcessID";
const TRAFFIC: &str = "PLProcessNetworkAgent_EventInterval_UsageDiff";
const COALITIONS: &str = "PLCoalitionAgent_EventInterval_CoalitionInterval";
const APPS: &str = "PLApplicationAgent_EventForward_Application";
const OFFSETS: &str = "PLStorageOperator_EventForward_TimeOffset";

impl Source for PowerLog {
    fn name(&self) -> &'static str {
        "powerlog"
    }

    fn discover(&self, ev: &Evidence) -> Vec<Lookup> {
        ev.files(&FILES)
    }

    fn parse(&self, p: &mut Parse<'_>) -> Result<(), SourceError> {
        let db = p.evidence.open_sqlite(p.artifact)?;
        let conn = db.conn();
        let clock = Clock::read(conn);
        p.facts
            .insert("time_offsets".into(), clock.offsets.len().into());
        let mut missing = Vec::new();
        let mut reserve = 0;
        for t in [LAUNCHES, TRAFFIC, COALITIONS, APPS] {
            reserve += crate::evidence::row_count(conn, t);
        }
        p.reserve(reserve);
        let mut no_time = 0usize;
        for (table, alias) in [
            (LAUNCHES, "l"),
            (TRAFFIC, "n"),
            (COALITIONS, "c"),
            (APPS, "a"),
        ] {
            let t = Table::read(conn, table, alias);
            if !t.exists() {
                missing.push(table);
                continue;
            }
            let n = read_table(conn, &t, &clock, p, &mut no_time)?;
            p.facts.insert(table.to_string(), n.into());
        }
        if !missing.is_empty() {
            // Tables come and go with iOS versions: absent is a fact about this file.
            p.facts
                .insert("tables_absent".into(), serde_json::json!(missing));
        }
        if no_time > 0 {
            p.warn(format!(
                "{no_time} rows have no usable time (zero, NULL or implausible); kept without a time"
            ));
        }
        Ok(())
    }
}

/// The `system` offsets PowerLog recorded, by the raw time they took effect.
struct Clock {
    offsets: Vec<(f64, f64)>,
}

impl Clock {
    fn read(conn: &rusqlite::Connection) -> Clock {
        let t = Table::read(conn, OFFSETS, "o");
        let mut offsets = Vec::new();
        if t.has("timestamp") && t.has("system") {
            let sql = format!(
                "SELECT {}, {} FROM {}",
                t.col("timestamp"),
                t.col("system"),
                t.source()
            );
            if let Ok(mut stmt) = conn.prepare(&sql) {
                if let Ok(rows) = stmt.query_map([], |r| {
                    Ok((value_f64(r.get_ref(0)?), value_f64(r.get_ref(1)?)))
                }) {
                    offsets.extend(rows.filter_map(Result::ok).filter_map(|(t, s)| {
                        let (t, s) = (t?, s?);
                        (t.is_finite() && s.is_finite()).then_some((t, s))
                    }));
                }
            }
        }
        offsets.sort_by(|a, b| a.0.total_cmp(&b.0));
        Clock { offsets }
    }

    /// The offset in force at raw time `raw`: the last recorded at or before it, else
    /// the first one.
    fn offset_at(&self, raw: f64) -> Option<f64> {
        let i = self.offsets.partition_point(|(t, _)| *t <= raw);
        self.offsets.get(i.saturating_sub(1)).map(|(_, s)| *s)
    }

    /// Raw PowerLog seconds → UTC, with the offset applied, and the offset used.
    fn utc(&self, raw: Option<f64>) -> (Option<chrono::DateTime<chrono::Utc>>, Option<f64>) {
        let Some(raw) = raw.filter(|v| *v > 0.0) else {
            return (None, None);
        };
        let off = self.offset_at(raw);
        let t = time::unix_seconds(raw + off.unwrap_or(0.0));
        (t, off)
    }
}

fn read_table(
    conn: &rusqlite::Connection,
    t: &Table,
    clock: &Clock,
    p: &mut Parse<'_>,
    no_time: &mut usize,
) -> Result<usize, SourceError> {
    // Columns per table, in the order the row builder reads them.
    let cols: &[&str] = match t.name {
        LAUNCHES => &["ProcessName", "BundleID", "PID", "CoalitionID"],
        TRAFFIC => &[
            "ProcessName",
            "BundleName",
            "CellIn",
            "CellOut",
            "WifiIn",
            "WifiOut",
            "timestampEnd",
        ],
        COALITIONS => &[
            "LaunchdName",
            "BundleId",
            "LaunchdCoalitionId",
            "tasks_started",
            "tasks_exited",
            "bytesread",
            "byteswritten",
            "timestampEnd",
        ],
        _ => &["Identifier", "pid", "State", "Reason"],
    };
    let sql = format!(
        "SELECT {}, {}, {} FROM {} ORDER BY {}",
        t.col("ID"),
        t.col("timestamp"),
        cols.iter().map(|c| t.col(c)).collect::<Vec<_>>().join(", "),
        t.source(),
        if t.has("ID") {
            t.col("ID")
        } else {
            "rowid".into()
        },
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([])?;
    let mut n = 0;
    while let Some(r) = rows.next()? {
        n += 1;
        let id = value_i64(r.get_ref(0)?)
            .map(|v| v.to_string())
            .unwrap_or_default();
        let (ts, off) = clock.utc(value_f64(r.get_ref(1)?));
        if ts.is_none() {
            *no_time += 1;
        }
        let text = |i: usize| -> rusqlite::Result<String> {
            Ok(value_string(r.get_ref(i + 2)?)
                .map(|s| s.trim().to_string())
                .unwrap_or_default())
        };
        let int = |i: usize| -> rusqlite::Result<Option<i64>> { Ok(value_i64(r.get_ref(i + 2)?)) };
        let real = |i: usize| -> rusqlite::Result<Option<f64>> { Ok(value_f64(r.get_ref(i + 2)?)) };
        let mut e = match t.name {
            LAUNCHES => {
                let (name, bundle) = (text(0)?, text(1)?);
                let (pid, coalition) = (int(2)?, int(3)?);
                let mut e = Event::new("powerlog", "process_launch", ts)
                    .actor(name.clone())
                    .target(bundle.clone())
                    .message(format!(
                        "process {name} started (pid {}, bundle {}, coalition {})",
                        show(pid),
                        if bundle.is_empty() { "none" } else { &bundle },
                        show(coalition)
                    ));
                if let Some(pid) = pid {
                    e = e.tag(format!("pid:{pid}"));
                }
                if let Some(c) = coalition {
                    e = e.tag(format!("coalition:{c}"));
                }
                if bundle.is_empty() {
                    e = e.tag("no_bundle_id");
                }
                e
            }
            TRAFFIC => {
                let (name, bundle) = (text(0)?, text(1)?);
                let (cell_in, cell_out, wifi_in, wifi_out) = (int(2)?, int(3)?, int(4)?, int(5)?);
                let (end, _) = clock.utc(real(6)?);
                let sum = |a: Option<i64>, b: Option<i64>| match (a, b) {
                    (None, None) => None,
                    (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
                };
                let mut e = Event::new("powerlog", "network_interval", ts)
                    .actor(name.clone())
                    .target(bundle)
                    .message(format!(
                        "{name} network traffic until {}: cell in {} B out {} B, Wi-Fi in {} B out {} B",
                        end.map(|t| time::rfc3339(&t)).unwrap_or_else(|| "?".into()),
                        show(cell_in),
                        show(cell_out),
                        show(wifi_in),
                        show(wifi_out)
                    ))
                    .bytes(sum(cell_in, wifi_in), sum(cell_out, wifi_out));
                if let (Some(a), Some(b)) = (ts, end) {
                    e = e.tag(format!("duration_s:{}", (b - a).num_seconds()));
                }
                e
            }
            COALITIONS => {
                let (name, bundle) = (text(0)?, text(1)?);
                let (coalition, started, exited) = (int(2)?, real(3)?, real(4)?);
                let (read, written) = (real(5)?, real(6)?);
                let (end, _) = clock.utc(real(7)?);
                let round = |v: Option<f64>| v.map(|v| v.round() as i64);
                let mut e = Event::new("powerlog", "coalition_interval", ts)
                    .actor(name.clone())
                    .target(bundle)
                    .message(format!(
                        "coalition {} of {name} until {}: {} tasks started, {} exited, {} B read, {} B written",
                        show(coalition),
                        end.map(|t| time::rfc3339(&t)).unwrap_or_else(|| "?".into()),
                        show(round(started)),
                        show(round(exited)),
                        show(round(read)),
                        show(round(written))
                    ));
                if let Some(c) = coalition {
                    e = e.tag(format!("coalition:{c}"));
                }
                e
            }
            _ => {
                let app = text(0)?;
                let (pid, state, reason) = (int(1)?, int(2)?, int(3)?);
                let mut e = Event::new("powerlog", "app_state", ts)
                    .actor(app.clone())
                    .message(format!(
                        "application {app} state {} (reason {}, pid {})",
                        show(state),
                        show(reason),
                        show(pid)
                    ));
                if let Some(pid) = pid {
                    e = e.tag(format!("pid:{pid}"));
                }
                if let Some(s) = state {
                    e = e.tag(format!("state:{s}"));
                }
                e
            }
        };
        if let Some(off) = off {
            e = e.tag(format!(
                "clock_offset:{}",
                Duration::milliseconds((off * 1000.0).round() as i64).num_seconds()
            ));
        }
        e.record = format!("{}:{id}", t.name);
        p.emit(e);
    }
    Ok(n)
}

fn show(v: Option<i64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "?".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powerlog_names() {
        assert!(is_powerlog("CurrentPowerlog.PLSQL"));
        assert!(is_powerlog("powerlog_2021-12-16_05-54_84E2141B.PLSQL"));
        assert!(is_powerlog("log_2023-01-01.PLSQL.gz"));
        assert!(!is_powerlog("CurrentPowerlog.PLSQL-wal"));
        assert!(!is_powerlog("notes.txt"));
    }

    #[test]
    fn the_offset_in_force_applies() {
        let c = Clock {
            offsets: vec![(100.0, -10.0), (200.0, -20.0)],
        };
        // Before the first record: the first offset.
        assert_eq!(c.offset_at(50.0), Some(-10.0));
        assert_eq!(c.offset_at(100.0), Some(-10.0));
        assert_eq!(c.offset_at(199.9), Some(-10.0));
        assert_eq!(c.offset_at(250.0), Some(-20.0));
        assert_eq!(Clock { offsets: vec![] }.offset_at(5.0), None);
        let (t, off) = c.utc(Some(1_600_000_000.0));
        assert_eq!(off, Some(-20.0));
        assert_eq!(t.map(|t| t.timestamp()), Some(1_599_999_980));
        assert_eq!(c.utc(Some(0.0)), (None, None));
    }
}
