//! `encrypt` (the core's recipient profile, as `embargo seal` encrypts) and `decrypt`.

use std::io::{Read, Write};
use std::time::SystemTime;

use embargo_core::keys::{self, KeyProfile};
use embargo_core::openpgp;
use openpgp::armor;
use openpgp::crypto::{KeyPair, Password, SessionKey};
use openpgp::packet::{PKESK, SKESK};
use openpgp::parse::stream::{
    DecryptionHelper, DecryptorBuilder, MessageStructure, VerificationHelper,
};
use openpgp::parse::{PacketParser, Parse};
use openpgp::serialize::stream::{Armorer, Encryptor, LiteralWriter, Message};
use openpgp::types::{DataFormat, SymmetricAlgorithm};
use openpgp::{Cert, KeyHandle, Packet};
use sop::errors::Error;
use sop::ops::{self, EncryptAs, Verification};
use sop::plumbing::PasswordsAreHumanReadable;

use crate::signing::{
    self, copy, named, pgp, signature_type, stream_signer, unlock_signers, Collector, NamedCert,
    Window,
};
use crate::{fail, Certs, EmbargoSop, Keys};

/// What `encrypt --profile` selects.
fn encrypt_profiles() -> Vec<(String, String)> {
    vec![
        (
            KeyProfile::Rfc4880.name().to_owned(),
            "SEIPDv1 for v4 recipients, SEIPDv2 for v6 ones, as `embargo seal` does (default)"
                .to_owned(),
        ),
        (
            KeyProfile::Rfc9580.name().to_owned(),
            "SEIPDv2 (AEAD) when every recipient advertises it, else as rfc4880".to_owned(),
        ),
    ]
}

pub(crate) struct EncryptOp {
    armor: bool,
    profile: KeyProfile,
    mode: EncryptAs,
    sign_with: Vec<Cert>,
    key_passwords: Vec<sop::Password>,
    recipients: Vec<NamedCert>,
}

impl EncryptOp {
    pub(crate) fn new() -> EncryptOp {
        EncryptOp {
            armor: true,
            profile: KeyProfile::default(),
            mode: EncryptAs::Binary,
            sign_with: Vec::new(),
            key_passwords: Vec::new(),
            recipients: Vec::new(),
        }
    }
}

impl<'s> ops::Encrypt<'s, EmbargoSop, Certs<'s>, Keys<'s>> for EncryptOp {
    fn no_armor(
        mut self: Box<Self>,
    ) -> Box<dyn ops::Encrypt<'s, EmbargoSop, Certs<'s>, Keys<'s>> + 's> {
        self.armor = false;
        self
    }

    fn list_profiles(&self) -> Vec<(String, String)> {
        encrypt_profiles()
    }

    fn profile(
        mut self: Box<Self>,
        name: &str,
    ) -> sop::Result<Box<dyn ops::Encrypt<'s, EmbargoSop, Certs<'s>, Keys<'s>> + 's>> {
        self.profile = crate::generate::profile(name, "encrypt")?;
        Ok(self)
    }

    fn mode(
        mut self: Box<Self>,
        mode: EncryptAs,
    ) -> Box<dyn ops::Encrypt<'s, EmbargoSop, Certs<'s>, Keys<'s>> + 's> {
        self.mode = mode;
        self
    }

    fn sign_with_keys(
        mut self: Box<Self>,
        keys: &Keys<'s>,
    ) -> sop::Result<Box<dyn ops::Encrypt<'s, EmbargoSop, Certs<'s>, Keys<'s>> + 's>> {
        self.sign_with.extend(keys.keys.iter().cloned());
        Ok(self)
    }

    fn with_key_password(
        mut self: Box<Self>,
        password: sop::Password,
    ) -> sop::Result<Box<dyn ops::Encrypt<'s, EmbargoSop, Certs<'s>, Keys<'s>> + 's>> {
        self.key_passwords.push(password);
        Ok(self)
    }

