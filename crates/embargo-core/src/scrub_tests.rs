//! Tests of attachment scrubbing on images and PDFs made here, checked with kamadak-exif, the
//! `image` decoders, lopdf and exiftool (a real peer: Debian's libimage-exiftool-perl).

use std::io::Write as _;
use std::process::{Command, Stdio};

use exif::experimental::Writer;
use exif::{Field, In, Rational, Tag, Value};
use expect_test::expect;
use img_parts::jpeg::JpegSegment;
use img_parts::png::PngChunk;
use img_parts::riff::{RiffChunk, RiffContent};

use super::*;

const W: u32 = 64;
const H: u32 = 48;

/// A deterministic RGB test picture.
fn pixels() -> Vec<u8> {
    let mut p = Vec::with_capacity((W * H * 3) as usize);
    for y in 0..H {
        for x in 0..W {
            p.extend_from_slice(&[(x * 4) as u8, (y * 5) as u8, ((x ^ y) * 3) as u8]);
        }
    }
    p
}

/// An EXIF block as a phone writes it: position, camera, owner, time.
fn exif_block() -> Vec<u8> {
    let r = |num: u32, denom: u32| Rational { num, denom };
    let ascii = |tag: Tag, s: &str| Field {
        tag,
        ifd_num: In::PRIMARY,
        value: Value::Ascii(vec![s.as_bytes().to_vec()]),
    };
    let fields = [
        ascii(Tag::Make, "Canon"),
        ascii(Tag::Model, "Canon EOS 5D"),
        ascii(Tag::Artist, "Jane Doe"),
        ascii(Tag::DateTimeOriginal, "2024:05:01 10:00:00"),
        ascii(Tag::BodySerialNumber, "SN-0042-7781"),
        ascii(Tag::GPSLatitudeRef, "N"),
        Field {
            tag: Tag::GPSLatitude,
            ifd_num: In::PRIMARY,
            value: Value::Rational(vec![r(52, 1), r(31, 1), r(1200, 100)]),
        },
        ascii(Tag::GPSLongitudeRef, "E"),
        Field {
            tag: Tag::GPSLongitude,
            ifd_num: In::PRIMARY,
            value: Value::Rational(vec![r(13, 1), r(24, 1), r(0, 1)]),
        },
    ];
    let mut writer = Writer::new();
    for f in &fields {
        writer.push_field(f);
    }
    let mut buf = std::io::Cursor::new(Vec::new());
    writer.write(&mut buf, false).unwrap();
    buf.into_inner()
}

const XMP: &str = r#"<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator><rdf:Seq><rdf:li>Jane Doe</rdf:li></rdf:Seq></dc:creator></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>"#;

fn plain_jpeg() -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode(&pixels(), W, H, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

/// A JPEG with EXIF (GPS, camera, artist), XMP, IPTC, a comment, a comment after the scan and a
/// second image appended after the end marker, as phones store previews.
fn tagged_jpeg() -> Vec<u8> {
    let mut jpeg = Jpeg::from_bytes(plain_jpeg().into()).unwrap();
    jpeg.set_exif(Some(exif_block().into()));
    let mut xmp = b"http://ns.adobe.com/xap/1.0/\0".to_vec();
    xmp.extend_from_slice(XMP.as_bytes());
    let segments = jpeg.segments_mut();
    segments.insert(1, JpegSegment::new_with_contents(markers::APP1, xmp.into()));
    segments.insert(
        1,
        JpegSegment::new_with_contents(
            markers::APP13,
            Bytes::from_static(
                b"Photoshop 3.0\08BIM\x04\x04\0\0\0\0\0\x0c\x1c\x02\x50\0\x08Jane Doe",
            ),
        ),
    );
    segments.insert(
        1,
        JpegSegment::new_with_contents(markers::COM, Bytes::from_static(b"shot by Jane Doe")),
    );
    let mut bytes = jpeg.encoder().bytes().to_vec();
    // A comment between the scan and the end marker.
    let eoi = bytes.len() - 2;
    bytes.splice(eoi..eoi, *b"\xFF\xFE\x00\x0Dafter scan!");
    // An appended image with its own EXIF.
    let mut preview = Jpeg::from_bytes(plain_jpeg().into()).unwrap();
    preview.set_exif(Some(exif_block().into()));
    bytes.extend_from_slice(&preview.encoder().bytes());
    bytes
}

fn plain_png() -> Vec<u8> {
    let mut out = Vec::new();
    image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new(&mut out),
        &pixels(),
        W,
        H,
        image::ExtendedColorType::Rgb8,
    )
    .unwrap();
    out
}

