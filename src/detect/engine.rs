//! Rule evaluation in columns.
//!
//! 1. Each selector becomes a selection (the sorted rows it matches): it starts from the
//!    rows of the `source` or `kind` values it names (the dictionaries keep each value's
//!    rows), tests `source`/`kind` once per distinct value, tags through the tag index,
//!    and later tests only on the rows left. Selections need no baseline, so they are
//!    made while it is built ([`selections`], then [`chains`]).
//! 2. The selections become sorted lists of positions in time order; a two-pointer sweep over
//!    the trigger list and each follow-up list finds the follow-ups inside each trigger's
//!    window. Both pointers only move forward, so the work is the lists' length plus the
//!    rows actually inside windows — never every pair.
//! 3. A trigger qualifies when its window holds enough distinct classes (and the rule's
//!    `require` groups); qualified triggers whose windows overlap merge into one chain.

use std::collections::{BTreeSet, HashMap, HashSet};

use polars::prelude::{PlHashMap, StringChunked};
use polars_arrow::array::Array;

use super::baseline::{Baseline, Rarity};
use super::columns::{one_chunk, Columns, Dictionary};
use super::findings::{Role, Severity};
use super::rule::{Pred, Rule, Selector, StrMatcher};

/// At most this many rows per follow-up selector are kept from one trigger's window; the
/// explanation counts the rest. Keeps a dense window from producing a giant chain.
pub const MAX_PER_SELECTOR: usize = 25;
const US: i64 = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum SelRef {
    Trigger(usize),
    FollowUp(usize),
}

#[derive(Debug, Clone)]
pub(crate) struct ChainRow {
    pub row: u32,
    pub ts: Option<i64>,
    pub role: Role,
    pub sel: SelRef,
    pub rarity: Rarity,
}

/// One detected chain, before it becomes a [`super::Finding`].
#[derive(Debug, Clone)]
pub(crate) struct Chain<'r> {
    pub rule: &'r Rule,
    /// Sorted by time; the trigger comes first.
    pub rows: Vec<ChainRow>,
    pub trigger_ts: Option<i64>,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub score: f64,
    pub classes: Vec<String>,
    pub severity: Severity,
    /// Rows inside the windows that matched a follow-up selector but were not kept.
    pub omitted: usize,
    /// A veto row fell in the window: the chain is reported, at most low, with it.
    pub vetoed: Option<Vetoed>,
}

/// The veto that cancelled a chain: which selector, and the row it matched.
#[derive(Debug, Clone)]
pub(crate) struct Vetoed {
    pub selector: usize,
    pub row: u32,
    pub ts: i64,
}

impl<'r> Chain<'r> {
    pub fn selector(&self, s: SelRef) -> &'r Selector {
        match s {
            SelRef::Trigger(i) => &self.rule.triggers[i],
            SelRef::FollowUp(i) => &self.rule.follow_ups[i],
        }
    }
}

// ---------------------------------------------------------------------------------------
// Selections.

// Distinct values remembered per test by [`retain_str`]: [`super::MEMO_MAX`].
use super::MEMO_MAX;
/// After this many rows, [`retain_str`] stops remembering unless at least a quarter of
/// them were answered from memory (a column of distinct values, such as paths, gains
/// nothing from it and pays for every insert).
const MEMO_TRIAL: usize = 4096;

