//! sms.db: iMessage/SMS/RCS messages and their attachments.
//!
//! Messages give up to four rows (received or sent, read, delivered); attachments one
//! row each, with the declared type (name, UTI, MIME) set against the type the file's
//! bytes show when the file is in the evidence. Joins are LEFT OUTER: `handle_id = 0`
//! (own messages, group chats, system messages) is common and MVT's inner join drops
//! those rows. Columns and tables vary by iOS version, so every query names only what
//! the file has (the MVT test backup's sms.db has only `handle` and `message`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::types::ValueRef;

use crate::evidence::{Evidence, Locator, Lookup};
use crate::timeline::{time, Event};

use super::attachment_type::{sniff, Declared, FileType};
use super::schema::Table;
use super::{typedstream, value_i64, value_string, Parse, Source, SourceError};

pub struct Sms;

const SMS_DB: Locator = Locator {
    backup: Some(("HomeDomain", "Library/SMS/sms.db")),
    filesystem: &["private/var/mobile/Library/SMS/sms.db"],
    sysdiagnose: &[],
};

/// Longest message body kept in the `message` column (the full text stays in sms.db).
const MAX_TEXT: usize = 500;
/// Attachments larger than this are not read for their magic bytes (videos run to GBs).
const MAX_SNIFF_FILE: u64 = 512 * 1024 * 1024;

impl Source for Sms {
    fn name(&self) -> &'static str {
        "sms"
    }

    fn discover(&self, evidence: &Evidence) -> Vec<Lookup> {
        evidence.locate(&SMS_DB)
    }

    fn parse(&self, p: &mut Parse<'_>) -> Result<(), SourceError> {
        let db = p.evidence.open_sqlite(p.artifact)?;
        if db.had_wal {
            p.facts.insert("wal".into(), true.into());
        }
        // Up to three rows a message (sent or received, read, delivered), one an attachment.
        let conn = db.conn();
        p.reserve(
            3 * crate::evidence::row_count(conn, "message")
                + crate::evidence::row_count(conn, "attachment"),
        );
        messages(conn, p)?;
        attachments(conn, p)?;
        super::sms_deletions::deletions(conn, p)?;
        Ok(())
    }
}

/// A Cocoa time column: nanoseconds on iOS 11+, seconds before, decided by magnitude.
/// Returns the time and whether the column held a non-zero value at all.
fn cocoa_time(v: ValueRef<'_>) -> (Option<DateTime<Utc>>, bool) {
    match v {
        ValueRef::Integer(i) => (time::cocoa_auto_i64(i), i != 0),
        ValueRef::Real(f) => (time::cocoa_auto_f64(f), f != 0.0),
        ValueRef::Text(_) => {
            let f = super::value_f64(v);
            (
                f.and_then(time::cocoa_auto_f64),
                f.is_some_and(|f| f != 0.0),
            )
        }
        _ => (None, false),
    }
}

fn nonempty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

