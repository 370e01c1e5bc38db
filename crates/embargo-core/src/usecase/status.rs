//! A submitted report as the researcher follows it: the intake's status, when the team's answer
//! is due by the program's promise, and the team's replies decrypted in memory and verified
//! against the program's pinned team keys. Nothing here is written to disk: replies are
//! fetched and read each time.

use chrono::{DateTime, Datelike, Utc, Weekday};
use openpgp::Cert;
use sequoia_openpgp as openpgp;
use serde::Serialize;

use crate::deliver::client::{Intake, IntakeError};
use crate::deliver::records::ReceiptRecord;
use crate::deliver::reply;
use crate::keys::PassphraseFn;
use crate::net::NetConfig;
use crate::open::SignatureStatus;
use crate::protocol::{ReportStatus, STATUSES};
use crate::store::Store;

/// How far a reply's signature is established, against the program's pinned team keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReplySigner {
    /// Signed by one of the team's keys: pinned for the program, or one the report was sealed
    /// to.
    Verified {
        /// The signing key's primary fingerprint.
        fingerprint: String,
        /// Its first user ID (the team member who wrote it).
        user_id: Option<String>,
        /// Pinned for the program (else: a key the report was sealed to, given with `--to`).
        pinned: bool,
    },
    /// Signed by a key that is none of the team's (not pinned, not sealed to): it may come from
    /// anyone.
    UnknownKey {
        /// The issuer as the signature names it.
        issuer: String,
    },
    /// The signature does not verify: the text may have been altered.
    Bad {
        /// Why.
        reason: String,
    },
    /// Not signed at all.
    NotSigned,
    /// No team key is known for the report (none pinned, none recorded), so nothing could be
    /// checked.
    NoPinnedKey {
        /// The issuer as the signature names it.
        issuer: Option<String>,
    },
}

impl ReplySigner {
    /// The verdict on a reply verified against the team's keys (`team`: whether there were
    /// any), `pinned` being those pinned for the program.
    pub(crate) fn of(status: &SignatureStatus, team: bool, pinned: &[String]) -> ReplySigner {
        let pinned_fpr = |f: &str| pinned.iter().any(|p| p == f);
        match status {
            SignatureStatus::None => ReplySigner::NotSigned,
            SignatureStatus::Bad { reason, .. } => ReplySigner::Bad {
                reason: reason.clone(),
            },
            SignatureStatus::Good {
                fingerprint,
                user_id,
            } if team => ReplySigner::Verified {
                fingerprint: fingerprint.clone(),
                user_id: user_id.clone(),
                pinned: pinned_fpr(fingerprint),
            },
            SignatureStatus::Good { fingerprint, .. }
            | SignatureStatus::SelfSigned { fingerprint, .. } => ReplySigner::NoPinnedKey {
                issuer: Some(fingerprint.clone()),
            },
            SignatureStatus::Unknown { issuer, .. } if team => ReplySigner::UnknownKey {
                issuer: issuer.clone(),
            },
            SignatureStatus::Unknown { issuer, .. } => ReplySigner::NoPinnedKey {
                issuer: Some(issuer.clone()),
            },
        }
    }

    /// Whether the reply is proven to come from the team.
    pub fn verified(&self) -> bool {
        matches!(self, ReplySigner::Verified { .. })
    }
}

/// One reply of the team, as the researcher reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ReadReply {
    /// The intake's id.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: i64,
    /// When the team posted it (RFC 3339).
    pub created_at: String,
    /// The text, when it could be decrypted.
    pub text: Option<String>,
    /// Who signed it.
    pub signer: Option<ReplySigner>,
    /// Why it could not be read (no key given, the vault locked, not encrypted to the key…).
    pub unreadable: Option<String>,
}

/// When the team's first answer is due by the program's promise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AnswerDue {
    /// The promise, in business days.
    pub business_days: u32,
    /// The moment it falls due (RFC 3339, UTC).
    pub due_at: String,
    /// Business days left, counted from now; negative once overdue.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub days_left: i64,
    /// Due and the team has not moved the report past `received`.
    pub overdue: bool,
}

