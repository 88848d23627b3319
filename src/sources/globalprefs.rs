//! `.GlobalPreferences.plist`: device-wide settings, of which one matters to a spyware
//! case — Lockdown Mode (`LDMGlobalEnabled`, iOS 16+). Apple's Lockdown Mode blocks most
//! message attachment types and link previews, the surface of the published zero-click
//! exploits (Citizen Lab found BLASTPASS blocked by it, 2023); MVT reports its state as an
//! informational alert. A chain on a phone in Lockdown Mode is unusual and worth a note;
//! a phone without it had the attack surface open.

use plist::Value;

use crate::evidence::{Evidence, Locator, Lookup};
use crate::timeline::Event;

use super::{Output, Parse, Source, SourceError};

pub struct GlobalPreferences;

pub const LOCATOR: Locator = Locator {
    backup: Some(("HomeDomain", "Library/Preferences/.GlobalPreferences.plist")),
    filesystem: &["private/var/mobile/Library/Preferences/.GlobalPreferences.plist"],
    sysdiagnose: &[],
};

impl Source for GlobalPreferences {
    fn name(&self) -> &'static str {
        "settings"
    }

    fn discover(&self, ev: &Evidence) -> Vec<Lookup> {
        ev.locate(&LOCATOR)
    }

    fn parse(&self, p: &mut Parse<'_>) -> Result<(), SourceError> {
        let bytes = p.evidence.read(p.artifact)?;
        parse_bytes(&bytes, p)
    }
}

/// Parses the bytes of a `.GlobalPreferences.plist` (XML or binary).
pub fn parse_bytes(bytes: &[u8], p: &mut Output) -> Result<(), SourceError> {
    let root = crate::evidence::parse_plist(bytes)?;
    let Some(d) = root.as_dictionary() else {
        return Err(SourceError::Format("root is not a dictionary".into()));
    };
    // The key is absent on phones that never had Lockdown Mode (and before iOS 16).
    let enabled = match d.get("LDMGlobalEnabled") {
        Some(Value::Boolean(b)) => Some(*b),
        Some(Value::Integer(i)) => i.as_signed().map(|i| i != 0),
        Some(_) => {
            p.warn("LDMGlobalEnabled is neither a boolean nor a number");
            None
        }
        None => None,
    };
    p.facts.insert(
        "lockdown_mode".into(),
        enabled.map_or(serde_json::Value::Null, serde_json::Value::Bool),
    );
    if let Some(on) = enabled {
        // The plist keeps no time for the setting; the row has none.
        p.emit(
            Event::new("settings", "lockdown_mode", None)
                .actor("LDMGlobalEnabled")
                .target(if on { "enabled" } else { "disabled" })
                .message(format!(
                    "Lockdown Mode is {} (.GlobalPreferences.plist LDMGlobalEnabled = {on})",
                    if on { "enabled" } else { "disabled" }
                ))
                .at("", "key:LDMGlobalEnabled"),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plist(v: Value) -> Vec<u8> {
        let mut out = Vec::new();
        plist::to_writer_binary(&mut out, &v).unwrap();
        out
    }

    #[test]
    fn lockdown_mode_states() {
        let mut d = plist::Dictionary::new();
        d.insert("LDMGlobalEnabled".into(), Value::Boolean(true));
        d.insert("AppleLanguages".into(), Value::Array(vec!["en".into()]));
        let mut o = Output::new("", ".GlobalPreferences.plist");
        parse_bytes(&plist(Value::Dictionary(d)), &mut o).unwrap();
        assert_eq!(o.rows(), 1);
        assert_eq!(o.facts["lockdown_mode"], true);
        // Absent key: no row, the fact says unknown.
        let mut o = Output::new("", ".GlobalPreferences.plist");
        parse_bytes(&plist(Value::Dictionary(plist::Dictionary::new())), &mut o).unwrap();
        assert_eq!(o.rows(), 0);
        assert!(o.facts["lockdown_mode"].is_null());
        let mut o = Output::new("", "x");
        assert!(parse_bytes(b"not a plist", &mut o).is_err());
    }
}
