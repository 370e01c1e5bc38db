//! Attachment scrubbing: removes EXIF/XMP/IPTC and document metadata from JPEG, PNG, WebP and PDF, in memory.
//!
//! A report's attachments are plaintext that must never touch the disk unencrypted, so scrubbing
//! works from bytes to a [`Zeroizing`] buffer the seal streams instead of the file; nothing is
//! written anywhere. The type is read from the magic bytes, never from the name.
//!
//! What goes and what stays:
//! - JPEG: every APPn segment except JFIF (APP0, its thumbnail dropped), the ICC profile (APP2)
//!   and Adobe's colour transform (APP14); comments (COM); metadata segments between progressive
//!   scans; everything after the end-of-image marker (phones append preview and depth images
//!   there, each with its own EXIF). The frame, tables and entropy-coded data are copied byte for
//!   byte: no re-encoding.
//! - PNG: every ancillary chunk that does not affect rendering (`eXIf`, `tEXt`, `zTXt`, `iTXt`
//!   including XMP, `tIME`, C2PA's `caBX`, private chunks); `IDAT` and the colour chunks stay.
//! - WebP: `EXIF`, `XMP ` and unknown chunks; the `VP8X` flags are rewritten to match.
//! - PDF: the trailer's Info dictionary (Author, Creator, Producer, Title, Subject, Keywords,
//!   dates), every `/Metadata` XMP stream and `/PieceInfo` (application private data); earlier
//!   revisions of an incrementally saved file are dropped with them. Page content streams are
//!   kept as they are. Encrypted PDFs are refused.
//!
//! Crates do the parsing: img-parts for the containers, kamadak-exif to tell the user what the
//! EXIF block held, lopdf for PDF. The one scanner written here walks the JPEG bytes after the
//! first scan header, which img-parts keeps as one opaque block.
//!
//! Any failure is an error naming the file and the format: the caller asks the user whether to
//! send the file unscrubbed, this module never does so on its own. After scrubbing, the output is
//! parsed again and checked for leftovers.
//!
//! Limits: the crates keep their own copies of the bytes while parsing (img-parts shares the
//! input buffer, kamadak-exif copies the EXIF block, lopdf holds the whole document); those
//! copies live in memory only and are freed, but not zeroized, when scrubbing ends.

use std::fmt;

use img_parts::jpeg::{markers, Jpeg, JpegSegment};
use img_parts::png::{Png, PngChunk};
use img_parts::webp::WebP;
use img_parts::{Bytes, ImageEXIF};
use serde::Serialize;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

/// The largest file scrubbed in memory (256 MiB); larger ones are refused with
/// [`ScrubError::TooLarge`], as the whole file and its scrubbed copy are held at once.
pub const MAX_SCRUB_BYTES: usize = 256 * 1024 * 1024;

/// A format Embargo scrubs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// JPEG (JFIF/EXIF).
    Jpeg,
    /// PNG.
    Png,
    /// WebP.
    WebP,
    /// PDF.
    Pdf,
}

impl Format {
    /// The name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Format::Jpeg => "JPEG",
            Format::Png => "PNG",
            Format::WebP => "WebP",
            Format::Pdf => "PDF",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A scrubbed file: the bytes to seal instead of the original, and what was taken out.
pub struct Scrubbed {
    /// The format found in the magic bytes.
    pub format: Format,
    /// The file without its metadata; equal to the input when `removed` is empty.
    pub bytes: Zeroizing<Vec<u8>>,
    /// What was removed, one line each, for the user ("GPS position (52.52 N, 13.40 E)").
    pub removed: Vec<String>,
    /// SHA-256 of the original file (lower-case hex), for the local record.
    pub original_sha256: String,
}

impl fmt::Debug for Scrubbed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scrubbed")
            .field("format", &self.format)
            .field("bytes", &format_args!("[{} bytes]", self.bytes.len()))
            .field("removed", &self.removed)
            .field("original_sha256", &self.original_sha256)
            .finish()
    }
}

