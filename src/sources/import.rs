//! MVT output: merges the `timeline.csv` that `mvt-ios check-backup`/`check-fs` wrote.
//!
//! Header `"UTC Timestamp","Plugin","Event","Description"`, every field quoted, times
//! `YYYY-MM-DD HH:MM:SS.ffffff` in UTC without a zone. Descriptions are attacker text
//! (message bodies, file names) and may hold quotes, commas and newlines: a real CSV
//! parser reads them, and `record` is the line where the row starts.

use std::borrow::Cow;
use std::collections::HashSet;

use crate::evidence::{
    Artifact, BytesLines, ContainerKind, Evidence, LineSource, Lookup, MAX_LINE,
};
use crate::timeline::{time, Event};

use super::{Output, Parse, Source, SourceError};

pub struct MvtTimeline;

const HEADER: [&str; 4] = ["UTC Timestamp", "Plugin", "Event", "Description"];

/// Distinct event names kept as kinds; beyond this the file is not an MVT timeline
/// (MVT writes a few dozen) and the rest fall back to [`OTHER_KIND`].
const MAX_KINDS: usize = 256;
const OTHER_KIND: &str = "mvt_event";

/// How many unreadable rows are named one by one before only being counted.
const NAMED_PROBLEMS: usize = 5;

impl Source for MvtTimeline {
    fn name(&self) -> &'static str {
        "import"
    }

    fn discover(&self, ev: &Evidence) -> Vec<Lookup> {
        ev.containers
            .iter()
            .enumerate()
            .filter(|(_, c)| c.kind == ContainerKind::MvtOutput)
            .map(|(i, c)| {
                Lookup::Found(Artifact {
                    logical: ev.qualify(i, "timeline.csv"),
                    path: c.root.join("timeline.csv"),
                    container: i,
                    backup: None,
                })
            })
            .collect()
    }

    fn parse(&self, p: &mut Parse<'_>) -> Result<(), SourceError> {
        // Streamed record by record with bounded lines and records: an MVT timeline
        // of a whole phone can be large, and a hostile one can hold an endless line.
        let mut reader = p.evidence.open(p.artifact)?;
        parse_records(&mut reader, p)
    }
}

/// Parses the bytes of one MVT `timeline.csv` (tests and the fuzz target; analysis
/// streams the file).
pub fn parse_bytes(bytes: &[u8], p: &mut Output) -> Result<(), SourceError> {
    parse_records(&mut BytesLines::new(bytes), p)
}

/// Parses an MVT `timeline.csv` record by record, lines and records bounded.
pub fn parse_records(reader: &mut impl LineSource, p: &mut Output) -> Result<(), SourceError> {
    let mut records = Records::default();
    let mut kinds = Kinds::default();
    let mut problems = Problems::default();
    let mut rows = 0usize;
    let mut header_seen = false;
    while let Some((line, rec)) = records
        .next(reader, &mut problems)
        .map_err(|e| SourceError::Format(format!("reading timeline.csv: {e}")))?
    {
        if !header_seen {
            let names: Vec<String> = rec
                .iter()
                .map(|h| {
                    String::from_utf8_lossy(h)
                        .trim_start_matches('\u{feff}')
                        .to_string()
                })
                .collect();
            if names != HEADER {
                return Err(SourceError::Format(format!(
                    "not an MVT timeline.csv: header is {names:?}"
                )));
            }
            header_seen = true;
            continue;
        }
        if rec.len() != 4 {
            problems.add(format!("line:{line}: {} fields instead of 4", rec.len()));
            continue;
        }
        let field = |i: usize| {
            rec.get(i)
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default()
        };
        let (when, plugin, event, description) = (field(0), field(1), field(2), field(3));
        let ts = time::naive_as_utc(&when);
        if ts.is_none() {
            problems.add(format!(
                "line:{line}: time {when:?} unreadable; row kept without a time"
            ));
        }
        let kind = if !kinds.keep(&event) {
            kinds.overflow += 1;
            Cow::Borrowed(OTHER_KIND)
        } else if event.is_empty() {
            Cow::Borrowed(OTHER_KIND)
        } else {
            Cow::Owned(event)
        };
        p.emit(
            Event::new("import", OTHER_KIND, ts)
                .kind(kind)
                .actor(plugin)
                .message(description)
                .at("", format!("line:{line}"))
                .tag("mvt"),
        );
        rows += 1;
    }
    if !header_seen {
        return Err(SourceError::Format(
            "timeline.csv header: the file is empty".into(),
        ));
    }
    if kinds.overflow > 0 {
        p.warn(format!(
            "{} rows have event names beyond the first {MAX_KINDS}; their kind is {OTHER_KIND}",
            kinds.overflow
        ));
    }
    problems.report(p);
    p.facts.insert("rows".into(), rows.into());
    p.facts
        .insert("event_names".into(), kinds.names.len().into());
    Ok(())
}

