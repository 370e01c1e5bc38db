//! Opening (team side): decrypt, verify and unpack a sealed report into a directory, streaming,
//! with nothing moved into place before integrity and signature checks pass.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use openpgp::cert::prelude::*;
use openpgp::crypto::{KeyPair, SessionKey};
use openpgp::packet::{Signature, PKESK, SKESK};
use openpgp::parse::stream::{
    DecryptionHelper, DecryptorBuilder, MessageLayer, MessageStructure, VerificationError,
    VerificationHelper,
};
use openpgp::parse::{PacketParser, Parse};
use openpgp::types::{DataFormat, SymmetricAlgorithm};
use openpgp::{Cert, KeyHandle, Packet};
use sequoia_openpgp as openpgp;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::keys::{self, Format, KeyError, PassphraseFn};
use crate::mime::{Headers, MimeError, MimeReader};
use crate::seal::{hex, ReportJson, IO_CHUNK};

/// Default cap on decrypted output (DESIGN.md: 4 GiB).
pub const DEFAULT_MAX_SIZE: u64 = 4 << 30;
/// Cap on the in-memory parts of a bundle (report.json, researcher.asc).
const MAX_SMALL_PART: usize = 64 << 20;

/// What `open` needs.
pub struct OpenRequest<'a> {
    /// The team's secret keys.
    pub secret_keys: &'a [Cert],
    /// Certificates that may have signed (the researcher's, when known).
    pub verify_with: &'a [Cert],
    /// Asked for a secret key's passphrase.
    pub passphrase: &'a mut PassphraseFn<'a>,
    /// Where the files go; must be empty or absent.
    pub output_dir: &'a Path,
    /// Cap on decrypted bytes.
    pub max_size: u64,
    /// Refuse a message without a good signature.
    pub require_signature: bool,
}

/// Who signed, and how far that is established.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SignatureStatus {
    /// No signature.
    None,
    /// Good, by a certificate given with `--verify-with`.
    Good {
        /// Signer's primary fingerprint.
        fingerprint: String,
        /// Signer's first user ID.
        user_id: Option<String>,
    },
    /// Good, but verified only by the key inside the bundle.
    SelfSigned {
        /// Signer's primary fingerprint.
        fingerprint: String,
        /// Signer's first user ID.
        user_id: Option<String>,
    },
    /// Signed by a key we do not have.
    Unknown {
        /// The issuer as named in the signature.
        issuer: String,
    },
    /// The signature does not verify.
    Bad {
        /// Issuer or signer.
        signer: String,
        /// Why.
        reason: String,
    },
}

impl std::fmt::Display for SignatureStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let uid = |u: &Option<String>| u.as_deref().map(|u| format!(" ({u})")).unwrap_or_default();
        match self {
            SignatureStatus::None => f.write_str("not signed"),
            SignatureStatus::Good { fingerprint, user_id } => write!(f, "good signature from {fingerprint}{}", uid(user_id)),
            SignatureStatus::SelfSigned { fingerprint, user_id } => write!(
                f,
                "good signature from {fingerprint}{}, self-signed, not independently verified (checked only against the key inside the report)",
                uid(user_id)
            ),
            SignatureStatus::Unknown { issuer } => write!(f, "signed by unknown key {issuer}"),
            SignatureStatus::Bad { signer, reason } => write!(f, "BAD signature by {signer}: {reason}"),
        }
    }
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
    /// Every file written, relative to the output directory.
    pub files: Vec<PathBuf>,
    /// Set when the message was not an Embargo bundle and went into one file.
    pub single_file: Option<String>,
}

/// Why a message could not be opened. Nothing is left in the output directory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// Input unreadable.
    #[error("cannot read {what}: {source}")]
    Read {
        /// What.
        what: String,
        /// The error.
        source: io::Error,
    },
    /// Not OpenPGP data.
    #[error("not an OpenPGP message: {0}")]
    NotOpenPgp(String),
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
    Integrity(String),
    /// The message was not encrypted.
    #[error("the message is not encrypted; Embargo only opens encrypted reports")]
    NotEncrypted,
    /// A bundle whose parts do not match its report.json.
    #[error("the report bundle is inconsistent: {0}")]
    Inconsistent(String),
    /// The signature is bad, or missing when required.
    #[error("{0}")]
    Signature(SignatureStatus),
    /// Decrypted output over the cap.
    #[error("decrypted output exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The cap.
        limit: u64,
    },
    /// The output directory is not usable.
    #[error("output directory {path}: {reason}")]
    OutputDir {
        /// The directory.
        path: String,
        /// Why.
        reason: String,
    },
    /// Writing output failed.
    #[error("cannot write output: {0}")]
    Output(io::Error),
}

