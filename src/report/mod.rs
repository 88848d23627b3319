//! The offline HTML report (`OUT/report.html`), drawn only from the outputs a run saved
//! in OUT (timeline.parquet, findings.json, run.json, annotations.json), so
//! `chainline analyze` and `chainline report OUT` write the same page.
//!
//! One self-contained file: inline CSS, inline SVG (plotters), two inline scripts whose
//! hashes are the only scripts the Content-Security-Policy allows, and the timeline as a
//! JSON data block. Evidence text is escaped by tera (HTML) or by
//! [`explorer::push_str`] (JSON); the script builds rows with `textContent` only.
//! Sections are described in docs/REPORT.md.

mod activity;
mod charts;
mod columns;
mod explorer;
mod findings;
mod page;
mod saved;
mod summary;

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Utc};
use polars::prelude::ChunkUnique;
use sha2::{Digest, Sha256};

pub use explorer::DEFAULT_CAP;

const TEMPLATE: &str = include_str!("../../templates/report.html.tera");
const CSS: &str = include_str!("../../templates/report.css");
const SCRIPT: &str = include_str!("../../templates/report.js");
const HEAD_SCRIPT: &str = include_str!("../../templates/report-head.js");

/// The page's output file name inside OUT.
pub const FILE_NAME: &str = "report.html";

/// How the report is drawn.
#[derive(Debug, Clone)]
pub struct Options {
    /// Timeline rows embedded in the explorer at most.
    pub explorer_cap: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            explorer_cap: DEFAULT_CAP,
        }
    }
}

/// Renders `out/report.html` from the outputs saved in `out`; returns its path.
pub fn render(out: &Path) -> anyhow::Result<PathBuf> {
    render_with(out, &Options::default())
}

pub fn render_with(out: &Path, opts: &Options) -> anyhow::Result<PathBuf> {
    write(out, saved::Saved::load(out)?, opts)
}

/// As [`render`], for a caller that holds the frame it has just saved as
/// `out/timeline.parquet` (the same rows: the page is identical).
pub fn render_saved_timeline(
    out: &Path,
    timeline: polars::prelude::DataFrame,
) -> anyhow::Result<PathBuf> {
    write(
        out,
        saved::Saved::load_with(out, Some(timeline))?,
        &Options::default(),
    )
}

fn write(out: &Path, saved: saved::Saved, opts: &Options) -> anyhow::Result<PathBuf> {
    let cols = columns::Columns::new(&saved.timeline).context("reading the timeline columns")?;
    let mut sources: Vec<String> = saved.log.rows_by_source.keys().cloned().collect();
    let distinct = saved.timeline.column("source")?.str()?.unique()?;
    sources.extend(distinct.iter().flatten().map(str::to_string));
    let colors = page::source_colors(sources);
    let page::Built { page, marks, plan } = page::build(&saved, &cols, &colors, opts.explorer_cap)?;
    let (head, tail) = render_page(&page, Utc::now())?;
    drop(page);

    let path = out.join(FILE_NAME);
    let tmp = out.join(format!(".{FILE_NAME}.tmp"));
    // The payload (tens of MB) is written into the file as it is made, between the
    // rendered page's two halves, never held whole in memory.
    let written = (|| -> std::io::Result<()> {
        let file = std::fs::File::create(&tmp)?;
        let mut w = IoText::new(std::io::BufWriter::with_capacity(1 << 20, file));
        w.inner.write_all(head.as_bytes())?;
        if explorer::write(&mut w, &plan, &cols, &marks, &colors).is_err() {
            return Err(w.error.take().unwrap_or_else(|| {
                std::io::Error::other("formatting the explorer payload failed")
            }));
        }
        w.inner.write_all(tail.as_bytes())?;
        // Flushed, not synced: the rename below already keeps a reader from seeing half
        // a report, and the page is remade from the saved outputs by `chainline report`
        // (waiting for the disk cost 60-70 ms at scale 1; timeline.parquet is not synced
        // either).
        w.inner.into_inner().map_err(|e| e.into_error())?;
        Ok(())
    })();
    written.with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Text formatting into a byte sink, keeping the I/O error that `fmt::Write` cannot carry.
struct IoText<W: std::io::Write> {
    inner: W,
    error: Option<std::io::Error>,
}

impl<W: std::io::Write> IoText<W> {
    fn new(inner: W) -> Self {
        IoText { inner, error: None }
    }
}

impl<W: std::io::Write> std::fmt::Write for IoText<W> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.inner.write_all(s.as_bytes()).map_err(|e| {
            self.error = Some(e);
            std::fmt::Error
        })
    }
}

/// The page rendered by tera, split at the payload marker: (before, after).
fn render_page(page: &page::Page, generated: DateTime<Utc>) -> anyhow::Result<(String, String)> {
    let mut tera = tera::Tera::default();
    tera.add_raw_template("report.html", TEMPLATE)
        .context("parsing the report template")?;
    tera.autoescape_on(vec![".html"]);
    tera.set_escape_fn(escape);
    let mut ctx = tera::Context::new();
    ctx.insert("page", &page);
    ctx.insert("generated", &display_time(generated.timestamp_micros()));
    ctx.insert("css", CSS);
    ctx.insert("script", SCRIPT);
    ctx.insert("head_script", HEAD_SCRIPT);
    // The CSP allows exactly these two scripts; anything else inline is blocked even
    // if escaping ever failed.
    let hash = |s: &str| format!("'sha256-{}'", base64(&Sha256::digest(s.as_bytes())));
    ctx.insert(
        "script_hashes",
        &format!("{} {}", hash(HEAD_SCRIPT), hash(SCRIPT)),
    );
    let page = tera
        .render("report.html", &ctx)
        .context("rendering the report")?;
    // The marker holds `<`, which neither tera's escaping nor the payload's can
    // produce, so evidence text cannot forge it.
    let mut parts = page.splitn(3, PAYLOAD_MARKER);
    match (parts.next(), parts.next(), parts.next()) {
        (Some(head), Some(tail), None) => Ok((head.to_string(), tail.to_string())),
        _ => anyhow::bail!("the report template must hold the payload marker exactly once"),
    }
}

