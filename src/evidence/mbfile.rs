//! The `file` blob of Manifest.db: an NSKeyedArchiver binary plist whose root object
//! is an MBFile dictionary. Values that are UIDs point into `$objects`; they are
//! resolved, never indexed blindly. In an encrypted backup `EncryptionKey` points to an
//! NSMutableData object (`{NS.data: <4-byte class + wrapped key>}`).

use plist::Value;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct MbFile {
    pub last_modified: Option<i64>,
    pub last_status_change: Option<i64>,
    pub birth: Option<i64>,
    pub size: Option<i64>,
    pub mode: Option<i64>,
    pub inode: Option<i64>,
    pub user_id: Option<i64>,
    pub group_id: Option<i64>,
    pub protection_class: Option<i64>,
    pub relative_path: Option<String>,
    /// Encrypted backups: the file's key, 4-byte little-endian protection class then
    /// the RFC 3394 wrapped key.
    pub encryption_key: Option<Vec<u8>>,
}

impl MbFile {
    pub fn has_encryption_key(&self) -> bool {
        self.encryption_key.is_some()
    }
}

/// Decodes a blob: the borrowing reader first, the `plist` crate when that reader
/// cannot make sense of it (then the crate's error is the one reported).
pub fn decode(blob: &[u8]) -> Result<MbFile, String> {
    decode_fast(blob).map_or_else(|| decode_generic(blob), Ok)
}

/// The same fields read straight from the binary plist, without building a tree.
fn decode_fast(blob: &[u8]) -> Option<MbFile> {
    use super::bplist::{text, Bplist, Obj};
    let p = Bplist::parse(blob).ok()?;
    let root = p.object(p.top())?;
    let Obj::Array(objects) = p.object(p.dict_get(root, "$objects")?)? else {
        return None;
    };
    // A UID points into `$objects`; anything else is the value itself.
    let resolve = |r: u64| -> Option<Obj<'_>> {
        match p.object(r)? {
            Obj::Uid(u) => p.object(objects.get(usize::try_from(u).ok()?)?),
            other => Some(other),
        }
    };
    let top = match p.dict_get(root, "$top").and_then(|r| p.object(r)) {
        Some(t @ Obj::Dict(..)) => resolve(p.dict_get(t, "root")?)?,
        _ => p.object(objects.get(1)?)?,
    };
    if !matches!(top, Obj::Dict(..)) {
        return None;
    }
    const KEYS: [&str; 11] = [
        "LastModified",
        "LastStatusChange",
        "Birth",
        "Size",
        "Mode",
        "InodeNumber",
        "UserID",
        "GroupID",
        "ProtectionClass",
        "RelativePath",
        "EncryptionKey",
    ];
    let [last_modified, last_status_change, birth, size, mode, inode, user_id, group_id, protection_class, relative_path, encryption_key] =
        p.dict_get_all(top, &KEYS);
    let int = |r: Option<u64>| -> Option<i64> {
        match resolve(r?)? {
            Obj::Int(v) => Some(v),
            Obj::Real(r) => Some(r as i64),
            _ => None,
        }
    };
    // NSMutableData: an object holding NS.data (a bare data value is accepted too).
    let encryption_key = match encryption_key {
        None => None,
        Some(r) => Some(match resolve(r)? {
            Obj::Data(b) => b.to_vec(),
            d @ Obj::Dict(..) => match resolve(p.dict_get(d, "NS.data")?)? {
                Obj::Data(b) => b.to_vec(),
                _ => return None,
            },
            _ => return None,
        }),
    };
    Some(MbFile {
        last_modified: int(last_modified),
        last_status_change: int(last_status_change),
        birth: int(birth),
        size: int(size),
        mode: int(mode),
        inode: int(inode),
        user_id: int(user_id),
        group_id: int(group_id),
        protection_class: int(protection_class),
        relative_path: relative_path.and_then(resolve).and_then(text),
        encryption_key,
    })
}

