//! The timeline's columns as the engine reads them: borrowed string columns, the times in
//! sorted order, and an index from each tag to the rows that carry it.

use std::collections::HashMap;

use polars::prelude::*;
use polars_arrow::array::{Array, Utf8ViewArray};

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
            let values = arr
                .values()
                .as_any()
                .downcast_ref::<Utf8ViewArray>()
                .ok_or_else(|| polars_err!(ComputeError: "the tags column does not hold text"))?;
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

    /// Keeps the (sorted) rows whose tags satisfy `m`.
    pub fn retain(&self, m: &TagMatcher, rows: &mut Vec<u32>) {
        let has = |lists: &[&[u32]], r: &u32| lists.iter().any(|l| l.binary_search(r).is_ok());
        for t in &m.all {
            let l = [self.rows(t)];
            rows.retain(|r| has(&l, r));
        }
        if !m.any.is_empty() {
            let l: Vec<&[u32]> = m.any.iter().map(|t| self.rows(t)).collect();
            rows.retain(|r| has(&l, r));
        }
        if !m.none.is_empty() {
            let l: Vec<&[u32]> = m.none.iter().map(|t| self.rows(t)).collect();
            rows.retain(|r| !has(&l, r));
        }
        if !m.prefix.is_empty() {
            let l = self.lists(|k| m.prefix.iter().any(|p| k.starts_with(p.as_str())));
            rows.retain(|r| has(&l, r));
        }
        if let Some(re) = &m.regex {
            let l = self.lists(|k| re.is_match(k));
            rows.retain(|r| has(&l, r));
        }
    }
}

/// A low-cardinality string column (source, kind) as one small code per row, so a
/// predicate is evaluated once per distinct value instead of once per row.
pub(crate) struct Dictionary {
    pub values: Vec<String>,
    pub codes: Vec<u16>,
}

impl Dictionary {
    fn build(col: &StringChunked) -> Option<Self> {
        let mut index: PlHashMap<&str, u16> = PlHashMap::new();
        let mut d = Dictionary {
            values: Vec::new(),
            codes: Vec::with_capacity(col.len()),
        };
        for v in col.iter() {
            let v = v.unwrap_or("");
            let code = match index.get(v) {
                Some(c) => *c,
                None => {
                    let c = u16::try_from(d.values.len()).ok()?;
                    index.insert(v, c);
                    d.values.push(v.to_string());
                    c
                }
            };
            d.codes.push(code);
        }
        Some(d)
    }

    pub fn retain(&self, m: &StrMatcher, rows: &mut Vec<u32>) {
        let ok: Vec<bool> = self.values.iter().map(|v| m.matches(v)).collect();
        rows.retain(|&r| self.codes.get(r as usize).is_some_and(|&c| ok[c as usize]));
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
        let tags_col = df.column("tags")?.list()?;
        let (source, kind) = (df.column("source")?.str()?, df.column("kind")?.str()?);
        Ok(Columns {
            source_dict: Dictionary::build(source),
            kind_dict: Dictionary::build(kind),
            pos_of,
            n,
            source,
            kind,
            actor: df.column("actor")?.str()?,
            target: df.column("target")?.str()?,
            message: df.column("message")?.str()?,
            artifact: df.column("artifact")?.str()?,
            record: df.column("record")?.str()?,
            bytes_in: df.column("bytes_in")?.i64()?,
            bytes_out: df.column("bytes_out")?.i64()?,
            tags: TagIndex::build(tags_col)?,
            row_tags: tags_col,
            ts,
            order,
            times,
        })
    }

    pub fn str_at(col: &'a StringChunked, row: u32) -> &'a str {
        col.get(row as usize).unwrap_or("")
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
}
