//! Delivery to an intake server (DESIGN.md "Intake protocol"): the researcher's status and
//! replies; the team's pull, status changes and replies. The protocol's types are
//! [`crate::protocol`], HTTP is `client`, what is kept on disk is `records`, replies are `reply`.
//! Submitting through the outbox is a use case ([`crate::usecase::submit`]) over these parts.

pub mod client;
pub mod records;
pub mod reply;

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use openpgp::Cert;
use sequoia_openpgp as openpgp;
use serde::{Deserialize, Serialize};

use crate::keys::{PassphraseFn, Signer};
use crate::net::NetConfig;
use crate::open::{OpenError, OpenRequest, Opened};
use crate::protocol::{self as wire, ReportState, ReportStatus, TeamReport};
use client::{Intake, IntakeError};
use records::ReceiptRecord;

pub use client::check_intake_url;

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

    /// The reports after `after`, in arrival order, page by page as the intake serves them,
    /// at most [`MAX_PAGES`] pages; the second value is the cursor to go on from when more
    /// remain (an intake that never ends its listing cannot fill memory).
    pub async fn list(
        &self,
        after: Option<&str>,
    ) -> Result<(Vec<TeamReport>, Option<String>), IntakeError> {
        let mut all = Vec::new();
        let mut pages = Pages::new(after);
        while let Some(page) = pages.next(self).await? {
            all.extend(page);
        }
        Ok((all, pages.more()))
    }

    /// Fetches a report's ciphertext into `sink`, at most `limit` bytes.
    pub async fn fetch(
        &self,
        receipt: &str,
        sink: &mut (dyn io::Write + Send),
        limit: u64,
    ) -> Result<u64, IntakeError> {
        self.intake
            .team_message(&self.token, receipt, sink, limit)
            .await
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

    /// The replies the team sent to a report, oldest first.
    pub async fn replies(&self, receipt: &str) -> Result<Vec<wire::Reply>, IntakeError> {
        Ok(self
            .intake
            .team_replies(&self.token, receipt)
            .await?
            .replies)
    }
}

/// Pages of a listing a client goes through in one run, at most (100 reports each).
pub const MAX_PAGES: usize = 100;
const PAGE: u32 = 100;

/// Walks the team's listing page by page, never more than [`MAX_PAGES`], and stops on a page
/// that does not move forward (empty, or a cursor already seen): what an intake says about its
/// listing is not trusted to end.
struct Pages {
    cursor: Option<String>,
    pages: usize,
    done: bool,
    more: bool,
}

impl Pages {
    fn new(after: Option<&str>) -> Pages {
        Pages {
            cursor: after.map(str::to_owned),
            pages: 0,
            done: false,
            more: false,
        }
    }

    async fn next(
        &mut self,
        session: &TeamSession,
    ) -> Result<Option<Vec<TeamReport>>, IntakeError> {
        if self.done {
            return Ok(None);
        }
        if self.pages == MAX_PAGES {
            self.done = true;
            self.more = true;
            return Ok(None);
        }
        self.pages += 1;
        let page = session
            .intake
            .team_list(&session.token, self.cursor.as_deref(), PAGE)
            .await?;
        let last = page.reports.last().map(|r| r.receipt.clone());
        match page.next {
            Some(n)
                if !page.reports.is_empty() && Some(&n) == last.as_ref() && last != self.cursor =>
            {
                self.cursor = Some(n);
            }
            Some(_) => {
                // A cursor that does not follow the page it ends: not the protocol. Stop here.
                self.done = true;
            }
            None => self.done = true,
        }
        Ok(Some(page.reports))
    }

    /// The cursor to go on from, when the walk stopped at its bound with more to come.
    fn more(&self) -> Option<String> {
        self.more.then(|| self.cursor.clone()).flatten()
    }
}

/// How a pull runs.
#[derive(Debug, Clone, Copy)]
pub struct PullOptions<'a> {
    /// Cap on each report: its ciphertext as downloaded and its plaintext as opened.
    pub max_size: u64,
    /// Where `open` writes down its staging directories (the data directory's journal).
    pub journal: Option<&'a Path>,
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

/// What a pull did.
#[derive(Debug, Default)]
pub struct PullOutcome {
    /// Each report fetched (or kept from an earlier pull) and opened, or why not.
    pub pulled: Vec<Pulled>,
    /// Reports not fetched: over the size cap, or the intake sent more than it listed.
    pub refused: Vec<(String, IntakeError)>,
    /// The listing was cut at [`MAX_PAGES`]: run the pull again for the rest.
    pub more: bool,
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
/// ciphertext and is tried again by the next pull. The intake is not trusted: the listing is
/// walked page by page (at most [`MAX_PAGES`] per pull), and each download is cut at the size
/// the listing gave and at `max_size` — a report over either is not kept.
pub async fn pull(
    session: &TeamSession,
    out: &Path,
    secret_keys: &[Cert],
    passphrase: &mut PassphraseFn<'_>,
    opts: PullOptions<'_>,
) -> Result<PullOutcome, PullError> {
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
    let mut done = PullOutcome::default();
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
                    max_size: opts.max_size,
                    require_signature: false,
                    cancel: None,
                    progress: None,
                    journal: opts.journal,
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
        open_one(receipt, &mut done.pulled)?;
    }
    let mut pages = Pages::new(state.after.as_deref());
    while let Some(page) = pages.next(session).await? {
        for report in page {
            let receipt = report.receipt;
            if is_receipt(&receipt) && !out.join(&receipt).exists() && !kept.contains(&receipt) {
                let cipher = out.join(format!("{receipt}.pgp"));
                let cap = report.size.min(opts.max_size);
                if report.size > opts.max_size {
                    done.refused.push((
                        receipt.clone(),
                        IntakeError::TooLarge {
                            what: format!("report {receipt}"),
                            limit: opts.max_size,
                        },
                    ));
                } else {
                    let tmp = crate::fsutil::TempFile::beside(&cipher).map_err(io(&cipher))?;
                    let mut w = io::BufWriter::new(tmp.file());
                    match session
                        .intake
                        .team_message(&session.token, &receipt, &mut w, cap)
                        .await
                    {
                        Ok(_) => {
                            io::Write::flush(&mut w).map_err(io(&cipher))?;
                            drop(w);
                            tmp.persist(&cipher, true).map_err(io(&cipher))?;
                            open_one(&receipt, &mut done.pulled)?;
                        }
                        // Over what it listed: nothing is kept (the temporary file goes).
                        Err(e @ IntakeError::TooLarge { .. }) => {
                            done.refused.push((receipt.clone(), e))
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
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
    }
    done.more = pages.more().is_some();
    Ok(done)
}

fn is_receipt(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The key to reply to that a pulled report carried: the researcher's
/// (`DIR/RECEIPT/researcher.asc`), or an anonymous report's reply key (`reply-key.asc`).
pub fn researcher_key(pull_dir: &Path, receipt: &str) -> Result<Vec<Cert>, reply::ReplyError> {
    if !is_receipt(receipt) {
        return Err(reply::ReplyError::NoResearcherKey);
    }
    for name in [crate::bundle::RESEARCHER_ASC, crate::bundle::REPLY_KEY_ASC] {
        let path: PathBuf = pull_dir.join(receipt).join(name);
        match crate::keys::read_certs(&path) {
            Ok(certs) => return Ok(certs),
            Err(crate::keys::KeyError::Read { source, .. })
                if source.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(reply::ReplyError::NoResearcherKey)
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

#[cfg(test)]
mod tests {
    use super::*;

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
