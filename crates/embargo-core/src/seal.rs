//! Sealing: the MIME bundle of DESIGN.md "Sealed payload", signed and encrypted in one stream.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use openpgp::serialize::stream::{
    Armorer, Encryptor, LiteralWriter, Message, Signer as StreamSigner,
};
use openpgp::types::DataFormat;
use openpgp::Cert;
use sequoia_openpgp as openpgp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::export::{self, EmailEnvelope};
use crate::keys::{self, Format, KeyError, Signer};
use crate::mime;
use crate::program::{class_by_id, Program};
use crate::report::{parse_cvss, Credit, Finding, Report};

/// Size of every read and write on the streaming path.
pub(crate) const IO_CHUNK: usize = 64 * 1024;

/// One attachment as listed in report.json.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentMeta {
    /// File name (no directories).
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
    /// Content type sniffed from the bytes.
    pub content_type: String,
}

/// `report.json`: every front-matter field, the body, the attachments, the generator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportJson {
    /// Report schema.
    pub schema: u32,
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
    fn new(report: &Report, attachments: Vec<AttachmentMeta>) -> ReportJson {
        ReportJson {
            schema: crate::report::SCHEMA,
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
            body: self.body.clone(),
            ..Report::default()
        }
    }
}

/// How the sealed message is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputFormat {
    /// ASCII armor (`-----BEGIN PGP MESSAGE-----`).
    Armor,
    /// Binary OpenPGP packets.
    Binary,
    /// A PGP/MIME (RFC 3156) `.eml`.
    Email(EmailEnvelope),
}

/// Everything one seal needs.
pub struct SealRequest<'a> {
    /// The report.
    pub report: &'a Report,
    /// Its program, for the readable rendering (name, contact).
    pub program: Option<&'a Program>,
    /// Team certificates.
    pub recipients: &'a [Cert],
    /// Files to attach.
    pub attachments: &'a [PathBuf],
    /// Researcher signing key, unlocked.
    pub signer: Option<&'a Signer>,
    /// Sign even though credit is anonymous (the key would unmask the researcher).
    pub sign_anyway: bool,
    /// Also encrypt to the signer's own key so the researcher can read back what was sent.
    pub encrypt_to_self: bool,
    /// Use SEIPDv2 for v4 certs that advertise it.
    pub aead: bool,
    /// Armor, binary or email.
    pub output: OutputFormat,
}

/// What was sealed.
#[derive(Debug, Clone, Serialize)]
pub struct Sealed {
    /// The format used.
    pub format: Format,
    /// Recipient certificate fingerprints.
    pub recipients: Vec<String>,
    /// Signer fingerprint when signed.
    pub signer: Option<String>,
    /// Attachments as listed in report.json.
    pub attachments: Vec<AttachmentMeta>,
    /// Bytes of the plaintext bundle.
    pub bundle_bytes: u64,
}

/// Why sealing failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The report has field errors; nothing was written.
    #[error("the report has {} problem(s):\n{}", .0.len(), .0.iter().map(|f| format!("  {f}")).collect::<Vec<_>>().join("\n"))]
    InvalidReport(Vec<Finding>),
    /// Signing an anonymous report would attach the researcher's identity.
    #[error("credit is \"anonymous\" but a signing key was given: the signature and the included public key would identify you")]
    AnonymousSigning,
    /// No recipient at all.
    #[error("no recipient: give the team's certificate")]
    NoRecipients,
    /// A key cannot be used.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// An attachment cannot be read.
    #[error("cannot read attachment {path}: {source}")]
    Attachment {
        /// The file.
        path: String,
        /// The I/O error.
        source: io::Error,
    },
    /// An attachment changed between hashing and encrypting.
    #[error("attachment {path} changed while it was being sealed; seal again")]
    AttachmentChanged {
        /// The file.
        path: String,
    },
    /// The caller cancelled; the output is incomplete and must be discarded.
    #[error("sealing cancelled")]
    Cancelled,
    /// Writing the output failed.
    #[error("cannot write the sealed message: {0}")]
    Output(io::Error),
    /// The OpenPGP layer failed.
    #[error("OpenPGP error while sealing: {0}")]
    OpenPgp(String),
}

