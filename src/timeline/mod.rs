//! The unified timeline: one schema for every artifact, built column by column.
//!
//! Sources push [`Event`]s into a [`TimelineBuilder`], which keeps one vector per
//! column; [`TimelineBuilder::finish`] turns those into a Polars frame once, and
//! [`Timeline::from_builders`] concatenates the per-source frames and sorts by time
//! exactly once. See docs/SCHEMA.md.

pub mod parquet;
pub mod text;
pub mod time;

use std::borrow::Cow;
use std::path::Path;

use chrono::{DateTime, Utc};

use polars::prelude::*;
use rayon::prelude::*;
use text::TextBuilder;

/// Column names, in the order they appear in timeline.parquet.
pub const COLUMNS: [&str; 12] = [
    "ts",
    "source",
    "kind",
    "actor",
    "target",
    "message",
    "bytes_in",
    "bytes_out",
    "artifact",
    "record",
    "device",
    "tags",
];

/// Most rows [`TimelineBuilder::reserve`] sets aside at once (beyond it, columns grow
/// as they fill); about 670 MB of address space for the builder's columns.
pub const MAX_RESERVE_ROWS: usize = 1 << 22;

/// A UUID as Apple writes it in paths and names: five groups of 8-4-4-4-12 hex digits
/// (e.g. the last component of a shutdown.log client path, the app-container prefix
/// of a DataUsage process name). The one check every module uses.
pub fn is_uuid(s: &str) -> bool {
    let mut groups = s.split('-');
    [8, 4, 4, 4, 12].iter().all(|&n| {
        groups
            .next()
            .is_some_and(|g| g.len() == n && g.bytes().all(|c| c.is_ascii_hexdigit()))
    }) && groups.next().is_none()
}

/// One timeline row as a source produces it. `ts` is `None` when the evidence row
/// has no usable time (zero, NULL or absurd): the row is kept, the time left empty.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Event {
    pub ts: Option<DateTime<Utc>>,
    pub source: &'static str,
    /// Named in code by every source, except where the evidence names it (MVT's
    /// event names): owned then, so nothing read from evidence is leaked.
    pub kind: Cow<'static, str>,
    pub actor: String,
    pub target: String,
    pub message: String,
    pub bytes_in: Option<i64>,
    pub bytes_out: Option<i64>,
    pub artifact: String,
    pub record: String,
    pub tags: Vec<String>,
}

impl Event {
    pub fn new(source: &'static str, kind: &'static str, ts: Option<DateTime<Utc>>) -> Self {
        Event {
            ts,
            source,
            kind: Cow::Borrowed(kind),
            ..Default::default()
        }
    }
    /// A kind that comes from the evidence itself.
    pub fn kind(mut self, kind: impl Into<Cow<'static, str>>) -> Self {
        self.kind = kind.into();
        self
    }
    pub fn actor(mut self, v: impl Into<String>) -> Self {
        self.actor = v.into();
        self
    }
    pub fn target(mut self, v: impl Into<String>) -> Self {
        self.target = v.into();
        self
    }
    pub fn message(mut self, v: impl Into<String>) -> Self {
        self.message = v.into();
        self
    }
    pub fn bytes(mut self, bytes_in: Option<i64>, bytes_out: Option<i64>) -> Self {
        self.bytes_in = bytes_in;
        self.bytes_out = bytes_out;
        self
    }
    pub fn at(mut self, artifact: impl Into<String>, record: impl Into<String>) -> Self {
        self.artifact = artifact.into();
        self.record = record.into();
        self
    }
    pub fn tag(mut self, t: impl Into<String>) -> Self {
        self.tags.push(t.into());
        self
    }
}

