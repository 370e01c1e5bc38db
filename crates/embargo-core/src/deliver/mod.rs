//! Delivery to an intake server (DESIGN.md "Intake protocol"): the researcher's submit through
//! the outbox, status and replies; the team's pull, status changes and replies. The protocol's
//! JSON is `wire`, HTTP is `client`, what is kept on disk is `records`, replies are `reply`.

pub mod client;
pub mod records;
pub mod reply;
pub mod wire;

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use openpgp::Cert;
use sequoia_openpgp as openpgp;
use serde::{Deserialize, Serialize};

use crate::keys::{PassphraseFn, Signer};
use crate::net::NetConfig;
use crate::open::{OpenError, OpenRequest, Opened};
use crate::seal::ProgressFn;
use crate::store::{Store, StoreError};
use crate::usecase::{self, Delivery, SealJob, SealReportError};
use client::{Intake, IntakeError, UploadProgress};
use records::{Pending, ReceiptRecord, Records};
use wire::{ReportState, ReportStatus, TeamReport};

pub use client::check_intake_url;

/// How long `submit` keeps retrying by default.
pub const DEFAULT_RETRY_FOR: Duration = Duration::from_secs(120);

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
    let job = SealJob {
        delivery: Delivery::Binary,
        ..job
    };
    let outcome = usecase::seal_report(store, job, &body, false, seal_progress)?;
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
        evidence,
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
            };
            records.save_receipt(&record)?;
            records.remove_pending(&pending.id)?;
            Ok(record)
        }
        Err(e) => {
            pending.last_error = Some(e.to_string());
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

/// Sends every outbox entry again (each with its own key and bytes); returns each outcome.
pub async fn retry_outbox(
    records: &Records,
    opts: SubmitOptions<'_>,
) -> Result<Vec<(Pending, Result<ReceiptRecord, SubmitError>)>, StoreError> {
    let (pending, broken) = records.pending()?;
    if let Some(e) = broken
        .into_iter()
        .find(|e| matches!(e, StoreError::Locked { .. }))
    {
        return Err(e);
    }
    let mut out = Vec::new();
    for p in pending {
        let result = match Intake::new(&p.intake_url, &opts.net) {
            Ok(intake) => send_pending(records, &intake, p.clone(), &opts).await,
            Err(e) => Err(SubmitError::Intake(e)),
        };
        out.push((p, result));
    }
    Ok(out)
}

/// Asks the intake for a receipt's status and replies.
pub async fn report_state(
    record: &ReceiptRecord,
    net: &NetConfig,
) -> Result<ReportState, IntakeError> {
    Intake::new(&record.intake_url, net)?
        .report_state(&record.receipt, &record.status_token)
        .await
}

/// The team's side of one intake: its URL and bearer token.
pub struct TeamSession {
    intake: Intake,
    token: String,
}

impl TeamSession {
    /// A session with the team token.
    pub fn new(intake_url: &str, token: &str, net: &NetConfig) -> Result<TeamSession, IntakeError> {
        Ok(TeamSession {
            intake: Intake::new(intake_url, net)?,
            token: token.trim().to_owned(),
        })
    }

    /// Every report, in arrival order, after `after`.
    pub async fn list(&self, after: Option<&str>) -> Result<Vec<TeamReport>, IntakeError> {
        let mut all = Vec::new();
        let mut cursor = after.map(str::to_owned);
        loop {
            let page = self
                .intake
                .team_list(&self.token, cursor.as_deref(), 100)
                .await?;
            all.extend(page.reports);
            match page.next {
                Some(n) => cursor = Some(n),
                None => return Ok(all),
            }
        }
    }

    /// Sets a report's status.
    pub async fn set_status(
        &self,
        receipt: &str,
        status: ReportStatus,
    ) -> Result<wire::StatusChanged, IntakeError> {
        self.intake
            .team_set_status(&self.token, receipt, status)
            .await
    }

    /// Posts a reply (an armored message made by [`reply::seal_reply`]).
    pub async fn reply(
        &self,
        receipt: &str,
        armored: &str,
    ) -> Result<wire::ReplyCreated, IntakeError> {
        self.intake.team_reply(&self.token, receipt, armored).await
    }
}

/// Where `team pull` left off, kept in the output directory.
#[derive(Debug, Default, Serialize, Deserialize)]
struct PullState {
    intake_url: String,
    after: Option<String>,
}

const PULL_STATE: &str = ".embargo-pull.json";

/// One report of a pull.
#[derive(Debug)]
pub struct Pulled {
    /// Its receipt.
    pub receipt: String,
    /// Opened into `DIR/RECEIPT/`, or why not (its ciphertext is then kept as
    /// `DIR/RECEIPT.pgp`, and the next pull tries it again).
    pub outcome: Result<Opened, OpenError>,
}

/// Why a pull stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PullError {
    /// The intake failed.
    #[error(transparent)]
    Intake(#[from] IntakeError),
    /// The output directory could not be used.
    #[error("{path}: {source}")]
    Output {
        /// The file or directory.
        path: String,
        /// The I/O error.
        source: io::Error,
    },
}

/// Fetches the reports that arrived since the last pull into `out` (their ciphertext, as
/// `out/RECEIPT.pgp`) and opens each like `embargo open` into `out/RECEIPT/`. Idempotent:
/// where it left off is kept in `out`, and a report that could not be opened keeps its
/// ciphertext and is tried again by the next pull.
pub async fn pull(
    session: &TeamSession,
    out: &Path,
    secret_keys: &[Cert],
    passphrase: &mut PassphraseFn<'_>,
    max_size: u64,
) -> Result<Vec<Pulled>, PullError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| PullError::Output { path, source }
    };
    crate::fsutil::create_private_dir(out).map_err(io(out))?;
    let state_path = out.join(PULL_STATE);
    let mut state: PullState = fs::read(&state_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .filter(|s: &PullState| s.intake_url == session.intake.base().as_str())
        .unwrap_or_default();
    state.intake_url = session.intake.base().to_string();
    // Ciphertext kept by an earlier pull is opened again first.
    let mut kept: Vec<String> = fs::read_dir(out)
        .map_err(io(out))?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".pgp").map(str::to_owned)
        })
        .filter(|r| is_receipt(r) && !out.join(r).exists())
        .collect();
    kept.sort();
    let mut pulled = Vec::new();
    let mut open_one = |receipt: &str, pulled: &mut Vec<Pulled>| -> Result<(), PullError> {
        let cipher = out.join(format!("{receipt}.pgp"));
        let outcome = File::open(&cipher).map_err(OpenError::Read).and_then(|f| {
            crate::open::open(
                f,
                OpenRequest {
                    secret_keys,
                    verify_with: &[],
                    passphrase: &mut *passphrase,
                    output_dir: &out.join(receipt),
                    max_size,
                    require_signature: false,
                    cancel: None,
                    progress: None,
                },
            )
        });
        if outcome.is_ok() {
            fs::remove_file(&cipher).map_err(io(&cipher))?;
        }
        pulled.push(Pulled {
            receipt: receipt.to_owned(),
            outcome,
        });
        Ok(())
    };
    for receipt in &kept {
        open_one(receipt, &mut pulled)?;
    }
    for report in session.list(state.after.as_deref()).await? {
        let receipt = report.receipt;
        if is_receipt(&receipt) && !out.join(&receipt).exists() && !kept.contains(&receipt) {
            let cipher = out.join(format!("{receipt}.pgp"));
            let tmp = crate::fsutil::TempFile::beside(&cipher).map_err(io(&cipher))?;
            let mut w = io::BufWriter::new(tmp.file());
            session
                .intake
                .team_message(&session.token, &receipt, &mut w)
                .await?;
            io::Write::flush(&mut w).map_err(io(&cipher))?;
            drop(w);
            tmp.persist(&cipher, true).map_err(io(&cipher))?;
            open_one(&receipt, &mut pulled)?;
        }
        state.after = Some(receipt);
        crate::fsutil::atomic_write(
            &state_path,
            serde_json::to_string_pretty(&state)
                .expect("serializes")
                .as_bytes(),
        )
        .map_err(io(&state_path))?;
    }
    Ok(pulled)
}

