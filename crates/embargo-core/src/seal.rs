//! Sealing: the bundle of DESIGN.md "Sealed payload", signed and encrypted in one stream.
//!
//! Two threads share the work so that both cores are busy: a producer writes the bundle (reading
//! attachments, SHA-256, base64) through the signer and the literal-data framing; the calling
//! thread encrypts what it produces (AES, and for SEIPDv1 the SHA-1 MDC) and writes it out. They
//! pass 64 KiB buffers through a bounded channel, so memory stays flat whatever the size.

use std::io::{self, Write};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Mutex;

use openpgp::serialize::stream::{
    Armorer, Encryptor, LiteralWriter, Message, Signer as StreamSigner,
};
use openpgp::types::DataFormat;
use openpgp::Cert;
use sequoia_openpgp as openpgp;
use serde::Serialize;

use crate::bundle::write::{write_bundle, Parts, WriteError};
use crate::bundle::{render_text, Attachment, AttachmentMeta, ReportJson, TextContext, IO_CHUNK};
use crate::export::{EmailEnvelope, EmailWriter};
use crate::keys::{self, Format, KeyError, Signer};
use crate::mime;
use crate::program::Program;
use crate::reference::Reference;
use crate::report::{Finding, Report};

pub use crate::bundle::write::ProgressFn;

/// How the sealed message is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputFormat {
    /// ASCII armor (`-----BEGIN PGP MESSAGE-----`).
    Armor,
    /// Binary OpenPGP packets.
    Binary,
    /// A PGP/MIME (RFC 3156) `.eml` around the armored message.
    Email(EmailEnvelope),
}

/// Everything one seal needs.
pub struct SealRequest<'a> {
    /// The report.
    pub report: &'a Report,
    /// Its program, for the readable rendering (name, the wording of the rules attested to).
    pub program: Option<&'a Program>,
    /// Team certificates.
    pub recipients: &'a [Cert],
    /// Attachments, inspected when they were added.
    pub attachments: &'a [Attachment],
    /// Researcher signing key, unlocked.
    pub signer: Option<&'a Signer>,
    /// Sign even though credit is anonymous (the key would unmask the researcher).
    pub sign_anyway: bool,
    /// Also encrypt to the signer's own key so the researcher can read back what was sent.
    pub encrypt_to_self: bool,
    /// Use SEIPDv2 for v4 certs that advertise it.
    pub aead: bool,
    /// An anonymous report's reply key ([`crate::replykey`]), carried as `reply-key.asc`.
    pub reply_key: Option<&'a Cert>,
}

/// What was sealed.
#[derive(Debug, Clone, Serialize)]
pub struct Sealed {
    /// The report's reference (the report's own, or a new one when it had none).
    pub reference: String,
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

/// Why sealing failed. Nothing is left behind.
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
    #[error("no recipient: the team's certificate is needed")]
    NoRecipients,
    /// Too many attachments.
    #[error("{count} attachments, over the limit of {limit}")]
    TooManyAttachments {
        /// How many.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A key cannot be used.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Writing the bundle failed (an attachment could not be read or changed, or cancelled).
    #[error(transparent)]
    Bundle(WriteError),
    /// The caller cancelled; nothing was written.
    #[error("sealing cancelled")]
    Cancelled,
    /// The output file exists and may not be replaced.
    #[error("{path} already exists")]
    Exists {
        /// The file.
        path: String,
    },
    /// Writing the output failed.
    #[error("cannot write the sealed message: {0}")]
    Output(io::Error),
    /// The OpenPGP layer failed.
    #[error("OpenPGP error while sealing: {0}")]
    OpenPgp(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<WriteError> for SealError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Cancelled => SealError::Cancelled,
            WriteError::Output(io) => SealError::Output(io),
            other => SealError::Bundle(other),
        }
    }
}

fn pgp(e: anyhow::Error) -> SealError {
    match e.downcast::<io::Error>() {
        Ok(io) => SealError::Output(io),
        Err(e) => SealError::OpenPgp(e.into()),
    }
}

/// Buffers in flight between the two threads.
const PIPELINE_DEPTH: usize = 4;

