//! Apple typedstream archives ("streamtyped"), read just far enough to get the text of
//! an `NSAttributedString` out of sms.db `message.attributedBody`.
//!
//! Recent iOS and macOS versions often leave `message.text` NULL and keep the body only
//! in `attributedBody`, written by the NeXTSTEP-era `NSArchiver`. The format
//! (from `typedstream.h`/`archive.c` in Apple's old objc runtime sources, as documented by
//! the python-typedstream and imessage-exporter projects):
//!
//! - header: streamer version byte (4), signature length byte (11), `streamtyped`
//!   (little-endian) or `typedstream` (big-endian), then the system version as an integer;
//! - a "head" byte is a signed byte: -128..=-111 are tags (-127 two-byte integer follows,
//!   -126 four-byte integer, -125 float/double, -124 new literal, -123 nil, -122 end of
//!   object), anything else is a literal one-byte integer or, where a reference is
//!   expected, reference number `head + 110` (so 0x92 is entry 0);
//! - type encodings, class names and other "shared strings" go into one table; objects,
//!   classes and C strings into another, numbered in stream order (an object gets its
//!   number before its class chain is read);
//! - the stream is a sequence of groups, each a type-encoding string (`@`, `+`, `iI`...)
//!   followed by one value per type; an object is its class chain (each literal class is
//!   name + version, ending in nil or a reference) followed by groups until end-of-object.
//!
//! An `NSString` archives its characters as one `+` value (UTF-8 bytes, length-prefixed).
//! The decoder walks the stream and returns the first such value inside an object whose
//! class chain includes `NSString`. It never indexes blindly: every read is bounds-checked,
//! recursion is depth-limited and the total work is bounded by the input size.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TypedStreamError {
    #[error("not a typedstream archive")]
    NotTypedStream,
    #[error("archive ends early (at byte {0})")]
    Truncated(usize),
    #[error("unexpected byte {byte:#04x} at {at}: {what}")]
    Unexpected {
        at: usize,
        byte: u8,
        what: &'static str,
    },
    #[error("reference to unknown entry {0}")]
    BadReference(i64),
    #[error("unsupported type encoding {0:?}")]
    Unsupported(String),
    #[error("archive nests or repeats too deeply")]
    TooComplex,
    #[error("archive holds no string")]
    NoText,
}

const TAG_INT2: i8 = -127;
const TAG_INT4: i8 = -126;
const TAG_FLOAT: i8 = -125;
const TAG_NEW: i8 = -124;
const TAG_NIL: i8 = -123;
const TAG_END: i8 = -122;
const FIRST_TAG: i8 = -128;
const LAST_TAG: i8 = -111;
/// Reference numbers start right after the tag range.
const FIRST_REFERENCE: i64 = -110;

const MAX_DEPTH: usize = 64;

/// The text of the first `NSString` in a typedstream archive (the string of an
/// `NSAttributedString` / `NSMutableAttributedString`). Invalid UTF-8 is replaced.
pub fn attributed_string_text(blob: &[u8]) -> Result<String, TypedStreamError> {
    let mut r = Reader::new(blob)?;
    match r.run() {
        Ok(()) | Err(Halt::Found) => {}
        Err(Halt::Fail(e)) => return r.found.take().ok_or(e),
    }
    r.found.ok_or(TypedStreamError::NoText)
}

/// Entries of the object table (objects, classes and C strings share one numbering).
enum Entry<'a> {
    Object,
    /// A class with its whole chain of names, itself first; at most [`MAX_DEPTH`]
    /// names, borrowed from the archive so a reference copies no text.
    Class(Vec<&'a [u8]>),
    CString,
}

/// Control flow inside the walk: stop because the text was found, or fail.
enum Halt {
    Found,
    Fail(TypedStreamError),
}

impl From<TypedStreamError> for Halt {
    fn from(e: TypedStreamError) -> Self {
        Halt::Fail(e)
    }
}

