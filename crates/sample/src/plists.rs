//! The property lists in the backup, as binary plists:
//! - `com.apple.osanalytics.addaily.plist`: `netUsageBaseline` maps a process to
//!   `[date, wifi_in, wifi_out, wwan_in, wwan_out]` (the date is written naive: UTC here);
//! - locationd `clients.plist`: one dictionary per client (bundle id or
//!   `com.apple.locationd.bundle-<path>`) with `*TimeStopped` times in Cocoa seconds;
//! - `com.apple.identityservices.idstatuscache.plist`: service → `mailto:`/`tel:` →
//!   `LookupDate` (Cocoa seconds) and `IDStatus`; empty from iOS 14.7 on;
//! - the three preference files whose Manifest.db times Kaspersky's triangle_check
//!   watches (their contents do not matter to it).

use plist::{Dictionary, Value};

use super::clock;
use super::model::{Ios, Truth, World};

pub fn bytes(
    w: &World,
    domain: &str,
    path: &str,
    truths: &mut Vec<Truth>,
) -> Result<Vec<u8>, plist::Error> {
    let artifact = format!("{domain}/{path}");
    let root = match path {
        "Library/Preferences/com.apple.osanalytics.addaily.plist" => addaily(w, &artifact, truths),
        "Library/Caches/locationd/clients.plist" => clients(w, &artifact, truths),
        "Library/Preferences/com.apple.identityservices.idstatuscache.plist" => {
            idstatus(w, &artifact, truths)
        }
        "Library/Preferences/com.apple.ImageIO.plist" => {
            let mut d = Dictionary::new();
            d.insert("IIOSupportedTypesVersion".into(), Value::Integer(3.into()));
            d
        }
        "Library/Preferences/com.apple.locationd.StatusBarIconManager.plist" => {
            let mut d = Dictionary::new();
            d.insert("StatusBarIconVisible".into(), Value::Boolean(false));
            d
        }
        "Library/Preferences/com.apple.imservice.ids.FaceTime.plist" => {
            let mut d = Dictionary::new();
            d.insert(
                "ActiveAccounts".into(),
                Value::Array(vec![Value::String(format!("E:{}", w.device.apple_id))]),
            );
            d
        }
        _ => Dictionary::new(),
    };
    let mut out = Vec::new();
    Value::Dictionary(root).to_writer_binary(&mut out)?;
    Ok(out)
}

fn addaily(w: &World, artifact: &str, truths: &mut Vec<Truth>) -> Dictionary {
    let mut rows: Vec<_> = w.baseline.iter().collect();
    rows.sort_by(|a, b| a.process.cmp(&b.process));
    let mut base = Dictionary::new();
    for b in rows {
        let mut entry = vec![Value::Date(clock::plist_date(b.us))];
        entry.extend(b.bytes.iter().map(|n| Value::Integer((*n).into())));
        base.insert(b.process.clone(), Value::Array(entry));
        if let Some(mark) = &b.mark {
            truths.push(Truth::new(
                artifact,
                format!("key:netUsageBaseline/{}", b.process),
                b.us,
                mark,
            ));
        }
    }
    let mut d = Dictionary::new();
    d.insert("netUsageBaseline".into(), Value::Dictionary(base));
    d
}

fn clients(w: &World, artifact: &str, truths: &mut Vec<Truth>) -> Dictionary {
    let mut d = Dictionary::new();
    for c in &w.locations {
        let mut e = Dictionary::new();
        match &c.bundle_path {
            Some(p) => {
                e.insert("BundlePath".into(), Value::String(p.clone()));
            }
            None => {
                e.insert("BundleId".into(), Value::String(c.key.clone()));
            }
        }
        e.insert(
            "Authorization".into(),
            Value::Integer(if c.bundle_path.is_some() { 2 } else { 4 }.into()),
        );
        e.insert("Registered".into(), Value::String(String::new()));
        e.insert("Whitelisted".into(), Value::Boolean(false));
        let mut times = c.times.clone();
        times.sort_by_key(|(k, _)| *k);
        for (k, us) in times {
            e.insert(k.into(), Value::Real(clock::cocoa_f64(us)));
            if let Some((mk, mark)) = &c.mark {
                if *mk == k {
                    truths.push(Truth::new(artifact, format!("key:{}/{k}", c.key), us, mark));
                }
            }
        }
        d.insert(c.key.clone(), Value::Dictionary(e));
    }
    d
}

fn idstatus(w: &World, artifact: &str, truths: &mut Vec<Truth>) -> Dictionary {
    let mut d = Dictionary::new();
    if w.device.ios > Ios::V14 {
        return d;
    }
    let mut rows: Vec<_> = w.lookups.iter().collect();
    rows.sort_by(|a, b| (a.service, &a.identity).cmp(&(b.service, &b.identity)));
    for l in rows {
        if !d.contains_key(l.service) {
            d.insert(l.service.to_string(), Value::Dictionary(Dictionary::new()));
        }
        if let Some(Value::Dictionary(s)) = d.get_mut(l.service) {
            let mut e = Dictionary::new();
            e.insert("IDStatus".into(), Value::Integer(l.status.into()));
            e.insert("LookupDate".into(), Value::Real(clock::cocoa_f64(l.us)));
            s.insert(l.identity.clone(), Value::Dictionary(e));
        }
        if let Some(mark) = &l.mark {
            truths.push(Truth::new(
                artifact,
                format!("key:{}/{}", l.service, l.identity),
                l.us,
                mark,
            ));
        }
    }
    d
}
