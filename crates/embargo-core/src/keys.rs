//! OpenPGP keys: reading certs and secret keys, the recipient profile (which subkeys, which
//! format), unlocking, and the facts shown to a person before they trust a key.

use std::fmt;
use std::path::Path;
use std::time::SystemTime;

use openpgp::cert::prelude::*;
use openpgp::crypto::{KeyPair, Password};
use openpgp::packet::key::{PublicParts, UnspecifiedRole};
use openpgp::packet::Key;
use openpgp::parse::Parse;
use openpgp::policy::{Policy, StandardPolicy};
use openpgp::serialize::stream::Recipient;
use openpgp::serialize::SerializeInto;
use openpgp::types::{Features, KeyFlags, RevocationStatus};
use openpgp::{Cert, Fingerprint};
use sequoia_openpgp as openpgp;
use serde::Serialize;

mod generate;
pub mod strength;
pub use generate::{
    generate, protect, supported_aead_ciphersuites, KeyProfile, KeySpec, UnknownProfile,
};

/// The policy every operation uses.
pub fn policy() -> StandardPolicy<'static> {
    StandardPolicy::new()
}

/// The encrypted-data packet format a message gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Format {
    /// SEIPDv1 with MDC (RFC 4880): what every deployed OpenPGP tool reads.
    #[serde(rename = "SEIPDv1")]
    SeipdV1,
    /// SEIPDv2 with AEAD (RFC 9580): faster, but GnuPG cannot read it.
    #[serde(rename = "SEIPDv2")]
    SeipdV2,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::SeipdV1 => "SEIPDv1",
            Format::SeipdV2 => "SEIPDv2",
        })
    }
}

/// Why a key cannot be used, naming the key and the reason.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key file cannot be read.
    #[error("cannot read key file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The input is not OpenPGP key material.
    #[error("{what} is not an OpenPGP certificate: {message}")]
    Parse {
        /// File name or "pasted text".
        what: String,
        /// The parser's reason.
        message: String,
    },
    /// The input holds no certificate.
    #[error("{what} holds no OpenPGP certificate")]
    Empty {
        /// File name or "pasted text".
        what: String,
    },
    /// The certificate is revoked.
    #[error("key {fingerprint} is revoked: {reason}")]
    Revoked {
        /// Primary fingerprint.
        fingerprint: String,
        /// Revocation reason and message.
        reason: String,
    },
    /// The certificate (or every usable subkey) has expired.
    #[error("key {fingerprint} expired on {at}{detail}")]
    Expired {
        /// Primary fingerprint.
        fingerprint: String,
        /// Expiry date (UTC).
        at: String,
        /// Which part expired, when it is a subkey.
        detail: String,
    },
    /// No subkey is usable for encryption.
    #[error("key {fingerprint} has no encryption-capable subkey{detail}")]
    NoEncryptionSubkey {
        /// Primary fingerprint.
        fingerprint: String,
        /// What the subkeys are instead.
        detail: String,
    },
    /// The standard policy rejects the key (weak algorithm or hash).
    #[error("key {fingerprint} is rejected by policy: {reason}")]
    PolicyRejected {
        /// Primary fingerprint.
        fingerprint: String,
        /// The rejected algorithm or hash.
        reason: String,
    },
    /// `--aead` asked for SEIPDv2 but the certificate does not advertise it.
    #[error("key {fingerprint} does not advertise SEIPDv2 (AEAD) support, so --aead cannot be used with it")]
    AeadUnsupported {
        /// Primary fingerprint.
        fingerprint: String,
    },
    /// v6 certificates need SEIPDv2, v4 ones get SEIPDv1: one message cannot serve both.
    #[error(
        "one message cannot be encrypted to both {v6} and {v4}: {v6} is a v6 (RFC 9580) key, which \
         needs SEIPDv2, and {v4} is a v4 key, which gets SEIPDv1 ({})",
        if *v4_advertises_seipdv2 {
            "it advertises SEIPDv2, but SEIPDv2 for v4 keys was not asked for"
        } else {
            "it does not advertise SEIPDv2, so its owner's software may not read it"
        }
    )]
    MixedFormats {
        /// A v6 recipient.
        v6: String,
        /// A v4 recipient that gets SEIPDv1.
        v4: String,
        /// Whether that v4 certificate says it reads SEIPDv2.
        v4_advertises_seipdv2: bool,
    },
    /// Key generation failed.
    #[error("cannot generate a {profile} key: {message}")]
    Generate {
        /// The profile asked for.
        profile: KeyProfile,
        /// The OpenPGP library's reason.
        message: String,
    },
    /// A signing or decryption key file holds only public parts.
    #[error("key {fingerprint} has no secret key material")]
    NotSecret {
        /// Primary fingerprint.
        fingerprint: String,
    },
    /// No subkey can sign.
    #[error("key {fingerprint} has no signing-capable key that is valid now")]
    NoSigningKey {
        /// Primary fingerprint.
        fingerprint: String,
    },
    /// The secret key is protected and no passphrase was given.
    #[error("key {fingerprint} is protected by a passphrase and none was given")]
    PassphraseRequired {
        /// Fingerprint of the (sub)key.
        fingerprint: String,
    },
    /// The passphrase does not unlock the key.
    #[error("wrong passphrase for key {fingerprint}")]
    WrongPassphrase {
        /// Fingerprint of the (sub)key.
        fingerprint: String,
    },
}

