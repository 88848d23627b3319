//! The timeline's columns as the engine reads them: borrowed string columns, the times in
//! sorted order, and an index from each tag to the rows that carry it.

use std::collections::HashMap;

use polars::prelude::*;
use polars_arrow::array::{Array, Utf8ViewArray, View};

use super::rule::{StrMatcher, TagMatcher};

/// Rows that carry each tag. Tags are few and repeat a lot (`M`, `no_bundle_id`,
/// `imessage`), so one map from tag to rows answers every tag predicate without touching
/// the list column again.
#[derive(Debug, Default)]
pub(crate) struct TagIndex {
    rows: PlHashMap<String, Vec<u32>>,
}

impl TagIndex {
    /// Read straight from the list arrays' offsets and values (rows in order, so each
    /// tag's rows come out sorted).
    fn build(tags: &ListChunked) -> PolarsResult<Self> {
        let mut out = TagIndex::default();
        let mut row: u32 = 0;
        for arr in tags.downcast_iter() {
            let values = crate::timeline::text::list_values(arr)?;
            let offsets = arr.offsets();
            for i in 0..arr.len() {
                if arr.is_valid(i) {
                    let (start, end) = offsets.start_end(i);
                    for j in start..end {
                        if let Some(t) = values.get(j) {
                            out.add(t, row);
                        }
                    }
                }
                row += 1;
            }
        }
        Ok(out)
    }

    pub fn add(&mut self, tag: &str, row: u32) {
        match self.rows.get_mut(tag) {
            Some(v) => v.push(row),
            None => {
                self.rows.insert(tag.to_string(), vec![row]);
            }
        }
    }

