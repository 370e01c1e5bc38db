//! What the data directory keeps about deliveries: the outbox (sealed reports not yet taken by
//! an intake, each with the Idempotency-Key it is always sent with) and the receipts. Only
//! ciphertext and metadata that says nothing about the finding are kept: no title, no text.
//!
//! With an identity in the vault, every record (`outbox/<id>.json.pgp`,
//! `receipts/<receipt>.json.pgp`) is an OpenPGP message encrypted to it, like the drafts: writing
//! needs only its public key, reading needs the passphrase ([`Records::with_passphrase`]).
//! Records written before the identity existed (plain `.json`) are migrated — encrypted, then
//! the plain file removed — by [`Records::migrate`], which every write runs. Without an identity
//! records stay plain JSON (metadata only; the report itself is ciphertext to the team).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use sequoia_openpgp::crypto::Password;
use sequoia_openpgp::Cert;
use serde::{Deserialize, Serialize};

use crate::fsutil;
use crate::fsutil::read_capped;
use crate::store::{Store, StoreError};

/// A sealed report waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Pending {
    /// Random id; the ciphertext is `outbox/<id>.pgp`.
    pub id: String,
    /// Sent with every attempt, so the server stores it once whatever happens on the way.
    pub idempotency_key: String,
    /// Where it goes.
    pub intake_url: String,
    /// The program's id.
    pub program: Option<String>,
    /// The report's random reference.
    pub reference: Option<String>,
    /// When it was sealed (RFC 3339).
    pub created_at: String,
    /// Size of the ciphertext.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub bytes: u64,
    /// Attempts so far.
    pub attempts: u32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the last attempt ended (RFC 3339); the outbox's next try counts from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt_at: Option<String>,
    /// Rounds of retries the outbox made (each round may send several times); sets the wait.
    #[serde(default)]
    pub rounds: u32,
    /// The intake refused it with an answer that retrying will not change: not retried by
    /// itself (the researcher may try again, or remove it).
    #[serde(default)]
    pub refused: bool,
    /// The attachments sealed, with their hashes (only when records are encrypted: names can
    /// say something about the finding).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
    /// Fingerprints of the team certificates it was sealed to (stored in the data directory):
    /// a reply signed by one of them is the team's, pinned or not (`submit --to CERT`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<String>,
    /// The fingerprint of the report's reply key, when it is anonymous
    /// ([`crate::replykey`]): replies are decrypted with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_key: Option<String>,
}

/// One attachment as sealed: the hash the team sees in report.json, and the hash of the
/// researcher's original file when metadata was scrubbed from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Evidence {
    /// File name in the report.
    pub name: String,
    /// SHA-256 of the bytes sealed.
    pub sha256: String,
    /// SHA-256 of the original on disk, when it differs (scrubbed).
    pub original_sha256: Option<String>,
}

/// A report an intake took: what is needed to ask for its status and replies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ReceiptRecord {
    /// The receipt.
    pub receipt: String,
    /// The bearer token for its status.
    pub status_token: String,
    /// The intake's base URL.
    pub intake_url: String,
    /// The program's id.
    pub program: Option<String>,
    /// The report's random reference.
    pub reference: Option<String>,
    /// When the intake stored it (RFC 3339).
    pub received_at: String,
    /// The attachments sealed, with their hashes (encrypted records only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
    /// Fingerprints of the team certificates it was sealed to (see [`Pending::recipients`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<String>,
    /// The reply key's fingerprint (see [`Pending::reply_key`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_key: Option<String>,
    /// What the researcher has been told of (a notification, the Sent screen); none yet:
    /// `received` and no reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen: Option<Seen>,
}

/// Where a submitted report stood when the researcher was last told
/// ([`crate::usecase::notify`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Seen {
    /// The status.
    pub status: crate::protocol::ReportStatus,
    /// The id of the last reply (0: none).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub last_reply: i64,
}

/// A report the researcher exported to send themselves (as `.eml` or `.asc`): what Sent shows
/// as "exported, sent by you".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ExportRecord {
    /// Random id.
    pub id: String,
    /// The program's id.
    pub program: Option<String>,
    /// The report's random reference.
    pub reference: String,
    /// `eml` or `asc`.
    pub format: String,
    /// The address it is meant for, when the program has one.
    pub to: Option<String>,
    /// Where the file was written (encrypted records only: a path can say something about the
    /// finding).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Bytes written.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub bytes: u64,
    /// When (RFC 3339).
    pub exported_at: String,
}

