//! Fixtures built here: minimal files, valid except for the one structural property
//! under test, and valid counterparts that must stay quiet. Expected values come from
//! the format specifications cited in each parser.

use std::io::Write;

use super::{inspect, Limits, Report};

fn checks(r: &Report) -> Vec<&'static str> {
    r.findings.iter().map(|f| f.check).collect()
}

fn scan(b: &[u8], name: &str) -> Report {
    inspect(b, Some(name), &Limits::default())
}

// ---------- JBIG2 (T.88 7.2, 7.4.2, 7.4.3) ----------

/// One segment header + data, page association in one byte, referred-to numbers sized
/// by the segment's own number (7.2.5).
fn seg(number: u32, kind: u8, refs: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = number.to_be_bytes().to_vec();
    v.push(kind);
    assert!(refs.len() <= 4);
    v.push((refs.len() as u8) << 5);
    for &r in refs {
        if number <= 256 {
            v.push(r as u8);
        } else if number <= 65536 {
            v.extend((r as u16).to_be_bytes());
        } else {
            v.extend(r.to_be_bytes());
        }
    }
    v.push(1); // page 1
    v.extend((data.len() as u32).to_be_bytes());
    v.extend(data);
    v
}

/// Symbol dictionary data with SDHUFF = 1 (no AT pixels), given exported/new counts.
fn symbol_dict(exported: u32, new: u32) -> Vec<u8> {
    let mut d = vec![0x00, 0x01];
    d.extend(exported.to_be_bytes());
    d.extend(new.to_be_bytes());
    d.extend([0u8; 8]); // stands for the coded symbols
    d
}

fn text_region() -> Vec<u8> {
    let mut d = Vec::new();
    for v in [64u32, 32, 0, 0] {
        d.extend(v.to_be_bytes());
    }
    d.push(0); // region flags
    d.extend([0x00, 0x01]); // SBHUFF
    d.extend([0u8; 8]);
    d
}

fn page_info() -> Vec<u8> {
    let mut d = Vec::new();
    for v in [64u32, 32, 0, 0] {
        d.extend(v.to_be_bytes());
    }
    d.extend([0, 0, 0]);
    d
}

fn jbig2_segments(counts: [u32; 2]) -> Vec<u8> {
    let mut v = seg(0, 48, &[], &page_info());
    v.extend(seg(1, 0, &[], &symbol_dict(counts[0], counts[0])));
    v.extend(seg(2, 0, &[], &symbol_dict(counts[1], counts[1])));
    v.extend(seg(3, 6, &[1, 2], &text_region()));
    v.extend(seg(4, 49, &[], &[])); // end of page
    v
}

fn jbig2_file(segments: &[u8]) -> Vec<u8> {
    let mut v = b"\x97JB2\r\n\x1a\n".to_vec();
    v.push(0x01); // sequential, page count known
    v.extend(1u32.to_be_bytes());
    v.extend(segments);
    v
}

#[test]
fn jbig2_symbol_counts_past_32_bits_fire() {
    let r = scan(
        &jbig2_file(&jbig2_segments([0x8000_0000, 0x8000_0000])),
        "a.jb2",
    );
    assert_eq!(checks(&r), ["jbig2_symbol_count_overflow"]);
    // The finding points at the text region segment header (segment 3).
    let off = r.findings[0].offset as usize;
    let b = jbig2_file(&jbig2_segments([0x8000_0000, 0x8000_0000]));
    assert_eq!(&b[off..off + 4], &3u32.to_be_bytes());
}

#[test]
fn jbig2_large_but_valid_symbol_counts_stay_quiet() {
    // 2^31 - 1 + 2^31 = 2^32 - 1: still fits the 32-bit count.
    let r = scan(
        &jbig2_file(&jbig2_segments([0x7fff_ffff, 0x8000_0000])),
        "a.jb2",
    );
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    let r = scan(&jbig2_file(&jbig2_segments([300, 12])), "a.jb2");
    assert!(r.findings.is_empty(), "{:?}", r.findings);
}

#[test]
fn jbig2_forward_reference_and_reserved_count_fire() {
    let mut v = seg(0, 48, &[], &page_info());
    v.extend(seg(1, 6, &[2], &text_region()));
    let r = scan(&jbig2_file(&v), "a.jb2");
    assert!(checks(&r).contains(&"jbig2_forward_reference"), "{r:?}");
    let mut v = seg(0, 48, &[], &page_info());
    let mut s = seg(1, 6, &[], &text_region());
    s[5] = 5 << 5;
    v.extend(s);
    assert_eq!(
        checks(&scan(&jbig2_file(&v), "a.jb2")),
        ["jbig2_reserved_refcount"]
    );
}