fn is_receipt(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The researcher's key a pulled report carried (`DIR/RECEIPT/researcher.asc`).
pub fn researcher_key(pull_dir: &Path, receipt: &str) -> Result<Vec<Cert>, reply::ReplyError> {
    if !is_receipt(receipt) {
        return Err(reply::ReplyError::NoResearcherKey);
    }
    let path: PathBuf = pull_dir.join(receipt).join(crate::bundle::RESEARCHER_ASC);
    match crate::keys::read_certs(&path) {
        Ok(certs) => Ok(certs),
        Err(crate::keys::KeyError::Read { source, .. })
            if source.kind() == io::ErrorKind::NotFound =>
        {
            Err(reply::ReplyError::NoResearcherKey)
        }
        Err(e) => Err(e.into()),
    }
}

/// Seals a reply to the researcher of `receipt` (their key from the pulled report) and posts it.
pub async fn send_reply(
    session: &TeamSession,
    receipt: &str,
    text: &str,
    team: &Signer,
    researcher: &[Cert],
) -> Result<wire::ReplyCreated, SendReplyError> {
    let armored = reply::seal_reply(text, team, researcher)?;
    Ok(session.reply(receipt, &armored).await?)
}

/// Why a reply was not sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendReplyError {
    /// It could not be sealed.
    #[error(transparent)]
    Seal(#[from] reply::ReplyError),
    /// The intake refused it or could not be reached.
    #[error(transparent)]
    Intake(#[from] IntakeError),
}

/// When the team's answer is due: `business_days` after `received_at`, Saturdays and Sundays
/// skipped (in UTC: public holidays and the team's time zone are not known).
pub fn answer_due(
    received_at: chrono::DateTime<chrono::Utc>,
    business_days: u32,
) -> chrono::DateTime<chrono::Utc> {
    use chrono::{Datelike, Weekday};
    let mut t = received_at;
    let mut left = business_days;
    while left > 0 {
        t += chrono::Duration::days(1);
        if !matches!(t.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn answers_are_due_after_business_days() {
        let at = |y, m, d, h| chrono::Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap();
        // Thursday + 3 business days = Tuesday (Saturday and Sunday skipped).
        assert_eq!(answer_due(at(2026, 12, 3, 15), 3), at(2026, 12, 8, 15));
        // Friday evening + 1 = Monday.
        assert_eq!(answer_due(at(2026, 12, 4, 22), 1), at(2026, 12, 7, 22));
        // Saturday + 3 = Wednesday.
        assert_eq!(answer_due(at(2026, 12, 5, 9), 3), at(2026, 12, 9, 9));
        assert_eq!(answer_due(at(2026, 12, 5, 9), 0), at(2026, 12, 5, 9));
    }

    #[test]
    fn intake_urls_are_https_or_loopback() {
        assert!(check_intake_url("https://intake.example.org").is_ok());
        assert_eq!(
            check_intake_url("https://intake.example.org/base")
                .unwrap()
                .as_str(),
            "https://intake.example.org/base/"
        );
        assert!(check_intake_url("http://127.0.0.1:8080").is_ok());
        assert!(check_intake_url("http://[::1]:8080").is_ok());
        assert!(check_intake_url("http://localhost:8080").is_ok());
        for bad in [
            "http://intake.example.org",
            "ftp://x",
            "https://user:pw@intake.example.org",
            "not a url",
        ] {
            assert!(check_intake_url(bad).is_err(), "{bad}");
        }
    }
}
