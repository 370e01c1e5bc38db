//! The embedded backend: SQLite (WAL, `synchronous=FULL`) in the data directory, one writer
//! thread that commits whatever is queued in one transaction (group commit), small bodies in
//! the database and larger ones as files beside it.
//!
//! Layout of the data directory (0700):
//! - `intake.sqlite3` (+ `-wal`, `-shm`): reports, small bodies, replies;
//! - `bodies/<RECEIPT>`: bodies larger than the small-body limit, written as
//!   `bodies/<RECEIPT>.tmp`, fsynced, renamed; the writer fsyncs `bodies/` once per batch
//!   before committing the rows that name them;
//! - `server-secret` (0600): the status-token HMAC key;
//! - `lock`: held (`flock`) while a server runs, so two processes never share the directory.
//!
//! Why small bodies go into the database: a file costs its own fsync (and a directory fsync),
//! while rows share the one WAL fsync of their batch. On this machine (≈200 fsyncs/s) that is
//! the difference between ≈200 and several thousand durable 10 KB submissions per second; see
//! NOTES-intake.md for the measurement behind the default limit.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;
use rusqlite::{params, Connection, OptionalExtension as _};
use tokio::sync::oneshot;

use super::{
    BodyStream, Inserted, KeyClaim, NewReport, Page, ReplyRecord, ReportRecord, Status, Storage,
    StorageError, Submission, Upload,
};
use crate::receipt::{Receipt, ServerSecret};

/// The schema this code reads and writes (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 2;

const SCHEMA_V1: &str = "
CREATE TABLE reports (
    seq INTEGER PRIMARY KEY,              -- arrival (= commit) order
    receipt TEXT NOT NULL UNIQUE,
    idempotency_key TEXT NOT NULL UNIQUE,
    body_sha256 BLOB NOT NULL,
    size INTEGER NOT NULL,
    body_in_db INTEGER NOT NULL,          -- 1: report_bodies, 0: bodies/<receipt>
    status TEXT NOT NULL,
    received_at INTEGER NOT NULL,         -- microseconds since the Unix epoch, UTC
    updated_at INTEGER NOT NULL
);
CREATE TABLE report_bodies (
    seq INTEGER PRIMARY KEY REFERENCES reports(seq),
    data BLOB NOT NULL
);
CREATE TABLE replies (
    id INTEGER PRIMARY KEY,
    report_seq INTEGER NOT NULL REFERENCES reports(seq),
    created_at INTEGER NOT NULL,
    message BLOB NOT NULL
);
CREATE INDEX replies_by_report ON replies(report_seq, id);
";

/// v2: identical ciphertexts are stored once, found by their hash.
const SCHEMA_V2: &str = "CREATE INDEX reports_by_sha256 ON reports(body_sha256);";

/// Read connections at most (reads beyond wait for one).
const MAX_READERS: usize = 16;

/// Tuning for [`SqliteStore`].
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Bodies up to this size are stored in the database (0: every body is a file).
    pub small_body_limit: usize,
    /// Most operations one transaction commits.
    pub max_batch: usize,
}

impl Default for SqliteOptions {
    fn default() -> SqliteOptions {
        SqliteOptions {
            small_body_limit: DEFAULT_SMALL_BODY_LIMIT,
            max_batch: 1024,
        }
    }
}

/// Bodies up to 64 KiB go into the database, larger ones into files. Measured on the 2-core
/// benchmark machine (NOTES-intake.md), database vs files: 10 KB 6,300 vs 2,300/s, 32 KB
/// 3,300 vs 1,400/s, 64 KB 2,100 vs 1,100/s, 100 KB even, 1 MB 94 vs 435/s (a body in the
/// database is written twice, WAL then checkpoint, and churns the WAL).
pub const DEFAULT_SMALL_BODY_LIMIT: usize = 64 * 1024;

const WRITE_BUFFER: usize = 256 * 1024;
const READ_CHUNK: usize = 64 * 1024;

/// The SQLite store. Cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    db_path: PathBuf,
    bodies: PathBuf,
    options: SqliteOptions,
    secret: ServerSecret,
    writer: Mutex<Option<mpsc::Sender<Op>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    stop_checkpoints: Arc<AtomicBool>,
    readers: Mutex<Vec<Connection>>,
    /// Reads at once (each needs a connection: three open files).
    read_permits: Arc<tokio::sync::Semaphore>,
    // Held for the store's life: the data directory's `flock`.
    _lock: File,
}

enum BodyPlace {
    Database(Bytes),
    File,
}

enum Op {
    Insert {
        report: NewReport,
        body: BodyPlace,
        done: oneshot::Sender<Result<Inserted, StorageError>>,
    },
    Reply {
        receipt: Receipt,
        message: Bytes,
        done: oneshot::Sender<Result<Option<ReplyRecord>, StorageError>>,
    },
    SetStatus {
        receipt: Receipt,
        status: Status,
        done: oneshot::Sender<Result<Option<ReportRecord>, StorageError>>,
    },
}