/// Upper-case hex fingerprint in groups of four (`ABCD 1234 …`), as people compare them.
pub fn grouped(fp: &Fingerprint) -> String {
    grouped_hex(&fp.to_hex())
}

/// A hex string in groups of four.
pub fn grouped_hex(hex: &str) -> String {
    hex.as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" ")
}

fn date(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%Y-%m-%d %H:%M:%S UTC")
        .to_string()
}

/// Parses every certificate in armored or binary bytes.
pub fn parse_certs(bytes: &[u8], what: &str) -> Result<Vec<Cert>, KeyError> {
    let parse_err = |e: anyhow::Error| KeyError::Parse {
        what: what.to_owned(),
        message: format!("{e:#}"),
    };
    let certs: Vec<Cert> = openpgp::cert::CertParser::from_bytes(bytes)
        .map_err(parse_err)?
        .collect::<openpgp::Result<Vec<Cert>>>()
        .map_err(parse_err)?;
    if certs.is_empty() {
        return Err(KeyError::Empty {
            what: what.to_owned(),
        });
    }
    Ok(certs)
}

/// Reads every certificate in a key file (armored or binary).
pub fn read_certs(path: &Path) -> Result<Vec<Cert>, KeyError> {
    let bytes =
        crate::fsutil::read_capped(path, crate::limits::MAX_KEY_FILE_BYTES).map_err(|source| {
            KeyError::Read {
                path: path.display().to_string(),
                source,
            }
        })?;
    parse_certs(&bytes, &path.display().to_string())
}

/// Reads one secret key (TSK) from a file.
pub fn read_secret_key(path: &Path) -> Result<Cert, KeyError> {
    let cert = read_certs(path)?.remove(0);
    if !cert.is_tsk() {
        return Err(KeyError::NotSecret {
            fingerprint: cert.fingerprint().to_hex(),
        });
    }
    Ok(cert)
}

/// Armored public certificate (secret parts stripped).
pub fn armored_public(cert: &Cert) -> String {
    String::from_utf8(
        cert.armored()
            .to_vec()
            .expect("serializing a cert to memory cannot fail"),
    )
    .expect("armor is ASCII")
}

/// Armored secret key (TSK); wiped from memory when dropped.
pub fn armored_secret(cert: &Cert) -> zeroize::Zeroizing<String> {
    let bytes = zeroize::Zeroizing::new(
        cert.as_tsk()
            .armored()
            .to_vec()
            .expect("serializing a key to memory cannot fail"),
    );
    zeroize::Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned())
}

/// The key's version (4 or 6).
fn version(cert: &Cert) -> u8 {
    cert.primary_key().key().version()
}

