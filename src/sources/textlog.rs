//! What the plain-text logs of a sysdiagnose share: reading them line by line in
//! bounded memory, and the zone of their local times.
//!
//! `mobile_installation.log`, `lockdownd.log` and `ps.txt` write local wall-clock times
//! without a zone. The zone is the one in the sysdiagnose's own name
//! (`sysdiagnose_2022.09.20_18-40-03+0300_iPhone-OS_iPhone_19H12`: sysdiagnose names
//! the archive with the phone's local time and UTC offset when it was taken), which is
//! also the time of collection. Times converted with it carry `zone:<±HHMM>`; without a
//! name that says it, they are read as UTC and tagged `zone:unknown`. The offset is the
//! one at collection: a log line written before a daylight-saving change or a trip is
//! off by that difference, which the tag lets an analyst see.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};

use crate::evidence::{Artifact, Evidence, LineSource, MAX_LINE};

use super::{Output, SourceError};

/// The phone's UTC offset and the collection time, from a sysdiagnose's name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalZone {
    pub offset: Option<FixedOffset>,
    pub collected: Option<DateTime<Utc>>,
}

impl LocalZone {
    pub const UNKNOWN: LocalZone = LocalZone {
        offset: None,
        collected: None,
    };

    /// From `sysdiagnose_YYYY.MM.DD_HH-MM-SS±ZZZZ_...` anywhere in `name`.
    pub fn from_name(name: &str) -> LocalZone {
        let Some(i) = name.find("sysdiagnose_") else {
            return LocalZone::UNKNOWN;
        };
        let rest = &name[i + "sysdiagnose_".len()..];
        let stamp: String = rest.chars().take(25).collect();
        // 2022.09.20_18-40-03+0300 = 24 characters.
        let (Some(date), Some(off)) = (stamp.get(..19), stamp.get(19..24)) else {
            return LocalZone::UNKNOWN;
        };
        let Ok(local) = NaiveDateTime::parse_from_str(date, "%Y.%m.%d_%H-%M-%S") else {
            return LocalZone::UNKNOWN;
        };
        let offset = parse_offset(off);
        LocalZone {
            offset,
            collected: offset
                .and_then(|o| o.from_local_datetime(&local).single())
                .map(|t| t.with_timezone(&Utc)),
        }
    }

    /// The zone of the sysdiagnose an artifact comes from (its container's name, or
    /// the top folder inside an unpacked archive).
    pub fn of(ev: &Evidence, art: &Artifact) -> LocalZone {
        let c = ev.container(art.container);
        for name in [
            c.origin
                .file_name()
                .map(|n| n.to_string_lossy().into_owned()),
            Some(art.logical.clone()),
            Some(art.path.to_string_lossy().into_owned()),
        ]
        .into_iter()
        .flatten()
        {
            let z = LocalZone::from_name(&name);
            if z.offset.is_some() {
                return z;
            }
        }
        LocalZone::UNKNOWN
    }

    /// A local wall-clock time as UTC.
    pub fn utc(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        match self.offset {
            Some(o) => o
                .from_local_datetime(&local)
                .single()
                .map(|t| t.with_timezone(&Utc)),
            None => Some(Utc.from_utc_datetime(&local)),
        }
    }

    /// The collection time in local wall-clock terms.
    pub fn collected_local(&self) -> Option<NaiveDateTime> {
        let (c, o) = (self.collected?, self.offset?);
        Some(c.with_timezone(&o).naive_local())
    }

    /// `zone:+0300`, or `zone:unknown` when times were read as UTC.
    pub fn tag(&self) -> String {
        match self.offset {
            Some(o) => {
                let s = o.local_minus_utc();
                let (sign, s) = if s < 0 { ('-', -s) } else { ('+', s) };
                format!("zone:{sign}{:02}{:02}", s / 3600, (s % 3600) / 60)
            }
            None => "zone:unknown".into(),
        }
    }
}

