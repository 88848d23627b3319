//! Text columns handled at the level of Arrow string views.
//!
//! A timeline column of N rows is N 16-byte views; a value longer than 12 bytes lives
//! once in a data buffer and its view points at it. Two things keep the timeline
//! small and cheap to sort:
//!
//! * [`TextBuilder`] writes a value that repeats one seen recently as another view of
//!   the bytes already stored (a source's `artifact` is the same path on every row;
//!   `kind`, `actor` and `target` take a few hundred values), so repeated text costs
//!   16 bytes a row instead of its length;
//! * [`gather`] reorders a column by building new views into the same buffers, where
//!   Polars' gather from a many-chunk column copies every value into a new buffer.
//!
//! Both hand Polars views they know to be valid (see [`trusted_array`]): the check
//! Polars would run again, every view against its buffers and all text as UTF-8, took
//! about a tenth of a second per pass at scale 1. Debug builds (and so the tests) run it.

use std::hash::BuildHasher;

use polars::prelude::*;
use polars_arrow::array::{Array, ListArray, Utf8ViewArray, View};
use polars_arrow::offset::OffsetsBuffer;

type LargeListArray = ListArray<i64>;
use polars_arrow::datatypes::ArrowDataType;
use polars_buffer::Buffer;

/// Longest value the builder looks up before storing: longer ones are rarely repeated.
const DEDUP_MAX_LEN: usize = 256;
/// Distinct values remembered per column; the memory starts afresh when it is full.
const DEDUP_ENTRIES: usize = 4096;
/// Size at which a data buffer is closed and a new one begun.
const BUFFER_BYTES: usize = 8 << 20;

/// Builds one non-null string column.
pub struct TextBuilder {
    name: &'static str,
    views: Vec<View>,
    done: Vec<Buffer<u8>>,
    current: Vec<u8>,
    /// Hash of a value → its view, for the columns that repeat (`None`: not looked up).
    recent: Option<PlHashMap<u64, View>>,
    hasher: polars::prelude::PlRandomState,
}

impl TextBuilder {
    /// A column whose values are looked up and stored once while they repeat.
    pub fn repeating(name: &'static str) -> Self {
        TextBuilder {
            recent: Some(PlHashMap::default()),
            ..TextBuilder::unique(name)
        }
    }

    /// A column of mostly distinct values (record keys, messages): stored as they come.
    pub fn unique(name: &'static str) -> Self {
        TextBuilder {
            name,
            views: Vec::new(),
            done: Vec::new(),
            current: Vec::new(),
            recent: None,
            hasher: Default::default(),
        }
    }

    /// Room for `rows` more values (views only; text goes into buffers as it comes).
    pub fn reserve(&mut self, rows: usize) {
        self.views.reserve(rows);
    }

    pub fn push(&mut self, value: &str) {
        let bytes = value.as_bytes();
        if bytes.len() <= View::MAX_INLINE_SIZE as usize {
            self.views.push(View::new_inline(bytes));
            return;
        }
        let key = match &self.recent {
            Some(recent) if bytes.len() <= DEDUP_MAX_LEN => {
                let key = self.hasher.hash_one(bytes);
                if let Some(v) = recent.get(&key) {
                    if self.bytes_of(v) == Some(bytes) {
                        self.views.push(*v);
                        return;
                    }
                }
                Some(key)
            }
            _ => None,
        };
        let view = self.store(bytes);
        self.views.push(view);
        if let (Some(key), Some(recent)) = (key, self.recent.as_mut()) {
            if recent.len() >= DEDUP_ENTRIES {
                recent.clear();
            }
            recent.insert(key, view);
        }
    }

    /// Copies a value longer than the inline size into the current buffer.
    fn store(&mut self, bytes: &[u8]) -> View {
        if !self.current.is_empty() && self.current.len() + bytes.len() > BUFFER_BYTES {
            let full = std::mem::take(&mut self.current);
            self.done.push(Buffer::from(full));
        }
        if self.current.capacity() == 0 {
            // A column that has filled one buffer will fill the next: reserving it whole
            // saves the copies (and the fresh pages) of growing it from 64 KiB.
            let want = if self.done.is_empty() {
                64 << 10
            } else {
                BUFFER_BYTES
            };
            self.current.reserve(bytes.len().clamp(want, BUFFER_BYTES));
        }
        let offset = self.current.len() as u32;
        self.current.extend_from_slice(bytes);
        View::new_from_bytes(bytes, self.done.len() as u32, offset)
    }

