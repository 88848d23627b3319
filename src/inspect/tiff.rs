//! TIFF/DNG: JPEG-lossless (Compression 7) tiles and strips whose SOF3 component count
//! disagrees with the IFD's SamplesPerPixel.
//!
//! CVE-2025-43300 (Apple ImageIO, Aug 2025) was reached through a DNG whose lossless
//! JPEG tile declared one component while the IFD declared two samples per pixel
//! (Apple security note for iOS 18.6.2; public analyses of the DNG, e.g. Quarkslab's
//! and the `ELEGANTBOUNCER` detector write-up). TIFF 6.0 and DNG 1.7 require the
//! compressed data to hold SamplesPerPixel components, so no valid file disagrees.

use super::Ctx;

struct Tiff<'a> {
    b: &'a [u8],
    le: bool,
}

impl Tiff<'_> {
    fn u16(&self, at: usize) -> Option<u16> {
        let s: [u8; 2] = self.b.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if self.le {
            u16::from_le_bytes(s)
        } else {
            u16::from_be_bytes(s)
        })
    }
    fn u32(&self, at: usize) -> Option<u32> {
        let s: [u8; 4] = self.b.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.le {
            u32::from_le_bytes(s)
        } else {
            u32::from_be_bytes(s)
        })
    }
    /// Values of a SHORT or LONG entry (at most `max`).
    fn values(&self, entry: usize, max: usize) -> Vec<u32> {
        let (Some(kind), Some(count)) = (self.u16(entry + 2), self.u32(entry + 4)) else {
            return Vec::new();
        };
        let size = match kind {
            3 => 2,
            4 | 13 => 4,
            _ => return Vec::new(),
        };
        let count = (count as usize).min(max);
        let base = if count * size <= 4 {
            entry + 8
        } else {
            match self.u32(entry + 8) {
                Some(o) => o as usize,
                None => return Vec::new(),
            }
        };
        (0..count)
            .filter_map(|i| {
                if size == 2 {
                    self.u16(base + 2 * i).map(u32::from)
                } else {
                    self.u32(base + 4 * i)
                }
            })
            .collect()
    }
}

pub fn inspect(ctx: &mut Ctx, b: &[u8]) {
    let t = Tiff {
        b,
        le: b.starts_with(b"II"),
    };
    let Some(first) = t.u32(4) else { return };
    let mut queue = vec![first as usize];
    let mut seen = std::collections::HashSet::new();
    while let Some(ifd) = queue.pop() {
        if ifd == 0 || !seen.insert(ifd) || seen.len() > 256 {
            continue;
        }
        let Some(n) = t.u16(ifd) else { continue };
        let mut compression = 1;
        let mut spp = 1;
        let mut offsets = Vec::new();
        for i in 0..usize::from(n).min(4096) {
            let e = ifd + 2 + 12 * i;
            let Some(tag) = t.u16(e) else { break };
            match tag {
                259 => compression = t.values(e, 1).first().copied().unwrap_or(1),
                277 => spp = t.values(e, 1).first().copied().unwrap_or(1),
                273 | 324 => offsets = t.values(e, 1024),
                330 => queue.extend(t.values(e, 64).into_iter().map(|v| v as usize)),
                _ => {}
            }
        }
        if let Some(next) = t.u32(ifd + 2 + 12 * usize::from(n)) {
            queue.push(next as usize);
        }
        if compression != 7 {
            continue;
        }
        for off in offsets {
            if let Some((at, nf)) = sof3_components(b, off as usize) {
                if u32::from(nf) != spp {
                    ctx.find(
                        "dng_lossless_jpeg_components",
                        at,
                        format!(
                            "lossless JPEG tile declares {nf} components but its IFD declares \
                             SamplesPerPixel = {spp}; TIFF/DNG require them to agree, and the \
                             disagreement is the structure of CVE-2025-43300"
                        ),
                    );
                    break;
                }
            }
        }
    }
}

/// The component count (Nf) of the first SOF3 marker of a JPEG at `at`.
fn sof3_components(b: &[u8], mut at: usize) -> Option<(usize, u8)> {
    if b.get(at..at + 2)? != [0xff, 0xd8] {
        return None;
    }
    at += 2;
    for _ in 0..64 {
        if *b.get(at)? != 0xff {
            return None;
        }
        let m = *b.get(at + 1)?;
        let len = usize::from(super::be16(b, at + 2)?);
        if m == 0xc3 {
            return Some((at + 9, *b.get(at + 9)?));
        }
        if m == 0xda {
            return None;
        }
        at += 2 + len;
    }
    None
}
