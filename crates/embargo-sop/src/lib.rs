//! A Stateless OpenPGP implementation (draft-dkg-openpgp-stateless-cli) over embargo-core, for the
//! `sop` crate's command-line frame: the SOP objects (KEYS, CERTS, SIGNATURES) and the entry point.
//!
//! Encryption follows `embargo seal`: the core picks the recipients' subkeys and the format
//! (SEIPDv1 for v4 certificates, SEIPDv2 for v6 ones), nothing is compressed.

use std::io::{self, Read, Write};

use embargo_core::keys;
use embargo_core::openpgp;
use openpgp::armor;
use openpgp::packet::Signature;
use openpgp::parse::Parse;
use openpgp::serialize::Serialize;
use openpgp::{Cert, Packet, PacketPile, Profile};
use sop::errors::Error;
use sop::ops;
use sop::plumbing::SopRef;
use sop::{Load, Save};

mod armoring;
mod crypt;
mod fail;
mod generate;
mod signing;

use fail::fail;

/// The SOP implementation; it holds no state (failures are explained on standard error).
#[derive(Debug, Default)]
pub struct EmbargoSop;

/// KEYS: one or more transferable secret keys.
pub struct Keys<'s> {
    sop: &'s EmbargoSop,
    keys: Vec<Cert>,
    source: Option<String>,
}

/// CERTS: one or more certificates.
pub struct Certs<'s> {
    sop: &'s EmbargoSop,
    certs: Vec<Cert>,
    source: Option<String>,
}

/// SIGNATURES: one or more signature packets.
pub struct Sigs<'s> {
    sop: &'s EmbargoSop,
    sigs: Vec<Signature>,
    source: Option<String>,
}

impl std::fmt::Debug for Keys<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field(
                "fingerprints",
                &self
                    .keys
                    .iter()
                    .map(|k| k.fingerprint().to_hex())
                    .collect::<Vec<_>>(),
            )
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

fn name(source: Option<&str>) -> &str {
    source.unwrap_or("the input")
}

fn read_all(source: &mut (dyn Read + Send + Sync), what: &str) -> sop::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    source
        .read_to_end(&mut bytes)
        .map_err(|e| fail(Error::IoError(e), format!("cannot read {what}")))?;
    Ok(bytes)
}

fn parse_certs(
    source: &mut (dyn Read + Send + Sync),
    source_name: Option<&str>,
) -> sop::Result<Vec<Cert>> {
    let what = name(source_name);
    let bytes = read_all(source, what)?;
    keys::parse_certs(&bytes, what).map_err(|e| fail(Error::BadData, e))
}

impl<'s> Load<'s, EmbargoSop> for Keys<'s> {
    fn from_reader(
        sop: &'s EmbargoSop,
        source: &mut (dyn Read + Send + Sync),
        source_name: Option<String>,
    ) -> sop::Result<Self> {
        let keys = parse_certs(source, source_name.as_deref())?;
        if let Some(public) = keys.iter().find(|k| !k.is_tsk()) {
            return Err(fail(
                Error::BadData,
                format!(
                    "{}: key {} has no secret key material, but a KEY was expected",
                    name(source_name.as_deref()),
                    public.fingerprint()
                ),
            ));
        }
        Ok(Keys {
            sop,
            keys,
            source: source_name,
        })
    }

    fn source_name(&self) -> Option<&str> {
        self.source.as_deref()
    }
}

impl<'s> Load<'s, EmbargoSop> for Certs<'s> {
    fn from_reader(
        sop: &'s EmbargoSop,
        source: &mut (dyn Read + Send + Sync),
        source_name: Option<String>,
    ) -> sop::Result<Self> {
        let certs = parse_certs(source, source_name.as_deref())?
            .into_iter()
            .map(Cert::strip_secret_key_material)
            .collect();
        Ok(Certs {
            sop,
            certs,
            source: source_name,
        })
    }

    fn source_name(&self) -> Option<&str> {
        self.source.as_deref()
    }
}

