//! Opening (team side): decrypt and verify a sealed report (`decrypt`), read the bundle as it
//! streams (`crate::bundle::read`), and stage the files in the output directory (`staging`),
//! moving them into place only after the integrity, signature and consistency checks pass.

pub mod decrypt;
pub mod memory;
pub mod staging;

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use openpgp::Cert;
use sequoia_openpgp as openpgp;
use serde::Serialize;

use crate::bundle::read::{self as bundle_read, AttachmentSink, BundleError, Contents};
use crate::bundle::{IO_CHUNK, REPLY_KEY_ASC, REPORT_JSON, RESEARCHER_ASC};
use crate::keys::{self, Format, KeyError, PassphraseFn};
use crate::mime::{MimeError, MimeReader};
use crate::text::safe_file_name;

pub use decrypt::{DecryptFailure, SignatureStatus};
pub use memory::{open_in_memory, OpenedInMemory};
pub use staging::OutputDirProblem;
use staging::{OutputDir, Staging, ATTACHMENTS_DIR};

/// Default cap on decrypted output (DESIGN.md: 4 GiB).
pub const DEFAULT_MAX_SIZE: u64 = 4 << 30;

/// What `open` needs.
pub struct OpenRequest<'a> {
    /// The team's secret keys.
    pub secret_keys: &'a [Cert],
    /// Certificates whose signatures count. When given, a signature verified only by the key
    /// inside the bundle is "unknown".
    pub verify_with: &'a [Cert],
    /// Asked for a secret key's passphrase.
    pub passphrase: &'a mut PassphraseFn<'a>,
    /// Where the files go; must be empty or absent, ours, and not writable by others.
    pub output_dir: &'a Path,
    /// Cap on decrypted bytes.
    pub max_size: u64,
    /// Refuse a message without a good signature.
    pub require_signature: bool,
    /// Set from elsewhere (a signal handler, the app's cancel button) to stop; nothing is left.
    pub cancel: Option<&'a AtomicBool>,
    /// Told how many bytes of the message have been read so far.
    pub progress: Option<&'a (dyn Fn(u64) + Send + Sync)>,
    /// Where the staging directory is written down while it exists (the data directory's
    /// journal, [`crate::store::Store::open_journal`]), so that a crash's unverified plaintext
    /// is removed at the next start of any command or the app ([`staging::clean_interrupted`]).
    pub journal: Option<&'a Path>,
}

/// What was opened and where it went.
#[derive(Debug, Clone, Serialize)]
pub struct Opened {
    /// Signature state.
    pub signature: SignatureStatus,
    /// Encryption format of the message.
    pub format: Format,
    /// Fingerprint of the secret key that decrypted it.
    pub decrypted_with: String,
    /// The report's title when it was an Embargo bundle.
    pub title: Option<String>,
    /// The report's reference, when it had one.
    pub reference: Option<String>,
    /// Every file written, relative to the output directory.
    pub files: Vec<PathBuf>,
    /// Set when the message was not an Embargo bundle and went into one file.
    pub single_file: Option<String>,
    /// Staging directories of interrupted earlier runs that were removed.
    pub removed_leftovers: Vec<String>,
}