    pub fn rows(&self, tag: &str) -> &[u32] {
        self.rows.get(tag).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn tags(&self) -> impl Iterator<Item = (&str, &[u32])> {
        self.rows.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// Keeps the rows list sorted after `add`s, so membership is a binary search.
    pub fn settle(&mut self) {
        for v in self.rows.values_mut() {
            if !v.windows(2).all(|w| w[0] < w[1]) {
                v.sort_unstable();
                v.dedup();
            }
        }
    }

    fn lists<'a>(&'a self, keep: impl Fn(&str) -> bool + 'a) -> Vec<&'a [u32]> {
        self.rows
            .iter()
            .filter(|(k, _)| keep(k))
            .map(|(_, v)| v.as_slice())
            .collect()
    }

    /// Keeps the (sorted) rows whose tags satisfy `m`. Rows and tag lists are both sorted,
    /// so each test is one merge walk over the two, not a binary search per row.
    pub fn retain(&self, m: &TagMatcher, rows: &mut Vec<u32>) {
        for t in &m.all {
            keep_members(rows, &[self.rows(t)], true);
        }
        if !m.any.is_empty() {
            let l: Vec<&[u32]> = m.any.iter().map(|t| self.rows(t)).collect();
            keep_members(rows, &l, true);
        }
        if !m.none.is_empty() {
            let l: Vec<&[u32]> = m.none.iter().map(|t| self.rows(t)).collect();
            keep_members(rows, &l, false);
        }
        if !m.prefix.is_empty() {
            let l = self.lists(|k| m.prefix.iter().any(|p| k.starts_with(p.as_str())));
            keep_members(rows, &l, true);
        }
        if let Some(re) = &m.regex {
            let l = self.lists(|k| re.is_match(k));
            keep_members(rows, &l, true);
        }
    }
}

/// Keeps the sorted `rows` that are (`wanted`) or are not (`!wanted`) in at least one
/// of the sorted `lists`.
fn keep_members(rows: &mut Vec<u32>, lists: &[&[u32]], wanted: bool) {
    debug_assert!(rows.windows(2).all(|w| w[0] < w[1]), "rows must be sorted");
    let mut member = vec![false; rows.len()];
    for list in lists {
        let mut j = 0;
        for (i, &r) in rows.iter().enumerate() {
            if j < list.len() && list[j] < r {
                // A long list next to few rows: jump by binary search, else step.
                j += if list.len() - j > 8 * (rows.len() - i) {
                    list[j..].partition_point(|&x| x < r)
                } else {
                    list[j..].iter().take_while(|&&x| x < r).count()
                };
            }
            if j == list.len() {
                break;
            }
            if list[j] == r {
                member[i] = true;
            }
        }
    }
    let mut it = member.into_iter();
    rows.retain(|_| it.next() == Some(wanted));
}

/// A low-cardinality string column (source, kind) as one small code per row, so a
/// predicate is evaluated once per distinct value instead of once per row, and the rows
/// of each value, so a selector naming a kind starts from that kind's rows instead of
/// every row of the timeline.
pub(crate) struct Dictionary {
    pub values: Vec<String>,
    pub codes: Vec<u16>,
    /// The rows holding each value, in row order.
    rows: Vec<Vec<u32>>,
}

impl Dictionary {
    fn build(col: &StringChunked) -> Option<Self> {
        let mut index: PlHashMap<&str, u16> = PlHashMap::new();
        let mut d = Dictionary {
            values: Vec::new(),
            codes: Vec::with_capacity(col.len()),
            rows: Vec::new(),
        };
        // Rows repeat the value of the row before often enough (a source's rows come in
        // runs) that checking it first saves most lookups.
        let mut last: Option<(&str, u16)> = None;
        for (row, v) in col.iter().enumerate() {
            let v = v.unwrap_or("");
            let code = match last {
                Some((l, c)) if l == v => c,
                _ => match index.get(v) {
                    Some(c) => *c,
                    None => {
                        let c = u16::try_from(d.values.len()).ok()?;
                        index.insert(v, c);
                        d.values.push(v.to_string());
                        d.rows.push(Vec::new());
                        c
                    }
                },
            };
            last = Some((v, code));
            d.codes.push(code);
            d.rows[usize::from(code)].push(row as u32);
        }
        Some(d)
    }

    pub fn retain(&self, m: &StrMatcher, rows: &mut Vec<u32>) {
        let ok: Vec<bool> = self.values.iter().map(|v| m.matches(v)).collect();
        rows.retain(|&r| self.codes.get(r as usize).is_some_and(|&c| ok[c as usize]));
    }

    /// The row lists of the values `m` matches.
    fn matching<'s>(&'s self, m: &'s StrMatcher) -> impl Iterator<Item = &'s [u32]> + 's {
        self.values
            .iter()
            .zip(&self.rows)
            .filter(|(v, _)| m.matches(v))
            .map(|(_, rows)| rows.as_slice())
    }

    /// The rows whose value `m` matches, in row order.
    pub fn select(&self, m: &StrMatcher) -> Vec<u32> {
        let lists: Vec<&[u32]> = self.matching(m).collect();
        let mut out: Vec<u32> = lists.concat();
        if lists.len() > 1 {
            out.sort_unstable();
        }
        out
    }

    /// How many rows [`Dictionary::select`] would return, without building the list.
    pub fn count(&self, m: &StrMatcher) -> usize {
        self.matching(m).map(<[u32]>::len).sum()
    }

    /// The value of a row ("" past the end, as for a null).
    pub fn value(&self, row: usize) -> &str {
        self.codes
            .get(row)
            .and_then(|&c| self.values.get(usize::from(c)))
            .map_or("", String::as_str)
    }
}

/// The timed rows in time order, their times, and each row's place in that order.
struct TimeOrder {
    order: Vec<u32>,
    times: Vec<i64>,
    pos_of: Vec<u32>,
}

impl TimeOrder {
    fn build(ts: &[Option<i64>]) -> Self {
        let n = ts.len();
        let mut order: Vec<u32> = (0..n as u32)
            .filter(|&i| ts[i as usize].is_some())
            .collect();
        let key = |i: &u32| ts[*i as usize].unwrap_or(i64::MAX);
        // The assembled timeline is already sorted; a frame built elsewhere may not be.
        if !order.windows(2).all(|w| key(&w[0]) <= key(&w[1])) {
            order.sort_by_key(key);
        }
        let times = order.iter().map(key).collect();
        let mut pos_of = vec![u32::MAX; n];
        for (p, &r) in order.iter().enumerate() {
            pos_of[r as usize] = p as u32;
        }
        TimeOrder {
            order,
            times,
            pos_of,
        }
    }
}

/// The column's one Arrow array (the detection frame is rechunked), `None` when it has
/// several.
pub(crate) fn one_chunk(col: &StringChunked) -> Option<&Utf8ViewArray> {
    match col.downcast_iter().collect::<Vec<_>>()[..] {
        [arr] => Some(arr),
        _ => None,
    }
}

/// See [`Columns::entity_views`]. Two rows with equal keys have equal source, kind,
/// actor and target: codes name one value each, and equal views hold equal text (short
/// text inside the view, long text at the same place of the same buffer).
pub(crate) struct EntityViews<'c> {
    source: &'c Dictionary,
    kind: &'c Dictionary,
    actor: &'c [View],
    target: &'c [View],
}

