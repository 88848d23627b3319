//! The backup keybag (`Manifest.plist:BackupKeyBag`): tag-length-value blocks, a
//! 4-byte ASCII tag and a 4-byte big-endian length before each value. The blocks before
//! the second `UUID` describe the keybag (VERS, TYPE, UUID, HMCK, WRAP, SALT, ITER,
//! DPWT, DPIC, DPSL); each later `UUID` opens one class key (CLAS, WRAP, KTYP, WPKY,
//! PBKY). Layout from the iphone-dataprotection project's keybag reader.
//!
//! The bytes come from the evidence: every length is checked and every problem is an
//! error, never a panic.

use std::collections::BTreeMap;

use aes_kw::KekAes256;
use zeroize::Zeroizing;

use super::{BackupKey, CryptoError};

/// A class key is wrapped with the key derived from the backup password when its
/// `WRAP` has this bit (1 would be the device's UID key, unusable off the phone).
const WRAP_PASSCODE: u32 = 2;
const WRAP_DEVICE: u32 = 1;

/// Refuse iteration counts far beyond Apple's (10,000,000 and 10,000): a hostile
/// keybag must not keep the analyst's machine busy for days.
pub const MAX_ROUNDS: u32 = 100_000_000;

/// One class key as stored: still wrapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedClassKey {
    pub class: u32,
    pub wrap: u32,
    pub key_type: Option<u32>,
    pub wrapped: Vec<u8>,
}

/// The parsed keybag. Salts and wrapped keys are not secret without the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keybag {
    pub version: Option<u32>,
    pub kind: Option<u32>,
    pub uuid: Vec<u8>,
    pub salt: Vec<u8>,
    pub iterations: u32,
    /// Second-stage salt and rounds (PBKDF2-HMAC-SHA256), absent before iOS 10.2.
    pub dp_salt: Option<Vec<u8>>,
    pub dp_iterations: Option<u32>,
    pub class_keys: Vec<WrappedClassKey>,
}

impl Keybag {
    pub fn parse(blob: &[u8]) -> Result<Keybag, CryptoError> {
        let bad = |m: String| CryptoError::Keybag(m);
        let mut attrs: BTreeMap<[u8; 4], Vec<u8>> = BTreeMap::new();
        let mut uuid: Option<Vec<u8>> = None;
        let mut classes: Vec<BTreeMap<[u8; 4], Vec<u8>>> = Vec::new();
        let mut i = 0usize;
        while i < blob.len() {
            let head = blob
                .get(i..i + 8)
                .ok_or_else(|| bad(format!("truncated block header at byte {i}")))?;
            let mut tag = [0u8; 4];
            tag.copy_from_slice(&head[..4]);
            let len = u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as usize;
            let start = i + 8;
            let value = start
                .checked_add(len)
                .and_then(|end| blob.get(start..end))
                .ok_or_else(|| {
                    bad(format!(
                        "block {} at byte {i} claims {len} bytes, past the end ({} bytes)",
                        show_tag(&tag),
                        blob.len()
                    ))
                })?;
            match &tag {
                b"UUID" if uuid.is_none() => uuid = Some(value.to_vec()),
                b"UUID" => classes.push(BTreeMap::from([(tag, value.to_vec())])),
                b"CLAS" | b"WPKY" | b"KTYP" | b"PBKY" => match classes.last_mut() {
                    Some(c) => {
                        c.insert(tag, value.to_vec());
                    }
                    None => return Err(bad(format!("{} before any class key", show_tag(&tag)))),
                },
                // WRAP belongs to the keybag until the first class key opens.
                b"WRAP" => match classes.last_mut() {
                    Some(c) => {
                        c.insert(tag, value.to_vec());
                    }
                    None => {
                        attrs.insert(tag, value.to_vec());
                    }
                },
                _ => {
                    attrs.insert(tag, value.to_vec());
                }
            }
            i = start + len;
        }
        let uuid = uuid.ok_or_else(|| bad("no UUID block".into()))?;
        let int =
            |m: &BTreeMap<[u8; 4], Vec<u8>>, tag: &[u8; 4]| -> Result<Option<u32>, CryptoError> {
                match m.get(tag) {
                    None => Ok(None),
                    Some(v) => match <[u8; 4]>::try_from(v.as_slice()) {
                        Ok(b) => Ok(Some(u32::from_be_bytes(b))),
                        Err(_) => Err(bad(format!(
                            "{} is {} bytes, expected a 4-byte integer",
                            show_tag(tag),
                            v.len()
                        ))),
                    },
                }
            };
        let salt = attrs
            .get(b"SALT")
            .cloned()
            .ok_or_else(|| bad("no SALT block".into()))?;
        let iterations = int(&attrs, b"ITER")?.ok_or_else(|| bad("no ITER block".into()))?;
        let dp_salt = attrs.get(b"DPSL").cloned();
        let dp_iterations = int(&attrs, b"DPIC")?;
        if dp_salt.is_some() != dp_iterations.is_some() {
            return Err(bad("DPSL and DPIC must come together".into()));
        }
        for (name, n) in [("ITER", Some(iterations)), ("DPIC", dp_iterations)] {
            if let Some(n) = n {
                if n == 0 || n > MAX_ROUNDS {
                    return Err(bad(format!(
                        "{name} is {n}; expected between 1 and {MAX_ROUNDS}"
                    )));
                }
            }
        }
        let mut class_keys = Vec::new();
        for c in &classes {
            let Some(class) = int(c, b"CLAS")? else {
                return Err(bad("a class key has no CLAS block".into()));
            };
            let Some(wrapped) = c.get(b"WPKY").cloned() else {
                // Asymmetric entries without a wrapped key cannot open any file.
                continue;
            };
            class_keys.push(WrappedClassKey {
                class,
                wrap: int(c, b"WRAP")?.unwrap_or(0),
                key_type: int(c, b"KTYP")?,
                wrapped,
            });
        }
        Ok(Keybag {
            version: int(&attrs, b"VERS")?,
            kind: int(&attrs, b"TYPE")?,
            uuid,
            salt,
            iterations,
            dp_salt,
            dp_iterations,
            class_keys,
        })
    }

