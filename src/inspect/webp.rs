//! WebP lossless (VP8L) prefix codes: the first group of Huffman codes the decoder
//! builds (WebP Lossless Bitstream Specification, RFC 9649 sections 3.7 and 6.2).
//!
//! CVE-2023-4863 (BLASTPASS) used code lengths that do not form a complete prefix code:
//! libwebp filled its fixed-size second-level tables before noticing, and wrote past them
//! (Ben Hawkes, "The WebP 0day", Sept 2023; Citizen Lab, "BLASTPASS", Sept 2023). A
//! valid file never has such a code: libwebp and the specification reject it. Only the
//! codes read before any pixel data are checked; pixels are never decoded.

use super::Ctx;

const CODE_LENGTH_ORDER: [usize; 19] = [
    17, 18, 0, 1, 2, 3, 4, 5, 16, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
];

struct Bits<'a> {
    b: &'a [u8],
    pos: usize, // bit position
}

impl Bits<'_> {
    fn read(&mut self, n: u32) -> Option<u32> {
        let mut v = 0u32;
        for i in 0..n {
            let byte = *self.b.get(self.pos / 8)?;
            let bit = (byte >> (self.pos % 8)) & 1;
            v |= u32::from(bit) << i;
            self.pos += 1;
        }
        Some(v)
    }
}

pub fn inspect(ctx: &mut Ctx, b: &[u8]) {
    // RIFF chunks after the 12-byte header.
    let mut at = 12usize;
    for _ in 0..1000 {
        let Some(tag) = b.get(at..at + 4) else { return };
        let Some(len) = b.get(at + 4..at + 8) else {
            return;
        };
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let data = at + 8;
        if tag == b"VP8L" {
            let end = data.saturating_add(len).min(b.len());
            vp8l(ctx, &b[data..end], data);
            return;
        }
        at = data.saturating_add(len).saturating_add(len & 1);
    }
}

fn vp8l(ctx: &mut Ctx, d: &[u8], base: usize) {
    if d.first() != Some(&0x2f) {
        return;
    }
    let mut r = Bits { b: d, pos: 8 };
    let Some(_) = r.read(14 + 14 + 1) else { return };
    let Some(version) = r.read(3) else { return };
    if version != 0 {
        return;
    }
    // Transforms: the first one with an entropy-coded sub-image gives the codes checked.
    for _ in 0..4 {
        let Some(present) = r.read(1) else { return };
        if present == 0 {
            break;
        }
        let Some(kind) = r.read(2) else { return };
        match kind {
            0 | 1 => {
                let Some(_) = r.read(3) else { return };
                return code_group(ctx, &mut r, base);
            }
            3 => {
                let Some(_) = r.read(8) else { return };
                return code_group(ctx, &mut r, base);
            }
            _ => {} // subtract green: no data
        }
    }
    // Main image: colour cache, then meta prefix codes or the codes themselves.
    let Some(cache) = color_cache(ctx, &mut r, base) else {
        return;
    };
    let Some(meta) = r.read(1) else { return };
    if meta == 1 {
        let Some(_) = r.read(3) else { return };
        return code_group(ctx, &mut r, base);
    }
    codes(ctx, &mut r, base, cache);
}

/// An entropy-coded sub-image: colour cache, then five prefix codes.
fn code_group(ctx: &mut Ctx, r: &mut Bits, base: usize) {
    if let Some(cache) = color_cache(ctx, r, base) {
        codes(ctx, r, base, cache);
    }
}

fn color_cache(ctx: &mut Ctx, r: &mut Bits, base: usize) -> Option<u32> {
    if r.read(1)? == 0 {
        return Some(0);
    }
    let at = r.pos;
    let bits = r.read(4)?;
    if !(1..=11).contains(&bits) {
        ctx.find(
            "webp_vp8l_color_cache",
            base + at / 8,
            format!("VP8L colour cache of {bits} bits: the specification allows 1 to 11"),
        );
        return None;
    }
    Some(1 << bits)
}

