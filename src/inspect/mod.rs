//! Exploit structure in delivered files: a bounded sniff-then-parse inspector over bytes.
//!
//! Each check names a structural property that no valid file of the format has (a
//! forbidden field value, a count that cannot add up, a table that cannot be built), so
//! a finding is evidence about the file, not a guess about its intent. The checks were
//! written from the public format specifications and public write-ups named in each
//! file; nothing here decodes pixels or runs font programs. Hard limits bound the bytes
//! read, the container depth, the decompressed size and ratio, and every count.

pub mod filetype;
mod font;
mod jbig2;
mod pdf;
mod psd;
mod tiff;
mod webp;
mod zip;

use filetype::{sniff, Declared, FileType};

/// Bounds on everything the inspector reads.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes of one file or decoded member inspected.
    pub max_bytes: usize,
    /// Containers inside containers (ZIP member, PDF stream, ...).
    pub max_depth: u32,
    /// Decompressed bytes per compressed byte before inflation stops.
    pub max_ratio: u64,
    /// Members, streams, segments, IFDs, glyphs looked at per file.
    pub max_items: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 256 << 20,
            max_depth: 4,
            max_ratio: 1024,
            max_items: 100_000,
        }
    }
}

/// One structural property that no valid file has.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// Stable check name, e.g. `jbig2_symbol_count_overflow`.
    pub check: &'static str,
    /// Where inside the inspected bytes (of `within`, when set).
    pub offset: u64,
    /// Member or stream the offset refers to (`""` for the file itself), e.g.
    /// `pass/logo.webp` or `pdf object 5 0`.
    pub within: String,
    /// Why no valid file has this.
    pub explanation: String,
}

/// What inspecting one file gave: findings, and the limits that stopped reading.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Report {
    pub format: Option<&'static str>,
    pub findings: Vec<Finding>,
    /// Not findings: bounds reached or damage that stopped a parser early.
    pub notes: Vec<String>,
}

pub(crate) struct Ctx<'a> {
    pub limits: &'a Limits,
    pub report: &'a mut Report,
    pub within: String,
    pub depth: u32,
}

impl Ctx<'_> {
    pub fn find(&mut self, check: &'static str, offset: usize, explanation: impl Into<String>) {
        if self.report.findings.len() < self.limits.max_items {
            self.report.findings.push(Finding {
                check,
                offset: offset as u64,
                within: self.within.clone(),
                explanation: explanation.into(),
            });
        }
    }
    pub fn note(&mut self, what: impl Into<String>) {
        if self.report.notes.len() < 100 {
            let w = what.into();
            let n = if self.within.is_empty() {
                w
            } else {
                format!("{}: {w}", self.within)
            };
            self.report.notes.push(n);
        }
    }
    /// Inspect bytes found inside the current file (a member, a decoded stream).
    pub fn nested(&mut self, name: &str, bytes: &[u8]) {
        if self.depth >= self.limits.max_depth {
            self.note(format!(
                "{name}: container depth limit reached, not inspected"
            ));
            return;
        }
        let within = if self.within.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.within)
        };
        let mut inner = Ctx {
            limits: self.limits,
            report: self.report,
            within,
            depth: self.depth + 1,
        };
        inspect_in(&mut inner, bytes, Some(name));
    }
}

/// Is this the start of a TrueType/OpenType font or collection?
pub fn is_font(b: &[u8]) -> bool {
    matches!(
        b.get(..4),
        Some([0, 1, 0, 0]) | Some(b"true") | Some(b"OTTO") | Some(b"ttcf")
    )
}

/// Inspect one file's bytes. `name` (a file name) gives the declared type for the
/// magic-versus-declared check.
pub fn inspect(bytes: &[u8], name: Option<&str>, limits: &Limits) -> Report {
    let mut report = Report::default();
    let mut ctx = Ctx {
        limits,
        report: &mut report,
        within: String::new(),
        depth: 0,
    };
    inspect_in(&mut ctx, bytes, name);
    report
}