/// Column-wise accumulator for one source's rows. Text goes straight into Arrow
/// string builders as each row is pushed, so a source's rows are held once, in the
/// frame's own layout, instead of as a `String` per value until the frame is built.
pub struct TimelineBuilder {
    device: String,
    ts: Vec<Option<i64>>,
    source: Vec<&'static str>,
    kind: TextBuilder,
    actor: TextBuilder,
    target: TextBuilder,
    message: TextBuilder,
    bytes_in: Vec<Option<i64>>,
    bytes_out: Vec<Option<i64>>,
    artifact: TextBuilder,
    record: TextBuilder,
    tags: ListStringChunkedBuilder,
}

impl Default for TimelineBuilder {
    fn default() -> Self {
        TimelineBuilder::new("")
    }
}

impl std::fmt::Debug for TimelineBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimelineBuilder")
            .field("device", &self.device)
            .field("rows", &self.ts.len())
            .finish()
    }
}

impl TimelineBuilder {
    pub fn new(device: impl Into<String>) -> Self {
        TimelineBuilder {
            device: device.into(),
            ts: Vec::new(),
            source: Vec::new(),
            kind: TextBuilder::repeating("kind"),
            actor: TextBuilder::repeating("actor"),
            target: TextBuilder::repeating("target"),
            message: TextBuilder::unique("message"),
            bytes_in: Vec::new(),
            bytes_out: Vec::new(),
            artifact: TextBuilder::repeating("artifact"),
            record: TextBuilder::unique("record"),
            tags: ListStringChunkedBuilder::new("tags".into(), 0, 0),
        }
    }