fn codes(ctx: &mut Ctx, r: &mut Bits, base: usize, cache: u32) {
    let sizes = [256 + 24 + cache, 256, 256, 256, 40];
    for (i, &size) in sizes.iter().enumerate() {
        match code(r, size as usize) {
            Some(Ok(())) => {}
            Some(Err((at, what))) => {
                ctx.find(
                    "webp_vp8l_huffman_invalid",
                    base + at / 8,
                    format!(
                        "VP8L prefix code {i} ({what}): code lengths that are not a complete \
                         prefix code are rejected by the specification and libwebp, so no valid \
                         file has them; such codes overflowed libwebp's fixed Huffman tables in \
                         CVE-2023-4863 (BLASTPASS)"
                    ),
                );
                return;
            }
            None => return,
        }
    }
}

/// Kraft sum of code lengths scaled to 2^15: equal to 2^15 for a complete code.
fn kraft(lengths: &[u8]) -> (u64, usize) {
    let mut sum = 0u64;
    let mut used = 0;
    for &l in lengths {
        if l > 0 {
            sum += 1u64 << (15 - u32::from(l.min(15)));
            used += 1;
        }
    }
    (sum, used)
}

fn check_lengths(lengths: &[u8], at: usize, what: &str) -> Result<(), (usize, String)> {
    let (sum, used) = kraft(lengths);
    if used > 1 && sum > 1 << 15 {
        return Err((at, format!("{what} over-subscribed")));
    }
    if used > 1 && sum < 1 << 15 {
        return Err((at, format!("{what} incomplete")));
    }
    if used == 0 {
        return Err((at, format!("{what} has no symbols")));
    }
    Ok(())
}

/// Decode one symbol with a canonical prefix code given by `lengths`.
fn decode(r: &mut Bits, lengths: &[u8]) -> Option<usize> {
    let used: Vec<usize> = (0..lengths.len()).filter(|&s| lengths[s] > 0).collect();
    if used.len() == 1 {
        return Some(used[0]);
    }
    let mut code = 0u32;
    let mut first = 0u32;
    let mut index = 0usize;
    for len in 1..=15u8 {
        code |= r.read(1)?;
        let count = lengths.iter().filter(|&&l| l == len).count() as u32;
        if code < first + count {
            let k = (code - first) as usize;
            return lengths
                .iter()
                .enumerate()
                .filter(|(_, &l)| l == len)
                .nth(k)
                .map(|(s, _)| s);
        }
        index += count as usize;
        first = (first + count) << 1;
        code <<= 1;
    }
    let _ = index;
    None
}

type CodeResult = Result<(), (usize, String)>;

fn code(r: &mut Bits, size: usize) -> Option<CodeResult> {
    let at = r.pos;
    if r.read(1)? == 1 {
        // Simple code: one or two literal symbols, always valid.
        let two = r.read(1)?;
        let wide = r.read(1)?;
        r.read(1 + 7 * wide)?;
        if two == 1 {
            r.read(8)?;
        }
        return Some(Ok(()));
    }
    let n = 4 + r.read(4)? as usize;
    let mut cl = [0u8; 19];
    for &sym in CODE_LENGTH_ORDER.iter().take(n) {
        cl[sym] = r.read(3)? as u8;
    }
    if let Err(e) = check_lengths(&cl, at, "code-length code") {
        return Some(Err(e));
    }
    let mut max_symbol = size;
    if r.read(1)? == 1 {
        let nbits = 2 + 2 * r.read(3)?;
        max_symbol = 2 + r.read(nbits)? as usize;
        if max_symbol > size {
            return Some(Err((
                at,
                format!("max_symbol {max_symbol} beyond the alphabet of {size}"),
            )));
        }
    }
    let mut lengths = vec![0u8; size];
    let mut sym = 0usize;
    let mut prev = 8u8;
    while sym < size && max_symbol > 0 {
        max_symbol -= 1;
        let c = decode(r, &cl)?;
        if c < 16 {
            lengths[sym] = c as u8;
            sym += 1;
            if c != 0 {
                prev = c as u8;
            }
            continue;
        }
        let (extra, add, value) = match c {
            16 => (2, 3, prev),
            17 => (3, 3, 0),
            _ => (7, 11, 0),
        };
        let repeat = add + r.read(extra)? as usize;
        if sym + repeat > size {
            return Some(Err((at, "repeat runs past the alphabet".into())));
        }
        for l in &mut lengths[sym..sym + repeat] {
            *l = value;
        }
        sym += repeat;
    }
    Some(check_lengths(&lengths, at, "code lengths"))
}