    /// The stored bytes a view of this builder points at.
    fn bytes_of(&self, v: &View) -> Option<&[u8]> {
        let buf: &[u8] = if v.buffer_idx as usize == self.done.len() {
            &self.current
        } else {
            self.done.get(v.buffer_idx as usize)?
        };
        buf.get(v.offset as usize..v.offset as usize + v.length as usize)
    }

    pub fn finish(mut self) -> PolarsResult<StringChunked> {
        if !self.current.is_empty() {
            self.current.shrink_to_fit();
            self.done
                .push(Buffer::from(std::mem::take(&mut self.current)));
        }
        // Every view was made by `push`: inline bytes of a `&str`, or the place in
        // `done`/`current` where `store` copied a `&str` (or a view of such a place
        // whose bytes compared equal). `current` becomes `done[done.len()]`, the index
        // `store` gave its views.
        let arr = trusted_array(self.views, self.done)?;
        Ok(StringChunked::with_chunk(self.name.into(), arr))
    }
}

/// The string array of `views` over `buffers`, for callers that guarantee each view
/// either holds its bytes inline or points at a range of `buffers` holding valid UTF-8:
/// the two callers in this module build their views that way and say why at the call.
/// Debug builds check every view all the same, so the tests check the guarantee.
fn trusted_array(views: Vec<View>, buffers: Vec<Buffer<u8>>) -> PolarsResult<Utf8ViewArray> {
    let (views, buffers) = (Buffer::from(views), Buffer::from(buffers));
    if cfg!(debug_assertions) {
        return Utf8ViewArray::try_new(ArrowDataType::Utf8View, views, buffers, None);
    }
    // SAFETY: the callers' guarantee above is what `new_unchecked` asks for: views
    // within their buffers, text valid UTF-8.
    Ok(unsafe {
        Utf8ViewArray::new_unchecked_unknown_md(ArrowDataType::Utf8View, views, buffers, None, None)
    })
}

/// The data buffers of several string-view chunks as one list, and where each chunk
/// starts in rows and in that list: a view taken from chunk `c` points into the
/// combined list once its buffer index is moved by `bases[c]`.
struct Combined {
    starts: Vec<usize>,
    bases: Vec<u32>,
    buffers: Vec<Buffer<u8>>,
}

impl Combined {
    /// `chunks`: each chunk's row count and the string views holding its text.
    fn new<'a>(chunks: impl Iterator<Item = (usize, &'a Utf8ViewArray)>) -> PolarsResult<Self> {
        let mut c = Combined {
            starts: Vec::new(),
            bases: Vec::new(),
            buffers: Vec::new(),
        };
        let mut rows = 0usize;
        for (len, arr) in chunks {
            c.starts.push(rows);
            rows += len;
            c.bases.push(
                u32::try_from(c.buffers.len())
                    .map_err(|_| polars_err!(ComputeError: "too many string buffers to gather"))?,
            );
            c.buffers.extend(arr.data_buffers().iter().cloned());
        }
        Ok(c)
    }

    /// The chunk holding row `i` (the last one starting at or before it) and the row
    /// within it. An `i` past the end lands in the last chunk and is caught there.
    fn locate(&self, i: usize) -> (usize, usize) {
        let c = self.starts.partition_point(|&s| s <= i).saturating_sub(1);
        (c, i - self.starts.get(c).copied().unwrap_or(0))
    }

    /// A view of chunk `c` pointed into the combined buffer list.
    fn rebase(&self, mut v: View, c: usize) -> View {
        if v.length > View::MAX_INLINE_SIZE {
            v.buffer_idx += self.bases[c];
        }
        v
    }

    /// The string array of `views` over the combined buffers. Every view must be a view
    /// of one of the chunks passed to [`Combined::new`], moved by [`Combined::rebase`]:
    /// the chunks are valid Polars arrays, and the rebased view points at the very bytes
    /// the original did, because that chunk's buffers sit in `buffers` from `bases[c]`.
    fn array(self, views: Vec<View>) -> PolarsResult<Utf8ViewArray> {
        trusted_array(views, self.buffers)
    }
}

