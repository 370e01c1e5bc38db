//! Submitting to an intake through the outbox: the ciphertext and its Idempotency-Key are on
//! disk before the first byte is sent; retries resend the same bytes with the same key, so the
//! intake stores the report once whatever happens on the way.

use std::fs;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::deliver::client::{self, Intake, IntakeError, UploadProgress};
use crate::deliver::records::{self, Pending, ReceiptRecord, Records};
use crate::net::NetConfig;
use crate::seal::ProgressFn;
use crate::store::{Store, StoreError};

use super::seal::{seal_report, Delivery, SealJob, SealReportError};

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Why a submission did not reach an intake.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SubmitError {
    /// No intake URL given, and the program names none.
    #[error("program `{program}` has no intake endpoint")]
    NoIntake {
        /// The program id.
        program: String,
    },
    /// Sealing failed; nothing was queued.
    #[error(transparent)]
    Seal(#[from] SealReportError),
    /// The intake URL is not usable, or the client could not be set up.
    #[error(transparent)]
    Intake(IntakeError),
    /// The intake refused the report (a refusal that retrying will not change). It stays in the
    /// outbox under `id`.
    #[error("the intake refused the report (kept in the outbox as {id}): {source}")]
    Refused {
        /// The outbox id.
        id: String,
        /// The refusal.
        source: IntakeError,
    },
    /// The intake could not be reached in time; the report is safe in the outbox under `id`.
    #[error("queued in the outbox as {id}: {source}")]
    Queued {
        /// The outbox id.
        id: String,
        /// The last failure.
        source: IntakeError,
    },
    /// The data directory could not be written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The reply key could not be kept in the vault; nothing was queued.
    #[error("the anonymous report's reply key could not be kept in the vault: {0}")]
    ReplyKey(#[source] crate::vault::VaultError),
}

/// What a submission produced.
#[derive(Debug)]
pub struct Submission {
    /// The receipt record (also saved in the data directory).
    pub receipt: ReceiptRecord,
    /// What was sealed.
    pub sealed: crate::seal::Sealed,
    /// Warnings from `check`.
    pub findings: Vec<crate::report::Finding>,
}

/// Options of a submission.
pub struct SubmitOptions<'a> {
    /// The intake's URL; default: the program's intake endpoint.
    pub intake: Option<String>,
    /// How long to keep retrying.
    pub retry_for: Duration,
    /// How to connect.
    pub net: NetConfig,
    /// Told upload progress.
    pub upload: Option<UploadProgress>,
    /// Told each retry and the wait before it.
    pub on_retry: &'a (dyn Fn(&IntakeError, Duration) + Send + Sync),
}

/// Seals a report into the outbox (ciphertext and a random Idempotency-Key on disk before the
/// first byte is sent), sends it with retries, and keeps the receipt.
pub async fn submit(
    store: &Store,
    job: SealJob<'_>,
    opts: SubmitOptions<'_>,
    seal_progress: &mut ProgressFn<'_>,
) -> Result<Submission, SubmitError> {
    let program = job.report.program.clone();
    let intake_url = match opts.intake.clone() {
        Some(u) => u,
        None => store
            .program(&program)
            .ok()
            .and_then(|p| p.intake_url)
            .ok_or_else(|| SubmitError::NoIntake {
                program: crate::text::shown(&program),
            })?,
    };
    let intake = Intake::new(&intake_url, &opts.net).map_err(SubmitError::Intake)?;
    let records = Records::of(store);
    let (id, body) = records.new_pending_path()?;
    let evidence = if records.encrypted() {
        job.attachments
            .iter()
            .map(|a| records::Evidence {
                name: a.meta.name.clone(),
                sha256: a.meta.sha256.clone(),
                original_sha256: a.original_sha256.clone(),
            })
            .collect()
    } else {
        Vec::new()
    };
    // Certificates given for this report (`--to`) are kept, so that replies signed by them can
    // be verified later even though they are not pinned.
    for cert in &job.to {
        store.save_cert(&cert.clone().strip_secret_key_material())?;
    }
    // An anonymous report nobody signs gets a key of its own for the team's replies, kept in
    // the vault (which needs the identity: without one, the report goes without).
    let vault = crate::vault::Vault::of(store);
    let reply_key = if job.report.is_anonymous()
        && job.signer.is_none()
        && vault.identity().ok().flatten().is_some()
    {
        Some(crate::replykey::generate().map_err(|e| {
            SubmitError::Seal(SealReportError::Seal(crate::seal::SealError::Key(e)))
        })?)
    } else {
        None
    };
    let job = SealJob {
        delivery: Delivery::Binary,
        reply_key: reply_key.as_ref(),
        ..job
    };
    let outcome = seal_report(store, job, &body, false, seal_progress)?;
    let reply_key = match reply_key.as_ref().map(|k| vault.save_reply_key(k)) {
        None => None,
        Some(Ok(fpr)) => Some(fpr),
        Some(Err(e)) => {
            let _ = fs::remove_file(&body);
            return Err(SubmitError::ReplyKey(e));
        }
    };
    let pending = Pending {
        id: id.clone(),
        idempotency_key: crate::bundle::hex(&rand::random::<[u8; 16]>()),
        intake_url: intake.base().to_string(),
        program: Some(program),
        reference: Some(outcome.sealed.reference.clone()),
        created_at: now(),
        bytes: fs::metadata(&body).map(|m| m.len()).unwrap_or(0),
        attempts: 0,
        last_error: None,
        last_attempt_at: None,
        rounds: 0,
        refused: false,
        evidence,
        recipients: outcome.sealed.recipients.clone(),
        reply_key,
    };
    if let Err(e) = records.save_pending(&pending) {
        let _ = fs::remove_file(&body);
        return Err(e.into());
    }
    let receipt = send_pending(&records, &intake, pending, &opts).await?;
    Ok(Submission {
        receipt,
        sealed: outcome.sealed,
        findings: outcome.findings,
    })
}

async fn send_pending(
    records: &Records,
    intake: &Intake,
    mut pending: Pending,
    opts: &SubmitOptions<'_>,
) -> Result<ReceiptRecord, SubmitError> {
    let body = records.pending_body(&pending.id);
    let attempts = std::sync::atomic::AtomicU32::new(0);
    let on_retry = |e: &IntakeError, wait: Duration| {
        attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        (opts.on_retry)(e, wait)
    };
    let result = client::submit_with_retries(
        intake,
        &body,
        &pending.idempotency_key,
        opts.retry_for,
        opts.upload.clone(),
        &on_retry,
    )
    .await;
    pending.attempts += attempts.into_inner() + 1;
    pending.last_attempt_at = Some(now());
    match result {
        Ok(s) => {
            let record = ReceiptRecord {
                receipt: s.receipt,
                status_token: s.status_token,
                intake_url: pending.intake_url.clone(),
                program: pending.program.clone(),
                reference: pending.reference.clone(),
                received_at: s.received_at,
                evidence: pending.evidence.clone(),
                recipients: pending.recipients.clone(),
                reply_key: pending.reply_key.clone(),
                seen: None,
            };
            records.save_receipt(&record)?;
            records.remove_pending(&pending.id)?;
            Ok(record)
        }
        Err(e) => {
            pending.last_error = Some(e.to_string());
            pending.refused = !e.retryable();
            records.save_pending(&pending)?;
            if e.retryable() {
                Err(SubmitError::Queued {
                    id: pending.id,
                    source: e,
                })
            } else {
                Err(SubmitError::Refused {
                    id: pending.id,
                    source: e,
                })
            }
        }
    }
}

/// Which outbox entries a retry takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Every entry, refused ones included (the researcher asked: `outbox --retry`, "Try now").
    All,
    /// The entries whose wait is over at this moment, refused ones left alone (the app's
    /// outbox, retrying by itself).
    Due(DateTime<Utc>),
}

