//! The scaling backend: PostgreSQL (`synchronous_commit=on`) holding everything — metadata,
//! bodies as fixed-size chunk rows, replies and the server secret — so any number of
//! stateless `embargo-intake` replicas serve the same reports.
//!
//! How a submission becomes durable:
//! - a body that fits one chunk travels with its report row in the writer's batch;
//! - a larger body is streamed in as chunk rows through a connection pool whose sessions run
//!   with `synchronous_commit=off`: those inserts do not wait for a WAL flush of their own.
//!   They are made durable by the report row's commit, which runs with `synchronous_commit=on`
//!   and comes later in the WAL: a flush up to the commit record flushes everything before it.
//!   Until that commit nothing is acknowledged; if the upload never commits, its rows are
//!   deleted (at once when the request is abandoned, by the sweeper after a crash);
//! - report rows are committed by one writer task per replica that puts whatever is queued
//!   into one transaction (group commit). The transaction takes a transaction-scoped advisory
//!   lock before inserting, so report sequence numbers are assigned in commit order across all
//!   replicas and the team's `after=` cursor never skips a report that committed late.
//!
//! Migrations are embedded and run on start under a session advisory lock, so replicas may
//! start at the same time.

use std::str::FromStr as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use futures_util::stream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row, Statement};

use super::{
    BodyStream, Inserted, KeyClaim, NewReport, Page, ReplyRecord, ReportRecord, Status, Storage,
    StorageError, Submission, Upload,
};
use crate::receipt::{Receipt, ServerSecret};

/// Advisory lock keys (`pg_advisory_lock(bigint)`), arbitrary but fixed: "EMBMIGR1", "EMBORDR1".
const MIGRATION_LOCK: i64 = 0x454d_424d_4947_5231;
const ORDER_LOCK: i64 = 0x454d_424f_5244_5231;

/// Uploads that neither commit nor get cleaned up (the server crashed) are removed after this.
const STALE_UPLOAD: &str = "24 hours";

/// How many migrations this version knows (the schema version it writes).
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

const MIGRATIONS: &[(i32, &str)] = &[
    (
        1,
        "
CREATE TABLE reports (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,   -- arrival (= commit) order
    receipt text NOT NULL UNIQUE,
    idempotency_key text NOT NULL UNIQUE,
    body_sha256 bytea NOT NULL,
    size bigint NOT NULL,
    status text NOT NULL,
    received_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE TABLE body_chunks (
    receipt text NOT NULL,
    idx integer NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (receipt, idx)
);
-- Ciphertext does not compress: do not let TOAST try.
ALTER TABLE body_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
CREATE TABLE uploads (
    receipt text PRIMARY KEY,
    started_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE replies (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    report_seq bigint NOT NULL REFERENCES reports(seq),
    created_at timestamptz NOT NULL,
    message bytea NOT NULL
);
CREATE INDEX replies_by_report ON replies (report_seq, id);
CREATE TABLE server_secret (
    id integer PRIMARY KEY CHECK (id = 1),
    secret bytea NOT NULL
);
",
    ),
    (
        2,
        "
-- Identical ciphertexts are stored once, found by their hash.
CREATE INDEX reports_by_sha256 ON reports (body_sha256);
",
    ),
];

/// Settings for [`PgStore`].
#[derive(Clone)]
pub struct PgOptions {
    /// `postgres://…` URL or `key=value` connection string.
    pub url: String,
    /// Connections for reads, replies, status changes and chunk uploads (each pool).
    pub pool_size: usize,
    /// Size of a body chunk row; bodies up to this size travel whole with their report row.
    pub chunk_size: usize,
    /// Most report rows one transaction commits.
    pub max_batch: usize,
}

impl std::fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password.
        f.debug_struct("PgOptions")
            .field("pool_size", &self.pool_size)
            .field("chunk_size", &self.chunk_size)
            .field("max_batch", &self.max_batch)
            .finish_non_exhaustive()
    }
}

impl PgOptions {
    pub fn new(url: impl Into<String>) -> PgOptions {
        PgOptions {
            url: url.into(),
            pool_size: 16,
            chunk_size: DEFAULT_CHUNK_SIZE,
            max_batch: 1024,
        }
    }
}