fn sql(context: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> StorageError {
    let context = context.into();
    move |source| StorageError::Sqlite { context, source }
}

fn io_err<'a>(
    context: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> StorageError + 'a {
    move |source| StorageError::Io {
        context,
        path: path.display().to_string(),
        source,
    }
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn from_micros(us: i64) -> Result<DateTime<Utc>, StorageError> {
    DateTime::from_timestamp_micros(us)
        .ok_or_else(|| StorageError::Corrupt(format!("timestamp {us} is out of range")))
}

fn parse_receipt(text: &str) -> Result<Receipt, StorageError> {
    text.parse()
        .map_err(|e| StorageError::Corrupt(format!("stored receipt: {e}")))
}

fn connect(path: &Path) -> Result<Connection, StorageError> {
    let conn = Connection::open(path).map_err(sql(format!("open {}", path.display())))?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(sql("set busy_timeout"))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;",
    )
    .map_err(sql("set pragmas"))?;
    Ok(conn)
}

/// Creates the data directory (0700), takes its lock and loads or creates the server secret.
fn prepare_dir(dir: &Path) -> Result<(File, ServerSecret), StorageError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err("create data directory", dir))?;
    let lock_path = dir.join("lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lock_path)
        .map_err(io_err("open lock file", &lock_path))?;
    lock.try_lock().map_err(|e| match e {
        fs::TryLockError::WouldBlock => StorageError::Io {
            context: "lock data directory (another embargo-intake uses it)",
            path: dir.display().to_string(),
            source: io::Error::new(io::ErrorKind::WouldBlock, "locked by another process"),
        },
        fs::TryLockError::Error(source) => StorageError::Io {
            context: "lock data directory",
            path: dir.display().to_string(),
            source,
        },
    })?;
    let secret = load_or_create_secret(dir)?;
    Ok((lock, secret))
}

fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("sync directory", dir))
}

fn load_or_create_secret(dir: &Path) -> Result<ServerSecret, StorageError> {
    let path = dir.join("server-secret");
    match File::open(&path) {
        Ok(mut f) => {
            let mode = f
                .metadata()
                .map_err(io_err("stat server secret", &path))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(StorageError::SecretPermissions {
                    path: path.display().to_string(),
                    mode: mode & 0o777,
                });
            }
            let mut bytes = zeroize::Zeroizing::new(Vec::new());
            f.read_to_end(&mut bytes)
                .map_err(io_err("read server secret", &path))?;
            ServerSecret::from_bytes(&bytes).ok_or_else(|| {
                StorageError::Corrupt(format!(
                    "server secret {} has {} bytes, not 32",
                    path.display(),
                    bytes.len()
                ))
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let secret = ServerSecret::generate();
            let tmp = dir.join("server-secret.tmp");
            let mut f = OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(io_err("create server secret", &tmp))?;
            f.write_all(secret.expose())
                .and_then(|()| f.sync_all())
                .map_err(io_err("write server secret", &tmp))?;
            fs::rename(&tmp, &path).map_err(io_err("install server secret", &path))?;
            sync_dir(dir)?;
            Ok(secret)
        }
        Err(e) => Err(StorageError::Io {
            context: "open server secret",
            path: path.display().to_string(),
            source: e,
        }),
    }
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StorageError> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sql("read schema version"))?;
    if version > SCHEMA_VERSION {
        return Err(StorageError::SchemaTooNew {
            what: path.display().to_string(),
            found: version,
            known: SCHEMA_VERSION,
        });
    }
    if version < 1 {
        let tx = conn.transaction().map_err(sql("begin migration"))?;
        tx.execute_batch(SCHEMA_V1)
            .map_err(sql("create schema v1"))?;
        tx.pragma_update(None, "user_version", 1)
            .map_err(sql("set schema version"))?;
        tx.commit().map_err(sql("commit migration"))?;
    }
    if version < 2 {
        let tx = conn.transaction().map_err(sql("begin migration"))?;
        tx.execute_batch(SCHEMA_V2)
            .map_err(sql("create schema v2"))?;
        tx.pragma_update(None, "user_version", 2)
            .map_err(sql("set schema version"))?;
        tx.commit().map_err(sql("commit migration"))?;
    }
    Ok(())
}

