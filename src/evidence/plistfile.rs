//! Property lists from the evidence, parsed only once they are known to be sane.
//!
//! `plist::Value::from_reader` builds the tree recursively: a plist nested a hundred
//! thousand levels deep overflows the stack and aborts the whole process, and a binary
//! plist whose objects reference the same child many times expands exponentially. So
//! the plist's event stream is first read (iteratively) with a limit on depth and on
//! the number of values; only a plist within both limits is built.

use thiserror::Error;

/// Deepest nesting accepted. Real plists (NSKeyedArchiver blobs included) stay
/// under 20 levels.
pub const MAX_PLIST_DEPTH: usize = 256;
/// Most values accepted in one plist (shared objects count each time they are used).
pub const MAX_PLIST_VALUES: usize = 5_000_000;
/// Also at most this many values per input byte (plus a small allowance): every value
/// of a real plist takes at least a byte, while a few hundred bytes of shared binary
/// references can describe millions (found by the fuzzing work: docs/FUZZING.md).
pub const MAX_VALUES_PER_BYTE: usize = 16;

#[derive(Debug, Error)]
pub enum PlistError {
    #[error("{0}")]
    Plist(#[from] plist::Error),
    #[error("nested more than {MAX_PLIST_DEPTH} levels deep; not read")]
    TooDeep,
    #[error("holds more than {MAX_PLIST_VALUES} values (or expands to that many); not read")]
    TooMany,
}

/// Parses XML, binary or ASCII plist bytes within [`MAX_PLIST_DEPTH`] and the value
/// limits ([`MAX_PLIST_VALUES`], [`MAX_VALUES_PER_BYTE`]).
pub fn parse_plist(bytes: &[u8]) -> Result<plist::Value, PlistError> {
    use plist::stream::Event;
    let limit = MAX_PLIST_VALUES.min(bytes.len().saturating_mul(MAX_VALUES_PER_BYTE) + 1024);
    // The event stream is read iteratively (no recursion to overflow) and follows a
    // binary plist's shared references as the tree builder would; nothing in it is
    // formatted (plist's serde path formats dates and panics on years before 0).
    let (mut depth, mut values) = (0usize, 0usize);
    for event in plist::stream::Reader::new(std::io::Cursor::new(bytes)) {
        match event? {
            Event::StartArray(_) | Event::StartDictionary(_) => {
                depth += 1;
                if depth > MAX_PLIST_DEPTH {
                    return Err(PlistError::TooDeep);
                }
            }
            Event::EndCollection => depth = depth.saturating_sub(1),
            _ => {}
        }
        values += 1;
        if values > limit {
            return Err(PlistError::TooMany);
        }
    }
    Ok(plist::Value::from_reader(std::io::Cursor::new(bytes))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested_xml(levels: usize) -> Vec<u8> {
        let mut s =
            String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><plist version=\"1.0\">");
        s.push_str(&"<array>".repeat(levels));
        s.push_str(&"</array>".repeat(levels));
        s.push_str("</plist>");
        s.into_bytes()
    }

    #[test]
    fn deep_nesting_is_refused_before_it_can_overflow_the_stack() {
        assert!(parse_plist(&nested_xml(10)).is_ok());
        assert!(matches!(
            parse_plist(&nested_xml(200_000)),
            Err(PlistError::TooDeep)
        ));
    }

    /// A binary plist of `objects` (each encoded), the first the root, 4-byte offsets
    /// and references.
    fn bplist(objects: &[Vec<u8>]) -> Vec<u8> {
        let mut out = b"bplist00".to_vec();
        let mut offsets = Vec::new();
        for o in objects {
            offsets.push(out.len() as u32);
            out.extend_from_slice(o);
        }
        let table = out.len() as u64;
        for o in &offsets {
            out.extend_from_slice(&o.to_be_bytes());
        }
        out.extend_from_slice(&[0, 0, 0, 0, 0, 0, 4, 4]);
        out.extend_from_slice(&(objects.len() as u64).to_be_bytes());
        out.extend_from_slice(&0u64.to_be_bytes());
        out.extend_from_slice(&table.to_be_bytes());
        out
    }

    #[test]
    fn shared_references_do_not_expand_without_bound() {
        // `levels` arrays each referring twice to the next: 2^levels leaves from a few
        // hundred bytes. 32 levels would never finish without the limit.
        for levels in [20u32, 32] {
            let mut objects: Vec<Vec<u8>> = (1..=levels)
                .map(|next| {
                    let mut o = vec![0xA2];
                    o.extend_from_slice(&next.to_be_bytes());
                    o.extend_from_slice(&next.to_be_bytes());
                    o
                })
                .collect();
            objects.push(b"\x51x".to_vec());
            let bytes = bplist(&objects);
            assert!(bytes.len() < 512);
            assert!(matches!(parse_plist(&bytes), Err(PlistError::TooMany)));
        }
        // The same shape shallow enough is read.
        let objects = vec![vec![0xA2, 0, 0, 0, 1, 0, 0, 0, 1], b"\x51x".to_vec()];
        assert!(parse_plist(&bplist(&objects)).is_ok());
    }

    #[test]
    fn a_date_before_year_zero_is_read_not_a_panic() {
        // Cocoa seconds for about 5000 BC: plist's serde path panics formatting it.
        let mut o = vec![0x33];
        o.extend_from_slice(&(-220_000_000_000f64).to_be_bytes());
        let v = parse_plist(&bplist(&[o]));
        assert!(v.is_ok(), "{v:?}");
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse_plist(b"bplist00\xff\xff\xff").is_err());
        assert!(parse_plist(b"<?xml version=\"1.0\"?><plist><dict><key>a</key>").is_err());
        assert!(parse_plist(b"").is_err());
    }
}