/// 256 KiB chunk rows.
pub const DEFAULT_CHUNK_SIZE: usize = 256 * 1024;

/// The PostgreSQL store. Cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<PgInner>,
}

struct PgInner {
    options: PgOptions,
    pool: Pool,
    staging: Pool,
    secret: ServerSecret,
    writer: Mutex<Option<mpsc::UnboundedSender<WriteOp>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// The session holding this replica's claims on idempotency keys (advisory locks, which
    /// PostgreSQL releases when the session ends: a replica that dies holds nothing).
    claims: tokio::sync::Mutex<Option<Arc<Client>>>,
    config: tokio_postgres::Config,
}

struct WriteOp {
    report: NewReport,
    // `Some`: the whole body, stored as chunk 0 in the same transaction.
    body: Option<Bytes>,
    done: oneshot::Sender<Result<Inserted, StorageError>>,
}

fn pg(context: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> StorageError {
    let context = context.into();
    move |source| StorageError::Postgres { context, source }
}

fn parse_receipt(text: &str) -> Result<Receipt, StorageError> {
    text.parse()
        .map_err(|e| StorageError::Corrupt(format!("stored receipt: {e}")))
}

fn pg_config(url: &str, synchronous: bool) -> Result<tokio_postgres::Config, StorageError> {
    let mut config = tokio_postgres::Config::from_str(url).map_err(pg("parse database URL"))?;
    let mut options = config.get_options().unwrap_or("").to_owned();
    // Set here, not left to the server's default: durability must not depend on it.
    options.push_str(if synchronous {
        " -c synchronous_commit=on"
    } else {
        " -c synchronous_commit=off"
    });
    config.options(options.trim_start().to_owned());
    if config.get_application_name().is_none() {
        config.application_name("embargo-intake");
    }
    Ok(config)
}

async fn connect(config: &tokio_postgres::Config) -> Result<Client, StorageError> {
    let (client, connection) = config
        .connect(NoTls)
        .await
        .map_err(pg("connect to the database"))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "database connection closed");
        }
    });
    Ok(client)
}

fn pool(config: tokio_postgres::Config, size: usize) -> Result<Pool, StorageError> {
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size.max(1))
        .build()
        .map_err(|e| StorageError::Pool(e.to_string()))
}

async fn get(pool: &Pool) -> Result<deadpool_postgres::Client, StorageError> {
    pool.get()
        .await
        .map_err(|e| StorageError::Pool(e.to_string()))
}

async fn migrate(client: &mut Client) -> Result<ServerSecret, StorageError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg("take the migration lock"))?;
    let result = migrate_locked(client).await;
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg("release the migration lock"));
    let secret = result?;
    unlocked?;
    Ok(secret)
}

async fn migrate_locked(client: &mut Client) -> Result<ServerSecret, StorageError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS embargo_schema_migrations (
                 version integer PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now()
             )",
        )
        .await
        .map_err(pg("create the migrations table"))?;
    let applied: Option<i32> = client
        .query_one("SELECT max(version) FROM embargo_schema_migrations", &[])
        .await
        .map_err(pg("read the schema version"))?
        .get(0);
    let applied = applied.unwrap_or(0);
    let known = MIGRATIONS.last().map(|(v, _)| *v).unwrap_or(0);
    if applied > known {
        return Err(StorageError::SchemaTooNew {
            what: "the database".into(),
            found: applied.into(),
            known: known.into(),
        });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > applied) {
        let tx = client.transaction().await.map_err(pg("begin migration"))?;
        tx.batch_execute(sql)
            .await
            .map_err(pg(format!("apply migration {version}")))?;
        tx.execute(
            "INSERT INTO embargo_schema_migrations (version) VALUES ($1)",
            &[version],
        )
        .await
        .map_err(pg(format!("record migration {version}")))?;
        tx.commit()
            .await
            .map_err(pg(format!("commit migration {version}")))?;
        tracing::info!(version, "applied database migration");
    }
    let fresh = ServerSecret::generate();
    client
        .execute(
            "INSERT INTO server_secret (id, secret) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
            &[&&fresh.expose()[..]],
        )
        .await
        .map_err(pg("create the server secret"))?;
    let stored: Vec<u8> = client
        .query_one("SELECT secret FROM server_secret WHERE id = 1", &[])
        .await
        .map_err(pg("read the server secret"))?
        .get(0);
    ServerSecret::from_bytes(&stored).ok_or_else(|| {
        StorageError::Corrupt(format!(
            "the server secret in the database has {} bytes, not 32",
            stored.len()
        ))
    })
}

