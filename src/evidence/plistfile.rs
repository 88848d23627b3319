//! Property lists from the evidence, parsed only once they are known to be sane.
//!
//! `plist::Value::from_reader` builds the tree recursively: a plist nested a hundred
//! thousand levels deep overflows the stack and aborts the whole process, and a binary
//! plist whose objects reference the same child many times expands exponentially. So
//! the plist is first walked by a serde visitor that gives up past a depth and a
//! number of values (its own recursion is therefore bounded); only a plist within both
//! limits is built.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
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

/// Parses XML, binary or ASCII plist bytes within [`MAX_PLIST_DEPTH`] and
/// [`MAX_PLIST_VALUES`].
pub fn parse_plist(bytes: &[u8]) -> Result<plist::Value, PlistError> {
    let limit = MAX_PLIST_VALUES.min(bytes.len().saturating_mul(MAX_VALUES_PER_BYTE) + 1024);
    WALK.with(|w| {
        w.set(Walk {
            limit,
            ..Walk::default()
        })
    });
    let checked = plist::from_bytes::<Checked>(bytes);
    match WALK.with(|w| w.get().hit) {
        Some(Limit::Depth) => return Err(PlistError::TooDeep),
        Some(Limit::Values) => return Err(PlistError::TooMany),
        None => {}
    }
    checked?;
    Ok(plist::Value::from_reader(std::io::Cursor::new(bytes))?)
}

#[derive(Debug, Clone, Copy)]
enum Limit {
    Depth,
    Values,
}

/// The walk's tally. `plist` offers no seeded entry point, so the one walk running on
/// this thread keeps it here; [`parse_plist`] resets it first.
#[derive(Debug, Clone, Copy, Default)]
struct Walk {
    values: usize,
    limit: usize,
    hit: Option<Limit>,
}

thread_local! {
    static WALK: Cell<Walk> = Cell::new(Walk::default());
}

/// Nothing is kept: the walk only proves the plist is within the limits.
struct Checked;

impl<'de> de::Deserialize<'de> for Checked {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Checked, D::Error> {
        Check { depth: 0 }.deserialize(d)
    }
}

#[derive(Clone, Copy)]
struct Check {
    depth: usize,
}

impl Check {
    fn step<E: de::Error>(&self) -> Result<(), E> {
        let mut w = WALK.with(|w| w.get());
        w.values += 1;
        let over = w.values > w.limit;
        if over {
            w.hit = Some(Limit::Values);
        }
        WALK.with(|c| c.set(w));
        if over {
            return Err(E::custom("too many values"));
        }
        Ok(())
    }

    fn deeper<E: de::Error>(&self) -> Result<Check, E> {
        if self.depth >= MAX_PLIST_DEPTH {
            WALK.with(|c| {
                let mut w = c.get();
                w.hit = Some(Limit::Depth);
                c.set(w);
            });
            return Err(E::custom("too deep"));
        }
        Ok(Check {
            depth: self.depth + 1,
        })
    }
}

impl<'de> DeserializeSeed<'de> for Check {
    type Value = Checked;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Checked, D::Error> {
        d.deserialize_any(self)
    }
}

macro_rules! leaf {
    ($($name:ident: $t:ty),*) => {$(
        fn $name<E: de::Error>(self, _: $t) -> Result<Checked, E> {
            self.step()?;
            Ok(Checked)
        }
    )*};
}

impl<'de> Visitor<'de> for Check {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a plist value")
    }

    leaf!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64,
        visit_str: &str, visit_bytes: &[u8]);

    fn visit_unit<E: de::Error>(self) -> Result<Checked, E> {
        self.step()?;
        Ok(Checked)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        self.step()?;
        while seq.next_element_seed(self.deeper()?)?.is_some() {}
        Ok(Checked)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        self.step()?;
        while map.next_key_seed(self.deeper()?)?.is_some() {
            map.next_value_seed(self.deeper()?)?;
        }
        Ok(Checked)
    }
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
    fn garbage_is_an_error() {
        assert!(parse_plist(b"bplist00\xff\xff\xff").is_err());
        assert!(parse_plist(b"<?xml version=\"1.0\"?><plist><dict><key>a</key>").is_err());
        assert!(parse_plist(b"").is_err());
    }
}
