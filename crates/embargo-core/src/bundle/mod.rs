//! The sealed payload of DESIGN.md "Sealed payload", in one place both ways: report.json, the
//! readable text part, the MIME layout, the limits, the writer (`write`) and the reader (`read`).
//!
//! ```text
//! multipart/mixed; protected-headers="v1"     Subject: <title>, X-Embargo-Schema: 1
//!   1. text/plain; charset=utf-8 (8bit)       the readable rendering
//!   2. application/json; name="report.json"   the authority when tools disagree
//!   3. <sniffed type>; name="<file>" (base64) one part per attachment
//!   4. application/pgp-keys; name="researcher.asc"   when signed
//!   4. application/pgp-keys; name="reply-key.asc"    anonymous, submitted to an intake
//! ```

pub mod read;
pub mod write;

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::limits::{MAX_ATTACHMENTS, MAX_ATTACHMENT_NAME_BYTES};
use crate::program::Program;
use crate::report::{parse_cvss, Credit, Report};
use crate::taxonomy::class_by_id;
use crate::text::first_unsafe;

/// Size of every read and write on the streaming path.
pub const IO_CHUNK: usize = 64 * 1024;
/// Header naming the report schema inside the bundle.
pub const SCHEMA_HEADER: &str = "X-Embargo-Schema";
/// File name of the JSON part.
pub const REPORT_JSON: &str = "report.json";
/// File name of the researcher's public key part.
pub const RESEARCHER_ASC: &str = "researcher.asc";
/// File name of the reply key part: the public half of a key made for one anonymous report
/// alone ([`crate::replykey`]), which the team encrypts its replies to.
pub const REPLY_KEY_ASC: &str = "reply-key.asc";

/// One attachment as listed in report.json.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AttachmentMeta {
    /// File name (no directories).
    pub name: String,
    /// Size in bytes.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub size: u64,
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
    /// Content type sniffed from the bytes.
    pub content_type: String,
}

/// `report.json`: every front-matter field, the body, the attachments, the generator.
///
/// Fields added after schema 1's first release (`reference`) are optional when read, so that
/// bundles of earlier versions still open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportJson {
    /// Report schema.
    pub schema: u32,
    /// The report's reference (`EMB-7K2Q-9XDA`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Program id.
    pub program: String,
    /// Title.
    pub title: String,
    /// Assets.
    pub assets: Vec<String>,
    /// Class id.
    pub class: String,
    /// CWE id.
    #[serde(default)]
    pub cwe: Option<String>,
    /// CVSS vector.
    #[serde(default)]
    pub cvss: Option<String>,
    /// Severity (given or derived).
    #[serde(default)]
    pub severity: Option<String>,
    /// Credit choice.
    #[serde(default)]
    pub credit: Option<Credit>,
    /// Attestation ids.
    #[serde(default)]
    pub attestations: Vec<String>,
    /// Confirmed scope conditions.
    #[serde(default)]
    pub scope_confirmations: Vec<String>,
    /// Markdown body.
    pub body: String,
    /// Attachments in bundle order.
    #[serde(default)]
    pub attachments: Vec<AttachmentMeta>,
    /// `embargo <version>`.
    pub generator: String,
}

impl ReportJson {
    /// The JSON for a report, its reference and attachments.
    pub fn new(report: &Report, reference: &str, attachments: Vec<AttachmentMeta>) -> ReportJson {
        ReportJson {
            schema: crate::report::SCHEMA,
            reference: Some(reference.to_owned()),
            program: report.program.clone(),
            title: report.title.clone(),
            assets: report.assets.clone(),
            class: report.class.clone(),
            cwe: report.cwe.clone(),
            cvss: report.cvss.clone(),
            severity: report.effective_severity(),
            credit: report.credit.clone(),
            attestations: report.attestations.clone(),
            scope_confirmations: report.scope_confirmations.clone(),
            body: report.body.clone(),
            attachments,
            generator: crate::GENERATOR.to_owned(),
        }
    }

    /// The report this JSON describes.
    pub fn to_report(&self) -> Report {
        Report {
            schema: self.schema,
            program: self.program.clone(),
            title: self.title.clone(),
            assets: self.assets.clone(),
            class: self.class.clone(),
            cwe: self.cwe.clone(),
            cvss: self.cvss.clone(),
            severity: self.severity.clone(),
            credit: self.credit.clone(),
            attestations: self.attestations.clone(),
            scope_confirmations: self.scope_confirmations.clone(),
            reference: self.reference.clone(),
            body: self.body.clone(),
            ..Report::default()
        }
    }
}