    /// Whether the key is derived with SHA-1 only (iOS before 10.2).
    pub fn sha1_only(&self) -> bool {
        self.dp_salt.is_none()
    }

    /// The backup key from the password: PBKDF2-HMAC-SHA256 over DPSL/DPIC, then
    /// PBKDF2-HMAC-SHA1 over SALT/ITER (only the latter before iOS 10.2). Takes
    /// seconds with Apple's 10 million rounds.
    pub fn derive(&self, password: &[u8]) -> BackupKey {
        let mut key = Zeroizing::new([0u8; 32]);
        match (&self.dp_salt, self.dp_iterations) {
            (Some(dpsl), Some(dpic)) => {
                let mut first = Zeroizing::new([0u8; 32]);
                pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, dpsl, dpic, &mut first[..]);
                pbkdf2::pbkdf2_hmac::<sha1::Sha1>(
                    &first[..],
                    &self.salt,
                    self.iterations,
                    &mut key[..],
                );
            }
            _ => pbkdf2::pbkdf2_hmac::<sha1::Sha1>(
                password,
                &self.salt,
                self.iterations,
                &mut key[..],
            ),
        }
        BackupKey(key)
    }

    /// Unwraps the class keys with the backup key. A passcode-wrapped key that fails
    /// the RFC 3394 integrity check means the password (or key file) is wrong.
    pub fn unlock(&self, key: &BackupKey) -> Result<ClassKeys, CryptoError> {
        let kek = KekAes256::from(*key.0);
        let mut keys = BTreeMap::new();
        let mut unwrapped = 0usize;
        for c in &self.class_keys {
            if c.wrap & WRAP_PASSCODE != 0 {
                if c.wrapped.len() != 40 {
                    return Err(CryptoError::Keybag(format!(
                        "class {} key is {} bytes wrapped, expected 40",
                        c.class,
                        c.wrapped.len()
                    )));
                }
                let mut k = Zeroizing::new([0u8; 32]);
                kek.unwrap(&c.wrapped, &mut k[..])
                    .map_err(|_| CryptoError::WrongKey)?;
                keys.insert(c.class, k);
                unwrapped += 1;
            } else if c.wrap & WRAP_DEVICE == 0 && c.wrapped.len() == 32 {
                // Not wrapped at all.
                let mut k = Zeroizing::new([0u8; 32]);
                k.copy_from_slice(&c.wrapped);
                keys.insert(c.class, k);
            }
            // Device-wrapped keys need the phone's UID key: no file in a backup uses them.
        }
        if unwrapped == 0 {
            return Err(CryptoError::Keybag(
                "no class key is wrapped with the backup password".into(),
            ));
        }
        Ok(ClassKeys(keys))
    }
}

fn show_tag(tag: &[u8; 4]) -> String {
    if tag.iter().all(|b| b.is_ascii_alphanumeric()) {
        String::from_utf8_lossy(tag).into_owned()
    } else {
        format!("0x{}", hex::encode(tag))
    }
}

/// Unwrapped class keys, by protection class. Never printed.
pub struct ClassKeys(BTreeMap<u32, Zeroizing<[u8; 32]>>);

impl std::fmt::Debug for ClassKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClassKeys({} classes, redacted)", self.0.len())
    }
}

impl ClassKeys {
    /// Unwraps a per-file (or Manifest.db) key: 4-byte little-endian protection class,
    /// then the 40-byte RFC 3394 wrapped key.
    pub fn unwrap_file_key(&self, blob: &[u8]) -> Result<FileKey, CryptoError> {
        let bad = |m: String| CryptoError::FileKey(m);
        if blob.len() != 44 {
            return Err(bad(format!(
                "wrapped key is {} bytes, expected 4 + 40",
                blob.len()
            )));
        }
        let class = u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]);
        let ck = self
            .0
            .get(&class)
            .ok_or_else(|| bad(format!("no key for protection class {class}")))?;
        let kek = KekAes256::from(**ck);
        let mut k = Zeroizing::new([0u8; 32]);
        kek.unwrap(&blob[4..], &mut k[..])
            .map_err(|_| bad(format!("key did not unwrap with the class {class} key")))?;
        Ok(FileKey(k))
    }
}

