//! One shell session: SQL statements and dot-commands over an opened case.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use polars::prelude::*;

use super::context::{self, DEFAULT_WINDOW};
use crate::annotations::{Annotations, AnnotationsError};
use crate::export::{self, ExportError, ExportFormat};
use crate::query::{Case, Format, QueryError, Render, UnknownZone, Zone};
use crate::timeline;

/// Every dot-command with its usage line, for `.help` and completion.
pub const COMMANDS: [(&str, &str); 16] = [
    (".help", "this list"),
    (".tables", "tables and their row counts"),
    (".schema", "[table]  columns and types"),
    (".sources", "rows, first and last time per source"),
    (".findings", "detected chains"),
    (".around", "<time|finding-id> [window]  every row within ±window (default 15m; 90s, 5m, 2h)"),
    (".search", "<text>  rows whose message, actor or target contain text (any case)"),
    (".tag", "<artifact#record> <tag>  tag every row with that ref (kept in annotations.json)"),
    (".untag", "<artifact#record> [tag]  remove one of your tags, or all of them"),
    (".note", "<finding-id> <text>  attach a note to a finding"),
    (".notes", "all notes"),
    (".export", "<timesketch-jsonl|timesketch-csv|mvt-csv|csv|json> <file>  timeline, or last result as csv/json"),
    (".tz", "[zone]  show or set the display time zone (IANA name; stored times stay UTC)"),
    (".quit", "leave (also .exit, Ctrl-D)"),
    (".exit", "leave"),
    (".limit", "[n]  rows shown in a table (default 1000)"),
];

#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error(transparent)]
    Annotations(#[from] AnnotationsError),
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error(transparent)]
    Zone(#[from] UnknownZone),
    #[error("{}", first_line(.0))]
    Polars(#[from] PolarsError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Usage(String),
}

fn first_line(e: &PolarsError) -> String {
    e.to_string().lines().next().unwrap_or("").to_string()
}

fn usage(s: impl Into<String>) -> ShellError {
    ShellError::Usage(s.into())
}

/// What the loop does next.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Quit,
}

pub struct Session {
    case: Case,
    render: Render,
    last: Option<DataFrame>,
}

impl Session {
    pub fn open(path: &Path, zone: Zone) -> Result<Session, QueryError> {
        let case = Case::open_in_memory(path)?;
        Ok(Session {
            case,
            render: Render {
                zone,
                ..Render::default()
            },
            last: None,
        })
    }

    pub fn out_dir(&self) -> &Path {
        self.case.out_dir()
    }

    pub fn tables(&self) -> Vec<String> {
        self.case.tables()
    }

    /// Column names of every table, for completion.
    pub fn columns(&mut self) -> Vec<String> {
        let mut all: Vec<String> = Vec::new();
        for t in self.case.tables() {
            for (name, _) in self.case.schema(&t).unwrap_or_default() {
                if !all.contains(&name) {
                    all.push(name);
                }
            }
        }
        all
    }

    /// Runs one SQL statement and shows its result.
    pub fn sql(&mut self, sql: &str, w: &mut dyn Write) -> Result<(), ShellError> {
        let df = self.case.sql(sql)?;
        self.render.write(&df, Format::Table, w)?;
        self.last = Some(df);
        Ok(())
    }

