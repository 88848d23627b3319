//! A read-only, borrowing view of a binary property list (`bplist00`), for the one
//! place where the generic `plist` crate is too slow: the ~100k MBFile blobs of a large
//! backup's Manifest.db, each decoded into a `plist::Value` tree only to read ten
//! fields. Objects are decoded on demand from the offset table, nothing is copied, and
//! every offset, length and reference is bounds-checked: a hostile blob gives an
//! error, never a panic or an allocation of its claimed size.
//!
//! The format (Apple's CFBinaryPList.c, documented in many places): the header
//! `bplist00`, the objects, an offset table, and a 32-byte trailer holding the offset
//! entry size, the object reference size, the object count, the top object and the
//! offset table's position. An object starts with a marker byte whose high nibble is
//! its type and low nibble its length (0xF: the length follows as an int object).
//!
//! `mbfile::decode` falls back to the `plist` crate whenever this view cannot read a
//! blob, and a test checks both decoders agree.

/// One decoded object. Containers hold references (object numbers), not objects.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Obj<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Real(f64),
    /// Seconds since 2001-01-01 UTC.
    Date(f64),
    Data(&'a [u8]),
    /// An ASCII string's bytes.
    Ascii(&'a [u8]),
    /// A UTF-16BE string's bytes (two per code unit).
    Utf16(&'a [u8]),
    Uid(u64),
    Array(Refs<'a>),
    /// Keys and values, the same length.
    Dict(Refs<'a>, Refs<'a>),
}

/// A run of object references inside the blob.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Refs<'a> {
    bytes: &'a [u8],
    size: usize,
}

impl<'a> Refs<'a> {
    pub fn len(&self) -> usize {
        self.bytes.len() / self.size
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn get(&self, i: usize) -> Option<u64> {
        let start = i.checked_mul(self.size)?;
        be_uint(self.bytes.get(start..start.checked_add(self.size)?)?)
    }
}

pub struct Bplist<'a> {
    data: &'a [u8],
    offsets: &'a [u8],
    offset_size: usize,
    ref_size: usize,
    count: usize,
    top: u64,
}

fn be_uint(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 8 {
        return None;
    }
    Some(b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
}

impl<'a> Bplist<'a> {
    pub fn parse(data: &'a [u8]) -> Result<Bplist<'a>, &'static str> {
        if data.len() < 8 + 32 || !data.starts_with(b"bplist0") {
            return Err("not a binary plist");
        }
        let t = &data[data.len() - 32..];
        let offset_size = usize::from(t[6]);
        let ref_size = usize::from(t[7]);
        let num = |r: std::ops::Range<usize>| be_uint(&t[r]).ok_or("bad trailer");
        let count = num(8..16)?;
        let top = num(16..24)?;
        let table = num(24..32)?;
        if !(1..=8).contains(&offset_size) || !(1..=8).contains(&ref_size) {
            return Err("bad trailer sizes");
        }
        let body_end = data.len() - 32;
        let table = usize::try_from(table).map_err(|_| "offset table out of range")?;
        let count = usize::try_from(count).map_err(|_| "object count out of range")?;
        let table_len = count
            .checked_mul(offset_size)
            .ok_or("object count out of range")?;
        let offsets = table
            .checked_add(table_len)
            .filter(|end| *end <= body_end && table >= 8)
            .map(|end| &data[table..end])
            .ok_or("offset table out of range")?;
        if top >= count as u64 {
            return Err("top object out of range");
        }
        Ok(Bplist {
            data,
            offsets,
            offset_size,
            ref_size,
            count,
            top,
        })
    }

    pub fn top(&self) -> u64 {
        self.top
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Object number `n`.
    pub fn object(&self, n: u64) -> Option<Obj<'a>> {
        let n = usize::try_from(n).ok().filter(|n| *n < self.count)?;
        let at = n * self.offset_size;
        let off = usize::try_from(be_uint(self.offsets.get(at..at + self.offset_size)?)?).ok()?;
        let data = self.data;
        let marker = *data.get(off)?;
        let (kind, low) = (marker >> 4, marker & 0x0F);
        let body = off + 1;
        // Length of a variable-size object and where its content starts.
        let length = |unit: usize| -> Option<(usize, usize)> {
            let (n, start) = if low == 0x0F {
                let m = *data.get(body)?;
                if m >> 4 != 0x1 {
                    return None;
                }
                let w = 1usize << (m & 0x0F);
                let n = usize::try_from(be_uint(data.get(body + 1..body + 1 + w)?)?).ok()?;
                (n, body + 1 + w)
            } else {
                (usize::from(low), body)
            };
            let bytes = n.checked_mul(unit)?;
            (start.checked_add(bytes)? <= data.len()).then_some((n, start))
        };
        let slice = |start: usize, len: usize| data.get(start..start.checked_add(len)?);
        match kind {
            0x0 => match low {
                0x0 => Some(Obj::Null),
                0x8 => Some(Obj::Bool(false)),
                0x9 => Some(Obj::Bool(true)),
                _ => None,
            },
            0x1 => {
                let w = 1usize << low.min(4);
                let b = slice(body, w)?;
                match w {
                    1 | 2 | 4 => Some(Obj::Int(be_uint(b)? as i64)),
                    8 => Some(Obj::Int(be_uint(b)? as i64)),
                    // 128-bit: the value is in the low eight bytes.
                    _ => Some(Obj::Int(be_uint(&b[8..])? as i64)),
                }
            }
            0x2 | 0x3 => {
                let v = match low {
                    2 => f64::from(f32::from_be_bytes(slice(body, 4)?.try_into().ok()?)),
                    3 => f64::from_be_bytes(slice(body, 8)?.try_into().ok()?),
                    _ => return None,
                };
                Some(if kind == 0x2 {
                    Obj::Real(v)
                } else {
                    Obj::Date(v)
                })
            }
            0x4 => length(1).and_then(|(n, s)| slice(s, n)).map(Obj::Data),
            0x5 => length(1).and_then(|(n, s)| slice(s, n)).map(Obj::Ascii),
            0x6 => length(2).and_then(|(n, s)| slice(s, n * 2)).map(Obj::Utf16),
            0x8 => Some(Obj::Uid(be_uint(slice(body, usize::from(low) + 1)?)?)),
            0xA => {
                let (n, s) = length(self.ref_size)?;
                Some(Obj::Array(Refs {
                    bytes: slice(s, n * self.ref_size)?,
                    size: self.ref_size,
                }))
            }
            0xD => {
                let (n, s) = length(2 * self.ref_size)?;
                let half = n * self.ref_size;
                Some(Obj::Dict(
                    Refs {
                        bytes: slice(s, half)?,
                        size: self.ref_size,
                    },
                    Refs {
                        bytes: slice(s + half, half)?,
                        size: self.ref_size,
                    },
                ))
            }
            _ => None,
        }
    }

    /// The value reference stored under an ASCII `key` in a dictionary object.
    pub fn dict_get(&self, dict: Obj<'a>, key: &str) -> Option<u64> {
        let Obj::Dict(keys, values) = dict else {
            return None;
        };
        (0..keys.len()).find_map(|i| {
            let matches = match self.object(keys.get(i)?)? {
                Obj::Ascii(b) => b == key.as_bytes(),
                Obj::Utf16(b) => utf16_eq(b, key),
                _ => false,
            };
            if matches {
                values.get(i)
            } else {
                None
            }
        })
    }

    /// The value references under each of `keys` in one pass over the dictionary's keys
    /// (the first entry wins, as with [`Bplist::dict_get`]): reading ten fields this way
    /// decodes each key object once instead of up to ten times.
    pub fn dict_get_all<const N: usize>(
        &self,
        dict: Obj<'a>,
        keys: &[&str; N],
    ) -> [Option<u64>; N] {
        let mut out = [None; N];
        let Obj::Dict(names, values) = dict else {
            return out;
        };
        for i in 0..names.len() {
            let Some(name) = names.get(i).and_then(|r| self.object(r)) else {
                continue;
            };
            let slot = keys.iter().position(|k| match name {
                Obj::Ascii(b) => b == k.as_bytes(),
                Obj::Utf16(b) => utf16_eq(b, k),
                _ => false,
            });
            if let Some(j) = slot {
                if out[j].is_none() {
                    out[j] = values.get(i);
                }
            }
        }
        out
    }
}

fn utf16_eq(b: &[u8], key: &str) -> bool {
    let units = b.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]]));
    units.eq(key.encode_utf16())
}