impl OpenError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            OpenError::NoMatchingKey { .. } => {
                "pass the secret key of the team key this report was sealed to"
            }
            OpenError::Signature(SignatureStatus::Bad { .. }) => {
                "do not trust this report's content; ask the researcher to send it again"
            }
            OpenError::Signature(_) => {
                "pass the researcher's certificate with --verify-with, or drop --require-signature"
            }
            OpenError::TooLarge { .. } => "raise --max-size if you expect a report this large",
            OpenError::OutputDir { .. } => "choose a new or empty directory",
            OpenError::Key(k) => return k.hint(),
            _ => return None,
        })
    }
}

/// Marks an I/O error as coming from our output side rather than the decryptor.
#[derive(Debug)]
struct OutputFailure(io::Error);
impl std::fmt::Display for OutputFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
impl std::error::Error for OutputFailure {}

fn out_err(e: io::Error) -> io::Error {
    io::Error::other(OutputFailure(e))
}

#[derive(Debug)]
struct SizeExceeded;
impl std::fmt::Display for SizeExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("size limit exceeded")
    }
}
impl std::error::Error for SizeExceeded {}

#[derive(Debug, thiserror::Error)]
#[error("no matching secret key")]
struct NoKey {
    recipients: String,
    ours: String,
    unlock: Option<KeyError>,
}

struct Helper<'a, 'p> {
    secret_keys: &'a [Cert],
    verify_with: &'a [Cert],
    passphrase: &'a mut PassphraseFn<'p>,
    unlock_error: Option<KeyError>,
    decrypted_with: Option<String>,
    literal_name: Option<Vec<u8>>,
    literal_format: Option<DataFormat>,
    format: Option<Format>,
    good: Vec<(String, Option<String>)>,
    bad: Vec<(String, String)>,
    missing: Vec<Signature>,
}

fn first_uid(cert: &Cert) -> Option<String> {
    cert.userids()
        .next()
        .map(|u| String::from_utf8_lossy(u.userid().value()).into_owned())
}

impl VerificationHelper for Helper<'_, '_> {
    fn inspect(&mut self, pp: &PacketParser<'_>) -> openpgp::Result<()> {
        if let Packet::Literal(l) = &pp.packet {
            self.literal_name = l.filename().map(<[u8]>::to_vec);
            self.literal_format = Some(l.format());
        }
        Ok(())
    }

    fn get_certs(&mut self, _ids: &[KeyHandle]) -> openpgp::Result<Vec<Cert>> {
        Ok(self.verify_with.to_vec())
    }