    fn with_password(
        self: Box<Self>,
        _password: sop::Password,
    ) -> sop::Result<Box<dyn ops::Encrypt<'s, EmbargoSop, Certs<'s>, Keys<'s>> + 's>> {
        Err(fail(
            Error::UnsupportedOption,
            "encrypt --with-password: embargo-sop encrypts to certificates only",
        ))
    }

    fn with_certs(
        mut self: Box<Self>,
        certs: &Certs<'s>,
    ) -> sop::Result<Box<dyn ops::Encrypt<'s, EmbargoSop, Certs<'s>, Keys<'s>> + 's>> {
        self.recipients.extend(named(certs));
        Ok(self)
    }

    fn plaintext<'d>(
        self: Box<Self>,
        plaintext: &'d mut (dyn Read + Send + Sync),
    ) -> sop::Result<Box<dyn ops::Ready<Option<sop::SessionKey>> + 'd>>
    where
        's: 'd,
    {
        if self.recipients.is_empty() {
            return Err(fail(
                Error::MissingArg,
                "encrypt: no CERTS given (--with-password is not supported)",
            ));
        }
        Ok(Box::new(Encrypt {
            op: *self,
            plaintext,
        }))
    }
}

struct Encrypt<'d> {
    op: EncryptOp,
    plaintext: &'d mut (dyn Read + Send + Sync),
}

/// Whether a recipient's encryption subkeys are of an algorithm this build cannot use.
fn unsupported_algorithm(cert: &Cert) -> bool {
    cert.keys().subkeys().any(|ka| {
        let flags = ka
            .self_signatures()
            .next()
            .and_then(|s| s.key_flags())
            .is_some_and(|f| f.for_transport_encryption() || f.for_storage_encryption());
        flags && !ka.key().pk_algo().is_supported()
    })
}

impl ops::Ready<Option<sop::SessionKey>> for Encrypt<'_> {
    fn to_writer(
        self: Box<Self>,
        sink: &mut (dyn Write + Send + Sync),
    ) -> sop::Result<Option<sop::SessionKey>> {
        let op = self.op;
        let p = keys::policy();
        let certs: Vec<Cert> = op.recipients.iter().map(|(c, _)| c.clone()).collect();
        let mut subkeys = Vec::new();
        for (cert, source) in &op.recipients {
            let keys = keys::encryption_keys(cert, &p).map_err(|e| {
                crate::fail::recipient(e, source.as_deref(), unsupported_algorithm(cert))
            })?;
            subkeys.push(keys);
        }
        // rfc4880: SEIPDv2 only for v6 certificates (they require it); rfc9580: also for v4
        // certificates, when every recipient says it reads SEIPDv2.
        let aead = op.profile == KeyProfile::Rfc9580
            && certs
                .iter()
                .all(|c| c.primary_key().key().version() >= 6 || keys::advertises_seipdv2(c));
        let set = keys::recipients(&certs, &subkeys, aead)
            .map_err(|e| crate::fail::recipient(e, None, false))?;
        let signers = unlock_signers(&op.sign_with, &op.key_passwords)?;
        let text = op.mode == EncryptAs::Text;
        // Text is checked before anything is written.
        let input = if text {
            Some(signing::text_input(self.plaintext, "encrypt")?)
        } else {
            None
        };

        let algo = SymmetricAlgorithm::AES256;
        let session_key = SessionKey::new(algo.key_size().map_err(pgp("cipher"))?)
            .map_err(pgp("cannot make a session key"))?;
        let mut message = Message::new(sink);
        if op.armor {
            message = Armorer::new(message)
                .kind(armor::Kind::Message)
                .build()
                .map_err(pgp("cannot start armor"))?;
        }
        let mut message = Encryptor::with_session_key(message, algo, session_key.clone())
            .map_err(pgp("cannot start encryption"))?
            .add_recipients(set.recipients)
            .build()
            .map_err(pgp("cannot start encryption"))?;
        if !signers.is_empty() {
            let mut signer = stream_signer(message, &signers, signature_type(text))?;
            for cert in &certs {
                signer = signer.add_intended_recipient(cert);
            }
            message = signer.build().map_err(pgp("cannot start signing"))?;
        }
        let mut literal = LiteralWriter::new(message)
            .format(if text {
                DataFormat::Unicode
            } else {
                DataFormat::Binary
            })
            .build()
            .map_err(pgp("cannot start the literal data"))?;
        match input {
            Some(input) => literal.write_all(&input).map_err(Error::IoError)?,
            None => copy(self.plaintext, &mut literal, &Error::IoError)?,
        }
        literal
            .finalize()
            .map_err(pgp("cannot finish encryption"))?;
        sop::SessionKey::new(algo, &session_key[..]).map(Some)
    }
}

