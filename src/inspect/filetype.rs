//! What an SMS/iMessage attachment claims to be (file name, UTI, MIME type) and what its
//! bytes say it is. FORCEDENTRY (CVE-2021-30860) delivered PDF and PSD files named
//! `<random>.gif` so that Messages handed them to ImageIO (Citizen Lab, "FORCEDENTRY:
//! NSO Group iMessage Zero-Click Exploit Captured in the Wild", 2021); BLASTPASS hid
//! WebP images in PassKit (`.pkpass`, a ZIP) attachments.

/// A file format recognisable by name and by magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    Gif,
    Jpeg,
    Png,
    Heif,
    Avif,
    Webp,
    Pdf,
    Psd,
    Zip,
    Tiff,
    Mov,
    Mp4,
    Caf,
    Mp3,
    Amr,
    Jbig2,
}

impl FileType {
    pub fn name(self) -> &'static str {
        match self {
            FileType::Gif => "gif",
            FileType::Jpeg => "jpeg",
            FileType::Png => "png",
            FileType::Heif => "heic",
            FileType::Avif => "avif",
            FileType::Webp => "webp",
            FileType::Pdf => "pdf",
            FileType::Psd => "psd",
            FileType::Zip => "zip",
            FileType::Tiff => "tiff",
            FileType::Mov => "mov",
            FileType::Mp4 => "mp4",
            FileType::Caf => "caf",
            FileType::Mp3 => "mp3",
            FileType::Amr => "amr",
            FileType::Jbig2 => "jbig2",
        }
    }

    /// Formats that legitimately stand for each other: QuickTime and MPEG-4 are both
    /// ISO base media files, and an `.mov` often carries an `mp42` brand.
    fn family(self) -> &'static str {
        match self {
            FileType::Mov | FileType::Mp4 => "isobmff",
            other => other.name(),
        }
    }

    pub fn same_family(self, other: FileType) -> bool {
        self.family() == other.family()
    }

    pub fn from_extension(name: &str) -> Option<FileType> {
        let (_, ext) = name.rsplit_once('.')?;
        Some(match ext.to_ascii_lowercase().as_str() {
            "gif" => FileType::Gif,
            "jpg" | "jpeg" | "jpe" | "jfif" => FileType::Jpeg,
            "png" | "apng" => FileType::Png,
            "heic" | "heif" | "heics" | "hif" => FileType::Heif,
            "avif" => FileType::Avif,
            "webp" => FileType::Webp,
            "pdf" => FileType::Pdf,
            "psd" | "psb" => FileType::Psd,
            // PassKit passes, Office documents and USDZ models are ZIP archives.
            "zip" | "pkpass" | "pkpasses" | "docx" | "xlsx" | "pptx" | "usdz" => FileType::Zip,
            "tif" | "tiff" | "dng" => FileType::Tiff,
            "mov" | "qt" => FileType::Mov,
            "mp4" | "m4v" | "m4a" | "3gp" | "3g2" => FileType::Mp4,
            "caf" => FileType::Caf,
            "mp3" => FileType::Mp3,
            "amr" => FileType::Amr,
            "jb2" | "jbig2" => FileType::Jbig2,
            _ => return None,
        })
    }

    pub fn from_uti(uti: &str) -> Option<FileType> {
        Some(match uti.to_ascii_lowercase().as_str() {
            "com.compuserve.gif" => FileType::Gif,
            "public.jpeg" => FileType::Jpeg,
            "public.png" => FileType::Png,
            "public.heic" | "public.heif" | "public.heics" => FileType::Heif,
            "public.avif" => FileType::Avif,
            "org.webmproject.webp" | "public.webp" => FileType::Webp,
            "com.adobe.pdf" => FileType::Pdf,
            "com.adobe.photoshop-image" => FileType::Psd,
            "public.zip-archive" | "com.pkware.zip-archive" | "com.apple.pkpass" => FileType::Zip,
            "public.tiff" => FileType::Tiff,
            "com.apple.quicktime-movie" => FileType::Mov,
            "public.mpeg-4"
            | "com.apple.m4v-video"
            | "public.mpeg-4-audio"
            | "com.apple.m4a-audio"
            | "public.3gpp" => FileType::Mp4,
            "com.apple.coreaudio-format" => FileType::Caf,
            "public.mp3" => FileType::Mp3,
            "org.3gpp.adaptive-multi-rate-audio" => FileType::Amr,
            _ => return None,
        })
    }

    pub fn from_mime(mime: &str) -> Option<FileType> {
        let base = mime
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        Some(match base.as_str() {
            "image/gif" => FileType::Gif,
            "image/jpeg" | "image/jpg" => FileType::Jpeg,
            "image/png" => FileType::Png,
            "image/heic" | "image/heif" | "image/heic-sequence" | "image/heif-sequence" => {
                FileType::Heif
            }
            "image/avif" => FileType::Avif,
            "image/webp" => FileType::Webp,
            "application/pdf" => FileType::Pdf,
            "image/vnd.adobe.photoshop" | "application/x-photoshop" => FileType::Psd,
            "application/zip" | "application/vnd.apple.pkpass" => FileType::Zip,
            "image/tiff" => FileType::Tiff,
            "video/quicktime" => FileType::Mov,
            "video/mp4" | "video/x-m4v" | "audio/mp4" | "audio/x-m4a" | "video/3gpp" => {
                FileType::Mp4
            }
            "audio/x-caf" => FileType::Caf,
            "audio/mpeg" => FileType::Mp3,
            "audio/amr" => FileType::Amr,
            _ => return None,
        })
    }
}

