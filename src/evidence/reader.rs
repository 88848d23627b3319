//! Reading evidence files in bounded memory.
//!
//! [`EvidenceReader`] streams a file, hashing every byte on the way, and hands out lines
//! no longer than a cap: a multi-gigabyte log, or one endless line of binary garbage,
//! costs a buffer, never the file. Whatever the parser stops at, the whole file is
//! hashed into the [`InputLog`](super::InputLog) when the reader is finished or
//! dropped.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};

use sha2::{Digest, Sha256};

use super::{Artifact, Evidence};

/// Bytes kept of one line of a text artifact; the rest of a longer line is skipped
/// (and counted by the caller). Real shutdown.log and timeline.csv lines are far
/// shorter.
pub const MAX_LINE: usize = 64 * 1024;

/// Files that are parsed whole (plists, crash reports) are refused above this size.
pub const MAX_WHOLE_FILE: u64 = 64 * 1024 * 1024;

/// One line as [`EvidenceReader::read_line`] returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    /// Bytes of the line that were dropped because it was longer than the cap.
    pub cut: u64,
}

/// Lines with a cap on their length, from an evidence file ([`EvidenceReader`]) or from
/// bytes in memory ([`BytesLines`], for tests and the fuzz targets).
pub trait LineSource {
    /// Reads the next line (without its `\n`) into `buf`, keeping at most `cap` bytes.
    /// `None` at the end.
    fn read_line(&mut self, buf: &mut Vec<u8>, cap: usize) -> io::Result<Option<Line>>;
    /// Bytes read so far.
    fn position(&self) -> u64;
}

impl LineSource for EvidenceReader<'_> {
    fn read_line(&mut self, buf: &mut Vec<u8>, cap: usize) -> io::Result<Option<Line>> {
        EvidenceReader::read_line(self, buf, cap)
    }
    fn position(&self) -> u64 {
        EvidenceReader::position(self)
    }
}

/// [`LineSource`] over bytes already in memory.
pub struct BytesLines<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> BytesLines<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        BytesLines { bytes, pos: 0 }
    }
}

impl LineSource for BytesLines<'_> {
    fn read_line(&mut self, buf: &mut Vec<u8>, cap: usize) -> io::Result<Option<Line>> {
        buf.clear();
        let rest = self.bytes.get(self.pos..).unwrap_or(&[]);
        if rest.is_empty() {
            return Ok(None);
        }
        let (take, end) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (rest.len(), false),
        };
        let keep = take.min(cap);
        buf.extend_from_slice(&rest[..keep]);
        self.pos += take + usize::from(end);
        Ok(Some(Line {
            cut: (take - keep) as u64,
        }))
    }
    fn position(&self) -> u64 {
        self.pos as u64
    }
}

/// A streamed, hashed evidence file.
pub struct EvidenceReader<'a> {
    evidence: &'a Evidence,
    art: &'a Artifact,
    inner: BufReader<File>,
    hasher: Sha256,
    size: u64,
    done: bool,
}

impl<'a> EvidenceReader<'a> {
    pub(super) fn new(evidence: &'a Evidence, art: &'a Artifact, file: File) -> Self {
        EvidenceReader {
            evidence,
            art,
            inner: BufReader::with_capacity(1 << 16, file),
            hasher: Sha256::new(),
            size: 0,
            done: false,
        }
    }

    /// Bytes read so far.
    pub fn position(&self) -> u64 {
        self.size
    }

    /// Reads the next line (without its `\n`) into `buf`, keeping at most `cap` bytes.
    /// `None` at the end of the file.
    pub fn read_line(&mut self, buf: &mut Vec<u8>, cap: usize) -> io::Result<Option<Line>> {
        buf.clear();
        let mut cut = 0u64;
        let mut any = false;
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                break;
            }
            any = true;
            let (take, end) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            let room = cap.saturating_sub(buf.len());
            let keep = take.min(room);
            buf.extend_from_slice(&chunk[..keep]);
            cut += (take - keep) as u64;
            let used = take + usize::from(end);
            self.hasher.update(&chunk[..used]);
            self.size += used as u64;
            self.inner.consume(used);
            if end {
                break;
            }
        }
        Ok(any.then_some(Line { cut }))
    }

    /// Reads the rest of the file (to hash it) and records it in the input log.
    pub fn finish(mut self) -> io::Result<()> {
        self.drain()
    }

    fn drain(&mut self) -> io::Result<()> {
        if self.done {
            return Ok(());
        }
        self.done = true;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            match self.inner.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    self.hasher.update(&buf[..n]);
                    self.size += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let sha = hex::encode(std::mem::take(&mut self.hasher).finalize());
        self.evidence
            .inputs
            .insert(&self.art.path, &self.art.logical, self.size, sha);
        Ok(())
    }
}

impl Read for EvidenceReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(out)?;
        self.hasher.update(&out[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

impl Drop for EvidenceReader<'_> {
    fn drop(&mut self) {
        // A parser that gave up early still leaves the whole file hashed. An I/O
        // error here means the file could not be read to its end: it is then not
        // recorded, and the source has already reported the read error.
        let _ = self.drain();
    }
}

/// A reader that hashes what passes through it (an archive streamed into a decoder).
pub(crate) struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    size: u64,
}

impl<R: Read> Hashing<R> {
    pub(crate) fn new(inner: R) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    /// Reads what the consumer left to the end; the size and hex SHA-256 of it all.
    pub(crate) fn finish(mut self) -> io::Result<(u64, String)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((self.size, hex::encode(self.hasher.finalize())))
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(out)?;
        self.hasher.update(&out[..n]);
        self.size += n as u64;
        Ok(n)
    }
}
