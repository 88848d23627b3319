//! JBIG2 (ITU-T T.88) segment headers, standalone (`.jb2`, Annex D.4 file header) and
//! embedded in PDF `/JBIG2Decode` streams (Annex D.3: segments without a file header).
//!
//! FORCEDENTRY (CVE-2021-30860) overflowed the count of symbols a text region may use by
//! having it refer to many symbol dictionaries whose exported counts add up past 2^32
//! (Project Zero, "A deep dive into an NSO zero-click iMessage exploit", Dec 2021;
//! Citizen Lab, Sept 2021). The checks below are the T.88 header rules such a stream
//! must break.

use std::collections::HashMap;

use super::{be16, be32, Ctx};

/// Segment types (T.88 7.3).
const SYMBOL_DICTIONARY: u8 = 0;
const TEXT_REGIONS: [u8; 3] = [4, 6, 7];
const REGION_TYPES: [u8; 12] = [4, 6, 7, 20, 22, 23, 36, 38, 39, 40, 42, 43];

/// A standalone JBIG2 file: 8-byte id, flags, optional page count, then segments.
pub fn inspect_file(ctx: &mut Ctx, b: &[u8]) {
    let Some(&flags) = b.get(8) else { return };
    let mut at = 9;
    if flags & 0x02 == 0 {
        at += 4; // number of pages is known
    }
    if flags & 0x01 == 0 {
        // Random-access organisation: all headers first, then all data (D.2).
        ctx.note("random-access JBIG2 organisation: segment headers checked, data not");
        segments(ctx, b, at, false);
    } else {
        segments(ctx, b, at, true);
    }
}

/// An embedded stream (PDF `/JBIG2Decode` or its `/JBIG2Globals`).
pub fn inspect_embedded(ctx: &mut Ctx, b: &[u8]) {
    segments(ctx, b, 0, true);
}

fn segments(ctx: &mut Ctx, b: &[u8], mut at: usize, sequential: bool) {
    // Exported symbol counts of the symbol dictionaries seen, by segment number.
    let mut exported: HashMap<u32, u32> = HashMap::new();
    for _ in 0..ctx.limits.max_items {
        let start = at;
        let Some(number) = be32(b, at) else { return };
        let Some(&flags) = b.get(at + 4) else { return };
        let kind = flags & 0x3f;
        let page_size4 = flags & 0x40 != 0;
        let Some(&rts) = b.get(at + 5) else { return };
        at += 6;
        let short = rts >> 5;
        let count: u32 = match short {
            0..=4 => u32::from(short),
            5 | 6 => {
                ctx.find(
                    "jbig2_reserved_refcount",
                    start + 5,
                    format!(
                        "segment {number}: referred-to segment count field is {short}; T.88 7.2.4 \
                         does not permit 5 or 6, so no valid stream has it"
                    ),
                );
                return;
            }
            _ => {
                let Some(long) = be32(b, at - 1) else { return };
                let n = long & 0x1fff_ffff;
                at = at - 1 + 4 + (n as usize + 1).div_ceil(8);
                n
            }
        };
        if count > number {
            ctx.find(
                "jbig2_refcount_excess",
                start + 5,
                format!(
                    "segment {number} refers to {count} segments, but a segment may only refer to \
                     segments with lower numbers (T.88 7.2.5) and only {number} such numbers exist"
                ),
            );
        }
        let width = if number <= 256 {
            1
        } else if number <= 65536 {
            2
        } else {
            4
        };
        let mut referred = Vec::new();
        let mut forward_reported = false;
        for i in 0..count as usize {
            if i >= ctx.limits.max_items {
                ctx.note("JBIG2 referred-to list longer than the item limit");
                return;
            }
            let p = at + i * width;
            let r = match width {
                1 => b.get(p).map(|&v| u32::from(v)),
                2 => be16(b, p).map(u32::from),
                _ => be32(b, p),
            };
            let Some(r) = r else { return };
            if r >= number && !forward_reported {
                forward_reported = true;
                ctx.find(
                    "jbig2_forward_reference",
                    p,
                    format!(
                        "segment {number} refers to segment {r}; T.88 7.2.5 allows references \
                         only to segments with lower numbers"
                    ),
                );
            }
            referred.push(r);
        }
        at += count as usize * width;
        at += if page_size4 { 4 } else { 1 };
        let Some(len) = be32(b, at) else { return };
        at += 4;
        let data = at;
        if kind == SYMBOL_DICTIONARY {
            if let Some(n) = symbol_dictionary(ctx, b, data, number) {
                exported.insert(number, n);
            }
        }
        if REGION_TYPES.contains(&kind) {
            region_info(ctx, b, data, number);
        }
        if TEXT_REGIONS.contains(&kind) {
            let total: u64 = referred
                .iter()
                .filter_map(|r| exported.get(r))
                .map(|&n| u64::from(n))
                .sum();
            if total > u64::from(u32::MAX) {
                ctx.find(
                    "jbig2_symbol_count_overflow",
                    start,
                    format!(
                        "text region segment {number} refers to symbol dictionaries exporting \
                         {total} symbols in all; SBNUMSYMS is a 32-bit count (T.88 7.4.3.1.7), so \
                         no valid stream can add up past 2^32 (the FORCEDENTRY overflow, Project \
                         Zero 2021)"
                    ),
                );
            }
        }
        if len == 0xffff_ffff {
            // Unknown length (immediate generic region, 7.2.7): data not walked further.
            ctx.note(format!(
                "JBIG2 segment {number} has unknown data length; stopped"
            ));
            return;
        }
        if sequential {
            let Some(next) = at.checked_add(len as usize) else {
                return;
            };
            at = next;
        }
        if at >= b.len() {
            return;
        }
    }
    ctx.note("JBIG2 segment count limit reached");
}