/// Removes what a crash can leave behind: partial `.tmp` bodies, and body files renamed into
/// place whose row never committed (their submission was never acknowledged).
fn sweep_bodies(conn: &Connection, bodies: &Path) -> Result<usize, StorageError> {
    let mut known: HashSet<String> = HashSet::new();
    let mut stmt = conn
        .prepare("SELECT receipt FROM reports WHERE body_in_db = 0")
        .map_err(sql("list body files"))?;
    let rows = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(sql("list body files"))?;
    for r in rows {
        known.insert(r.map_err(sql("list body files"))?);
    }
    let mut removed = 0;
    for entry in fs::read_dir(bodies).map_err(io_err("read directory", bodies))? {
        let entry = entry.map_err(io_err("read directory", bodies))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".tmp") || !known.contains(&name) {
            let path = entry.path();
            fs::remove_file(&path).map_err(io_err("remove orphaned body", &path))?;
            removed += 1;
        }
    }
    if removed > 0 {
        sync_dir(bodies)?;
    }
    Ok(removed)
}

impl SqliteStore {
    /// Opens (creating when absent) the store in `dir`.
    pub async fn open(dir: &Path, options: SqliteOptions) -> Result<SqliteStore, StorageError> {
        let dir = dir.to_owned();
        tokio::task::spawn_blocking(move || SqliteStore::open_blocking(&dir, options))
            .await
            .expect("open task panicked")
    }

    fn open_blocking(dir: &Path, options: SqliteOptions) -> Result<SqliteStore, StorageError> {
        let (lock, secret) = prepare_dir(dir)?;
        let bodies = dir.join("bodies");
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&bodies)
            .map_err(io_err("create directory", &bodies))?;
        let db_path = dir.join("intake.sqlite3");
        let mut conn = connect(&db_path)?;
        migrate(&mut conn, &db_path)?;
        let removed = sweep_bodies(&conn, &bodies)?;
        if removed > 0 {
            tracing::info!(removed, "removed body files of unacknowledged submissions");
        }
        // Checkpoints run on their own thread so the writer's commits do not wait for one.
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(sql("disable automatic checkpoints"))?;
        conn.pragma_update(None, "journal_size_limit", WAL_RESTART_AT as i64)
            .map_err(sql("set journal_size_limit"))?;

        let (tx, rx) = mpsc::channel::<Op>();
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let bodies = bodies.clone();
            let wal = dir.join("intake.sqlite3-wal");
            let max_batch = options.max_batch.max(1);
            std::thread::Builder::new()
                .name("sqlite-writer".into())
                .spawn(move || writer_loop(conn, rx, &bodies, &wal, max_batch))
                .map_err(io_err("start writer thread", &db_path))?
        };
        let checkpointer = {
            let conn = connect(&db_path)?;
            // Only flushed, never written through this handle (a failure to open it costs
            // latency, not safety: SQLite still syncs at the end of every full checkpoint).
            let db = File::open(&db_path).ok();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("sqlite-checkpoint".into())
                .spawn(move || checkpoint_loop(conn, db, &stop))
                .map_err(io_err("start checkpoint thread", &db_path))?
        };
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                db_path,
                bodies,
                options,
                secret,
                writer: Mutex::new(Some(tx)),
                threads: Mutex::new(vec![writer, checkpointer]),
                stop_checkpoints: stop,
                readers: Mutex::new(Vec::new()),
                read_permits: Arc::new(tokio::sync::Semaphore::new(MAX_READERS)),
                _lock: lock,
            }),
        })
    }

    fn send(&self, op: Op) -> Result<(), StorageError> {
        let guard = self.inner.writer.lock().expect("writer lock");
        match guard.as_ref() {
            Some(tx) => tx.send(op).map_err(|_| StorageError::WriterStopped),
            None => Err(StorageError::Closed),
        }
    }

    /// Runs `f` on a pooled read connection on the blocking pool.
    async fn read<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StorageError> + Send + 'static,
    {
        let inner = self.inner.clone();
        let permit = inner
            .read_permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StorageError::Closed)?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let pooled = inner.readers.lock().expect("reader pool").pop();
            let conn = match pooled {
                Some(c) => c,
                None => connect(&inner.db_path)?,
            };
            let result = f(&conn);
            inner.readers.lock().expect("reader pool").push(conn);
            result
        })
        .await
        .expect("read task panicked")
    }

    fn body_path(&self, receipt: &Receipt) -> PathBuf {
        self.inner.bodies.join(receipt.to_string())
    }
}

fn record_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, i64, i64, i64)> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
    ))
}

fn to_record(raw: (String, String, i64, i64, i64)) -> Result<ReportRecord, StorageError> {
    let (receipt, status, received, updated, size) = raw;
    Ok(ReportRecord {
        receipt: parse_receipt(&receipt)?,
        status: Status::parse(&status)
            .ok_or_else(|| StorageError::Corrupt(format!("unknown status {status:?}")))?,
        received_at: from_micros(received)?,
        updated_at: from_micros(updated)?,
        size: u64::try_from(size)
            .map_err(|_| StorageError::Corrupt(format!("negative size {size}")))?,
    })
}

const RECORD_COLUMNS: &str = "receipt, status, received_at, updated_at, size";