fn tagged_png() -> Vec<u8> {
    let mut png = Png::from_bytes(plain_png().into()).unwrap();
    let ztxt = {
        let mut d = b"Comment\0\0".to_vec();
        d.extend(miniz_oxide::deflate::compress_to_vec_zlib(
            b"shot by Jane Doe",
            6,
        ));
        d
    };
    let itxt = {
        let mut d = b"XML:com.adobe.xmp\0\0\0\0\0".to_vec();
        d.extend_from_slice(XMP.as_bytes());
        d
    };
    let chunks = png.chunks_mut();
    for (kind, data) in [
        (*b"eXIf", exif_block()),
        (*b"tEXt", b"Author\0Jane Doe".to_vec()),
        (*b"zTXt", ztxt),
        (*b"iTXt", itxt),
        (*b"tIME", vec![0x07, 0xE8, 5, 1, 10, 0, 0]),
    ] {
        chunks.insert(1, PngChunk::new(kind, data.into()));
    }
    png.encoder().bytes().to_vec()
}

fn plain_webp() -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::webp::WebPEncoder::new_lossless(&mut out)
        .encode(&pixels(), W, H, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

fn tagged_webp() -> Vec<u8> {
    let mut webp = WebP::from_bytes(plain_webp().into()).unwrap();
    webp.chunks_mut().push(RiffChunk::new(
        *b"XMP ",
        RiffContent::Data(Bytes::from_static(XMP.as_bytes())),
    ));
    // Also rewrites the file as extended (VP8X) with the EXIF and XMP flags set.
    webp.set_exif(Some(exif_block().into()));
    webp.encoder().bytes().to_vec()
}

const PAGE_TEXT: &[u8] = b"BT /F1 24 Tf 72 720 Td (Hello Embargo) Tj ET";

/// A one-page PDF with an Info dictionary and an XMP stream, then an incremental update that
/// rewrites the Info dictionary (the first one stays in the file).
fn tagged_pdf() -> Vec<u8> {
    use lopdf::{dictionary, Document, Object, Stream};

    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
    });
    let content_id = doc.add_object(Stream::new(dictionary! {}, PAGE_TEXT.to_vec()));
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => pages_id,
        "Contents" => content_id,
        "Resources" => dictionary! { "Font" => dictionary! { "F1" => font_id } },
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1,
        }),
    );
    let xmp_id = doc.add_object(Stream::new(
        dictionary! { "Type" => "Metadata", "Subtype" => "XML" },
        XMP.as_bytes().to_vec(),
    ));
    let catalog_id = doc.add_object(dictionary! {
        "Type" => "Catalog", "Pages" => pages_id, "Metadata" => xmp_id,
    });
    let info_id = doc.add_object(dictionary! {
        "Author" => Object::string_literal("Jane Doe"),
        "Creator" => Object::string_literal("Writer"),
        "Producer" => Object::string_literal("LibreOffice 7.6"),
        "Title" => Object::string_literal("Stored XSS in the editor"),
        "CreationDate" => Object::string_literal("D:20240501100000Z"),
    });
    doc.trailer.set("Root", catalog_id);
    doc.trailer.set("Info", info_id);
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).unwrap();

    // Incremental update: a new Info object, a new xref section and trailer pointing back.
    let startxref = {
        let at = bytes.windows(9).rposition(|w| w == b"startxref").unwrap();
        let text = String::from_utf8_lossy(&bytes[at + 9..]);
        text.split_whitespace()
            .next()
            .unwrap()
            .parse::<usize>()
            .unwrap()
    };
    let new_id = doc.max_id + 1;
    let offset = bytes.len();
    write!(
        bytes,
        "{new_id} 0 obj\n<< /Author (J. Doe) /Producer (Embargo test) >>\nendobj\n"
    )
    .unwrap();
    let xref = bytes.len();
    write!(
        bytes,
        "xref\n{new_id} 1\n{offset:010} 00000 n \ntrailer\n<< /Size {} /Root {} 0 R /Info {new_id} 0 R /Prev {startxref} >>\nstartxref\n{xref}\n%%EOF\n",
        new_id + 1,
        catalog_id.0
    )
    .unwrap();
    bytes
}

