//! `message.attributedBody`: an NSAttributedString archived by NSArchiver in Apple's
//! old "typedstream" format (header `streamtyped`), as Messages writes it. The string
//! carries one attribute run (`__kIMMessagePartAttributeName` = 0) over its whole
//! length.
//!
//! Format facts (from the typedstream sources in Apple's old libobjc): a new C string
//! or object is introduced by 0x84; a shared string or object already seen is
//! referenced as 0x92 + its index in its table (strings and objects are numbered
//! separately); 0x85 is nil, 0x86 ends an object; integers fit one byte unless
//! tagged 0x81 (i16) or 0x82 (i32); a `+` byte string is length-prefixed the same way.

/// Archives `text` the way Messages stores a message body.
pub fn attributed_body(text: &str) -> Vec<u8> {
    let utf8 = text.as_bytes();
    // NSString lengths and attribute ranges count UTF-16 units.
    let utf16 = text.encode_utf16().count() as i64;
    let mut b = Vec::with_capacity(utf8.len() + 200);
    b.extend_from_slice(b"\x04\x0bstreamtyped\x81\xe8\x03");
    // Typed value "@" (string 0): a new NSAttributedString (object 0) whose class
    // (object 1, string 1) inherits NSObject (object 2, string 2).
    b.extend_from_slice(
        b"\x84\x01@\x84\x84\x84\x12NSAttributedString\x00\x84\x84\x08NSObject\x00\x85",
    );
    // Its string: "@" again, a new NSString (object 3, class object 4, string 3,
    // version 1, superclass NSObject = object ref 0x94), bytes under type "+" (string 4).
    b.extend_from_slice(b"\x92\x84\x84\x84\x08NSString\x01\x94\x84\x01+");
    put_int(&mut b, utf8.len() as i64);
    b.extend_from_slice(utf8);
    b.push(0x86);
    // One attribute run "iI" (string 5): run 1, covering the whole string.
    b.extend_from_slice(b"\x84\x02iI\x01");
    put_int(&mut b, utf16);
    // Its attributes: a new NSDictionary (object 5, class object 6, string 6) with
    // count "i" (string 7) = 1 ...
    b.extend_from_slice(b"\x92\x84\x84\x84\x0cNSDictionary\x00\x94\x84\x01i\x01");
    // ... key: an NSString (class object 4 = 0x96) of type "+" (string 4 = 0x96) ...
    b.extend_from_slice(b"\x92\x84\x96\x96\x1d__kIMMessagePartAttributeName\x86");
    // ... value: an NSNumber (strings 8, 9; subclass of NSValue) holding the C string
    // "i" (string 7 = 0x99) as its type under "*" (string 10) and the int 0.
    b.extend_from_slice(
        b"\x92\x84\x84\x84\x08NSNumber\x00\x84\x84\x07NSValue\x00\x94\x84\x01*\x84\x99\x99\x00\x86",
    );
    // End of the dictionary and of the attributed string.
    b.extend_from_slice(b"\x86\x86");
    b
}

fn put_int(b: &mut Vec<u8>, v: i64) {
    if (-110..=127).contains(&v) {
        b.push(v as i8 as u8);
    } else if (i16::MIN as i64..=i16::MAX as i64).contains(&v) {
        b.push(0x81);
        b.extend_from_slice(&(v as i16).to_le_bytes());
    } else {
        b.push(0x82);
        b.extend_from_slice(&(v as i32).to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_matches_the_messages_layout() {
        let b = attributed_body("Hello");
        let expected: &[u8] =
            b"\x04\x0bstreamtyped\x81\xe8\x03\x84\x01@\x84\x84\x84\x12NSAttributedString\x00\
\x84\x84\x08NSObject\x00\x85\x92\x84\x84\x84\x08NSString\x01\x94\x84\x01+\x05Hello\x86\
\x84\x02iI\x01\x05\x92\x84\x84\x84\x0cNSDictionary\x00\x94\x84\x01i\x01\x92\x84\x96\x96\x1d\
__kIMMessagePartAttributeName\x86\x92\x84\x84\x84\x08NSNumber\x00\x84\x84\x07NSValue\x00\x94\
\x84\x01*\x84\x99\x99\x00\x86\x86\x86";
        assert_eq!(b, expected);
    }

    #[test]
    fn long_and_non_ascii_lengths() {
        let text = "é".repeat(100);
        let b = attributed_body(&text);
        // 200 UTF-8 bytes: 0x81 + little-endian i16, then the bytes.
        let at = b
            .windows(3)
            .position(|w| w == b"\x01+\x81")
            .map(|p| p + 2)
            .unwrap();
        assert_eq!(&b[at..at + 3], b"\x81\xc8\x00");
        assert_eq!(&b[at + 3..at + 203], text.as_bytes());
        // The run counts 100 UTF-16 units.
        let run = b
            .windows(5)
            .position(|w| w == b"\x84\x02iI\x01")
            .map(|p| p + 5)
            .unwrap();
        assert_eq!(b[run], 100);
    }
}
