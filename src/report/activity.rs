//! Activity over time: rows per source per time bucket, and the day × hour heatmap.

use std::collections::BTreeMap;

use polars::prelude::PlHashMap;

use serde::Serialize;

use super::charts::{self, ActivityPlot, HeatmapPlot, SourceActivity};
use super::columns::Columns;
use super::display_time;
use super::page::{n, MICROS};
use super::parse_time;
use super::saved::Saved;

/// Days in the heatmap at most.
const HEATMAP_DAYS: i64 = 31;

#[derive(Serialize)]
pub(crate) struct Activity {
    pub svg: String,
    pub caption: String,
    pub heatmap_svg: String,
    pub heatmap_caption: String,
}

/// Rows per source over time, and the day × hour heatmap.
pub(crate) fn activity(
    saved: &Saved,
    cols: &Columns,
    colors: &BTreeMap<String, String>,
) -> anyhow::Result<Activity> {
    let timed: Vec<i64> = cols.ts.iter().map_while(|t| *t).collect();
    let (Some(&first), Some(&last)) = (timed.first(), timed.last()) else {
        return Ok(Activity {
            svg: String::new(),
            caption: "No row has a time, so there is nothing to draw.".into(),
            heatmap_svg: String::new(),
            heatmap_caption: String::new(),
        });
    };
    let finding_starts: Vec<(i64, String)> = saved
        .findings
        .iter()
        .filter_map(|f| Some((parse_time(&f.start)?, f.id.clone())))
        .collect();
    // Stray early times (1980 placeholders, reset clocks) would squeeze the chart. From
    // the first percentile, walk back while rows follow each other closely; what lies
    // beyond a gap longer than a quarter of the bulk's span is left out of the chart.
    let p1 = (timed.len() / 100).min(timed.len() - 1);
    let bulk = last - timed.get(p1).copied().unwrap_or(first);
    let mut k = p1;
    while k > 0 && timed[k] - timed[k - 1] <= bulk / 4 {
        k -= 1;
    }
    let mut from = timed.get(k).copied().unwrap_or(first);
    if let Some(earliest) = finding_starts.iter().map(|f| f.0).min() {
        from = from.min(earliest);
    }
    let clipped = timed.partition_point(|t| *t < from);
    let span_s = ((last - from) / MICROS).max(60);
    let (bucket_s, bucket_name) = charts::bucket_for(span_s, 320);
    let from_s = (from / MICROS).div_euclid(bucket_s) * bucket_s;
    let to_s = (last / MICROS).div_euclid(bucket_s) * bucket_s;

    let mut per_source = source_buckets(cols, &timed, bucket_s, from_s);
    let mut sources: Vec<SourceActivity> = saved
        .log
        .rows_by_source
        .iter()
        .map(|(s, total)| SourceActivity {
            source: s.clone(),
            color: charts::parse_hex(colors.get(s).map(String::as_str).unwrap_or("#777777")),
            total: *total,
            buckets: per_source.remove(s).unwrap_or_default(),
        })
        .collect();
    // Sources the run log does not list (a hand-made timeline) still get a panel.
    for (s, buckets) in per_source {
        let total = buckets.iter().map(|b| b.1 as usize).sum();
        sources.push(SourceActivity {
            color: charts::parse_hex(colors.get(&s).map(String::as_str).unwrap_or("#777777")),
            source: s,
            total,
            buckets,
        });
    }
    sources.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.source.cmp(&b.source)));
    let svg = charts::activity(&ActivityPlot {
        sources,
        from_s,
        to_s,
        bucket_s,
        marks: finding_starts
            .iter()
            .map(|(t, id)| (t / MICROS, id.clone()))
            .collect(),
    })?;
    let mut caption = format!(
        "Each bar is one {bucket_name} (UTC); bar height grows with the square root of the rows, scaled per source. {} to {}.",
        display_time(from_s * MICROS),
        display_time(last)
    );
    if clipped > 0 {
        caption.push_str(&format!(
            " {} rows before {} (stray early times) are left out of this chart; they are in the explorer.",
            n(clipped),
            display_time(from)
        ));
    }
    if !finding_starts.is_empty() {
        caption.push_str(" Red lines mark where findings start.");
    }
    let (heatmap_svg, heatmap_caption) = heatmap(&timed, &finding_starts)?;
    Ok(Activity {
        svg,
        caption,
        heatmap_svg,
        heatmap_caption,
    })
}