/// Whether the certificate's valid self-signature says its owner reads SEIPDv2 (RFC 9580).
pub fn advertises_seipdv2(cert: &Cert) -> bool {
    let p = policy();
    cert.with_policy(&p, None)
        .ok()
        .and_then(|vc| vc.features())
        .is_some_and(|f| f.supports_seipdv2())
}

/// The format a message to this cert gets (`aead`: the user asked for SEIPDv2).
pub fn format_for(cert: &Cert, aead: bool) -> Result<Format, KeyError> {
    if version(cert) >= 6 {
        return Ok(Format::SeipdV2);
    }
    if !aead {
        return Ok(Format::SeipdV1);
    }
    if advertises_seipdv2(cert) {
        Ok(Format::SeipdV2)
    } else {
        Err(KeyError::AeadUnsupported {
            fingerprint: cert.fingerprint().to_hex(),
        })
    }
}

fn encryption_flags() -> KeyFlags {
    KeyFlags::empty()
        .set_transport_encryption()
        .set_storage_encryption()
}

/// The cert as the policy sees it now: accepted, not revoked, not expired — or the specific
/// reason, naming the fingerprint. The one validity check encryption and signing share.
pub fn valid_now<'a>(cert: &'a Cert, p: &'a dyn Policy) -> Result<ValidCert<'a>, KeyError> {
    let fingerprint = cert.fingerprint().to_hex();
    let vc = cert
        .with_policy(p, None)
        .map_err(|e| KeyError::PolicyRejected {
            fingerprint: fingerprint.clone(),
            reason: format!("{e:#}"),
        })?;
    // sequoia's `revoked(false)` filter does not look at the cert's own revocation.
    if let RevocationStatus::Revoked(sigs) = vc.revocation_status() {
        return Err(KeyError::Revoked {
            fingerprint,
            reason: revocation_reason(&sigs),
        });
    }
    if vc.alive().is_err() {
        let at = vc
            .primary_key()
            .key_expiration_time()
            .map(date)
            .unwrap_or_else(|| "an unknown date".into());
        return Err(KeyError::Expired {
            fingerprint,
            at,
            detail: String::new(),
        });
    }
    Ok(vc)
}

/// Every valid, live, encryption-capable subkey of a cert, or the specific reason there is none.
pub fn encryption_keys<'a>(
    cert: &'a Cert,
    p: &'a dyn Policy,
) -> Result<Vec<Key<PublicParts, UnspecifiedRole>>, KeyError> {
    let fingerprint = cert.fingerprint().to_hex();
    let vc = valid_now(cert, p)?;
    let usable: Vec<_> = vc
        .keys()
        .supported()
        .alive()
        .revoked(false)
        .key_flags(encryption_flags())
        .map(|ka| ka.key().clone().role_into_unspecified())
        .collect();
    if !usable.is_empty() {
        return Ok(usable);
    }
    // Say why not: the most specific reason wins.
    let flagged: Vec<_> = vc.keys().key_flags(encryption_flags()).collect();
    if let Some(ka) = flagged
        .iter()
        .find(|ka| matches!(ka.revocation_status(), RevocationStatus::Revoked(_)))
    {
        if let RevocationStatus::Revoked(sigs) = ka.revocation_status() {
            return Err(KeyError::Revoked {
                fingerprint,
                reason: format!(
                    "encryption subkey {} revoked: {}",
                    ka.key().fingerprint(),
                    revocation_reason(&sigs)
                ),
            });
        }
    }
    if let Some(at) = flagged
        .iter()
        .filter(|ka| ka.alive().is_err())
        .filter_map(|ka| ka.key_expiration_time())
        .max()
    {
        return Err(KeyError::Expired {
            fingerprint,
            at: date(at),
            detail: " (its encryption subkey)".into(),
        });
    }
    if let Some(ka) = flagged.first() {
        return Err(KeyError::PolicyRejected {
            fingerprint,
            reason: format!(
                "encryption subkey {} uses unsupported algorithm {}",
                ka.key().fingerprint(),
                ka.key().pk_algo()
            ),
        });
    }
    // Subkeys the policy rejected entirely do not appear in `vc.keys()`.
    for ka in cert.keys().subkeys() {
        if let Err(e) = ka.clone().with_policy(p, None) {
            let flags_say_encrypt = ka
                .self_signatures()
                .next()
                .and_then(|s| s.key_flags())
                .is_some_and(|f| f.for_transport_encryption() || f.for_storage_encryption());
            if flags_say_encrypt {
                return Err(KeyError::PolicyRejected {
                    fingerprint,
                    reason: format!("encryption subkey {}: {e:#}", ka.key().fingerprint()),
                });
            }
        }
    }
    let caps: Vec<String> = vc
        .keys()
        .map(|ka| {
            let f = ka.key_flags().unwrap_or_else(KeyFlags::empty);
            let mut c = Vec::new();
            if f.for_certification() {
                c.push("certify");
            }
            if f.for_signing() {
                c.push("sign");
            }
            if f.for_authentication() {
                c.push("authenticate");
            }
            format!(
                "{} ({})",
                ka.key().fingerprint(),
                if c.is_empty() {
                    "no usage".into()
                } else {
                    c.join(", ")
                }
            )
        })
        .collect();
    Err(KeyError::NoEncryptionSubkey {
        fingerprint,
        detail: format!("; its keys are: {}", caps.join("; ")),
    })
}