/// Runs `exiftool -json` on bytes given on stdin (nothing is written to disk) and returns the
/// tags it found, as `Group:Name`.
fn exiftool(bytes: &[u8]) -> serde_json::Map<String, serde_json::Value> {
    let mut child = Command::new("exiftool")
        .args(["-json", "-G", "-a", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("exiftool is needed for this test ({e}); install it: apt-get install libimage-exiftool-perl")
        });
    let mut stdin = child.stdin.take().unwrap();
    let input = bytes.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "exiftool failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    json[0].as_object().unwrap().clone()
}

/// Tag names that must not survive scrubbing.
fn personal_tags(tags: &serde_json::Map<String, serde_json::Value>) -> Vec<String> {
    tags.keys()
        .filter(|k| {
            let group = k.split(':').next().unwrap_or_default();
            let name = k.split(':').nth(1).unwrap_or_default();
            matches!(
                group,
                "EXIF" | "GPS" | "XMP" | "IPTC" | "Photoshop" | "MakerNotes"
            ) || name.starts_with("GPS")
                || [
                    "Make",
                    "Model",
                    "Artist",
                    "Author",
                    "Creator",
                    "Producer",
                    "Title",
                    "Comment",
                    "CreateDate",
                    "ModifyDate",
                    "DateTimeOriginal",
                    "SerialNumber",
                ]
                .contains(&name)
        })
        .cloned()
        .collect()
}