/// The format the bytes are in, from their magic numbers; `None` when unrecognised.
pub fn sniff(b: &[u8]) -> Option<FileType> {
    let at = |off: usize, magic: &[u8]| b.get(off..off + magic.len()) == Some(magic);
    if at(0, b"GIF87a") || at(0, b"GIF89a") {
        return Some(FileType::Gif);
    }
    if at(0, &[0xff, 0xd8, 0xff]) {
        return Some(FileType::Jpeg);
    }
    if at(0, b"\x89PNG\r\n\x1a\n") {
        return Some(FileType::Png);
    }
    if at(0, b"RIFF") && at(8, b"WEBP") {
        return Some(FileType::Webp);
    }
    if at(0, b"8BPS") {
        return Some(FileType::Psd);
    }
    if at(0, b"PK\x03\x04") || at(0, b"PK\x05\x06") || at(0, b"PK\x07\x08") {
        return Some(FileType::Zip);
    }
    if at(0, b"II*\0") || at(0, b"MM\0*") {
        return Some(FileType::Tiff);
    }
    if at(4, b"ftyp") {
        // ISO base media file: the major brand tells HEIF images from movies (ISO/IEC 14496-12, 23008-12).
        let brand = b.get(8..12).unwrap_or(&[]);
        return Some(match brand {
            b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" | b"hevm" | b"hevs"
            | b"mif1" | b"msf1" => FileType::Heif,
            b"avif" | b"avis" => FileType::Avif,
            b"qt  " => FileType::Mov,
            _ => FileType::Mp4,
        });
    }
    if at(0, b"caff") {
        return Some(FileType::Caf);
    }
    if at(0, b"ID3") {
        return Some(FileType::Mp3);
    }
    if at(0, b"#!AMR") {
        return Some(FileType::Amr);
    }
    if at(0, b"\x97JB2\r\n\x1a\n") {
        return Some(FileType::Jbig2);
    }
    // PDF readers accept junk before the header within the first kilobyte.
    let head = &b[..b.len().min(1024)];
    if head.windows(5).any(|w| w == b"%PDF-") {
        return Some(FileType::Pdf);
    }
    None
}

/// The declared types of an attachment: by file name, UTI and MIME type, in that order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Declared {
    pub by_name: Option<FileType>,
    pub by_uti: Option<FileType>,
    pub by_mime: Option<FileType>,
}

impl Declared {
    pub fn of(name: Option<&str>, uti: Option<&str>, mime: Option<&str>) -> Declared {
        Declared {
            by_name: name.and_then(FileType::from_extension),
            by_uti: uti.and_then(FileType::from_uti),
            by_mime: mime.and_then(FileType::from_mime),
        }
    }