impl EntityViews<'_> {
    /// The key of row `i`; the target's view only when `with_target` (other rows' entities
    /// do not depend on it, and leaving it out lets more rows share a key).
    pub fn key(&self, i: usize, with_target: bool) -> Option<(u16, u16, u128, u128)> {
        let target = if with_target {
            self.target.get(i)?.as_u128()
        } else {
            0
        };
        Some((
            self.source.codes.get(i).copied()?,
            self.kind.codes.get(i).copied()?,
            self.actor.get(i)?.as_u128(),
            target,
        ))
    }
}

/// One borrowed view of the timeline for a detection pass.
pub(crate) struct Columns<'a> {
    pub n: usize,
    pub ts: Vec<Option<i64>>,
    pub source: &'a StringChunked,
    pub kind: &'a StringChunked,
    pub actor: &'a StringChunked,
    pub target: &'a StringChunked,
    pub message: &'a StringChunked,
    pub artifact: &'a StringChunked,
    pub record: &'a StringChunked,
    pub bytes_in: &'a Int64Chunked,
    pub bytes_out: &'a Int64Chunked,
    row_tags: &'a ListChunked,
    pub tags: TagIndex,
    /// `source` and `kind` dictionary-encoded (None if a column had > 65 535 values).
    pub source_dict: Option<Dictionary>,
    pub kind_dict: Option<Dictionary>,
    /// Position in `order` of each row, `u32::MAX` for rows without a time.
    pub pos_of: Vec<u32>,
    /// Rows that have a time, in time order (ties in row order).
    pub order: Vec<u32>,
    /// `ts` of `order[p]`.
    pub times: Vec<i64>,
}

impl<'a> Columns<'a> {
    pub fn new(df: &'a DataFrame) -> PolarsResult<Self> {
        let ts: Vec<Option<i64>> = df.column("ts")?.datetime()?.physical().iter().collect();
        let tags_col = df.column("tags")?.list()?;
        let (source, kind) = (df.column("source")?.str()?, df.column("kind")?.str()?);
        // Four independent passes over the timeline, side by side.
        let ((time_order, tags), (source_dict, kind_dict)) = rayon::join(
            || rayon::join(|| TimeOrder::build(&ts), || TagIndex::build(tags_col)),
            || rayon::join(|| Dictionary::build(source), || Dictionary::build(kind)),
        );
        let TimeOrder {
            order,
            times,
            pos_of,
        } = time_order;
        Ok(Columns {
            source_dict,
            kind_dict,
            pos_of,
            n: ts.len(),
            source,
            kind,
            actor: df.column("actor")?.str()?,
            target: df.column("target")?.str()?,
            message: df.column("message")?.str()?,
            artifact: df.column("artifact")?.str()?,
            record: df.column("record")?.str()?,
            bytes_in: df.column("bytes_in")?.i64()?,
            bytes_out: df.column("bytes_out")?.i64()?,
            tags: tags?,
            row_tags: tags_col,
            ts,
            order,
            times,
        })
    }