fn retain_str(m: &StrMatcher, col: &StringChunked, rows: &mut Vec<u32>) {
    // The detection frame is one chunk. Rows holding the same stored value share one
    // 16-byte view (short values are inside it, repeated long ones point at one copy), so
    // a test's result is remembered per view: a regex over a process name runs once per
    // name, not once per row. Equal views always hold equal text; equal text in two
    // different views is only tested twice.
    if let Some(arr) = one_chunk(col) {
        let views = arr.views();
        let mut memo: Option<PlHashMap<u128, bool>> = Some(PlHashMap::default());
        let (mut seen, mut hits) = (0usize, 0usize);
        rows.retain(|&r| {
            let r = r as usize;
            let Some(view) = views.get(r) else {
                return m.matches("");
            };
            if arr.is_null(r) {
                return m.matches("");
            }
            let Some(known) = memo.as_mut() else {
                return m.matches(arr.value(r));
            };
            seen += 1;
            let key = view.as_u128();
            if let Some(&hit) = known.get(&key) {
                hits += 1;
                return hit;
            }
            let hit = m.matches(arr.value(r));
            if known.len() < MEMO_MAX {
                known.insert(key, hit);
            }
            if seen == MEMO_TRIAL && hits < MEMO_TRIAL / 4 {
                memo = None;
            }
            hit
        });
    } else if rows.len() == col.len() {
        // Every row still in: one sequential pass over the column.
        let mut keep = col.iter().map(|v| m.matches(v.unwrap_or("")));
        rows.retain(|_| keep.next().unwrap_or(false));
    } else {
        rows.retain(|&r| m.matches(col.get(r as usize).unwrap_or("")));
    }
}

fn retain_dict(
    m: &StrMatcher,
    dict: Option<&Dictionary>,
    col: &StringChunked,
    rows: &mut Vec<u32>,
) {
    match dict {
        Some(d) => d.retain(m, rows),
        None => retain_str(m, col, rows),
    }
}

/// Narrows a sorted row selection to the rows the predicate holds for. Cheap, selective
/// columns go first (`source` and `kind` through their dictionaries), so later tests see
/// only the rows still in.
fn filter(p: &Pred, cols: &Columns, mut rows: Vec<u32>) -> Vec<u32> {
    if let Some(m) = &p.source {
        retain_dict(m, cols.source_dict.as_ref(), cols.source, &mut rows);
    }
    if let Some(m) = &p.kind {
        retain_dict(m, cols.kind_dict.as_ref(), cols.kind, &mut rows);
    }
    if let Some(t) = &p.tags {
        cols.tags.retain(t, &mut rows);
    }
    for (m, col) in [
        (&p.actor, cols.actor),
        (&p.target, cols.target),
        (&p.message, cols.message),
    ] {
        if let Some(m) = m {
            retain_str(m, col, &mut rows);
        }
    }
    if let Some(min) = p.min_bytes {
        rows.retain(|&r| {
            let (i, o) = cols.bytes(r);
            i.unwrap_or(0).saturating_add(o.unwrap_or(0)) >= min
        });
    }
    if !p.any.is_empty() {
        let mut union: Vec<u32> = p
            .any
            .iter()
            .flat_map(|sub| filter(sub, cols, rows.clone()))
            .collect();
        union.sort_unstable();
        union.dedup();
        rows = union;
    }
    if let Some(not) = &p.not {
        let excluded = filter(not, cols, rows.clone());
        rows.retain(|r| excluded.binary_search(r).is_err());
    }
    rows
}

/// The rows a predicate selects, in row order. A predicate naming a source or kind starts
/// from that value's rows (the smaller of the two when it names both) rather than from
/// every row; `filter` then tests everything, that column included, on those rows.
pub(crate) fn select(p: &Pred, cols: &Columns) -> Vec<u32> {
    let candidates = [
        (p.source.as_ref(), cols.source_dict.as_ref()),
        (p.kind.as_ref(), cols.kind_dict.as_ref()),
    ];
    let start = candidates
        .into_iter()
        .filter_map(|(m, d)| Some((m?, d?)))
        .min_by_key(|(m, d)| d.count(m))
        .map(|(m, d)| d.select(m))
        .unwrap_or_else(|| (0..cols.n as u32).collect());
    filter(p, cols, start)
}

/// Positions (indices into `cols.order`) of the selected rows that have a time, sorted.
fn positions(rows: &[u32], cols: &Columns) -> Vec<usize> {
    let mut p: Vec<usize> = rows
        .iter()
        .map(|&r| cols.pos_of[r as usize])
        .filter(|&p| p != u32::MAX)
        .map(|p| p as usize)
        .collect();
    p.sort_unstable();
    p
}

