//! Writing frames as Parquet, through `polars-parquet` directly.
//!
//! Polars' `ParquetWriter` gives every string column dictionary encoding (falling back
//! to plain only when a cardinality estimate says most values are distinct) and
//! compresses the pages one after another while writing the file. On the timeline
//! that cost a hash per value of the message, record and target columns, whose values
//! are mostly distinct, and left one core idle during zstd (docs/BENCHMARKS.md).
//! Here:
//!
//! * the columns named in [`PLAIN`] are written with plain encoding; every other column
//!   keeps Polars' choice (dictionary for repeating text such as `source`, `kind`,
//!   `artifact`, `device`, `tags`);
//! * each row group's columns are encoded and compressed on all cores, then written in
//!   schema order, so the file's bytes do not depend on the thread count;
//! * pages are compressed at zstd level 1 ([`ZSTD_LEVEL`]) with one context per thread.
//!
//! The file is ordinary Parquet (zstd, statistics as Polars writes them, the Arrow
//! schema in the footer): Polars, DuckDB and pyarrow read it as before.

use std::cell::RefCell;
use std::io::Write;
use std::path::Path;

use polars::prelude::*;
use polars_parquet::parquet::compression::Compression;
use polars_parquet::parquet::page::{CompressedDictPage, DataPageHeader, Page};
use polars_parquet::parquet::CowBuffer;
use polars_parquet::write::{
    array_to_columns, compress, get_dtype_encoding, CompressedDataPage, CompressedPage,
    CompressionOptions, DynIter, DynStreamingIterator, Encoding, FileWriter, StatisticsOptions,
    Version, WriteOptions, ZstdLevel,
};
use rayon::prelude::*;

/// Columns whose values are mostly distinct: written plain, never dictionary-encoded.
pub const PLAIN: [&str; 3] = ["message", "record", "target"];

/// Rows per row group (Polars' own default).
const ROW_GROUP: usize = 512 * 512;

/// zstd level of every page. Level 1 against the default 3 on the scale-1 timeline:
/// Parquet stage 0.58 -> 0.42 s, file 19.6 -> 19.9 MB (docs/BENCHMARKS.md).
const ZSTD_LEVEL: i32 = 1;

thread_local! {
    /// One zstd context per thread, reused for every page it compresses: a fresh
    /// context per page (what `polars_parquet::write::compress` does) allocated and
    /// zeroed its tables, and the output buffer was zero-filled before being written.
    static ZSTD: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
}

/// A page compressed with this thread's zstd context; pages of another kind (V2 data
/// pages, which this writer does not make) go through polars-parquet's own path.
fn compress_page(page: Page, options: CompressionOptions) -> PolarsResult<CompressedPage> {
    let v1 = match &page {
        Page::Data(p) => matches!(p.header(), DataPageHeader::V1(_)),
        Page::Dict(_) => true,
    };
    if !v1 || !matches!(options, CompressionOptions::Zstd(_)) {
        return Ok(compress(page, Vec::new(), options)?);
    }
    let zstd = |input: &[u8]| -> PolarsResult<Vec<u8>> {
        ZSTD.with(|cell| {
            let mut cell = cell.borrow_mut();
            let ctx = match cell.as_mut() {
                Some(ctx) => ctx,
                None => cell.insert(zstd::bulk::Compressor::new(ZSTD_LEVEL)?),
            };
            // Capacity is reserved, not filled: only the bytes written are touched.
            let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(input.len()));
            ctx.compress_to_buffer(input, &mut out)?;
            Ok(out)
        })
    };
    Ok(match page {
        Page::Data(p) => {
            let out = zstd(p.buffer())?;
            let rows = p
                .num_rows
                .ok_or_else(|| polars_err!(ComputeError: "a data page without a row count"))?;
            CompressedPage::Data(CompressedDataPage::new(
                p.header().clone(),
                CowBuffer::Owned(out),
                Compression::Zstd,
                p.buffer().len(),
                p.descriptor.clone(),
                rows,
            ))
        }
        Page::Dict(p) => {
            let out = zstd(&p.buffer)?;
            CompressedPage::Dict(CompressedDictPage::new(
                CowBuffer::Owned(out),
                Compression::Zstd,
                p.buffer.len(),
                p.num_values,
                p.is_sorted,
            ))
        }
    })
}