const RECORD_COLUMNS: &str = "receipt, status, received_at, updated_at, size";

fn to_record(row: &Row) -> Result<ReportRecord, StorageError> {
    let receipt: String = row.get(0);
    let status: String = row.get(1);
    let size: i64 = row.get(4);
    Ok(ReportRecord {
        receipt: parse_receipt(&receipt)?,
        status: Status::parse(&status)
            .ok_or_else(|| StorageError::Corrupt(format!("unknown status {status:?}")))?,
        received_at: row.get(2),
        updated_at: row.get(3),
        size: u64::try_from(size)
            .map_err(|_| StorageError::Corrupt(format!("negative size {size}")))?,
    })
}

fn to_submission(row: &Row) -> Result<Submission, StorageError> {
    let receipt: String = row.get(0);
    let sha: Vec<u8> = row.get(2);
    Ok(Submission {
        receipt: parse_receipt(&receipt)?,
        received_at: row.get(1),
        sha256: sha
            .try_into()
            .map_err(|_| StorageError::Corrupt("stored body hash is not 32 bytes".into()))?,
    })
}

const SELECT_SUBMISSION: &str =
    "SELECT receipt, received_at, body_sha256 FROM reports WHERE idempotency_key = $1";

impl PgStore {
    /// Connects, runs the migrations and starts the writer.
    pub async fn connect(options: PgOptions) -> Result<PgStore, StorageError> {
        let sync_config = pg_config(&options.url, true)?;
        let staging_config = pg_config(&options.url, false)?;
        let mut admin = connect(&sync_config).await?;
        let secret = migrate(&mut admin).await?;
        drop(admin);

        let pool = pool(sync_config.clone(), options.pool_size)?;
        let claims_config = staging_config.clone();
        let staging = pool_for_staging(staging_config, options.pool_size)?;
        let writer_client = connect(&sync_config).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = tokio::spawn(writer_loop(
            writer_client,
            sync_config,
            rx,
            options.max_batch.max(1),
        ));
        let sweeper = {
            let pool = pool.clone();
            tokio::spawn(async move {
                loop {
                    if let Err(e) = sweep(&pool).await {
                        tracing::warn!(error = %e, "sweeping stale uploads failed");
                    }
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
            })
        };
        Ok(PgStore {
            inner: Arc::new(PgInner {
                options,
                pool,
                staging,
                secret,
                writer: Mutex::new(Some(tx)),
                tasks: Mutex::new(vec![writer, sweeper]),
                claims: tokio::sync::Mutex::new(None),
                config: claims_config,
            }),
        })
    }
}

fn pool_for_staging(config: tokio_postgres::Config, size: usize) -> Result<Pool, StorageError> {
    pool(config, size)
}

/// Deletes uploads that never committed and are too old to still be running, and claims that
/// expired.
async fn sweep(pool: &Pool) -> Result<u64, StorageError> {
    let client = get(pool).await?;
    client
        .execute(
            "DELETE FROM submission_claims WHERE expires_at < now()",
            &[],
        )
        .await
        .map_err(pg("sweep expired claims"))?;
    let removed = client
        .execute(
            &format!(
                "WITH stale AS (
                     DELETE FROM uploads WHERE started_at < now() - interval '{STALE_UPLOAD}'
                     RETURNING receipt)
                 DELETE FROM body_chunks c WHERE c.receipt IN (SELECT receipt FROM stale)
                     AND NOT EXISTS (SELECT 1 FROM reports r WHERE r.receipt = c.receipt)"
            ),
            &[],
        )
        .await
        .map_err(pg("sweep stale uploads"))?;
    if removed > 0 {
        tracing::info!(chunks = removed, "removed chunks of abandoned uploads");
    }
    Ok(removed)
}