fn inspect_in(ctx: &mut Ctx, bytes: &[u8], name: Option<&str>) {
    let bytes = if bytes.len() > ctx.limits.max_bytes {
        ctx.note(format!(
            "only the first {} of {} bytes inspected",
            ctx.limits.max_bytes,
            bytes.len()
        ));
        &bytes[..ctx.limits.max_bytes]
    } else {
        bytes
    };
    let magic = sniff(bytes);
    if ctx.depth == 0 {
        ctx.report.format = magic
            .map(FileType::name)
            .or(is_font(bytes).then_some("font"));
    }
    if let (Some(magic), Some(name)) = (magic, name) {
        let declared = Declared::of(Some(name), None, None);
        if declared.contradicted_by(magic)
            && matches!(
                magic,
                FileType::Pdf | FileType::Psd | FileType::Tiff | FileType::Jbig2 | FileType::Zip
            )
        {
            let claimed = declared.primary().map(FileType::name).unwrap_or("?");
            ctx.find(
                "declared_type_mismatch",
                0,
                format!(
                    "named as {claimed} but the bytes are {}: a valid {claimed} never starts with this \
                     magic, and sending a {} under an image name routes it to a different parser \
                     (FORCEDENTRY's .gif files were PDF and PSD, Citizen Lab 2021)",
                    magic.name(),
                    magic.name()
                ),
            );
        }
    }
    match magic {
        Some(FileType::Jbig2) => jbig2::inspect_file(ctx, bytes),
        Some(FileType::Webp) => webp::inspect(ctx, bytes),
        Some(FileType::Pdf) => pdf::inspect(ctx, bytes),
        Some(FileType::Psd) => psd::inspect(ctx, bytes),
        Some(FileType::Tiff) => tiff::inspect(ctx, bytes),
        Some(FileType::Zip) => zip::inspect(ctx, bytes),
        Some(FileType::Png) | Some(FileType::Gif) | Some(FileType::Jpeg) => {
            container_in_image(ctx, bytes, magic)
        }
        _ if is_font(bytes) => font::inspect(ctx, bytes),
        _ => {}
    }
}

/// A PNG whose bytes go on after its IEND chunk with another format's header, or a
/// GIF/JPEG carrying a PDF/PSD/ZIP header: an image decoder ignores the rest, but the
/// file then parses as two formats.
fn container_in_image(ctx: &mut Ctx, b: &[u8], magic: Option<FileType>) {
    let tail_from = if magic == Some(FileType::Png) {
        png_end(b)
    } else {
        Some(1)
    };
    let Some(from) = tail_from else { return };
    let hay = &b[from.min(b.len())..];
    for (needle, what) in [
        (&b"%PDF-"[..], "PDF"),
        (&b"8BPS\0\x01"[..], "PSD"),
        (&b"PK\x03\x04"[..], "ZIP"),
    ] {
        if let Some(pos) = memchr::memmem::find(hay, needle) {
            ctx.find(
                "container_in_image",
                from + pos,
                format!(
                    "a {what} header inside a {} image: no image format has a place for another \
                     file's header, so the file is built to parse as two formats",
                    magic.map(FileType::name).unwrap_or("?")
                ),
            );
            return;
        }
    }
}

/// The offset just past a PNG's IEND chunk (PNG spec, 5.3 chunk layout).
fn png_end(b: &[u8]) -> Option<usize> {
    let mut at = 8usize;
    for _ in 0..1_000_000 {
        let len = u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?) as usize;
        let kind = b.get(at + 4..at + 8)?;
        let next = at.checked_add(12)?.checked_add(len)?;
        if kind == b"IEND" {
            return Some(next);
        }
        at = next;
    }
    None
}

/// Big/little-endian readers that never panic.
pub(crate) fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}
pub(crate) fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

#[cfg(test)]
mod tests;