fn select_record(
    conn: &Connection,
    receipt: &Receipt,
) -> Result<Option<ReportRecord>, StorageError> {
    conn.prepare_cached(&format!(
        "SELECT {RECORD_COLUMNS} FROM reports WHERE receipt = ?1"
    ))
    .and_then(|mut s| {
        s.query_row(params![receipt.to_string()], record_from_row)
            .optional()
    })
    .map_err(sql(format!("read report {receipt}")))?
    .map(to_record)
    .transpose()
}

/// Whether a report with these exact bytes is stored.
fn body_stored(conn: &Connection, sha256: &[u8; 32]) -> Result<bool, StorageError> {
    conn.prepare_cached("SELECT 1 FROM reports WHERE body_sha256 = ?1 LIMIT 1")
        .and_then(|mut s| s.exists(params![&sha256[..]]))
        .map_err(sql("look up body hash"))
}

fn select_submission(conn: &Connection, key: &str) -> Result<Option<Submission>, StorageError> {
    let row = conn
        .prepare_cached(
            "SELECT receipt, received_at, body_sha256 FROM reports WHERE idempotency_key = ?1",
        )
        .and_then(|mut s| {
            s.query_row(params![key], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                ))
            })
            .optional()
        })
        .map_err(sql("look up idempotency key"))?;
    row.map(|(receipt, received, sha)| {
        Ok(Submission {
            receipt: parse_receipt(&receipt)?,
            received_at: from_micros(received)?,
            sha256: sha
                .try_into()
                .map_err(|_| StorageError::Corrupt("stored body hash is not 32 bytes".into()))?,
        })
    })
    .transpose()
}

/// Past this size the writer restarts the WAL itself (see `writer_loop`).
const WAL_RESTART_AT: u64 = 64 * 1024 * 1024;

fn writer_loop(
    mut conn: Connection,
    rx: mpsc::Receiver<Op>,
    bodies: &Path,
    wal: &Path,
    max_batch: usize,
) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        commit_batch(&mut conn, batch, bodies);
        // Under a steady stream of commits the background checkpoints copy frames but the
        // WAL never gets back to its start (SQLite restarts it only when a write begins with
        // every frame copied), so it would grow without end. Once it is large, the writer
        // checkpoints between two batches: the background has copied most frames, so this
        // is short, and the next commit writes from the WAL's start (the file is cut back
        // to `journal_size_limit`). PASSIVE, not RESTART: the writer never waits for a
        // reader; if one holds an old snapshot, the restart just happens a batch later.
        if fs::metadata(wal).map(|m| m.len()).unwrap_or(0) > WAL_RESTART_AT {
            let started = std::time::Instant::now();
            match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
            }) {
                Ok((frames, copied)) => tracing::debug!(
                    frames,
                    copied,
                    ms = started.elapsed().as_secs_f64() * 1e3,
                    "writer checkpoint"
                ),
                Err(e) => tracing::warn!(error = %e, "checkpoint failed"),
            }
        }
    }
    // Every sender is gone: leave a checkpointed, small WAL behind.
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);") {
        tracing::warn!(error = %e, "final checkpoint failed");
    }
}

/// How often the background copies WAL frames into the database and flushes them.
///
/// The writer's checkpoint at each WAL restart (see `writer_loop`) stops every commit while it
/// copies what the background has not copied yet and syncs the database: the less is left, the
/// shorter that stall. Every 100 ms it was 22–49 ms (the 10 KB p99 37–53 ms); every 10 ms it is
/// 8–19 ms (p99 22–34 ms), for 15–20 % fewer submissions/s: the checkpoints compete with the
/// writer for the disk. A larger WAL before restarting (256 MiB) made it worse (stalls of
/// 300 ms while the file grew). README "The intake server" has the runs.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(10);

/// Copies WAL frames into the database every [`CHECKPOINT_EVERY`], then flushes what it copied.
///
/// SQLite syncs the database file only at the end of a checkpoint that reached the WAL's last
/// frame, which under steady commits is the writer's (see `writer_loop`): that one `fsync` then
/// had to write back every page the background copied since the last restart — 64 MiB,
/// 110–170 ms during which no commit could run, the p99 of the 10 KB benchmark (measured with
/// strace: the writer's `fsync` of the database took 112 ms, the WAL's 2 ms). Flushing the
/// copied pages here, off the writer's path, leaves that last `fsync` little to write.
/// (`sync_file_range`, which starts the write-back without a journal commit, was measured too:
/// no better than `fdatasync` here, so the crate stays free of `unsafe`.)
fn checkpoint_loop(conn: Connection, db: Option<File>, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(CHECKPOINT_EVERY);
        // PASSIVE never blocks the writer or readers; it copies what it can.
        let started = std::time::Instant::now();
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        }) {
            Ok((frames, copied)) => {
                if copied > 0 {
                    if let Some(Err(e)) = db.as_ref().map(File::sync_data) {
                        tracing::warn!(error = %e, "flushing the database file failed");
                    }
                }
                tracing::trace!(
                    frames,
                    copied,
                    ms = started.elapsed().as_secs_f64() * 1e3,
                    "background checkpoint"
                )
            }
            Err(e) => tracing::warn!(error = %e, "checkpoint failed"),
        }
    }
}

