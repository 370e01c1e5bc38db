//! How much the intake may store: a total quota on report bodies and a free-space floor on
//! the disk that holds them. A submission that would pass either is refused with 507 and
//! `Retry-After` before it is committed, so nothing is ever half stored: the researcher's
//! client keeps the report in its outbox and sends it again later.
//!
//! - The quota (`max_stored_bytes`, off by default) counts the bodies of stored reports plus
//!   the uploads in flight on this server. The stored total is read from the storage at start
//!   and every [`REFRESH`] (other replicas of a PostgreSQL deployment add to it), and counted
//!   up locally in between; replicas can overshoot it together by what they accept within one
//!   refresh.
//! - The floor (`min_free_bytes`, 1 GiB by default) applies to stores on this machine
//!   (SQLite): an upload is refused when its announced size would leave less free, checked
//!   again every MiB it writes and before the commit. Concurrent uploads can each dip
//!   below the floor by less than a MiB.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::AppError;
use crate::storage::{Storage, StorageError};

/// The free-space floor unless configured: 1 GiB.
pub const DEFAULT_MIN_FREE_BYTES: u64 = 1024 * 1024 * 1024;
/// What a refused client is told to wait, in seconds: space comes back when the team
/// archives reports or an operator adds some, not in a moment.
pub const RETRY_AFTER_SECONDS: u64 = 600;
/// How often the stored total is read again from the storage.
pub const REFRESH: Duration = Duration::from_secs(10);
/// The free space is measured again each time an upload has written this much more.
const FLOOR_STEP: u64 = 1024 * 1024;

/// The limits, as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaConfig {
    /// The most report-body bytes stored at once; `None`: no quota.
    pub max_stored_bytes: Option<u64>,
    /// The least free space left on the data directory's file system (SQLite); 0: no floor.
    pub min_free_bytes: u64,
}

impl Default for QuotaConfig {
    fn default() -> QuotaConfig {
        QuotaConfig {
            max_stored_bytes: None,
            min_free_bytes: DEFAULT_MIN_FREE_BYTES,
        }
    }
}

pub(crate) struct Quota {
    config: QuotaConfig,
    storage: Arc<dyn Storage>,
    /// Stored body bytes, as last read plus what this server committed since.
    stored: AtomicU64,
    /// Bytes of uploads in flight (reserved, not committed).
    reserved: AtomicU64,
    refreshed: Mutex<Instant>,
}

const QUOTA_FULL: &str = "its storage quota is reached";
const DISK_FULL: &str = "its disk is nearly full";

fn refuse(reason: &'static str) -> AppError {
    tracing::warn!(reason, "submission refused: no room");
    AppError::InsufficientStorage {
        reason,
        retry_after: RETRY_AFTER_SECONDS,
    }
}

impl Quota {
    pub(crate) async fn new(
        config: QuotaConfig,
        storage: Arc<dyn Storage>,
    ) -> Result<Quota, StorageError> {
        let stored = match config.max_stored_bytes {
            Some(_) => storage.stored_bytes().await?,
            None => 0,
        };
        Ok(Quota {
            config,
            storage,
            stored: AtomicU64::new(stored),
            reserved: AtomicU64::new(0),
            refreshed: Mutex::new(Instant::now()),
        })
    }

    async fn refresh_if_stale(&self) -> Result<(), StorageError> {
        if self.config.max_stored_bytes.is_none() {
            return Ok(());
        }
        {
            let mut at = self.refreshed.lock().expect("quota lock");
            if at.elapsed() < REFRESH {
                return Ok(());
            }
            // One request refreshes; the others go on with the count they have.
            *at = Instant::now();
        }
        let total = self.storage.stored_bytes().await?;
        self.stored.store(total, Ordering::Release);
        Ok(())
    }

    /// Adds `more` to the bytes in flight if the quota has room for them.
    fn take(&self, more: u64) -> Result<(), AppError> {
        let max = self.config.max_stored_bytes;
        self.reserved
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |reserved| {
                let after = reserved.checked_add(more)?;
                match max {
                    Some(max)
                        if self.stored.load(Ordering::Acquire).saturating_add(after) > max =>
                    {
                        None
                    }
                    _ => Some(after),
                }
            })
            .map(drop)
            .map_err(|_| refuse(QUOTA_FULL))
    }

    fn check_floor(&self, more: u64) -> Result<(), AppError> {
        if self.config.min_free_bytes == 0 {
            return Ok(());
        }
        if let Some(free) = self.storage.free_bytes()? {
            if free < self.config.min_free_bytes.saturating_add(more) {
                return Err(refuse(DISK_FULL));
            }
        }
        Ok(())
    }

    /// Room for an upload announcing `expected` bytes (0 when it does not say).
    pub(crate) async fn reserve(&self, expected: u64) -> Result<Reservation<'_>, AppError> {
        self.refresh_if_stale().await?;
        self.check_floor(expected)?;
        self.take(expected)?;
        Ok(Reservation {
            quota: self,
            metered: true,
            bytes: expected,
            received: 0,
            floor_checked: 0,
        })
    }

    /// For the replay of a report already stored: it is compared, never stored again, so it
    /// is answered even when there is no room.
    pub(crate) fn unmetered(&self) -> Reservation<'_> {
        Reservation {
            quota: self,
            metered: false,
            bytes: 0,
            received: 0,
            floor_checked: 0,
        }
    }
}

/// An upload's share of the quota; given back when dropped (stored or not).
pub(crate) struct Reservation<'a> {
    quota: &'a Quota,
    metered: bool,
    /// Bytes held in `Quota::reserved`.
    bytes: u64,
    received: u64,
    /// `received` when the free space was last measured.
    floor_checked: u64,
}

impl Reservation<'_> {
    /// `n` more bytes arrived.
    pub(crate) fn grow(&mut self, n: u64) -> Result<(), AppError> {
        if !self.metered {
            return Ok(());
        }
        self.received += n;
        if self.received > self.bytes {
            self.quota.take(self.received - self.bytes)?;
            self.bytes = self.received;
        }
        if self.received - self.floor_checked >= FLOOR_STEP {
            self.floor_checked = self.received;
            self.quota.check_floor(0)?;
        }
        Ok(())
    }

    /// The last check, just before the commit.
    pub(crate) fn before_commit(&self) -> Result<(), AppError> {
        // Unmetered is only a replay of a stored key, which the commit answers without storing
        // (reports are never deleted).
        if !self.metered {
            return Ok(());
        }
        self.quota.check_floor(0)
    }

    /// The report was stored: its bytes count as stored from now on.
    pub(crate) fn stored(self, size: u64) {
        self.quota.stored.fetch_add(size, Ordering::AcqRel);
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.quota.reserved.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}