/// The reference decoder: the whole archive as a `plist::Value` tree.
pub fn decode_generic(blob: &[u8]) -> Result<MbFile, String> {
    let v = super::parse_plist(blob).map_err(|e| format!("not a plist: {e}"))?;
    let root = v.as_dictionary().ok_or("plist root is not a dictionary")?;
    let objects = root
        .get("$objects")
        .and_then(Value::as_array)
        .ok_or("no $objects array")?;
    let resolve = |v: &Value| -> Option<Value> {
        match v {
            Value::Uid(u) => objects.get(u.get() as usize).cloned(),
            other => Some(other.clone()),
        }
    };
    // $top.root names the MBFile object; fall back to $objects[1] as archivers write it.
    let top = root
        .get("$top")
        .and_then(Value::as_dictionary)
        .and_then(|t| t.get("root"))
        .and_then(resolve)
        .or_else(|| objects.get(1).cloned())
        .ok_or("no root object")?;
    let d = top
        .as_dictionary()
        .ok_or("root object is not a dictionary")?;
    let int = |k: &str| -> Option<i64> {
        let v = resolve(d.get(k)?)?;
        v.as_signed_integer()
            .or_else(|| v.as_unsigned_integer().map(|u| u as i64))
            .or_else(|| v.as_real().map(|r| r as i64))
    };
    Ok(MbFile {
        last_modified: int("LastModified"),
        last_status_change: int("LastStatusChange"),
        birth: int("Birth"),
        size: int("Size"),
        mode: int("Mode"),
        inode: int("InodeNumber"),
        user_id: int("UserID"),
        group_id: int("GroupID"),
        protection_class: int("ProtectionClass"),
        relative_path: d
            .get("RelativePath")
            .and_then(resolve)
            .and_then(|v| v.as_string().map(str::to_string)),
        encryption_key: d
            .get("EncryptionKey")
            .and_then(resolve)
            .and_then(|v| match v {
                Value::Data(b) => Some(b),
                Value::Dictionary(o) => o
                    .get("NS.data")
                    .and_then(resolve)
                    .and_then(Value::into_data),
                _ => None,
            }),
    })
}