    /// Runs one dot-command line.
    pub fn command(&mut self, line: &str, w: &mut dyn Write) -> Result<Flow, ShellError> {
        let line = line.trim();
        let (cmd, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        let args = split_args(rest);
        match cmd {
            ".help" => self.help(w)?,
            ".tables" => self.list_tables(w)?,
            ".schema" => self.schema(args.first().map(String::as_str), w)?,
            ".sources" => self.show_sql(
                "SELECT source, COUNT(*) AS rows, MIN(ts) AS first, MAX(ts) AS last \
                 FROM timeline GROUP BY source ORDER BY rows DESC, source",
                w,
            )?,
            ".findings" => self.show_sql(
                "SELECT id, severity, score, start, \"end\", rule, malware, title FROM findings ORDER BY start, rule, id",
                w,
            )?,
            ".around" => self.around(&args, w)?,
            ".search" => self.search(rest, w)?,
            ".tag" => self.tag(&args, w)?,
            ".untag" => self.untag(&args, w)?,
            ".note" => self.note(rest, w)?,
            ".notes" => self.notes(w)?,
            ".export" => self.export(&args, w)?,
            ".tz" => self.tz(args.first().map(String::as_str), w)?,
            ".limit" => self.limit(args.first().map(String::as_str), w)?,
            ".quit" | ".exit" => return Ok(Flow::Quit),
            other => return Err(usage(format!("unknown command {other} (try .help)"))),
        }
        Ok(Flow::Continue)
    }

    fn show_sql(&mut self, sql: &str, w: &mut dyn Write) -> Result<(), ShellError> {
        let df = self.case.sql(sql)?;
        self.show(df, w)
    }

    fn show(&mut self, df: DataFrame, w: &mut dyn Write) -> Result<(), ShellError> {
        self.render.write(&df, Format::Table, w)?;
        self.last = Some(df);
        Ok(())
    }

    fn help(&self, w: &mut dyn Write) -> Result<(), ShellError> {
        writeln!(w, "SQL statements end with `;` and may span lines. Tables: timeline, findings, finding_events.")?;
        writeln!(
            w,
            "Times are shown in {}; quote \"end\" (a SQL keyword) in findings.",
            self.render.zone.name()
        )?;
        for (name, text) in COMMANDS {
            writeln!(w, "  {name:<10} {text}")?;
        }
        Ok(())
    }

    fn list_tables(&mut self, w: &mut dyn Write) -> Result<(), ShellError> {
        for t in self.case.tables() {
            let quoted = format!("\"{}\"", t.replace('"', "\"\""));
            let n = self
                .case
                .sql(&format!("SELECT COUNT(*) AS n FROM {quoted}"))?;
            let rows = n
                .columns()
                .first()
                .and_then(|c| c.get(0).ok())
                .and_then(|v| v.extract::<u64>())
                .unwrap_or(0);
            writeln!(w, "{t:<16} {rows} {}", plural(rows as usize, "row", "rows"))?;
        }
        Ok(())
    }

    fn schema(&mut self, table: Option<&str>, w: &mut dyn Write) -> Result<(), ShellError> {
        let tables = match table {
            Some(t) => vec![t.to_string()],
            None => self.case.tables(),
        };
        for t in tables {
            writeln!(w, "{t}")?;
            for (name, dtype) in self.case.schema(&t)? {
                writeln!(w, "  {name:<14} {dtype}")?;
            }
        }
        Ok(())
    }

    fn around(&mut self, args: &[String], w: &mut dyn Write) -> Result<(), ShellError> {
        const HELP: &str = "usage: .around <time|finding-id> [window], e.g. .around F001 5m or .around 2019-08-29T23:13:30Z 90s";
        if args.is_empty() {
            return Err(usage(HELP));
        }
        let (what, window) = match args.last().and_then(|l| context::parse_window(l)) {
            Some(wd) if args.len() >= 2 => (args[..args.len() - 1].join(" "), wd),
            _ => (args.join(" "), DEFAULT_WINDOW),
        };
        let (from, to, label) = if self.case.has_finding(&what) {
            let Some((start, end)) = self.case.finding_span(&what)? else {
                return Err(usage(format!("finding {what} has no start time")));
            };
            (
                start - window,
                end + window,
                format!(
                    "{what} ({} .. {})",
                    self.show_time(&start),
                    self.show_time(&end)
                ),
            )
        } else if let Some(t) = self.render.zone.parse_time(&what) {
            (t - window, t + window, self.show_time(&t))
        } else {
            return Err(usage(format!(
                "{what:?} is neither a finding id (see .findings) nor a time; {HELP}"
            )));
        };
        writeln!(
            w,
            "around {label} ±{}: {} .. {}",
            show_window(window),
            self.show_time(&from),
            self.show_time(&to)
        )?;
        let df = context::around(self.case.timeline(), from, to)?;
        self.show(df, w)
    }

    fn search(&mut self, text: &str, w: &mut dyn Write) -> Result<(), ShellError> {
        let text = unquote(text);
        if text.is_empty() {
            return Err(usage("usage: .search <text>"));
        }
        let df = context::search(self.case.timeline(), text)?;
        self.show(df, w)
    }

    fn tag(&mut self, args: &[String], w: &mut dyn Write) -> Result<(), ShellError> {
        let [reference, tag] = args else {
            return Err(usage(
                "usage: .tag <artifact#record> <tag>  (quote a ref with spaces: \"a b.db#x:1\")",
            ));
        };
        let (artifact, record) = split_ref(reference)?;
        if tag.is_empty() || tag.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(usage(format!(
                "tag {tag:?}: use one word, e.g. suspicious or reviewed:benign"
            )));
        }
        let n = context::rows_with_ref(self.case.timeline(), artifact, record)?;
        if n == 0 {
            return Err(usage(format!(
                "no timeline row has artifact {artifact:?} and record {record:?}"
            )));
        }
        // Read the file afresh: the report or another shell may have written it since.
        let out = self.case.out_dir().to_path_buf();
        let mut ann = Annotations::load(&out)?;
        if ann.add_tag(artifact, record, tag, Utc::now()) {
            ann.save(&out)?;
            self.case.reload_annotations()?;
            writeln!(
                w,
                "tagged {n} {} {artifact}#{record} with {tag}",
                plural(n, "row", "rows")
            )?;
        } else {
            writeln!(w, "{artifact}#{record} already has tag {tag}")?;
        }
        Ok(())
    }

