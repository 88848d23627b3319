//! AES-256-CBC with a zero IV, as iOS encrypts Manifest.db and every backup file.
//! Decryption streams in chunks (a chunk's IV is the previous chunk's last ciphertext
//! block), so a large database never sits in memory whole. The plaintext is trimmed to
//! the size recorded in the file's MBFile when there is one, else its PKCS#7 padding
//! is removed.

use std::io::{Read, Write};

use aes::cipher::{block_padding::NoPadding, BlockDecryptMut, KeyIvInit};
use sha2::{Digest, Sha256};

use super::keybag::FileKey;

type Aes256CbcDec = cbc::Decryptor<aes::Aes256>;

const BLOCK: usize = 16;
const CHUNK: usize = 1 << 20;

/// What came out of one decryption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decrypted {
    /// Bytes of ciphertext read, and their SHA-256 (the evidence as it is on disk).
    pub cipher_size: u64,
    pub cipher_sha256: String,
    /// Bytes of plaintext produced, and their SHA-256.
    pub plain_size: u64,
    pub plain_sha256: String,
    /// Something about the sizes was off (kept, not fatal).
    pub note: Option<String>,
}

/// Decrypts everything `src` yields into `dst`. `size` is the plaintext size the
/// backup recorded, if any.
pub fn decrypt_stream(
    key: &FileKey,
    size: Option<u64>,
    mut src: impl Read,
    dst: impl Write,
) -> std::io::Result<Decrypted> {
    let mut cipher_hash = Sha256::new();
    let mut sink = Sink::new(dst, size);
    let mut iv = [0u8; BLOCK];
    let mut buf = vec![0u8; CHUNK];
    // Bytes at the start of `buf` that did not make a whole block last time.
    let mut carry = 0usize;
    let mut cipher_size = 0u64;
    loop {
        let n = src.read(&mut buf[carry..])?;
        if n == 0 {
            break;
        }
        cipher_hash.update(&buf[carry..carry + n]);
        cipher_size += n as u64;
        let have = carry + n;
        let whole = have - have % BLOCK;
        if whole > 0 {
            let mut next_iv = [0u8; BLOCK];
            next_iv.copy_from_slice(&buf[whole - BLOCK..whole]);
            decrypt_in_place(key, &iv, &mut buf[..whole]);
            iv = next_iv;
            sink.push(&buf[..whole])?;
        }
        buf.copy_within(whole..have, 0);
        carry = have - whole;
    }
    let mut note = (carry != 0).then(|| {
        format!("ciphertext is {cipher_size} bytes, not whole AES blocks; the last {carry} bytes were not decrypted")
    });
    let (plain_size, plain_sha256, size_note) = sink.finish()?;
    note = note.or(size_note);
    Ok(Decrypted {
        cipher_size,
        cipher_sha256: hex::encode(cipher_hash.finalize()),
        plain_size,
        plain_sha256,
        note,
    })
}

fn decrypt_in_place(key: &FileKey, iv: &[u8; BLOCK], buf: &mut [u8]) {
    // `buf` is whole blocks, so unpadded decryption cannot fail.
    let _ =
        Aes256CbcDec::new(key.0.as_ref().into(), iv.into()).decrypt_padded_mut::<NoPadding>(buf);
}

/// Passes plaintext on, holding back the last block until the end decides how much
/// of it is padding.
struct Sink<W: Write> {
    out: W,
    hash: Sha256,
    size: Option<u64>,
    produced: u64,
    emitted: u64,
    tail: Vec<u8>,
}

impl<W: Write> Sink<W> {
    fn new(out: W, size: Option<u64>) -> Self {
        Sink {
            out,
            hash: Sha256::new(),
            size,
            produced: 0,
            emitted: 0,
            tail: Vec::with_capacity(2 * BLOCK),
        }
    }

    fn push(&mut self, plain: &[u8]) -> std::io::Result<()> {
        self.produced += plain.len() as u64;
        if plain.len() <= BLOCK {
            self.tail.extend_from_slice(plain);
            if self.tail.len() > BLOCK {
                let tail = std::mem::take(&mut self.tail);
                let cut = tail.len() - BLOCK;
                self.emit(&tail[..cut])?;
                self.tail = tail[cut..].to_vec();
            }
            return Ok(());
        }
        let tail = std::mem::take(&mut self.tail);
        self.emit(&tail)?;
        let cut = plain.len() - BLOCK;
        self.emit(&plain[..cut])?;
        self.tail = plain[cut..].to_vec();
        Ok(())
    }

