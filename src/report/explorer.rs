//! The timeline explorer's data: the timeline as compact columnar JSON inside a
//! `<script type="application/json">` block, decoded and filtered by the page's script.
//!
//! Shape (one entry per embedded row unless said otherwise): `n` rows embedded of
//! `total`; `t` times as µs deltas from the previous timed row (the first is absolute;
//! `null` = no time); string columns `source`, `kind`, `actor`, `target`, `artifact`,
//! `rtable` + `rkey` (the record split after its last `:`) and `message` as
//! `{"d": [values seen more than once], "m": [index into d, or the value itself]}`;
//! messages are templates in which U+0001 stands for the row's target, U+0002 for its
//! actor and U+0003 for the next number of `nums` (a flat list, in row order), because
//! most messages repeat those; `mraw` `[[row, text]]` holds messages that contain the
//! marker characters themselves. `tags` `{"d": [tag lists], "i": [index]}`;
//! `b` `[[row, bytes_in, bytes_out]]`; `at` `[[row, [analyst tags]]]`;
//! `f` `[[row, [finding ids]]]`; `device` one string or a column; `colors` per source.
//!
//! Every string goes through [`push_str`], which escapes `<`, `>`, `&`, U+2028 and
//! U+2029 so that evidence text such as `</script>` cannot end the block.

use std::collections::BTreeMap;

use polars::prelude::PlHashMap as HashMap;
use std::fmt::{self, Write};
use std::hash::BuildHasher;

use serde::Serialize;

use super::columns::Columns;

/// Rows embedded at most; beyond this the page says what it left out.
pub const DEFAULT_CAP: usize = 500_000;

/// Marks the report adds to timeline rows.
#[derive(Default)]
pub(crate) struct RowMarks {
    /// Tags the analyst put on rows (annotations.json).
    pub analyst_tags: BTreeMap<usize, Vec<String>>,
    /// Findings a row is evidence of.
    pub findings: BTreeMap<usize, Vec<String>>,
    /// Rows kept whatever the cap: in a finding's context window, tagged, or marked.
    pub priority: Vec<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct LeftOut {
    pub rows: usize,
    pub untimed: usize,
    pub from: String,
    pub to: String,
    pub by_source: Vec<(String, usize)>,
}

/// Which rows the payload embeds, decided before anything is written so the page
/// around it can say so.
pub(crate) struct Plan {
    rows: Vec<usize>,
    pub total: usize,
    pub left_out: Option<LeftOut>,
}

impl Plan {
    pub fn new(cols: &Columns, marks: &RowMarks, cap: usize) -> Plan {
        let rows = select(cols, marks, cap);
        let left_out = left_out(cols, &rows);
        Plan {
            rows,
            total: cols.len(),
            left_out,
        }
    }