/// Symbol dictionary flags (T.88 7.4.2.1.1) and counts; returns SDNUMEXSYMS.
fn symbol_dictionary(ctx: &mut Ctx, b: &[u8], at: usize, number: u32) -> Option<u32> {
    let flags = be16(b, at)?;
    let huff = flags & 1 != 0;
    let refagg = flags & 2 != 0;
    let dh = (flags >> 2) & 3;
    let dw = (flags >> 4) & 3;
    let template = (flags >> 10) & 3;
    let rtemplate = (flags >> 12) & 1;
    let mut bad = Vec::new();
    if flags >> 13 != 0 {
        bad.push("reserved bits 13-15 set (must be 0)");
    }
    if dh == 2 {
        bad.push("SDHUFFDH = 2 (not permitted)");
    }
    if dw == 2 {
        bad.push("SDHUFFDW = 2 (not permitted)");
    }
    if !huff && (dh != 0 || dw != 0 || flags & 0xc0 != 0) {
        bad.push("Huffman table selections set while SDHUFF = 0 (must be 0)");
    }
    if huff && template != 0 {
        bad.push("SDTEMPLATE set while SDHUFF = 1 (must be 0)");
    }
    if !refagg && rtemplate != 0 {
        bad.push("SDRTEMPLATE set while SDREFAGG = 0 (must be 0)");
    }
    if !bad.is_empty() {
        ctx.find(
            "jbig2_symbol_dictionary_flags",
            at,
            format!(
                "symbol dictionary segment {number}: {} (T.88 7.4.2.1.1)",
                bad.join("; ")
            ),
        );
    }
    let mut p = at + 2;
    if !huff {
        p += if template == 0 { 8 } else { 2 };
    }
    if refagg && rtemplate == 0 {
        p += 4;
    }
    be32(b, p)
}

/// Region segment information field (T.88 7.4.1): width, height, x, y, flags.
fn region_info(ctx: &mut Ctx, b: &[u8], at: usize, number: u32) {
    let (Some(w), Some(h)) = (be32(b, at), be32(b, at + 4)) else {
        return;
    };
    let pixels = u64::from(w) * u64::from(h);
    if pixels > 1u64 << 32 {
        ctx.find(
            "jbig2_region_size",
            at,
            format!(
                "region segment {number} is {w} x {h} pixels ({pixels} in all): a region lies on \
                 its page and no page a decoder accepts is this large; such sizes exist to make \
                 bitmap size arithmetic wrap"
            ),
        );
    }
}
