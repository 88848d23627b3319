//! ZIP archives (.pkpass passes are ZIPs): each member inflated under the size and ratio
//! caps and inspected in turn. Local file headers are walked (PKWARE APPNOTE 4.3.7);
//! BLASTPASS hid its WebP in a PassKit attachment (Citizen Lab, Sept 2023).

use std::io::Read;

use super::Ctx;

fn le16(b: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(u16::from_le_bytes(
        b.get(at..at + 2)?.try_into().ok()?,
    )))
}
fn le32(b: &[u8], at: usize) -> Option<usize> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?) as usize)
}

pub fn inspect(ctx: &mut Ctx, b: &[u8]) {
    let mut at = 0usize;
    for _ in 0..ctx.limits.max_items.min(10_000) {
        if b.get(at..at + 4) != Some(b"PK\x03\x04") {
            return;
        }
        let (Some(flags), Some(method), Some(csize), Some(nlen), Some(xlen)) = (
            le16(b, at + 6),
            le16(b, at + 8),
            le32(b, at + 18),
            le16(b, at + 26),
            le16(b, at + 28),
        ) else {
            return;
        };
        let name = b
            .get(at + 30..at + 30 + nlen)
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default();
        let data = at + 30 + nlen + xlen;
        if flags & 0x08 != 0 {
            ctx.note(format!(
                "{name}: sizes in a data descriptor; members after it not read"
            ));
            return;
        }
        let Some(raw) = b.get(data..data.saturating_add(csize)) else {
            return;
        };
        match method {
            0 => ctx.nested(&name, raw),
            8 => {
                let cap = cap(ctx, raw.len());
                let mut out = Vec::new();
                let r = flate2::read::DeflateDecoder::new(raw)
                    .take(cap as u64 + 1)
                    .read_to_end(&mut out);
                if r.is_err() {
                    ctx.note(format!(
                        "{name}: damaged deflate data; inspected what inflated"
                    ));
                }
                if out.len() > cap {
                    out.truncate(cap);
                    ctx.note(format!("{name}: inflation stopped at the {cap}-byte cap"));
                }
                ctx.nested(&name, &out);
            }
            _ => ctx.note(format!("{name}: compression method {method} not inspected")),
        }
        at = data + csize;
    }
}

/// Inflated bytes allowed for `compressed` input bytes (ratio and size caps).
pub(crate) fn cap(ctx: &Ctx, compressed: usize) -> usize {
    (compressed as u64)
        .saturating_mul(ctx.limits.max_ratio)
        .saturating_add(4096)
        .min(ctx.limits.max_bytes as u64) as usize
}