// ---------------------------------------------------------------------------------------
// The sweep.

/// A monotone window over one sorted position list.
#[derive(Default, Clone, Copy)]
struct Cursor {
    lo: usize,
    hi: usize,
}

impl Cursor {
    /// Moves to the window [from, to] (times in µs) and returns the slice bounds. `from`
    /// and `to` never decrease between calls.
    fn window(&mut self, list: &[usize], times: &[i64], from: i64, to: i64) -> (usize, usize) {
        while self.lo < list.len() && times[list[self.lo]] < from {
            self.lo += 1;
        }
        self.hi = self.hi.max(self.lo);
        while self.hi < list.len() && times[list[self.hi]] <= to {
            self.hi += 1;
        }
        (self.lo, self.hi)
    }
}

fn passes_baseline(s: &Selector, row: u32, at: i64, base: &Baseline) -> bool {
    (!s.new || base.is_new(row, at)) && (!s.never_networked || base.never_networked(row, at))
}

fn rarity(s: &Selector, row: u32, at: i64, base: &Baseline) -> Rarity {
    if s.rarity {
        base.rarity(row, at)
    } else {
        Rarity::Unknown
    }
}

struct Qualified {
    pos: usize,
    trigger: usize,
    follow_ups: Vec<(usize, Vec<usize>)>,
    omitted: usize,
    vetoed: Option<Vetoed>,
}

struct Building {
    rows: Vec<ChainRow>,
    at: HashMap<u32, usize>,
    trigger_ts: i64,
    window_end: i64,
    omitted: usize,
    vetoed: Option<Vetoed>,
}

impl Building {
    fn put(&mut self, r: ChainRow) {
        match self.at.get(&r.row) {
            Some(&i) => {
                let old = &mut self.rows[i];
                let rank = |x: Role| match x {
                    Role::Trigger => 2,
                    Role::FollowUp => 1,
                    Role::Context => 0,
                };
                if rank(r.role) > rank(old.role) {
                    *old = r;
                }
            }
            None => {
                self.at.insert(r.row, self.rows.len());
                self.rows.push(r);
            }
        }
    }
}

/// What a rule's selectors select: the trigger rows, and the follow-up and veto rows
/// as positions in time order. Needs no baseline, so it is made while the baseline is.
pub(crate) struct Selections {
    triggers: Vec<Vec<u32>>,
    follow_ups: Vec<Vec<usize>>,
    vetoes: Vec<Vec<usize>>,
}

pub(crate) fn selections(rule: &Rule, cols: &Columns) -> Selections {
    let at = |list: &[Selector]| -> Vec<Vec<usize>> {
        list.iter()
            .map(|s| positions(&select(&s.pred, cols), cols))
            .collect()
    };
    Selections {
        triggers: rule
            .triggers
            .iter()
            .map(|s| select(&s.pred, cols))
            .collect(),
        follow_ups: at(&rule.follow_ups),
        vetoes: at(&rule.vetoes),
    }
}

/// Why one trigger row did or did not start a chain (`chainline rules test`).
#[derive(Debug, Clone)]
pub struct TriggerTrace {
    pub row: u32,
    pub ts: i64,
    pub trigger: String,
    /// Follow-up selectors with rows in the window, and how many rows each took.
    pub found: Vec<(String, usize)>,
    pub classes: Vec<String>,
    /// Require groups none of whose selectors is present.
    pub missing: Vec<Vec<String>>,
    /// The veto selector and row that cancelled it (the chain is then reported low).
    pub vetoed: Option<(String, u32)>,
    pub qualified: bool,
}

