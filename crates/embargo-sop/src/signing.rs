//! Signatures: `sign`, `verify`, `inline-sign`, `inline-verify`, and the pieces `encrypt` and
//! `decrypt` share with them (unlocking signing keys, collecting verifications).

use std::io::{self, Read, Write};
use std::time::SystemTime;

use embargo_core::keys::{self, KeyError, Signer as KeySigner};
use embargo_core::openpgp;
use openpgp::armor;
use openpgp::crypto::Password;
use openpgp::packet::signature::SignatureBuilder;
use openpgp::parse::stream::{
    DetachedVerifierBuilder, MessageLayer, MessageStructure, VerificationError, VerificationHelper,
    VerifierBuilder,
};
use openpgp::parse::Parse;
use openpgp::serialize::stream::{Armorer, LiteralWriter, Message, Signer};
use openpgp::serialize::Serialize;
use openpgp::types::{DataFormat, SignatureType};
use openpgp::{Cert, KeyHandle, Packet, PacketPile};
use sop::errors::Error;
use sop::ops::{self, InlineSignAs, Micalg, SignAs, SignatureMode, Verification};
use sop::plumbing::PasswordsAreHumanReadable;

use crate::{fail, Certs, EmbargoSop, Keys, Sigs};

/// An OpenPGP library failure while writing: an I/O error stays one, anything else is unspecified.
pub(crate) fn pgp(what: &str) -> impl Fn(anyhow::Error) -> Error + '_ {
    move |e| match e.downcast::<io::Error>() {
        Ok(io) => Error::IoError(io),
        Err(e) => fail(Error::UnspecifiedFailure, format!("{what}: {e:#}")),
    }
}

/// Unlocks the signing key of every KEY, trying each `--with-key-password` (as given, and with
/// trailing whitespace removed) on a protected one.
pub(crate) fn unlock_signers(
    keys: &[Cert],
    passwords: &[sop::Password],
) -> sop::Result<Vec<KeySigner>> {
    keys.iter()
        .map(|key| unlock_signer(key, passwords))
        .collect()
}

fn unlock_signer(key: &Cert, passwords: &[sop::Password]) -> sop::Result<KeySigner> {
    let mut none = |_: &str| None;
    match KeySigner::from_tsk(key, &mut none) {
        Ok(signer) => Ok(signer),
        Err(KeyError::PassphraseRequired { fingerprint }) => {
            for password in passwords {
                for variant in password.variants() {
                    let mut give = |_: &str| Some(Password::from(variant));
                    match KeySigner::from_tsk(key, &mut give) {
                        Ok(signer) => return Ok(signer),
                        Err(KeyError::WrongPassphrase { .. }) => continue,
                        Err(e) => return Err(crate::fail::signing_key(e)),
                    }
                }
            }
            Err(fail(
                Error::KeyIsProtected,
                format!(
                    "signing key {fingerprint} is locked and {}",
                    if passwords.is_empty() {
                        "no --with-key-password was given"
                    } else {
                        "no --with-key-password unlocks it"
                    }
                ),
            ))
        }
        Err(e) => Err(crate::fail::signing_key(e)),
    }
}

/// Reads text input: it must be UTF-8 (EXPECTED_TEXT otherwise).
pub(crate) fn text_input(data: &mut (dyn Read + Send + Sync), what: &str) -> sop::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    data.read_to_end(&mut bytes).map_err(Error::IoError)?;
    if let Err(e) = std::str::from_utf8(&bytes) {
        return Err(fail(
            Error::ExpectedText,
            format!(
                "{what} --as=text: the input is not UTF-8 text (invalid byte at offset {})",
                e.valid_up_to()
            ),
        ));
    }
    Ok(bytes)
}

/// Copies input to output; read errors are the input's, write errors the output's.
pub(crate) fn copy(
    from: &mut dyn Read,
    to: &mut dyn Write,
    on_read_error: &dyn Fn(io::Error) -> Error,
) -> sop::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(on_read_error(e)),
        };
        to.write_all(&buf[..n]).map_err(Error::IoError)?;
    }
}

/// `--not-before` / `--not-after`: signatures outside are not acceptable.
#[derive(Clone, Copy, Default)]
pub(crate) struct Window {
    pub(crate) not_before: Option<SystemTime>,
    pub(crate) not_after: Option<SystemTime>,
}

impl Window {
    fn contains(&self, t: SystemTime) -> bool {
        self.not_before.is_none_or(|nb| t >= nb)
            && t <= self.not_after.unwrap_or_else(SystemTime::now)
    }
}