enum Outcome {
    Inserted(Inserted),
    Reply(Option<ReplyRecord>),
    Status(Option<ReportRecord>),
}

fn commit_batch(conn: &mut Connection, batch: Vec<Op>, bodies: &Path) {
    // Renamed body files must be durable in their directory before any row names them.
    let files = batch.iter().any(|op| {
        matches!(
            op,
            Op::Insert {
                body: BodyPlace::File,
                ..
            }
        )
    });
    let dir_synced = if files { sync_dir(bodies) } else { Ok(()) };

    // Stored as microseconds: answer with exactly what a later read returns.
    let now =
        DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).expect("now is in range");
    let mut outcomes: Vec<Result<Outcome, StorageError>> = Vec::with_capacity(batch.len());
    let began = conn
        .execute_batch("BEGIN IMMEDIATE")
        .map_err(sql("begin transaction"));
    let committed = match began {
        Err(e) => Err(e),
        Ok(()) => {
            for op in &batch {
                let result = match (op, &dir_synced) {
                    (
                        Op::Insert {
                            body: BodyPlace::File,
                            ..
                        },
                        Err(e),
                    ) => Err(StorageError::Corrupt(format!(
                        "body directory not synced: {e}"
                    ))),
                    _ => apply_isolated(conn, op, now),
                };
                outcomes.push(result);
            }
            conn.execute_batch("COMMIT").map_err(sql("commit"))
        }
    };
    if let Err(e) = &committed {
        tracing::error!(error = %e, ops = batch.len(), "batch not committed");
        let _ = conn.execute_batch("ROLLBACK");
    }
    let message = committed.as_ref().err().map(|e| e.to_string());
    let mut outcomes = outcomes.into_iter();
    for op in batch {
        let outcome = match &message {
            Some(m) => Err(StorageError::Corrupt(format!("transaction failed: {m}"))),
            None => outcomes.next().expect("one outcome per op"),
        };
        deliver(op, outcome, message.is_none(), bodies);
    }
}

/// Applies one op inside a savepoint, so its failure does not undo the others of the batch.
fn apply_isolated(conn: &Connection, op: &Op, now: DateTime<Utc>) -> Result<Outcome, StorageError> {
    conn.execute_batch("SAVEPOINT op")
        .map_err(sql("savepoint"))?;
    let result = apply(conn, op, now);
    let end = if result.is_ok() {
        "RELEASE op"
    } else {
        "ROLLBACK TO op; RELEASE op"
    };
    conn.execute_batch(end).map_err(sql("end savepoint"))?;
    result
}

fn apply(conn: &Connection, op: &Op, now: DateTime<Utc>) -> Result<Outcome, StorageError> {
    let at = micros(now);
    match op {
        Op::Insert { report, body, .. } => {
            let receipt = report.receipt.to_string();
            let in_db = matches!(body, BodyPlace::Database(_));
            // A key seen before answers as a replay; the same bytes under a new key are the
            // report already stored (one writer: this check and the insert cannot interleave).
            if let Some(existing) = select_submission(conn, &report.idempotency_key)? {
                return Ok(Outcome::Inserted(Inserted::Duplicate(existing)));
            }
            if body_stored(conn, &report.sha256)? {
                return Ok(Outcome::Inserted(Inserted::SameBody));
            }
            let changed = conn
                .prepare_cached(
                    "INSERT INTO reports (receipt, idempotency_key, body_sha256, size, body_in_db,
                         status, received_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'received', ?6, ?6)
                     ON CONFLICT DO NOTHING",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        receipt,
                        report.idempotency_key,
                        &report.sha256[..],
                        report.size as i64,
                        in_db,
                        at
                    ])
                })
                .map_err(sql(format!("insert report {receipt}")))?;
            if changed == 0 {
                return match select_submission(conn, &report.idempotency_key)? {
                    Some(existing) => Ok(Outcome::Inserted(Inserted::Duplicate(existing))),
                    None => Err(StorageError::Corrupt(format!(
                        "receipt {receipt} collided with a stored one"
                    ))),
                };
            }
            let seq = conn.last_insert_rowid();
            if let BodyPlace::Database(data) = body {
                conn.prepare_cached("INSERT INTO report_bodies (seq, data) VALUES (?1, ?2)")
                    .and_then(|mut s| s.execute(params![seq, &data[..]]))
                    .map_err(sql(format!("insert body of {receipt}")))?;
            }
            Ok(Outcome::Inserted(Inserted::Created(ReportRecord {
                receipt: report.receipt,
                status: Status::Received,
                received_at: now,
                updated_at: now,
                size: report.size,
            })))
        }
        Op::Reply {
            receipt, message, ..
        } => {
            let seq: Option<i64> = conn
                .prepare_cached("SELECT seq FROM reports WHERE receipt = ?1")
                .and_then(|mut s| {
                    s.query_row(params![receipt.to_string()], |r| r.get(0))
                        .optional()
                })
                .map_err(sql(format!("find report {receipt}")))?;
            let Some(seq) = seq else {
                return Ok(Outcome::Reply(None));
            };
            conn.prepare_cached(
                "INSERT INTO replies (report_seq, created_at, message) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut s| s.execute(params![seq, at, &message[..]]))
            .map_err(sql(format!("insert reply to {receipt}")))?;
            let id = conn.last_insert_rowid();
            conn.prepare_cached("UPDATE reports SET updated_at = ?2 WHERE seq = ?1")
                .and_then(|mut s| s.execute(params![seq, at]))
                .map_err(sql(format!("touch report {receipt}")))?;
            Ok(Outcome::Reply(Some(ReplyRecord {
                id,
                created_at: now,
                message: message.clone(),
            })))
        }
        Op::SetStatus {
            receipt, status, ..
        } => {
            let Some(current) = select_record(conn, receipt)? else {
                return Ok(Outcome::Status(None));
            };
            if current.status == *status {
                return Ok(Outcome::Status(Some(current)));
            }
            conn.prepare_cached(
                "UPDATE reports SET status = ?2, updated_at = ?3 WHERE receipt = ?1",
            )
            .and_then(|mut s| s.execute(params![receipt.to_string(), status.as_str(), at]))
            .map_err(sql(format!("set status of {receipt}")))?;
            Ok(Outcome::Status(Some(ReportRecord {
                status: *status,
                updated_at: now,
                ..current
            })))
        }
    }
}

