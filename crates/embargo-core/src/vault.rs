//! The researcher's vault: an identity key made (or imported) on first use, and drafts stored
//! as OpenPGP messages encrypted to it — never plain text on disk.
//!
//! Layout under the data directory (0700 directories, 0600 files):
//! - `vault/identity.asc`: the identity, armored, every secret key locked with the passphrase
//!   (gpg/sq read it: `gpg --import vault/identity.asc`).
//! - `vault/drafts/<ID>/<SEQ>.pgp`: one version of a draft each, a binary OpenPGP message to the
//!   identity; the last [`KEEP_VERSIONS`] are kept. `gpg --decrypt 000012.pgp` recovers one
//!   without Embargo.
//! - `vault/reply-keys/<FINGERPRINT>.pgp`: the secret of an anonymous report's reply key
//!   ([`crate::replykey`]), a message to the identity like a draft.
//!
//! Every write is a temp file beside the target, fsynced, renamed, and the directory fsynced, so
//! a crash at any moment leaves each version either complete or absent. A file that does not
//! decrypt is an error naming it; the other drafts and versions are unaffected.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use openpgp::crypto::Password;
use openpgp::parse::Parse as _;
use openpgp::serialize::SerializeInto;
use openpgp::Cert;
use sequoia_openpgp as openpgp;
use zeroize::Zeroizing;

use crate::fsutil;
use crate::keys::{self, strength, KeyError, KeyProfile, KeySpec, PassphraseFn};
use crate::message::{self, MessageError};
use crate::open::OpenError;
use crate::store::Store;

/// Versions kept per draft.
pub const KEEP_VERSIONS: usize = 10;
/// Largest draft (the report text; attachments are files the draft names).
pub const MAX_DRAFT_BYTES: usize = 16 << 20;

