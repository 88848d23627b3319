//! Reading a plist from evidence bytes with limits.
//!
//! A binary plist is a table of objects that refer to each other by number, and the
//! plist crate builds a tree from it: an object referred to twice is copied twice. So a
//! 171-byte file of 32 arrays, each holding two references to the next, expands to 2^32
//! values (a "billion laughs"), and a 2 MB file of arrays nested 200,000 deep overflows
//! the stack. Before the tree is built, the events are walked once and the file is
//! refused when it nests deeper, or expands to more, than any real plist does.
//! (Shared references are how binary plists dedupe strings: they stay allowed, only
//! their total is bounded.)

use std::cell::Cell;
use std::io::Cursor;

use plist::Value;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use thiserror::Error;

/// Real plists on an iPhone nest a handful of levels (NSKeyedArchiver flattens its
/// object graph into `$objects`).
pub const MAX_DEPTH: usize = 128;

/// Values plus string/data bytes allowed per input byte: a real file yields at most
/// about one value per byte and holds its text once; an expansion yields far more.
const WEIGHT_PER_BYTE: usize = 16;
const WEIGHT_SLACK: usize = 4096;

#[derive(Debug, Error)]
pub enum PlistError {
    #[error(transparent)]
    Read(#[from] plist::Error),
    #[error("plist nests deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("plist expands to more than {0} values and bytes (shared references)")]
    TooLarge(usize),
}

/// Parses an XML, binary or ASCII plist, refusing pathological nesting and expansion.
pub fn read(bytes: &[u8]) -> Result<Value, PlistError> {
    check_shape(bytes)?;
    Ok(Value::from_reader(Cursor::new(bytes))?)
}

/// The walk's state. The plist crate's event stream is private, so the walk is a serde
/// visitor over `plist::from_bytes`, and a visitor gets no state passed in.
#[derive(Clone, Copy)]
struct Walk {
    depth: usize,
    /// What is left of the weight budget.
    left: usize,
    limit: usize,
    /// Which limit stopped the walk, if one did.
    hit: Option<Hit>,
}

#[derive(Clone, Copy)]
enum Hit {
    Depth,
    Weight,
}

thread_local! {
    static WALK: Cell<Walk> = const {
        Cell::new(Walk { depth: 0, left: 0, limit: 0, hit: None })
    };
}

/// Walks the values without building anything. A read error is left for the real
/// parse to report, with its position.
fn check_shape(bytes: &[u8]) -> Result<(), PlistError> {
    let limit = bytes
        .len()
        .saturating_mul(WEIGHT_PER_BYTE)
        .saturating_add(WEIGHT_SLACK);
    WALK.with(|w| {
        w.set(Walk {
            depth: 0,
            left: limit,
            limit,
            hit: None,
        })
    });
    let _ = plist::from_bytes::<Shape>(bytes);
    let walk = WALK.with(Cell::get);
    match walk.hit {
        Some(Hit::Depth) => Err(PlistError::TooDeep),
        Some(Hit::Weight) => Err(PlistError::TooLarge(walk.limit)),
        None => Ok(()),
    }
}

/// Any plist value, only counted.
struct Shape;

fn spend<E: de::Error>(n: usize) -> Result<Shape, E> {
    WALK.with(|w| {
        let mut walk = w.get();
        match walk.left.checked_sub(n) {
            Some(left) => {
                walk.left = left;
                w.set(walk);
                Ok(Shape)
            }
            None => {
                walk.hit = Some(Hit::Weight);
                w.set(walk);
                Err(E::custom("plist too large"))
            }
        }
    })
}

/// Enters a collection; the caller leaves it with [`leave`].
fn enter<E: de::Error>() -> Result<(), E> {
    spend::<E>(1)?;
    WALK.with(|w| {
        let mut walk = w.get();
        walk.depth += 1;
        if walk.depth > MAX_DEPTH {
            walk.hit = Some(Hit::Depth);
            w.set(walk);
            return Err(E::custom("plist too deep"));
        }
        w.set(walk);
        Ok(())
    })
}

fn leave() {
    WALK.with(|w| {
        let mut walk = w.get();
        walk.depth = walk.depth.saturating_sub(1);
        w.set(walk);
    });
}

impl<'de> Deserialize<'de> for Shape {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Shape, D::Error> {
        d.deserialize_any(ShapeVisitor)
    }
}

struct ShapeVisitor;

impl<'de> Visitor<'de> for ShapeVisitor {
    type Value = Shape;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any plist value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Shape, E> {
        spend(1)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Shape, E> {
        spend(1)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Shape, E> {
        spend(1)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Shape, E> {
        spend(1)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Shape, E> {
        spend(v.len().saturating_add(1))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Shape, E> {
        spend(v.len().saturating_add(1))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Shape, E> {
        spend(1)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
        enter::<A::Error>()?;
        while seq.next_element::<Shape>()?.is_some() {}
        leave();
        Ok(Shape)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
        enter::<A::Error>()?;
        while map.next_entry::<Shape, Shape>()?.is_some() {}
        leave();
        Ok(Shape)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A binary plist of `objects` (each already encoded), the first being the root.
    pub(crate) fn bplist(objects: &[Vec<u8>]) -> Vec<u8> {
        let mut out = b"bplist00".to_vec();
        let mut offsets = Vec::new();
        for o in objects {
            offsets.push(out.len() as u64);
            out.extend_from_slice(o);
        }
        let table = out.len() as u64;
        for o in &offsets {
            out.extend_from_slice(&(*o as u32).to_be_bytes());
        }
        out.extend_from_slice(&[0; 6]);
        out.extend_from_slice(&[4, 4]); // offset and reference sizes
        out.extend_from_slice(&(objects.len() as u64).to_be_bytes());
        out.extend_from_slice(&0u64.to_be_bytes()); // root object
        out.extend_from_slice(&table.to_be_bytes());
        out
    }

    /// An array holding `refs` (4-byte references), fewer than 15 of them.
    pub(crate) fn array(refs: &[u32]) -> Vec<u8> {
        let mut o = vec![0xA0 | refs.len() as u8];
        for r in refs {
            o.extend_from_slice(&r.to_be_bytes());
        }
        o
    }

    /// `levels` arrays, each referring twice to the next, then one string:
    /// 2^levels leaves from a few hundred bytes.
    pub(crate) fn laughs(levels: u32) -> Vec<u8> {
        let mut objects: Vec<Vec<u8>> = (1..=levels).map(|next| array(&[next, next])).collect();
        objects.push(b"\x51x".to_vec());
        bplist(&objects)
    }

    #[test]
    fn shared_references_do_not_expand_without_bound() {
        // 2^20 leaves keep the test quick without the limit; 32 levels never finish.
        for levels in [20, 32] {
            let bytes = laughs(levels);
            assert!(bytes.len() < 512);
            assert!(matches!(read(&bytes), Err(PlistError::TooLarge(_))));
        }
    }

    #[test]
    fn deep_nesting_is_refused_before_it_overflows_the_stack() {
        // Run on the 2 MiB stack a worker thread gets.
        let depth = 200_000u32;
        let mut objects: Vec<Vec<u8>> = (1..=depth).map(|next| array(&[next])).collect();
        objects.push(b"\x51x".to_vec());
        let bytes = bplist(&objects);
        let outcome = std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || matches!(read(&bytes), Err(PlistError::TooDeep)))
            .unwrap()
            .join();
        assert!(matches!(outcome, Ok(true)));
    }

    #[test]
    fn real_shapes_still_read() {
        // A shared string referred to by many keys, as NSKeyedArchiver writes `$class`.
        let mut objects = vec![array(&[1; 14]), b"\x58NSString".to_vec()];
        objects.push(array(&[]));
        let v = read(&bplist(&objects)).unwrap();
        assert_eq!(v.as_array().map(Vec::len), Some(14));
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict><key>a</key><array><integer>1</integer></array></dict></plist>"#;
        assert!(read(xml).unwrap().as_dictionary().is_some());
        assert!(matches!(read(b"bplist00garbage"), Err(PlistError::Read(_))));
    }
}
