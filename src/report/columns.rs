//! Row access to the saved timeline for the parts of the report that show rows
//! (context tables, the explorer payload). The frame is sorted by time, rows without
//! a time last.

use std::ops::Range;

use rayon::prelude::*;

use polars::prelude::*;
use polars_arrow::array::{Array, PrimitiveArray, Utf8ViewArray};

pub(crate) struct Columns {
    /// Microseconds since the Unix epoch, UTC.
    pub ts: Vec<Option<i64>>,
    // Single Arrow arrays (the frame's columns rechunked): a row is read by index
    // without going through the chunked-array lookup.
    source: Utf8ViewArray,
    kind: Utf8ViewArray,
    actor: Utf8ViewArray,
    target: Utf8ViewArray,
    message: Utf8ViewArray,
    artifact: Utf8ViewArray,
    record: Utf8ViewArray,
    device: Utf8ViewArray,
    bytes_in: PrimitiveArray<i64>,
    bytes_out: PrimitiveArray<i64>,
    /// Each distinct list of tags once; `tag_ids[row]` points into it.
    pub tag_sets: Vec<Vec<String>>,
    pub tag_ids: Vec<u32>,
    /// Rows with a time come first; this many of them.
    timed: usize,
    /// Shown forms of values that are too long or hold invisible characters: per
    /// column (indexed by [`Col`]), by row.
    long: Vec<PlHashMap<usize, String>>,
}

/// Bytes of one value the page shows; the rest is named, and kept whole in
/// timeline.parquet. A megabyte-long process name or file name would otherwise be
/// copied into the page (and every table it appears in) in full.
pub(crate) const MAX_SHOWN: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(usize)]
enum Col {
    Source,
    Kind,
    Actor,
    Target,
    Message,
    Artifact,
    Record,
    Device,
}

/// `s` cut to [`MAX_SHOWN`] bytes on a character boundary, saying how much was left out.
pub(crate) fn shorten(s: &str) -> String {
    let mut end = MAX_SHOWN.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}… [{} more bytes, whole in timeline.parquet]",
        &s[..end],
        s.len() - end
    )
}

/// Values the page must not show as stored: megabyte strings (shortened) and text
/// with control or invisible characters (made visible, see [`super::visible`]).
///
/// The rows are in time order but their text lies in the data buffers in source
/// order, so reading every value row by row is mostly waiting for memory. Instead the
/// buffers are scanned once, front to back, for the bytes that can start a hidden
/// character ([`super::suspect`]); a value is read only when it is too long, or its
/// bytes (inline in its view, or the range it points at) hold one of those.
fn long_values(arr: &Utf8ViewArray) -> PlHashMap<usize, String> {
    let suspects: Vec<Vec<u32>> = arr
        .data_buffers()
        .iter()
        .map(|b| suspect_offsets(b))
        .collect();
    let mut out = PlHashMap::default();
    for (i, view) in arr.views().iter().enumerate() {
        if arr.is_null(i) {
            continue;
        }
        let len = view.length as usize;
        let flagged = match view.get_inlined_slice() {
            Some(bytes) => bytes.iter().any(|&b| super::suspect(b)),
            None => suspects.get(view.buffer_idx as usize).is_none_or(|s| {
                let first = s.partition_point(|&o| o < view.offset);
                s.get(first).is_some_and(|&o| {
                    u64::from(o) < u64::from(view.offset) + u64::from(view.length)
                })
            }),
        };
        if len <= MAX_SHOWN && !flagged {
            continue;
        }
        let v = arr.value(i);
        let short = if v.len() > MAX_SHOWN {
            std::borrow::Cow::Owned(shorten(v))
        } else {
            std::borrow::Cow::Borrowed(v)
        };
        if let std::borrow::Cow::Owned(shown) = super::visible(&short) {
            out.insert(i, shown);
        } else if let std::borrow::Cow::Owned(s) = short {
            out.insert(i, s);
        }
    }
    out
}

