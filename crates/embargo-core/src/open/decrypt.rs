//! Decrypt and verify: sequoia's streaming decryptor with our helper (which secret key, which
//! signers count), run on its own thread and feeding plaintext in 64 KiB buffers to the reader.

use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender};

use openpgp::cert::prelude::*;
use openpgp::crypto::{KeyPair, SessionKey};
use openpgp::packet::{Signature, PKESK, SKESK};
use openpgp::parse::stream::{
    DecryptionHelper, Decryptor, DecryptorBuilder, MessageLayer, MessageStructure,
    VerificationError, VerificationHelper,
};
use openpgp::parse::{PacketParser, Parse};
use openpgp::policy::Policy;
use openpgp::types::{DataFormat, SymmetricAlgorithm};
use openpgp::{Cert, KeyHandle, Packet};
use sequoia_openpgp as openpgp;
use serde::Serialize;

use crate::bundle::IO_CHUNK;
use crate::keys::{self, Format, KeyError, PassphraseFn};
use crate::text::Shown;

/// Who signed, and how far that is established.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SignatureStatus {
    /// No signature.
    None,
    /// Good, by a certificate the team gave (`--verify-with`).
    Good {
        /// Signer's primary fingerprint.
        fingerprint: String,
        /// Signer's first user ID.
        user_id: Option<String>,
    },
    /// Good, but verified only by the key inside the bundle (no certificate was given).
    SelfSigned {
        /// Signer's primary fingerprint.
        fingerprint: String,
        /// Signer's first user ID.
        user_id: Option<String>,
    },
    /// Signed by a key the team did not give: unknown, or only inside the bundle while
    /// certificates were given to verify with.
    Unknown {
        /// The issuer as named in the signature (fingerprint or key ID).
        issuer: String,
        /// Set when the key inside the bundle made a good signature, which does not count
        /// because the team named other certificates.
        in_bundle: bool,
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
        let uid = |u: &Option<String>| {
            u.as_deref()
                .map(|u| format!(" ({})", Shown(u)))
                .unwrap_or_default()
        };
        match self {
            SignatureStatus::None => f.write_str("not signed"),
            SignatureStatus::Good { fingerprint, user_id } => {
                write!(f, "good signature from {fingerprint}{}", uid(user_id))
            }
            SignatureStatus::SelfSigned { fingerprint, user_id } => write!(
                f,
                "good signature from {fingerprint}{}, self-signed, not independently verified (checked only against the key inside the report)",
                uid(user_id)
            ),
            SignatureStatus::Unknown { issuer, in_bundle: false } => {
                write!(f, "signed by unknown key {issuer}")
            }
            SignatureStatus::Unknown { issuer, in_bundle: true } => write!(
                f,
                "signed by {issuer}, which is not among the certificates given to verify with (only the report itself vouches for it)"
            ),
            SignatureStatus::Bad { signer, reason } => {
                write!(f, "BAD signature by {signer}: {}", Shown(reason))
            }
        }
    }
}