/// Every chain one rule finds in the timeline, from its selections; with `trace`, also
/// what happened to each trigger row.
pub(crate) fn chains<'r>(
    rule: &'r Rule,
    sel: Selections,
    cols: &Columns,
    base: &Baseline,
    mut trace: Option<&mut Vec<TriggerTrace>>,
) -> Vec<Chain<'r>> {
    let times = &cols.times;
    let order = &cols.order;
    let Selections {
        triggers: tsel,
        follow_ups: fpos,
        vetoes: vpos,
    } = sel;

    // One trigger selector per row: the heaviest that matches (and passes its baseline test).
    let pick = |cands: &[(u32, usize)], at: Option<i64>| -> Option<usize> {
        let mut best: Option<usize> = None;
        for &(row, i) in cands {
            let s = &rule.triggers[i];
            let ok = at.is_none_or(|t| passes_baseline(s, row, t, base));
            if ok && best.is_none_or(|b| s.weight > rule.triggers[b].weight) {
                best = Some(i);
            }
        }
        best
    };
    let mut tpos: Vec<(usize, u32, usize)> = Vec::new();
    let mut untimed: Vec<(u32, usize)> = Vec::new();
    for (i, rows) in tsel.iter().enumerate() {
        for &r in rows {
            match cols.pos_of[r as usize] {
                u32::MAX => untimed.push((r, i)),
                p => tpos.push((p as usize, r, i)),
            }
        }
    }
    tpos.sort_unstable();
    let mut triggers: Vec<(usize, usize)> = Vec::new();
    for group in tpos.chunk_by(|a, b| a.0 == b.0) {
        let p = group[0].0;
        let cands: Vec<(u32, usize)> = group.iter().map(|&(_, r, i)| (r, i)).collect();
        if let Some(i) = pick(&cands, Some(times[p])) {
            triggers.push((p, i));
        }
    }

    let mut fcur = vec![Cursor::default(); fpos.len()];
    let mut vcur = vec![Cursor::default(); vpos.len()];
    let window = rule.window_s as i64 * US;
    let span = |s: &Selector, t: i64| {
        (
            t - s.before_s as i64 * US,
            t + s.within_s.map_or(window, |w| w as i64 * US),
        )
    };

    let mut qualified = Vec::new();
    for &(p, ti) in &triggers {
        let t = times[p];
        let trigger_target = cols.target(order[p]);
        // A veto cancels the trigger only through a row it may speak for: with
        // `under_trigger`, one inside the trigger's own path (the same attachment), so
        // an unrelated attachment sent by anyone does not hide a chain. The first veto
        // row found is kept; the chain is still reported, at most low.
        let mut vetoed = None;
        'vetoes: for (k, v) in rule.vetoes.iter().enumerate() {
            let (from, to) = span(v, t);
            let (lo, hi) = vcur[k].window(&vpos[k], times, from, to);
            for &q in &vpos[k][lo..hi] {
                if q == p || !passes_baseline(v, order[q], t, base) {
                    continue;
                }
                if v.under_trigger && !lies_under(cols.target(order[q]), trigger_target) {
                    continue;
                }
                vetoed = Some(Vetoed {
                    selector: k,
                    row: order[q],
                    ts: times[q],
                });
                break 'vetoes;
            }
        }
        let mut found = Vec::new();
        let mut omitted = 0;
        // A row counts once, for the first follow-up selector that takes it: one event
        // cannot supply two classes.
        let mut claimed: HashSet<usize> = HashSet::new();
        for (k, s) in rule.follow_ups.iter().enumerate() {
            let (from, to) = span(s, t);
            let (lo, hi) = fcur[k].window(&fpos[k], times, from, to);
            let mut got = Vec::new();
            for &q in &fpos[k][lo..hi] {
                if q == p || claimed.contains(&q) || !passes_baseline(s, order[q], t, base) {
                    continue;
                }
                claimed.insert(q);
                if got.len() == MAX_PER_SELECTOR {
                    omitted += 1;
                } else {
                    got.push(q);
                }
            }
            if !got.is_empty() {
                found.push((k, got));
            }
        }
        let present = |name: &str| {
            rule.triggers[ti].name == name
                || found.iter().any(|(k, _)| rule.follow_ups[*k].name == name)
        };
        let classes: BTreeSet<&str> = std::iter::once(rule.triggers[ti].class.as_str())
            .chain(
                found
                    .iter()
                    .map(|(k, _)| rule.follow_ups[*k].class.as_str()),
            )
            .collect();
        let qualifies = classes.len() >= rule.min_classes
            && rule.require.iter().all(|g| g.iter().any(|n| present(n)));
        if let Some(tr) = trace.as_deref_mut() {
            tr.push(TriggerTrace {
                row: order[p],
                ts: t,
                trigger: rule.triggers[ti].name.clone(),
                found: found
                    .iter()
                    .map(|(k, rows)| (rule.follow_ups[*k].name.clone(), rows.len()))
                    .collect(),
                classes: classes.iter().map(|c| c.to_string()).collect(),
                missing: rule
                    .require
                    .iter()
                    .filter(|g| !g.iter().any(|n| present(n)))
                    .cloned()
                    .collect(),
                vetoed: vetoed
                    .as_ref()
                    .map(|v| (rule.vetoes[v.selector].name.clone(), v.row)),
                qualified: qualifies,
            });
        }
        if qualifies {
            qualified.push(Qualified {
                pos: p,
                trigger: ti,
                follow_ups: found,
                omitted,
                vetoed,
            });
        }
    }

    let mut building: Vec<Building> = Vec::new();
    for q in qualified {
        let t = times[q.pos];
        let row = order[q.pos];
        // A vetoed chain stands alone, and nothing merges into it.
        let merge = q.vetoed.is_none()
            && building
                .last()
                .is_some_and(|b| t <= b.window_end && b.vetoed.is_none());
        if !merge {
            building.push(Building {
                rows: Vec::new(),
                at: HashMap::new(),
                trigger_ts: t,
                window_end: t,
                omitted: 0,
                vetoed: q.vetoed.clone(),
            });
        }
        let Some(b) = building.last_mut() else {
            continue;
        };
        b.window_end = b.window_end.max(t + window);
        b.omitted += q.omitted;
        let trig = &rule.triggers[q.trigger];
        let role = if merge { Role::Context } else { Role::Trigger };
        b.put(ChainRow {
            row,
            ts: Some(t),
            role,
            sel: SelRef::Trigger(q.trigger),
            rarity: rarity(trig, row, t, base),
        });
        for (k, list) in q.follow_ups {
            let s = &rule.follow_ups[k];
            for fp in list {
                let r = order[fp];
                b.put(ChainRow {
                    row: r,
                    ts: Some(times[fp]),
                    role: Role::FollowUp,
                    sel: SelRef::FollowUp(k),
                    rarity: rarity(s, r, t, base),
                });
            }
        }
    }
    let mut chains: Vec<Chain<'r>> = building
        .into_iter()
        .map(|b| {
            let mut c = finish(rule, b.rows, Some(b.trigger_ts), b.omitted);
            if b.vetoed.is_some() {
                c.severity = c.severity.min(Severity::Low);
                c.vetoed = b.vetoed;
            }
            c
        })
        .collect();

    // A single-event rule also reports matching rows the evidence gave no time, together.
    if rule.single_event() {
        untimed.sort_unstable();
        let mut rows: Vec<ChainRow> = Vec::new();
        for group in untimed.chunk_by(|a, b| a.0 == b.0) {
            if let Some(i) = pick(group, None) {
                let role = if rows.is_empty() {
                    Role::Trigger
                } else {
                    Role::Context
                };
                rows.push(ChainRow {
                    row: group[0].0,
                    ts: None,
                    role,
                    sel: SelRef::Trigger(i),
                    rarity: Rarity::Unknown,
                });
            }
        }
        if !rows.is_empty() {
            chains.push(finish(rule, rows, None, 0));
        }
    }
    chains
}