    fn untag(&mut self, args: &[String], w: &mut dyn Write) -> Result<(), ShellError> {
        let (reference, tag) = match args {
            [r] => (r, None),
            [r, t] => (r, Some(t.as_str())),
            _ => return Err(usage("usage: .untag <artifact#record> [tag]")),
        };
        let (artifact, record) = split_ref(reference)?;
        let out = self.case.out_dir().to_path_buf();
        let mut ann = Annotations::load(&out)?;
        let n = ann.remove_tag(artifact, record, tag);
        if n > 0 {
            ann.save(&out)?;
            self.case.reload_annotations()?;
        }
        writeln!(
            w,
            "removed {n} {} from {artifact}#{record}",
            plural(n, "tag", "tags")
        )?;
        Ok(())
    }

    fn note(&mut self, rest: &str, w: &mut dyn Write) -> Result<(), ShellError> {
        let (id, text) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        let text = unquote(text.trim());
        if id.is_empty() || text.is_empty() {
            return Err(usage("usage: .note <finding-id> <text>"));
        }
        if !self.case.has_finding(id) {
            return Err(usage(format!("no finding {id} (see .findings)")));
        }
        let out = self.case.out_dir().to_path_buf();
        let mut ann = Annotations::load(&out)?;
        ann.add_note(id, text, Utc::now());
        ann.save(&out)?;
        writeln!(
            w,
            "note added to {id} ({} on it)",
            ann.notes_for(id).count()
        )?;
        Ok(())
    }

    fn notes(&mut self, w: &mut dyn Write) -> Result<(), ShellError> {
        let ann = Annotations::load(self.case.out_dir())?;
        let added = Int64Chunked::from_iter_options(
            "added".into(),
            ann.notes.iter().map(|n| Some(n.added.timestamp_micros())),
        )
        .into_datetime(TimeUnit::Microseconds, Some(timeline::utc()));
        let df = DataFrame::new(
            ann.notes.len(),
            vec![
                Column::new(
                    "finding".into(),
                    ann.notes
                        .iter()
                        .map(|n| n.finding.as_str())
                        .collect::<Vec<_>>(),
                ),
                added.into_column(),
                Column::new(
                    "text".into(),
                    ann.notes
                        .iter()
                        .map(|n| n.text.as_str())
                        .collect::<Vec<_>>(),
                ),
            ],
        )?;
        self.show(df, w)
    }

