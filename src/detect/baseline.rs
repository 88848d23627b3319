//! The phone's own history, so that "new" and "unusual" mean something on this device.
//!
//! A row names at most one entity the phone keeps a history of: a process (DataUsage,
//! netusage, ADDaily, crash reports, shutdown.log clients, PowerLog) or a message handle (sms). Other
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
// Entities remembered by the views they were read from (see [`Baseline::build`]).
use super::MEMO_MAX;

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
    if crate::timeline::is_uuid(last) {
        if let Some(prev) = parts.next().filter(|p| !p.is_empty()) {
            return prev;
        }
    }
    last
}

pub fn is_process_source(source: &str) -> bool {
    matches!(
        source,
        "datausage" | "netusage" | "addaily" | "crash" | "shutdown" | "powerlog" | "ps"
    )
}

/// Sources whose rows can name an entity (see [`entity_of`]).
fn tracks_entities(source: &str) -> bool {
    source == "sms" || is_process_source(source)
}

fn entity_of<'a>(
    source: &str,
    kind: &str,
    actor: &'a str,
    target: &'a str,
) -> Option<(EntityKind, Cow<'a, str>)> {
    let key = match source {
        "shutdown" if kind != "shutdown_client" => return None,
        // PowerLog's coalition and application rows name launchd jobs and bundles.
        "powerlog" if !matches!(kind, "process_launch" | "network_interval") => return None,
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
        || (kind == "network_interval" && source == "powerlog")
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
        // The entity of a row depends only on its source, kind, actor and target; rows
        // repeat those (a process's DataUsage rows, a conversation's messages), and rows
        // holding the same stored text share one view. So the entity found for a
        // (source, kind, actor view, target view) is remembered: the name is not parsed,
        // lowered and hashed again for every row.
        let memo_views = cols.entity_views();
        let mut memo: HashMap<(u16, u16, u128, u128), u32> = HashMap::default();
        for i in 0..cols.n {
            let row = i as u32;
            let s = cols.source_of(row);
            // Most rows (Manifest.db, Safari, …) name no entity: their actor and target are
            // never read.
            if !tracks_entities(s) {
                continue;
            }
            let k = cols.kind_of(row);
            let key = memo_views.as_ref().and_then(|v| v.key(i, s == "sms"));
            let found = key.and_then(|key| memo.get(&key).copied());
            let id = match found {
                Some(id) => id,
                None => {
                    let id = match entity_of(s, k, cols.actor(row), cols.target(row)) {
                        None => NONE,
                        Some((kind, name)) => {
                            let map = &mut ids[kind as usize];
                            match map.get(name.as_ref()) {
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
                            }
                        }
                    };
                    if let Some(key) = key.filter(|_| memo.len() < MEMO_MAX) {
                        memo.insert(key, id);
                    }
                    id
                }
            };
            if id == NONE {
                continue;
            }
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

    /// The entities found with the per-view memory (one-chunk columns) and without it
    /// (the actor column in two chunks, so `entity_views` is None) are the same.
    #[test]
    fn remembered_entities_are_the_ones_read_from_the_text() {
        use crate::timeline::{self, Event, TimelineBuilder};
        use chrono::TimeZone;
        use polars::prelude::IntoColumn;
        let at = |s: i64| chrono::Utc.timestamp_opt(1_700_000_000 + s, 0).single();
        let mut b = TimelineBuilder::new("00008030-TEST");
        let handles = ["+41790000001", "Bob@Example.org", "bob@example.org", "me"];
        let procs = [
            "BackupAgent",
            "/usr/libexec/thing/0F1C2D3E-4A5B-6C7D-8E9F-0A1B2C3D4E5F",
            "/usr/libexec/thing/1F1C2D3E-4A5B-6C7D-8E9F-0A1B2C3D4E5F",
            "com.apple.WebKit.WebContent.long.process.name",
        ];
        for i in 0..400i64 {
            let h = handles[(i % 4) as usize];
            let other = handles[((i / 4) % 3) as usize];
            b.push(
                Event::new("sms", "message_received", at(i * 3600))
                    .actor(h)
                    .target(other)
                    .at("sms.db", format!("message:ROWID={i}")),
            );
            let p = procs[(i % 4) as usize];
            let (source, kind) = match i % 3 {
                0 => ("datausage", "network_usage"),
                1 => ("shutdown", "shutdown_client"),
                _ => ("shutdown", "reboot"),
            };
            b.push(
                Event::new(source, kind, at(i * 3600 + 7))
                    .actor(p)
                    .at("x", format!("row:{i}")),
            );
            b.push(
                Event::new("manifest", "file_modified", at(i * 3600 + 9))
                    .actor(p)
                    .at("Manifest.db", format!("file:{i}")),
            );
        }
        let df = timeline::assemble(vec![b.finish().unwrap()]).unwrap();
        let mut one = df.clone();
        one.rechunk_mut();
        let mut split = one.clone();
        let actor = split.column("actor").unwrap().str().unwrap().clone();
        let n = actor.len() as i64;
        let mut two = actor.slice(0, (n / 2) as usize);
        two.append(&actor.slice(n / 2, (n - n / 2) as usize))
            .unwrap();
        split.with_column(two.into_column()).unwrap();

        let with = Columns::new(&one).unwrap();
        assert!(with.entity_views().is_some());
        let without = Columns::new(&split).unwrap();
        assert!(without.entity_views().is_none());
        let (a, b) = (Baseline::build(&with), Baseline::build(&without));
        assert_eq!(a.entity, b.entity);
        assert_eq!(a.kinds, b.kinds);
        assert_eq!(a.first, b.first);
        assert_eq!(a.first_net, b.first_net);
        assert_eq!(a.days, b.days);
        assert_eq!(a.network, b.network);
        // Handles are case-folded into one entity, UUID-suffixed paths into their process,
        // reboots and Manifest rows name none.
        let kinds = |k: EntityKind| a.kinds.iter().filter(|&&x| x == k).count();
        assert_eq!(kinds(EntityKind::Handle), 2, "+4179…, bob@example.org");
        assert_eq!(kinds(EntityKind::Process), 3);
        let none = a.entity.iter().filter(|&&e| e == NONE).count();
        assert_eq!(none, 400 + 133);
    }
}