/// The first wait of the outbox after a failed submission; each round of retries doubles it, up
/// to [`OUTBOX_MAX_WAIT`].
pub const OUTBOX_FIRST_WAIT: Duration = Duration::from_secs(10);
/// The longest wait between two rounds of the outbox.
pub const OUTBOX_MAX_WAIT: Duration = Duration::from_secs(15 * 60);

/// When the outbox tries an entry next by itself: its last attempt plus a wait that doubles
/// with each round; `None` for a refused entry (retrying would not change the answer).
pub fn next_attempt(p: &Pending) -> Option<DateTime<Utc>> {
    if p.refused {
        return None;
    }
    let last = p
        .last_attempt_at
        .as_deref()
        .or(Some(p.created_at.as_str()))
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(Utc::now);
    let wait = OUTBOX_FIRST_WAIT
        .saturating_mul(1u32 << p.rounds.min(16))
        .min(OUTBOX_MAX_WAIT);
    Some(last + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX))
}

/// Sends outbox entries again (each with its own key and bytes); returns each outcome.
pub async fn retry_outbox(
    records: &Records,
    opts: SubmitOptions<'_>,
    which: Retry,
) -> Result<Vec<(Pending, Result<ReceiptRecord, SubmitError>)>, StoreError> {
    let (pending, broken) = records.pending()?;
    if let Some(e) = broken
        .into_iter()
        .find(|e| matches!(e, StoreError::Locked { .. }))
    {
        return Err(e);
    }
    let mut out = Vec::new();
    for mut p in pending {
        if let Retry::Due(now) = which {
            if next_attempt(&p).is_none_or(|at| at > now) {
                continue;
            }
        }
        p.rounds += 1;
        let result = match Intake::new(&p.intake_url, &opts.net) {
            Ok(intake) => send_pending(records, &intake, p.clone(), &opts).await,
            Err(e) => Err(SubmitError::Intake(e)),
        };
        out.push((p, result));
    }
    Ok(out)
}