fn scrubbed(name: &str, bytes: &[u8]) -> Scrubbed {
    match scrub(name, bytes).unwrap() {
        Outcome::Scrubbed(s) => s,
        other => panic!("{name}: {other:?}"),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn decoded(bytes: &[u8]) -> Vec<u8> {
    image::load_from_memory(bytes).unwrap().to_rgb8().into_raw()
}

#[test]
fn jpeg_loses_gps_camera_and_names_but_not_a_pixel() {
    let original = tagged_jpeg();
    let before = exiftool(&original);
    assert!(before.contains_key("EXIF:GPSLatitude"), "{before:?}");
    assert!(before.contains_key("EXIF:Make"), "{before:?}");

    let s = scrubbed("photo.jpg", &original);
    assert_eq!(s.format, Format::Jpeg);
    expect![[r#"
        comment: shot by Jane Doe
        IPTC/Photoshop data (39 bytes)
        XMP packet (382 bytes)
        GPS position (52.52 N, 13.40 E)
        camera: Canon EOS 5D
        camera serial number: SN-0042-7781
        artist: Jane Doe
        taken: 2024:05:01 10:00:00
        comment: after scan!
        1.7 KB after the end of the image (embedded previews or other images)"#]]
    .assert_eq(&s.removed.join("\n"));
    assert_eq!(s.original_sha256, hex(&Sha256::digest(&original)));

    // kamadak-exif finds no EXIF at all, exiftool nothing personal, and no name is left in
    // the bytes.
    let read = exif::Reader::new().read_from_container(&mut std::io::Cursor::new(&s.bytes[..]));
    assert!(
        matches!(read, Err(exif::Error::NotFound(_))),
        "EXIF left in the output"
    );
    let after = exiftool(&s.bytes);
    assert_eq!(personal_tags(&after), Vec::<String>::new(), "{after:?}");
    for needle in [&b"Jane"[..], b"Canon", b"SN-0042"] {
        assert!(!contains(&s.bytes, needle));
    }
    // Same pixels, and the entropy-coded data is copied, not re-encoded.
    assert_eq!(decoded(&s.bytes), decoded(&original));
    assert_eq!(decoded(&s.bytes), decoded(&plain_jpeg()));
    let plain = plain_jpeg();
    let sos = plain.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    assert!(s.bytes.ends_with(&plain[sos..]));
}

#[test]
fn png_loses_exif_text_and_xmp_but_not_a_pixel() {
    let original = tagged_png();
    let before = exiftool(&original);
    assert!(before.contains_key("EXIF:GPSLatitude"), "{before:?}");
    assert!(before.contains_key("PNG:Author"), "{before:?}");

    let s = scrubbed("screenshot.png", &original);
    assert_eq!(s.format, Format::Png);
    expect![[r#"
        modification time 2024-05-01 10:00:00
        XMP packet (375 bytes)
        compressed text “Comment” (33 bytes)
        text “Author”: Jane Doe
        GPS position (52.52 N, 13.40 E)
        camera: Canon EOS 5D
        camera serial number: SN-0042-7781
        artist: Jane Doe
        taken: 2024:05:01 10:00:00"#]]
    .assert_eq(&s.removed.join("\n"));
    let after = exiftool(&s.bytes);
    assert_eq!(personal_tags(&after), Vec::<String>::new(), "{after:?}");
    assert!(!after.contains_key("PNG:Author"), "{after:?}");
    assert!(!contains(&s.bytes, b"Jane"));
    assert_eq!(decoded(&s.bytes), decoded(&original));
    // The image data chunks are the original's, byte for byte.
    let idat = |b: &[u8]| -> Vec<u8> {
        Png::from_bytes(Bytes::copy_from_slice(b))
            .unwrap()
            .chunks_by_type(*b"IDAT")
            .flat_map(|c| c.contents().to_vec())
            .collect()
    };
    assert_eq!(idat(&s.bytes), idat(&plain_png()));
}

#[test]
fn webp_loses_exif_and_xmp_but_not_a_pixel() {
    let original = tagged_webp();
    let before = exiftool(&original);
    assert!(before.contains_key("EXIF:GPSLatitude"), "{before:?}");

    let s = scrubbed("capture.webp", &original);
    assert_eq!(s.format, Format::WebP);
    expect![[r#"
        GPS position (52.52 N, 13.40 E)
        camera: Canon EOS 5D
        camera serial number: SN-0042-7781
        artist: Jane Doe
        taken: 2024:05:01 10:00:00
        XMP packet (353 bytes)"#]]
    .assert_eq(&s.removed.join("\n"));
    let after = exiftool(&s.bytes);
    assert_eq!(personal_tags(&after), Vec::<String>::new(), "{after:?}");
    assert!(!contains(&s.bytes, b"Jane"));
    assert_eq!(decoded(&s.bytes), decoded(&original));
    // Nothing left but the lossless bitstream, which is the encoder's own.
    assert_eq!(&s.bytes[..], &plain_webp()[..]);
}

#[test]
fn pdf_loses_its_information_dictionary_xmp_and_old_revisions() {
    let original = tagged_pdf();
    let before = exiftool(&original);
    assert_eq!(
        before.get("PDF:Author").and_then(|v| v.as_str()),
        Some("J. Doe"),
        "{before:?}"
    );
    assert!(contains(&original, b"Jane Doe"));

    let s = scrubbed("report.pdf", &original);
    assert_eq!(s.format, Format::Pdf);
    expect![[r#"
        PDF Author: J. Doe
        PDF Producer: Embargo test
        XMP metadata (353 bytes)
        1 earlier save(s) kept inside the file (incremental updates or linearization)"#]]
    .assert_eq(&s.removed.join("\n"));
    let after = exiftool(&s.bytes);
    assert_eq!(personal_tags(&after), Vec::<String>::new(), "{after:?}");
    for needle in [&b"Jane"[..], b"J. Doe", b"LibreOffice", b"Stored XSS"] {
        assert!(
            !contains(&s.bytes, needle),
            "{}",
            String::from_utf8_lossy(needle)
        );
    }
    let doc = lopdf::Document::load_mem(&s.bytes).unwrap();
    assert!(doc.trailer.get(b"Info").is_err());
    assert!(doc.catalog().unwrap().get(b"Metadata").is_err());
    let page = *doc.get_pages().get(&1).unwrap();
    let contents = doc
        .get_dictionary(page)
        .and_then(|p| p.get(b"Contents"))
        .and_then(lopdf::Object::as_reference)
        .and_then(|id| doc.get_object(id))
        .and_then(lopdf::Object::as_stream)
        .unwrap();
    assert_eq!(contents.content, PAGE_TEXT);
    let before_doc = lopdf::Document::load_mem(&original).unwrap();
    let before_page = *before_doc.get_pages().get(&1).unwrap();
    assert_eq!(
        doc.get_page_content(page),
        before_doc.get_page_content(before_page)
    );
    assert!(doc.extract_text(&[1]).unwrap().contains("Hello Embargo"));
}

#[test]
fn a_clean_file_comes_back_unchanged() {
    for (name, bytes) in [
        ("a.png", plain_png()),
        ("a.webp", plain_webp()),
        ("a.jpg", {
            // The encoder writes a JFIF header without thumbnail: nothing to remove.
            plain_jpeg()
        }),
    ] {
        let s = scrubbed(name, &bytes);
        assert_eq!(s.removed, Vec::<String>::new(), "{name}");
        assert_eq!(&s.bytes[..], &bytes[..], "{name}");
    }
}

#[test]
fn other_files_are_not_applicable() {
    let text = scrub("notes.txt", b"just text\n").unwrap();
    assert!(matches!(
        text,
        Outcome::NotApplicable {
            content_type: None,
            may_carry_metadata: false
        }
    ));
    let gif = scrub("anim.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;").unwrap();
    assert!(matches!(
        gif,
        Outcome::NotApplicable {
            content_type: Some("image/gif"),
            may_carry_metadata: true
        }
    ));
    // The name does not matter, the bytes do.
    assert_eq!(scrubbed("photo.txt", &tagged_jpeg()).format, Format::Jpeg);
}

#[test]
fn damaged_files_are_errors_naming_file_and_format() {
    let jpeg = tagged_jpeg();
    let err = scrub("photo.jpg", &jpeg[..300]).unwrap_err();
    expect![[r#"photo.jpg: damaged JPEG file, not scrubbed: a truncated chunk was read"#]]
        .assert_eq(&err.to_string());

    let plain = plain_jpeg();
    let err = scrub("cut.jpg", &plain[..plain.len() - 2]).unwrap_err();
    expect![[r#"cut.jpg: damaged JPEG file, not scrubbed: the image data ends without an end-of-image marker"#]]
        .assert_eq(&err.to_string());

    let mut png = tagged_png();
    let crc_at = png.len() - 20;
    png[crc_at] ^= 0xFF;
    let err = scrub("shot.png", &png).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("shot.png: damaged PNG file, not scrubbed: "),
        "{err}"
    );

    let err = scrub("x.webp", b"RIFF\x10\x00\x00\x00WEBPVP8 \xff\xff").unwrap_err();
    expect![[r#"x.webp: damaged WebP file, not scrubbed: a truncated chunk was read"#]]
        .assert_eq(&err.to_string());

    let err = scrub("x.pdf", b"%PDF-1.7\nnot really\n").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("x.pdf: damaged PDF file, not scrubbed: "),
        "{err}"
    );
}

#[test]
fn an_encrypted_pdf_is_refused() {
    let mut doc = lopdf::Document::load_mem(&tagged_pdf()).unwrap();
    doc.trailer.set(
        "ID",
        lopdf::Object::Array(vec![
            lopdf::Object::string_literal(vec![7u8; 16]),
            lopdf::Object::string_literal(vec![7u8; 16]),
        ]),
    );
    let state = lopdf::EncryptionState::try_from(lopdf::EncryptionVersion::V2 {
        document: &doc,
        owner_password: "owner",
        user_password: "",
        key_length: 128,
        permissions: lopdf::Permissions::all(),
    })
    .unwrap();
    doc.encrypt(&state).unwrap();
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).unwrap();
    let err = scrub("locked.pdf", &bytes).unwrap_err();
    expect![[r#"locked.pdf: encrypted PDF, its metadata cannot be removed"#]]
        .assert_eq(&err.to_string());
}

#[test]
fn files_over_the_cap_are_refused_by_name() {
    let err = scrub_with_limit("huge.jpg", &tagged_jpeg(), 1000).unwrap_err();
    expect!["huge.jpg: 3922 bytes is more than the 1000 bytes Embargo scrubs in memory"]
        .assert_eq(&err.to_string());
    let err = ScrubError::TooLarge {
        name: "video.jpg".into(),
        size: MAX_SCRUB_BYTES + 1,
        max: MAX_SCRUB_BYTES,
    };
    expect!["video.jpg: 268435457 bytes is more than the 256 MiB Embargo scrubs in memory"]
        .assert_eq(&err.to_string());
}

#[test]
fn mutated_files_never_panic() {
    let seeds = [tagged_jpeg(), tagged_png(), tagged_webp(), tagged_pdf()];
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..800 {
        let mut data = seeds[round % seeds.len()].clone();
        for _ in 0..(next() % 4 + 1) {
            if data.is_empty() {
                break;
            }
            let at = (next() as usize) % data.len();
            match next() % 3 {
                0 => data[at] = next() as u8,
                1 => data.truncate(at.max(8)),
                _ => data.insert(at, [0xFF, 0x00, 0xD9, 0xE1, b'%'][(next() % 5) as usize]),
            }
        }
        fuzz_scrub(&data);
    }
}