impl AnswerDue {
    /// The promise of `business_days` for a report received at `received` that stands at
    /// `status`, seen at `now`: overdue once due while the team has not moved it past
    /// `received`.
    pub fn of(
        business_days: u32,
        received: DateTime<Utc>,
        status: ReportStatus,
        now: DateTime<Utc>,
    ) -> AnswerDue {
        let due = answer_due(received, business_days);
        AnswerDue {
            business_days,
            due_at: due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            days_left: business_days_between(now, due),
            overdue: now > due && status == STATUSES[0],
        }
    }
}

/// A submitted report followed up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ReportFollowUp {
    /// The receipt.
    pub receipt: String,
    /// Where the report stands.
    pub status: ReportStatus,
    /// The status in the researcher's words.
    pub status_words: String,
    /// When the intake stored it (RFC 3339).
    pub received_at: String,
    /// When the status last changed (RFC 3339).
    pub updated_at: String,
    /// The program's promise, when it makes one.
    pub answer_due: Option<AnswerDue>,
    /// The team's replies, oldest first.
    pub replies: Vec<ReadReply>,
}

/// The key replies are decrypted with: the identity (unlocked with the session's passphrase)
/// or a secret key file the user gave, or none (replies are then listed, not read).
pub struct ReplyKey<'a, 'p> {
    /// The secret key.
    pub key: &'a Cert,
    /// Its passphrase.
    pub passphrase: &'a mut PassphraseFn<'p>,
}

/// Asks the intake for a receipt's status and replies, and reads them: each reply decrypted in
/// memory with `key` and verified against the team keys pinned for the report's program.
pub async fn follow_up(
    store: &Store,
    record: &ReceiptRecord,
    key: Option<ReplyKey<'_, '_>>,
    net: &NetConfig,
    now: DateTime<Utc>,
) -> Result<ReportFollowUp, IntakeError> {
    let state = Intake::new(&record.intake_url, net)?
        .report_state(&record.receipt, &record.status_token)
        .await?;
    let program = record
        .program
        .as_deref()
        .and_then(|p| store.program(p).ok());
    let pinned: Vec<Cert> = program
        .as_ref()
        .and_then(|p| store.team_certs(p).ok())
        .unwrap_or_default();
    let pinned_fprs: Vec<String> = pinned.iter().map(|c| c.fingerprint().to_hex()).collect();
    // The team's keys: the ones pinned for the program, and the ones the report was sealed to.
    let mut team = pinned;
    for fpr in &record.recipients {
        if !team.iter().any(|c| c.fingerprint().to_hex() == *fpr) {
            if let Ok(cert) = store.cert(fpr) {
                team.push(cert);
            }
        }
    }
    let mut key = key;
    // An anonymous report's replies are to its reply key, kept in the vault under the
    // identity: unlocked once, with the identity's passphrase.
    let reply_key: Option<Result<Cert, String>> = match (&record.reply_key, key.as_mut()) {
        (Some(_), Some(k)) if !state.replies.is_empty() => Some(
            crate::replykey::unlock(store, record, &mut *k.passphrase).map_err(|e| e.to_string()),
        ),
        _ => None,
    };
    let mut no_passphrase = |_: &str| None;
    let replies = state
        .replies
        .iter()
        .map(|r| {
            let mut read = ReadReply {
                id: r.id,
                created_at: r.created_at.clone(),
                text: None,
                signer: None,
                unreadable: None,
            };
            let opened = match (&reply_key, key.as_mut()) {
                (Some(Err(why)), _) => Err(why.clone()),
                (Some(Ok(reply_key)), _) => reply::open_reply(
                    &r.message,
                    std::slice::from_ref(reply_key),
                    &team,
                    &mut no_passphrase,
                )
                .map_err(|e| e.to_string()),
                (None, Some(k)) => reply::open_reply(
                    &r.message,
                    std::slice::from_ref(k.key),
                    &team,
                    &mut *k.passphrase,
                )
                .map_err(|e| e.to_string()),
                (None, None) => Err("encrypted to your key, which is not available here".into()),
            };
            match opened {
                Ok(opened) => {
                    read.signer = Some(ReplySigner::of(
                        &opened.signature,
                        !team.is_empty(),
                        &pinned_fprs,
                    ));
                    // Shown as text by each shell (the CLI escapes control characters).
                    read.text = Some(opened.text.as_str().to_owned());
                }
                Err(e) => read.unreadable = Some(e),
            }
            read
        })
        .collect();
    let received = DateTime::parse_from_rfc3339(&state.received_at)
        .ok()
        .map(|t| t.with_timezone(&Utc));
    let answer_due = match (program.as_ref().and_then(|p| p.response.as_ref()), received) {
        (Some(promise), Some(received)) => Some(AnswerDue::of(
            promise.business_days,
            received,
            state.status,
            now,
        )),
        _ => None,
    };
    Ok(ReportFollowUp {
        receipt: state.receipt,
        status_words: state.status.meaning().to_owned(),
        status: state.status,
        received_at: state.received_at,
        updated_at: state.updated_at,
        answer_due,
        replies,
    })
}