/// What [`scrub`] did with a file.
#[derive(Debug)]
pub enum Outcome {
    /// A JPEG, PNG, WebP or PDF, scrubbed (possibly with nothing to remove).
    Scrubbed(Scrubbed),
    /// Not a format Embargo scrubs; seal it as it is.
    NotApplicable {
        /// The type the magic bytes suggest, when known (`image/heic`).
        content_type: Option<&'static str>,
        /// `true` for types known to carry metadata Embargo does not remove (HEIC, TIFF, GIF,
        /// office documents, video): worth telling the user.
        may_carry_metadata: bool,
    },
}

/// Errors scrubbing an attachment; the file was not scrubbed and must not be sent silently.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScrubError {
    /// The file is larger than the in-memory limit.
    #[error("{name}: {size} bytes is more than the {} Embargo scrubs in memory", limit(*.max))]
    TooLarge {
        /// The file's name.
        name: String,
        /// Its size.
        size: usize,
        /// The limit, [`MAX_SCRUB_BYTES`].
        max: usize,
    },
    /// The file starts like the format but cannot be read as one.
    #[error("{name}: damaged {format} file, not scrubbed: {reason}")]
    Corrupt {
        /// The file's name.
        name: String,
        /// The format its magic bytes announce.
        format: Format,
        /// What is wrong.
        reason: String,
    },
    /// An encrypted PDF: its metadata cannot be removed without the password.
    #[error("{name}: encrypted PDF, its metadata cannot be removed")]
    EncryptedPdf {
        /// The file's name.
        name: String,
    },
    /// The scrubbed copy could not be written or still held metadata.
    #[error("{name}: could not write the scrubbed {format} file: {reason}")]
    Rewrite {
        /// The file's name.
        name: String,
        /// The format.
        format: Format,
        /// What went wrong.
        reason: String,
    },
}

fn limit(max: usize) -> String {
    if max % (1 << 20) == 0 {
        format!("{} MiB", max >> 20)
    } else {
        format!("{max} bytes")
    }
}

/// The scrubbable format of `bytes`, by magic bytes.
pub fn detect(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Format::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Format::Png)
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(Format::WebP)
    } else if bytes.starts_with(b"%PDF-") {
        Some(Format::Pdf)
    } else {
        None
    }
}

/// Scrubs one attachment in memory; `name` only labels errors.
pub fn scrub(name: &str, bytes: &[u8]) -> Result<Outcome, ScrubError> {
    scrub_with_limit(name, bytes, MAX_SCRUB_BYTES)
}

/// Fuzz entry point: any bytes, no panic; whatever is scrubbed parses again without metadata.
pub fn fuzz_scrub(data: &[u8]) {
    if let Ok(Outcome::Scrubbed(s)) = scrub("fuzz input", data) {
        let again = scrub("fuzz output", &s.bytes).expect("scrubbed output parses again");
        if let Outcome::Scrubbed(again) = again {
            assert!(again.removed.is_empty(), "left over: {:?}", again.removed);
        }
    }
}

