//! The timeline's columns as the engine reads them: borrowed string columns, the times in
//! sorted order, and an index from each tag to the rows that carry it.

use std::collections::HashMap;

use polars::prelude::*;

use super::rule::{StrMatcher, TagMatcher};

/// Rows that carry each tag. Tags are few and repeat a lot (`M`, `no_bundle_id`,
/// `imessage`), so one map from tag to rows answers every tag predicate without touching
/// the list column again.
#[derive(Debug, Default)]
pub(crate) struct TagIndex {
    rows: PlHashMap<String, Vec<u32>>,
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
                out.add(t, r);
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
/// tags first and never repeating a tag.
pub(crate) fn add_tags(df: &mut DataFrame, extra: &HashMap<u32, Vec<String>>) -> PolarsResult<()> {
    if extra.is_empty() {
        return Ok(());
    }
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