    /// Writes bytes, never past the recorded size.
    fn emit(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let room = self
            .size
            .map_or(u64::MAX, |s| s.saturating_sub(self.emitted));
        let n = bytes.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        self.out.write_all(&bytes[..n])?;
        self.hash.update(&bytes[..n]);
        self.emitted += n as u64;
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<(u64, String, Option<String>)> {
        let tail = std::mem::take(&mut self.tail);
        let mut note = None;
        match self.size {
            Some(s) if s <= self.produced => {
                if self.produced - s > BLOCK as u64 {
                    note = Some(format!(
                        "decrypted {} bytes, the backup records {s}; kept {s}",
                        self.produced
                    ));
                }
                self.emit(&tail)?;
            }
            _ => {
                let keep = tail.len() - pkcs7_padding(&tail);
                if let Some(s) = self.size {
                    note = Some(format!(
                        "decrypted {} bytes, fewer than the {s} the backup records",
                        self.emitted + keep as u64
                    ));
                    // Do not let the size cap cut the bytes that are there.
                    self.size = None;
                }
                self.emit(&tail[..keep])?;
            }
        }
        self.out.flush()?;
        Ok((self.emitted, hex::encode(self.hash.finalize()), note))
    }
}

/// Length of valid PKCS#7 padding at the end of the last block, 0 when there is none.
fn pkcs7_padding(last: &[u8]) -> usize {
    let Some(&p) = last.last() else {
        return 0;
    };
    let p = p as usize;
    if p == 0 || p > BLOCK || p > last.len() {
        return 0;
    }
    if last[last.len() - p..].iter().all(|&b| b as usize == p) {
        p
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::{block_padding::Pkcs7, BlockEncryptMut};
    use zeroize::Zeroizing;

    fn encrypt(key: &[u8; 32], plain: &[u8]) -> Vec<u8> {
        cbc::Encryptor::<aes::Aes256>::new(key.into(), &[0u8; 16].into())
            .encrypt_padded_vec_mut::<Pkcs7>(plain)
    }

    fn run(key: &[u8; 32], cipher: &[u8], size: Option<u64>) -> (Vec<u8>, Decrypted) {
        let mut out = Vec::new();
        let d = decrypt_stream(
            &FileKey(Zeroizing::new(*key)),
            size,
            std::io::Cursor::new(cipher),
            &mut out,
        )
        .unwrap();
        (out, d)
    }

    #[test]
    fn round_trips_across_chunks_with_and_without_size() {
        let key = [3u8; 32];
        for len in [
            0usize,
            1,
            15,
            16,
            17,
            31,
            32,
            CHUNK - 1,
            CHUNK,
            CHUNK + 5,
            3 * CHUNK + 16,
        ] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let cipher = encrypt(&key, &plain);
            let (out, d) = run(&key, &cipher, Some(len as u64));
            assert_eq!(out, plain, "len {len} with size");
            assert_eq!(d.plain_sha256, hex::encode(Sha256::digest(&plain)));
            assert_eq!(d.cipher_size, cipher.len() as u64);
            assert!(d.note.is_none());
            let (out, _) = run(&key, &cipher, None);
            assert_eq!(out, plain, "len {len} by padding");
        }
    }

    #[test]
    fn odd_sizes_are_kept_with_a_note() {
        let key = [4u8; 32];
        let plain = vec![9u8; 100];
        let cipher = encrypt(&key, &plain);
        let (out, d) = run(&key, &cipher, Some(40));
        assert_eq!(out, &plain[..40]);
        assert!(d.note.is_some());
        let (out, d) = run(&key, &cipher, Some(1000));
        assert_eq!(out, plain);
        assert!(d.note.unwrap().contains("fewer"));
        let (_, d) = run(&key, &cipher[..cipher.len() - 3], None);
        assert!(d.note.unwrap().contains("not whole AES blocks"));
    }

    #[test]
    fn wrong_key_gives_garbage_not_a_panic() {
        let cipher = encrypt(&[1u8; 32], b"SQLite format 3\0 and more");
        let (out, _) = run(&[2u8; 32], &cipher, None);
        assert!(!out.starts_with(b"SQLite"));
    }
}