/// A certificate given for verification, with the file it came from.
pub(crate) type NamedCert = (Cert, Option<String>);

pub(crate) fn named(certs: &Certs<'_>) -> Vec<NamedCert> {
    certs
        .certs
        .iter()
        .map(|c| (c.clone(), certs.source.clone()))
        .collect()
}

/// Collects the acceptable signatures of a message, and why the others were not.
pub(crate) struct Collector {
    pub(crate) certs: Vec<NamedCert>,
    pub(crate) window: Window,
    /// Fail the stream (before releasing data) when no signature is acceptable.
    pub(crate) require_good: bool,
    pub(crate) verifications: Vec<Verification>,
    pub(crate) rejected: Vec<String>,
}

/// Returned from `check` when `require_good` is set and nothing verified: why not.
#[derive(Debug, thiserror::Error)]
#[error("no acceptable signature: {0}")]
pub(crate) struct NoGoodSignature(String);

impl Collector {
    pub(crate) fn new(certs: Vec<NamedCert>, window: Window, require_good: bool) -> Collector {
        Collector {
            certs,
            window,
            require_good,
            verifications: Vec::new(),
            rejected: Vec::new(),
        }
    }

    pub(crate) fn record(&mut self, structure: MessageStructure<'_>) {
        for layer in structure {
            let MessageLayer::SignatureGroup { results } = layer else {
                continue;
            };
            for result in results {
                match result {
                    Ok(good) => {
                        let created = good
                            .sig
                            .signature_creation_time()
                            .unwrap_or(SystemTime::UNIX_EPOCH);
                        let cert_fpr = good.ka.cert().fingerprint();
                        if !self.window.contains(created) {
                            self.rejected.push(format!(
                                "the signature by {cert_fpr} was made at {}, outside --not-before/--not-after",
                                chrono::DateTime::<chrono::Utc>::from(created).format("%Y-%m-%dT%H:%M:%SZ")
                            ));
                            continue;
                        }
                        let mode = if good.sig.typ() == SignatureType::Text {
                            SignatureMode::Text
                        } else {
                            SignatureMode::Binary
                        };
                        let Ok(mut v) = Verification::new(
                            created,
                            good.ka.key().fingerprint().to_hex(),
                            cert_fpr.to_hex(),
                            mode,
                            None,
                        ) else {
                            continue;
                        };
                        if let Some((_, Some(source))) =
                            self.certs.iter().find(|(c, _)| c.fingerprint() == cert_fpr)
                        {
                            v.add_signer(source);
                        }
                        self.verifications.push(v);
                    }
                    Err(VerificationError::MissingKey { sig }) => {
                        let issuer = sig
                            .get_issuers()
                            .first()
                            .map(KeyHandle::to_hex)
                            .unwrap_or_else(|| "an unnamed key".into());
                        self.rejected.push(format!(
                            "a signature by {issuer}, which is not among the given certificates"
                        ));
                    }
                    Err(e) => self.rejected.push(e.to_string()),
                }
            }
        }
    }

    fn why_not(&self) -> String {
        if self.rejected.is_empty() {
            "it carries no signature".to_owned()
        } else {
            self.rejected.join("; ")
        }
    }

    /// NO_SIGNATURE, saying why each signature was not acceptable.
    pub(crate) fn no_signature(&self, what: &str) -> Error {
        fail(
            Error::NoSignature,
            format!("{what}: no acceptable signature: {}", self.why_not()),
        )
    }
}

impl VerificationHelper for Collector {
    fn get_certs(&mut self, _ids: &[KeyHandle]) -> openpgp::Result<Vec<Cert>> {
        Ok(self.certs.iter().map(|(c, _)| c.clone()).collect())
    }

    fn check(&mut self, structure: MessageStructure<'_>) -> openpgp::Result<()> {
        self.record(structure);
        if self.require_good && self.verifications.is_empty() {
            return Err(NoGoodSignature(self.why_not()).into());
        }
        Ok(())
    }
}

pub(crate) struct SignOp<'s> {
    sop: &'s EmbargoSop,
    mode: SignAs,
    keys: Vec<Cert>,
    passwords: Vec<sop::Password>,
}

