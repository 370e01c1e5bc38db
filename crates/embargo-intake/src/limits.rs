//! What keeps slow or idle clients from locking the intake out.
//!
//! - **Connections** are capped below the open-file limit (raised to its hard maximum at start,
//!   then checked: a cap the limit cannot hold stops the server with a clear error). At the cap a
//!   new connection evicts the connection that has been idle longest — one with no request in
//!   progress: waiting between requests, still sending its request head, or an HTTP/2
//!   connection with no stream — so connecting is never refused while idle ones are held.
//! - **Idle connections** close after [`Limits::idle_timeout`] without a request in progress:
//!   the keep-alive timeout of HTTP/1, the deadline for a request head (sent all at once or a
//!   byte at a time), and the idle timeout of HTTP/2 (a preface and SETTINGS, then silence).
//! - **Bodies** must keep a minimum average rate after a grace period, and no gap between two
//!   pieces may pass [`Limits::body_idle_timeout`] (408 either way).
//! - **Uploads** at once are bounded. When every slot is taken, a new upload evicts the oldest
//!   upload whose average rate so far (counted over at least a second) is below the minimum
//!   (it gets 408); when none is that slow, the new one gets 503 with Retry-After. A real
//!   upload is out of reach within its first packets (its first 4 KiB); a slow one newer than
//!   it is evicted first. An upload whose socket holds bytes not read yet is not slow, only
//!   not yet run: under a flood the slots turn over in milliseconds, and a real upload whose
//!   body was already in its socket, its task not yet run, was cut (its client saw the
//!   connection reset, not an answer); such an upload is passed over. Holding every slot therefore costs an attacker
//!   real bandwidth: `max_uploads × min_body_rate` sustained, for as long as it wants to hold
//!   them.
//!
//! The defaults are in [`Limits::default`]; `[limits]` in the config changes them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::Notify;

use crate::error::AppError;
use crate::serve::SocketProbe;

/// File descriptors the process needs besides connections and storage: standard streams, the
/// listener, the runtime's epoll and wakers, signal handling, the log, the TLS files.
const BASE_FDS: u64 = 64;
/// A default cap on connections even when the file limit allows more: each costs memory.
const DEFAULT_MAX_CONNECTIONS: u64 = 4096;
/// Warnings about full limits are logged at most this often (a flood must not flood the log).
const WARN_EVERY: Duration = Duration::from_secs(60);
/// What a client refused for want of an upload slot is told to wait.
pub const BUSY_RETRY_AFTER_SECONDS: u64 = 5;

/// `[limits]` in the config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsFile {
    /// Open connections at most; default: what the open-file limit allows, up to 4096.
    pub max_connections: Option<u64>,
    /// Report uploads at once.
    pub max_uploads: u64,
    /// Seconds a connection may stay without a request in progress.
    pub idle_timeout_seconds: u64,
    /// Bytes per second a body must average once its grace period is over.
    pub min_body_rate: u64,
    /// Seconds of a body before its rate is judged.
    pub body_grace_seconds: u64,
    /// Seconds without a single body byte before the upload is refused.
    pub body_idle_timeout_seconds: u64,
}

impl Default for LimitsFile {
    fn default() -> LimitsFile {
        let d = Limits::default();
        LimitsFile {
            max_connections: None,
            max_uploads: d.max_uploads as u64,
            idle_timeout_seconds: d.idle_timeout.as_secs(),
            min_body_rate: d.min_body_rate,
            body_grace_seconds: d.body_grace.as_secs(),
            body_idle_timeout_seconds: d.body_idle_timeout.as_secs(),
        }
    }
}

/// The limits the server runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `None` until [`Limits::fit_to_files`] sets it from the open-file limit (unless given).
    pub max_connections: Option<u64>,
    pub max_uploads: usize,
    pub idle_timeout: Duration,
    pub min_body_rate: u64,
    pub body_grace: Duration,
    pub body_idle_timeout: Duration,
}