#[test]
fn jbig2_symbol_dictionary_flags() {
    let mut d = symbol_dict(1, 1);
    d[1] |= 2 << 2; // SDHUFFDH = 2: not permitted
    let v = [seg(0, 48, &[], &page_info()), seg(1, 0, &[], &d)].concat();
    assert_eq!(
        checks(&scan(&jbig2_file(&v), "a.jb2")),
        ["jbig2_symbol_dictionary_flags"]
    );
    let mut d = symbol_dict(1, 1);
    d[1] |= 3 << 2; // SDHUFFDH = 3: a user table, permitted
    let v = [seg(0, 48, &[], &page_info()), seg(1, 0, &[], &d)].concat();
    assert!(scan(&jbig2_file(&v), "a.jb2").findings.is_empty());
}

// ---------- PDF streams ----------

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn pdf_with_stream(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut v = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n".to_vec();
    v.extend(format!("5 0 obj\n<< {dict} /Length {} >>\nstream\n", data.len()).bytes());
    v.extend(data);
    v.extend(b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n");
    v
}

#[test]
fn pdf_flate_jbig2_stream_with_overflow_fires_named_by_object() {
    let seg = jbig2_segments([0xffff_ffff, 2]);
    let b = pdf_with_stream(
        "/Type /XObject /Subtype /Image /Filter [/FlateDecode /JBIG2Decode]",
        &zlib(&seg),
    );
    let r = scan(&b, "x.gif");
    assert_eq!(
        checks(&r),
        ["declared_type_mismatch", "jbig2_symbol_count_overflow"]
    );
    assert_eq!(r.findings[1].within, "pdf object 5 0");
}

#[test]
fn pdf_with_ordinary_jbig2_and_flate_streams_stays_quiet() {
    let seg = jbig2_segments([40, 7]);
    let mut b = pdf_with_stream("/Filter /JBIG2Decode", &seg);
    b.extend(pdf_with_stream(
        "/Filter /FlateDecode",
        &zlib(b"BT /F1 12 Tf (hello) Tj ET"),
    ));
    let r = scan(&b, "doc.pdf");
    assert!(r.findings.is_empty(), "{:?}", r.findings);
}

#[test]
fn pdf_flate_bomb_stops_at_the_cap() {
    let b = pdf_with_stream("/Filter /FlateDecode", &zlib(&vec![0u8; 8 << 20]));
    let limits = Limits {
        max_ratio: 16,
        ..Limits::default()
    };
    let r = inspect(&b, Some("a.pdf"), &limits);
    assert!(r.findings.is_empty());
    assert!(r.notes.iter().any(|n| n.contains("cap")), "{:?}", r.notes);
}

// ---------- WebP lossless (RFC 9649) ----------

#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    n: usize,
}

impl BitWriter {
    fn put(&mut self, value: u32, bits: u32) {
        for i in 0..bits {
            if self.n.is_multiple_of(8) {
                self.bytes.push(0);
            }
            let last = self.bytes.len() - 1;
            self.bytes[last] |= (((value >> i) & 1) as u8) << (self.n % 8);
            self.n += 1;
        }
    }
}

fn riff(chunk: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut v = b"RIFF".to_vec();
    v.extend(((4 + 8 + data.len() + data.len() % 2) as u32).to_le_bytes());
    v.extend(b"WEBP");
    v.extend(chunk);
    v.extend((data.len() as u32).to_le_bytes());
    v.extend(data);
    if data.len() % 2 == 1 {
        v.push(0);
    }
    v
}

/// A 1x1 VP8L image without transforms or colour cache. The green code is a normal
/// code whose code lengths are `green` (length-1 codes for the first symbols), the other
/// four codes are simple one-symbol codes.
fn vp8l(green_ones: usize) -> Vec<u8> {
    vp8l_with([0, 0, 1, 1], green_ones)
}

