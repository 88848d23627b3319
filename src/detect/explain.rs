//! Explanations that read like an analyst's note: what triggered, what followed and how
//! long after, which evidence row each came from, and how this phone's history weighed in.
//!
//! Selector texts are templates. Placeholders: `{actor}`, `{target}`, `{message}`,
//! `{kind}`, `{source}`, `{name}` (the process a path names), `{path}` (a backup target
//! without its domain), `{size}` (" (241 kB)" or nothing), `{traffic}` ("sent 288 kB"),
//! `{tag:NAME}` (the value of a `NAME:value` tag; `{tag:NAME|fallback}` when absent).

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::baseline::{Baseline, EntityKind, Rarity, NEW_FACTOR, ROUTINE_FACTOR};
use super::columns::Columns;
use super::engine::{Chain, ChainRow, SelRef};
use super::findings::Role;
use super::stix::Indicator;

pub fn fmt_bytes(n: i64) -> String {
    let f = n as f64;
    if n.abs() < 1_000 {
        format!("{n} B")
    } else if n.abs() < 1_000_000 {
        format!("{:.0} kB", f / 1e3)
    } else if n.abs() < 1_000_000_000 {
        format!("{:.1} MB", f / 1e6).replace(".0 MB", " MB")
    } else {
        format!("{:.1} GB", f / 1e9).replace(".0 GB", " GB")
    }
}

/// A duration in µs as an analyst says it: "43 s", "4 min 10 s", "2 h 5 min".
pub fn fmt_offset(us: i64) -> String {
    let us = us.abs();
    if us < 1_000_000 {
        return if us == 0 {
            "0 s".into()
        } else {
            format!("{:.1} s", us as f64 / 1e6)
        };
    }
    let s = (us as f64 / 1e6).round() as i64;
    if s < 120 {
        format!("{s} s")
    } else if s < 3_600 {
        if s % 60 == 0 {
            format!("{} min", s / 60)
        } else {
            format!("{} min {} s", s / 60, s % 60)
        }
    } else if s < 172_800 {
        format!("{} h {} min", s / 3_600, (s % 3_600) / 60)
    } else {
        format!("{} days", s / 86_400)
    }
}

fn at(us: i64) -> Option<DateTime<Utc>> {
    crate::timeline::time::from_micros(us)
}

pub fn fmt_when(us: i64) -> String {
    at(us)
        .map(|t| t.format("%H:%M:%S UTC on %Y-%m-%d").to_string())
        .unwrap_or_default()
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// `(DataUsage.sqlite ZLIVEUSAGE:12)`: the file name keeps the sentence readable; the
/// full artifact path is in the finding's events.
pub(crate) fn cite(cols: &Columns, row: u32) -> String {
    let artifact = cols.artifact(row);
    let name = artifact.rsplit('/').next().unwrap_or(artifact);
    match (name.is_empty(), cols.record(row)) {
        (true, "") => format!("(timeline row {})", row + 1),
        (true, r) => format!("({r})"),
        (false, "") => format!("({name})"),
        (false, r) => format!("({name} {r})"),
    }
}

fn traffic(bytes: (Option<i64>, Option<i64>)) -> String {
    match bytes {
        (Some(i), Some(o)) if i > 0 && o > 0 => {
            format!("received {} and sent {}", fmt_bytes(i), fmt_bytes(o))
        }
        (Some(i), _) if i > 0 => format!("received {}", fmt_bytes(i)),
        (_, Some(o)) if o > 0 => format!("sent {}", fmt_bytes(o)),
        (Some(_), _) | (_, Some(_)) => "used the network (0 bytes recorded)".into(),
        (None, None) => "used the network".into(),
    }
}

fn tag_value(tags: &[String], name: &str) -> Option<String> {
    let prefix = format!("{name}:");
    tags.iter()
        .find_map(|t| t.strip_prefix(prefix.as_str()).map(str::to_string))
}

/// Fills a selector text for one row.
pub(crate) fn render(template: &str, cols: &Columns, row: u32) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    let mut tags: Option<Vec<String>> = None;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            out.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let key = &rest[open + 1..open + close];
        rest = &rest[open + close + 1..];
        let value = match key {
            "actor" => cols.actor(row).to_string(),
            "target" => cols.target(row).to_string(),
            "message" => cols.message(row).to_string(),
            "kind" => cols.kind(row).replace('_', " "),
            "source" => cols.source(row).to_string(),
            "name" => super::baseline::process_name(cols.actor(row)).to_string(),
            "path" => {
                let t = cols.target(row);
                if cols.source(row) == "manifest" {
                    t.split_once('/').map_or(t, |(_, p)| p).to_string()
                } else {
                    t.to_string()
                }
            }
            "size" => match cols.bytes(row) {
                (None, None) => String::new(),
                (i, o) => format!(
                    " ({})",
                    fmt_bytes(i.unwrap_or(0).saturating_add(o.unwrap_or(0)))
                ),
            },
            "traffic" => traffic(cols.bytes(row)),
            k if k.starts_with("tag:") => {
                let spec = &k[4..];
                let (name, fallback) = spec.split_once('|').unwrap_or((spec, "?"));
                let tags = tags.get_or_insert_with(|| cols.row_tags(row));
                tag_value(tags, name).unwrap_or_else(|| fallback.to_string())
            }
            other => format!("{{{other}}}"),
        };
        out.push_str(&value);
    }
    out.push_str(rest);
    out
}

