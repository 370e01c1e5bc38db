//! The team's replies: a short text signed by the team key and encrypted to the researcher's key
//! (the one their report carried) and to the team's own, so that both can read it; and, on the
//! researcher's side, decrypted and verified in memory.

use openpgp::Cert;
use sequoia_openpgp as openpgp;
use zeroize::Zeroizing;

use crate::keys::{KeyError, PassphraseFn, Signer};
use crate::message::{self, MessageError};
use crate::open::decrypt::SignatureStatus;
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
    /// A key cannot be used, or the message could not be made.
    #[error(transparent)]
    Seal(#[from] MessageError),
    /// The researcher's key the report carried cannot be read.
    #[error(transparent)]
    Key(#[from] KeyError),
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
    let mut to: Vec<Cert> = researcher.to_vec();
    to.push(team.cert.clone());
    let armored = message::seal(text.as_bytes(), &to, Some(team), true)?;
    Ok(String::from_utf8(armored).expect("armor is ASCII"))
}

/// A reply as the researcher reads it.
pub struct OpenedReply {
    /// The text (wiped from memory when dropped).
    pub text: Zeroizing<String>,
    /// Who signed it; with `verify_with` given (the program's pinned team keys), only those count.
    pub signature: SignatureStatus,
}

/// Decrypts and verifies a reply in memory.
pub fn open_reply(
    armored: &str,
    secret_keys: &[Cert],
    verify_with: &[Cert],
    passphrase: &mut PassphraseFn<'_>,
) -> Result<OpenedReply, OpenError> {
    let opened = message::open(
        armored.as_bytes(),
        secret_keys,
        verify_with,
        passphrase,
        MAX_REPLY_BYTES,
    )?;
    let text = Zeroizing::new(String::from_utf8_lossy(&opened.text).into_owned());
    Ok(OpenedReply {
        text,
        signature: opened.signature,
    })
}
