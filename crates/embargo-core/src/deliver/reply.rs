//! The team's replies: a short text signed by the team key and encrypted to the researcher's key
//! (the one their report carried) and to the team's own, so that both can read it; and, on the
//! researcher's side, decrypted and verified in memory.

use std::io::{Read, Write};

use openpgp::parse::stream::DecryptorBuilder;
use openpgp::parse::Parse;
use openpgp::serialize::stream::{
    Armorer, Encryptor, LiteralWriter, Message, Signer as StreamSigner,
};
use openpgp::Cert;
use sequoia_openpgp as openpgp;
use zeroize::Zeroizing;

use crate::keys::{self, KeyError, PassphraseFn, Signer};
use crate::open::decrypt::{self, Helper, SignatureStatus};
use crate::open::OpenError;

/// Largest reply text.
pub const MAX_REPLY_BYTES: usize = 1 << 20;

/// Why a reply could not be sealed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// No researcher key to encrypt to (an anonymous report carries none).
    #[error("the report carried no key of the researcher's (researcher.asc): a reply cannot be encrypted to them")]
    NoResearcherKey,
    /// The text is over the limit.
    #[error("the reply is {size} bytes, over the limit of {MAX_REPLY_BYTES}")]
    TooLarge {
        /// Its size.
        size: usize,
    },
    /// A key cannot be used.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The OpenPGP layer failed.
    #[error("OpenPGP error while sealing the reply: {0}")]
    OpenPgp(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Seals a reply: signed by the team's key, encrypted to the researcher's certificates and to
/// the team's own. Returns the armored message.
pub fn seal_reply(text: &str, team: &Signer, researcher: &[Cert]) -> Result<String, ReplyError> {
    if researcher.is_empty() {
        return Err(ReplyError::NoResearcherKey);
    }
    if text.len() > MAX_REPLY_BYTES {
        return Err(ReplyError::TooLarge { size: text.len() });
    }
    let p = keys::policy();
    let mut certs: Vec<Cert> = researcher.to_vec();
    certs.push(team.cert.clone());
    let subkeys = certs
        .iter()
        .map(|c| keys::encryption_keys(c, &p))
        .collect::<Result<Vec<_>, _>>()?;
    let set = keys::recipients(&certs, &subkeys, false)?;
    let pgp = |e: anyhow::Error| ReplyError::OpenPgp(e.into());
    let mut out = Vec::new();
    {
        let m = Message::new(&mut out);
        let m = Armorer::new(m).build().map_err(pgp)?;
        let m = Encryptor::for_recipients(m, set.recipients)
            .build()
            .map_err(pgp)?;
        let mut signer = StreamSigner::new(m, team.keypair.clone()).map_err(pgp)?;
        for c in researcher {
            signer = signer.add_intended_recipient(c);
        }
        let m = signer.build().map_err(pgp)?;
        let mut lit = LiteralWriter::new(m).build().map_err(pgp)?;
        lit.write_all(text.as_bytes()).map_err(|e| pgp(e.into()))?;
        lit.finalize().map_err(pgp)?;
    }
    Ok(String::from_utf8(out).expect("armor is ASCII"))
}

/// A reply as the researcher reads it.
pub struct OpenedReply {
    /// The text (wiped from memory when dropped).
    pub text: Zeroizing<String>,
    /// Who signed it; with `verify_with` given (the program's pinned team key), only those count.
    pub signature: SignatureStatus,
}

/// Decrypts and verifies a reply in memory.
pub fn open_reply(
    armored: &str,
    secret_keys: &[Cert],
    verify_with: &[Cert],
    passphrase: &mut PassphraseFn<'_>,
) -> Result<OpenedReply, OpenError> {
    let p = keys::policy();
    let helper = Helper::new(secret_keys, verify_with, passphrase);
    let mut decryptor = DecryptorBuilder::from_bytes(armored.as_bytes())
        .map_err(|e| OpenError::NotOpenPgp(e.into()))?
        .with_policy(&p, None, helper)
        .map_err(decrypt::start_error)?;
    let mut text = Zeroizing::new(Vec::new());
    (&mut decryptor)
        .take(MAX_REPLY_BYTES as u64 + 1)
        .read_to_end(&mut text)
        .map_err(|e| OpenError::Integrity(Box::new(e)))?;
    if text.len() > MAX_REPLY_BYTES {
        return Err(OpenError::TooLarge {
            limit: MAX_REPLY_BYTES as u64,
        });
    }
    let helper = decryptor.into_helper();
    let signature = decrypt::signature_status(&helper, None, !verify_with.is_empty(), &p);
    let text = Zeroizing::new(String::from_utf8_lossy(&text).into_owned());
    Ok(OpenedReply { text, signature })
}