impl Default for Limits {
    /// 10 s to send a request head or to start the next request, 128 uploads at once, bodies at
    /// 4 KiB/s on average after 10 s (a slow mobile link does several times that) and never 30 s
    /// without a byte.
    fn default() -> Limits {
        Limits {
            max_connections: None,
            max_uploads: 128,
            idle_timeout: Duration::from_secs(10),
            min_body_rate: 4096,
            body_grace: Duration::from_secs(10),
            body_idle_timeout: Duration::from_secs(30),
        }
    }
}

/// A limit that cannot work.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    #[error("limits.{field} must be greater than zero")]
    Zero { field: &'static str },
    #[error("max_connections = {connections} needs {needed} open files (2 per connection, {storage} for the storage, {BASE_FDS} for the process), but this process may open {limit}: raise the limit (systemd: LimitNOFILE=; shell: ulimit -n) or lower max_connections")]
    TooManyConnections {
        connections: u64,
        needed: u64,
        storage: u64,
        limit: u64,
    },
    #[error("the open-file limit ({limit}) leaves room for only {connections} connections (at least 16 are needed): raise it (systemd: LimitNOFILE=; shell: ulimit -n)")]
    FileLimitTooLow { limit: u64, connections: u64 },
    #[error("cannot read or raise the open-file limit: {0}")]
    Rlimit(std::io::Error),
}

impl LimitsFile {
    pub fn check(self) -> Result<Limits, LimitError> {
        for (field, value) in [
            ("max_uploads", self.max_uploads),
            ("idle_timeout_seconds", self.idle_timeout_seconds),
            ("min_body_rate", self.min_body_rate),
            ("body_idle_timeout_seconds", self.body_idle_timeout_seconds),
            ("max_connections", self.max_connections.unwrap_or(1)),
        ] {
            if value == 0 {
                return Err(LimitError::Zero { field });
            }
        }
        Ok(Limits {
            max_connections: self.max_connections,
            max_uploads: usize::try_from(self.max_uploads).unwrap_or(usize::MAX),
            idle_timeout: Duration::from_secs(self.idle_timeout_seconds),
            min_body_rate: self.min_body_rate,
            body_grace: Duration::from_secs(self.body_grace_seconds),
            body_idle_timeout: Duration::from_secs(self.body_idle_timeout_seconds),
        })
    }
}

/// Raises the soft open-file limit to the hard one and returns it.
pub fn raise_file_limit() -> Result<u64, LimitError> {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    if let (Some(current), Some(maximum)) = (limit.current, limit.maximum) {
        if current < maximum {
            limit.current = Some(maximum);
            setrlimit(Resource::Nofile, limit).map_err(|e| LimitError::Rlimit(e.into()))?;
        }
    }
    // `None` is unlimited.
    Ok(getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX))
}

impl Limits {
    /// Fits the connection cap (and the upload bound) to `file_limit` open files, of which the
    /// storage needs `storage_fds`. Each connection may hold a second file (a body being
    /// written or read). A cap given in the config that does not fit is an error.
    pub fn fit_to_files(mut self, file_limit: u64, storage_fds: u64) -> Result<Limits, LimitError> {
        let room = file_limit.saturating_sub(BASE_FDS + storage_fds) / 2;
        let connections = match self.max_connections {
            Some(c) if c > room => {
                return Err(LimitError::TooManyConnections {
                    connections: c,
                    needed: 2 * c + storage_fds + BASE_FDS,
                    storage: storage_fds,
                    limit: file_limit,
                })
            }
            Some(c) => c,
            None => room.min(DEFAULT_MAX_CONNECTIONS),
        };
        if connections < 16 {
            return Err(LimitError::FileLimitTooLow {
                limit: file_limit,
                connections,
            });
        }
        self.max_connections = Some(connections);
        // Uploads take at most half the connections, so other requests always find room.
        self.max_uploads = self
            .max_uploads
            .min(usize::try_from(connections / 2).unwrap_or(usize::MAX));
        Ok(self)
    }
}

