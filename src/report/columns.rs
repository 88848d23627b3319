//! Row access to the saved timeline for the parts of the report that show rows
//! (context tables, the explorer payload). The frame is sorted by time, rows without
//! a time last.

use std::collections::HashMap;
use std::ops::Range;

use polars::prelude::*;

pub(crate) struct Columns {
    /// Microseconds since the Unix epoch, UTC.
    pub ts: Vec<Option<i64>>,
    source: StringChunked,
    kind: StringChunked,
    actor: StringChunked,
    target: StringChunked,
    message: StringChunked,
    artifact: StringChunked,
    record: StringChunked,
    device: StringChunked,
    bytes_in: Int64Chunked,
    bytes_out: Int64Chunked,
    /// Each distinct list of tags once; `tag_ids[row]` points into it.
    pub tag_sets: Vec<Vec<String>>,
    pub tag_ids: Vec<u32>,
    /// Rows with a time come first; this many of them.
    timed: usize,
}

fn str_col(df: &DataFrame, name: &str) -> PolarsResult<StringChunked> {
    Ok(df.column(name)?.str()?.rechunk().into_owned())
}

fn i64_col(df: &DataFrame, name: &str) -> PolarsResult<Int64Chunked> {
    Ok(df.column(name)?.i64()?.rechunk().into_owned())
}

fn at(ca: &StringChunked, i: usize) -> &str {
    ca.get(i).unwrap_or("")
}

impl Columns {
    pub fn new(df: &DataFrame) -> PolarsResult<Columns> {
        let ts: Vec<Option<i64>> = df.column("ts")?.datetime()?.physical().iter().collect();
        let timed = ts.iter().take_while(|t| t.is_some()).count();
        let mut tag_sets: Vec<Vec<String>> = Vec::new();
        let mut index: HashMap<Vec<String>, u32> = HashMap::new();
        let mut tag_ids = Vec::with_capacity(ts.len());
        let lists = df.column("tags")?.list()?.rechunk();
        // amortized_iter needs a chunk to exist; an empty frame has no rows to read anyway.
        let mut iter = (!lists.is_empty()).then(|| lists.amortized_iter());
        for list in iter.iter_mut().flatten() {
            let tags: Vec<String> = match list {
                Some(s) => s
                    .as_ref()
                    .str()?
                    .iter()
                    .flatten()
                    .map(str::to_string)
                    .collect(),
                None => Vec::new(),
            };
            let next = tag_sets.len() as u32;
            let id = *index.entry(tags).or_insert_with_key(|k| {
                tag_sets.push(k.clone());
                next
            });
            tag_ids.push(id);
        }
        Ok(Columns {
            timed,
            ts,
            source: str_col(df, "source")?,
            kind: str_col(df, "kind")?,
            actor: str_col(df, "actor")?,
            target: str_col(df, "target")?,
            message: str_col(df, "message")?,
            artifact: str_col(df, "artifact")?,
            record: str_col(df, "record")?,
            device: str_col(df, "device")?,
            bytes_in: i64_col(df, "bytes_in")?,
            bytes_out: i64_col(df, "bytes_out")?,
            tag_sets,
            tag_ids,
        })
    }

    pub fn len(&self) -> usize {
        self.ts.len()
    }

    pub fn source(&self, i: usize) -> &str {
        at(&self.source, i)
    }
    pub fn kind(&self, i: usize) -> &str {
        at(&self.kind, i)
    }
    pub fn actor(&self, i: usize) -> &str {
        at(&self.actor, i)
    }
    pub fn target(&self, i: usize) -> &str {
        at(&self.target, i)
    }
    pub fn message(&self, i: usize) -> &str {
        at(&self.message, i)
    }
    pub fn artifact(&self, i: usize) -> &str {
        at(&self.artifact, i)
    }
    pub fn record(&self, i: usize) -> &str {
        at(&self.record, i)
    }
    pub fn device(&self, i: usize) -> &str {
        at(&self.device, i)
    }
    pub fn bytes(&self, i: usize) -> (Option<i64>, Option<i64>) {
        (self.bytes_in.get(i), self.bytes_out.get(i))
    }
    pub fn tags(&self, i: usize) -> &[String] {
        self.tag_ids
            .get(i)
            .and_then(|id| self.tag_sets.get(*id as usize))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Rows whose time lies in `[from, to]` (microseconds), as a range of row numbers.
    pub fn window(&self, from: i64, to: i64) -> Range<usize> {
        let timed = &self.ts[..self.timed];
        let lo = timed.partition_point(|t| t.is_some_and(|t| t < from));
        let hi = timed.partition_point(|t| t.is_some_and(|t| t <= to));
        lo..hi.max(lo)
    }

    /// Rows carrying `ts` exactly and naming this evidence record.
    pub fn find(&self, ts: i64, artifact: &str, record: &str) -> Option<usize> {
        self.window(ts, ts)
            .find(|&i| self.artifact(i) == artifact && self.record(i) == record)
    }
}