type Step<T> = Result<T, Halt>;

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    big_endian: bool,
    strings: Vec<&'a [u8]>,
    objects: Vec<Entry<'a>>,
    /// Values left to read before the archive is declared too complex; proportional to
    /// the input so that zero-byte values (`!`) repeated by array counts cannot spin.
    budget: usize,
    found: Option<String>,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Result<Self, TypedStreamError> {
        let mut r = Reader {
            buf,
            pos: 0,
            big_endian: false,
            strings: Vec::new(),
            objects: Vec::new(),
            budget: buf.len().saturating_mul(4).saturating_add(64),
            found: None,
        };
        let head = r.take(2).map_err(|_| TypedStreamError::NotTypedStream)?;
        let (version, sig_len) = (head[0], head[1]);
        if version != 4 || sig_len != 11 {
            return Err(TypedStreamError::NotTypedStream);
        }
        match r.take(11).map_err(|_| TypedStreamError::NotTypedStream)? {
            b"streamtyped" => r.big_endian = false,
            b"typedstream" => r.big_endian = true,
            _ => return Err(TypedStreamError::NotTypedStream),
        }
        let h = r.head()?;
        r.integer(h, false)?;
        Ok(r)
    }

    fn run(&mut self) -> Step<()> {
        while self.pos < self.buf.len() {
            let h = self.head()?;
            self.group(h, false, 0)?;
        }
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], TypedStreamError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or(TypedStreamError::Truncated(self.pos))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn head(&mut self) -> Result<i8, TypedStreamError> {
        Ok(self.take(1)?[0] as i8)
    }

    fn unexpected(&self, head: i8, what: &'static str) -> TypedStreamError {
        TypedStreamError::Unexpected {
            at: self.pos.saturating_sub(1),
            byte: head as u8,
            what,
        }
    }

    fn spend(&mut self) -> Result<(), TypedStreamError> {
        self.budget = self
            .budget
            .checked_sub(1)
            .ok_or(TypedStreamError::TooComplex)?;
        Ok(())
    }

    fn integer(&mut self, head: i8, signed: bool) -> Result<i64, TypedStreamError> {
        if !(FIRST_TAG..=LAST_TAG).contains(&head) {
            return Ok(if signed {
                head as i64
            } else {
                head as u8 as i64
            });
        }
        let width = match head {
            TAG_INT2 => 2,
            TAG_INT4 => 4,
            _ => return Err(self.unexpected(head, "an integer")),
        };
        let b = self.take(width)?;
        let mut v: u64 = 0;
        for i in 0..width {
            let byte = if self.big_endian {
                b[i]
            } else {
                b[width - 1 - i]
            };
            v = (v << 8) | byte as u64;
        }
        Ok(match (signed, width) {
            (true, 2) => v as u16 as i16 as i64,
            (true, _) => v as u32 as i32 as i64,
            (false, _) => v as i64,
        })
    }

    fn unshared_string(&mut self, head: i8) -> Result<Option<&'a [u8]>, TypedStreamError> {
        if head == TAG_NIL {
            return Ok(None);
        }
        let len = self.integer(head, false)?;
        let len = usize::try_from(len).map_err(|_| TypedStreamError::Truncated(self.pos))?;
        Ok(Some(self.take(len)?))
    }

    fn shared_string(&mut self, head: i8) -> Result<Option<&'a [u8]>, TypedStreamError> {
        match head {
            TAG_NIL => Ok(None),
            TAG_NEW => {
                let h = self.head()?;
                let s = self
                    .unshared_string(h)?
                    .ok_or_else(|| self.unexpected(h, "a literal shared string"))?;
                self.strings.push(s);
                Ok(Some(s))
            }
            _ => {
                let n = self.integer(head, true)?;
                let idx = n - FIRST_REFERENCE;
                usize::try_from(idx)
                    .ok()
                    .and_then(|i| self.strings.get(i))
                    .copied()
                    .map(Some)
                    .ok_or(TypedStreamError::BadReference(n))
            }
        }
    }

    fn reference(&mut self, head: i8) -> Result<&Entry<'a>, TypedStreamError> {
        let n = self.integer(head, true)?;
        let idx = n - FIRST_REFERENCE;
        usize::try_from(idx)
            .ok()
            .and_then(|i| self.objects.get(i))
            .ok_or(TypedStreamError::BadReference(n))
    }

    /// A class chain; returns the chain's names (most derived first), empty for nil.
    fn class(&mut self, mut head: i8) -> Result<Vec<&'a [u8]>, TypedStreamError> {
        let mut literal: Vec<&'a [u8]> = Vec::new();
        while head == TAG_NEW {
            let h = self.head()?;
            let name = self
                .shared_string(h)?
                .ok_or_else(|| self.unexpected(h, "a class name"))?;
            literal.push(name);
            let h = self.head()?;
            self.integer(h, true)?;
            if literal.len() > MAX_DEPTH {
                return Err(TypedStreamError::TooComplex);
            }
            head = self.head()?;
        }
        let tail: Vec<&'a [u8]> = if head == TAG_NIL {
            Vec::new()
        } else {
            match self.reference(head)? {
                Entry::Class(chain) => chain.clone(),
                _ => return Err(self.unexpected(head, "a class reference")),
            }
        };
        // Each class definition may end in a reference to an earlier chain: without a
        // cap, chains (and the copies pushed below) grow with every definition.
        if literal.len() + tail.len() > MAX_DEPTH {
            return Err(TypedStreamError::TooComplex);
        }
        for i in 0..literal.len() {
            let chain: Vec<&'a [u8]> = literal[i..].iter().chain(tail.iter()).copied().collect();
            self.objects.push(Entry::Class(chain));
        }
        literal.extend(tail);
        Ok(literal)
    }

    fn object(&mut self, head: i8, depth: usize) -> Step<()> {
        match head {
            TAG_NIL => Ok(()),
            TAG_NEW => {
                if depth > MAX_DEPTH {
                    return Err(TypedStreamError::TooComplex.into());
                }
                self.objects.push(Entry::Object);
                let h = self.head()?;
                let chain = self.class(h)?;
                let is_string = chain.iter().any(|c| *c == b"NSString");
                loop {
                    let h = self.head()?;
                    if h == TAG_END {
                        return Ok(());
                    }
                    self.group(h, is_string, depth + 1)?;
                }
            }
            _ => {
                self.reference(head)?;
                Ok(())
            }
        }
    }

    /// One group: a type-encoding string, then one value per type in it.
    fn group(&mut self, head: i8, in_string: bool, depth: usize) -> Step<()> {
        let enc = self
            .shared_string(head)?
            .ok_or_else(|| self.unexpected(head, "a type encoding"))?;
        let mut rest = enc;
        while !rest.is_empty() {
            let n = encoding_len(rest, 0).ok_or_else(|| {
                TypedStreamError::Unsupported(String::from_utf8_lossy(enc).into_owned())
            })?;
            let (one, tail) = rest.split_at(n);
            self.value(one, in_string, depth)?;
            rest = tail;
        }
        Ok(())
    }

    fn value(&mut self, enc: &[u8], in_string: bool, depth: usize) -> Step<()> {
        self.spend()?;
        if depth > MAX_DEPTH {
            return Err(TypedStreamError::TooComplex.into());
        }
        let Some(&first) = enc.first() else {
            return Ok(());
        };
        match first {
            // Booleans and chars are stored as raw bytes, without tags.
            b'B' | b'C' | b'c' => {
                self.take(1)?;
            }
            b'S' | b'I' | b'L' | b'Q' | b's' | b'i' | b'l' | b'q' => {
                let h = self.head()?;
                self.integer(h, first.is_ascii_lowercase())?;
            }
            b'f' | b'd' => {
                let h = self.head()?;
                if h == TAG_FLOAT {
                    self.take(if first == b'f' { 4 } else { 8 })?;
                } else {
                    self.integer(h, true)?;
                }
            }
            b'*' => {
                let h = self.head()?;
                match h {
                    TAG_NIL => {}
                    TAG_NEW => {
                        let h2 = self.head()?;
                        self.shared_string(h2)?
                            .ok_or_else(|| self.unexpected(h2, "a C string"))?;
                        self.objects.push(Entry::CString);
                    }
                    _ => {
                        self.reference(h)?;
                    }
                }
            }
            b'%' | b':' => {
                let h = self.head()?;
                self.shared_string(h)?;
            }
            b'+' => {
                let h = self.head()?;
                let s = self.unshared_string(h)?;
                if in_string && self.found.is_none() {
                    if let Some(s) = s {
                        self.found = Some(String::from_utf8_lossy(s).into_owned());
                        return Err(Halt::Found);
                    }
                }
            }
            b'#' => {
                let h = self.head()?;
                self.class(h)?;
            }
            b'@' => {
                let h = self.head()?;
                self.object(h, depth + 1)?;
            }
            // An int-sized field that is typed but never written.
            b'!' => {}
            b'[' => {
                let (count, elem) = parse_array(enc).ok_or_else(|| {
                    TypedStreamError::Unsupported(String::from_utf8_lossy(enc).into_owned())
                })?;
                if elem == b"C" || elem == b"c" {
                    self.take(count)?;
                } else {
                    for _ in 0..count {
                        self.value(elem, in_string, depth + 1)?;
                    }
                }
            }
            b'{' => {
                let fields = struct_fields(enc).ok_or_else(|| {
                    TypedStreamError::Unsupported(String::from_utf8_lossy(enc).into_owned())
                })?;
                let mut rest = fields;
                while !rest.is_empty() {
                    let n = encoding_len(rest, 0).ok_or_else(|| {
                        TypedStreamError::Unsupported(String::from_utf8_lossy(enc).into_owned())
                    })?;
                    let (one, tail) = rest.split_at(n);
                    self.value(one, in_string, depth + 1)?;
                    rest = tail;
                }
            }
            _ => {
                return Err(TypedStreamError::Unsupported(
                    String::from_utf8_lossy(enc).into_owned(),
                )
                .into())
            }
        }
        Ok(())
    }
}

