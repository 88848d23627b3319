//! How fast `chainline query` answers on a large timeline.
//!
//! Synthesises a timeline.parquet of N rows (default 4,000,000; `query_bench N` to
//! change) with the real schema and a realistic mix of sources, then times a filter plus
//! group-by two ways: one-shot `chainline::query` (Parquet scanned per query, what
//! `chainline query` does) and repeated queries on a case held in memory (what the
//! shell does). Numbers only mean something in a release build:
//!
//!     cargo run --release --example query_bench

use std::time::Instant;

use chainline::annotations::Annotations;
use chainline::query::Case;
use chainline::timeline;
use polars::prelude::*;
use rand::{Rng, SeedableRng};

const SOURCES: [(&str, &str); 8] = [
    ("manifest", "file_modified"),
    ("netusage", "network_usage"),
    ("datausage", "network_usage"),
    ("sms", "message_received"),
    ("safari", "web_visit"),
    ("tcc", "permission_changed"),
    ("crash", "crash"),
    ("shutdown", "shutdown_client"),
];

const SQL: &str = "SELECT actor, COUNT(*) AS n, SUM(bytes_in) AS bytes_in \
    FROM timeline WHERE source = 'netusage' AND ts >= '2023-06-01' AND bytes_in > 1000 \
    GROUP BY actor ORDER BY n DESC, actor LIMIT 10";

fn synthesise(n: usize) -> PolarsResult<DataFrame> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let start = 1_672_531_200_000_000i64; // 2023-01-01 UTC
    let year_us = 365 * 86_400 * 1_000_000i64;
    let mut ts: Vec<i64> = (0..n)
        .map(|_| start + rng.random_range(0..year_us))
        .collect();
    ts.sort_unstable();
    let mut source = Vec::with_capacity(n);
    let mut kind = Vec::with_capacity(n);
    let mut actor = Vec::with_capacity(n);
    let mut target = Vec::with_capacity(n);
    let mut message = Vec::with_capacity(n);
    let mut bytes_in = Vec::with_capacity(n);
    let mut artifact = Vec::with_capacity(n);
    let mut record = Vec::with_capacity(n);
    let mut tags = ListStringChunkedBuilder::new("tags".into(), n, n);
    for i in 0..n {
        let (s, k) = SOURCES[rng.random_range(0..SOURCES.len())];
        let proc = format!("proc{}", rng.random_range(0..500));
        source.push(s);
        kind.push(k);
        target.push(format!("com.example.{proc}"));
        message.push(format!("{proc} {k} row {i}"));
        bytes_in.push((s.ends_with("usage")).then(|| rng.random_range(0..10_000_000i64)));
        actor.push(proc);
        artifact.push(format!("{s}.db"));
        record.push(format!("row:{i}"));
        if i % 4 == 0 {
            tags.append_values_iter(["B"].into_iter());
        } else {
            tags.append_values_iter(std::iter::empty::<&str>());
        }
    }
    let ts = Int64Chunked::from_vec("ts".into(), ts)
        .into_datetime(TimeUnit::Microseconds, Some(timeline::utc()));
    DataFrame::new(
        n,
        vec![
            ts.into_column(),
            Column::new("source".into(), source),
            Column::new("kind".into(), kind),
            Column::new("actor".into(), actor),
            Column::new("target".into(), target),
            Column::new("message".into(), message),
            Column::new("bytes_in".into(), bytes_in),
            Column::new("bytes_out".into(), vec![None::<i64>; n]),
            Column::new("artifact".into(), artifact),
            Column::new("record".into(), record),
            StringChunked::full("device".into(), "00008030-BENCH", n).into_column(),
            tags.finish().into_column(),
        ],
    )
}

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(4_000_000);
    let dir = tempfile::tempdir()?;
    let t = Instant::now();
    let df = synthesise(n)?;
    timeline::write_parquet(&df, &dir.path().join("timeline.parquet"))?;
    drop(df);
    eprintln!(
        "synthesised and wrote {n} rows in {:.2}s",
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let one_shot = chainline::query(dir.path(), SQL)?;
    let scan = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let mut case = Case::open_in_memory(dir.path())?;
    let load = t.elapsed().as_secs_f64();
    let mut runs = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let again = case.sql(SQL)?;
        runs.push(t.elapsed().as_secs_f64());
        assert!(again.equals_missing(&one_shot), "the two ways disagree");
    }
    runs.sort_by(f64::total_cmp);

    // The cost of the analyst's tags: merging annotations.json into `tags` is a join.
    let first = case.sql("SELECT artifact, record FROM timeline LIMIT 1")?;
    let text = |c: &str| -> anyhow::Result<String> {
        Ok(first
            .column(c)?
            .str()?
            .get(0)
            .unwrap_or_default()
            .to_string())
    };
    let mut ann = Annotations::default();
    ann.add_tag(
        &text("artifact")?,
        &text("record")?,
        "suspicious",
        chrono::Utc::now(),
    );
    ann.save(dir.path())?;
    let t = Instant::now();
    case.reload_annotations()?;
    let merge = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let tagged = chainline::query(
        dir.path(),
        "SELECT COUNT(*) AS n FROM timeline WHERE array_contains(tags, 'suspicious')",
    )?;
    let tagged_scan = t.elapsed().as_secs_f64();
    assert_eq!(tagged.column("n")?.get(0)?.extract::<u64>(), Some(1));

    println!("{one_shot}");
    println!("rows: {n}");
    println!("query (one-shot, Parquet scan): {scan:.3}s");
    println!("load into memory (shell start): {load:.3}s");
    println!(
        "query (in memory), best of 5: {:.3}s, median {:.3}s",
        runs[0], runs[2]
    );
    println!("merge one annotation tag into the in-memory timeline: {merge:.3}s");
    println!("query for a tag (one-shot, Parquet scan + merge): {tagged_scan:.3}s");
    Ok(())
}
