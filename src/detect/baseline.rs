//! The phone's own history, so that "new" and "unusual" mean something on this device.
//!
//! A row names at most one entity the phone keeps a history of: a process (DataUsage,
//! netusage, ADDaily, crash reports, shutdown.log clients) or a message handle (sms). Other
//! artifacts keep only the latest time (Manifest.db's last M/C/B, IDStatusCache's last
//! lookup, locationd's last stop), so "first time" means nothing there and they get no
//! entity. For each entity the baseline keeps its first time in the timeline, its first
//! network use, and the UTC days on which it appears. A chain then asks, at the trigger's
//! time: had this entity been seen before? had this process ever used the network? on how
//! many of this phone's earlier days did it show up?
//!
//! Why these weights (the same for every rule; a rule can switch them off per selector
//! with `rarity = false`):
//! - first appearance, or a process's first network use, ×1.5 (only when the phone has
//!   history from an earlier day, else everything would be "new"): Amnesty's method leans on processes that appear for the first
//!   time right after an iMessage lookup, and Kaspersky's BackupAgent trace is a binary
//!   that had never networked; "never seen here before" is the published signal, so it
//!   adds half again;
//! - routine ×0.5: an entity present on at least half of the phone's earlier days (and on
//!   at least three of them, so one or two days of history cannot make anything routine)
//!   is part of this phone's normal life; halved, never removed, because an implant that
//!   persisted before the window also looks routine;
//! - anything else ×1.0.
//!
//! Only history before the trigger counts: days after it would make a persistent implant
//! look routine.

use polars::prelude::PlHashMap as HashMap;
use std::borrow::Cow;

use super::columns::Columns;

const DAY_US: i64 = 86_400_000_000;
const NONE: u32 = u32::MAX;

pub const NEW_FACTOR: f64 = 1.5;
pub const ROUTINE_FACTOR: f64 = 0.5;
/// At least this many earlier days before anything can be routine.
pub const ROUTINE_MIN_DAYS: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntityKind {
    Process = 0,
    Handle = 1,
}

/// How this phone's history judges an entity at a given time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rarity {
    /// Never seen before that time; the phone's history starts at `since` (µs).
    New {
        since: i64,
    },
    /// A network row of a process seen before but never on the network before.
    FirstNetwork {
        since: i64,
    },
    /// Seen on `days` of the phone's `of` earlier days.
    Occasional {
        days: usize,
        of: usize,
    },
    Routine {
        days: usize,
        of: usize,
    },
    /// The row names no entity the baseline tracks.
    Unknown,
}

impl Rarity {
    pub fn factor(self) -> f64 {
        match self {
            Rarity::New { .. } | Rarity::FirstNetwork { .. } => NEW_FACTOR,
            Rarity::Routine { .. } => ROUTINE_FACTOR,
            Rarity::Occasional { .. } | Rarity::Unknown => 1.0,
        }
    }
}

pub(crate) struct Baseline {
    entity: Vec<u32>,
    /// Rows that record network use.
    network: Vec<bool>,
    kinds: Vec<EntityKind>,
    first: Vec<i64>,
    first_net: Vec<i64>,
    days: Vec<Vec<i64>>,
    all_days: Vec<i64>,
}

/// The process a path or DataUsage name refers to: the last path component, or the one
/// before it when the last is a UUID (recent shutdown.log entries end in one).
pub fn process_name(s: &str) -> &str {
    let s = s.trim().trim_end_matches('/');
    let mut parts = s.rsplit('/');
    let last = parts.next().unwrap_or(s);
    if looks_like_uuid(last) {
        if let Some(prev) = parts.next().filter(|p| !p.is_empty()) {
            return prev;
        }
    }
    last
}

fn looks_like_uuid(s: &str) -> bool {
    s.len() == 36
        && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
        && s.matches('-').count() == 4
}

pub fn is_process_source(source: &str) -> bool {
    matches!(
        source,
        "datausage" | "netusage" | "addaily" | "crash" | "shutdown"
    )
}

fn entity_of<'a>(
    source: &str,
    kind: &str,
    actor: &'a str,
    target: &'a str,
) -> Option<(EntityKind, Cow<'a, str>)> {
    let key = match source {
        "shutdown" if kind != "shutdown_client" => return None,
        s if is_process_source(s) => (EntityKind::Process, Cow::Borrowed(process_name(actor))),
        "sms" => {
            let h = if actor == "me" || actor.is_empty() {
                target
            } else {
                actor
            };
            let h = if h.bytes().any(|b| b.is_ascii_uppercase()) || !h.is_ascii() {
                Cow::Owned(h.to_lowercase())
            } else {
                Cow::Borrowed(h)
            };
            (EntityKind::Handle, h)
        }
        _ => return None,
    };
    (!key.1.is_empty()).then_some(key)
}