/// Writes an MBFile blob the way iOS does (NSKeyedArchiver, binary plist). Used by the
/// sample-case generator and tests, so fixtures are real archives, not a private format.
pub fn encode(f: &MbFile) -> Vec<u8> {
    use plist::{Dictionary, Uid};
    let mut mb = Dictionary::new();
    let mut objects: Vec<Value> = vec![Value::String("$null".into())];
    mb.insert("$class".into(), Value::Uid(Uid::new(3)));
    let mut put = |k: &str, v: Option<i64>| {
        if let Some(v) = v {
            mb.insert(k.into(), Value::Integer(v.into()));
        }
    };
    put("LastModified", f.last_modified);
    put("LastStatusChange", f.last_status_change);
    put("Birth", f.birth);
    put("Size", f.size);
    put("Mode", f.mode);
    put("InodeNumber", f.inode);
    put("UserID", f.user_id);
    put("GroupID", f.group_id);
    put("ProtectionClass", f.protection_class);
    put("Flags", Some(0));
    mb.insert("RelativePath".into(), Value::Uid(Uid::new(2)));
    objects.push(Value::Dictionary(mb));
    objects.push(Value::String(f.relative_path.clone().unwrap_or_default()));
    let mut class = Dictionary::new();
    class.insert(
        "$classes".into(),
        Value::Array(vec![
            Value::String("MBFile".into()),
            Value::String("NSObject".into()),
        ]),
    );
    class.insert("$classname".into(), Value::String("MBFile".into()));
    objects.push(Value::Dictionary(class));
    if let Some(key) = &f.encryption_key {
        // As NSKeyedArchiver writes NSMutableData: an object with NS.data and its class.
        let at = objects.len() as u64;
        if let Some(Value::Dictionary(mb)) = objects.get_mut(1) {
            mb.insert("EncryptionKey".into(), Value::Uid(Uid::new(at)));
        }
        let mut data = Dictionary::new();
        data.insert("NS.data".into(), Value::Data(key.clone()));
        data.insert("$class".into(), Value::Uid(Uid::new(at + 1)));
        objects.push(Value::Dictionary(data));
        let mut class = Dictionary::new();
        class.insert(
            "$classes".into(),
            Value::Array(vec![
                Value::String("NSMutableData".into()),
                Value::String("NSData".into()),
                Value::String("NSObject".into()),
            ]),
        );
        class.insert("$classname".into(), Value::String("NSMutableData".into()));
        objects.push(Value::Dictionary(class));
    }
    let mut top = Dictionary::new();
    top.insert("root".into(), Value::Uid(Uid::new(1)));
    let mut root = Dictionary::new();
    root.insert("$version".into(), Value::Integer(100000.into()));
    root.insert("$archiver".into(), Value::String("NSKeyedArchiver".into()));
    root.insert("$top".into(), Value::Dictionary(top));
    root.insert("$objects".into(), Value::Array(objects));
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = Value::Dictionary(root).to_writer_binary(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let f = MbFile {
            last_modified: Some(1_663_063_494),
            last_status_change: Some(1_663_063_494),
            birth: Some(1_663_063_400),
            size: Some(0),
            mode: Some(0o40755),
            relative_path: Some("Library/SMS/Attachments/65/05".into()),
            ..Default::default()
        };
        assert_eq!(decode(&encode(&f)).unwrap(), f);
        let enc = MbFile {
            size: Some(1234),
            protection_class: Some(3),
            relative_path: Some("Library/SMS/sms.db".into()),
            encryption_key: Some((0u8..44).collect()),
            ..Default::default()
        };
        let back = decode(&encode(&enc)).unwrap();
        assert_eq!(back, enc);
        assert!(back.has_encryption_key());
    }

    #[test]
    fn fast_and_generic_decoders_agree() {
        let samples = [
            MbFile::default(),
            MbFile {
                last_modified: Some(1_663_063_494),
                last_status_change: Some(-1),
                birth: Some(i64::from(u32::MAX) + 7),
                size: Some(1 << 40),
                mode: Some(0o100644),
                inode: Some(12),
                user_id: Some(501),
                group_id: Some(501),
                protection_class: Some(3),
                relative_path: Some("Library/SMS/Attachments/ab/été/IMG_0001.HEIC".into()),
                encryption_key: None,
            },
            MbFile {
                size: Some(40_960),
                protection_class: Some(3),
                relative_path: Some("Library/SMS/sms.db".into()),
                encryption_key: Some((0u8..44).collect()),
                ..Default::default()
            },
        ];
        for f in samples {
            let blob = encode(&f);
            assert_eq!(decode_fast(&blob), Some(decode_generic(&blob).unwrap()));
            if f.relative_path.is_some() {
                assert_eq!(decode(&blob).unwrap(), f);
            }
        }
    }

    /// Every MBFile blob of the real MVT iOS 14.3 test backup (skipped without
    /// ../shared): the borrowing reader and the `plist` crate agree on all of them.
    #[test]
    fn fast_and_generic_decoders_agree_on_a_real_backup() {
        let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/testdata/mvt_ios_backup/Manifest.db");
        if !manifest.exists() {
            eprintln!("skipped: {} not present", manifest.display());
            return;
        }
        // A private copy: the evidence is never opened in place.
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("Manifest.db");
        std::fs::copy(&manifest, &copy).unwrap();
        let conn = rusqlite::Connection::open_with_flags(
            &copy,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let mut stmt = conn
            .prepare("SELECT file FROM Files WHERE file IS NOT NULL")
            .unwrap();
        let blobs: Vec<Vec<u8>> = stmt
            .query_map([], |r| r.get::<_, Vec<u8>>(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(blobs.len() > 10, "{} blobs", blobs.len());
        let mut with_path = 0;
        for blob in &blobs {
            let generic = decode_generic(blob).unwrap();
            assert_eq!(decode_fast(blob).as_ref(), Some(&generic));
            with_path += usize::from(generic.relative_path.is_some());
        }
        assert_eq!(with_path, blobs.len(), "every entry names its path");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode(b"bplist00garbage").is_err());
        assert!(decode(b"").is_err());
    }
}