fn heatmap(timed: &[i64], finding_starts: &[(i64, String)]) -> anyhow::Result<(String, String)> {
    const DAY: i64 = 86_400 * MICROS;
    let (Some(&first), Some(&last)) = (timed.first(), timed.last()) else {
        return Ok((String::new(), String::new()));
    };
    // Up to a month, ending a week after the last finding (or at the last row).
    let anchor = finding_starts
        .iter()
        .map(|f| f.0)
        .max()
        .map(|t| (t + 7 * DAY).min(last))
        .unwrap_or(last);
    let end_day = anchor.div_euclid(DAY);
    let start_day = (end_day - HEATMAP_DAYS + 1).max(first.div_euclid(DAY));
    let cells = hour_cells(timed, start_day * DAY, (end_day + 1) * DAY);
    let days: Vec<i64> = (start_day..=end_day).collect();
    let marks: Vec<(i64, u32, String)> = finding_starts
        .iter()
        .filter(|(t, _)| (start_day..=end_day).contains(&t.div_euclid(DAY)))
        .map(|(t, id)| {
            (
                t.div_euclid(DAY),
                (t.rem_euclid(DAY) / (3600 * MICROS)) as u32,
                id.clone(),
            )
        })
        .collect();
    let svg = charts::heatmap(&HeatmapPlot { days, cells, marks })?;
    let caption = format!(
        "Rows per hour for each day from {} to {} (UTC){}. Darker means more rows (log scale).",
        display_time(start_day * DAY).get(..10).unwrap_or(""),
        display_time(end_day * DAY).get(..10).unwrap_or(""),
        if finding_starts.is_empty() {
            ", the last month of the timeline"
        } else {
            ", the month around the findings"
        }
    );
    Ok((svg, caption))
}

/// Rows per source per bucket of `bucket_s` seconds, from the bucket holding `from_s`
/// on: each source's `(bucket start in seconds, rows)` in time order. `timed` is the
/// timeline's times in row order (ascending), so each source's buckets come in order
/// and are counted in one pass, without a group-by.
fn source_buckets(
    cols: &Columns,
    timed: &[i64],
    bucket_s: i64,
    from_s: i64,
) -> BTreeMap<String, Vec<(i64, u64)>> {
    let width = bucket_s.saturating_mul(MICROS).max(1);
    let first_bucket = from_s.div_euclid(bucket_s.max(1));
    let start = timed.partition_point(|t| t.div_euclid(width) < first_bucket);
    // Sources by name, looked up only when the source changes from the row before.
    let mut index: PlHashMap<&str, usize> = PlHashMap::default();
    let mut names: Vec<&str> = Vec::new();
    let mut counts: Vec<Vec<(i64, u64)>> = Vec::new();
    let mut last: Option<(&str, usize)> = None;
    for (i, t) in timed.iter().enumerate().skip(start) {
        let Some(name) = cols.source_stored(i) else {
            continue;
        };
        let k = match last {
            Some((l, k)) if l == name => k,
            _ => {
                let k = *index.entry(name).or_insert_with(|| {
                    names.push(name);
                    counts.push(Vec::new());
                    names.len() - 1
                });
                last = Some((name, k));
                k
            }
        };
        let bucket = t.div_euclid(width) * bucket_s;
        match counts[k].last_mut() {
            Some((b, n)) if *b == bucket => *n += 1,
            _ => counts[k].push((bucket, 1)),
        }
    }
    names.into_iter().map(str::to_string).zip(counts).collect()
}