pub(crate) struct DecryptOp {
    window: Window,
    verify_with: Vec<NamedCert>,
    session_keys: Vec<sop::SessionKey>,
    keys: Vec<Cert>,
    key_passwords: Vec<sop::Password>,
}

impl DecryptOp {
    pub(crate) fn new() -> DecryptOp {
        DecryptOp {
            window: Window::default(),
            verify_with: Vec::new(),
            session_keys: Vec::new(),
            keys: Vec::new(),
            key_passwords: Vec::new(),
        }
    }
}

impl<'s> ops::Decrypt<'s, EmbargoSop, Certs<'s>, Keys<'s>> for DecryptOp {
    fn verify_not_before(
        mut self: Box<Self>,
        t: SystemTime,
    ) -> Box<dyn ops::Decrypt<'s, EmbargoSop, Certs<'s>, Keys<'s>> + 's> {
        self.window.not_before = Some(t);
        self
    }

    fn verify_not_after(
        mut self: Box<Self>,
        t: SystemTime,
    ) -> Box<dyn ops::Decrypt<'s, EmbargoSop, Certs<'s>, Keys<'s>> + 's> {
        self.window.not_after = Some(t);
        self
    }

    fn verify_with_certs(
        mut self: Box<Self>,
        certs: &Certs<'s>,
    ) -> sop::Result<Box<dyn ops::Decrypt<'s, EmbargoSop, Certs<'s>, Keys<'s>> + 's>> {
        self.verify_with.extend(named(certs));
        Ok(self)
    }

    fn with_session_key(
        mut self: Box<Self>,
        sk: sop::SessionKey,
    ) -> sop::Result<Box<dyn ops::Decrypt<'s, EmbargoSop, Certs<'s>, Keys<'s>> + 's>> {
        self.session_keys.push(sk);
        Ok(self)
    }

    fn with_password(
        self: Box<Self>,
        _password: sop::Password,
    ) -> sop::Result<Box<dyn ops::Decrypt<'s, EmbargoSop, Certs<'s>, Keys<'s>> + 's>> {
        Err(fail(
            Error::UnsupportedOption,
            "decrypt --with-password: embargo-sop decrypts with secret keys and session keys only",
        ))
    }

    fn with_keys(
        mut self: Box<Self>,
        keys: &Keys<'s>,
    ) -> sop::Result<Box<dyn ops::Decrypt<'s, EmbargoSop, Certs<'s>, Keys<'s>> + 's>> {
        self.keys.extend(keys.keys.iter().cloned());
        Ok(self)
    }

    fn with_key_password(
        mut self: Box<Self>,
        password: sop::Password,
    ) -> sop::Result<Box<dyn ops::Decrypt<'s, EmbargoSop, Certs<'s>, Keys<'s>> + 's>> {
        self.key_passwords.push(password);
        Ok(self)
    }

    fn ciphertext<'d>(
        self: Box<Self>,
        ciphertext: &'d mut (dyn Read + Send + Sync),
    ) -> sop::Result<Box<dyn ops::Ready<(Option<sop::SessionKey>, Vec<Verification>)> + 'd>>
    where
        's: 'd,
    {
        if self.keys.is_empty() && self.session_keys.is_empty() {
            return Err(fail(
                Error::MissingArg,
                "decrypt: no KEYS and no --with-session-key given",
            ));
        }
        Ok(Box::new(Decrypt {
            op: *self,
            ciphertext,
        }))
    }
}

