//! Tiny attachment files with the right magic bytes: real (decodable) GIF, PNG and
//! JPEG images, an ISO-BMFF `heic` header, and the two FORCEDENTRY disguises — a PDF
//! carrying a JBIG2 stream and an Adobe PSD, both named `.gif`. The JBIG2 stream is
//! random filler: it has the shape of the trace, not an exploit.

use std::io::Write;

use rand::Rng as _;

use super::model::Media;
use super::Rng;

/// Bytes of a small file of this kind (names and sizes come from the caller).
pub fn bytes(media: Media, rng: &mut Rng) -> Vec<u8> {
    match media {
        Media::Gif => gif(rng),
        Media::Png => png(rng),
        Media::Jpeg => jpeg(rng),
        Media::Heic => heic(rng),
        Media::PdfAsGif => pdf_jbig2(rng),
        Media::PsdAsGif => psd(rng),
        Media::Mov | Media::Watchface => Vec::new(),
    }
}

/// A 1×1 GIF89a in one random colour.
fn gif(rng: &mut Rng) -> Vec<u8> {
    let mut b = b"GIF89a\x01\x00\x01\x00\x80\x00\x00".to_vec();
    b.extend((0..3).map(|_| rng.random::<u8>()));
    b.extend_from_slice(b"\x00\x00\x00");
    b.extend_from_slice(
        b"!\xf9\x04\x00\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;",
    );
    b
}

/// A small RGB PNG filled with one random colour.
fn png(rng: &mut Rng) -> Vec<u8> {
    let (w, h) = (rng.random_range(4..=16u32), rng.random_range(4..=16u32));
    let rgb: [u8; 3] = [rng.random(), rng.random(), rng.random()];
    // Each scanline: filter type 0, then the pixels.
    let row: Vec<u8> = std::iter::once(0)
        .chain(rgb.iter().copied().cycle().take(3 * w as usize))
        .collect();
    let raw = row.repeat(h as usize);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(9));
    let _ = z.write_all(&raw);
    let idat = z.finish().unwrap_or_default();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [
        (b"IHDR", ihdr.as_slice()),
        (b"IDAT", idat.as_slice()),
        (b"IEND", &[][..]),
    ] {
        b.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        b.extend_from_slice(kind);
        b.extend_from_slice(data);
        b.extend_from_slice(&crc.sum().to_be_bytes());
    }
    b
}

/// A baseline greyscale JFIF: every 8×8 block flat mid-grey (DC difference 0 and an
/// immediate end-of-block, one 1-bit Huffman code each).
fn jpeg(rng: &mut Rng) -> Vec<u8> {
    let (w, h) = (
        8 * rng.random_range(1..=4u16),
        8 * rng.random_range(1..=4u16),
    );
    let mut b = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x48\x00\x48\x00\x00".to_vec();
    b.extend_from_slice(b"\xff\xdb\x00\x43\x00");
    b.extend(std::iter::repeat_n(1u8, 64));
    b.extend_from_slice(b"\xff\xc0\x00\x0b\x08");
    b.extend_from_slice(&h.to_be_bytes());
    b.extend_from_slice(&w.to_be_bytes());
    b.extend_from_slice(b"\x01\x01\x11\x00");
    for class in [0x00u8, 0x10] {
        b.extend_from_slice(&[0xff, 0xc4, 0x00, 0x14, class, 1]);
        b.extend(std::iter::repeat_n(0u8, 15));
        b.push(0);
    }
    b.extend_from_slice(b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00");
    let blocks = (w as usize / 8) * (h as usize / 8);
    let bits = blocks * 2;
    let mut scan = vec![0u8; bits.div_ceil(8)];
    // Pad the last byte with 1 bits, as the standard asks.
    let pad = scan.len() * 8 - bits;
    if let Some(last) = scan.last_mut() {
        *last |= (1u8 << pad) - 1;
    }
    b.extend_from_slice(&scan);
    b.extend_from_slice(b"\xff\xd9");
    b
}

/// The start of a HEIF still image: `ftyp` (brand heic) and a `meta` box naming a
/// `pict` handler, then filler.
fn heic(rng: &mut Rng) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic");
    b.extend_from_slice(b"\x00\x00\x00\x2dmeta\x00\x00\x00\x00\x00\x00\x00\x21hdlr\x00\x00\x00\x00\x00\x00\x00\x00pict");
    b.extend_from_slice(&[0u8; 13]);
    let n = rng.random_range(32..96usize);
    b.extend_from_slice(&(8 + n as u32).to_be_bytes());
    b.extend_from_slice(b"mdat");
    b.extend((0..n).map(|_| rng.random::<u8>()));
    b
}

