//! What the data directory keeps about deliveries: the outbox (sealed reports not yet taken by
//! an intake, each with the Idempotency-Key it is always sent with) and the receipts. Only
//! ciphertext and metadata that says nothing about the finding are kept: no title, no text.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fsutil;
use crate::store::{read_capped, Store, StoreError};

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
}

/// Outbox and receipts in a data directory.
pub struct Records {
    root: PathBuf,
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
        }
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
        let path = self.outbox().join(format!("{}.json", p.id));
        let text = serde_json::to_string_pretty(p).expect("serializes");
        fsutil::atomic_write(&path, text.as_bytes()).map_err(io_err(&path))
    }

    /// Removes an outbox entry (after delivery).
    pub fn remove_pending(&self, id: &str) -> Result<(), StoreError> {
        for ext in ["json", "pgp"] {
            let path = self.outbox().join(format!("{id}.{ext}"));
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(&path)(e)),
            }
        }
        Ok(())
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
            return Err(StoreError::Settings {
                path: self.receipts().display().to_string(),
                message: format!("`{}` is not a receipt", crate::text::shown(&r.receipt)),
            });
        }
        let path = self.receipts().join(format!("{}.json", r.receipt));
        let text = serde_json::to_string_pretty(r).expect("serializes");
        fsutil::atomic_write(&path, text.as_bytes()).map_err(io_err(&path))
    }

    /// Every receipt, oldest first.
    pub fn receipts_all(&self) -> Result<(Vec<ReceiptRecord>, Vec<StoreError>), StoreError> {
        let (mut ok, bad) = self
            .read_all::<ReceiptRecord>(&self.receipts(), |r: &ReceiptRecord| is_id(&r.receipt))?;
        ok.sort_by(|a, b| a.received_at.cmp(&b.received_at));
        Ok((ok, bad))
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
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        paths.sort();
        for path in paths {
            let parsed = read_capped(&path, MAX_RECORD_BYTES)
                .map_err(io_err(&path))
                .and_then(|b| {
                    serde_json::from_slice::<T>(&b).map_err(|e| StoreError::Settings {
                        path: path.display().to_string(),
                        message: e.to_string(),
                    })
                });
            match parsed {
                Ok(v) if valid(&v) => ok.push(v),
                Ok(_) => bad.push(StoreError::Settings {
                    path: path.display().to_string(),
                    message: "not a record Embargo wrote".into(),
                }),
                Err(e) => bad.push(e),
            }
        }
        Ok((ok, bad))
    }
}