    pub fn str_at(col: &'a StringChunked, row: u32) -> &'a str {
        col.get(row as usize).unwrap_or("")
    }

    /// What identifies a row's (source, kind, actor, target) without reading the text,
    /// when the columns allow it (dictionaries built, actor and target one chunk each).
    pub fn entity_views(&self) -> Option<EntityViews<'_>> {
        let views = |c: &'a StringChunked| {
            one_chunk(c)
                .filter(|arr| arr.null_count() == 0)
                .map(|arr| arr.views().as_slice())
        };
        Some(EntityViews {
            source: self.source_dict.as_ref()?,
            kind: self.kind_dict.as_ref()?,
            actor: views(self.actor)?,
            target: views(self.target)?,
        })
    }

    /// The row's source through the dictionary when there is one (no string lookup).
    pub fn source_of(&self, row: u32) -> &str {
        match &self.source_dict {
            Some(d) => d.value(row as usize),
            None => self.source(row),
        }
    }
    /// The row's kind through the dictionary when there is one.
    pub fn kind_of(&self, row: u32) -> &str {
        match &self.kind_dict {
            Some(d) => d.value(row as usize),
            None => self.kind(row),
        }
    }

    pub fn source(&self, row: u32) -> &'a str {
        Self::str_at(self.source, row)
    }
    pub fn kind(&self, row: u32) -> &'a str {
        Self::str_at(self.kind, row)
    }
    pub fn actor(&self, row: u32) -> &'a str {
        Self::str_at(self.actor, row)
    }
    pub fn target(&self, row: u32) -> &'a str {
        Self::str_at(self.target, row)
    }
    pub fn message(&self, row: u32) -> &'a str {
        Self::str_at(self.message, row)
    }
    pub fn artifact(&self, row: u32) -> &'a str {
        Self::str_at(self.artifact, row)
    }
    pub fn record(&self, row: u32) -> &'a str {
        Self::str_at(self.record, row)
    }
    pub fn bytes(&self, row: u32) -> (Option<i64>, Option<i64>) {
        (
            self.bytes_in.get(row as usize),
            self.bytes_out.get(row as usize),
        )
    }
    pub fn ts(&self, row: u32) -> Option<i64> {
        self.ts.get(row as usize).copied().flatten()
    }

    /// The tags the source gave the row (not the ones detection adds).
    pub fn row_tags(&self, row: u32) -> Vec<String> {
        match self.row_tags.get_as_series(row as usize) {
            Some(s) => match s.str() {
                Ok(ca) => ca.iter().flatten().map(str::to_string).collect(),
                Err(_) => Vec::new(),
            },
            None => Vec::new(),
        }
    }
}

/// Adds detection tags (`ioc:…`, `finding:…`) to the rows named, keeping each row's own
/// tags first and never repeating a tag. A few rows (findings' evidence) are spliced in
/// between untouched slices of the column; many (an indicator hitting a whole source)
/// rebuild the column in one pass.
pub(crate) fn add_tags(df: &mut DataFrame, extra: &HashMap<u32, Vec<String>>) -> PolarsResult<()> {
    if extra.is_empty() {
        return Ok(());
    }
    if extra.len() > SPLICE_MAX {
        return rebuild_tags(df, extra);
    }
    let n = df.height();
    let old = df.column("tags")?.list()?.clone();
    let mut rows: Vec<usize> = extra
        .keys()
        .map(|&r| r as usize)
        .filter(|&r| r < n)
        .collect();
    rows.sort_unstable();
    let mut out = old.slice(0, 0);
    let mut from = 0;
    for r in rows {
        out.append(&old.slice(from as i64, r - from))?;
        let mut tags: Vec<String> = match old.get_as_series(r) {
            Some(s) => s.str()?.iter().flatten().map(str::to_string).collect(),
            None => Vec::new(),
        };
        for t in extra.get(&(r as u32)).into_iter().flatten() {
            if !tags.contains(t) {
                tags.push(t.clone());
            }
        }
        let mut one = ListStringChunkedBuilder::new("tags".into(), 1, tags.len());
        one.append_values_iter(tags.iter().map(String::as_str));
        out.append(&one.finish())?;
        from = r + 1;
    }
    out.append(&old.slice(from as i64, n - from))?;
    out.rechunk_mut();
    df.with_column(out.into_column())?;
    Ok(())
}