/// Rows per (day, hour of day) with a time in `[from, to)` microseconds, in order;
/// `timed` ascending.
fn hour_cells(timed: &[i64], from: i64, to: i64) -> Vec<(i64, u32, u64)> {
    const DAY: i64 = 86_400 * MICROS;
    const HOUR: i64 = 3600 * MICROS;
    let lo = timed.partition_point(|t| *t < from);
    let hi = timed.partition_point(|t| *t < to);
    let mut cells: Vec<(i64, u32, u64)> = Vec::new();
    for t in &timed[lo..hi.max(lo)] {
        let day = t.div_euclid(DAY);
        let hour = t.div_euclid(HOUR).rem_euclid(24) as u32;
        match cells.last_mut() {
            Some((d, h, n)) if *d == day && *h == hour => *n += 1,
            _ => cells.push((day, hour, 1)),
        }
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::{self, Event, TimelineBuilder};
    use std::collections::BTreeMap;

    const SOURCES: [&str; 3] = ["sms", "manifest", "a-source-name-longer-than-twelve"];

    /// The timeline's columns for rows at `times` (µs) from the sources given by index.
    fn columns(rows: &[(i64, usize)]) -> Columns {
        let mut b = TimelineBuilder::new("phone");
        for &(t, s) in rows {
            let ts = chrono::DateTime::from_timestamp_micros(t);
            b.push(Event::new(SOURCES[s], "k", ts).at("a", "r:1"));
        }
        let tl = timeline::assemble(vec![b.finish().unwrap()]).unwrap();
        Columns::new(&tl).unwrap()
    }

    proptest::proptest! {
        /// One pass over the sorted rows counts what a plain map of every row counts.
        #[test]
        fn counts_agree_with_counting_every_row(
            rows in proptest::collection::vec(
                (-5_000_000_000_000i64..40_000_000_000_000, 0..SOURCES.len()), 0..300),
            bucket_s in proptest::sample::select(vec![60i64, 3600, 86_400, 7 * 86_400]),
            from_back in 0i64..5_000_000,
        ) {
            let cols = columns(&rows);
            let timed: Vec<i64> = cols.ts.iter().map_while(|t| *t).collect();
            proptest::prop_assert_eq!(timed.len(), rows.len());
            let from_s = (timed.first().copied().unwrap_or(0) / MICROS + from_back)
                .div_euclid(bucket_s) * bucket_s;

            let mut want: BTreeMap<String, BTreeMap<i64, u64>> = BTreeMap::new();
            for &(t, s) in &rows {
                let b = t.div_euclid(bucket_s * MICROS) * bucket_s;
                if b >= from_s {
                    *want.entry(SOURCES[s].to_string()).or_default().entry(b).or_default() += 1;
                }
            }
            let want: BTreeMap<String, Vec<(i64, u64)>> =
                want.into_iter().map(|(s, m)| (s, m.into_iter().collect())).collect();
            proptest::prop_assert_eq!(source_buckets(&cols, &timed, bucket_s, from_s), want);

            const DAY: i64 = 86_400 * MICROS;
            let (from, to) = (from_s * MICROS, from_s * MICROS + 3 * DAY);
            let mut cells: BTreeMap<(i64, u32), u64> = BTreeMap::new();
            for &(t, _) in &rows {
                if (from..to).contains(&t) {
                    let hour = (t.rem_euclid(DAY) / (3600 * MICROS)) as u32;
                    *cells.entry((t.div_euclid(DAY), hour)).or_default() += 1;
                }
            }
            let cells: Vec<(i64, u32, u64)> =
                cells.into_iter().map(|((d, h), n)| (d, h, n)).collect();
            proptest::prop_assert_eq!(hour_cells(&timed, from, to), cells);
        }
    }
}