impl<'s> SignOp<'s> {
    pub(crate) fn new(sop: &'s EmbargoSop) -> SignOp<'s> {
        SignOp {
            sop,
            mode: SignAs::Binary,
            keys: Vec::new(),
            passwords: Vec::new(),
        }
    }
}

pub(crate) fn signature_type(text: bool) -> SignatureType {
    if text {
        SignatureType::Text
    } else {
        SignatureType::Binary
    }
}

/// A stream signer for every unlocked key.
pub(crate) fn stream_signer<'a>(
    message: Message<'a>,
    signers: &[KeySigner],
    typ: SignatureType,
) -> sop::Result<Signer<'a>> {
    let (first, rest) = signers
        .split_first()
        .ok_or_else(|| fail(Error::MissingArg, "no signing key given"))?;
    let mut signer =
        Signer::with_template(message, first.keypair.clone(), SignatureBuilder::new(typ))
            .map_err(pgp("cannot start signing"))?;
    for s in rest {
        signer = signer
            .add_signer(s.keypair.clone())
            .map_err(pgp("cannot add a signer"))?;
    }
    Ok(signer)
}

impl<'s> ops::Sign<'s, EmbargoSop, Keys<'s>, Sigs<'s>> for SignOp<'s> {
    fn mode(
        mut self: Box<Self>,
        mode: SignAs,
    ) -> Box<dyn ops::Sign<'s, EmbargoSop, Keys<'s>, Sigs<'s>> + 's> {
        self.mode = mode;
        self
    }

    fn keys(
        mut self: Box<Self>,
        keys: &Keys<'s>,
    ) -> sop::Result<Box<dyn ops::Sign<'s, EmbargoSop, Keys<'s>, Sigs<'s>> + 's>> {
        self.keys.extend(keys.keys.iter().cloned());
        Ok(self)
    }

    fn with_key_password(
        mut self: Box<Self>,
        password: sop::Password,
    ) -> sop::Result<Box<dyn ops::Sign<'s, EmbargoSop, Keys<'s>, Sigs<'s>> + 's>> {
        self.passwords.push(password);
        Ok(self)
    }

    fn data(
        self: Box<Self>,
        data: &mut (dyn Read + Send + Sync),
    ) -> sop::Result<(Micalg, Sigs<'s>)> {
        if self.keys.is_empty() {
            return Err(fail(Error::MissingArg, "sign: no KEYS given"));
        }
        let signers = unlock_signers(&self.keys, &self.passwords)?;
        let text = self.mode == SignAs::Text;
        let mut out = Vec::new();
        {
            let message = Message::new(&mut out);
            let mut w = stream_signer(message, &signers, signature_type(text))?
                .detached()
                .build()
                .map_err(pgp("cannot start signing"))?;
            if text {
                let input = text_input(data, "sign")?;
                w.write_all(&input).map_err(Error::IoError)?;
            } else {
                copy(data, &mut w, &Error::IoError)?;
            }
            w.finalize().map_err(pgp("cannot finish the signature"))?;
        }
        let sigs: Vec<_> = PacketPile::from_bytes(&out)
            .map_err(pgp("cannot read back the signature"))?
            .into_children()
            .filter_map(|p| match p {
                Packet::Signature(s) => Some(s),
                _ => None,
            })
            .collect();
        let micalg = sigs
            .first()
            .map(|s| Micalg::from(u8::from(s.hash_algo())))
            .ok_or_else(|| fail(Error::UnspecifiedFailure, "signing produced no signature"))?;
        Ok((
            micalg,
            Sigs {
                sop: self.sop,
                sigs,
                source: None,
            },
        ))
    }
}

pub(crate) struct VerifyOp {
    window: Window,
    certs: Vec<NamedCert>,
}

impl VerifyOp {
    pub(crate) fn new() -> VerifyOp {
        VerifyOp {
            window: Window::default(),
            certs: Vec::new(),
        }
    }
}

impl<'s> ops::Verify<'s, EmbargoSop, Certs<'s>, Sigs<'s>> for VerifyOp {
    fn not_before(
        mut self: Box<Self>,
        t: SystemTime,
    ) -> Box<dyn ops::Verify<'s, EmbargoSop, Certs<'s>, Sigs<'s>> + 's> {
        self.window.not_before = Some(t);
        self
    }

    fn not_after(
        mut self: Box<Self>,
        t: SystemTime,
    ) -> Box<dyn ops::Verify<'s, EmbargoSop, Certs<'s>, Sigs<'s>> + 's> {
        self.window.not_after = Some(t);
        self
    }

    fn certs(
        mut self: Box<Self>,
        certs: &Certs<'s>,
    ) -> sop::Result<Box<dyn ops::Verify<'s, EmbargoSop, Certs<'s>, Sigs<'s>> + 's>> {
        self.certs.extend(named(certs));
        Ok(self)
    }