/// `apply` answers each kind of op with its own kind of outcome; this is never built.
fn mismatch() -> StorageError {
    StorageError::Corrupt("the writer answered an operation with another's outcome".into())
}

/// Answers one op. `committed`: the batch's COMMIT succeeded, so an op that failed was rolled
/// back to its savepoint and is known not to be stored.
fn deliver(op: Op, outcome: Result<Outcome, StorageError>, committed: bool, bodies: &Path) {
    match op {
        Op::Insert {
            report, body, done, ..
        } => {
            let result = outcome.and_then(|o| match o {
                Outcome::Inserted(i) => Ok(i),
                _ => Err(mismatch()),
            });
            // A file whose row is known not to be committed must not stay behind. When the
            // COMMIT itself failed its outcome is uncertain (an fsync error may still leave
            // the transaction in the WAL): the file stays, and the sweep at the next start
            // removes it if no row names it.
            let discard = match &result {
                Ok(Inserted::Created(_)) => false,
                Ok(Inserted::Duplicate(_) | Inserted::SameBody) => true,
                Err(_) => committed,
            };
            if matches!(body, BodyPlace::File) && discard {
                let path = bodies.join(report.receipt.to_string());
                if let Err(e) = fs::remove_file(&path) {
                    tracing::warn!(error = %e, receipt = %report.receipt, "cannot remove uncommitted body file");
                }
            }
            let _ = done.send(result);
        }
        Op::Reply { done, .. } => {
            let _ = done.send(outcome.and_then(|o| match o {
                Outcome::Reply(r) => Ok(r),
                _ => Err(mismatch()),
            }));
        }
        Op::SetStatus { done, .. } => {
            let _ = done.send(outcome.and_then(|o| match o {
                Outcome::Status(r) => Ok(r),
                _ => Err(mismatch()),
            }));
        }
    }
}

async fn wait<T>(rx: oneshot::Receiver<Result<T, StorageError>>) -> Result<T, StorageError> {
    rx.await.map_err(|_| StorageError::WriterStopped)?
}

#[async_trait::async_trait]
impl Storage for SqliteStore {
    fn small_body_limit(&self) -> usize {
        self.inner.options.small_body_limit
    }

    async fn server_secret(&self) -> Result<ServerSecret, StorageError> {
        Ok(self.inner.secret.clone())
    }

    async fn find_submission(&self, key: &str) -> Result<Option<Submission>, StorageError> {
        let key = key.to_owned();
        self.read(move |conn| select_submission(conn, &key)).await
    }

    async fn insert_small(&self, report: NewReport, body: Bytes) -> Result<Inserted, StorageError> {
        let (done, rx) = oneshot::channel();
        self.send(Op::Insert {
            report,
            body: BodyPlace::Database(body),
            done,
        })?;
        wait(rx).await
    }

