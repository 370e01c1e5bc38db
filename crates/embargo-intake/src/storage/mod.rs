//! Storage behind one trait: reports (metadata, body, status), replies, idempotency keys and
//! the server secret; SQLite and PostgreSQL implement it.
//!
//! The contract every backend keeps (and the shared suite in `tests/it/intake_storage.rs`
//! checks): nothing is reported as stored before it is durable — the body synced and the row
//! committed —; one idempotency key names at most one report, whatever the concurrency;
//! reports list in commit order, so a cursor never skips one that committed late; bodies come
//! back byte for byte and are streamed both ways.

pub mod postgres;
pub mod sqlite;

use std::fmt;
use std::pin::Pin;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::Stream;

use crate::receipt::{Receipt, ServerSecret};

pub use postgres::{PgOptions, PgStore};
pub use sqlite::{SqliteOptions, SqliteStore};

/// A report's state in the team's workflow: the protocol's own type.
pub use embargo_core::protocol::ReportStatus as Status;

/// RFC 3339 in UTC with microseconds, the form every time on the wire takes.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// What the server knows about a report (never its content).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRecord {
    pub receipt: Receipt,
    pub status: Status,
    pub received_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub size: u64,
}

/// A report as its idempotency key recorded it: enough to answer a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    pub receipt: Receipt,
    pub received_at: DateTime<Utc>,
    pub sha256: [u8; 32],
}

/// A report about to be committed.
#[derive(Debug, Clone)]
pub struct NewReport {
    pub receipt: Receipt,
    pub idempotency_key: String,
    pub sha256: [u8; 32],
    pub size: u64,
}

/// The result of committing a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// Committed (durable) now.
    Created(ReportRecord),
    /// The idempotency key already names a committed report; nothing new was stored.
    Duplicate(Submission),
    /// A report with the same bytes is stored under another idempotency key; nothing new was
    /// stored (identical ciphertexts are kept once).
    SameBody,
}

/// A reply from the team to the researcher: one OpenPGP message, stored binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyRecord {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub message: Bytes,
}

/// A page of reports in arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub reports: Vec<ReportRecord>,
    /// Whether reports follow the last one of this page.
    pub more: bool,
}

/// A stored body, streamed in pieces.
pub struct BodyStream {
    pub size: u64,
    pub stream: Pin<Box<dyn Stream<Item = Result<Bytes, StorageError>> + Send>>,
}

impl fmt::Debug for BodyStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BodyStream({} bytes)", self.size)
    }
}