/// Why a message could not be opened. Nothing is left in the output directory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// Input unreadable.
    #[error("cannot read the message: {0}")]
    Read(#[source] io::Error),
    /// Not OpenPGP data, or not a message.
    #[error("not an OpenPGP message: {0}")]
    NotOpenPgp(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// No secret key matches a recipient.
    #[error("no matching secret key: the message is for {recipients}; the given key has {ours}")]
    NoMatchingKey {
        /// Recipient key ids in the message.
        recipients: String,
        /// Our (sub)key fingerprints.
        ours: String,
    },
    /// A secret key could not be unlocked.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Tampered, truncated or corrupt ciphertext.
    #[error("integrity check failed, the message was modified or is corrupt: {0}")]
    Integrity(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The message was not encrypted.
    #[error("the message is not encrypted; Embargo only opens encrypted reports")]
    NotEncrypted,
    /// A bundle whose parts do not match its report.json, or do not parse.
    #[error("the report bundle is inconsistent: {0}")]
    Inconsistent(BundleError),
    /// A part of the bundle over the limits `seal` keeps to.
    #[error("the report is too large to open: {0}")]
    PartTooLarge(BundleError),
    /// The signature does not verify.
    #[error("{0}")]
    BadSignature(SignatureStatus),
    /// A good signature by a known key was required, and there is none.
    #[error("a good signature is required, and the report is {0}")]
    SignatureRequired(SignatureStatus),
    /// Decrypted output over the cap.
    #[error("decrypted output exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The cap.
        limit: u64,
    },
    /// The output directory is not usable.
    #[error("output directory {path} {problem}")]
    OutputDir {
        /// The directory.
        path: String,
        /// Why.
        problem: OutputDirProblem,
    },
    /// Writing output failed.
    #[error("cannot write output: {0}")]
    Output(io::Error),
    /// Cancelled (e.g. by SIGINT); nothing was left.
    #[error("cancelled; nothing was written")]
    Cancelled,
}

impl From<DecryptFailure> for OpenError {
    fn from(f: DecryptFailure) -> Self {
        match f {
            DecryptFailure::Integrity(e) => OpenError::Integrity(e),
            DecryptFailure::Read(e) => OpenError::Read(e),
            // The limit is filled in by `open`, which knows it.
            DecryptFailure::TooLarge => OpenError::TooLarge { limit: 0 },
            DecryptFailure::Cancelled => OpenError::Cancelled,
        }
    }
}

pub(crate) fn bundle_error(e: BundleError) -> OpenError {
    match e {
        BundleError::Output { source, .. } => OpenError::Output(source),
        e @ (BundleError::TooLarge { .. }
        | BundleError::TooManyAttachments { .. }
        | BundleError::Mime(MimeError::HeaderTooLarge)) => OpenError::PartTooLarge(e),
        e => OpenError::Inconsistent(e),
    }
}

/// The raw plaintext copied into a staged file until the stream is known to be a bundle (then
/// it is no longer needed), for messages that are not bundles.
struct Tee<R> {
    inner: R,
    copy: Option<File>,
    /// The first bytes, to tell text from binary.
    head: Vec<u8>,
    /// A failure to write the copy.
    failure: Option<io::Error>,
}

/// How much of a non-bundle plaintext is sniffed.
const SNIFF_BYTES: usize = 8192;

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.head.len() < SNIFF_BYTES {
            let take = n.min(SNIFF_BYTES - self.head.len());
            self.head.extend_from_slice(&buf[..take]);
        }
        if let Some(copy) = &mut self.copy {
            if let Err(e) = copy.write_all(&buf[..n]) {
                self.failure = Some(e);
                return Err(io::Error::other("cannot stage the plaintext"));
            }
        }
        Ok(n)
    }
}

/// The message as read: counts bytes for progress, and records its own read failures so that
/// they are told apart from the decryptor's (see `decrypt::classify_read_error`).
struct Counted<'a, R> {
    inner: R,
    count: u64,
    progress: Option<&'a (dyn Fn(u64) + Send + Sync)>,
    failed: &'a AtomicBool,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf).inspect_err(|e| {
            if e.kind() != io::ErrorKind::Interrupted {
                self.failed.store(true, Ordering::Relaxed);
            }
        })?;
        self.count += n as u64;
        if let Some(p) = self.progress {
            p(self.count);
        }
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counted<'_, R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let failed = self.failed;
        self.inner
            .fill_buf()
            .inspect_err(|_| failed.store(true, Ordering::Relaxed))
    }
    fn consume(&mut self, amt: usize) {
        self.count += amt as u64;
        if let Some(p) = self.progress {
            p(self.count);
        }
        self.inner.consume(amt)
    }
}

struct StagingSink<'s, 'o> {
    staging: &'s mut Staging<'o>,
}

impl AttachmentSink for StagingSink<'_, '_> {
    type Writer = File;
    fn create(&mut self, name: &str) -> io::Result<File> {
        self.staging.create_attachment(name)
    }
    fn finish(&mut self, writer: File) -> io::Result<()> {
        drop(writer);
        Ok(())
    }
}

/// Name of the staged copy of a non-bundle plaintext.
const RAW_COPY: &str = "message.part";

