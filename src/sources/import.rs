//! MVT output: merges the `timeline.csv` that `mvt-ios check-backup`/`check-fs` wrote.
//!
//! Header `"UTC Timestamp","Plugin","Event","Description"`, every field quoted, times
//! `YYYY-MM-DD HH:MM:SS.ffffff` in UTC without a zone. Descriptions are attacker text
//! (message bodies, file names) and may hold quotes, commas and newlines: a real CSV
//! parser reads them, and `record` is the line where the row starts.

use std::borrow::Cow;
use std::collections::HashSet;

use crate::evidence::{Artifact, ContainerKind, Evidence, Lookup};
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
                    logical: "timeline.csv".into(),
                    path: c.root.join("timeline.csv"),
                    container: i,
                    backup: None,
                })
            })
            .collect()
    }

    fn parse(&self, p: &mut Parse<'_>) -> Result<(), SourceError> {
        let bytes = p.evidence.read(p.artifact)?;
        parse_bytes(&bytes, p)
    }
}

/// Parses the bytes of one MVT `timeline.csv`.
pub fn parse_bytes(bytes: &[u8], p: &mut Output) -> Result<(), SourceError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes);
    let header = rdr
        .byte_headers()
        .map_err(|e| SourceError::Format(format!("timeline.csv header: {e}")))?;
    let names: Vec<String> = header
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
    let mut kinds = Kinds::default();
    let mut problems = Problems::default();
    let mut rows = 0usize;
    let mut lines = LineCounter::new(bytes);
    for rec in rdr.byte_records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| lines.at(p.byte())).unwrap_or(0);
                problems.add(format!("line:{line}: {e}"));
                continue;
            }
        };
        let line = rec.position().map(|p| lines.at(p.byte())).unwrap_or(0);
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

/// 1-based line of a byte offset, counted forward from the previous call (records come
/// in order). Counted from the bytes, so quoted newlines inside a field count as lines.
struct LineCounter<'a> {
    bytes: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        LineCounter {
            bytes,
            offset: 0,
            line: 1,
        }
    }

    fn at(&mut self, byte: u64) -> u64 {
        let mut byte = usize::try_from(byte)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        // With CRLF endings the csv crate reports a record as starting on the `\n` that
        // ends the line before (it skips it as an empty line): step over line ends.
        while matches!(self.bytes.get(byte), Some(b'\r' | b'\n')) {
            byte += 1;
        }
        if byte > self.offset {
            let newlines = self
                .bytes
                .get(self.offset..byte)
                .map_or(0, |s| s.iter().filter(|&&b| b == b'\n').count());
            self.line += newlines as u64;
            self.offset = byte;
        }
        self.line
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
