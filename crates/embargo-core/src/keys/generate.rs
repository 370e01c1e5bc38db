//! Making new keys: the two profiles (RFC 4880 v4, RFC 9580 v6) and what a new key advertises.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use openpgp::cert::{CertBuilder, CipherSuite};
use openpgp::crypto::{Password, S2K};
use openpgp::packet::signature::SignatureBuilder;
use openpgp::types::{AEADAlgorithm, KeyFlags, SignatureType, SymmetricAlgorithm};
use openpgp::{Cert, Packet, Profile};
use sequoia_openpgp as openpgp;
use serde::Serialize;

use super::KeyError;

/// Which OpenPGP generation a new key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyProfile {
    /// A v4 key (RFC 4880): Ed25519 signing, Cv25519 (ECDH) encryption. Every deployed OpenPGP
    /// tool reads it; messages to it get SEIPDv1.
    #[default]
    Rfc4880,
    /// A v6 key (RFC 9580): Ed25519 signing, X25519 encryption; messages to it get SEIPDv2.
    /// GnuPG 2.2 and 2.4 cannot use it.
    Rfc9580,
}

impl KeyProfile {
    /// Every profile, the default first.
    pub const ALL: [KeyProfile; 2] = [KeyProfile::Rfc4880, KeyProfile::Rfc9580];

    /// The profile's name on command lines (`rfc4880`, `rfc9580`).
    pub fn name(self) -> &'static str {
        match self {
            KeyProfile::Rfc4880 => "rfc4880",
            KeyProfile::Rfc9580 => "rfc9580",
        }
    }

    /// One line saying what the profile makes.
    pub fn description(self) -> &'static str {
        match self {
            KeyProfile::Rfc4880 => {
                "v4 key, Ed25519 signing and Cv25519 encryption: read by every OpenPGP tool (default)"
            }
            KeyProfile::Rfc9580 => {
                "v6 key (RFC 9580), Ed25519 signing and X25519 encryption: messages use SEIPDv2; GnuPG cannot use it"
            }
        }
    }

    fn sequoia(self) -> Profile {
        match self {
            KeyProfile::Rfc4880 => Profile::RFC4880,
            KeyProfile::Rfc9580 => Profile::RFC9580,
        }
    }
}

