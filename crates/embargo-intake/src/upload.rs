//! The submission pipeline: read the body under the size limit, hash it, check its OpenPGP
//! framing and stream it into storage at the same time, and commit only a body that passed.
//!
//! Small bodies (up to the storage's small-body limit) are buffered, checked in place and
//! committed together with their row. Larger ones are never held whole: each piece goes to the
//! storage and, through a bounded channel, to a framing check on a blocking thread; a refusal
//! from the check stops the upload early and the partial body is discarded.

use std::io::{self, Read};
use std::sync::Mutex;
use std::time::Instant;

use axum::body::{Body, BodyDataStream};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt as _;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::error::AppError;
use crate::framing::{self, Expect, Refusal};
use crate::limits::{Pace, Slot};
use crate::quota::Reservation;
use crate::receipt::Receipt;
use crate::storage::{Inserted, NewReport, ReportRecord, Submission};
use crate::AppState;

/// Bodies up to this size are checked on the request's own task; larger ones on the blocking
/// pool.
const INLINE_CHECK: usize = 64 * 1024;

/// How a submission ended well.
pub(crate) enum Accepted {
    /// Stored now: 201.
    Created(ReportRecord),
    /// The same key and the same bytes were stored before: 200 with the original answer.
    Replayed(Submission),
}

/// Reads a request body piece by piece, refusing it once it passes `limit` (so nothing over
/// the limit is ever buffered), when it falls behind its [`Pace`], or when its upload slot is
/// taken for another upload.
pub(crate) struct BodyReader {
    stream: BodyDataStream,
    limit: u64,
    seen: u64,
    pace: Pace,
    start: Instant,
    last: Instant,
    slot: Option<Slot>,
}

impl BodyReader {
    pub(crate) fn new(body: Body, limit: u64, pace: Pace, slot: Option<Slot>) -> BodyReader {
        let now = Instant::now();
        BodyReader {
            stream: body.into_data_stream(),
            limit,
            seen: 0,
            pace,
            start: now,
            last: now,
            slot,
        }
    }

    pub(crate) async fn next(&mut self) -> Result<Option<Bytes>, AppError> {
        let (deadline, by_rate) = self.pace.deadline(self.start, self.last, self.seen);
        let evicted = async {
            match &self.slot {
                Some(slot) => slot.evicted().await,
                None => std::future::pending().await,
            }
        };
        let next = tokio::select! {
            biased;
            () = evicted => {
                return Err(AppError::BodyTooSlow {
                    min_rate: self.pace.min_rate,
                    evicted: true,
                })
            }
            next = tokio::time::timeout_at(deadline, self.stream.next()) => next,
        };
        match next {
            Err(_) if by_rate => Err(AppError::BodyTooSlow {
                min_rate: self.pace.min_rate,
                evicted: false,
            }),
            Err(_) => Err(AppError::BodyTimeout {
                seconds: self.pace.idle.as_secs(),
            }),
            Ok(None) => Ok(None),
            Ok(Some(Err(e))) => Err(AppError::BodyRead {
                reason: e.to_string(),
            }),
            Ok(Some(Ok(chunk))) => {
                self.seen += chunk.len() as u64;
                self.last = Instant::now();
                if let Some(slot) = &self.slot {
                    slot.add(chunk.len() as u64);
                }
                if self.seen > self.limit {
                    return Err(AppError::BodyTooLarge { limit: self.limit });
                }
                Ok(Some(chunk))
            }
        }
    }

    /// Reads and discards the rest of the body (as far as the limit and the idle timeout
    /// allow).
    pub(crate) async fn drain(&mut self) {
        while let Ok(Some(_)) = self.next().await {}
    }

