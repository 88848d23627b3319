//! Query results as a terminal table, CSV or JSON, with times in the analyst's zone.
//!
//! Results are turned into [`Cell`]s a slice of rows at a time, so a CSV of the whole
//! timeline streams out without holding every cell in memory.

use std::io::{self, Write};

use chrono::{DateTime, Utc};
use polars::prelude::*;

use super::csv_safe;
use super::Zone;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Table,
    Csv,
    Json,
}

/// How results are shown.
#[derive(Debug, Clone, Copy)]
pub struct Render {
    pub zone: Zone,
    /// Table output stops after this many rows (CSV and JSON never do).
    pub max_table_rows: usize,
    /// Table cells longer than this are cut with `…`, except in a column named `ref`
    /// (artifact#record): that is what the analyst pastes into `.tag`.
    pub max_cell_chars: usize,
}

impl Default for Render {
    fn default() -> Self {
        Render {
            zone: Zone::Utc,
            max_table_rows: 1000,
            max_cell_chars: 80,
        }
    }
}

/// One value of a result, whatever its column type.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Time(DateTime<Utc>),
    List(Vec<Cell>),
}

const CHUNK_ROWS: usize = 20_000;

impl Render {
    pub fn write(&self, df: &DataFrame, format: Format, w: &mut dyn Write) -> io::Result<()> {
        match format {
            Format::Table => self.table(df, w),
            Format::Csv => self.csv(df, w),
            Format::Json => self.json(df, w),
        }
    }

    /// Text of one cell for tables and CSV (lists joined by `sep`).
    pub fn text(&self, c: &Cell, sep: &str) -> String {
        match c {
            Cell::Null => String::new(),
            Cell::Bool(b) => b.to_string(),
            Cell::Int(i) => i.to_string(),
            Cell::Float(f) => show_float(*f),
            Cell::Str(s) => s.clone(),
            Cell::Time(t) => self.zone.show(t),
            Cell::List(items) => items
                .iter()
                .map(|i| self.text(i, sep))
                .collect::<Vec<_>>()
                .join(sep),
        }
    }

    fn table(&self, df: &DataFrame, w: &mut dyn Write) -> io::Result<()> {
        let shown = df.height().min(self.max_table_rows);
        let head = df.slice(0, shown);
        let columns = rows_of(&head).map_err(io::Error::other)?;
        let names: Vec<String> = df
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect();
        let mut grid: Vec<Vec<String>> = Vec::with_capacity(shown);
        let mut numeric = vec![true; names.len()];
        let whole: Vec<bool> = names.iter().map(|n| n == "ref").collect();
        for r in 0..shown {
            let mut row = Vec::with_capacity(names.len());
            for (c, col) in columns.iter().enumerate() {
                let cell = col.get(r).unwrap_or(&Cell::Null);
                numeric[c] &= matches!(cell, Cell::Int(_) | Cell::Float(_) | Cell::Null);
                let text = match cell {
                    Cell::Null => "null".to_string(),
                    other => self.text(other, ", "),
                };
                let text = terminal_safe(&text);
                row.push(if whole[c] {
                    text
                } else {
                    fit(&text, self.max_cell_chars)
                });
            }
            grid.push(row);
        }
        let mut widths: Vec<usize> = names.iter().map(|n| n.chars().count()).collect();
        for row in &grid {
            for (c, cell) in row.iter().enumerate() {
                widths[c] = widths[c].max(cell.chars().count());
            }
        }
        let line = |w: &mut dyn Write, cells: &[String], numeric: &[bool]| -> io::Result<()> {
            let parts: Vec<String> = cells
                .iter()
                .zip(&widths)
                .zip(numeric)
                .map(|((s, &wd), &num)| {
                    if num {
                        format!("{s:>wd$}")
                    } else {
                        format!("{s:<wd$}")
                    }
                })
                .collect();
            writeln!(w, "{}", parts.join(" | ").trim_end())
        };
        line(w, &names, &vec![false; names.len()])?;
        writeln!(
            w,
            "{}",
            widths
                .iter()
                .map(|&n| "-".repeat(n))
                .collect::<Vec<_>>()
                .join("-+-")
        )?;
        for row in &grid {
            line(w, row, &numeric)?;
        }
        let total = df.height();
        let unit = if total == 1 { "row" } else { "rows" };
        if shown < total {
            writeln!(
                w,
                "({shown} of {total} {unit} shown; add LIMIT or use --format csv for all)"
            )
        } else {
            writeln!(w, "({total} {unit})")
        }
    }