/// What went wrong in the vault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// No identity yet.
    #[error("no identity yet: create one with `embargo identity new` (or import one)")]
    NoIdentity,
    /// An identity exists already.
    #[error("an identity exists already ({fingerprint}); export it before replacing it")]
    IdentityExists {
        /// Its fingerprint.
        fingerprint: String,
    },
    /// The identity must be protected.
    #[error("the identity needs a passphrase (it protects every draft)")]
    NoPassphrase,
    /// A passphrase too weak to protect the drafts.
    #[error(transparent)]
    WeakPassphrase(#[from] strength::WeakPassphrase),
    /// A key problem (wrong passphrase, unusable key…).
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A draft whose text is not UTF-8 (a report file is).
    #[error("draft {0} is not UTF-8 text")]
    NotText(String),
    /// No draft with that id.
    #[error("no draft `{0}`")]
    UnknownDraft(String),
    /// An id that is not a draft id.
    #[error("`{0}` is not a draft id (letters, digits and dashes, at most 64)")]
    BadId(String),
    /// A stored file does not decrypt (corrupted, or not to this identity).
    #[error("{path} is corrupted or not encrypted to this identity: {reason}")]
    Corrupted {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The draft is over the limit.
    #[error("the draft is {size} bytes, over the limit of {MAX_DRAFT_BYTES}")]
    TooLarge {
        /// Its size.
        size: usize,
    },
    /// The delivery records could not be migrated to the identity.
    #[error(transparent)]
    Records(#[from] crate::store::StoreError),
    /// A draft could not be encrypted to the identity.
    #[error("cannot encrypt to the identity: {0}")]
    Encrypt(#[from] MessageError),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: io::Error,
    },
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> VaultError + '_ {
    move |source| VaultError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// One draft as listed (nothing from inside it: titles are encrypted too).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DraftInfo {
    /// Its id.
    pub id: String,
    /// Versions kept, oldest first (sequence numbers).
    #[cfg_attr(feature = "ts", ts(type = "number[]"))]
    pub versions: Vec<u64>,
    /// When the newest version was written (RFC 3339).
    pub updated_at: String,
}

/// The vault of a data directory.
#[derive(Debug, Clone)]
pub struct Vault {
    root: PathBuf,
}

impl Vault {
    /// The vault inside a store's data directory.
    pub fn of(store: &Store) -> Vault {
        Vault {
            root: store.root().join("vault"),
        }
    }

    /// The vault's directory.
    pub fn dir(&self) -> &Path {
        &self.root
    }

    fn identity_path(&self) -> PathBuf {
        self.root.join("identity.asc")
    }

    fn drafts_dir(&self) -> PathBuf {
        self.root.join("drafts")
    }

    /// The identity (public and locked secret parts), if there is one.
    pub fn identity(&self) -> Result<Option<Cert>, VaultError> {
        let path = self.identity_path();
        match fs::read(&path) {
            Ok(bytes) => {
                let mut certs = keys::parse_certs(&bytes, &path.display().to_string())?;
                Ok(Some(certs.remove(0)))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_at(&path)(e)),
        }
    }

    /// Creates the identity: Ed25519 signing and X25519 encryption, v4 (every peer reads it),
    /// every secret key locked with the passphrase.
    pub fn create_identity(&self, userid: &str, passphrase: Password) -> Result<Cert, VaultError> {
        self.refuse_existing()?;
        if passphrase.map(|p| p.is_empty()) {
            return Err(VaultError::NoPassphrase);
        }
        strength::check_for_user_ids(&passphrase, [userid])?;
        let spec = KeySpec {
            password: Some(passphrase),
            ..KeySpec::new(userid, KeyProfile::Rfc4880)
        };
        let cert = keys::generate(&spec)?;
        self.write_identity(&cert)?;
        Ok(cert)
    }

    /// Imports an existing secret key as the identity; unprotected keys are locked with the
    /// passphrase first (a vault key is never stored in the clear).
    pub fn import_identity(&self, tsk: Cert, passphrase: Password) -> Result<Cert, VaultError> {
        self.refuse_existing()?;
        let fingerprint = tsk.fingerprint().to_hex();
        if !tsk.is_tsk() {
            return Err(KeyError::NotSecret { fingerprint }.into());
        }
        let unprotected = tsk
            .keys()
            .secret()
            .any(|k| k.key().has_unencrypted_secret());
        // The passphrase protects every draft, whoever chose it first.
        if !passphrase.map(|p| p.is_empty()) {
            let user_ids: Vec<String> = tsk
                .userids()
                .map(|u| String::from_utf8_lossy(u.userid().value()).into_owned())
                .collect();
            strength::check_for_user_ids(&passphrase, user_ids.iter().map(String::as_str))?;
        }
        let cert = if unprotected {
            if passphrase.map(|p| p.is_empty()) {
                return Err(VaultError::NoPassphrase);
            }
            keys::protect(tsk, &passphrase).map_err(|e| KeyError::Generate {
                profile: KeyProfile::Rfc4880,
                message: format!("{e:#}"),
            })?
        } else {
            tsk
        };
        // It must unlock with the passphrase given, or drafts could never be read back.
        let mut ask = |_: &str| Some(passphrase.clone());
        keys::Signer::from_tsk(&cert, &mut ask)?;
        self.write_identity(&cert)?;
        Ok(cert)
    }

    /// The identity as a backup: armored, its secret keys still locked with the passphrase (a
    /// backup is never unprotected), after checking that `passphrase` unlocks them — a backup
    /// whose passphrase is not the one remembered would restore nothing. `import_identity` (the
    /// app's restore, `embargo identity import`) and `gpg --import` read it. Returns the
    /// identity with it.
    pub fn backup(&self, passphrase: &Password) -> Result<(Cert, Zeroizing<Vec<u8>>), VaultError> {
        let cert = self.identity()?.ok_or(VaultError::NoIdentity)?;
        let mut ask = |_: &str| Some(passphrase.clone());
        keys::Signer::from_tsk(&cert, &mut ask)?;
        debug_assert!(
            !cert
                .keys()
                .secret()
                .any(|k| k.key().has_unencrypted_secret()),
            "a vault identity is stored locked"
        );
        let armored = Zeroizing::new(cert.as_tsk().armored().to_vec().expect("serialize"));
        Ok((cert, armored))
    }

    fn refuse_existing(&self) -> Result<(), VaultError> {
        match self.identity()? {
            Some(c) => Err(VaultError::IdentityExists {
                fingerprint: c.fingerprint().to_hex(),
            }),
            None => Ok(()),
        }
    }

    fn write_identity(&self, cert: &Cert) -> Result<(), VaultError> {
        let path = self.identity_path();
        let armored = Zeroizing::new(cert.as_tsk().armored().to_vec().expect("serialize"));
        fsutil::atomic_write(&path, &armored).map_err(io_at(&path))
    }

    fn check_id(id: &str) -> Result<(), VaultError> {
        let ok = !id.is_empty()
            && id.len() <= 64
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !id.starts_with('-');
        if ok {
            Ok(())
        } else {
            Err(VaultError::BadId(crate::text::shown(id)))
        }
    }

    /// Saves a new version of a draft (a new draft when `id` is `None`), encrypted to the
    /// identity; only the public part is needed, so autosave never asks for the passphrase.
    /// Returns the id and the version's sequence number.
    pub fn save_draft(&self, id: Option<&str>, text: &[u8]) -> Result<(String, u64), VaultError> {
        if text.len() > MAX_DRAFT_BYTES {
            return Err(VaultError::TooLarge { size: text.len() });
        }
        let identity = self.identity()?.ok_or(VaultError::NoIdentity)?;
        let id = match id {
            Some(i) => {
                Self::check_id(i)?;
                i.to_owned()
            }
            None => format!("d-{:016x}", rand::random::<u64>()),
        };
        let dir = self.drafts_dir().join(&id);
        fsutil::create_private_dir(&self.root).map_err(io_at(&self.root))?;
        fsutil::create_private_dir(&self.drafts_dir()).map_err(io_at(&self.drafts_dir()))?;
        fsutil::create_private_dir(&dir).map_err(io_at(&dir))?;
        let versions = versions(&dir)?;
        let seq = versions.last().map_or(1, |v| v + 1);
        // Padded, so the file's size does not give the text's away.
        let padded = Zeroizing::new(crate::padding::pad_markdown(text));
        let sealed = encrypt_to(&identity, &padded)?;
        let path = dir.join(version_name(seq));
        let tmp = fsutil::TempFile::beside(&path).map_err(io_at(&path))?;
        tmp.file().write_all(&sealed).map_err(io_at(&path))?;
        tmp.persist(&path, false).map_err(io_at(&path))?;
        let all = versions.len() + 1;
        for old in versions.iter().take(all.saturating_sub(KEEP_VERSIONS)) {
            let p = dir.join(version_name(*old));
            fs::remove_file(&p).map_err(io_at(&p))?;
        }
        Ok((id, seq))
    }

    /// Every draft, newest first. A draft directory that cannot be read is listed in the second
    /// vector, naming it; it never hides the others.
    pub fn drafts(&self) -> Result<(Vec<DraftInfo>, Vec<VaultError>), VaultError> {
        let dir = self.drafts_dir();
        let mut out = Vec::new();
        let mut broken = Vec::new();
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((out, broken)),
            Err(e) => return Err(io_at(&dir)(e)),
        };
        for entry in rd.flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            if Self::check_id(&id).is_err() {
                continue;
            }
            let d = entry.path();
            match versions(&d) {
                Ok(v) if v.is_empty() => {}
                Ok(v) => {
                    let newest = d.join(version_name(*v.last().expect("not empty")));
                    let updated_at = fs::metadata(&newest)
                        .and_then(|m| m.modified())
                        .map(|t| {
                            chrono::DateTime::<chrono::Utc>::from(t)
                                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                        })
                        .unwrap_or_default();
                    out.push(DraftInfo {
                        id,
                        versions: v,
                        updated_at,
                    });
                }
                Err(e) => broken.push(e),
            }
        }
        out.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(a.id.cmp(&b.id)));
        Ok((out, broken))
    }

    /// Decrypts a draft's newest version (or `version`). Needs the identity's passphrase.
    pub fn load_draft(
        &self,
        id: &str,
        version: Option<u64>,
        passphrase: &mut PassphraseFn<'_>,
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        Self::check_id(id)?;
        let identity = self.identity()?.ok_or(VaultError::NoIdentity)?;
        let dir = self.drafts_dir().join(id);
        let v = versions(&dir)?;
        let seq = match version {
            Some(s) if v.contains(&s) => s,
            Some(_) => {
                return Err(VaultError::UnknownDraft(format!(
                    "{id} version {version:?}"
                )))
            }
            None => *v
                .last()
                .ok_or_else(|| VaultError::UnknownDraft(id.to_owned()))?,
        };
        let path = dir.join(version_name(seq));
        let bytes = fs::read(&path).map_err(io_at(&path))?;
        let mut text = decrypt_with(&identity, &bytes, passphrase).map_err(|e| match e {
            OpenError::Key(k) => VaultError::Key(k),
            other => VaultError::Corrupted {
                path: path.display().to_string(),
                reason: other.to_string(),
            },
        })?;
        let unpadded = crate::padding::unpad_markdown(&text).len();
        // (Zeroizing wipes the whole allocation when dropped, the cut tail included.)
        text.truncate(unpadded);
        Ok(text)
    }

    /// A draft's text (newest version, or `version`): a report file, so UTF-8.
    pub fn load_draft_text(
        &self,
        id: &str,
        version: Option<u64>,
        passphrase: &mut PassphraseFn<'_>,
    ) -> Result<Zeroizing<String>, VaultError> {
        let bytes = self.load_draft(id, version, passphrase)?;
        match std::str::from_utf8(&bytes) {
            Ok(text) => Ok(Zeroizing::new(text.to_owned())),
            Err(_) => Err(VaultError::NotText(crate::text::shown(id))),
        }
    }

    /// A draft's title as the researcher wrote it (its newest version's `title`; empty when it
    /// has none or its front matter does not parse). Titles are encrypted like the rest, so this
    /// needs the passphrase: lists show titles only while the vault is unlocked.
    pub fn draft_title(
        &self,
        id: &str,
        passphrase: &mut PassphraseFn<'_>,
    ) -> Result<String, VaultError> {
        let text = self.load_draft_text(id, None, passphrase)?;
        Ok(crate::report::Report::parse(&text)
            .map(|(r, _)| r.title.trim().to_owned())
            .unwrap_or_default())
    }

    /// Removes a draft and all its versions.
    pub fn remove_draft(&self, id: &str) -> Result<(), VaultError> {
        Self::check_id(id)?;
        let dir = self.drafts_dir().join(id);
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(VaultError::UnknownDraft(id.to_owned()))
            }
            Err(e) => Err(io_at(&dir)(e)),
        }
    }
}