    /// The whole (small, limited) body.
    pub(crate) async fn collect(mut self) -> Result<Bytes, AppError> {
        let mut buf = BytesMut::new();
        while let Some(chunk) = self.next().await? {
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }
}

fn replay(existing: Submission, sha256: [u8; 32], key: &str) -> Result<Accepted, AppError> {
    if existing.sha256 == sha256 {
        Ok(Accepted::Replayed(existing))
    } else {
        Err(AppError::IdempotencyKeyReused {
            key: key.to_owned(),
        })
    }
}

/// What the storage answered to a commit, as the client is told.
fn accepted(
    inserted: Inserted,
    sha256: [u8; 32],
    key: &str,
    room: Reservation<'_>,
) -> Result<Accepted, AppError> {
    match inserted {
        Inserted::Created(record) => {
            room.stored(record.size);
            Ok(Accepted::Created(record))
        }
        Inserted::Duplicate(existing) => replay(existing, sha256, key),
        Inserted::SameBody => Err(AppError::DuplicateReport),
    }
}

/// Receives one submission whose idempotency key the caller has claimed, within the room
/// reserved for it.
pub(crate) async fn receive(
    state: &AppState,
    key: &str,
    body: Body,
    slot: Slot,
    mut room: Reservation<'_>,
) -> Result<Accepted, AppError> {
    let shared = &state.shared;
    let storage = shared.storage.clone();
    let small = storage.small_body_limit();
    let mut reader = BodyReader::new(body, shared.body_limit, shared.pace(), Some(slot));
    let mut hasher = Sha256::new();
    let mut head = BytesMut::new();
    let receipt = Receipt::random();

    while let Some(chunk) = reader.next().await? {
        room.grow(chunk.len() as u64)?;
        hasher.update(&chunk);
        head.extend_from_slice(&chunk);
        if head.len() > small {
            return receive_large(state, key, receipt, head.freeze(), hasher, reader, room).await;
        }
    }

    let body = head.freeze();
    let recipients = shared.recipients.clone();
    let accept_hidden = shared.accept_hidden;
    let check = move |bytes: &[u8]| {
        framing::check_bytes(
            bytes,
            Expect::Team {
                keys: &recipients,
                accept_hidden,
            },
        )
    };
    if body.len() <= INLINE_CHECK {
        check(&body)?;
    } else {
        let copy = body.clone();
        tokio::task::spawn_blocking(move || check(&copy))
            .await
            .expect("framing check panicked")?;
    }
    let sha256: [u8; 32] = hasher.finalize().into();
    let report = NewReport {
        receipt,
        idempotency_key: key.to_owned(),
        sha256,
        size: body.len() as u64,
    };
    room.before_commit()?;
    let inserted = storage.insert_small(report, body).await?;
    accepted(inserted, sha256, key, room)
}

async fn receive_large(
    state: &AppState,
    key: &str,
    receipt: Receipt,
    head: Bytes,
    mut hasher: Sha256,
    mut reader: BodyReader,
    mut room: Reservation<'_>,
) -> Result<Accepted, AppError> {
    let shared = &state.shared;
    let storage = shared.storage.clone();

    // A replay of a large body is compared, not stored a second time.
    if let Some(existing) = storage.find_submission(key).await? {
        while let Some(chunk) = reader.next().await? {
            room.grow(chunk.len() as u64)?;
            hasher.update(&chunk);
        }
        return replay(existing, hasher.finalize().into(), key);
    }

    let (tx, rx) = mpsc::channel::<Bytes>(16);
    let recipients = shared.recipients.clone();
    let accept_hidden = shared.accept_hidden;
    let verdict = tokio::task::spawn_blocking(move || {
        framing::check(
            ChannelReader::new(rx),
            Expect::Team {
                keys: &recipients,
                accept_hidden,
            },
        )
    });

    let mut upload = storage.begin_upload(&receipt).await?;
    let mut size = head.len() as u64;
    // The check stops reading as soon as it refuses: then the rest is not worth receiving.
    let mut check_done = tx.send(head.clone()).await.is_err();
    upload.write(head).await?;
    while !check_done {
        let Some(chunk) = reader.next().await? else {
            break;
        };
        room.grow(chunk.len() as u64)?;
        hasher.update(&chunk);
        size += chunk.len() as u64;
        check_done = tx.send(chunk.clone()).await.is_err();
        upload.write(chunk).await?;
    }
    drop(tx);
    let verdict = verdict.await.expect("framing check panicked");
    let refusal = match verdict {
        Err(refusal) => Some(refusal),
        // The check ended before the body did, yet accepted: it saw the end of a message.
        Ok(_) if check_done => Some(Refusal::TrailingData {
            packet: "more data".into(),
        }),
        Ok(_) => None,
    };
    if let Some(refusal) = refusal {
        // Nothing of it is kept; the rest is read (within the size limit) so that a client
        // that sends its whole body before reading the answer gets the 422 rather than a
        // connection reset it would retry.
        drop(upload);
        reader.drain().await;
        return Err(refusal.into());
    }
    let sha256: [u8; 32] = hasher.finalize().into();
    let report = NewReport {
        receipt,
        idempotency_key: key.to_owned(),
        sha256,
        size,
    };
    room.before_commit()?;
    let inserted = upload.commit(report).await?;
    accepted(inserted, sha256, key, room)
}

/// The body pieces, as a `Read` for the blocking framing check. Ends when the sender is
/// dropped.
struct ChannelReader {
    // `Mutex` only for `Sync`, which sequoia asks of its reader; never contended.
    rx: Mutex<mpsc::Receiver<Bytes>>,
    current: Bytes,
}

impl ChannelReader {
    fn new(rx: mpsc::Receiver<Bytes>) -> ChannelReader {
        ChannelReader {
            rx: Mutex::new(rx),
            current: Bytes::new(),
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            let rx = self.rx.get_mut().expect("reader lock");
            match rx.blocking_recv() {
                Some(b) => self.current = b,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}