const PAYLOAD_MARKER: &str = "<!--chainline:payload-->";

/// How every value reaches the page: HTML-escaped as tera does it, and with control
/// and invisible characters (ESC, NUL, bidi overrides such as U+202E, zero-width
/// characters) shown as `\u{202e}`-style escapes, so evidence text can neither build
/// markup nor reorder what the analyst reads. Line breaks (U+2028 and U+2029
/// included) and tabs stay.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            '/' => out.push_str("&#x2F;"),
            '\n' | '\t' | '\r' | '\u{2028}' | '\u{2029}' => out.push(c),
            c if crate::query::invisible_or_control(c) => {
                out.extend(c.escape_unicode());
            }
            c => out.push(c),
        }
    }
    out
}

/// Control and invisible characters as visible escapes (line breaks and tabs kept);
/// for text that reaches the page without going through [`escape`] (the explorer's
/// JSON, decoded by the script into `textContent`).
pub(crate) fn visible(s: &str) -> std::borrow::Cow<'_, str> {
    let hidden = |c: char| {
        !matches!(c, '\n' | '\t' | '\r' | '\u{2028}' | '\u{2029}')
            && crate::query::invisible_or_control(c)
    };
    // Only characters starting with a suspect byte are decoded and checked (continuation
    // bytes, 0x80–0xBF, are never suspect, so stepping byte by byte stays in step).
    let bytes = s.as_bytes();
    let any_hidden = may_hide(s)
        && (0..bytes.len()).any(|i| suspect(bytes[i]) && s[i..].chars().next().is_some_and(hidden));
    if !any_hidden {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if hidden(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A byte that can start a character [`visible`] escapes (see [`may_hide`]).
fn suspect(b: u8) -> bool {
    (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
        || matches!(b, 0x7f | 0xc2 | 0xd8 | 0xe2 | 0xef)
}

/// Whether `s` holds a byte that can start a character [`visible`] escapes: a control
/// byte other than tab and line breaks, DEL, or the lead byte of U+0080–U+009F (C2),
/// U+061C (D8), U+200B–U+206F (E2) or U+FEFF (EF). Most evidence text holds none, and
/// this scan (32-byte blocks without an early exit, which the compiler vectorises)
/// is far cheaper than decoding every character.
fn may_hide(s: &str) -> bool {
    s.as_bytes()
        .chunks(32)
        .any(|block| block.iter().fold(false, |acc, &b| acc | suspect(b)))
}

/// A time as every table of the report shows it: UTC, microseconds, no zone letter
/// (headers say UTC).
pub(crate) fn display_time(us: i64) -> String {
    crate::timeline::time::from_micros(us)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S%.6f").to_string())
        .unwrap_or_else(|| format!("{us} µs"))
}

/// An RFC 3339 time (as findings.json and run.json write them) in microseconds.
pub(crate) fn parse_time(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc).timestamp_micros())
}

/// Standard base64 with padding, for the CSP script hash.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ABC[((v >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_byte_prefilter_flags_every_character_visible_escapes() {
        for c in (0..=0x10ffff_u32).filter_map(char::from_u32) {
            let s = c.to_string();
            let escaped = matches!(visible(&s), std::borrow::Cow::Owned(_));
            let slow = !matches!(c, '\n' | '\t' | '\r' | '\u{2028}' | '\u{2029}')
                && crate::query::invisible_or_control(c);
            assert_eq!(escaped, slow, "{c:?}");
            if slow {
                assert!(may_hide(&s), "{c:?} passes the prefilter");
            }
        }
        assert!(!may_hide("plain ASCII, é and 🎉"));
        assert!(may_hide(&format!("{}\u{202e}", "x".repeat(40))));
    }

    #[test]
    fn evidence_text_is_escaped_and_made_visible() {
        assert_eq!(
            escape("<b>\u{202e}x\u{1b}[31m\n"),
            "&lt;b&gt;\\u{202e}x\\u{1b}[31m\n"
        );
        assert_eq!(visible("a\u{200b}b\tc"), "a\\u{200b}b\tc");
        assert!(matches!(visible("plain"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn times_round_trip() {
        let us = parse_time("2022-09-13T10:04:11.890000Z").unwrap();
        assert_eq!(display_time(us), "2022-09-13 10:04:11.890000");
        assert_eq!(parse_time("2022-09-13T12:04:11.89+02:00"), Some(us));
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn script_has_no_template_or_html_hazards() {
        // The script is inlined verbatim: it must not close its own element.
        for s in [SCRIPT, HEAD_SCRIPT] {
            assert!(!s.contains("</script"));
            assert!(!s.contains("<!--"));
        }
        assert!(!CSS.contains("</style"));
    }
}