/// The outbox at a glance: how many entries wait, and when the next is tried by itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OutboxState {
    /// Entries waiting (refused ones included).
    pub waiting: u32,
    /// Of those, refused by the intake: they are not retried by themselves.
    pub refused: u32,
    /// When the next one is tried by itself (RFC 3339), if any will be.
    pub next_attempt_at: Option<String>,
}

/// Counts the outbox (readable records only: a locked one is counted by [`Records::count_pending`]).
pub fn outbox_state(pending: &[Pending]) -> OutboxState {
    OutboxState {
        waiting: pending.len() as u32,
        refused: pending.iter().filter(|p| p.refused).count() as u32,
        next_attempt_at: pending
            .iter()
            .filter_map(next_attempt)
            .min()
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(rounds: u32, last: &str, refused: bool) -> Pending {
        Pending {
            id: "p".into(),
            idempotency_key: "k".into(),
            intake_url: "https://intake.example".into(),
            program: None,
            reference: None,
            created_at: "2026-12-06T10:00:00Z".into(),
            bytes: 1,
            attempts: 3,
            last_error: None,
            last_attempt_at: Some(last.into()),
            rounds,
            refused,
            evidence: Vec::new(),
            recipients: Vec::new(),
            reply_key: None,
        }
    }

    #[test]
    fn the_outbox_waits_longer_after_each_round_and_leaves_refusals_alone() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let t = "2026-12-06T10:00:00Z";
        assert_eq!(
            next_attempt(&pending(0, t, false)),
            Some(at("2026-12-06T10:00:10Z"))
        );
        assert_eq!(
            next_attempt(&pending(3, t, false)),
            Some(at("2026-12-06T10:01:20Z"))
        );
        assert_eq!(
            next_attempt(&pending(30, t, false)),
            Some(at("2026-12-06T10:15:00Z"))
        );
        assert_eq!(next_attempt(&pending(0, t, true)), None);
        let state = outbox_state(&[pending(0, t, false), pending(1, t, true)]);
        assert_eq!(state.waiting, 2);
        assert_eq!(state.refused, 1);
        assert_eq!(
            state.next_attempt_at.as_deref(),
            Some("2026-12-06T10:00:10Z")
        );
    }
}