    pub fn embedded(&self) -> usize {
        self.rows.len()
    }
}

/// Which rows fit under the cap: all priority rows, then the most recent others (an
/// attack is usually looked for near the time the phone was seized), then rows
/// without a time. Returned in timeline order.
fn select(cols: &Columns, marks: &RowMarks, cap: usize) -> Vec<usize> {
    let n = cols.len();
    if n <= cap {
        return (0..n).collect();
    }
    let is_priority = |i: usize| marks.priority.get(i).copied().unwrap_or(false);
    let mut keep = vec![false; n];
    let timed_desc = (0..n).rev().filter(|&i| cols.ts[i].is_some());
    let untimed = (0..n).filter(|&i| cols.ts[i].is_none());
    let order = timed_desc
        .clone()
        .filter(|&i| is_priority(i))
        .chain(untimed.clone().filter(|&i| is_priority(i)));
    let rest = timed_desc
        .filter(|&i| !is_priority(i))
        .chain(untimed.filter(|&i| !is_priority(i)));
    for i in order.chain(rest).take(cap) {
        keep[i] = true;
    }
    (0..n).filter(|&i| keep[i]).collect()
}

fn left_out(cols: &Columns, rows: &[usize]) -> Option<LeftOut> {
    if rows.len() == cols.len() {
        return None;
    }
    let mut kept = vec![false; cols.len()];
    for &i in rows {
        kept[i] = true;
    }
    let mut by_source: BTreeMap<String, usize> = BTreeMap::new();
    let (mut lo, mut hi, mut untimed, mut count) = (i64::MAX, i64::MIN, 0usize, 0usize);
    for (i, k) in kept.iter().enumerate() {
        if *k {
            continue;
        }
        count += 1;
        *by_source.entry(cols.source(i).to_string()).or_default() += 1;
        match cols.ts[i] {
            Some(t) => {
                lo = lo.min(t);
                hi = hi.max(t);
            }
            None => untimed += 1,
        }
    }
    let fmt = |us: i64| {
        if us == i64::MAX || us == i64::MIN {
            String::new()
        } else {
            super::display_time(us)
        }
    };
    let mut by_source: Vec<(String, usize)> = by_source.into_iter().collect();
    by_source.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Some(LeftOut {
        rows: count,
        untimed,
        from: fmt(lo),
        to: fmt(hi),
        by_source,
    })
}

/// Writes the payload of `plan` to `out`. The payload (tens of MB) is made in parts
/// (the times, each column, the messages, ...) on worker threads and each part is
/// written as soon as it and every part before it are made: never held whole, and
/// the two cores both busy.
pub(crate) fn write<W: Write>(
    out: &mut W,
    plan: &Plan,
    cols: &Columns,
    marks: &RowMarks,
    colors: &BTreeMap<String, String>,
) -> fmt::Result {
    let rows: &[usize] = &plan.rows;
    let mut parts: Vec<Part<'_>> = Vec::new();
    parts.push(Box::new(move |out: &mut String| {
        write!(
            out,
            "{{\"v\":1,\"n\":{},\"total\":{},\"t\":[",
            rows.len(),
            cols.len()
        )?;
        let mut prev: Option<i64> = None;
        for (k, &i) in rows.iter().enumerate() {
            if k > 0 {
                out.write_char(',')?;
            }
            match cols.ts[i] {
                Some(t) => {
                    push_int(out, t - prev.unwrap_or(0))?;
                    prev = Some(t);
                }
                None => out.write_str("null")?,
            }
        }
        out.write_char(']')?;
        Ok(())
    }));
    parts.push(Box::new(move |out: &mut String| {
        let mut raw: Vec<(usize, &str)> = Vec::new();
        let mut nums: Vec<u64> = Vec::new();
        // Templates side by side in one string (no `String` per row held at once).
        let mut arena = String::new();
        let mut spans: Vec<(usize, usize)> = Vec::with_capacity(rows.len());
        for (k, &i) in rows.iter().enumerate() {
            let start = arena.len();
            if !template(
                cols.message(i),
                cols.target(i),
                cols.actor(i),
                &mut arena,
                &mut nums,
            ) {
                raw.push((k, cols.message(i)));
            }
            spans.push((start, arena.len()));
        }
        push_column(out, "message", spans.iter().map(|&(a, b)| &arena[a..b]))?;
        drop(spans);
        drop(arena);
        out.write_str(",\"nums\":[")?;
        for (n, v) in nums.iter().enumerate() {
            if n > 0 {
                out.write_char(',')?;
            }
            push_int(out, *v)?;
        }
        out.write_str("],\"mraw\":[")?;
        for (n, (k, text)) in raw.iter().enumerate() {
            if n > 0 {
                out.write_char(',')?;
            }
            write!(out, "[{k},")?;
            push_str(out, text)?;
            out.write_char(']')?;
        }
        out.write_char(']')?;

        Ok(())
    }));
    // The slowest parts first (the messages above, then the record keys and targets),
    // so the two workers finish together; the page reads the payload by name, so the
    // order of its parts is free. Records are split at their last `:` (`Files:<sha1>`,
    // `ZLIVEUSAGE:12`): the table part repeats, the key often does not.
    let columns: [(&str, Get); 7] = [
        ("rkey", |c, i| split_record(c.record(i)).1),
        ("target", |c, i| c.target(i)),
        ("source", |c, i| c.source(i)),
        ("kind", |c, i| c.kind(i)),
        ("actor", |c, i| c.actor(i)),
        ("artifact", |c, i| c.artifact(i)),
        ("rtable", |c, i| split_record(c.record(i)).0),
    ];
    for (name, get) in columns {
        parts.push(Box::new(move |out: &mut String| {
            push_column(out, name, rows.iter().map(|&i| get(cols, i)))
        }));
    }
    parts.push(Box::new(move |out: &mut String| {
        // Tags: dictionary of tag lists, indexed per row.
        let mut tag_dict: HashMap<u32, u32> = HashMap::default();
        let mut tag_order: Vec<u32> = Vec::new();
        let tag_idx: Vec<u32> = rows
            .iter()
            .map(|&i| {
                let id = cols.tag_ids.get(i).copied().unwrap_or(0);
                let next = tag_order.len() as u32;
                *tag_dict.entry(id).or_insert_with(|| {
                    tag_order.push(id);
                    next
                })
            })
            .collect();
        out.write_str(",\"tags\":{\"d\":[")?;
        for (n, id) in tag_order.iter().enumerate() {
            if n > 0 {
                out.write_char(',')?;
            }
            push_str_array(
                out,
                cols.tag_sets
                    .get(*id as usize)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]),
            )?;
        }
        out.write_str("],\"i\":")?;
        push_u32_array(out, &tag_idx)?;
        out.write_char('}')?;

        Ok(())
    }));
    parts.push(Box::new(move |out: &mut String| {
        out.write_str(",\"b\":[")?;
        let mut first = true;
        for (k, &i) in rows.iter().enumerate() {
            let (bi, bo) = cols.bytes(i);
            if bi.is_none() && bo.is_none() {
                continue;
            }
            if !first {
                out.write_char(',')?;
            }
            first = false;
            out.write_char('[')?;
            push_int(out, k)?;
            for v in [bi, bo] {
                out.write_char(',')?;
                match v {
                    Some(v) => push_int(out, v)?,
                    None => out.write_str("null")?,
                }
            }
            out.write_char(']')?;
        }
        out.write_char(']')?;

        Ok(())
    }));
    parts.push(Box::new(move |out: &mut String| {
        // Timeline row → its place among the embedded rows.
        let mut position: Vec<u32> = vec![u32::MAX; cols.len()];
        for (k, &i) in rows.iter().enumerate() {
            position[i] = k as u32;
        }
        for (name, marks) in [("at", &marks.analyst_tags), ("f", &marks.findings)] {
            write!(out, ",\"{name}\":[")?;
            let mut first = true;
            for (i, values) in marks {
                let Some(k) = position.get(*i).copied().filter(|&k| k != u32::MAX) else {
                    continue;
                };
                if !first {
                    out.write_char(',')?;
                }
                first = false;
                write!(out, "[{k},")?;
                push_str_array(out, values)?;
                out.write_char(']')?;
            }
            out.write_char(']')?;
        }

        // Nearly always one phone: its name once. The rows share the name's bytes (the
        // timeline stores a repeated value once), so most checks compare no text.
        let first = rows.first().map_or("", |&i| cols.device(i));
        let same = |d: &str| std::ptr::eq(d, first) || d == first;
        if rows.iter().all(|&i| same(cols.device(i))) {
            out.write_str(",\"device\":")?;
            push_str(out, first)?;
        } else {
            push_column(out, "device", rows.iter().map(|&i| cols.device(i)))?;
        }

        out.write_str(",\"colors\":{")?;
        for (n, (s, c)) in colors.iter().enumerate() {
            if n > 0 {
                out.write_char(',')?;
            }
            push_str(out, s)?;
            out.write_char(':')?;
            push_str(out, c)?;
        }
        out.write_str("}}")?;
        Ok(())
    }));
    write_parts(out, parts)
}