/// Outbox, receipts and exports in a data directory.
pub struct Records {
    root: PathBuf,
    identity: Option<Cert>,
    passphrase: Option<Password>,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Largest record file read.
const MAX_RECORD_BYTES: u64 = 1 << 20;

fn is_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl Records {
    /// The records of a data directory.
    pub fn of(store: &Store) -> Records {
        Records {
            root: store.root().to_owned(),
            identity: crate::vault::Vault::of(store).identity().ok().flatten(),
            passphrase: None,
        }
    }

    /// Reads encrypted records with the identity's passphrase.
    pub fn with_passphrase(mut self, passphrase: Password) -> Records {
        self.passphrase = Some(passphrase);
        self
    }

    /// Whether records are (or will be) encrypted: there is an identity.
    pub fn encrypted(&self) -> bool {
        self.identity.is_some()
    }

    /// Whether any record is encrypted (reading them needs the passphrase).
    pub fn has_encrypted(&self) -> bool {
        [self.outbox(), self.receipts(), self.exports()]
            .iter()
            .any(|d| {
                fs::read_dir(d)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .any(|e| e.file_name().to_string_lossy().ends_with(".json.pgp"))
            })
    }

    /// Unlocks with the identity's passphrase, asked only when a record is encrypted; checked
    /// against the identity's secret key, so a wrong passphrase is one clear error.
    pub fn unlock(
        self,
        ask: &mut crate::keys::PassphraseFn<'_>,
    ) -> Result<Records, crate::keys::KeyError> {
        let Some(identity) = self.identity.clone() else {
            return Ok(self);
        };
        if !self.has_encrypted() {
            return Ok(self);
        }
        let mut given = None;
        let mut remember = |what: &str| {
            let p = ask(what);
            given.clone_from(&p);
            p
        };
        crate::keys::Signer::from_tsk(&identity, &mut remember)?;
        Ok(match given {
            Some(pw) => self.with_passphrase(pw),
            None => self,
        })
    }

    /// Writes one record: encrypted to the identity when there is one (and the plain file of an
    /// earlier version removed), else plain JSON.
    fn write_record(&self, dir: &Path, name: &str, json: &[u8]) -> Result<(), StoreError> {
        let plain = dir.join(format!("{name}.json"));
        match &self.identity {
            Some(identity) => {
                let path = dir.join(format!("{name}.json.pgp"));
                // Padded, so the file's size does not give the record's away.
                let padded = zeroize::Zeroizing::new(crate::padding::pad_json(json.to_vec()));
                let sealed = crate::vault::encrypt_to(identity, &padded).map_err(|source| {
                    StoreError::Encrypt {
                        path: path.display().to_string(),
                        source,
                    }
                })?;
                fsutil::atomic_write(&path, &sealed).map_err(io_err(&path))?;
                match fs::remove_file(&plain) {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(io_err(&plain)(e)),
                }
            }
            None => fsutil::atomic_write(&plain, json).map_err(io_err(&plain)),
        }
    }

    /// Encrypts every plain record to the identity (records written before it existed); the
    /// number migrated. Nothing to do without an identity.
    pub fn migrate(&self) -> Result<usize, StoreError> {
        if self.identity.is_none() {
            return Ok(0);
        }
        let mut n = 0;
        for dir in [self.outbox(), self.receipts(), self.exports()] {
            let entries = match fs::read_dir(&dir) {
                Ok(rd) => rd,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err(&dir)(e)),
            };
            for entry in entries.flatten() {
                let file = entry.file_name().to_string_lossy().into_owned();
                let Some(name) = file.strip_suffix(".json") else {
                    continue;
                };
                let path = entry.path();
                let json = read_capped(&path, MAX_RECORD_BYTES).map_err(io_err(&path))?;
                self.write_record(&dir, name, &json)?;
                n += 1;
            }
        }
        Ok(n)
    }

    fn exports(&self) -> PathBuf {
        self.root.join("exports")
    }

    /// Records an export (its file path only when records are encrypted).
    pub fn save_export(&self, mut e: ExportRecord) -> Result<ExportRecord, StoreError> {
        if e.id.is_empty() {
            e.id = crate::bundle::hex(&rand::random::<[u8; 12]>());
        }
        if !is_id(&e.id) {
            return Err(StoreError::BadRecord {
                path: self.exports().display().to_string(),
                reason: format!("`{}` is not a record id", crate::text::shown(&e.id)),
            });
        }
        if !self.encrypted() {
            e.file = None;
        }
        let text = serde_json::to_string_pretty(&e).expect("serializes");
        self.write_record(&self.exports(), &e.id, text.as_bytes())?;
        self.migrate()?;
        Ok(e)
    }