    fn export(&mut self, args: &[String], w: &mut dyn Write) -> Result<(), ShellError> {
        let [format, file] = args else {
            return Err(usage(
                "usage: .export <timesketch-jsonl|timesketch-csv|mvt-csv|csv|json> <file>",
            ));
        };
        let file = PathBuf::from(file);
        let result_format = match format.as_str() {
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            _ => None,
        };
        if let Some(f) = result_format {
            let Some(df) = &self.last else {
                return Err(usage("no result to export yet: run a query first (or export the timeline as timesketch-jsonl, timesketch-csv or mvt-csv)"));
            };
            let mut out = std::io::BufWriter::new(std::fs::File::create(&file)?);
            self.render.write(df, f, &mut out)?;
            out.flush()?;
            writeln!(
                w,
                "wrote {} {} to {}",
                df.height(),
                plural(df.height(), "row", "rows"),
                file.display()
            )?;
            return Ok(());
        }
        let Some(f) = ExportFormat::parse(format) else {
            return Err(usage(format!("unknown export format {format:?}: timesketch-jsonl, timesketch-csv, mvt-csv, csv or json")));
        };
        let done = export::export_file(&self.case, f, &file)?;
        writeln!(w, "{}", export_summary(&done, &file))?;
        Ok(())
    }

    fn tz(&mut self, zone: Option<&str>, w: &mut dyn Write) -> Result<(), ShellError> {
        if let Some(z) = zone {
            self.render.zone = Zone::parse(z)?;
        }
        writeln!(w, "times shown in {}", self.render.zone.name())?;
        Ok(())
    }

    fn limit(&mut self, n: Option<&str>, w: &mut dyn Write) -> Result<(), ShellError> {
        if let Some(n) = n {
            self.render.max_table_rows = n
                .parse()
                .map_err(|_| usage(format!("{n:?} is not a row count")))?;
        }
        writeln!(w, "tables show up to {} rows", self.render.max_table_rows)?;
        Ok(())
    }

    fn show_time(&self, t: &DateTime<Utc>) -> String {
        self.render.zone.show(t)
    }
}

/// The line `export` prints: rows written and rows left out for lack of a time.
pub fn export_summary(done: &export::Exported, file: &Path) -> String {
    let mut s = format!(
        "wrote {} {} to {}",
        done.rows,
        plural(done.rows, "row", "rows"),
        file.display()
    );
    if done.skipped_without_time > 0 {
        s.push_str(&format!(
            "; skipped {} {} without a time (the format requires one)",
            done.skipped_without_time,
            plural(done.skipped_without_time, "row", "rows")
        ));
    }
    s
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

fn show_window(d: Duration) -> String {
    let s = d.num_seconds();
    match s {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// `artifact#record`, split at the last `#` (records never contain one; some paths might).
fn split_ref(r: &str) -> Result<(&str, &str), ShellError> {
    match r.rsplit_once('#') {
        Some((a, rec)) if !rec.is_empty() => Ok((a, rec)),
        _ => Err(usage(format!(
            "{r:?} is not a row ref: use artifact#record as shown in the `ref` column of .around and .search"
        ))),
    }
}

fn unquote(s: &str) -> &str {
    let s = s.trim();
    s.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(s)
}

/// Whitespace-separated arguments; double quotes group words (`"a b.db#x:1"`).
pub fn split_args(s: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    args.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        args.push(cur);
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_split_on_spaces_except_in_quotes() {
        assert_eq!(
            split_args(r#"  "a b.db#x:1"  tag "#),
            vec!["a b.db#x:1", "tag"]
        );
        assert_eq!(split_args(r#"F001 5m"#), vec!["F001", "5m"]);
        assert_eq!(split_args(r#""""#), vec![""]);
    }

    #[test]
    fn refs_split_at_the_last_hash() {
        assert_eq!(
            split_ref("HomeDomain/Library/SMS/sms.db#message:3").ok(),
            Some(("HomeDomain/Library/SMS/sms.db", "message:3"))
        );
        assert_eq!(
            split_ref("odd#name.db#line:4").ok(),
            Some(("odd#name.db", "line:4"))
        );
        assert!(split_ref("no-hash").is_err());
        assert!(split_ref("a.db#").is_err());
    }

    #[test]
    fn windows_print_in_their_unit() {
        assert_eq!(show_window(Duration::seconds(90)), "90s");
        assert_eq!(show_window(Duration::minutes(15)), "15m");
        assert_eq!(show_window(Duration::hours(2)), "2h");
    }
}