struct Prepared {
    insert_inline: Statement,
    insert_staged: Statement,
    find: Statement,
    body_stored: Statement,
}

async fn prepare(client: &Client) -> Result<Prepared, StorageError> {
    let insert_inline = client
        .prepare(
            "WITH t AS (SELECT clock_timestamp() AS at),
             r AS (
                 INSERT INTO reports (receipt, idempotency_key, body_sha256, size, status,
                                      received_at, updated_at)
                 SELECT $1, $2, $3, $4, 'received', t.at, t.at FROM t
                 WHERE NOT EXISTS (SELECT 1 FROM reports WHERE body_sha256 = $3)
                 ON CONFLICT DO NOTHING
                 RETURNING receipt, received_at),
             c AS (INSERT INTO body_chunks (receipt, idx, data) SELECT receipt, 0, $5 FROM r)
             SELECT received_at FROM r",
        )
        .await
        .map_err(pg("prepare report insert"))?;
    let insert_staged = client
        .prepare(
            "WITH t AS (SELECT clock_timestamp() AS at),
             r AS (
                 INSERT INTO reports (receipt, idempotency_key, body_sha256, size, status,
                                      received_at, updated_at)
                 SELECT $1, $2, $3, $4, 'received', t.at, t.at FROM t
                 WHERE NOT EXISTS (SELECT 1 FROM reports WHERE body_sha256 = $3)
                 ON CONFLICT DO NOTHING
                 RETURNING receipt, received_at),
             u AS (DELETE FROM uploads WHERE receipt IN (SELECT receipt FROM r))
             SELECT received_at FROM r",
        )
        .await
        .map_err(pg("prepare report insert"))?;
    let find = client
        .prepare(SELECT_SUBMISSION)
        .await
        .map_err(pg("prepare idempotency lookup"))?;
    let body_stored = client
        .prepare("SELECT 1 FROM reports WHERE body_sha256 = $1 LIMIT 1")
        .await
        .map_err(pg("prepare body hash lookup"))?;
    Ok(Prepared {
        insert_inline,
        insert_staged,
        find,
        body_stored,
    })
}

async fn writer_loop(
    mut client: Client,
    config: tokio_postgres::Config,
    mut rx: mpsc::UnboundedReceiver<WriteOp>,
    max_batch: usize,
) {
    let mut prepared: Option<Prepared> = None;
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        if client.is_closed() {
            prepared = None;
            match connect(&config).await {
                Ok(c) => client = c,
                Err(e) => {
                    fail(batch, &e);
                    continue;
                }
            }
        }
        if prepared.is_none() {
            match prepare(&client).await {
                Ok(p) => prepared = Some(p),
                Err(e) => {
                    fail(batch, &e);
                    continue;
                }
            }
        }
        let statements = prepared.as_ref().expect("prepared above");
        match commit_batch(&mut client, statements, &batch).await {
            Ok(results) => {
                for (op, result) in batch.into_iter().zip(results) {
                    let _ = op.done.send(Ok(result));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, ops = batch.len(), "batch not committed");
                fail(batch, &e);
            }
        }
    }
}

fn fail(batch: Vec<WriteOp>, e: &StorageError) {
    let message = e.to_string();
    for op in batch {
        let _ = op.done.send(Err(StorageError::Corrupt(format!(
            "transaction failed: {message}"
        ))));
    }
}