    fn check(&mut self, structure: MessageStructure<'_>) -> openpgp::Result<()> {
        // Decisions are made by `open` after the whole stream is read; here we only record.
        for layer in structure {
            match layer {
                MessageLayer::Encryption { aead_algo, .. } => {
                    self.format = Some(if aead_algo.is_some() {
                        Format::SeipdV2
                    } else {
                        Format::SeipdV1
                    });
                }
                MessageLayer::Compression { .. } => {}
                MessageLayer::SignatureGroup { results } => {
                    for r in results {
                        match r {
                            Ok(good) => self.good.push((
                                good.ka.cert().fingerprint().to_hex(),
                                first_uid(good.ka.cert()),
                            )),
                            Err(VerificationError::MissingKey { sig }) => {
                                self.missing.push(sig.clone())
                            }
                            Err(e) => {
                                let signer = match &e {
                                    VerificationError::BadKey { ka, .. }
                                    | VerificationError::BadSignature { ka, .. } => {
                                        ka.cert().fingerprint().to_hex()
                                    }
                                    VerificationError::UnboundKey { cert, .. } => {
                                        cert.fingerprint().to_hex()
                                    }
                                    _ => "an unknown signer".into(),
                                };
                                self.bad.push((signer, e.to_string()));
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

impl DecryptionHelper for Helper<'_, '_> {
    fn decrypt(
        &mut self,
        pkesks: &[PKESK],
        _skesks: &[SKESK],
        sym_algo: Option<SymmetricAlgorithm>,
        decrypt: &mut dyn FnMut(Option<SymmetricAlgorithm>, &SessionKey) -> bool,
    ) -> openpgp::Result<Option<Cert>> {
        let mut unlocked: Vec<(KeyHandle, KeyPair)> = Vec::new();
        for pkesk in pkesks {
            for cert in self.secret_keys {
                for ka in cert.keys().secret() {
                    if !ka.key().pk_algo().for_encryption() {
                        continue;
                    }
                    let matches = match pkesk.recipient() {
                        None => true,
                        Some(h) => h.aliases(ka.key().key_handle()),
                    };
                    if !matches {
                        continue;
                    }
                    let handle = ka.key().key_handle();
                    let idx = match unlocked.iter().position(|(h, _)| h.aliases(&handle)) {
                        Some(i) => i,
                        None => match keys::unlock(
                            ka.key().clone().role_into_unspecified(),
                            cert,
                            self.passphrase,
                        ) {
                            Ok(pair) => {
                                unlocked.push((handle, pair));
                                unlocked.len() - 1
                            }
                            Err(e) => {
                                self.unlock_error = Some(e);
                                continue;
                            }
                        },
                    };
                    if let Some((algo, sk)) = pkesk.decrypt(&mut unlocked[idx].1, sym_algo) {
                        if decrypt(algo, &sk) {
                            self.decrypted_with = Some(cert.fingerprint().to_hex());
                            return Ok(Some(cert.clone()));
                        }
                    }
                }
            }
        }
        let recipients = pkesks
            .iter()
            .map(|p| {
                p.recipient()
                    .map(|h| h.to_hex())
                    .unwrap_or_else(|| "a hidden recipient".into())
            })
            .collect::<Vec<_>>()
            .join(", ");
        let ours = self
            .secret_keys
            .iter()
            .flat_map(|c| c.keys().map(|k| k.key().fingerprint().to_hex()))
            .collect::<Vec<_>>()
            .join(", ");
        Err(NoKey {
            recipients,
            ours,
            unlock: self.unlock_error.take(),
        }
        .into())
    }
}

/// The decrypted stream: counts against the cap and, while enabled, copies what it reads into a
/// staging file (for messages that turn out not to be bundles).
struct Source<R> {
    inner: R,
    tee: Option<File>,
    count: u64,
    max: u64,
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        if self.count > self.max {
            return Err(io::Error::other(SizeExceeded));
        }
        if let Some(tee) = &mut self.tee {
            tee.write_all(&buf[..n]).map_err(out_err)?;
        }
        Ok(n)
    }
}

/// The staging directory inside the output directory; removed on drop unless committed.
struct Staging {
    out: PathBuf,
    dir: PathBuf,
    created_out: bool,
    committed: bool,
}

impl Staging {
    fn new(out: &Path) -> Result<Staging, OpenError> {
        let bad = |reason: String| OpenError::OutputDir {
            path: out.display().to_string(),
            reason,
        };
        let created_out = if out.exists() {
            if !out.is_dir() {
                return Err(bad("exists and is not a directory".into()));
            }
            if fs::read_dir(out)
                .map_err(|e| bad(e.to_string()))?
                .next()
                .is_some()
            {
                return Err(bad("is not empty; Embargo never overwrites files".into()));
            }
            false
        } else {
            create_private_dir(out).map_err(|e| bad(e.to_string()))?;
            true
        };
        let suffix: [u8; 8] = rand::random();
        let dir = out.join(format!(".embargo-partial-{}", hex(&suffix)));
        create_private_dir(&dir).map_err(|e| bad(e.to_string()))?;
        Ok(Staging {
            out: out.to_owned(),
            dir,
            created_out,
            committed: false,
        })
    }

    fn file(&self, name: &str) -> Result<File, OpenError> {
        private_file(&self.dir.join(name)).map_err(OpenError::Output)
    }

    /// Moves staged files into place (`(staged name, final relative path)`).
    fn commit(mut self, moves: &[(String, PathBuf)]) -> Result<(), OpenError> {
        for (staged, target) in moves {
            let dest = self.out.join(target);
            if let Some(parent) = dest.parent() {
                if !parent.exists() {
                    create_private_dir(parent).map_err(OpenError::Output)?;
                }
            }
            if dest.exists() {
                return Err(OpenError::OutputDir {
                    path: dest.display().to_string(),
                    reason: "already exists".into(),
                });
            }
            fs::rename(self.dir.join(staged), &dest).map_err(OpenError::Output)?;
        }
        fs::remove_dir_all(&self.dir).map_err(OpenError::Output)?;
        if let Ok(d) = File::open(&self.out) {
            let _ = d.sync_all();
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.dir);
            if self.created_out {
                let _ = fs::remove_dir(&self.out);
            }
        }
    }
}

fn create_private_dir(path: &Path) -> io::Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(path)
}

fn private_file(path: &Path) -> io::Result<File> {
    let mut o = fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

/// Skips to an armored message inside text (an `.eml`, or armor with a preamble); binary input
/// and armor at the start pass through untouched.
fn position_at_message<R: Read>(input: R) -> Result<BufReader<R>, OpenError> {
    let mut r = BufReader::with_capacity(IO_CHUNK, input);
    let head = r.fill_buf().map_err(|source| OpenError::Read {
        what: "the message".into(),
        source,
    })?;
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

fn sanitize(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_control() || "<>:\"|?*".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    let cleaned = cleaned
        .trim()
        .trim_start_matches('.')
        .trim_end_matches(['.', ' '])
        .to_owned();
    let mut out = String::new();
    for c in cleaned.chars() {
        if out.len() + c.len_utf8() > 200 {
            break;
        }
        out.push(c);
    }
    out
}

fn unique(name: String, taken: &mut Vec<String>) -> String {
    let mut candidate = name.clone();
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name.as_str(), ""),
    };
    let mut n = 2;
    while taken.iter().any(|t| t.eq_ignore_ascii_case(&candidate)) {
        candidate = format!("{stem} ({n}){ext}");
        n += 1;
    }
    taken.push(candidate.clone());
    candidate
}

enum Body {
    Bundle {
        json: Vec<u8>,
        report: Box<ReportJson>,
        attachments: Vec<(String, String)>,
        researcher: Option<Vec<u8>>,
    },
    Single,
}

/// Opens a sealed message from `input` into `req.output_dir`.
pub fn open<R: Read + Send + Sync>(input: R, req: OpenRequest<'_>) -> Result<Opened, OpenError> {
    let input = position_at_message(input)?;
    let staging = Staging::new(req.output_dir)?;
    let p = keys::policy();
    let helper = Helper {
        secret_keys: req.secret_keys,
        verify_with: req.verify_with,
        passphrase: req.passphrase,
        unlock_error: None,
        decrypted_with: None,
        literal_name: None,
        literal_format: None,
        format: None,
        good: Vec::new(),
        bad: Vec::new(),
        missing: Vec::new(),
    };
    let decryptor = DecryptorBuilder::from_reader(input)
        .map_err(|e| OpenError::NotOpenPgp(format!("{e:#}")))?
        .buffer_size(IO_CHUNK)
        .with_policy(&p, None, helper)
        .map_err(|e| match e.downcast::<NoKey>() {
            // The unlock error, when there was one, is more useful than "no key".
            Ok(NoKey {
                unlock: Some(k), ..
            }) => OpenError::Key(k),
            Ok(NoKey {
                recipients, ours, ..
            }) => OpenError::NoMatchingKey { recipients, ours },
            Err(e) => classify_start_error(e),
        })?;

    let tee_name = "message.part".to_owned();
    let source = Source {
        inner: decryptor,
        tee: Some(staging.file(&tee_name)?),
        count: 0,
        max: req.max_size,
    };
    let mut mr = MimeReader::new(source);
    let mut moves: Vec<(String, PathBuf)> = Vec::new();

    let read_result = read_bundle(&mut mr, &staging);
    let body = match read_result {
        Ok(Some(b)) => b,
        Ok(None) => Body::Single,
        Err(e @ MimeError::Io(_)) => return Err(classify_stream_error(e, req.max_size)),
        Err(e) => {
            // A bundle that does not parse may be a tampered one: the integrity check at the end
            // of the stream says which, and takes precedence.
            mr.get_mut().tee = None;
            mr.drain()
                .map_err(|io| classify_stream_error(MimeError::Io(io), req.max_size))?;
            return Err(classify_stream_error(e, req.max_size));
        }
    };
    // Reading to the end makes the decryptor check the MDC/AEAD tags and the signatures.
    mr.drain()
        .map_err(|e| classify_stream_error(MimeError::Io(e), req.max_size))?;
    let source = mr.into_inner();
    if let Some(tee) = source.tee {
        tee.sync_all().map_err(OpenError::Output)?;
    }
    let helper = source.inner.into_helper();
    let format = helper.format.ok_or(OpenError::NotEncrypted)?;

    let mut files = Vec::new();
    let mut title = None;
    let mut single_file = None;
    let researcher_cert = match &body {
        Body::Bundle {
            researcher: Some(bytes),
            ..
        } => keys::parse_certs(bytes, "researcher.asc")
            .ok()
            .map(|mut v| v.remove(0)),
        _ => None,
    };
    let signature = signature_status(&helper, researcher_cert.as_ref(), &p);
    match &signature {
        SignatureStatus::Bad { .. } => return Err(OpenError::Signature(signature)),
        SignatureStatus::None | SignatureStatus::Unknown { .. } if req.require_signature => {
            return Err(OpenError::Signature(signature))
        }
        _ => {}
    }

    match body {
        Body::Bundle {
            json,
            report,
            attachments,
            researcher,
        } => {
            let mut f = staging.file("report.json")?;
            f.write_all(&json).map_err(OpenError::Output)?;
            f.sync_all().map_err(OpenError::Output)?;
            let mut f = staging.file("report.md")?;
            f.write_all(report.to_report().to_markdown().as_bytes())
                .map_err(OpenError::Output)?;
            f.sync_all().map_err(OpenError::Output)?;
            moves.push(("report.md".into(), "report.md".into()));
            moves.push(("report.json".into(), "report.json".into()));
            for (staged, name) in attachments {
                moves.push((staged, Path::new("attachments").join(name)));
            }
            if let Some(bytes) = researcher {
                let mut f = staging.file("researcher.asc")?;
                f.write_all(&bytes).map_err(OpenError::Output)?;
                f.sync_all().map_err(OpenError::Output)?;
                moves.push(("researcher.asc".into(), "researcher.asc".into()));
            }
            fs::remove_file(staging.dir.join(&tee_name)).ok();
            title = Some(report.title);
        }
        Body::Single => {
            let name = helper
                .literal_name
                .as_deref()
                .and_then(|n| std::str::from_utf8(n).ok())
                .filter(|n| !n.is_empty() && sanitize(n) == *n && *n != "_CONSOLE")
                .map(str::to_owned)
                .unwrap_or_else(|| {
                    let mut head = vec![0u8; 8192];
                    let n = File::open(staging.dir.join(&tee_name))
                        .and_then(|mut f| f.read(&mut head))
                        .unwrap_or(0);
                    let text = helper
                        .literal_format
                        .is_some_and(|f| matches!(u8::from(f), b't' | b'u'))
                        || crate::mime::sniff(&head[..n]) == "text/plain";
                    if text { "message.txt" } else { "message.bin" }.to_owned()
                });
            moves.push((tee_name.clone(), PathBuf::from(&name)));
            single_file = Some(name);
        }
    }
    files.extend(moves.iter().map(|(_, t)| t.clone()));
    staging.commit(&moves)?;
    Ok(Opened {
        signature,
        format,
        decrypted_with: helper.decrypted_with.unwrap_or_default(),
        title,
        files,
        single_file,
    })
}

fn classify_start_error(e: anyhow::Error) -> OpenError {
    let text = format!("{e:#}");
    match e.downcast_ref::<openpgp::Error>() {
        Some(openpgp::Error::ManipulatedMessage) | Some(openpgp::Error::MissingSessionKey(_)) => {
            OpenError::Integrity(text)
        }
        _ if text.contains("No session key") => OpenError::Integrity(text),
        _ => OpenError::NotOpenPgp(text),
    }
}

fn classify_stream_error(e: MimeError, limit: u64) -> OpenError {
    match e {
        MimeError::Io(io) => {
            if io.get_ref().is_some_and(|r| r.is::<SizeExceeded>()) {
                return OpenError::TooLarge { limit };
            }
            if io.get_ref().is_some_and(|r| r.is::<OutputFailure>()) {
                let inner = io
                    .into_inner()
                    .and_then(|b| b.downcast::<OutputFailure>().ok());
                return OpenError::Output(
                    inner
                        .map(|o| o.0)
                        .unwrap_or_else(|| io::Error::other("write failed")),
                );
            }
            OpenError::Integrity(io.to_string())
        }
        other => OpenError::Inconsistent(other.to_string()),
    }
}

/// Reads a bundle; `Ok(None)` when the plaintext is not one (the tee then holds it whole).
fn read_bundle<R: Read>(
    mr: &mut MimeReader<Source<R>>,
    staging: &Staging,
) -> Result<Option<Body>, MimeError> {
    let top = match mr.read_headers() {
        Ok(h) => h,
        Err(MimeError::Io(e)) => return Err(MimeError::Io(e)),
        Err(_) => return Ok(None),
    };
    let (ctype, params) = top.content_type();
    let Some(boundary) = params
        .get("boundary")
        .filter(|_| ctype == "multipart/mixed")
    else {
        return Ok(None);
    };
    let boundary = boundary.clone();
    let soft = |r: Result<Option<Headers>, MimeError>| match r {
        Ok(h) => Ok(h),
        Err(MimeError::Io(e)) => Err(MimeError::Io(e)),
        Err(_) => Ok(None),
    };
    if let Err(e) = mr.begin_multipart(&boundary) {
        return match e {
            MimeError::Io(e) => Err(MimeError::Io(e)),
            _ => Ok(None),
        };
    }
    let Some(first) = soft(mr.next_part())? else {
        return Ok(None);
    };
    if first.content_type().0 != "text/plain" {
        return Ok(None);
    }
    mr.stream_body(&mut |_| Ok(()))?;
    let Some(second) = soft(mr.next_part())? else {
        return Ok(None);
    };
    if second.content_type().0 != "application/json"
        || second.filename().as_deref() != Some("report.json")
    {
        return Ok(None);
    }
    // It is a bundle: stop copying the raw stream, parse from here on.
    mr.get_mut().tee = None;
    let json = read_small(mr, &second)?;
    let report: ReportJson = serde_json::from_slice(&json)
        .map_err(|e| MimeError::BadHeader(format!("report.json does not parse: {e}")))?;

    let mut attachments: Vec<(String, String)> = Vec::new();
    let mut taken: Vec<String> = Vec::new();
    let mut researcher = None;
    let mut index = 0;
    while let Some(part) = mr.next_part()? {
        let raw_name = part.filename().unwrap_or_default();
        if part.content_type().0 == "application/pgp-keys" && raw_name == "researcher.asc" {
            researcher = Some(read_small(mr, &part)?);
            continue;
        }
        let Some(meta) = report.attachments.get(index) else {
            return Err(MimeError::BadHeader(format!(
                "attachment `{raw_name}` is not listed in report.json"
            )));
        };
        if meta.name != raw_name {
            return Err(MimeError::BadHeader(format!(
                "attachment `{raw_name}` is listed as `{}` in report.json",
                meta.name
            )));
        }
        let staged = format!("attachment-{index}");
        let mut file = staging
            .file(&staged)
            .map_err(|e| MimeError::Io(out_err(io::Error::other(e.to_string()))))?;
        let mut hash = Sha256::new();
        let mut size = 0u64;
        mr.stream_decoded(&part.transfer_encoding(), &mut |bytes| {
            hash.update(bytes);
            size += bytes.len() as u64;
            file.write_all(bytes).map_err(out_err)
        })?;
        file.sync_all().map_err(out_err)?;
        if size != meta.size || hex(&hash.finalize()) != meta.sha256 {
            return Err(MimeError::BadHeader(format!(
                "attachment `{raw_name}` does not match the size and SHA-256 in report.json"
            )));
        }
        let mut name = sanitize(&raw_name);
        if name.is_empty() {
            name = format!("attachment-{}", index + 1);
        }
        attachments.push((staged, unique(name, &mut taken)));
        index += 1;
    }
    if index != report.attachments.len() {
        return Err(MimeError::BadHeader(format!(
            "report.json lists {} attachments, the bundle has {index}",
            report.attachments.len()
        )));
    }
    Ok(Some(Body::Bundle {
        json,
        report: Box::new(report),
        attachments,
        researcher,
    }))
}

fn read_small<R: Read>(
    mr: &mut MimeReader<Source<R>>,
    part: &Headers,
) -> Result<Vec<u8>, MimeError> {
    let mut out = Vec::new();
    mr.stream_decoded(&part.transfer_encoding(), &mut |b| {
        if out.len() + b.len() > MAX_SMALL_PART {
            return Err(io::Error::other("part too large"));
        }
        out.extend_from_slice(b);
        Ok(())
    })?;
    Ok(out)
}

fn signature_status(
    helper: &Helper<'_, '_>,
    researcher: Option<&Cert>,
    p: &dyn openpgp::policy::Policy,
) -> SignatureStatus {
    if let Some((signer, reason)) = helper.bad.first() {
        return SignatureStatus::Bad {
            signer: signer.clone(),
            reason: reason.clone(),
        };
    }
    if let Some((fingerprint, user_id)) = helper.good.first() {
        return SignatureStatus::Good {
            fingerprint: fingerprint.clone(),
            user_id: user_id.clone(),
        };
    }
    let Some(sig) = helper.missing.first() else {
        return SignatureStatus::None;
    };
    let issuer = sig
        .get_issuers()
        .first()
        .map(|h| h.to_hex())
        .unwrap_or_else(|| "an unnamed key".into());
    let Some(cert) = researcher else {
        return SignatureStatus::Unknown { issuer };
    };
    let Some(digest) = sig.computed_digest() else {
        return SignatureStatus::Unknown { issuer };
    };
    let sig_time = sig.signature_creation_time();
    if let Some(ka) = cert.keys().key_handles(sig.get_issuers()).next() {
        let valid = match ka.with_policy(p, sig_time) {
            Ok(v) => v,
            Err(e) => {
                return SignatureStatus::Bad {
                    signer: cert.fingerprint().to_hex(),
                    reason: format!("{e:#}"),
                }
            }
        };
        if !valid.for_signing() {
            return SignatureStatus::Bad {
                signer: cert.fingerprint().to_hex(),
                reason: "key is not signing capable".into(),
            };
        }
        return match sig.verify_digest(valid.key(), digest) {
            Ok(()) => SignatureStatus::SelfSigned {
                fingerprint: cert.fingerprint().to_hex(),
                user_id: first_uid(cert),
            },
            Err(e) => SignatureStatus::Bad {
                signer: cert.fingerprint().to_hex(),
                reason: format!("{e:#}"),
            },
        };
    }
    SignatureStatus::Unknown { issuer }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitized_and_unique() {
        assert_eq!(sanitize("../../etc/passwd"), "passwd");
        assert_eq!(sanitize("..\\..\\boot.ini"), "boot.ini");
        assert_eq!(sanitize(".."), "");
        assert_eq!(sanitize(".bashrc"), "bashrc");
        assert_eq!(sanitize("a\u{0}b:c"), "a_b_c");
        assert_eq!(sanitize(&"x".repeat(300)).len(), 200);
        let mut taken = Vec::new();
        assert_eq!(unique("a.txt".into(), &mut taken), "a.txt");
        assert_eq!(unique("A.txt".into(), &mut taken), "A (2).txt");
        assert_eq!(unique("a.txt".into(), &mut taken), "a (3).txt");
    }
}