/// Seals a report into `sink` (armored when `armor`). On error the sink holds garbage; callers
/// write to a temporary file and rename it (see [`seal_to_file`]).
pub fn seal<W: Write + Send + Sync>(
    req: &SealRequest<'_>,
    sink: W,
    armor: bool,
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
    crate::bundle::check_attachment_count(req.attachments.len()).map_err(|_| {
        SealError::TooManyAttachments {
            count: req.attachments.len(),
            limit: crate::limits::MAX_ATTACHMENTS,
        }
    })?;
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

    let reference = match &req.report.reference {
        Some(r) => r.clone(),
        None => Reference::generate().to_string(),
    };
    let metas: Vec<AttachmentMeta> = req.attachments.iter().map(|a| a.meta.clone()).collect();
    let json = ReportJson::new(req.report, &reference, metas.clone());
    let contact = req.signer.and_then(|s| {
        s.cert
            .userids()
            .next()
            .map(|u| String::from_utf8_lossy(u.userid().value()).into_owned())
    });
    let text = render_text(
        req.report,
        &TextContext {
            program: req.program,
            reference: Some(&reference),
            contact: contact.as_deref(),
        },
        &metas,
    );
    let researcher_asc = req.signer.map(|s| keys::armored_public(&s.cert));
    let reply_key_asc = req.reply_key.map(keys::armored_public);
    let boundary = mime::boundary();
    let parts = Parts {
        boundary: &boundary,
        title: &req.report.title,
        text: &text,
        json: &json,
        attachments: req.attachments,
        researcher_asc: researcher_asc.as_deref(),
        reply_key_asc: reply_key_asc.as_deref(),
    };

    let mut message = Message::new(sink);
    if armor {
        message = Armorer::new(message).build().map_err(pgp)?;
    }
    let mut encrypted = Encryptor::for_recipients(message, set.recipients)
        .build()
        .map_err(pgp)?;

    let (full_tx, full_rx) = mpsc::sync_channel::<Vec<u8>>(PIPELINE_DEPTH);
    let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
    let bundle_bytes = std::thread::scope(|scope| {
        let producer = scope.spawn(move || -> Result<u64, SealError> {
            let mut chan = ChannelWriter::new(full_tx, free_rx);
            let mut message = Message::new(&mut chan);
            if let Some(s) = req.signer {
                let mut signer = StreamSigner::new(message, s.keypair.clone()).map_err(pgp)?;
                for c in req.recipients {
                    signer = signer.add_intended_recipient(c);
                }
                message = signer.build().map_err(pgp)?;
            }
            let mut literal = LiteralWriter::new(message)
                .format(DataFormat::Binary)
                .build()
                .map_err(pgp)?;
            let n = write_bundle(&mut literal, &parts, progress)?;
            literal.finalize().map_err(pgp)?;
            chan.finish().map_err(SealError::Output)?;
            Ok(n)
        });
        let consumed = (|| -> Result<(), SealError> {
            for chunk in &full_rx {
                encrypted.write_all(&chunk).map_err(SealError::Output)?;
                // The producer may be gone already; then the buffer is simply dropped.
                let _ = free_tx.send(chunk);
            }
            Ok(())
        })();
        // Unblocks the producer when this side failed.
        drop(full_rx);
        let produced = producer
            .join()
            .expect("the sealing producer does not panic");
        consumed?;
        produced
    })?;
    encrypted.finalize().map_err(pgp)?;
    Ok(Sealed {
        reference,
        format: set.format,
        recipients: set.fingerprints,
        signer: req.signer.map(|s| s.cert.fingerprint().to_hex()),
        attachments: metas,
        bundle_bytes,
    })
}

/// A writer that hands 64 KiB buffers to the other thread.
struct ChannelWriter {
    buf: Vec<u8>,
    full: SyncSender<Vec<u8>>,
    // A Mutex only to make the writer `Sync`, as sequoia's writer stack requires; one thread uses it.
    free: Mutex<Receiver<Vec<u8>>>,
}

impl ChannelWriter {
    fn new(full: SyncSender<Vec<u8>>, free: Receiver<Vec<u8>>) -> ChannelWriter {
        ChannelWriter {
            buf: Vec::with_capacity(IO_CHUNK),
            full,
            free: Mutex::new(free),
        }
    }