async fn commit_batch(
    client: &mut Client,
    statements: &Prepared,
    batch: &[WriteOp],
) -> Result<Vec<Inserted>, StorageError> {
    let tx = client
        .transaction()
        .await
        .map_err(pg("begin transaction"))?;
    // Sequence numbers (and arrival times, from `clock_timestamp()` after the lock) in commit
    // order, across every replica.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&ORDER_LOCK])
        .await
        .map_err(pg("take the ordering lock"))?;
    // Pipelined: every insert is sent before the first answer is awaited.
    let params: Vec<(String, i64, Vec<u8>)> = batch
        .iter()
        .map(|op| {
            (
                op.report.receipt.to_string(),
                op.report.size as i64,
                op.report.sha256.to_vec(),
            )
        })
        .collect();
    let inserts = batch.iter().zip(&params).map(|(op, (receipt, size, sha))| {
        let tx = &tx;
        async move {
            match &op.body {
                Some(body) => {
                    let data: &[u8] = body;
                    let args: [&(dyn ToSql + Sync); 5] =
                        [receipt, &op.report.idempotency_key, sha, size, &data];
                    tx.query_opt(&statements.insert_inline, &args).await
                }
                None => {
                    let args: [&(dyn ToSql + Sync); 4] =
                        [receipt, &op.report.idempotency_key, sha, size];
                    tx.query_opt(&statements.insert_staged, &args).await
                }
            }
        }
    });
    let rows = futures_util::future::join_all(inserts).await;
    let mut results = Vec::with_capacity(batch.len());
    for (op, row) in batch.iter().zip(rows) {
        let receipt = op.report.receipt;
        match row.map_err(pg(format!("insert report {receipt}")))? {
            Some(row) => {
                let at: DateTime<Utc> = row.get(0);
                results.push(Inserted::Created(ReportRecord {
                    receipt,
                    status: Status::Received,
                    received_at: at,
                    updated_at: at,
                    size: op.report.size,
                }));
            }
            None => {
                let existing = tx
                    .query_opt(&statements.find, &[&op.report.idempotency_key])
                    .await
                    .map_err(pg("look up idempotency key"))?;
                if let Some(row) = existing {
                    results.push(Inserted::Duplicate(to_submission(&row)?));
                    continue;
                }
                // Inserts are serialized by the ordering lock, so the row that made this
                // insert a no-op is visible here.
                let same_body = tx
                    .query_opt(&statements.body_stored, &[&&op.report.sha256[..]])
                    .await
                    .map_err(pg("look up body hash"))?;
                if same_body.is_some() {
                    results.push(Inserted::SameBody);
                    continue;
                }
                return Err(StorageError::Corrupt(format!(
                    "receipt {receipt} collided with a stored one"
                )));
            }
        }
    }
    tx.commit().await.map_err(pg("commit"))?;
    Ok(results)
}

/// The advisory lock standing for an idempotency key: 64 bits of its SHA-256 (two keys in
/// flight at once sharing them would only make one wait).
fn claim_lock(key: &str) -> i64 {
    use sha2::{Digest as _, Sha256};
    let digest = Sha256::digest([b"embargo idempotency key\0".as_slice(), key.as_bytes()].concat());
    i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// A key held by this replica's claims session; released by unlocking, or by the session's end
/// (the replica stopped or died).
struct PgClaim {
    client: Option<Arc<Client>>,
    lock: i64,
}

async fn unlock(client: &Client, lock: i64) {
    // On a session that replaced a broken one the lock is already gone: nothing to do.
    if let Err(e) = client
        .query_one("SELECT pg_advisory_unlock($1)", &[&lock])
        .await
    {
        tracing::debug!(error = %e, "cannot release a key claim (its session is gone)");
    }
}

#[async_trait::async_trait]
impl super::HeldKey for PgClaim {
    async fn release(mut self: Box<Self>) {
        if let Some(client) = self.client.take() {
            unlock(&client, self.lock).await;
        }
    }
}

impl Drop for PgClaim {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        let lock = self.lock;
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move { unlock(&client, lock).await });
        }
    }
}

/// Deletes an upload's chunks and its registration (abandoned, or a duplicate).
async fn discard_upload(pool: &Pool, receipt: &str) -> Result<(), StorageError> {
    let client = get(pool).await?;
    client
        .execute(
            "WITH u AS (DELETE FROM uploads WHERE receipt = $1)
             DELETE FROM body_chunks WHERE receipt = $1
                 AND NOT EXISTS (SELECT 1 FROM reports WHERE receipt = $1)",
            &[&receipt],
        )
        .await
        .map_err(pg(format!("discard upload {receipt}")))?;
    Ok(())
}

#[async_trait::async_trait]
impl Storage for PgStore {
    fn small_body_limit(&self) -> usize {
        self.inner.options.chunk_size
    }