    fn signatures<'sigs>(
        self: Box<Self>,
        signatures: &'sigs Sigs<'s>,
    ) -> sop::Result<Box<dyn ops::VerifySignatures<'sigs> + 'sigs>>
    where
        's: 'sigs,
    {
        if self.certs.is_empty() {
            return Err(fail(Error::MissingArg, "verify: no CERTS given"));
        }
        Ok(Box::new(VerifySignatures {
            op: *self,
            sigs: signatures,
        }))
    }
}

struct VerifySignatures<'sigs, 's> {
    op: VerifyOp,
    sigs: &'sigs Sigs<'s>,
}

impl<'sigs> ops::VerifySignatures<'sigs> for VerifySignatures<'sigs, '_> {
    fn data(
        self: Box<Self>,
        data: &mut (dyn Read + Send + Sync),
    ) -> sop::Result<Vec<Verification>> {
        let mut bytes = Vec::new();
        for s in &self.sigs.sigs {
            Packet::from(s.clone())
                .serialize(&mut bytes)
                .map_err(pgp("cannot serialize a signature"))?;
        }
        let p = keys::policy();
        let what = crate::name(self.sigs.source.as_deref()).to_owned();
        let collector = Collector::new(self.op.certs, self.op.window, false);
        let mut verifier = DetachedVerifierBuilder::from_bytes(&bytes)
            .and_then(|b| b.with_policy(&p, None, collector))
            .map_err(|e| fail(Error::BadData, format!("{what}: {e:#}")))?;
        verifier
            .verify_reader(data)
            .map_err(|e| fail(Error::BadData, format!("cannot verify {what}: {e:#}")))?;
        let collector = verifier.into_helper();
        if collector.verifications.is_empty() {
            return Err(collector.no_signature(&format!("verify {what}")));
        }
        Ok(collector.verifications)
    }
}

pub(crate) struct InlineSignOp {
    armor: bool,
    mode: InlineSignAs,
    keys: Vec<Cert>,
    passwords: Vec<sop::Password>,
}

impl InlineSignOp {
    pub(crate) fn new() -> InlineSignOp {
        InlineSignOp {
            armor: true,
            mode: InlineSignAs::Binary,
            keys: Vec::new(),
            passwords: Vec::new(),
        }
    }
}

impl<'s> ops::InlineSign<'s, EmbargoSop, Keys<'s>> for InlineSignOp {
    fn no_armor(mut self: Box<Self>) -> Box<dyn ops::InlineSign<'s, EmbargoSop, Keys<'s>> + 's> {
        self.armor = false;
        self
    }

    fn mode(
        mut self: Box<Self>,
        mode: InlineSignAs,
    ) -> Box<dyn ops::InlineSign<'s, EmbargoSop, Keys<'s>> + 's> {
        self.mode = mode;
        self
    }

    fn keys(
        mut self: Box<Self>,
        keys: &Keys<'s>,
    ) -> sop::Result<Box<dyn ops::InlineSign<'s, EmbargoSop, Keys<'s>> + 's>> {
        self.keys.extend(keys.keys.iter().cloned());
        Ok(self)
    }

    fn with_key_password(
        mut self: Box<Self>,
        password: sop::Password,
    ) -> sop::Result<Box<dyn ops::InlineSign<'s, EmbargoSop, Keys<'s>> + 's>> {
        self.passwords.push(password);
        Ok(self)
    }

    fn data<'d>(
        self: Box<Self>,
        data: &'d mut (dyn Read + Send + Sync),
    ) -> sop::Result<Box<dyn ops::Ready + 'd>>
    where
        's: 'd,
    {
        if self.keys.is_empty() {
            return Err(fail(Error::MissingArg, "inline-sign: no KEYS given"));
        }
        if self.mode == InlineSignAs::ClearSigned && !self.armor {
            return Err(fail(
                Error::IncompatibleOptions,
                "inline-sign: --as=clearsigned output is text; it cannot be combined with --no-armor",
            ));
        }
        Ok(Box::new(InlineSign { op: *self, data }))
    }
}

struct InlineSign<'d> {
    op: InlineSignOp,
    data: &'d mut (dyn Read + Send + Sync),
}