fn scrub_with_limit(name: &str, bytes: &[u8], max: usize) -> Result<Outcome, ScrubError> {
    if bytes.len() > max {
        return Err(ScrubError::TooLarge {
            name: name.to_owned(),
            size: bytes.len(),
            max,
        });
    }
    let Some(format) = detect(bytes) else {
        let content_type = infer::get(bytes).map(|t| t.mime_type());
        let may_carry_metadata = content_type.is_some_and(|t| {
            t.starts_with("image/")
                || t.starts_with("video/")
                || t.starts_with("application/vnd.")
                || t == "application/msword"
        });
        return Ok(Outcome::NotApplicable {
            content_type,
            may_carry_metadata,
        });
    };
    let corrupt = |reason: String| ScrubError::Corrupt {
        name: name.to_owned(),
        format,
        reason,
    };
    let rewrite = |reason: String| ScrubError::Rewrite {
        name: name.to_owned(),
        format,
        reason,
    };
    let mut removed = Vec::new();
    let out = match format {
        Format::Jpeg => jpeg(bytes, &mut removed).map_err(corrupt)?,
        Format::Png => png(bytes, &mut removed).map_err(corrupt)?,
        Format::WebP => webp(bytes, &mut removed).map_err(corrupt)?,
        Format::Pdf => match pdf(bytes, &mut removed) {
            Ok(out) => out,
            Err(PdfFailure::Encrypted) => {
                return Err(ScrubError::EncryptedPdf {
                    name: name.to_owned(),
                })
            }
            Err(PdfFailure::Read(reason)) => return Err(corrupt(reason)),
            Err(PdfFailure::Write(reason)) => return Err(rewrite(reason)),
        },
    };
    let bytes_out = match out {
        Some(out) => {
            let mut leftover = Vec::new();
            let reread = match format {
                Format::Jpeg => jpeg(&out, &mut leftover).map(|_| ()),
                Format::Png => png(&out, &mut leftover).map(|_| ()),
                Format::WebP => webp(&out, &mut leftover).map(|_| ()),
                Format::Pdf => pdf(&out, &mut leftover).map(|_| ()).map_err(|e| match e {
                    PdfFailure::Encrypted => "the output is encrypted".to_owned(),
                    PdfFailure::Read(r) | PdfFailure::Write(r) => r,
                }),
            };
            reread.map_err(|e| rewrite(format!("the scrubbed copy does not parse: {e}")))?;
            if !leftover.is_empty() {
                return Err(rewrite(format!(
                    "the scrubbed copy still holds {}",
                    leftover.join(", ")
                )));
            }
            out
        }
        None => {
            debug_assert!(removed.is_empty(), "{removed:?}");
            Zeroizing::new(bytes.to_vec())
        }
    };
    Ok(Outcome::Scrubbed(Scrubbed {
        format,
        bytes: bytes_out,
        removed,
        original_sha256: hex(&Sha256::digest(bytes)),
    }))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn size(n: usize) -> String {
    if n < 1024 {
        format!("{n} bytes")
    } else if n < 1024 * 1024 {
        format!("{:.1} KB", n as f64 / 1024.0)
    } else {
        format!("{:.1} MB", n as f64 / (1024.0 * 1024.0))
    }
}

/// Text from a file, made safe to show: control characters dropped, at most 80 characters.
fn shown(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let clean: String = text
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_owned();
    if clean.chars().count() > 80 {
        format!("{}…", clean.chars().take(79).collect::<String>())
    } else {
        clean
    }
}

/// Copies the encoder's pieces into a zeroizing buffer sized up front (scrubbing only removes,
/// so no reallocation leaves a copy behind).
fn collect(pieces: impl Iterator<Item = Bytes>, capacity: usize) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(capacity + 64));
    for piece in pieces {
        out.extend_from_slice(&piece);
        wipe(piece);
    }
    out
}

/// Zeroizes a `Bytes` buffer when this is its last handle.
fn wipe(b: Bytes) {
    if let Ok(mut m) = b.try_into_mut() {
        m.as_mut().zeroize();
    }
}

/// A buffer of image bytes the container parsers share, zeroized when dropped (declared before
/// the parsed image, so dropped after it, when no slice shares it any more).
struct Wiped(Bytes);

impl Wiped {
    fn new(bytes: &[u8]) -> Wiped {
        Wiped(Bytes::copy_from_slice(bytes))
    }
}

impl Drop for Wiped {
    fn drop(&mut self) {
        wipe(std::mem::take(&mut self.0));
    }
}

// ---------------------------------------------------------------------------------------------
// EXIF