    /// Every export, oldest first.
    pub fn exports_all(&self) -> Result<(Vec<ExportRecord>, Vec<StoreError>), StoreError> {
        let (mut ok, bad) =
            self.read_all::<ExportRecord>(&self.exports(), |e: &ExportRecord| is_id(&e.id))?;
        ok.sort_by(|a, b| a.exported_at.cmp(&b.exported_at));
        Ok((ok, bad))
    }

    fn outbox(&self) -> PathBuf {
        self.root.join("outbox")
    }

    fn receipts(&self) -> PathBuf {
        self.root.join("receipts")
    }

    /// A new outbox entry's id and the path its ciphertext must be sealed to.
    pub fn new_pending_path(&self) -> Result<(String, PathBuf), StoreError> {
        let dir = self.outbox();
        fsutil::create_private_dir(&dir).map_err(io_err(&dir))?;
        let id = crate::bundle::hex(&rand::random::<[u8; 12]>());
        let path = dir.join(format!("{id}.pgp"));
        Ok((id, path))
    }

    /// The ciphertext of an outbox entry.
    pub fn pending_body(&self, id: &str) -> PathBuf {
        self.outbox().join(format!("{id}.pgp"))
    }

    /// Saves (or updates) an outbox entry's metadata.
    pub fn save_pending(&self, p: &Pending) -> Result<(), StoreError> {
        let text = serde_json::to_string_pretty(p).expect("serializes");
        self.write_record(&self.outbox(), &p.id, text.as_bytes())?;
        self.migrate().map(drop)
    }