/// Writes `df` to `path` (zstd level [`ZSTD_LEVEL`]).
pub fn write(df: &DataFrame, path: &Path) -> PolarsResult<()> {
    let file = std::fs::File::create(path)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    write_to(df, &mut out)?;
    out.flush()?;
    Ok(())
}

/// Writes `df` as one Parquet file into `sink`.
pub fn write_to<W: Write>(df: &DataFrame, sink: W) -> PolarsResult<()> {
    let schema = df.schema().to_arrow(CompatLevel::newest());
    let encodings: Vec<Vec<Encoding>> = schema
        .iter_values()
        .map(|field| {
            let mut e = get_dtype_encoding(&field.dtype);
            if PLAIN.contains(&field.name.as_str()) {
                e.fill(Encoding::Plain);
            }
            e
        })
        .collect();
    let options = WriteOptions {
        statistics: StatisticsOptions::default(),
        version: Version::V1,
        compression: CompressionOptions::Zstd(Some(ZstdLevel::try_new(ZSTD_LEVEL)?)),
        data_page_size: None,
    };
    let mut writer = FileWriter::try_new(sink, schema, options)?;
    let fields = writer.parquet_schema().fields().to_vec();
    let height = df.height();
    let mut start = 0;
    while start < height {
        let len = ROW_GROUP.min(height - start);
        let mut part = df.slice(start as i64, len);
        part.rechunk_mut_par();
        // One batch: every column is a single chunk now.
        for batch in part.iter_chunks(CompatLevel::newest(), false) {
            let columns: Vec<PolarsResult<Vec<Vec<CompressedPage>>>> = batch
                .columns()
                .par_iter()
                .zip(fields.par_iter())
                .zip(encodings.par_iter())
                .map(|((array, field), encoding)| {
                    let leaves = array_to_columns(array, field.clone(), options, encoding)?;
                    leaves
                        .into_iter()
                        .map(|pages| {
                            pages
                                .map(|page| compress_page(page?, options.compression))
                                .collect::<PolarsResult<Vec<CompressedPage>>>()
                        })
                        .collect()
                })
                .collect();
            let mut leaves = Vec::new();
            for c in columns {
                leaves.extend(c?);
            }
            let group = DynIter::new(leaves.iter().map(|pages| {
                Ok(DynStreamingIterator::new(
                    polars_parquet::write::fallible_streaming_iterator::convert(
                        pages.iter().map(PolarsResult::Ok),
                    ),
                ))
            }));
            writer.write(batch.len() as u64, group)?;
        }
        start += len;
    }
    writer.end(None)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A timeline-shaped frame with nulls, empty tag lists and values long enough to
    /// need several data pages per column, so every page kind goes through
    /// `compress_page` (dictionary pages for `source`, plain pages for `message`).
    fn frame(rows: usize) -> DataFrame {
        let mut b = crate::timeline::TimelineBuilder::new("iPhone");
        b.reserve(rows);
        for i in 0..rows {
            let ts = (i % 7 != 0).then(|| {
                chrono::DateTime::from_timestamp(1_600_000_000 + i as i64, 0).unwrap_or_default()
            });
            let mut e =
                crate::timeline::Event::new(if i % 3 == 0 { "sms" } else { "manifest" }, "row", ts)
                    .actor(format!("actor {}", i % 11))
                    .message(format!("message {i} {}", "x".repeat(i % 200)))
                    .bytes((i % 5 != 0).then_some(i as i64), None)
                    .at("", format!("t:ROWID={i}"));
            if i % 4 == 0 {
                e = e.tag("attachment").tag(format!("macb:{}", i % 3));
            }
            b.push(e);
        }
        b.finish().unwrap()
    }

    #[test]
    fn frames_read_back_equal_and_pages_are_zstd() {
        let df = frame(40_000);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        write(&df, &path).unwrap();
        let back = crate::timeline::read_parquet(&path).unwrap();
        assert!(back.equals_missing(&df), "rows read back differ");

        let mut file = std::fs::File::open(&path).unwrap();
        let meta = polars_parquet::parquet::read::read_metadata(&mut file).unwrap();
        let mut chunks = 0;
        for group in meta.row_groups {
            for column in group.parquet_columns() {
                chunks += 1;
                assert_eq!(
                    column.compression(),
                    Compression::Zstd,
                    "{:?}",
                    column.descriptor().path_in_schema
                );
            }
        }
        assert!(chunks >= df.width());
    }
}
