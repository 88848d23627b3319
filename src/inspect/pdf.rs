//! PDF streams: a minimal bounded reader (no object model) that finds each
//! `obj ... stream ... endstream`, reads the filter names from the stream dictionary,
//! inflates `/FlateDecode` under the size and ratio caps, checks `/JBIG2Decode` data as
//! embedded JBIG2 (ISO 32000-1 7.4.7) and inspects other decoded streams that sniff as a
//! known format (fonts, images). FORCEDENTRY's JBIG2 stream sat in such a PDF
//! (Project Zero, Dec 2021). lopdf is not used: see docs/DEPENDENCIES.md.

use std::io::Read;

use memchr::memmem;

use super::Ctx;

pub fn inspect(ctx: &mut Ctx, b: &[u8]) {
    let mut from = 0usize;
    for _ in 0..ctx.limits.max_items.min(50_000) {
        let Some(rel) = memmem::find(&b[from..], b"stream") else {
            return;
        };
        let kw = from + rel;
        from = kw + 6;
        // `endstream` also contains `stream`.
        if kw >= 3 && &b[kw - 3..kw] == b"end" {
            continue;
        }
        let mut data = kw + 6;
        if b.get(data) == Some(&b'\r') {
            data += 1;
        }
        if b.get(data) == Some(&b'\n') {
            data += 1;
        }
        let Some(head_start) = memmem::rfind(&b[kw.saturating_sub(4096)..kw], b"obj")
            .map(|p| kw.saturating_sub(4096) + p)
        else {
            continue;
        };
        let dict = &b[head_start..kw];
        let Some(end_rel) = memmem::find(&b[data..], b"endstream") else {
            return;
        };
        let raw = &b[data..data + end_rel];
        from = data + end_rel + 9;
        let name = object_name(b, head_start);
        let has = |f: &[u8]| memmem::find(dict, f).is_some();
        let mut bytes: std::borrow::Cow<[u8]> = raw.into();
        if has(b"/FlateDecode") || has(b"/Fl ") || has(b"/Fl]") || has(b"/Fl/") {
            let cap = super::zip::cap(ctx, raw.len());
            let mut out = Vec::new();
            let r = flate2::read::ZlibDecoder::new(raw)
                .take(cap as u64 + 1)
                .read_to_end(&mut out);
            if r.is_err() {
                ctx.note(format!(
                    "{name}: damaged Flate data; inspected what inflated"
                ));
            }
            if out.len() > cap {
                out.truncate(cap);
                ctx.note(format!("{name}: inflation stopped at the {cap}-byte cap"));
            }
            bytes = out.into();
        }
        if has(b"/JBIG2Decode") || has(b"/JBIG2Globals") && !has(b"/Filter") {
            let joined = join(&ctx.within, &name);
            let within = std::mem::replace(&mut ctx.within, joined);
            super::jbig2::inspect_embedded(ctx, &bytes);
            ctx.within = within;
        } else if bytes.len() >= 4 {
            let known = super::is_font(&bytes)
                || super::filetype::sniff(&bytes)
                    .is_some_and(|t| !matches!(t, super::filetype::FileType::Pdf));
            if known {
                ctx.nested(&name, &bytes);
            }
        }
    }
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}/{b}")
    }
}

/// `pdf object N G` from the text before `obj`.
fn object_name(b: &[u8], obj: usize) -> String {
    let head = &b[obj.saturating_sub(32)..obj];
    let text = String::from_utf8_lossy(head);
    let nums: Vec<&str> = text.split_whitespace().rev().take(2).collect();
    match nums.as_slice() {
        [g, n]
            if n.chars().all(|c| c.is_ascii_digit()) && g.chars().all(|c| c.is_ascii_digit()) =>
        {
            format!("pdf object {n} {g}")
        }
        _ => format!("pdf stream at {obj}"),
    }
}
