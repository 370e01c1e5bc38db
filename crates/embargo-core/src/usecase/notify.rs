//! What the app tells the desktop while it runs: a new report for the team, a new status or a
//! reply for the researcher. A notice names nothing of a report: no title, no text, no asset,
//! not even the program — a notification is shown on a lock screen, mirrored to a phone, kept
//! in a desktop's history. The researcher's notices name the report's random reference
//! (`EMB-XXXX-XXXX`), which says nothing about the finding; the team's say how many arrived.
//!
//! What has been told is kept so that nothing is told twice:
//! - the researcher's side in each receipt record ([`Seen`]: the status and the last reply
//!   told of), encrypted with the records, so that a reply that came while the app was closed
//!   is told at the next check, and one already read in the Sent screen is not;
//! - the team's side in memory ([`TeamWatch`]), for as long as the member stays unlocked: the
//!   reports already listed to the member (the Inbox) or seen at the first check are known
//!   (the Inbox marks unopened ones as new); later checks tell of the others.

use std::collections::BTreeSet;

use crate::deliver::client::{Intake, IntakeError};
use crate::deliver::records::{ReceiptRecord, Records, Seen};
use crate::net::NetConfig;
use crate::protocol::{ReportState, ReportStatus, STATUSES};
use crate::store::StoreError;

use super::team::InboxEntry;
use super::ReportFollowUp;

/// Something to tell the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Reports arrived in the team's inbox.
    NewReports {
        /// How many.
        count: usize,
    },
    /// The team replied to a report (its status may have changed too).
    Reply {
        /// The report's reference, else its receipt.
        reference: String,
    },
    /// The team moved a report to another status.
    Status {
        /// The report's reference, else its receipt.
        reference: String,
    },
}

/// The title every notification carries: the app's name, nothing of the report.
pub const TITLE: &str = "Embargo";

impl Notice {
    /// The notification's text.
    pub fn text(&self) -> String {
        match self {
            Notice::NewReports { count: 1 } => "A new report arrived".into(),
            Notice::NewReports { count } => format!("{count} new reports arrived"),
            Notice::Reply { reference } => format!("A reply to {reference}"),
            Notice::Status { reference } => format!("The status of {reference} changed"),
        }
    }
}

/// The team's side: which reports the member has been told of in this session.
#[derive(Debug, Default)]
pub struct TeamWatch {
    known: Option<BTreeSet<String>>,
}

impl TeamWatch {
    /// A watch that takes the inbox as it stands at its first check.
    pub fn new() -> TeamWatch {
        TeamWatch::default()
    }

    /// The member saw these reports listed (the Inbox, unfiltered): they are not news.
    pub fn saw(&mut self, inbox: &[InboxEntry]) {
        self.known
            .get_or_insert_with(BTreeSet::new)
            .extend(inbox.iter().map(|e| e.receipt.clone()));
    }

    /// The notice for reports in `inbox` (the whole inbox, unfiltered) that were neither there
    /// at the previous check nor listed to the member, and are not opened yet.
    pub fn news(&mut self, inbox: &[InboxEntry]) -> Option<Notice> {
        let Some(known) = self.known.as_mut() else {
            self.saw(inbox);
            return None;
        };
        let mut count = 0;
        for e in inbox {
            if known.insert(e.receipt.clone()) && e.new {
                count += 1;
            }
        }
        (count > 0).then_some(Notice::NewReports { count })
    }
}

/// What a receipt's state tells beyond what the researcher was told already, and the new
/// [`Seen`] to keep.
pub fn news_of(record: &ReceiptRecord, state: &ReportState) -> (Option<Notice>, Seen) {
    seen_now(record, state.status, state.replies.iter().map(|r| r.id))
}

fn seen_now(
    record: &ReceiptRecord,
    status: ReportStatus,
    replies: impl IntoIterator<Item = i64>,
) -> (Option<Notice>, Seen) {
    let before = record.seen.clone().unwrap_or(Seen {
        status: STATUSES[0],
        last_reply: 0,
    });
    let now = Seen {
        status,
        last_reply: replies
            .into_iter()
            .max()
            .unwrap_or(0)
            .max(before.last_reply),
    };
    let reference = record
        .reference
        .clone()
        .unwrap_or_else(|| record.receipt.clone());
    let notice = if now.last_reply > before.last_reply {
        Some(Notice::Reply { reference })
    } else if now.status != before.status {
        Some(Notice::Status { reference })
    } else {
        None
    };
    (notice, now)
}

/// A follow-up a shell has just shown the researcher (the app's Sent screen, `embargo status`):
/// its status and replies are kept as seen in the receipt's record, so that the app does not
/// tell of them again — whichever shell showed them.
pub fn shown(
    records: &Records,
    record: &ReceiptRecord,
    follow_up: &ReportFollowUp,
) -> Result<(), StoreError> {
    remember(
        records,
        record,
        follow_up.status,
        follow_up.replies.iter().map(|r| r.id),
    )
}

/// Keeps what the researcher has now seen of a receipt (its `status` and the replies with
/// these ids), so that it is not told again.
fn remember(
    records: &Records,
    record: &ReceiptRecord,
    status: ReportStatus,
    replies: impl IntoIterator<Item = i64>,
) -> Result<(), StoreError> {
    let (_, seen) = seen_now(record, status, replies);
    if record.seen.as_ref() == Some(&seen) {
        return Ok(());
    }
    let mut updated = record.clone();
    updated.seen = Some(seen);
    records.save_receipt(&updated)
}

/// Why a check of the researcher's reports failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyError {
    /// The records could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Asks the intake about every submitted report and returns what is new since the researcher