/// A file a draft attaches: where it is on this machine, and whether its metadata is kept.
/// Stored encrypted beside the draft's versions (`files.pgp`), never in the report itself
/// (local paths name the researcher's machine and must not reach the team).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DraftFile {
    /// The file's path.
    pub path: PathBuf,
    /// Seal it with its metadata (the per-file opt-out of scrubbing).
    #[serde(default)]
    pub keep_metadata: bool,
}

const FILES: &str = "files.pgp";
const SESSION: &str = "session";

impl Vault {
    /// Stores the list of files a draft attaches, encrypted to the identity (replaced on every
    /// save; a crash between the text and the list leaves the previous list).
    pub fn save_draft_files(&self, id: &str, files: &[DraftFile]) -> Result<(), VaultError> {
        Self::check_id(id)?;
        let identity = self.identity()?.ok_or(VaultError::NoIdentity)?;
        let dir = self.drafts_dir().join(id);
        if !dir.is_dir() {
            return Err(VaultError::UnknownDraft(id.to_owned()));
        }
        let path = dir.join(FILES);
        let json = Zeroizing::new(crate::padding::pad_json(
            serde_json::to_vec(files).expect("serialize paths"),
        ));
        let sealed = encrypt_to(&identity, &json)?;
        fsutil::atomic_write(&path, &sealed).map_err(io_at(&path))
    }

