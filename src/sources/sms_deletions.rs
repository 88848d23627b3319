//! What sms.db says about what is no longer in it: deletion is evidence.
//!
//! - `message.ROWID` and `attachment.ROWID` are AUTOINCREMENT: SQLite never hands a key
//!   out twice and keeps the highest one given in `sqlite_sequence`. A run of missing
//!   keys is rows stored and later deleted, between the times of the surviving rows on
//!   either side; keys above the highest row up to `sqlite_sequence.seq` were deleted
//!   after it. Operation Triangulation's implant deleted its message and attachment
//!   (Kaspersky 2023): what remains is such a gap.
//! - `deleted_messages` (older iOS) holds the guid of each deleted message, written by
//!   a trigger; no time.
//! - iOS 16+ keeps "Recently Deleted" messages in `chat_recoverable_message_join`
//!   (`chat_id`, `message_id`, `delete_date`).
//! - `message.date_retracted` / `date_edited` (iOS 16+): unsent and edited messages.
//!
//! Users delete conversations too, so none of this is a verdict: the
//! `message_deletion` rule reports it as its own finding for the analyst to place.

use chrono::{DateTime, Utc};

use crate::timeline::{time, Event};

use super::schema::Table;
use super::{value_i64, value_string, Parse, SourceError};

/// Most gap rows one table yields (a database rebuilt with sparse keys must not
/// flood the timeline); the rest are counted in facts.
const MAX_GAP_ROWS: usize = 500;

pub(super) fn deletions(conn: &rusqlite::Connection, p: &mut Parse<'_>) -> Result<(), SourceError> {
    for (table, date_col, kind) in [
        ("message", "date", "messages_deleted"),
        ("attachment", "created_date", "attachments_deleted"),
    ] {
        let t = Table::read(conn, table, "t");
        if t.has("ROWID") {
            gaps(conn, &t, date_col, kind, p)?;
        }
    }
    deleted_guids(conn, p)?;
    recoverable(conn, p)?;
    retracted_edited(conn, p)?;
    Ok(())
}

fn cocoa(v: rusqlite::types::ValueRef<'_>) -> Option<DateTime<Utc>> {
    match v {
        rusqlite::types::ValueRef::Integer(i) => time::cocoa_auto_i64(i),
        rusqlite::types::ValueRef::Real(f) => time::cocoa_auto_f64(f),
        _ => None,
    }
}

fn gaps(
    conn: &rusqlite::Connection,
    t: &Table,
    date_col: &str,
    kind: &'static str,
    p: &mut Parse<'_>,
) -> Result<(), SourceError> {
    let sql = format!(
        "SELECT t.ROWID, {} FROM {} ORDER BY t.ROWID",
        t.col(date_col),
        t.source()
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([])?;
    let mut prev: Option<(i64, Option<DateTime<Utc>>)> = None;
    let (mut runs, mut missing, mut listed) = (0usize, 0i64, 0usize);
    while let Some(r) = rows.next()? {
        let Some(id) = value_i64(r.get_ref(0)?) else {
            continue;
        };
        let at = cocoa(r.get_ref(1)?);
        // Keys start at 1; a gap before the first row counts too.
        let (prev_id, prev_at) = prev.unwrap_or((0, None));
        if id > prev_id + 1 {
            let (from, to) = (prev_id + 1, id - 1);
            runs += 1;
            missing += to - from + 1;
            if listed < MAX_GAP_ROWS {
                listed += 1;
                p.emit(gap_row(t.name, kind, from, to, prev_at, at));
            }
        }
        prev = Some((id, at));
    }
    let (last_id, last_at) = prev.unwrap_or((0, None));
    let seq: Option<i64> = conn
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = ?1",
            [t.name],
            |r| r.get(0),
        )
        .ok();
    if let Some(seq) = seq.filter(|s| *s > last_id) {
        runs += 1;
        missing += seq - last_id;
        if listed < MAX_GAP_ROWS {
            p.emit(gap_row(t.name, kind, last_id + 1, seq, last_at, None));
        }
    }
    if runs > 0 {
        p.facts.insert(
            format!("{}_rowid_gaps", t.name),
            serde_json::json!({"runs": runs, "rows": missing, "sqlite_sequence": seq}),
        );
    }
    Ok(())
}