/// Where an attachment's bytes come from when sealing.
#[derive(Clone)]
pub enum AttachmentSource {
    /// A file, read again while sealing (and checked against the hash taken when it was added).
    File(PathBuf),
    /// Bytes held in memory (e.g. an image with its metadata scrubbed), wiped when dropped.
    Memory(Arc<Zeroizing<Vec<u8>>>),
}

impl std::fmt::Debug for AttachmentSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttachmentSource::File(p) => f.debug_tuple("File").field(p).finish(),
            AttachmentSource::Memory(b) => write!(f, "Memory({} bytes)", b.len()),
        }
    }
}

/// An attachment to seal: what report.json will say about it, and where its bytes are.
#[derive(Debug, Clone)]
pub struct Attachment {
    /// Name, size, hash and type, as listed in report.json.
    pub meta: AttachmentMeta,
    /// The bytes.
    pub source: AttachmentSource,
    /// SHA-256 of the file on disk when what is sealed differs from it (metadata scrubbed): the
    /// evidence chain back to the researcher's original, kept in the local records.
    pub original_sha256: Option<String>,
}

/// Why an attachment cannot be added.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttachmentError {
    /// The file cannot be read.
    #[error("cannot read attachment {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: io::Error,
    },
    /// Not a regular file (a directory, a device, a pipe).
    #[error("attachment {path} is not a regular file")]
    NotAFile {
        /// The file.
        path: String,
    },
    /// A file name that cannot travel in the bundle.
    #[error("attachment {path}: {why}")]
    BadName {
        /// The file.
        path: String,
        /// What is wrong with the name.
        why: String,
    },
}

/// Checks a name that will be written into report.json and the MIME headers.
pub fn check_attachment_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("it has no file name".into());
    }
    if name.len() > MAX_ATTACHMENT_NAME_BYTES {
        return Err(format!(
            "its name is {} bytes, over the limit of {MAX_ATTACHMENT_NAME_BYTES}",
            name.len()
        ));
    }
    if let Some(c) = first_unsafe(name) {
        return Err(format!(
            "its name contains the control character U+{:04X}; rename the file",
            c as u32
        ));
    }
    Ok(())
}

/// The most attachments one report can carry.
pub fn check_attachment_count(n: usize) -> Result<(), String> {
    if n > MAX_ATTACHMENTS {
        Err(format!(
            "{n} attachments, over the limit of {MAX_ATTACHMENTS}; put them in an archive"
        ))
    } else {
        Ok(())
    }
}

impl Attachment {
    /// Reads a file once: name, size, SHA-256 and sniffed type. Its bytes are read again when
    /// sealing, and sealing fails if they changed.
    pub fn from_file(path: &Path) -> Result<Attachment, AttachmentError> {
        let err = |source| AttachmentError::Read {
            path: path.display().to_string(),
            source,
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        check_attachment_name(&name).map_err(|why| AttachmentError::BadName {
            path: path.display().to_string(),
            why,
        })?;
        let file = File::open(path).map_err(err)?;
        if !file.metadata().map_err(err)?.is_file() {
            return Err(AttachmentError::NotAFile {
                path: path.display().to_string(),
            });
        }
        let mut file = BufReader::with_capacity(IO_CHUNK, file);
        let mut hash = Sha256::new();
        let mut head = Vec::new();
        let mut buf = vec![0u8; IO_CHUNK];
        let mut size = 0u64;
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(err(e)),
            };
            if head.len() < 8192 {
                head.extend_from_slice(&buf[..n.min(8192 - head.len())]);
            }
            hash.update(&buf[..n]);
            size += n as u64;
        }
        Ok(Attachment {
            meta: AttachmentMeta {
                name,
                size,
                sha256: hex(&hash.finalize()),
                content_type: crate::mime::sniff(&head),
            },
            source: AttachmentSource::File(path.to_owned()),
            original_sha256: None,
        })
    }

    /// An attachment held in memory under `name`.
    pub fn from_memory(name: &str, bytes: Zeroizing<Vec<u8>>) -> Result<Attachment, String> {
        check_attachment_name(name)?;
        let meta = AttachmentMeta {
            name: name.to_owned(),
            size: bytes.len() as u64,
            sha256: hex(&Sha256::digest(&bytes[..])),
            content_type: crate::mime::sniff(&bytes[..bytes.len().min(8192)]),
        };
        Ok(Attachment {
            meta,
            source: AttachmentSource::Memory(Arc::new(bytes)),
            original_sha256: None,
        })
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// What the readable part shows besides the report itself.
#[derive(Debug, Clone, Default)]
pub struct TextContext<'a> {
    /// The program, for its name and the wording of the rules attested to.
    pub program: Option<&'a Program>,
    /// The report's reference.
    pub reference: Option<&'a str>,
    /// Where the team can reply (the signer's user ID), when the researcher gave one.
    pub contact: Option<&'a str>,
}

