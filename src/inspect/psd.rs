//! Photoshop file header (Adobe Photoshop File Formats Specification, "File Header
//! Section"). FORCEDENTRY also sent PSD files named `.gif` (Citizen Lab, 2021).

use super::{be16, be32, Ctx};

pub fn inspect(ctx: &mut Ctx, b: &[u8]) {
    let (Some(version), Some(channels), Some(h), Some(w), Some(depth), Some(mode)) = (
        be16(b, 4),
        be16(b, 12),
        be32(b, 14),
        be32(b, 18),
        be16(b, 22),
        be16(b, 24),
    ) else {
        return;
    };
    let max = if version == 2 { 300_000 } else { 30_000 };
    let mut bad = Vec::new();
    if version != 1 && version != 2 {
        bad.push(format!("version {version} (1 or 2)"));
    }
    if b.get(6..12) != Some(&[0u8; 6][..]) {
        bad.push("reserved bytes not zero".into());
    }
    if !(1..=56).contains(&channels) {
        bad.push(format!("{channels} channels (1 to 56)"));
    }
    if !(1..=max).contains(&h) || !(1..=max).contains(&w) {
        bad.push(format!("{w} x {h} pixels (1 to {max})"));
    }
    if ![1, 8, 16, 32].contains(&depth) {
        bad.push(format!("depth {depth} (1, 8, 16 or 32)"));
    }
    if ![0, 1, 2, 3, 4, 7, 8, 9].contains(&mode) {
        bad.push(format!("colour mode {mode}"));
    }
    if !bad.is_empty() {
        ctx.find(
            "psd_header_invalid",
            4,
            format!(
                "PSD header outside the specification's ranges: {}",
                bad.join("; ")
            ),
        );
    }
}
