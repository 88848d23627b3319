//! OSAnalytics ADDaily: the daily network baseline per process.
//!
//! `netUsageBaseline` maps a process name to `[date, wifi_in, wifi_out, wwan_in,
//! wwan_out]` (field order as MVT's `OSAnalyticsADDaily` module reads it). Kaspersky
//! found `BackupAgent` here on Operation Triangulation phones (triangle_check): a
//! deprecated binary that never networks on a clean phone.

use plist::Value;

use crate::evidence::{Evidence, Locator, Lookup};
use crate::timeline::{time, Event};

use super::{Output, Parse, Source, SourceError};

pub struct AdDaily;

pub const LOCATOR: Locator = Locator {
    backup: Some((
        "HomeDomain",
        "Library/Preferences/com.apple.osanalytics.addaily.plist",
    )),
    filesystem: &["private/var/mobile/Library/Preferences/com.apple.osanalytics.addaily.plist"],
    sysdiagnose: &[],
};

impl Source for AdDaily {
    fn name(&self) -> &'static str {
        "addaily"
    }

    fn discover(&self, ev: &Evidence) -> Vec<Lookup> {
        ev.locate(&LOCATOR)
    }

    fn parse(&self, p: &mut Parse<'_>) -> Result<(), SourceError> {
        let bytes = p.evidence.read(p.artifact)?;
        parse_bytes(&bytes, p)
    }
}

/// Parses the bytes of one `com.apple.osanalytics.addaily.plist` (XML or binary).
pub fn parse_bytes(bytes: &[u8], p: &mut Output) -> Result<(), SourceError> {
    let root = crate::evidence::parse_plist(bytes)?;
    let Some(baseline) = root.as_dictionary().and_then(|d| d.get("netUsageBaseline")) else {
        p.warn("no netUsageBaseline dictionary");
        return Ok(());
    };
    let Some(baseline) = baseline.as_dictionary() else {
        return Err(SourceError::Format(
            "netUsageBaseline is not a dictionary".into(),
        ));
    };
    for (process, v) in baseline {
        let record = format!("key:netUsageBaseline/{process}");
        let Some(fields) = v.as_array() else {
            p.warn(format!("{record}: not an array; skipped"));
            continue;
        };
        if fields.len() < 5 {
            p.warn(format!(
                "{record}: {} fields instead of 5; missing counters left empty",
                fields.len()
            ));
        }
        let ts = match fields.first() {
            Some(Value::Date(d)) => time::plist_date(d),
            // Some copies hold the date as text with no zone: UTC, never local time.
            Some(Value::String(s)) => time::naive_as_utc(s),
            _ => None,
        };
        if ts.is_none() {
            p.warn(format!(
                "{record}: no readable date; row kept without a time"
            ));
        }
        let counter = |i: usize| fields.get(i).and_then(bytes_value);
        let (wifi_in, wifi_out, wwan_in, wwan_out) =
            (counter(1), counter(2), counter(3), counter(4));
        let sum = |a: Option<i64>, b: Option<i64>| match (a, b) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
        };
        let show = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_else(|| "?".into());
        p.emit(
            Event::new("addaily", "network_usage", ts)
                .actor(process.clone())
                .message(format!(
                    "{process}: Wi-Fi in {} / out {} bytes, WWAN in {} / out {} bytes (daily baseline)",
                    show(wifi_in),
                    show(wifi_out),
                    show(wwan_in),
                    show(wwan_out)
                ))
                .bytes(sum(wifi_in, wwan_in), sum(wifi_out, wwan_out))
                .at("", record),
        );
    }
    Ok(())
}

/// Counters are reals in the plists seen, integers in some: both are byte counts.
fn bytes_value(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(i) => i.as_signed(),
        Value::Real(f) if f.is_finite() => Some(f.round() as i64),
        _ => None,
    }
}