/// As [`vp8l`], with the code-length code lengths of symbols 17, 18, 0, 1 given.
fn vp8l_with(code_length_lengths: [u32; 4], green_ones: usize) -> Vec<u8> {
    let mut w = BitWriter::default();
    w.put(0x2f, 8);
    w.put(0, 14);
    w.put(0, 14);
    w.put(0, 1);
    w.put(0, 3);
    w.put(0, 1); // no transform
    w.put(0, 1); // no colour cache
    w.put(0, 1); // no meta prefix codes
                 // Green: normal code; code-length code over symbols 0 and 1 (length 1 each),
                 // written in the order 17, 18, 0, 1.
    w.put(0, 1);
    w.put(0, 4); // 4 code length codes
    for l in code_length_lengths {
        w.put(l, 3);
    }
    w.put(0, 1); // max_symbol = alphabet size
    for s in 0..280 {
        // symbol 1 (length 1) is code '1', symbol 0 (length 0) is code '0'
        w.put(u32::from(s < green_ones), 1);
    }
    for _ in 0..4 {
        w.put(1, 1); // simple
        w.put(0, 1); // one symbol
        w.put(0, 1); // 1-bit symbol
        w.put(0, 1);
    }
    w.put(0, 8); // pixel data stands here
    riff(b"VP8L", &w.bytes)
}

#[test]
fn webp_complete_prefix_codes_stay_quiet() {
    let r = scan(&vp8l(2), "a.webp");
    assert_eq!(r.format, Some("webp"));
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    // Lossy VP8 is not parsed.
    let lossy = riff(b"VP8 ", &[0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 1, 0, 1, 0]);
    assert!(scan(&lossy, "b.webp").findings.is_empty());
}

#[test]
fn webp_over_subscribed_and_incomplete_codes_fire() {
    // Three symbols of length 1 cannot be a prefix code.
    let r = scan(&vp8l(3), "a.webp");
    assert_eq!(checks(&r), ["webp_vp8l_huffman_invalid"]);
    assert!(r.findings[0].explanation.contains("over-subscribed"));
    // A code-length code of lengths 1 and 2 only leaves a quarter of the code space
    // unused: incomplete.
    let r = scan(&vp8l_with([1, 2, 0, 0], 2), "a.webp");
    assert_eq!(checks(&r), ["webp_vp8l_huffman_invalid"]);
    assert!(r.findings[0]
        .explanation
        .contains("code-length code incomplete"));
    let r = scan(&vp8l(1), "a.webp");
    // One symbol of length 1 alone is valid (a single-symbol code).
    assert!(r.findings.is_empty(), "{:?}", r.findings);
}