impl<'s> Load<'s, EmbargoSop> for Sigs<'s> {
    fn from_reader(
        sop: &'s EmbargoSop,
        source: &mut (dyn Read + Send + Sync),
        source_name: Option<String>,
    ) -> sop::Result<Self> {
        let what = name(source_name.as_deref()).to_owned();
        let bytes = read_all(source, &what)?;
        let pile = PacketPile::from_bytes(&bytes).map_err(|e| {
            fail(
                Error::BadData,
                format!("{what} is not OpenPGP signature data: {e:#}"),
            )
        })?;
        let mut sigs = Vec::new();
        for packet in pile.into_children() {
            match packet {
                Packet::Signature(s) => sigs.push(s),
                other => {
                    return Err(fail(
                        Error::BadData,
                        format!(
                            "{what} holds a {} packet where only signatures were expected",
                            other.tag()
                        ),
                    ))
                }
            }
        }
        if sigs.is_empty() {
            return Err(fail(Error::BadData, format!("{what} holds no signature")));
        }
        Ok(Sigs {
            sop,
            sigs,
            source: source_name,
        })
    }

    fn source_name(&self) -> Option<&str> {
        self.source.as_deref()
    }
}

/// Writes packets, armored with `kind` or binary; v6 material gets RFC 9580 armor (no CRC).
fn write_packets(
    sink: &mut (dyn Write + Send + Sync),
    armored: bool,
    kind: armor::Kind,
    v6: bool,
    write: &dyn Fn(&mut dyn Write) -> openpgp::Result<()>,
) -> sop::Result<()> {
    let io_err = |e: anyhow::Error| match e.downcast::<io::Error>() {
        Ok(io) => Error::IoError(io),
        Err(e) => fail(
            Error::UnspecifiedFailure,
            format!("cannot serialize: {e:#}"),
        ),
    };
    if !armored {
        return write(sink).map_err(io_err);
    }
    let mut w = armor::Writer::new(sink, kind).map_err(Error::IoError)?;
    if v6 {
        w.set_profile(Profile::RFC9580).map_err(Error::IoError)?;
    }
    write(&mut w).map_err(io_err)?;
    w.finalize().map_err(Error::IoError)?;
    Ok(())
}

impl Save for Keys<'_> {
    fn to_writer(&self, armored: bool, sink: &mut (dyn Write + Send + Sync)) -> sop::Result<()> {
        let v6 = self
            .keys
            .iter()
            .any(|k| k.primary_key().key().version() == 6);
        write_packets(sink, armored, armor::Kind::SecretKey, v6, &|w| {
            self.keys.iter().try_for_each(|k| k.as_tsk().serialize(w))
        })
    }
}

impl Save for Certs<'_> {
    fn to_writer(&self, armored: bool, sink: &mut (dyn Write + Send + Sync)) -> sop::Result<()> {
        let v6 = self
            .certs
            .iter()
            .any(|c| c.primary_key().key().version() == 6);
        write_packets(sink, armored, armor::Kind::PublicKey, v6, &|w| {
            self.certs.iter().try_for_each(|c| c.serialize(w))
        })
    }
}

impl Save for Sigs<'_> {
    fn to_writer(&self, armored: bool, sink: &mut (dyn Write + Send + Sync)) -> sop::Result<()> {
        let v6 = self.sigs.iter().any(|s| s.version() == 6);
        write_packets(sink, armored, armor::Kind::Signature, v6, &|w| {
            self.sigs
                .iter()
                .try_for_each(|s| Packet::from(s.clone()).serialize(w))
        })
    }
}

impl<'s> SopRef<'s, EmbargoSop> for Keys<'s> {
    fn sop(&self) -> &'s EmbargoSop {
        self.sop
    }
}

impl<'s> SopRef<'s, EmbargoSop> for Certs<'s> {
    fn sop(&self) -> &'s EmbargoSop {
        self.sop
    }
}

impl<'s> SopRef<'s, EmbargoSop> for Sigs<'s> {
    fn sop(&self) -> &'s EmbargoSop {
        self.sop
    }
}

struct Version;

impl ops::Version<'_> for Version {
    fn frontend(&self) -> sop::Result<ops::VersionInfo> {
        Ok(ops::VersionInfo {
            name: "embargo-sop".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        })
    }

    fn backend(&self) -> sop::Result<ops::VersionInfo> {
        Ok(ops::VersionInfo {
            name: "sequoia-openpgp".into(),
            version: openpgp::VERSION.into(),
        })
    }

    fn extended(&self) -> sop::Result<String> {
        let mut modes: Vec<String> = Vec::new();
        for (_, aead) in keys::supported_aead_ciphersuites() {
            let mode = aead.to_string();
            if !modes.contains(&mode) {
                modes.push(mode);
            }
        }
        Ok(format!(
            "{}\nsequoia-openpgp {} ({})\nAEAD modes this build decrypts: {}",
            embargo_core::GENERATOR,
            openpgp::VERSION,
            openpgp::crypto::backend(),
            modes.join(", ")
        ))
    }
}