/// `+0300`, `-0700` → the offset.
fn parse_offset(s: &str) -> Option<FixedOffset> {
    let (sign, digits) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i32 = digits[..2].parse().ok()?;
    let m: i32 = digits[2..].parse().ok()?;
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

/// A month's three-letter English abbreviation → 1..=12.
pub fn month(abbrev: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let a = abbrev.to_ascii_lowercase();
    MONTHS.iter().position(|m| *m == a).map(|i| i as u32 + 1)
}

/// A calendar date and a `HH:MM:SS[.ffffff]` time.
pub fn date_time(date: NaiveDate, hms: &str) -> Option<NaiveDateTime> {
    let fmt = if hms.contains('.') {
        "%H:%M:%S%.f"
    } else {
        "%H:%M:%S"
    };
    let t = chrono::NaiveTime::parse_from_str(hms, fmt).ok()?;
    Some(date.and_time(t))
}

/// Calls `f` with each line (1-based number, text with invalid UTF-8 replaced), lines
/// capped at [`MAX_LINE`] bytes; warns once about cut and binary lines. Returns the
/// number of lines read. A read error ends the file with an error, rows kept.
pub fn each_line(
    reader: &mut impl LineSource,
    p: &mut Output,
    mut f: impl FnMut(usize, &str, &mut Output),
) -> Result<usize, SourceError> {
    let mut buf = Vec::new();
    let (mut n, mut cut, mut binary) = (0usize, 0usize, 0usize);
    loop {
        let line = match reader.read_line(&mut buf, MAX_LINE) {
            Ok(Some(l)) => l,
            Ok(None) => break,
            Err(e) => {
                return Err(SourceError::Format(format!(
                    "reading line {}: {e}; rows before it kept",
                    n + 1
                )))
            }
        };
        n += 1;
        if line.cut > 0 {
            cut += 1;
        }
        if buf.contains(&0) || std::str::from_utf8(&buf).is_err() {
            binary += 1;
        }
        let text = String::from_utf8_lossy(&buf);
        f(n, text.trim_end_matches(['\r', '\n']), p);
    }
    if cut > 0 {
        p.warn(format!(
            "{cut} lines longer than {MAX_LINE} bytes were cut to that length; what followed the cut is lost"
        ));
    }
    if binary > 0 {
        p.warn(format!(
            "{binary} lines hold binary data or bytes that are not UTF-8; read lossily"
        ));
    }
    p.facts.insert("lines".into(), n.into());
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_and_collection_time_from_the_name() {
        let z = LocalZone::from_name(
            "/cases/x/sysdiagnose_2022.09.20_18-40-03+0300_iPhone-OS_iPhone_19H12.tar.gz",
        );
        assert_eq!(z.tag(), "zone:+0300");
        assert_eq!(
            z.collected.map(|t| t.to_rfc3339()),
            Some("2022-09-20T15:40:03+00:00".into())
        );
        let z = LocalZone::from_name("sysdiagnose_2021.08.11_05-51-02-0700_iPhone-OS_iPhone_18G82");
        assert_eq!(z.tag(), "zone:-0700");
        let t = z
            .utc(
                NaiveDate::from_ymd_opt(2021, 8, 11)
                    .unwrap()
                    .and_hms_opt(5, 51, 2)
                    .unwrap(),
            )
            .unwrap();
        assert_eq!(t.to_rfc3339(), "2021-08-11T12:51:02+00:00");
        // No zone in the name: read as UTC, and said so.
        let z = LocalZone::from_name("logs_from_phone");
        assert_eq!(z, LocalZone::UNKNOWN);
        assert_eq!(z.tag(), "zone:unknown");
        assert_eq!(
            LocalZone::from_name("sysdiagnose_2022.13.99_x").offset,
            None
        );
    }

    #[test]
    fn months() {
        assert_eq!(month("Aug"), Some(8));
        assert_eq!(month("dec"), Some(12));
        assert_eq!(month("Foo"), None);
    }
}