#[test]
fn webp_inside_pkpass_zip_is_named_by_member() {
    let bad = vp8l(5);
    let mut z = Vec::new();
    for (name, data) in [("pass.json", &b"{}"[..]), ("logo.webp", &bad[..])] {
        z.extend(b"PK\x03\x04");
        z.extend([20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        z.extend([0u8; 4]); // crc (not checked by the inspector)
        z.extend((data.len() as u32).to_le_bytes());
        z.extend((data.len() as u32).to_le_bytes());
        z.extend((name.len() as u16).to_le_bytes());
        z.extend([0, 0]);
        z.extend(name.as_bytes());
        z.extend(data);
    }
    let r = scan(&z, "Ticket.pkpass");
    assert_eq!(checks(&r), ["webp_vp8l_huffman_invalid"]);
    assert_eq!(r.findings[0].within, "logo.webp");
}

// ---------- TrueType programs ----------

fn font(fpgm: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 1, 0, 0, 0, 1, 0, 16, 0, 0, 0, 0];
    v.extend(b"fpgm");
    v.extend([0u8; 4]);
    v.extend(28u32.to_be_bytes());
    v.extend((fpgm.len() as u32).to_be_bytes());
    v.extend(fpgm);
    v
}

#[test]
fn font_adjust_opcode_fires_and_push_data_does_not() {
    let r = scan(&font(&[0xb0, 0x01, 0x8f]), "f.ttf");
    assert_eq!(checks(&r), ["font_adjust_opcode"]);
    assert_eq!(r.findings[0].offset, 30);
    // 0x8F and 0x90 as pushed bytes (PUSHB[1], NPUSHB) are data, not opcodes.
    let r = scan(
        &font(&[0xb1, 0x8f, 0x90, 0x40, 0x02, 0x90, 0x8f, 0x2c]),
        "f.ttf",
    );
    assert!(r.findings.is_empty(), "{:?}", r.findings);
}

// ---------- TIFF / DNG ----------

fn dng(samples_per_pixel: u16, sof3_components: u8) -> Vec<u8> {
    let mut v = b"II*\0".to_vec();
    v.extend(8u32.to_le_bytes());
    let entries: [(u16, u16, u32); 3] =
        [(259, 3, 7), (277, 3, samples_per_pixel as u32), (273, 4, 0)];
    let jpeg_at = 8 + 2 + 12 * entries.len() as u32 + 4;
    v.extend((entries.len() as u16).to_le_bytes());
    for (tag, kind, value) in entries {
        v.extend(tag.to_le_bytes());
        v.extend(kind.to_le_bytes());
        v.extend(1u32.to_le_bytes());
        let value = if tag == 273 { jpeg_at } else { value };
        v.extend(value.to_le_bytes());
    }
    v.extend(0u32.to_le_bytes());
    v.extend([0xff, 0xd8, 0xff, 0xc3]);
    let len = 8 + 3 * u16::from(sof3_components);
    v.extend(len.to_be_bytes());
    v.extend([16, 0, 8, 0, 8, sof3_components]);
    for c in 0..sof3_components {
        v.extend([c + 1, 0x11, 0]);
    }
    v.extend([0xff, 0xd9]);
    v
}

#[test]
fn dng_component_mismatch_fires_and_agreement_stays_quiet() {
    let r = scan(&dng(2, 1), "IMG.dng");
    assert_eq!(checks(&r), ["dng_lossless_jpeg_components"]);
    assert!(scan(&dng(2, 2), "IMG.dng").findings.is_empty());
    assert!(scan(&dng(1, 1), "IMG.dng").findings.is_empty());
}

// ---------- magic vs declared, PSD, container in image ----------

#[test]
fn pdf_named_gif_fires_jpeg_named_png_does_not() {
    let pdf = pdf_with_stream("", b"q Q");
    assert_eq!(checks(&scan(&pdf, "abc.gif")), ["declared_type_mismatch"]);
    assert!(scan(&pdf, "abc.pdf").findings.is_empty());
    let jpeg = [0xff, 0xd8, 0xff, 0xe0, 0, 16, b'J', b'F', b'I', b'F', 0];
    assert!(scan(&jpeg, "abc.png").findings.is_empty());
}

fn psd(channels: u16) -> Vec<u8> {
    let mut v = b"8BPS".to_vec();
    v.extend(1u16.to_be_bytes());
    v.extend([0u8; 6]);
    v.extend(channels.to_be_bytes());
    v.extend(10u32.to_be_bytes());
    v.extend(10u32.to_be_bytes());
    v.extend(8u16.to_be_bytes());
    v.extend(3u16.to_be_bytes());
    v
}

#[test]
fn psd_header_out_of_range_fires() {
    assert_eq!(checks(&scan(&psd(3), "a.psd")), Vec::<&str>::new());
    assert_eq!(checks(&scan(&psd(57), "a.psd")), ["psd_header_invalid"]);
}

fn png(text: &[u8], trailer: &[u8]) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [
        (&b"IHDR"[..], &[0u8; 13][..]),
        (b"tEXt", text),
        (b"IEND", b""),
    ] {
        v.extend((data.len() as u32).to_be_bytes());
        v.extend(kind);
        v.extend(data);
        v.extend([0u8; 4]);
    }
    v.extend(trailer);
    v
}

#[test]
fn pdf_after_png_end_fires_text_chunk_mention_does_not() {
    let r = scan(&png(b"", b"%PDF-1.4\n"), "a.png");
    assert_eq!(checks(&r), ["container_in_image"]);
    assert!(scan(&png(b"Comment\0see %PDF-1.4", b""), "a.png")
        .findings
        .is_empty());
}

#[test]
fn truncated_and_random_bytes_never_panic() {
    let samples = [
        jbig2_file(&jbig2_segments([0x8000_0000, 0x8000_0000])),
        vp8l(3),
        dng(2, 1),
        font(&[0x40, 0xff]),
        pdf_with_stream(
            "/Filter [/FlateDecode /JBIG2Decode]",
            &zlib(&jbig2_segments([1, 1])),
        ),
    ];
    for s in &samples {
        for cut in 0..s.len() {
            let _ = scan(&s[..cut], "x");
        }
    }
    let mut x = 0x1234_5678u32;
    for _ in 0..200 {
        let mut b = samples[0][..12].to_vec();
        for _ in 0..256 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            b.push(x as u8);
        }
        let _ = scan(&b, "x");
    }
}
