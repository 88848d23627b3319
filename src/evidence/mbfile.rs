//! The `file` blob of Manifest.db: an NSKeyedArchiver binary plist whose root object
//! is an MBFile dictionary. Values that are UIDs point into `$objects`; they are
//! resolved, never indexed blindly.

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
    pub has_encryption_key: bool,
}

pub fn decode(blob: &[u8]) -> Result<MbFile, String> {
    let v = super::bounded_plist::read(blob).map_err(|e| format!("not a plist: {e}"))?;
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
        has_encryption_key: d.contains_key("EncryptionKey"),
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
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode(b"bplist00garbage").is_err());
        assert!(decode(b"").is_err());
    }
}