    async fn server_secret(&self) -> Result<ServerSecret, StorageError> {
        Ok(self.inner.secret.clone())
    }

    async fn find_submission(&self, key: &str) -> Result<Option<Submission>, StorageError> {
        let client = get(&self.inner.pool).await?;
        let stmt = client
            .prepare_cached(SELECT_SUBMISSION)
            .await
            .map_err(pg("prepare idempotency lookup"))?;
        client
            .query_opt(&stmt, &[&key])
            .await
            .map_err(pg("look up idempotency key"))?
            .as_ref()
            .map(to_submission)
            .transpose()
    }

    async fn insert_small(&self, report: NewReport, body: Bytes) -> Result<Inserted, StorageError> {
        let (done, rx) = oneshot::channel();
        self.send(WriteOp {
            report,
            body: Some(body),
            done,
        })?;
        rx.await.map_err(|_| StorageError::WriterStopped)?
    }

    async fn begin_upload(&self, receipt: &Receipt) -> Result<Box<dyn Upload>, StorageError> {
        let receipt_text = receipt.to_string();
        let client = get(&self.inner.staging).await?;
        client
            .execute(
                "INSERT INTO uploads (receipt) VALUES ($1)",
                &[&receipt_text],
            )
            .await
            .map_err(pg(format!("register upload {receipt}")))?;
        Ok(Box::new(ChunkUpload {
            store: self.clone(),
            receipt: *receipt,
            receipt_text,
            next_idx: 0,
            buffer: BytesMut::with_capacity(self.inner.options.chunk_size),
            open: true,
        }))
    }

