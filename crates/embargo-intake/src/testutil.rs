//! Test bodies made with sequoia: messages encrypted to test team certs, and every kind the
//! intake must refuse.

use std::io::Write as _;

use openpgp::cert::prelude::*;
use openpgp::crypto::Password;
use openpgp::policy::StandardPolicy;
use openpgp::serialize::stream::{
    Armorer, Compressor, Encryptor, LiteralWriter, Message, Recipient, Signer,
};
use openpgp::types::{CompressionAlgorithm, Features};
use sequoia_openpgp as openpgp;

/// A team key with its secret parts (the test plays the team too).
pub fn team_key(email: &str) -> Cert {
    CertBuilder::new()
        .add_userid(format!("Team <{email}>"))
        .add_signing_subkey()
        .add_transport_encryption_subkey()
        .generate()
        .expect("generate cert")
        .0
}

/// SEIPDv1 with v3 PKESKs (key ids), or SEIPDv2 with v6 PKESKs (fingerprints).
#[derive(Clone, Copy)]
pub enum Format {
    V1,
    V2,
}

fn recipients<'a>(
    certs: &'a [&'a Cert],
    p: &'a StandardPolicy<'a>,
    hidden: bool,
    format: Format,
) -> Vec<Recipient<'a>> {
    certs
        .iter()
        .flat_map(|c| {
            c.keys()
                .with_policy(p, None)
                .supported()
                .alive()
                .revoked(false)
                .for_transport_encryption()
                .for_storage_encryption()
                .map(move |ka| match format {
                    Format::V1 => Recipient::new(
                        Features::empty().set_seipdv1(),
                        (!hidden).then(|| ka.key().keyid().into()),
                        ka.key(),
                    ),
                    Format::V2 => Recipient::new(
                        Features::empty().set_seipdv1().set_seipdv2(),
                        (!hidden).then(|| ka.key().fingerprint().into()),
                        ka.key(),
                    ),
                })
        })
        .collect()
}

fn finish(message: Message<'_>, plaintext: &[u8]) {
    let mut w = LiteralWriter::new(message).build().expect("literal");
    w.write_all(plaintext).expect("write");
    w.finalize().expect("finalize");
}

/// An encrypted message to `certs` (binary, or armored), SEIPDv1 as Embargo sends to v4 certs.
pub fn encrypt(certs: &[&Cert], plaintext: &[u8], armor: bool) -> Vec<u8> {
    encrypt_with(certs, plaintext, armor, false, Format::V1)
}

/// An SEIPDv2 message (v6 PKESKs name recipients by fingerprint).
pub fn encrypt_v2(certs: &[&Cert], plaintext: &[u8]) -> Vec<u8> {
    encrypt_with(certs, plaintext, false, false, Format::V2)
}

/// Like [`encrypt`], with hidden (wildcard) recipients.
pub fn encrypt_hidden(certs: &[&Cert], plaintext: &[u8], format: Format) -> Vec<u8> {
    encrypt_with(certs, plaintext, false, true, format)
}

fn encrypt_with(
    certs: &[&Cert],
    plaintext: &[u8],
    armor: bool,
    hidden: bool,
    format: Format,
) -> Vec<u8> {
    let p = StandardPolicy::new();
    let mut out = Vec::new();
    {
        let mut message = Message::new(&mut out);
        if armor {
            message = Armorer::new(message).build().expect("armorer");
        }
        let message = Encryptor::for_recipients(message, recipients(certs, &p, hidden, format))
            .build()
            .expect("encryptor");
        finish(message, plaintext);
    }
    out
}

/// Plaintext in a literal data packet, nothing else.
pub fn literal(plaintext: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    finish(Message::new(&mut out), plaintext);
    out
}

/// Signed, not encrypted.
pub fn signed_only(signer: &Cert, plaintext: &[u8]) -> Vec<u8> {
    let p = StandardPolicy::new();
    let keypair = signer
        .keys()
        .with_policy(&p, None)
        .secret()
        .for_signing()
        .next()
        .expect("signing key")
        .key()
        .clone()
        .into_keypair()
        .expect("keypair");
    let mut out = Vec::new();
    {
        let message = Message::new(&mut out);
        let message = Signer::new(message, keypair)
            .expect("signer")
            .build()
            .expect("signer");
        finish(message, plaintext);
    }
    out
}

/// Compressed, not encrypted.
pub fn compressed(plaintext: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let message = Compressor::new(Message::new(&mut out))
            .algo(CompressionAlgorithm::Zip)
            .build()
            .expect("compressor");
        finish(message, plaintext);
    }
    out
}

/// Encrypted with a password only (SKESK + SEIPD).
pub fn symmetric_only(plaintext: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let message = Encryptor::with_passwords(
            Message::new(&mut out),
            Some(Password::from("correct horse battery staple")),
        )
        .build()
        .expect("encryptor");
        finish(message, plaintext);
    }
    out
}

/// The cert's public parts, armored (what a team gives the server).
pub fn public_armored(cert: &Cert) -> Vec<u8> {
    use openpgp::serialize::SerializeInto as _;
    cert.armored().to_vec().expect("armor")
}