/// A CSV record (quoted fields may span lines) is held at most this long; a longer
/// one is an unbalanced quote or an attack, and is skipped.
const MAX_RECORD: usize = 1024 * 1024;

/// Assembles CSV records from bounded lines: a record ends at a line end outside
/// quotes (quotes inside a field are doubled, so an even count of `"` means closed).
#[derive(Default)]
struct Records {
    line: u64,
    buf: Vec<u8>,
    record: Vec<u8>,
}

impl Records {
    /// The next record and the 1-based line it starts on.
    fn next(
        &mut self,
        r: &mut impl LineSource,
        problems: &mut Problems,
    ) -> std::io::Result<Option<(u64, csv::ByteRecord)>> {
        self.record.clear();
        let mut start = 0u64;
        let mut quotes = 0usize;
        let mut cut = false;
        loop {
            let Some(l) = r.read_line(&mut self.buf, MAX_LINE)? else {
                if self.record.is_empty() {
                    return Ok(None);
                }
                // The file ends inside a quoted field: close it and keep what is there.
                problems.add(format!(
                    "line:{start}: the file ends inside a quoted field; row kept as it stands"
                ));
                self.record.push(b'"');
                break;
            };
            self.line += 1;
            if self.record.is_empty() {
                if self.buf.iter().all(|b| *b == b'\r') {
                    continue;
                }
                start = self.line;
            } else {
                self.record.push(b'\n');
            }
            self.record.extend_from_slice(&self.buf);
            quotes += self.buf.iter().filter(|&&b| b == b'"').count();
            if l.cut > 0 {
                cut = true;
                if !quotes.is_multiple_of(2) {
                    self.record.push(b'"');
                    quotes += 1;
                }
            }
            if quotes.is_multiple_of(2) {
                break;
            }
            if self.record.len() > MAX_RECORD {
                problems.add(format!(
                    "line:{start}: a quoted field runs past {MAX_RECORD} bytes (an unbalanced quote?); lines {start} to {} skipped",
                    self.line
                ));
                self.record.clear();
                quotes = 0;
            }
        }
        if cut {
            problems.add(format!(
                "line:{start}: longer than {MAX_LINE} bytes; the row is kept with its text cut"
            ));
        }
        let mut rec = csv::ByteRecord::new();
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(&self.record[..]);
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => Ok(Some((start, rec))),
            Ok(false) => Ok(Some((start, csv::ByteRecord::new()))),
            Err(e) => {
                problems.add(format!("line:{start}: {e}"));
                Ok(Some((start, csv::ByteRecord::new())))
            }
        }
    }
}

/// MVT's event names are data, not names in code: the first [`MAX_KINDS`] distinct
/// ones are kept as kinds (owned by each row; they used to be leaked to get a
/// `&'static str`, which grew without bound over many files), the rest counted.
#[derive(Default)]
struct Kinds {
    names: HashSet<String>,
    overflow: usize,
}

impl Kinds {
    /// Whether `name` is (or now becomes) one of the kept kinds.
    fn keep(&mut self, name: &str) -> bool {
        if self.names.contains(name) {
            return true;
        }
        if self.names.len() >= MAX_KINDS {
            return false;
        }
        self.names.insert(name.to_string());
        true
    }
}

/// Row problems: the first few named, the rest counted, one warning each.
#[derive(Default)]
struct Problems {
    named: Vec<String>,
    more: usize,
}

impl Problems {
    fn add(&mut self, w: String) {
        if self.named.len() < NAMED_PROBLEMS {
            self.named.push(w);
        } else {
            self.more += 1;
        }
    }

    fn report(self, p: &mut Output) {
        for w in self.named {
            p.warn(w);
        }
        if self.more > 0 {
            p.warn(format!(
                "{} more rows with the same kinds of problems",
                self.more
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_capped() {
        let mut k = Kinds::default();
        assert!(k.keep("sms_received"));
        assert!(k.keep("sms_received"));
        for i in 0..MAX_KINDS * 2 {
            k.keep(&format!("e{i}"));
        }
        assert_eq!(k.names.len(), MAX_KINDS);
        assert!(!k.keep("one_more"));
        assert!(k.keep("sms_received"));
    }

    #[test]
    fn event_names_become_kinds_owned_by_the_rows() {
        let csv = b"\"UTC Timestamp\",\"Plugin\",\"Event\",\"Description\"\n\"2022-09-13 10:04:11.000000\",\"SMS\",\"sms_received\",\"hi\"\n\"2022-09-13 10:04:12.000000\",\"SMS\",\"\",\"x\"\n";
        let mut out = Output::new("", "timeline.csv");
        parse_bytes(csv, &mut out).unwrap();
        let (rows, _, facts) = out.into_parts();
        let df = rows.finish().unwrap();
        let kinds: Vec<Option<&str>> = df.column("kind").unwrap().str().unwrap().iter().collect();
        assert_eq!(kinds, [Some("sms_received"), Some(OTHER_KIND)]);
        assert_eq!(facts.get("event_names"), Some(&2.into()));
    }
}