fn rarity_note(r: Rarity, kind: Option<EntityKind>) -> Option<String> {
    let day = |us: i64| {
        at(us)
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    };
    match (r, kind) {
        (Rarity::New { since }, Some(EntityKind::Handle)) => Some(format!(
            "a sender with no earlier conversation on this phone (history from {}), weight ×{NEW_FACTOR}",
            day(since)
        )),
        (Rarity::FirstNetwork { since }, _) => Some(format!(
            "its first network use on this phone (history from {}), weight ×{NEW_FACTOR}",
            day(since)
        )),
        (Rarity::New { since }, _) => {
            Some(format!("its first appearance on this phone (history from {}), weight ×{NEW_FACTOR}", day(since)))
        }
        (Rarity::Routine { days, of }, kind) => Some(format!(
            "routine on this phone ({} on {days} of its {of} earlier days), weight ×{ROUTINE_FACTOR}",
            match kind {
                Some(EntityKind::Handle) => "this sender wrote",
                _ => "the process ran",
            }
        )),
        (Rarity::Occasional { .. } | Rarity::Unknown, _) => None,
    }
}

fn notes(
    chain: &Chain,
    r: &ChainRow,
    base: &Baseline,
    iocs: &HashMap<u32, Vec<&Indicator>>,
) -> String {
    let sel = chain.selector(r.sel);
    let mut n: Vec<String> = Vec::new();
    if sel.never_networked {
        n.push("it had never used the network on this phone before".into());
    }
    if let Some(x) = rarity_note(r.rarity, base.kind(r.row)) {
        n.push(x);
    }
    for ind in iocs.get(&r.row).into_iter().flatten() {
        n.push(format!(
            "matches the {} indicator {} '{}' from {}",
            ind.malware,
            ind.kind.stix(),
            ind.value,
            ind.file
        ));
    }
    if n.is_empty() {
        String::new()
    } else {
        format!(" — {}", n.join("; "))
    }
}

fn relative(off: i64, first: bool, noun: &str) -> String {
    if off == 0 {
        format!("in the same second as {noun}")
    } else if off < 0 {
        format!("{} before {noun}", fmt_offset(off))
    } else if first {
        format!("{} later", fmt_offset(off))
    } else {
        format!("{} after {noun}", fmt_offset(off))
    }
}

