//! TrueType/OpenType instruction programs (`fpgm`, `prep`, glyph programs in `glyf`).
//!
//! Operation Triangulation's first stage (CVE-2023-41990) used the ADJUST instruction,
//! opcodes 0x8F and 0x90, which Apple's rasteriser alone kept and no public TrueType
//! specification documents (Kaspersky, "Operation Triangulation: The last (hardware)
//! mystery", Dec 2023). The instruction stream is walked opcode by opcode so push data
//! is never mistaken for an opcode (OpenType spec, "TrueType Instructions").

use super::{be16, be32, Ctx};

pub fn inspect(ctx: &mut Ctx, b: &[u8]) {
    if b.get(..4) == Some(b"ttcf") {
        let n = be32(b, 8).unwrap_or(0).min(64);
        for i in 0..n as usize {
            if let Some(off) = be32(b, 12 + 4 * i) {
                sfnt(ctx, b, off as usize);
            }
        }
    } else {
        sfnt(ctx, b, 0);
    }
}

fn sfnt(ctx: &mut Ctx, b: &[u8], at: usize) {
    let Some(n) = be16(b, at + 4) else { return };
    let mut tables = std::collections::HashMap::new();
    for i in 0..usize::from(n).min(256) {
        let rec = at + 12 + 16 * i;
        let (Some(tag), Some(off), Some(len)) =
            (b.get(rec..rec + 4), be32(b, rec + 8), be32(b, rec + 12))
        else {
            return;
        };
        let (off, len) = (off as usize, len as usize);
        if let Some(data) = b.get(off..off.saturating_add(len)) {
            tables.insert(tag.to_vec(), (off, data));
        }
    }
    for tag in [&b"fpgm"[..], b"prep"] {
        if let Some(&(off, data)) = tables.get(tag) {
            program(ctx, data, off, std::str::from_utf8(tag).unwrap_or("?"));
        }
    }
    glyphs(ctx, &tables);
}

fn glyphs(ctx: &mut Ctx, tables: &std::collections::HashMap<Vec<u8>, (usize, &[u8])>) {
    let (Some(&(_, head)), Some(&(_, maxp)), Some(&(_, loca)), Some(&(goff, glyf))) = (
        tables.get(&b"head"[..]),
        tables.get(&b"maxp"[..]),
        tables.get(&b"loca"[..]),
        tables.get(&b"glyf"[..]),
    ) else {
        return;
    };
    let long = be16(head, 50) == Some(1);
    let count = usize::from(be16(maxp, 4).unwrap_or(0)).min(ctx.limits.max_items);
    let entry = |i: usize| -> Option<usize> {
        if long {
            be32(loca, 4 * i).map(|v| v as usize)
        } else {
            be16(loca, 2 * i).map(|v| 2 * usize::from(v))
        }
    };
    for i in 0..count {
        let (Some(start), Some(end)) = (entry(i), entry(i + 1)) else {
            return;
        };
        let Some(g) = glyf.get(start..end) else {
            continue;
        };
        let Some(contours) = be16(g, 0) else { continue };
        let contours = contours as i16;
        if contours < 0 {
            continue; // composite glyph: its instructions are not walked
        }
        let at = 10 + 2 * contours as usize;
        let Some(ilen) = be16(g, at) else { continue };
        if let Some(ins) = g.get(at + 2..at + 2 + usize::from(ilen)) {
            program(ctx, ins, goff + start + at + 2, &format!("glyph {i}"));
        }
    }
}

fn program(ctx: &mut Ctx, p: &[u8], base: usize, what: &str) {
    let mut i = 0usize;
    while i < p.len() {
        let op = p[i];
        match op {
            0x40 => i += 2 + usize::from(*p.get(i + 1).unwrap_or(&0)),
            0x41 => i += 2 + 2 * usize::from(*p.get(i + 1).unwrap_or(&0)),
            0xb0..=0xb7 => i += 1 + usize::from(op - 0xaf),
            0xb8..=0xbf => i += 1 + 2 * usize::from(op - 0xb7),
            0x8f | 0x90 => {
                ctx.find(
                    "font_adjust_opcode",
                    base + i,
                    format!(
                        "{what} program uses opcode 0x{op:02X} (ADJUST), which no public TrueType \
                         specification defines; fonts made by ordinary tools never contain it, \
                         and Operation Triangulation's font exploit did (CVE-2023-41990)"
                    ),
                );
                return;
            }
            _ => i += 1,
        }
    }
}