/// What an EXIF (TIFF) block holds, one line per thing a person may care about.
fn describe_exif(tiff: &[u8]) -> Vec<String> {
    use exif::{Context, In, Tag, Value};

    let parsed = exif::Reader::new()
        .continue_on_error(true)
        .read_raw(tiff.to_vec())
        .or_else(|e| e.distill_partial_result(|_| {}));
    let Ok(parsed) = parsed else {
        return vec![format!("EXIF block ({}, unreadable)", size(tiff.len()))];
    };
    let ascii = |tag: Tag| -> Option<String> {
        let field = parsed.get_field(tag, In::PRIMARY)?;
        match &field.value {
            Value::Ascii(parts) => {
                let text = shown(&parts.concat());
                (!text.is_empty()).then_some(text)
            }
            _ => None,
        }
    };
    let mut lines = Vec::new();
    let mut told = 0;

    let coordinate = |value: Tag, reference: Tag| -> Option<String> {
        let v = parsed.get_field(value, In::PRIMARY)?;
        let Value::Rational(parts) = &v.value else {
            return None;
        };
        let degrees = parts.first()?.to_f64()
            + parts.get(1).map_or(0.0, |r| r.to_f64()) / 60.0
            + parts.get(2).map_or(0.0, |r| r.to_f64()) / 3600.0;
        if !degrees.is_finite() {
            return None;
        }
        let r = ascii(reference).unwrap_or_default();
        Some(format!("{degrees:.2} {r}").trim().to_owned())
    };
    let gps_fields = parsed
        .fields()
        .filter(|f| f.tag.context() == Context::Gps)
        .count();
    if gps_fields > 0 {
        match (
            coordinate(Tag::GPSLatitude, Tag::GPSLatitudeRef),
            coordinate(Tag::GPSLongitude, Tag::GPSLongitudeRef),
        ) {
            (Some(lat), Some(lon)) => lines.push(format!("GPS position ({lat}, {lon})")),
            _ => lines.push(format!("GPS data ({gps_fields} fields)")),
        }
        told += gps_fields;
    }
    let make = ascii(Tag::Make);
    let model = ascii(Tag::Model);
    let camera = match (make, model) {
        (Some(make), Some(model)) if model.starts_with(&make) => Some(model),
        (Some(make), Some(model)) => Some(format!("{make} {model}")),
        (one, other) => one.or(other),
    };
    if let Some(camera) = camera {
        lines.push(format!("camera: {camera}"));
    }
    let named: &[(Tag, &str)] = &[
        (Tag::Make, ""),
        (Tag::Model, ""),
        (Tag::LensMake, "lens maker"),
        (Tag::LensModel, "lens"),
        (Tag::BodySerialNumber, "camera serial number"),
        (Tag::LensSerialNumber, "lens serial number"),
        (Tag::CameraOwnerName, "camera owner"),
        (Tag::Artist, "artist"),
        (Tag::Copyright, "copyright"),
        (Tag::ImageDescription, "description"),
        (Tag::Software, "software"),
        (Tag::ImageUniqueID, "image id"),
        (Tag::DateTimeOriginal, "taken"),
        (Tag::DateTime, "modified"),
    ];
    for (tag, label) in named {
        if parsed.get_field(*tag, In::PRIMARY).is_none() {
            continue;
        }
        told += 1;
        if label.is_empty() {
            continue;
        }
        if let Some(value) = ascii(*tag) {
            lines.push(format!("{label}: {value}"));
        }
    }
    for (tag, label) in [
        (Tag::UserComment, "user comment"),
        (Tag::MakerNote, "maker notes"),
    ] {
        if let Some(f) = parsed.get_field(tag, In::PRIMARY) {
            told += 1;
            let n = match &f.value {
                Value::Undefined(b, _) => b.len(),
                _ => 0,
            };
            lines.push(format!("{label} ({})", size(n)));
        }
    }
    if parsed
        .get_field(Tag::JPEGInterchangeFormat, In::THUMBNAIL)
        .is_some()
    {
        lines.push("embedded thumbnail image".to_owned());
    }
    let rest = parsed.fields().len().saturating_sub(told);
    if rest > 0 || lines.is_empty() {
        lines.push(format!("{rest} other EXIF fields"));
    }
    lines
}

// ---------------------------------------------------------------------------------------------
// JPEG

