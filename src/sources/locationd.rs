//! locationd `clients.plist`: when each client last stopped using location.
//!
//! A dictionary keyed by client (bundle id, or
//! `com.apple.locationd.bundle-/System/Library/LocationBundles/<X>.bundle`), each with
//! Cocoa-time keys (`LocationTimeStopped`, `SignificantTimeStopped`, ...; MVT's
//! `LocationdClients` module lists them). Kaspersky's triangle_check uses
//! `LocationTimeStopped` of the IonosphereHarvest and WRMLinkSelection bundles as a
//! weak Operation Triangulation sign. Every `*TimeStopped` key is read, known or not.

use plist::Value;

use crate::evidence::{Evidence, Locator, Lookup};
use crate::timeline::{time, Event};

use super::{Output, Parse, Source, SourceError};

pub struct LocationdClients;

pub const LOCATOR: Locator = Locator {
    backup: Some(("RootDomain", "Library/Caches/locationd/clients.plist")),
    // MVT's LocationdClients looks in both.
    filesystem: &[
        "private/var/root/Library/Caches/locationd/clients.plist",
        "private/var/mobile/Library/Caches/locationd/clients.plist",
    ],
    sysdiagnose: &[],
};

impl Source for LocationdClients {
    fn name(&self) -> &'static str {
        "locationd"
    }

    fn discover(&self, ev: &Evidence) -> Vec<Lookup> {
        ev.locate(&LOCATOR)
    }

    fn parse(&self, p: &mut Parse<'_>) -> Result<(), SourceError> {
        let bytes = p.evidence.read(p.artifact)?;
        parse_bytes(&bytes, p)
    }
}

/// Parses the bytes of one locationd `clients.plist` (XML or binary).
pub fn parse_bytes(bytes: &[u8], p: &mut Output) -> Result<(), SourceError> {
    let root = crate::evidence::parse_plist(bytes)?;
    let Some(clients) = root.as_dictionary() else {
        return Err(SourceError::Format(
            "clients.plist root is not a dictionary".into(),
        ));
    };
    let mut no_time: Vec<String> = Vec::new();
    for (client, v) in clients {
        let Some(keys) = v.as_dictionary() else {
            continue;
        };
        for (key, value) in keys {
            if !key.ends_with("TimeStopped") {
                continue;
            }
            let record = format!("key:{client}/{key}");
            let ts = match value {
                Value::Real(f) => time::cocoa_seconds(*f),
                Value::Integer(i) => i.as_signed().and_then(|i| time::cocoa_seconds(i as f64)),
                Value::Date(d) => time::plist_date(d),
                _ => None,
            };
            if ts.is_none() {
                no_time.push(record.clone());
            }
            p.emit(
                Event::new("locationd", "location_stopped", ts)
                    .actor(client.clone())
                    .target(key.clone())
                    .message(format!("{client} stopped using location ({key})"))
                    .at("", record),
            );
        }
    }
    if let Some(first) = no_time.first() {
        p.warn(format!(
            "{} *TimeStopped values are zero, not a number or out of range (first: {first}); rows kept without a time",
            no_time.len()
        ));
    }
    Ok(())
}
