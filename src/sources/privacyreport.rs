//! App Privacy Report (`App_Privacy_Report_<date>.ndjson`): which app contacted which
//! domain, and when apps used the camera, microphone, location, photos or contacts.
//!
//! iOS 15+ keeps seven days of it and the user exports it from Settings → Privacy &
//! Security → App Privacy Report; it is handed over as the file given directly or lying
//! in a case folder. One JSON object per line: `type = networkActivity` (`bundleID`,
//! `domain`, `firstTimeStamp`, `timeStamp` = the last contact, `hits`, `initiatedType`,
//! `domainType`, `context`) or `type = access` (`accessor.identifier`, `category`,
//! `kind` = `intervalBegin` / `intervalEnd`, `timeStamp`, `identifier` pairing the two).
//! Times carry their own UTC offset. A domain contacted by an app or a system process
//! for the first time minutes after a message is the network half of a chain, with the
//! domain name itself (which DataUsage never records); domains reach the STIX2 matcher.

use serde::Deserialize;

use crate::evidence::{BytesLines, Evidence, LineSource, Lookup};
use crate::timeline::{time, Event};

use super::textlog;
use super::{Output, Parse, Source, SourceError};

pub struct PrivacyReport;

/// `App_Privacy_Report_v4_2022-04-27T….ndjson` as exported; also names such as
/// `ios_app_privacy_report.ndjson`.
pub fn is_privacy_report(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.ends_with(".ndjson") && n.contains("privacy_report")
}

impl Source for PrivacyReport {
    fn name(&self) -> &'static str {
        "app_privacy"
    }

    fn discover(&self, ev: &Evidence) -> Vec<Lookup> {
        ev.exports(is_privacy_report)
    }

    fn parse(&self, p: &mut Parse<'_>) -> Result<(), SourceError> {
        let mut reader = p.evidence.open(p.artifact)?;
        parse_lines(&mut reader, p)
    }
}