/// Length in bytes of the first complete type encoding in `s`, or `None` when it is
/// malformed (unbalanced brackets, missing array element).
fn encoding_len(s: &[u8], depth: usize) -> Option<usize> {
    if depth > MAX_DEPTH {
        return None;
    }
    let first = *s.first()?;
    match first {
        b'[' => {
            let mut i = 1;
            while s.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            let n = encoding_len(s.get(i..)?, depth + 1)?;
            i += n;
            (s.get(i) == Some(&b']')).then_some(i + 1)
        }
        b'{' | b'(' => {
            let close = if first == b'{' { b'}' } else { b')' };
            // Skip the name up to '=' (or the closing bracket), then the field encodings.
            let mut i = 1;
            while let Some(&c) = s.get(i) {
                if c == b'=' || c == close {
                    break;
                }
                if c == b'{' || c == b'(' || c == b'[' {
                    return None;
                }
                i += 1;
            }
            if s.get(i) == Some(&b'=') {
                i += 1;
                while s.get(i).is_some_and(|c| *c != close) {
                    i += encoding_len(s.get(i..)?, depth + 1)?;
                }
            }
            (s.get(i) == Some(&close)).then_some(i + 1)
        }
        b'^' => Some(1 + encoding_len(s.get(1..)?, depth + 1)?),
        b']' | b'}' | b')' => None,
        _ => Some(1),
    }
}