    pub fn len(&self) -> usize {
        self.ts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// Room for `rows` more rows, so the columns are not regrown (and copied) while a
    /// large table is read. Capacity that stays unused is never touched, so an
    /// estimate on the high side costs address space, not memory. At most
    /// [`MAX_RESERVE_ROWS`]: the estimate comes from the evidence (a table count), and a
    /// hostile database must not ask for one allocation the process cannot get (a
    /// failed allocation aborts, it is not an error the analysis can report).
    pub fn reserve(&mut self, rows: usize) {
        let rows = rows.min(MAX_RESERVE_ROWS);
        self.ts.reserve(rows);
        self.source.reserve(rows);
        self.bytes_in.reserve(rows);
        self.bytes_out.reserve(rows);
        for t in [
            &mut self.kind,
            &mut self.actor,
            &mut self.target,
            &mut self.message,
            &mut self.artifact,
            &mut self.record,
        ] {
            t.reserve(rows);
        }
    }

    pub fn push(&mut self, e: Event) {
        self.ts.push(e.ts.map(|t| t.timestamp_micros()));
        self.source.push(e.source);
        self.kind.push(e.kind.as_ref());
        self.actor.push(&e.actor);
        self.target.push(&e.target);
        self.message.push(&e.message);
        self.bytes_in.push(e.bytes_in);
        self.bytes_out.push(e.bytes_out);
        self.artifact.push(&e.artifact);
        self.record.push(&e.record);
        self.tags
            .append_values_iter(e.tags.iter().map(String::as_str));
    }

    pub fn finish(mut self) -> PolarsResult<DataFrame> {
        let n = self.ts.len();
        let ts = Int64Chunked::from_iter_options("ts".into(), self.ts.into_iter())
            .into_datetime(TimeUnit::Microseconds, Some(utc()));
        let device = StringChunked::full("device".into(), &self.device, n);
        DataFrame::new(
            n,
            vec![
                ts.into_column(),
                Column::new("source".into(), self.source),
                self.kind.finish()?.into_column(),
                self.actor.finish()?.into_column(),
                self.target.finish()?.into_column(),
                self.message.finish()?.into_column(),
                Column::new("bytes_in".into(), self.bytes_in),
                Column::new("bytes_out".into(), self.bytes_out),
                self.artifact.finish()?.into_column(),
                self.record.finish()?.into_column(),
                device.into_column(),
                self.tags.finish().into_column(),
            ],
        )
    }
}

pub fn utc() -> TimeZone {
    TimeZone::UTC
}

/// The empty frame with the timeline schema.
pub fn empty() -> PolarsResult<DataFrame> {
    TimelineBuilder::default().finish()
}

/// Concatenates per-source frames and sorts them by time once: nulls last, ties broken
/// by source, artifact, record and kind, then kept in source order, so output is the
/// same from run to run. The order is computed on row numbers (times decide almost
/// every comparison) and the rows are gathered once, instead of copying the whole
/// frame into one chunk and again into sorted order.
pub fn assemble(frames: Vec<DataFrame>) -> PolarsResult<DataFrame> {
    let mut all = empty()?;
    for f in frames {
        all.vstack_mut_owned(f)?;
    }
    let order = IdxCa::from_vec("order".into(), sort_order(&all)?);
    // Gathered column by column on all cores. The text columns are gathered as new
    // views over the same buffers (no string is copied), so holding the source and
    // sorted columns side by side costs 16 bytes a row per text column.
    let height = order.len();
    let idx = order.cont_slice()?;
    let sorted = all
        .into_columns()
        .into_par_iter()
        .map(|column| {
            let gathered = match column.dtype() {
                DataType::String => text::gather(column.str()?, idx)?.map(|ca| ca.into_column()),
                DataType::List(inner) if **inner == DataType::String => {
                    text::gather_list(column.list()?, idx)?.map(|ca| ca.into_column())
                }
                _ => None,
            };
            match gathered {
                Some(c) => Ok(c),
                None => column.take(&order),
            }
        })
        .collect::<PolarsResult<Vec<Column>>>()?;
    DataFrame::new(height, sorted)
}

fn sort_order(df: &DataFrame) -> PolarsResult<Vec<IdxSize>> {
    // Plain slices borrowed from the columns' chunks (no rechunked copy):
    // `ChunkedArray::get` per comparison was most of the sort's time. Read on all cores.
    let (ts, keys) = rayon::join(
        || -> PolarsResult<Vec<Option<i64>>> {
            Ok(df.column("ts")?.datetime()?.physical().iter().collect())
        },
        || {
            ["source", "artifact", "record", "kind"]
                .par_iter()
                .map(|name| -> PolarsResult<Vec<&str>> {
                    Ok(df
                        .column(name)?
                        .str()?
                        .iter()
                        .map(|v| v.unwrap_or(""))
                        .collect())
                })
                .collect::<PolarsResult<Vec<Vec<&str>>>>()
        },
    );
    let (ts, keys) = (ts?, keys?);
    let mut order: Vec<IdxSize> = (0..ts.len() as IdxSize).collect();
    // `par_sort_by` is stable (a merge sort on all cores): rows equal on every key keep
    // their source order, so the order does not depend on the thread count.
    order.par_sort_by(|&a, &b| {
        let (a, b) = (a as usize, b as usize);
        let by_time = match (ts[a], ts[b]) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        by_time.then_with(|| {
            keys.iter()
                .map(|k| k[a].cmp(k[b]))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        })
    });
    Ok(order)
}

/// Writes a frame as Parquet (zstd; see [`parquet`] for the encodings).
pub fn write_parquet(df: &DataFrame, path: &Path) -> PolarsResult<()> {
    parquet::write(df, path)
}

pub fn read_parquet(path: &Path) -> PolarsResult<DataFrame> {
    let file = std::fs::File::open(path)?;
    ParquetReader::new(file).finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_estimate_from_evidence_is_capped_before_reserving() {
        // Uncapped, this asks for more than the address space ("capacity overflow").
        let mut b = TimelineBuilder::new("d");
        b.reserve(usize::MAX / 4);
        assert!(b.ts.capacity() >= MAX_RESERVE_ROWS);
        assert!(b.ts.capacity() < 2 * MAX_RESERVE_ROWS);
        b.push(Event::new("sms", "message_received", None).message("x"));
        assert_eq!(b.finish().unwrap().height(), 1);
    }
}
