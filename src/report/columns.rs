//! Row access to the saved timeline for the parts of the report that show rows
//! (context tables, the explorer payload). The frame is sorted by time, rows without
//! a time last.

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
        // Most rows share a handful of tag lists: look each row's list up by its
        // joined text (built in a reused buffer) and allocate only for new lists.
        let mut tag_sets: Vec<Vec<String>> = Vec::new();
        let mut index: PlHashMap<String, u32> = PlHashMap::default();
        let mut tag_ids = Vec::with_capacity(ts.len());
        let lists = df.column("tags")?.list()?.rechunk();
        let mut key = String::new();
        for arr in lists.downcast_iter() {
            let values = Series::try_from((PlSmallStr::from("tags"), arr.values().clone()))?;
            let values = values.str()?;
            let offsets = arr.offsets().as_slice();
            for row in 0..arr.len() {
                let (lo, hi) = (offsets[row] as usize, offsets[row + 1] as usize);
                let valid = arr.validity().is_none_or(|v| v.get_bit(row));
                key.clear();
                if valid {
                    for j in lo..hi {
                        key.push_str(values.get(j).unwrap_or(""));
                        key.push('\0');
                    }
                }
                let id = match index.get(key.as_str()) {
                    Some(id) => *id,
                    None => {
                        let id = tag_sets.len() as u32;
                        let tags = if valid {
                            (lo..hi)
                                .map(|j| values.get(j).unwrap_or("").to_string())
                                .collect()
                        } else {
                            Vec::new()
                        };
                        tag_sets.push(tags);
                        index.insert(key.clone(), id);
                        id
                    }
                };
                tag_ids.push(id);
            }
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