/// `[12c]` → (12, "c").
fn parse_array(enc: &[u8]) -> Option<(usize, &[u8])> {
    let inner = enc.strip_prefix(b"[")?.strip_suffix(b"]")?;
    let digits = inner.iter().take_while(|c| c.is_ascii_digit()).count();
    let count: usize = std::str::from_utf8(inner.get(..digits)?)
        .ok()?
        .parse()
        .ok()?;
    let elem = inner.get(digits..)?;
    (encoding_len(elem, 0)? == elem.len()).then_some((count, elem))
}

/// `{name=if}` → "if".
fn struct_fields(enc: &[u8]) -> Option<&[u8]> {
    let inner = enc.strip_prefix(b"{")?.strip_suffix(b"}")?;
    Some(match inner.iter().position(|c| *c == b'=') {
        Some(eq) => inner.get(eq + 1..)?,
        None => &[],
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Writes typedstream archives the way `NSArchiver` lays out an
    /// `NSAttributedString` with one attribute run, so the tests do not depend on
    /// bytes copied from elsewhere.
    pub(crate) struct Writer {
        out: Vec<u8>,
    }

    impl Writer {
        fn new() -> Self {
            let mut out = vec![4, 11];
            out.extend_from_slice(b"streamtyped");
            out.extend_from_slice(&[0x81, 0xe8, 0x03]); // system version 1000
            Writer { out }
        }
        fn int(&mut self, v: i64) {
            if (-110..=127).contains(&v) && !(-128..=-111).contains(&v) {
                self.out.push(v as i8 as u8);
            } else if (i16::MIN as i64..=i16::MAX as i64).contains(&v) {
                self.out.push(0x81);
                self.out.extend_from_slice(&(v as i16).to_le_bytes());
            } else {
                self.out.push(0x82);
                self.out.extend_from_slice(&(v as i32).to_le_bytes());
            }
        }
        fn len(&mut self, v: usize) {
            // Lengths are read unsigned: one byte unless it collides with a tag.
            if v <= 0x7f || (0x92..=0xff).contains(&v) {
                self.out.push(v as u8);
            } else if v <= 0xffff {
                self.out.push(0x81);
                self.out.extend_from_slice(&(v as u16).to_le_bytes());
            } else {
                self.out.push(0x82);
                self.out.extend_from_slice(&(v as u32).to_le_bytes());
            }
        }
        fn new_string(&mut self, s: &[u8]) {
            self.out.push(0x84);
            self.len(s.len());
            self.out.extend_from_slice(s);
        }
        fn raw(&mut self, b: &[u8]) {
            self.out.extend_from_slice(b);
        }
    }

    /// `NSAttributedString` (or the mutable pair of classes) holding `text` with one
    /// attribute run, laid out as Messages writes it.
    pub(crate) fn attributed_body(text: &str, mutable: bool) -> Vec<u8> {
        let mut w = Writer::new();
        // Strings table: 0 "@"; objects table: 0 root object, then its classes.
        w.new_string(b"@");
        w.raw(&[0x84]); // new object: O0
        if mutable {
            w.raw(&[0x84]);
            w.new_string(b"NSMutableAttributedString"); // O1
            w.int(0);
        }
        w.raw(&[0x84]);
        w.new_string(b"NSAttributedString"); // O1 or O2
        w.int(0);
        w.raw(&[0x84]);
        w.new_string(b"NSObject"); // O2 or O3
        w.int(0);
        w.raw(&[0x85]); // root class
        let nsobject_ref = if mutable { 0x95 } else { 0x94 };
        w.raw(&[0x92]); // type "@"
        w.raw(&[0x84]); // new object: the string
        if mutable {
            w.raw(&[0x84]);
            w.new_string(b"NSMutableString");
            w.int(1);
        }
        w.raw(&[0x84]);
        w.new_string(b"NSString");
        w.int(1);
        w.raw(&[nsobject_ref]);
        w.new_string(b"+");
        w.len(text.len());
        w.raw(text.as_bytes());
        w.raw(&[0x86]); // end of the string object
                        // One attribute run: type "iI", run count 1, length in UTF-16 units.
        w.new_string(b"iI");
        w.int(1);
        w.int(text.encode_utf16().count() as i64);
        w.raw(&[0x92]); // "@": the attributes dictionary
        w.raw(&[0x84, 0x84]);
        w.new_string(b"NSDictionary");
        w.int(0);
        w.raw(&[nsobject_ref]);
        w.new_string(b"i");
        w.int(0); // no entries
        w.raw(&[0x86, 0x86]); // end dictionary, end root object
        w.out
    }

    #[test]
    fn short_text() {
        assert_eq!(
            attributed_string_text(&attributed_body("Hello, world", false)).as_deref(),
            Ok("Hello, world")
        );
    }

    #[test]
    fn mutable_classes_and_unicode() {
        let t = "Ça va? 😎 https://example.org/";
        assert_eq!(
            attributed_string_text(&attributed_body(t, true)).as_deref(),
            Ok(t)
        );
    }

    #[test]
    fn long_texts_use_wide_lengths() {
        // 128..=145 bytes need the two-byte form (they collide with tags), 70000 the four-byte one.
        for n in [127usize, 128, 145, 146, 255, 300, 70_000] {
            let t = "x".repeat(n);
            assert_eq!(
                attributed_string_text(&attributed_body(&t, false)),
                Ok(t),
                "length {n}"
            );
        }
    }

    #[test]
    fn published_message_layout_with_attribute_number() {
        // Bytes of a real one-letter message body, as published in the test fixtures of
        // several open-source iMessage readers: the run's attributes hold
        // __kIMMessagePartAttributeName → NSNumber 0, which archives a "*" C string and
        // an "i". The text must come out whatever follows it.
        let hex =
            "040b73747265616d747970656481e803840140848484124e5341747472696275746564537472696e67\
                   008484084e534f626a656374008592848484084e53537472696e67019484012b0159868402694901\
                   01928484840c4e5344696374696f6e617279009484016901928496961d5f5f6b494d4d6573736167\
                   65506172744174747269627574654e616d658692848484084e534e756d626572008484074e535661\
                   6c7565009484012a84999900868686";
        let bytes = hex::decode(hex).unwrap();
        assert_eq!(attributed_string_text(&bytes).as_deref(), Ok("Y"));
    }

    #[test]
    fn not_an_archive() {
        assert_eq!(
            attributed_string_text(b""),
            Err(TypedStreamError::NotTypedStream)
        );
        assert_eq!(
            attributed_string_text(b"bplist00\x00\x01"),
            Err(TypedStreamError::NotTypedStream)
        );
        assert_eq!(
            attributed_string_text(b"\x04\x0bstreamtypeX\x81\xe8\x03"),
            Err(TypedStreamError::NotTypedStream)
        );
    }

    #[test]
    fn every_truncation_is_an_error_or_the_text_never_a_panic() {
        let full = attributed_body("truncate me", true);
        let text_end = full.windows(11).position(|w| w == b"truncate me").unwrap() + 11;
        for cut in 0..full.len() {
            let got = attributed_string_text(&full[..cut]);
            // Once the string itself has been read the text is known.
            if cut >= text_end {
                assert_eq!(got.as_deref(), Ok("truncate me"), "cut {cut}");
            } else {
                assert!(got.is_err(), "cut {cut}: {got:?}");
            }
        }
    }

    #[test]
    fn garbage_never_panics() {
        // Deterministic pseudo-random bytes after a valid header, and every single-byte
        // corruption of a valid archive.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let header = &attributed_body("", false)[..16];
        for len in 0..400 {
            let mut b = header.to_vec();
            for _ in 0..len {
                b.push(next() as u8);
            }
            let _ = attributed_string_text(&b);
        }
        let good = attributed_body("some text", false);
        for i in 0..good.len() {
            for v in [0x00, 0x7f, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x92, 0xff] {
                let mut b = good.clone();
                b[i] = v;
                let _ = attributed_string_text(&b);
            }
        }
    }

    #[test]
    fn hostile_structures_are_bounded() {
        let mut base = Writer::new();
        // A huge array of zero-byte values.
        base.new_string(b"[999999999!]");
        assert_eq!(
            attributed_string_text(&base.out),
            Err(TypedStreamError::TooComplex)
        );
        // Deeply nested type encodings.
        let mut w = Writer::new();
        let enc = format!("{}i{}", "[1".repeat(500), "]".repeat(500));
        w.new_string(enc.as_bytes());
        assert!(attributed_string_text(&w.out).is_err());
        // Objects nested inside objects, far past the depth limit.
        let mut w = Writer::new();
        w.new_string(b"@");
        for _ in 0..200 {
            w.raw(&[0x84, 0x84]);
            w.new_string(b"NSArray");
            w.int(0);
            w.raw(&[0x85, 0x92]);
        }
        assert!(attributed_string_text(&w.out).is_err());
        // A reference to an entry that does not exist.
        let mut w = Writer::new();
        w.raw(&[0xa0]);
        assert_eq!(
            attributed_string_text(&w.out),
            Err(TypedStreamError::BadReference(-96))
        );
    }

    #[test]
    fn class_chains_extended_by_reference_are_bounded() {
        // Object 1 defines 60 classes (one name, referenced); object 2 defines 60 more
        // whose chain ends in a reference to object 1's: 120 names. Before the cap,
        // every further object grew the chains and their copies quadratically.
        let mut blob = vec![0x04, 0x0b];
        blob.extend_from_slice(b"streamtyped");
        blob.extend_from_slice(&[0x81, 0xe8, 0x03]);
        blob.extend_from_slice(&[0x84, 0x01, b'@', 0x84]);
        blob.extend_from_slice(&[0x84, 0x84, 0x08]);
        blob.extend_from_slice(b"NSObject");
        blob.push(0x00);
        for _ in 1..60 {
            blob.extend_from_slice(&[0x84, 0x93, 0x00]);
        }
        blob.extend_from_slice(&[0x85, 0x86]);
        blob.extend_from_slice(&[0x92, 0x84]);
        for _ in 0..60 {
            blob.extend_from_slice(&[0x84, 0x93, 0x00]);
        }
        blob.extend_from_slice(&[0x93, 0x86]);
        assert_eq!(
            attributed_string_text(&blob),
            Err(TypedStreamError::TooComplex)
        );
    }

    #[test]
    fn archive_without_string_has_no_text() {
        let mut w = Writer::new();
        w.new_string(b"i");
        w.int(5);
        assert_eq!(
            attributed_string_text(&w.out),
            Err(TypedStreamError::NoText)
        );
    }
}