/// A string object as Rust text (UTF-16 decoded lossily).
pub fn text(o: Obj<'_>) -> Option<String> {
    match o {
        Obj::Ascii(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Obj::Utf16(b) => {
            let units: Vec<u16> = b
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            Some(String::from_utf16_lossy(&units))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plist::Value;

    fn binary(v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        v.to_writer_binary(&mut out).unwrap();
        out
    }

    #[test]
    fn reads_what_the_plist_crate_writes() {
        let mut d = plist::Dictionary::new();
        d.insert("small".into(), Value::Integer(7.into()));
        d.insert("big".into(), Value::Integer(1_663_063_494_123i64.into()));
        d.insert("neg".into(), Value::Integer((-5i64).into()));
        d.insert("real".into(), Value::Real(1.5));
        d.insert("ascii".into(), Value::String("Library/SMS".into()));
        d.insert("utf16".into(), Value::String("Bibliothèque/été".into()));
        d.insert("data".into(), Value::Data(vec![1, 2, 3]));
        d.insert("uid".into(), Value::Uid(plist::Uid::new(3)));
        d.insert("yes".into(), Value::Boolean(true));
        let long: Vec<Value> = (0..40).map(|i| Value::Integer(i.into())).collect();
        d.insert("long".into(), Value::Array(long));
        let blob = binary(&Value::Dictionary(d));
        let p = Bplist::parse(&blob).unwrap();
        let root = p.object(p.top()).unwrap();
        let get = |k: &str| p.object(p.dict_get(root, k).unwrap()).unwrap();
        assert_eq!(get("small"), Obj::Int(7));
        assert_eq!(get("big"), Obj::Int(1_663_063_494_123));
        assert_eq!(get("neg"), Obj::Int(-5));
        assert_eq!(get("real"), Obj::Real(1.5));
        assert_eq!(text(get("ascii")).unwrap(), "Library/SMS");
        assert_eq!(text(get("utf16")).unwrap(), "Bibliothèque/été");
        assert_eq!(get("data"), Obj::Data(&[1, 2, 3]));
        assert_eq!(get("uid"), Obj::Uid(3));
        assert_eq!(get("yes"), Obj::Bool(true));
        match get("long") {
            Obj::Array(r) => {
                assert_eq!(r.len(), 40);
                assert_eq!(p.object(r.get(39).unwrap()).unwrap(), Obj::Int(39));
            }
            other => panic!("not an array: {other:?}"),
        }
        assert_eq!(p.dict_get(root, "absent"), None);
    }

    #[test]
    fn damaged_blobs_are_errors_not_panics() {
        let mut d = plist::Dictionary::new();
        d.insert("k".into(), Value::String("v".repeat(30)));
        let blob = binary(&Value::Dictionary(d));
        assert!(Bplist::parse(b"").is_err());
        assert!(Bplist::parse(b"bplist00").is_err());
        // Every truncation and every single-byte corruption either parses or errors.
        for cut in 0..blob.len() {
            if let Ok(p) = Bplist::parse(&blob[..cut]) {
                for n in 0..p.len() as u64 {
                    let _ = p.object(n);
                }
            }
        }
        for i in 0..blob.len() {
            for v in [0x00, 0x0F, 0x7F, 0xDF, 0xFF] {
                let mut b = blob.clone();
                b[i] = v;
                if let Ok(p) = Bplist::parse(&b) {
                    for n in 0..p.len() as u64 + 2 {
                        if let Some(o) = p.object(n) {
                            let _ = p.dict_get(o, "k");
                            let _ = text(o);
                        }
                    }
                }
            }
        }
    }
}