/// One readable line: control characters flattened, long bodies cut, the attachment
/// placeholder U+FFFC named.
fn one_line(text: &str) -> String {
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n >= MAX_TEXT {
            out.push('…');
            break;
        }
        match c {
            '\u{fffc}' => out.push_str("[attachment]"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[derive(Default)]
struct TimeProblems {
    no_time: usize,
    absurd: Vec<String>,
}

impl TimeProblems {
    fn report(self, what: &str, p: &mut Parse<'_>) {
        if self.no_time > 0 {
            p.warn(format!(
                "{} {what} rows have no time (zero or NULL); kept without a time",
                self.no_time
            ));
        }
        if !self.absurd.is_empty() {
            let shown: Vec<&str> = self.absurd.iter().take(5).map(String::as_str).collect();
            p.warn(format!(
                "{} {what} times are outside the plausible range and were left empty: {}",
                self.absurd.len(),
                shown.join(", ")
            ));
        }
    }
}

/// A value as SQLite's `=` would match it against a ROWID: an integer, or a real
/// with no fraction.
fn rowid_key(v: ValueRef<'_>) -> Option<i64> {
    match v {
        ValueRef::Integer(i) => Some(i),
        ValueRef::Real(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Some(f as i64),
        _ => None,
    }
}

/// message ROWID → the `chat_identifier` of its lowest `chat_id` (None when that chat
/// has no identifier): one pass over chat_message_join (grouped) and one over chat.
fn chat_of_message(
    conn: &rusqlite::Connection,
    j: &Table,
    c: &Table,
) -> Result<HashMap<i64, Option<String>>, SourceError> {
    let mut names: HashMap<i64, Option<String>> = HashMap::new();
    let sql = format!(
        "SELECT c.ROWID, {} FROM {}",
        c.col("chat_identifier"),
        c.source()
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        if let Some(id) = rowid_key(r.get_ref(0)?) {
            names.insert(id, nonempty(value_string(r.get_ref(1)?)));
        }
    }
    let sql = format!(
        "SELECT {jm}, MIN({jc}) FROM {js} GROUP BY {jm}",
        jm = j.col("message_id"),
        jc = j.col("chat_id"),
        js = j.source(),
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([])?;
    let mut chats = HashMap::new();
    while let Some(r) = rows.next()? {
        let (Some(message), Some(chat)) = (rowid_key(r.get_ref(0)?), rowid_key(r.get_ref(1)?))
        else {
            continue;
        };
        if let Some(name) = names.get(&chat) {
            chats.insert(message, name.clone());
        }
    }
    Ok(chats)
}

fn messages(conn: &rusqlite::Connection, p: &mut Parse<'_>) -> Result<(), SourceError> {
    let m = Table::read(conn, "message", "m");
    let h = Table::read(conn, "handle", "h");
    let j = Table::read(conn, "chat_message_join", "j");
    let c = Table::read(conn, "chat", "c");
    if !m.check(
        &[
            "text",
            "attributedBody",
            "handle_id",
            "service",
            "date",
            "date_read",
            "date_delivered",
            "is_from_me",
            "cache_has_attachments",
        ],
        p,
    ) {
        return Ok(());
    }
    let join_handle = h.exists() && m.has("handle_id") && h.has("id");
    if !h.exists() {
        p.warn("table handle not found: senders are unknown");
    }
    // Each message meets at most one chat (the lowest chat_id). chat_message_join is
    // read once, grouped, into a map: joined in SQL, SQLite built an automatic index
    // on the grouped rows and probed it per message, most of the query's time.
    let join_chat = j.has("chat_id") && j.has("message_id") && c.has("chat_identifier");
    if !join_chat {
        p.warn("tables chat/chat_message_join not found or incomplete: messages have no chat identifier");
    }
    let chats = if join_chat {
        chat_of_message(conn, &j, &c)?
    } else {
        HashMap::new()
    };
    let mut joins = String::new();
    if join_handle {
        joins.push_str(&format!(
            " LEFT JOIN {} ON h.ROWID = {}",
            h.source(),
            m.col("handle_id")
        ));
    }
    let sql = format!(
        "SELECT m.ROWID, {text}, {body}, {service}, {date}, {read}, {delivered}, {from_me}, {has_att}, {balloon}, {handle}
         FROM {msrc}{joins} ORDER BY m.ROWID",
        text = m.col("text"),
        body = m.col("attributedBody"),
        service = m.col("service"),
        date = m.col("date"),
        read = m.col("date_read"),
        delivered = m.col("date_delivered"),
        from_me = m.col("is_from_me"),
        has_att = m.col("cache_has_attachments"),
        balloon = m.col("balloon_bundle_id"),
        handle = if join_handle { h.col("id") } else { "NULL".into() },
        msrc = m.source(),
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([])?;
    let mut times = TimeProblems::default();
    let mut undecodable: Vec<String> = Vec::new();
    while let Some(r) = rows.next()? {
        let rowid = value_i64(r.get_ref(0)?).unwrap_or_default();
        let record = format!("message:{rowid}");
        let mut text = nonempty(value_string(r.get_ref(1)?));
        let mut from_body = false;
        if text.is_none() {
            if let ValueRef::Blob(blob) = r.get_ref(2)? {
                if !blob.is_empty() {
                    match typedstream::attributed_string_text(blob) {
                        Ok(t) => {
                            text = Some(t);
                            from_body = true;
                        }
                        Err(e) => undecodable.push(format!("{record} ({e})")),
                    }
                }
            }
        }
        let service = nonempty(value_string(r.get_ref(3)?));
        let (date, date_raw) = cocoa_time(r.get_ref(4)?);
        let (read, read_raw) = cocoa_time(r.get_ref(5)?);
        let (delivered, delivered_raw) = cocoa_time(r.get_ref(6)?);
        let from_me = value_i64(r.get_ref(7)?) == Some(1);
        let has_attachment = value_i64(r.get_ref(8)?).is_some_and(|v| v != 0);
        let balloon = nonempty(value_string(r.get_ref(9)?));
        let handle = nonempty(value_string(r.get_ref(10)?));
        let chat = chats.get(&rowid).cloned().flatten();

        if date.is_none() {
            if date_raw {
                times.absurd.push(format!("{record}.date"));
            } else {
                times.no_time += 1;
            }
        }
        for (t, raw, col) in [
            (read, read_raw, "date_read"),
            (delivered, delivered_raw, "date_delivered"),
        ] {
            if t.is_none() && raw {
                times.absurd.push(format!("{record}.{col}"));
            }
        }

        let (kind, actor, target) = if from_me {
            (
                "message_sent",
                "me".to_string(),
                chat.clone().or_else(|| handle.clone()).unwrap_or_default(),
            )
        } else {
            (
                "message_received",
                handle.clone().unwrap_or_default(),
                chat.clone().unwrap_or_default(),
            )
        };
        let svc = service.as_deref().unwrap_or("message");
        let mut line = if from_me {
            format!(
                "{svc} to {}",
                if target.is_empty() {
                    "unknown recipient"
                } else {
                    &target
                }
            )
        } else {
            let mut l = format!(
                "{svc} from {}",
                if actor.is_empty() {
                    "unknown sender"
                } else {
                    &actor
                }
            );
            if !target.is_empty() && target != actor {
                l.push_str(&format!(" in chat {target}"));
            }
            l
        };
        if let Some(b) = &balloon {
            line.push_str(&format!(" ({b})"));
        }
        if has_attachment {
            line.push_str(" with attachment");
        }
        match &text {
            Some(t) => line.push_str(&format!(": {}", one_line(t))),
            None => line.push_str(": (no text)"),
        }
        let mut tags: Vec<String> = Vec::new();
        if let Some(s) = &service {
            tags.push(s.to_lowercase());
        }
        if from_me {
            tags.push("from_me".into());
        }
        if has_attachment {
            tags.push("has_attachment".into());
        }
        if from_body {
            tags.push("text_from_attributed_body".into());
        }
        let event = |kind: &'static str, ts: Option<DateTime<Utc>>, message: String| {
            let mut e = Event::new("sms", kind, ts)
                .actor(actor.clone())
                .target(target.clone())
                .message(message)
                .at("", record.clone());
            e.tags = tags.clone();
            e
        };
        p.emit(event(kind, date, line.clone()));
        if read.is_some() {
            p.emit(event("message_read", read, format!("read: {line}")));
        }
        if delivered.is_some() {
            p.emit(event(
                "message_delivered",
                delivered,
                format!("delivered: {line}"),
            ));
        }
    }
    times.report("message", p);
    if !undecodable.is_empty() {
        let shown: Vec<&str> = undecodable.iter().take(5).map(String::as_str).collect();
        p.warn(format!(
            "{} attributedBody blobs could not be decoded: {}",
            undecodable.len(),
            shown.join(", ")
        ));
    }
    Ok(())
}

/// Where an attachment named in sms.db lives in a backup (domain, relativePath) and in a
/// filesystem dump. sms.db names files `~/Library/SMS/Attachments/xx/yy/<GUID>/<name>`
/// (home = /var/mobile); backups keep them in MediaDomain.
fn attachment_location(filename: &str) -> (Option<(&'static str, String)>, String) {
    let f = filename.trim();
    let home = f
        .strip_prefix("~/")
        .or_else(|| f.strip_prefix("/private/var/mobile/"))
        .or_else(|| f.strip_prefix("/var/mobile/"));
    match home {
        Some(rel) => {
            let domain = if rel.starts_with("Library/SMS/") {
                "MediaDomain"
            } else {
                "HomeDomain"
            };
            (
                Some((domain, rel.to_string())),
                format!("private/var/mobile/{rel}"),
            )
        }
        None => {
            let abs = f.trim_start_matches('/');
            let fs = if abs.starts_with("private/") {
                abs.to_string()
            } else {
                format!("private/{abs}")
            };
            (None, fs)
        }
    }
}

#[derive(Default)]
struct AttachmentCounts {
    present: usize,
    missing: usize,
    mismatched: usize,
    exploit: usize,
}

fn attachments(conn: &rusqlite::Connection, p: &mut Parse<'_>) -> Result<(), SourceError> {
    let a = Table::read(conn, "attachment", "a");
    if !a.exists() {
        p.warn("table attachment not found: no attachment rows");
        return Ok(());
    }
    a.check(
        &[
            "created_date",
            "filename",
            "uti",
            "mime_type",
            "transfer_name",
            "total_bytes",
            "is_outgoing",
        ],
        p,
    );
    let maj = Table::read(conn, "message_attachment_join", "maj");
    let m = Table::read(conn, "message", "m");
    let h = Table::read(conn, "handle", "h");
    let link = maj.has("attachment_id") && maj.has("message_id");
    if !link {
        p.warn("table message_attachment_join not found or incomplete: attachments are not linked to messages");
    }
    let join_message = link && m.exists();
    let join_handle = join_message && h.has("id") && m.has("handle_id");
    let mut joins = String::new();
    if link {
        joins.push_str(&format!(
            " LEFT JOIN (SELECT {aid} AS aid, MIN({mid}) AS mid FROM {src} GROUP BY {aid}) am ON am.aid = a.ROWID",
            aid = maj.col("attachment_id"),
            mid = maj.col("message_id"),
            src = maj.source(),
        ));
    }
    if join_message {
        joins.push_str(&format!(" LEFT JOIN {} ON m.ROWID = am.mid", m.source()));
    }
    if join_handle {
        joins.push_str(&format!(
            " LEFT JOIN {} ON h.ROWID = {}",
            h.source(),
            m.col("handle_id")
        ));
    }
    let sql = format!(
        "SELECT a.ROWID, {created}, {filename}, {uti}, {mime}, {tname}, {total}, {outgoing}, {mid}, {from_me}, {handle}
         FROM {asrc}{joins} ORDER BY a.ROWID",
        created = a.col("created_date"),
        filename = a.col("filename"),
        uti = a.col("uti"),
        mime = a.col("mime_type"),
        tname = a.col("transfer_name"),
        total = a.col("total_bytes"),
        outgoing = a.col("is_outgoing"),
        mid = if link { "am.mid" } else { "NULL" },
        from_me = if join_message { m.col("is_from_me") } else { "NULL".into() },
        handle = if join_handle { h.col("id") } else { "NULL".into() },
        asrc = a.source(),
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([])?;
    let mut times = TimeProblems::default();
    let mut counts = AttachmentCounts::default();
    while let Some(r) = rows.next()? {
        let rowid = value_i64(r.get_ref(0)?).unwrap_or_default();
        let record = format!("attachment:{rowid}");
        let (created, created_raw) = cocoa_time(r.get_ref(1)?);
        let filename = nonempty(value_string(r.get_ref(2)?));
        let uti = nonempty(value_string(r.get_ref(3)?));
        let mime = nonempty(value_string(r.get_ref(4)?));
        let transfer_name = nonempty(value_string(r.get_ref(5)?));
        let total = value_i64(r.get_ref(6)?);
        let outgoing = value_i64(r.get_ref(7)?);
        let message_id = value_i64(r.get_ref(8)?);
        let msg_from_me = value_i64(r.get_ref(9)?);
        let handle = nonempty(value_string(r.get_ref(10)?));

        if created.is_none() {
            if created_raw {
                times.absurd.push(format!("{record}.created_date"));
            } else {
                times.no_time += 1;
            }
        }
        let sent = match outgoing {
            Some(v) => v == 1,
            None => msg_from_me == Some(1),
        };
        let kind = if sent {
            "attachment_sent"
        } else {
            "attachment_received"
        };
        let actor = if sent {
            "me".to_string()
        } else {
            handle.clone().unwrap_or_default()
        };
        let target = filename.clone().unwrap_or_default();

        let name = filename
            .as_deref()
            .filter(|f| f.contains('.'))
            .or(transfer_name.as_deref());
        let declared = Declared::of(name, uti.as_deref(), mime.as_deref());
        let mut tags: Vec<String> = Vec::new();
        if let Some(u) = &uti {
            tags.push(format!("uti:{u}"));
        }
        if let Some(d) = declared.primary() {
            tags.push(format!("declared:{}", d.name()));
        }
        let mut content = String::new();
        if let Some(f) = &filename {
            if f.split(['/', '\\']).any(|c| c == "..") {
                // Never resolved outside the container (`Evidence::sibling`), but worth
                // an analyst's eye: Messages does not write such paths.
                tags.push("path_traversal".into());
                p.warn(format!(
                    "{record}: attachment path {:?} climbs out of its folder (..); not followed",
                    one_line(f)
                ));
            }
            let (backup, fs) = attachment_location(f);
            let (domain, rel) = backup
                .as_ref()
                .map(|(d, r)| (*d, r.as_str()))
                .unwrap_or(("", ""));
            match p.evidence.sibling(p.artifact.container, (domain, rel), &fs) {
                Some(Lookup::Found(art)) => {
                    counts.present += 1;
                    let size = std::fs::metadata(&art.path).map(|m| m.len()).unwrap_or(0);
                    if size > MAX_SNIFF_FILE {
                        p.warn(format!(
                            "{record}: {} is {size} bytes; its type was not checked",
                            art.logical
                        ));
                        content = ", file present (not checked: too large)".into();
                    } else {
                        // Magic numbers sit in the first kilobyte; the whole file is
                        // still hashed, streamed.
                        match p.evidence.read_head(&art, 64 * 1024) {
                            Ok(bytes) => {
                                match sniff(&bytes) {
                                    Some(magic) => {
                                        tags.push(format!("magic:{}", magic.name()));
                                        content = format!(", content {}", magic.name());
                                        if declared.contradicted_by(magic) {
                                            tags.push("type_mismatch".into());
                                            counts.mismatched += 1;
                                            content.push_str(" — TYPE MISMATCH");
                                        }
                                    }
                                    None => content = ", content of unknown type".into(),
                                }
                                let ctx = InspectAt {
                                    record: &record,
                                    logical: &art.logical,
                                    ts: created,
                                    actor: &actor,
                                    target: &target,
                                };
                                let checks = inspect_attachment(p, &art, bytes, size, &ctx);
                                if !checks.is_empty() {
                                    counts.exploit += 1;
                                    content.push_str(" — EXPLOIT STRUCTURE");
                                }
                                for c in checks {
                                    tags.push(format!("exploit_structure:{c}"));
                                }
                            }
                            Err(e) => {
                                p.warn(format!("{record}: cannot read {}: {e}", art.logical));
                                content = ", file present but unreadable".into();
                            }
                        }
                    }
                    tags.push("file_present".into());
                }
                _ => {
                    counts.missing += 1;
                    tags.push("file_missing".into());
                    content = ", file not in the evidence".into();
                }
            }
        }
        let shown_name = transfer_name
            .as_deref()
            .or(filename.as_deref())
            .unwrap_or("(unnamed)");
        let mut line = format!(
            "{} attachment {}",
            if sent { "sent" } else { "received" },
            one_line(shown_name)
        );
        if !sent {
            line.push_str(&format!(
                " from {}",
                if actor.is_empty() {
                    "unknown sender"
                } else {
                    &actor
                }
            ));
        }
        let mut details: Vec<String> = Vec::new();
        if let Some(n) = total {
            details.push(format!("{n} bytes"));
        }
        if let Some(u) = &uti {
            details.push(format!("uti {u}"));
        }
        if let Some(mt) = &mime {
            details.push(format!("mime {mt}"));
        }
        if let Some(mid) = message_id {
            details.push(format!("message {mid}"));
        }
        if !details.is_empty() {
            line.push_str(&format!(" ({})", details.join(", ")));
        }
        if let Some(d) = declared.primary() {
            line.push_str(&format!(": declared {}", d.name()));
        }
        line.push_str(&content);
        let (bytes_in, bytes_out) = if sent { (None, total) } else { (total, None) };
        let mut e = Event::new("sms", kind, created)
            .actor(actor)
            .target(target)
            .message(line)
            .bytes(bytes_in, bytes_out)
            .at("", record);
        e.tags = tags;
        p.emit(e);
    }
    times.report("attachment", p);
    p.facts
        .insert("attachments_present".into(), counts.present.into());
    p.facts
        .insert("attachments_missing".into(), counts.missing.into());
    p.facts.insert(
        "attachment_type_mismatches".into(),
        counts.mismatched.into(),
    );
    p.facts.insert(
        "attachments_with_exploit_structure".into(),
        counts.exploit.into(),
    );
    Ok(())
}

/// Where an inspected attachment sits in the timeline.
struct InspectAt<'a> {
    record: &'a str,
    logical: &'a str,
    ts: Option<chrono::DateTime<chrono::Utc>>,
    actor: &'a str,
    target: &'a str,
}

/// Runs the exploit-structure inspector ([`crate::inspect`]) over an attachment whose
/// magic makes it relevant, reading the rest of the file only then, and emits one
/// `attachment`/`exploit_structure` row per finding. Returns the checks that fired.
fn inspect_attachment(
    p: &mut Parse<'_>,
    art: &crate::evidence::Artifact,
    head: Vec<u8>,
    size: u64,
    at: &InspectAt<'_>,
) -> Vec<&'static str> {
    use sha2::{Digest, Sha256};
    let relevant = crate::inspect::is_font(&head)
        || matches!(
            sniff(&head),
            Some(
                FileType::Jbig2
                    | FileType::Webp
                    | FileType::Pdf
                    | FileType::Psd
                    | FileType::Tiff
                    | FileType::Zip
                    | FileType::Png
                    | FileType::Gif
                    | FileType::Jpeg
            )
        );
    if !relevant {
        return Vec::new();
    }
    let limits = crate::inspect::Limits::default();
    let bytes = if size as usize > head.len() {
        match p.evidence.read_head(art, limits.max_bytes) {
            Ok(b) => b,
            Err(e) => {
                p.warn(format!(
                    "{}: cannot read {} for inspection: {e}",
                    at.record, at.logical
                ));
                return Vec::new();
            }
        }
    } else {
        head
    };
    // No name: the name-versus-magic check is the sms row's own `type_mismatch` tag.
    let report = crate::inspect::inspect(&bytes, None, &limits);
    for n in &report.notes {
        p.warn(format!("{}: {}: {}", at.record, at.logical, one_line(n)));
    }
    if report.findings.is_empty() {
        return Vec::new();
    }
    let sha = hex::encode(Sha256::digest(&bytes));
    let mut fired = Vec::new();
    for f in &report.findings {
        let within = if f.within.is_empty() {
            String::new()
        } else {
            format!(" in {}", one_line(&f.within))
        };
        let mut e = Event::new("attachment", "exploit_structure", at.ts)
            .actor(at.actor)
            .target(at.target)
            .message(format!(
                "{}: {} at offset {}{within}: {}",
                one_line(at.logical),
                f.check,
                f.offset,
                f.explanation
            ))
            .at(at.logical, at.record)
            .tag(format!("check:{}", f.check))
            .tag(format!("offset:{}", f.offset))
            .tag(format!("sha256:{sha}"));
        if !f.within.is_empty() {
            e = e.tag(format!("within:{}", one_line(&f.within)));
        }
        p.emit(e);
        if !fired.contains(&f.check) {
            fired.push(f.check);
        }
    }
    fired
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{b, brief, filesystem, run, snapshot, sqlite_bytes, Backup};
    use super::super::typedstream::tests::attributed_body;
    use super::*;

    /// sms.db tables as iOS 14.3 writes them (`handle`, `message` copied from the MVT test
    /// backup's schema; `chat`, the join tables and `attachment` as Apple ships them).
    const SCHEMA: &str = "
        CREATE TABLE handle (ROWID INTEGER PRIMARY KEY AUTOINCREMENT UNIQUE, id TEXT NOT NULL, country TEXT, service TEXT NOT NULL, uncanonicalized_id TEXT, person_centric_id TEXT, UNIQUE (id, service) );
        CREATE TABLE message (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL, text TEXT, replace INTEGER DEFAULT 0, service_center TEXT, handle_id INTEGER DEFAULT 0, subject TEXT, country TEXT, attributedBody BLOB, version INTEGER DEFAULT 0, type INTEGER DEFAULT 0, service TEXT, account TEXT, account_guid TEXT, error INTEGER DEFAULT 0, date INTEGER, date_read INTEGER, date_delivered INTEGER, is_delivered INTEGER DEFAULT 0, is_finished INTEGER DEFAULT 0, is_emote INTEGER DEFAULT 0, is_from_me INTEGER DEFAULT 0, is_empty INTEGER DEFAULT 0, is_delayed INTEGER DEFAULT 0, is_auto_reply INTEGER DEFAULT 0, is_prepared INTEGER DEFAULT 0, is_read INTEGER DEFAULT 0, is_system_message INTEGER DEFAULT 0, is_sent INTEGER DEFAULT 0, has_dd_results INTEGER DEFAULT 0, is_service_message INTEGER DEFAULT 0, is_forward INTEGER DEFAULT 0, was_downgraded INTEGER DEFAULT 0, is_archive INTEGER DEFAULT 0, cache_has_attachments INTEGER DEFAULT 0, cache_roomnames TEXT, was_data_detected INTEGER DEFAULT 0, was_deduplicated INTEGER DEFAULT 0, is_audio_message INTEGER DEFAULT 0, is_played INTEGER DEFAULT 0, date_played INTEGER, item_type INTEGER DEFAULT 0, other_handle INTEGER DEFAULT 0, group_title TEXT, group_action_type INTEGER DEFAULT 0, share_status INTEGER DEFAULT 0, share_direction INTEGER DEFAULT 0, is_expirable INTEGER DEFAULT 0, expire_state INTEGER DEFAULT 0, message_action_type INTEGER DEFAULT 0, message_source INTEGER DEFAULT 0, associated_message_guid TEXT, associated_message_type INTEGER DEFAULT 0, balloon_bundle_id TEXT, payload_data BLOB, expressive_send_style_id TEXT, associated_message_range_location INTEGER DEFAULT 0, associated_message_range_length INTEGER DEFAULT 0, time_expressive_send_played INTEGER, message_summary_info BLOB, ck_sync_state INTEGER DEFAULT 0, ck_record_id TEXT, ck_record_change_tag TEXT, destination_caller_id TEXT, sr_ck_sync_state INTEGER DEFAULT 0, sr_ck_record_id TEXT, sr_ck_record_change_tag TEXT, is_corrupt INTEGER DEFAULT 0, reply_to_guid TEXT DEFAULT NULL, sort_id INTEGER DEFAULT 0, is_spam INTEGER DEFAULT 0, has_unseen_mention INTEGER DEFAULT 0, thread_originator_guid TEXT DEFAULT NULL, thread_originator_part TEXT DEFAULT NULL);
        CREATE TABLE chat (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL, style INTEGER, state INTEGER, account_id TEXT, properties BLOB, chat_identifier TEXT, service_name TEXT, room_name TEXT, account_login TEXT, is_archived INTEGER DEFAULT 0, last_addressed_handle TEXT, display_name TEXT, group_id TEXT, is_filtered INTEGER, successful_query INTEGER, engram_id TEXT, server_change_token TEXT, ck_sync_state INTEGER DEFAULT 0, original_group_id TEXT, last_read_message_timestamp INTEGER DEFAULT 0, sr_server_change_token TEXT, sr_ck_sync_state INTEGER DEFAULT 0, cloudkit_record_id TEXT, sr_cloudkit_record_id TEXT, last_addressed_sim_id TEXT, is_blackholed INTEGER DEFAULT 0);
        CREATE TABLE chat_handle_join (chat_id INTEGER REFERENCES chat (ROWID) ON DELETE CASCADE, handle_id INTEGER REFERENCES handle (ROWID) ON DELETE CASCADE, UNIQUE(chat_id, handle_id));
        CREATE TABLE chat_message_join (chat_id INTEGER REFERENCES chat (ROWID) ON DELETE CASCADE, message_id INTEGER REFERENCES message (ROWID) ON DELETE CASCADE, message_date INTEGER DEFAULT 0, PRIMARY KEY (chat_id, message_id));
        CREATE TABLE attachment (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL, created_date INTEGER DEFAULT 0, start_date INTEGER DEFAULT 0, filename TEXT, uti TEXT, mime_type TEXT, transfer_state INTEGER DEFAULT 0, is_outgoing INTEGER DEFAULT 0, user_info BLOB, transfer_name TEXT, total_bytes INTEGER DEFAULT 0, is_sticker INTEGER DEFAULT 0, sticker_user_info BLOB, attribution_info BLOB, hide_attachment INTEGER DEFAULT 0, ck_sync_state INTEGER DEFAULT 0, ck_server_change_token_blob BLOB, ck_record_id TEXT, original_guid TEXT UNIQUE NOT NULL, sr_ck_sync_state INTEGER DEFAULT 0, sr_ck_server_change_token_blob BLOB, sr_ck_record_id TEXT, is_commsafety_sensitive INTEGER DEFAULT 0);
        CREATE TABLE message_attachment_join (message_id INTEGER REFERENCES message (ROWID) ON DELETE CASCADE, attachment_id INTEGER REFERENCES attachment (ROWID) ON DELETE CASCADE, UNIQUE(message_id, attachment_id));
    ";

    /// The real test backup's sms.db: only these two tables (iOS 14.3 columns).
    fn mvt_like_schema() -> String {
        SCHEMA.split(';').take(2).collect::<Vec<_>>().join(";") + ";"
    }

    // 2019-08-29 23:13:30.539788 UTC in Cocoa nanoseconds (the real test message).
    const T0_NS: i64 = 588_813_210_539_788_032;

    fn modern_db() -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sms.db");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        conn.execute_batch(
            "INSERT INTO handle (ROWID, id, country, service) VALUES (1, '+15551234567', 'us', 'iMessage'), (2, 'attacker@example.com', 'us', 'iMessage');
             INSERT INTO chat (ROWID, guid, chat_identifier, service_name) VALUES (1, 'iMessage;-;+15551234567', '+15551234567', 'iMessage'), (2, 'iMessage;+;chat42', 'chat42', 'iMessage');",
        )
        .unwrap();
        let ins = "INSERT INTO message (ROWID, guid, text, attributedBody, handle_id, service, date, date_read, date_delivered, is_from_me, cache_has_attachments, balloon_bundle_id)
                   VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
        let none: Option<Vec<u8>> = None;
        // 1: received iMessage, read 5 s later.
        conn.execute(
            ins,
            rusqlite::params![
                1,
                "g1",
                "Hello there",
                none,
                1,
                "iMessage",
                T0_NS,
                T0_NS + 5_000_000_000,
                0,
                0,
                0,
                None::<String>
            ],
        )
        .unwrap();
        // 2: sent to a group (handle_id 0), body only in attributedBody, delivered.
        conn.execute(
            ins,
            rusqlite::params![
                2,
                "g2",
                None::<String>,
                attributed_body("On my way 🚗", false),
                0,
                "iMessage",
                T0_NS + 60_000_000_000,
                0,
                T0_NS + 61_000_000_000,
                1,
                0,
                None::<String>
            ],
        )
        .unwrap();
        // 3: old-style seconds date, no handle, no chat, SMS.
        conn.execute(
            ins,
            rusqlite::params![
                3,
                "g3",
                "line one\nline two",
                none,
                0,
                "SMS",
                588_813_300i64,
                0,
                0,
                0,
                0,
                None::<String>
            ],
        )
        .unwrap();
        // 4: zero-click style: attachment from an unknown iMessage account.
        conn.execute(
            ins,
            rusqlite::params![
                4,
                "g4",
                "\u{fffc}",
                none,
                2,
                "iMessage",
                T0_NS + 120_000_000_000,
                0,
                0,
                0,
                1,
                None::<String>
            ],
        )
        .unwrap();
        // 5: no date at all; undecodable body.
        conn.execute(
            ins,
            rusqlite::params![
                5,
                "g5",
                None::<String>,
                b"garbage".to_vec(),
                1,
                "iMessage",
                0,
                0,
                0,
                0,
                0,
                "com.apple.messages.URLBalloonProvider"
            ],
        )
        .unwrap();
        conn.execute_batch(
            "INSERT INTO attachment (ROWID, guid, original_guid, created_date, filename, uti, mime_type, transfer_name, total_bytes, is_outgoing) VALUES
               (1, 'a1', 'a1', 588813330, '~/Library/SMS/Attachments/0a/10/A1/ab3kd9Qx1z.gif', 'com.compuserve.gif', 'image/gif', 'ab3kd9Qx1z.gif', 4096, 0),
               (2, 'a2', 'a2', 588813331, '~/Library/SMS/Attachments/0b/11/A2/real.gif', 'com.compuserve.gif', 'image/gif', 'real.gif', 10, 0),
               (3, 'a3', 'a3', 588813332, '~/Library/SMS/Attachments/0c/12/A3/IMG_0001.jpeg', 'public.jpeg', 'image/jpeg', 'IMG_0001.jpeg', 2000, 0),
               (4, 'a4', 'a4', 588813333, '/var/mobile/Library/SMS/Attachments/0d/13/A4/x.gif', 'com.compuserve.gif', 'image/gif', 'x.gif', 6, 1),
               (5, 'a5', 'a5', 0, NULL, NULL, NULL, NULL, NULL, 0);
             INSERT INTO message_attachment_join (message_id, attachment_id) VALUES (4, 1), (4, 2), (4, 3), (2, 4);
             INSERT INTO chat_message_join (chat_id, message_id) VALUES (1, 1), (2, 2), (1, 4);",
        )
        .unwrap();
        drop(conn);
        std::fs::read(path).unwrap()
    }

    #[test]
    fn backup_messages_and_attachments() {
        let bk = Backup::new();
        bk.add("HomeDomain", "Library/SMS/sms.db", &modern_db());
        // A PDF disguised as GIF (FORCEDENTRY), a real GIF, a listed-but-deleted JPEG, a PSD sent as GIF.
        bk.add(
            "MediaDomain",
            "Library/SMS/Attachments/0a/10/A1/ab3kd9Qx1z.gif",
            b"%PDF-1.3\n%\xe2\xe3\xcf\xd3\n1 0 obj",
        );
        bk.add(
            "MediaDomain",
            "Library/SMS/Attachments/0b/11/A2/real.gif",
            b"GIF89a\x01\x00\x01\x00",
        );
        bk.list(
            "MediaDomain",
            "Library/SMS/Attachments/0c/12/A3/IMG_0001.jpeg",
            1,
        );
        bk.add(
            "MediaDomain",
            "Library/SMS/Attachments/0d/13/A4/x.gif",
            b"8BPS\x00\x01",
        );
        let before = snapshot(bk.root());
        let r = run(&Sms, bk.root());
        let o = r.only();
        assert_eq!(o.artifact, "HomeDomain/Library/SMS/sms.db");
        assert_eq!(o.error, None);
        let im = "imessage";
        assert_eq!(
            brief(&o.rows),
            vec![
                b(
                    "message_received",
                    "2019-08-29T23:13:30.539788Z",
                    "+15551234567",
                    "+15551234567",
                    "message:1",
                    &[im]
                ),
                b(
                    "message_read",
                    "2019-08-29T23:13:35.539788Z",
                    "+15551234567",
                    "+15551234567",
                    "message:1",
                    &[im]
                ),
                b(
                    "message_sent",
                    "2019-08-29T23:14:30.539788Z",
                    "me",
                    "chat42",
                    "message:2",
                    &[im, "from_me", "text_from_attributed_body"]
                ),
                b(
                    "message_delivered",
                    "2019-08-29T23:14:31.539788Z",
                    "me",
                    "chat42",
                    "message:2",
                    &[im, "from_me", "text_from_attributed_body"]
                ),
                b(
                    "message_received",
                    "2019-08-29T23:15:00.000000Z",
                    "",
                    "",
                    "message:3",
                    &["sms"]
                ),
                b(
                    "message_received",
                    "2019-08-29T23:15:30.539788Z",
                    "attacker@example.com",
                    "+15551234567",
                    "message:4",
                    &[im, "has_attachment"]
                ),
                b(
                    "message_received",
                    "",
                    "+15551234567",
                    "",
                    "message:5",
                    &[im]
                ),
                b(
                    "attachment_received",
                    "2019-08-29T23:15:30.000000Z",
                    "attacker@example.com",
                    "~/Library/SMS/Attachments/0a/10/A1/ab3kd9Qx1z.gif",
                    "attachment:1",
                    &[
                        "uti:com.compuserve.gif",
                        "declared:gif",
                        "magic:pdf",
                        "type_mismatch",
                        "file_present"
                    ]
                ),
                b(
                    "attachment_received",
                    "2019-08-29T23:15:31.000000Z",
                    "attacker@example.com",
                    "~/Library/SMS/Attachments/0b/11/A2/real.gif",
                    "attachment:2",
                    &[
                        "uti:com.compuserve.gif",
                        "declared:gif",
                        "magic:gif",
                        "file_present"
                    ]
                ),
                b(
                    "attachment_received",
                    "2019-08-29T23:15:32.000000Z",
                    "attacker@example.com",
                    "~/Library/SMS/Attachments/0c/12/A3/IMG_0001.jpeg",
                    "attachment:3",
                    &["uti:public.jpeg", "declared:jpeg", "file_missing"]
                ),
                b(
                    "attachment_sent",
                    "2019-08-29T23:15:33.000000Z",
                    "me",
                    "/var/mobile/Library/SMS/Attachments/0d/13/A4/x.gif",
                    "attachment:4",
                    &[
                        "uti:com.compuserve.gif",
                        "declared:gif",
                        "magic:psd",
                        "type_mismatch",
                        "file_present"
                    ]
                ),
                b("attachment_received", "", "", "", "attachment:5", &[]),
            ]
        );
        let msg = |rec: &str, kind: &str| {
            o.rows
                .iter()
                .find(|r| r.record == rec && r.kind == kind)
                .unwrap()
                .message
                .clone()
        };
        assert_eq!(
            msg("message:1", "message_received"),
            "iMessage from +15551234567: Hello there"
        );
        assert_eq!(
            msg("message:2", "message_sent"),
            "iMessage to chat42: On my way 🚗"
        );
        assert_eq!(
            msg("message:3", "message_received"),
            "SMS from unknown sender: line one line two"
        );
        assert_eq!(
            msg("message:4", "message_received"),
            "iMessage from attacker@example.com in chat +15551234567 with attachment: [attachment]"
        );
        assert_eq!(
            msg("message:5", "message_received"),
            "iMessage from +15551234567 (com.apple.messages.URLBalloonProvider): (no text)"
        );
        assert_eq!(
            msg("attachment:1", "attachment_received"),
            "received attachment ab3kd9Qx1z.gif from attacker@example.com (4096 bytes, uti com.compuserve.gif, mime image/gif, message 4): declared gif, content pdf — TYPE MISMATCH"
        );
        let a1 = o.rows.iter().find(|r| r.record == "attachment:1").unwrap();
        assert_eq!((a1.bytes_in, a1.bytes_out), (Some(4096), None));
        let a4 = o.rows.iter().find(|r| r.record == "attachment:4").unwrap();
        assert_eq!((a4.bytes_in, a4.bytes_out), (None, Some(6)));
        assert!(o
            .rows
            .iter()
            .all(|r| r.source == "sms" && r.artifact == "HomeDomain/Library/SMS/sms.db"));
        assert_eq!(
            o.warnings,
            vec![
                "1 message rows have no time (zero or NULL); kept without a time".to_string(),
                "1 attributedBody blobs could not be decoded: message:5 (not a typedstream archive)".to_string(),
                "1 attachment rows have no time (zero or NULL); kept without a time".to_string(),
            ]
        );
        assert_eq!(o.facts.get("attachments_present"), Some(&3.into()));
        assert_eq!(o.facts.get("attachments_missing"), Some(&1.into()));
        assert_eq!(o.facts.get("attachment_type_mismatches"), Some(&2.into()));
        assert_eq!(snapshot(bk.root()), before);
    }

    #[test]
    fn attachment_with_exploit_structure_gets_its_own_row() {
        use sha2::{Digest, Sha256};
        let bk = Backup::new();
        bk.add("HomeDomain", "Library/SMS/sms.db", &modern_db());
        // Attachment 1: a PDF named .gif (type mismatch only, no exploit structure).
        bk.add(
            "MediaDomain",
            "Library/SMS/Attachments/0a/10/A1/ab3kd9Qx1z.gif",
            b"%PDF-1.3\n1 0 obj\n<< >>\nendobj\n",
        );
        // Attachment 2: a GIF whose comment extension (GIF89a spec, section 24)
        // carries a PDF header at byte 16.
        let mut gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00\x21\xfe\x09".to_vec();
        gif.extend(b"%PDF-1.7\n\x00\x3b");
        bk.add(
            "MediaDomain",
            "Library/SMS/Attachments/0b/11/A2/real.gif",
            &gif,
        );
        let r = run(&Sms, bk.root());
        let o = r.only();
        let found: Vec<_> = o
            .rows
            .iter()
            .filter(|e| e.kind == "exploit_structure")
            .collect();
        assert_eq!(found.len(), 1, "{found:?}");
        let e = found[0];
        assert_eq!(e.source, "attachment");
        assert_eq!(e.record, "attachment:2");
        assert!(
            e.artifact.ends_with("Attachments/0b/11/A2/real.gif"),
            "{}",
            e.artifact
        );
        assert_eq!(e.actor, "attacker@example.com");
        let sha = hex::encode(Sha256::digest(&gif));
        for t in [
            "check:container_in_image".to_string(),
            "offset:16".into(),
            format!("sha256:{sha}"),
        ] {
            assert!(e.tags.contains(&t), "{t} not in {:?}", e.tags);
        }
        let received = |rec: &str| {
            o.rows
                .iter()
                .find(|r| r.record == rec && r.kind == "attachment_received")
                .unwrap()
                .tags
                .clone()
        };
        assert!(received("attachment:2").contains(&"exploit_structure:container_in_image".into()));
        assert!(!received("attachment:1")
            .iter()
            .any(|t| t.starts_with("exploit_structure")));
        assert_eq!(
            o.facts.get("attachments_with_exploit_structure"),
            Some(&1.into())
        );
    }

    #[test]
    fn filesystem_dump_without_attachment_table() {
        // The shape of the real MVT sms.db: handle + message only, message with NULL service.
        let db = sqlite_bytes(&format!(
            "{}
             INSERT INTO handle (ROWID, id, country, service) VALUES (1, 'apple', 'us', 'SMS');
             INSERT INTO message (ROWID, guid, text, handle_id, date, date_read, date_delivered) VALUES
               (3, 'FDC6EC94', 'Please click here https://badbadbad.example.org/', 1, 588813210539788032, 588813210539900000, NULL);",
            mvt_like_schema()
        ));
        let fs = filesystem(&[("private/var/mobile/Library/SMS/sms.db", &db)]);
        let r = run(&Sms, fs.path());
        let o = r.only();
        assert_eq!(o.artifact, "private/var/mobile/Library/SMS/sms.db");
        assert_eq!(o.error, None);
        assert_eq!(
            brief(&o.rows),
            vec![
                b(
                    "message_received",
                    "2019-08-29T23:13:30.539788Z",
                    "apple",
                    "",
                    "message:3",
                    &[]
                ),
                b(
                    "message_read",
                    "2019-08-29T23:13:30.539900Z",
                    "apple",
                    "",
                    "message:3",
                    &[]
                ),
                // ROWIDs 1-2 are gone (AUTOINCREMENT keys start at 1), as in the real file.
                b(
                    "messages_deleted",
                    "2019-08-29T23:13:30.539788Z",
                    "",
                    "",
                    "message:1-2",
                    &["deleted_rows:2", "until:2019-08-29T23:13:30.539788Z"]
                ),
            ]
        );
        assert_eq!(
            o.rows[0].message,
            "message from apple: Please click here https://badbadbad.example.org/"
        );
        assert_eq!(
            o.warnings,
            vec![
                "tables chat/chat_message_join not found or incomplete: messages have no chat identifier".to_string(),
                "table attachment not found: no attachment rows".to_string(),
            ]
        );
    }

    #[test]
    fn a_message_in_several_chats_takes_the_lowest_chat() {
        // Message 1 sits in chats 3 and 2 (2 wins), message 2 in a chat without an
        // identifier, message 3 in a chat that is gone, message 4 in none.
        // (A join row left behind by a deleted chat needs foreign keys off.)
        let db = sqlite_bytes(&format!(
            "PRAGMA foreign_keys = OFF;
             {SCHEMA}
             INSERT INTO handle (ROWID, id, service) VALUES (1, '+15550001111', 'iMessage');
             INSERT INTO chat (ROWID, guid, chat_identifier) VALUES (2, 'c2', 'chat-two'), (3, 'c3', 'chat-three'), (4, 'c4', NULL);
             INSERT INTO message (ROWID, guid, text, handle_id, service, date) VALUES
               (1, 'm1', 'a', 1, 'iMessage', 600000000000000000),
               (2, 'm2', 'b', 1, 'iMessage', 600000001000000000),
               (3, 'm3', 'c', 1, 'iMessage', 600000002000000000),
               (4, 'm4', 'd', 1, 'iMessage', 600000003000000000);
             INSERT INTO chat_message_join (chat_id, message_id) VALUES (3, 1), (2, 1), (4, 2), (9, 3);"
        ));
        let fs = filesystem(&[("private/var/mobile/Library/SMS/sms.db", &db)]);
        let r = run(&Sms, fs.path());
        let o = r.only();
        let targets: Vec<(&str, &str)> = o
            .rows
            .iter()
            .map(|e| (e.record.as_str(), e.target.as_str()))
            .collect();
        assert_eq!(
            targets,
            vec![
                ("message:1", "chat-two"),
                ("message:2", ""),
                ("message:3", ""),
                ("message:4", ""),
            ]
        );
        assert_eq!(
            o.rows[0].message,
            "iMessage from +15550001111 in chat chat-two: a"
        );
    }

    #[test]
    fn oldest_minimal_schema_still_reads() {
        // A message table with few columns: everything else is NULL, with a warning.
        let db = sqlite_bytes(
            "CREATE TABLE message (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT, handle_id INTEGER DEFAULT 0, date INTEGER, is_from_me INTEGER DEFAULT 0);
             INSERT INTO message VALUES (7, 'old', 0, 300000000, 1);",
        );
        let fs = filesystem(&[("private/var/mobile/Library/SMS/sms.db", &db)]);
        let r = run(&Sms, fs.path());
        let o = r.only();
        assert_eq!(
            brief(&o.rows),
            vec![
                b(
                    "message_sent",
                    "2010-07-05T05:20:00.000000Z",
                    "me",
                    "",
                    "message:7",
                    &["from_me"]
                ),
                // AUTOINCREMENT keys start at 1: ROWIDs 1-6 were stored and deleted
                // before message 7 (no time of their own: the row before is missing).
                b(
                    "messages_deleted",
                    "2010-07-05T05:20:00.000000Z",
                    "",
                    "",
                    "message:1-6",
                    &["deleted_rows:6", "until:2010-07-05T05:20:00.000000Z"]
                ),
            ]
        );
        assert!(o.warnings[0].starts_with("table message lacks columns attributedBody, service, date_read, date_delivered, cache_has_attachments"));
        assert!(o
            .warnings
            .contains(&"table handle not found: senders are unknown".to_string()));
    }

    #[test]
    fn wal_rows_are_read_and_evidence_untouched() {
        let build = tempfile::tempdir().unwrap();
        let path = build.path().join("sms.db");
        let conn = rusqlite::Connection::open(&path).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        conn.execute_batch(&mvt_like_schema()).unwrap();
        conn.execute_batch(
            "INSERT INTO handle (ROWID, id, country, service) VALUES (1, 'apple', 'us', 'SMS');
             INSERT INTO message (ROWID, guid, text, handle_id, date) VALUES (1, 'old', 'checkpointed', 1, 588813210000000000);
             PRAGMA wal_checkpoint(TRUNCATE);
             PRAGMA wal_autocheckpoint=0;
             INSERT INTO message (ROWID, guid, text, handle_id, date) VALUES (2, 'new', 'only in the WAL', 1, 588813270000000000);",
        )
        .unwrap();
        // Copy while the writer is open: closing would checkpoint the WAL into the file.
        let wal = std::fs::read(build.path().join("sms.db-wal")).unwrap();
        assert!(!wal.is_empty());
        let main = std::fs::read(&path).unwrap();
        let shm = std::fs::read(build.path().join("sms.db-shm")).unwrap();
        let fs = filesystem(&[
            ("private/var/mobile/Library/SMS/sms.db", &main),
            ("private/var/mobile/Library/SMS/sms.db-wal", &wal),
            ("private/var/mobile/Library/SMS/sms.db-shm", &shm),
        ]);
        drop(conn);
        // The main file alone does not hold message 2.
        let check = tempfile::tempdir().unwrap();
        std::fs::write(check.path().join("x.db"), &main).unwrap();
        let n: i64 = rusqlite::Connection::open(check.path().join("x.db"))
            .unwrap()
            .query_row("SELECT count(*) FROM message", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);

        let before = snapshot(fs.path());
        let r = run(&Sms, fs.path());
        let o = r.only();
        assert_eq!(
            brief(&o.rows),
            vec![
                b(
                    "message_received",
                    "2019-08-29T23:13:30.000000Z",
                    "apple",
                    "",
                    "message:1",
                    &[]
                ),
                b(
                    "message_received",
                    "2019-08-29T23:14:30.000000Z",
                    "apple",
                    "",
                    "message:2",
                    &[]
                ),
            ]
        );
        assert_eq!(o.rows[1].message, "message from apple: only in the WAL");
        assert_eq!(o.facts.get("wal"), Some(&true.into()));
        assert_eq!(snapshot(fs.path()), before, "the evidence folder changed");
    }

    #[test]
    fn garbage_file_is_an_error_not_a_panic() {
        for bytes in [
            b"this is not a database at all, just text".to_vec(),
            modern_db()[..5000].to_vec(),
            vec![0u8; 4096],
        ] {
            let fs = filesystem(&[("private/var/mobile/Library/SMS/sms.db", &bytes)]);
            let r = run(&Sms, fs.path());
            let o = r.only();
            assert!(
                o.error.is_some(),
                "no error for a damaged file: {:?}",
                o.warnings
            );
        }
        let fs = filesystem(&[(
            "private/var/mobile/Library/SMS/sms.db",
            b"SQLite format 3\0garbage garbage garbage",
        )]);
        assert!(run(&Sms, fs.path()).only().error.is_some());
    }

    /// Scale check, run by hand: `cargo test --lib sms::tests::scale -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn scale() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sms.db");
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        let n = 200_000i64;
        let tx = conn.transaction().unwrap();
        tx.execute(
            "INSERT INTO handle (ROWID, id, service) VALUES (1, '+15550000000', 'iMessage')",
            [],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO chat (ROWID, guid, chat_identifier) VALUES (1, 'c', '+15550000000')",
            [],
        )
        .unwrap();
        let body = attributed_body(
            "a message body of ordinary length, with a link https://example.org/",
            false,
        );
        for i in 1..=n {
            let text: Option<&str> = if i % 2 == 0 {
                Some("plain text body")
            } else {
                None
            };
            tx.execute(
                "INSERT INTO message (ROWID, guid, text, attributedBody, handle_id, service, date, date_read, is_from_me) VALUES (?1, ?2, ?3, ?4, 1, 'iMessage', ?5, ?6, ?7)",
                rusqlite::params![i, format!("g{i}"), text, body, T0_NS + i * 1_000_000_000, T0_NS + i * 1_000_000_000 + 5, i % 3 == 0],
            )
            .unwrap();
            tx.execute(
                "INSERT INTO chat_message_join (chat_id, message_id) VALUES (1, ?1)",
                [i],
            )
            .unwrap();
            if i % 10 == 0 {
                tx.execute(
                    "INSERT INTO attachment (ROWID, guid, original_guid, created_date, filename, uti, transfer_name) VALUES (?1, ?2, ?2, 588813330, ?3, 'public.jpeg', 'a.jpeg')",
                    rusqlite::params![i, format!("a{i}"), format!("~/Library/SMS/Attachments/00/00/{i}/a.jpeg")],
                )
                .unwrap();
                tx.execute("INSERT INTO message_attachment_join (message_id, attachment_id) VALUES (?1, ?1)", [i]).unwrap();
            }
        }
        tx.commit().unwrap();
        drop(conn);
        let fs = filesystem(&[(
            "private/var/mobile/Library/SMS/sms.db",
            &std::fs::read(&path).unwrap(),
        )]);
        let ev = Evidence::discover(&[fs.path().to_path_buf()]).unwrap();
        let Some(Lookup::Found(art)) = Sms.discover(&ev).into_iter().next() else {
            panic!("sms.db not found")
        };
        let mut p = Parse::new(&ev, &art);
        let t = std::time::Instant::now();
        Sms.parse(&mut p).unwrap();
        eprintln!(
            "{n} messages ({} attachments): {} rows parsed in {:.2?}",
            n / 10,
            p.rows(),
            t.elapsed()
        );
    }

    #[test]
    fn attachment_paths() {
        assert_eq!(
            attachment_location("~/Library/SMS/Attachments/0a/10/G/x.gif"),
            (
                Some((
                    "MediaDomain",
                    "Library/SMS/Attachments/0a/10/G/x.gif".to_string()
                )),
                "private/var/mobile/Library/SMS/Attachments/0a/10/G/x.gif".to_string()
            )
        );
        assert_eq!(
            attachment_location("/private/var/mobile/Library/SMS/Attachments/0a/10/G/x.gif").0,
            Some((
                "MediaDomain",
                "Library/SMS/Attachments/0a/10/G/x.gif".to_string()
            ))
        );
        assert_eq!(
            attachment_location("/var/tmp/com.apple.messages/x-1"),
            (None, "private/var/tmp/com.apple.messages/x-1".to_string())
        );
    }
}