    async fn report(&self, receipt: &Receipt) -> Result<Option<ReportRecord>, StorageError> {
        let client = get(&self.inner.pool).await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {RECORD_COLUMNS} FROM reports WHERE receipt = $1"
            ))
            .await
            .map_err(pg("prepare report lookup"))?;
        client
            .query_opt(&stmt, &[&receipt.to_string()])
            .await
            .map_err(pg(format!("read report {receipt}")))?
            .as_ref()
            .map(to_record)
            .transpose()
    }

    async fn replies(&self, receipt: &Receipt) -> Result<Vec<ReplyRecord>, StorageError> {
        let client = get(&self.inner.pool).await?;
        let rows = client
            .query(
                "SELECT r.id, r.created_at, r.message FROM replies r
                 JOIN reports p ON p.seq = r.report_seq
                 WHERE p.receipt = $1 ORDER BY r.id",
                &[&receipt.to_string()],
            )
            .await
            .map_err(pg(format!("read replies to {receipt}")))?;
        Ok(rows
            .iter()
            .map(|row| ReplyRecord {
                id: row.get(0),
                created_at: row.get(1),
                message: Bytes::from(row.get::<_, Vec<u8>>(2)),
            })
            .collect())
    }

    async fn claim(&self, key: &str) -> Result<Option<KeyClaim>, StorageError> {
        let client = self.claims_client().await?;
        let lock = claim_lock(key);
        let taken: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&lock])
            .await
            .map_err(pg("claim an idempotency key"))?
            .get(0);
        if !taken {
            return Ok(None);
        }
        Ok(Some(KeyClaim::held(Box::new(PgClaim {
            client: Some(client),
            lock,
        }))))
    }

    fn file_descriptors(&self) -> u64 {
        // A socket per connection: two pools, the writer and the claims session.
        2 * self.inner.options.pool_size as u64 + 2
    }

    async fn stored_bytes(&self) -> Result<u64, StorageError> {
        let client = get(&self.inner.pool).await?;
        let total: i64 = client
            .query_one("SELECT COALESCE(SUM(size), 0)::bigint FROM reports", &[])
            .await
            .map_err(pg("sum report sizes"))?
            .get(0);
        Ok(total.max(0) as u64)
    }

    fn free_bytes(&self) -> Result<Option<u64>, StorageError> {
        // The database keeps its files on its own server: its space is watched there, and
        // the quota (`max_stored_bytes`) bounds what this intake adds to it.
        Ok(None)
    }

    async fn list_reports(
        &self,
        after: Option<&Receipt>,
        limit: usize,
    ) -> Result<Option<Page>, StorageError> {
        let client = get(&self.inner.pool).await?;
        let after_seq: i64 = match after {
            None => 0,
            Some(r) => {
                let row = client
                    .query_opt(
                        "SELECT seq FROM reports WHERE receipt = $1",
                        &[&r.to_string()],
                    )
                    .await
                    .map_err(pg(format!("find report {r}")))?;
                match row {
                    Some(row) => row.get(0),
                    None => return Ok(None),
                }
            }
        };
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {RECORD_COLUMNS} FROM reports WHERE seq > $1 ORDER BY seq LIMIT $2"
            ))
            .await
            .map_err(pg("prepare report list"))?;
        let rows = client
            .query(&stmt, &[&after_seq, &(limit as i64 + 1)])
            .await
            .map_err(pg("list reports"))?;
        let mut reports = rows.iter().map(to_record).collect::<Result<Vec<_>, _>>()?;
        let more = reports.len() > limit;
        reports.truncate(limit);
        Ok(Some(Page { reports, more }))
    }

    async fn open_body(&self, receipt: &Receipt) -> Result<Option<BodyStream>, StorageError> {
        let Some(record) = self.report(receipt).await? else {
            return Ok(None);
        };
        let size = record.size;
        let pool = self.inner.pool.clone();
        let receipt_text = receipt.to_string();
        // One chunk per query, each on a connection taken only for that query: a slow
        // download never holds a pooled connection.
        let chunks = stream::try_unfold((0i32, 0u64), move |(idx, sent)| {
            let pool = pool.clone();
            let receipt_text = receipt_text.clone();
            async move {
                if sent >= size {
                    return Ok(None);
                }
                let client = get(&pool).await?;
                let stmt = client
                    .prepare_cached("SELECT data FROM body_chunks WHERE receipt = $1 AND idx = $2")
                    .await
                    .map_err(pg("prepare chunk read"))?;
                let row = client
                    .query_opt(&stmt, &[&receipt_text, &idx])
                    .await
                    .map_err(pg(format!("read chunk {idx} of {receipt_text}")))?;
                let data: Vec<u8> = match row {
                    Some(row) => row.get(0),
                    None => {
                        return Err(StorageError::Corrupt(format!(
                        "chunk {idx} of {receipt_text} is missing ({sent} of {size} bytes read)"
                    )))
                    }
                };
                let sent_now = sent + data.len() as u64;
                if data.is_empty() || sent_now > size {
                    return Err(StorageError::Corrupt(format!(
                        "chunk {idx} of {receipt_text} runs past the recorded size {size}"
                    )));
                }
                Ok(Some((Bytes::from(data), (idx + 1, sent_now))))
            }
        });
        Ok(Some(BodyStream {
            size,
            stream: Box::pin(chunks),
        }))
    }

    async fn add_reply(
        &self,
        receipt: &Receipt,
        message: Bytes,
    ) -> Result<Option<ReplyRecord>, StorageError> {
        let client = get(&self.inner.pool).await?;
        let data: &[u8] = &message;
        let row = client
            .query_opt(
                "WITH r AS (SELECT seq FROM reports WHERE receipt = $1 FOR UPDATE),
                      i AS (INSERT INTO replies (report_seq, created_at, message)
                            SELECT seq, now(), $2 FROM r RETURNING id, created_at),
                      u AS (UPDATE reports SET updated_at = now()
                            WHERE seq IN (SELECT seq FROM r))
                 SELECT id, created_at FROM i",
                &[&receipt.to_string(), &data],
            )
            .await
            .map_err(pg(format!("add reply to {receipt}")))?;
        Ok(row.map(|row| ReplyRecord {
            id: row.get(0),
            created_at: row.get(1),
            message,
        }))
    }

    async fn set_status(
        &self,
        receipt: &Receipt,
        status: Status,
    ) -> Result<Option<ReportRecord>, StorageError> {
        let client = get(&self.inner.pool).await?;
        let changed = client
            .query_opt(
                &format!(
                    "UPDATE reports SET status = $2, updated_at = now()
                     WHERE receipt = $1 AND status <> $2
                     RETURNING {RECORD_COLUMNS}"
                ),
                &[&receipt.to_string(), &status.as_str()],
            )
            .await
            .map_err(pg(format!("set status of {receipt}")))?;
        match changed {
            Some(row) => to_record(&row).map(Some),
            None => {
                drop(client);
                self.report(receipt).await
            }
        }
    }

    async fn close(&self) {
        self.inner.writer.lock().expect("writer lock").take();
        let tasks: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.inner.tasks.lock().expect("tasks"));
        let mut tasks = tasks.into_iter();
        // The writer ends once its queue is drained; the sweeper is only stopped.
        if let Some(writer) = tasks.next() {
            let _ = writer.await;
        }
        for t in tasks {
            t.abort();
        }
        self.inner.pool.close();
        self.inner.staging.close();
        self.inner.claims.lock().await.take();
    }
}

