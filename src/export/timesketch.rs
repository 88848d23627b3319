//! Timesketch's import format (docs: "Import from JSON or CSV").
//!
//! Every event needs `message`, `datetime` (ISO 8601) and `timestamp_desc`; `timestamp`
//! (microseconds since the epoch) is accepted beside them and saves Timesketch a parse.
//! Any other field is kept as an attribute. Tags go in `tag`, the field Timesketch shows
//! as event tags (a list in JSONL; in CSV a JSON array, which its importer decodes).
//! Timesketch rejects an event without `datetime`, so rows without a time are skipped
//! and counted.

use std::io::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use polars::prelude::DataFrame;
use serde::Serialize;

use super::{csv_safe, each_row, Exported, Row, RowError};

#[derive(Serialize)]
struct Event<'a> {
    message: &'a str,
    datetime: String,
    timestamp: i64,
    timestamp_desc: String,
    source: &'a str,
    kind: &'a str,
    actor: &'a str,
    target: &'a str,
    artifact: &'a str,
    record: &'a str,
    device: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes_in: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes_out: Option<i64>,
    tag: &'a [String],
}

const CSV_HEADER: [&str; 14] = [
    "message",
    "datetime",
    "timestamp",
    "timestamp_desc",
    "source",
    "kind",
    "actor",
    "target",
    "artifact",
    "record",
    "device",
    "bytes_in",
    "bytes_out",
    "tag",
];

/// ISO 8601 with microseconds and an explicit `+00:00`, as Timesketch's own examples write it.
fn datetime(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, false)
}

/// `message_received` → `Message received`: the kind says which of the row's clocks
/// this is, which is what Timesketch's `timestamp_desc` is for.
fn timestamp_desc(kind: &str) -> String {
    let spaced = kind.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => "Event time".to_string(),
    }
}

/// Timesketch shows `message` as the event's line; never leave it empty.
fn message(r: &Row) -> String {
    if r.message.is_empty() {
        format!("{} {}", r.source, r.kind)
    } else {
        r.message.clone()
    }
}

pub(super) fn jsonl(df: &DataFrame, w: &mut dyn Write) -> Result<Exported, RowError> {
    let mut done = Exported::default();
    each_row(df, |r| {
        let Some(ts) = r.ts else {
            done.skipped_without_time += 1;
            return Ok(());
        };
        let msg = message(&r);
        let e = Event {
            message: &msg,
            datetime: datetime(&ts),
            timestamp: ts.timestamp_micros(),
            timestamp_desc: timestamp_desc(&r.kind),
            source: &r.source,
            kind: &r.kind,
            actor: &r.actor,
            target: &r.target,
            artifact: &r.artifact,
            record: &r.record,
            device: &r.device,
            bytes_in: r.bytes_in,
            bytes_out: r.bytes_out,
            tag: &r.tags,
        };
        serde_json::to_writer(&mut *w, &e).map_err(std::io::Error::from)?;
        w.write_all(b"\n")?;
        done.rows += 1;
        Ok(())
    })?;
    Ok(done)
}

pub(super) fn csv(df: &DataFrame, w: &mut dyn Write) -> Result<Exported, RowError> {
    let mut out = csv::Writer::from_writer(w);
    out.write_record(CSV_HEADER)?;
    let mut done = Exported::default();
    each_row(df, |r| {
        let Some(ts) = r.ts else {
            done.skipped_without_time += 1;
            return Ok(());
        };
        let safe = |s: &str| csv_safe::neutralise(s).into_owned();
        let num = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
        let tags = serde_json::to_string(&r.tags).map_err(std::io::Error::from)?;
        out.write_record([
            safe(&message(&r)),
            datetime(&ts),
            ts.timestamp_micros().to_string(),
            safe(&timestamp_desc(&r.kind)),
            safe(&r.source),
            safe(&r.kind),
            safe(&r.actor),
            safe(&r.target),
            safe(&r.artifact),
            safe(&r.record),
            safe(&r.device),
            num(r.bytes_in),
            num(r.bytes_out),
            safe(&tags),
        ])?;
        done.rows += 1;
        Ok(())
    })?;
    out.flush()?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_as_descriptions() {
        assert_eq!(timestamp_desc("message_received"), "Message received");
        assert_eq!(timestamp_desc("M-CB"), "M-CB");
        assert_eq!(timestamp_desc(""), "Event time");
    }

    #[test]
    fn datetime_is_iso8601_with_offset() {
        let t = DateTime::from_timestamp_micros(1_567_120_410_539_788).unwrap_or_default();
        assert_eq!(datetime(&t), "2019-08-29T23:13:30.539788+00:00");
    }
}