    async fn begin_upload(&self, receipt: &Receipt) -> Result<Box<dyn Upload>, StorageError> {
        let tmp = self.inner.bodies.join(format!("{receipt}.tmp"));
        let file = {
            let tmp = tmp.clone();
            tokio::task::spawn_blocking(move || {
                OpenOptions::new()
                    .create_new(true)
                    .write(true)
                    .mode(0o600)
                    .open(&tmp)
                    .map_err(io_err("create body file", &tmp))
            })
            .await
            .expect("create task panicked")?
        };
        Ok(Box::new(FileUpload {
            store: self.clone(),
            receipt: *receipt,
            tmp: Some(tmp),
            file: Some(file),
            buffer: BytesMut::with_capacity(WRITE_BUFFER),
        }))
    }

    async fn report(&self, receipt: &Receipt) -> Result<Option<ReportRecord>, StorageError> {
        let receipt = *receipt;
        self.read(move |conn| select_record(conn, &receipt)).await
    }

    async fn replies(&self, receipt: &Receipt) -> Result<Vec<ReplyRecord>, StorageError> {
        let receipt = *receipt;
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT r.id, r.created_at, r.message FROM replies r
                     JOIN reports p ON p.seq = r.report_seq
                     WHERE p.receipt = ?1 ORDER BY r.id",
                )
                .map_err(sql(format!("read replies to {receipt}")))?;
            let rows = stmt
                .query_map(params![receipt.to_string()], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                    ))
                })
                .map_err(sql(format!("read replies to {receipt}")))?;
            let mut out = Vec::new();
            for row in rows {
                let (id, created, message) =
                    row.map_err(sql(format!("read replies to {receipt}")))?;
                out.push(ReplyRecord {
                    id,
                    created_at: from_micros(created)?,
                    message: Bytes::from(message),
                });
            }
            Ok(out)
        })
        .await
    }

    async fn claim(&self, _key: &str) -> Result<Option<KeyClaim>, StorageError> {
        // The data directory is locked to one process, whose in-memory guard holds the key.
        Ok(Some(KeyClaim::in_process()))
    }

    fn file_descriptors(&self) -> u64 {
        // Three files (database, WAL, shared memory) per connection: the readers, the writer
        // and the checkpointer; the lock file and the bodies directory.
        (MAX_READERS as u64 + 2) * 3 + 2
    }

    async fn stored_bytes(&self) -> Result<u64, StorageError> {
        self.read(|conn| {
            let total: i64 = conn
                .prepare_cached("SELECT COALESCE(SUM(size), 0) FROM reports")
                .and_then(|mut s| s.query_row([], |r| r.get(0)))
                .map_err(sql("sum report sizes"))?;
            Ok(total.max(0) as u64)
        })
        .await
    }

    fn free_bytes(&self) -> Result<Option<u64>, StorageError> {
        let dir = &self.inner.bodies;
        let stat = rustix::fs::statvfs(dir).map_err(|e| StorageError::Io {
            context: "measure the free space of",
            path: dir.display().to_string(),
            source: e.into(),
        })?;
        Ok(Some(stat.f_bavail.saturating_mul(stat.f_frsize)))
    }

    async fn list_reports(
        &self,
        after: Option<&Receipt>,
        limit: usize,
    ) -> Result<Option<Page>, StorageError> {
        let after = after.copied();
        self.read(move |conn| {
            let after_seq: i64 = match after {
                None => 0,
                Some(r) => {
                    let seq = conn
                        .prepare_cached("SELECT seq FROM reports WHERE receipt = ?1")
                        .and_then(|mut s| {
                            s.query_row(params![r.to_string()], |row| row.get(0))
                                .optional()
                        })
                        .map_err(sql(format!("find report {r}")))?;
                    match seq {
                        Some(seq) => seq,
                        None => return Ok(None),
                    }
                }
            };
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {RECORD_COLUMNS} FROM reports WHERE seq > ?1 ORDER BY seq LIMIT ?2"
                ))
                .map_err(sql("list reports"))?;
            let rows = stmt
                .query_map(params![after_seq, limit as i64 + 1], record_from_row)
                .map_err(sql("list reports"))?;
            let mut reports = Vec::new();
            for row in rows {
                reports.push(to_record(row.map_err(sql("list reports"))?)?);
            }
            let more = reports.len() > limit;
            reports.truncate(limit);
            Ok(Some(Page { reports, more }))
        })
        .await
    }

    async fn open_body(&self, receipt: &Receipt) -> Result<Option<BodyStream>, StorageError> {
        let receipt = *receipt;
        let path = self.body_path(&receipt);
        let found = self
            .read(move |conn| {
                let row: Option<(i64, i64, bool)> = conn
                    .prepare_cached("SELECT seq, size, body_in_db FROM reports WHERE receipt = ?1")
                    .and_then(|mut s| {
                        s.query_row(params![receipt.to_string()], |r| {
                            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                        })
                        .optional()
                    })
                    .map_err(sql(format!("find report {receipt}")))?;
                let Some((seq, size, in_db)) = row else {
                    return Ok(None);
                };
                if !in_db {
                    return Ok(Some((size as u64, None)));
                }
                let data: Vec<u8> = conn
                    .prepare_cached("SELECT data FROM report_bodies WHERE seq = ?1")
                    .and_then(|mut s| s.query_row(params![seq], |r| r.get(0)))
                    .map_err(sql(format!("read body of {receipt}")))?;
                Ok(Some((size as u64, Some(Bytes::from(data)))))
            })
            .await?;
        let Some((size, data)) = found else {
            return Ok(None);
        };
        if let Some(data) = data {
            if data.len() as u64 != size {
                return Err(StorageError::Corrupt(format!(
                    "body of {receipt} has {} bytes, {size} recorded",
                    data.len()
                )));
            }
            let stream = futures_util::stream::once(async move { Ok(data) });
            return Ok(Some(BodyStream {
                size,
                stream: Box::pin(stream),
            }));
        }
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(io_err("open body", &path))?;
        let on_disk = file
            .metadata()
            .await
            .map_err(io_err("stat body", &path))?
            .len();
        if on_disk != size {
            return Err(StorageError::Corrupt(format!(
                "body file {} has {on_disk} bytes, {size} recorded",
                path.display()
            )));
        }
        let shown = path.display().to_string();
        let stream = tokio_util::io::ReaderStream::with_capacity(file, READ_CHUNK).map(move |r| {
            r.map_err(|source| StorageError::Io {
                context: "read body",
                path: shown.clone(),
                source,
            })
        });
        Ok(Some(BodyStream {
            size,
            stream: Box::pin(stream),
        }))
    }

    async fn add_reply(
        &self,
        receipt: &Receipt,
        message: Bytes,
    ) -> Result<Option<ReplyRecord>, StorageError> {
        let (done, rx) = oneshot::channel();
        self.send(Op::Reply {
            receipt: *receipt,
            message,
            done,
        })?;
        wait(rx).await
    }

    async fn set_status(
        &self,
        receipt: &Receipt,
        status: Status,
    ) -> Result<Option<ReportRecord>, StorageError> {
        let (done, rx) = oneshot::channel();
        self.send(Op::SetStatus {
            receipt: *receipt,
            status,
            done,
        })?;
        wait(rx).await
    }

    async fn close(&self) {
        self.inner.writer.lock().expect("writer lock").take();
        self.inner.stop_checkpoints.store(true, Ordering::Relaxed);
        let threads: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.inner.threads.lock().expect("threads"));
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await;
    }
}