struct Decrypt<'d> {
    op: DecryptOp,
    ciphertext: &'d mut (dyn Read + Send + Sync),
}

/// Raised from the helper when nothing decrypts the session key.
#[derive(Debug, thiserror::Error)]
#[error("no session key")]
struct NoSessionKey {
    /// Matching keys that stayed locked.
    locked: Vec<String>,
    /// Recipients named in the message.
    recipients: Vec<String>,
}

/// Raised from the helper when the plaintext begins before any encryption.
#[derive(Debug, thiserror::Error)]
#[error("not encrypted")]
struct NotEncrypted;

struct Helper {
    collector: Collector,
    keys: Vec<Cert>,
    passwords: Vec<sop::Password>,
    session_keys: Vec<sop::SessionKey>,
    /// The session key that worked, with its algorithm.
    used: Option<(SymmetricAlgorithm, SessionKey)>,
    /// Keys that matched a recipient but stayed locked.
    locked: Vec<String>,
    /// Recipients named in the message.
    recipients: Vec<String>,
}

impl Helper {
    fn unlock(
        &mut self,
        key: openpgp::packet::Key<
            openpgp::packet::key::SecretParts,
            openpgp::packet::key::UnspecifiedRole,
        >,
        cert: &Cert,
    ) -> Option<KeyPair> {
        if key.has_unencrypted_secret() {
            return key.into_keypair().ok();
        }
        for password in &self.passwords {
            for variant in password.variants() {
                let mut give = |_: &str| Some(Password::from(variant));
                if let Ok(pair) = keys::unlock(key.clone(), cert, &mut give) {
                    return Some(pair);
                }
            }
        }
        self.locked.push(key.fingerprint().to_hex());
        None
    }
}

impl VerificationHelper for Helper {
    fn inspect(&mut self, pp: &PacketParser<'_>) -> openpgp::Result<()> {
        if let Packet::Literal(_) = pp.packet {
            if self.used.is_none() {
                return Err(NotEncrypted.into());
            }
        }
        Ok(())
    }

    fn get_certs(&mut self, ids: &[KeyHandle]) -> openpgp::Result<Vec<Cert>> {
        self.collector.get_certs(ids)
    }

    fn check(&mut self, structure: MessageStructure<'_>) -> openpgp::Result<()> {
        self.collector.record(structure);
        Ok(())
    }
}

impl DecryptionHelper for Helper {
    fn decrypt(
        &mut self,
        pkesks: &[PKESK],
        _skesks: &[SKESK],
        sym_algo: Option<SymmetricAlgorithm>,
        decrypt: &mut dyn FnMut(Option<SymmetricAlgorithm>, &SessionKey) -> bool,
    ) -> openpgp::Result<Option<Cert>> {
        for sk in &self.session_keys {
            let algo = SymmetricAlgorithm::from(sk.algorithm());
            let key = SessionKey::from(sk.key());
            if decrypt(Some(algo), &key) {
                self.used = Some((sym_algo.unwrap_or(algo), key));
                return Ok(None);
            }
        }
        self.recipients = pkesks
            .iter()
            .map(|p| {
                p.recipient()
                    .map(|h| h.to_hex())
                    .unwrap_or_else(|| "a hidden recipient".into())
            })
            .collect();
        let keys = self.keys.clone();
        for pkesk in pkesks {
            for cert in &keys {
                for ka in cert.keys().secret() {
                    if !ka.key().pk_algo().for_encryption() {
                        continue;
                    }
                    let matches = pkesk
                        .recipient()
                        .is_none_or(|h| h.aliases(ka.key().key_handle()));
                    if !matches {
                        continue;
                    }
                    let Some(mut pair) =
                        self.unlock(ka.key().clone().role_into_unspecified(), cert)
                    else {
                        continue;
                    };
                    if let Some((algo, sk)) = pkesk.decrypt(&mut pair, sym_algo) {
                        if decrypt(algo, &sk) {
                            let algo = algo.or(sym_algo).unwrap_or(SymmetricAlgorithm::Unknown(0));
                            self.used = Some((algo, sk));
                            return Ok(Some(cert.clone()));
                        }
                    }
                }
            }
        }
        Err(NoSessionKey {
            locked: std::mem::take(&mut self.locked),
            recipients: std::mem::take(&mut self.recipients),
        }
        .into())
    }
}