/// Each distinct list of tags once, and each row's list as an index into them. Most
/// rows share a handful of lists: a row's list is looked up by its joined text (built
/// in a reused buffer), and only new lists are allocated.
fn tag_sets(lists: &ListChunked) -> PolarsResult<(Vec<Vec<String>>, Vec<u32>)> {
    let mut tag_sets: Vec<Vec<String>> = Vec::new();
    let mut index: PlHashMap<String, u32> = PlHashMap::default();
    let mut tag_ids = Vec::with_capacity(lists.len());
    let mut key = String::new();
    for arr in lists.downcast_iter() {
        let values = crate::timeline::text::list_values(arr)?;
        let value = |j: usize| -> &str {
            if j < values.len() && values.is_valid(j) {
                values.value(j)
            } else {
                ""
            }
        };
        let offsets = arr.offsets().as_slice();
        for row in 0..arr.len() {
            let (lo, hi) = (offsets[row] as usize, offsets[row + 1] as usize);
            let valid = arr.validity().is_none_or(|v| v.get_bit(row));
            key.clear();
            if valid {
                for j in lo..hi {
                    key.push_str(value(j));
                    key.push('\0');
                }
            }
            let id = match index.get(key.as_str()) {
                Some(id) => *id,
                None => {
                    let id = tag_sets.len() as u32;
                    let tags = if valid {
                        (lo..hi).map(|j| value(j).to_string()).collect()
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
    Ok((tag_sets, tag_ids))
}

/// Offsets, ascending, of the bytes in `buf` that can start a character
/// [`super::visible`] escapes; 32-byte blocks without one are passed over whole.
fn suspect_offsets(buf: &[u8]) -> Vec<u32> {
    let mut out = Vec::new();
    for (n, block) in buf.chunks(32).enumerate() {
        if block.iter().fold(false, |acc, &b| acc | super::suspect(b)) {
            out.extend(
                block
                    .iter()
                    .enumerate()
                    .filter(|(_, &b)| super::suspect(b))
                    .map(|(j, _)| (n * 32 + j) as u32),
            );
        }
    }
    out
}

fn str_col(df: &DataFrame, name: &str) -> PolarsResult<Utf8ViewArray> {
    let ca = df.column(name)?.str()?.rechunk();
    let arr = ca.downcast_iter().next().cloned();
    Ok(arr.unwrap_or_else(|| Utf8ViewArray::new_empty(ArrowDataType::Utf8View)))
}

fn i64_col(df: &DataFrame, name: &str) -> PolarsResult<PrimitiveArray<i64>> {
    let ca = df.column(name)?.i64()?.rechunk();
    let arr = ca.downcast_iter().next().cloned();
    Ok(arr.unwrap_or_else(|| PrimitiveArray::new_empty(ArrowDataType::Int64)))
}

fn at(arr: &Utf8ViewArray, i: usize) -> &str {
    if i >= arr.len() || arr.is_null(i) {
        return "";
    }
    arr.value(i)
}

fn int_at(arr: &PrimitiveArray<i64>, i: usize) -> Option<i64> {
    if i >= arr.len() || arr.is_null(i) {
        return None;
    }
    Some(arr.value(i))
}

impl Columns {
    pub fn new(df: &DataFrame) -> PolarsResult<Columns> {
        let ts: Vec<Option<i64>> = df.column("ts")?.datetime()?.physical().iter().collect();
        let timed = ts.iter().take_while(|t| t.is_some()).count();
        let text = |name| str_col(df, name);
        let (source, kind, actor, target) = (
            text("source")?,
            text("kind")?,
            text("actor")?,
            text("target")?,
        );
        let (message, artifact, record, device) = (
            text("message")?,
            text("artifact")?,
            text("record")?,
            text("device")?,
        );
        let lists = df.column("tags")?.list()?.rechunk();
        // Reading every value of the time-ordered columns is mostly waiting for memory:
        // the eight columns (in `Col` order) are checked on all cores, and the tag lists
        // are read meanwhile.
        let arrays = [
            &source, &kind, &actor, &target, &message, &artifact, &record, &device,
        ];
        let (tags, long) = rayon::join(
            || tag_sets(&lists),
            || arrays.par_iter().map(|a| long_values(a)).collect(),
        );
        let (tag_sets, tag_ids) = tags?;
        Ok(Columns {
            timed,
            ts,
            source,
            kind,
            actor,
            target,
            message,
            artifact,
            record,
            device,
            bytes_in: i64_col(df, "bytes_in")?,
            bytes_out: i64_col(df, "bytes_out")?,
            tag_sets,
            tag_ids,
            long,
        })
    }

    /// A value as the page shows it (see [`long_values`]).
    fn get<'a>(&'a self, arr: &'a Utf8ViewArray, col: Col, i: usize) -> &'a str {
        // Nearly always empty: skip the lookup (this is read for every embedded value).
        let long = self.long.get(col as usize).filter(|l| !l.is_empty());
        match long.and_then(|l| l.get(&i)) {
            Some(s) => s,
            None => at(arr, i),
        }
    }

    pub fn len(&self) -> usize {
        self.ts.len()
    }

    pub fn source(&self, i: usize) -> &str {
        self.get(&self.source, Col::Source, i)
    }
    pub fn kind(&self, i: usize) -> &str {
        self.get(&self.kind, Col::Kind, i)
    }
    pub fn actor(&self, i: usize) -> &str {
        self.get(&self.actor, Col::Actor, i)
    }
    pub fn target(&self, i: usize) -> &str {
        self.get(&self.target, Col::Target, i)
    }
    pub fn message(&self, i: usize) -> &str {
        self.get(&self.message, Col::Message, i)
    }
    pub fn artifact(&self, i: usize) -> &str {
        self.get(&self.artifact, Col::Artifact, i)
    }
    pub fn record(&self, i: usize) -> &str {
        self.get(&self.record, Col::Record, i)
    }
    pub fn device(&self, i: usize) -> &str {
        self.get(&self.device, Col::Device, i)
    }
    pub fn bytes(&self, i: usize) -> (Option<i64>, Option<i64>) {
        (int_at(&self.bytes_in, i), int_at(&self.bytes_out, i))
    }
    pub fn tags(&self, i: usize) -> &[String] {
        self.tag_ids
            .get(i)
            .and_then(|id| self.tag_sets.get(*id as usize))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The row's source as stored (not made visible), `None` when null: for grouping.
    pub fn source_stored(&self, i: usize) -> Option<&str> {
        (i < self.source.len() && !self.source.is_null(i)).then(|| self.source.value(i))
    }

    /// The row's evidence reference, whole (for lookups, never shortened).
    pub fn key(&self, i: usize) -> (&str, &str) {
        (at(&self.artifact, i), at(&self.record, i))
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
            .find(|&i| at(&self.artifact, i) == artifact && at(&self.record, i) == record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition [`long_values`] must agree with: every value read and checked.
    fn every_value(arr: &Utf8ViewArray) -> PlHashMap<usize, String> {
        let mut out = PlHashMap::default();
        for (i, v) in arr.iter().enumerate() {
            let Some(v) = v else { continue };
            let short = if v.len() > MAX_SHOWN {
                shorten(v)
            } else {
                v.to_string()
            };
            let shown = super::super::visible(&short).into_owned();
            if shown != v {
                out.insert(i, shown);
            }
        }
        out
    }

    const PARTS: [&str; 12] = [
        "a",
        "plain text of some length",
        "\u{200b}",
        "’",
        "\u{1}",
        "\t",
        "é",
        "\u{feff}",
        "\u{7f}",
        "🎉",
        "\u{85}",
        "0123456789",
    ];

    proptest::proptest! {
        #[test]
        fn scanning_the_buffers_finds_what_reading_every_value_finds(
            chunks in proptest::collection::vec(
                proptest::collection::vec(
                    proptest::option::weighted(0.9, proptest::collection::vec(0..PARTS.len(), 0..8)),
                    0..40,
                ),
                1..4,
            ),
            huge in 0usize..3,
        ) {
            // Several chunks rechunked into one array: several data buffers.
            let mut ca: Option<StringChunked> = None;
            for (c, rows) in chunks.iter().enumerate() {
                let mut values: Vec<Option<String>> = rows
                    .iter()
                    .map(|r| r.as_ref().map(|parts| parts.iter().map(|&p| PARTS[p]).collect()))
                    .collect();
                if c == huge {
                    values.push(Some(format!("{}\u{200b}", "x".repeat(MAX_SHOWN))));
                    values.push(Some("y".repeat(MAX_SHOWN + 1)));
                }
                let next = StringChunked::from_iter_options("c".into(), values.into_iter());
                match ca.as_mut() {
                    Some(ca) => { ca.append(&next).unwrap(); }
                    None => ca = Some(next),
                }
            }
            let ca = ca.unwrap().rechunk().into_owned();
            let arr = ca.downcast_iter().next().unwrap();
            proptest::prop_assert_eq!(long_values(arr), every_value(arr));
        }
    }

    #[test]
    fn suspect_offsets_are_every_suspect_byte_in_order() {
        let text = format!("{}\u{200b}{}\u{1}’", "a".repeat(40), "b".repeat(31));
        let want: Vec<u32> = text
            .bytes()
            .enumerate()
            .filter(|(_, b)| super::super::suspect(*b))
            .map(|(i, _)| i as u32)
            .collect();
        assert_eq!(want.len(), 3);
        assert_eq!(suspect_offsets(text.as_bytes()), want);
    }
}