/// One piece of the payload, written into its own buffer.
type Part<'s> = Box<dyn FnOnce(&mut String) -> fmt::Result + Send + 's>;

/// A string column's value for a timeline row.
type Get = for<'c> fn(&'c Columns, usize) -> &'c str;

/// A record id split after its last `:` (table part, key part).
fn split_record(r: &str) -> (&str, &str) {
    match r.as_bytes().iter().rposition(|&b| b == b':') {
        Some(p) => r.split_at(p + 1),
        None => ("", r),
    }
}

/// Makes `parts` on the rayon pool's threads (each takes the next part in order when
/// free) and writes them to `out` on the calling thread in order, each as soon as
/// those before it are written; only the parts made ahead of the writer are held.
/// The writer waits for parts, so a caller that is itself a pool thread (it could be
/// the only one) makes and writes them one after another instead.
fn write_parts<W: Write>(out: &mut W, parts: Vec<Part<'_>>) -> fmt::Result {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{mpsc, Mutex, PoisonError};

    if rayon::current_thread_index().is_some() {
        for part in parts {
            let mut text = String::new();
            part(&mut text)?;
            out.write_str(&text)?;
        }
        return Ok(());
    }
    let n = parts.len();
    let queue = Mutex::new(parts.into_iter().enumerate());
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<(usize, Result<String, fmt::Error>)>();
    let workers = rayon::current_num_threads().clamp(1, n.max(1));
    rayon::in_place_scope(|s| {
        for _ in 0..workers {
            let (tx, queue, stop) = (tx.clone(), &queue, &stop);
            s.spawn(move |_| {
                while !stop.load(Ordering::Relaxed) {
                    let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
                    let Some((k, part)) = next else { break };
                    let mut buf = String::new();
                    let made = part(&mut buf).map(|()| buf);
                    if tx.send((k, made)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut ready: BTreeMap<usize, Result<String, fmt::Error>> = BTreeMap::new();
        let mut written = 0;
        let mut result = Ok(());
        // Ends when every worker has finished (or stopped after an error). Parts are
        // taken in order, so every part before a failed one is made and written.
        for (k, made) in rx {
            if made.is_err() {
                stop.store(true, Ordering::Relaxed);
            }
            ready.insert(k, made);
            while result.is_ok() {
                let Some(made) = ready.remove(&written) else {
                    break;
                };
                written += 1;
                result = made.and_then(|text| out.write_str(&text));
            }
            if result.is_err() {
                stop.store(true, Ordering::Relaxed);
            }
        }
        // A part missing without an error means a worker panicked (re-raised when the
        // scope ends).
        if result.is_ok() && written != n {
            result = Err(fmt::Error);
        }
        result
    })
}

/// Marks the row's target, its actor and each number in a message.
const TARGET: char = '\u{1}';
const ACTOR: char = '\u{2}';
const NUMBER: char = '\u{3}';

/// The first occurrence of `needle` in `hay`. Messages are short: there, candidates
/// found by the needle's first byte and compared directly beat building a substring
/// searcher per row; long (possibly hostile) text gets `memmem`, which is linear.
fn find(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let (&first, rest) = n.split_first()?;
    if h.len() < n.len() {
        return None;
    }
    if h.len() > 256 {
        return memchr::memmem::find(h, n);
    }
    memchr::memchr_iter(first, &h[..=h.len() - n.len()]).find(|&p| &h[p + 1..p + n.len()] == rest)
}

/// Whether `s` holds one of the marker characters (each a single ASCII byte, so a
/// byte search finds exactly the characters; `str::contains` with a char array
/// decoded every character).
fn has_marker(s: &str) -> bool {
    const _: () =
        assert!((TARGET as u32) < 0x80 && (ACTOR as u32) < 0x80 && (NUMBER as u32) < 0x80);
    memchr::memchr3(TARGET as u8, ACTOR as u8, NUMBER as u8, s.as_bytes()).is_some()
}

/// Appends to `out` the message with its target and actor replaced by markers and
/// its numbers moved to `nums`; `false` (nothing appended) when the message itself
/// holds a marker character (it is then sent as is).
fn template(
    message: &str,
    target: &str,
    actor: &str,
    out: &mut String,
    nums: &mut Vec<u64>,
) -> bool {
    if has_marker(message) {
        return false;
    }
    // Very short values would match inside unrelated words and save nothing. A value
    // holding a marker character needs no test of its own: the message holds none, so
    // such a value is never found in it.
    let usable = |v: &str| v.len() >= 4;
    // The first occurrence of each, replaced as `replacen(_, _, 1)` would in turn:
    // the target first, then the actor in what is left. Each is (offset, length, marker).
    let target_at = if usable(target) {
        find(message, target)
    } else {
        None
    };
    let actor_at = if usable(actor) {
        // Looked for before the target's place, then after it (never across it: in the
        // text `replacen` would see, the target is a marker).
        match target_at {
            None => find(message, actor),
            Some(t) => find(&message[..t], actor).or_else(|| {
                let after = t + target.len();
                find(&message[after..], actor).map(|p| p + after)
            }),
        }
    } else {
        None
    };
    let mut cuts = [
        target_at.map(|p| (p, target.len(), TARGET)),
        actor_at.map(|p| (p, actor.len(), ACTOR)),
    ];
    cuts.sort_by_key(|c| c.map(|(at, _, _)| at));
    let mut rest_from = 0;
    for (at, len, marker) in cuts.into_iter().flatten() {
        numbers(&message[rest_from..at], out, nums);
        out.push(marker);
        rest_from = at + len;
    }
    numbers(&message[rest_from..], out, nums);
    true
}

/// Appends `text` to `out` with its digit runs that read back identically as JSON
/// numbers (no leading zero, at most 15 digits: exact in a JavaScript double) moved
/// to `nums` and marked.
fn numbers(text: &str, out: &mut String, nums: &mut Vec<u64>) {
    let b = text.as_bytes();
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let run = &text[start..i];
        if run.len() <= 15 && (run == "0" || !run.starts_with('0')) {
            if let Ok(v) = run.parse::<u64>() {
                out.push_str(&text[copied..start]);
                out.push(NUMBER);
                nums.push(v);
                copied = i;
            }
        }
    }
    out.push_str(&text[copied..]);
}

/// A string column as the payload holds it (see [`push_column`]).
struct Encoded<'a> {
    /// Distinct values in order of first appearance.
    distinct: Vec<&'a str>,
    /// Per distinct value: its index in the dictionary, or `u32::MAX` if seen once.
    dict_index: Vec<u32>,
    /// The dictionary: the repeated values, in order of first appearance.
    dict: Vec<&'a str>,
    /// Per row: its distinct value.
    row_ids: Vec<u32>,
}

/// One pass that hashes each value once: distinct values numbered in order of first
/// appearance, with their counts, and each row's number (4 bytes a row).
///
/// The table holds only value numbers (4 bytes each); each value's hash is kept in a
/// side list, so growing the table never reads the values again (they lie scattered
/// across the timeline's text), and a probe compares text only when the whole hash
/// matches.
fn encode<'a>(values: impl Iterator<Item = &'a str>) -> Encoded<'a> {
    let hasher = polars::prelude::PlRandomState::default();
    let mut table: hashbrown::HashTable<u32> = hashbrown::HashTable::new();
    let mut hashes: Vec<u64> = Vec::new();
    let mut distinct: Vec<&str> = Vec::new();
    let mut counts: Vec<u32> = Vec::new();
    let mut row_ids: Vec<u32> = Vec::with_capacity(values.size_hint().0);
    for text in values {
        let hash = hasher.hash_one(text);
        let found = table.entry(
            hash,
            |&id| hashes[id as usize] == hash && distinct[id as usize] == text,
            |&id| hashes[id as usize],
        );
        let id = match found {
            hashbrown::hash_table::Entry::Occupied(e) => *e.get(),
            hashbrown::hash_table::Entry::Vacant(e) => {
                let id = distinct.len() as u32;
                e.insert(id);
                distinct.push(text);
                hashes.push(hash);
                counts.push(0);
                id
            }
        };
        counts[id as usize] += 1;
        row_ids.push(id);
    }
    drop(table);
    drop(hashes);
    let mut dict_index: Vec<u32> = vec![u32::MAX; distinct.len()];
    let mut dict: Vec<&str> = Vec::new();
    for (id, v) in distinct.iter().enumerate() {
        if counts[id] > 1 {
            dict_index[id] = dict.len() as u32;
            dict.push(v);
        }
    }
    Encoded {
        distinct,
        dict_index,
        dict,
        row_ids,
    }
}

fn write_encoded<W: Write>(out: &mut W, name: &str, e: &Encoded) -> fmt::Result {
    write!(out, ",\"{name}\":{{\"d\":")?;
    push_str_array(out, &e.dict)?;
    out.write_str(",\"m\":[")?;
    for (n, &id) in e.row_ids.iter().enumerate() {
        if n > 0 {
            out.write_char(',')?;
        }
        match e.dict_index[id as usize] {
            u32::MAX => push_str(out, e.distinct[id as usize])?,
            idx => push_int(out, idx)?,
        }
    }
    out.write_str("]}")
}

/// A string column: values seen more than once go to a dictionary and are referred
/// to by index; values seen once are written in place.
fn push_column<'a, W: Write>(
    out: &mut W,
    name: &str,
    values: impl Iterator<Item = &'a str>,
) -> fmt::Result {
    write_encoded(out, name, &encode(values))
}