/// A body streaming into `bodies/<RECEIPT>.tmp`.
struct FileUpload {
    store: SqliteStore,
    receipt: Receipt,
    tmp: Option<PathBuf>,
    file: Option<File>,
    buffer: BytesMut,
}

impl FileUpload {
    async fn flush(&mut self) -> Result<(), StorageError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let data = self.buffer.split().freeze();
        let mut file = self.file.take().ok_or(StorageError::Closed)?;
        let path = self.tmp.clone().expect("tmp path while writing");
        let (file, result) = tokio::task::spawn_blocking(move || {
            let r = file.write_all(&data);
            (file, r)
        })
        .await
        .expect("write task panicked");
        self.file = Some(file);
        result.map_err(io_err("write body", &path))
    }
}

#[async_trait::async_trait]
impl Upload for FileUpload {
    async fn write(&mut self, chunk: Bytes) -> Result<(), StorageError> {
        self.buffer.extend_from_slice(&chunk);
        if self.buffer.len() >= WRITE_BUFFER {
            self.flush().await?;
        }
        Ok(())
    }

    async fn commit(mut self: Box<Self>, report: NewReport) -> Result<Inserted, StorageError> {
        self.flush().await?;
        let file = self.file.take().ok_or(StorageError::Closed)?;
        let tmp = self.tmp.clone().expect("tmp path while writing");
        let path = self.store.body_path(&self.receipt);
        {
            let (tmp, path) = (tmp.clone(), path.clone());
            tokio::task::spawn_blocking(move || {
                file.sync_all().map_err(io_err("sync body", &tmp))?;
                drop(file);
                fs::rename(&tmp, &path).map_err(io_err("install body", &path))
            })
            .await
            .expect("sync task panicked")?;
        }
        // From here the writer owns the file: it removes it unless the row commits.
        self.tmp = None;
        let (done, rx) = oneshot::channel();
        let sent = self.store.send(Op::Insert {
            report,
            body: BodyPlace::File,
            done,
        });
        if let Err(e) = sent {
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        wait(rx).await
    }
}

impl Drop for FileUpload {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            self.file.take();
            if let Err(e) = fs::remove_file(&tmp) {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::warn!(error = %e, "cannot remove abandoned body file");
                }
            }
        }
    }
}