    fn csv(&self, df: &DataFrame, w: &mut dyn Write) -> io::Result<()> {
        let mut out = csv::Writer::from_writer(w);
        out.write_record(
            df.get_column_names()
                .iter()
                .map(|n| csv_safe::neutralise(n).into_owned()),
        )?;
        for offset in (0..df.height()).step_by(CHUNK_ROWS) {
            let chunk = df.slice(offset as i64, CHUNK_ROWS);
            let columns = rows_of(&chunk).map_err(io::Error::other)?;
            for r in 0..chunk.height() {
                let record = columns.iter().map(|col| {
                    let cell = col.get(r).unwrap_or(&Cell::Null);
                    let text = self.text(cell, ";");
                    // Numbers and times are ours; only text can carry a formula.
                    match cell {
                        Cell::Str(_) | Cell::List(_) => csv_safe::neutralise(&text).into_owned(),
                        _ => text,
                    }
                });
                out.write_record(record)?;
            }
        }
        out.flush()
    }

    fn json(&self, df: &DataFrame, w: &mut dyn Write) -> io::Result<()> {
        let keys: Vec<String> = df
            .get_column_names()
            .iter()
            .map(|n| serde_json::to_string(n.as_str()).unwrap_or_default())
            .collect();
        write!(w, "[")?;
        let mut first = true;
        for offset in (0..df.height()).step_by(CHUNK_ROWS) {
            let chunk = df.slice(offset as i64, CHUNK_ROWS);
            let columns = rows_of(&chunk).map_err(io::Error::other)?;
            for r in 0..chunk.height() {
                write!(w, "{}\n{{", if first { "" } else { "," })?;
                first = false;
                for (c, (key, col)) in keys.iter().zip(&columns).enumerate() {
                    let value = self.json_value(col.get(r).unwrap_or(&Cell::Null));
                    write!(w, "{}{key}:{value}", if c == 0 { "" } else { "," })?;
                }
                write!(w, "}}")?;
            }
        }
        writeln!(w, "{}]", if first { "" } else { "\n" })
    }

    pub fn json_value(&self, c: &Cell) -> serde_json::Value {
        use serde_json::Value;
        match c {
            Cell::Null => Value::Null,
            Cell::Bool(b) => Value::Bool(*b),
            Cell::Int(i) => Value::from(*i),
            Cell::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            Cell::Str(s) => Value::String(s.clone()),
            Cell::Time(t) => Value::String(self.zone.show(t)),
            Cell::List(items) => Value::Array(items.iter().map(|i| self.json_value(i)).collect()),
        }
    }
}

/// Every column of `df` as cells (column-major).
pub fn rows_of(df: &DataFrame) -> PolarsResult<Vec<Vec<Cell>>> {
    df.columns()
        .iter()
        .map(|c| cells(c.as_materialized_series()))
        .collect()
}

/// One column as cells, by type.
pub fn cells(s: &Series) -> PolarsResult<Vec<Cell>> {
    let dtype = s.dtype().clone();
    Ok(match &dtype {
        DataType::Boolean => s
            .bool()?
            .iter()
            .map(|v| v.map_or(Cell::Null, Cell::Bool))
            .collect(),
        DataType::String => s
            .str()?
            .iter()
            .map(|v| v.map_or(Cell::Null, |v| Cell::Str(v.to_string())))
            .collect(),
        d if d.is_integer() => s
            .cast(&DataType::Int64)?
            .i64()?
            .iter()
            .map(|v| v.map_or(Cell::Null, Cell::Int))
            .collect(),
        d if d.is_float() => s
            .cast(&DataType::Float64)?
            .f64()?
            .iter()
            .map(|v| v.map_or(Cell::Null, Cell::Float))
            .collect(),
        DataType::Datetime(unit, _) => {
            let unit = *unit;
            s.datetime()?
                .physical()
                .iter()
                .map(|v| {
                    let us = v.map(|v| match unit {
                        TimeUnit::Nanoseconds => v.div_euclid(1_000),
                        TimeUnit::Microseconds => v,
                        TimeUnit::Milliseconds => v.saturating_mul(1_000),
                    });
                    us.and_then(DateTime::from_timestamp_micros)
                        .map_or(Cell::Null, Cell::Time)
                })
                .collect()
        }
        DataType::List(_) => s
            .list()?
            .series_iter()
            .map(|v| match v {
                None => Ok(Cell::Null),
                Some(inner) => cells(&inner).map(Cell::List),
            })
            .collect::<PolarsResult<_>>()?,
        // Dates, durations, categoricals and anything else: Polars' own text.
        _ => {
            let text = s.cast(&DataType::String)?;
            text.str()?
                .iter()
                .map(|v| v.map_or(Cell::Null, |v| Cell::Str(v.to_string())))
                .collect()
        }
    })
}