const EXIF_PREFIX: &[u8] = b"Exif\0\0";
const XMP_PREFIX: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";
const XMP_EXT_PREFIX: &[u8] = b"http://ns.adobe.com/xmp/extension/\0";

/// A segment identifier such as "MPF" or "Ducky", for messages.
fn identifier(contents: &[u8]) -> String {
    let id: Vec<u8> = contents
        .iter()
        .take_while(|b| **b != 0 && b.is_ascii_graphic() || **b == b' ')
        .take(24)
        .copied()
        .collect();
    String::from_utf8_lossy(&id).trim().to_owned()
}

/// `Some(kept)` for a metadata-free or rewritten segment, `None` to drop it, with what it held.
fn jpeg_segment(marker: u8, contents: &[u8], removed: &mut Vec<String>) -> Option<Option<Bytes>> {
    match marker {
        markers::APP0 if contents.starts_with(b"JFIF\0") => {
            let (w, h) = (
                contents.get(12).copied().unwrap_or(0),
                contents.get(13).copied().unwrap_or(0),
            );
            if contents.len() > 14 || w != 0 || h != 0 {
                removed.push(format!("JFIF thumbnail ({w}×{h} pixels)"));
                let mut header = contents.get(..14)?.to_vec();
                header[12] = 0;
                header[13] = 0;
                Some(Some(Bytes::from(header)))
            } else {
                Some(None)
            }
        }
        markers::APP2 if contents.starts_with(b"ICC_PROFILE\0") => Some(None),
        markers::APP14 if contents.starts_with(b"Adobe") => Some(None),
        markers::APP1 if contents.starts_with(EXIF_PREFIX) => {
            removed.extend(describe_exif(&contents[EXIF_PREFIX.len()..]));
            None
        }
        markers::APP1 if contents.starts_with(XMP_PREFIX) => {
            removed.push(format!("XMP packet ({})", size(contents.len())));
            None
        }
        markers::APP1 if contents.starts_with(XMP_EXT_PREFIX) => {
            removed.push(format!("extended XMP ({})", size(contents.len())));
            None
        }
        markers::APP13 => {
            removed.push(format!("IPTC/Photoshop data ({})", size(contents.len())));
            None
        }
        markers::APP2 if contents.starts_with(b"MPF\0") => {
            removed.push("multi-picture index (MPF)".to_owned());
            None
        }
        markers::COM => {
            let text = shown(contents);
            if text.is_empty() {
                removed.push(format!("comment ({})", size(contents.len())));
            } else {
                removed.push(format!("comment: {text}"));
            }
            None
        }
        markers::APP0..=markers::APP15 => {
            let id = identifier(contents);
            let n = marker - markers::APP0;
            if id.is_empty() {
                removed.push(format!("APP{n} segment ({})", size(contents.len())));
            } else {
                removed.push(format!("APP{n} segment “{id}” ({})", size(contents.len())));
            }
            None
        }
        _ => Some(None),
    }
}

fn jpeg(bytes: &[u8], removed: &mut Vec<String>) -> Result<Option<Zeroizing<Vec<u8>>>, String> {
    let input = Wiped::new(bytes);
    let mut image = Jpeg::from_bytes(input.0.clone()).map_err(|e| e.to_string())?;
    let mut changed = false;
    let mut kept = Vec::with_capacity(image.segments().len());
    for segment in image.segments_mut().drain(..) {
        match jpeg_segment(segment.marker(), segment.contents(), removed) {
            Some(None) => kept.push(segment),
            Some(Some(rewritten)) => {
                changed = true;
                kept.push(JpegSegment::new_with_contents(segment.marker(), rewritten));
            }
            None => changed = true,
        }
    }
    let Some(sos) = kept.iter().position(JpegSegment::has_entropy) else {
        return Err("no image data (no start-of-scan marker)".to_owned());
    };
    // img-parts keeps everything after the first scan header as the scan's entropy data: the
    // rest of the file.
    let tail_len = kept[sos].len_with_entropy() - kept[sos].len();
    let tail = &bytes[bytes.len() - tail_len..];
    // A rewritten tail is image data too: wiped once the encoder has copied it out.
    let mut new_tail = None;
    if let Some(mut rewritten) = jpeg_tail(tail, removed)? {
        changed = true;
        let rewritten = Bytes::from(std::mem::take(&mut *rewritten));
        let header = kept[sos].contents().clone();
        kept[sos] = JpegSegment::new_with_entropy(markers::SOS, header, rewritten.clone());
        new_tail = Some(Wiped(rewritten));
    }
    if !changed {
        return Ok(None);
    }
    *image.segments_mut() = kept;
    let out = collect(image.encoder(), bytes.len());
    drop(new_tail);
    Ok(Some(out))
}