impl fmt::Display for KeyProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A profile name that is not one of [`KeyProfile::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown key profile `{0}`: expected rfc4880 (v4, the default) or rfc9580 (v6)")]
pub struct UnknownProfile(pub String);

impl FromStr for KeyProfile {
    type Err = UnknownProfile;

    fn from_str(s: &str) -> Result<KeyProfile, UnknownProfile> {
        KeyProfile::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| UnknownProfile(s.to_owned()))
    }
}

/// What a new key is made of.
#[derive(Default)]
pub struct KeySpec {
    /// User IDs, the first one primary; may be empty.
    pub userids: Vec<String>,
    /// v4 or v6.
    pub profile: KeyProfile,
    /// Leave out the encryption subkey.
    pub signing_only: bool,
    /// Protects every secret (sub)key.
    pub password: Option<Password>,
}

impl fmt::Debug for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySpec")
            .field("userids", &self.userids)
            .field("profile", &self.profile)
            .field("signing_only", &self.signing_only)
            .field("password", &self.password.as_ref().map(|_| "[set]"))
            .finish()
    }
}

impl KeySpec {
    /// A key with one user ID and an encryption subkey.
    pub fn new(userid: &str, profile: KeyProfile) -> KeySpec {
        KeySpec {
            userids: vec![userid.to_owned()],
            profile,
            ..KeySpec::default()
        }
    }
}

/// Keys expire after three years unless extended: a key lost with its owner stops being used.
const VALIDITY: Duration = Duration::from_secs(3 * 52 * 7 * 24 * 60 * 60);

/// The AEAD ciphersuites this build can decrypt, best first.
///
/// Senders that find no preference assume OCB (RFC 9580 §9.6), and OCB is missing from nettle
/// before 3.9 (Debian 12 ships 3.8.1): advertising only what this build reads makes RFC 9580
/// senders such as OpenPGP.js 6 pick GCM or EAX instead of producing a message we cannot open.
pub fn supported_aead_ciphersuites() -> Vec<(SymmetricAlgorithm, AEADAlgorithm)> {
    let mut out = Vec::new();
    for aead in [AEADAlgorithm::OCB, AEADAlgorithm::GCM, AEADAlgorithm::EAX] {
        if !aead.is_supported() {
            continue;
        }
        for sym in [SymmetricAlgorithm::AES256, SymmetricAlgorithm::AES128] {
            if sym.is_supported() {
                out.push((sym, aead));
            }
        }
    }
    out
}

/// Generates a key: a certification-only primary key, a signing subkey and (unless signing-only)
/// an encryption subkey, valid for three years, advertising only the AEAD modes this build reads,
/// locked with the password when one is given.
pub fn generate(spec: &KeySpec) -> Result<Cert, KeyError> {
    let err = |e: anyhow::Error| KeyError::Generate {
        profile: spec.profile,
        message: format!("{e:#}"),
    };
    let aead = supported_aead_ciphersuites();
    let mut builder = CertBuilder::new()
        .set_cipher_suite(CipherSuite::Cv25519)
        .set_profile(spec.profile.sequoia())
        .map_err(err)?
        .set_primary_key_flags(KeyFlags::empty().set_certification())
        .set_validity_period(VALIDITY)
        .add_signing_subkey();
    if !spec.signing_only {
        builder = builder.add_subkey(
            KeyFlags::empty()
                .set_transport_encryption()
                .set_storage_encryption(),
            None,
            None,
        );
    }
    for uid in &spec.userids {
        // v4 readers take preferences from the primary User ID's binding signature.
        let template = SignatureBuilder::new(SignatureType::PositiveCertification)
            .set_preferred_aead_ciphersuites(aead.clone())
            .map_err(err)?;
        builder = builder
            .add_userid_with(uid.as_str(), template)
            .map_err(err)?;
    }
    let (cert, _revocation) = builder.generate().map_err(err)?;
    // v6 readers take preferences from the direct-key signature, which the builder makes without
    // a template: issue a newer one that carries the AEAD preferences.
    let cert = with_aead_preferences(cert, aead).map_err(err)?;
    match &spec.password {
        Some(password) => protect(cert, password).map_err(err),
        None => Ok(cert),
    }
}

fn with_aead_preferences(
    cert: Cert,
    aead: Vec<(SymmetricAlgorithm, AEADAlgorithm)>,
) -> openpgp::Result<Cert> {
    let mut signer = cert
        .primary_key()
        .key()
        .clone()
        .parts_into_secret()?
        .into_keypair()?;
    let Some(current) = cert
        .primary_key()
        .self_signatures()
        .find(|s| s.typ() == SignatureType::DirectKey)
        .cloned()
    else {
        return Ok(cert);
    };
    let newer = current
        .signature_creation_time()
        .unwrap_or_else(SystemTime::now)
        + Duration::from_secs(1);
    let sig = SignatureBuilder::from(current)
        .set_signature_creation_time(newer)?
        .set_preferred_aead_ciphersuites(aead)?
        .sign_direct_key(&mut signer, None)?;
    Ok(cert.insert_packets(sig)?.0)
}

/// Locks every secret key with the password. sequoia locks v6 keys with OCB, which nettle before
/// 3.9 lacks, so v6 keys get the best AEAD mode this build has (iterated S2K, AES-256); v4 keys
/// get sequoia's default (CFB with a SHA-1 checksum), which every tool reads.
/// Locks every secret (sub)key of a cert with the password.
pub fn protect(cert: Cert, password: &Password) -> openpgp::Result<Cert> {
    let primary = cert.fingerprint();
    let mut packets: Vec<Packet> = Vec::new();
    for ka in cert.keys().secret() {
        let (key, mut secret) = ka.key().clone().take_secret();
        if key.version() >= 6 {
            secret.encrypt_in_place_with(
                &key,
                S2K::default(),
                SymmetricAlgorithm::AES256,
                Some(AEADAlgorithm::default()),
                password,
            )?;
        } else {
            secret.encrypt_in_place(&key, password)?;
        }
        let key = key.add_secret(secret).0;
        packets.push(if key.fingerprint() == primary {
            Packet::SecretKey(key.role_into_primary())
        } else {
            Packet::SecretSubkey(key.role_into_subordinate())
        });
    }
    Ok(cert.insert_packets(packets)?.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{encryption_keys, format_for, policy, Format, Signer};
    use openpgp::types::PublicKeyAlgorithm;

    #[test]
    fn profiles_make_v4_and_v6_keys_of_the_named_algorithms() {
        for (profile, version, sign, encrypt) in [
            (
                KeyProfile::Rfc4880,
                4,
                PublicKeyAlgorithm::EdDSA,
                PublicKeyAlgorithm::ECDH,
            ),
            (
                KeyProfile::Rfc9580,
                6,
                PublicKeyAlgorithm::Ed25519,
                PublicKeyAlgorithm::X25519,
            ),
        ] {
            let cert = generate(&KeySpec::new("Team <t@example.org>", profile)).unwrap();
            assert_eq!(cert.primary_key().key().version(), version, "{profile}");
            let p = policy();
            let enc = encryption_keys(&cert, &p).unwrap();
            assert_eq!(enc.len(), 1);
            assert_eq!(enc[0].pk_algo(), encrypt, "{profile}");
            let mut no_password = |_: &str| None;
            let signer = Signer::from_tsk(&cert, &mut no_password).unwrap();
            assert_eq!(signer.keypair.public().pk_algo(), sign, "{profile}");
            let expected = if version == 6 {
                Format::SeipdV2
            } else {
                Format::SeipdV1
            };
            assert_eq!(format_for(&cert, false).unwrap(), expected);
            // The preferences a sender reads: the v6 direct-key signature, the v4 User ID binding.
            let vc = cert.with_policy(&p, None).unwrap();
            let prefs = if version == 6 {
                vc.direct_key_signature()
                    .unwrap()
                    .preferred_aead_ciphersuites()
                    .map(<[_]>::to_vec)
            } else {
                vc.primary_userid()
                    .unwrap()
                    .binding_signature()
                    .preferred_aead_ciphersuites()
                    .map(<[_]>::to_vec)
            };
            let prefs = prefs.expect("AEAD preferences advertised");
            assert!(!prefs.is_empty());
            assert!(
                prefs.iter().all(|(_, aead)| aead.is_supported()),
                "{prefs:?}"
            );
        }
    }

    #[test]
    fn signing_only_and_password_protected_keys() {
        let spec = KeySpec {
            userids: vec![],
            profile: KeyProfile::Rfc9580,
            signing_only: true,
            password: Some(Password::from("correct horse")),
        };
        let cert = generate(&spec).unwrap();
        assert!(cert.userids().next().is_none());
        let p = policy();
        assert!(encryption_keys(&cert, &p).is_err());
        assert!(cert
            .keys()
            .secret()
            .all(|k| !k.key().has_unencrypted_secret()));
        let mut right = |_: &str| Some(Password::from("correct horse"));
        Signer::from_tsk(&cert, &mut right).unwrap();
        let mut wrong = |_: &str| Some(Password::from("wrong"));
        assert!(matches!(
            Signer::from_tsk(&cert, &mut wrong),
            Err(KeyError::WrongPassphrase { .. })
        ));
    }

    #[test]
    fn profile_names_parse_and_unknown_ones_are_named() {
        assert_eq!(
            "rfc9580".parse::<KeyProfile>().unwrap(),
            KeyProfile::Rfc9580
        );
        assert_eq!(KeyProfile::default().name(), "rfc4880");
        let e = "v6".parse::<KeyProfile>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown key profile `v6`: expected rfc4880 (v4, the default) or rfc9580 (v6)"
        );
    }
}
