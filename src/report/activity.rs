//! Activity over time: rows per source per time bucket, and the day × hour heatmap.

use std::collections::BTreeMap;

use polars::prelude::*;
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

    let counts = saved
        .timeline
        .clone()
        .lazy()
        .filter(col("ts").is_not_null())
        .select([
            col("source"),
            col("ts")
                .cast(DataType::Int64)
                .floor_div(lit(bucket_s * MICROS))
                .alias("bucket"),
        ])
        .filter(col("bucket").gt_eq(lit(from_s / bucket_s)))
        .group_by([col("source"), col("bucket")])
        .agg([len().alias("rows")])
        .sort(["source", "bucket"], SortMultipleOptions::default())
        .collect()?;
    let src = counts.column("source")?.str()?.clone();
    let bucket = counts.column("bucket")?.i64()?.clone();
    let rows = counts.column("rows")?.cast(&DataType::UInt64)?;
    let rows = rows.u64()?;
    let mut per_source: BTreeMap<String, Vec<(i64, u64)>> = BTreeMap::new();
    for ((s, b), r) in src.iter().zip(bucket.iter()).zip(rows.iter()) {
        if let (Some(s), Some(b), Some(r)) = (s, b, r) {
            per_source
                .entry(s.to_string())
                .or_default()
                .push((b * bucket_s, r));
        }
    }
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
    let (heatmap_svg, heatmap_caption) = heatmap(saved, &timed, &finding_starts)?;
    Ok(Activity {
        svg,
        caption,
        heatmap_svg,
        heatmap_caption,
    })
}

fn heatmap(
    saved: &Saved,
    timed: &[i64],
    finding_starts: &[(i64, String)],
) -> anyhow::Result<(String, String)> {
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
    let counts = saved
        .timeline
        .clone()
        .lazy()
        .filter(col("ts").is_not_null())
        .select([col("ts").cast(DataType::Int64).alias("us")])
        .filter(
            col("us")
                .gt_eq(lit(start_day * DAY))
                .and(col("us").lt(lit((end_day + 1) * DAY))),
        )
        .select([
            col("us").floor_div(lit(DAY)).alias("day"),
            (col("us").floor_div(lit(3600 * MICROS)) % lit(24i64)).alias("hour"),
        ])
        .group_by([col("day"), col("hour")])
        .agg([len().alias("rows")])
        .sort(["day", "hour"], SortMultipleOptions::default())
        .collect()?;
    let day = counts.column("day")?.i64()?.clone();
    let hour = counts.column("hour")?.i64()?.clone();
    let rows = counts.column("rows")?.cast(&DataType::UInt64)?;
    let rows = rows.u64()?;
    let cells: Vec<(i64, u32, u64)> = day
        .iter()
        .zip(hour.iter())
        .zip(rows.iter())
        .filter_map(|((d, h), r)| Some((d?, u32::try_from(h?).ok()?, r?)))
        .collect();
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