fn push_u32_array<W: Write>(out: &mut W, v: &[u32]) -> fmt::Result {
    out.write_char('[')?;
    for (n, x) in v.iter().enumerate() {
        if n > 0 {
            out.write_char(',')?;
        }
        push_int(out, *x)?;
    }
    out.write_char(']')
}

fn push_str_array<W: Write, S: AsRef<str>>(out: &mut W, v: &[S]) -> fmt::Result {
    out.write_char('[')?;
    for (n, x) in v.iter().enumerate() {
        if n > 0 {
            out.write_char(',')?;
        }
        push_str(out, x.as_ref())?;
    }
    out.write_char(']')
}

/// A JSON string literal that is also safe inside an HTML `<script>` element: besides
/// JSON's own escapes, `<`, `>` and `&` become `\u003c`, `\u003e`, `\u0026` (no `</script>`
/// or `<!--` can form), and U+2028/U+2029 are escaped for older JavaScript parsers.
pub(crate) fn push_str<W: Write>(out: &mut W, s: &str) -> fmt::Result {
    out.write_char('"')?;
    // Byte by byte: every character escaped is ASCII except U+2028/U+2029 (E2 80 A8/A9),
    // so each cut falls on a character boundary.
    let b = s.as_bytes();
    let (mut start, mut i) = (0, 0);
    while i < b.len() {
        // Most bytes need nothing: one table lookup passes over them.
        if !MAY_ESCAPE[usize::from(b[i])] {
            i += 1;
            continue;
        }
        let (esc, len): (&str, usize) = match b[i] {
            b'"' => ("\\\"", 1),
            b'\\' => ("\\\\", 1),
            b'\n' => ("\\n", 1),
            b'\r' => ("\\r", 1),
            b'\t' => ("\\t", 1),
            b'<' => ("\\u003c", 1),
            b'>' => ("\\u003e", 1),
            b'&' => ("\\u0026", 1),
            0xE2 if b.get(i + 1) == Some(&0x80) && b.get(i + 2) == Some(&0xA8) => ("\\u2028", 3),
            0xE2 if b.get(i + 1) == Some(&0x80) && b.get(i + 2) == Some(&0xA9) => ("\\u2029", 3),
            c if c < 0x20 => ("", 1),
            _ => {
                i += 1;
                continue;
            }
        };
        out.write_str(&s[start..i])?;
        if esc.is_empty() {
            write!(out, "\\u{:04x}", b[i])?;
        } else {
            out.write_str(esc)?;
        }
        i += len;
        start = i;
    }
    out.write_str(&s[start..])?;
    out.write_char('"')
}