/// A float always reads as one (`90.0`, not `90`), so a score is not taken for a count.
fn show_float(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{f:.1}")
    } else {
        f.to_string()
    }
}

/// Control characters (ANSI escapes, newlines) in evidence text would move the cursor
/// or recolour the analyst's terminal; show them escaped instead.
/// Text that cannot drive a terminal: control characters (ESC sequences, NUL, line
/// breaks) and the invisible characters that reorder or hide text (bidi overrides and
/// isolates, zero-width characters, line and paragraph separators, the BOM) are shown
/// as visible escapes such as `\u{1b}` or `\u{202e}`.
pub fn terminal_safe(s: &str) -> String {
    if !s.chars().any(invisible_or_control) {
        return s.to_string();
    }
    s.chars()
        .map(|c| match c {
            '\n' => "\\n".to_string(),
            '\r' => "\\r".to_string(),
            '\t' => "\\t".to_string(),
            c if invisible_or_control(c) => c.escape_unicode().to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// Control characters and the invisible characters that reorder or hide text: what
/// [`terminal_safe`] (and the report) show as escapes.
pub fn invisible_or_control(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061c}' // Arabic letter mark
            | '\u{200b}'..='\u{200f}' // zero-width space/joiners, LRM, RLM
            | '\u{2028}'..='\u{202e}' // line/paragraph separators, bidi embeddings and overrides
            | '\u{2060}'..='\u{2069}' // word joiner, invisible operators, bidi isolates
            | '\u{feff}' // BOM / zero-width no-break space
        )
}

fn fit(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut cut: String = s.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> DataFrame {
        let ts = Int64Chunked::from_iter_options(
            "ts".into(),
            [Some(1_567_120_410_539_788i64), None].into_iter(),
        )
        .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC));
        let mut tags = ListStringChunkedBuilder::new("tags".into(), 2, 2);
        tags.append_values_iter(["a", "b"].into_iter());
        tags.append_values_iter(std::iter::empty::<&str>());
        df!(
            "ts" => ts.into_series(),
            "message" => ["=HYPERLINK(\"http://x\")", "line\nbreak\u{1b}[31m"],
            "n" => [Some(-5i64), None],
            "tags" => tags.finish().into_series(),
        )
        .unwrap()
    }

    fn render(format: Format, zone: Zone) -> String {
        let mut out = Vec::new();
        Render {
            zone,
            ..Default::default()
        }
        .write(&frame(), format, &mut out)
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn csv_neutralises_text_not_numbers() {
        assert_eq!(
            render(Format::Csv, Zone::Utc),
            "ts,message,n,tags\n\
             2019-08-29T23:13:30.539788Z,\"'=HYPERLINK(\"\"http://x\"\")\",-5,a;b\n\
             ,\"line\nbreak\u{1b}[31m\",,\n"
        );
    }

    #[test]
    fn json_keeps_types_and_column_order() {
        let paris = Zone::parse("Europe/Paris").unwrap();
        let v: serde_json::Value = serde_json::from_str(&render(Format::Json, paris)).unwrap();
        assert_eq!(
            v,
            serde_json::json!([
                {"ts": "2019-08-30T01:13:30.539788+02:00", "message": "=HYPERLINK(\"http://x\")", "n": -5, "tags": ["a", "b"]},
                {"ts": null, "message": "line\nbreak\u{1b}[31m", "n": null, "tags": []}
            ])
        );
        assert!(render(Format::Json, Zone::Utc).starts_with("[\n{\"ts\":"));
    }

    #[test]
    fn table_escapes_control_characters() {
        let t = render(Format::Table, Zone::Utc);
        assert!(t.contains("line\\nbreak\\u{1b}[31m"), "{t}");
        assert!(!t.contains('\u{1b}'));
        assert!(t.ends_with("(2 rows)\n"), "{t}");
    }

    #[test]
    fn empty_json_is_an_empty_array() {
        let mut out = Vec::new();
        Render::default()
            .write(&frame().head(Some(0)), Format::Json, &mut out)
            .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "[]\n");
    }
}
