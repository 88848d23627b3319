//! HomeDomain `Library/SMS/sms.db` with the tables and columns of the iOS version
//! the phone runs. The iOS 14 `message`, `handle` and `chat` columns are those of the
//! real iOS 14.3 file in MVT's test backup; iOS 15 added the syndication and
//! quiet-delivery columns, iOS 16 edit/unsend and `part_count` (column lists as
//! documented by imessage-exporter). Times: `date*` in Cocoa nanoseconds,
//! `attachment.created_date` in Cocoa seconds.

use std::path::Path;

use rusqlite::{params, Connection};

use super::backup::{create_db, finish_db};
use super::clock::{self, SEC};
use super::model::{Ios, Media, Truth, World};
use super::typedstream::attributed_body;
use super::{sql_err, SampleError};

pub const ARTIFACT: &str = "HomeDomain/Library/SMS/sms.db";

const MESSAGE_14: &str = "ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL, text TEXT, replace INTEGER DEFAULT 0, service_center TEXT, handle_id INTEGER DEFAULT 0, subject TEXT, country TEXT, attributedBody BLOB, version INTEGER DEFAULT 0, type INTEGER DEFAULT 0, service TEXT, account TEXT, account_guid TEXT, error INTEGER DEFAULT 0, date INTEGER, date_read INTEGER, date_delivered INTEGER, is_delivered INTEGER DEFAULT 0, is_finished INTEGER DEFAULT 0, is_emote INTEGER DEFAULT 0, is_from_me INTEGER DEFAULT 0, is_empty INTEGER DEFAULT 0, is_delayed INTEGER DEFAULT 0, is_auto_reply INTEGER DEFAULT 0, is_prepared INTEGER DEFAULT 0, is_read INTEGER DEFAULT 0, is_system_message INTEGER DEFAULT 0, is_sent INTEGER DEFAULT 0, has_dd_results INTEGER DEFAULT 0, is_service_message INTEGER DEFAULT 0, is_forward INTEGER DEFAULT 0, was_downgraded INTEGER DEFAULT 0, is_archive INTEGER DEFAULT 0, cache_has_attachments INTEGER DEFAULT 0, cache_roomnames TEXT, was_data_detected INTEGER DEFAULT 0, was_deduplicated INTEGER DEFAULT 0, is_audio_message INTEGER DEFAULT 0, is_played INTEGER DEFAULT 0, date_played INTEGER, item_type INTEGER DEFAULT 0, other_handle INTEGER DEFAULT 0, group_title TEXT, group_action_type INTEGER DEFAULT 0, share_status INTEGER DEFAULT 0, share_direction INTEGER DEFAULT 0, is_expirable INTEGER DEFAULT 0, expire_state INTEGER DEFAULT 0, message_action_type INTEGER DEFAULT 0, message_source INTEGER DEFAULT 0, associated_message_guid TEXT, associated_message_type INTEGER DEFAULT 0, balloon_bundle_id TEXT, payload_data BLOB, expressive_send_style_id TEXT, associated_message_range_location INTEGER DEFAULT 0, associated_message_range_length INTEGER DEFAULT 0, time_expressive_send_played INTEGER, message_summary_info BLOB, ck_sync_state INTEGER DEFAULT 0, ck_record_id TEXT, ck_record_change_tag TEXT, destination_caller_id TEXT, sr_ck_sync_state INTEGER DEFAULT 0, sr_ck_record_id TEXT, sr_ck_record_change_tag TEXT, is_corrupt INTEGER DEFAULT 0, reply_to_guid TEXT DEFAULT NULL, sort_id INTEGER DEFAULT 0, is_spam INTEGER DEFAULT 0, has_unseen_mention INTEGER DEFAULT 0, thread_originator_guid TEXT DEFAULT NULL, thread_originator_part TEXT DEFAULT NULL";
const MESSAGE_15: &str = ", syndication_ranges TEXT DEFAULT NULL, synced_syndication_ranges TEXT DEFAULT NULL, was_delivered_quietly INTEGER DEFAULT 0, did_notify_recipient INTEGER DEFAULT 0";
const MESSAGE_16: &str = ", date_retracted INTEGER DEFAULT 0, date_edited INTEGER DEFAULT 0, was_detonated INTEGER DEFAULT 0, part_count INTEGER, is_stewie INTEGER DEFAULT 0";