/// Storage failures. None of them is the client's fault: the server answers 500 and logs
/// the chain.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    #[error("sqlite: {context}: {source}")]
    Sqlite {
        context: String,
        source: rusqlite::Error,
    },
    #[error("postgresql: {context}: {source}")]
    Postgres {
        context: String,
        source: tokio_postgres::Error,
    },
    #[error("postgresql connection pool: {0}")]
    Pool(String),
    #[error("{context} {path}: {source}")]
    Io {
        context: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("the stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("the database writer has stopped")]
    WriterStopped,
    #[error("the storage is shutting down")]
    Closed,
    #[error("schema version {found} of {what} is newer than this server knows ({known}): upgrade embargo-intake")]
    SchemaTooNew {
        what: String,
        found: i64,
        known: i64,
    },
    #[error("server secret {path} is readable by others (mode {mode:o}): run `chmod 600 {path}`")]
    SecretPermissions { path: String, mode: u32 },
}

/// An idempotency key held for one submission in flight, in the storage so that every
/// server process sharing it sees it. [`KeyClaim::release`] gives it back before the answer
/// goes out (so that a retry the client sends on reading it finds the key free); dropping it
/// unreleased gives it back in the background.
pub struct KeyClaim {
    held: Option<Box<dyn HeldKey>>,
}

/// What a storage must do to give a claimed key back.
#[async_trait::async_trait]
pub trait HeldKey: Send + Sync {
    async fn release(self: Box<Self>);
}

impl KeyClaim {
    /// A claim that needs nothing released: the store has one server process, whose own
    /// in-memory guard already covers the key.
    pub fn in_process() -> KeyClaim {
        KeyClaim { held: None }
    }

    pub fn held(key: Box<dyn HeldKey>) -> KeyClaim {
        KeyClaim { held: Some(key) }
    }

    pub async fn release(mut self) {
        if let Some(held) = self.held.take() {
            held.release().await;
        }
    }
}

/// Where reports live. Implemented by [`SqliteStore`] and [`PgStore`].
#[async_trait::async_trait]
pub trait Storage: Send + Sync + 'static {
    /// Bodies up to this size are buffered and handed over whole to
    /// [`Storage::insert_small`]; larger ones stream through [`Storage::begin_upload`].
    fn small_body_limit(&self) -> usize;

    /// The status-token secret, created on first use and the same ever after.
    async fn server_secret(&self) -> Result<ServerSecret, StorageError>;

    /// Holds `key` for one submission until the claim is dropped; `None` when another
    /// submission (here or on another server sharing the storage) holds it.
    async fn claim(&self, key: &str) -> Result<Option<KeyClaim>, StorageError>;

    /// The committed report an idempotency key names, if any.
    async fn find_submission(&self, key: &str) -> Result<Option<Submission>, StorageError>;

    /// Stores a small body and its report in one commit (shared with concurrent callers).
    async fn insert_small(&self, report: NewReport, body: Bytes) -> Result<Inserted, StorageError>;

    /// Starts streaming a body in; the report is stored by [`Upload::commit`]. Dropping the
    /// upload without committing discards what was written.
    async fn begin_upload(&self, receipt: &Receipt) -> Result<Box<dyn Upload>, StorageError>;

    async fn report(&self, receipt: &Receipt) -> Result<Option<ReportRecord>, StorageError>;

    /// Replies to a report, oldest first.
    async fn replies(&self, receipt: &Receipt) -> Result<Vec<ReplyRecord>, StorageError>;

    /// Up to `limit` reports in arrival order after `after` (from the start when `None`);
    /// `None` when `after` names no report.
    async fn list_reports(
        &self,
        after: Option<&Receipt>,
        limit: usize,
    ) -> Result<Option<Page>, StorageError>;

    /// The stored body, byte for byte.
    async fn open_body(&self, receipt: &Receipt) -> Result<Option<BodyStream>, StorageError>;

    /// Adds a reply (durable on return); `None` when the report does not exist.
    async fn add_reply(
        &self,
        receipt: &Receipt,
        message: Bytes,
    ) -> Result<Option<ReplyRecord>, StorageError>;

    /// Sets the status (a no-op when it is already that); `None` when the report does not
    /// exist.
    async fn set_status(
        &self,
        receipt: &Receipt,
        status: Status,
    ) -> Result<Option<ReportRecord>, StorageError>;

    /// Open files the store may hold at once (connections, sockets), bodies aside: the
    /// connection cap leaves room for them.
    fn file_descriptors(&self) -> u64;

    /// Bytes of report bodies stored (what the storage quota counts).
    async fn stored_bytes(&self) -> Result<u64, StorageError>;

    /// Bytes free for this store on its file system, when it keeps its data on this machine
    /// (`None` for a database server elsewhere).
    fn free_bytes(&self) -> Result<Option<u64>, StorageError>;

    /// Stops background work and waits until everything acknowledged is closed cleanly.
    async fn close(&self);
}

/// A body being streamed into storage.
#[async_trait::async_trait]
pub trait Upload: Send {
    async fn write(&mut self, chunk: Bytes) -> Result<(), StorageError>;

    /// Makes the body durable and commits its report. On [`Inserted::Duplicate`] and
    /// [`Inserted::SameBody`] the body is discarded.
    async fn commit(self: Box<Self>, report: NewReport) -> Result<Inserted, StorageError>;
}