/// Why decryption could not start.
fn start_error(e: anyhow::Error, keys: &[Cert]) -> Error {
    if e.downcast_ref::<NotEncrypted>().is_some() {
        return fail(Error::BadData, "decrypt: the message is not encrypted");
    }
    if let Some(NoSessionKey { locked, recipients }) = e.downcast_ref::<NoSessionKey>() {
        if let Some(fp) = locked.first() {
            return fail(
                Error::KeyIsProtected,
                format!("decrypt: key {fp} is locked and no --with-key-password unlocks it"),
            );
        }
        let ours = keys
            .iter()
            .flat_map(|c| c.keys().map(|k| k.key().fingerprint().to_hex()))
            .collect::<Vec<_>>();
        return fail(
            Error::CannotDecrypt,
            format!(
                "decrypt: the message is for {}; no given KEY ({}) or session key decrypts it",
                if recipients.is_empty() {
                    "no public-key recipient".to_owned()
                } else {
                    recipients.join(", ")
                },
                if ours.is_empty() {
                    "none".to_owned()
                } else {
                    ours.join(", ")
                }
            ),
        );
    }
    match e.downcast_ref::<openpgp::Error>() {
        Some(openpgp::Error::UnsupportedAEADAlgorithm(a)) => fail(
            Error::CannotDecrypt,
            format!(
                "decrypt: the message uses AEAD mode {a}, which this build cannot decrypt (it reads {})",
                keys::supported_aead_ciphersuites()
                    .iter()
                    .map(|(s, a)| format!("{s}/{a}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        Some(openpgp::Error::UnsupportedSymmetricAlgorithm(a)) => fail(
            Error::CannotDecrypt,
            format!("decrypt: the message uses cipher {a}, which this build does not support"),
        ),
        Some(openpgp::Error::ManipulatedMessage) | Some(openpgp::Error::MissingSessionKey(_)) => {
            fail(
                Error::CannotDecrypt,
                format!("decrypt: the message was modified or is corrupt: {e:#}"),
            )
        }
        _ => fail(
            Error::BadData,
            format!("decrypt: not an OpenPGP message: {e:#}"),
        ),
    }
}

impl ops::Ready<(Option<sop::SessionKey>, Vec<Verification>)> for Decrypt<'_> {
    fn to_writer(
        self: Box<Self>,
        sink: &mut (dyn Write + Send + Sync),
    ) -> sop::Result<(Option<sop::SessionKey>, Vec<Verification>)> {
        let op = self.op;
        let p = keys::policy();
        let keys = op.keys.clone();
        let helper = Helper {
            collector: Collector::new(op.verify_with, op.window, false),
            keys: op.keys,
            passwords: op.key_passwords,
            session_keys: op.session_keys,
            used: None,
            locked: Vec::new(),
            recipients: Vec::new(),
        };
        let mut decryptor = DecryptorBuilder::from_reader(self.ciphertext)
            .and_then(|b| b.with_policy(&p, None, helper))
            .map_err(|e| start_error(e, &keys))?;
        copy(&mut decryptor, sink, &|e| {
            fail(
                Error::CannotDecrypt,
                format!("decrypt: the message was modified or is corrupt: {e}"),
            )
        })?;
        let helper = decryptor.into_helper();
        let session_key = match &helper.used {
            Some((algo, sk)) => Some(sop::SessionKey::new(*algo, &sk[..])?),
            None => None,
        };
        Ok((session_key, helper.collector.verifications))
    }
}