/// The pace a body must keep.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pace {
    /// Average bytes per second once `grace` is over; 0: no minimum.
    pub min_rate: u64,
    pub grace: Duration,
    /// Longest gap between two pieces.
    pub idle: Duration,
}

impl Pace {
    /// When the next piece must have arrived, `seen` bytes into a body started at `start`
    /// whose last piece came at `last`; and whether that deadline is the rate's.
    pub(crate) fn deadline(
        &self,
        start: Instant,
        last: Instant,
        seen: u64,
    ) -> (tokio::time::Instant, bool) {
        let gap = last + self.idle;
        if self.min_rate == 0 {
            return (gap.into(), false);
        }
        let rate = start + self.grace + Duration::from_secs_f64(seen as f64 / self.min_rate as f64);
        if rate < gap {
            (rate.into(), true)
        } else {
            (gap.into(), false)
        }
    }
}

/// Says yes at most once per period.
pub(crate) struct Every {
    period: Duration,
    last: Mutex<Option<Instant>>,
}

impl Every {
    pub(crate) fn new(period: Duration) -> Every {
        Every {
            period,
            last: Mutex::new(None),
        }
    }

    pub(crate) fn due(&self) -> bool {
        let mut last = self.last.lock().expect("rare log");
        if last.is_some_and(|at| at.elapsed() < self.period) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }
}

struct SlotEntry {
    started: Instant,
    /// The upload's connection, to see whether bytes wait unread in it.
    socket: Option<SocketProbe>,
    bytes: AtomicU64,
    evicted: AtomicBool,
    notify: Notify,
}

/// The bounded set of uploads in progress.
pub(crate) struct UploadSlots {
    max: usize,
    min_rate: u64,
    warned: Every,
    next: AtomicU64,
    slots: Mutex<HashMap<u64, Arc<SlotEntry>>>,
}

/// One upload's slot; given back when dropped.
pub(crate) struct Slot {
    owner: Arc<UploadSlots>,
    id: u64,
    entry: Arc<SlotEntry>,
}

