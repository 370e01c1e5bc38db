//! Reply keys: how the team answers a researcher who stays anonymous.
//!
//! An anonymous report is never signed and carries no key of the researcher's, so the team had
//! nothing to encrypt a reply to. A report submitted to an intake anonymously now carries a
//! **reply key** (`reply-key.asc` in the bundle): an OpenPGP key made for that report alone, at
//! seal time, never the identity and never reused. Its one user ID is the same for every reply
//! key, [`USER_ID`] (gpg will not import a key without one), so it names nothing and tells one
//! researcher's reply keys from another's by nothing. The secret half is kept in
//! the vault, encrypted to the identity (`vault/reply-keys/<FINGERPRINT>.pgp`, like a draft);
//! the receipt records its fingerprint, and `status` (CLI and app) decrypts the team's replies
//! with it.
//!
//! What it reveals: the team (and the intake's operator) can tell that replies and status
//! lookups concern one report — they could already, by the receipt — and nothing more: the key
//! is unrelated to the identity and to every other report's reply key, and its creation time is
//! the seal's, which the message carries anyway.
//!
//! To read the replies on another machine, [`export_access`] writes what is needed — the
//! receipt record (intake URL, receipt, status token) and the reply key's secret — as one
//! OpenPGP message encrypted with a passphrase only (no identity material in it), and
//! [`import_access`] takes it in.

use openpgp::crypto::Password;
use openpgp::parse::Parse as _;
use openpgp::serialize::Serialize as _;
use openpgp::Cert;
use sequoia_openpgp as openpgp;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::deliver::records::{ReceiptRecord, Records};
use crate::keys::{self, KeyError, KeyProfile, KeySpec, PassphraseFn};
use crate::store::{Store, StoreError};
use crate::vault::{Vault, VaultError};

/// The user ID of every reply key.
pub const USER_ID: &str = "Embargo reply key (anonymous report)";

/// Makes the reply key of one anonymous report (v4, Cv25519: every peer can encrypt to it;
/// the secret is not locked here: the vault keeps it encrypted to the identity).
pub fn generate() -> Result<Cert, KeyError> {
    keys::generate(&KeySpec {
        userids: vec![USER_ID.to_owned()],
        profile: KeyProfile::Rfc4880,
        signing_only: false,
        password: None,
    })
}

/// Why the replies of a report cannot be read on this machine, or its access not moved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyKeyError {
    /// The vault could not keep or give the key.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// The records could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The report has no reply key (it was signed, or sealed before reply keys existed).
    #[error("report {receipt} has no reply key: replies to it are read with the identity")]
    None {
        /// The receipt.
        receipt: String,
    },
    /// The export passphrase is empty.
    #[error("an export needs a passphrase (it is what protects the reply key in the file)")]
    NoPassphrase,
    /// The file is not an export of Embargo's, or the passphrase is wrong.
    #[error("not a reply-access file of Embargo's, or the passphrase is wrong: {0}")]
    NotAnExport(String),
}

/// What an export holds: enough to follow one report from another machine.
#[derive(Serialize, Deserialize)]
struct Access {
    /// Always `embargo-reply-access-1`.
    kind: String,
    receipt: ReceiptRecord,
    /// The reply key, armored, secret included.
    key: String,
}

const ACCESS_KIND: &str = "embargo-reply-access-1";
const MAX_ACCESS_BYTES: usize = 256 * 1024;

/// The reply key of `record`, unlocked (the identity's passphrase asked through `passphrase`).
pub fn unlock(
    store: &Store,
    record: &ReceiptRecord,
    passphrase: &mut PassphraseFn<'_>,
) -> Result<Cert, ReplyKeyError> {
    let fpr = record
        .reply_key
        .as_deref()
        .ok_or_else(|| ReplyKeyError::None {
            receipt: record.receipt.clone(),
        })?;
    Ok(Vault::of(store).reply_key(fpr, passphrase)?)
}

/// Writes what another machine needs to read the replies of `receipt`: its record and its reply
/// key, encrypted with `export_passphrase` alone. The identity's passphrase (asked through
/// `passphrase`) unlocks the reply key here; nothing of the identity goes into the file.
pub fn export_access(
    store: &Store,
    records: &Records,
    receipt: &str,
    passphrase: &mut PassphraseFn<'_>,
    export_passphrase: &Password,
) -> Result<Vec<u8>, ReplyKeyError> {
    if export_passphrase.map(|p| p.is_empty()) {
        return Err(ReplyKeyError::NoPassphrase);
    }
    // The file can be attacked offline: the same floor as the vault's passphrase.
    keys::strength::check_for_user_ids(export_passphrase, [USER_ID])
        .map_err(|e| ReplyKeyError::Vault(e.into()))?;
    let record = records.receipt(receipt)?;
    let key = unlock(store, &record, passphrase)?;
    let access = Access {
        kind: ACCESS_KIND.into(),
        receipt: record,
        key: keys::armored_secret(&key).to_string(),
    };
    let json = Zeroizing::new(serde_json::to_vec(&access).expect("serializes"));
    drop(Zeroizing::new(access.key));
    crate::message::seal_with_password(&json, export_passphrase)
        .map_err(|e| ReplyKeyError::NotAnExport(e.to_string()))
}

/// Takes in an export: the receipt joins the records (so `status` and Sent follow it) and the
/// reply key the vault (encrypted to this machine's identity). Returns the receipt.
pub fn import_access(
    store: &Store,
    records: &Records,
    bytes: &[u8],
    export_passphrase: &Password,
) -> Result<ReceiptRecord, ReplyKeyError> {
    let json = crate::message::open_with_password(bytes, export_passphrase, MAX_ACCESS_BYTES)
        .map_err(|e| ReplyKeyError::NotAnExport(e.to_string()))?;
    let access: Access = serde_json::from_slice(&json)
        .map_err(|e| ReplyKeyError::NotAnExport(format!("its contents do not parse: {e}")))?;
    if access.kind != ACCESS_KIND {
        return Err(ReplyKeyError::NotAnExport(format!(
            "it is a {:?}",
            crate::text::shown(&access.kind)
        )));
    }
    let key_text = Zeroizing::new(access.key);
    let key = Cert::from_bytes(key_text.as_bytes())
        .map_err(|e| ReplyKeyError::NotAnExport(format!("its key does not parse: {e}")))?;
    let fpr = key.fingerprint().to_hex();
    if access.receipt.reply_key.as_deref() != Some(fpr.as_str()) || !key.is_tsk() {
        return Err(ReplyKeyError::NotAnExport(
            "its key is not the reply key its receipt names".into(),
        ));
    }
    Vault::of(store).save_reply_key(&key)?;
    records.save_receipt(&access.receipt)?;
    Ok(access.receipt)
}

/// The armored TSK of `key` (kept in memory only as long as needed).
pub(crate) fn tsk_bytes(key: &Cert) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::new());
    key.as_tsk()
        .serialize(&mut *out)
        .expect("serializing to memory");
    out
}