fn not_implemented(what: &str) -> Error {
    fail(
        Error::NotImplemented,
        format!("`{what}` is not implemented by embargo-sop"),
    )
}

impl<'s> sop::SOP<'s> for EmbargoSop {
    type Keys = Keys<'s>;
    type Certs = Certs<'s>;
    type Sigs = Sigs<'s>;

    fn sopv_version(&'s self) -> sop::Result<&'static str> {
        // version, verify and inline-verify with --not-before/--not-after: the sopv 1.0 subset.
        Ok("1.0")
    }

    fn version(&self) -> sop::Result<Box<dyn ops::Version<'_>>> {
        Ok(Box::new(Version))
    }

    fn generate_key(&'s self) -> sop::Result<Box<dyn ops::GenerateKey<'s, Self, Self::Keys> + 's>> {
        Ok(Box::new(generate::GenerateKey::new(self)))
    }

    fn change_key_password(
        &'s self,
    ) -> sop::Result<Box<dyn ops::ChangeKeyPassword<'s, Self, Self::Keys> + 's>> {
        Err(not_implemented("change-key-password"))
    }

    fn revoke_key(
        &'s self,
    ) -> sop::Result<Box<dyn ops::RevokeKey<'s, Self, Self::Certs, Self::Keys> + 's>> {
        Err(not_implemented("revoke-key"))
    }

    fn extract_cert(
        &'s self,
    ) -> sop::Result<Box<dyn ops::ExtractCert<'s, Self, Self::Certs, Self::Keys> + 's>> {
        Ok(Box::new(generate::ExtractCert))
    }

    fn update_key(
        &'s self,
    ) -> sop::Result<Box<dyn ops::UpdateKey<'s, Self, Self::Certs, Self::Keys> + 's>> {
        Err(not_implemented("update-key"))
    }

    fn merge_certs(&'s self) -> sop::Result<Box<dyn ops::MergeCerts<'s, Self, Self::Certs> + 's>> {
        Err(not_implemented("merge-certs"))
    }

    fn certify_userid(
        &'s self,
    ) -> sop::Result<Box<dyn ops::CertifyUserID<'s, Self, Self::Certs, Self::Keys> + 's>> {
        Err(not_implemented("certify-userid"))
    }

    fn validate_userid(
        &'s self,
    ) -> sop::Result<Box<dyn ops::ValidateUserID<'s, Self, Self::Certs> + 's>> {
        Err(not_implemented("validate-userid"))
    }

    fn sign(&'s self) -> sop::Result<Box<dyn ops::Sign<'s, Self, Self::Keys, Self::Sigs> + 's>> {
        Ok(Box::new(signing::SignOp::new(self)))
    }

    fn verify(
        &'s self,
    ) -> sop::Result<Box<dyn ops::Verify<'s, Self, Self::Certs, Self::Sigs> + 's>> {
        Ok(Box::new(signing::VerifyOp::new()))
    }

    fn encrypt(
        &'s self,
    ) -> sop::Result<Box<dyn ops::Encrypt<'s, Self, Self::Certs, Self::Keys> + 's>> {
        Ok(Box::new(crypt::EncryptOp::new()))
    }

    fn decrypt(
        &'s self,
    ) -> sop::Result<Box<dyn ops::Decrypt<'s, Self, Self::Certs, Self::Keys> + 's>> {
        Ok(Box::new(crypt::DecryptOp::new()))
    }

    fn armor(&'s self) -> sop::Result<Box<dyn ops::Armor<'s> + 's>> {
        Ok(Box::new(armoring::ArmorOp::default()))
    }

    fn dearmor(&'s self) -> sop::Result<Box<dyn ops::Dearmor<'s> + 's>> {
        Ok(Box::new(armoring::DearmorOp))
    }

    fn inline_detach(&'s self) -> sop::Result<Box<dyn ops::InlineDetach<'s, Self::Sigs> + 's>> {
        Err(not_implemented("inline-detach"))
    }

    fn inline_verify(
        &'s self,
    ) -> sop::Result<Box<dyn ops::InlineVerify<'s, Self, Self::Certs> + 's>> {
        Ok(Box::new(signing::InlineVerifyOp::new()))
    }

    fn inline_sign(&'s self) -> sop::Result<Box<dyn ops::InlineSign<'s, Self, Self::Keys> + 's>> {
        Ok(Box::new(signing::InlineSignOp::new()))
    }
}