enum Body {
    Bundle(Box<Contents>),
    Single,
}

/// Opens a sealed message from `input` into `req.output_dir`.
pub fn open<R: Read + Send + Sync>(input: R, req: OpenRequest<'_>) -> Result<Opened, OpenError> {
    let out = OutputDir::prepare(req.output_dir).map_err(|problem| OpenError::OutputDir {
        path: req.output_dir.display().to_string(),
        problem,
    })?;
    let mut staging = out.staging(req.journal).map_err(OpenError::Output)?;
    let input_failed = AtomicBool::new(false);
    let input = position_at_message(Counted {
        inner: BufReader::with_capacity(IO_CHUNK, input),
        count: 0,
        progress: req.progress,
        failed: &input_failed,
    })?;
    let p = keys::policy();
    let helper = decrypt::Helper::new(req.secret_keys, req.verify_with, req.passphrase);
    let decryptor = decrypt::start(input, helper, &p).map_err(|e| {
        if input_failed.load(Ordering::Relaxed) {
            match e.downcast::<io::Error>() {
                Ok(io) => OpenError::Read(io),
                Err(e) => OpenError::Read(io::Error::other(Box::<
                    dyn std::error::Error + Send + Sync,
                >::from(e))),
            }
        } else {
            decrypt::start_error(e)
        }
    })?;

    let (full_tx, full_rx) = mpsc::sync_channel(4);
    let (free_tx, free_rx) = mpsc::channel();
    let raw_copy = staging.create(RAW_COPY).map_err(OpenError::Output)?;
    let (body, helper, head) = std::thread::scope(|scope| {
        let pump = scope.spawn(|| {
            decrypt::pump(
                decryptor,
                full_tx,
                free_rx,
                req.max_size,
                req.cancel,
                &input_failed,
            )
        });
        let reader = decrypt::ChannelReader::new(full_rx, free_tx);
        let mut mr = MimeReader::new(Tee {
            inner: reader,
            copy: Some(raw_copy),
            head: Vec::new(),
            failure: None,
        });
        let body = read_body(&mut mr, &mut staging);
        let mut tee = mr.into_inner();
        // Read to the end whatever happened: the decryptor checks integrity only there, and a
        // bundle that does not parse may be a tampered one, which the integrity check says.
        tee.inner.drain();
        let helper = pump.join().expect("the decrypting thread does not panic");
        let head = std::mem::take(&mut tee.head);
        let result = match (tee.inner.failure.take(), tee.failure.take(), body) {
            (Some(DecryptFailure::TooLarge), _, _) => Err(OpenError::TooLarge {
                limit: req.max_size,
            }),
            (Some(f), _, _) => Err(f.into()),
            (None, Some(e), _) => Err(OpenError::Output(e)),
            (None, None, Err(e)) => Err(e),
            (None, None, Ok(body)) => Ok(body),
        };
        result.map(|b| (b, helper, head))
    })?;
    let helper = helper.ok_or_else(|| OpenError::Integrity("the message ended early".into()))?;
    let format = helper.format.ok_or(OpenError::NotEncrypted)?;

    let researcher_cert = match &body {
        Body::Bundle(c) => c
            .researcher
            .as_deref()
            .and_then(|bytes| keys::parse_certs(bytes, RESEARCHER_ASC).ok())
            .map(|mut v| v.remove(0)),
        Body::Single => None,
    };
    let bound = !req.verify_with.is_empty();
    let signature = decrypt::signature_status(&helper, researcher_cert.as_ref(), bound, &p);
    match &signature {
        SignatureStatus::Bad { .. } => return Err(OpenError::BadSignature(signature)),
        SignatureStatus::None | SignatureStatus::Unknown { .. } if req.require_signature => {
            return Err(OpenError::SignatureRequired(signature))
        }
        _ => {}
    }

    let mut moves: Vec<(String, String)> = Vec::new();
    let mut files = Vec::new();
    let (title, reference, single_file) = match body {
        Body::Bundle(contents) => {
            let write = |name: &str, bytes: &[u8]| -> Result<(), OpenError> {
                let mut f = staging.create(name).map_err(OpenError::Output)?;
                f.write_all(bytes).map_err(OpenError::Output)
            };
            write(REPORT_JSON, &contents.json)?;
            write(
                "report.md",
                contents.report.to_report().to_markdown().as_bytes(),
            )?;
            files.push(PathBuf::from("report.md"));
            files.push(PathBuf::from(REPORT_JSON));
            moves.push(("report.md".into(), "report.md".into()));
            moves.push((REPORT_JSON.into(), REPORT_JSON.into()));
            for (name, key) in [
                (RESEARCHER_ASC, &contents.researcher),
                (REPLY_KEY_ASC, &contents.reply_key),
            ] {
                if let Some(bytes) = key {
                    write(name, bytes)?;
                    files.push(PathBuf::from(name));
                    moves.push((name.into(), name.into()));
                }
            }
            if !contents.attachments.is_empty() {
                moves.push((ATTACHMENTS_DIR.into(), ATTACHMENTS_DIR.into()));
                files.extend(
                    contents
                        .attachments
                        .iter()
                        .map(|n| Path::new(ATTACHMENTS_DIR).join(n)),
                );
            }
            let _ = staging.remove(RAW_COPY);
            (
                Some(contents.report.title.clone()),
                contents.report.reference.clone(),
                None,
            )
        }
        Body::Single => {
            let name = helper
                .literal_name
                .as_deref()
                .and_then(|n| std::str::from_utf8(n).ok())
                .filter(|n| !n.is_empty() && safe_file_name(n) == *n && *n != "_CONSOLE")
                .map(str::to_owned)
                .unwrap_or_else(|| {
                    let text = helper
                        .literal_format
                        .is_some_and(|f| matches!(u8::from(f), b't' | b'u'))
                        || crate::mime::sniff(&head) == "text/plain";
                    if text { "message.txt" } else { "message.bin" }.to_owned()
                });
            files.push(PathBuf::from(&name));
            moves.push((RAW_COPY.into(), name.clone()));
            (None, None, Some(name))
        }
    };
    staging.commit(&moves).map_err(OpenError::Output)?;
    Ok(Opened {
        signature,
        format,
        decrypted_with: helper.decrypted_with.clone().unwrap_or_default(),
        title,
        reference,
        files,
        single_file,
        removed_leftovers: out.leftovers.clone(),
    })
}