    /// Removes an outbox entry (after delivery).
    pub fn remove_pending(&self, id: &str) -> Result<(), StoreError> {
        for ext in ["json", "json.pgp", "pgp"] {
            let path = self.outbox().join(format!("{id}.{ext}"));
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(&path)(e)),
            }
        }
        Ok(())
    }

    /// How many reports wait in the outbox, counted by their ciphertext (readable without the
    /// passphrase: the records themselves may be encrypted).
    pub fn count_pending(&self) -> usize {
        fs::read_dir(self.outbox())
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_suffix(".pgp")
                    .is_some_and(|id| !id.ends_with(".json") && is_id(id))
            })
            .count()
    }

    /// Every outbox entry, oldest first; an unreadable one is an error naming its file and does
    /// not hide the others.
    pub fn pending(&self) -> Result<(Vec<Pending>, Vec<StoreError>), StoreError> {
        let (mut ok, bad) = self.read_all::<Pending>(&self.outbox(), |p: &Pending| is_id(&p.id))?;
        ok.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        Ok((ok, bad))
    }

    /// Saves a receipt.
    pub fn save_receipt(&self, r: &ReceiptRecord) -> Result<(), StoreError> {
        if !is_id(&r.receipt) {
            return Err(StoreError::BadRecord {
                path: self.receipts().display().to_string(),
                reason: format!("`{}` is not a receipt", crate::text::shown(&r.receipt)),
            });
        }
        let text = serde_json::to_string_pretty(r).expect("serializes");
        self.write_record(&self.receipts(), &r.receipt, text.as_bytes())?;
        self.migrate().map(drop)
    }

    /// Every receipt, oldest first.
    pub fn receipts_all(&self) -> Result<(Vec<ReceiptRecord>, Vec<StoreError>), StoreError> {
        let (mut ok, bad) = self
            .read_all::<ReceiptRecord>(&self.receipts(), |r: &ReceiptRecord| is_id(&r.receipt))?;
        ok.sort_by(|a, b| a.received_at.cmp(&b.received_at));
        Ok((ok, bad))
    }

    /// The receipt kept for `receipt`.
    pub fn receipt(&self, receipt: &str) -> Result<ReceiptRecord, StoreError> {
        let (all, _) = self.receipts_all()?;
        all.into_iter()
            .find(|r| r.receipt == receipt)
            .ok_or_else(|| StoreError::UnknownReceipt(crate::text::shown(receipt)))
    }

    /// A record's JSON: as it is, or decrypted with the identity.
    fn plain(
        &self,
        path: &Path,
        bytes: Vec<u8>,
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, StoreError> {
        if !path.to_string_lossy().ends_with(".pgp") {
            return Ok(zeroize::Zeroizing::new(bytes));
        }
        let locked = || StoreError::Locked {
            path: path.display().to_string(),
        };
        let (Some(identity), Some(pw)) = (&self.identity, &self.passphrase) else {
            return Err(locked());
        };
        let mut ask = |_: &str| Some(pw.clone());
        crate::vault::decrypt_with(identity, &bytes, &mut ask).map_err(|e| match e {
            crate::open::OpenError::Key(k) => StoreError::Key(k),
            other => StoreError::Undecryptable {
                path: path.display().to_string(),
                source: Box::new(other),
            },
        })
    }

    fn read_all<T: serde::de::DeserializeOwned>(
        &self,
        dir: &Path,
        valid: impl Fn(&T) -> bool,
    ) -> Result<(Vec<T>, Vec<StoreError>), StoreError> {
        let mut ok = Vec::new();
        let mut bad = Vec::new();
        let entries = match fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((ok, bad)),
            Err(e) => return Err(io_err(dir)(e)),
        };
        let mut paths: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                let name = p.file_name().unwrap_or_default().to_string_lossy();
                name.ends_with(".json") || name.ends_with(".json.pgp")
            })
            .collect();
        paths.sort();
        for path in paths {
            let parsed = read_capped(&path, MAX_RECORD_BYTES)
                .map_err(io_err(&path))
                .and_then(|b| self.plain(&path, b))
                .and_then(|b| {
                    serde_json::from_slice::<T>(&b).map_err(|e| StoreError::BadRecord {
                        path: path.display().to_string(),
                        reason: e.to_string(),
                    })
                });
            match parsed {
                Ok(v) if valid(&v) => ok.push(v),
                Ok(_) => bad.push(StoreError::BadRecord {
                    path: path.display().to_string(),
                    reason: "its id is not one Embargo makes".into(),
                }),
                Err(e) => bad.push(e),
            }
        }
        Ok((ok, bad))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt(n: u8) -> ReceiptRecord {
        ReceiptRecord {
            receipt: format!("R{n:025}"),
            status_token: format!("secret-status-token-{n}"),
            intake_url: "https://intake.example".into(),
            program: Some("novu".into()),
            reference: Some("EMB-7K2Q-9XDA".into()),
            received_at: format!("2026-12-01T10:00:0{n}Z"),
            evidence: Vec::new(),
            recipients: Vec::new(),
            reply_key: None,
            seen: None,
        }
    }

    #[test]
    fn records_are_encrypted_once_there_is_an_identity_and_earlier_ones_migrate() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path().to_owned());
        // Before the identity: plain JSON.
        Records::of(&store).save_receipt(&receipt(1)).unwrap();
        let plain = dir
            .path()
            .join("receipts")
            .join(format!("{}.json", receipt(1).receipt));
        assert!(plain.exists());

        // Making the identity migrates the earlier record (the rule both shells go through).
        let (_, migrated) = crate::usecase::adopt_identity(
            &store,
            crate::usecase::NewIdentity::Generate {
                userid: "Ada <ada@example.org>",
            },
            Password::from("correct horse battery staple"),
        )
        .unwrap();
        assert_eq!(migrated, 1);
        let records = Records::of(&store);
        assert!(records.encrypted());
        assert_eq!(records.migrate().unwrap(), 0, "nothing left to migrate");
        assert!(!plain.exists(), "the plain record is gone");
        // A longer one (a program name of 200 characters more).
        records
            .save_receipt(&ReceiptRecord {
                program: Some("p".repeat(200)),
                ..receipt(2)
            })
            .unwrap();
        let files: Vec<String> = fs::read_dir(dir.path().join("receipts"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(files.len(), 2);
        // Padded: the two receipts (200 bytes apart) are files of one size.
        let sizes: std::collections::BTreeSet<u64> = files
            .iter()
            .map(|f| {
                fs::metadata(dir.path().join("receipts").join(f))
                    .unwrap()
                    .len()
            })
            .collect();
        assert_eq!(sizes.len(), 1, "{sizes:?}");
        for f in &files {
            assert!(f.ends_with(".json.pgp"), "{f}");
            let bytes = fs::read(dir.path().join("receipts").join(f)).unwrap();
            assert!(
                !bytes.windows(12).any(|w| w == b"status-token"),
                "{f} is encrypted"
            );
        }

        // Locked: each record is an error naming it; no passphrase, no content.
        let (ok, bad) = Records::of(&store).receipts_all().unwrap();
        assert!(ok.is_empty());
        assert_eq!(bad.len(), 2);
        assert!(matches!(bad[0], StoreError::Locked { .. }), "{}", bad[0]);
        // A wrong passphrase is refused up front.
        let mut wrong = |_: &str| Some(Password::from("nope"));
        assert!(Records::of(&store).unlock(&mut wrong).is_err());
        let mut right = |_: &str| Some(Password::from("correct horse battery staple"));
        let (ok, bad) = Records::of(&store)
            .unlock(&mut right)
            .unwrap()
            .receipts_all()
            .unwrap();
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(
            ok,
            vec![
                receipt(1),
                ReceiptRecord {
                    program: Some("p".repeat(200)),
                    ..receipt(2)
                }
            ]
        );
    }
}