/// A one-page PDF whose only image is a JBIG2-encoded XObject, as in the FORCEDENTRY
/// samples Citizen Lab described. Offsets in the xref table are exact.
fn pdf_jbig2(rng: &mut Rng) -> Vec<u8> {
    let stream: Vec<u8> = (0..rng.random_range(96..160usize))
        .map(|_| rng.random())
        .collect();
    let mut b: Vec<u8> = b"%PDF-1.3\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    let objects: [Vec<u8>; 5] = [
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 64 64] /Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>".to_vec(),
        {
            let mut o = format!(
                "<< /Type /XObject /Subtype /Image /Width 64 /Height 64 /ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /JBIG2Decode /Length {} >>\nstream\n",
                stream.len()
            )
            .into_bytes();
            o.extend_from_slice(&stream);
            o.extend_from_slice(b"\nendstream");
            o
        },
        b"<< /Length 28 >>\nstream\nq 64 0 0 64 0 0 cm /Im0 Do Q\nendstream".to_vec(),
    ];
    for (i, body) in objects.iter().enumerate() {
        offsets.push(b.len());
        b.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        b.extend_from_slice(body);
        b.extend_from_slice(b"\nendobj\n");
    }
    let xref = b.len();
    b.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for o in offsets {
        b.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    b.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    b
}

/// An Adobe Photoshop file: the 26-byte header (signature `8BPS`, version 1, RGB,
/// 8 bits), empty colour-mode, resource and layer sections, raw pixels.
fn psd(rng: &mut Rng) -> Vec<u8> {
    let (w, h) = (rng.random_range(2..=8u32), rng.random_range(2..=8u32));
    let mut b = b"8BPS\x00\x01\x00\x00\x00\x00\x00\x00\x00\x03".to_vec();
    b.extend_from_slice(&h.to_be_bytes());
    b.extend_from_slice(&w.to_be_bytes());
    b.extend_from_slice(b"\x00\x08\x00\x03");
    b.extend_from_slice(&[0u8; 12]);
    b.extend_from_slice(b"\x00\x00");
    b.extend((0..3 * w * h).map(|_| rng.random::<u8>()));
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng() -> Rng {
        Rng::seed_from_u64(7)
    }

    #[test]
    fn magic_bytes() {
        assert!(bytes(Media::Gif, &mut rng()).starts_with(b"GIF89a"));
        assert!(bytes(Media::Png, &mut rng()).starts_with(b"\x89PNG\r\n\x1a\n"));
        assert!(bytes(Media::Jpeg, &mut rng()).starts_with(b"\xff\xd8\xff\xe0"));
        assert_eq!(&bytes(Media::Heic, &mut rng())[4..12], b"ftypheic");
        assert!(bytes(Media::PsdAsGif, &mut rng()).starts_with(b"8BPS\x00\x01"));
        let pdf = bytes(Media::PdfAsGif, &mut rng());
        assert!(pdf.starts_with(b"%PDF-1."));
        assert!(pdf.windows(12).any(|w| w == b"/JBIG2Decode"));
    }

    #[test]
    fn pdf_xref_points_at_objects() {
        let pdf = bytes(Media::PdfAsGif, &mut rng());
        // Everything after the binary stream is ASCII.
        let at = pdf.windows(10).rposition(|w| w == b"startxref\n").unwrap();
        let tail = std::str::from_utf8(&pdf[at + 10..]).unwrap();
        let start: usize = tail.lines().next().unwrap().parse().unwrap();
        let table = std::str::from_utf8(&pdf[start..]).unwrap();
        assert!(table.starts_with("xref\n"));
        let entries: Vec<usize> = table
            .lines()
            .skip(3)
            .take(5)
            .map(|l| l[..10].parse().unwrap())
            .collect();
        for (i, off) in entries.iter().enumerate() {
            assert!(pdf[*off..].starts_with(format!("{} 0 obj", i + 1).as_bytes()));
        }
    }

    #[test]
    fn jpeg_scan_is_padded_with_ones() {
        let j = jpeg(&mut Rng::seed_from_u64(1));
        assert!(j.ends_with(b"\xff\xd9"));
        // Both Huffman tables declare a single 1-bit code.
        assert_eq!(
            j.windows(6)
                .filter(|w| w[0] == 0xff && w[1] == 0xc4 && w[5] == 1)
                .count(),
            2
        );
    }
}