fn gap_row(
    table: &str,
    kind: &'static str,
    from: i64,
    to: i64,
    before: Option<DateTime<Utc>>,
    after: Option<DateTime<Utc>>,
) -> Event {
    let n = to - from + 1;
    let when =
        |t: Option<DateTime<Utc>>| t.map(|t| time::rfc3339(&t)).unwrap_or_else(|| "?".into());
    let keys = if from == to {
        format!("ROWID {from}")
    } else {
        format!("ROWIDs {from}–{to}")
    };
    let span = match after {
        Some(_) => format!("stored between {} and {}", when(before), when(after)),
        None => format!(
            "stored after {} (the newest surviving row), per sqlite_sequence",
            when(before)
        ),
    };
    let mut e = Event::new("sms", kind, before.or(after))
        .message(format!(
            "{n} {table} row{} deleted: {keys} missing, {span}",
            if n == 1 { "" } else { "s" }
        ))
        .at("", format!("{table}:{from}-{to}"))
        .tag(format!("deleted_rows:{n}"));
    if let Some(a) = after {
        e = e.tag(format!("until:{}", time::rfc3339(&a)));
    }
    e
}

fn deleted_guids(conn: &rusqlite::Connection, p: &mut Parse<'_>) -> Result<(), SourceError> {
    let t = Table::read(conn, "deleted_messages", "d");
    if !t.has("guid") {
        return Ok(());
    }
    let sql = format!(
        "SELECT d.ROWID, {} FROM {} ORDER BY d.ROWID",
        t.col("guid"),
        t.source()
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([])?;
    let mut n = 0usize;
    while let Some(r) = rows.next()? {
        n += 1;
        if n > MAX_GAP_ROWS {
            continue;
        }
        let id = value_i64(r.get_ref(0)?).unwrap_or_default();
        let guid = value_string(r.get_ref(1)?).unwrap_or_default();
        p.emit(
            Event::new("sms", "message_deleted", None)
                .target(guid.clone())
                .message(format!(
                    "message {guid} was deleted (deleted_messages keeps no time)"
                ))
                .at("", format!("deleted_messages:{id}")),
        );
    }
    if n > 0 {
        p.facts.insert("deleted_messages".into(), n.into());
    }
    Ok(())
}

fn recoverable(conn: &rusqlite::Connection, p: &mut Parse<'_>) -> Result<(), SourceError> {
    let t = Table::read(conn, "chat_recoverable_message_join", "r");
    if !t.has("message_id") {
        return Ok(());
    }
    let sql = format!(
        "SELECT {}, {}, {} FROM {}",
        t.col("chat_id"),
        t.col("message_id"),
        t.col("delete_date"),
        t.source()
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([])?;
    let mut n = 0usize;
    while let Some(r) = rows.next()? {
        n += 1;
        let chat = value_i64(r.get_ref(0)?).unwrap_or_default();
        let msg = value_i64(r.get_ref(1)?).unwrap_or_default();
        let at = cocoa(r.get_ref(2)?);
        p.emit(
            Event::new("sms", "message_recoverable", at)
                .target(format!("message:{msg}"))
                .message(format!(
                    "message {msg} of chat {chat} deleted by the user, kept in Recently Deleted"
                ))
                .at("", format!("chat_recoverable_message_join:{chat}-{msg}")),
        );
    }
    if n > 0 {
        p.facts.insert("recoverable_messages".into(), n.into());
    }
    Ok(())
}

fn retracted_edited(conn: &rusqlite::Connection, p: &mut Parse<'_>) -> Result<(), SourceError> {
    let t = Table::read(conn, "message", "m");
    for (col, kind, what) in [
        ("date_retracted", "message_retracted", "unsent (retracted)"),
        ("date_edited", "message_edited", "edited"),
    ] {
        if !t.has(col) {
            continue;
        }
        let sql = format!(
            "SELECT m.ROWID, {c} FROM {src} WHERE {c} IS NOT NULL AND {c} != 0",
            c = t.col(col),
            src = t.source()
        );
        let mut stmt = conn.prepare(&sql)?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let id = value_i64(r.get_ref(0)?).unwrap_or_default();
            p.emit(
                Event::new("sms", kind, cocoa(r.get_ref(1)?))
                    .target(format!("message:{id}"))
                    .message(format!("message {id} was {what}"))
                    .at("", format!("message:{id}")),
            );
        }
    }
    Ok(())
}
