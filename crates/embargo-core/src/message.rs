//! Small OpenPGP messages made and read whole in memory: the vault's drafts and records (to the
//! identity), and the team's replies (signed, to the researcher and the team). Reports are not
//! these: they stream through `seal` and `open`.
//!
//! Messages are SEIPDv1 for v4 certificates (gpg 2.2 reads them), never compressed; reading
//! caps the plaintext and wipes it from memory when dropped.

use std::io::{Read, Write};

use openpgp::crypto::{Password, SessionKey};
use openpgp::packet::{PKESK, SKESK};
use openpgp::parse::stream::{
    DecryptionHelper, DecryptorBuilder, MessageStructure, VerificationHelper,
};
use openpgp::parse::Parse;
use openpgp::serialize::stream::{
    Armorer, Encryptor, LiteralWriter, Message, Signer as StreamSigner,
};
use openpgp::types::SymmetricAlgorithm;
use openpgp::Cert;
use sequoia_openpgp as openpgp;
use zeroize::Zeroizing;

use crate::keys::{self, KeyError, PassphraseFn, Signer};
use crate::open::decrypt::{self, Helper, SignatureStatus};
use crate::open::OpenError;

/// Why a message could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// A recipient or the signer cannot be used (the error names which and why).
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The OpenPGP layer failed while writing to memory.
    #[error("OpenPGP error while encrypting: {0}")]
    OpenPgp(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Encrypts `text` to every certificate in `to` (each one's encryption-capable subkeys),
/// signed by `signer` when given (and naming every recipient as an intended recipient, so
/// the signature cannot be re-addressed). Binary unless `armor`.
pub fn seal(
    text: &[u8],
    to: &[Cert],
    signer: Option<&Signer>,
    armor: bool,
) -> Result<Vec<u8>, MessageError> {
    let p = keys::policy();
    let subkeys = to
        .iter()
        .map(|c| keys::encryption_keys(c, &p))
        .collect::<Result<Vec<_>, _>>()?;
    let set = keys::recipients(to, &subkeys, false)?;
    let pgp = |e: anyhow::Error| MessageError::OpenPgp(e.into());
    let mut out = Vec::new();
    {
        let mut m = Message::new(&mut out);
        if armor {
            m = Armorer::new(m).build().map_err(pgp)?;
        }
        let mut m = Encryptor::for_recipients(m, set.recipients)
            .build()
            .map_err(pgp)?;
        if let Some(s) = signer {
            let mut ss = StreamSigner::new(m, s.keypair.clone()).map_err(pgp)?;
            // Every recipient, the signer too when it is one: a signer reading its own
            // message back (a team member's thread of replies) must find itself intended.
            for c in to {
                ss = ss.add_intended_recipient(c);
            }
            m = ss.build().map_err(pgp)?;
        }
        let mut lit = LiteralWriter::new(m).build().map_err(pgp)?;
        lit.write_all(text).map_err(|e| pgp(e.into()))?;
        lit.finalize().map_err(pgp)?;
    }
    Ok(out)
}

/// A message read back.
pub struct Opened {
    /// The plaintext (wiped from memory when dropped).
    pub text: Zeroizing<Vec<u8>>,
    /// Who signed it; with `verify_with` given, only those certificates count.
    pub signature: SignatureStatus,
}

/// Decrypts (armored or binary) with one of `secret_keys` and verifies the signature, if any,
/// against `verify_with`; more than `limit` bytes of plaintext is an error.
pub fn open(
    bytes: &[u8],
    secret_keys: &[Cert],
    verify_with: &[Cert],
    passphrase: &mut PassphraseFn<'_>,
    limit: usize,
) -> Result<Opened, OpenError> {
    let p = keys::policy();
    let helper = Helper::new(secret_keys, verify_with, passphrase);
    let mut decryptor = DecryptorBuilder::from_bytes(bytes)
        .map_err(|e| OpenError::NotOpenPgp(e.into()))?
        .with_policy(&p, None, helper)
        .map_err(decrypt::start_error)?;
    let text = read_capped(&mut decryptor, limit)?;
    let helper = decryptor.into_helper();
    let signature = decrypt::signature_status(&helper, None, !verify_with.is_empty(), &p);
    Ok(Opened { text, signature })
}

/// Reads a decryptor to its end (where integrity is checked), at most `limit` bytes.
fn read_capped(decryptor: impl Read, limit: usize) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    let mut text = Zeroizing::new(Vec::new());
    decryptor
        .take(limit as u64 + 1)
        .read_to_end(&mut text)
        .map_err(|e| OpenError::Integrity(Box::new(e)))?;
    if text.len() > limit {
        return Err(OpenError::TooLarge {
            limit: limit as u64,
        });
    }
    Ok(text)
}

/// Encrypts `text` with a passphrase alone (SKESK, SEIPDv1: gpg reads it with
/// `gpg --decrypt`), binary.
pub fn seal_with_password(text: &[u8], password: &Password) -> Result<Vec<u8>, MessageError> {
    let pgp = |e: anyhow::Error| MessageError::OpenPgp(e.into());
    let mut out = Vec::new();
    {
        let m = Message::new(&mut out);
        let m = Encryptor::with_passwords(m, Some(password.clone()))
            .build()
            .map_err(pgp)?;
        let mut lit = LiteralWriter::new(m).build().map_err(pgp)?;
        lit.write_all(text).map_err(|e| pgp(e.into()))?;
        lit.finalize().map_err(pgp)?;
    }
    Ok(out)
}

/// Decrypts a message made by [`seal_with_password`]; more than `limit` bytes is an error.
pub fn open_with_password(
    bytes: &[u8],
    password: &Password,
    limit: usize,
) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    struct WithPassword<'a>(&'a Password);
    impl VerificationHelper for WithPassword<'_> {
        fn get_certs(&mut self, _: &[openpgp::KeyHandle]) -> openpgp::Result<Vec<Cert>> {
            Ok(Vec::new())
        }
        fn check(&mut self, _: MessageStructure<'_>) -> openpgp::Result<()> {
            Ok(())
        }
    }
    impl DecryptionHelper for WithPassword<'_> {
        fn decrypt(
            &mut self,
            _: &[PKESK],
            skesks: &[SKESK],
            _: Option<SymmetricAlgorithm>,
            decrypt: &mut dyn FnMut(Option<SymmetricAlgorithm>, &SessionKey) -> bool,
        ) -> openpgp::Result<Option<Cert>> {
            for skesk in skesks {
                if let Ok((algo, key)) = skesk.decrypt(self.0) {
                    if decrypt(algo, &key) {
                        return Ok(None);
                    }
                }
            }
            Err(anyhow::anyhow!("the passphrase does not decrypt it"))
        }
    }
    let p = keys::policy();
    let mut decryptor = DecryptorBuilder::from_bytes(bytes)
        .map_err(|e| OpenError::NotOpenPgp(e.into()))?
        .with_policy(&p, None, WithPassword(password))
        .map_err(decrypt::start_error)?;
    read_capped(&mut decryptor, limit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyProfile, KeySpec};

    fn key(uid: &str) -> Cert {
        keys::generate(&KeySpec::new(uid, KeyProfile::Rfc4880)).unwrap()
    }

    #[test]
    fn sealed_messages_open_with_their_signature_checked_against_the_given_certs() {
        let team = key("Team <team@example.org>");
        let ada = key("Ada <ada@example.org>");
        let mallory = key("Mallory <m@example.org>");
        let mut none = |_: &str| None;
        let signer = Signer::from_tsk(&team, &mut none).unwrap();
        let public = |c: &Cert| c.clone().strip_secret_key_material();
        let sealed = seal(
            b"hello",
            &[public(&ada), public(&team)],
            Some(&signer),
            true,
        )
        .unwrap();
        assert!(sealed.starts_with(b"-----BEGIN PGP MESSAGE-----"));

        let opened = open(
            &sealed,
            std::slice::from_ref(&ada),
            &[public(&team)],
            &mut none,
            100,
        )
        .unwrap();
        assert_eq!(&opened.text[..], b"hello");
        assert!(
            matches!(opened.signature, SignatureStatus::Good { ref fingerprint, .. } if *fingerprint == team.fingerprint().to_hex()),
            "{}",
            opened.signature
        );
        // Verified against another key: the signer is unknown, the text still readable.
        let other = open(
            &sealed,
            std::slice::from_ref(&ada),
            &[public(&mallory)],
            &mut none,
            100,
        )
        .unwrap();
        assert!(matches!(other.signature, SignatureStatus::Unknown { .. }));
        // The team reads its own copy.
        assert!(open(&sealed, std::slice::from_ref(&team), &[], &mut none, 100).is_ok());
        // Not a recipient.
        assert!(open(&sealed, &[mallory], &[], &mut none, 100).is_err());
        // Over the cap.
        assert!(matches!(
            open(&sealed, std::slice::from_ref(&ada), &[], &mut none, 4),
            Err(OpenError::TooLarge { limit: 4 })
        ));
        // Unsigned and binary.
        let plain = seal(b"x", &[public(&ada)], None, false).unwrap();
        assert!(!plain.starts_with(b"-----"));
        let opened = open(&plain, &[ada], &[], &mut none, 100).unwrap();
        assert_eq!(opened.signature, SignatureStatus::None);
    }
}