/// `mailto:A@b.org` → `a@b.org`, `tel:+41…` → `+41…`.
pub fn identity(s: &str) -> String {
    let s = s.trim();
    let s = s
        .strip_prefix("mailto:")
        .or_else(|| s.strip_prefix("tel:"))
        .unwrap_or(s);
    s.to_lowercase()
}

fn is_network_row(source: &str, kind: &str) -> bool {
    kind == "network_usage"
        || (kind == "process_first_seen" && matches!(source, "datausage" | "netusage"))
}

impl Baseline {
    pub fn build(cols: &Columns) -> Self {
        let mut ids: [HashMap<String, u32>; 2] = [HashMap::default(), HashMap::default()];
        let mut b = Baseline {
            entity: vec![NONE; cols.n],
            network: vec![false; cols.n],
            kinds: Vec::new(),
            first: Vec::new(),
            first_net: Vec::new(),
            days: Vec::new(),
            all_days: Vec::new(),
        };
        let rows = cols
            .source
            .iter()
            .zip(cols.kind.iter())
            .zip(cols.actor.iter())
            .zip(cols.target.iter());
        for (i, (((s, k), a), t)) in rows.enumerate() {
            let (s, k) = (s.unwrap_or(""), k.unwrap_or(""));
            let Some((kind, name)) = entity_of(s, k, a.unwrap_or(""), t.unwrap_or("")) else {
                continue;
            };
            let map = &mut ids[kind as usize];
            let id = match map.get(name.as_ref()) {
                Some(&id) => id,
                None => {
                    let id = b.kinds.len() as u32;
                    map.insert(name.into_owned(), id);
                    b.kinds.push(kind);
                    b.first.push(i64::MAX);
                    b.first_net.push(i64::MAX);
                    b.days.push(Vec::new());
                    id
                }
            };
            b.entity[i] = id;
            b.network[i] = is_network_row(s, k);
            if let Some(ts) = cols.ts[i] {
                let e = id as usize;
                b.first[e] = b.first[e].min(ts);
                if b.network[i] {
                    b.first_net[e] = b.first_net[e].min(ts);
                }
                if b.days[e].last() != Some(&ts.div_euclid(DAY_US)) {
                    b.days[e].push(ts.div_euclid(DAY_US));
                }
            }
        }
        for d in &mut b.days {
            d.sort_unstable();
            d.dedup();
        }
        b.all_days = cols.times.iter().map(|t| t.div_euclid(DAY_US)).collect();
        b.all_days.dedup();
        b
    }

    fn entity(&self, row: u32) -> Option<usize> {
        self.entity
            .get(row as usize)
            .copied()
            .filter(|&e| e != NONE)
            .map(|e| e as usize)
    }

    pub fn kind(&self, row: u32) -> Option<EntityKind> {
        self.entity(row).map(|e| self.kinds[e])
    }

    /// The row's entity had no timed row before `at`.
    pub fn is_new(&self, row: u32, at: i64) -> bool {
        self.entity(row).is_some_and(|e| self.first[e] >= at)
    }

    /// The row's process had used the network at no time before `at`.
    pub fn never_networked(&self, row: u32, at: i64) -> bool {
        self.entity(row).is_some_and(|e| self.first_net[e] >= at)
    }

    pub fn rarity(&self, row: u32, at: i64) -> Rarity {
        let Some(e) = self.entity(row) else {
            return Rarity::Unknown;
        };
        let day = at.div_euclid(DAY_US);
        let of = self.all_days.partition_point(|&d| d < day);
        if of == 0 {
            // No earlier day to compare with: neither new nor routine means anything.
            return Rarity::Unknown;
        }
        let since = self.all_days.first().map_or(at, |d| d * DAY_US);
        if self.first[e] >= at {
            return Rarity::New { since };
        }
        // A process that ran before but had never networked: as telling as a new one
        // (BackupAgent on a clean phone), and it outranks being routine.
        if self.network.get(row as usize).copied().unwrap_or(false) && self.first_net[e] >= at {
            return Rarity::FirstNetwork { since };
        }
        let days = self.days[e].partition_point(|&d| d < day);
        if days >= ROUTINE_MIN_DAYS && days * 2 >= of {
            Rarity::Routine { days, of }
        } else {
            Rarity::Occasional { days, of }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_names() {
        assert_eq!(process_name("BackupAgent"), "BackupAgent");
        assert_eq!(
            process_name("/private/var/db/com.apple.xpc.roleaccountd.staging/rolexd"),
            "rolexd"
        );
        assert_eq!(
            process_name("/usr/libexec/thing/0F1C2D3E-4A5B-6C7D-8E9F-0A1B2C3D4E5F"),
            "thing"
        );
        assert_eq!(identity("mailto:Bob@Example.org"), "bob@example.org");
    }
}