    /// The files a draft attaches (none when it never had any).
    pub fn draft_files(
        &self,
        id: &str,
        passphrase: &mut PassphraseFn<'_>,
    ) -> Result<Vec<DraftFile>, VaultError> {
        Self::check_id(id)?;
        let identity = self.identity()?.ok_or(VaultError::NoIdentity)?;
        let path = self.drafts_dir().join(id).join(FILES);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_at(&path)(e)),
        };
        let corrupted = |reason: String| VaultError::Corrupted {
            path: path.display().to_string(),
            reason,
        };
        let json = decrypt_with(&identity, &bytes, passphrase).map_err(|e| match e {
            OpenError::Key(k) => VaultError::Key(k),
            other => corrupted(other.to_string()),
        })?;
        serde_json::from_slice(&json).map_err(|e| corrupted(e.to_string()))
    }

    /// Marks an app session as running; `true` when the previous one never ended (the app
    /// crashed or was killed), so the app can say its draft was recovered.
    pub fn begin_session(&self) -> Result<bool, VaultError> {
        let path = self.root.join(SESSION);
        let unclean = path.exists();
        fsutil::create_private_dir(&self.root).map_err(io_at(&self.root))?;
        fsutil::atomic_write(&path, b"").map_err(io_at(&path))?;
        Ok(unclean)
    }

    /// Marks the session as ended cleanly.
    pub fn end_session(&self) -> Result<(), VaultError> {
        let path = self.root.join(SESSION);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_at(&path)(e)),
        }
    }

    /// Copies a draft's newest version (and its files list) into a new draft; no passphrase
    /// needed, the ciphertext is copied as it is.
    pub fn duplicate_draft(&self, id: &str) -> Result<String, VaultError> {
        Self::check_id(id)?;
        let dir = self.drafts_dir().join(id);
        let v = versions(&dir)?;
        let newest = *v
            .last()
            .ok_or_else(|| VaultError::UnknownDraft(id.to_owned()))?;
        let new_id = format!("d-{:016x}", rand::random::<u64>());
        let new_dir = self.drafts_dir().join(&new_id);
        fsutil::create_private_dir(&new_dir).map_err(io_at(&new_dir))?;
        for name in [version_name(newest), FILES.to_owned()] {
            let from = dir.join(&name);
            let bytes = match fs::read(&from) {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_at(&from)(e)),
            };
            let to = new_dir.join(if name == FILES {
                FILES.to_owned()
            } else {
                version_name(1)
            });
            fsutil::atomic_write(&to, &bytes).map_err(io_at(&to))?;
        }
        Ok(new_id)
    }
}

