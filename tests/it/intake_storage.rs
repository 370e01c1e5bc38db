//! One storage test suite, run on both backends: SQLite in a temporary directory and
//! PostgreSQL in a throwaway cluster.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use embargo_intake::storage::{Inserted, NewReport, Status, Storage};
use embargo_intake::{PgOptions, PgStore, Receipt, SqliteOptions, SqliteStore};
use futures_util::StreamExt as _;
use sha2::{Digest, Sha256};

use crate::pg::PgCluster;
use embargo_tests::noise;

fn new_report(key: &str, body: &[u8]) -> NewReport {
    NewReport {
        receipt: Receipt::random(),
        idempotency_key: key.to_owned(),
        sha256: Sha256::digest(body).into(),
        size: body.len() as u64,
    }
}

async fn read_body(store: &dyn Storage, receipt: &Receipt) -> Vec<u8> {
    let mut body = store
        .open_body(receipt)
        .await
        .unwrap()
        .expect("body exists");
    let mut out = Vec::new();
    while let Some(chunk) = body.stream.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(out.len() as u64, body.size);
    out
}

/// Streams `body` in through an upload, in pieces of `piece` bytes.
async fn upload(store: &dyn Storage, report: NewReport, body: &[u8], piece: usize) -> Inserted {
    let mut up = store.begin_upload(&report.receipt).await.unwrap();
    for chunk in body.chunks(piece) {
        up.write(Bytes::copy_from_slice(chunk)).await.unwrap();
    }
    up.commit(report).await.unwrap()
}