/// The bytes [`push_str`] may have to escape: controls, `"`, `\\`, `<`, `>`, `&`, and
/// 0xE2 (the first byte of U+2028 and U+2029).
const MAY_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 0x20 {
        t[c] = true;
        c += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t[b'<' as usize] = true;
    t[b'>' as usize] = true;
    t[b'&' as usize] = true;
    t[0xE2] = true;
    t
};

/// An integer without the formatting machinery (the payload holds millions).
fn push_int<W: Write>(out: &mut W, v: impl itoa::Integer) -> fmt::Result {
    out.write_str(itoa::Buffer::new().format(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> String {
        let mut out = String::new();
        push_str(&mut out, s).unwrap();
        out
    }

    #[test]
    fn script_breakers_are_escaped_and_round_trip() {
        let evil =
            "</script><script>alert(1)</script> <!-- & \u{2028}\u{2029} \"q\" \\ \u{1}\u{7f} é 🎉";
        let j = lit(evil);
        for bad in ["<", ">", "&", "\u{2028}", "\u{2029}"] {
            assert!(!j.contains(bad), "{bad:?} left in {j}");
        }
        assert!(j.starts_with("\"\\u003c/script\\u003e"));
        let back: String = serde_json::from_str(&j).unwrap();
        assert_eq!(back, evil);
    }

    #[test]
    fn every_ascii_character_and_the_e2_neighbours_round_trip() {
        // Every byte the fast path skips or stops at: all of ASCII, and characters that
        // start with 0xE2 but are not U+2028/U+2029 (kept as they are).
        let mut s: String = (0u8..0x80).map(char::from).collect();
        s.push_str("€ \u{2027}\u{2028}\u{2029}\u{202a} ‱");
        let j = lit(&s);
        assert!(!j
            .bytes()
            .any(|b| b < 0x20 || b == b'<' || b == b'>' || b == b'&'));
        assert!(j.contains('€') && j.contains('\u{2027}') && j.contains('‱'));
        let back: String = serde_json::from_str(&j).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn messages_become_templates() {
        let mut nums = Vec::new();
        let t = |m: &str, tg: &str, ac: &str, nums: &mut Vec<u64>| {
            let mut out = String::new();
            template(m, tg, ac, &mut out, nums).then_some(out)
        };
        assert_eq!(
            t(
                "M-C- file HomeDomain/Library/x2.plist, 1234 bytes",
                "HomeDomain/Library/x2.plist",
                "HomeDomain",
                &mut nums
            )
            .as_deref(),
            Some("M-C- file \u{1}, \u{3} bytes")
        );
        assert_eq!(
            t(
                "IMTransferAgent used 76,000,000 B",
                "",
                "IMTransferAgent",
                &mut nums
            )
            .as_deref(),
            Some("\u{2} used \u{3},000,000 B")
        );
        assert_eq!(nums, [1234, 76]);
        nums.clear();
        // Leading zeros and huge runs stay in the text: they would not read back the same.
        assert_eq!(
            t("at 007 and 1234567890123456 and 0", "", "", &mut nums).as_deref(),
            Some("at 007 and 1234567890123456 and \u{3}")
        );
        assert_eq!(nums, [0]);
        assert_eq!(t("has \u{1} inside", "x", "y", &mut nums), None);
        assert_eq!(t("a b", "a", "b", &mut nums).as_deref(), Some("a b"));
    }

    /// The templating as first written (whole-string `replacen`, then a digit scan),
    /// kept as the reference the allocation-free version must agree with.
    fn template_by_replacing(
        m: &str,
        target: &str,
        actor: &str,
        nums: &mut Vec<u64>,
    ) -> Option<String> {
        let markers = [TARGET, ACTOR, NUMBER];
        if m.contains(markers) {
            return None;
        }
        let mut t = m.to_string();
        if target.len() >= 4 && !target.contains(markers) {
            t = t.replacen(target, "\u{1}", 1);
        }
        if actor.len() >= 4 && !actor.contains(markers) {
            t = t.replacen(actor, "\u{2}", 1);
        }
        let mut out = String::new();
        let mut rest = t.as_str();
        while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
            let len = rest[start..]
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len() - start);
            let run = &rest[start..start + len];
            out.push_str(&rest[..start]);
            match run.parse::<u64>() {
                Ok(v) if run.len() <= 15 && (run == "0" || !run.starts_with('0')) => {
                    out.push(NUMBER);
                    nums.push(v);
                }
                _ => out.push_str(run),
            }
            rest = &rest[start + len..];
        }
        out.push_str(rest);
        Some(out)
    }

    #[test]
    fn substring_search_agrees_with_str_find() {
        let long = format!("{}needle{}", "x".repeat(300), "y".repeat(10));
        let cases = [
            ("abc", "abc"),
            ("aabc", "abc"),
            ("ab", "abc"),
            ("xabcabc", "bca"),
            ("é abc é", "c é"),
            ("", "a"),
            (long.as_str(), "needle"),
            (long.as_str(), "needles"),
        ];
        for (hay, needle) in cases {
            assert_eq!(find(hay, needle), hay.find(needle), "{hay:?} {needle:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn templates_agree_with_replacing(
            m in "[ab01\u{1}é ]{0,24}",
            target in "[ab0 ]{0,6}",
            actor in "[ab1\u{2} ]{0,6}",
        ) {
            let (mut want_nums, mut got_nums) = (Vec::new(), Vec::new());
            let want = template_by_replacing(&m, &target, &actor, &mut want_nums);
            let mut out = String::new();
            let got = template(&m, &target, &actor, &mut out, &mut got_nums).then_some(out);
            proptest::prop_assert_eq!(got, want);
            proptest::prop_assert_eq!(got_nums, want_nums);
        }

        #[test]
        fn json_strings_read_back(s in "\\PC*|[\u{0}-\u{7f}\u{2028}\u{2029}]{0,40}") {
            let mut j = String::new();
            push_str(&mut j, &s).unwrap();
            let back: String = serde_json::from_str(&j).unwrap();
            proptest::prop_assert_eq!(back, s);
            let breakers = ['<', '>', '&', '\u{2028}', '\u{2029}'];
            proptest::prop_assert!(!j.contains(breakers), "{:?}", j);
        }
    }

    #[test]
    fn parts_are_written_in_order_whatever_order_they_finish_in() {
        // Early parts are the slowest, so later ones finish first on other threads.
        let make = |k: usize| -> Part<'static> {
            Box::new(move |out: &mut String| {
                let spin = (40 - k) * 20_000;
                let mut x = k as u64;
                for _ in 0..spin {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
                write!(out, "[{k}:{}]", x % 7)
            })
        };
        let expected: String = (0..40)
            .map(|k| {
                let mut s = String::new();
                make(k)(&mut s).unwrap();
                s
            })
            .collect();
        let mut out = String::new();
        write_parts(&mut out, (0..40).map(make).collect()).unwrap();
        assert_eq!(out, expected);
        // From inside a one-thread pool (the writer must not wait on its own thread).
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let mut inside = String::new();
        pool.install(|| write_parts(&mut inside, (0..40).map(make).collect()))
            .unwrap();
        assert_eq!(inside, expected);
        let mut none = String::new();
        write_parts(&mut none, Vec::new()).unwrap();
        assert_eq!(none, "");
    }

    #[test]
    fn a_failing_part_is_an_error_and_nothing_after_it_is_written() {
        let mut parts: Vec<Part<'static>> = Vec::new();
        for k in 0..10 {
            parts.push(Box::new(move |out: &mut String| {
                if k == 4 {
                    Err(fmt::Error)
                } else {
                    write!(out, "{k},")
                }
            }));
        }
        let mut out = String::new();
        assert!(write_parts(&mut out, parts).is_err());
        assert_eq!(out, "0,1,2,3,");
    }

    /// Thousands of distinct values (the table grows many times) and repeats far apart
    /// are numbered as a plain map numbers them.
    #[test]
    fn encoding_agrees_with_a_plain_map_across_table_growth() {
        let values: Vec<String> = (0..20_000u32)
            .map(|k| format!("value {}", (k * 7919) % 6_000))
            .chain((0..50).map(|k| "x".repeat(k)))
            .collect();
        let e = encode(values.iter().map(String::as_str));
        let mut seen: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
        let mut counts: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
        for v in &values {
            let next = seen.len() as u32;
            let id = *seen.entry(v.as_str()).or_insert(next);
            *counts.entry(v.as_str()).or_default() += 1;
            assert_eq!(e.distinct[id as usize], v);
        }
        let ids: Vec<u32> = values.iter().map(|v| seen[v.as_str()]).collect();
        assert_eq!(e.row_ids, ids);
        assert_eq!(e.distinct.len(), seen.len());
        let repeated: Vec<&str> = e
            .distinct
            .iter()
            .copied()
            .filter(|v| counts[v] > 1)
            .collect();
        assert_eq!(e.dict, repeated);
        for (id, v) in e.distinct.iter().enumerate() {
            let want = repeated
                .iter()
                .position(|r| r == v)
                .map_or(u32::MAX, |p| p as u32);
            assert_eq!(e.dict_index[id], want);
        }
    }

    #[test]
    fn columns_put_repeated_values_in_a_dictionary() {
        let mut out = String::new();
        push_column(&mut out, "c", ["a", "b", "a", "a", "<"].into_iter()).unwrap();
        assert_eq!(out, r#","c":{"d":["a"],"m":[0,"b",0,0,"\u003c"]}"#);
    }
}
