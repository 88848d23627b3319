//! MVT's `timeline.csv`, so an analyst can diff chainline against `mvt-ios check-backup`.
//!
//! MVT writes it with Python's csv module and QUOTE_ALL: header
//! `"UTC Timestamp","Plugin","Event","Description"`, every field quoted, CRLF line ends,
//! times `YYYY-MM-DD HH:MM:SS.ffffff` in UTC without a zone, and no row without a time.
//! Plugin and event names follow MVT's modules where chainline reads the same artifact
//! (Manifest, SMS, Datausage, Netusage, TCC); for Manifest and TCC the description is
//! rebuilt the way MVT words it, so those rows diff line for line. Rows imported from an
//! MVT timeline (source `import`) go back out as they came in.

use std::io::Write;

use polars::prelude::DataFrame;

use super::{csv_safe, each_row, Exported, Row, RowError};

const HEADER: [&str; 4] = ["UTC Timestamp", "Plugin", "Event", "Description"];

/// Plugin, event and description for one row, in MVT's words where MVT has them.
fn mvt_fields(r: &Row) -> (String, String, String) {
    let tag_value = |prefix: &str| {
        r.tags
            .iter()
            .find_map(|t| t.strip_prefix(prefix))
            .map(str::to_string)
    };
    match r.source.as_str() {
        "manifest" => {
            // MVT: "<relativePath> - <domain>", event the MACB letters.
            let event = tag_value("macb:").unwrap_or_else(|| r.kind.clone());
            let rel = r
                .target
                .strip_prefix(&format!("{}/", r.actor))
                .unwrap_or(&r.target)
                .to_string();
            ("Manifest".into(), event, format!("{rel} - {}", r.actor))
        }
        "tcc" => match tag_value("auth:") {
            Some(auth) => (
                "TCC".into(),
                "AccessRequest".into(),
                format!("Access to {} by {} {auth}", r.target, r.actor),
            ),
            None => ("TCC".into(), "AccessRequest".into(), r.message.clone()),
        },
        "sms" => {
            let (plugin, event) = match r.kind.as_str() {
                "message_received" => ("SMS", "sms_received".to_string()),
                "message_sent" => ("SMS", "sms_sent".to_string()),
                "message_read" => ("SMS", "sms_read".to_string()),
                k if k.starts_with("attachment_") => ("SMSAttachments", k.to_string()),
                k => ("SMS", k.to_string()),
            };
            (plugin.into(), event, r.message.clone())
        }
        s @ ("datausage" | "netusage") => {
            let plugin = if s == "datausage" {
                "Datausage"
            } else {
                "Netusage"
            };
            let event = match r.kind.as_str() {
                "process_first_seen" => "first_usage",
                "process_last_seen" => "current_usage",
                "network_usage" => "live_usage",
                k => k,
            };
            (plugin.into(), event.into(), r.message.clone())
        }
        "import" => (r.actor.clone(), r.kind.clone(), r.message.clone()),
        other => {
            let plugin = match other {
                "safari" => "SafariHistory",
                "idstatus" => "IDStatusCache",
                "locationd" => "LocationdClients",
                "shutdown" => "ShutdownLog",
                o => o,
            };
            (plugin.into(), r.kind.clone(), r.message.clone())
        }
    }
}

/// MACB letters such as `---B` start with `-` but are chainline's own vocabulary, never
/// evidence text, and MVT writes them bare; every other cell is neutralised.
fn is_macb(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 4
        && matches!(b[0], b'M' | b'-')
        && matches!(b[1], b'A' | b'-')
        && matches!(b[2], b'C' | b'-')
        && matches!(b[3], b'B' | b'-')
}

pub(super) fn csv(df: &DataFrame, w: &mut dyn Write) -> Result<Exported, RowError> {
    let mut out = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .terminator(csv::Terminator::CRLF)
        .from_writer(w);
    out.write_record(HEADER)?;
    let mut done = Exported::default();
    each_row(df, |r| {
        let Some(ts) = r.ts else {
            done.skipped_without_time += 1;
            return Ok(());
        };
        let (plugin, event, description) = mvt_fields(&r);
        let event = if is_macb(&event) {
            event
        } else {
            csv_safe::neutralise(&event).into_owned()
        };
        out.write_record([
            ts.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
            csv_safe::neutralise(&plugin).into_owned(),
            event,
            csv_safe::neutralise(&description).into_owned(),
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
    fn manifest_rows_read_like_mvt() {
        let r = Row {
            source: "manifest".into(),
            kind: "file_modified".into(),
            actor: "HomeDomain".into(),
            target: "HomeDomain/Library/TCC/TCC.db".into(),
            tags: vec!["macb:M-CB".into(), "M".into()],
            ..Default::default()
        };
        assert_eq!(
            mvt_fields(&r),
            (
                "Manifest".into(),
                "M-CB".into(),
                "Library/TCC/TCC.db - HomeDomain".into()
            )
        );
    }

    #[test]
    fn tcc_rows_read_like_mvt() {
        let r = Row {
            source: "tcc".into(),
            kind: "permission_changed".into(),
            actor: "com.apple.Preferences".into(),
            target: "kTCCServiceUbiquity".into(),
            tags: vec!["auth:allowed".into()],
            ..Default::default()
        };
        assert_eq!(
            mvt_fields(&r).2,
            "Access to kTCCServiceUbiquity by com.apple.Preferences allowed"
        );
    }

    #[test]
    fn macb_is_recognised_and_nothing_else() {
        assert!(is_macb("---B") && is_macb("M-CB") && is_macb("----"));
        assert!(!is_macb("-1+2") && !is_macb("--B") && !is_macb("=A1()"));
    }
}