/// How decryption stopped early. Sent to the reading side in place of more plaintext.
#[derive(Debug, thiserror::Error)]
pub enum DecryptFailure {
    /// The ciphertext was modified, truncated or is corrupt.
    #[error("{0}")]
    Integrity(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The message could not be read.
    #[error("{0}")]
    Read(#[source] io::Error),
    /// More plaintext than the cap.
    #[error("decrypted output exceeds the limit")]
    TooLarge,
    /// Cancelled.
    #[error("cancelled")]
    Cancelled,
}

#[derive(Debug, thiserror::Error)]
#[error("no matching secret key")]
pub(super) struct NoKey {
    pub recipients: String,
    pub ours: String,
    pub unlock: Option<KeyError>,
}

/// What the decryptor learned, read after the stream ended.
pub struct Helper<'a, 'p> {
    secret_keys: &'a [Cert],
    verify_with: &'a [Cert],
    passphrase: &'a mut PassphraseFn<'p>,
    unlock_error: Option<KeyError>,
    /// Primary fingerprint of the secret key that decrypted.
    pub decrypted_with: Option<String>,
    /// The literal packet's file name.
    pub literal_name: Option<Vec<u8>>,
    /// The literal packet's format.
    pub literal_format: Option<DataFormat>,
    /// SEIPDv1 or v2.
    pub format: Option<Format>,
    good: Vec<(String, Option<String>)>,
    bad: Vec<(String, String)>,
    missing: Vec<Signature>,
}

impl<'a, 'p> Helper<'a, 'p> {
    /// A helper for these keys.
    pub fn new(
        secret_keys: &'a [Cert],
        verify_with: &'a [Cert],
        passphrase: &'a mut PassphraseFn<'p>,
    ) -> Self {
        Helper {
            secret_keys,
            verify_with,
            passphrase,
            unlock_error: None,
            decrypted_with: None,
            literal_name: None,
            literal_format: None,
            format: None,
            good: Vec::new(),
            bad: Vec::new(),
            missing: Vec::new(),
        }
    }
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

/// Starts decrypting: reads up to the encrypted data and decrypts the session key.
pub(super) fn start<'a, 'p, R: Read + Send + Sync + 'a>(
    input: R,
    helper: Helper<'a, 'p>,
    policy: &'a dyn Policy,
) -> openpgp::Result<Decryptor<'a, Helper<'a, 'p>>> {
    // sequoia-openpgp 2.4 panics (parse.rs, `data_consume_hard(bl + 2).unwrap()`) on a SEIPDv1
    // packet whose encrypted body is shorter than its prefix and MDC once the session key
    // decrypts it — found by cargo-fuzz (fuzz/corpus/open_message/crash-sequoia-short-seipd).
    // A message must never bring the tool down: the panic becomes a malformed-message error, and
    // the staging directory is removed by its guard as usual.
    let builder = DecryptorBuilder::from_reader(input)?.buffer_size(IO_CHUNK);
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        builder.with_policy(policy, None, helper)
    })) {
        Ok(result) => result,
        Err(_) => Err(anyhow::anyhow!(MalformedEncryptedData)),
    }
}

/// The OpenPGP library failed on the encrypted data itself (see [`start`]).
#[derive(Debug, thiserror::Error)]
#[error("the encrypted data is malformed (too short for its own framing): not a message Embargo or any OpenPGP tool sealed")]
pub(crate) struct MalformedEncryptedData;

/// What a failure to start decrypting means: no matching key (or one that would not unlock),
/// a manipulated message, or input that is not an OpenPGP message (the caller tells its own
/// read failures apart first).
pub(crate) fn start_error(e: anyhow::Error) -> super::OpenError {
    use super::OpenError;
    match e.downcast::<NoKey>() {
        // The unlock error, when there was one, is more useful than "no key".
        Ok(NoKey {
            unlock: Some(k), ..
        }) => OpenError::Key(k),
        Ok(NoKey {
            recipients, ours, ..
        }) => OpenError::NoMatchingKey { recipients, ours },
        Err(e) => match e.downcast::<openpgp::Error>() {
            Ok(e @ (openpgp::Error::ManipulatedMessage | openpgp::Error::MissingSessionKey(_))) => {
                OpenError::Integrity(Box::new(e))
            }
            Ok(e) => OpenError::NotOpenPgp(Box::new(e)),
            // Input that is not OpenPGP ends the parser early or confuses it.
            Err(e) => OpenError::NotOpenPgp(e.into()),
        },
    }
}

/// One message between the decrypting thread and the reading side.
pub(super) enum Chunk {
    Data(Vec<u8>),
    End,
    Failed(DecryptFailure),
}

/// Reads the decryptor to the end (which checks the MDC/AEAD tags and the signatures), sending
/// plaintext in order; returns the helper when the whole message was read and checked.
pub(super) fn pump<'a, 'p>(
    mut decryptor: Decryptor<'a, Helper<'a, 'p>>,
    full: SyncSender<Chunk>,
    free: Receiver<Vec<u8>>,
    max: u64,
    cancel: Option<&AtomicBool>,
    input_failed: &AtomicBool,
) -> Option<Helper<'a, 'p>> {
    let mut count = 0u64;
    loop {
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            let _ = full.send(Chunk::Failed(DecryptFailure::Cancelled));
            return None;
        }
        let mut buf = free.try_recv().unwrap_or_default();
        buf.resize(IO_CHUNK, 0);
        match decryptor.read(&mut buf) {
            Ok(0) => {
                let _ = full.send(Chunk::End);
                return Some(decryptor.into_helper());
            }
            Ok(n) => {
                count += n as u64;
                if count > max {
                    let _ = full.send(Chunk::Failed(DecryptFailure::TooLarge));
                    return None;
                }
                buf.truncate(n);
                if full.send(Chunk::Data(buf)).is_err() {
                    return None;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                let _ = full.send(Chunk::Failed(classify_read_error(e, input_failed)));
                return None;
            }
        }
    }
}