/// `ca` reordered so that row `k` of the result is row `order[k]` of `ca`, sharing
/// `ca`'s data buffers. `None` when the column holds nulls (the caller then uses
/// Polars' own gather).
pub fn gather(ca: &StringChunked, order: &[IdxSize]) -> PolarsResult<Option<StringChunked>> {
    if ca.null_count() > 0 {
        return Ok(None);
    }
    let chunks: Vec<&Utf8ViewArray> = ca.downcast_iter().collect();
    let combined = Combined::new(chunks.iter().map(|c| (c.len(), *c)))?;
    let mut views = Vec::with_capacity(order.len());
    for &i in order {
        let (c, r) = combined.locate(i as usize);
        let v = *chunks
            .get(c)
            .and_then(|a| a.views().get(r))
            .ok_or_else(|| polars_err!(OutOfBounds: "row {i} is outside the column"))?;
        views.push(combined.rebase(v, c));
    }
    let arr = combined.array(views)?;
    Ok(Some(StringChunked::with_chunk(ca.name().clone(), arr)))
}

/// The string values under one chunk of a list-of-strings column (such as `tags`).
pub fn list_values(arr: &ListArray<i64>) -> PolarsResult<&Utf8ViewArray> {
    arr.values()
        .as_any()
        .downcast_ref::<Utf8ViewArray>()
        .ok_or_else(|| polars_err!(ComputeError: "the tags column does not hold text"))
}