fn finish<'r>(
    rule: &'r Rule,
    mut rows: Vec<ChainRow>,
    trigger_ts: Option<i64>,
    omitted: usize,
) -> Chain<'r> {
    rows.sort_by_key(|r| (r.ts.is_none(), r.ts, r.role != Role::Trigger, r.row));
    let sel = |s: SelRef| match s {
        SelRef::Trigger(i) => &rule.triggers[i],
        SelRef::FollowUp(i) => &rule.follow_ups[i],
    };
    // Each selector (or pool of selectors, `counts_as`) counts once, at its strongest row.
    let mut best: HashMap<&str, f64> = HashMap::new();
    let mut classes: BTreeSet<String> = BTreeSet::new();
    for r in &rows {
        let s = sel(r.sel);
        let w = s.weight * r.rarity.factor();
        let e = best
            .entry(s.counts_as.as_deref().unwrap_or(&s.name))
            .or_insert(w);
        *e = e.max(w);
        classes.insert(s.class.clone());
    }
    let score = (best.values().sum::<f64>() * 100.0).round() / 100.0;
    let start = rows.iter().filter_map(|r| r.ts).min();
    let end = rows.iter().filter_map(|r| r.ts).max();
    Chain {
        rule,
        rows,
        trigger_ts,
        start,
        end,
        score,
        classes: classes.into_iter().collect(),
        severity: rule.severity.of(score),
        omitted,
        vetoed: None,
    }
}