impl PgStore {
    /// The claims session, connected again if it broke.
    async fn claims_client(&self) -> Result<Arc<Client>, StorageError> {
        let mut slot = self.inner.claims.lock().await;
        if let Some(client) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(client.clone());
        }
        let client = Arc::new(connect(&self.inner.config).await?);
        *slot = Some(client.clone());
        Ok(client)
    }

    fn send(&self, op: WriteOp) -> Result<(), StorageError> {
        let guard = self.inner.writer.lock().expect("writer lock");
        match guard.as_ref() {
            Some(tx) => tx.send(op).map_err(|_| StorageError::WriterStopped),
            None => Err(StorageError::Closed),
        }
    }
}

/// A body streaming in as chunk rows.
struct ChunkUpload {
    store: PgStore,
    receipt: Receipt,
    receipt_text: String,
    next_idx: i32,
    buffer: BytesMut,
    // Not yet committed or discarded: dropping it discards the rows.
    open: bool,
}

impl ChunkUpload {
    async fn write_chunk(&mut self, data: Bytes) -> Result<(), StorageError> {
        let client = get(&self.store.inner.staging).await?;
        let stmt = client
            .prepare_cached("INSERT INTO body_chunks (receipt, idx, data) VALUES ($1, $2, $3)")
            .await
            .map_err(pg("prepare chunk insert"))?;
        let slice: &[u8] = &data;
        client
            .execute(&stmt, &[&self.receipt_text, &self.next_idx, &slice])
            .await
            .map_err(pg(format!(
                "insert chunk {} of {}",
                self.next_idx, self.receipt
            )))?;
        self.next_idx += 1;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Upload for ChunkUpload {
    async fn write(&mut self, mut chunk: Bytes) -> Result<(), StorageError> {
        let size = self.store.inner.options.chunk_size;
        while !chunk.is_empty() {
            let take = (size - self.buffer.len()).min(chunk.len());
            self.buffer.extend_from_slice(&chunk.split_to(take));
            if self.buffer.len() == size {
                let full = self.buffer.split().freeze();
                self.write_chunk(full).await?;
            }
        }
        Ok(())
    }

    async fn commit(mut self: Box<Self>, report: NewReport) -> Result<Inserted, StorageError> {
        if !self.buffer.is_empty() {
            let rest = self.buffer.split().freeze();
            self.write_chunk(rest).await?;
        }
        let (done, rx) = oneshot::channel();
        self.store.send(WriteOp {
            report,
            body: None,
            done,
        })?;
        let result = rx.await.map_err(|_| StorageError::WriterStopped)?;
        match &result {
            // Known not committed: the drop below discards the chunks.
            Ok(Inserted::Duplicate(_) | Inserted::SameBody) => {}
            Ok(Inserted::Created(_)) => self.open = false,
            // The commit's outcome is unknown (say, the connection broke during COMMIT): the
            // chunks may belong to a committed report and stay. If the report did not
            // commit, its `uploads` row is still there and the sweeper removes both.
            Err(_) => self.open = false,
        }
        result
    }
}

impl Drop for ChunkUpload {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        let pool = self.store.inner.staging.clone();
        let receipt = self.receipt_text.clone();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                if let Err(e) = discard_upload(&pool, &receipt).await {
                    tracing::warn!(error = %e, "cannot discard an abandoned upload; the sweeper will");
                }
            });
        }
    }
}