/// The bytes of one report (tests and the fuzz target).
pub fn parse_bytes(bytes: &[u8], p: &mut Output) -> Result<(), SourceError> {
    parse_lines(&mut BytesLines::new(bytes), p)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Line {
    #[serde(rename = "type")]
    kind: Option<String>,
    // networkActivity
    #[serde(rename = "bundleID")]
    bundle_id: Option<String>,
    domain: Option<String>,
    first_time_stamp: Option<String>,
    time_stamp: Option<String>,
    hits: Option<i64>,
    initiated_type: Option<String>,
    context: Option<String>,
    domain_owner: Option<String>,
    // access
    accessor: Option<Accessor>,
    category: Option<String>,
    #[serde(rename = "kind")]
    interval: Option<String>,
    identifier: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Accessor {
    identifier: Option<String>,
    identifier_type: Option<String>,
}

pub fn parse_lines(reader: &mut impl LineSource, p: &mut Output) -> Result<(), SourceError> {
    let (mut bad, mut other, mut no_time) = (0usize, 0usize, 0usize);
    let mut first_bad = None;
    let result = textlog::each_line(reader, p, |n, text, p| {
        if text.trim().is_empty() {
            return;
        }
        let line: Line = match serde_json::from_str(text) {
            Ok(l) => l,
            Err(e) => {
                bad += 1;
                first_bad.get_or_insert(format!("line {n}: {e}"));
                return;
            }
        };
        let t = |s: &Option<String>| s.as_deref().and_then(time::with_offset);
        let e = match line.kind.as_deref() {
            Some("networkActivity") => {
                let first = t(&line.first_time_stamp);
                let last = t(&line.time_stamp);
                let bundle = line.bundle_id.clone().unwrap_or_default();
                let domain = line.domain.clone().unwrap_or_default();
                let mut msg = format!(
                    "{bundle} contacted {domain}: {} hits, last {}",
                    line.hits
                        .map(|h| h.to_string())
                        .unwrap_or_else(|| "?".into()),
                    last.map(|l| time::rfc3339(&l))
                        .unwrap_or_else(|| "?".into())
                );
                if let Some(c) = line.context.as_deref().filter(|c| !c.is_empty()) {
                    msg.push_str(&format!(" (context {c})"));
                }
                if let Some(o) = line.domain_owner.as_deref().filter(|c| !c.is_empty()) {
                    msg.push_str(&format!(" (owner {o})"));
                }
                let mut e = Event::new("app_privacy", "network_activity", first.or(last))
                    .actor(bundle)
                    .target(domain)
                    .message(msg);
                if let Some(i) = line.initiated_type.as_deref().filter(|i| !i.is_empty()) {
                    e = e.tag(format!("initiated:{i}"));
                }
                e
            }
            Some("access") => {
                let acc = line.accessor.unwrap_or_default();
                let who = acc.identifier.unwrap_or_default();
                let category = line.category.unwrap_or_default();
                let interval = line.interval.unwrap_or_default();
                let mut e = Event::new("app_privacy", "data_access", t(&line.time_stamp))
                    .actor(who.clone())
                    .target(category.clone())
                    .message(format!("{who} access to {category}: {interval}"));
                if !interval.is_empty() {
                    e = e.tag(format!("interval:{interval}"));
                }
                if let Some(k) = acc.identifier_type.filter(|k| !k.is_empty()) {
                    e = e.tag(format!("accessor_type:{k}"));
                }
                if let Some(id) = line.identifier.filter(|k| !k.is_empty()) {
                    e = e.tag(format!("access_id:{id}"));
                }
                e
            }
            _ => {
                other += 1;
                return;
            }
        };
        if e.ts.is_none() {
            no_time += 1;
        }
        p.emit(e.at("", format!("line:{n}")));
    });
    if bad > 0 {
        p.warn(format!(
            "{bad} lines are not JSON objects of the report and were skipped (first: {})",
            first_bad.unwrap_or_default()
        ));
    }
    if other > 0 {
        p.facts.insert("lines_of_other_types".into(), other.into());
    }
    if no_time > 0 {
        p.warn(format!(
            "{no_time} rows have no readable time; kept without a time"
        ));
    }
    result.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_and_access_lines() {
        let text = r#"{"timeStamp":"2022-04-27T11:04:16.905-04:00","initiatedType":"NonAppInitiated","context":"","domain":"p56-caldav.icloud.com","type":"networkActivity","firstTimeStamp":"2022-04-27T10:59:32.695-04:00","bundleID":"com.apple.mobilecal","domainOwner":"","hits":10}
{"accessor":{"identifier":"com.apple.mobileslideshow","identifierType":"bundleID"},"category":"photos","identifier":"0E01","kind":"intervalBegin","timeStamp":"2022-04-27T10:53:24.555-04:00","type":"access"}
not json
{"type":"somethingNew"}
"#;
        let mut o = Output::new("", "App_Privacy_Report.ndjson");
        parse_bytes(text.as_bytes(), &mut o).unwrap();
        let (b, warnings, facts) = o.into_parts();
        let df = b.finish().unwrap();
        let col = |n: &str| crate::sources::fixture::texts(&df, n);
        assert_eq!(col("kind"), ["network_activity", "data_access"]);
        assert_eq!(
            col("actor"),
            ["com.apple.mobilecal", "com.apple.mobileslideshow"]
        );
        assert_eq!(col("target"), ["p56-caldav.icloud.com", "photos"]);
        let ts = df
            .column("ts")
            .unwrap()
            .datetime()
            .unwrap()
            .physical()
            .clone();
        // The first contact, 10:59:32.695 at -04:00.
        assert_eq!(
            time::from_micros(ts.get(0).unwrap()).unwrap().to_rfc3339(),
            "2022-04-27T14:59:32.695+00:00"
        );
        assert!(warnings.iter().any(|w| w.contains("1 lines are not JSON")));
        assert_eq!(facts["lines_of_other_types"], 1);
    }
}