    /// The type to report: the name's (what Messages routes on), else the UTI's, else the MIME type's.
    pub fn primary(&self) -> Option<FileType> {
        self.by_name.or(self.by_uti).or(self.by_mime)
    }

    /// Whether the content disagrees with any declared type.
    pub fn contradicted_by(&self, magic: FileType) -> bool {
        [self.by_name, self.by_uti, self.by_mime]
            .into_iter()
            .flatten()
            .any(|d| !d.same_family(magic))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes() {
        assert_eq!(sniff(b"GIF89a\x01\x00"), Some(FileType::Gif));
        assert_eq!(sniff(b"\xff\xd8\xff\xe0\x00\x10JFIF"), Some(FileType::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some(FileType::Png));
        assert_eq!(sniff(b"RIFF\x24\0\0\0WEBPVP8 "), Some(FileType::Webp));
        assert_eq!(sniff(b"%PDF-1.3\n"), Some(FileType::Pdf));
        assert_eq!(sniff(b"\x00\x00junk%PDF-1.7"), Some(FileType::Pdf));
        assert_eq!(sniff(b"8BPS\x00\x01"), Some(FileType::Psd));
        assert_eq!(sniff(b"PK\x03\x04\x14\0"), Some(FileType::Zip));
        assert_eq!(sniff(b"II*\0\x08\0\0\0"), Some(FileType::Tiff));
        assert_eq!(sniff(b"MM\0*\0\0\0\x08"), Some(FileType::Tiff));
        assert_eq!(
            sniff(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"),
            Some(FileType::Heif)
        );
        assert_eq!(sniff(b"\0\0\0\x18ftypmif1\0\0\0\0"), Some(FileType::Heif));
        assert_eq!(sniff(b"\0\0\0\x14ftypqt  \0\0\0\0"), Some(FileType::Mov));
        assert_eq!(sniff(b"\0\0\0\x18ftypmp42\0\0\0\0"), Some(FileType::Mp4));
        assert_eq!(sniff(b"\0\0\0\x1cftypavif"), Some(FileType::Avif));
        assert_eq!(sniff(b"caff\0\x01\0\0"), Some(FileType::Caf));
        assert_eq!(sniff(b"ID3\x04\0"), Some(FileType::Mp3));
        assert_eq!(sniff(b"#!AMR\n"), Some(FileType::Amr));
        assert_eq!(sniff(b"\x97JB2\r\n\x1a\n\x01"), Some(FileType::Jbig2));
        assert_eq!(sniff(b"BEGIN:VCARD"), None);
        assert_eq!(sniff(b""), None);
        assert_eq!(sniff(b"\0\0\0\0ftyp"), Some(FileType::Mp4));
    }

    #[test]
    fn forcedentry_gif_that_is_pdf() {
        let d = Declared::of(
            Some("ab3kd9Qx1z.gif"),
            Some("com.compuserve.gif"),
            Some("image/gif"),
        );
        assert_eq!(d.primary(), Some(FileType::Gif));
        assert!(d.contradicted_by(FileType::Pdf));
        assert!(d.contradicted_by(FileType::Psd));
        assert!(!d.contradicted_by(FileType::Gif));
    }

    #[test]
    fn movie_brands_do_not_count_as_mismatch() {
        let d = Declared::of(
            Some("IMG_0001.MOV"),
            Some("com.apple.quicktime-movie"),
            Some("video/quicktime"),
        );
        assert!(!d.contradicted_by(FileType::Mp4));
        let p = Declared::of(Some("pass.pkpass"), Some("com.apple.pkpass"), None);
        assert!(!p.contradicted_by(FileType::Zip));
        assert!(p.contradicted_by(FileType::Webp));
    }

    #[test]
    fn unknown_declarations_claim_nothing() {
        let d = Declared::of(
            Some("contact.vcf"),
            Some("public.vcard"),
            Some("text/vcard"),
        );
        assert_eq!(d.primary(), None);
        assert!(!d.contradicted_by(FileType::Pdf));
        assert_eq!(FileType::from_extension("noext"), None);
        assert_eq!(
            FileType::from_mime("IMAGE/GIF; charset=binary"),
            Some(FileType::Gif)
        );
    }
}