/// The AES-256 key of one file. Never printed.
pub struct FileKey(pub(super) Zeroizing<[u8; 32]>);

impl std::fmt::Debug for FileKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileKey(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(out: &mut Vec<u8>, tag: &[u8; 4], value: &[u8]) {
        out.extend_from_slice(tag);
        out.extend_from_slice(&(value.len() as u32).to_be_bytes());
        out.extend_from_slice(value);
    }

    fn sample(dp: bool) -> (Vec<u8>, [u8; 32]) {
        let password = b"secret";
        let mut kb = Vec::new();
        block(&mut kb, b"VERS", &3u32.to_be_bytes());
        block(&mut kb, b"TYPE", &1u32.to_be_bytes());
        block(&mut kb, b"UUID", &[7u8; 16]);
        block(&mut kb, b"WRAP", &0u32.to_be_bytes());
        block(&mut kb, b"SALT", &[1u8; 20]);
        block(&mut kb, b"ITER", &10u32.to_be_bytes());
        if dp {
            block(&mut kb, b"DPWT", &1u32.to_be_bytes());
            block(&mut kb, b"DPIC", &20u32.to_be_bytes());
            block(&mut kb, b"DPSL", &[2u8; 20]);
        }
        let parsed = Keybag::parse(&kb).unwrap();
        let key = parsed.derive(password);
        let class_key = [9u8; 32];
        let mut wrapped = [0u8; 40];
        KekAes256::from(*key.0)
            .wrap(&class_key, &mut wrapped)
            .unwrap();
        block(&mut kb, b"UUID", &[8u8; 16]);
        block(&mut kb, b"CLAS", &3u32.to_be_bytes());
        block(&mut kb, b"WRAP", &3u32.to_be_bytes());
        block(&mut kb, b"KTYP", &0u32.to_be_bytes());
        block(&mut kb, b"WPKY", &wrapped);
        (kb, class_key)
    }

    #[test]
    fn parses_and_unlocks_both_schemes() {
        for dp in [true, false] {
            let (kb, class_key) = sample(dp);
            let bag = Keybag::parse(&kb).unwrap();
            assert_eq!(bag.sha1_only(), !dp);
            assert_eq!(bag.class_keys.len(), 1);
            assert_eq!(bag.class_keys[0].class, 3);
            let keys = bag.unlock(&bag.derive(b"secret")).unwrap();
            assert_eq!(*keys.0[&3], class_key);
            assert!(matches!(
                bag.unlock(&bag.derive(b"Secret")),
                Err(CryptoError::WrongKey)
            ));
        }
    }

    #[test]
    fn derivation_matches_the_rfc_6070_vector() {
        // PBKDF2-HMAC-SHA1("password", "salt", 2) from RFC 6070, as the pre-10.2 path.
        let bag = Keybag {
            version: None,
            kind: None,
            uuid: vec![],
            salt: b"salt".to_vec(),
            iterations: 2,
            dp_salt: None,
            dp_iterations: None,
            class_keys: vec![],
        };
        let k = bag.derive(b"password");
        assert_eq!(
            hex::encode(&k.0[..20]),
            "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957"
        );
    }

    #[test]
    fn hostile_bytes_are_errors() {
        let (kb, _) = sample(true);
        // Every truncation and a few corrupted lengths: errors or a keybag, never a panic.
        for n in 0..kb.len() {
            let _ = Keybag::parse(&kb[..n]);
        }
        let mut long = kb.clone();
        long[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(Keybag::parse(&long).is_err());
        assert!(Keybag::parse(b"").is_err());
        assert!(Keybag::parse(b"UUID\0\0\0").is_err());
        let mut huge = Vec::new();
        block(&mut huge, b"UUID", &[0; 16]);
        block(&mut huge, b"SALT", &[0; 20]);
        block(&mut huge, b"ITER", &u32::MAX.to_be_bytes());
        assert!(Keybag::parse(&huge)
            .unwrap_err()
            .to_string()
            .contains("ITER"));
    }

    #[test]
    fn file_keys_check_length_and_class() {
        let (kb, class_key) = sample(false);
        let bag = Keybag::parse(&kb).unwrap();
        let keys = bag.unlock(&bag.derive(b"secret")).unwrap();
        let file_key = [5u8; 32];
        let mut wrapped = vec![0u8; 44];
        wrapped[..4].copy_from_slice(&3u32.to_le_bytes());
        KekAes256::from(class_key)
            .wrap(&file_key, &mut wrapped[4..])
            .unwrap();
        assert_eq!(*keys.unwrap_file_key(&wrapped).unwrap().0, file_key);
        wrapped[..4].copy_from_slice(&4u32.to_le_bytes());
        assert!(keys.unwrap_file_key(&wrapped).is_err());
        assert!(keys.unwrap_file_key(&wrapped[..10]).is_err());
    }
}