/// When the team's answer is due: `business_days` after `received_at`, Saturdays and Sundays
/// skipped (in UTC: public holidays and the team's time zone are not known).
pub fn answer_due(received_at: DateTime<Utc>, business_days: u32) -> DateTime<Utc> {
    let mut t = received_at;
    let mut left = business_days;
    while left > 0 {
        t += chrono::Duration::days(1);
        if !is_weekend(t) {
            left -= 1;
        }
    }
    t
}

fn is_weekend(t: DateTime<Utc>) -> bool {
    matches!(t.weekday(), Weekday::Sat | Weekday::Sun)
}

/// Business days from `now` until `due`: whole weekdays that start after `now` and no later
/// than `due`; negative (the weekdays passed since) once `due` is behind.
pub fn business_days_between(now: DateTime<Utc>, due: DateTime<Utc>) -> i64 {
    let (from, to, sign) = if due >= now {
        (now, due, 1)
    } else {
        (due, now, -1)
    };
    let mut t = from;
    let mut n = 0;
    loop {
        t += chrono::Duration::days(1);
        if t > to {
            break;
        }
        if !is_weekend(t) {
            n += 1;
        }
    }
    sign * n
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    #[test]
    fn answers_are_due_after_business_days() {
        // Thursday + 3 business days = Tuesday (Saturday and Sunday skipped).
        assert_eq!(answer_due(at(2026, 12, 3, 15), 3), at(2026, 12, 8, 15));
        // Friday evening + 1 = Monday.
        assert_eq!(answer_due(at(2026, 12, 4, 22), 1), at(2026, 12, 7, 22));
        // Saturday + 3 = Wednesday.
        assert_eq!(answer_due(at(2026, 12, 5, 9), 3), at(2026, 12, 9, 9));
        assert_eq!(answer_due(at(2026, 12, 5, 9), 0), at(2026, 12, 5, 9));
    }

    #[test]
    fn business_days_left_count_down_and_go_negative() {
        let received = at(2026, 12, 3, 15); // Thursday
        let due = answer_due(received, 3); // Tuesday 15:00
        assert_eq!(business_days_between(received, due), 3);
        // Saturday morning: Monday and Tuesday are left.
        assert_eq!(business_days_between(at(2026, 12, 5, 9), due), 2);
        assert_eq!(business_days_between(due, due), 0);
        // Thursday after: two weekdays (Wednesday, Thursday) overdue.
        assert_eq!(business_days_between(at(2026, 12, 10, 16), due), -2);
    }

    #[test]
    fn a_reply_counts_as_verified_only_against_a_pinned_key() {
        let good = SignatureStatus::Good {
            fingerprint: "F".into(),
            user_id: Some("Team".into()),
        };
        let pinned = ["F".to_owned()];
        assert!(matches!(
            ReplySigner::of(&good, true, &pinned),
            ReplySigner::Verified { pinned: true, .. }
        ));
        assert!(matches!(
            ReplySigner::of(&good, true, &[]),
            ReplySigner::Verified { pinned: false, .. }
        ));
        assert!(matches!(
            ReplySigner::of(&good, false, &[]),
            ReplySigner::NoPinnedKey { .. }
        ));
        let unknown = SignatureStatus::Unknown {
            issuer: "X".into(),
            in_bundle: false,
        };
        assert!(matches!(
            ReplySigner::of(&unknown, true, &pinned),
            ReplySigner::UnknownKey { .. }
        ));
        assert_eq!(
            ReplySigner::of(&SignatureStatus::None, true, &pinned),
            ReplySigner::NotSigned
        );
    }
}