fn has_length(marker: u8) -> bool {
    !matches!(
        marker,
        0x01 | markers::SOI | markers::EOI | markers::RST0..=markers::RST7
    )
}

/// Walks the bytes after the first scan header: entropy-coded data, later tables and scans (in
/// progressive files), up to the end-of-image marker. Returns the rewritten tail when a metadata
/// segment or trailing data was dropped.
fn jpeg_tail(tail: &[u8], removed: &mut Vec<String>) -> Result<Option<Zeroizing<Vec<u8>>>, String> {
    // Reserved in full on first use, so no reallocation leaves a copy behind.
    let mut out = Zeroizing::new(Vec::new());
    let mut copied_to = 0;
    let mut changed = false;
    let mut i = 0;
    let mut in_entropy = true;
    loop {
        // Find the next marker: 0xFF not followed by 0x00 (stuffing), a restart marker or fill.
        let mut from = i;
        let found = loop {
            let Some(k) =
                memchr::memchr(0xFF, tail.get(from..).unwrap_or_default()).map(|k| from + k)
            else {
                break None;
            };
            let Some(&next) = tail.get(k + 1) else {
                break None;
            };
            let skip = next == 0xFF
                || (in_entropy
                    && (next == 0x00 || (markers::RST0..=markers::RST7).contains(&next)));
            if !skip {
                break Some(k);
            }
            from = k + 1;
        };
        let Some(at) = found else {
            return Err("the image data ends without an end-of-image marker".to_owned());
        };
        let marker = tail[at + 1];
        if marker == 0x00 {
            return Err(format!(
                "stray byte 0xFF at offset {at} after the image data"
            ));
        }
        if marker == markers::EOI {
            let end = at + 2;
            if end < tail.len() {
                removed.push(format!(
                    "{} after the end of the image (embedded previews or other images)",
                    size(tail.len() - end)
                ));
                changed = true;
            }
            if !changed {
                return Ok(None);
            }
            out.reserve_exact(tail.len());
            out.extend_from_slice(&tail[copied_to..end]);
            return Ok(Some(out));
        }
        if !has_length(marker) {
            i = at + 2;
            continue;
        }
        let len = tail
            .get(at + 2..at + 4)
            .map(|l| u16::from_be_bytes([l[0], l[1]]) as usize)
            .ok_or_else(|| format!("segment 0xFF{marker:02X} cut off"))?;
        let end = at + 2 + len;
        if len < 2 || end > tail.len() {
            return Err(format!(
                "segment 0xFF{marker:02X} runs past the end of the file"
            ));
        }
        let contents = &tail[at + 4..end];
        if matches!(marker, markers::APP0..=markers::APP15 | markers::COM) {
            // Application segments and comments only belong before the first scan; any found
            // between scans is dropped, whatever it is.
            let mut what = Vec::new();
            if jpeg_segment(marker, contents, &mut what).is_some() || what.is_empty() {
                what = vec![format!(
                    "metadata segment after the image data ({})",
                    size(contents.len())
                )];
            }
            removed.extend(what);
            out.reserve_exact(tail.len());
            out.extend_from_slice(&tail[copied_to..at]);
            copied_to = end;
            changed = true;
        }
        in_entropy = marker == markers::SOS;
        i = end;
    }
}