fn revocation_reason(sigs: &[&openpgp::packet::Signature]) -> String {
    sigs.iter()
        .find_map(|s| s.reason_for_revocation())
        .map(|(code, msg)| {
            let msg = String::from_utf8_lossy(msg);
            if msg.trim().is_empty() {
                code.to_string()
            } else {
                format!("{code}: {}", msg.trim())
            }
        })
        .unwrap_or_else(|| "no reason given".into())
}

/// The recipients of one message and the format they get.
pub struct RecipientSet<'a> {
    /// What the encryptor needs.
    pub recipients: Vec<Recipient<'a>>,
    /// The format every recipient can read.
    pub format: Format,
    /// Primary fingerprints, for the user.
    pub fingerprints: Vec<String>,
}

/// Validates recipient certs (DESIGN.md "OpenPGP profile") and picks one format for all.
pub fn recipients<'a>(
    certs: &'a [Cert],
    keys: &'a [Vec<Key<PublicParts, UnspecifiedRole>>],
    aead: bool,
) -> Result<RecipientSet<'a>, KeyError> {
    let mut formats = Vec::new();
    for cert in certs {
        formats.push((cert, format_for(cert, aead)?));
    }
    let v2 = formats.iter().find(|(_, f)| *f == Format::SeipdV2);
    let v1 = formats.iter().find(|(_, f)| *f == Format::SeipdV1);
    if let (Some((c6, _)), Some((c4, _))) = (v2, v1) {
        return Err(KeyError::MixedFormats {
            v6: c6.fingerprint().to_hex(),
            v4: c4.fingerprint().to_hex(),
            v4_advertises_seipdv2: advertises_seipdv2(c4),
        });
    }
    let format = if v2.is_some() {
        Format::SeipdV2
    } else {
        Format::SeipdV1
    };
    let features = match format {
        Format::SeipdV1 => Features::empty().set_seipdv1(),
        Format::SeipdV2 => Features::empty().set_seipdv1().set_seipdv2(),
    };
    let mut recipients = Vec::new();
    for key in keys.iter().flatten() {
        let handle: openpgp::KeyHandle = match format {
            Format::SeipdV1 => key.keyid().into(),
            Format::SeipdV2 => key.fingerprint().into(),
        };
        recipients.push(Recipient::new(features.clone(), handle, key));
    }
    Ok(RecipientSet {
        recipients,
        format,
        fingerprints: certs.iter().map(|c| c.fingerprint().to_hex()).collect(),
    })
}

/// The format one message to all these certificates gets (see [`recipients`]).
pub fn recipients_format(certs: &[Cert], aead: bool) -> Result<Format, KeyError> {
    let p = policy();
    let keys = certs
        .iter()
        .map(|c| encryption_keys(c, &p))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(recipients(certs, &keys, aead)?.format)
}

