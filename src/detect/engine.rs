//! Rule evaluation in columns.
//!
//! 1. Each selector becomes a boolean mask over the timeline rows, one vectorised pass per
//!    predicate over the column (tag predicates go through the tag index).
//! 2. The masks become sorted lists of positions in time order; a two-pointer sweep over
//!    the trigger list and each follow-up list finds the follow-ups inside each trigger's
//!    window. Both pointers only move forward, so the work is the lists' length plus the
//!    rows actually inside windows — never every pair.
//! 3. A trigger qualifies when its window holds enough distinct classes (and the rule's
//!    `require` groups); qualified triggers whose windows overlap merge into one chain.

use std::collections::{BTreeSet, HashMap, HashSet};

use polars::prelude::StringChunked;

use super::baseline::{Baseline, Rarity};
use super::columns::Columns;
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
// Masks.

fn and_str(m: &StrMatcher, col: &StringChunked, mask: &mut [bool]) {
    for (slot, v) in mask.iter_mut().zip(col.iter()) {
        if *slot {
            *slot = m.matches(v.unwrap_or(""));
        }
    }
}

fn and_pred(p: &Pred, cols: &Columns, mask: &mut [bool]) {
    // Cheap, selective columns first: later passes skip rows already false.
    for (m, col) in [
        (&p.source, cols.source),
        (&p.kind, cols.kind),
        (&p.actor, cols.actor),
        (&p.target, cols.target),
        (&p.message, cols.message),
    ] {
        if let Some(m) = m {
            and_str(m, col, mask);
        }
    }
    if let Some(t) = &p.tags {
        cols.tags.and_mask(t, mask);
    }
    if let Some(min) = p.min_bytes {
        let bytes = cols.bytes_in.iter().zip(cols.bytes_out.iter());
        for (slot, (i, o)) in mask.iter_mut().zip(bytes) {
            if *slot {
                *slot = i.unwrap_or(0).saturating_add(o.unwrap_or(0)) >= min;
            }
        }
    }
    if !p.any.is_empty() {
        let mut union = vec![false; mask.len()];
        for sub in &p.any {
            let mut m = mask.to_vec();
            and_pred(sub, cols, &mut m);
            union.iter_mut().zip(m).for_each(|(u, x)| *u |= x);
        }
        mask.iter_mut().zip(union).for_each(|(x, u)| *x &= u);
    }
    if let Some(not) = &p.not {
        let mut m = mask.to_vec();
        and_pred(not, cols, &mut m);
        mask.iter_mut().zip(m).for_each(|(x, n)| *x &= !n);
    }
}

/// The rows a predicate selects.
pub(crate) fn mask(p: &Pred, cols: &Columns) -> Vec<bool> {
    let mut m = vec![true; cols.n];
    and_pred(p, cols, &mut m);
    m
}

/// Positions (indices into `cols.order`) whose row the mask selects.
fn positions(mask: &[bool], cols: &Columns) -> Vec<usize> {
    cols.order
        .iter()
        .enumerate()
        .filter(|(_, &r)| mask[r as usize])
        .map(|(p, _)| p)
        .collect()
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
}

struct Building {
    rows: Vec<ChainRow>,
    at: HashMap<u32, usize>,
    trigger_ts: i64,
    window_end: i64,
    omitted: usize,
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

/// Every chain one rule finds in the timeline.
pub(crate) fn evaluate<'r>(rule: &'r Rule, cols: &Columns, base: &Baseline) -> Vec<Chain<'r>> {
    let times = &cols.times;
    let order = &cols.order;
    let tmasks: Vec<Vec<bool>> = rule.triggers.iter().map(|s| mask(&s.pred, cols)).collect();

    // One trigger selector per row: the heaviest that matches.
    let pick = |row: u32, at: Option<i64>| -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, s) in rule.triggers.iter().enumerate() {
            let ok = tmasks[i][row as usize] && at.is_none_or(|t| passes_baseline(s, row, t, base));
            if ok && best.is_none_or(|b| s.weight > rule.triggers[b].weight) {
                best = Some(i);
            }
        }
        best
    };
    let triggers: Vec<(usize, usize)> = order
        .iter()
        .enumerate()
        .filter_map(|(p, &row)| pick(row, Some(times[p])).map(|i| (p, i)))
        .collect();

    let fpos: Vec<Vec<usize>> = rule
        .follow_ups
        .iter()
        .map(|s| positions(&mask(&s.pred, cols), cols))
        .collect();
    let vpos: Vec<Vec<usize>> = rule
        .vetoes
        .iter()
        .map(|s| positions(&mask(&s.pred, cols), cols))
        .collect();
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
    'trigger: for &(p, ti) in &triggers {
        let t = times[p];
        for (k, v) in rule.vetoes.iter().enumerate() {
            let (from, to) = span(v, t);
            let (lo, hi) = vcur[k].window(&vpos[k], times, from, to);
            if vpos[k][lo..hi]
                .iter()
                .any(|&q| q != p && passes_baseline(v, order[q], t, base))
            {
                continue 'trigger;
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
        if classes.len() >= rule.min_classes
            && rule.require.iter().all(|g| g.iter().any(|n| present(n)))
        {
            qualified.push(Qualified {
                pos: p,
                trigger: ti,
                follow_ups: found,
                omitted,
            });
        }
    }

    let mut building: Vec<Building> = Vec::new();
    for q in qualified {
        let t = times[q.pos];
        let row = order[q.pos];
        let merge = building.last().is_some_and(|b| t <= b.window_end);
        if !merge {
            building.push(Building {
                rows: Vec::new(),
                at: HashMap::new(),
                trigger_ts: t,
                window_end: t,
                omitted: 0,
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
        .map(|b| finish(rule, b.rows, Some(b.trigger_ts), b.omitted))
        .collect();

    // A single-event rule also reports matching rows the evidence gave no time, together.
    if rule.single_event() {
        let untimed: Vec<ChainRow> = (0..cols.n as u32)
            .filter(|&r| cols.ts(r).is_none())
            .filter_map(|r| pick(r, None).map(|i| (r, i)))
            .enumerate()
            .map(|(n, (row, i))| ChainRow {
                row,
                ts: None,
                role: if n == 0 { Role::Trigger } else { Role::Context },
                sel: SelRef::Trigger(i),
                rarity: Rarity::Unknown,
            })
            .collect();
        if !untimed.is_empty() {
            chains.push(finish(rule, untimed, None, 0));
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
    // Each selector counts once, at its strongest row.
    let mut best: HashMap<SelRef, f64> = HashMap::new();
    for r in &rows {
        let s = sel(r.sel);
        let w = s.weight * r.rarity.factor();
        let e = best.entry(r.sel).or_insert(w);
        *e = e.max(w);
    }
    let score = (best.values().sum::<f64>() * 100.0).round() / 100.0;
    let classes: BTreeSet<String> = best.keys().map(|s| sel(*s).class.clone()).collect();
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
    }
}