/// Sequoia's decryptor passes the input's own I/O errors through and wraps its errors (a failed
/// MDC or AEAD tag, a truncated or malformed stream) in opaque I/O errors that cannot be downcast.
/// So the input records its own failures (`input_failed`): any other error is the message's.
fn classify_read_error(e: io::Error, input_failed: &AtomicBool) -> DecryptFailure {
    if input_failed.load(Ordering::Relaxed) {
        DecryptFailure::Read(e)
    } else {
        DecryptFailure::Integrity(Box::new(e))
    }
}

/// The plaintext side of the pipeline: reads what [`pump`] sends; a failure is kept in
/// `failure` and reported to the reader as a plain I/O error.
pub(super) struct ChannelReader {
    full: Receiver<Chunk>,
    free: Sender<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
    done: bool,
    /// Why the stream stopped early, if it did.
    pub failure: Option<DecryptFailure>,
}

impl ChannelReader {
    pub(super) fn new(full: Receiver<Chunk>, free: Sender<Vec<u8>>) -> Self {
        ChannelReader {
            full,
            free,
            current: Vec::new(),
            pos: 0,
            done: false,
            failure: None,
        }
    }

    /// Reads and discards the rest, so that the decryptor reaches the end and checks integrity.
    pub(super) fn drain(&mut self) {
        while !self.done {
            self.pos = self.current.len();
            if self.next().is_err() {
                break;
            }
        }
    }

    fn next(&mut self) -> io::Result<()> {
        let old = std::mem::take(&mut self.current);
        if old.capacity() > 0 {
            let _ = self.free.send(old);
        }
        self.pos = 0;
        match self.full.recv() {
            Ok(Chunk::Data(b)) => self.current = b,
            Ok(Chunk::End) => self.done = true,
            Ok(Chunk::Failed(f)) => {
                self.done = true;
                self.failure = Some(f);
                return Err(io::Error::other("decryption stopped"));
            }
            Err(_) => {
                self.done = true;
                return Err(io::Error::other("the decrypting thread stopped"));
            }
        }
        Ok(())
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            if self.done {
                return if self.failure.is_some() {
                    Err(io::Error::other("decryption stopped"))
                } else {
                    Ok(0)
                };
            }
            self.next()?;
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The signature verdict from what the decryptor recorded. `researcher` is the key inside the
/// bundle; `bound` says the team gave certificates to verify with, which then are the only ones
/// that count.
pub(crate) fn signature_status(
    helper: &Helper<'_, '_>,
    researcher: Option<&Cert>,
    bound: bool,
    p: &dyn Policy,
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
    let unknown = SignatureStatus::Unknown {
        issuer: issuer.clone(),
        in_bundle: false,
    };
    let (Some(cert), Some(digest)) = (researcher, sig.computed_digest()) else {
        return unknown;
    };
    let Some(ka) = cert.keys().key_handles(sig.get_issuers()).next() else {
        return unknown;
    };
    let sig_time = sig.signature_creation_time();
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
    match sig.verify_digest(valid.key(), digest) {
        Ok(()) if bound => SignatureStatus::Unknown {
            issuer: cert.fingerprint().to_hex(),
            in_bundle: true,
        },
        Ok(()) => SignatureStatus::SelfSigned {
            fingerprint: cert.fingerprint().to_hex(),
            user_id: first_uid(cert),
        },
        Err(e) => SignatureStatus::Bad {
            signer: cert.fingerprint().to_hex(),
            reason: format!("{e:#}"),
        },
    }
}
