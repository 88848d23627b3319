//! `chainline scan` over a folder of fixtures built here: one line per finding (each
//! flagged fixture has exactly one), exit status 1 when something was found, 0 when
//! clean, 2 when an input cannot be read.

use std::process::Command;

fn chainline() -> Command {
    Command::new(env!("CARGO_BIN_EXE_chainline"))
}

fn png(trailer: &[u8]) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(&b"IHDR"[..], &[0u8; 13][..]), (b"IEND", b"")] {
        v.extend((data.len() as u32).to_be_bytes());
        v.extend(kind);
        v.extend(data);
        v.extend([0u8; 4]);
    }
    v.extend(trailer);
    v
}

/// An sfnt with one `fpgm` table holding `program` (OpenType table directory layout).
fn font(program: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 1, 0, 0, 0, 1, 0, 16, 0, 0, 0, 0];
    v.extend(b"fpgm");
    v.extend([0u8; 4]);
    v.extend(28u32.to_be_bytes());
    v.extend((program.len() as u32).to_be_bytes());
    v.extend(program);
    v
}

const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";

#[test]
fn scan_folder_prints_one_line_per_flagged_file_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("clean.png"), png(b"")).unwrap();
    std::fs::write(d.join("clean.pdf"), PDF).unwrap();
    std::fs::write(d.join("clean.ttf"), font(&[0xb0, 0x01, 0x2c])).unwrap();
    std::fs::create_dir(d.join("sub")).unwrap();
    std::fs::write(d.join("sub/photo.gif"), PDF).unwrap();
    std::fs::write(d.join("sub/appended.png"), png(b"%PDF-1.4\n")).unwrap();
    std::fs::write(d.join("sub/adjust.ttf"), font(&[0xb0, 0x01, 0x90])).unwrap();
    let out = chainline().arg("scan").arg(d).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].contains("adjust.ttf: font_adjust_opcode at offset 30"),
        "{text}"
    );
    // 8-byte signature + IHDR (12 + 13) + IEND (12) = 45: the appended PDF starts there.
    assert!(
        lines[1].contains("appended.png: container_in_image at offset 45"),
        "{text}"
    );
    assert!(
        lines[2].contains("photo.gif: declared_type_mismatch at offset 0"),
        "{text}"
    );
    assert!(!text.contains("clean"));

    let out = chainline()
        .args(["scan", "--json"])
        .arg(d.join("sub/adjust.ttf"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["findings"][0]["check"], "font_adjust_opcode");
    assert_eq!(v[0]["sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn scan_clean_exits_0_and_missing_input_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.png"), png(b"")).unwrap();
    std::fs::write(dir.path().join("b.pdf"), PDF).unwrap();
    let out = chainline().arg("scan").arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stdout.is_empty());
    let out = chainline()
        .arg("scan")
        .arg(dir.path().join("missing"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}