impl SealError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            SealError::InvalidReport(_) => {
                Some("fix the fields above (`embargo check` lists everything)")
            }
            SealError::AnonymousSigning => {
                Some("drop --sign-with, or pass --sign-anyway with a separate pseudonymous key")
            }
            SealError::Key(k) => k.hint(),
            _ => None,
        }
    }
}

fn pgp(e: anyhow::Error) -> SealError {
    match e.downcast::<io::Error>() {
        Ok(io) => SealError::Output(io),
        Err(e) => SealError::OpenPgp(format!("{e:#}")),
    }
}

/// Progress of a seal: bytes of attachments encrypted so far, of the total. Return `false` to
/// cancel.
pub type ProgressFn<'a> = dyn FnMut(u64, u64) -> bool + 'a;

/// Seals a report: bundle, optional signature, encryption to every recipient, streaming into
/// `sink`. On error the sink holds garbage; callers write to a temporary file and rename it.
pub fn seal<W: Write + Send + Sync>(
    req: &SealRequest<'_>,
    sink: W,
    progress: &mut ProgressFn<'_>,
) -> Result<Sealed, SealError> {
    let findings = req.report.validate();
    if !findings.is_empty() {
        return Err(SealError::InvalidReport(findings));
    }
    if req.signer.is_some() && req.report.is_anonymous() && !req.sign_anyway {
        return Err(SealError::AnonymousSigning);
    }
    if req.recipients.is_empty() {
        return Err(SealError::NoRecipients);
    }
    let p = keys::policy();
    let mut certs: Vec<Cert> = req.recipients.to_vec();
    if req.encrypt_to_self {
        if let Some(s) = req.signer {
            certs.push(s.cert.clone());
        }
    }
    let subkeys = certs
        .iter()
        .map(|c| keys::encryption_keys(c, &p))
        .collect::<Result<Vec<_>, _>>()?;
    let set = keys::recipients(&certs, &subkeys, req.aead)?;

    let attachments = req
        .attachments
        .iter()
        .map(|p| inspect_attachment(p))
        .collect::<Result<Vec<_>, _>>()?;
    let json = ReportJson::new(req.report, attachments.clone());
    let text = render_text(req.report, req.program, &attachments);

    let mut sink = sink;
    let boundary = mime::boundary();
    let email = match &req.output {
        OutputFormat::Email(env) => Some(env),
        _ => None,
    };
    if let Some(env) = email {
        export::write_email_head(&mut sink, env, &boundary).map_err(SealError::Output)?;
    }
    let mut crlf = export::CrlfWriter::new(&mut sink, email.is_some());
    let bundle_bytes = {
        let mut message = Message::new(&mut crlf);
        if req.output != OutputFormat::Binary {
            message = Armorer::new(message).build().map_err(pgp)?;
        }
        let message = Encryptor::for_recipients(message, set.recipients)
            .build()
            .map_err(pgp)?;
        let message = match req.signer {
            Some(s) => {
                let mut signer = StreamSigner::new(message, s.keypair.clone()).map_err(pgp)?;
                for c in req.recipients {
                    signer = signer.add_intended_recipient(c);
                }
                signer.build().map_err(pgp)?
            }
            None => message,
        };
        let literal = LiteralWriter::new(message)
            .format(DataFormat::Binary)
            .build()
            .map_err(pgp)?;
        let mut out = CountingWriter {
            inner: literal,
            count: 0,
        };
        write_bundle(
            &mut out,
            &boundary,
            req,
            &text,
            &json,
            &attachments,
            progress,
        )?;
        let count = out.count;
        out.inner.finalize().map_err(pgp)?;
        count
    };
    crlf.flush().map_err(SealError::Output)?;
    drop(crlf);
    if email.is_some() {
        export::write_email_tail(&mut sink, &boundary).map_err(SealError::Output)?;
    }
    sink.flush().map_err(SealError::Output)?;
    Ok(Sealed {
        format: set.format,
        recipients: set.fingerprints,
        signer: req.signer.map(|s| s.cert.fingerprint().to_hex()),
        attachments,
        bundle_bytes,
    })
}