/// The explanation of one chain.
pub(crate) fn chain(
    chain: &Chain,
    cols: &Columns,
    base: &Baseline,
    iocs: &HashMap<u32, Vec<&Indicator>>,
) -> String {
    let Some(trig) = chain
        .rows
        .iter()
        .find(|r| r.role == Role::Trigger)
        .or(chain.rows.first())
    else {
        return String::new();
    };
    let tsel = chain.selector(trig.sel);
    let when = match trig.ts {
        Some(t) => format!(" at {}", fmt_when(t)),
        None => " (the evidence records no time)".into(),
    };
    let mut clauses = vec![format!(
        "{}{when} {}{}",
        capitalise(&render(&tsel.text, cols, trig.row)),
        cite(cols, trig.row),
        notes(chain, trig, base, iocs)
    )];

    // Follow-ups, one clause per selector at its first row, in time order.
    let mut groups: Vec<(SelRef, Vec<&ChainRow>)> = Vec::new();
    for r in chain.rows.iter().filter(|r| r.role == Role::FollowUp) {
        match groups.iter_mut().find(|(s, _)| *s == r.sel) {
            Some((_, v)) => v.push(r),
            None => groups.push((r.sel, vec![r])),
        }
    }
    for (i, (sel, rows)) in groups.iter().enumerate() {
        let s = chain.selector(*sel);
        let r = rows[0];
        let off = match (r.ts, chain.trigger_ts) {
            (Some(a), Some(b)) => a - b,
            _ => 0,
        };
        let more = match rows.len() {
            1 => String::new(),
            n => {
                let last = rows[n - 1]
                    .ts
                    .zip(chain.trigger_ts)
                    .map(|(a, b)| a - b)
                    .unwrap_or(0);
                format!(
                    " (and {} more such row{}, the last {} after {})",
                    n - 1,
                    if n == 2 { "" } else { "s" },
                    fmt_offset(last),
                    tsel.noun
                )
            }
        };
        clauses.push(format!(
            "{} {} {}{}{more}",
            relative(off, i == 0, &tsel.noun),
            render(&s.text, cols, r.row),
            cite(cols, r.row),
            notes(chain, r, base, iocs)
        ));
    }
    let mut text = clauses.join("; ");
    text.push('.');

    let context: Vec<&ChainRow> = chain
        .rows
        .iter()
        .filter(|r| r.role == Role::Context)
        .collect();
    if !context.is_empty() {
        let shown: Vec<String> = context
            .iter()
            .take(3)
            .map(|r| {
                let when =
                    r.ts.zip(chain.trigger_ts)
                        .map(|(a, b)| format!("+{}", fmt_offset(a - b)))
                        .unwrap_or_default();
                format!(
                    "{} {when} {}",
                    render(&chain.selector(r.sel).text, cols, r.row),
                    cite(cols, r.row)
                )
                .replace("  ", " ")
            })
            .collect();
        let extra = if context.len() > 3 {
            format!(", and {} more", context.len() - 3)
        } else {
            String::new()
        };
        text.push_str(&format!(
            " The pattern recurs {} more time{} in overlapping windows, merged here: {}{extra}.",
            context.len(),
            if context.len() == 1 { "" } else { "s" },
            shown.join("; ")
        ));
    }
    if chain.omitted > 0 {
        text.push_str(&format!(
            " {} further matching rows in the windows are not listed.",
            chain.omitted
        ));
    }
    if let Some(v) = &chain.vetoed {
        let veto = &chain.rule.vetoes[v.selector];
        let off = chain.trigger_ts.map(|t| v.ts - t).unwrap_or(0);
        text.push_str(&format!(
            " Reported as low at most: the veto `{}` matched {} {} {} the trigger {}, which usually means an ordinary, kept attachment explains it; check that this file belongs to the message that fired.",
            veto.name,
            cols.target(v.row),
            fmt_offset(off),
            if off < 0 { "before" } else { "after" },
            cite(cols, v.row)
        ));
    }

    let rule = chain.rule;
    if !rule.follow_ups.is_empty() {
        text.push_str(&format!(
            " {} distinct class{} ({}) within {} of the trigger (the rule needs {}).",
            capitalise(&number(chain.classes.len())),
            if chain.classes.len() == 1 { "" } else { "es" },
            chain.classes.join(", "),
            fmt_offset(rule.window_s as i64 * 1_000_000),
            rule.min_classes
        ));
    }
    text.push_str(&format!(
        " Score {} → {}.",
        trim_float(chain.score),
        chain.severity.as_str()
    ));
    text
}

fn number(n: usize) -> String {
    match n {
        0 => "no".into(),
        1 => "one".into(),
        2 => "two".into(),
        3 => "three".into(),
        4 => "four".into(),
        5 => "five".into(),
        n => n.to_string(),
    }
}

pub fn trim_float(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The explanation of an indicator finding: which rows matched which published indicators.
pub(crate) fn iocs(malware: &str, hits: &[(u32, &Indicator)], cols: &Columns) -> String {
    let rows: std::collections::BTreeSet<u32> = hits.iter().map(|(r, _)| *r).collect();
    let mut parts = Vec::new();
    for (row, ind) in hits.iter().take(5) {
        let when = cols
            .ts(*row)
            .map(|t| format!(" at {}", fmt_when(t)))
            .unwrap_or_else(|| " (no time recorded)".into());
        parts.push(format!(
            "{} '{}' from {} in a {} {} row{when} {}",
            ind.kind.stix(),
            ind.value,
            ind.file,
            cols.source(*row),
            cols.kind(*row).replace('_', " "),
            cite(cols, *row)
        ));
    }
    let more = if hits.len() > 5 {
        format!("; and {} more matches", hits.len() - 5)
    } else {
        String::new()
    };
    format!(
        "{} timeline row{} match{} published indicators of {malware}: {}{more}. An indicator is an attribution someone published, not proof on its own: a domain in a message shows an attempt, a process name or file path on the phone shows that something ran.",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        if rows.len() == 1 { "es" } else { "" },
        parts.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_offsets_read_naturally() {
        assert_eq!(fmt_bytes(241_000), "241 kB");
        assert_eq!(fmt_bytes(76_000_000), "76 MB");
        assert_eq!(fmt_bytes(512), "512 B");
        assert_eq!(fmt_offset(43_000_000), "43 s");
        assert_eq!(fmt_offset(250_000_000), "4 min 10 s");
        assert_eq!(fmt_offset(300_000_000), "5 min");
        assert_eq!(fmt_offset(400_000), "0.4 s");
        assert_eq!(trim_float(7.5), "7.5");
        assert_eq!(trim_float(10.0), "10");
    }
}