const CHAT_14: &str = "ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL, style INTEGER, state INTEGER, account_id TEXT, properties BLOB, chat_identifier TEXT, service_name TEXT, room_name TEXT, account_login TEXT, is_archived INTEGER DEFAULT 0, last_addressed_handle TEXT, display_name TEXT, group_id TEXT, is_filtered INTEGER DEFAULT 0, successful_query INTEGER, engram_id TEXT, server_change_token TEXT, ck_sync_state INTEGER DEFAULT 0, original_group_id TEXT, last_read_message_timestamp INTEGER DEFAULT 0, sr_server_change_token TEXT, sr_ck_sync_state INTEGER DEFAULT 0, cloudkit_record_id TEXT, sr_cloudkit_record_id TEXT, last_addressed_sim_id TEXT, is_blackholed INTEGER DEFAULT 0";
const CHAT_16: &str = ", syndication_date INTEGER DEFAULT 0, syndication_type INTEGER DEFAULT 0";

const ATTACHMENT_14: &str = "ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL, created_date INTEGER DEFAULT 0, start_date INTEGER DEFAULT 0, filename TEXT, uti TEXT, mime_type TEXT, transfer_state INTEGER DEFAULT 0, is_outgoing INTEGER DEFAULT 0, user_info BLOB, transfer_name TEXT, total_bytes INTEGER DEFAULT 0, is_sticker INTEGER DEFAULT 0, sticker_user_info BLOB, attribution_info BLOB, hide_attachment INTEGER DEFAULT 0, ck_sync_state INTEGER DEFAULT 0, ck_server_change_token_blob BLOB, ck_record_id TEXT, original_guid TEXT UNIQUE NOT NULL, sr_ck_sync_state INTEGER DEFAULT 0, sr_ck_server_change_token_blob BLOB, sr_ck_record_id TEXT";
const ATTACHMENT_15: &str = ", is_commsafety_sensitive INTEGER DEFAULT 0";

const OTHER_TABLES: &str = "
CREATE TABLE _SqliteDatabaseProperties (key TEXT, value TEXT, UNIQUE(key));
CREATE TABLE handle (ROWID INTEGER PRIMARY KEY AUTOINCREMENT UNIQUE, id TEXT NOT NULL, country TEXT, service TEXT NOT NULL, uncanonicalized_id TEXT, person_centric_id TEXT, UNIQUE (id, service) );
CREATE TABLE chat_handle_join (chat_id INTEGER REFERENCES chat (ROWID) ON DELETE CASCADE, handle_id INTEGER REFERENCES handle (ROWID) ON DELETE CASCADE, UNIQUE(chat_id, handle_id));
CREATE TABLE chat_message_join (chat_id INTEGER REFERENCES chat (ROWID) ON DELETE CASCADE, message_id INTEGER REFERENCES message (ROWID) ON DELETE CASCADE, message_date INTEGER DEFAULT 0, PRIMARY KEY (chat_id, message_id));
CREATE TABLE message_attachment_join (message_id INTEGER REFERENCES message (ROWID) ON DELETE CASCADE, attachment_id INTEGER REFERENCES attachment (ROWID) ON DELETE CASCADE, UNIQUE(message_id, attachment_id));
CREATE TABLE deleted_messages (ROWID INTEGER PRIMARY KEY AUTOINCREMENT UNIQUE, guid TEXT NOT NULL);
CREATE TABLE sync_deleted_messages (ROWID INTEGER PRIMARY KEY AUTOINCREMENT UNIQUE, guid TEXT NOT NULL, recordID TEXT );
CREATE TABLE sync_deleted_chats (ROWID INTEGER PRIMARY KEY AUTOINCREMENT UNIQUE, guid TEXT NOT NULL, recordID TEXT,timestamp INTEGER);
CREATE TABLE sync_deleted_attachments (ROWID INTEGER PRIMARY KEY AUTOINCREMENT UNIQUE, guid TEXT NOT NULL, recordID TEXT );
CREATE TABLE kvtable (ROWID INTEGER PRIMARY KEY AUTOINCREMENT UNIQUE, key TEXT UNIQUE NOT NULL, value BLOB NOT NULL);
CREATE TABLE message_processing_task (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT NOT NULL, task_flags INTEGER NOT NULL);
CREATE INDEX message_idx_handle ON message(handle_id, date);
CREATE INDEX message_idx_is_read ON message(is_read, is_from_me, is_finished);
CREATE INDEX message_idx_failed ON message(is_finished, is_from_me, error);
CREATE INDEX message_idx_was_downgraded ON message(was_downgraded);
CREATE INDEX message_idx_cache_has_attachments ON message(cache_has_attachments);
CREATE INDEX chat_message_join_idx_message_date_id_chat_id ON chat_message_join(chat_id, message_date, message_id);
CREATE INDEX chat_message_join_idx_message_id_only ON chat_message_join(message_id);
CREATE INDEX message_attachment_join_idx_message_id ON message_attachment_join(message_id);
CREATE INDEX chat_handle_join_idx_handle_id ON chat_handle_join(handle_id);
CREATE INDEX chat_idx_chat_identifier_service_name ON chat(chat_identifier, service_name);
CREATE TRIGGER add_to_deleted_messages AFTER DELETE ON message BEGIN INSERT INTO deleted_messages (guid) VALUES (OLD.guid); END;
CREATE TRIGGER after_delete_on_chat AFTER DELETE ON chat BEGIN DELETE FROM chat_message_join WHERE chat_id = OLD.ROWID; END;
";

