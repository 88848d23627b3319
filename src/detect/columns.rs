//! The timeline's columns as the engine reads them: borrowed string columns, the times in
//! sorted order, and an index from each tag to the rows that carry it.

use std::collections::HashMap;

use polars::prelude::*;

use super::rule::TagMatcher;

/// Rows that carry each tag. Tags are few and repeat a lot (`M`, `no_bundle_id`,
/// `imessage`), so one map from tag to rows answers every tag predicate without touching
/// the list column again.
#[derive(Debug, Default)]
pub(crate) struct TagIndex {
    rows: HashMap<String, Vec<u32>>,
}

impl TagIndex {
    fn build(tags: &ListChunked) -> PolarsResult<Self> {
        let frame = DataFrame::new(tags.len(), vec![tags.clone().into_column()])?
            .with_row_index("row".into(), None)?
            .explode(
                ["tags"],
                ExplodeOptions {
                    empty_as_null: true,
                    keep_nulls: true,
                },
            )?;
        let row = frame.column("row")?.idx()?;
        let tag = frame.column("tags")?.str()?;
        let mut out = TagIndex::default();
        for (r, t) in row.iter().zip(tag.iter()) {
            if let (Some(r), Some(t)) = (r, t) {
                out.add(t, r as u32);
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

    fn flags<'a>(&self, n: usize, tags: impl Iterator<Item = &'a str>) -> Vec<bool> {
        let mut f = vec![false; n];
        for t in tags {
            for &r in self.rows(t) {
                if let Some(slot) = f.get_mut(r as usize) {
                    *slot = true;
                }
            }
        }
        f
    }

    /// `mask[i] &= row i's tags satisfy m`.
    pub fn and_mask(&self, m: &TagMatcher, mask: &mut [bool]) {
        let n = mask.len();
        for t in &m.all {
            let f = self.flags(n, std::iter::once(t.as_str()));
            mask.iter_mut().zip(f).for_each(|(x, y)| *x &= y);
        }
        if !m.any.is_empty() {
            let f = self.flags(n, m.any.iter().map(String::as_str));
            mask.iter_mut().zip(f).for_each(|(x, y)| *x &= y);
        }
        if !m.none.is_empty() {
            let f = self.flags(n, m.none.iter().map(String::as_str));
            mask.iter_mut().zip(f).for_each(|(x, y)| *x &= !y);
        }
        if !m.prefix.is_empty() {
            let keys = self
                .rows
                .keys()
                .filter(|k| m.prefix.iter().any(|p| k.starts_with(p.as_str())));
            let f = self.flags(n, keys.map(String::as_str));
            mask.iter_mut().zip(f).for_each(|(x, y)| *x &= y);
        }
        if let Some(re) = &m.regex {
            let keys = self.rows.keys().filter(|k| re.is_match(k));
            let f = self.flags(n, keys.map(String::as_str));
            mask.iter_mut().zip(f).for_each(|(x, y)| *x &= y);
        }
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
        let tags_col = df.column("tags")?.list()?;
        Ok(Columns {
            n,
            source: df.column("source")?.str()?,
            kind: df.column("kind")?.str()?,
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
/// tags first and never repeating a tag.
pub(crate) fn add_tags(df: &mut DataFrame, extra: &HashMap<u32, Vec<String>>) -> PolarsResult<()> {
    if extra.is_empty() {
        return Ok(());
    }
    let n = df.height();
    let old = df.column("tags")?.list()?.clone();
    let mut b = ListStringChunkedBuilder::new("tags".into(), n, n * 2);
    for (i, s) in old.amortized_iter().enumerate() {
        let mut row: Vec<&str> = Vec::new();
        let own = s.as_ref().map(|s| s.as_ref().str().cloned()).transpose()?;
        if let Some(ca) = &own {
            row.extend(ca.iter().flatten());
        }
        if let Some(add) = extra.get(&(i as u32)) {
            for t in add {
                if !row.contains(&t.as_str()) {
                    row.push(t);
                }
            }
        }
        b.append_values_iter(row.into_iter());
    }
    df.with_column(b.finish().into_column())?;
    Ok(())
}
