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
//!   schema order, so the file's bytes do not depend on the thread count.
//!
//! The file is ordinary Parquet (zstd, statistics as Polars writes them, the Arrow
//! schema in the footer): Polars, DuckDB and pyarrow read it as before.

use std::io::Write;
use std::path::Path;

use polars::prelude::*;
use polars_parquet::write::{
    array_to_columns, compress, get_dtype_encoding, CompressedPage, CompressionOptions, DynIter,
    DynStreamingIterator, Encoding, FileWriter, StatisticsOptions, Version, WriteOptions,
};
use rayon::prelude::*;

/// Columns whose values are mostly distinct: written plain, never dictionary-encoded.
pub const PLAIN: [&str; 3] = ["message", "record", "target"];

/// Rows per row group (Polars' own default).
const ROW_GROUP: usize = 512 * 512;

/// Writes `df` to `path` (zstd at its default level).
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
        compression: CompressionOptions::Zstd(None),
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
                                .map(|page| Ok(compress(page?, Vec::new(), options.compression)?))
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