// ---------------------------------------------------------------------------------------------
// PNG

/// Chunks that affect how the image renders (or animates); everything else ancillary goes.
const PNG_KEEP: &[&[u8; 4]] = &[
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB",
    b"cICP", b"mDCV", b"mDCv", b"cLLI", b"cLLi", b"bKGD", b"hIST", b"pHYs", b"sPLT", b"acTL",
    b"fcTL", b"fdAT",
];

fn png_chunk(chunk: &PngChunk, removed: &mut Vec<String>) -> bool {
    let kind = chunk.kind();
    let data = chunk.contents();
    if PNG_KEEP.contains(&&kind) || kind[0].is_ascii_uppercase() {
        // Known rendering chunks, and unknown critical ones a decoder cannot skip.
        return true;
    }
    let keyword = |d: &[u8]| shown(&d[..d.iter().position(|b| *b == 0).unwrap_or(d.len())]);
    match &kind {
        b"eXIf" => removed.extend(describe_exif(data)),
        b"tEXt" => {
            let kw = keyword(data);
            let value = data
                .iter()
                .position(|b| *b == 0)
                .map(|p| shown(&data[p + 1..]))
                .unwrap_or_default();
            removed.push(format!("text “{kw}”: {value}"));
        }
        b"zTXt" => removed.push(format!(
            "compressed text “{}” ({})",
            keyword(data),
            size(data.len())
        )),
        b"iTXt" => {
            let kw = keyword(data);
            if kw == "XML:com.adobe.xmp" {
                removed.push(format!("XMP packet ({})", size(data.len())));
            } else {
                removed.push(format!("text “{kw}” ({})", size(data.len())));
            }
        }
        b"tIME" if data.len() == 7 => removed.push(format!(
            "modification time {:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            u16::from_be_bytes([data[0], data[1]]),
            data[2],
            data[3],
            data[4],
            data[5],
            data[6]
        )),
        _ => removed.push(format!(
            "chunk “{}” ({})",
            String::from_utf8_lossy(&kind),
            size(data.len())
        )),
    }
    false
}

fn png(bytes: &[u8], removed: &mut Vec<String>) -> Result<Option<Zeroizing<Vec<u8>>>, String> {
    let input = Wiped::new(bytes);
    let mut image = Png::from_bytes(input.0.clone()).map_err(|e| e.to_string())?;
    if image.chunks().first().map(PngChunk::kind) != Some(*b"IHDR") {
        return Err("the first chunk is not IHDR".to_owned());
    }
    if image.chunks().last().map(PngChunk::kind) != Some(*b"IEND") {
        return Err("the file does not end with an IEND chunk".to_owned());
    }
    let before = image.chunks().len();
    image.chunks_mut().retain(|c| png_chunk(c, removed));
    if image.chunks().len() == before {
        return Ok(None);
    }
    Ok(Some(collect(image.encoder(), bytes.len())))
}

// ---------------------------------------------------------------------------------------------
// WebP

const WEBP_KEEP: &[&[u8; 4]] = &[
    b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP",
];

fn webp(bytes: &[u8], removed: &mut Vec<String>) -> Result<Option<Zeroizing<Vec<u8>>>, String> {
    let input = Wiped::new(bytes);
    let mut image = WebP::from_bytes(input.0.clone()).map_err(|e| e.to_string())?;
    if !image
        .chunks()
        .iter()
        .any(|c| matches!(&c.id(), b"VP8 " | b"VP8L" | b"ANMF"))
    {
        return Err("no image data (no VP8, VP8L or ANMF chunk)".to_owned());
    }
    let before = image.chunks().len();
    let exif_described = match image.exif() {
        Some(exif) => {
            removed.extend(describe_exif(&exif));
            true
        }
        None => false,
    };
    image.chunks_mut().retain(|c| {
        let id = c.id();
        if WEBP_KEEP.contains(&&id) {
            return true;
        }
        let n = c.content().data().map_or(0, |d| d.len());
        match &id {
            b"EXIF" if exif_described => {}
            b"EXIF" => removed.push(format!("EXIF block ({}, unreadable)", size(n))),
            b"XMP " => removed.push(format!("XMP packet ({})", size(n))),
            _ => removed.push(format!(
                "chunk “{}” ({})",
                String::from_utf8_lossy(&id).trim(),
                size(n)
            )),
        }
        false
    });
    if image.chunks().len() == before {
        return Ok(None);
    }
    // Rewrites the VP8X flags (or drops VP8X) to match the chunks left.
    image.set_exif(None);
    Ok(Some(collect(image.encoder(), bytes.len())))
}