fn version_name(seq: u64) -> String {
    format!("{seq:06}.pgp")
}

/// The complete versions in a draft directory, oldest first (temp files of an interrupted write
/// are ignored, and removed when older than a minute).
fn versions(dir: &Path) -> Result<Vec<u64>, VaultError> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(VaultError::UnknownDraft(
                dir.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ))
        }
        Err(e) => return Err(io_at(dir)(e)),
    };
    let mut out = Vec::new();
    for entry in rd.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(n) = name
            .strip_suffix(".pgp")
            .and_then(|s| s.parse::<u64>().ok())
        {
            out.push(n);
        } else if name.ends_with(".partial") {
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age.as_secs() > 60);
            if stale {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

impl Vault {
    fn reply_keys_dir(&self) -> PathBuf {
        self.root.join("reply-keys")
    }

    /// Keeps an anonymous report's reply key ([`crate::replykey`]): its secret, encrypted to
    /// the identity, as `reply-keys/<FINGERPRINT>.pgp`. Returns the fingerprint.
    pub fn save_reply_key(&self, key: &Cert) -> Result<String, VaultError> {
        let identity = self.identity()?.ok_or(VaultError::NoIdentity)?;
        let fpr = key.fingerprint().to_hex();
        let dir = self.reply_keys_dir();
        fsutil::create_private_dir(&self.root).map_err(io_at(&self.root))?;
        fsutil::create_private_dir(&dir).map_err(io_at(&dir))?;
        let sealed = encrypt_to(&identity, &crate::replykey::tsk_bytes(key))?;
        let path = dir.join(format!("{fpr}.pgp"));
        fsutil::atomic_write(&path, &sealed).map_err(io_at(&path))?;
        Ok(fpr)
    }

    /// The reply key `fingerprint`, unlocked with the identity (its passphrase asked through
    /// `passphrase`).
    pub fn reply_key(
        &self,
        fingerprint: &str,
        passphrase: &mut PassphraseFn<'_>,
    ) -> Result<Cert, VaultError> {
        Self::check_id(fingerprint)?;
        let identity = self.identity()?.ok_or(VaultError::NoIdentity)?;
        let path = self.reply_keys_dir().join(format!("{fingerprint}.pgp"));
        let bytes = fs::read(&path).map_err(io_at(&path))?;
        let corrupted = |reason: String| VaultError::Corrupted {
            path: path.display().to_string(),
            reason,
        };
        let tsk = decrypt_with(&identity, &bytes, passphrase).map_err(|e| match e {
            OpenError::Key(k) => VaultError::Key(k),
            other => corrupted(other.to_string()),
        })?;
        let key = Cert::from_bytes(&tsk[..]).map_err(|e| corrupted(e.to_string()))?;
        if key.fingerprint().to_hex() != fingerprint {
            return Err(corrupted("it holds another key".into()));
        }
        Ok(key)
    }
}

/// Encrypts bytes to a cert (binary OpenPGP message, SEIPDv1 so gpg 2.2 reads it).
pub(crate) fn encrypt_to(cert: &Cert, text: &[u8]) -> Result<Vec<u8>, MessageError> {
    message::seal(text, std::slice::from_ref(cert), None, false)
}

/// Decrypts a message to the identity in memory.
pub(crate) fn decrypt_with(
    identity: &Cert,
    bytes: &[u8],
    passphrase: &mut PassphraseFn<'_>,
) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    let secret = std::slice::from_ref(identity);
    Ok(message::open(bytes, secret, &[], passphrase, MAX_DRAFT_BYTES)?.text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault() -> (tempfile::TempDir, Vault) {
        let dir = tempfile::tempdir().unwrap();
        let v = Vault::of(&Store::at(dir.path().to_owned()));
        (dir, v)
    }

    #[test]
    fn a_weak_passphrase_is_refused_and_sizes_do_not_give_texts_away() {
        let (dir, v) = vault();
        for weak in ["ab", "correct horse", "Ada Lovelace"] {
            let e = v
                .create_identity("Ada Lovelace <ada@example.org>", Password::from(weak))
                .unwrap_err();
            assert!(
                matches!(e, VaultError::WeakPassphrase(_)) && e.to_string().contains("too weak"),
                "{weak}: {e}"
            );
        }
        assert!(v.identity().unwrap().is_none(), "nothing was created");
        // An unprotected key imported with a weak passphrase: refused too.
        let (tsk, _) = openpgp::cert::CertBuilder::new()
            .add_userid("Ada <ada@example.org>")
            .add_storage_encryption_subkey()
            .generate()
            .unwrap();
        let e = v
            .import_identity(tsk, Password::from("ada2026"))
            .unwrap_err();
        assert!(matches!(e, VaultError::WeakPassphrase(_)), "{e}");

        v.create_identity(
            "Ada Lovelace <ada@example.org>",
            Password::from("plinth marmot quarry fable"),
        )
        .unwrap();
        let size = |id: &str| {
            let d = dir.path().join("vault/drafts").join(id);
            let f = fs::read_dir(&d)
                .unwrap()
                .flatten()
                .find(|e| e.file_name().to_string_lossy().ends_with(".pgp"))
                .unwrap();
            f.metadata().unwrap().len()
        };
        let (a, _) = v.save_draft(None, &[b'a'; 5000]).unwrap();
        let (b, _) = v.save_draft(None, &[b'b'; 5080]).unwrap();
        let (c, _) = v.save_draft(None, b"short").unwrap();
        let (d, _) = v.save_draft(None, &[b'd'; 900]).unwrap();
        assert_eq!(size(&a), size(&b), "5,000 and 5,080 bytes: one size");
        assert_eq!(size(&c), size(&d), "5 and 900 bytes: one size");
        let mut ask = |_: &str| Some(Password::from("plinth marmot quarry fable"));
        assert_eq!(
            &v.load_draft(&b, None, &mut ask).unwrap()[..],
            &[b'b'; 5080][..]
        );
        assert_eq!(&v.load_draft(&c, None, &mut ask).unwrap()[..], b"short");
    }

    #[test]
    fn drafts_are_encrypted_versioned_and_read_back() {
        let (dir, v) = vault();
        assert!(matches!(
            v.save_draft(None, b"x"),
            Err(VaultError::NoIdentity)
        ));
        let id_cert = v
            .create_identity(
                "Ada <ada@example.org>",
                Password::from("correct horse battery staple"),
            )
            .unwrap();
        assert!(matches!(
            v.create_identity("again", Password::from("x")),
            Err(VaultError::IdentityExists { .. })
        ));
        assert_eq!(
            v.identity().unwrap().unwrap().fingerprint(),
            id_cert.fingerprint()
        );
        let (id, one) = v.save_draft(None, b"CANARY-1 first version").unwrap();
        for i in 2..=13 {
            let (same, seq) = v
                .save_draft(Some(&id), format!("CANARY-1 version {i}").as_bytes())
                .unwrap();
            assert_eq!(same, id);
            assert_eq!(seq, one + i - 1);
        }
        let (list, broken) = v.drafts().unwrap();
        assert!(broken.is_empty());
        assert_eq!(list.len(), 1);
        assert_eq!(
            list[0].versions,
            (4..=13).collect::<Vec<u64>>(),
            "last 10 kept"
        );
        // Nothing in the vault is plain text.
        for f in walk(dir.path()) {
            let bytes = fs::read(&f).unwrap();
            assert!(
                !bytes.windows(8).any(|w| w == b"CANARY-1"),
                "{}",
                f.display()
            );
        }
        let mut good = |_: &str| Some(Password::from("correct horse battery staple"));
        assert_eq!(
            &v.load_draft(&id, None, &mut good).unwrap()[..],
            b"CANARY-1 version 13"
        );
        assert_eq!(
            &v.load_draft(&id, Some(5), &mut good).unwrap()[..],
            b"CANARY-1 version 5"
        );
        let mut bad = |_: &str| Some(Password::from("wrong"));
        assert!(matches!(
            v.load_draft(&id, None, &mut bad),
            Err(VaultError::Key(KeyError::WrongPassphrase { .. }))
        ));
        v.remove_draft(&id).unwrap();
        assert!(v.drafts().unwrap().0.is_empty());
    }

    #[test]
    fn a_flipped_bit_names_that_file_only() {
        let (_dir, v) = vault();
        v.create_identity(
            "Ada <ada@example.org>",
            Password::from("correct horse battery staple"),
        )
        .unwrap();
        let (a, _) = v.save_draft(None, b"draft a").unwrap();
        let (b, _) = v.save_draft(None, b"draft b").unwrap();
        let path = v.drafts_dir().join(&a).join(version_name(1));
        let mut bytes = fs::read(&path).unwrap();
        let mid = bytes.len() - 20;
        bytes[mid] ^= 0x10;
        fs::write(&path, &bytes).unwrap();
        let mut pw = |_: &str| Some(Password::from("correct horse battery staple"));
        match v.load_draft(&a, None, &mut pw) {
            Err(VaultError::Corrupted { path: p, .. }) => {
                assert_eq!(p, path.display().to_string())
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
        assert_eq!(&v.load_draft(&b, None, &mut pw).unwrap()[..], b"draft b");
        assert_eq!(v.drafts().unwrap().0.len(), 2);
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in fs::read_dir(dir).unwrap().flatten() {
            if e.path().is_dir() {
                out.extend(walk(&e.path()));
            } else {
                out.push(e.path());
            }
        }
        out
    }

    #[test]
    fn files_lists_duplicates_and_sessions() {
        let (dir, v) = vault();
        v.create_identity(
            "Ada <ada@example.org>",
            Password::from("correct horse battery staple"),
        )
        .unwrap();
        let mut ask = |_: &str| Some(Password::from("correct horse battery staple"));
        let (id, _) = v.save_draft(None, b"text one").unwrap();
        assert!(v.draft_files(&id, &mut ask).unwrap().is_empty());
        let files = vec![DraftFile {
            path: PathBuf::from("/home/ada/evidence/shot.png"),
            keep_metadata: true,
        }];
        v.save_draft_files(&id, &files).unwrap();
        assert_eq!(v.draft_files(&id, &mut ask).unwrap(), files);
        // The list is encrypted: the path is nowhere in the vault in the clear.
        let stored = fs::read(dir.path().join("vault/drafts").join(&id).join(FILES)).unwrap();
        assert!(!stored.windows(8).any(|w| w == b"evidence"));
        assert!(matches!(
            v.save_draft_files("d-nothere", &files),
            Err(VaultError::UnknownDraft(_))
        ));

        let copy = v.duplicate_draft(&id).unwrap();
        assert_ne!(copy, id);
        assert_eq!(
            &v.load_draft(&copy, None, &mut ask).unwrap()[..],
            b"text one"
        );
        assert_eq!(v.draft_files(&copy, &mut ask).unwrap(), files);
        // The copy is its own draft: a new version of it leaves the original alone.
        v.save_draft(Some(&copy), b"text two").unwrap();
        assert_eq!(&v.load_draft(&id, None, &mut ask).unwrap()[..], b"text one");

        assert!(
            !v.begin_session().unwrap(),
            "first start: nothing to recover"
        );
        assert!(v.begin_session().unwrap(), "never ended: recovered");
        v.end_session().unwrap();
        assert!(!v.begin_session().unwrap(), "ended cleanly");
    }
}