impl ops::Ready for InlineSign<'_> {
    fn to_writer(self: Box<Self>, sink: &mut (dyn Write + Send + Sync)) -> sop::Result<()> {
        let signers = unlock_signers(&self.op.keys, &self.op.passwords)?;
        let message = Message::new(sink);
        if self.op.mode == InlineSignAs::ClearSigned {
            let text = text_input(self.data, "inline-sign")?;
            let mut w = stream_signer(message, &signers, SignatureType::Text)?
                .cleartext()
                .build()
                .map_err(pgp("cannot start signing"))?;
            w.write_all(&text).map_err(Error::IoError)?;
            return w.finalize().map_err(pgp("cannot finish the signature"));
        }
        let text = self.op.mode == InlineSignAs::Text;
        // Text is checked before anything is written.
        let input = if text {
            Some(text_input(self.data, "inline-sign")?)
        } else {
            None
        };
        let message = if self.op.armor {
            Armorer::new(message)
                .kind(armor::Kind::Message)
                .build()
                .map_err(pgp("cannot start armor"))?
        } else {
            message
        };
        let signer = stream_signer(message, &signers, signature_type(text))?
            .build()
            .map_err(pgp("cannot start signing"))?;
        let mut literal = LiteralWriter::new(signer)
            .format(if text {
                DataFormat::Unicode
            } else {
                DataFormat::Binary
            })
            .build()
            .map_err(pgp("cannot start the literal data"))?;
        match input {
            Some(input) => literal.write_all(&input).map_err(Error::IoError)?,
            None => copy(self.data, &mut literal, &Error::IoError)?,
        }
        literal
            .finalize()
            .map_err(pgp("cannot finish the signature"))
    }
}

pub(crate) struct InlineVerifyOp {
    window: Window,
    certs: Vec<NamedCert>,
}

impl InlineVerifyOp {
    pub(crate) fn new() -> InlineVerifyOp {
        InlineVerifyOp {
            window: Window::default(),
            certs: Vec::new(),
        }
    }
}

impl<'s> ops::InlineVerify<'s, EmbargoSop, Certs<'s>> for InlineVerifyOp {
    fn not_before(
        mut self: Box<Self>,
        t: SystemTime,
    ) -> Box<dyn ops::InlineVerify<'s, EmbargoSop, Certs<'s>> + 's> {
        self.window.not_before = Some(t);
        self
    }

    fn not_after(
        mut self: Box<Self>,
        t: SystemTime,
    ) -> Box<dyn ops::InlineVerify<'s, EmbargoSop, Certs<'s>> + 's> {
        self.window.not_after = Some(t);
        self
    }

    fn certs(
        mut self: Box<Self>,
        certs: &Certs<'s>,
    ) -> sop::Result<Box<dyn ops::InlineVerify<'s, EmbargoSop, Certs<'s>> + 's>> {
        self.certs.extend(named(certs));
        Ok(self)
    }

    fn message<'d>(
        self: Box<Self>,
        data: &'d mut (dyn Read + Send + Sync),
    ) -> sop::Result<Box<dyn ops::Ready<Vec<Verification>> + 'd>>
    where
        's: 'd,
    {
        if self.certs.is_empty() {
            return Err(fail(Error::MissingArg, "inline-verify: no CERTS given"));
        }
        Ok(Box::new(InlineVerify { op: *self, data }))
    }
}

struct InlineVerify<'d> {
    op: InlineVerifyOp,
    data: &'d mut (dyn Read + Send + Sync),
}

impl ops::Ready<Vec<Verification>> for InlineVerify<'_> {
    fn to_writer(
        self: Box<Self>,
        sink: &mut (dyn Write + Send + Sync),
    ) -> sop::Result<Vec<Verification>> {
        let p = keys::policy();
        let collector = Collector::new(self.op.certs, self.op.window, true);
        // The verifier holds the data back until the signatures are checked (up to its buffer
        // size), so a message without an acceptable signature releases nothing.
        let mut verifier = match VerifierBuilder::from_reader(self.data)
            .and_then(|b| b.with_policy(&p, None, collector))
        {
            Ok(v) => v,
            Err(e) => {
                if let Some(NoGoodSignature(why)) = e.downcast_ref::<NoGoodSignature>() {
                    return Err(fail(
                        Error::NoSignature,
                        format!("inline-verify: no acceptable signature: {why}"),
                    ));
                }
                return Err(fail(
                    Error::BadData,
                    format!("inline-verify: not a signed OpenPGP message: {e:#}"),
                ));
            }
        };
        let read_result = copy(&mut verifier, sink, &|e| {
            fail(Error::BadData, format!("inline-verify: {e}"))
        });
        let collector = verifier.into_helper();
        if collector.verifications.is_empty() {
            return Err(collector.no_signature("inline-verify"));
        }
        read_result?;
        Ok(collector.verifications)
    }
}
