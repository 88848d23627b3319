//! Context search: everything that happened around an instant, across every source
//! (what Timesketch calls "context search"), and plain text search.

use chrono::{DateTime, Duration, Utc};
use polars::prelude::*;

/// The default half-width of `.around`: zero-click chains play out within minutes.
pub const DEFAULT_WINDOW: Duration = Duration::minutes(15);

/// `90s`, `5m`, `2h`, `1d` (a leading `±` or `+` is allowed) → a duration.
pub fn parse_window(s: &str) -> Option<Duration> {
    let s = s.trim();
    let s = s
        .strip_prefix('±')
        .or_else(|| s.strip_prefix('+'))
        .unwrap_or(s);
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = s.split_at(split);
    let n: i64 = num.parse().ok()?;
    let secs = match unit {
        "s" | "sec" | "secs" => 1,
        "m" | "min" | "mins" => 60,
        "h" | "hr" | "hrs" => 3_600,
        "d" | "day" | "days" => 86_400,
        _ => return None,
    };
    Duration::try_seconds(n.checked_mul(secs)?)
}

/// The columns `.around` and `.search` show: the row, and `ref` (artifact#record) to
/// paste into `.tag`.
fn shown(lf: LazyFrame) -> PolarsResult<LazyFrame> {
    Ok(lf.select([
        col("ts"),
        col("source"),
        col("kind"),
        col("actor"),
        col("target"),
        col("message"),
        concat_str([col("artifact"), col("record")], "#", false).alias("ref"),
        col("tags"),
    ]))
}

/// Rows with a time in `[from, to]` (both ends included), in time order.
pub fn around(
    timeline: LazyFrame,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> PolarsResult<DataFrame> {
    let us = col("ts").dt().timestamp(TimeUnit::Microseconds);
    let within = us
        .clone()
        .gt_eq(lit(from.timestamp_micros()))
        .and(us.lt_eq(lit(to.timestamp_micros())));
    shown(timeline.filter(within))?
        .sort(
            ["ts"],
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .collect()
}

/// Rows whose message, actor or target contains `text`, ignoring case, in time order.
pub fn search(timeline: LazyFrame, text: &str) -> PolarsResult<DataFrame> {
    let needle = text.to_lowercase();
    let has = |c: &str| {
        col(c)
            .str()
            .to_lowercase()
            .str()
            .contains_literal(lit(needle.clone()))
    };
    shown(timeline.filter(has("message").or(has("actor")).or(has("target"))))?.collect()
}

/// How many timeline rows carry this artifact + record.
pub fn rows_with_ref(timeline: LazyFrame, artifact: &str, record: &str) -> PolarsResult<usize> {
    let n = timeline
        .filter(
            col("artifact")
                .eq(lit(artifact))
                .and(col("record").eq(lit(record))),
        )
        .select([len().alias("n")])
        .collect()?;
    Ok(n.column("n")?.get(0)?.extract::<usize>().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows() {
        assert_eq!(parse_window("90s"), Some(Duration::seconds(90)));
        assert_eq!(parse_window("5m"), Some(Duration::minutes(5)));
        assert_eq!(parse_window("±2h"), Some(Duration::hours(2)));
        assert_eq!(parse_window("1d"), Some(Duration::days(1)));
        for bad in ["", "5", "m", "5x", "-5m", "99999999999999999999d", "1.5h"] {
            assert_eq!(parse_window(bad), None, "{bad}");
        }
    }
}