/// The readable first part: a header block, the Markdown body verbatim, then the policy rules the
/// researcher attested to in the policy's own words (CRLF line ends).
pub fn render_text(
    report: &Report,
    ctx: &TextContext<'_>,
    attachments: &[AttachmentMeta],
) -> String {
    let mut rows: Vec<(&str, String)> = Vec::new();
    if let Some(r) = ctx.reference {
        rows.push(("Reference", r.to_owned()));
    }
    rows.push(("Title", report.title.clone()));
    let program_name = match ctx.program {
        Some(p) if p.id == report.program => format!("{} ({})", p.name, p.id),
        _ => report.program.clone(),
    };
    rows.push(("Program", program_name));
    for (i, asset) in report.assets.iter().enumerate() {
        rows.push((if i == 0 { "Assets" } else { "" }, asset.clone()));
    }
    // The class's name first, its id after: "Insecure direct object reference (idor)".
    let class = match class_by_id(&report.class) {
        Some(c) => format!("{} ({})", c.name, c.id),
        None => report.class.clone(),
    };
    rows.push(("Class", class));
    if let Some(cwe) = &report.cwe {
        rows.push(("CWE", cwe.clone()));
    }
    if let Some(vector) = &report.cvss {
        let scored = parse_cvss(vector)
            .map(|s| format!(" ({:.1} {})", s.score, s.severity))
            .unwrap_or_default();
        rows.push(("CVSS", format!("{vector}{scored}")));
    }
    if let Some(sev) = report.effective_severity() {
        rows.push(("Severity", sev));
    }
    rows.push((
        "Credit",
        report
            .credit
            .as_ref()
            .map(|c| c.to_string())
            .unwrap_or_else(|| "not chosen (treated as anonymous)".into()),
    ));
    if let Some(contact) = ctx.contact {
        rows.push(("Contact", contact.to_owned()));
    }
    for (i, a) in attachments.iter().enumerate() {
        rows.push((
            if i == 0 { "Attachments" } else { "" },
            format!(
                "{} ({} bytes, {}, sha256 {})",
                a.name, a.size, a.content_type, a.sha256
            ),
        ));
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    let mut out = String::new();
    for (k, v) in rows {
        let label = if k.is_empty() {
            String::new()
        } else {
            format!("{k}:")
        };
        out += &format!("{label:width$} {v}\n");
    }
    out += "\n";
    out += &report.body;
    let rules: Vec<String> = match ctx.program {
        Some(p) if p.id == report.program => report
            .attestations
            .iter()
            .map(|id| match p.attestations.iter().find(|a| &a.id == id) {
                Some(a) => format!("- {} ({id})", a.wording),
                None => format!("- {id}"),
            })
            .collect(),
        _ => report
            .attestations
            .iter()
            .map(|id| format!("- {id}"))
            .collect(),
    };
    if !rules.is_empty() {
        if !out.ends_with('\n') {
            out += "\n";
        }
        out += "\n---\nThe researcher attests to these rules of the program's policy:\n";
        for r in rules {
            out += &r;
            out += "\n";
        }
    }
    normalize_crlf(&out)
}

/// An upper bound, close enough to decide how a message can travel, of the armored size of a
/// sealed bundle: `text_and_json` bytes of readable part and report.json, the attachments
/// base64-encoded in 76-character lines, the researcher's key, MIME headers, OpenPGP framing
/// and signature, then ASCII armor (4/3 and a line break every 64 characters).
pub fn estimate_armored_len(
    text_and_json: u64,
    attachments: &[AttachmentMeta],
    researcher_asc: u64,
) -> u64 {
    let b64 = |n: u64| n.div_ceil(57) * 78;
    let parts: u64 = attachments
        .iter()
        .map(|a| b64(a.size) + 400 + 2 * a.name.len() as u64 * 3)
        .sum();
    let bundle = text_and_json + parts + researcher_asc + 2048;
    let packets = bundle + bundle / 512 + 1024;
    let armored = packets.div_ceil(3) * 4;
    armored + armored / 64 + 128
}

/// Every line ending as CRLF.
pub(crate) fn normalize_crlf(s: &str) -> String {
    s.replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\n', "\r\n")
}