/// The suite. `large` is bigger than the backend's small-body limit (and spans several
/// PostgreSQL chunks).
async fn suite(store: Arc<dyn Storage>, large: usize) {
    let s = store.as_ref();
    assert!(large > s.small_body_limit());

    // Small bodies: stored, read back, listed.
    let small = noise(5000, 1);
    let r1 = new_report("k1", &small);
    let created = match s
        .insert_small(r1.clone(), Bytes::from(small.clone()))
        .await
        .unwrap()
    {
        Inserted::Created(rec) => rec,
        other => panic!("expected a new report, got {other:?}"),
    };
    assert_eq!(created.receipt, r1.receipt);
    assert_eq!(created.status, Status::Received);
    assert_eq!(created.size, 5000);
    assert_eq!(read_body(s, &r1.receipt).await, small);
    let found = s.find_submission("k1").await.unwrap().unwrap();
    assert_eq!(found.receipt, r1.receipt);
    assert_eq!(found.sha256, r1.sha256);
    assert_eq!(found.received_at, created.received_at);
    assert!(s.find_submission("k-none").await.unwrap().is_none());

    // The same key again: nothing new, the first report named.
    let dup = new_report("k1", b"other bytes");
    match s
        .insert_small(dup.clone(), Bytes::from_static(b"other bytes"))
        .await
        .unwrap()
    {
        Inserted::Duplicate(sub) => assert_eq!(sub.receipt, r1.receipt),
        other => panic!("expected a duplicate, got {other:?}"),
    }
    assert!(s.report(&dup.receipt).await.unwrap().is_none());
    // The same bytes under another key: stored once, the second key names nothing.
    let same = new_report("k1-copy", &small);
    assert_eq!(
        s.insert_small(same.clone(), Bytes::from(small.clone()))
            .await
            .unwrap(),
        Inserted::SameBody
    );
    assert!(s.report(&same.receipt).await.unwrap().is_none());
    assert!(s.find_submission("k1-copy").await.unwrap().is_none());
    assert_eq!(s.stored_bytes().await.unwrap(), 5000);

    // Large bodies stream in and out byte for byte.
    let big = noise(large, 2);
    let r2 = new_report("k2", &big);
    assert!(matches!(
        upload(s, r2.clone(), &big, 7777).await,
        Inserted::Created(_)
    ));
    assert_eq!(read_body(s, &r2.receipt).await, big);
    // A large duplicate is discarded, the first one stays.
    let r2b = new_report("k2", &big);
    assert!(matches!(
        upload(s, r2b.clone(), &big, 50_000).await,
        Inserted::Duplicate(_)
    ));
    assert!(s.open_body(&r2b.receipt).await.unwrap().is_none());
    assert_eq!(read_body(s, &r2.receipt).await, big);
    // So is a large copy under another key.
    let r2c = new_report("k2-copy", &big);
    assert_eq!(
        upload(s, r2c.clone(), &big, 50_000).await,
        Inserted::SameBody
    );
    assert!(s.open_body(&r2c.receipt).await.unwrap().is_none());
    assert_eq!(s.stored_bytes().await.unwrap(), 5000 + large as u64);
    // An abandoned upload leaves no report.
    let r3 = new_report("k3", &big);
    {
        let mut up = s.begin_upload(&r3.receipt).await.unwrap();
        up.write(Bytes::from(big[..large / 2].to_vec()))
            .await
            .unwrap();
    }
    assert!(s.report(&r3.receipt).await.unwrap().is_none());
    assert!(s.find_submission("k3").await.unwrap().is_none());

    // Listing: arrival order, pages, unknown cursor.
    let page = s.list_reports(None, 10).await.unwrap().unwrap();
    let order: Vec<Receipt> = page.reports.iter().map(|r| r.receipt).collect();
    assert_eq!(order, vec![r1.receipt, r2.receipt]);
    assert!(!page.more);
    let first = s.list_reports(None, 1).await.unwrap().unwrap();
    assert_eq!(first.reports.len(), 1);
    assert!(first.more);
    let rest = s
        .list_reports(Some(&r1.receipt), 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rest.reports[0].receipt, r2.receipt);
    assert_eq!(rest.reports[0].size, large as u64);
    assert!(s
        .list_reports(Some(&Receipt::random()), 10)
        .await
        .unwrap()
        .is_none());

    // Status: a change moves updated_at, the same status is a no-op.
    let same = s
        .set_status(&r1.receipt, Status::Received)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(same.updated_at, created.updated_at);
    let triaged = s
        .set_status(&r1.receipt, Status::Triaged)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(triaged.status, Status::Triaged);
    assert!(triaged.updated_at >= created.updated_at);
    assert_eq!(
        s.report(&r1.receipt).await.unwrap().unwrap().status,
        Status::Triaged
    );
    assert!(s
        .set_status(&Receipt::random(), Status::Fixed)
        .await
        .unwrap()
        .is_none());

    // Replies: in order, byte for byte.
    let a = s
        .add_reply(&r1.receipt, Bytes::from_static(b"first"))
        .await
        .unwrap()
        .unwrap();
    let b = s
        .add_reply(&r1.receipt, Bytes::from_static(b"second"))
        .await
        .unwrap()
        .unwrap();
    assert!(b.id > a.id);
    let replies = s.replies(&r1.receipt).await.unwrap();
    assert_eq!(
        replies
            .iter()
            .map(|r| r.message.clone())
            .collect::<Vec<_>>(),
        vec![Bytes::from_static(b"first"), Bytes::from_static(b"second")]
    );
    assert_eq!(replies[0].id, a.id);
    assert!(s.replies(&r2.receipt).await.unwrap().is_empty());
    assert!(s
        .add_reply(&Receipt::random(), Bytes::from_static(b"x"))
        .await
        .unwrap()
        .is_none());

    // Concurrent submissions: all stored, listed in commit order; one key, one report.
    let mut tasks = Vec::new();
    for i in 0..64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let body = noise(3000 + i, 100 + i as u64);
            let key = if i % 8 == 0 {
                "shared".to_owned()
            } else {
                format!("c{i}")
            };
            let report = new_report(&key, &body);
            let receipt = report.receipt;
            (
                key,
                receipt,
                store.insert_small(report, Bytes::from(body)).await.unwrap(),
            )
        }));
    }
    let mut created_receipts = HashSet::new();
    let mut shared_created = 0;
    for t in tasks {
        let (key, receipt, result) = t.await.unwrap();
        if let Inserted::Created(_) = result {
            created_receipts.insert(receipt);
            if key == "shared" {
                shared_created += 1;
            }
        }
    }
    assert_eq!(shared_created, 1);
    assert_eq!(created_receipts.len(), 57);
    let all = s.list_reports(None, 1000).await.unwrap().unwrap();
    assert_eq!(all.reports.len(), 59);
    let listed: HashSet<Receipt> = all.reports[2..].iter().map(|r| r.receipt).collect();
    assert_eq!(listed, created_receipts);
    for w in all.reports.windows(2) {
        assert!(w[0].received_at <= w[1].received_at, "arrival order");
    }

    // The status-token secret is stable.
    let secret = s.server_secret().await.unwrap();
    let again = s.server_secret().await.unwrap();
    assert_eq!(secret.expose(), again.expose());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_suite_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), SqliteOptions::default())
        .await
        .unwrap();
    suite(Arc::new(store.clone()), 3 * 1024 * 1024).await;
    store.close().await;
    drop(store);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("bodies"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "only the one large body: {leftovers:?}");
    // Reopened: the same secret, every body still there.
    let reopened = SqliteStore::open(dir.path(), SqliteOptions::default())
        .await
        .unwrap();
    let page = reopened.list_reports(None, 1000).await.unwrap().unwrap();
    assert_eq!(page.reports.len(), 59);
    assert_eq!(
        read_body(&reopened, &page.reports[0].receipt).await,
        noise(5000, 1)
    );
    assert_eq!(
        read_body(&reopened, &page.reports[1].receipt).await,
        noise(3 * 1024 * 1024, 2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_suite_sqlite_refuses_a_second_process_on_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let _first = SqliteStore::open(dir.path(), SqliteOptions::default())
        .await
        .unwrap();
    let second = SqliteStore::open(dir.path(), SqliteOptions::default()).await;
    let err = second.err().expect("the directory is locked").to_string();
    assert!(err.contains("another embargo-intake"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_suite_postgres() {
    let cluster = PgCluster::start();
    let url = cluster.database();
    let mut options = PgOptions::new(url.clone());
    // Small chunks, so a body spans many rows.
    options.chunk_size = 64 * 1024;
    let store = PgStore::connect(options.clone()).await.unwrap();
    suite(Arc::new(store.clone()), 1_000_000).await;
    // Claims on idempotency keys live in the database: a second store (a replica) sees them;
    // released, the key is free; the claims of a replica that stops (or dies: its session
    // ends) are free at once.
    let replica = PgStore::connect(options.clone()).await.unwrap();
    let held = store.claim("k-claim").await.unwrap().expect("a free key");
    assert!(replica.claim("k-claim").await.unwrap().is_none());
    held.release().await;
    let held = replica.claim("k-claim").await.unwrap().expect("released");
    assert!(store.claim("k-claim").await.unwrap().is_none());
    replica.close().await;
    drop(held);
    let mut freed = false;
    for _ in 0..100 {
        if let Some(claim) = store.claim("k-claim").await.unwrap() {
            claim.release().await;
            freed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(freed, "the stopped replica's claim is gone");
    // The abandoned upload's chunks are gone (removed in the background).
    let mut orphans = String::new();
    for _ in 0..100 {
        orphans = cluster.psql(
            &url,
            "SELECT count(*) FROM body_chunks c WHERE NOT EXISTS \
             (SELECT 1 FROM reports r WHERE r.receipt = c.receipt)",
        );
        if orphans == "0" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(orphans, "0");
    assert_eq!(
        cluster.psql(
            &url,
            "SELECT count(*) FROM body_chunks WHERE octet_length(data) > 65536"
        ),
        "0",
        "fixed-size chunk rows"
    );
    store.close().await;
    // A second store (a replica) shares the secret, and migrations run once.
    let first_secret = store.server_secret().await.unwrap();
    let replica = PgStore::connect(options).await.unwrap();
    assert_eq!(
        replica.server_secret().await.unwrap().expose(),
        first_secret.expose()
    );
    assert_eq!(
        cluster.psql(&url, "SELECT count(*) FROM embargo_schema_migrations"),
        embargo_intake::storage::postgres::SCHEMA_VERSION.to_string(),
        "each migration once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_replicas_starting_together_migrate_once() {
    let cluster = PgCluster::start();
    let url = cluster.database();
    let starts = (0..4).map(|_| PgStore::connect(PgOptions::new(url.clone())));
    let stores = futures_util::future::join_all(starts).await;
    let mut secrets = HashSet::new();
    for s in stores {
        let s = s.expect("every replica starts");
        secrets.insert(s.server_secret().await.unwrap().expose().to_vec());
    }
    assert_eq!(secrets.len(), 1);
    assert_eq!(
        cluster.psql(&url, "SELECT count(*) FROM embargo_schema_migrations"),
        embargo_intake::storage::postgres::SCHEMA_VERSION.to_string(),
        "each migration once"
    );
}