/// Reads the plaintext: a bundle into the staging directory, or anything else into the raw copy.
fn read_body<R: Read>(
    mr: &mut MimeReader<Tee<R>>,
    staging: &mut Staging<'_>,
) -> Result<Body, OpenError> {
    let read_failed = |e: MimeError| match e {
        // The stream's own failure is in the reader's `failure`; `open` reports that.
        MimeError::Read(_) => OpenError::Integrity("the decrypted stream stopped".into()),
        other => bundle_error(BundleError::Mime(other)),
    };
    match bundle_read::identify(mr).map_err(read_failed)? {
        Some(json_part) => {
            // A bundle: the raw copy is not needed.
            mr.get_mut().copy = None;
            let mut sink = StagingSink { staging };
            let contents =
                bundle_read::read_rest(mr, &json_part, &mut sink).map_err(|e| match e {
                    BundleError::Mime(m) => read_failed(m),
                    e => bundle_error(e),
                })?;
            mr.drain().map_err(read_failed)?;
            Ok(Body::Bundle(Box::new(contents)))
        }
        None => {
            mr.drain().map_err(read_failed)?;
            Ok(Body::Single)
        }
    }
}

/// Skips to an armored message inside text (an `.eml`, or armor with a preamble); binary input
/// and armor at the start pass through untouched.
pub(crate) fn position_at_message<R: BufRead>(mut r: R) -> Result<R, OpenError> {
    let head = r.fill_buf().map_err(OpenError::Read)?;
    if head.is_empty() {
        return Err(OpenError::NotOpenPgp("the input is empty".into()));
    }
    let marker = b"-----BEGIN PGP MESSAGE-----";
    if let Some(pos) = memchr::memmem::find(head, marker) {
        if pos == 0 || head[pos - 1] == b'\n' {
            r.consume(pos);
        }
    }
    Ok(r)
}