// ---------------------------------------------------------------------------------------------
// PDF

enum PdfFailure {
    Encrypted,
    Read(String),
    Write(String),
}

fn pdf(bytes: &[u8], removed: &mut Vec<String>) -> Result<Option<Zeroizing<Vec<u8>>>, PdfFailure> {
    use lopdf::{Document, Object};

    let mut doc = Document::load_mem(bytes).map_err(|e| PdfFailure::Read(e.to_string()))?;
    if doc.was_encrypted() || doc.trailer.get(b"Encrypt").is_ok() {
        return Err(PdfFailure::Encrypted);
    }
    let before = removed.len();
    if let Some(info) = doc.trailer.remove(b"Info") {
        let dict = match &info {
            Object::Reference(id) => doc.get_dictionary(*id).ok(),
            Object::Dictionary(d) => Some(d),
            _ => None,
        };
        match dict {
            Some(d) if !d.is_empty() => {
                for (key, value) in d.iter() {
                    let key = String::from_utf8_lossy(key);
                    let value = match value {
                        Object::String(..) => lopdf::decode_text_string(value)
                            .map(|s| shown(s.as_bytes()))
                            .unwrap_or_else(|_| "(undecodable)".to_owned()),
                        Object::Name(n) => shown(n),
                        other => format!("({})", other.enum_variant()),
                    };
                    removed.push(format!("PDF {key}: {value}"));
                }
            }
            _ => removed.push("PDF document information (empty)".to_owned()),
        }
    }
    let mut xmp = 0;
    let mut piece_info = 0;
    let mut metadata_ids = Vec::new();
    for object in doc.objects.values_mut() {
        let dict = match object {
            Object::Dictionary(d) => d,
            Object::Stream(s) => &mut s.dict,
            _ => continue,
        };
        if let Some(m) = dict.remove(b"Metadata") {
            xmp += 1;
            if let Object::Reference(id) = m {
                metadata_ids.push(id);
            }
        }
        if dict.remove(b"PieceInfo").is_some() {
            piece_info += 1;
        }
    }
    let mut xmp_bytes = 0;
    for id in metadata_ids {
        if let Ok(Object::Stream(s)) = doc.get_object(id) {
            xmp_bytes += s.content.len();
        }
    }
    if xmp > 0 {
        let what = if xmp == 1 {
            format!("XMP metadata ({})", size(xmp_bytes))
        } else {
            format!("{xmp} XMP metadata streams ({})", size(xmp_bytes))
        };
        removed.push(what);
    }
    if piece_info > 0 {
        removed.push(format!(
            "application private data (PieceInfo, {piece_info}×)"
        ));
    }
    // A file saved incrementally keeps every earlier revision, metadata included; a full save
    // writes only the objects still reachable.
    let revisions = bytes.windows(5).filter(|w| w == b"%%EOF").count();
    if revisions > 1 {
        removed.push(format!(
            "{} earlier save(s) kept inside the file (incremental updates or linearization)",
            revisions - 1
        ));
    }
    if removed.len() == before {
        return Ok(None);
    }
    doc.prune_objects();
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len() * 2 + 4096));
    doc.save_to(&mut *out)
        .map_err(|e| PdfFailure::Write(e.to_string()))?;
    Ok(Some(out))
}

#[cfg(test)]
#[path = "scrub_tests.rs"]
mod tests;