pub fn uti_mime(media: Media) -> (&'static str, &'static str) {
    match media {
        Media::Jpeg => ("public.jpeg", "image/jpeg"),
        Media::Heic => ("public.heic", "image/heic"),
        Media::Png => ("public.png", "image/png"),
        Media::Gif | Media::PdfAsGif | Media::PsdAsGif => ("com.compuserve.gif", "image/gif"),
        Media::Mov => ("com.apple.quicktime-movie", "video/quicktime"),
        Media::Watchface => ("com.apple.watchface", "application/octet-stream"),
    }
}

fn schema(ios: Ios) -> String {
    let mut message = MESSAGE_14.to_string();
    let mut chat = CHAT_14.to_string();
    let mut attachment = ATTACHMENT_14.to_string();
    if ios >= Ios::V15 {
        message.push_str(MESSAGE_15);
        attachment.push_str(ATTACHMENT_15);
    }
    if ios >= Ios::V16 {
        message.push_str(MESSAGE_16);
        chat.push_str(CHAT_16);
    }
    format!(
        "CREATE TABLE message ({message});\nCREATE TABLE chat ({chat});\nCREATE TABLE attachment ({attachment});\n{OTHER_TABLES}"
    )
}

pub fn write(w: &World, path: &Path, truths: &mut Vec<Truth>) -> Result<(), SampleError> {
    let d = &w.device;
    let mut conn = create_db(path)?;
    let e = sql_err(path);
    conn.execute_batch(&schema(d.ios)).map_err(&e)?;
    let imessage_account = format!("E:{}", d.apple_id);
    let sms_account = format!("P:{}", d.phone);
    let account_guid = |service: &str| {
        if service == "iMessage" {
            "4F2A8D1C-5B7E-4E0A-9C3D-2B6F8A1E7D40"
        } else {
            "9C1E6B3A-2D4F-4A8B-B5E7-0F3C9D2A6E18"
        }
    };

    let tx = conn.transaction().map_err(&e)?;
    {
        let mut handles: Vec<(i64, usize)> = w
            .handles
            .iter()
            .enumerate()
            .filter(|(_, h)| !h.deleted)
            .map(|(i, _)| (w.handle_rowids[i], i))
            .collect();
        handles.sort_unstable();
        let mut stmt = tx
            .prepare("INSERT INTO handle (ROWID, id, country, service, uncanonicalized_id, person_centric_id) VALUES (?1, ?2, ?3, ?4, ?5, NULL)")
            .map_err(&e)?;
        for (rowid, i) in handles {
            let h = &w.handles[i];
            let raw = if h.id.starts_with('+') {
                Some(h.id.trim_start_matches('+').to_string())
            } else {
                None
            };
            stmt.execute(params![rowid, h.id, h.country, h.service, raw])
                .map_err(&e)?;
        }

        let mut chats: Vec<(i64, usize)> = w
            .chats
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.deleted)
            .map(|(i, _)| (w.chat_rowids[i], i))
            .collect();
        chats.sort_unstable();
        let mut stmt = tx
            .prepare(
                "INSERT INTO chat (ROWID, guid, style, state, account_id, chat_identifier, service_name, room_name, account_login, is_archived, last_addressed_handle, display_name, group_id, successful_query)
                 VALUES (?1, ?2, ?3, 3, ?4, ?5, ?6, ?7, ?8, 0, ?9, ?10, ?11, 1)",
            )
            .map_err(&e)?;
        let mut join = tx
            .prepare("INSERT INTO chat_handle_join (chat_id, handle_id) VALUES (?1, ?2)")
            .map_err(&e)?;
        for (rowid, i) in &chats {
            let c = &w.chats[*i];
            let login = if c.service == "iMessage" {
                &imessage_account
            } else {
                &sms_account
            };
            let room = (c.style == 43).then(|| c.identifier.clone());
            let group_id = format!(
                "{:08X}-0000-4000-8000-{:012X}",
                rowid * 7919,
                rowid * 104_729
            );
            stmt.execute(params![
                rowid,
                c.guid,
                c.style,
                account_guid(c.service),
                c.identifier,
                c.service,
                room,
                login,
                d.phone,
                c.display_name,
                group_id
            ])
            .map_err(&e)?;
            for &h in &c.handles {
                if !w.handles[h].deleted {
                    join.execute(params![rowid, w.handle_rowids[h]])
                        .map_err(&e)?;
                }
            }
        }

        let mut order: Vec<usize> = (0..w.messages.len())
            .filter(|&i| !w.messages[i].deleted)
            .collect();
        order.sort_by_key(|&i| w.messages[i].rowid);
        let v16 = d.ios >= Ios::V16;
        let mut msg = tx
            .prepare(&format!(
                "INSERT INTO message (ROWID, guid, text, handle_id, attributedBody, version, type, service, account, account_guid, date, date_read, date_delivered, is_delivered, is_finished, is_from_me, is_read, is_sent, cache_has_attachments, cache_roomnames, destination_caller_id, sort_id{})
                 VALUES (?1, ?2, ?3, ?4, ?5, 10, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 1, ?14, ?15, ?16, ?17, ?18, ?19, 0{})",
                if v16 { ", part_count" } else { "" },
                if v16 { ", ?20" } else { "" }
            ))
            .map_err(&e)?;
        let mut cmj = tx.prepare("INSERT INTO chat_message_join (chat_id, message_id, message_date) VALUES (?1, ?2, ?3)").map_err(&e)?;
        let mut maj = tx
            .prepare(
                "INSERT INTO message_attachment_join (message_id, attachment_id) VALUES (?1, ?2)",
            )
            .map_err(&e)?;
        let mut att = tx
            .prepare(
                "INSERT INTO attachment (ROWID, guid, created_date, start_date, filename, uti, mime_type, transfer_state, is_outgoing, transfer_name, total_bytes, is_sticker, hide_attachment, original_guid)
                 VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6, 5, ?7, ?8, ?9, 0, 0, ?2)",
            )
            .map_err(&e)?;
        let (mut received, mut sent) = (0i64, 0i64);
        for i in order {
            let m = &w.messages[i];
            let chat = &w.chats[m.chat];
            let date = clock::cocoa_ns(m.us, m.extra_ns);
            let later = |s: i64| clock::cocoa_ns(m.us + s * SEC, m.extra_ns);
            let (date_read, date_delivered, is_read) = match (m.from_me, m.read_after) {
                (false, Some(s)) => (later(s), 0, 1),
                (false, None) => (0, 0, 0),
                (true, Some(s)) => (0, later(s), 0),
                (true, None) => (0, 0, 0),
            };
            let delivered = !m.from_me || m.read_after.is_some();
            let handle_id = m.handle.map(|h| w.handle_rowids[h]).unwrap_or(0);
            let text = (!m.text_null).then(|| m.text.clone());
            let account = if m.service == "iMessage" {
                &imessage_account
            } else {
                &sms_account
            };
            let roomname = (chat.style == 43).then(|| chat.identifier.clone());
            let caller = if m.service == "iMessage"
                && m.handle.is_some_and(|h| w.handles[h].id.contains('@'))
            {
                d.apple_id.clone()
            } else {
                d.phone.clone()
            };
            let mut values: Vec<Box<dyn rusqlite::ToSql>> = vec![
                Box::new(m.rowid),
                Box::new(m.guid.clone()),
                Box::new(text),
                Box::new(handle_id),
                Box::new(attributed_body(&m.text)),
                Box::new(0i64),
                Box::new(m.service),
                Box::new(account.to_lowercase()),
                Box::new(account_guid(m.service)),
                Box::new(date),
                Box::new(date_read),
                Box::new(date_delivered),
                Box::new(delivered as i64),
                Box::new(m.from_me as i64),
                Box::new(is_read),
                Box::new(m.from_me as i64),
                Box::new(!m.attachments.is_empty() as i64),
                Box::new(roomname),
                Box::new(caller),
            ];
            if v16 {
                values.push(Box::new(m.attachments.len().max(1) as i64));
            }
            msg.execute(rusqlite::params_from_iter(values.iter()))
                .map_err(&e)?;
            cmj.execute(params![w.chat_rowids[m.chat], m.rowid, date])
                .map_err(&e)?;
            if m.from_me {
                sent += 1;
            } else {
                received += 1;
            }
            if let Some(mark) = &m.mark {
                truths.push(Truth::new(
                    ARTIFACT,
                    format!("message:{}", m.rowid),
                    m.us,
                    mark,
                ));
            }
            for &ai in &m.attachments {
                let a = &w.attachments[ai];
                if a.deleted {
                    continue;
                }
                let (uti, mime) = uti_mime(a.media);
                att.execute(params![
                    a.rowid,
                    a.guid,
                    clock::cocoa_secs(a.us),
                    format!("~/{}", a.relative_path()),
                    uti,
                    mime,
                    a.outgoing as i64,
                    a.name,
                    a.size
                ])
                .map_err(&e)?;
                maj.execute(params![m.rowid, a.rowid]).map_err(&e)?;
                if let Some(mark) = &a.mark {
                    truths.push(Truth::new(
                        ARTIFACT,
                        format!("attachment:{}", a.rowid),
                        a.us - a.us.rem_euclid(SEC),
                        mark,
                    ));
                }
            }
        }
        let mut prop = tx
            .prepare("INSERT INTO _SqliteDatabaseProperties (key, value) VALUES (?1, ?2)")
            .map_err(&e)?;
        let client = match d.ios {
            Ios::V14 => "14006",
            Ios::V15 => "15012",
            Ios::V16 => "16009",
        };
        for (k, v) in [
            ("counter_in_all", received.to_string()),
            ("counter_out_all", sent.to_string()),
            ("counter_last_reset", "0".to_string()),
            ("_ClientVersion", client.to_string()),
        ] {
            prop.execute(params![k, v]).map_err(&e)?;
        }
    }
    set_sequences(&tx, w).map_err(&e)?;
    tx.commit().map_err(&e)?;
    finish_db(conn, path)
}

/// AUTOINCREMENT remembers the highest ROWID ever used, deleted rows included: the
/// ROWIDs of the deleted watchface message stay taken.
fn set_sequences(conn: &Connection, w: &World) -> rusqlite::Result<()> {
    for (name, max) in [
        ("message", w.max_message),
        ("attachment", w.max_attachment),
        ("handle", w.max_handle),
        ("chat", w.max_chat),
    ] {
        if max > 0 {
            conn.execute("DELETE FROM sqlite_sequence WHERE name = ?1", [name])?;
            conn.execute(
                "INSERT INTO sqlite_sequence (name, seq) VALUES (?1, ?2)",
                params![name, max],
            )?;
        }
    }
    Ok(())
}