/// was last told (kept in each record). An intake that cannot be reached is skipped until the
/// next check: nothing is told, nothing is lost.
pub async fn researcher_news(
    records: &Records,
    net: &NetConfig,
) -> Result<Vec<Notice>, NotifyError> {
    let (receipts, _) = records.receipts_all()?;
    let mut notices = Vec::new();
    for record in receipts {
        let state = match report_state(&record, net).await {
            Ok(s) => s,
            Err(_) => continue,
        };
        let (notice, _) = news_of(&record, &state);
        remember(
            records,
            &record,
            state.status,
            state.replies.iter().map(|r| r.id),
        )?;
        notices.extend(notice);
    }
    Ok(notices)
}

async fn report_state(record: &ReceiptRecord, net: &NetConfig) -> Result<ReportState, IntakeError> {
    Intake::new(&record.intake_url, net)?
        .report_state(&record.receipt, &record.status_token)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Reply;

    fn entry(receipt: &str, new: bool) -> InboxEntry {
        InboxEntry {
            receipt: receipt.into(),
            reference: None,
            program: Some("novu".into()),
            received_at: "2026-12-07T08:00:00Z".into(),
            size: 1,
            status: STATUSES[0],
            answer_due: None,
            new,
        }
    }

    #[test]
    fn the_team_is_told_of_reports_that_arrive_after_the_first_check() {
        let mut listed = TeamWatch::new();
        listed.saw(&[entry("a", true)]);
        assert_eq!(
            listed.news(&[entry("a", true), entry("b", true)]),
            Some(Notice::NewReports { count: 1 }),
            "the Inbox listed a: b is news at the first check"
        );
        let mut w = TeamWatch::new();
        assert_eq!(w.news(&[entry("a", true)]), None, "the inbox as it stands");
        assert_eq!(w.news(&[entry("a", true)]), None);
        assert_eq!(
            w.news(&[entry("a", true), entry("b", true)]),
            Some(Notice::NewReports { count: 1 })
        );
        // Opened elsewhere already (another app of the same member): not new.
        assert_eq!(w.news(&[entry("b", true), entry("c", false)]), None);
        // Listed in the Inbox before the check: not news either.
        w.saw(&[entry("f", true)]);
        assert_eq!(w.news(&[entry("f", true)]), None);
        let n = w
            .news(&[entry("d", true), entry("e", true), entry("b", true)])
            .unwrap();
        assert_eq!(n.text(), "2 new reports arrived");
    }

    fn record(seen: Option<Seen>) -> ReceiptRecord {
        ReceiptRecord {
            receipt: "01JXXXXXXXXXXXXXXXXXXXXXXX".into(),
            status_token: "t".into(),
            intake_url: "https://intake.test/".into(),
            program: Some("novu".into()),
            reference: Some("EMB-7K2Q-9XDA".into()),
            received_at: "2026-12-07T08:00:00Z".into(),
            evidence: Vec::new(),
            recipients: Vec::new(),
            reply_key: None,
            seen,
        }
    }

    fn state(status: &str, replies: &[i64]) -> ReportState {
        ReportState {
            receipt: "01JXXXXXXXXXXXXXXXXXXXXXXX".into(),
            status: status.parse().unwrap(),
            received_at: "2026-12-07T08:00:00Z".into(),
            updated_at: "2026-12-07T09:00:00Z".into(),
            replies: replies
                .iter()
                .map(|&id| Reply {
                    id,
                    created_at: "2026-12-07T09:00:00Z".into(),
                    message: "-----BEGIN PGP MESSAGE-----".into(),
                })
                .collect(),
        }
    }

    #[test]
    fn the_researcher_is_told_of_a_reply_once_by_reference_and_nothing_else() {
        let (n, seen) = news_of(&record(None), &state("received", &[]));
        assert_eq!(n, None, "nothing happened yet");
        let (n, seen) = news_of(&record(Some(seen)), &state("triaged", &[4]));
        let n = n.unwrap();
        assert_eq!(n.text(), "A reply to EMB-7K2Q-9XDA", "the reply wins");
        let (again, seen) = news_of(&record(Some(seen)), &state("triaged", &[4]));
        assert_eq!(again, None, "told once");
        let (n, _) = news_of(&record(Some(seen)), &state("fixed", &[4]));
        assert_eq!(n.unwrap().text(), "The status of EMB-7K2Q-9XDA changed");
        // A reply that came while the app was closed, before anything was seen.
        let (n, _) = news_of(&record(None), &state("received", &[9]));
        assert!(matches!(n, Some(Notice::Reply { .. })));
    }

    /// What a shell showed (`embargo status`, the Sent screen) is kept in the record: the
    /// next check tells nothing of it, and a later reply is still news.
    #[test]
    fn a_follow_up_shown_is_not_told_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::at(dir.path().to_owned());
        let records = Records::of(&store);
        records.save_receipt(&record(None)).unwrap();
        let saved = records.receipt("01JXXXXXXXXXXXXXXXXXXXXXXX").unwrap();
        let follow_up = ReportFollowUp {
            receipt: saved.receipt.clone(),
            status: "triaged".parse().unwrap(),
            status_words: String::new(),
            received_at: saved.received_at.clone(),
            updated_at: "2026-12-07T09:00:00Z".into(),
            answer_due: None,
            replies: vec![crate::usecase::ReadReply {
                id: 4,
                created_at: "2026-12-07T09:00:00Z".into(),
                text: None,
                signer: None,
                unreadable: None,
            }],
        };
        shown(&records, &saved, &follow_up).unwrap();
        let kept = records.receipt(&saved.receipt).unwrap();
        assert_eq!(news_of(&kept, &state("triaged", &[4])).0, None);
        assert!(matches!(
            news_of(&kept, &state("triaged", &[4, 5])).0,
            Some(Notice::Reply { .. })
        ));
    }
}