/// Seals into a file: written to a temporary file beside it, fsynced, and renamed into place only
/// when sealing succeeded, so a failure or a cancel leaves no partial output. An existing file is
/// replaced only with `overwrite`.
pub fn seal_to_file(
    req: &SealRequest<'_>,
    path: &Path,
    overwrite: bool,
    progress: &mut ProgressFn<'_>,
) -> Result<Sealed, SealError> {
    if path.exists() && !overwrite {
        return Err(SealError::Output(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} already exists", path.display()),
        )));
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sealed".into());
    let suffix: u64 = rand::random();
    let tmp = dir.join(format!(".{name}.{suffix:016x}.partial"));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let file = opts.open(&tmp).map_err(SealError::Output)?;
    let result = (|| {
        let mut writer = io::BufWriter::with_capacity(256 * 1024, &file);
        let sealed = seal(req, &mut writer, progress)?;
        writer.flush().map_err(SealError::Output)?;
        drop(writer);
        file.sync_all().map_err(SealError::Output)?;
        std::fs::rename(&tmp, path).map_err(SealError::Output)?;
        Ok(sealed)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

struct CountingWriter<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn write_bundle(
    out: &mut dyn Write,
    boundary: &str,
    req: &SealRequest<'_>,
    text: &str,
    json: &ReportJson,
    attachments: &[AttachmentMeta],
    progress: &mut ProgressFn<'_>,
) -> Result<(), SealError> {
    let w = |out: &mut dyn Write, s: &str| out.write_all(s.as_bytes()).map_err(SealError::Output);
    w(
        out,
        &format!(
            "Content-Type: multipart/mixed; boundary=\"{boundary}\"; protected-headers=\"v1\"; hp=\"cipher\"\r\n\
             Subject: {}\r\nMIME-Version: 1.0\r\nX-Embargo-Schema: {}\r\n\r\n\
             This is an Embargo vulnerability report (MIME, RFC 2045).\r\n",
            mime::encode_header(&req.report.title),
            crate::report::SCHEMA,
        ),
    )?;
    w(
        out,
        &format!(
            "--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\
             Content-Disposition: inline\r\n\r\n{text}\r\n"
        ),
    )?;
    let json_text = serde_json::to_string_pretty(json)
        .expect("report.json serializes")
        .replace('\n', "\r\n");
    w(
        out,
        &format!(
            "--{boundary}\r\nContent-Type: application/json; charset=utf-8; name=\"report.json\"\r\n\
             Content-Disposition: attachment; filename=\"report.json\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{json_text}\r\n"
        ),
    )?;
    let total: u64 = attachments.iter().map(|a| a.size).sum();
    let mut done = 0u64;
    if !progress(0, total) {
        return Err(SealError::Cancelled);
    }
    let mut buf = vec![0u8; IO_CHUNK];
    for (path, meta) in req.attachments.iter().zip(attachments) {
        // base64, not `binary`: measured, Python's `email.message_from_binary_file` (the
        // documented way to parse a file) turns CR/LF inside binary parts into newlines and
        // corrupts them; gpg and sq only see the whole bundle and are indifferent. See README.
        w(
            out,
            &format!(
                "--{boundary}\r\nContent-Type: {}; {}\r\nContent-Disposition: attachment; {}\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\n",
                meta.content_type,
                mime::param("name", &meta.name),
                mime::param("filename", &meta.name),
            ),
        )?;
        let attachment_err = |source| SealError::Attachment {
            path: path.display().to_string(),
            source,
        };
        let mut file = File::open(path).map_err(attachment_err)?;
        let mut hash = Sha256::new();
        let mut size = 0u64;
        let mut b64 = mime::Base64Lines::default();
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(attachment_err(e)),
            };
            hash.update(&buf[..n]);
            out.write_all(b64.push(&buf[..n]))
                .map_err(SealError::Output)?;
            size += n as u64;
            done += n as u64;
            if !progress(done, total) {
                return Err(SealError::Cancelled);
            }
        }
        out.write_all(b64.finish()).map_err(SealError::Output)?;
        if size != meta.size || hex(&hash.finalize()) != meta.sha256 {
            return Err(SealError::AttachmentChanged {
                path: path.display().to_string(),
            });
        }
    }
    if let Some(signer) = req.signer {
        let armored = keys::armored_public(&signer.cert).replace('\n', "\r\n");
        w(
            out,
            &format!(
                "--{boundary}\r\nContent-Type: application/pgp-keys; name=\"researcher.asc\"\r\n\
                 Content-Disposition: attachment; filename=\"researcher.asc\"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n{armored}\r\n"
            ),
        )?;
    }
    w(out, &format!("--{boundary}--\r\n"))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Name, size, SHA-256 and sniffed type of a file, read once in chunks.
pub fn inspect_attachment(path: &Path) -> Result<AttachmentMeta, SealError> {
    let err = |source| SealError::Attachment {
        path: path.display().to_string(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(err)?;
    if !meta.is_file() {
        return Err(err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        )));
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| err(io::Error::new(io::ErrorKind::InvalidInput, "no file name")))?;
    let mut file = BufReader::with_capacity(IO_CHUNK, File::open(path).map_err(err)?);
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
    Ok(AttachmentMeta {
        name,
        size,
        sha256: hex(&hash.finalize()),
        content_type: mime::sniff(&head),
    })
}

/// The readable first part: a header block, then the Markdown body verbatim (CRLF line ends).
pub fn render_text(
    report: &Report,
    program: Option<&Program>,
    attachments: &[AttachmentMeta],
) -> String {
    let mut rows: Vec<(&str, String)> = vec![("Title", report.title.clone())];
    let program_name = match program {
        Some(p) if p.id == report.program => format!("{} ({})", p.name, p.id),
        _ => report.program.clone(),
    };
    rows.push(("Program", program_name));
    for (i, asset) in report.assets.iter().enumerate() {
        rows.push((if i == 0 { "Assets" } else { "" }, asset.clone()));
    }
    let class = match class_by_id(&report.class) {
        Some(c) => format!("{} ({})", c.id, c.name),
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
    normalize_crlf(&out)
}

/// Every line ending as CRLF.
pub(crate) fn normalize_crlf(s: &str) -> String {
    s.replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\n', "\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use openpgp::cert::CertBuilder;

    fn report() -> Report {
        let text = "+++\nschema = 1\nprogram = \"novu\"\ntitle = \"T\"\nassets = [\"example.org\"]\nclass = \"other\"\ncredit = \"anonymous\"\nattestations = []\nscope_confirmations = []\n+++\nbody\n";
        Report::parse(text).unwrap().0
    }

    #[test]
    fn cancelled_seal_leaves_no_file_and_progress_reaches_the_total() {
        let dir = tempfile::tempdir().unwrap();
        let (team, _) = CertBuilder::general_purpose(Some("t")).generate().unwrap();
        let file = dir.path().join("a.bin");
        std::fs::write(&file, vec![7u8; 300_000]).unwrap();
        let report = report();
        let recipients = [team];
        let attachments = [file];
        let req = SealRequest {
            report: &report,
            program: None,
            recipients: &recipients,
            attachments: &attachments,
            signer: None,
            sign_anyway: false,
            encrypt_to_self: false,
            aead: false,
            output: OutputFormat::Binary,
        };
        let out = dir.path().join("x.pgp");
        let err = seal_to_file(&req, &out, false, &mut |done, _| done < 100_000).unwrap_err();
        assert!(matches!(err, SealError::Cancelled), "{err}");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "only the attachment is left"
        );
        let mut last = (0, 0);
        seal_to_file(&req, &out, false, &mut |d, t| {
            last = (d, t);
            true
        })
        .unwrap();
        assert_eq!(last, (300_000, 300_000));
        assert!(
            matches!(
                seal_to_file(&req, &out, false, &mut |_, _| true),
                Err(SealError::Output(_))
            ),
            "never overwrites unasked"
        );
    }
}