/// What a person sees before trusting a key.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct KeyInfo {
    /// Full fingerprint, upper-case hex.
    pub fingerprint: String,
    /// The same in groups of four.
    pub fingerprint_grouped: String,
    /// User IDs that are valid under the policy (else all, as given).
    pub user_ids: Vec<String>,
    /// Primary key algorithm and size (`RSA 4096`, `EdDSA Ed25519`).
    pub algorithm: String,
    /// Subkeys usable for encryption, with algorithm.
    pub encryption_subkeys: Vec<String>,
    /// Creation date.
    pub created: String,
    /// Expiry date, if any.
    pub expires: Option<String>,
    /// Key version (4 or 6).
    pub version: u8,
    /// The format messages to it get by default.
    pub format: Format,
    /// Whether it can be used as a recipient, and if not, why.
    pub problem: Option<String>,
}

/// Describes a cert for display.
pub fn describe(cert: &Cert) -> KeyInfo {
    let p = policy();
    let vc = cert.with_policy(&p, None).ok();
    let user_ids: Vec<String> = match &vc {
        Some(vc) => vc
            .userids()
            .map(|u| String::from_utf8_lossy(u.userid().value()).into_owned())
            .collect(),
        None => cert
            .userids()
            .map(|u| String::from_utf8_lossy(u.userid().value()).into_owned())
            .collect(),
    };
    let expires = vc
        .as_ref()
        .and_then(|vc| vc.primary_key().key_expiration_time())
        .map(date);
    let (encryption_subkeys, problem) = match encryption_keys(cert, &p) {
        Ok(keys) => (
            keys.iter()
                .map(|k| format!("{} {}", k.fingerprint(), algorithm(k)))
                .collect(),
            None,
        ),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    KeyInfo {
        fingerprint: cert.fingerprint().to_hex(),
        fingerprint_grouped: grouped(&cert.fingerprint()),
        user_ids,
        algorithm: algorithm(
            cert.primary_key()
                .key()
                .parts_as_public()
                .role_as_unspecified(),
        ),
        encryption_subkeys,
        created: date(cert.primary_key().key().creation_time()),
        expires,
        version: version(cert),
        format: format_for(cert, false).unwrap_or(Format::SeipdV1),
        problem,
    }
}

/// `RSA 4096`, `EdDSA Ed25519`, `ECDH Cv25519`, `X25519`.
pub fn algorithm(key: &Key<PublicParts, UnspecifiedRole>) -> String {
    use openpgp::crypto::mpi::PublicKey as M;
    let curve = match key.mpis() {
        M::EdDSA { curve, .. } | M::ECDSA { curve, .. } | M::ECDH { curve, .. } => {
            Some(curve.to_string())
        }
        _ => None,
    };
    match (curve, key.mpis().bits()) {
        (Some(c), _) => format!("{} {c}", key.pk_algo()),
        (None, Some(bits))
            if matches!(
                key.mpis(),
                M::RSA { .. } | M::DSA { .. } | M::ElGamal { .. }
            ) =>
        {
            format!("{} {bits}", key.pk_algo())
        }
        _ => key.pk_algo().to_string(),
    }
}

/// Asks for the passphrase of a key (described in the argument); `None` means "no passphrase".
pub type PassphraseFn<'a> = dyn FnMut(&str) -> Option<Password> + Send + 'a;

/// Decrypts a secret key's material, asking for the passphrase when it is protected.
pub fn unlock(
    key: Key<openpgp::packet::key::SecretParts, UnspecifiedRole>,
    cert: &Cert,
    passphrase: &mut PassphraseFn<'_>,
) -> Result<KeyPair, KeyError> {
    let fingerprint = key.fingerprint().to_hex();
    let key =
        if key.has_unencrypted_secret() {
            key
        } else {
            let uid = cert
                .userids()
                .next()
                .map(|u| String::from_utf8_lossy(u.userid().value()).into_owned())
                .unwrap_or_default();
            let password = passphrase(&format!("{} {uid}", grouped(&key.fingerprint())))
                .ok_or_else(|| KeyError::PassphraseRequired {
                    fingerprint: fingerprint.clone(),
                })?;
            // A v6 key locked with AEAD binds its packet type (primary or subkey) into the
            // encryption, so the key must be decrypted in its role, not as "unspecified".
            let unlocked = if key.fingerprint() == cert.fingerprint() {
                key.role_into_primary()
                    .decrypt_secret(&password)
                    .map(|k| k.role_into_unspecified())
            } else {
                key.role_into_subordinate()
                    .decrypt_secret(&password)
                    .map(|k| k.role_into_unspecified())
            };
            unlocked.map_err(|_| KeyError::WrongPassphrase {
                fingerprint: fingerprint.clone(),
            })?
        };
    key.into_keypair()
        .map_err(|_| KeyError::NotSecret { fingerprint })
}

/// The researcher's signing key, unlocked, with the public cert that travels in the bundle.
pub struct Signer {
    /// The unlocked signing (sub)key.
    pub keypair: KeyPair,
    /// The public certificate.
    pub cert: Cert,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("cert", &self.cert.fingerprint())
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Picks the signing-capable key of a TSK that is valid now and unlocks it.
    pub fn from_tsk(tsk: &Cert, passphrase: &mut PassphraseFn<'_>) -> Result<Signer, KeyError> {
        let p = policy();
        let fingerprint = tsk.fingerprint().to_hex();
        let vc = valid_now(tsk, &p)?;
        if !tsk.is_tsk() {
            return Err(KeyError::NotSecret { fingerprint });
        }
        let ka = vc
            .keys()
            .supported()
            .alive()
            .revoked(false)
            .for_signing()
            .secret()
            .next()
            .ok_or_else(|| KeyError::NoSigningKey {
                fingerprint: fingerprint.clone(),
            })?;
        let key = ka.key().clone().role_into_unspecified();
        let keypair = unlock(key, tsk, passphrase)?;
        Ok(Signer {
            keypair,
            cert: tsk.clone().strip_secret_key_material(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn cert(builder: CertBuilder<'_>) -> Cert {
        builder
            .add_userid("Team <security@example.org>")
            .generate()
            .unwrap()
            .0
    }

    #[test]
    fn each_unusable_key_gets_its_own_error() {
        let p = policy();
        let good = cert(CertBuilder::general_purpose(Some("x")));
        assert_eq!(encryption_keys(&good, &p).unwrap().len(), 1);

        let day = Duration::from_secs(86_400);
        let expired = cert(
            CertBuilder::new()
                .set_creation_time(SystemTime::now() - 3 * day)
                .set_validity_period(day)
                .add_transport_encryption_subkey(),
        );
        let e = encryption_keys(&expired, &p).unwrap_err();
        assert!(matches!(e, KeyError::Expired { .. }), "{e}");
        assert!(e.to_string().contains("expired on 20"), "{e}");

        let sign_only = cert(CertBuilder::new().add_signing_subkey());
        let e = encryption_keys(&sign_only, &p).unwrap_err();
        assert!(matches!(e, KeyError::NoEncryptionSubkey { .. }), "{e}");
        assert!(e.to_string().contains("(sign)"), "{e}");

        let (revokable, rev) = CertBuilder::general_purpose(Some("r")).generate().unwrap();
        let mut signer = revokable
            .primary_key()
            .key()
            .clone()
            .parts_into_secret()
            .unwrap()
            .into_keypair()
            .unwrap();
        let sig = CertRevocationBuilder::new()
            .set_reason_for_revocation(
                openpgp::types::ReasonForRevocation::KeyCompromised,
                b"leaked on a laptop",
            )
            .unwrap()
            .build(&mut signer, &revokable, None)
            .unwrap();
        let _ = rev;
        let revoked = revokable.insert_packets(sig).unwrap().0;
        let e = encryption_keys(&revoked, &p).unwrap_err();
        assert!(matches!(e, KeyError::Revoked { .. }), "{e}");
        assert!(e.to_string().contains("leaked on a laptop"), "{e}");
    }

    /// A v4 cert like GnuPG's: it advertises SEIPDv1 only.
    fn seipdv1_only() -> Cert {
        cert(
            CertBuilder::general_purpose(Some("x"))
                .set_features(Features::empty().set_seipdv1())
                .unwrap(),
        )
    }

    fn recipient_set(certs: &[Cert], aead: bool) -> Result<(Format, usize), KeyError> {
        let p = policy();
        let keys = certs
            .iter()
            .map(|c| encryption_keys(c, &p).unwrap())
            .collect::<Vec<_>>();
        recipients(certs, &keys, aead).map(|s| (s.format, s.recipients.len()))
    }

    #[test]
    fn v6_recipients_get_seipdv2_and_cannot_share_a_message_with_seipdv1_readers() {
        let v6 = generate(&KeySpec::new("Six <six@example.org>", KeyProfile::Rfc9580)).unwrap();
        let v6b = generate(&KeySpec::new(
            "Six b <sixb@example.org>",
            KeyProfile::Rfc9580,
        ))
        .unwrap();
        let gnupg_like = seipdv1_only();
        let advertises = cert(CertBuilder::general_purpose(Some("y")));
        assert!(!advertises_seipdv2(&gnupg_like));
        assert!(advertises_seipdv2(&advertises));

        assert_eq!(
            recipient_set(&[v6.clone(), v6b], false).unwrap(),
            (Format::SeipdV2, 2)
        );
        // A recipient that does not read SEIPDv2: refused, naming both keys and why.
        let e = recipient_set(&[v6.clone(), gnupg_like.clone()], false).unwrap_err();
        assert!(
            matches!(
                e,
                KeyError::MixedFormats {
                    v4_advertises_seipdv2: false,
                    ..
                }
            ),
            "{e}"
        );
        let text = e.to_string();
        assert!(text.contains(&v6.fingerprint().to_hex()), "{text}");
        assert!(text.contains(&gnupg_like.fingerprint().to_hex()), "{text}");
        assert!(text.contains("does not advertise SEIPDv2"), "{text}");
        // Asking for SEIPDv2 does not help a key that does not advertise it.
        let e = recipient_set(&[v6.clone(), gnupg_like], true).unwrap_err();
        assert!(matches!(e, KeyError::AeadUnsupported { .. }), "{e}");
        // A v4 key that reads SEIPDv2 joins a v6 recipient only when SEIPDv2 is asked for,
        // because GnuPG cannot read SEIPDv2 even with such a key imported.
        let e = recipient_set(&[v6.clone(), advertises.clone()], false).unwrap_err();
        assert!(
            matches!(
                e,
                KeyError::MixedFormats {
                    v4_advertises_seipdv2: true,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(
            recipient_set(&[v6, advertises], true).unwrap(),
            (Format::SeipdV2, 2)
        );
    }

    #[test]
    fn regression_v6_keys_locked_with_aead_unlock_in_their_role() {
        // RFC 9580 AEAD key protection binds the packet type; unlocking a v6 key as an
        // "unspecified" role failed, which read as a wrong passphrase.
        let spec = KeySpec {
            password: Some(Password::from("hunter2")),
            ..KeySpec::new("Six <six@example.org>", KeyProfile::Rfc9580)
        };
        let cert = generate(&spec).unwrap();
        assert_eq!(cert.keys().secret().count(), 3);
        for ka in cert.keys().secret() {
            let key = ka.key().clone().role_into_unspecified();
            let mut right = |_: &str| Some(Password::from("hunter2"));
            unlock(key.clone(), &cert, &mut right).unwrap();
            let mut wrong = |_: &str| Some(Password::from("hunter3"));
            assert!(matches!(
                unlock(key, &cert, &mut wrong),
                Err(KeyError::WrongPassphrase { .. })
            ));
        }
    }

    #[test]
    fn v4_gets_seipdv1_unless_aead_and_advertised() {
        let c = cert(CertBuilder::general_purpose(Some("x")));
        assert_eq!(format_for(&c, false).unwrap(), Format::SeipdV1);
        assert_eq!(format_for(&c, true).unwrap(), Format::SeipdV2);
        assert_eq!(grouped(&c.fingerprint()).len(), 40 + 9);
    }
}
