//! IDStatusCache: identities the phone looked up on Apple's identity service.
//!
//! `{service: {"mailto:x" | "tel:+1...": {LookupDate, IDStatus}}}`: the device asked
//! whether that identity is reachable over iMessage (`com.apple.madrid`) or FaceTime.
//! Amnesty's Pegasus method (Forensic Methodology Report, 2021) found lookups of
//! attacker Apple IDs here shortly before the implant's processes first ran. From iOS
//! 14.7 on the cache is empty (or not in the backup at all): an empty one is a fact,
//! not a fault. MVT flags identities holding NUL bytes; the message shows them as
//! `\x00`, the target keeps them as written.

use plist::Value;

use crate::evidence::{Evidence, Locator, Lookup};
use crate::timeline::{time, Event};

use super::{Output, Parse, Source, SourceError};

pub struct IdStatusCache;

pub const LOCATORS: [Locator; 2] = [
    Locator {
        backup: Some((
            "HomeDomain",
            "Library/Preferences/com.apple.identityservices.idstatuscache.plist",
        )),
        filesystem: &[
            "private/var/mobile/Library/Preferences/com.apple.identityservices.idstatuscache.plist",
        ],
        sysdiagnose: &[],
    },
    Locator {
        backup: Some(("HomeDomain", "Library/IdentityServices/idstatuscache.plist")),
        filesystem: &["private/var/mobile/Library/IdentityServices/idstatuscache.plist"],
        sysdiagnose: &[],
    },
];

impl Source for IdStatusCache {
    fn name(&self) -> &'static str {
        "idstatus"
    }

    fn discover(&self, ev: &Evidence) -> Vec<Lookup> {
        LOCATORS.iter().flat_map(|l| ev.locate(l)).collect()
    }

    fn parse(&self, p: &mut Parse<'_>) -> Result<(), SourceError> {
        let bytes = p.evidence.read(p.artifact)?;
        parse_bytes(&bytes, p)
    }
}

/// Parses the bytes of one IDStatusCache plist (XML or binary).
pub fn parse_bytes(bytes: &[u8], p: &mut Output) -> Result<(), SourceError> {
    let root = crate::evidence::parse_plist(bytes)?;
    let Some(services) = root.as_dictionary() else {
        return Err(SourceError::Format(
            "idstatuscache root is not a dictionary".into(),
        ));
    };
    let mut no_time: Vec<String> = Vec::new();
    let mut lookups = 0usize;
    for (service, v) in services {
        let Some(identities) = v.as_dictionary() else {
            continue;
        };
        for (identity, entry) in identities {
            let Some(entry) = entry.as_dictionary() else {
                continue;
            };
            let record = format!("key:{service}/{identity}");
            let ts = match entry.get("LookupDate") {
                Some(Value::Real(f)) => time::cocoa_seconds(*f),
                Some(Value::Integer(i)) => {
                    i.as_signed().and_then(|i| time::cocoa_seconds(i as f64))
                }
                Some(Value::Date(d)) => time::plist_date(d),
                _ => None,
            };
            if ts.is_none() {
                no_time.push(record.clone());
            }
            let status = entry.get("IDStatus").and_then(|s| s.as_signed_integer());
            let mut e = Event::new("idstatus", "identity_lookup", ts)
                .actor(service.clone())
                .target(identity.clone())
                .message(format!(
                    "{service} looked up {}, IDStatus {}",
                    identity.replace('\0', "\\x00"),
                    status.map(|s| s.to_string()).unwrap_or_else(|| "?".into())
                ))
                .at("", record);
            if let Some(s) = status {
                e = e.tag(format!("status:{s}"));
            }
            p.emit(e);
            lookups += 1;
        }
    }
    if lookups == 0 {
        // Not a problem with the file: iOS 14.7+ no longer keeps lookups here.
        p.facts.insert(
            "empty".into(),
            "no lookups recorded (normal on iOS 14.7 and later)".into(),
        );
    }
    if let Some(first) = no_time.first() {
        p.warn(format!(
            "{} LookupDate values are missing, zero or out of range (first: {first}); rows kept without a time",
            no_time.len()
        ));
    }
    p.facts.insert("lookups".into(), lookups.into());
    Ok(())
}