/// `ca` (a list-of-strings column such as `tags`) reordered like [`gather`]: new
/// offsets and new views into the same data buffers. Polars' own gather of a
/// many-chunk list column first copied every chunk into one and then every value again
/// (about 200 bytes a row on the timeline, the largest allocation of the run).
/// `None` when the column or its values hold nulls (the caller then uses Polars').
pub fn gather_list(ca: &ListChunked, order: &[IdxSize]) -> PolarsResult<Option<ListChunked>> {
    if ca.null_count() > 0 {
        return Ok(None);
    }
    let mut chunks: Vec<(&LargeListArray, &Utf8ViewArray)> = Vec::new();
    for arr in ca.downcast_iter() {
        match arr.values().as_any().downcast_ref::<Utf8ViewArray>() {
            Some(values) if values.null_count() == 0 => chunks.push((arr, values)),
            _ => return Ok(None),
        }
    }
    let combined = Combined::new(chunks.iter().map(|(list, values)| (list.len(), *values)))?;
    let values_len: usize = chunks.iter().map(|(_, values)| values.len()).sum();
    let mut offsets: Vec<i64> = Vec::with_capacity(order.len() + 1);
    offsets.push(0);
    let mut views: Vec<View> = Vec::with_capacity(values_len);
    for &i in order {
        let i = i as usize;
        let (c, r) = combined.locate(i);
        let (list, values) = chunks
            .get(c)
            .ok_or_else(|| polars_err!(OutOfBounds: "row {i} is outside the column"))?;
        let bounds = list.offsets().buffer();
        let (Some(&from), Some(&to)) = (bounds.get(r), bounds.get(r + 1)) else {
            return Err(polars_err!(OutOfBounds: "row {i} is outside the column"));
        };
        let taken = values
            .views()
            .get(from as usize..to as usize)
            .ok_or_else(|| polars_err!(ComputeError: "list offsets outside their values"))?;
        views.extend(taken.iter().map(|v| combined.rebase(*v, c)));
        offsets.push(views.len() as i64);
    }
    let values = combined.array(views)?;
    let arr = LargeListArray::try_new(
        LargeListArray::default_datatype(ArrowDataType::Utf8View),
        OffsetsBuffer::try_from(offsets)?,
        Box::new(values),
        None,
    )?;
    Ok(Some(ListChunked::with_chunk_like(ca, arr)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(ca: &StringChunked) -> Vec<String> {
        ca.iter()
            .map(|v| v.unwrap_or("<null>").to_string())
            .collect()
    }

    #[test]
    fn repeated_values_are_stored_once_and_read_back_whole() {
        let long = "backup/HomeDomain/Library/SMS/sms.db";
        let other = "backup/HomeDomain/Library/Preferences/x.plist";
        let input = [
            long,
            "short",
            long,
            other,
            long,
            "",
            other,
            "é🎉 and more than twelve",
        ];
        let mut b = TextBuilder::repeating("c");
        for v in input {
            b.push(v);
        }
        let ca = b.finish().unwrap();
        assert_eq!(values(&ca), input);
        let arr = ca.downcast_iter().next().unwrap();
        let stored: usize = arr.data_buffers().iter().map(|b| b.len()).sum();
        assert_eq!(
            stored,
            long.len() + other.len() + "é🎉 and more than twelve".len(),
            "each long value once"
        );
    }

    #[test]
    fn unique_columns_store_every_value_and_hash_collisions_cannot_mix_values() {
        let mut b = TextBuilder::unique("c");
        let input: Vec<String> = (0..5000).map(|i| format!("message:ROWID={i:08}")).collect();
        for v in &input {
            b.push(v);
        }
        assert_eq!(values(&b.finish().unwrap()), input);
        // More distinct values than the builder remembers: still all correct.
        let mut b = TextBuilder::repeating("c");
        let input: Vec<String> = (0..3 * DEDUP_ENTRIES)
            .map(|i| format!("com.example.app{}", i % (DEDUP_ENTRIES + 7)))
            .collect();
        for v in &input {
            b.push(v);
        }
        assert_eq!(values(&b.finish().unwrap()), input);
    }

    #[test]
    fn gather_across_chunks_matches_polars_own_take() {
        let mut ca = StringChunked::new("c".into(), &["a", "a long value number one", "b"]);
        let mut second = TextBuilder::repeating("c");
        for v in ["another long value, two", "c", "another long value, two"] {
            second.push(v);
        }
        ca.append(&second.finish().unwrap()).unwrap();
        ca.append(&StringChunked::new(
            "c".into(),
            &["z long value at the end"],
        ))
        .unwrap();
        assert!(ca.chunks().len() >= 3);
        let order: Vec<IdxSize> = vec![6, 3, 0, 5, 1, 4, 2, 6];
        let ours = gather(&ca, &order).unwrap().unwrap();
        let theirs = ca
            .take(&IdxCa::from_vec("i".into(), order.clone()))
            .unwrap();
        assert_eq!(values(&ours), values(&theirs));
        // An index past the end is an error, not a panic.
        assert!(gather(&ca, &[7, 8]).is_err());
        // Nulls: left to Polars.
        let with_null = StringChunked::new("c".into(), &[Some("x"), None]);
        assert!(gather(&with_null, &[1, 0]).unwrap().is_none());
    }

    #[test]
    fn list_gather_across_chunks_matches_polars_own_take() {
        fn lists(rows: &[&[&str]]) -> ListChunked {
            let mut b = ListStringChunkedBuilder::new("tags".into(), rows.len(), 4);
            for r in rows {
                b.append_values_iter(r.iter().copied());
            }
            b.finish()
        }
        let mut ca = lists(&[&["a"], &[], &["b", "a tag longer than twelve bytes"]]);
        ca.append(&lists(&[
            &["second chunk, long value number one", "x"],
            &[],
            &["y"],
        ]))
        .unwrap();
        ca.append(&lists(&[&["z", "z", "last chunk, another long value"]]))
            .unwrap();
        assert!(ca.chunks().len() >= 3);
        let order: Vec<IdxSize> = vec![6, 3, 0, 5, 1, 4, 2, 6];
        let ours = gather_list(&ca, &order).unwrap().unwrap();
        let theirs = ca
            .take(&IdxCa::from_vec("i".into(), order.clone()))
            .unwrap();
        let show = |ca: &ListChunked| -> Vec<Vec<String>> {
            ca.amortized_iter()
                .map(|v| {
                    let s = v.expect("no null rows");
                    values(s.as_ref().str().unwrap())
                })
                .collect()
        };
        assert_eq!(show(&ours), show(&theirs));
        assert_eq!(ours.dtype(), ca.dtype());
        assert!(gather_list(&ca, &[7, 8]).is_err());
        // A null row: left to Polars.
        let mut with_null = lists(&[&["a"]]);
        with_null
            .append(&ListChunked::full_null_with_dtype(
                "tags".into(),
                1,
                &DataType::String,
            ))
            .unwrap();
        assert!(gather_list(&with_null, &[1, 0]).unwrap().is_none());
    }
}