/// `path` lies inside `dir` (`dir` non-empty, compared by whole components).
fn lies_under(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    !dir.is_empty()
        && path.len() > dir.len() + 1
        && path.starts_with(dir)
        && path.as_bytes()[dir.len()] == b'/'
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::NamedFrom;

    /// The remembered answers of `retain_str` (one chunk) equal testing every row's text,
    /// for repeated long values stored once and separately, short ones, nulls, and more
    /// distinct values than the trial lets it remember.
    #[test]
    fn remembered_string_tests_equal_testing_every_row() {
        use crate::timeline::text::TextBuilder;
        let m = super::super::rule::str_matcher(&toml::Value::Table(
            toml::from_str("regex = '^com\\.apple\\.(WebKit|nehelper)'").unwrap(),
        ))
        .unwrap();
        let mut values: Vec<String> = Vec::new();
        for i in 0..(3 * MEMO_TRIAL) {
            values.push(match i % 5 {
                0 => "com.apple.WebKit.WebContent".into(),
                1 => "nehelper".into(),
                2 => format!("com.apple.nehelper.unique.{i}"),
                3 => format!("/var/unique/path/{i}"),
                _ => "com.apple.WebKit.Networking".into(),
            });
        }
        for repeating in [true, false] {
            let mut b = if repeating {
                TextBuilder::repeating("actor")
            } else {
                TextBuilder::unique("actor")
            };
            for v in &values {
                b.push(v);
            }
            let col = b.finish().unwrap();
            let all: Vec<u32> = (0..values.len() as u32).collect();
            let want: Vec<u32> = all
                .iter()
                .copied()
                .filter(|&r| m.matches(&values[r as usize]))
                .collect();
            let mut got = all.clone();
            retain_str(&m, &col, &mut got);
            assert_eq!(got, want, "repeating {repeating}");
            // Every third row only, and a row past the end (tested as empty text).
            let some: Vec<u32> = all.iter().copied().step_by(3).chain([u32::MAX]).collect();
            let mut got = some.clone();
            retain_str(&m, &col, &mut got);
            let want: Vec<u32> = some
                .iter()
                .copied()
                .filter(|&r| m.matches(values.get(r as usize).map_or("", String::as_str)))
                .collect();
            assert_eq!(got, want);
        }
        // Nulls test as empty text, through the one-chunk path.
        let col = StringChunked::new("actor".into(), &[Some("nehelper"), None, Some("x")]);
        let empty = StrMatcher::equals("");
        let mut rows = vec![0, 1, 2];
        retain_str(&empty, &col, &mut rows);
        assert_eq!(rows, vec![1]);
    }
}