/// Rows to tag beyond which [`add_tags`] rebuilds the column instead of splicing.
const SPLICE_MAX: usize = 2048;

fn rebuild_tags(df: &mut DataFrame, extra: &HashMap<u32, Vec<String>>) -> PolarsResult<()> {
    let n = df.height();
    let old = df.column("tags")?.list()?.clone();
    // The exploded (row, tag) pairs come in row order: one forward pass rebuilds the lists.
    let pairs = DataFrame::new(n, vec![old.into_column()])?
        .with_row_index("row".into(), None)?
        .explode(
            ["tags"],
            ExplodeOptions {
                empty_as_null: true,
                keep_nulls: true,
            },
        )?;
    let rows = pairs.column("row")?.idx()?;
    let tags = pairs.column("tags")?.str()?;
    let mut it = rows.iter().zip(tags.iter()).peekable();
    let mut b = ListStringChunkedBuilder::new("tags".into(), n, n * 2);
    let mut row: Vec<&str> = Vec::new();
    for i in 0..n {
        row.clear();
        while let Some((r, t)) = it.peek() {
            if r.is_some_and(|r| r as usize > i) {
                break;
            }
            if let (Some(r), Some(t)) = (r, t) {
                if *r as usize == i {
                    row.push(t);
                }
            }
            it.next();
        }
        if let Some(add) = extra.get(&(i as u32)) {
            for t in add {
                if !row.contains(&t.as_str()) {
                    row.push(t);
                }
            }
        }
        b.append_values_iter(row.iter().copied());
    }
    df.with_column(b.finish().into_column())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags_frame(rows: &[Option<&[&str]>]) -> DataFrame {
        let mut b = ListStringChunkedBuilder::new("tags".into(), rows.len(), 8);
        for r in rows {
            match r {
                Some(t) => b.append_values_iter(t.iter().copied()),
                None => b.append_null(),
            }
        }
        let n = rows.len();
        DataFrame::new(n, vec![b.finish().into_column()]).unwrap()
    }

    fn lists(df: &DataFrame) -> Vec<Vec<String>> {
        let l = df.column("tags").unwrap().list().unwrap();
        (0..l.len())
            .map(|i| match l.get_as_series(i) {
                Some(s) => s
                    .str()
                    .unwrap()
                    .iter()
                    .flatten()
                    .map(str::to_string)
                    .collect(),
                None => Vec::new(),
            })
            .collect()
    }

    #[test]
    fn splicing_and_rebuilding_agree() {
        let base: Vec<Option<&[&str]>> = vec![
            Some(&["a", "b"]),
            None,
            Some(&[]),
            Some(&["c"]),
            Some(&["finding:F1"]),
            Some(&["a"]),
        ];
        let mut extra: HashMap<u32, Vec<String>> = HashMap::new();
        extra.insert(0, vec!["finding:F1".into(), "a".into()]);
        extra.insert(1, vec!["ioc:x".into()]);
        extra.insert(4, vec!["finding:F1".into(), "finding:F2".into()]);
        extra.insert(5, vec!["finding:F2".into()]);
        extra.insert(99, vec!["out of range".into()]);
        let mut spliced = tags_frame(&base);
        add_tags(&mut spliced, &extra).unwrap();
        let mut rebuilt = tags_frame(&base);
        rebuild_tags(&mut rebuilt, &extra).unwrap();
        let want: Vec<Vec<String>> = [
            &["a", "b", "finding:F1"][..],
            &["ioc:x"],
            &[],
            &["c"],
            &["finding:F1", "finding:F2"],
            &["a", "finding:F2"],
        ]
        .iter()
        .map(|r| r.iter().map(|s| s.to_string()).collect())
        .collect();
        assert_eq!(lists(&spliced), want);
        assert_eq!(lists(&rebuilt), want);
        assert_eq!(spliced.column("tags").unwrap().n_chunks(), 1);
        assert_eq!(
            spliced.column("tags").unwrap().dtype(),
            rebuilt.column("tags").unwrap().dtype()
        );
    }

    #[test]
    fn the_tag_index_lists_each_tag_s_rows_in_order() {
        let df = tags_frame(&[
            Some(&["a", "b"]),
            None,
            Some(&[]),
            Some(&["b"]),
            Some(&["a"]),
        ]);
        let idx = TagIndex::build(df.column("tags").unwrap().list().unwrap()).unwrap();
        assert_eq!(idx.rows("a"), &[0, 4]);
        assert_eq!(idx.rows("b"), &[0, 3]);
        assert_eq!(idx.rows("c"), &[] as &[u32]);
        assert_eq!(idx.tags().count(), 2);
    }

    /// Deterministic pseudo-random sorted, distinct rows.
    fn sorted_rows(seed: u64, n: usize, max: u32) -> Vec<u32> {
        let mut x = seed;
        let mut v: Vec<u32> = (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((x >> 33) % u64::from(max)) as u32
            })
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    #[test]
    fn member_walks_agree_with_a_set_test() {
        // Short lists next to many rows, long ones next to few (the jump), empty ones.
        let shapes = [
            (5000, 50),
            (50, 5000),
            (3000, 3000),
            (0, 100),
            (100, 0),
            (1, 1),
        ];
        for (k, &(nrows, nlist)) in shapes.iter().enumerate() {
            let rows = sorted_rows(k as u64 + 1, nrows, 10_000);
            let a = sorted_rows(k as u64 + 100, nlist, 10_000);
            let b = sorted_rows(k as u64 + 200, nlist / 2, 10_000);
            for wanted in [true, false] {
                let mut got = rows.clone();
                keep_members(&mut got, &[&a, &b], wanted);
                let want: Vec<u32> = rows
                    .iter()
                    .copied()
                    .filter(|r| {
                        (a.binary_search(r).is_ok() || b.binary_search(r).is_ok()) == wanted
                    })
                    .collect();
                assert_eq!(got, want, "shape {k}, wanted {wanted}");
            }
        }
    }

    #[test]
    fn a_dictionary_selects_the_rows_of_matching_values_in_row_order() {
        let col = StringChunked::new(
            "kind".into(),
            &[
                "a",
                "b",
                "a",
                "c",
                "b",
                "a",
                "a long value beyond twelve bytes",
                "c",
            ],
        );
        let d = Dictionary::build(&col).unwrap();
        let one = StrMatcher::equals("a");
        assert_eq!(d.select(&one), vec![0, 2, 5]);
        assert_eq!(d.count(&one), 3);
        let spec = crate::detect::rule::str_matcher(&toml::Value::Array(vec![
            "c".into(),
            "b".into(),
            "a long value beyond twelve bytes".into(),
        ]))
        .unwrap();
        assert_eq!(d.select(&spec), vec![1, 3, 4, 6, 7]);
        assert_eq!(d.count(&spec), 5);
        assert_eq!(d.value(6), "a long value beyond twelve bytes");
        assert_eq!(d.value(99), "");
    }
}