    fn send(&mut self) -> io::Result<()> {
        let next = self
            .free
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .try_recv()
            .map(|mut b| {
                b.clear();
                b
            })
            .unwrap_or_else(|_| Vec::with_capacity(IO_CHUNK));
        let full = std::mem::replace(&mut self.buf, next);
        self.full
            .send(full)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the encrypting side stopped"))
    }

    /// Sends what is buffered and closes the channel.
    fn finish(mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.send()?;
        }
        Ok(())
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = IO_CHUNK - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == IO_CHUNK {
            self.send()?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Seals into a file: written to a temporary file beside it (mode 0600), fsynced, and renamed
/// into place only when sealing succeeded, so a failure or a cancel leaves no partial output. An
/// existing file is replaced only with `overwrite`; without it the rename refuses to replace a
/// file that appeared meanwhile.
pub fn seal_to_file(
    req: &SealRequest<'_>,
    format: &OutputFormat,
    path: &Path,
    overwrite: bool,
    progress: &mut ProgressFn<'_>,
) -> Result<Sealed, SealError> {
    let exists = || SealError::Exists {
        path: path.display().to_string(),
    };
    if !overwrite && path.symlink_metadata().is_ok() {
        return Err(exists());
    }
    let tmp = crate::fsutil::TempFile::beside(path).map_err(SealError::Output)?;
    let sealed = (|| -> Result<Sealed, SealError> {
        let mut writer = io::BufWriter::with_capacity(256 * 1024, tmp.file());
        let sealed = match format {
            OutputFormat::Binary => seal(req, &mut writer, false, progress)?,
            OutputFormat::Armor => seal(req, &mut writer, true, progress)?,
            OutputFormat::Email(env) => {
                let mut email = EmailWriter::new(&mut writer, env).map_err(SealError::Output)?;
                let sealed = seal(req, &mut email, true, progress)?;
                email.finish().map_err(SealError::Output)?;
                sealed
            }
        };
        writer.flush().map_err(SealError::Output)?;
        Ok(sealed)
    })()?;
    match tmp.persist(path, overwrite) {
        Ok(()) => Ok(sealed),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(exists()),
        Err(e) => Err(SealError::Output(e)),
    }
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
        let attachments = [Attachment::from_file(&file).unwrap()];
        let req = SealRequest {
            report: &report,
            program: None,
            recipients: &recipients,
            attachments: &attachments,
            signer: None,
            sign_anyway: false,
            encrypt_to_self: false,
            aead: false,
            reply_key: None,
        };
        let out = dir.path().join("x.pgp");
        let err = seal_to_file(&req, &OutputFormat::Binary, &out, false, &mut |done, _| {
            done < 100_000
        })
        .unwrap_err();
        assert!(matches!(err, SealError::Cancelled), "{err}");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "only the attachment is left"
        );
        let mut last = (0, 0);
        let sealed = seal_to_file(&req, &OutputFormat::Binary, &out, false, &mut |d, t| {
            last = (d, t);
            true
        })
        .unwrap();
        assert_eq!(last, (300_000, 300_000));
        assert!(sealed.reference.starts_with("EMB-"));
        assert!(
            matches!(
                seal_to_file(&req, &OutputFormat::Binary, &out, false, &mut |_, _| true),
                Err(SealError::Exists { .. })
            ),
            "never overwrites unasked"
        );
    }

    #[test]
    fn attachment_count_is_capped() {
        let (team, _) = CertBuilder::general_purpose(Some("t")).generate().unwrap();
        let report = report();
        let recipients = [team];
        let one = Attachment::from_memory("a.txt", zeroize::Zeroizing::new(b"a".to_vec())).unwrap();
        let attachments = vec![one; crate::limits::MAX_ATTACHMENTS + 1];
        let req = SealRequest {
            report: &report,
            program: None,
            recipients: &recipients,
            attachments: &attachments,
            signer: None,
            sign_anyway: false,
            encrypt_to_self: false,
            aead: false,
            reply_key: None,
        };
        let err = seal(&req, io::sink(), false, &mut |_, _| true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "10001 attachments, over the limit of 10000"
        );
    }
}