impl UploadSlots {
    pub(crate) fn new(max: usize, min_rate: u64) -> Arc<UploadSlots> {
        Arc::new(UploadSlots {
            max: max.max(1),
            min_rate,
            warned: Every::new(WARN_EVERY),
            next: AtomicU64::new(0),
            slots: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for a new upload, evicting the oldest upload that is too slow if none is free.
    pub(crate) fn admit(self: &Arc<Self>, socket: Option<SocketProbe>) -> Result<Slot, AppError> {
        let now = Instant::now();
        let mut slots = self.slots.lock().expect("upload slots");
        if slots.len() >= self.max {
            let victim = slots
                .iter()
                .filter(|(_, e)| {
                    let age = now.saturating_duration_since(e.started);
                    let rate = e.bytes.load(Ordering::Relaxed) as f64 / age.as_secs_f64().max(1.0);
                    rate < self.min_rate as f64
                        && !e.socket.as_ref().is_some_and(SocketProbe::has_unread_bytes)
                })
                .min_by_key(|(_, e)| e.started)
                .map(|(id, _)| *id);
            let Some(victim) = victim else {
                if self.warned.due() {
                    tracing::warn!(
                        uploads = slots.len(),
                        "every upload slot is taken by uploads keeping pace: new ones get 503"
                    );
                }
                return Err(AppError::Busy {
                    retry_after: BUSY_RETRY_AFTER_SECONDS,
                });
            };
            let entry = slots.remove(&victim).expect("victim listed");
            entry.evicted.store(true, Ordering::Release);
            entry.notify.notify_one();
            tracing::debug!("evicted a slow upload for a new one");
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let entry = Arc::new(SlotEntry {
            started: now,
            socket,
            bytes: AtomicU64::new(0),
            evicted: AtomicBool::new(false),
            notify: Notify::new(),
        });
        slots.insert(id, entry.clone());
        Ok(Slot {
            owner: self.clone(),
            id,
            entry,
        })
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots.lock().expect("upload slots").len()
    }
}

impl Slot {
    pub(crate) fn add(&self, n: u64) {
        self.entry.bytes.fetch_add(n, Ordering::Relaxed);
    }

    /// Whether this upload was evicted for a new one.
    #[cfg(test)]
    pub(crate) fn is_evicted(&self) -> bool {
        self.entry.evicted.load(Ordering::Acquire)
    }

    /// Resolves when this upload was evicted for a new one.
    pub(crate) async fn evicted(&self) {
        while !self.entry.evicted.load(Ordering::Acquire) {
            self.entry.notify.notified().await;
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.owner
            .slots
            .lock()
            .expect("upload slots")
            .remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_cap_fits_the_file_limit_or_the_server_does_not_start() {
        let d = Limits::default();
        // 256 files, 60 for SQLite: (256 - 64 - 60) / 2 = 66 connections, 33 uploads.
        let fit = d.fit_to_files(256, 60).unwrap();
        assert_eq!(fit.max_connections, Some(66));
        assert_eq!(fit.max_uploads, 33);
        // A large limit: the default cap, the default upload bound.
        let fit = d.fit_to_files(1 << 20, 60).unwrap();
        assert_eq!(fit.max_connections, Some(4096));
        assert_eq!(fit.max_uploads, 128);
        let given = Limits {
            max_connections: Some(1000),
            ..d
        };
        let e = given.fit_to_files(1024, 60).unwrap_err();
        assert!(
            e.to_string().contains("needs 2124 open files")
                && e.to_string().contains("may open 1024"),
            "{e}"
        );
        assert!(matches!(
            d.fit_to_files(100, 20),
            Err(LimitError::FileLimitTooLow { .. })
        ));
    }

    #[test]
    fn a_body_must_keep_the_minimum_rate_after_its_grace() {
        let pace = Pace {
            min_rate: 1000,
            grace: Duration::from_secs(10),
            idle: Duration::from_secs(30),
        };
        let t0 = Instant::now();
        // Nothing yet: the rate rule bites at the end of the grace period.
        let (at, rate) = pace.deadline(t0, t0, 0);
        assert!(rate);
        assert_eq!(at, (t0 + Duration::from_secs(10)).into());
        // 5,000 bytes buy 5 more seconds.
        let (at, rate) = pace.deadline(t0, t0 + Duration::from_secs(9), 5000);
        assert!(rate);
        assert_eq!(at, (t0 + Duration::from_secs(15)).into());
        // Far ahead of the rate, the gap rule is what bites.
        let last = t0 + Duration::from_secs(12);
        let (at, rate) = pace.deadline(t0, last, 10_000_000);
        assert!(!rate);
        assert_eq!(at, (last + Duration::from_secs(30)).into());
    }

    #[tokio::test]
    async fn a_full_set_of_uploads_evicts_the_oldest_slow_one_or_answers_busy() {
        let slots = UploadSlots::new(2, 1000);
        let slow = slots.admit(None).unwrap();
        let fast = slots.admit(None).unwrap();
        fast.add(10_000_000);
        let newcomer = slots.admit(None).unwrap();
        tokio::time::timeout(Duration::from_secs(1), slow.evicted())
            .await
            .expect("the slow upload is evicted");
        assert_eq!(slots.len(), 2);
        // The newcomer keeps pace: now nobody is slow, and the next one is told to come back.
        newcomer.add(5000);
        assert!(matches!(slots.admit(None), Err(AppError::Busy { .. })));
        drop(newcomer);
        drop(fast);
        drop(slow);
        assert_eq!(slots.len(), 0);
    }
}
